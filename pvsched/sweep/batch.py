"""Running a sweep cell's repetitions in one go: compile once, rerun the engine with each seed, and
compute the metrics over all repetitions at once.

A sweep's unit of work is a *segment*: one grid point's scenario and some of its runs (repetition,
seed). The worker builds the scenario and the engine once (:meth:`Engine.reset` starts over with
the next seed), copies what the metrics read into arrays stacked over the runs
(:meth:`Engine.capture`, one C call per run) and evaluates each metric once over the stack with
numpy. Metrics without a stacked form here (callables, metrics of other units) are computed from a
full :class:`~pvsched.Result` per run, exactly as :func:`~pvsched.sweep.compute_metrics` does; the
stacked forms give the same values as it (``tests/test_sweep_batch.py`` checks every one).

>>> from pvsched import Scenario, Host, Task
>>> from pvsched.workloads import Hog, Cyclictest
>>> sc = Scenario(host=Host(cpus=2), duration_ns=20_000_000,
...               tasks=[Task("hog", Hog(), count=2), Task("ct", Cyclictest())])
>>> rows = run_segment(sc, [11, 12], ["events", "cpu_share:hog", "lat_count:ct"])
>>> [r["lat_count:ct"] for r in rows]
[20, 20]
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from pvsched.sweep.metrics import METRICS, VCPU_COLUMNS, _MODES, compute_metrics, default_metrics

NAN = float("nan")


class _Stack:
    """What Engine.capture copied, stacked over a segment's runs."""

    def __init__(self, nruns: int, ntask: int, ncpu: int, nvcpu: int, ngroups: int):
        from pvsched._core import CAPTURE_SCALARS, CAPTURE_TASK_COLUMNS, CAPTURE_VCPU_COLUMNS, HIST_BUCKETS
        self.scalars = np.zeros((nruns, len(CAPTURE_SCALARS)), dtype=np.int64)
        self.tasks = np.zeros((nruns, len(CAPTURE_TASK_COLUMNS), ntask), dtype=np.int64)
        self.cpus = np.zeros((nruns, ncpu), dtype=np.int64)
        self.vcpus = np.zeros((nruns, len(CAPTURE_VCPU_COLUMNS), nvcpu), dtype=np.int64)
        self.hist = np.zeros((nruns, ngroups, HIST_BUCKETS), dtype=np.uint64)
        self.wall = np.zeros(nruns, dtype=np.float64)
        self.task_col = {c: i for i, c in enumerate(CAPTURE_TASK_COLUMNS)}
        self.vcpu_col = {c: i for i, c in enumerate(CAPTURE_VCPU_COLUMNS)}

    @property
    def events(self) -> List[int]:
        return self.scalars[:, 0].tolist()

    @property
    def now(self) -> List[int]:
        return self.scalars[:, 1].tolist()

    def task_sum(self, col: str, rows) -> List[int]:
        return self.tasks[:, self.task_col[col]][:, rows].sum(axis=1).tolist()

    def vcpu_sum(self, col: str, rows) -> List[int]:
        return self.vcpus[:, self.vcpu_col[col]][:, rows].sum(axis=1).tolist()


