"""Sweeps: a grid of scenario variations x repeated seeds -> runs -> one tidy table.

:func:`sweep` takes a base scenario and a grid over field paths of its dict form
(:meth:`pvsched.Scenario.to_dict`; see :mod:`pvsched.paths`), runs every cell of the cartesian
product ``seeds`` times and returns one pandas DataFrame with a row per run::

    cell_id  rep  seed  host.cpus  tasks[0].count  events  cpu_busy_frac  lat_p99_ns:ct ...

- **Executors**: a local process pool (default, ``workers=os.cpu_count()``; ``workers=0`` runs in
  the calling process), or Dask distributed when ``scheduler`` is an address (``"tcp://h:8786"``)
  or a ``distributed.Client`` (``pip install "pvsched[dask]"``; workers need pvsched installed).
- **Streaming and resume**: with ``out=DIR`` every finished run is written at once to
  ``DIR/runs/<cell_id>.json`` (temp file + rename, so a file there is always complete) and the final
  table to ``DIR/results.parquet``. Running the same sweep with the same ``out`` again skips the runs
  already on disk, so a killed sweep resumes and loses nothing; growing the grid only runs the new
  cells. ``DIR/sweep.json`` records the base scenario and metrics: reusing a directory for a
  different base scenario or metric list is an error (``overwrite=True`` clears it first).
- **Seeds**: each run's seed is derived from a stable hash of the cell's parameters, its
  repetition index and the base scenario's seed, so one cell can be re-run alone
  (:func:`run_cell`, :func:`cell_scenario`) and gives the same numbers on any executor. A grid over
  ``"seed"`` itself sets the seed literally.
- **Metrics**: a list of names from :data:`METRICS` (``"name"`` or ``"name:<task|vm|cpu>"``), or a
  callable ``(Result) -> dict[str, number]``, or a list mixing both. Default
  (:func:`default_metrics`): events, mean pCPU utilisation, per task spec its CPU share and (for
  tasks that sleep) mean and p99 wake-up latency, per VM its steal fraction.

>>> import pvsched
>>> from pvsched import Scenario, Host, Task
>>> from pvsched.workloads import Hog, Cyclictest
>>> base = Scenario(host=Host(cpus=2), duration_ns=20_000_000,
...                 tasks=[Task("hog", Hog(), count=2), Task("ct", Cyclictest())])
>>> df = pvsched.sweep(base, grid={"host.cpus": [1, 2], "tasks[0].count": [1, 3]}, seeds=2,
...                    metrics=["events", "lat_p99_ns:ct", "cpu_share:hog"], workers=0)
>>> len(df), list(df.columns[:5])
(8, ['cell_id', 'rep', 'seed', 'host.cpus', 'tasks[0].count'])
>>> row = df.iloc[5]
>>> from pvsched.sweep import sweep_cell
>>> again = sweep_cell(base, {"host.cpus": 2, "tasks[0].count": 1}, rep=1,
...                            metrics=["events", "lat_p99_ns:ct", "cpu_share:hog"])
>>> bool(again["seed"] == row["seed"] and again["events"] == row["events"])
True
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import pickle
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional

import numpy as np

from pvsched.errors import ScenarioError
from pvsched.paths import parse_path, set_path

__all__ = ["sweep", "sweep_cell", "run_cell", "cell_scenario", "expand_grid", "cell_seed", "cell_id",
           "default_metrics", "compute_metrics", "read_runs", "load_sweep_file", "SweepSpec", "SweepError",
           "METRICS"]

FORMAT = 1
RUNS_DIR = "runs"
MANIFEST = "sweep.json"
RESULTS = "results.parquet"
KEY_COLUMNS = ("cell_id", "rep", "seed")


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


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def cell_id(params: Dict[str, Any], rep: int = 0) -> str:
    """The 16-hex-digit id of one run: a blake2b hash of the cell's parameters and repetition.

    >>> cell_id({"host.cpus": 2}, rep=0) == cell_id({"host.cpus": 2}, rep=0) != cell_id({"host.cpus": 2}, rep=1)
    True
    """
    return f"{_hash64(canonical_json({'params': params, 'rep': int(rep)})):016x}"


def cell_seed(params: Dict[str, Any], rep: int = 0, base_seed: int = 0) -> int:
    """The seed a run uses: a 63-bit blake2b hash of the cell's parameters, the repetition index and
    the base scenario's seed (or ``params["seed"]`` itself when the grid sets the seed).

    >>> cell_seed({"host.cpus": 2}, 0, 7) == cell_seed({"host.cpus": 2}, 0, 7)
    True
    >>> cell_seed({"seed": 42}, 3)
    42
    """
    if "seed" in params:
        return int(params["seed"])
    text = canonical_json({"params": params, "rep": int(rep), "base_seed": int(base_seed)})
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


def _reps(seeds) -> List[int]:
    if isinstance(seeds, (bool, np.bool_)):
        raise SweepError(f"seeds = {seeds!r}: must be a repetition count or a list of repetition indices")
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise SweepError(f"seeds = {seeds!r}: must be >= 1")
        return list(range(int(seeds)))
    try:
        reps = [_plain(s) for s in seeds]
    except TypeError:
        raise SweepError(f"seeds = {seeds!r}: must be a repetition count or a list of repetition indices") from None
    if not reps or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in reps):
        raise SweepError(f"seeds = {seeds!r}: must be a non-empty list of repetition indices >= 0")
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
            keys.append(k)
            values.append(vals)
        return [dict(zip(keys, combo)) for combo in itertools.product(*values)]
    if isinstance(grid, (list, tuple)):
        out = []
        for i, p in enumerate(grid):
            if not isinstance(p, dict):
                raise ScenarioError(f"grid[{i}]", p, "an explicit cell is a table of path = value")
            for k in p:
                parse_path(k)
            out.append({k: _plain(v) for k, v in p.items()})
        return out or [{}]
    raise ScenarioError("grid", grid, "must be a table of path = [values] or a list of cells")


def expand_grid(grid=None, seeds=1, base_seed: int = 0) -> List[Cell]:
    """The runs of a sweep in table order: the cartesian product of ``grid`` (a dict
    ``{path: [values]}``, in key order, last key fastest) or the explicit cells of a list of
    dicts, each repeated for every repetition in ``seeds``. Duplicate runs appear once.

    >>> [(c.params, c.rep) for c in expand_grid({"host.cpus": [1, 2]}, seeds=2)]
    [({'host.cpus': 1}, 0), ({'host.cpus': 1}, 1), ({'host.cpus': 2}, 0), ({'host.cpus': 2}, 1)]
    """
    cells, seen = [], set()
    for params in _grid_points(grid):
        for rep in _reps(seeds):
            cid = cell_id(params, rep)
            if cid in seen:
                continue
            seen.add(cid)
            cells.append(Cell(len(cells), params, rep, cell_seed(params, rep, base_seed), cid))
    return cells


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


def _execute(cell_d: dict, metrics) -> Dict[str, Any]:
    """Worker side: build, run, measure. Returns plain Python metric values."""
    from pvsched.scenario import Scenario
    from pvsched.simulation import Simulation
    if isinstance(metrics, bytes):
        metrics = pickle.loads(metrics)
    sc = Scenario.from_dict(cell_d)
    r = Simulation(sc).run()
    return compute_metrics(r, metrics)


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
    m = json.loads(json.dumps(_execute(d, mspec), allow_nan=True))
    if _metrics_only:
        return m
    return _row(_record(cell, m))


# ---------------------------------------------------------------------------------------------
# metrics
# ---------------------------------------------------------------------------------------------
def _task_idx(r, name: str) -> List[int]:
    idx = r._index
    if name in idx:
        return [idx[name]]
    rows = [i for n, i in idx.items() if n.startswith(name + "[")]
    if not rows:
        raise KeyError(f"no task named {name!r}")
    return rows


def _task_sum(col):
    def f(r, name):
        return int(r.raw["task"][col][_task_idx(r, name)].sum())
    return f


def _lat(field):
    def f(r, name):
        h = r.latency(name)
        if field == "count":
            return int(h.count)
        if field == "max_ns":
            return int(h.max_ns) if h.count else float("nan")
        return float(getattr(h, field))
    return f


def _vm_rows(r, vm: str) -> np.ndarray:
    names = r.vcpus["name"]
    rows = np.array([i for i, n in enumerate(names) if n.startswith(vm + "/vcpu")], dtype=np.int64)
    if not len(rows):
        raise KeyError(f"no VM named {vm!r}")
    return rows


_MODES = ("guest_ns", "exit_ns", "poll_ns", "halted_ns", "preempted_ns", "vmm_ns")


def _vm_frac(col):
    def f(r, vm):
        v, rows = r.vcpus, _vm_rows(r, vm)
        total = sum(int(v[m][rows].sum()) for m in _MODES)
        return int(v[col][rows].sum()) / total if total else float("nan")
    return f


def _vm_sum(col):
    def f(r, vm):
        return int(r.vcpus[col][_vm_rows(r, vm)].sum())
    return f


def _vm_exits(r, vm):
    v, rows = r.vcpus, _vm_rows(r, vm)
    return int(sum(v[k][rows].sum() for k in v if k.startswith("exits_")))


def _cpu_busy(r, cpu=None):
    busy = r.raw["cpu"]["busy_ns"]
    now = r.now_ns
    if not now:
        return float("nan")
    if cpu is None:
        return float(busy.sum()) / (now * len(busy))
    i = int(cpu)
    if not 0 <= i < len(busy):
        raise KeyError(f"no CPU {cpu!r}")
    return float(busy[i]) / now


@dataclass(frozen=True)
class Metric:
    """A built-in metric: ``fn(result)`` or ``fn(result, arg)``; ``arg`` is "task", "vm", "cpu"
    (optional) or None."""

    fn: Callable
    arg: Optional[str]
    doc: str


def _share(r, name):
    now = r.now_ns
    return int(r.raw["task"]["cpu_ns"][_task_idx(r, name)].sum()) / now if now else float("nan")


#: Built-in metrics, by name. Per-task metrics take a task name (``"hog[0]"``), the base name of a
#: ``count > 1`` task (summed / merged over its copies) or a guest task as ``"vm/name"``; per-VM
#: metrics take a VM name; any other vCPU table column (``exits_hlt``, ``nr_kicks``, ...) also works
#: as ``"column:<vm>"`` (summed over the VM's vCPUs).
METRICS: Dict[str, Metric] = {
    "events": Metric(lambda r: r.events, None, "events the engine processed"),
    "now_ns": Metric(lambda r: r.now_ns, None, "simulated time at the end (ns)"),
    "wall_s": Metric(lambda r: float(r.wall_s), None, "wall-clock time of the run (s; not deterministic)"),
    "events_per_s": Metric(lambda r: float(r.events_per_s), None, "engine speed (not deterministic)"),
    "violations": Metric(lambda r: int(r.violations["count"]), None, "invariant violations (check_invariants)"),
    "cpu_busy_frac": Metric(_cpu_busy, "cpu?", "busy fraction, mean over pCPUs, or of pCPU <n>"),
    "cpu_share": Metric(_share, "task", "task's CPU time / simulated time (1.0 = one CPU)"),
    "lat_count": Metric(_lat("count"), "task", "wake-ups with a recorded latency"),
    "lat_mean_ns": Metric(_lat("mean_ns"), "task", "mean wake-up latency (ns)"),
    "lat_p50_ns": Metric(_lat("p50"), "task", "median wake-up latency (ns, histogram, rel. err <= 1/32)"),
    "lat_p99_ns": Metric(_lat("p99"), "task", "99th percentile wake-up latency (ns)"),
    "lat_p999_ns": Metric(_lat("p999"), "task", "99.9th percentile wake-up latency (ns)"),
    "lat_max_ns": Metric(_lat("max_ns"), "task", "maximum wake-up latency (ns, exact)"),
    "steal_frac": Metric(_vm_frac("preempted_ns"), "vm", "vCPU time preempted on the host (steal) / vCPU lifetime"),
    "guest_frac": Metric(_vm_frac("guest_ns"), "vm", "vCPU time in guest mode / vCPU lifetime"),
    "halted_frac": Metric(_vm_frac("halted_ns"), "vm", "vCPU time halted / vCPU lifetime"),
    "exit_frac": Metric(_vm_frac("exit_ns"), "vm", "vCPU time handling exits / vCPU lifetime"),
    "poll_frac": Metric(_vm_frac("poll_ns"), "vm", "vCPU time halt-polling / vCPU lifetime"),
    "exits": Metric(_vm_exits, "vm", "VM exits, all reasons, summed over vCPUs"),
}
for _c in ("cpu_ns", "wait_ns", "nr_switches", "nr_preempted", "nr_wakeups", "nr_migrations", "nr_yields"):
    METRICS[_c] = Metric(_task_sum(_c), "task", f"task's {_c}, summed over its copies")
for _c in _MODES:
    METRICS.setdefault(_c, Metric(_vm_sum(_c), "vm", f"VM's {_c}, summed over its vCPUs"))
METRICS["steal_ns"] = Metric(_vm_sum("preempted_ns"), "vm", "VM's steal time (preempted_ns), summed over vCPUs")
del _c


def _work(col, scale=None):
    def f(r, vm):
        t = r.deferred_work
        rows = [i for i, n in enumerate(t["name"]) if n == vm]
        if not rows:
            raise KeyError(f"no VM named {vm!r}")
        v = t[col][rows[0]]
        if scale == "time":
            return float(v) / r.now_ns if r.now_ns else float("nan")
        return v.item() if hasattr(v, "item") else v
    return f


METRICS.update({
    "work_done": Metric(_work("done"), "vm", "VMM deferred-work items completed"),
    "work_done_per_s": Metric(_work("done_per_s"), "vm", "VMM deferred-work items completed per second"),
    "work_pending": Metric(lambda r, vm: _work("queued")(r, vm) + _work("in_service")(r, vm), "vm",
                           "VMM deferred-work items queued or in service at the end"),
    "work_lat_mean_ns": Metric(_work("lat_mean_ns"), "vm", "deferred-work latency (queued -> done), mean (ns)"),
    "work_lat_p99_ns": Metric(_work("lat_p99_ns"), "vm", "deferred-work latency, 99th percentile (ns)"),
    "work_lat_max_ns": Metric(_work("lat_max_ns"), "vm", "deferred-work latency, maximum (ns, exact)"),
    "vmm_cpu_frac": Metric(_work("vmm_cpu_ns", "time"), "vm",
                           "host CPU of the VM's VMM threads beyond its vCPU threads / simulated time"),
    "over_vcpus_frac": Metric(_work("over_vcpus_ns", "time"), "vm",
                              "time the VM ran on more pCPUs at once than it has vCPUs / simulated time"),
    "idle_burn_frac": Metric(_vm_frac("guest_idle_ns"), "vm",
                             "vCPU time in guest mode with the guest idle (pass-through / NOP loop) / vCPU lifetime"),
})

#: vCPU table columns usable as ``"column:<vm>"`` (summed over the VM's vCPUs), besides ``exits_*``.
VCPU_COLUMNS = ("nr_poll_ok", "nr_poll_fail", "nr_blocks", "nr_kicks", "guest_ticks", "guest_switches",
                "guest_idle_ns", "idle_exit_ns", "user_exits", "hlt_user_exits", "mwait_user_exits",
                "kicked", "vcpu_items", "vcpu_work_ns", "mwait_yields", "kvm_runs")


def _resolve(name: str):
    """-> (function of result, needs-arg kind) or raise SweepError."""
    if not isinstance(name, str) or not name:
        raise SweepError(f"metric {name!r}: must be a non-empty string")
    base, sep, arg = name.partition(":")
    m = METRICS.get(base)
    if m is None:
        if base in VCPU_COLUMNS or base.startswith("exits_"):
            if not sep or not arg:
                raise SweepError(f"metric {name!r}: needs a VM name, e.g. '{base}:<vm>'")
            return (lambda r, a, c=base: int(r.vcpus[c][_vm_rows(r, a)].sum())), "vm"
        raise SweepError(f"metric {name!r}: unknown; known: {sorted(METRICS)} (or a vCPU column as 'column:<vm>')")
    if m.arg is None:
        if sep:
            raise SweepError(f"metric {name!r}: {base} takes no ':<argument>'")
        return (lambda r, a: m.fn(r)), None
    if m.arg == "cpu?":
        return ((lambda r, a: m.fn(r, a)) if sep else (lambda r, a: m.fn(r))), ("cpu" if sep else None)
    if not sep or not arg:
        raise SweepError(f"metric {name!r}: needs a {m.arg} name, e.g. '{base}:<{m.arg}>'")
    return (lambda r, a: m.fn(r, a)), m.arg


def default_metrics(scenario) -> List[str]:
    """The metric names a sweep records when ``metrics`` is None: ``events``, ``cpu_busy_frac``;
    per task spec (host tasks by name, guest tasks as ``vm/name``) ``cpu_share``, and for tasks that
    sleep (anything but a hog) ``lat_mean_ns`` and ``lat_p99_ns``; per VM ``steal_frac``.

    >>> from pvsched import Scenario, Task
    >>> from pvsched.workloads import Hog, Cyclictest
    >>> default_metrics(Scenario(tasks=[Task("h", Hog(), count=2), Task("ct", Cyclictest())]))
    ['events', 'cpu_busy_frac', 'cpu_share:h', 'cpu_share:ct', 'lat_mean_ns:ct', 'lat_p99_ns:ct']
    """
    from pvsched.workloads import Hog
    out = ["events", "cpu_busy_frac"]

    def task(t, prefix=""):
        out.append(f"cpu_share:{prefix}{t.name}")
        if not isinstance(t.workload, Hog):
            out.extend([f"lat_mean_ns:{prefix}{t.name}", f"lat_p99_ns:{prefix}{t.name}"])
    for t in scenario.tasks:
        task(t)
    for vm in scenario.vms:
        out.append(f"steal_frac:{vm.name}")
        for t in vm.tasks:
            task(t, f"{vm.name}/")
    return out


def _num(v):
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return v.item()
    return v


def compute_metrics(result, metrics=None) -> Dict[str, Any]:
    """Evaluate ``metrics`` (names, a callable ``(Result) -> dict``, a list of both, or None for
    :func:`default_metrics`) on one :class:`~pvsched.Result`.

    >>> from pvsched import Scenario, Host, Task, Simulation
    >>> from pvsched.workloads import Hog
    >>> r = Simulation(Scenario(host=Host(cpus=2), tasks=[Task("h", Hog())])).run(until_ns=10**6)
    >>> compute_metrics(r, ["cpu_share:h", "cpu_busy_frac", "cpu_busy_frac:1"])
    {'cpu_share:h': 1.0, 'cpu_busy_frac': 0.5, 'cpu_busy_frac:1': 0.0}
    """
    if metrics is None:
        metrics = default_metrics(result.scenario)
    if callable(metrics):
        metrics = [metrics]
    out: Dict[str, Any] = {}
    for m in metrics:
        if callable(m):
            got = m(result)
            if not isinstance(got, dict):
                raise SweepError(f"metrics callable {getattr(m, '__name__', m)!r} returned "
                                 f"{type(got).__name__}, not a dict of name -> number")
            out.update({str(k): _num(v) for k, v in got.items()})
        else:
            fn, kind = _resolve(m)
            arg = m.partition(":")[2]
            try:
                out[m] = _num(fn(result, arg))
            except KeyError as e:
                raise SweepError(f"metric {m!r}: {e.args[0] if e.args else e}") from None
    return out


def _scenario_names(sc):
    tasks, vms = set(), {vm.name for vm in sc.vms}
    for t in sc.tasks:
        tasks.add(t.name)
        tasks.update(t.names())
    for vm in sc.vms:
        tasks.update(vm.vcpu_names())
        for t in vm.tasks:
            tasks.add(f"{vm.name}/{t.name}")
            tasks.update(f"{vm.name}/{n}" for n in t.names())
    return tasks, vms


def _check_metrics(metrics, sc, params):
    """Check metric names against the cell's scenario before anything runs; return the spec a
    worker gets (names stay names; callables are pickled, with cloudpickle when available)."""
    if metrics is None:
        return None
    items = [metrics] if callable(metrics) or isinstance(metrics, str) else list(metrics)
    tasks, vms = _scenario_names(sc)
    ncpu = sc.host.cpus
    for m in items:
        if callable(m):
            continue
        _, kind = _resolve(m)
        arg = m.partition(":")[2]
        where = f"metric {m!r} (sweep cell {canonical_json(params)})"
        if kind == "task" and arg not in tasks:
            raise SweepError(f"{where}: no task named {arg!r}")
        if kind == "vm" and arg not in vms:
            raise SweepError(f"{where}: no VM named {arg!r}")
        if kind == "cpu" and not (arg.isdigit() and int(arg) < ncpu):
            raise SweepError(f"{where}: no pCPU {arg!r} (the host has {ncpu})")
    return items


def _metrics_key(metrics) -> Any:
    if metrics is None:
        return "default"
    items = [metrics] if callable(metrics) or isinstance(metrics, str) else list(metrics)
    return [m if isinstance(m, str) else f"callable:{getattr(m, '__module__', '?')}."
            f"{getattr(m, '__qualname__', type(m).__name__)}" for m in items]


def _ship(items):
    """Metric spec for a process-pool worker."""
    if items is None or all(isinstance(m, str) for m in items):
        return items
    try:
        import cloudpickle
        return cloudpickle.dumps(items)
    except ImportError:
        try:
            return pickle.dumps(items)
        except Exception as e:
            raise SweepError(f"the metrics callable cannot be sent to worker processes ({e}); define it at "
                             "module level or install cloudpickle") from None


# ---------------------------------------------------------------------------------------------
# rows and the output directory
# ---------------------------------------------------------------------------------------------
def _record(cell: Cell, metrics: Dict[str, Any]) -> dict:
    return {"cell_id": cell.cell_id, "rep": cell.rep, "seed": cell.seed, "params": cell.params, "metrics": metrics}


def _column_value(v):
    return canonical_json(v) if isinstance(v, (list, dict)) else v


def _row(rec: dict) -> dict:
    row = {"cell_id": rec["cell_id"], "rep": rec["rep"], "seed": rec["seed"]}
    for k, v in rec["params"].items():
        row[k] = _column_value(v)
    for k, v in rec["metrics"].items():
        if k in row:
            raise SweepError(f"metric {k!r} has the same name as a key or grid column")
        row[k] = v
    return row


def _write_atomic(path: str, data: bytes) -> None:
    d, name = os.path.split(path)
    tmp = os.path.join(d, f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Store:
    """The output directory: manifest, one JSON file per finished run, the final table."""

    def __init__(self, out: str, fingerprint: str, manifest: dict, overwrite: bool):
        self.out = os.fspath(out)
        self.runs = os.path.join(self.out, RUNS_DIR)
        mpath = os.path.join(self.out, MANIFEST)
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise SweepError(f"{self.out}: the sweep output must be a directory")
        os.makedirs(self.runs, exist_ok=True)
        if os.path.exists(mpath):
            try:
                with open(mpath) as f:
                    old = json.load(f)
            except (OSError, ValueError):
                old = {}
            if old.get("fingerprint") != fingerprint:
                if not overwrite:
                    raise SweepError(f"{self.out} holds runs of a different sweep (other base scenario or "
                                     "metrics); use another output path or overwrite=True (--overwrite)")
                self.clear()
        elif overwrite:
            self.clear()
        _write_atomic(mpath, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
        self._clean_tmp()

    def clear(self):
        for name in os.listdir(self.runs):
            if name.endswith(".json") or name.endswith(".tmp"):
                os.remove(os.path.join(self.runs, name))
        for name in (RESULTS, MANIFEST):
            p = os.path.join(self.out, name)
            if os.path.exists(p):
                os.remove(p)

    def _clean_tmp(self):
        """Remove temp files left by killed writers (not those of a live process)."""
        for d in (self.runs, self.out):
            for name in os.listdir(d):
                if name.startswith(".") and name.endswith(".tmp"):
                    parts = name.split(".")
                    try:
                        pid = int(parts[-3])
                    except (ValueError, IndexError):
                        pid = -1
                    if pid == os.getpid() or pid < 0 or not _pid_alive(pid):
                        try:
                            os.remove(os.path.join(d, name))
                        except FileNotFoundError:
                            pass

    def load(self, wanted: Dict[str, Cell]) -> Dict[str, dict]:
        """Finished records of the wanted cells; unreadable files are removed (they re-run)."""
        done = {}
        for name in os.listdir(self.runs):
            if name.startswith(".") or not name.endswith(".json"):
                continue
            cid = name[:-5]
            if cid not in wanted:
                continue
            path = os.path.join(self.runs, name)
            try:
                with open(path) as f:
                    rec = json.load(f)
                ok = rec.get("cell_id") == cid and isinstance(rec.get("metrics"), dict)
            except (OSError, ValueError):
                ok = False
            if not ok:
                os.remove(path)
                continue
            done[cid] = rec
        return done

    def save(self, rec: dict) -> None:
        data = json.dumps(rec, allow_nan=True).encode()  # key order = column order
        _write_atomic(os.path.join(self.runs, rec["cell_id"] + ".json"), data)

    def write_table(self, df) -> Optional[str]:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            return None
        path = os.path.join(self.out, RESULTS)
        tmp = os.path.join(self.out, f".{RESULTS}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            df.to_parquet(tmp, index=False)
        except Exception:
            # a column Arrow cannot type (e.g. a grid path given an int in one cell and text in
            # another): store such columns as text in the file; the returned table is unchanged
            df = df.copy()
            for c in df.columns:
                if df[c].dtype == object and len({type(v) for v in df[c] if v is not None}) > 1:
                    df[c] = [None if v is None else _column_value(v) if isinstance(v, str) else canonical_json(v)
                             for v in df[c]]
            df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
        return path


def read_runs(out) -> "pandas.DataFrame":  # noqa: F821
    """Every finished run in a sweep output directory (also of an unfinished sweep), one row each,
    sorted by ``cell_id``.

    >>> import tempfile, pvsched
    >>> from pvsched import Scenario, Task
    >>> from pvsched.workloads import Hog
    >>> d = tempfile.mkdtemp()
    >>> _ = pvsched.sweep(Scenario(tasks=[Task("h", Hog())], duration_ns=10**6), {"host.cpus": [1, 2]},
    ...                   metrics=["events"], out=d, workers=0)
    >>> len(read_runs(d))
    2
    """
    import pandas as pd
    runs = os.path.join(os.fspath(out), RUNS_DIR)
    rows = []
    for name in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
        if name.startswith(".") or not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(runs, name)) as f:
                rows.append(_row(json.load(f)))
        except (OSError, ValueError):
            continue
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------------------------
class _Progress:
    def __init__(self, total: int, done: int, enabled: Optional[bool]):
        self.total, self.n = total, done
        if enabled is None:
            enabled = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        self.enabled = enabled and total > done
        self.bar = None
        self._last = 0.0
        if self.enabled:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, initial=done, unit="run", desc="pvsched sweep", file=sys.stderr,
                                dynamic_ncols=True)
            except ImportError:
                self._print(force=True)

    def _print(self, force=False):
        now = time.monotonic()
        if force or now - self._last > 0.2 or self.n == self.total:
            self._last = now
            sys.stderr.write(f"\rpvsched sweep: {self.n}/{self.total} runs")
            sys.stderr.flush()

    def update(self):
        self.n += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
        else:
            self._print()

    def close(self):
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.close()
        else:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ---------------------------------------------------------------------------------------------
# executors
# ---------------------------------------------------------------------------------------------
def _worker_init(parent_pid: int) -> None:
    """Pool worker set-up: leave Ctrl-C to the driver, and die with the driver (Linux
    PR_SET_PDEATHSIG) so a killed sweep leaves no orphan workers behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except Exception:  # pragma: no cover - best effort
            pass
        if os.getppid() != parent_pid:
            os._exit(0)


