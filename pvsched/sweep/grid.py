"""Sweep grids: canonical values and stable hashes, cell ids and seeds, the cartesian grid of cells."""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List

import numpy as np

from pvsched.errors import ScenarioError
from pvsched.paths import parse_path


class SweepError(RuntimeError):
    """A sweep cannot go on (bad grid or metric, a mismatched output directory, a dead worker).
    Runs finished before the error stay on disk; run the same sweep again to resume."""




# ---------------------------------------------------------------------------------------------
# canonical values, hashes and seeds
# ---------------------------------------------------------------------------------------------
def _plain(v: Any) -> Any:
    """numpy scalars/arrays and tuples -> plain JSON-able Python values."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def canonical_json(obj: Any) -> str:
    """Key-sorted, whitespace-free JSON: the text the cell hashes are taken over.

    >>> canonical_json({"b": 1, "a": (2, 3)})
    '{"a":[2,3],"b":1}'
    """
    return json.dumps(_plain(obj), sort_keys=True, separators=(",", ":"), allow_nan=True)


_JSON_SCALARS = frozenset((str, int, float, bool, type(None)))


def json_native(v: Any) -> bool:
    """True when ``v`` reads back from JSON as an equal value of the same types: exact ``str``,
    ``int``, ``float``, ``bool`` and ``None``, and lists and str-keyed dicts of them (not tuples,
    numpy scalars or subclasses, which JSON turns into something else).

    >>> json_native({"a": [1, 2.5, None]}), json_native((1, 2)), json_native({1: "x"})
    (True, False, False)
    """
    t = type(v)
    if t in _JSON_SCALARS:
        return True
    if t is list:
        return all(json_native(x) for x in v)
    if t is dict:
        return all(type(k) is str and json_native(x) for k, x in v.items())
    return False


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def cell_id(params: Dict[str, Any], rep: int = 0) -> str:
    """The 16-hex-digit id of one run: a blake2b hash of the cell's parameters and repetition.

    >>> cell_id({"host.cpus": 2}, rep=0) == cell_id({"host.cpus": 2}, rep=0) != cell_id({"host.cpus": 2}, rep=1)
    True
    """
    return _cell_id(canonical_json(params), rep)


def cell_seed(params: Dict[str, Any], rep: int = 0, base_seed: int = 0) -> int:
    """The seed a run uses: a 63-bit blake2b hash of the cell's parameters, the repetition index and
    the base scenario's seed (or ``params["seed"]`` itself when the grid sets the seed).

    >>> cell_seed({"host.cpus": 2}, 0, 7) == cell_seed({"host.cpus": 2}, 0, 7)
    True
    >>> cell_seed({"seed": 42}, 3)
    42
    """
    return _cell_seed(params, canonical_json(params), rep, base_seed)


# The hashed texts are canonical_json({'params': params, 'rep': rep}) and canonical_json({'base_seed':
# base_seed, 'params': params, 'rep': rep}), composed from the parameters' canonical JSON so that a
# grid point's many repetitions encode their parameters once.
def _cell_id(params_json: str, rep: int) -> str:
    text = f'{{"params":{params_json},"rep":{int(rep)}}}'
    return f"{_hash64(text):016x}"


def _cell_seed(params: Dict[str, Any], params_json: str, rep: int, base_seed: int) -> int:
    if "seed" in params:
        v = params["seed"]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**64:
            raise ScenarioError("grid['seed']", v, "a seed must be an integer in 0..2**64-1")
        return v
    text = f'{{"base_seed":{int(base_seed)},"params":{params_json},"rep":{int(rep)}}}'
    return _hash64(text) & (2**63 - 1)


# ---------------------------------------------------------------------------------------------
# grid -> cells
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One run of a sweep: grid parameters (path -> value), repetition index, derived seed, id."""

    index: int
    params: Dict[str, Any]
    rep: int
    seed: int
    cell_id: str


#: most runs one sweep may list (each is validated and kept as a cell before anything runs)
MAX_RUNS = 10_000_000
#: about what one listed run costs in memory before it runs (a Cell, its id, seed and parameters)
RUN_BYTES = 600