def _hist_lo_mid(nbuckets: int):
    from pvsched.results import bucket_bounds
    lo, width = bucket_bounds(nbuckets)
    return np.where(width > 1, lo + width // 2, lo)


def _percentiles(hist: np.ndarray, counts: List[int], maxes: List[int], q: float) -> List[float]:
    """LatencyHistogram.percentile over a stack of merged histograms (one per run)."""
    mid = _hist_lo_mid(hist.shape[1])
    cum = np.cumsum(hist.astype(np.int64), axis=1)
    cnt = np.array(counts, dtype=np.int64)
    rank = np.maximum(1, np.ceil(q / 100.0 * cnt.astype(np.float64))).astype(np.int64)
    idx = (cum < rank[:, None]).sum(axis=1)
    out = []
    for i, n, mx in zip(idx.tolist(), counts, maxes):
        out.append(float(min(int(mid[i]), mx)) if n else NAN)
    return out


# ---------------------------------------------------------------------------------------------
# stacked forms of the built-in metrics: (stack, plan, arg) -> one value per run
# ---------------------------------------------------------------------------------------------
def _b_events(st, pl, a):
    return st.events


def _b_now(st, pl, a):
    return st.now


def _b_violations(st, pl, a):
    return st.scalars[:, 2].tolist()


def _b_wall(st, pl, a):
    return [float(w) for w in st.wall.tolist()]


def _b_eps(st, pl, a):
    return [e / w if w > 0 else NAN for e, w in zip(st.events, st.wall.tolist())]


def _b_busy(st, pl, a):
    now = st.now
    if a:
        i = int(a)
        return [float(b) / n if n else NAN for b, n in zip(st.cpus[:, i].tolist(), now)]
    ncpu = st.cpus.shape[1]
    return [float(b) / (n * ncpu) if n else NAN for b, n in zip(st.cpus.sum(axis=1).tolist(), now)]


def _b_share(st, pl, a):
    return [c / n if n else NAN for c, n in zip(st.task_sum("cpu_ns", pl.task_rows(a)), st.now)]


def _b_task_sum(col):
    def f(st, pl, a):
        return st.task_sum(col, pl.task_rows(a))
    return f


def _b_lat(field):
    def f(st, pl, a):
        rows = pl.task_rows(a)
        count = st.task_sum("lat_count", rows)
        if field == "count":
            return count
        if field == "mean_ns":
            return [s / n if n else NAN for s, n in zip(st.task_sum("lat_sum_ns", rows), count)]
        mx = st.tasks[:, st.task_col["lat_max_ns"]][:, rows].max(axis=1).tolist()
        if field == "max_ns":
            return [m if n else NAN for m, n in zip(mx, count)]
        return _percentiles(st.hist[:, pl.hist_group(a)], count, mx, {"p50": 50, "p99": 99, "p999": 99.9}[field])
    return f


def _b_vm_frac(col):
    def f(st, pl, a):
        rows = pl.vm_rows(a)
        total = [sum(x) for x in zip(*(st.vcpu_sum(m, rows) for m in _MODES))]
        return [c / t if t else NAN for c, t in zip(st.vcpu_sum(col, rows), total)]
    return f


def _b_vm_sum(col):
    def f(st, pl, a):
        return st.vcpu_sum(col, pl.vm_rows(a))
    return f


def _b_exits(st, pl, a):
    rows = pl.vm_rows(a)
    cols = [i for c, i in st.vcpu_col.items() if c.startswith("exits_")]
    return st.vcpus[:, cols][:, :, rows].sum(axis=(1, 2)).tolist()


_MODE_COLS = {"steal_frac": "preempted_ns", "guest_frac": "guest_ns", "halted_frac": "halted_ns",
              "exit_frac": "exit_ns", "poll_frac": "poll_ns"}
_TASK_SUMS = ("cpu_ns", "wait_ns", "nr_switches", "nr_preempted", "nr_wakeups", "nr_migrations", "nr_yields")


def _registry() -> Dict[str, Tuple[object, Callable]]:
    """name -> (the METRICS entry it stands for, its stacked form). A METRICS entry replaced by
    another definition no longer matches and is computed the per-run way."""
    stacked: Dict[str, Callable] = {
        "events": _b_events, "now_ns": _b_now, "wall_s": _b_wall, "events_per_s": _b_eps,
        "violations": _b_violations, "cpu_busy_frac": _b_busy, "cpu_share": _b_share,
        "lat_count": _b_lat("count"), "lat_mean_ns": _b_lat("mean_ns"), "lat_p50_ns": _b_lat("p50"),
        "lat_p99_ns": _b_lat("p99"), "lat_p999_ns": _b_lat("p999"), "lat_max_ns": _b_lat("max_ns"),
        "exits": _b_exits, "steal_ns": _b_vm_sum("preempted_ns"),
    }
    stacked.update({k: _b_vm_frac(c) for k, c in _MODE_COLS.items()})
    stacked.update({c: _b_task_sum(c) for c in _TASK_SUMS})
    stacked.update({m: _b_vm_sum(m) for m in _MODES})
    return {k: (METRICS[k], f) for k, f in stacked.items() if k in METRICS}


_REGISTRY = _registry()


# ---------------------------------------------------------------------------------------------
# a segment's plan: which metric is computed how, and the task/vCPU rows each one reads
# ---------------------------------------------------------------------------------------------
class _Plan:
    def __init__(self, metrics, scenario, task_names: Sequence[str], vcpu_task: Sequence[int], ncpu: int):
        from pvsched._core import CAPTURE_VCPU_COLUMNS
        if metrics is None:
            metrics = default_metrics(scenario)
        items = [metrics] if callable(metrics) or isinstance(metrics, str) else list(metrics)
        self.index = {n: i for i, n in enumerate(task_names)}
        self.ncpu = ncpu
        self.vcpu_names = [task_names[t] for t in vcpu_task]
        self.groups: Dict[str, int] = {}
        self.group_rows: List[List[int]] = []
        self.items: List[Tuple[str, Any, Optional[Callable]]] = []   # (name or "", item, stacked form)
        self.slow = []
        for m in items:
            fn = None
            if isinstance(m, str):
                base, _, arg = m.partition(":")
                reg = _REGISTRY.get(base)
                if reg is not None and METRICS.get(base) is reg[0]:
                    fn = reg[1]
                elif (base in VCPU_COLUMNS or base.startswith("exits_")) and base in CAPTURE_VCPU_COLUMNS \
                        and base not in METRICS:
                    fn = _b_vm_sum(base)
                if fn is not None and not self._prepare(base, arg):
                    fn = None
            self.items.append((m if isinstance(m, str) else "", m, fn))
            if fn is None:
                self.slow.append(m)

    def _prepare(self, base: str, arg: str) -> bool:
        """Resolve the rows a metric reads; False sends it the per-run way (which raises its error)."""
        try:
            if base.startswith("lat_") and base != "lat_count":
                self.hist_group(arg)
            elif base in ("cpu_share", "lat_count") + _TASK_SUMS:
                self.task_rows(arg)
            elif base in _MODE_COLS or base in _MODES or base in ("exits", "steal_ns") or base in VCPU_COLUMNS \
                    or base.startswith("exits_"):
                self.vm_rows(arg)
            elif base == "cpu_busy_frac" and arg and not (arg.isdigit() and int(arg) < self.ncpu):
                return False
        except KeyError:
            return False
        return True

    def task_rows(self, name: str) -> List[int]:
        if name in self.index:
            return [self.index[name]]
        rows = [i for n, i in self.index.items() if n.startswith(name + "[")]
        if not rows:
            raise KeyError(name)
        return rows

    def vm_rows(self, vm: str) -> List[int]:
        rows = [i for i, n in enumerate(self.vcpu_names) if n.startswith(vm + "/vcpu")]
        if not rows:
            raise KeyError(vm)
        return rows

    def hist_group(self, name: str) -> int:
        if name not in self.groups:
            self.groups[name] = len(self.group_rows)
            self.group_rows.append(self.task_rows(name))
        return self.groups[name]

    def hist_index(self):
        ptr = np.zeros(len(self.group_rows) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(g) for g in self.group_rows])
        rows = np.array([i for g in self.group_rows for i in g], dtype=np.int64)
        return ptr, rows


