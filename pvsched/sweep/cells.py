"""One cell of a sweep: the base scenario as a dict, the scenario of a cell, running it."""
from __future__ import annotations

import json
import os
import pickle
from typing import Any, Dict, List, Optional

from pvsched.errors import ScenarioError
from pvsched.paths import set_path
from pvsched.sweep.grid import Cell, _plain, canonical_json, cell_id, cell_seed
from pvsched.sweep.metrics import _check_metrics, compute_metrics
from pvsched.sweep.store import _record, _row


# ---------------------------------------------------------------------------------------------
# base scenario and one cell
# ---------------------------------------------------------------------------------------------
def _base_dict(base) -> dict:
    from pvsched.scenario import Scenario
    if isinstance(base, Scenario):
        base.validate()
        return _plain(base.to_dict())
    if isinstance(base, dict):
        return _plain(Scenario.from_dict(base).to_dict())
    if isinstance(base, (str, os.PathLike)):
        return _plain(Scenario.from_toml(base, is_path=True).to_dict())
    raise ScenarioError("base", type(base).__name__, "must be a Scenario, a scenario dict or a TOML file path")


def _cell_dict(base_d: dict, params: Dict[str, Any], seed: int) -> dict:
    d = pickle.loads(pickle.dumps(base_d, protocol=pickle.HIGHEST_PROTOCOL))
    for path, value in params.items():
        set_path(d, path, value)
    d["seed"] = seed
    return d


def _cell_source(params) -> str:
    return f"sweep cell {canonical_json(params)}"


def cell_scenario(base, params: Optional[Dict[str, Any]] = None, rep: int = 0):
    """The exact :class:`~pvsched.Scenario` that a sweep runs for ``params`` and repetition ``rep``
    (grid values set, derived seed filled in), e.g. to run it under a debugger or trace it.

    >>> from pvsched import Scenario, Host, Task
    >>> from pvsched.workloads import Hog
    >>> sc = cell_scenario(Scenario(host=Host(cpus=1), tasks=[Task("h", Hog())]), {"host.cpus": 3}, rep=1)
    >>> sc.host.cpus, sc.seed == cell_seed({"host.cpus": 3}, 1, 0)
    (3, True)
    """
    from pvsched.scenario import Scenario
    params = _plain(dict(params or {}))
    base_d = _base_dict(base)
    d = _cell_dict(base_d, params, cell_seed(params, rep, base_d.get("seed", 0)))
    return Scenario.from_dict(d, source=_cell_source(params))


def _execute(segments, metrics) -> List[List[Dict[str, Any]]]:
    """Worker side: per segment ``(cell dict, seeds)`` build the scenario once and run it once per
    seed (:func:`pvsched.sweep.batch.run_segment`). Returns plain Python metric values, a list per
    segment."""
    from pvsched.scenario import Scenario
    from pvsched.sweep.batch import run_segment
    if isinstance(metrics, bytes):
        metrics = pickle.loads(metrics)
    return [run_segment(Scenario.from_dict(d), seeds, metrics) for d, seeds in segments]


def run_cell(base, params: Optional[Dict[str, Any]] = None, rep: int = 0, metrics=None) -> Dict[str, Any]:
    """Run one cell alone, in this process; returns the metrics dict (the same numbers as the
    cell's row in the sweep's table). See :func:`sweep_cell` for the whole row.

    >>> from pvsched import Scenario, Host, Task
    >>> from pvsched.workloads import Hog
    >>> run_cell(Scenario(host=Host(cpus=1), tasks=[Task("h", Hog())], duration_ns=10**6),
    ...          {"host.cpus": 2}, metrics=["cpu_share:h", "cpu_busy_frac"])
    {'cpu_share:h': 1.0, 'cpu_busy_frac': 0.5}
    """
    return sweep_cell(base, params, rep, metrics, _metrics_only=True)


def sweep_cell(base, params: Optional[Dict[str, Any]] = None, rep: int = 0, metrics=None,
               *, _metrics_only: bool = False) -> Dict[str, Any]:
    """Run one cell alone and return its full table row as a dict (``cell_id``, ``rep``,
    ``seed``, the parameters by path, the metrics), identical to the sweep's row.

    >>> from pvsched import Scenario, Host, Task
    >>> from pvsched.workloads import Hog
    >>> row = sweep_cell(Scenario(tasks=[Task("h", Hog())], duration_ns=10**6), {"host.cpus": 1},
    ...                  metrics=["events"])
    >>> sorted(row)
    ['cell_id', 'events', 'host.cpus', 'rep', 'seed']
    """
    params = _plain(dict(params or {}))
    base_d = _base_dict(base)
    seed = cell_seed(params, rep, base_d.get("seed", 0))
    cell = Cell(0, params, int(rep), seed, cell_id(params, rep))
    d = _cell_dict(base_d, params, seed)
    from pvsched.scenario import Scenario
    sc = Scenario.from_dict(d, source=_cell_source(params))
    mspec = _check_metrics(metrics, sc, params)
    m = json.loads(json.dumps(_execute([(d, [seed])], mspec)[0][0], allow_nan=True))
    if _metrics_only:
        return m
    return _row(_record(cell, m))