def _default_context():
    import multiprocessing as mp
    methods = mp.get_all_start_methods()
    # fork is fastest and lets workers see functions defined in __main__, but forking a process
    # that runs other threads can deadlock the child: use spawn then.
    if "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    return mp.get_context("spawn")


def _run_local(jobs, workers, mp_context, on_done):
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool
    import multiprocessing as mp
    ctx = mp.get_context(mp_context) if isinstance(mp_context, str) else (mp_context or _default_context())
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                               initargs=(os.getpid(),))
    window = 4 * workers
    it = iter(jobs)
    pending = {}
    ok = False
    try:
        def fill():
            while len(pending) < window:
                job = next(it, None)
                if job is None:
                    return
                cell, d, spec = job
                pending[pool.submit(_execute, d, spec)] = cell
        fill()
        while pending:
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for fut in finished:
                cell = pending.pop(fut)
                try:
                    m = fut.result()
                except BrokenProcessPool:
                    raise SweepError("a worker process died (killed, or out of memory); the runs that "
                                     "finished are saved: run the same sweep again to resume") from None
                on_done(cell, m)
            fill()
        ok = True
    finally:
        if not ok:
            for fut in pending:
                fut.cancel()
            for p in list(getattr(pool, "_processes", {}).values() or []):
                if p.is_alive():
                    p.terminate()
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(jobs, scheduler, on_done):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SweepError('the Dask executor needs dask.distributed: pip install "pvsched[dask]"') from None
    own = not isinstance(scheduler, Client)
    client = Client(scheduler) if own else scheduler
    futs = {}
    ok = False
    try:
        for cell, d, spec in jobs:
            fut = client.submit(_execute, d, spec, pure=False, key=f"pvsched-run-{cell.cell_id}-{uuid.uuid4().hex[:8]}")
            futs[fut] = cell
        for fut in as_completed(list(futs)):
            on_done(futs[fut], fut.result())
        ok = True
    finally:
        if not ok:
            client.cancel(list(futs))
        if own:
            client.close()


