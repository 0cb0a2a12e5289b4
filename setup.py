"""Builds the Cython core. Everything else is declared in pyproject.toml.

Two additions to a plain build, both so that README's steps work as written from the repository
root as well as elsewhere:

- ``pip install .`` (a non-editable build) also copies the compiled core into the checkout's
  ``pvsched/`` folder. From the repository root Python imports that folder before the installed
  package (the working directory comes first on ``sys.path`` for ``python -m`` and ``pytest``), and
  without the copy it has no core. An editable install builds there anyway.
- The wheel carries the example inputs (``examples/**/*.toml``, ``*.json``) as ``pvsched/examples/``
  (the root folder stays the one source), so ``pvsched run examples/vm_busy_host.toml`` works
  outside the checkout.
"""
import glob
import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
annotate = os.environ.get("PVSCHED_ANNOTATE") == "1"

extensions = [
    Extension(
        "pvsched._core",
        ["pvsched/_core.pyx"],
        include_dirs=[np.get_include(), "pvsched"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O2"],
    )
]


class BuildExtAlsoInCheckout(build_ext):
    """build_ext that, for a non-editable build, also puts the built core in the source tree."""

    def run(self):
        super().run()
        if self.inplace:
            return
        for ext in self.extensions:
            built = self.get_ext_fullpath(ext.name)
            dest = os.path.join(HERE, self.get_ext_filename(ext.name))
            if not os.path.isdir(os.path.dirname(dest)):
                continue
            try:
                self.copy_file(built, dest)
            except OSError as e:   # a read-only checkout still installs; running from its root then says what to do
                print(f"note: could not copy the compiled core into the checkout ({e})")


class BuildPyWithExamples(build_py):
    """build_py that ships the repository's example inputs (examples/**/*.toml and *.json) inside
    the package."""

    def run(self):
        super().run()
        src = os.path.join(HERE, "examples")
        files = sorted(glob.glob(os.path.join(src, "**", "*.toml"), recursive=True)
                       + glob.glob(os.path.join(src, "**", "*.json"), recursive=True))
        for f in files:
            dest = os.path.join(self.build_lib, "pvsched", "examples", os.path.relpath(f, src))
            self.mkpath(os.path.dirname(dest))
            self.copy_file(f, dest)


setup(
    cmdclass={"build_ext": BuildExtAlsoInCheckout, "build_py": BuildPyWithExamples},
    ext_modules=cythonize(
        extensions,
        language_level=3,
        annotate=annotate,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "embedsignature": True,
            "embedsignature.format": "python",   # Python types in help(): pvsched.kernel is a Python API
        },
    ),
)
