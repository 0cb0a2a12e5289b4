"""Long runs show progress on a terminal (pvsched.progress), and only there; a run advanced in
slices for it gives bit-identical results."""
import io
import sys
from pathlib import Path

import pytest

from pvsched import Simulation, progress
from pvsched.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_cases import CASES  # noqa: E402
from test_golden import _stored, result_hashes  # noqa: E402


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("name", ["seed000/cyclictest/dynamic/busy", "seed002/dedup/2vm/ipi", "random/7",
                                  "random/42", "tick/host-hz1024-guest-hz24"])
def test_a_run_in_slices_is_bit_identical_to_the_golden_run(name):
    buf = _Tty()
    with progress.report("t", stream=buf, delay_s=0) as p:
        p.slice_s = 0.0005                     # many small slices
        now = result_hashes(name)
    want = _stored()[name]                     # entries added since the golden run are allowed, as there
    assert {k: now.get(k) for k in want} == want
    assert "simulated s" in buf.getvalue()


def test_progress_line_counts_runs_and_simulated_time():
    buf = _Tty()
    sc, until = CASES["random/7"]()
    with progress.report("label", stream=buf, delay_s=0, total_runs=2) as p:
        p.interval_s = 0.0
        Simulation(sc).run(until_ns=until)
    out = buf.getvalue()
    assert "label: 0/2 runs, current run" in out and "label: 1/2 runs" in out
    assert out.endswith("\r\033[K")             # the line is cleared at the end


def test_nothing_is_shown_off_a_terminal():
    buf = io.StringIO()
    with progress.report("x", stream=buf, delay_s=0) as p:
        assert p is None
        Simulation(CASES["random/7"]()[0]).run()
    assert buf.getvalue() == ""


def test_pvsched_run_shows_progress_on_a_terminal(monkeypatch, capsys):
    err = _Tty()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(progress.Progress, "__init__", _quick_init(progress.Progress.__init__))
    assert main(["run", "examples/overcommit_2vm.toml", "--until-ns", "300000000"]) == 0
    assert "pvsched run examples/overcommit_2vm.toml: " in err.getvalue()
    assert "simulated s" in err.getvalue()


def _quick_init(init):
    def wrapped(self, label, stream, total_runs, delay_s, interval_s=0.2):
        init(self, label, stream, total_runs, 0.0, 0.0)
    return wrapped


def test_pvsched_reproduce_shows_progress_on_a_terminal(monkeypatch, capsys):
    err = _Tty()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(progress.Progress, "__init__", _quick_init(progress.Progress.__init__))
    assert main(["reproduce", "seed000", "--duration-ms", "20", "--repeats", "1"]) == 0
    assert "pvsched reproduce seed000: " in err.getvalue() and " runs" in err.getvalue()
    assert "cyclictest" in capsys.readouterr().out