def _run_serial(jobs, on_done):
    for cell, d, spec in jobs:
        on_done(cell, _execute(d, pickle.loads(spec) if isinstance(spec, bytes) else spec))


# ---------------------------------------------------------------------------------------------
# the sweep
# ---------------------------------------------------------------------------------------------
def sweep(base, grid=None, seeds=1, metrics=None, *, out=None, workers: Optional[int] = None,
          scheduler=None, client=None, progress: Optional[bool] = None, overwrite: bool = False,
          mp_context=None) -> "pandas.DataFrame":  # noqa: F821
    """Run ``base`` over a grid of field values and repeated seeds; return one tidy table.

    ``base``: a :class:`~pvsched.Scenario`, its dict form or a TOML file path.
    ``grid``: ``{path: [values]}`` (cartesian product, last key fastest) or a list of explicit
    cells ``[{path: value, ...}, ...]``; paths as in :mod:`pvsched.paths` (``"host.cpus"``,
    ``"vms[0].tasks[1].count"``, ``"duration_ns"``, ...).
    ``seeds``: repetitions per cell (an int) or a list of repetition indices; each run's seed is
    :func:`cell_seed` of its parameters and repetition.
    ``metrics``: names from :data:`METRICS`, a callable ``(Result) -> dict``, a list of both, or
    None (:func:`default_metrics`).
    ``out``: a directory to stream runs to and resume from (see the module docs); None keeps
    everything in memory.
    ``workers``: local process-pool size (default ``os.cpu_count()``; 0 = run in this process).
    ``scheduler`` / ``client``: a Dask scheduler address or ``distributed.Client``: run on Dask.
    ``progress``: show a progress bar (default: when stderr is a terminal).

    Returns a pandas DataFrame with one row per run in grid order: ``cell_id``, ``rep``, ``seed``,
    a column per grid path (list/table values as JSON text), a column per metric. Every cell is
    validated before any run starts; a bad value raises :class:`~pvsched.ScenarioError` naming the
    cell and the field path.

    >>> import pvsched
    >>> from pvsched import Scenario, Host, Task
    >>> from pvsched.workloads import Hog, Periodic
    >>> base = Scenario(host=Host(cpus=1), duration_ns=50_000_000,
    ...                 tasks=[Task("hog", Hog()), Task("p", Periodic(run_ns=100_000, period_ns=1_000_000))])
    >>> df = pvsched.sweep(base, {"tasks[0].nice": [0, 10]}, metrics=["lat_mean_ns:p"], workers=0)
    >>> df[["tasks[0].nice", "lat_mean_ns:p"]].shape
    (2, 2)
    """
    import pandas as pd
    from pvsched.scenario import Scenario

    if client is not None:
        if scheduler is not None and scheduler is not client:
            raise SweepError("give scheduler or client, not both")
        scheduler = client
    base_d = _base_dict(base)
    base_seed = base_d.get("seed", 0)
    cells = expand_grid(grid, seeds, base_seed)

    # validate every cell (and the metric names against it) before running anything; the cell
    # dicts are rebuilt at submission so that memory does not grow with the grid
    jobs_spec = None
    for cell in cells:
        d = _cell_dict(base_d, cell.params, cell.seed)
        sc = Scenario.from_dict(d, source=_cell_source(cell.params))
        spec = _check_metrics(metrics, sc, cell.params)
        if jobs_spec is None:
            jobs_spec = spec

    fingerprint = f"{_hash64(canonical_json({'base': base_d, 'metrics': _metrics_key(metrics)})):016x}"
    wanted = {c.cell_id: c for c in cells}
    store = None
    records: Dict[str, dict] = {}
    if out is not None:
        manifest = {"format": FORMAT, "fingerprint": fingerprint, "base": base_d,
                    "metrics": _metrics_key(metrics), "pvsched": _version()}
        store = _Store(out, fingerprint, manifest, overwrite)
        records.update(store.load(wanted))
    resumed = len(records)

    todo = [cell for cell in cells if cell.cell_id not in records]
    bar = _Progress(len(cells), resumed, progress)

    def on_done(cell: Cell, m: Dict[str, Any]):
        rec = json.loads(json.dumps(_record(cell, m), allow_nan=True))  # the same values as on disk
        if store is not None:
            store.save(rec)
        records[cell.cell_id] = rec
        bar.update()

    t0 = time.perf_counter()
    try:
        if todo:
            if scheduler is not None:
                jobs = ((c, _cell_dict(base_d, c.params, c.seed), jobs_spec) for c in todo)
                _run_dask(jobs, scheduler, on_done)
            else:
                nw = (os.cpu_count() or 1) if workers is None else int(workers)
                if nw < 0:
                    raise SweepError(f"workers = {workers!r}: must be >= 0")
                spec = _ship(jobs_spec)
                jobs = ((c, _cell_dict(base_d, c.params, c.seed), spec) for c in todo)
                if nw == 0 or len(todo) == 1 and workers is None:
                    _run_serial(jobs, on_done)
                else:
                    _run_local(jobs, min(nw, len(todo)), mp_context, on_done)
    finally:
        bar.close()

    df = pd.DataFrame([_row(records[c.cell_id]) for c in cells])
    pcols = list(dict.fromkeys(k for c in cells for k in c.params))      # explicit cells may differ
    df = df[list(KEY_COLUMNS) + pcols + [c for c in df.columns if c not in pcols and c not in KEY_COLUMNS]]
    df.attrs.update(new_runs=len(todo), resumed_runs=resumed, wall_s=time.perf_counter() - t0)
    if store is not None:
        path = store.write_table(df)
        df.attrs.update(out=store.out, table=path)
    return df