def _too_many(n: int) -> str:
    return (f"{n:,} runs: at most {MAX_RUNS:,} per sweep (listing them would take about "
            f"{n * RUN_BYTES / 2**30:,.1f} GiB before the first run); split the sweep")


def _reps(seeds) -> List[int]:
    if isinstance(seeds, (bool, np.bool_)):
        raise SweepError(f"seeds = {seeds!r}: must be a repetition count or a list of repetition indices")
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise SweepError(f"seeds = {seeds!r}: must be >= 1")
        if seeds > MAX_RUNS:
            raise SweepError(f"seeds = {seeds!r}: {_too_many(int(seeds))}")
        return list(range(int(seeds)))
    try:
        reps = [_plain(s) for s in seeds]
    except TypeError:
        raise SweepError(f"seeds = {seeds!r}: must be a repetition count or a list of repetition indices") from None
    if not reps or any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s < 2**63 for s in reps):
        raise SweepError(f"seeds = {seeds!r}: must be a non-empty list of repetition indices in 0..2**63-1")
    return list(dict.fromkeys(reps))


def _grid_points(grid) -> List[Dict[str, Any]]:
    if grid is None:
        return [{}]
    if isinstance(grid, dict):
        keys, values = [], []
        for k, vals in grid.items():
            parse_path(k)
            if isinstance(vals, (str, bytes, dict)) or not isinstance(vals, Iterable):
                vals = [vals]
            vals = [_plain(v) for v in vals]
            if not vals:
                raise ScenarioError(f"grid[{k!r}]", [], "needs at least one value")
            for v in vals:
                _check_value(f"grid[{k!r}]", v)
            keys.append(k)
            values.append(vals)
        n = 1
        for vals in values:
            n *= len(vals)
        if n > MAX_RUNS:
            raise SweepError(f"grid: {_too_many(n)}")
        return [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    if isinstance(grid, (list, tuple)):
        out = []
        for i, p in enumerate(grid):
            if not isinstance(p, dict):
                raise ScenarioError(f"grid[{i}]", p, "an explicit cell is a table of path = value")
            for k in p:
                parse_path(k)
                _check_value(f"grid[{i}][{k!r}]", _plain(p[k]))
            out.append({k: _plain(v) for k, v in p.items()})
        return out or [{}]
    raise ScenarioError("grid", grid, "must be a table of path = [values] or a list of cells")


def _check_value(path: str, v) -> None:
    """A grid value is scenario data: a number, string, boolean, None, or a list / table of them."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return
    if isinstance(v, list):
        for x in v:
            _check_value(path, x)
        return
    if isinstance(v, dict):
        for x in v.values():
            _check_value(path, x)
        return
    raise ScenarioError(path, v, f"a {type(v).__name__} is not a scenario value (numbers, strings, booleans, "
                        "lists and tables are)")


def expand_grid(grid=None, seeds=1, base_seed: int = 0) -> List[Cell]:
    """The runs of a sweep in table order: the cartesian product of ``grid`` (a dict
    ``{path: [values]}``, in key order, last key fastest) or the explicit cells of a list of
    dicts, each repeated for every repetition in ``seeds``. Duplicate runs appear once.

    >>> [(c.params, c.rep) for c in expand_grid({"host.cpus": [1, 2]}, seeds=2)]
    [({'host.cpus': 1}, 0), ({'host.cpus': 1}, 1), ({'host.cpus': 2}, 0), ({'host.cpus': 2}, 1)]
    """
    cells, seen = [], set()
    points, reps = _grid_points(grid), _reps(seeds)
    if len(points) * len(reps) > MAX_RUNS:
        raise SweepError(f"grid x seeds: {_too_many(len(points) * len(reps))}")
    for params in points:
        pj = canonical_json(params)
        for rep in reps:
            cid = _cell_id(pj, rep)
            if cid in seen:
                continue
            seen.add(cid)
            cells.append(Cell(len(cells), params, rep, _cell_seed(params, pj, rep, base_seed), cid))
    return cells
