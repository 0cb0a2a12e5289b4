"""Sweeps rerun one compiled cell per repetition: Engine.reset must rebuild exactly what a new
Engine builds, and the metrics computed over a stack of runs (pvsched.sweep.batch) must equal
compute_metrics on each run's full Result, value and type."""
from __future__ import annotations

import dataclasses
import importlib
import math

import numpy as np
import pytest

from golden_cases import CASES
from test_golden import _digest, _flatten

from pvsched import Simulation
from pvsched._core import CAPTURE_VCPU_COLUMNS, Engine
from pvsched.sweep import compute_metrics
from pvsched.sweep.metrics import METRICS, VCPU_COLUMNS, _scenario_names

batch = importlib.import_module("pvsched.sweep.batch")

# every mechanism's builder: benchmarks, boost modes, debooster/IPI-aware yield/PV yield, examples,
# RCU on nohz_full CPUs with the guest policies, and random scenarios of each kind (shuffled ties among them)
RESET_CASES = ["bench/two_level", "seed000/cyclictest/bounded/busy", "seed000/oboe/dynamic/busy",
               "seed002/dedup/2vm/both", "seed002/dedup/2vm/pvsy+ipi", "seed002/dbench/3vm/both/v6.19",
               "example/host_cgroups.toml", "example/overcommit_2vm.toml", "seed001/scopes/tick",
               "seed001/nohz_full/tick", "seed001/mperf/exact", "example/rtapp_pipeline.toml",
               "example/traced_boost.toml", "tick/host-hz1024-guest-hz24", "seed004/overcommit/threads",
               "seed004/busy/userspace", "example/vmm_deferred_work.toml", "seed003/S1/P2", "seed003/S1/X1",
               "seed003/S2/P2a", "seed003/S4/P1", "seed003/S5/P1''", "seed003/S8/X2", "example/rcu_guest.toml"] + \
              [f"random/{i}" for i in range(0, 120, 9)] + [f"random_rcu/{i}" for i in range(0, 12, 3)]


def _hashes(raw) -> dict:
    flat = {}
    _flatten(raw, "", flat)
    return {k: _digest(v) for k, v in flat.items()}


def _short(name):
    sc, until = CASES[name]()
    return sc, min(until, 150_000_000)


