"""Host/guest mechanisms as switchable policies.

``BoostPolicy`` is vCPU priority boosting (the 2024 pvsched RFC, and the variants its review asked
about); its C part is ``policies/boost.pxi``:

- ``vanilla``: vCPU threads stay in the fair class.
- ``static``: vCPU threads are always RT (``policy``/``priority``).
- ``dynamic``: the RFC: a per-vCPU shared page (boost_status, boost_req, preempt_disabled);
  lazy guest boost requests read at the next VM exit, synchronous unboost through a doorbell
  exit, host-proactive boosts on timer / interrupt / PV-unhalt injection (not with posted
  interrupts), boost on halt, SCHED_RR priority 8, and the 3000 us cap on preempt-disabled
  boosts. Each trigger can be switched off on its own (``triggers={"halt": False}``).
- ``bounded``: ``dynamic`` plus pvsched-v3 budgets: a boost tied to a critical section
  (interrupts, pending events, halt, preempt-disabled) lasts at most ``cs_budget_ns`` (2 ms), a
  generic boost (guest RT work) at most ``generic_budget_ns`` (500 ms); then the host forces an
  exit and unboosts. Unboosted time repays the debt 1:1 and no new boost is granted until the debt
  is zero.

``rogue`` makes the guest abuse the interface: ``hold_boost`` keeps boost_req = BOOST,
``doorbell_storm`` rings the doorbell on every guest tick.

>>> from pvsched.policies import BoostPolicy
>>> BoostPolicy("dynamic", triggers={"halt": False}).trigger_mask() & 256
0
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict

from pvsched.errors import ScenarioError
from pvsched.validate import _bool, _choice, _int, normalize, self_check

BOOST_MODES = ("vanilla", "static", "dynamic", "bounded")
TRIGGERS = ("irq_entry", "irq_exit", "sched", "rt_enqueue", "user_return", "kick_timer", "kick_intr",
            "kick_unhalt", "halt", "pending_at_exit", "preempt_disabled")
# The RFC's final code (patch 5): every trigger but "preempt_disabled alone boosts".
DEFAULT_TRIGGERS = {t: t != "preempt_disabled" for t in TRIGGERS}


@dataclass
class BoostPolicy:
    """vCPU priority boosting for one VM (see the module docstring)."""

    mode: str = "vanilla"
    policy: str = "rr"
    priority: int = 8
    triggers: Dict[str, bool] = field(default_factory=dict)
    cap_us: int = 3000
    doorbell_ns: int = 1_000
    setsched_ns: int = 2_000
    cs_budget_ns: int = 2_000_000
    generic_budget_ns: int = 500_000_000
    rogue: str = "none"
    enabled: bool = True

    def __post_init__(self):
        normalize(self)
        self_check(self, "BoostPolicy")

    def validate(self, path: str) -> None:
        _choice(f"{path}.mode", self.mode, BOOST_MODES)
        _choice(f"{path}.policy", self.policy, ("rr", "fifo"))
        _int(f"{path}.priority", self.priority, 1, 99)
        if not isinstance(self.triggers, dict):
            raise ScenarioError(f"{path}.triggers", self.triggers, "must be a table of trigger = bool")
        for k, v in self.triggers.items():
            if k not in TRIGGERS:
                raise ScenarioError(f"{path}.triggers.{k}", v, f"unknown trigger; known: {list(TRIGGERS)}")
            _bool(f"{path}.triggers.{k}", v)
        _int(f"{path}.cap_us", self.cap_us, 0, 10**9)
        _int(f"{path}.doorbell_ns", self.doorbell_ns, 0, 10**9)
        _int(f"{path}.setsched_ns", self.setsched_ns, 0, 10**9)
        _int(f"{path}.cs_budget_ns", self.cs_budget_ns, 1, 10**12)
        _int(f"{path}.generic_budget_ns", self.generic_budget_ns, 1, 10**12)
        _choice(f"{path}.rogue", self.rogue, ("none", "hold_boost", "doorbell_storm"))
        _bool(f"{path}.enabled", self.enabled)
        if self.rogue != "none" and self.mode in ("vanilla", "static"):
            raise ScenarioError(f"{path}.rogue", self.rogue, "a rogue guest needs the dynamic or bounded interface")

    def trigger_mask(self) -> int:
        from pvsched._core import BOOST_TRIGGERS
        on = dict(DEFAULT_TRIGGERS)
        on.update(self.triggers)
        return sum(BOOST_TRIGGERS[k] for k, v in on.items() if v)

    def engine_dict(self, host_enabled: bool = True) -> dict:
        """Parameters for the engine; vanilla/static (or disabled) turn the interface off."""
        mode = self.mode if self.mode in ("dynamic", "bounded") and self.enabled and host_enabled else "off"
        return dict(mode=mode, policy=self.policy, priority=self.priority, triggers=self.trigger_mask(),
                    cap_ns=self.cap_us * 1000, doorbell_ns=self.doorbell_ns, setsched_ns=self.setsched_ns,
                    cs_budget_ns=self.cs_budget_ns, gen_budget_ns=self.generic_budget_ns, rogue=self.rogue)
