"""Running pvsched from a source checkout: find the compiled core, or say what happened and what to run.

Python puts the working directory first on ``sys.path`` for ``python -c``, ``python -m`` and
``pytest``, so from the repository root ``import pvsched`` loads the checkout's ``pvsched/``
folder, not the installed copy. That folder holds a compiled core when it was built in place
(``pip install .`` and ``pip install -e .`` both put one there, see ``setup.py``); otherwise
:func:`missing_core_message` explains the situation instead of a bare ``No module named
'pvsched._core'``. :func:`stale_core_source` spots a core built before its sources last changed.

The examples ship with the package: :func:`resolve_example` lets ``examples/NAME.toml`` load the
bundled copy where the working directory has no such file (outside the checkout).
"""
from __future__ import annotations

import os
import sys
from typing import Optional

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
CORE_SOURCES = (".pyx", ".pxd", ".pxi")


def checkout_root() -> Optional[str]:
    """The repository root when this package is imported from a source checkout, else None."""
    root = os.path.dirname(PACKAGE_DIR)
    if os.path.isfile(os.path.join(root, "setup.py")) and os.path.isfile(os.path.join(root, "pyproject.toml")):
        return root
    return None


def missing_core_message() -> str:
    """What to say when ``pvsched._core`` cannot be imported."""
    root = checkout_root()
    where = os.path.relpath(PACKAGE_DIR) if root else PACKAGE_DIR
    if root is None:
        return (f"pvsched's compiled core (pvsched._core) is missing from {PACKAGE_DIR}: this installation "
                f"is incomplete; reinstall pvsched (pip install --force-reinstall <checkout or wheel>)")
    here = os.path.abspath(os.getcwd())
    cwd_note = (" Python imports this folder rather than an installed pvsched because the working directory "
                "is the repository root." if here == root else "")
    return (f"pvsched is imported from the source checkout {where}/, whose compiled core (pvsched._core, "
            f"built from _core.pyx) has not been built for Python {sys.version_info[0]}.{sys.version_info[1]}."
            f"{cwd_note} Build it with `pip install .` or `pip install -e .` in {root} (about 1-2 minutes; "
            f"needs a C compiler and the Python headers), or `python setup.py build_ext --inplace` if the "
            f"build dependencies (Cython, numpy, setuptools) are installed.")


def stale_core_source(core_file: str) -> Optional[str]:
    """In a source checkout, the first core source file (``.pyx``/``.pxd``/``.pxi``) changed after
    ``core_file`` was built, relative to the package folder; None when the core is current or the
    package is not a checkout (an installed copy's files all carry the install time)."""
    if checkout_root() is None:
        return None
    try:
        built = os.stat(core_file).st_mtime
    except OSError:
        return None
    for dirpath, dirnames, filenames in os.walk(PACKAGE_DIR):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "__"))]
        for f in filenames:
            if f.endswith(CORE_SOURCES):
                p = os.path.join(dirpath, f)
                try:
                    if os.stat(p).st_mtime > built:
                        return os.path.relpath(p, os.path.dirname(PACKAGE_DIR))
                except OSError:
                    continue
    return None


def stale_core_message(core_file: str, source: str) -> str:
    return (f"pvsched's compiled core {os.path.basename(core_file)} is older than {source} (changed since "
            f"the last build), so it runs the old code; rebuild with `pip install -e . --no-deps` or "
            f"`python setup.py build_ext --inplace` in {checkout_root()}")


def bundled_examples_dir() -> Optional[str]:
    """Where the example scenario files are: the package's copy (installed) or the checkout's
    ``examples/`` (editable install, or running from the checkout)."""
    root = checkout_root()
    for d in (os.path.join(PACKAGE_DIR, "examples"), os.path.join(root, "examples") if root else None):
        if d and os.path.isdir(d):
            return d
    return None


def resolve_example(path):
    """``path`` itself if it exists; else, for ``examples/...`` naming a bundled example
    (``examples/NAME.toml``, ``examples/rtapp/NAME.json``), the bundled file; else ``path``
    unchanged (the caller reports the missing file)."""
    p = os.fspath(path)
    if os.path.exists(p) or os.path.isabs(p):
        return path
    parts = os.path.normpath(p).split(os.sep)
    if len(parts) < 2 or parts[0] != "examples" or ".." in parts:
        return path
    d = bundled_examples_dir()
    if d and os.path.isfile(os.path.join(d, *parts[1:])):
        return os.path.join(d, *parts[1:])
    return path
