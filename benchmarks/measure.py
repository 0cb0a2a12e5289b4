"""Timing windows shared by the engine benchmarks and ``compare_builds.py``.

A benchmark scenario's first simulated second is not steady state (queues fill, cgroup hierarchies
deepen, PELT signals ramp up), so each engine benchmark reports two windows of the same run:

- ``first``: simulated time 0 -> 1 s, as a user's first run sees it;
- ``steady``: warm up ``WARMUP_NS`` untimed, then time the next ``WINDOW_NS``.

Only the engine's run loop is timed (``Engine.run``, no result copying), by the wall clock and by
the thread's CPU clock: on a shared, loaded machine events per CPU-second is the steadier number
(time spent waiting for a CPU is not counted). One event is one pop of the engine's queue that
changes simulated state.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

WARMUP_NS = 2_000_000_000
WINDOW_NS = {"host": 1_000_000_000, "two": 2_000_000_000}
FIRST_NS = 1_000_000_000


def make(which: str, duration_ns: int):
    """The benchmark scenario ``which`` ("host" or "two") lasting ``duration_ns``."""
    from scenarios import host_only, two_level
    return host_only(duration_ns=duration_ns) if which == "host" else two_level(duration_ns=duration_ns)


@dataclass
class Window:
    events: int
    sim_ns: int
    wall_s: float
    cpu_s: float

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_s

    @property
    def events_per_cpu_s(self) -> float:
        return self.events / self.cpu_s

    @property
    def sim_per_wall(self) -> float:
        return self.sim_ns / 1e9 / self.wall_s

    def line(self, label: str) -> str:
        return (f"{label}: {self.events} events in {self.wall_s:.3f} s = {self.events_per_s / 1e6:.2f} M events/s "
                f"({self.events_per_cpu_s / 1e6:.2f} M per CPU-second), {self.sim_per_wall:.2f} simulated s per wall s")


def window_bounds(which: str, window: str):
    """(start_ns, end_ns) of a window: ``first`` or ``steady``."""
    if window == "first":
        return 0, FIRST_NS
    return WARMUP_NS, WARMUP_NS + WINDOW_NS[which]


def prepare(which: str, window: str, trace_cap: int = 0):
    """A Simulation warmed up to the window's start (untimed), and the window's end; with
    ``trace_cap``, the event trace on (a ring of that many events)."""
    from pvsched import Simulation
    start, end = window_bounds(which, window)
    sc = make(which, end)
    if trace_cap:
        from pvsched.trace import TraceConfig
        sc.trace = TraceConfig(enabled=True, cap_events=trace_cap, mode="ring")
    sim = Simulation(sc)
    if start:
        sim.engine.run(start)
    return sim, start, end


def timed(sim, start: int, end: int) -> Window:
    """Run a prepared simulation through its window; only this is timed."""
    e0 = sim.engine.events
    c0, t0 = time.thread_time(), time.perf_counter()
    sim.engine.run(end)
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    return Window(sim.engine.events - e0, end - start, wall, cpu)


def bench_window(benchmark, which: str, window: str, label: str, rounds: int = 3) -> Window:
    """pytest-benchmark: time the window ``rounds`` times (warm-up in the untimed set-up), print and
    record the best round."""
    runs = []

    def setup():
        return (prepare(which, window),), {}

    def target(prepared):
        w = timed(*prepared)
        runs.append(w)
        return w

    benchmark.pedantic(target, setup=setup, rounds=rounds, iterations=1)
    best = min(runs, key=lambda w: w.wall_s)
    benchmark.extra_info.update(events=best.events, events_per_s=best.events_per_s,
                                events_per_cpu_s=best.events_per_cpu_s,
                                sim_s_per_wall_s=best.sim_per_wall, window=window,
                                window_start_ns=window_bounds(which, window)[0])
    start, end = window_bounds(which, window)
    print(f"\n{best.line(f'{label}, {window} window {start / 1e9:g}-{end / 1e9:g} s')} (best of {rounds})")
    return best
