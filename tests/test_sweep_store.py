"""The sweep store cannot be fooled (issue 13 item 9): every run record proves it belongs to its
cell (parameters, repetition, seed, scenario hash, sweep fingerprint, checksum); anything else is
run again and reported; a damaged manifest is rebuilt from the run files; read_runs warns about
the damaged files it leaves out. Each reproduction of the issue: the resumed table equals a
clean sweep, and the bad record is named."""
import json
import os
import warnings

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

import pvsched  # noqa: E402
from pvsched import Host, Scenario, Task  # noqa: E402
from pvsched.sweep import SweepError, read_runs  # noqa: E402
from pvsched.sweep.store import checksum  # noqa: E402
from pvsched.workloads import Cyclictest, Hog, RunSleep  # noqa: E402

GRID = {"host.cpus": [1, 2], "tasks[0].count": [1, 2, 3]}
METRICS = ["events", "cpu_busy_frac", "lat_mean_ns:ct"]


def base():
    return Scenario(host=Host(cpus=2), duration_ns=5_000_000, seed=3,
                    tasks=[Task("hog", Hog()), Task("ct", Cyclictest(interval_ns=200_000)),
                           Task("rs", RunSleep(run_ns=50_000, sleep_ns=70_000, sleep_jitter_ns=20_000))])


def run(out, **kw):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        df = pvsched.sweep(base(), GRID, seeds=2, metrics=METRICS, out=out, workers=0, **kw)
    return df, [str(x.message) for x in w if issubclass(x.category, RuntimeWarning)]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    df, w = run(tmp_path_factory.mktemp("clean") / "sw")
    assert w == []
    return df


def _files(out):
    runs = os.path.join(out, "runs")
    return sorted(os.path.join(runs, n) for n in os.listdir(runs) if n.endswith(".json"))


def _edit(path, fn):
    with open(path) as f:
        rec = json.load(f)
    fn(rec)
    with open(path, "w") as f:
        json.dump(rec, f, allow_nan=True)


def _same(a, b):
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)


def test_records_carry_their_proof(tmp_path, clean):
    out = tmp_path / "sw"
    df, _ = run(out)
    _same(df, clean)
    with open(_files(out)[0]) as f:
        rec = json.load(f)
    assert {"cell_id", "rep", "seed", "params", "scenario", "sweep", "metrics", "checksum"} <= set(rec)
    assert rec["checksum"] == checksum(rec)
    df2, w = run(out)
    assert df2.attrs["resumed_runs"] == len(clean) and df2.attrs["new_runs"] == 0 and w == []


@pytest.mark.parametrize("tamper,why", [
    (lambda r: r["metrics"].__setitem__("events", r["metrics"]["events"] + 1), "checksum"),     # a changed value
    (lambda r: r["metrics"].pop("cpu_busy_frac"), "checksum"),                                  # a missing metric
    (lambda r: r["metrics"].__setitem__("events", float("nan")), "checksum"),                   # a NaN
    (lambda r: r.pop("checksum"), "older pvsched"),                                             # no proof at all
])
def test_a_tampered_record_is_run_again_and_reported(tmp_path, clean, tamper, why):
    out = tmp_path / "sw"
    run(out)
    victim = _files(out)[3]
    _edit(victim, tamper)
    df, w = run(out)
    _same(df, clean)
    cid = os.path.basename(victim)[:-5]
    assert df.attrs["rerun"] == {cid: df.attrs["rerun"][cid]} and why in df.attrs["rerun"][cid]
    assert df.attrs["new_runs"] == 1 and len(w) == 1 and cid in w[0]


def test_another_cells_record_under_this_cells_id_is_run_again(tmp_path, clean):
    out = tmp_path / "sw"
    run(out)
    a, b = _files(out)[:2]
    with open(a) as f:
        other = f.read()
    with open(b, "w") as f:        # a valid, checksummed record -- of another cell
        f.write(other)
    df, w = run(out)
    _same(df, clean)
    assert "another cell" in df.attrs["rerun"][os.path.basename(b)[:-5]] and len(w) == 1


def test_a_record_of_another_scenario_is_run_again(tmp_path, clean):
    out = tmp_path / "sw"
    run(out)
    victim = _files(out)[0]

    def other_scenario(r):
        r["scenario"] = "0" * 32
        r["checksum"] = checksum(r)       # even re-signed, it does not match this cell's scenario
    _edit(victim, other_scenario)
    df, _ = run(out)
    _same(df, clean)
    assert "different scenario" in df.attrs["rerun"][os.path.basename(victim)[:-5]]


def test_read_runs_warns_about_the_corrupt_files_it_leaves_out(tmp_path, clean):
    out = tmp_path / "sw"
    run(out)
    files = _files(out)
    with open(files[5], "w") as f:
        f.write('{"cell_id": "x", "rep"')         # truncated
    _edit(files[6], lambda r: r["metrics"].__setitem__("events", 1))
    with pytest.warns(RuntimeWarning, match="left out 2 damaged run file") as w:
        rows = read_runs(out)
    assert len(rows) == len(files) - 2
    msg = str(w[0].message)
    assert os.path.basename(files[5]) in msg and os.path.basename(files[6]) in msg


def test_a_truncated_manifest_is_rebuilt_and_nothing_is_lost(tmp_path, clean):
    out = tmp_path / "sw"
    run(out)
    m = out / "sweep.json"
    m.write_text(m.read_text()[:40])
    df, w = run(out)
    _same(df, clean)
    assert df.attrs["resumed_runs"] == len(clean) and df.attrs["new_runs"] == 0
    assert any("rebuilt" in x for x in w)
    json.loads(m.read_text())                     # whole again


def test_a_damaged_manifest_over_another_sweeps_runs_is_refused_without_deleting(tmp_path):
    out = tmp_path / "sw"
    run(out)
    (out / "sweep.json").write_text("{")
    before = _files(out)
    with pytest.raises(SweepError, match="damaged"):
        pvsched.sweep(base(), GRID, seeds=2, metrics=["events"], out=out, workers=0)   # other metrics
    assert _files(out) == before
