"""Sweeps: a grid of scenario variations x repeated seeds -> runs -> one tidy table.

:func:`sweep` takes a base scenario and a grid over field paths of its dict form
(:meth:`pvsched.Scenario.to_dict`; see :mod:`pvsched.paths`), runs every cell of the cartesian
product ``seeds`` times and returns one pandas DataFrame with a row per run::

    cell_id  rep  seed  host.cpus  tasks[0].count  events  cpu_busy_frac  lat_p99_ns:ct ...

- **Executors**: a local process pool (default, ``workers=os.cpu_count()``; ``workers=0`` runs in
  the calling process), or Dask distributed when ``scheduler`` is an address (``"tcp://h:8786"``)
  or a ``distributed.Client`` (``pip install "dask[distributed]"``; workers need pvsched installed),
  or ``executor=``, a ``concurrent.futures`` executor of your own that stays open: sweeps in a loop
  reuse its workers instead of starting a pool each (forking workers of a large driver process
  costs milliseconds each, which a sweep of tiny cells notices).
- **Batches**: workers receive jobs of up to 64 runs (about four per worker, so that every worker
  stays busy to the end); a grid point's repetitions in a job are compiled once and rerun with each
  seed (:meth:`Engine.reset`), and their metrics are computed over all of them at once
  (:mod:`pvsched.sweep.batch`). Each grid point is validated once, before anything runs.
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

from pvsched.sweep.batch import run_segment  # noqa: F401
from pvsched.sweep.cells import cell_scenario, run_cell, sweep_cell  # noqa: F401
from pvsched.sweep.files import SweepSpec, load_sweep_file  # noqa: F401
from pvsched.sweep.grid import Cell, SweepError, canonical_json, cell_id, cell_seed, expand_grid  # noqa: F401
from pvsched.sweep.metrics import METRICS, Metric, compute_metrics, default_metrics  # noqa: F401
from pvsched.sweep.runner import sweep  # noqa: F401
from pvsched.sweep.store import read_runs  # noqa: F401

__all__ = ["sweep", "sweep_cell", "run_cell", "cell_scenario", "expand_grid", "cell_seed", "cell_id",
           "default_metrics", "compute_metrics", "read_runs", "load_sweep_file", "SweepSpec", "SweepError",
           "METRICS", "run_segment"]
