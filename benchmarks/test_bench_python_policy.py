"""Cost of a Python policy hook: the two-level benchmark scenario (1 simulated s) without a
policy and with a no-op Python policy on every VM (on_vcpu_exit + on_vcpu_enter), interleaved;
prints ns per Python hook call = (wall with - wall without) / calls. Run:
``pytest benchmarks/test_bench_python_policy.py --benchmark-only -s``.
"""
import time

from pvsched import Policy, Simulation
from scenarios import two_level


class Noop(Policy):
    calls = 0

    def on_vcpu_exit(self, ctx):
        Noop.calls += 1

    def on_vcpu_enter(self, ctx):
        Noop.calls += 1


def _wall(with_policy: bool):
    sc = two_level()
    if with_policy:
        for vm in sc.vms:
            vm.policy = Noop()
    sim = Simulation(sc)
    t0 = time.perf_counter()
    sim.engine.run(sc.duration_ns)
    return time.perf_counter() - t0, sim.engine.events


def test_python_hook_cost(benchmark):
    plain, hooked = [], []

    def pair():
        Noop.calls = 0
        plain.append(_wall(False))
        hooked.append(_wall(True))
        return Noop.calls

    calls = benchmark.pedantic(pair, rounds=3, iterations=1)
    t0, ev0 = min(plain)
    t1, ev1 = min(hooked)
    assert ev0 == ev1 and calls > 10_000          # an observing policy changes nothing
    ns = (t1 - t0) / calls * 1e9
    benchmark.extra_info.update(calls=calls, ns_per_call=ns, wall_plain_s=t0, wall_hooked_s=t1)
    print(f"\nPython hook: {calls} calls, {t0:.3f} s without / {t1:.3f} s with a no-op policy: "
          f"{ns:.0f} ns per call (ratio {t1 / t0:.2f})")
