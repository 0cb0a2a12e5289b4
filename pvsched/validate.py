"""Value checks shared by the scenario description and the policy classes: each raises
:class:`pvsched.ScenarioError` naming the field path and the bad value.

>>> from pvsched.validate import _int
>>> _int("host.cpus", 0, 1, 4096)
Traceback (most recent call last):
...
pvsched.errors.ScenarioError: host.cpus = 0: must be >= 1
"""
from __future__ import annotations

import dataclasses

import numpy as np

from pvsched.errors import ScenarioError
from pvsched.limits import MAX_TIME_NS


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


def _from(cls, d, path):
    """Build dataclass ``cls`` from a table ``d`` (or take ``d`` if it already is one); unknown keys are errors."""
    if isinstance(d, cls):
        return d
    if not isinstance(d, dict):
        raise ScenarioError(path, d, "must be a table")
    known = set(cls.__dataclass_fields__)
    for k in d:
        if k not in known:
            raise ScenarioError(f"{path}.{k}", d[k], f"unknown key; known: {sorted(known)}")
    return cls(**d)
