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
        raise ScenarioError(path, v, f"must be <= {hi}" + (" (the simulated horizon, 2**62 ns)" if hi == MAX_TIME_NS else ""))
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
    return build(cls, d, path)


# ---------------------------------------------------------------- constructors validate themselves
def _plain(v):
    """numpy integers/booleans -> Python int/bool (in lists, tuples and dict values too); a
    container with nothing to convert is returned as the same object."""
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (list, tuple)):
        new = [_plain(x) for x in v]
        if all(a is b for a, b in zip(new, v)):
            return v
        return new if isinstance(v, list) else tuple(new)
    if type(v) is dict:
        new = {k: _plain(x) for k, x in v.items()}
        return v if all(new[k] is v[k] for k in v) else new
    return v


def _seq(v):
    """A sequence of numbers given as any iterable (list, tuple, range, set, numpy array, generator)
    -> a list; a string, bytes or a table is left as is (validation rejects it)."""
    if v is None or isinstance(v, (str, bytes, dict, list)) or not hasattr(v, "__iter__"):
        return v
    items = list(v)
    return sorted(items) if isinstance(v, (set, frozenset)) else items


def normalize(obj, seq_fields=()):
    """In a dataclass's ``__post_init__``: numpy scalars become Python ones and the ``seq_fields``
    (CPU lists and the like) plain lists, so the object compares, hashes into sweeps and writes
    to TOML like one built from Python values."""
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if f.name in seq_fields:
            v = _seq(v)
        setattr(obj, f.name, _plain(v))


def self_check(obj, label: str, *args) -> None:
    """Run ``obj.validate(label, *args)`` from a constructor. The error names the object
    (``Task('t').nice = 99: ...``); ``error.rel`` keeps the path inside the object so that a
    builder that knows where the object sits (``tasks[2]``) can re-root it (:func:`build`)."""
    import warnings
    from pvsched.errors import ScenarioWarning
    try:
        with warnings.catch_warnings():
            # advice (ScenarioWarning) is given once, with the full path, when the scenario is checked
            warnings.simplefilter("ignore", ScenarioWarning)
            obj.validate(label, *args)
    except ScenarioError as e:
        if e.path.startswith(label):
            e.rel = e.path[len(label):]
        raise


def build(cls, kwargs: dict, path: str, *args):
    """``cls(*args, **kwargs)``, with a constructor's ScenarioError re-rooted at ``path``."""
    try:
        return cls(*args, **kwargs)
    except ScenarioError as e:
        rel = getattr(e, "rel", None)
        if rel is None:
            raise
        raise ScenarioError(path + rel, e.value, e.problem) from None


def build_field(cls, args: tuple, owner: str, name: str):
    """``cls(*args)`` made by ``owner``'s constructor for its field ``name`` (a mode name given
    for a policy object): an error names ``owner.name...`` and keeps the path inside the owner
    (``rel``), so that a builder that knows where the owner sits re-roots it (:func:`build`)."""
    try:
        return cls(*args)
    except ScenarioError as e:
        rel = f".{name}" + (getattr(e, "rel", None) or "")
        err = ScenarioError(owner + rel, e.value, e.problem)
        err.rel = rel
        raise err from None
