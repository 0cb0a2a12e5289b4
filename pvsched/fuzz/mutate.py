"""Mutations of scenario files: as data (keys, values, types), as text and as bytes."""
from __future__ import annotations

import copy
import math
import os
import random
from typing import List

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


def _containers(obj, path=()):
    """(path, container) for every dict and list inside obj."""
    yield path, obj
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        if isinstance(v, (dict, list)):
            yield from _containers(v, path + (k,))


TOML_VALUES = [0, 1, -1, 2, 3, 7, 64, 4097, 10**6, 10**12, -10**12, 2**62, 2**62 + 1, 2**63 - 1, -2**63, 0.5, -1.0,
               1e300, math.inf, math.nan, True, False, "", "x", "hog", "g", "fifo", "rr", "normal", "lazy", "vm",
               "periodic", "a/b", [], [0], [1, 0], [0, 1, 2, 3], ["x"], [[1]], [{"kind": "hog"}], {},
               {"kind": "hog"}, {"kind": "bogus"}, {"name": "x"}, {"name": "x", "workload": {"kind": "hog"}}]
TOML_KEYS = ["bogus", "name", "cpus", "count", "nice", "weight", "parent", "kind", "vcpus", "tasks", "workload",
             "pin", "guest", "hz", "policy", "rt_priority", "features", "slice_ns", "DELAY_DEQUEUE", "cgroup",
             "phases", "start_ns", "sleep_ns", "idle_states"]


def mutate_data(d, rng: random.Random, values=TOML_VALUES, keys=TOML_KEYS) -> str:
    """Apply one random mutation to parsed TOML data in place; returns a description."""
    conts = list(_containers(d))
    path, c = rng.choice(conts)
    op = rng.choice(["set", "set", "set", "tweak", "tweak", "del", "add", "rename", "dup", "empty"])
    if isinstance(c, dict):
        ks = list(c)
        if op == "add" or not ks:
            k = rng.choice(keys)
            c[k] = copy.deepcopy(rng.choice(values))
            return f"add {path}.{k} = {c[k]!r}"
        k = rng.choice(ks)
        if op == "del":
            del c[k]
            return f"del {path}.{k}"
        if op == "rename":
            nk = rng.choice(keys)
            c[nk] = c.pop(k)
            return f"rename {path}.{k} -> {nk}"
        if op == "tweak" and isinstance(c[k], int) and not isinstance(c[k], bool):
            c[k] = rng.choice([c[k] + 1, c[k] - 1, -c[k], c[k] * 1000, 0, c[k] // 2])
            return f"tweak {path}.{k} = {c[k]!r}"
        c[k] = copy.deepcopy(rng.choice(values))
        return f"set {path}.{k} = {c[k]!r}"
    if op == "dup" and c:
        c.append(copy.deepcopy(rng.choice(c)))
        return f"dup {path}[]"
    if op == "empty":
        c.clear()
        return f"empty {path}"
    if op == "del" and c:
        del c[rng.randrange(len(c))]
        return f"del {path}[i]"
    if c:
        i = rng.randrange(len(c))
        if op == "tweak" and isinstance(c[i], int) and not isinstance(c[i], bool):
            c[i] = c[i] + rng.choice([-1, 1, 100])
        else:
            c[i] = copy.deepcopy(rng.choice(values))
        return f"set {path}[{i}] = {c[i]!r}"
    c.append(copy.deepcopy(rng.choice(values)))
    return f"append {path}"


def mutate_text(text: str, rng: random.Random):
    """One textual mutation (mostly malformed TOML); returns (text, description)."""
    i = rng.randrange(len(text) + 1)
    op = rng.choice(["drop", "insert", "truncate", "dupline", "swapline"])
    if op == "drop":
        return text[:i] + text[i + 1:], f"drop char {i}"
    if op == "insert":
        ch = rng.choice(list("=[]{}\"',.#\n0x -_"))
        return text[:i] + ch + text[i:], f"insert {ch!r} at {i}"
    if op == "truncate":
        return text[:i], f"truncate at {i}"
    lines = text.splitlines(keepends=True)
    j = rng.randrange(len(lines))
    if op == "dupline":
        return "".join(lines[:j + 1] + [lines[j]] + lines[j + 1:]), f"dup line {j}"
    k = rng.randrange(len(lines))
    lines[j], lines[k] = lines[k], lines[j]
    return "".join(lines), f"swap lines {j},{k}"


def mutate_bytes(data: bytes, rng: random.Random):
    """Bytes that are not valid UTF-8 (or a NUL) spliced into a file; returns (bytes, description)."""
    i = rng.randrange(len(data) + 1)
    junk = rng.choice([b"\xff", b"\xc3", b"\xe2\x82", b"\x80\x80", b"\x00", b"\xfe\xff", b"\xed\xa0\x80"])
    return data[:i] + junk + data[i:], f"bytes {junk!r} at {i}"


def example_files() -> List[str]:
    if not os.path.isdir(EXAMPLES):
        return []
    return sorted(os.path.join(EXAMPLES, f) for f in os.listdir(EXAMPLES)
                  if f.endswith(".toml") and not f.startswith("sweep"))
