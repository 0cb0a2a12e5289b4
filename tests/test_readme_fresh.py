"""Acceptance: README.md's steps work as written on a fresh machine, from the repository root and
from any other directory.

A copy of the checkout (tracked and new files, nothing built) gets a fresh virtual environment;
README's main command (``pip install . && ...``, a NON-editable build) runs in the copy's root,
then every other runnable block of README.md, verbatim (``tests/readme.py`` says which blocks and
how they are annotated): shell blocks with bash, Python blocks fed to ``python -`` (so, as in a
terminal, the working directory comes first on ``sys.path``), each from the copy's root and, unless
annotated ``checkout``, again from an empty directory elsewhere. README's test command is the one
block not run here: CI (``.ci/run``) runs it, verbatim, on a clean checkout, and this test is part
of that run.

One build (about 1.5 min on 2 idle cores, up to 4 under load) dominates. It runs when ``CI`` is
set (``.ci/run``) or ``PVSCHED_README_TEST=1``; otherwise it is skipped so that the full suite
stays quick on a shared machine. ``PVSCHED_README_TEST=0`` switches it off everywhere (and is set
for the inner test run).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import readme  # noqa: E402

ROOT = readme.ROOT
_flag = os.environ.get("PVSCHED_README_TEST")
ENABLED = _flag == "1" or (_flag is None and bool(os.environ.get("CI")))

pytestmark = [pytest.mark.readme,
              pytest.mark.skipif(not ENABLED, reason="builds pvsched in a fresh venv (minutes): runs in CI "
                                                     "or with PVSCHED_README_TEST=1")]

BLOCK_TIMEOUT_S = 900


def _copy_checkout(dest: Path) -> None:
    """The files a fresh clone of this working tree would have (tracked, plus new unignored files)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             check=True, capture_output=True).stdout
        files = [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs git to list the checkout's files")
    for f in files:
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)


def _env(venv_dir: Path) -> dict:
    """An activated fresh venv: its bin first on PATH, nothing of the outer environment's Python."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CONDA", "PYTEST"))}
    env["VIRTUAL_ENV"] = str(venv_dir)
    env["PATH"] = f"{venv_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PVSCHED_README_TEST"] = "0"                 # the inner test run must not recurse
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(block: readme.Block, cwd: Path, env: dict, log: list) -> None:
    if block.lang == "python":
        argv, stdin = ["python", "-"], block.text
    else:
        argv, stdin = ["bash", "-e", "-o", "pipefail", "-c", block.text], None
    t0 = time.perf_counter()
    p = subprocess.run(argv, cwd=cwd, env=env, input=stdin, text=True, capture_output=True,
                       timeout=BLOCK_TIMEOUT_S)
    wall = time.perf_counter() - t0
    where = "repository root" if (cwd / "README.md").exists() else "another directory"
    log.append(f"{wall:6.1f} s  {where:<17}  {block.label}")
    if p.returncode != 0:
        tail = "\n".join((p.stdout + p.stderr).splitlines()[-40:])
        pytest.fail(f"{block.label} failed from the {where} ({cwd}), exit {p.returncode}:\n{block.text}\n"
                    f"--- output (last lines) ---\n{tail}", pytrace=False)
    for bad in ("Traceback (most recent call last)", "No module named 'pvsched._core'"):
        if bad in p.stdout + p.stderr:
            pytest.fail(f"{block.label} printed {bad!r} from the {where}:\n{p.stdout}\n{p.stderr}", pytrace=False)


def test_readme_steps_work_verbatim_after_a_non_editable_install(tmp_path):
    blocks = readme.blocks()
    main = [b for b in blocks if b.has("main")]
    test = [b for b in blocks if b.has("test")]
    assert len(main) == 1 and len(test) == 1, "README must annotate its main and test commands"
    assert "-e" not in main[0].text.split(), "the main command must install non-editably"
    repo, elsewhere, venv_dir = tmp_path / "clone", tmp_path / "elsewhere", tmp_path / "venv"
    repo.mkdir()
    elsewhere.mkdir()
    _copy_checkout(repo)
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    env = _env(venv_dir)
    log: list = []
    try:
        _run(main[0], repo, env, log)
        assert any(repo.glob("pvsched/**/_core*.so")), "the non-editable install left the checkout without a core"
        # the wheel itself: py.typed, the bundled examples (outside the checkout, pvsched is the installed one)
        check = ("import os, pvsched; d = os.path.dirname(pvsched.__file__); assert 'site-packages' in d, d; "
                 "assert os.path.isfile(os.path.join(d, 'py.typed')); "
                 "assert os.path.isfile(os.path.join(d, 'examples', 'vm_busy_host.toml'))")
        p = subprocess.run(["python", "-c", check], cwd=elsewhere, env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        for b in blocks:
            if not b.runnable or b is main[0] or b is test[0]:
                continue
            _run(b, repo, env, log)
            if not b.has("checkout"):
                _run(b, elsewhere, env, log)
        # README's test command is not run here: .ci/run runs exactly that command (tests/readme.py
        # reads it from README) on a clean checkout, and that run includes this test.
    finally:
        print("\nREADME blocks run (wall time, where, block):\n" + "\n".join(log))
