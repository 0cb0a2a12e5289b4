"""Mechanisms under study, one unit per policy: each has its C part (``<name>.pxi``, compiled
into ``pvsched._core``, attached to the hook points it needs) and its Python configuration class
(``<name>.py``): vCPU boosting (:class:`BoostPolicy`), the debooster (:class:`Debooster`),
IPI-aware directed yield (:class:`YieldPolicy`), halted-aware PELT (:class:`HaltedPelt`), VMM
deferred work and its executors (:class:`DeferredWork`). :class:`Policy` is the base of policies
written in Python.

>>> from pvsched.policies import BoostPolicy
>>> BoostPolicy("dynamic").mode
'dynamic'
"""
from pvsched.policies.boost import BOOST_MODES, DEFAULT_TRIGGERS, TRIGGERS, BoostPolicy  # noqa: F401
from pvsched.policies.debooster import PENALTY_CURVES, RATE_LIMIT_MODES, Debooster  # noqa: F401
from pvsched.policies.deferred_work import DeferredWork  # noqa: F401
from pvsched.policies.halted_pelt import HALTED_PELT_MODES, HaltedPelt  # noqa: F401
from pvsched.policies.ipi_aware_yield import CANDIDATE_ORDERS, YieldPolicy  # noqa: F401
from pvsched.policies.policy import HOOK_POINTS, Policy  # noqa: F401
from pvsched.policies.rcu_guest import RCU_GUEST_IDS, RCU_GUEST_MODES, RcuGuestPolicy  # noqa: F401

__all__ = ["BoostPolicy", "Debooster", "YieldPolicy", "HaltedPelt", "DeferredWork", "Policy", "HOOK_POINTS",
           "BOOST_MODES", "TRIGGERS", "DEFAULT_TRIGGERS", "HALTED_PELT_MODES"]
