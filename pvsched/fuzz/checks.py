"""Conservation checks on a run's results (the acceptance test of every fuzz case)."""
from __future__ import annotations

from typing import List

import numpy as np


def check_result(r, scenario=None, engine=None) -> List[str]:
    """Conservation checks on a :class:`~pvsched.Result`; returns the problems found (empty = pass).

    CPU time within capacity (per CPU and per task lifetime), vCPU mode times equal to the time
    the VM has existed (from its start to now or its stop_ns), guest tasks progress only in guest mode, no negative time or count, no
    invariant violation, and (given the engine) runqueue counters that match the queued entities.
    """
    out: List[str] = []
    now = r.now_ns
    raw = r.raw
    if raw["violations"]["count"]:
        out.append(f"invariant violations: {raw['violations']}")
    for table in ("task", "cpu", "vcpu", "vm"):
        for k, col in raw.get(table, {}).items():
            a = np.asarray(col)
            if a.dtype.kind in "iu" and a.size and a.min() < 0 and k not in ("vm", "task", "cpu", "host_cpu", "mode", "vruntime"):
                out.append(f"{table}.{k} negative: {a.min()}")
    busy = np.asarray(raw["cpu"]["busy_ns"])
    if busy.size and busy.max() > now:
        out.append(f"cpu busy_ns {busy.max()} > elapsed {now}")
    t = raw["task"]
    cpu = np.asarray(t["cpu_ns"])
    wait = np.asarray(t["wait_ns"])
    if scenario is not None:
        # a latency runs to when the task executes: after the context switches and the C-state
        # exit that its CPU still has to make
        h = scenario.host
        ahead = (int(h.context_switch_ns) * (1 + int(np.asarray(raw["cpu"]["nr_switches"]).max(initial=0)))
                 + max([int(h.idle_exit_ns)] + [int(x[1]) for x in h.idle_states]))
        if (np.asarray(t["lat_max_ns"]) > now + ahead).any():
            out.append("a wake-up latency longer than the run")
    nhost = len(busy)
    starts, kern = _task_starts(scenario, len(cpu))
    host = kern == 0
    if cpu[host].sum() > busy.sum():
        out.append(f"host tasks' cpu_ns {cpu[host].sum()} > busy_ns {busy.sum()} (capacity {nhost} x {now})")
    if starts is not None:
        life = np.maximum(now - starts, 0)
        bad = np.nonzero(cpu + wait > life)[0]
        if bad.size:
            i = int(bad[0])
            out.append(f"task {r.task_names[i]}: cpu_ns {cpu[i]} + wait_ns {wait[i]} > lifetime {life[i]}")
    v = raw["vcpu"]
    if len(v["vm"]):
        from pvsched._core import VCPU_MODES
        modes = sum(np.asarray(v[m + "_ns"]) for m in VCPU_MODES)
        thread = np.asarray(v["task"])
        if starts is not None:
            # a VM terminated at stop_ns (VM.stop_ns) has no vCPU time after it
            stop = [now if vm.stop_ns is None else min(now, int(vm.stop_ns)) for vm in scenario.vms]
            end = np.asarray(stop, dtype=np.int64)[np.asarray(v["vm"])]
            life = np.maximum(end - starts[thread], 0)
            if not np.array_equal(modes, life):
                i = int(np.nonzero(modes != life)[0][0])
                out.append(f"vcpu {i}: mode times {modes[i]} != lifetime {life[i]}")
        on_cpu = sum(np.asarray(v[m + "_ns"]) for m in VCPU_MODES if m not in ("halted", "preempted"))
        if (cpu[thread] > on_cpu).any():
            i = int(np.nonzero(cpu[thread] > on_cpu)[0][0])
            out.append(f"vcpu {i}: thread cpu_ns {cpu[thread][i]} > its time on a pCPU {on_cpu[i]}")
        for k in range(int(np.max(v["vm"])) + 1):
            g = np.asarray(v["guest_ns"])[np.asarray(v["vm"]) == k].sum()
            if cpu[kern == k + 1].sum() > g:
                out.append(f"vm {k}: guest tasks' cpu_ns {cpu[kern == k + 1].sum()} > its vCPUs' guest_ns {g}")
    if engine is not None:
        from pvsched._core import engine_audit
        out.extend(engine_audit(engine)[:5])
    return out


def _task_starts(scenario, n):
    """(start_ns per task, kernel per task: 0 = host, k = VM k-1) in the engine's task order, from
    the scenario's own compiled form (vCPU threads, VMM threads and all)."""
    kern = np.zeros(n, dtype=np.int64)
    if scenario is None:
        return None, kern
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = scenario.compile()[0]
    starts, kinds = np.asarray(kw["task_start_ns"]), np.asarray(kw["task_kern"])
    if len(starts) != n:
        return None, kern
    return starts.astype(np.int64), kinds.astype(np.int64)
