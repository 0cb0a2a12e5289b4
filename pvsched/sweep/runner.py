"""The sweep itself: grid x seeds -> runs on an executor, streamed to the store, one tidy table."""
from __future__ import annotations

import json
import os
import time
import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from pvsched._version import __version__
from pvsched.sweep.cells import _base_dict, _cell_dict, _cell_source
from pvsched.sweep.executors import _executor_workers, _Progress, _run_dask, _run_executor, _run_local, _run_serial
from pvsched.sweep.grid import Cell, SweepError, _hash64, canonical_json, expand_grid, json_native
from pvsched.sweep.metrics import _check_metrics, _metrics_key, _ship
from pvsched.sweep.store import FORMAT, KEY_COLUMNS, _Store, _record, _row, scenario_hash

if TYPE_CHECKING:
    from concurrent.futures import Executor


# ---------------------------------------------------------------------------------------------
# the sweep
# ---------------------------------------------------------------------------------------------
def sweep(base, grid=None, seeds=1, metrics=None, *, out=None, workers: Optional[int] = None,
          scheduler=None, client=None, executor: Optional[Executor] = None, progress: Optional[bool] = None,
          overwrite: bool = False, mp_context=None) -> "pandas.DataFrame":  # noqa: F821
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
    ``executor``: a ``concurrent.futures`` executor of your own (e.g. a ``ProcessPoolExecutor``)
    to run on instead of a new process pool; it stays open, so that sweeps in a loop reuse its
    workers (no start-up per sweep). Functions it runs must be importable by its workers.
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
    if executor is not None:
        if scheduler is not None or workers is not None:
            raise SweepError("give executor, or workers / scheduler / client, not both")
        if not callable(getattr(executor, "submit", None)):
            raise SweepError(f"executor = {type(executor).__name__}: must be a concurrent.futures "
                             "Executor (with submit)")
    base_d = _base_dict(base)
    base_seed = base_d.get("seed", 0)
    cells = expand_grid(grid, seeds, base_seed)
    points = _points(cells)

    # validate each grid point once (and the metric names against it) before running anything;
    # the cell dicts are rebuilt at submission so that memory does not grow with the grid
    jobs_spec = None
    for pcells in points:
        params = pcells[0].params
        sc = Scenario.from_dict(_cell_dict(base_d, params, pcells[0].seed), source=_cell_source(params))
        spec = _check_metrics(metrics, sc, params)
        if jobs_spec is None:
            jobs_spec = spec

    fingerprint = f"{_hash64(canonical_json({'base': base_d, 'metrics': _metrics_key(metrics)})):016x}"
    wanted = {c.cell_id: c for c in cells}
    store = None
    records: Dict[str, dict] = {}
    rerun: Dict[str, str] = {}
    scenarios: Dict[str, str] = {}      # cell id -> hash of the exact scenario it runs (run files prove it)
    if out is not None:
        scenarios = {c.cell_id: scenario_hash(_cell_dict(base_d, c.params, c.seed)) for c in cells}
        manifest = {"format": FORMAT, "fingerprint": fingerprint, "base": base_d,
                    "metrics": _metrics_key(metrics), "pvsched": _version()}
        store = _Store(out, fingerprint, manifest, overwrite)
        done, rerun = store.load(wanted, scenarios)
        records.update(done)
        if rerun:
            warnings.warn(f"pvsched sweep: {len(rerun)} run file(s) in {store.runs} did not prove they belong to "
                          "their cell and run again: " + "; ".join(f"{cid}.json: {why}" for cid, why in
                                                                   list(rerun.items())[:5])
                          + (" ..." if len(rerun) > 5 else ""), RuntimeWarning, stacklevel=2)
    resumed = len(records)

    todo = [[c for c in pcells if c.cell_id not in records] for pcells in points]
    todo = [t for t in todo if t]
    ntodo = sum(len(t) for t in todo)
    bar = _Progress(len(cells), resumed, progress)

    def on_done(job_cells: List[Cell], per_segment: List[List[Dict[str, Any]]]):
        ms = [m for seg in per_segment for m in seg]
        recs = [_record(c, m, scenarios.get(c.cell_id, ""), fingerprint, store is not None)
                for c, m in zip(job_cells, ms)]
        if not json_native(recs):       # the same values as on disk (a JSON round trip otherwise)
            recs = json.loads(json.dumps(recs, allow_nan=True))
        for rec in recs:
            if store is not None:
                store.save(rec)
            records[rec["cell_id"]] = rec
            bar.update()

    t0 = time.perf_counter()
    try:
        if todo:
            if scheduler is not None:
                _run_dask(_jobs(base_d, todo, jobs_spec, _job_size(ntodo, 8)), scheduler, on_done)
            elif executor is not None:
                nw = _executor_workers(executor)
                _run_executor(_jobs(base_d, todo, _ship(jobs_spec), _job_size(ntodo, nw)), executor, nw, on_done)
            else:
                nw = (os.cpu_count() or 1) if workers is None else int(workers)
                if nw < 0:
                    raise SweepError(f"workers = {workers!r}: must be >= 0")
                spec = _ship(jobs_spec)
                if nw == 0 or ntodo == 1 and workers is None:
                    _run_serial(_jobs(base_d, todo, spec, _job_size(ntodo, 1)), on_done)
                else:
                    nw = min(nw, ntodo)
                    _run_local(_jobs(base_d, todo, spec, _job_size(ntodo, nw)), nw, mp_context, on_done)
    finally:
        bar.close()

    df = pd.DataFrame([_row(records[c.cell_id]) for c in cells])
    # explicit cells may differ; a grid over "seed" is the key column itself, not a second one
    pcols = [k for k in dict.fromkeys(k for c in cells for k in c.params) if k not in KEY_COLUMNS]
    df = df[list(KEY_COLUMNS) + pcols + [c for c in df.columns if c not in pcols and c not in KEY_COLUMNS]]
    df.attrs.update(new_runs=ntodo, resumed_runs=resumed, rerun=rerun, wall_s=time.perf_counter() - t0)
    if store is not None:
        path = store.write_table(df)
        df.attrs.update(out=store.out, table=path)
    return df


