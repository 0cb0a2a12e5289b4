"""The cost of the event trace: each benchmark scenario run with tracing off and on (a ring of 1M
events, 32 MB), interleaved in one run; prints events/s both ways and their ratio (reported, not
asserted: the machine is shared). Tracing off must cost nothing against a build without the trace:
compare builds with ``python benchmarks/compare_builds.py OTHER_TREE``."""
import time

import pytest

from pvsched import Simulation, TraceConfig
from scenarios import host_only, two_level


def _eps(make, trace: bool):
    sc = make()
    if trace:
        sc.trace = TraceConfig(enabled=True, cap_events=1_000_000, mode="ring")
    sim = Simulation(sc)
    t0 = time.perf_counter()
    r = sim.run()
    wall = time.perf_counter() - t0
    return r, r.events / wall


@pytest.mark.parametrize("name,make", [("host-only 64 pCPU / 1024 tasks", host_only),
                                       ("two-level 16 pCPU / 4 VMs x 16 vCPUs", two_level)])
def test_trace_cost(benchmark, name, make):
    best = {False: 0.0, True: 0.0}
    recorded = 0

    def rounds():
        nonlocal recorded
        for trace in (False, True, True, False):
            r, eps = _eps(make, trace)
            best[trace] = max(best[trace], eps)
            if trace:
                recorded = len(r.trace) + r.trace.dropped
        return r
    r = benchmark.pedantic(rounds, rounds=1, iterations=1)
    ratio = best[True] / best[False]
    benchmark.extra_info.update(events_per_s_off=best[False], events_per_s_on=best[True], on_over_off=ratio,
                                trace_events=recorded)
    print(f"\n{name}: tracing off {best[False] / 1e6:.2f} M events/s, on {best[True] / 1e6:.2f} M events/s "
          f"({ratio:.2f} x; {recorded} trace records for {r.events} engine events)")
    assert r.events > 100_000 and recorded > r.events
