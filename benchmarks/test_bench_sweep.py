"""Sweep throughput on 1 and on 2 local worker processes, interleaved (best of each side):

- tiny cells: ``examples/vm_busy_host.toml`` (4 pCPUs, 4 host hogs, a 4-vCPU VM) for 0.1 simulated
  s, ~1,250 events a run, 4 grid points x 100 seeds: per-run overhead (set-up, metrics, transport)
  dominates, so this measures runs/s of the sweep machinery;
- long cells: the two-level benchmark scenario (16 pCPUs, 4 VMs x 16 vCPUs) for 5 simulated s,
  16 runs: the engine dominates.

Each prints runs/s, events/s, simulated seconds per wall second, the 2-worker / 1-worker speed-up
and how many CPUs the 2-worker sweep kept busy on average, driver and workers (its serial parts
and other load on the machine keep it below 2; the speed-up is reported, never judged). Both sides
must produce the same table. The tiny cells are also timed on pools kept open between sweeps
(``executor=``), which leaves out starting and stopping the workers.

    pytest benchmarks/test_bench_sweep.py --benchmark-only -s
"""
import os
import resource
import time

import pytest

pd = pytest.importorskip("pandas")

import pvsched  # noqa: E402
from scenarios import two_level  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TINY_TOML = os.path.join(os.path.dirname(HERE), "examples", "vm_busy_host.toml")
TINY_NS = 100_000_000
TINY_GRID = {"tasks[0].count": [1, 2, 3, 4]}
TINY_SEEDS = 100                                     # 4 x 100 = 400 runs
TINY_METRICS = ["events", "cpu_busy_frac", "steal_frac:web", "lat_p99_ns:web/ct", "cpu_share:hog"]

LONG_NS = 5_000_000_000
LONG_GRID = {"vms[0].weight": [100, 200], "tasks[0].count": [2, 4]}
LONG_SEEDS = 4                                       # 2 x 2 x 4 = 16 runs
LONG_METRICS = ["events", "cpu_busy_frac", "steal_frac:vm0", "lat_p99_ns:vm0/ct"]


def _cpu():
    """CPU seconds used by this process and its finished children (the workers)."""
    return sum(ru.ru_utime + ru.ru_stime for ru in (resource.getrusage(resource.RUSAGE_SELF),
                                                    resource.getrusage(resource.RUSAGE_CHILDREN)))


def _tiny_base():
    d = pvsched.Scenario.from_toml(TINY_TOML, is_path=True).to_dict()
    d["duration_ns"] = TINY_NS
    return pvsched.Scenario.from_dict(d)


def _sweep(base, grid, seeds, metrics, workers, executor=None):
    """One sweep on ``workers`` new worker processes, or on ``executor``: (table, wall s, CPUs got)."""
    c0, t0 = _cpu(), time.perf_counter()
    df = pvsched.sweep(base, grid, seeds=seeds, metrics=metrics, workers=None if executor else workers,
                       executor=executor, progress=False)
    wall = time.perf_counter() - t0
    return df, wall, (_cpu() - c0) / wall          # CPUs the sweep (driver + workers) actually got


def _interleave(one_worker, two_workers, rounds):
    """Alternate the two sweeps ``rounds`` times; their tables (last round), best times and the
    2-worker sweep's CPUs got per round."""
    t1s, t2s, par = [], [], []
    for _ in range(rounds):
        one, t, _ = one_worker()
        t1s.append(t)
        two, t, p = two_workers()
        t2s.append(t)
        par.append(p)
    pd.testing.assert_frame_equal(one, two)                      # same numbers either way
    return one, min(t1s), min(t2s), par


def _report(title, base, one, t1, t2):
    """The printed lines: runs/s, events/s and simulated seconds per wall second on 1 and 2
    workers, and the speed-up; returns (runs, events)."""
    runs = len(one)
    events = int(one["events"].sum())
    sim_s = runs * base.duration_ns / 1e9
    print(f"{title}\n" + "".join(
        f"  {label}: {t:.3f} s = {runs / t:,.0f} runs/s, {events / t / 1e6:.2f} M events/s, "
        f"{sim_s / t:.1f} simulated s per wall s\n" for label, t in (("1 worker ", t1), ("2 workers", t2)))
        + f"  speed-up {t1 / t2:.2f}x, load average {os.getloadavg()[0]:.2f}")
    return runs, events


def _compare(benchmark, name, base, grid, seeds, metrics, rounds, warmup=False):
    """Interleave 1- and 2-worker sweeps, keep the best of each, print and record (``warmup``:
    one untimed sweep first, so that imports and first-call costs stay out of the timings)."""
    if warmup:
        _sweep(base, grid, seeds, metrics, 1)
    one, t1, t2, par = _interleave(lambda: _sweep(base, grid, seeds, metrics, 1),
                                   lambda: _sweep(base, grid, seeds, metrics, 2), rounds)
    runs, events = _report(f"\n{name}: {len(one)} runs, {int(one['events'].sum())} events, best of {rounds}",
                           base, one, t1, t2)
    print(f"  the 2-worker sweep kept {max(par):.2f} CPUs busy on average (driver and workers; "
          f"2 = both cores throughout)")
    benchmark.extra_info.update(runs=runs, t1_s=t1, t2_s=t2, runs_per_s_1=runs / t1, runs_per_s_2=runs / t2,
                                speedup=t1 / t2, events=events, events_per_s_1=events / t1,
                                events_per_s_2=events / t2, cpus_got=max(par))
    return t1 / t2


def _compare_reused(benchmark, name, base, grid, seeds, metrics, rounds):
    """The same on pools the caller keeps (``executor=``): sweeps in a loop start no workers."""
    from concurrent.futures import ProcessPoolExecutor
    with ProcessPoolExecutor(1) as ex1, ProcessPoolExecutor(2) as ex2:
        for ex in (ex1, ex2):
            _sweep(base, grid, seeds, metrics, 0, ex)              # warm-up: the workers start here
        one, t1, t2, _ = _interleave(lambda: _sweep(base, grid, seeds, metrics, 0, ex1),
                                     lambda: _sweep(base, grid, seeds, metrics, 0, ex2), rounds)
    runs, _ = _report(f"{name}, pools kept open between sweeps (executor=), best of {rounds}", base, one, t1, t2)
    benchmark.extra_info.update(reused_runs_per_s_1=runs / t1, reused_runs_per_s_2=runs / t2,
                                reused_speedup=t1 / t2)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs >= 2 cores")
def test_sweep_tiny_cells(benchmark):
    base = _tiny_base()
    name = "tiny-cell sweep (vm_busy_host.toml, 0.1 s each)"

    def both():
        _compare(benchmark, name, base, TINY_GRID, TINY_SEEDS, TINY_METRICS, rounds=4, warmup=True)
        _compare_reused(benchmark, name, base, TINY_GRID, TINY_SEEDS, TINY_METRICS, rounds=4)
    benchmark.pedantic(both, rounds=1, iterations=1)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs >= 2 cores")
def test_sweep_long_cells(benchmark):
    base = two_level(duration_ns=LONG_NS)
    benchmark.pedantic(lambda: _compare(benchmark, "long-cell sweep (two-level 16 pCPU / 4 VMs x 16 vCPUs, 5 s each)",
                                        base, LONG_GRID, LONG_SEEDS, LONG_METRICS, rounds=2), rounds=1, iterations=1)