def _compile(scenario, metrics):
    """(engine kwargs, task names, metric plan) of a scenario."""
    kwargs, task_names, _ = scenario.compile()
    vcpu_task = [0] * len(kwargs["vcpu_vm"])
    for i, v in enumerate(kwargs["task_vcpu"].tolist()):
        if v >= 0:
            vcpu_task[v] = i
    return kwargs, task_names, _Plan(metrics, scenario, task_names, vcpu_task, kwargs["ncpu"])


def run_segment(scenario, seeds: Sequence[int], metrics=None) -> List[Dict[str, Any]]:
    """Run ``scenario`` once per seed in ``seeds`` (compiled once, the engine reset between runs)
    and return each run's metrics, as :func:`~pvsched.sweep.compute_metrics` gives them for
    ``Simulation(scenario with that seed).run()``."""
    from pvsched._core import Engine
    from pvsched.results import Result
    kwargs, task_names, plan = _compile(scenario, metrics)
    n = len(seeds)
    st = _Stack(n, len(task_names), kwargs["ncpu"], len(plan.vcpu_names), len(plan.group_rows))
    hptr, hrows = plan.hist_index()
    slow: List[List[Dict[str, Any]]] = []         # per run, per slow item: its compute_metrics dict
    until = scenario.duration_ns
    engine = None
    for r, seed in enumerate(seeds):
        if engine is None:
            kwargs["seed"] = seed
            engine = Engine(**kwargs)
        else:
            engine.reset(seed)
        t0 = time.perf_counter()
        engine.run(until)
        st.wall[r] = time.perf_counter() - t0
        engine.capture(r, st.scalars, st.tasks, st.cpus, st.vcpus, hptr, hrows, st.hist)
        if plan.slow:
            res = Result(engine.results(), task_names, dataclasses.replace(scenario, seed=seed), float(st.wall[r]))
            slow.append([compute_metrics(res, [m]) for m in plan.slow])
    values = {}
    for name, m, fn in plan.items:
        if fn is not None:
            values[name] = fn(st, plan, name.partition(":")[2])
    out = []
    for r in range(n):
        row: Dict[str, Any] = {}
        k = 0
        for name, m, fn in plan.items:          # the order (and overwrites) of compute_metrics
            if fn is not None:
                row[name] = values[name][r]
            else:
                row.update(slow[r][k])
                k += 1
        out.append(row)
    return out
