"""Host RCU settings for nohz_full CPUs that run guests: the rcu_guest_policy switch and the
kernel parameters it interacts with (Linux v6.15 defaults).

>>> from pvsched.rcu.config import RcuConfig
>>> RcuConfig(guest_policy="run_loop_sched").engine_dict(hz=1000, ncpu=4, nohz_full=[1, 2, 3])["policy"]
'run_loop_sched'
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from pvsched.errors import ScenarioError

#: rcu_guest_policy values (seed-003 ids in RCU_POLICY_IDS).
GUEST_POLICIES = ("vanilla", "last_exit", "last_exit_reset", "last_exit_sched", "run_loop",
                  "run_loop_sched", "patience", "pf_vcpu", "qs_on_exit")
#: What keeps a nohz_full CPU's tick running: only the kernel's own dependencies this model
#: simulates ("none": scheduler, RCU forced tick), or also a timer-wheel timer due in every tick
#: period ("timer": tick_nohz_next_event() then never stops the tick, as on the seed's hosts).
TICK_DEPENDENCIES = ("none", "timer")


@dataclass
class RcuConfig:
    """RCU on the host (PREEMPT_RT: rcuc kthreads, PREEMPT_RCU), for ``Host(nohz_full=[...])``.

    ``guest_policy`` (the ``rcu_guest_policy`` switch): ``vanilla`` (P0), ``last_exit`` (P1:
    skip while ``jiffies < last guest exit + window_jiffies``), ``last_exit_reset`` (P1': the
    timestamp is zeroed at vcpu_load/vcpu_put), ``last_exit_sched`` (P1'': also at kvm_sched_out),
    ``run_loop`` (P2a: an in-KVM_RUN flag set/cleared at vcpu_load/vcpu_put), ``run_loop_sched``
    (P2: also cleared at kvm_sched_out and set at kvm_sched_in), ``patience`` (X1: mainline
    ``rcutree.nohz_full_patience_delay=patience_ms``), ``pf_vcpu`` (X2: the interrupted task has
    PF_VCPU), ``qs_on_exit`` (X3: a quiescent state noted at guest exit, on CPUs without context
    tracking). Every skip is ANDed with ``rcu_nohz_full_cpu()``, whose GP-age limit is
    ``nohz_full_timeout_jiffies`` (the kernel's HZ, i.e. 1 s).

    ``window_jiffies`` (P1's W) and ``nohz_full_timeout_jiffies`` default to HZ;
    ``jiffies_till_first_fqs`` / ``jiffies_till_next_fqs`` / ``jiffies_till_sched_qs`` to the
    kernel's computed values (None); ``stall_timeout_s`` is rcu_cpu_stall_timeout (21 s);
    ``kthread_prio`` the SCHED_FIFO priority of rcuc/N (1 with RCU_BOOST); ``rcuc_ns`` the CPU
    time of one rcu_core() pass in rcuc (context switches are the host's context_switch_ns);
    ``normal_wake_from_gp``: synchronize_rcu() returns from the GP kthread instead of a callback;
    ``uptime_s``: jiffies at t = 0 is INITIAL_JIFFIES + uptime_s * HZ.

    ``tick_dependency`` (one of ``TICK_DEPENDENCIES``) says what else keeps a nohz_full CPU's tick
    running. ``slow_exit_ns`` classifies a tick during exit handling as a slow exit once the exit
    has lasted that long; ``hlt_race_ns`` is the time from a vCPU's HLT block to the idle task's
    ct_cpuidle_enter(); ``horizon_us`` the predicate-accuracy horizon (None: one
    jiffies_till_next_fqs).
    """

    guest_policy: str = "vanilla"
    window_jiffies: Optional[int] = None
    patience_ms: int = 0
    nohz_full_timeout_jiffies: Optional[int] = None
    jiffies_till_first_fqs: Optional[int] = None
    jiffies_till_next_fqs: Optional[int] = None
    jiffies_till_sched_qs: Optional[int] = None
    stall_timeout_s: int = 21
    kthread_prio: int = 1
    rcuc_ns: int = 20_000
    normal_wake_from_gp: bool = False
    uptime_s: int = 3600
    tick_dependency: str = "none"
    slow_exit_ns: int = 100_000
    hlt_race_ns: int = 2_000
    horizon_us: Optional[int] = None

    def validate(self, path: str = "host.rcu") -> None:
        from pvsched.scenario import _bool, _choice, _int
        _choice(f"{path}.guest_policy", self.guest_policy, GUEST_POLICIES)
        for name in ("window_jiffies", "nohz_full_timeout_jiffies", "jiffies_till_first_fqs",
                     "jiffies_till_next_fqs", "jiffies_till_sched_qs"):
            v = getattr(self, name)
            if v is not None:
                _int(f"{path}.{name}", v, 0, 10**9)
        _int(f"{path}.patience_ms", self.patience_ms, 0, 10**9)
        _int(f"{path}.stall_timeout_s", self.stall_timeout_s, 1, 10**6)
        _int(f"{path}.kthread_prio", self.kthread_prio, 1, 99)
        _int(f"{path}.rcuc_ns", self.rcuc_ns, 0, 10**9)
        _bool(f"{path}.normal_wake_from_gp", self.normal_wake_from_gp)
        _int(f"{path}.uptime_s", self.uptime_s, 0, 10**8)
        _choice(f"{path}.tick_dependency", self.tick_dependency, TICK_DEPENDENCIES)
        _int(f"{path}.slow_exit_ns", self.slow_exit_ns, 1, 10**12)
        _int(f"{path}.hlt_race_ns", self.hlt_race_ns, 0, 10**9)
        if self.horizon_us is not None:
            _int(f"{path}.horizon_us", self.horizon_us, 1, 10**7)

    def engine_dict(self, *, hz: int, ncpu: int, nohz_full: Sequence[int]) -> dict:
        """Parameters for the C unit (``rcu_params_fill``): kernel defaults resolved by it."""
        d = dict(policy=self.guest_policy, patience_ms=self.patience_ms, stall_timeout_s=self.stall_timeout_s,
                 uptime_s=self.uptime_s, normal_wake_from_gp=self.normal_wake_from_gp)
        for name in ("window_jiffies", "nohz_full_timeout_jiffies", "jiffies_till_first_fqs",
                     "jiffies_till_next_fqs", "jiffies_till_sched_qs"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        if self.horizon_us is not None:
            d["horizon_ns"] = self.horizon_us * 1000
        return d


def validate_nohz_full(path: str, nohz_full, ncpus: int) -> None:
    """``Host.nohz_full``: distinct CPU numbers, leaving at least one housekeeping CPU."""
    from pvsched.scenario import _int
    if isinstance(nohz_full, (str, bytes)) or not isinstance(nohz_full, (list, tuple)):
        raise ScenarioError(path, nohz_full, "must be a list of CPU numbers")
    seen = set()
    for i, c in enumerate(nohz_full):
        _int(f"{path}[{i}]", c, 0, ncpus - 1)
        if c in seen:
            raise ScenarioError(f"{path}[{i}]", c, "is listed twice")
        seen.add(c)
    if len(seen) >= ncpus:
        raise ScenarioError(path, nohz_full, "must leave at least one housekeeping CPU")
