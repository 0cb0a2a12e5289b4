"""VMM deferred work: work a VMM does for its guest outside exit handlers, and who runs it.

A VMM (QEMU, Firecracker, ...) has deferred work for a guest: device completions, maintenance,
metrics. ``DeferredWork`` (per VM: ``VM(deferred_work=...)``) describes where the work comes from
and which executor runs it:

- **Sources.** Items arrive by a process (``rate_per_s``; ``arrival`` Poisson or periodic) with a
  size distribution (``size_ns``, ``size_dist``, ``size_spread_ns``) and a priority class
  (``priority``), and/or each guest MMIO exit queues one (``mmio_items``: e.g. a device completion;
  those exits then return to the VMM in userspace, costing ``VM.userspace_exit_ns`` more).
  Classes: ``low`` (maintenance: run it when the vCPU is idle) and ``high`` (may preempt the vCPU).
  Each class is a FIFO of at most ``queue_capacity`` items; an arrival to a full class is counted
  as dropped. Accounting is exact: every queued item completes at most once, latency = done -
  queued, and arrived = dropped + done + in service + still queued.
- **Executors.** ``thread``: ``threads`` separate VMM worker threads per VM, host tasks in the
  VM's cgroup (or ``thread_cgroup``) allowed where the VM's vCPU threads may run (or on
  ``thread_cpus``), policy ``thread_policy`` / ``thread_nice`` (and an EEVDF custom slice
  ``thread_slice_ns``: longer than the vCPU threads' lets a waking vCPU preempt a worker at once,
  PREEMPT_SHORT); a sleeping worker is woken when
  an item is queued; workers take high items before low ones and cannot tell whether a vCPU
  idles. ``vcpu`` (the RFC): the vCPU thread runs items itself while it is in userspace after an
  exit: at each KVM_RUN the VMM sets the userspace-exit bit for the guest's idle instruction
  while work is pending. After a HLT exit the vCPU stays halted and the VMM runs low items until a
  wake-up is pending, then re-enters without the bit to block in the kernel; after an MWAIT exit
  (the vCPU is runnable) it runs low items within ``mwait_budget_ns`` per exit. High items run at
  any return to userspace, and with ``preempt_high`` a new high item makes the VMM signal one vCPU
  at once (an idle one if any). An item once started runs to completion.
- **Graf's toggle** (``intercept_toggle``): the idle instruction is passed through while the VMM
  has no work (queued or in service) and intercepted, from the next KVM_RUN on, while it has. With
  the ``thread`` executor (his recommendation) the intercepted instruction is handled in the
  kernel (HLT halts and frees the pCPU for the worker; MWAIT is a NOP, with ``VM.mwait_yield`` a
  yield); with ``vcpu`` (his steps 1-4) it returns to userspace and the vCPU thread runs the work.
- ``kick``: a KVM_RUN happens only after a return to userspace, so when the VMM's work appears
  (or, for the toggle with the thread executor, runs out) it signals the vCPUs whose per-KVM_RUN
  settings went stale: a vCPU in guest mode exits to userspace and re-enters; a vCPU blocked in
  the kernel is woken only if it can run the work itself (``vcpu``); one in a kernel exit or
  preempted sees the signal when that ends. Without ``kick`` settings change only at the vCPU's
  own userspace exits (MMIO with ``mmio_items``, idle exits).
- ``fallback_timer_ns`` > 0: the VMM main thread (a host task beside the workers) wakes on a
  periodic timer and runs everything pending, for guests that never idle.

Costs: an exit handled in the kernel costs ``VM.exit_ns``; one that returns to userspace
costs ``VM.userspace_exit_ns`` more.

>>> from pvsched.policies import DeferredWork
>>> w = DeferredWork(rate_per_s=2000, size_ns=20_000, executor="vcpu")
>>> w.enabled(), w.mean_gap_ns()
(True, 500000)
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import List, Optional

from pvsched.errors import ScenarioError
from pvsched.limits import MAX_TIME_NS
from pvsched.validate import _bool, _choice, _int, normalize, self_check

ARRIVALS = ("poisson", "periodic")
SIZE_DISTS = ("fixed", "uniform", "exponential")
PRIORITIES = ("low", "high")
EXECUTORS = ("thread", "vcpu")
THREAD_POLICIES = ("normal", "batch", "idle")
IDLE_INSTRUCTIONS = ("hlt", "mwait")


@dataclass
class DeferredWork:
    """One VM's VMM deferred work and its executors (see the module docstring)."""

    rate_per_s: float = 0.0
    arrival: str = "poisson"
    size_ns: int = 20_000
    size_dist: str = "exponential"
    size_spread_ns: int = 0
    priority: str = "low"
    mmio_items: bool = False
    mmio_size_ns: int = 10_000
    mmio_size_dist: str = "fixed"
    mmio_size_spread_ns: int = 0
    mmio_priority: str = "high"
    executor: str = "thread"
    threads: int = 1
    thread_policy: str = "normal"
    thread_nice: int = 0
    thread_cgroup: Optional[str] = None
    thread_cpus: Optional[List[int]] = None
    thread_slice_ns: Optional[int] = None
    mwait_budget_ns: int = 50_000
    preempt_high: bool = True
    intercept_toggle: bool = False
    kick: bool = True
    fallback_timer_ns: int = 0
    queue_capacity: int = 65_536

    def enabled(self) -> bool:
        """True when any work arrives (a rate or MMIO-produced items)."""
        return bool(self.rate_per_s) or self.mmio_items

    def __post_init__(self):
        normalize(self, ("thread_cpus",))
        self_check(self, "DeferredWork")

    def mean_gap_ns(self) -> int:
        """Mean time between arrivals of the process (0 = no process)."""
        return int(round(1e9 / self.rate_per_s)) if self.rate_per_s else 0

    def nthreads(self) -> int:
        """Worker threads the engine creates (only the thread executor has any)."""
        return self.threads if self.enabled() and self.executor == "thread" else 0

    def validate(self, path: str, host_cpus: Optional[int] = None, cgroup_names=None) -> None:
        """Raise :class:`ScenarioError` naming ``path.field`` on the first bad value."""
        r = self.rate_per_s
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r) or not 0 <= r <= 1e8:
            raise ScenarioError(f"{path}.rate_per_s", r, "must be a number in 0..1e8 (items per second)")
        if r and 1e9 / r > MAX_TIME_NS:
            raise ScenarioError(f"{path}.rate_per_s", r, "arrivals further apart than the simulated horizon (2**62 ns)")
        if r and round(1e9 / r) < 1:
            raise ScenarioError(f"{path}.rate_per_s", r, "arrivals closer than 1 ns")
        _choice(f"{path}.arrival", self.arrival, ARRIVALS)
        _int(f"{path}.size_ns", self.size_ns, 1, 10**11)
        _choice(f"{path}.size_dist", self.size_dist, SIZE_DISTS)
        _int(f"{path}.size_spread_ns", self.size_spread_ns, 0, 10**11)
        _choice(f"{path}.priority", self.priority, PRIORITIES)
        _bool(f"{path}.mmio_items", self.mmio_items)
        _int(f"{path}.mmio_size_ns", self.mmio_size_ns, 1, 10**11)
        _choice(f"{path}.mmio_size_dist", self.mmio_size_dist, SIZE_DISTS)
        _int(f"{path}.mmio_size_spread_ns", self.mmio_size_spread_ns, 0, 10**11)
        _choice(f"{path}.mmio_priority", self.mmio_priority, PRIORITIES)
        _choice(f"{path}.executor", self.executor, EXECUTORS)
        _int(f"{path}.threads", self.threads, 0, 256)
        if self.executor == "thread" and self.threads < 1:
            raise ScenarioError(f"{path}.threads", self.threads, "the thread executor needs at least one thread")
        _choice(f"{path}.thread_policy", self.thread_policy, THREAD_POLICIES)
        _int(f"{path}.thread_nice", self.thread_nice, -20, 19)
        if self.thread_cgroup is not None:
            if not isinstance(self.thread_cgroup, str) or (cgroup_names is not None
                                                           and self.thread_cgroup not in cgroup_names):
                raise ScenarioError(f"{path}.thread_cgroup", self.thread_cgroup, "names no cgroup")
        if self.thread_cpus is not None:
            if isinstance(self.thread_cpus, (str, bytes)) or not isinstance(self.thread_cpus, (list, tuple)) \
                    or not self.thread_cpus:
                raise ScenarioError(f"{path}.thread_cpus", self.thread_cpus, "must be a non-empty list of pCPU numbers")
            for i, c in enumerate(self.thread_cpus):
                _int(f"{path}.thread_cpus[{i}]", c, 0, (host_cpus - 1) if host_cpus else None)
        if self.thread_slice_ns is not None:
            _int(f"{path}.thread_slice_ns", self.thread_slice_ns, 100_000, 100_000_000)
        _int(f"{path}.mwait_budget_ns", self.mwait_budget_ns, 0, 10**11)
        _bool(f"{path}.preempt_high", self.preempt_high)
        _bool(f"{path}.intercept_toggle", self.intercept_toggle)
        _bool(f"{path}.kick", self.kick)
        _int(f"{path}.fallback_timer_ns", self.fallback_timer_ns, 0, 10**11)
        if 0 < self.fallback_timer_ns < 1_000:
            raise ScenarioError(f"{path}.fallback_timer_ns", self.fallback_timer_ns, "must be 0 (off) or >= 1000")
        _int(f"{path}.queue_capacity", self.queue_capacity, 1, 1 << 24)

    def engine_dict(self) -> dict:
        """Parameters for the engine (thread placement is resolved by the scenario compiler)."""
        d = asdict(self)
        d["enabled"] = self.enabled()
        d["mean_gap_ns"] = self.mean_gap_ns()
        return d


def from_dict(d, path: str) -> DeferredWork:
    """Build a :class:`DeferredWork` from a TOML table, naming ``path`` in errors."""
    from pvsched.validate import _from
    return _from(DeferredWork, d, path)