@pytest.mark.parametrize("name", RESET_CASES)
def test_reset_rebuilds_what_a_new_engine_builds(name):
    sc, until = _short(name)
    kw, _, _ = sc.compile()
    other = (sc.seed * 7 + 13) % 2**63
    fresh = Engine(**dict(kw, seed=other))
    fresh.run(until)
    want = _hashes(fresh.results())
    eng = Engine(**kw)
    eng.run(until // 2)                       # a half-run state is thrown away
    eng.reset(other)
    eng.run(until)
    assert _hashes(eng.results()) == want
    eng.reset(sc.seed)                        # and back to the scenario's own seed
    eng.run(until)
    assert _hashes(eng.results()) == _hashes(Simulation(sc).run(until_ns=until).raw)


def test_reset_rejects_bad_seeds():
    sc, until = _short("example/host_mix.toml")
    eng = Engine(**sc.compile()[0])
    for bad in (-1, 2**64, 1.5, "3", True):
        with pytest.raises(ValueError):
            eng.reset(bad)


def _all_metrics(sc) -> list:
    """Every metric name with a stacked form, with each argument kind the scenario offers."""
    tasks, vms = _scenario_names(sc)
    names = ["events", "now_ns", "violations", "cpu_busy_frac", "cpu_busy_frac:0",
             f"cpu_busy_frac:{sc.host.cpus - 1}"]
    for base, m in METRICS.items():
        if m.arg is None and base.startswith("rcu"):
            names.append(base)                # e.g. the host RCU metrics (NaN where RCU is off)
        elif m.arg == "task":
            names += [f"{base}:{t}" for t in sorted(tasks)]
        elif m.arg == "vm":
            names += [f"{base}:{v}" for v in sorted(vms)]
    for c in VCPU_COLUMNS + tuple(c for c in CAPTURE_VCPU_COLUMNS if c.startswith("exits_")):
        if c not in METRICS:
            names += [f"{c}:{v}" for v in sorted(vms)]
    return names


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("name", ["example/vm_busy_host.toml", "example/overcommit_2vm.toml",
                                  "seed002/dedup/2vm/both", "seed000/cyclictest/dynamic/busy",
                                  "seed001/scopes/exact", "example/halted_pelt.toml", "seed004/overcommit/toggle",
                                  "seed003/S1/P0", "seed003/S8/X2", "example/rcu_guest.toml", "random_rcu/9",
                                  "random/5", "random/44", "random/71"])
def test_stacked_metrics_equal_per_run_metrics(name):
    sc, until = _short(name)
    sc = dataclasses.replace(sc, duration_ns=until)
    names = _all_metrics(sc)
    stacked = [n for n, m, fn in batch._compile(sc, names)[2].items if fn is not None]
    seeds = [3, 99, 2**40 + 1]
    got = batch.run_segment(sc, seeds, names)
    for seed, row in zip(seeds, got):
        want = compute_metrics(Simulation(dataclasses.replace(sc, seed=seed)).run(), names)
        assert list(row) == list(want)
        bad = {k: (row[k], want[k]) for k in want if not _same(row[k], want[k])}
        assert not bad, f"{name} seed {seed}: stacked metrics differ: {bad}"
    # every metric with a stacked form took it (the others, e.g. other units' columns, the per-run way)
    def has_form(n):
        base = n.partition(":")[0]
        return base in batch._REGISTRY or (base not in METRICS and base in CAPTURE_VCPU_COLUMNS)
    assert stacked == [n for n in names if has_form(n)] and len(stacked) > 0.6 * len(names)


def test_mixed_callables_and_order():
    sc, until = _short("example/vm_busy_host.toml")
    sc = dataclasses.replace(sc, duration_ns=until)

    def extra(r):
        return {"events": -1, "hogs": int(r.raw["task"]["cpu_ns"].sum())}
    metrics = ["cpu_share:hog", extra, "events", "lat_p99_ns:web/ct"]
    got = batch.run_segment(sc, [1, 2], metrics)
    for seed, row in zip([1, 2], got):
        want = compute_metrics(Simulation(dataclasses.replace(sc, seed=seed)).run(), metrics)
        assert list(row.items()) == list(want.items())


def test_segment_matches_separate_simulations_and_default_metrics():
    sc, until = _short("example/overcommit_2vm.toml")
    sc = dataclasses.replace(sc, duration_ns=until)
    rows = batch.run_segment(sc, [5, 6, 5], None)
    assert rows[0] == rows[2] != rows[1]
    want = compute_metrics(Simulation(dataclasses.replace(sc, seed=6)).run(), None)
    assert list(rows[1]) == list(want)
    assert all(_same(rows[1][k], want[k]) for k in want)


def test_capture_rejects_wrong_shapes():
    sc, until = _short("example/vm_busy_host.toml")
    kw, names, _ = sc.compile()
    eng = Engine(**kw)
    st = batch._Stack(1, len(names), sc.host.cpus, 4, 1)
    ptr, rows = np.array([0, 1]), np.array([0])
    eng.capture(0, st.scalars, st.tasks, st.cpus, st.vcpus, ptr, rows, st.hist)
    with pytest.raises(ValueError):
        eng.capture(1, st.scalars, st.tasks, st.cpus, st.vcpus, ptr, rows, st.hist)
    with pytest.raises(ValueError):
        eng.capture(0, st.scalars, st.tasks, st.cpus, st.vcpus, ptr, np.array([len(names)]), st.hist)
    with pytest.raises(ValueError):
        eng.capture(0, st.scalars, st.tasks[:, :, :1], st.cpus, st.vcpus, ptr, rows, st.hist)


def test_jobs_split_big_points_and_pack_small_ones():
    from pvsched.sweep.grid import expand_grid
    from pvsched.sweep.runner import _job_size, _jobs, _points
    cells = expand_grid({"host.cpus": [1, 2, 3]}, seeds=5) + expand_grid({"host.cpus": [4]}, seeds=12)
    points = _points(cells)
    assert [len(p) for p in points] == [5, 5, 5, 12]
    size = _job_size(len(cells), 2)
    assert size == 4                                   # about four jobs per worker
    jobs = list(_jobs({"host": {}}, points, None, size))
    assert [c for job in jobs for c in job[0]] == cells  # every run once, in grid order
    assert all(len(job[0]) == size for job in jobs[:-1]) and len(jobs) == 7
    for job_cells, segments, _ in jobs:
        seeds = [s for _, ss in segments for s in ss]
        assert seeds == [c.seed for c in job_cells]
        for d, ss in segments:                         # a segment is one grid point
            assert {c.params["host.cpus"] for c in job_cells if c.seed in ss} == {d["host"]["cpus"]}
    assert _job_size(10_000, 2) == 64 and _job_size(3, 8) == 1


def _pid_metric(r):
    import os
    import time
    time.sleep(0.005)
    return {"pid": os.getpid()}


def test_many_tiny_cells_use_every_worker():
    import pvsched
    from pvsched import Host, Scenario, Task
    from pvsched.workloads import Hog
    base = Scenario(host=Host(cpus=1), tasks=[Task("h", Hog())], duration_ns=1_000_000)
    df = pvsched.sweep(base, {"tasks[0].nice": [0, 1, 2, 3]}, seeds=16, metrics=["events", _pid_metric], workers=2)
    assert df["pid"].nunique() == 2