def _version() -> str:
    return __version__


def _points(cells: List[Cell]) -> List[List[Cell]]:
    """The runs grouped by grid point (same parameters), in grid order. The cells of one point share
    one parameter dict (:func:`expand_grid`), so its identity groups them without encoding each
    run's parameters; points with equal parameters are still merged."""
    by_dict: Dict[int, List[Cell]] = {}
    groups: Dict[str, List[Cell]] = {}
    for c in cells:
        group = by_dict.get(id(c.params))
        if group is None:
            group = by_dict[id(c.params)] = groups.setdefault(canonical_json(c.params), [])
        group.append(c)
    return list(groups.values())


#: most runs in one job: a job's results reach the store and the progress bar together
MAX_JOB_RUNS = 64


def _job_size(nruns: int, workers: int) -> int:
    """Runs per job: about four jobs per worker (so that all workers stay busy to the end), at
    most MAX_JOB_RUNS."""
    return max(1, min(MAX_JOB_RUNS, -(-nruns // (4 * max(1, workers)))))


def _jobs(base_d: dict, todo: List[List[Cell]], spec, size: int):
    """Jobs of about ``size`` runs: (cells, [(cell dict, seeds)], spec). A grid point's runs share
    one segment (the worker compiles it once and resets the engine per seed); a point with more
    runs than ``size`` is split, and small points are packed together."""
    cells: List[Cell] = []
    segments = []
    for pcells in todo:
        i = 0
        while i < len(pcells):
            part = pcells[i:i + size - len(cells)]
            i += len(part)
            segments.append((_cell_dict(base_d, part[0].params, part[0].seed), [c.seed for c in part]))
            cells.extend(part)
            if len(cells) >= size:
                yield cells, segments, spec
                cells, segments = [], []
    if cells:
        yield cells, segments, spec
