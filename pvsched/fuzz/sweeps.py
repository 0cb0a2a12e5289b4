"""Sweep cases: a small random grid (over leaf paths of a valid scenario, values drawn from good
and bad ones, "seed" among them) and a random seeds value, run to an output directory, then
resumed. The outcome must be a ScenarioError / SweepError, or a table with one row per run,
unique columns, every run readable back from the store, and a resume that runs nothing again."""
from __future__ import annotations

import os
import random
import tempfile
import warnings
from typing import Dict, List

from pvsched.fuzz.generate import build, random_spec
from pvsched.fuzz.mutate import TOML_VALUES

#: mostly good (the runs and the store are what is tested), some bad
SEEDS = [1, 1, 1, 2, 2, 3, [0, 2], [5], 10**9, 10**21, 0, -1, "x", [1, "a"], True, []]
METRICS = [None, None, ["events"], ["events"], ["events", "cpu_busy_frac"], ["bogus"], ["cpu_share:nope"]]


def _leaves(d, path="") -> List[tuple]:
    out = []
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else ()
    for k, v in items:
        p = f"{path}[{k}]" if isinstance(k, int) else (f"{path}.{k}" if path else k)
        if isinstance(v, (dict, list)) and v:
            out += _leaves(v, p)
        elif not isinstance(v, (dict, list)):
            out.append((p, v))
    return out


def sweep_case(rng: random.Random):
    """(description, check) for one sweep case; ``check()`` returns the problems found."""
    spec = random_spec(rng, small=True)
    spec["duration_ns"] = rng.choice([1_000_000, 2_000_000, 3_000_000])
    spec["host"].pop("policy", None)           # sweeps take data: no Python policy objects
    for vm in spec["vms"]:
        vm.pop("policy", None)
    sc = build(spec)
    leaves = [(p, v) for p, v in _leaves(sc.to_dict()) if not p.endswith("kind")] + [("seed", sc.seed)]
    grid: Dict[str, list] = {}
    for p, v in rng.sample(leaves, min(len(leaves), rng.choice([1, 1, 2]))):
        vals = [v]
        for _ in range(rng.choice([0, 1, 2])):
            if isinstance(v, int) and not isinstance(v, bool) and rng.random() < 0.8:
                vals.append(rng.choice([v + 1, v * 2, max(0, v - 1), 0, 1]))
            else:
                vals.append(rng.choice(TOML_VALUES))
        grid[p] = vals
    seeds = rng.choice(SEEDS)
    metrics = rng.choice(METRICS)
    what = f"sweep grid={grid!r} seeds={seeds!r} metrics={metrics!r}"

    def check() -> List[str]:
        import pvsched
        from pvsched.sweep import expand_grid, read_runs
        problems = []
        with tempfile.TemporaryDirectory() as td:
            out = os.path.join(td, "sw")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                df = pvsched.sweep(sc, grid, seeds, metrics, out=out, workers=0, progress=False)
                n = len(expand_grid(grid, seeds, sc.seed))
                if len(df) != n:
                    problems.append(f"{len(df)} rows for {n} runs")
                if len(set(df.columns)) != len(df.columns):
                    problems.append(f"duplicate columns {list(df.columns)}")
                if len(read_runs(out)) != n:
                    problems.append("read_runs does not give every run back")
                again = pvsched.sweep(sc, grid, seeds, metrics, out=out, workers=0, progress=False)
                if again.attrs.get("new_runs") != 0 or again.attrs.get("rerun"):
                    problems.append(f"the resume ran {again.attrs.get('new_runs')} runs again")
                if not again.equals(df):
                    problems.append("the resumed table differs")
            problems += [f"warning: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)]
        return problems
    return what, check


def sweep_available() -> bool:
    import importlib.util
    return all(importlib.util.find_spec(m) is not None for m in ("pandas", "pyarrow"))

