"""Engine throughput with the seed-004 paths on: the dedicated-pCPU MWAIT guest of the seed004
experiment (4 vCPUs whose idle loops spin through MONITOR/MWAIT NOP exits, VMM deferred work on
the vCPU threads), 1 simulated second. Prints events/s and simulated seconds per wall second."""
import time

from pvsched import Simulation
from pvsched.experiments.seed004 import scenario_dedicated


def _run():
    sim = Simulation(scenario_dedicated("userspace"))
    t0 = time.perf_counter()
    r = sim.run()
    return r, time.perf_counter() - t0


def test_mwait_guest_with_deferred_work(benchmark):
    r, _ = benchmark.pedantic(_run, rounds=3, iterations=1)
    wall = benchmark.stats.stats.min
    eps = r.events / wall
    benchmark.extra_info.update(events=r.events, events_per_s=eps, sim_s_per_wall_s=r.now_ns / 1e9 / wall)
    print(f"\nMWAIT guest 4 vCPUs + deferred work on vCPU threads / 1 s: {r.events} events, {eps / 1e6:.2f} M events/s, "
          f"{r.now_ns / 1e9 / wall:.2f} simulated s per wall s")
    assert r.events > 100_000
