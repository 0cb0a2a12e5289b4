"""Sweep files (TOML): a base scenario, a grid, seeds, metrics and an output directory."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Optional

from pvsched.errors import ScenarioError
from pvsched.paths import parse_path
from pvsched.sweep.grid import SweepError, _reps
from pvsched.sweep.metrics import _resolve
from pvsched.sweep.runner import sweep


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
    from pvsched._checkout import resolve_example
    from pvsched.scenario import Scenario
    from pvsched.scenario.toml_io import read_toml_file
    src = os.fspath(resolve_example(path))
    raw = read_toml_file(src, "sweep")
    try:
        d = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(src, "<toml>", f"malformed TOML: {e}") from None

    def err(key, value, problem):
        return ScenarioError(f"{src}: {key}", value, problem)

    for k in d:
        if k not in SWEEP_KEYS:
            from pvsched.validate import suggest
            raise err(k, d[k], f"unknown key; {suggest(k, SWEEP_KEYS)}known: {list(SWEEP_KEYS)}")
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
