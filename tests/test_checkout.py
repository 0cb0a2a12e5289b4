"""Running from a source checkout (item 1 of the first-contact issue): a checkout without a built
core says what happened and what to run; a core older than its sources warns; the bundled examples
load from any directory.
"""
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pvsched
from pvsched import Scenario, _checkout
from pvsched.cli import main

PKG = Path(pvsched.__file__).resolve().parent


def _fake_checkout(dest: Path, with_core: bool) -> Path:
    """A copy of the package as a checkout (setup.py and pyproject.toml beside it)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.c", "*.html", *(() if with_core else ("*.so", "*.pyd")))
    shutil.copytree(PKG, dest / "pvsched", ignore=ignore)
    for f in ("setup.py", "pyproject.toml"):
        (dest / f).write_text("# stand-in\n")
    return dest


def _python(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Python in ``cwd`` with the dependencies (numpy, ...) but without site's .pth hooks, so that an
    editable install of the real checkout cannot stand in for the copy under test."""
    import numpy
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(numpy.__file__))
    return subprocess.run([sys.executable, "-S", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_unbuilt_checkout_says_what_happened_and_what_to_run(tmp_path):
    root = _fake_checkout(tmp_path, with_core=False)
    p = _python(root, "-c", "import pvsched")
    assert p.returncode != 0
    assert "No module named 'pvsched._core'" not in p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: pvsched is imported from the source checkout")
    assert "has not been built" in last and "pip install ." in last and str(root) in last
    assert "working directory is the repository root" in last


def test_unbuilt_checkout_through_python_m_is_one_line(tmp_path):
    root = _fake_checkout(tmp_path, with_core=False)
    p = _python(root, "-m", "pvsched", "reproduce", "--list")
    assert p.returncode != 0
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "pip install ." in p.stderr


def test_stale_core_warns_with_the_rebuild_command(tmp_path):
    root = _fake_checkout(tmp_path, with_core=True)
    src = root / "pvsched" / "sched" / "fair.pxi"
    future = time.time() + 60
    os.utime(src, (future, future))
    p = _python(root, "-c", "import pvsched")
    assert p.returncode == 0, p.stderr
    assert "older than pvsched/sched/fair.pxi" in p.stderr and "build_ext --inplace" in p.stderr


def test_current_core_is_quiet(tmp_path):
    root = _fake_checkout(tmp_path, with_core=True)
    old = time.time() - 3600
    for f in (root / "pvsched").rglob("*"):
        if f.suffix in (".pyx", ".pxd", ".pxi"):
            os.utime(f, (old, old))
    p = _python(root, "-W", "error", "-c", "import pvsched")
    assert p.returncode == 0 and "older than" not in p.stderr, p.stderr


def test_installed_copy_is_not_checked_for_staleness(tmp_path):
    # site-packages has no setup.py beside the package: every file carries the install time
    shutil.copytree(PKG, tmp_path / "pvsched", ignore=shutil.ignore_patterns("__pycache__", "*.c", "*.html"))
    p = _python(tmp_path, "-W", "error", "-c", "import pvsched, pvsched._checkout as c; assert c.checkout_root() is None")
    assert p.returncode == 0, p.stderr


def test_examples_load_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sc = Scenario.from_toml("examples/vm_busy_host.toml")
    assert sc.vms and sc.vms[0].name == "web"
    assert main(["run", "examples/host_mix.toml", "--until-ns", "10000000"]) == 0


def test_a_local_file_wins_over_the_bundled_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "vm_busy_host.toml").write_text(
        '[[tasks]]\nname = "mine"\nworkload = { kind = "hog" }\n')
    assert [t.name for t in Scenario.from_toml("examples/vm_busy_host.toml").tasks] == ["mine"]


def test_only_examples_paths_fall_back(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _checkout.resolve_example("vm_busy_host.toml") == "vm_busy_host.toml"
    assert _checkout.resolve_example("examples/nope.toml") == "examples/nope.toml"
    assert _checkout.resolve_example("other/vm_busy_host.toml") == "other/vm_busy_host.toml"
    assert Path(_checkout.resolve_example("examples/vm_busy_host.toml")).is_file()


def test_sweep_file_example_loads_from_any_directory(tmp_path, monkeypatch):
    from pvsched.sweep import load_sweep_file
    monkeypatch.chdir(tmp_path)
    spec = load_sweep_file("examples/sweep_busy_host.toml")
    assert spec.base.vms and spec.seeds == 3


def test_bench_works_from_any_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["bench", "--duration-ns", "5000000", "--repeat", "1"]) == 0
    assert "M events/s" in capsys.readouterr().out


def test_rtapp_example_loads_from_any_directory(tmp_path, monkeypatch):
    pytest.importorskip("json5")
    from pvsched import rtapp
    monkeypatch.chdir(tmp_path)
    assert rtapp.load("examples/rtapp/periodic.json").tasks
    assert _checkout.resolve_example("examples/../x.toml") == "examples/../x.toml"
