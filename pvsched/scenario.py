"""Scenarios: the declarative description of a host, its cgroups and tasks (and, later, VMs).

A scenario is plain data. ``Simulation(scenario).run(until_ns=...)`` validates it, compiles it to
flat arrays for the C engine and returns a :class:`pvsched.results.Result`.

>>> from pvsched import Scenario, Host, Cgroup, Task, Simulation
>>> from pvsched.workloads import Hog
>>> sc = Scenario(host=Host(cpus=1), cgroups=[Cgroup("a", weight=200), Cgroup("b")],
...               tasks=[Task("x", Hog(), cgroup="a"), Task("y", Hog(), cgroup="b")])
>>> r = Simulation(sc).run(until_ns=100_000_000)
>>> round(r.task("x").cpu_ns / r.task("y").cpu_ns, 1)
2.0
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from pvsched.errors import ScenarioError
from pvsched.limits import MAX_TIME_NS
from pvsched.workloads import Workload, workload_from_dict

KERNEL_VERSION = "v6.15"
POLICIES = ("normal", "batch", "idle", "fifo", "rr")
PREEMPT_MODELS = ("full", "lazy")
SLICE_SCALING = ("none", "log", "linear")
RT_GUARDS = ("fair_server", "rt_throttle", "none")
FAIR_CLASSES = ("eevdf", "cfs")


def _validate_sched(path, k):
    """The scheduler knobs a host and a guest kernel share."""
    _int(f"{path}.hz", k.hz, 1, 10000)
    _choice(f"{path}.preempt", k.preempt, PREEMPT_MODELS)
    _choice(f"{path}.fair_class", k.fair_class, FAIR_CLASSES)
    _int(f"{path}.base_slice_ns", k.base_slice_ns, 1, 10**9)
    _choice(f"{path}.slice_scaling", k.slice_scaling, SLICE_SCALING)
    _validate_features(path, k.features, k.fair_class)


def _validate_features(path, features, fair_class):
    from pvsched._core import CFS_FEATURES, FEATURE_BITS
    if not isinstance(features, dict):
        raise ScenarioError(f"{path}.features", features, "must be a table of name = bool")
    eevdf_only = {"PLACE_LAG", "PLACE_DEADLINE_INITIAL", "PLACE_REL_DEADLINE", "RUN_TO_PARITY",
                  "PREEMPT_SHORT", "PICK_BUDDY", "DELAY_DEQUEUE", "DELAY_ZERO", "YIELD_FORFEIT",
                  "REWEIGHT_INPLACE"}
    for k, v in features.items():
        if k not in FEATURE_BITS:
            raise ScenarioError(f"{path}.features.{k}", v, f"unknown feature; known: {sorted(FEATURE_BITS)}")
        if fair_class == "cfs" and k not in CFS_FEATURES:
            raise ScenarioError(f"{path}.features.{k}", v, "not a CFS (v6.5) feature")
        if fair_class == "eevdf" and k not in eevdf_only | {"NEXT_BUDDY", "WAKEUP_PREEMPTION"}:
            raise ScenarioError(f"{path}.features.{k}", v, "not an EEVDF (v6.15) feature")
        _bool(f"{path}.features.{k}", v)


def _int(path, v, lo=None, hi=None):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ScenarioError(path, v, "must be an integer")
    v = int(v)
    if lo is not None and v < lo:
        raise ScenarioError(path, v, f"must be >= {lo}")
    if hi is not None and v > hi:
        raise ScenarioError(path, v, f"must be <= {hi}" + (" (the simulated horizon, 2**62 ns)" if hi == MAX_TIME_NS else ""))
    return v


def _choice(path, v, choices):
    if not isinstance(v, str) or v not in choices:
        raise ScenarioError(path, v, f"must be one of {list(choices)}")
    return v


def _bool(path, v):
    if not isinstance(v, bool):
        raise ScenarioError(path, v, "must be true or false")
    return v


@dataclass
class Host:
    """The physical machine and its kernel's scheduler settings (Linux v6.15 defaults).

    ``preempt``: "full" delivers fair-class preemption at once (with an IPI to a remote CPU);
    "lazy" (PREEMPT_LAZY) defers a remote fair preemption to that CPU's next tick.
    ``features`` overrides fair feature flags, e.g. ``{"DELAY_DEQUEUE": False}``.
    ``tick_exits``: the host tick interrupts a vCPU in guest mode (a VM exit every 1/HZ);
    False models a tickless (nohz_full) pCPU. ``context_switch_ns`` delays a task that is switched in;
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
    load_balance: bool = True
    periodic_balance: bool = True
    debooster: "Debooster" = None

    def __post_init__(self):
        if self.debooster is None:
            from pvsched.directed_yield import Debooster
            self.debooster = Debooster()

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
        _bool(f"{path}.load_balance", self.load_balance)
        _bool(f"{path}.periodic_balance", self.periodic_balance)
        from pvsched.directed_yield import Debooster
        if not isinstance(self.debooster, Debooster):
            raise ScenarioError(f"{path}.debooster", self.debooster, "must be a Debooster")
        self.debooster.validate(f"{path}.debooster")

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

    def shares(self) -> int:
        """Scaled tg->shares for this cpu.weight (round(w * 1024 / 100), scaled up by 2**10)."""
        return ((self.weight * 1024 + 50) // 100) << 10


@dataclass
class Task:
    """A host task (thread). ``policy``: normal, batch, idle (fair class) or fifo, rr (RT class,
    ``rt_priority`` 1..99). ``cpus`` restricts affinity; ``count`` > 1 makes identical copies
    named ``name[0]``, ``name[1]``, ...; ``slice_ns`` sets an EEVDF custom slice."""

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

    def validate(self, path):
        _validate_sched(path, self)
        _bool(f"{path}.pv_sched_yield", self.pv_sched_yield)
        _bool(f"{path}.nohz_idle", self.nohz_idle)
        _int(f"{path}.idle_poll_ns", self.idle_poll_ns, 0, 10**9)
        _choice(f"{path}.spinlock", self.spinlock, ("queued", "ticket", "tas"))


@dataclass
class VM:
    """A KVM guest: ``vcpus`` vCPU threads on the host (in their own cgroup ``vm:<name>``, a child of
    ``cgroup``, with cpu.weight ``weight``) and a guest kernel running ``tasks`` (their ``cpus`` are
    vCPU numbers). ``pin`` pins vCPU i to pCPU pin[i]; ``cpus`` restricts all vCPU threads.

    KVM knobs: ``hlt_exits`` (False = HLT/MWAIT pass-through: an idle guest keeps its pCPU busy),
    ``posted_interrupts`` (interrupts reach a running vCPU without an exit), ``ipi_virtualization``
    (sending an IPI needs no exit), ``timer_exits`` (guest timer expiries exit; False = posted timer
    interrupts), ``exit_ns`` / ``entry_ns`` (cost of an exit round trip and of an entry after the
    thread is switched in), ``halt_poll_ns`` (max halt-polling window; x86 default 200 us; 0 = off)
    and its grow/shrink parameters (v6.x defaults).
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
    boost: "BoostPolicy" = None
    ple: bool = True
    ple_gap: int = 128
    ple_window: int = 4096
    ple_window_grow: int = 2
    ple_window_shrink: int = 0
    ple_window_max: int = 4294967295
    guest_cpu_ghz: float = 2.0
    yield_policy: "YieldPolicy" = None

    def __post_init__(self):
        if self.boost is None:
            from pvsched.policies import BoostPolicy
            self.boost = BoostPolicy()
        if self.yield_policy is None:
            from pvsched.directed_yield import YieldPolicy
            self.yield_policy = YieldPolicy()

    def nlocks(self) -> int:
        """Guest spinlocks the VM's tasks use (seed 002 workloads name them 0, 1, ...)."""
        return max([t.workload.locks_needed() for t in self.tasks if hasattr(t.workload, "locks_needed")] + [0])

    def cgroup_name(self) -> str:
        return f"vm:{self.name}"

    def vcpu_names(self) -> List[str]:
        return [f"{self.name}/vcpu{i}" for i in range(self.vcpus)]

    def validate(self, path, host: "Host", cgroup_names):
        if not isinstance(self.name, str) or not self.name or "/" in self.name:
            raise ScenarioError(f"{path}.name", self.name, "must be a non-empty string without '/'")
        _int(f"{path}.vcpus", self.vcpus, 1, 4096)
        if not isinstance(self.guest, GuestKernel):
            raise ScenarioError(f"{path}.guest", self.guest, "must be a GuestKernel")
        self.guest.validate(f"{path}.guest")
        if self.cgroup is not None and (not isinstance(self.cgroup, str) or self.cgroup not in cgroup_names):
            raise ScenarioError(f"{path}.cgroup", self.cgroup, "names no cgroup")
        _int(f"{path}.weight", self.weight, 1, 10000)
        if self.pin is not None:
            if isinstance(self.pin, (str, bytes)) or not hasattr(self.pin, "__len__") or len(self.pin) != self.vcpus:
                raise ScenarioError(f"{path}.pin", self.pin, f"must list one pCPU per vCPU ({self.vcpus})")
            for i, c in enumerate(self.pin):
                _int(f"{path}.pin[{i}]", c, 0, host.cpus - 1)
        if self.cpus is not None:
            if isinstance(self.cpus, (str, bytes)) or not hasattr(self.cpus, "__iter__") or not list(self.cpus):
                raise ScenarioError(f"{path}.cpus", self.cpus, "must be a non-empty list of pCPU numbers")
            for c in self.cpus:
                _int(f"{path}.cpus", c, 0, host.cpus - 1)
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
        from pvsched.policies import BoostPolicy
        if not isinstance(self.boost, BoostPolicy):
            raise ScenarioError(f"{path}.boost", self.boost, "must be a BoostPolicy")
        self.boost.validate(f"{path}.boost")
        if self.boost.mode == "static" and self.vcpu_policy not in ("normal",):
            raise ScenarioError(f"{path}.vcpu_policy", self.vcpu_policy, "boost mode 'static' sets the vCPU policy itself")
        self._validate_seed002(path)
        names = set()
        for i, t in enumerate(self.tasks):
            p = f"{path}.tasks[{i}]"
            _validate_task(p, t, self.vcpus, None)
            if self.guest.spinlock == "tas" and getattr(t.workload, "pv", False) \
                    and getattr(t.workload, "kind", "") == "spinlock_loop":
                raise ScenarioError(f"{p}.workload.pv", True, "guest.spinlock 'tas' (virt_spin_lock) is the lock "
                                    "a guest uses without PV spinlocks; set pv=false")
            if t.cgroup is not None:
                raise ScenarioError(f"{p}.cgroup", t.cgroup, "guest cgroups are not modelled yet")
            for n in t.names():
                if n in names:
                    raise ScenarioError(f"{p}.name", t.name, "task names must be unique within a VM")
                names.add(n)

    def _validate_seed002(self, path):
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
        from pvsched.directed_yield import YieldPolicy
        if not isinstance(self.yield_policy, YieldPolicy):
            raise ScenarioError(f"{path}.yield_policy", self.yield_policy, "must be a YieldPolicy")
        self.yield_policy.validate(f"{path}.yield_policy")
        for i, t in enumerate(self.tasks):
            w = getattr(t, "workload", None)
            if getattr(w, "kind", None) == "ipi_sync" and w.targets > self.vcpus - 1:
                raise ScenarioError(f"{path}.tasks[{i}].workload.targets", w.targets,
                                    f"a VM with {self.vcpus} vCPUs has {self.vcpus - 1} other vCPUs to interrupt")

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
                    spinlock=g.spinlock, pv_sched_yield=g.pv_sched_yield, nlocks=self.nlocks(), **{"yield": self.yield_policy.engine_dict()})

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
        if isinstance(t.cpus, (str, bytes)) or not hasattr(t.cpus, "__iter__") or not list(t.cpus):
            raise ScenarioError(f"{p}.cpus", t.cpus, "must be a non-empty list of CPU numbers")
        for c in t.cpus:
            _int(f"{p}.cpus", c, 0, ncpus - 1)
    _int(f"{p}.start_ns", t.start_ns, 0, MAX_TIME_NS)
    if t.slice_ns is not None:
        _int(f"{p}.slice_ns", t.slice_ns, 100_000, 100_000_000)


