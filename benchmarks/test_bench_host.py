"""Host-only engine throughput: 64 pCPUs, 1024 tasks in a 3-level cgroup tree, HZ=1000, 1 s.

Prints events/s (one event = one pop of the engine queue; the queue never holds stale entries)
and simulated seconds per wall second. Run: ``pytest benchmarks/ --benchmark-only -s``.
"""
import time

from pvsched import Simulation
from scenarios import host_only


def _run():
    sim = Simulation(host_only())
    t0 = time.perf_counter()
    r = sim.run()
    return r, time.perf_counter() - t0


def test_host_only_64cpu_1024tasks(benchmark):
    r, wall = benchmark.pedantic(_run, rounds=3, iterations=1)
    wall = benchmark.stats.stats.min
    eps = r.events / wall
    benchmark.extra_info.update(events=r.events, events_per_s=eps, sim_s_per_wall_s=r.now_ns / 1e9 / wall)
    print(f"\nhost-only 64 pCPU / 1024 tasks / 3-level cgroups / HZ=1000 / 1 s: {r.events} events, "
          f"{eps / 1e6:.2f} M events/s, {r.now_ns / 1e9 / wall:.2f} simulated s per wall s")
    assert r.events > 100_000
