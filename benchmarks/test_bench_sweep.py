"""Sweep throughput: the same sweep on 1 and on 2 local worker processes. Each run is the two-level
benchmark scenario (16 pCPUs, 4 VMs x 16 vCPUs) for a few simulated seconds, ~0.3-0.5 s of wall time;
16 runs. On a 2-core machine the 2-worker sweep must take <= 0.6x the 1-worker time when the workers
got two CPUs; on a busy machine the ratio is only reported.

    pytest benchmarks/test_bench_sweep.py --benchmark-only -s
"""
import os
import resource
import time

import pytest

pd = pytest.importorskip("pandas")

import pvsched  # noqa: E402
from scenarios import two_level  # noqa: E402

SECONDS = 5                                          # simulated seconds per run
GRID = {"vms[0].weight": [100, 200], "tasks[0].count": [2, 4]}
SEEDS = 4                                            # 2 x 2 x 4 = 16 runs
ROUNDS = 2
METRICS = ["events", "cpu_busy_frac", "steal_frac:vm0", "lat_p99_ns:vm0/ct"]


def _children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _sweep(workers):
    base = two_level(duration_ns=SECONDS * 1_000_000_000)
    c0, t0 = _children_cpu(), time.perf_counter()
    df = pvsched.sweep(base, GRID, seeds=SEEDS, metrics=METRICS, workers=workers, progress=False)
    wall = time.perf_counter() - t0
    _sweep.parallelism = (_children_cpu() - c0) / wall          # CPUs the workers actually got
    return df, wall


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs >= 2 cores")
def test_sweep_two_workers_scale(benchmark):
    # interleave 1- and 2-worker sweeps and keep the best of each, so that a burst of other load
    # on the machine does not land on one side only
    t1s, t2s, par = [], [], []
    for _ in range(ROUNDS - 1):
        one, t = _sweep(1)
        t1s.append(t)
        t2s.append(_sweep(2)[1])
        par.append(_sweep.parallelism)
    one, t = _sweep(1)
    t1s.append(t)
    two, _ = benchmark.pedantic(_sweep, args=(2,), rounds=1, iterations=1)
    t2s.append(benchmark.stats.stats.min)
    par.append(_sweep.parallelism)
    t1, t2 = min(t1s), min(t2s)
    ratio = t2 / t1
    runs = len(one)
    benchmark.extra_info.update(runs=runs, t1_s=t1, t2_s=t2, ratio=ratio, events=int(one["events"].sum()))
    msg = (f"sweep of {runs} runs x {SECONDS} simulated s (two-level 16 pCPU / 4 VMs x 16 vCPUs), best of {ROUNDS}: "
           f"1 worker {t1:.2f} s ({t1 / runs:.2f} s/run), 2 workers {t2:.2f} s -> ratio {ratio:.3f} (must be <= 0.6); "
           f"{one['events'].sum() / t2 / 1e6:.1f} M events/s on 2 workers; the 2 workers got "
           f"{max(par):.2f} CPUs (< 1.8: other load on the machine), load average {os.getloadavg()[0]:.2f}")
    print("\n" + msg)
    pd.testing.assert_frame_equal(one, two)                      # same numbers either way
    if max(par) < 1.8:
        # a busy machine: the ratio is reported above, not judged (the workers lacked a second CPU)
        return
    assert ratio <= 0.6, msg
