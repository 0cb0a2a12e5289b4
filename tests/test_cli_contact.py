"""First contact with the command line: --version, what a wrong file kind or path says, argument
ranges, install hints, and what an interrupted sweep says."""
import os
import re
import sys
from pathlib import Path

import pytest

import pvsched
from pvsched.cli import main

ROOT = Path(__file__).resolve().parent.parent
EX = ROOT / "examples"


def cli(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err):
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("pvsched"), err
    assert "Errno" not in lines[0], err
    return lines[0]


def test_version(capsys):
    code, out, _ = cli(capsys, "--version")
    assert code == 0
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    assert out.strip().startswith(f"pvsched {version} ") and pvsched.__version__ == version
    assert "v6.15" in out


def test_run_on_a_sweep_file_points_to_pvsched_sweep(capsys):
    code, _, err = cli(capsys, "run", str(EX / "sweep_busy_host.toml"))
    assert code == 2
    assert "is a sweep file" in one_line(err) and "pvsched sweep" in err


def test_sweep_on_a_scenario_file_points_to_pvsched_run(capsys):
    code, _, err = cli(capsys, "sweep", str(EX / "vm_busy_host.toml"))
    assert code == 2
    assert "is a scenario file" in one_line(err) and "pvsched run" in err


@pytest.mark.parametrize("cmd", ["run", "sweep"])
def test_directory_and_missing_file_say_what_was_expected(capsys, tmp_path, cmd):
    code, _, err = cli(capsys, cmd, str(tmp_path))
    assert code == 2 and "is a directory; expected a" in one_line(err) and "TOML file" in err
    code, _, err = cli(capsys, cmd, str(tmp_path / "typo.toml"))
    assert code == 2 and "no such file" in one_line(err) and "expected a" in err


def test_unwritable_output_is_refused_before_the_run(capsys, tmp_path):
    code, out, err = cli(capsys, "run", str(EX / "host_mix.toml"), "--json", str(tmp_path / "no" / "r.json"))
    assert code == 2 and "does not exist" in one_line(err) and out == ""
    code, out, err = cli(capsys, "run", str(EX / "host_mix.toml"), "--csv", str(tmp_path))
    assert code == 2 and "is a directory" in one_line(err) and out == ""


@pytest.mark.parametrize("cmd,file", [("run", "host_mix.toml"), ("sweep", "sweep_busy_host.toml")])
def test_negative_rows_are_refused(capsys, cmd, file):
    code, _, err = cli(capsys, cmd, str(EX / file), "--rows", "-3")
    assert code == 2 and "-3 must be >= 0" in one_line(err)


def test_pandas_hint_is_an_install_that_works(monkeypatch, capsys):
    from pvsched import cli as C
    msg = str(C._pandas_hint(ImportError("No module named 'pandas'")))
    assert "pip install pandas pyarrow" in msg and "pvsched[" not in msg


def test_interrupted_sweep_says_rerunning_resumes(monkeypatch, capsys, tmp_path):
    pytest.importorskip("pandas")
    import pvsched.sweep  # noqa: F401
    S = sys.modules["pvsched.sweep"]             # the module (pvsched.sweep is also the function)

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(S, "sweep", interrupted)
    out = tmp_path / "o.sweep"
    code, _, err = cli(capsys, "sweep", str(EX / "sweep_busy_host.toml"), "--out", str(out))
    assert code == 130
    assert "run the same command again to resume" in one_line(err) and str(out) in err


def test_sigterm_stops_the_sweep_and_its_workers_and_says_rerunning_resumes(tmp_path):
    import signal
    import subprocess
    import time
    pytest.importorskip("pandas")
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    (tmp_path / "s.toml").write_text(f'scenario = "{EX / "vm_busy_host.toml"}"\nseeds = 50\n'
                                     '[grid]\n"duration_ns" = [20_000_000_000]\n')
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    p = subprocess.Popen([sys.executable, "-m", "pvsched", "sweep", "s.toml", "--workers", "2", "--no-progress"],
                         cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def children():
        out = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
        return [int(x) for x in out]
    t0 = time.monotonic()
    while len(children()) < 2 and time.monotonic() - t0 < 30 and p.poll() is None:
        time.sleep(0.05)
    kids = children()
    assert len(kids) >= 2, "the sweep did not start its workers"
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=30)[1]
    gone_by = time.monotonic() + 2.0

    def alive(k):
        try:
            return open(f"/proc/{k}/stat").read().split()[2] != "Z"
        except OSError:
            return False
    while any(alive(k) for k in kids) and time.monotonic() < gone_by:
        time.sleep(0.05)
    assert not any(alive(k) for k in kids), "sweep workers outlived the terminated driver"
    assert p.returncode == 143
    assert "terminated" in err and "run the same command again to resume" in err
    # one line: the workers, stopped by SIGTERM, die quietly (no inherited handler's traceback)
    assert len([x for x in err.splitlines() if x.strip()]) == 1, err


def test_cpu_share_is_in_cpus_and_says_so():
    from pvsched import Host, Scenario, Simulation, Task
    from pvsched.sweep.metrics import METRICS, compute_metrics
    from pvsched.workloads import Hog
    r = Simulation(Scenario(host=Host(cpus=4), tasks=[Task("hog", Hog(), count=4)])).run(until_ns=50_000_000)
    assert compute_metrics(r, ["cpu_share:hog"]) == {"cpu_share:hog": 4.0}
    assert "in CPUs" in str(METRICS["cpu_share"])
