"""Sweep metrics: named result columns (METRICS), the default set for a scenario, and computing them from a Result."""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from pvsched.sweep.grid import SweepError, canonical_json


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
    "cpu_share": Metric(_share, "task", "task's CPU time / simulated time, in CPUs (1.0 = one whole CPU; "
                                        "the copies of a count > 1 task add up, so 4 busy hogs give 4.0)"),
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


def _guest_halted_frac(r, vm):
    v, rows = r.vcpus, _vm_rows(r, vm)
    guest = int(v["guest_ns"][rows].sum())
    return int(v["guest_halted_ns"][rows].sum()) / guest if guest else float("nan")


def _pelt_avg(col):
    def f(r, vm):
        v, rows = r.vcpus, _vm_rows(r, vm)
        t = v["pelt_tracked_ns"][rows]
        return float(np.mean(v[col][rows][t > 0] / t[t > 0])) if (t > 0).any() else float("nan")
    return f


def _hwnoise(col):
    def f(r, name):
        _task_idx(r, name)                              # raises for an unknown task
        t = r.hwnoise()
        rows = [i for i, n in enumerate(t["name"]) if n == name or n.startswith(name + "[")]
        if not rows:
            return float("nan")                         # not an HwNoise task
        if col == "cpu_available_pct":
            rt, nz = int(t["runtime_ns"][rows].sum()), int(t["noise_ns"][rows].sum())
            return 100.0 * (rt - nz) / rt if rt else float("nan")
        return int(t[col][rows].max() if col.startswith("max_") else t[col][rows].sum())
    return f


# Guest halted time and halted-aware PELT, rtla hwnoise.
METRICS.update({
    "guest_halted_frac": Metric(_guest_halted_frac, "vm", "time halted inside guest mode / guest-mode time (HLT in guest)"),
    "pelt_util": Metric(_pelt_avg("pelt_util_ns"), "vm", "vCPU threads' time-averaged PELT util (the discounted signal), mean over vCPUs"),
    "pelt_util_raw": Metric(_pelt_avg("pelt_util_raw_ns"), "vm", "the same without the halted-time discount"),
    "pelt_load": Metric(_pelt_avg("pelt_load_ns"), "vm", "vCPU threads' time-averaged PELT load, mean over vCPUs"),
    "msr_reads": Metric(lambda r: int(r.raw["halted_pelt"]["msr_reads"]), None, "MPERF/TSC reads the halted-PELT mode implies"),
    "hwnoise_avail_pct": Metric(_hwnoise("cpu_available_pct"), "task", "rtla hwnoise % CPU available (over a task's copies)"),
    "hwnoise_max_single_ns": Metric(_hwnoise("max_single_ns"), "task", "rtla hwnoise largest single gap (ns)"),
    "hwnoise_gaps": Metric(_hwnoise("gaps"), "task", "rtla hwnoise gaps (HW column)"),
})

def _rcu(fn):
    def f(r):
        return fn(r.rcu) if r.rcu is not None else float("nan")      # RCU not modelled
    return f


def _rcu_cpu(col):
    return _rcu(lambda rc: int(sum(rc["cpu"][col][c] for c in rc["nohz_full"])))


def _rcu_accuracy(kind):
    from pvsched.rcu import RCU_CAUSES
    return _rcu(lambda rc: int(sum(rc["cpu"][f"{kind}_{c}"][x] for c in RCU_CAUSES for x in rc["nohz_full"])))


# Host RCU (NaN when not modelled); the accuracy counts are over the nohz_full CPUs (pvsched.rcu).
METRICS.update({
    "rcu_gps": Metric(_rcu(lambda rc: int(rc["gps_done"])), None, "grace periods completed"),
    "rcu_gp_mean_ns": Metric(_rcu(lambda rc: rc["gp_ns_sum"] / rc["gps_done"] if rc["gps_done"] else float("nan")),
                             None, "mean grace-period duration (ns)"),
    "rcu_gp_max_ns": Metric(_rcu(lambda rc: int(rc["gp_ns_max"])), None, "longest grace period (ns)"),
    "rcu_sync_mean_ns": Metric(_rcu(lambda rc: rc["sync_ns_sum"] / rc["sync_done"] if rc["sync_done"] else float("nan")),
                               None, "mean synchronize_rcu() latency (ns)"),
    "rcu_sync_max_ns": Metric(_rcu(lambda rc: int(rc["sync_ns_max"])), None, "longest synchronize_rcu() latency (ns)"),
    "rcu_gps_held": Metric(_rcu(lambda rc: int(rc["gps_held"])), None, "GPs that reached rcu_nohz_full_cpu()'s limit"),
    "rcuc_wakeups": Metric(_rcu_cpu("rcuc_wakeups"), None, "rcuc/N wake-ups on the nohz_full CPUs"),
    "rcu_forced_ticks": Metric(_rcu_cpu("forced_ticks"), None, "RCU forced ticks (TICK_DEP_BIT_RCU) on nohz_full CPUs"),
    "rcu_resched_ipis": Metric(_rcu_cpu("resched_ipis"), None, "FQS resched_cpu() IPIs to nohz_full CPUs"),
    "rcu_fp": Metric(_rcu_accuracy("fp"), None, "ticks whose policy disjunct was wrongly true (no guest entry within H)"),
    "rcu_fn": Metric(_rcu_accuracy("fn"), None, "deciding ticks whose disjunct was wrongly false"),
    "rcu_held": Metric(_rcu_accuracy("held"), None, "skips on the disjunct alone with no EQS within H"),
    "rcu_needless": Metric(_rcu_accuracy("needless"), None, "rcuc wake-ups although an EQS followed within H"),
})

#: vCPU table columns usable as ``"column:<vm>"`` (summed over the VM's vCPUs), besides ``exits_*``.
VCPU_COLUMNS = ("nr_poll_ok", "nr_poll_fail", "nr_blocks", "nr_kicks", "guest_ticks", "guest_switches",
                "guest_idle_ns", "idle_exit_ns", "user_exits", "hlt_user_exits", "mwait_user_exits",
                "signals", "vcpu_items", "vcpu_work_ns", "mwait_yields", "kvm_runs",
                "guest_halted_ns", "guest_unhalted_ns", "gtime_halted_ns", "guest_stays",
                "rcuc_preemptions", "rcuc_preempt_ns")


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
