"""The workload base class and registry: what every workload (``pvsched.workloads``) shares.

A workload turns into a program of ops ``(code, a, b, c)`` the C core interprets; a subclass that
names its own ``kind`` is registered in :data:`WORKLOADS`, so scenarios using it write to and load
from TOML (:func:`workload_from_dict`).
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from pvsched.errors import ScenarioError
from pvsched.limits import MAX_TIME_NS
from pvsched.validate import _int, build, normalize, self_check, unknown_key

Op = Tuple[str, int, int, int]


def _check_int(path: str, value, lo: int = 0, hi: int = MAX_TIME_NS) -> int:
    return _int(path, value, lo, hi)


#: Workload classes by TOML ``kind`` (built-in and user subclasses that name their own kind).
WORKLOADS: Dict[str, type] = {}


def _warn(msg: str) -> None:
    import warnings
    from pvsched.errors import ScenarioWarning
    warnings.warn(ScenarioWarning(msg), stacklevel=1)   # one location: each message is said once


class Workload:
    """Base class: subclasses return their program from :meth:`ops`. ``minimums`` maps integer
    fields to their lowest allowed value; :meth:`validate` checks them in that order.

    A subclass that sets its own ``kind`` is registered under it, so scenarios using it write to
    and load from TOML (in a process where the class is defined); one without a ``kind`` of its own
    runs but has no TOML form.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Burst(Workload):
    ...     kind = "burst"
    ...     run_ns: int = 50_000
    ...     def ops(self):
    ...         return [("run", self.run_ns, 0, 0), ("sleep", 950_000, 0, 0), ("loop", 0, 0, 0)]
    >>> workload_from_dict(Burst(run_ns=7).to_dict(), "w")
    Burst(run_ns=7)
    >>> del WORKLOADS["burst"]
    """

    kind = "workload"
    minimums: Tuple[Tuple[str, int], ...] = ()

    def __post_init__(self):
        # constructors validate: a bad value fails where the workload is made
        normalize(self)
        self_check(self, type(self).__name__)

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        kind = cls.__dict__.get("kind")
        if kind is None:
            return
        if not isinstance(kind, str) or not kind or kind == "workload":
            raise TypeError(f"{cls.__name__}.kind = {kind!r}: must be a non-empty name other than 'workload'")
        taken = WORKLOADS.get(kind)
        if taken is not None and taken.__qualname__ != cls.__qualname__:
            raise TypeError(f"{cls.__name__}.kind = {kind!r} is taken by {taken.__module__}.{taken.__qualname__}")
        WORKLOADS[kind] = cls

    def ops(self) -> List[Op]:  # pragma: no cover - abstract
        raise NotImplementedError

    def validate(self, path: str) -> None:
        """Raise :class:`ScenarioError` naming ``path`` if a parameter is bad."""
        for name, lo in self.minimums:
            _check_int(f"{path}.{name}", getattr(self, name), lo)

    def to_dict(self) -> dict:
        """``{"kind": ..., **fields}``: the TOML form, which :func:`workload_from_dict` reads back."""
        if WORKLOADS.get(self.kind) is not type(self):
            raise ScenarioError("workload", type(self).__name__,
                                f"has no TOML kind of its own (kind = {self.kind!r} belongs to "
                                f"{getattr(WORKLOADS.get(self.kind), '__name__', 'no class')}); give the class "
                                f"a `kind = \"...\"` attribute to write and load it")
        d = {"kind": self.kind}
        d.update({k: v for k, v in self.__dict__.items()})
        return d


def workload_from_dict(d: dict, path: str) -> Workload:
    """Build a workload from ``{"kind": ..., **params}``."""
    if not isinstance(d, dict) or "kind" not in d:
        raise ScenarioError(path, d, "must be a table with a 'kind'")
    kind = d["kind"]
    if not isinstance(kind, str) or kind not in WORKLOADS:
        raise unknown_key(f"{path}.kind", kind, kind, WORKLOADS, "workload")
    cls = WORKLOADS[kind]
    params = {k: v for k, v in d.items() if k != "kind"}
    known = set(cls.__dataclass_fields__)
    for k in params:
        if k not in known:
            raise unknown_key(f"{path}.{k}", k, params[k], known, f"key for {kind}")
    if kind == "phases" and "phases" in params:
        if not isinstance(params["phases"], (list, tuple)):
            raise ScenarioError(f"{path}.phases", params["phases"], "must be a non-empty list")
        params["phases"] = [tuple(p) if isinstance(p, list) else p for p in params["phases"]]
    return build(cls, params, path)
