"""Mechanisms under study, one unit per policy: each has its C part (``<name>.pxi``, compiled
into ``pvsched._core``) and its Python configuration class (``<name>.py``).

>>> from pvsched.policies import BoostPolicy
>>> BoostPolicy("dynamic").mode
'dynamic'
"""
from pvsched.policies.boost import BOOST_MODES, DEFAULT_TRIGGERS, TRIGGERS, BoostPolicy  # noqa: F401

__all__ = ["BoostPolicy", "BOOST_MODES", "TRIGGERS", "DEFAULT_TRIGGERS"]
