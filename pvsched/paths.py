"""Dotted field paths into the dict form of a scenario (:meth:`pvsched.Scenario.to_dict`).

A path names one value: table keys joined by dots, list elements by ``[i]``; the same spelling
:class:`pvsched.ScenarioError` uses, so a grid key and a validation error read alike::

    host.cpus    vms[0].vcpus    vms[0].tasks[1].count    tasks[0].workload.run_ns
    host.features.DELAY_DEQUEUE  duration_ns

>>> from pvsched.paths import get_path, set_path, parse_path
>>> d = {"host": {"cpus": 4}, "tasks": [{"name": "a", "nice": 0}]}
>>> parse_path("tasks[0].nice")
['tasks', 0, 'nice']
>>> set_path(d, "tasks[0].nice", 5); get_path(d, "tasks[0].nice")
5
>>> set_path(d, "tasks[0].slice_ns", 300_000)   # a missing last key is created
>>> d["tasks"][0]["slice_ns"]
300000
"""
from __future__ import annotations

import re
from typing import Any, List, Union

from pvsched.errors import ScenarioError

_NAME = r"[^.\[\]\s][^.\[\]]*"
_PATH = re.compile(rf"{_NAME}(?:\.{_NAME}|\[-?\d+\])*")
_TOKEN = re.compile(rf"({_NAME})|\[(-?\d+)\]")

Key = Union[str, int]


def parse_path(path: str) -> List[Key]:
    """Split ``"vms[0].tasks[1].count"`` into ``["vms", 0, "tasks", 1, "count"]``.

    Raises :class:`ScenarioError` (naming the path) on a malformed path.

    >>> parse_path("host.features.DELAY_DEQUEUE")
    ['host', 'features', 'DELAY_DEQUEUE']
    """
    if not isinstance(path, str) or not _PATH.fullmatch(path):
        raise ScenarioError(str(path), None, "malformed field path; expected e.g. 'host.cpus' or 'vms[0].tasks[1].count'")
    return [k if k else int(i) for k, i in _TOKEN.findall(path)]


def format_path(keys) -> str:
    """Inverse of :func:`parse_path`.

    >>> format_path(["vms", 0, "vcpus"])
    'vms[0].vcpus'
    """
    out = ""
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out


def _step(obj, key, keys, i, path, value, create):
    where = format_path(keys[: i + 1])
    if isinstance(key, int):
        if not isinstance(obj, list):
            raise ScenarioError(path, value, f"{format_path(keys[:i])} is not a list")
        if not -len(obj) <= key < len(obj):
            raise ScenarioError(path, value, f"{where}: index out of range (the list has {len(obj)} elements)")
        return obj[key]
    if not isinstance(obj, dict):
        raise ScenarioError(path, value, f"{format_path(keys[:i]) or '<root>'} is not a table")
    if key not in obj:
        if create:
            return None
        raise ScenarioError(path, value, f"{where} is not set")
    return obj[key]


def get_path(d: Any, path: str) -> Any:
    """The value at ``path`` in nested dicts/lists ``d``; :class:`ScenarioError` if it is missing.

    >>> get_path({"vms": [{"vcpus": 4}]}, "vms[0].vcpus")
    4
    """
    keys = parse_path(path)
    obj = d
    for i, k in enumerate(keys):
        obj = _step(obj, k, keys, i, path, None, False)
    return obj


def set_path(d: Any, path: str, value: Any) -> None:
    """Set the value at ``path`` in place. List elements must exist; missing tables along the way
    and a missing last key are created (e.g. a field ``to_dict`` leaves out because it is None).
    Whether the key is a known field is checked later, by :meth:`pvsched.Scenario.from_dict`.

    >>> d = {"host": {"cpus": 4}}
    >>> set_path(d, "host.features.DELAY_DEQUEUE", False); d
    {'host': {'cpus': 4, 'features': {'DELAY_DEQUEUE': False}}}
    """
    keys = parse_path(path)
    obj = d
    for i, k in enumerate(keys[:-1]):
        nxt = _step(obj, k, keys, i, path, value, True)
        if nxt is None:
            if isinstance(keys[i + 1], int):
                raise ScenarioError(path, value, f"{format_path(keys[: i + 1])} is not set")
            nxt = obj[k] = {}
        obj = nxt
    last = keys[-1]
    if isinstance(last, int):
        _step(obj, last, keys, len(keys) - 1, path, value, False)
    elif not isinstance(obj, dict):
        raise ScenarioError(path, value, f"{format_path(keys[:-1]) or '<root>'} is not a table")
    obj[last] = value
