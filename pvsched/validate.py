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


def suggest(name, known) -> str:
    """``"did you mean 'x'? "`` for the known name nearest to a misspelt ``name``, else ``""``.

    >>> suggest("halt_pol_ns", ["halt_poll_ns", "vcpus"]), suggest("zzz", ["vcpus"])
    ("did you mean 'halt_poll_ns'? ", '')
    """
    import difflib
    if not isinstance(name, str):
        return ""
    close = difflib.get_close_matches(name, [str(k) for k in known], n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def unknown_key(path, key, value, known, what="key") -> ScenarioError:
    """The error for an unknown key (or name) ``key`` at ``path``, suggesting the nearest known one."""
    return ScenarioError(path, value, f"unknown {what}; {suggest(key, known)}known: {sorted(known)}")


def _int(path, v, lo=None, hi=None):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ScenarioError(path, v, "must be an integer")
    v = int(v)
    if lo is not None and v < lo:
        raise ScenarioError(path, v, f"must be >= {lo}")
    if hi is not None and v > hi:
        raise ScenarioError(path, v, f"must be <= {hi}")
    return v


def _choice(path, v, choices):
    if not isinstance(v, str) or v not in choices:
        raise ScenarioError(path, v, f"{suggest(v, choices)}must be one of {list(choices)}")
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
            raise unknown_key(f"{path}.{k}", k, d[k], known)
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
            raise unknown_key(f"{path}.{k}", k, d[k], known)
    return cls(**d)