@dataclass
class Scenario:
    """A whole simulation input: host, cgroups, host tasks, VMs, duration and seed."""

    host: Host = field(default_factory=Host)
    cgroups: List[Cgroup] = field(default_factory=list)
    tasks: List[Task] = field(default_factory=list)
    vms: List[VM] = field(default_factory=list)
    duration_ns: int = 1_000_000_000
    seed: int = 0
    shuffle_ties: bool = False
    check_invariants: bool = False

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`ScenarioError` (naming the field path) on the first bad value."""
        if not isinstance(self.host, Host):
            raise ScenarioError("host", self.host, "must be a Host")
        self.host.validate()
        _int("duration_ns", self.duration_ns, 1, MAX_TIME_NS)
        _int("seed", self.seed, 0, 2**64 - 1)
        _bool("shuffle_ties", self.shuffle_ties)
        _bool("check_invariants", self.check_invariants)
        names = {}
        for i, cg in enumerate(self.cgroups):
            p = f"cgroups[{i}]"
            if not isinstance(cg, Cgroup):
                raise ScenarioError(p, cg, "must be a Cgroup")
            if not isinstance(cg.name, str) or not cg.name or cg.name in names:
                raise ScenarioError(f"{p}.name", cg.name, "must be a unique non-empty string")
            names[cg.name] = i
            _int(f"{p}.weight", cg.weight, 1, 10000)
            _bool(f"{p}.idle", cg.idle)
        for i, cg in enumerate(self.cgroups):
            if cg.parent is not None and (not isinstance(cg.parent, str) or cg.parent not in names):
                raise ScenarioError(f"cgroups[{i}].parent", cg.parent, "names no cgroup")
        for i, cg in enumerate(self.cgroups):
            seen, cur = set(), cg
            while cur.parent is not None:
                if cur.name in seen:
                    raise ScenarioError(f"cgroups[{i}].parent", cg.parent, "the cgroup hierarchy has a cycle")
                seen.add(cur.name)
                cur = self.cgroups[names[cur.parent]]
        tnames = set()
        if not self.tasks and not self.vms:
            raise ScenarioError("tasks", self.tasks, "a scenario needs at least one task or VM")
        for i, t in enumerate(self.tasks):
            p = f"tasks[{i}]"
            _validate_task(p, t, self.host.cpus, names)
            if getattr(t.workload, "guest_only", False):
                raise ScenarioError(f"{p}.workload", t.workload.kind, "runs only in a guest (VM task)")
            for n in t.names():
                if n in tnames:
                    raise ScenarioError(f"{p}.name", t.name, "task names must be unique")
                tnames.add(n)
        vnames = set()
        for i, vm in enumerate(self.vms):
            p = f"vms[{i}]"
            if not isinstance(vm, VM):
                raise ScenarioError(p, vm, "must be a VM")
            vm.validate(p, self.host, names)
            if vm.name in vnames:
                raise ScenarioError(f"{p}.name", vm.name, "VM names must be unique")
            vnames.add(vm.name)
            if vm.cgroup_name() in names:
                raise ScenarioError(f"{p}.name", vm.name, f"the VM's cgroup {vm.cgroup_name()!r} clashes with a cgroup")

    # ------------------------------------------------------------------ compile
    def compile(self):
        """Validate and flatten into ``(engine_kwargs, task_names, cgroup_names)`` for
        :class:`pvsched._core.Engine`. Task order: host tasks, then per VM its vCPU threads
        (``vm/vcpuN``) and its guest tasks (``vm/name``)."""
        from pvsched._core import OPS, POLICIES as CPOL
        self.validate()
        h = self.host
        cgs = list(self.cgroups) + [Cgroup(vm.cgroup_name(), parent=vm.cgroup, weight=vm.weight) for vm in self.vms]
        by = {c.name: c for c in cgs}

        def depth(c):
            d = 0
            while c.parent is not None:
                d, c = d + 1, by[c.parent]
            return d
        order = sorted(range(len(cgs)), key=lambda i: depth(cgs[i]))
        remap = {cgs[i].name: k + 1 for k, i in enumerate(order)}
        tg_parent, tg_shares, tg_idle = [-1], [1024 << 10], [0]
        for i in order:
            cg = cgs[i]
            tg_parent.append(0 if cg.parent is None else remap[cg.parent])
            tg_shares.append(cg.shares())
            tg_idle.append(int(cg.idle))
        maxw = max([(h.cpus + 63) // 64] + [(vm.vcpus + 63) // 64 for vm in self.vms])
        cols = {k: [] for k in ("policy", "nice", "rt_prio", "tg", "start", "aff", "ps", "pl", "slice", "kern", "vcpu")}
        ops: list = []
        names = []

        def mask_of(cpus):
            mask = [0] * maxw
            for c in cpus:
                mask[c >> 6] |= 1 << (c & 63)
            return mask

        def add(name, prog, policy, nice, rt, tg, start, mask, slice_ns, kern, vcpu):
            names.append(name)
            cols["policy"].append(CPOL[policy])
            cols["nice"].append(nice)
            cols["rt_prio"].append(rt)
            cols["tg"].append(tg)
            cols["start"].append(start)
            cols["aff"].append(mask)
            cols["ps"].append(prog[0])
            cols["pl"].append(prog[1])
            cols["slice"].append(slice_ns or 0)
            cols["kern"].append(kern)
            cols["vcpu"].append(vcpu)

        def program(workload):
            prog = [(OPS[o[0]], int(o[1]), int(o[2]), int(o[3])) for o in workload.ops()]
            start = len(ops)
            ops.extend(prog)
            return start, len(prog)

        for t in self.tasks:
            prog = program(t.workload)
            mask = mask_of(t.cpus if t.cpus is not None else range(h.cpus))
            for n in t.names():
                add(n, prog, t.policy, t.nice, t.rt_priority, 0 if t.cgroup is None else remap[t.cgroup],
                    t.start_ns, mask, t.slice_ns, 0, -1)
        vcpu_vm = []
        vcpu_prog = None
        for k, vm in enumerate(self.vms):
            if vcpu_prog is None:
                vcpu_prog = (len(ops), 1)
                ops.append((OPS["vcpu"], 0, 0, 0))
            for i, n in enumerate(vm.vcpu_names()):
                cpus = [vm.pin[i]] if vm.pin is not None else (vm.cpus if vm.cpus is not None else range(h.cpus))
                pol, nice, rtp = vm.thread_policy()
                add(n, vcpu_prog, pol, nice, rtp, remap[vm.cgroup_name()],
                    vm.start_ns, mask_of(cpus), None, 0, len(vcpu_vm))
                vcpu_vm.append(k)
            for t in vm.tasks:
                prog = program(t.workload)
                mask = mask_of(t.cpus if t.cpus is not None else range(vm.vcpus))
                for n in t.names():
                    add(f"{vm.name}/{n}", prog, t.policy, t.nice, t.rt_priority, 0,
                        max(t.start_ns, vm.start_ns), mask, t.slice_ns, k + 1, -1)
        nt = len(names)
        arr = lambda k: np.array(cols[k], dtype=np.int64)
        return dict(
            ncpu=h.cpus, hz=h.hz, base_slice_ns=h.base_slice(), features=h.feature_mask(),
            lazy=h.preempt == "lazy", cfs=h.fair_class == "cfs",
            tg_parent=np.array(tg_parent, dtype=np.int64), tg_shares=np.array(tg_shares, dtype=np.int64),
            tg_idle=np.array(tg_idle, dtype=np.int64),
            task_policy=arr("policy"), task_nice=arr("nice"), task_rt_prio=arr("rt_prio"), task_tg=arr("tg"),
            task_start_ns=arr("start"),
            task_affinity=np.array(cols["aff"], dtype=np.uint64).reshape(nt, maxw),
            task_prog_start=arr("ps"), task_prog_len=arr("pl"), task_slice_ns=arr("slice"),
            task_kern=arr("kern"), task_vcpu=arr("vcpu"),
            vms=[vm.kernel_dict() for vm in self.vms], vcpu_vm=np.array(vcpu_vm, dtype=np.int64),
            ops=np.array(ops, dtype=np.int64).reshape(-1, 4),
            seed=self.seed, shuffle_ties=self.shuffle_ties, ctx_switch_ns=h.context_switch_ns,
            idle_exit_ns=h.idle_exit_ns, cstates=[tuple(x) for x in h.idle_states],
            rt_guard=h.rt_guard, fs_runtime_ns=h.fair_server_runtime_ns, fs_period_ns=h.fair_server_period_ns,
            rt_runtime_ns=h.rt_runtime_ns, rt_period_ns=h.rt_period_ns, rr_timeslice_ms=h.rr_timeslice_ms,
            nohz_idle=h.nohz_idle, host_tick_exits=h.tick_exits, check_invariants=self.check_invariants,
            load_balance=h.load_balance, periodic_balance=h.periodic_balance,
            debooster=h.debooster.engine_dict(),
        ), names, [None] + [cgs[i].name for i in order]

    def _depth(self, i):
        d, cg = 0, self.cgroups[i]
        by = {c.name: c for c in self.cgroups}
        while cg.parent is not None:
            d += 1
            cg = by[cg.parent]
        return d

    # ------------------------------------------------------------------ dict / TOML
    def to_dict(self) -> dict:
        """A plain dict (TOML-ready) that :meth:`from_dict` turns back into an equal scenario."""
        d = {
            "duration_ns": self.duration_ns, "seed": self.seed, "shuffle_ties": self.shuffle_ties,
            "check_invariants": self.check_invariants,
            "host": dataclasses.asdict(self.host),
            "cgroups": [{k: v for k, v in dataclasses.asdict(c).items() if v is not None} for c in self.cgroups],
            "tasks": [],
        }
        d["tasks"] = [_task_dict(t) for t in self.tasks]
        if self.vms:
            d["vms"] = []
            for vm in self.vms:
                vd = {f.name: getattr(vm, f.name) for f in dataclasses.fields(VM)
                      if f.name not in ("tasks", "guest", "boost", "yield_policy") and getattr(vm, f.name) is not None}
                vd["boost"] = dataclasses.asdict(vm.boost)
                vd["yield_policy"] = dataclasses.asdict(vm.yield_policy)
                for k in ("pin", "cpus"):
                    if k in vd:
                        vd[k] = list(vd[k])
                vd["guest"] = dataclasses.asdict(vm.guest)
                vd["tasks"] = [_task_dict(t) for t in vm.tasks]
                d["vms"].append(vd)
        return d

    @classmethod
    def from_dict(cls, d: dict, source: str = "") -> "Scenario":
        """Build (and validate) a scenario from a dict; errors name ``source`` and the key path."""
        pre = f"{source}: " if source else ""
        try:
            return cls._from_dict(d)
        except ScenarioError as e:
            if pre:
                raise ScenarioError(pre + e.path, e.value, e.problem) from None
            raise

    @classmethod
    def _from_dict(cls, d):
        if not isinstance(d, dict):
            raise ScenarioError("<root>", d, "must be a table")
        top = {"host", "cgroups", "tasks", "vms", "duration_ns", "seed", "shuffle_ties", "check_invariants"}
        for k in d:
            if k not in top:
                raise ScenarioError(k, d[k], f"unknown key; known: {sorted(top)}")
        hd = d.get("host", {})
        if not isinstance(hd, dict):
            raise ScenarioError("host", hd, "must be a table")
        hfields = {f.name for f in dataclasses.fields(Host)}
        for k in hd:
            if k not in hfields:
                raise ScenarioError(f"host.{k}", hd[k], f"unknown key; known: {sorted(hfields)}")
        hd = dict(hd)
        if "debooster" in hd:
            from pvsched.directed_yield import Debooster, _from
            hd["debooster"] = _from(Debooster, hd["debooster"], "host.debooster")
        host = Host(**hd)
        cgroups = []
        for i, c in enumerate(_list(d.get("cgroups", []), "cgroups")):
            cgroups.append(Cgroup(**_fields(c, Cgroup, f"cgroups[{i}]", required=("name",))))
        tasks = [_task_from(t, f"tasks[{i}]") for i, t in enumerate(_list(d.get("tasks", []), "tasks"))]
        vms = []
        for i, v in enumerate(_list(d.get("vms", []), "vms")):
            kw = _fields(v, VM, f"vms[{i}]", required=("name",))
            gd = kw.get("guest", {})
            kw["guest"] = GuestKernel(**_fields(gd, GuestKernel, f"vms[{i}].guest"))
            if "boost" in kw:
                from pvsched.policies import BoostPolicy
                kw["boost"] = BoostPolicy(**_fields(kw["boost"], BoostPolicy, f"vms[{i}].boost"))
            if "yield_policy" in kw:
                from pvsched.directed_yield import YieldPolicy, _from
                kw["yield_policy"] = _from(YieldPolicy, kw["yield_policy"], f"vms[{i}].yield_policy")
            kw["tasks"] = [_task_from(t, f"vms[{i}].tasks[{j}]")
                           for j, t in enumerate(_list(kw.get("tasks", []), f"vms[{i}].tasks"))]
            vms.append(VM(**kw))
        sc = cls(host=host, cgroups=cgroups, tasks=tasks, vms=vms,
                 **{k: d[k] for k in ("duration_ns", "seed", "shuffle_ties", "check_invariants") if k in d})
        sc.validate()
        return sc

    def to_toml(self) -> str:
        import tomli_w
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_toml(cls, text_or_path, *, is_path: Optional[bool] = None) -> "Scenario":
        """Load from TOML text or a file path; errors name the file and key path."""
        import os
        try:
            import tomllib
        except ImportError:  # Python < 3.11
            import tomli as tomllib
        source = "<string>"
        text = text_or_path
        if is_path or (is_path is None and isinstance(text_or_path, (str, os.PathLike))
                       and "\n" not in str(text_or_path) and os.path.exists(str(text_or_path))):
            source = str(text_or_path)
            with open(source, "rb") as f:
                text = f.read().decode()
        try:
            d = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ScenarioError(source, "<toml>", f"malformed TOML: {e}") from None
        return cls.from_dict(d, source=source)


def _task_dict(t: Task) -> dict:
    td = {k: v for k, v in dataclasses.asdict(t).items() if k != "workload" and v is not None}
    if td.get("cpus") is not None:
        td["cpus"] = list(td["cpus"])
    td["workload"] = t.workload.to_dict()
    return td


def _task_from(t, path) -> Task:
    kw = _fields(t, Task, path, required=("name", "workload"))
    kw["workload"] = workload_from_dict(kw["workload"], f"{path}.workload")
    return Task(**kw)


def _list(v, path):
    if not isinstance(v, list):
        raise ScenarioError(path, v, "must be a list")
    return v


def _fields(d, cls, path, required=()):
    if not isinstance(d, dict):
        raise ScenarioError(path, d, "must be a table")
    known = {f.name for f in dataclasses.fields(cls)}
    for k in d:
        if k not in known:
            raise ScenarioError(f"{path}.{k}", d[k], f"unknown key; known: {sorted(known)}")
    for k in required:
        if k not in d:
            raise ScenarioError(f"{path}.{k}", None, "is required")
    return dict(d)
