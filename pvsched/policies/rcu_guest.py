"""RCU guest policies: what the host's ``rcu_pending()`` may skip on a nohz_full CPU that runs a
guest (the ``rcu_guest_policy`` switch, ``Host(rcu_guest_policy=...)``); C part:
``policies/rcu_guest.pxd`` / ``.pxi``.

Each policy adds a disjunct to the nohz_full shortcut ``(user || idle || <disjunct>) &&
rcu_nohz_full_cpu()`` and keeps its per-CPU state at KVM's hook points:

==================== ====== ===================================== ========================================
mode                 id     disjunct                              state updates
==================== ====== ===================================== ========================================
``vanilla``          P0     none                                  none
``last_exit``        P1     jiffies < last guest exit + W         the exit time, at every guest exit
``last_exit_reset``  P1'    as P1                                 + zeroed at vcpu_load and vcpu_put
``last_exit_sched``  P1''   as P1                                 + zeroed at kvm_sched_out
``run_loop``         P2a    in_guest_run_loop                     set at vcpu_load, cleared at vcpu_put
``run_loop_sched``   P2     in_guest_run_loop                     + cleared at kvm_sched_out, set at kvm_sched_in
``patience``         X1     GP in progress, younger than D        none (mainline nohz_full_patience_delay)
``pf_vcpu``          X2     the interrupted task has PF_VCPU      PF_VCPU: guest entry to after the exit's IRQ
``qs_on_exit``       X3     none                                  a QS noted at guest exit (CPUs without
                                                                  context tracking)
==================== ====== ===================================== ========================================

``window_jiffies`` is P1's W (default: HZ, i.e. 1 s); ``patience_ms`` is X1's D, capped at 5 s
and rounded up to jiffies by msecs_to_jiffies(). The run-loop flag moves only inside KVM_RUN
(``vcpu->wants_to_run``).

>>> from pvsched.policies.rcu_guest import RcuGuestPolicy
>>> RcuGuestPolicy("run_loop_sched").engine_dict()
{'policy': 'run_loop_sched', 'patience_ms': 0}
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from pvsched.validate import _choice, _int, normalize, self_check

RCU_GUEST_MODES = ("vanilla", "last_exit", "last_exit_reset", "last_exit_sched", "run_loop", "run_loop_sched",
                   "patience", "pf_vcpu", "qs_on_exit")
#: The ids the proposals carry in the discussion they come from.
RCU_GUEST_IDS = {"vanilla": "P0", "last_exit": "P1", "last_exit_reset": "P1'", "last_exit_sched": "P1''",
                 "run_loop": "P2a", "run_loop_sched": "P2", "patience": "X1", "pf_vcpu": "X2", "qs_on_exit": "X3"}


@dataclass
class RcuGuestPolicy:
    """The host's RCU guest policy (see the module docstring)."""

    mode: str = "vanilla"
    window_jiffies: Optional[int] = None
    patience_ms: int = 0

    def __post_init__(self):
        normalize(self)
        self_check(self, "RcuGuestPolicy")

    def validate(self, path: str = "host.rcu_guest_policy") -> None:
        _choice(f"{path}.mode", self.mode, RCU_GUEST_MODES)
        if self.window_jiffies is not None:
            _int(f"{path}.window_jiffies", self.window_jiffies, 0, 10**9)
        _int(f"{path}.patience_ms", self.patience_ms, 0, 10**9)

    def engine_dict(self) -> dict:
        d = {"policy": self.mode, "patience_ms": self.patience_ms}
        if self.window_jiffies is not None:
            d["window_jiffies"] = self.window_jiffies
        return d
