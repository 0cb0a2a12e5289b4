"""A sweep's output directory: one JSON record per run (written atomically), the manifest, the final table."""
from __future__ import annotations

import json
import os
import uuid
from typing import Any, Dict, Optional

from pvsched.sweep.grid import Cell, SweepError, canonical_json


FORMAT = 1
RUNS_DIR = "runs"
MANIFEST = "sweep.json"
RESULTS = "results.parquet"
KEY_COLUMNS = ("cell_id", "rep", "seed")


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
