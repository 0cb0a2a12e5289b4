"""Two-level engine throughput: 16 pCPUs, 4 VMs x 16 vCPUs, guest cyclictest + hogs + periodic
tasks, host hogs, 1 simulated second. Prints events/s and simulated seconds per wall second."""
import time

from pvsched import Simulation
from scenarios import two_level


def _run():
    sim = Simulation(two_level())
    t0 = time.perf_counter()
    r = sim.run()
    return r, time.perf_counter() - t0


def test_two_level_16pcpu_4vm_x16(benchmark):
    r, _ = benchmark.pedantic(_run, rounds=3, iterations=1)
    wall = benchmark.stats.stats.min
    eps = r.events / wall
    benchmark.extra_info.update(events=r.events, events_per_s=eps, sim_s_per_wall_s=r.now_ns / 1e9 / wall)
    print(f"\ntwo-level 16 pCPU / 4 VMs x 16 vCPUs / 1 s: {r.events} events, {eps / 1e6:.2f} M events/s, "
          f"{r.now_ns / 1e9 / wall:.2f} simulated s per wall s")
    assert r.events > 100_000
