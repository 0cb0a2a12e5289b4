"""The command line: pvsched run | sweep | reproduce | bench; --help for each; one-line errors with a
non-zero exit status on bad input."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from pvsched.cli import EXPERIMENTS, _implemented, main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
SCENARIOS = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".toml") and not f.startswith("sweep"))


def cli(capsys, *argv):
    """Run the CLI in-process: (exit status, stdout, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as e:          # argparse: --help and usage errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err):
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("pvsched"), err
    assert "error" in lines[0], err
    return lines[0]


# ------------------------------------------------------------------------------------------------ help
@pytest.mark.parametrize("argv", [[], ["run"], ["sweep"], ["reproduce"], ["bench"]])
def test_help(capsys, argv):
    code, out, _ = cli(capsys, *argv, "--help")
    assert code == 0
    assert out.startswith("usage: pvsched")
    if not argv:
        for cmd in ("run", "sweep", "reproduce", "bench"):
            assert cmd in out


def test_no_command_and_unknown_command(capsys):
    code, _, err = cli(capsys)
    assert code == 2
    one_line_error(err)
    code, _, err = cli(capsys, "frobnicate")
    assert code == 2
    assert "invalid choice" in one_line_error(err)


# ------------------------------------------------------------------------------------------------- run
@pytest.mark.parametrize("name", SCENARIOS)
def test_run_every_example(capsys, name):
    code, out, err = cli(capsys, "run", os.path.join(EXAMPLES, name), "--until-ns", "100000000")
    assert code == 0, err
    assert out.startswith("task ") and "simulated 0.100 s" in out
    if "vms" in open(os.path.join(EXAMPLES, name)).read():
        assert "steal%" in out


def test_run_writes_json_csv_parquet(capsys, tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    j, c, p = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "r.parquet"
    code, out, err = cli(capsys, "run", os.path.join(EXAMPLES, "vm_busy_host.toml"), "--until-ns", "50000000",
                         "--json", str(j), "--csv", str(c), "--parquet", str(p))
    assert code == 0, err
    d = json.loads(j.read_text())
    names = [t["task"] for t in d["tasks"]]
    assert "web/ct" in names and len(d["vcpus"]) == 4
    assert c.read_text().splitlines()[0].startswith("task,cpu_ns,")
    df = pd.read_parquet(p)
    assert list(df["task"]) == names and "lat_p99_ns" in df.columns


@pytest.mark.parametrize("text,expect", [
    ("[host\ncpus = 2\n", "malformed TOML"),
    ("bogus = 1\n[[tasks]]\nname='a'\nworkload={kind='hog'}\n", "bogus = 1: unknown key"),
    ("[host]\ncpus = 'four'\n[[tasks]]\nname='a'\nworkload={kind='hog'}\n", "host.cpus = 'four': must be an integer"),
    ("[host]\ncpus = 0\n[[tasks]]\nname='a'\nworkload={kind='hog'}\n", "host.cpus = 0: must be >= 1"),
    ("[[tasks]]\nname='a'\nnice=99\nworkload={kind='hog'}\n", "tasks[0].nice = 99: must be <= 19"),
    ("[[tasks]]\nname='a'\nworkload={kind='spin'}\n", "tasks[0].workload.kind = 'spin': unknown workload"),
    ("[[vms]]\nname='g'\nvcpus=2\npin=[0]\n", "vms[0].pin = [0]: must list one pCPU per vCPU"),
])
def test_run_bad_scenario_one_line_error_with_file_and_path(capsys, tmp_path, text, expect):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    code, out, err = cli(capsys, "run", str(f))
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert line.startswith(f"pvsched: error: {f}")
    assert expect in line


def test_run_missing_file_and_bad_option(capsys):
    code, _, err = cli(capsys, "run", "no/such/file.toml")
    assert code == 2
    assert "no/such/file.toml" in one_line_error(err)
    code, _, err = cli(capsys, "run", os.path.join(EXAMPLES, "host_mix.toml"), "--until-ns", "soon")
    assert code == 2
    assert "--until-ns" in one_line_error(err)
    code, _, err = cli(capsys, "run", os.path.join(EXAMPLES, "host_mix.toml"), "--until-ns", "-5")
    assert code == 2
    assert "until_ns" in one_line_error(err)


# ----------------------------------------------------------------------------------------------- sweep
SWEEP = '''scenario = "{ex}"
seeds = 2
metrics = ["events", "steal_frac:web", "lat_p99_ns:web/ct"]
[grid]
"tasks[0].count" = [1, 4]
"duration_ns" = [50_000_000]
'''


def test_sweep_runs_resumes_and_writes(capsys, tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    f = tmp_path / "s.toml"
    f.write_text(SWEEP.format(ex=os.path.join(EXAMPLES, "vm_busy_host.toml")))
    out = tmp_path / "o"
    code, stdout, err = cli(capsys, "sweep", str(f), "--workers", "2", "--out", str(out), "--csv", str(tmp_path / "t.csv"))
    assert code == 0, err
    assert "steal_frac:web" in stdout and "4 runs (4 new, 0 already on disk)" in stdout
    table = pd.read_parquet(out / "results.parquet")
    assert len(table) == 4 and list(table["tasks[0].count"]) == [1, 1, 4, 4]
    assert len(pd.read_csv(tmp_path / "t.csv")) == 4
    code, stdout, err = cli(capsys, "sweep", str(f), "-j", "0", "--out", str(out), "--seeds", "3")
    assert code == 0, err
    assert "6 runs (2 new, 4 already on disk)" in stdout


def test_sweep_default_output_is_named_after_the_file(capsys, tmp_path, monkeypatch):
    f = tmp_path / "mysweep.toml"
    f.write_text(SWEEP.format(ex=os.path.join(EXAMPLES, "vm_busy_host.toml")))
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, "sweep", str(f), "-j", "0")
    assert code == 0, err
    assert len(os.listdir(tmp_path / "mysweep.sweep" / "runs")) == 4


@pytest.mark.parametrize("text,expect", [
    ('scenario = "{ex}"\n[grid]\n"host.cpus" = [4, 0]\n', 'sweep cell {"host.cpus":0}: host.cpus = 0: must be >= 1'),
    ('scenario = "{ex}"\n[grid]\n"vms[2].vcpus" = [1]\n', "vms[2]: index out of range"),
    ('scenario = "{ex}"\nmetrics = ["lat_p99_ns:nobody"]\n', "no task named 'nobody'"),
    ('scenario = "{ex}"\nbogus = true\n', "bogus = True: unknown key"),
    ('scenario = "{ex}"\n[grid\n', "malformed TOML"),
])
def test_sweep_bad_file_one_line_error(capsys, tmp_path, text, expect):
    f = tmp_path / "bad.toml"
    f.write_text(text.format(ex=os.path.join(EXAMPLES, "vm_busy_host.toml")))
    code, out, err = cli(capsys, "sweep", str(f), "-j", "0", "--out", str(tmp_path / "o"))
    assert code == 2
    line = one_line_error(err)
    assert str(f) in line and expect in line


def test_sweep_bad_arguments(capsys, tmp_path):
    code, _, err = cli(capsys, "sweep", os.path.join(EXAMPLES, "sweep_busy_host.toml"), "--workers", "many")
    assert code == 2 and "--workers" in one_line_error(err)
    code, _, err = cli(capsys, "sweep", os.path.join(EXAMPLES, "sweep_busy_host.toml"), "--workers", "-1",
                       "--out", str(tmp_path / "o"))
    assert code == 2 and "--workers" in one_line_error(err)
    code, _, err = cli(capsys, "sweep", str(tmp_path / "missing.toml"))
    assert code == 2 and "missing.toml" in one_line_error(err)


# ------------------------------------------------------------------------------------------- reproduce
def test_reproduce_lists_experiments(capsys):
    code, out, _ = cli(capsys, "reproduce", "--list")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ["seed000", "seed001", "seed002", "seed003", "seed004"]


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_reproduce_not_implemented_yet_fails_clearly(capsys, name):
    if name in _implemented():
        pytest.skip(f"{name} is implemented")
    code, out, err = cli(capsys, "reproduce", name)
    assert code != 0 and out == ""
    line = one_line_error(err)
    assert name in line and "not implemented yet" in line


@pytest.mark.parametrize("name", sorted(_implemented()) or [pytest.param("none", marks=pytest.mark.skip)])
def test_reproduce_passes_options_to_implemented_experiment(capsys, name):
    code, out, _ = cli(capsys, "reproduce", name, "--help")
    assert code == 0 and out.startswith(f"usage: pvsched reproduce {name}")
    code, out, _ = cli(capsys, "reproduce", "--list")
    assert [line for line in out.splitlines() if line.startswith(name)][0].find("not implemented") < 0


def test_reproduce_unknown_and_missing_name(capsys):
    code, _, err = cli(capsys, "reproduce", "seed999")
    assert code == 2
    line = one_line_error(err)
    assert "unknown experiment 'seed999'" in line and "seed000" in line
    code, out, err = cli(capsys, "reproduce")
    assert code == 2 and "seed000" in out
    one_line_error(err)


# ----------------------------------------------------------------------------------------------- bench
def test_bench_runs(capsys):
    code, out, err = cli(capsys, "bench", "--duration-ns", "2000000", "--repeat", "1")
    assert code == 0, err
    assert "M events/s" in out


# ------------------------------------------------------------------------------ entry points (processes)
def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_python_dash_m():
    p = subprocess.run([sys.executable, "-m", "pvsched", "run", os.path.join(EXAMPLES, "host_mix.toml"),
                        "--until-ns", "10000000"], capture_output=True, text=True, env=_env(), timeout=120)
    assert p.returncode == 0, p.stderr
    assert "cyclictest" in p.stdout
    todo = [n for n in EXPERIMENTS if n not in _implemented()]
    if todo:
        p = subprocess.run([sys.executable, "-m", "pvsched", "reproduce", todo[0]], capture_output=True, text=True,
                           env=_env(), timeout=120)
        assert p.returncode != 0 and p.stdout == ""
        assert len(p.stderr.strip().splitlines()) == 1 and "not implemented yet" in p.stderr


@pytest.mark.skipif(shutil.which("pvsched") is None, reason="the pvsched console script is not installed")
def test_console_script():
    p = subprocess.run(["pvsched", "--help"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "sweep" in p.stdout
