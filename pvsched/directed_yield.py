"""Compatibility path: the debooster and the directed-yield options live in :mod:`pvsched.policies`.

>>> from pvsched.directed_yield import Debooster, YieldPolicy
>>> Debooster(enabled=True).engine_dict()["rate_limit_ns"], YieldPolicy(ipi_aware=True).engine_dict()["relaxed_round"]
(6000000, True)
"""
from pvsched.policies.debooster import PENALTY_CURVES, RATE_LIMIT_MODES, Debooster  # noqa: F401
from pvsched.policies.ipi_aware_yield import CANDIDATE_ORDERS, YieldPolicy  # noqa: F401
from pvsched.validate import _from  # noqa: F401
