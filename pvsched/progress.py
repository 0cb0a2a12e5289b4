"""Progress of long runs on a terminal: one line on stderr, rewritten in place.

Nothing is shown unless a :func:`report` is active, its stream is a terminal and the work has
taken longer than ``delay_s``; so scripts, pipes, logs and tests see nothing. Inside a report
every :meth:`pvsched.Simulation.run` advances the engine in slices and says how far it got (the
results are identical: the engine's run loop stops at a time and resumes where it stopped), and
counts the finished runs. The command line wraps ``pvsched run`` and ``pvsched reproduce`` in one.

>>> import io
>>> from pvsched import Host, Scenario, Simulation, Task, progress
>>> from pvsched.workloads import Hog
>>> buf = io.StringIO()
>>> with progress.report("demo", stream=buf, force=True, delay_s=0) as p:
...     r = Simulation(Scenario(host=Host(cpus=1), tasks=[Task("h", Hog())])).run(until_ns=50_000_000)
...     print(p.line()[:11], r.task("h").cpu_ns)
demo: 1 run 50000000
"""
from __future__ import annotations

import contextlib
import sys
import time
from typing import Iterator, Optional, TextIO

_active: Optional["Progress"] = None


class Progress:
    """The state of one report: runs finished, the current run's simulated time, wall time."""

    def __init__(self, label: str, stream: TextIO, total_runs: Optional[int], delay_s: float,
                 interval_s: float = 0.2):
        self.label, self.stream, self.total_runs = label, stream, total_runs
        self.delay_s, self.interval_s = delay_s, interval_s
        self.slice_s = 0.1                    # wall time of one engine slice (independent of the display)
        self.t0 = time.monotonic()
        self.last = 0.0
        self.runs = 0
        self.now_ns = self.until_ns = 0
        self.shown = False

    def line(self) -> str:
        runs = f"{self.runs}/{self.total_runs} runs" if self.total_runs else (
            f"{self.runs} run{'s' if self.runs != 1 else ''}")
        cur = ""
        if self.until_ns and self.now_ns < self.until_ns:
            cur = f", current run {self.now_ns / 1e9:.2f} of {self.until_ns / 1e9:.2f} simulated s " \
                  f"({100.0 * self.now_ns / self.until_ns:.0f}%)"
        return f"{self.label}: {runs}{cur}, {time.monotonic() - self.t0:.0f} s"

    def show(self, force: bool = False) -> None:
        t = time.monotonic()
        if not force and (t - self.t0 < self.delay_s or t - self.last < self.interval_s):
            return
        self.last = t
        self.stream.write("\r\033[K" + self.line())
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()


class _ClearingStdout:
    """stdout that first clears the progress line, so printed tables are not mixed with it."""

    def __init__(self, out: TextIO, progress: Progress):
        self._out, self._progress = out, progress

    def write(self, s: str) -> int:
        self._progress.clear()
        self._progress.shown = False
        return self._out.write(s)

    def __getattr__(self, name):
        return getattr(self._out, name)


def active() -> Optional[Progress]:
    """The report in progress, if any (and if it is displayed)."""
    return _active


@contextlib.contextmanager
def report(label: str, *, total_runs: Optional[int] = None, stream: Optional[TextIO] = None,
           force: bool = False, delay_s: float = 1.0) -> Iterator[Optional[Progress]]:
    """Show the progress of the simulations run inside the block on ``stream`` (stderr), if it is a
    terminal (or ``force``), once they have taken ``delay_s``."""
    global _active
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if _active is not None or not (force or (isatty is not None and isatty())):
        yield None
        return
    p = Progress(label, stream, total_runs, delay_s)
    _active = p
    old_stdout = sys.stdout
    if old_stdout is not None and getattr(old_stdout, "isatty", lambda: False)() and stream is sys.stderr:
        sys.stdout = _ClearingStdout(old_stdout, p)
    try:
        yield p
    finally:
        sys.stdout = old_stdout
        _active = None
        p.clear()


def run_engine(engine, until_ns: int) -> None:
    """Advance ``engine`` to ``until_ns``, in slices of about 0.1 s of wall time while a report is
    active (each slice ends at a time, and the next resumes there: the events processed
    are the same as in one call)."""
    p = _active
    if p is None:
        engine.run(until_ns)
        return
    p.until_ns = until_ns
    step = max(1, (until_ns - engine.now_ns) // 1000)
    while True:                               # at least one call, as engine.run(until_ns) would make
        t = time.monotonic()
        engine.run(min(until_ns, engine.now_ns + step))
        if engine.now_ns >= until_ns:
            break
        p.now_ns = engine.now_ns
        p.show()
        took = time.monotonic() - t
        if took < p.slice_s / 4:
            step *= 2
        elif took > p.slice_s:
            step = max(1, step // 2)
    p.runs += 1
    p.now_ns = p.until_ns = 0
    p.show()
