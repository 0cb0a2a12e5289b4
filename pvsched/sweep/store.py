"""A sweep's output directory: one JSON record per run (written atomically), the manifest, the final table.

Every run record proves it belongs to its cell: it carries the cell's id, parameters, repetition
and seed, a hash of the exact scenario it ran, the sweep's fingerprint (base scenario + metrics)
and a checksum over all of it. On resume a record that fails any of these is not used: the cell
runs again and the sweep says so (a warning, and ``df.attrs["rerun"]``). A damaged manifest is
rebuilt from the run files when they all belong to this sweep.
"""
from __future__ import annotations

import hashlib
import json
import os
import uuid
import warnings
from typing import Any, Dict, Optional, Tuple

from pvsched.sweep.grid import Cell, SweepError, canonical_json


FORMAT = 2
RUNS_DIR = "runs"
MANIFEST = "sweep.json"
RESULTS = "results.parquet"
KEY_COLUMNS = ("cell_id", "rep", "seed")


# ---------------------------------------------------------------------------------------------
# rows and the output directory
# ---------------------------------------------------------------------------------------------
def checksum(rec: dict) -> str:
    """The checksum a run record carries: blake2b-128 of its canonical JSON without the checksum."""
    body = canonical_json({k: v for k, v in rec.items() if k != "checksum"})
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()


def scenario_hash(cell_dict: dict) -> str:
    """Hash of the exact scenario (dict form, seed filled in) a cell runs."""
    return hashlib.blake2b(canonical_json(cell_dict).encode(), digest_size=16).hexdigest()


def _record(cell: Cell, metrics: Dict[str, Any], scenario: str = "", sweep: str = "", sealed: bool = True) -> dict:
    # sealed=False: an in-memory record (no store), which needs no checksum
    rec = {"format": FORMAT, "cell_id": cell.cell_id, "rep": cell.rep, "seed": cell.seed, "params": cell.params,
           "scenario": scenario, "sweep": sweep, "metrics": metrics}
    if sealed:
        rec["checksum"] = checksum(rec)
    return rec


def verify(rec: Any, cell: Cell, scenario: str, sweep: str) -> Optional[str]:
    """Why ``rec`` is not a trustworthy record of ``cell`` (None: it is)."""
    if not isinstance(rec, dict):
        return "not a run record"
    if rec.get("format") != FORMAT or "checksum" not in rec:
        return "written by an older pvsched (no checksum)"
    if rec["checksum"] != checksum(rec):
        return "checksum mismatch (changed or damaged)"
    for key, want in (("cell_id", cell.cell_id), ("rep", cell.rep), ("seed", cell.seed)):
        if rec.get(key) != want:
            return f"its {key} is {rec.get(key)!r}, not {want!r} (another cell's record)"
    if canonical_json(rec.get("params")) != canonical_json(cell.params):
        return "its parameters are another cell's"
    if rec.get("scenario") != scenario:
        return "it ran a different scenario"
    if rec.get("sweep") != sweep:
        return "it belongs to another sweep (base scenario or metrics)"
    if not isinstance(rec.get("metrics"), dict):
        return "no metrics table"
    return None


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
        self.fingerprint = fingerprint
        self.rebuilt_from = None        # run files a damaged manifest was rebuilt from
        mpath = os.path.join(self.out, MANIFEST)
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise SweepError(f"{self.out}: the sweep output must be a directory")
        os.makedirs(self.runs, exist_ok=True)
        if os.path.exists(mpath):
            try:
                with open(mpath) as f:
                    old = json.load(f)
                readable = isinstance(old, dict) and isinstance(old.get("fingerprint"), str)
            except (OSError, ValueError):
                readable = False
            if not readable:
                # damaged (e.g. truncated by a kill): whose are the run files?
                owners = self._owners()
                if set(owners) - {fingerprint}:
                    if not overwrite:
                        raise SweepError(f"{self.out}: {MANIFEST} is damaged and the run files there belong to "
                                         "a different sweep; use another output path or overwrite=True (--overwrite)")
                    self.clear()
                else:
                    self.rebuilt_from = owners.get(fingerprint, 0)
                    warnings.warn(f"pvsched sweep: {mpath} was damaged; rebuilt it from the "
                                  f"{self.rebuilt_from} run file(s) of this sweep", RuntimeWarning, stacklevel=3)
                old = {"fingerprint": fingerprint}
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

    def _owners(self) -> Dict[str, int]:
        """Sweep fingerprint -> number of intact (checksummed) run files that carry it."""
        owners: Dict[str, int] = {}
        for name in os.listdir(self.runs):
            if name.startswith(".") or not name.endswith(".json"):
                continue
            rec, _ = _read(os.path.join(self.runs, name))
            if rec is not None and rec.get("checksum") == checksum(rec) and isinstance(rec.get("sweep"), str):
                owners[rec["sweep"]] = owners.get(rec["sweep"], 0) + 1
        return owners

    def load(self, wanted: Dict[str, Cell], scenarios: Dict[str, str]) -> Tuple[Dict[str, dict], Dict[str, str]]:
        """Records that prove they belong to the wanted cells, and ``{cell_id: reason}`` for the
        files that do not (removed: those cells run again)."""
        done, rejected = {}, {}
        for name in os.listdir(self.runs):
            if name.startswith(".") or not name.endswith(".json"):
                continue
            cid = name[:-5]
            if cid not in wanted:
                continue
            path = os.path.join(self.runs, name)
            rec, err = _read(path)
            why = err or verify(rec, wanted[cid], scenarios[cid], self.fingerprint)
            if why:
                rejected[cid] = why
                os.remove(path)
                continue
            done[cid] = rec
        return done, rejected

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


def _read(path: str):
    """(record, None) or (None, why the file cannot be read as one)."""
    try:
        with open(path, "rb") as f:
            rec = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError) as e:
        return None, f"unreadable ({type(e).__name__})"
    if not isinstance(rec, dict):
        return None, "not a run record"
    return rec, None


def read_runs(out) -> "pandas.DataFrame":  # noqa: F821
    """Every finished run in a sweep output directory (also of an unfinished sweep), one row each,
    sorted by ``cell_id``. A damaged file (unreadable, or its checksum does not match) is left
    out with a warning naming it.

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
    rows, bad = [], []
    for name in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
        if name.startswith(".") or not name.endswith(".json"):
            continue
        rec, why = _read(os.path.join(runs, name))
        if why is None and "checksum" in rec and rec["checksum"] != checksum(rec):
            why = "checksum mismatch"
        if why is None:
            try:
                rows.append(_row(rec))
            except (KeyError, TypeError, AttributeError, SweepError):
                why = "not a run record"
        if why:
            bad.append(f"{name} ({why})")
    if bad:
        warnings.warn(f"read_runs: left out {len(bad)} damaged run file(s) in {runs}: " + ", ".join(bad[:10])
                      + (" ..." if len(bad) > 10 else ""), RuntimeWarning, stacklevel=2)
    return pd.DataFrame(rows)
