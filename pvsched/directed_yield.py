"""Compatibility path: the directed-yield policies live in :mod:`pvsched.policies`."""
from pvsched.policies.directed_yield import (  # noqa: F401
    CANDIDATE_ORDERS, PENALTY_CURVES, RATE_LIMIT_MODES, Debooster, YieldPolicy, _from)
