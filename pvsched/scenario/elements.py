"""The parts of a scenario: the host and its kernel, cgroups, tasks, VMs and their guest kernels,
as plain dataclasses that validate themselves when constructed (:class:`pvsched.ScenarioError`
names the object and the field, so the error points at the line that made the mistake; checks
that need the whole scenario -- a CPU number against the host, a cgroup name -- run when the
:class:`~pvsched.Scenario` is built). numpy integers are accepted and stored as Python ints.

>>> from pvsched.scenario import Host, Task
>>> from pvsched.workloads import Hog
>>> Host(cpus=8).base_slice()
2800000
>>> Task("t", Hog(), nice=99)
Traceback (most recent call last):
...
pvsched.errors.ScenarioError: Task('t').nice = 99: must be <= 19
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from pvsched.errors import NotModelledError, ScenarioError
from pvsched.limits import MAX_TIME_NS
from pvsched.policies.boost import BoostPolicy
from pvsched.policies.debooster import Debooster
from pvsched.policies.deferred_work import DeferredWork
from pvsched.policies.halted_pelt import HaltedPelt
from pvsched.policies.ipi_aware_yield import YieldPolicy
from pvsched.policies.policy import Policy
from pvsched.policies.rcu_guest import RcuGuestPolicy
from pvsched.rcu.config import RcuConfig
from pvsched.scenario.checks import (  # noqa: F401  (re-exported: the scenario's checks)
    FAIR_CLASSES, POLICIES, PREEMPT_MODELS, RT_GUARDS, SLICE_SCALING, VCPU_POINTS, _check_copies_clash,
    _check_policy, _validate_features, _validate_sched)
from pvsched.validate import _bool, _choice, _int, build_field, normalize, self_check
from pvsched.workloads import Phases, Workload

KERNEL_VERSION = "v6.15"


@dataclass
class Host:
    """The physical machine and its kernel's scheduler settings (Linux v6.15 defaults).

    ``preempt``: "full" delivers fair-class preemption at once (with an IPI to a remote CPU);
    "lazy" (PREEMPT_LAZY) defers a remote fair preemption to that CPU's next tick.
    ``features`` overrides fair feature flags, e.g. ``{"DELAY_DEQUEUE": False}``.
    ``tick_exits``: the host tick interrupts a vCPU in guest mode (a VM exit every 1/HZ);
    False keeps the tick but drops its exits. ``nohz_full`` lists full-dynticks CPUs: their tick
    stops while the scheduler does not need it (one task; sched_can_stop_tick), a second task
    restarts it at the next tick boundary, and a housekeeping CPU runs the current task's scheduler
    tick once a second instead (``sched_tick_remote``: no VM exit, no balancing from that CPU);
    such a kernel is built with CONFIG_NO_HZ_FULL, so ``halted_pelt.no_hz_full`` is implied.
    ``context_switch_ns`` delays a task that is switched in;
    ``idle_exit_ns`` (C-state exit latency) delays the first task after an idle period;
    ``idle_states`` = [[residency_ns, exit_latency_ns], ...] makes it depend on the idle time
    (the deepest state whose residency the idle period covered).
    ``load_balance``: newly-idle balancing and the NOHZ idle-kick pull waiting fair tasks to idle
    CPUs (in the host and in every guest kernel). ``periodic_balance`` (needs ``load_balance``)
    adds the busy CPUs' periodic balance at the tick (sched_balance_rq over one LLC domain: every
    sd_weight x 16 ms while busy, load/util imbalance with imbalance_pct 117, cache-hot and
    ineligible tasks held back until balancing has failed).
    ``fair_class``: "eevdf" (Linux v6.15, the default) or "cfs" (Linux v6.5 CFS: vruntime order,
    sched_latency 6 ms / min_granularity 0.75 ms / wakeup_granularity 1 ms scaled by CPU count,
    GENTLE_FAIR_SLEEPERS placement, tick preemption by ideal slice, next/last/skip buddies).
    ``rt_guard``: "fair_server" (v6.12+ deadline server, 50 ms per 1 s), "rt_throttle" (<= v6.11
    root RT throttling, 950 ms per 1 s) or "none".
    ``halted_pelt``: guest halted time discounted from the PELT signal of vCPU threads with
    HLT/MWAIT in guest (:class:`pvsched.policies.HaltedPelt`: ``off``, ``exact``, ``tick``).
    ``rcu``: host RCU (:class:`pvsched.rcu.config.RcuConfig`; None = not modelled, unless the
    scenario has ``synchronize_rcu()`` callers (:class:`pvsched.workloads.RcuUpdater`) or an
    ``rcu_guest_policy`` other than "vanilla", which imply the defaults). With it, each nohz_full
    CPU runs context tracking, rcu_nocbs and an ``rcuc/N`` SCHED_FIFO thread, and RCU's forced
    tick is one of its tick dependencies. ``rcu_guest_policy``
    (:class:`pvsched.policies.rcu_guest.RcuGuestPolicy`, or its mode name) is what the RCU tick
    may skip on a nohz_full CPU that runs a guest.

    >>> Host(cpus=8).base_slice()
    2800000
    """

    cpus: int = 4
    hz: int = 1000
    preempt: str = "full"
    fair_class: str = "eevdf"
    base_slice_ns: int = 700_000
    slice_scaling: str = "log"
    features: Dict[str, bool] = field(default_factory=dict)
    rt_guard: str = "fair_server"
    fair_server_runtime_ns: int = 50_000_000
    fair_server_period_ns: int = 1_000_000_000
    rt_runtime_ns: int = 950_000_000
    rt_period_ns: int = 1_000_000_000
    rr_timeslice_ms: int = 100
    nohz_idle: bool = True
    context_switch_ns: int = 0
    idle_exit_ns: int = 0
    idle_states: List[Sequence[int]] = field(default_factory=list)
    tick_exits: bool = True
    nohz_full: List[int] = field(default_factory=list)
    load_balance: bool = True
    periodic_balance: bool = True
    debooster: Debooster = None
    halted_pelt: HaltedPelt = None
    rcu: Optional[RcuConfig] = None
    rcu_guest_policy: RcuGuestPolicy = None
    policy: Optional[Policy] = None

    def __post_init__(self):
        if self.debooster is None:
            self.debooster = Debooster()
        if self.halted_pelt is None:
            self.halted_pelt = HaltedPelt()
        if self.rcu_guest_policy is None:
            self.rcu_guest_policy = RcuGuestPolicy()
        elif isinstance(self.rcu_guest_policy, str):
            self.rcu_guest_policy = build_field(RcuGuestPolicy, (self.rcu_guest_policy,), "Host", "rcu_guest_policy")
        normalize(self, ("idle_states", "nohz_full"))
        self_check(self, "Host")

    def validate(self, path="host"):
        _int(f"{path}.cpus", self.cpus, 1, 4096)
        _validate_sched(path, self)
        _choice(f"{path}.rt_guard", self.rt_guard, RT_GUARDS)
        _int(f"{path}.fair_server_period_ns", self.fair_server_period_ns, 1, MAX_TIME_NS)
        _int(f"{path}.fair_server_runtime_ns", self.fair_server_runtime_ns, 1, self.fair_server_period_ns)
        _int(f"{path}.rt_period_ns", self.rt_period_ns, 1, MAX_TIME_NS)
        _int(f"{path}.rt_runtime_ns", self.rt_runtime_ns, 1, self.rt_period_ns)
        _int(f"{path}.rr_timeslice_ms", self.rr_timeslice_ms, 1, 10**6)
        _bool(f"{path}.nohz_idle", self.nohz_idle)
        _int(f"{path}.context_switch_ns", self.context_switch_ns, 0, 10**9)
        _int(f"{path}.idle_exit_ns", self.idle_exit_ns, 0, 10**9)
        if not isinstance(self.idle_states, (list, tuple)) or len(self.idle_states) > 8:
            raise ScenarioError(f"{path}.idle_states", self.idle_states, "must be a list of at most 8 [residency_ns, exit_latency_ns]")
        for i, st in enumerate(self.idle_states):
            if not isinstance(st, (list, tuple)) or len(st) != 2:
                raise ScenarioError(f"{path}.idle_states[{i}]", st, "must be [residency_ns, exit_latency_ns]")
            _int(f"{path}.idle_states[{i}][0]", st[0], 0, 10**12)
            _int(f"{path}.idle_states[{i}][1]", st[1], 0, 10**9)
        _bool(f"{path}.tick_exits", self.tick_exits)
        if isinstance(self.nohz_full, (str, bytes)) or not isinstance(self.nohz_full, (list, tuple)):
            raise ScenarioError(f"{path}.nohz_full", self.nohz_full, "must be a list of CPU numbers")
        for i, c in enumerate(self.nohz_full):
            _int(f"{path}.nohz_full[{i}]", c, 0, self.cpus - 1)
        if len(set(self.nohz_full)) != len(self.nohz_full):
            raise ScenarioError(f"{path}.nohz_full", self.nohz_full, "lists a CPU twice")
        _bool(f"{path}.load_balance", self.load_balance)
        _bool(f"{path}.periodic_balance", self.periodic_balance)
        _check_policy(f"{path}.policy", self.policy, host=True)
        if not isinstance(self.debooster, Debooster):
            raise ScenarioError(f"{path}.debooster", self.debooster, "must be a Debooster")
        self.debooster.validate(f"{path}.debooster")
        if not isinstance(self.halted_pelt, HaltedPelt):
            raise ScenarioError(f"{path}.halted_pelt", self.halted_pelt, "must be a HaltedPelt")
        self.halted_pelt.validate(f"{path}.halted_pelt")
        if self.rcu is not None:
            if not isinstance(self.rcu, RcuConfig):
                raise ScenarioError(f"{path}.rcu", self.rcu, "must be an RcuConfig or None")
            self.rcu.validate(f"{path}.rcu")
        if not isinstance(self.rcu_guest_policy, RcuGuestPolicy):
            raise ScenarioError(f"{path}.rcu_guest_policy", self.rcu_guest_policy, "must be an RcuGuestPolicy or a mode name")
        self.rcu_guest_policy.validate(f"{path}.rcu_guest_policy")

    def base_slice(self) -> int:
        """sysctl_sched_base_slice after scaling by the CPU count."""
        from pvsched.kernel import base_slice_ns
        return base_slice_ns(self.cpus, self.base_slice_ns, self.slice_scaling)

    def feature_mask(self) -> int:
        from pvsched._core import _features_mask
        return _features_mask(self.features, self.fair_class == "cfs")


@dataclass
class Cgroup:
    """A cpu-controller cgroup. ``parent`` names another cgroup (None = the root);
    ``weight`` is cgroup v2 ``cpu.weight`` (1..10000, default 100 = nice 0)."""

    name: str
    parent: Optional[str] = None
    weight: int = 100
    idle: bool = False

    def __post_init__(self):
        normalize(self)
        self_check(self, f"Cgroup({self.name!r})")

    def validate(self, path):
        if not isinstance(self.name, str) or not self.name:
            raise ScenarioError(f"{path}.name", self.name, "must be a non-empty string")
        if self.parent is not None and (not isinstance(self.parent, str) or not self.parent):
            raise ScenarioError(f"{path}.parent", self.parent, "must be a cgroup name or None")
        _int(f"{path}.weight", self.weight, 1, 10000)
        _bool(f"{path}.idle", self.idle)

    def shares(self) -> int:
        """Scaled tg->shares for this cpu.weight (round(w * 1024 / 100), scaled up by 2**10)."""
        return ((self.weight * 1024 + 50) // 100) << 10


@dataclass
class Task:
    """A host task (thread). ``policy``: normal, batch, idle (fair class) or fifo, rr (RT class,
    ``rt_priority`` 1..99). ``cpus`` restricts affinity; ``count`` > 1 makes identical copies
    named ``name[0]``, ``name[1]``, ...; ``slice_ns`` sets an EEVDF custom slice.

    >>> from pvsched import Host, Scenario, Simulation, Task
    >>> from pvsched.workloads import Hog, RunSleep
    >>> tasks = [Task("batch", Hog(), nice=5, count=2),
    ...          Task("rt", RunSleep(run_ns=100_000, sleep_ns=900_000), policy="fifo", rt_priority=10, cpus=[0])]
    >>> r = Simulation(Scenario(host=Host(cpus=2), tasks=tasks)).run(until_ns=100_000_000)
    >>> [n for n in r.task_names], r.task("rt").cpu_ns
    (['batch[0]', 'batch[1]', 'rt'], 10000000)
    """

    name: str
    workload: Workload
    policy: str = "normal"
    nice: int = 0
    rt_priority: int = 0
    cgroup: Optional[str] = None
    cpus: Optional[Sequence[int]] = None
    start_ns: int = 0
    slice_ns: Optional[int] = None
    count: int = 1

    def __post_init__(self):
        normalize(self, ("cpus",))
        self_check(self, f"Task({self.name!r})")

    def validate(self, path, ncpus=None, cgroup_names=None):
        _validate_task(path, self, ncpus, cgroup_names)

    def names(self) -> List[str]:
        return [self.name] if self.count == 1 else [f"{self.name}[{i}]" for i in range(self.count)]


@dataclass
class GuestKernel:
    """The guest's own scheduler: the same EEVDF/RT code as the host, with its own HZ, preemption
    model and features. ``idle_poll_ns`` > 0 enables guest-side idle polling (cpuidle-haltpoll):
    the idle guest spins that long in guest mode before it executes HLT.

    ``spinlock``: ``queued`` (pv qspinlock: FIFO, the queue head blocks stealing while it spins),
    ``ticket`` (strict FIFO hand-off) or ``tas`` (x86 ``virt_spin_lock``: the test-and-set lock a
    guest uses when PV spinlocks are off, e.g. no KVM_FEATURE_PV_UNHALT or ``nopvspin``; unfair,
    any waiter that runs may take a free lock; workloads must then use ``pv=False``).

    ``idle_instruction``: what the guest's idle loop ends in, ``hlt`` (default_idle, haltpoll) or
    ``mwait`` (mwait_idle_with_hints, as when MWAIT is exposed to the guest); ``idle_loop_ns`` is the
    guest time of one pass of the idle loop between MWAITs (it matters when MWAIT exits and is
    emulated as a NOP, so the guest goes round the loop again).

    ``pv_sched_yield``: KVM_FEATURE_PV_SCHED_YIELD (Linux 5.3+ guests, arch/x86/kernel/kvm.c): after
    a call-function IPI to several CPUs (``IPISync(targets >= 2)``; single-target calls use the
    native path) the sender checks its targets and, for the first one that is busy and whose vCPU
    is preempted (steal-time flag), makes a KVM_HC_SCHED_YIELD hypercall: the host yields to that
    vCPU (kvm_sched_yield: not if single_task_running(), not to a vCPU that is not ready)."""

    hz: int = 1000
    preempt: str = "full"
    fair_class: str = "eevdf"
    base_slice_ns: int = 700_000
    slice_scaling: str = "log"
    features: Dict[str, bool] = field(default_factory=dict)
    nohz_idle: bool = True
    idle_poll_ns: int = 0
    spinlock: str = "queued"
    pv_sched_yield: bool = False
    idle_instruction: str = "hlt"
    idle_loop_ns: int = 1_000

    def __post_init__(self):
        normalize(self)
        self_check(self, "GuestKernel")

    def validate(self, path):
        _validate_sched(path, self)
        _bool(f"{path}.pv_sched_yield", self.pv_sched_yield)
        _choice(f"{path}.idle_instruction", self.idle_instruction, ("hlt", "mwait"))
        _int(f"{path}.idle_loop_ns", self.idle_loop_ns, 1, 10**9)
        if self.idle_instruction == "mwait" and self.idle_poll_ns:
            raise ScenarioError(f"{path}.idle_poll_ns", self.idle_poll_ns,
                                "cpuidle-haltpoll ends in HLT; an MWAIT guest (idle_instruction 'mwait') does not use it")
        _bool(f"{path}.nohz_idle", self.nohz_idle)
        _int(f"{path}.idle_poll_ns", self.idle_poll_ns, 0, 10**9)
        _choice(f"{path}.spinlock", self.spinlock, ("queued", "ticket", "tas"))


@dataclass
class VM:
    """A KVM guest: ``vcpus`` vCPU threads on the host (in their own cgroup ``vm:<name>``, a child of
    ``cgroup``, with cpu.weight ``weight``) and a guest kernel running ``tasks`` (their ``cpus`` are
    vCPU numbers). ``pin`` pins vCPU i to pCPU pin[i]; ``cpus`` restricts all vCPU threads.
    ``own_cgroup=False`` puts the vCPU threads directly in ``cgroup`` (the root when None), with no
    per-VM group: a QEMU started by hand rather than by libvirt (``weight`` is then unused).

    KVM knobs: ``hlt_exits`` (False = HLT/MWAIT pass-through: an idle guest keeps its pCPU busy),
    ``posted_interrupts`` (interrupts reach a running vCPU without an exit), ``ipi_virtualization``
    (sending an IPI needs no exit), ``timer_exits`` (guest timer expiries exit; False = posted timer
    interrupts), ``exit_ns`` / ``entry_ns`` (cost of an exit round trip and of an entry after the
    thread is switched in), ``halt_poll_ns`` (max halt-polling window; x86 default 200 us; 0 = off)
    and its grow/shrink parameters (v6.x defaults).

    Idle instruction (the guest's, :class:`GuestKernel` ``idle_instruction``) and VMM deferred work:
    ``hlt_exits`` intercepts HLT (False: HLT pass-through), ``mwait_exits`` intercepts MONITOR/MWAIT
    (False: MWAIT pass-through, KVM_X86_DISABLE_EXITS_MWAIT), which KVM then emulates as NOPs;
    ``mwait_yield`` adds the 2023 RFC's yield() after each emulated MWAIT; ``userspace_exit_ns`` is
    what an exit that returns to the VMM in userspace costs beyond ``exit_ns``; ``deferred_work``
    (:class:`pvsched.DeferredWork`) is the VMM's work for this guest and who runs it.

    The VMM: ``user_return_ns`` is the part of a return to userspace spent in the kernel after
    vcpu_put (out of KVM_RUN, not yet in user mode: RCU's view of a ``user_io`` exit; 0 = none);
    ``migrate_period_ns`` > 0 re-pins vCPU i between ``pin[i]`` and ``migrate_pin[i]`` every that
    many ns (as ``taskset`` would); ``stop_ns`` terminates the VM then (its vCPU threads leave
    KVM_RUN and exit; None = it runs to the end).

    >>> from pvsched import VM, GuestKernel, Host, Scenario, Simulation, Task
    >>> from pvsched.workloads import Cyclictest, Hog
    >>> vm = VM("web", vcpus=2, guest=GuestKernel(hz=250), tasks=[Task("ct", Cyclictest(interval_ns=1_000_000))])
    >>> r = Simulation(Scenario(host=Host(cpus=2), vms=[vm], tasks=[Task("hog", Hog(), count=2)])).run(
    ...     until_ns=200_000_000)
    >>> r.task_names
    ['hog[0]', 'hog[1]', 'web/vcpu0', 'web/vcpu1', 'web/ct']
    >>> r.latency("web/ct").count > 150, r.vcpu("web/vcpu0")["steal_ns"] > 0
    (True, True)
    """

    name: str
    vcpus: int = 4
    tasks: List[Task] = field(default_factory=list)
    guest: GuestKernel = field(default_factory=GuestKernel)
    cgroup: Optional[str] = None
    weight: int = 100
    pin: Optional[Sequence[int]] = None
    cpus: Optional[Sequence[int]] = None
    vcpu_policy: str = "normal"
    vcpu_nice: int = 0
    vcpu_rt_priority: int = 0
    hlt_exits: bool = True
    posted_interrupts: bool = False
    ipi_virtualization: bool = False
    timer_exits: bool = True
    exit_ns: int = 1_500
    entry_ns: int = 500
    halt_poll_ns: int = 200_000
    halt_poll_grow: int = 2
    halt_poll_grow_start: int = 10_000
    halt_poll_shrink: int = 2
    start_ns: int = 0
    boost: BoostPolicy = None
    ple: bool = True
    ple_gap: int = 128
    ple_window: int = 4096
    ple_window_grow: int = 2
    ple_window_shrink: int = 0
    ple_window_max: int = 4294967295
    guest_cpu_ghz: float = 2.0
    yield_policy: YieldPolicy = None
    mwait_exits: bool = True
    mwait_yield: bool = False
    userspace_exit_ns: int = 4_000
    deferred_work: DeferredWork = None
    own_cgroup: bool = True
    user_return_ns: int = 0
    migrate_period_ns: int = 0
    migrate_pin: Optional[Sequence[int]] = None
    stop_ns: Optional[int] = None
    policy: Optional[Policy] = None

    def __post_init__(self):
        if self.boost is None:
            self.boost = BoostPolicy()
        if self.yield_policy is None:
            self.yield_policy = YieldPolicy()
        if self.deferred_work is None:
            self.deferred_work = DeferredWork()
        if isinstance(self.tasks, tuple):
            self.tasks = list(self.tasks)
        normalize(self, ("pin", "cpus", "migrate_pin"))
        self_check(self, f"VM({self.name!r})")

    def vmm_thread_names(self) -> List[str]:
        """Host tasks of the VMM's deferred work: worker threads, then the main thread (if it has a
        fallback timer)."""
        w = self.deferred_work
        names = [f"{self.name}/vmm-worker{i}" for i in range(w.nthreads())]
        if w.enabled() and w.fallback_timer_ns:
            names.append(f"{self.name}/vmm-main")
        return names

    def nlocks(self) -> int:
        """Guest spinlocks the VM's tasks use (spinlock workloads name them 0, 1, ...)."""
        return max([t.workload.locks_needed() for t in self.tasks if hasattr(t.workload, "locks_needed")] + [0])

    def cgroup_name(self) -> str:
        return f"vm:{self.name}"

    def vcpu_names(self) -> List[str]:
        return [f"{self.name}/vcpu{i}" for i in range(self.vcpus)]

    def validate(self, path, host: Optional["Host"] = None, cgroup_names=None):
        """Check the VM; ``host`` and ``cgroup_names`` (given by the scenario) add the checks that
        need them (pCPU numbers, the parent cgroup)."""
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ScenarioError(f"{path}.name", self.name, "must be a non-empty string without '/'")
        _int(f"{path}.vcpus", self.vcpus, 1, 4096)
        if not isinstance(self.tasks, list):
            raise ScenarioError(f"{path}.tasks", self.tasks, "must be a list of Task")
        hi = host.cpus - 1 if host is not None else None
        if not isinstance(self.guest, GuestKernel):
            raise ScenarioError(f"{path}.guest", self.guest, "must be a GuestKernel")
        self.guest.validate(f"{path}.guest")
        if self.cgroup is not None and (not isinstance(self.cgroup, str)
                                        or (cgroup_names is not None and self.cgroup not in cgroup_names)):
            raise ScenarioError(f"{path}.cgroup", self.cgroup, "names no cgroup")
        _int(f"{path}.weight", self.weight, 1, 10000)
        _bool(f"{path}.own_cgroup", self.own_cgroup)
        if self.pin is not None:
            if isinstance(self.pin, (str, bytes)) or not hasattr(self.pin, "__len__") or len(self.pin) != self.vcpus:
                raise ScenarioError(f"{path}.pin", self.pin, f"must list one pCPU per vCPU ({self.vcpus})")
            for i, c in enumerate(self.pin):
                _int(f"{path}.pin[{i}]", c, 0, hi)
        if self.cpus is not None:
            if not isinstance(self.cpus, (list, tuple)) or not self.cpus:
                raise ScenarioError(f"{path}.cpus", self.cpus, "must be a non-empty list of pCPU numbers")
            for c in self.cpus:
                _int(f"{path}.cpus", c, 0, hi)
            if self.pin is not None:
                raise ScenarioError(f"{path}.cpus", self.cpus, "give pin or cpus, not both")
        _choice(f"{path}.vcpu_policy", self.vcpu_policy, POLICIES)
        _int(f"{path}.vcpu_nice", self.vcpu_nice, -20, 19)
        if self.vcpu_policy in ("fifo", "rr"):
            _int(f"{path}.vcpu_rt_priority", self.vcpu_rt_priority, 1, 99)
        elif self.vcpu_rt_priority != 0:
            raise ScenarioError(f"{path}.vcpu_rt_priority", self.vcpu_rt_priority, "only fifo/rr vCPUs have an RT priority")
        for k in ("hlt_exits", "posted_interrupts", "ipi_virtualization", "timer_exits"):
            _bool(f"{path}.{k}", getattr(self, k))
        _int(f"{path}.exit_ns", self.exit_ns, 0, 10**9)
        _int(f"{path}.entry_ns", self.entry_ns, 0, 10**9)
        _int(f"{path}.halt_poll_ns", self.halt_poll_ns, 0, 10**10)
        _int(f"{path}.halt_poll_grow", self.halt_poll_grow, 0, 1000)
        _int(f"{path}.halt_poll_grow_start", self.halt_poll_grow_start, 0, 10**10)
        _int(f"{path}.halt_poll_shrink", self.halt_poll_shrink, 0, 1000)
        _int(f"{path}.start_ns", self.start_ns, 0, MAX_TIME_NS)
        self._validate_vmm(path, host)
        _check_policy(f"{path}.policy", self.policy)
        if not isinstance(self.boost, BoostPolicy):
            raise ScenarioError(f"{path}.boost", self.boost, "must be a BoostPolicy")
        self.boost.validate(f"{path}.boost")
        if self.boost.mode == "static" and self.vcpu_policy not in ("normal",):
            raise ScenarioError(f"{path}.vcpu_policy", self.vcpu_policy, "boost mode 'static' sets the vCPU policy itself")
        self._validate_ple_and_yield(path)
        self._validate_idle_and_work(path, host, cgroup_names)
        names = set()
        for i, t in enumerate(self.tasks):
            p = f"{path}.tasks[{i}]"
            _validate_task(p, t, self.vcpus, None)
            if getattr(t.workload, "host_only", False):
                raise ScenarioError(f"{p}.workload", t.workload.kind, "runs only on the host (a host task)")
            if self.guest.spinlock == "tas" and getattr(t.workload, "pv", False) \
                    and getattr(t.workload, "kind", "") == "spinlock_loop":
                raise ScenarioError(f"{p}.workload.pv", True, "guest.spinlock 'tas' (virt_spin_lock) is the lock "
                                    "a guest uses without PV spinlocks; set pv=false")
            if t.cgroup is not None:
                raise ScenarioError(f"{p}.cgroup", t.cgroup, "guest cgroups are not modelled yet")
            if getattr(t.workload, "kind", None) == "ipi_sync" and t.workload.targets > self.vcpus - 1:
                raise ScenarioError(f"{p}.workload.targets", t.workload.targets,
                                    f"a VM with {self.vcpus} vCPUs has {self.vcpus - 1} other vCPUs to interrupt")
            for n in t.names():
                if n in names:
                    raise ScenarioError(f"{p}.name", t.name, "task names must be unique within a VM")
                if f"{self.name}/{n}" in self.vmm_thread_names():
                    raise ScenarioError(f"{p}.name", t.name, "clashes with a VMM thread's name")
                names.add(n)
        _check_copies_clash(self.tasks, f"{path}.tasks")
        self._check_userspace_paths(path)     # after the tasks: it reads their workloads

    def _validate_idle_and_work(self, path, host, cgroup_names):
        # HLT/MWAIT interception, userspace exits, VMM deferred work.
        _bool(f"{path}.mwait_exits", self.mwait_exits)
        _bool(f"{path}.mwait_yield", self.mwait_yield)
        _int(f"{path}.userspace_exit_ns", self.userspace_exit_ns, 0, 10**9)
        if not isinstance(self.deferred_work, DeferredWork):
            raise ScenarioError(f"{path}.deferred_work", self.deferred_work, "must be a DeferredWork")
        self.deferred_work.validate(f"{path}.deferred_work", host.cpus if host is not None else None, cgroup_names)

    def _check_userspace_paths(self, path):     # what the engine's userspace paths (kvm/userspace.pxi) exclude
        user_io = [i for i, t in enumerate(self.tasks)
                   if isinstance(t.workload, Phases) and any(ph[0] == "user_io" for ph in t.workload.phases)]
        if self.guest.idle_instruction == "mwait" or self.deferred_work.enabled() or user_io:
            what = "an MWAIT guest or VMM deferred work" if not user_io else \
                f"exits to userspace (tasks[{user_io[0]}]'s user_io phases)"
            if self.boost.mode in ("dynamic", "bounded") and self.boost.enabled:
                raise NotModelledError(f"{path}.boost: vCPU boosting together with {what} is not modelled yet")
            for i, t in enumerate(self.tasks):
                if getattr(t.workload, "kind", "") in ("spinlock_loop", "ipi_sync"):
                    raise NotModelledError(f"{path}.tasks[{i}].workload: guest lock/IPI workloads together with "
                                           f"{what} are not modelled yet")

    def _validate_vmm(self, path, host):
        _int(f"{path}.user_return_ns", self.user_return_ns, 0, 10**9)
        _int(f"{path}.migrate_period_ns", self.migrate_period_ns, 0, 10**12)
        if self.stop_ns is not None:
            _int(f"{path}.stop_ns", self.stop_ns, self.start_ns + 1, MAX_TIME_NS)
        if self.migrate_pin is None:
            if self.migrate_period_ns:
                raise ScenarioError(f"{path}.migrate_pin", None, "migrate_period_ns needs migrate_pin (and pin)")
            return
        if self.pin is None:
            raise ScenarioError(f"{path}.pin", None, "migrate_pin re-pins between pin and migrate_pin: give pin")
        if isinstance(self.migrate_pin, (str, bytes)) or not hasattr(self.migrate_pin, "__len__") \
                or len(self.migrate_pin) != self.vcpus:
            raise ScenarioError(f"{path}.migrate_pin", self.migrate_pin, f"must list one pCPU per vCPU ({self.vcpus})")
        for i, c in enumerate(self.migrate_pin):
            _int(f"{path}.migrate_pin[{i}]", c, 0, host.cpus - 1 if host is not None else None)

    def _validate_ple_and_yield(self, path):
        # PLE (VMX module parameters), guest TSC frequency, directed-yield policy, sync workloads.
        _bool(f"{path}.ple", self.ple)
        _int(f"{path}.ple_gap", self.ple_gap, 0, 2**32 - 1)
        _int(f"{path}.ple_window", self.ple_window, 1, 2**32 - 1)
        _int(f"{path}.ple_window_grow", self.ple_window_grow, 0, 2**32 - 1)
        _int(f"{path}.ple_window_shrink", self.ple_window_shrink, 0, 2**32 - 1)
        _int(f"{path}.ple_window_max", self.ple_window_max, self.ple_window, 2**32 - 1)
        if isinstance(self.guest_cpu_ghz, bool) or not isinstance(self.guest_cpu_ghz, (int, float)) \
                or not 0.001 <= self.guest_cpu_ghz <= 100:
            raise ScenarioError(f"{path}.guest_cpu_ghz", self.guest_cpu_ghz, "must be a number in 0.001..100")
        if not isinstance(self.yield_policy, YieldPolicy):
            raise ScenarioError(f"{path}.yield_policy", self.yield_policy, "must be a YieldPolicy")
        self.yield_policy.validate(f"{path}.yield_policy")

    def kernel_dict(self) -> dict:
        """The per-VM parameters the engine takes."""
        from pvsched._core import _features_mask
        from pvsched.kernel import base_slice_ns
        g = self.guest
        return dict(nvcpu=self.vcpus, hz=g.hz, base_slice_ns=base_slice_ns(self.vcpus, g.base_slice_ns, g.slice_scaling),
                    features=_features_mask(g.features, g.fair_class == "cfs"), cfs=g.fair_class == "cfs",
                    lazy=g.preempt == "lazy", nohz_idle=g.nohz_idle,
                    hlt_exits=self.hlt_exits, posted_interrupts=self.posted_interrupts,
                    ipi_virtualization=self.ipi_virtualization, timer_exits=self.timer_exits,
                    exit_ns=self.exit_ns, entry_ns=self.entry_ns, halt_poll_max_ns=self.halt_poll_ns,
                    halt_poll_grow=self.halt_poll_grow, halt_poll_grow_start=self.halt_poll_grow_start,
                    halt_poll_shrink=self.halt_poll_shrink, guest_poll_ns=g.idle_poll_ns,
                    boost=self.boost.engine_dict(),
                    ple=self.ple, ple_gap=self.ple_gap, ple_window=self.ple_window,
                    ple_window_grow=self.ple_window_grow, ple_window_shrink=self.ple_window_shrink,
                    ple_window_max=self.ple_window_max, guest_cpu_khz=int(round(self.guest_cpu_ghz * 1e6)),
                    spinlock=g.spinlock, pv_sched_yield=g.pv_sched_yield, nlocks=self.nlocks(),
                    policy=self.policy, **{"yield": self.yield_policy.engine_dict()},
                    idle_instruction=g.idle_instruction, idle_loop_ns=g.idle_loop_ns, mwait_exits=self.mwait_exits,
                    mwait_yield=self.mwait_yield, userspace_exit_ns=self.userspace_exit_ns,
                    deferred_work=self.deferred_work.engine_dict(),
                    user_return_ns=self.user_return_ns, migrate_period_ns=self.migrate_period_ns,
                    migrate_pin=None if self.migrate_pin is None else [int(c) for c in self.migrate_pin],
                    stop_ns=self.stop_ns)

    def thread_policy(self):
        """(policy, nice, rt_priority) of the vCPU threads; boost mode 'static' makes them RT."""
        if self.boost.mode == "static":
            return self.boost.policy, self.vcpu_nice, self.boost.priority
        return self.vcpu_policy, self.vcpu_nice, self.vcpu_rt_priority


def _validate_task(p, t, ncpus, cgroup_names):
    if not isinstance(t, Task):
        raise ScenarioError(p, t, "must be a Task")
    if not isinstance(t.name, str) or not t.name or "/" in t.name:
        raise ScenarioError(f"{p}.name", t.name, "must be a non-empty string without '/'")
    if re.search(r"\[\d+\]$", t.name):
        raise ScenarioError(f"{p}.name", t.name, "names ending in [N] are the copies of a count > 1 task; "
                            "choose another name")
    _int(f"{p}.count", t.count, 1, 1_000_000)
    if not isinstance(t.workload, Workload):
        raise ScenarioError(f"{p}.workload", t.workload, "must be a Workload")
    t.workload.validate(f"{p}.workload")
    _choice(f"{p}.policy", t.policy, POLICIES)
    _int(f"{p}.nice", t.nice, -20, 19)
    if t.policy in ("fifo", "rr"):
        _int(f"{p}.rt_priority", t.rt_priority, 1, 99)
    elif t.rt_priority != 0:
        raise ScenarioError(f"{p}.rt_priority", t.rt_priority, "only fifo/rr tasks have an RT priority")
    if cgroup_names is not None and t.cgroup is not None and (not isinstance(t.cgroup, str)
                                                               or t.cgroup not in cgroup_names):
        raise ScenarioError(f"{p}.cgroup", t.cgroup, "names no cgroup")
    if t.cpus is not None:
        if not isinstance(t.cpus, (list, tuple)) or not t.cpus:
            raise ScenarioError(f"{p}.cpus", t.cpus, "must be a non-empty list of CPU numbers")
        for c in t.cpus:
            _int(f"{p}.cpus", c, 0, ncpus - 1 if ncpus is not None else None)
    _int(f"{p}.start_ns", t.start_ns, 0, MAX_TIME_NS)
    if t.slice_ns is not None:
        _int(f"{p}.slice_ns", t.slice_ns)
        if not 100_000 <= t.slice_ns <= 100_000_000:
            # the kernel would clamp (sched_setattr); a scenario says what it means instead
            clamped = min(max(t.slice_ns, 100_000), 100_000_000)
            raise ScenarioError(f"{p}.slice_ns", t.slice_ns, f"must be in [100000, 100000000] ns; sched_setattr() "
                                f"would clamp it to {clamped} (pvsched.kernel.setparam_fair_slice): write that")