def _version() -> str:
    try:
        import pvsched
        return pvsched.__version__
    except Exception:  # pragma: no cover
        return "?"


# ---------------------------------------------------------------------------------------------
# sweep files (TOML)
# ---------------------------------------------------------------------------------------------
@dataclass
class SweepSpec:
    """A sweep file, parsed: ``base`` scenario, ``grid`` (dict or list of cells), ``seeds``,
    ``metrics`` (None = default) and ``output`` directory (None = not given)."""

    base: Any
    grid: Any = None
    seeds: Any = 1
    metrics: Optional[List[str]] = None
    output: Optional[str] = None

    def run(self, **kw):
        """``sweep(self.base, self.grid, self.seeds, self.metrics, out=self.output, **kw)``."""
        kw.setdefault("out", self.output)
        return sweep(self.base, self.grid, self.seeds, self.metrics, **kw)


SWEEP_KEYS = ("scenario", "grid", "cells", "seeds", "metrics", "output")


def load_sweep_file(path) -> SweepSpec:
    """Read a sweep TOML file::

        scenario = "vm_busy_host.toml"      # a scenario file (relative to this file) or a [scenario] table
        seeds = 3                           # repetitions per cell, or a list of repetition indices
        metrics = ["events", "lat_p99_ns:web/ct", "steal_frac:web"]   # optional
        output = "vm_busy_host.sweep"       # optional; relative to the current directory

        [grid]                              # or: cells = [{...}, {...}] for explicit cells
        "tasks[0].count" = [0, 2, 4]
        "vms[0].halt_poll_ns" = [0, 200_000]

    Errors (:class:`~pvsched.ScenarioError`) name the file and the key path.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "s.toml")
    >>> _ = open(p, "w").write('''seeds = 2
    ... [scenario]
    ... duration_ns = 1_000_000
    ... [[scenario.tasks]]
    ... name = "h"
    ... workload = { kind = "hog" }
    ... [grid]
    ... "host.cpus" = [1, 2]
    ... ''')
    >>> spec = load_sweep_file(p); spec.grid, spec.seeds
    ({'host.cpus': [1, 2]}, 2)
    >>> len(spec.run(workers=0))
    4
    """
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib
    from pvsched.scenario import Scenario
    src = os.fspath(path)
    with open(src, "rb") as f:
        raw = f.read()
    try:
        d = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ScenarioError(src, "<toml>", f"malformed TOML: {e}") from None

    def err(key, value, problem):
        return ScenarioError(f"{src}: {key}", value, problem)

    for k in d:
        if k not in SWEEP_KEYS:
            raise err(k, d[k], f"unknown key; known: {list(SWEEP_KEYS)}")
    if "scenario" not in d:
        raise err("scenario", None, "is required (a scenario file path or a [scenario] table)")
    sv = d["scenario"]
    if isinstance(sv, str):
        spath = sv if os.path.isabs(sv) else os.path.join(os.path.dirname(os.path.abspath(src)), sv)
        if not os.path.exists(spath):
            raise err("scenario", sv, f"no such file ({spath})")
        base = Scenario.from_toml(spath, is_path=True)
    elif isinstance(sv, dict):
        base = Scenario.from_dict(sv, source=f"{src}: scenario")
    else:
        raise err("scenario", sv, "must be a file path or a [scenario] table")
    if "grid" in d and "cells" in d:
        raise err("cells", d["cells"], "give grid or cells, not both")
    grid = None
    if "grid" in d:
        g = d["grid"]
        if not isinstance(g, dict):
            raise err("grid", g, "must be a table of \"path\" = [values]")
        for k, v in g.items():
            try:
                parse_path(k)
            except ScenarioError as e:
                raise err(f"grid.{k!r}", v, e.problem) from None
            if not isinstance(v, list) or not v:
                raise err(f"grid.{k!r}", v, "must be a non-empty list of values")
        grid = g
    if "cells" in d:
        c = d["cells"]
        if not isinstance(c, list) or not c or not all(isinstance(x, dict) for x in c):
            raise err("cells", c, "must be a non-empty list of tables of \"path\" = value")
        for i, cell in enumerate(c):
            for k in cell:
                try:
                    parse_path(k)
                except ScenarioError as e:
                    raise err(f"cells[{i}].{k!r}", cell[k], e.problem) from None
        grid = c
    seeds = d.get("seeds", 1)
    try:
        _reps(seeds)
    except SweepError:
        raise err("seeds", seeds, "must be a count >= 1 or a non-empty list of repetition indices >= 0") from None
    metrics = d.get("metrics")
    if metrics is not None:
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics) or not metrics:
            raise err("metrics", metrics, "must be a non-empty list of metric names")
        for i, m in enumerate(metrics):
            try:
                _resolve(m)
            except SweepError as e:
                raise err(f"metrics[{i}]", m, str(e).split(": ", 1)[-1]) from None
    output = d.get("output")
    if output is not None and (not isinstance(output, str) or not output):
        raise err("output", output, "must be a directory path")
    return SweepSpec(base, grid, seeds, metrics, output)
