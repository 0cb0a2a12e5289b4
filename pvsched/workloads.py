"""Workloads: what a task does, compiled to a small program the C core interprets.

Each workload turns into ops ``(code, a, b, c)``; times are ns. Ops: run, sleep, period
(absolute periodic timer, like ``clock_nanosleep(TIMER_ABSTIME)``), yield, loop, exit, hog.

>>> from pvsched.workloads import Periodic
>>> Periodic(run_ns=100_000, period_ns=1_000_000).ops()[:2]
[('start_period', 0, 0, 0), ('period', 1000000, 0, 0)]
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Sequence

from pvsched.errors import ScenarioError
from pvsched.limits import MAX_LOOPS
from pvsched.validate import _choice
# the base class and registry, re-exported: pvsched.workloads is where users find them
from pvsched.workload_base import WORKLOADS, Op, Workload, _check_int, _warn, workload_from_dict  # noqa: F401


@dataclass
class Hog(Workload):
    """Computes forever (a CPU hog).

    >>> Hog().ops()
    [('hog', 0, 0, 0)]
    """

    kind = "hog"

    def ops(self):
        return [("hog", 0, 0, 0)]


@dataclass
class Periodic(Workload):
    """Runs ``run_ns`` every ``period_ns`` on an absolute timer (wake-up latency recorded as
    timer expiry -> running). ``jitter_ns`` delays each expiry by a uniform [0, jitter_ns];
    ``run_jitter_ns`` lengthens each burst by a uniform [0, run_jitter_ns].

    >>> Periodic(run_ns=50_000, period_ns=1_000_000, offset_ns=10).ops()[0]
    ('start_period', 10, 0, 0)
    """

    run_ns: int = 100_000
    period_ns: int = 1_000_000
    jitter_ns: int = 0
    run_jitter_ns: int = 0
    offset_ns: int = 0
    kind = "periodic"
    minimums = (("run_ns", 1), ("period_ns", 1), ("jitter_ns", 0), ("run_jitter_ns", 0), ("offset_ns", 0))

    def ops(self):
        return [("start_period", self.offset_ns, 0, 0), ("period", self.period_ns, self.jitter_ns, 0),
                ("run", self.run_ns, self.run_jitter_ns, 0), ("loop", 1, 0, 0)]

    def validate(self, path: str) -> None:
        super().validate(path)
        if self.run_ns > self.period_ns:
            _warn(f"{path}.run_ns = {self.run_ns} is longer than period_ns ({self.period_ns}): the task overruns "
                  f"every period (counted in nr_overruns); for a CPU-bound task use Hog()")


@dataclass
class Cyclictest(Workload):
    """cyclictest: wakes every ``interval_ns`` on an absolute timer and records the wake-up
    latency (timer expiry -> the thread runs); each wake-up does ``work_ns`` of work.

    >>> len(Cyclictest(interval_ns=500_000).ops())
    4
    """

    interval_ns: int = 1_000_000
    work_ns: int = 2_000
    kind = "cyclictest"
    minimums = (("interval_ns", 1), ("work_ns", 1))

    def ops(self):
        return [("start_period", 0, 0, 0), ("period", self.interval_ns, 0, 0),
                ("run", self.work_ns, 0, 0), ("loop", 1, 0, 0)]

    def validate(self, path: str) -> None:
        super().validate(path)
        if self.work_ns > self.interval_ns:
            _warn(f"{path}.work_ns = {self.work_ns} is longer than interval_ns ({self.interval_ns}): every wake-up "
                  f"overruns (counted in nr_overruns)")


@dataclass
class RunSleep(Workload):
    """Alternates ``run_ns`` of computation and ``sleep_ns`` of sleep (relative timer), each
    with optional uniform jitter.

    >>> RunSleep(run_ns=1000, sleep_ns=2000).ops()[0]
    ('run', 1000, 0, 0)
    """

    run_ns: int = 1_000_000
    sleep_ns: int = 1_000_000
    run_jitter_ns: int = 0
    sleep_jitter_ns: int = 0
    kind = "run_sleep"
    minimums = (("run_ns", 1), ("sleep_ns", 1), ("run_jitter_ns", 0), ("sleep_jitter_ns", 0))

    def ops(self):
        return [("run", self.run_ns, self.run_jitter_ns, 0),
                ("sleep", self.sleep_ns, self.sleep_jitter_ns, 0), ("loop", 0, 0, 0)]


PHASE_KINDS = ("run", "sleep", "yield", "timer", "mmio", "critical", "user_io", "fault", "irq")
_PHASE_OPS = dict(run="run", sleep="sleep", timer="period", mmio="vmexit", fault="vmexit", irq="vmexit",
                  user_io="vmexit_user", critical="critical")
_EXIT_PHASES = ("mmio", "user_io", "fault", "irq")
_VMEXIT_FLAGS = {"fault": 1, "irq": 2}      # OP_VMEXIT's c: EXIT_CTX_PREEMPT / IRQ (kvm/kvm_host.pxd)


@dataclass
class Phases(Workload):
    """A run/sleep phase list, rt-app style: ``[("run", ns), ("sleep", ns), ("yield",),
    ("timer", period_ns), ("mmio", ns), ("user_io", ns)]``; repeated ``loops`` times (0 = forever),
    then the task exits. ``("run", ns, jitter_ns)`` / ``("sleep", ns, jitter_ns)`` add a uniform
    [0, jitter_ns]. A ``timer`` phase waits for the next expiry of an absolute periodic timer.
    Guest tasks only: ``mmio`` takes a VM exit whose host handling lasts ``ns``; ``user_io`` an
    exit KVM hands to the VMM (KVM_RUN returns, the VMM handles it for ``ns``, KVM_RUN again);
    ``fault`` an exit handled in the run loop with preemption on for ``ns`` (a swapped-out page);
    ``irq`` an exit for a host interrupt whose hardirq and trailing softirq work lasts ``ns`` in
    the run loop (preempt_count raised: no reschedule, and no RCU quiescent state at a tick, until
    it ends).
    ``critical`` computes ``ns`` with preemption disabled (kernel code under preempt_disable()).

    >>> Phases([("run", 500), ("sleep", 1000)], loops=3).ops()[-1]
    ('exit', 0, 0, 0)
    """

    phases: Sequence[tuple] = field(default_factory=list)
    loops: int = 0
    kind = "phases"

    def validate(self, path):
        if not isinstance(self.phases, (list, tuple)) or not self.phases:
            raise ScenarioError(f"{path}.phases", self.phases, "must be a non-empty list")
        timed = False
        for i, ph in enumerate(self.phases):
            p = f"{path}.phases[{i}]"
            if not isinstance(ph, (list, tuple)) or not ph or not isinstance(ph[0], str) or ph[0] not in PHASE_KINDS:
                raise ScenarioError(p, ph, f"must start with one of {PHASE_KINDS}")
            if ph[0] == "yield":
                if len(ph) != 1:
                    raise ScenarioError(p, ph, "yield takes no argument")
                continue
            if len(ph) != 2 and not (len(ph) == 3 and ph[0] in ("run", "sleep")):
                raise ScenarioError(p, ph, f"{ph[0]} takes one duration in ns (run, sleep: and a jitter)")
            for j in range(1, len(ph)):
                _check_int(f"{p}[{j}]", ph[j], 2 - j)
            timed = timed or ph[0] not in _EXIT_PHASES
        if not timed:
            raise ScenarioError(f"{path}.phases", self.phases, "needs at least one timed phase")
        kinds = {ph[0] for ph in self.phases}
        if "yield" in kinds and not kinds & {"run", "sleep", "critical", "mmio"}:
            # an expired timer returns at once: timer + yield alone would loop without time passing
            raise ScenarioError(f"{path}.phases", self.phases, "timer and yield phases alone never take time once "
                                "the timer has expired; add a run, sleep, critical or mmio phase")
        _check_int(f"{path}.loops", self.loops, 0, MAX_LOOPS)

    def ops(self):
        out = []
        if any(ph[0] == "timer" for ph in self.phases):
            out.append(("start_period", 0, 0, 0))
        start = len(out)
        for ph in self.phases:
            if ph[0] == "yield":
                out.append(("yield", 0, 0, 0))
            else:       # (op, ns, jitter, flags): flags say how the host handles an exit
                out.append((_PHASE_OPS[ph[0]], ph[1], ph[2] if len(ph) == 3 else 0, _VMEXIT_FLAGS.get(ph[0], 0)))
        out.append(("loop", start, self.loops, 0))
        if self.loops:
            out.append(("exit", 0, 0, 0))
        return out

    def to_dict(self):
        return {"kind": self.kind, "phases": [list(p) for p in self.phases], "loops": self.loops}


@dataclass
class RcuUpdater(Workload):
    """A host thread calling ``synchronize_rcu()`` (turns the RCU model on): it sleeps ``interval_ns``
    (``arrival`` "fixed", or "poisson": exponential, that mean), computes ``work_ns``, then waits
    for a full grace period that starts after the call (the synchronize_rcu() latency)."""

    interval_ns: int = 10_000_000
    work_ns: int = 1_000
    arrival: str = "fixed"
    kind = "rcu_updater"
    host_only = True
    minimums = (("interval_ns", 1), ("work_ns", 1))

    def validate(self, path):
        super().validate(path)
        _choice(f"{path}.arrival", self.arrival, ("fixed", "poisson"))

    def ops(self):
        return [("sleep", self.interval_ns, 0, 1 if self.arrival == "poisson" else 0),
                ("run", self.work_ns, 0, 0), ("sync_rcu", 0, 0, 0), ("loop", 0, 0, 0)]


# ---------------------------------------------------------------- guest synchronization
DISTS = ("fixed", "uniform", "exponential")


def _work_op(ns: int, dist: str, spread: int, kernel: bool = False) -> Op:
    """A compute op: fixed ``ns``; uniform ``ns + U[0, spread]``; exponential with mean ``ns``
    capped at ``spread`` (0 = 20 x mean). ``kernel``: preemption disabled (a critical section)."""
    flags = (1 if dist == "exponential" else 0) | (16 if kernel else 0)
    return ("work", ns, spread if dist != "fixed" else 0, flags)


@dataclass
class SpinlockLoop(Workload):
    """A lock-heavy guest kernel path (guest tasks only): compute ``think_ns`` in user mode, take
    spinlock ``lock`` (or one of ``nlocks`` locks from ``lock`` on, chosen uniformly per pass),
    hold it ``hold_ns`` in a preempt-disabled critical section, release it; optionally sleep
    ``sleep_ns`` (an I/O wait) after every ``sleep_every`` passes. Lock numbers are per VM.

    ``pv``: PV spinlocks (kvm_wait/kick): a waiter spins ``spin_threshold_ns`` of guest time, then
    halts its vCPU until the unlocker kicks it; ``pv=False`` spins forever. The lock kind (queued or
    ticket) is the guest kernel's (:class:`pvsched.GuestKernel` ``spinlock``). Distributions:
    ``fixed``, ``uniform`` (``ns + U[0, spread]``), ``exponential`` (mean ``ns``, capped at
    ``spread``, 0 = 20 x mean).

    >>> [op[0] for op in SpinlockLoop(think_ns=1000, hold_ns=500).ops()]
    ['work', 'lock', 'work', 'unlock', 'loop']
    """

    lock: int = 0
    nlocks: int = 1
    hold_ns: int = 5_000
    hold_dist: str = "fixed"
    hold_spread_ns: int = 0
    think_ns: int = 50_000
    think_dist: str = "exponential"
    think_spread_ns: int = 0
    pv: bool = True
    spin_threshold_ns: int = 1_000_000
    sleep_ns: int = 0
    sleep_jitter_ns: int = 0
    sleep_every: int = 1
    loops: int = 0
    kind = "spinlock_loop"
    guest_only = True

    def validate(self, path):
        _check_int(f"{path}.lock", self.lock, 0, 1_000_000)
        _check_int(f"{path}.nlocks", self.nlocks, 1, 1_000_000 - self.lock)
        _check_int(f"{path}.hold_ns", self.hold_ns, 1)
        _choice(f"{path}.hold_dist", self.hold_dist, DISTS)
        _check_int(f"{path}.hold_spread_ns", self.hold_spread_ns, 0)
        _check_int(f"{path}.think_ns", self.think_ns, 0)
        _choice(f"{path}.think_dist", self.think_dist, DISTS)
        _check_int(f"{path}.think_spread_ns", self.think_spread_ns, 0)
        if not isinstance(self.pv, bool):
            raise ScenarioError(f"{path}.pv", self.pv, "must be true or false")
        _check_int(f"{path}.spin_threshold_ns", self.spin_threshold_ns, 1)
        _check_int(f"{path}.sleep_ns", self.sleep_ns, 0)
        _check_int(f"{path}.sleep_jitter_ns", self.sleep_jitter_ns, 0)
        _check_int(f"{path}.sleep_every", self.sleep_every, 1, MAX_LOOPS)
        _check_int(f"{path}.loops", self.loops, 0, MAX_LOOPS)
        if self.loops and self.sleep_ns and self.sleep_every > 1:
            raise ScenarioError(f"{path}.loops", self.loops, "a finite loop count needs sleep_every = 1")

    def locks_needed(self) -> int:
        return self.lock + self.nlocks

    def ops(self):
        out = [_work_op(self.think_ns, self.think_dist, self.think_spread_ns),
               ("lock", self.lock, self.spin_threshold_ns if self.pv else 0, self.nlocks),
               _work_op(self.hold_ns, self.hold_dist, self.hold_spread_ns, kernel=True),
               ("unlock", 0, 0, 0)]
        if self.sleep_ns:
            if self.sleep_every > 1:
                out.append(("loop", 0, self.sleep_every, 0))
            out.append(("sleep", self.sleep_ns, self.sleep_jitter_ns, 0))
        out.append(("loop", 0, self.loops, 0))
        if self.loops:
            out.append(("exit", 0, 0, 0))
        return out


@dataclass
class IPISync(Workload):
    """IPI-based synchronization (guest tasks only), smp_call_function style: compute
    ``compute_ns`` in user mode, then send an IPI to ``targets`` other vCPUs (1 = a uniformly random
    other vCPU, smp_call_function_single; k > 1 = k consecutive vCPUs from a random start, a
    TLB-shootdown-like multicast) and spin until every target ran the ``handler_ns`` handler.
    Optionally sleep ``sleep_ns`` after every ``sleep_every`` passes.

    >>> [op[0] for op in IPISync(compute_ns=1000).ops()]
    ['work', 'ipi', 'loop']
    """

    compute_ns: int = 100_000
    compute_dist: str = "exponential"
    compute_spread_ns: int = 0
    handler_ns: int = 3_000
    targets: int = 1
    sleep_ns: int = 0
    sleep_jitter_ns: int = 0
    sleep_every: int = 1
    loops: int = 0
    kind = "ipi_sync"
    guest_only = True

    def validate(self, path):
        _check_int(f"{path}.compute_ns", self.compute_ns, 0)
        _choice(f"{path}.compute_dist", self.compute_dist, DISTS)
        _check_int(f"{path}.compute_spread_ns", self.compute_spread_ns, 0)
        _check_int(f"{path}.handler_ns", self.handler_ns, 1)
        _check_int(f"{path}.targets", self.targets, 1, 4095)
        _check_int(f"{path}.sleep_ns", self.sleep_ns, 0)
        _check_int(f"{path}.sleep_jitter_ns", self.sleep_jitter_ns, 0)
        _check_int(f"{path}.sleep_every", self.sleep_every, 1, MAX_LOOPS)
        _check_int(f"{path}.loops", self.loops, 0, MAX_LOOPS)
        if self.loops and self.sleep_ns and self.sleep_every > 1:
            raise ScenarioError(f"{path}.loops", self.loops, "a finite loop count needs sleep_every = 1")

    def ops(self):
        out = [_work_op(self.compute_ns, self.compute_dist, self.compute_spread_ns),
               ("ipi", self.targets, self.handler_ns, 0)]
        if self.sleep_ns:
            if self.sleep_every > 1:
                out.append(("loop", 0, self.sleep_every, 0))
            out.append(("sleep", self.sleep_ns, self.sleep_jitter_ns, 0))
        out.append(("loop", 0, self.loops, 0))
        if self.loops:
            out.append(("exit", 0, 0, 0))
        return out


# ---------------------------------------------------------------- rtla hwnoise
@dataclass
class HwNoise(Workload):
    """``rtla hwnoise`` on one CPU (guest tasks only): the osnoise tracer's sampling thread with
    interrupts off. Every ``period_ns`` it opens a window: from its first execution it reads the
    guest clock in a busy loop until ``runtime_ns`` of wall time have passed, recording every gap
    of at least ``threshold_ns`` in its own execution (the guest clock runs while the vCPU is out
    of guest mode -- exits, host preemption -- so such time shows up as a gap); a gap spanning the
    end of the window is counted whole and ends it. Then it sleeps ``period_ns - runtime_ns``
    (relative, as ``osnoise_sleep`` does). Windows that end before ``warmup_ns`` after the task's
    start are not counted (``--warm-up``). Give the task ``policy="fifo", rt_priority=50`` for
    ``-P f:50`` and ``cpus=[n]`` to pin it like the tracer's per-CPU kthread.

    Results, per task (``Result.hwnoise()``): periods, runtime, noise (sum of gaps), % CPU
    available = 100 (runtime - noise) / runtime, max noise in one period, max single gap, gaps
    (rtla's HW column; with interrupts off every gap is hardware noise from the guest's view).

    rtla's units are us: ``rtla hwnoise -p 27000 -r 26000 -T 1000`` is
    ``HwNoise(period_ns=27_000_000, runtime_ns=26_000_000, threshold_ns=1_000_000)``.

    >>> [op[0] for op in HwNoise(period_ns=27_000_000, runtime_ns=26_000_000).ops()]
    ['hwnoise', 'sleep', 'loop']
    >>> [op[0] for op in HwNoise().ops()]      # osnoise defaults: 1 s period = 1 s runtime, no sleep
    ['hwnoise', 'loop']
    """

    period_ns: int = 1_000_000_000
    runtime_ns: int = 1_000_000_000
    threshold_ns: int = 5_000
    warmup_ns: int = 0
    kind = "hwnoise"
    guest_only = True

    def validate(self, path):
        _check_int(f"{path}.runtime_ns", self.runtime_ns, 1)
        _check_int(f"{path}.period_ns", self.period_ns, 1)
        if self.period_ns < self.runtime_ns:
            raise ScenarioError(f"{path}.period_ns", self.period_ns,
                                f"must be >= runtime_ns ({self.runtime_ns}), as osnoise/period_us must")
        _check_int(f"{path}.threshold_ns", self.threshold_ns, 1)
        _check_int(f"{path}.warmup_ns", self.warmup_ns, 0)

    def ops(self):
        out = [("hwnoise", self.runtime_ns, self.threshold_ns, self.warmup_ns)]
        if self.period_ns > self.runtime_ns:
            out.append(("sleep", self.period_ns - self.runtime_ns, 0, 0))
        out.append(("loop", 0, 0, 0))
        return out


# ---------------------------------------------------------------- rt-app threads (pvsched/rtapp.py loads the JSON)
RTAPP_EVENTS = ("run", "runtime", "sleep", "timer", "yield")
TIMER_MODES = ("relative", "absolute")


@dataclass
class RtApp(Workload):
    """An rt-app thread: ``phases`` run in order, phase ``i`` ``phases[i]["loop"]`` times in a row
    (-1 = forever), the whole sequence ``loop`` times (-1 = forever), then the task exits. Each phase
    is ``{"events": [...], "loop": n}``; the events follow rt-app (``src/rt-app.c``):

    * ``["run", ns]``: a fixed amount of work, ``ns`` of CPU time (rt-app's calibrated loops),
    * ``["runtime", ns]``: busy for ``ns`` of wall-clock time counted from when it starts running
      (preemption eats into it), in chunks of ``runtime_chunk_ns`` of work (rt-app: 32 us),
    * ``["sleep", ns]``: a relative sleep (``nanosleep``),
    * ``["timer", period_ns, ref, mode]``: timer ``ref`` advances by ``period_ns`` and the task
      sleeps until it (a wake-up latency sample). Every thread that names ``ref`` shares it (each use
      advances it), the first use starts it at that thread's start; names starting with ``unique``
      are per task instance. A missed expiry counts an overrun and, in ``relative`` mode (rt-app's
      default), restarts the timer from now; ``absolute`` keeps the original grid.
    * ``["yield"]``: ``sched_yield()``.

    >>> w = RtApp(phases=[{"events": [["run", 1000], ["timer", 10000, "t", "relative"]], "loop": 5}], loop=2)
    >>> [op[0] for op in w.ops()]
    ['run', 'timer', 'loop', 'loop', 'exit']
    """

    phases: Sequence[dict] = field(default_factory=list)
    loop: int = -1
    runtime_chunk_ns: int = 32_000
    kind = "rtapp"

    def validate(self, path):
        if not isinstance(self.phases, (list, tuple)) or not self.phases:
            raise ScenarioError(f"{path}.phases", self.phases, "must be a non-empty list of phases")
        if isinstance(self.loop, bool) or not isinstance(self.loop, int) or not -1 <= self.loop <= MAX_LOOPS:
            raise ScenarioError(f"{path}.loop", self.loop, f"must be -1 (forever) or a count in 0..{MAX_LOOPS}")
        _check_int(f"{path}.runtime_chunk_ns", self.runtime_chunk_ns, 1, 10**9)
        any_timed = False
        for i, ph in enumerate(self.phases):
            p = f"{path}.phases[{i}]"
            if not isinstance(ph, dict):
                raise ScenarioError(p, ph, "must be a table with 'events' and 'loop'")
            for k in ph:
                if k not in ("events", "loop"):
                    raise ScenarioError(f"{p}.{k}", ph[k], "unknown key; known: ['events', 'loop']")
            lp = ph.get("loop", 1)
            if isinstance(lp, bool) or not isinstance(lp, int) or lp < -1 or lp == 0 or lp > MAX_LOOPS:
                raise ScenarioError(f"{p}.loop", lp, f"must be -1 (forever) or a count in 1..{MAX_LOOPS}")
            evs = ph.get("events")
            if not isinstance(evs, (list, tuple)) or not evs:
                raise ScenarioError(f"{p}.events", evs, "must be a non-empty list of events")
            timed = False
            for j, ev in enumerate(evs):
                timed |= self._validate_event(f"{p}.events[{j}]", ev)
            if lp == -1 and not timed:
                raise ScenarioError(f"{p}.events", evs, "a phase that loops forever needs an event that takes time (run, runtime, sleep or a relative timer)")
            any_timed |= timed
        if self.loop == -1 and not any_timed:
            raise ScenarioError(f"{path}.phases", self.phases, "a thread that loops forever needs an event that takes time (run, runtime, sleep or a relative timer)")

    @staticmethod
    def _validate_event(p, ev) -> bool:
        """Check one event; returns whether it takes time."""
        if not isinstance(ev, (list, tuple)) or not ev or ev[0] not in RTAPP_EVENTS:
            raise ScenarioError(p, ev, f"must start with one of {list(RTAPP_EVENTS)}")
        kind = ev[0]
        if kind == "yield":
            if len(ev) != 1:
                raise ScenarioError(p, ev, "yield takes no argument")
            return False
        if kind == "timer":
            if len(ev) != 4:
                raise ScenarioError(p, ev, "timer is [\"timer\", period_ns, ref, mode]")
            _check_int(f"{p}[1]", ev[1], 0, 10**15)
            if not isinstance(ev[2], str) or not ev[2]:
                raise ScenarioError(f"{p}[2]", ev[2], "the timer ref must be a non-empty string")
            if ev[3] not in TIMER_MODES:
                raise ScenarioError(f"{p}[3]", ev[3], f"must be one of {list(TIMER_MODES)}")
            # an absolute timer that has fallen behind returns at once until it catches up: alone
            # with yields it would loop without time passing (a relative one restarts from now)
            return ev[1] > 0 and ev[3] == "relative"
        if len(ev) != 2:
            raise ScenarioError(p, ev, f"{kind} takes one duration in ns")
        _check_int(f"{p}[1]", ev[1], 0, 10**15)
        return kind == "runtime" or ev[1] > 0

    def timer_refs(self) -> List[str]:
        return [ev[2] for ph in self.phases for ev in ph["events"] if ev[0] == "timer"]

    def ops(self):
        out: List[tuple] = []
        for ph in self.phases:
            start = len(out)
            for ev in ph["events"]:
                if ev[0] == "yield":
                    out.append(("yield", 0, 0, 0))
                elif ev[0] == "runtime":
                    out.append(("runtime", ev[1], self.runtime_chunk_ns, 0))
                elif ev[0] == "timer":
                    # the ref is a name here; Scenario.compile turns it into a timer index
                    out.append(("timer", ev[1], ev[2], 1 if ev[3] == "relative" else 0))
                else:
                    out.append((ev[0], ev[1], 0, 0))
            lp = ph.get("loop", 1)
            if lp == -1:
                out.append(("loop", start, 0, 0))
            elif lp > 1:
                out.append(("loop", start, lp, 1))
        if self.loop == 0:
            return [("exit", 0, 0, 0)]
        if self.loop == -1:
            out.append(("loop", 0, 0, 0))
        elif self.loop > 1:
            out.append(("loop", 0, self.loop, 2))
        out.append(("exit", 0, 0, 0))
        return out

    def to_dict(self):
        return {"kind": self.kind, "loop": self.loop, "runtime_chunk_ns": self.runtime_chunk_ns,
                "phases": [{"events": [list(ev) for ev in ph["events"]], "loop": ph.get("loop", 1)}
                           for ph in self.phases]}

