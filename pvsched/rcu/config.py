"""Host RCU settings (``Host(rcu=RcuConfig(...))``) for nohz_full CPUs that run guests: the
kernel parameters the guest policies (``pvsched.policies.rcu_guest``) interact with, Linux v6.15
defaults.

>>> from pvsched.rcu.config import RcuConfig
>>> RcuConfig(jiffies_till_first_fqs=5).engine_dict()["jiffies_till_first_fqs"]
5
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pvsched.validate import _bool, _choice, _int, normalize, self_check

#: What keeps a nohz_full CPU's tick running: only the kernel's own dependencies this model
#: simulates ("none": scheduler, RCU forced tick), or also a timer-wheel timer due in every tick
#: period ("timer": tick_nohz_next_event() then never stops the tick).
TICK_DEPENDENCIES = ("none", "timer")


@dataclass
class RcuConfig:
    """RCU on the host (PREEMPT_RT: rcuc kthreads, PREEMPT_RCU), for ``Host(nohz_full=[...])``.

    ``nohz_full_timeout_jiffies`` is the GP-age limit of ``rcu_nohz_full_cpu()`` (the kernel's
    HZ, i.e. 1 s); ``jiffies_till_first_fqs`` / ``jiffies_till_next_fqs`` /
    ``jiffies_till_sched_qs`` default to the kernel's computed values (None);
    ``stall_timeout_s`` is rcu_cpu_stall_timeout (21 s);
    ``kthread_prio`` the SCHED_FIFO priority of rcuc/N (1 with RCU_BOOST); ``rcuc_ns`` the CPU
    time of one rcu_core() pass in rcuc (context switches are the host's context_switch_ns);
    ``normal_wake_from_gp``: synchronize_rcu() returns from the GP kthread instead of a callback;
    ``uptime_s``: jiffies at t = 0 is INITIAL_JIFFIES + uptime_s * HZ.

    ``tick_dependency`` (one of ``TICK_DEPENDENCIES``) says what else keeps a nohz_full CPU's tick
    running. ``slow_exit_ns`` classifies a tick during exit handling as a slow exit once the exit
    has lasted that long; ``idle_entry_ns`` is the time from a switch to the idle task to its
    ct_cpuidle_enter() (the window of the HLT race); ``horizon_us`` the predicate-accuracy
    horizon (None: one jiffies_till_next_fqs).
    """

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
    idle_entry_ns: int = 2_000
    horizon_us: Optional[int] = None

    def __post_init__(self):
        normalize(self)
        self_check(self, "RcuConfig")

    def validate(self, path: str = "host.rcu") -> None:
        for name in ("nohz_full_timeout_jiffies", "jiffies_till_first_fqs",
                     "jiffies_till_next_fqs", "jiffies_till_sched_qs"):
            v = getattr(self, name)
            if v is not None:
                _int(f"{path}.{name}", v, 0, 10**9)
        _int(f"{path}.stall_timeout_s", self.stall_timeout_s, 1, 10**6)
        _int(f"{path}.kthread_prio", self.kthread_prio, 1, 99)
        _int(f"{path}.rcuc_ns", self.rcuc_ns, 0, 10**9)
        _bool(f"{path}.normal_wake_from_gp", self.normal_wake_from_gp)
        _int(f"{path}.uptime_s", self.uptime_s, 0, 10**8)
        _choice(f"{path}.tick_dependency", self.tick_dependency, TICK_DEPENDENCIES)
        _int(f"{path}.slow_exit_ns", self.slow_exit_ns, 1, 10**12)
        _int(f"{path}.idle_entry_ns", self.idle_entry_ns, 0, 10**9)
        if self.horizon_us is not None:
            _int(f"{path}.horizon_us", self.horizon_us, 1, 10**7)

    def engine_dict(self) -> dict:
        """Parameters for the C unit (``rcu_params_fill``): kernel defaults resolved by it."""
        d = dict(stall_timeout_s=self.stall_timeout_s, uptime_s=self.uptime_s,
                 normal_wake_from_gp=self.normal_wake_from_gp)
        for name in ("nohz_full_timeout_jiffies", "jiffies_till_first_fqs",
                     "jiffies_till_next_fqs", "jiffies_till_sched_qs"):
            if getattr(self, name) is not None:
                d[name] = getattr(self, name)
        if self.horizon_us is not None:
            d["horizon_ns"] = self.horizon_us * 1000
        return d

