"""One result schema for every output format (``pvsched run --json/--csv/--parquet``,
:meth:`pvsched.Result.to_pandas`, :meth:`pvsched.Result.write`).

A run's results are four tables and a header:

- ``tasks``: ``task`` (name), the :attr:`Result.TASK_COLUMNS` counters, and the wake-up latency
  summary ``lat_mean_ns``, ``lat_p50_ns``, ``lat_p99_ns``, ``lat_p999_ns`` (empty when the task
  never woke up after it started, see :meth:`Result.woke_up`: ``null`` in JSON, an empty CSV cell,
  NaN in pandas / Parquet);
- ``cpus``: ``cpu`` (host pCPU number) and its counters;
- ``vcpus``: ``vcpu`` (thread name ``vm/vcpuN``), ``vm``, ``mode`` (its mode when the run ended, by
  name), time per mode, exits by reason, polling and boost counters;
- ``vms``: ``vm`` (name) and its guest synchronisation and directed-yield counters;
- header: ``schema``, ``pvsched`` (version), ``kernel``, ``scenario`` (the scenario as a dict, the
  TOML form), ``seed``, ``now_ns``, ``events``.

JSON holds all of it in one document (valid JSON: no NaN literals). CSV and Parquet hold one table
per file: ``run.csv`` is the task table and ``run.cpus.csv``, ``run.vcpus.csv``, ``run.vms.csv`` the
others (the last two only with VMs), with ``run.scenario.toml`` beside them (its seed included);
Parquet files also carry the header in their metadata. Column names are the same in every format.

>>> from pvsched import Scenario, Host, Task, Simulation
>>> from pvsched.workloads import Hog
>>> r = Simulation(Scenario(host=Host(cpus=1), tasks=[Task("h", Hog())], seed=3)).run(until_ns=1_000_000)
>>> doc = r.to_dict()
>>> doc["seed"], doc["tasks"][0]["task"], doc["tasks"][0]["cpu_ns"], doc["tasks"][0]["lat_p99_ns"]
(3, 'h', 1000000, None)
"""
from __future__ import annotations

import json
import math
import os
from typing import Dict, List

import numpy as np

SCHEMA = "pvsched-result-1"
TABLES = ("tasks", "cpus", "vcpus", "vms")
KEY = {"tasks": "task", "cpus": "cpu", "vcpus": "vcpu", "vms": "vm"}
LATENCY = ("lat_mean_ns", "lat_p50_ns", "lat_p99_ns", "lat_p999_ns")


def tables(r) -> Dict[str, Dict[str, np.ndarray]]:
    """Every table of ``r`` as columns under the schema's names, key column first."""
    out = {}
    t = {"task": np.array(r.task_names, dtype=object)}
    t.update({k: np.asarray(r.raw["task"][k]) for k in r.TASK_COLUMNS})
    lat = [r.latency(n) for n in r.task_names]
    for col, f in zip(LATENCY, (lambda h: h.mean_ns, lambda h: h.p50, lambda h: h.p99, lambda h: h.p999)):
        t[col] = np.array([f(h) if r.woke_up(n) else np.nan for n, h in zip(r.task_names, lat)], dtype=float)
    out["tasks"] = t
    c = r.cpus
    out["cpus"] = {"cpu": c["cpu"], **{k: v for k, v in c.items() if k != "cpu"}}
    v = r.vcpus
    names = list(v["name"])
    from pvsched._core import VCPU_MODES
    vt = {"vcpu": np.array(names, dtype=object),
          "vm": np.array([n.rsplit("/vcpu", 1)[0] for n in names], dtype=object),
          "mode": np.array([VCPU_MODES[m - 1] if m else "off" for m in v["mode"]], dtype=object)}
    vt.update({k: val for k, val in v.items() if k not in ("name", "mode", "vm")})
    vt["vm_index"] = np.asarray(v["vm"])
    out["vcpus"] = vt
    m = r.vms
    out["vms"] = {"vm": m["name"], **{k: val for k, val in m.items() if k != "name"}}
    return out


def _cell(x):
    """A JSON-safe scalar: numpy to Python, NaN/inf to None."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def rows(columns: Dict[str, np.ndarray]) -> List[dict]:
    n = len(next(iter(columns.values()))) if columns else 0
    return [{k: _cell(v[i]) for k, v in columns.items()} for i in range(n)]


def header(r) -> dict:
    from pvsched._version import __version__
    from pvsched.scenario.elements import KERNEL_VERSION
    sc = r.scenario
    return {"schema": SCHEMA, "pvsched": __version__, "kernel": KERNEL_VERSION,
            "scenario": sc.to_dict() if sc is not None else None, "seed": sc.seed if sc is not None else None,
            "now_ns": r.now_ns, "events": r.events}


def document(r) -> dict:
    """Header and every table as lists of rows: what ``--json`` writes."""
    doc = header(r)
    doc.update({name: rows(cols) for name, cols in tables(r).items()})
    return doc


def _paths(path: str, ext: str) -> Dict[str, str]:
    stem = path[: -len(ext)] if path.endswith(ext) else path
    return {"tasks": path, **{t: f"{stem}.{t}{ext}" for t in TABLES[1:]}, "scenario": f"{stem}.scenario.toml"}


def write(r, path: str, fmt: str) -> List[str]:
    """Write ``r`` as ``fmt`` ("json", "csv" or "parquet") at ``path``; returns the files written."""
    if fmt == "json":
        with open(path, "w") as f:
            json.dump(document(r), f, indent=1, allow_nan=False)
        return [path]
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r} (json, csv, parquet)")
    paths = _paths(path, "." + fmt)
    tabs = tables(r)
    if fmt == "parquet":
        import pandas as pd  # noqa: F401  (ImportError: the caller's hint)
        import pyarrow  # noqa: F401
    written = []
    for name in TABLES:
        cols = tabs[name]
        if name in ("vcpus", "vms") and not len(cols[KEY[name]]):
            continue
        if fmt == "csv":
            _write_csv(paths[name], cols)
        else:
            _write_parquet(paths[name], cols, header(r))
        written.append(paths[name])
    if r.scenario is not None:
        with open(paths["scenario"], "w") as f:
            f.write(f"# the scenario of {os.path.basename(path)} (seed included)\n" + r.scenario.to_toml())
        written.append(paths["scenario"])
    return written


def _write_csv(path: str, cols: Dict[str, np.ndarray]) -> None:
    import csv
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(cols))
        for row in rows(cols):
            w.writerow(["" if v is None else v for v in row.values()])


def _write_parquet(path: str, cols: Dict[str, np.ndarray], head: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pa.table({k: list(v) if v.dtype == object else v for k, v in cols.items()})
    meta = dict(table.schema.metadata or {})
    meta[b"pvsched"] = json.dumps(head, allow_nan=False).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)
