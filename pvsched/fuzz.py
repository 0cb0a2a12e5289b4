"""Fuzz campaign: random scenarios through the Python API and mutated scenario files.

Every case must end in one of two ways: a :class:`~pvsched.ScenarioError` (or
:class:`~pvsched.NotModelledError`) naming the bad field, or an accepted run whose results pass the
conservation checks of :func:`check_result` (CPU time within capacity, vCPU mode times adding up
to the VM's lifetime, no negative time, consistent runqueue counters, no invariant violation).
Anything else -- another exception type, a crash, a hang, a livelock -- is a failure.

Case kinds (each case is a pure function of ``(seed, index)``, so any failure can be replayed):

- ``valid``: a random scenario of ordinary values (host, cgroups, tasks, VMs, every workload and
  mechanism knob), checked with ``check_invariants``;
- ``extreme``: the same with values drawn from the edges of their ranges (0, 1, the 2^62 ns
  horizon, huge jitters, numpy integers);
- ``invalid``: a valid specification with one field replaced by a bad value or a wrong type;
- ``toml``: an example scenario file mutated as data (keys, values, types) or as text/bytes
  (malformed TOML, truncation, non-UTF-8 bytes);
- ``long``: a small valid scenario (at most 2 CPUs, 2 VMs of 2 vCPUs) run for 1 simulated second,
  for state that goes wrong only after a while.

A run stops early, and is checked there, after :data:`EVENT_BUDGET` events (a legitimately busy
scenario is not a hang); it is run in 20 steps so that the budget is checked on the way.

Command line (each case runs in a worker process with a timeout; a crash or a hang is recorded
and the campaign goes on)::

    python -m pvsched.fuzz --cases 20000 --seed 1 --workers 2
    python -m pvsched.fuzz --replay 1:4711      # one case, in-process, with its traceback

>>> s = campaign(seed=7, cases=6, workers=1, timeout_s=60)
>>> s["cases"], s["failures"]
(6, [])
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import multiprocessing
import os
import random
import sys
import time
import traceback
import warnings
from dataclasses import dataclass
from multiprocessing.connection import wait as mp_wait
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from pvsched.errors import NotModelledError, ScenarioError
from pvsched.limits import MAX_TIME_NS

KINDS = ("valid", "extreme", "invalid", "toml", "long")
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
#: extreme cases pass numpy integers where Python ints go (not yet accepted by workload fields)
NUMPY_INTEGERS = False
#: simulated time per case: enough for every mechanism to act, short enough for 10^4-10^5 cases
UNTIL_NS = 20_000_000
#: simulated time of a ``long`` case (a small valid scenario run for a while: stale state builds up)
LONG_UNTIL_NS = 1_000_000_000
#: a case stops (and is checked) once it has processed this many events: a slow but legitimate
#: scenario (a 10 ns period) is not a hang
EVENT_BUDGET = 2_000_000


# ------------------------------------------------------------------------------ conservation checks
def check_result(r, scenario=None, engine=None) -> List[str]:
    """Conservation checks on a :class:`~pvsched.Result`; returns the problems found (empty = pass).

    CPU time within capacity (per CPU and per task lifetime), vCPU mode times equal to the time
    since the VM started, guest tasks progress only in guest mode, no negative time or count, no
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
        modes = sum(np.asarray(v[m + "_ns"]) for m in ("guest", "exit", "poll", "halted", "preempted"))
        thread = np.asarray(v["task"])
        if starts is not None:
            life = np.maximum(now - starts[thread], 0)
            if not np.array_equal(modes, life):
                i = int(np.nonzero(modes != life)[0][0])
                out.append(f"vcpu {i}: mode times {modes[i]} != lifetime {life[i]}")
        on_cpu = np.asarray(v["guest_ns"]) + np.asarray(v["exit_ns"]) + np.asarray(v["poll_ns"])
        if (cpu[thread] > on_cpu).any():
            i = int(np.nonzero(cpu[thread] > on_cpu)[0][0])
            out.append(f"vcpu {i}: thread cpu_ns {cpu[thread][i]} > guest+exit+poll {on_cpu[i]}")
        for k in range(int(np.max(v["vm"])) + 1):
            g = np.asarray(v["guest_ns"])[np.asarray(v["vm"]) == k].sum()
            if cpu[kern == k + 1].sum() > g:
                out.append(f"vm {k}: guest tasks' cpu_ns {cpu[kern == k + 1].sum()} > its vCPUs' guest_ns {g}")
    if engine is not None:
        from pvsched._core import engine_audit
        out.extend(engine_audit(engine)[:5])
    return out


def _task_starts(scenario, n):
    """(start_ns per task, kernel per task: 0 = host, k = VM k-1) in the engine's task order."""
    kern = np.zeros(n, dtype=np.int64)
    if scenario is None:
        return None, kern
    starts = []
    kinds = []
    for t in scenario.tasks:
        starts += [int(t.start_ns)] * int(t.count)
        kinds += [0] * int(t.count)
    for k, vm in enumerate(scenario.vms):
        starts += [int(vm.start_ns)] * int(vm.vcpus)
        kinds += [0] * int(vm.vcpus)
        for t in vm.tasks:
            starts += [max(int(t.start_ns), int(vm.start_ns))] * int(t.count)
            kinds += [k + 1] * int(t.count)
    if len(starts) != n:
        return None, kern
    return np.array(starts, dtype=np.int64), np.array(kinds, dtype=np.int64)


# ------------------------------------------------------------------------------ random specifications
# A specification is plain data: {"host": {...}, "cgroups": [...], "tasks": [...], "vms": [...], ...}
# with workloads as {"kind": ..., **fields}. build() turns it into API objects.

class _Draw:
    """Random values; ``extreme`` draws from the edges of each range."""

    def __init__(self, rng: random.Random, extreme: bool):
        self.rng = rng
        self.extreme = extreme

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq):
        return self.rng.choice(list(seq))

    def int(self, lo: int, hi: int, typical: Optional[Sequence[int]] = None):
        if self.extreme and self.chance(0.5):
            v = min(hi, self.pick([lo, lo, hi, hi, lo + 1, max(lo, hi - 1), (lo + hi) // 2]))
        elif typical and self.chance(0.5):
            v = self.pick(typical)
        else:
            v = self.rng.randint(lo, hi)
        if self.extreme and NUMPY_INTEGERS and self.chance(0.15):
            return np.int64(v) if v < 2**63 else np.uint64(v)
        return v

    def ns(self, lo: int = 0, typical_hi: int = 5_000_000, hi: int = MAX_TIME_NS):
        """A duration: log-uniform up to ``typical_hi``; extreme draws reach ``hi``."""
        if self.extreme and self.chance(0.3):
            v = self.pick([lo, lo + 1, hi, hi - 1, hi // 2, 2**40, 2**31, 2**32 + 1])
            v = min(max(v, lo), hi)
        else:
            v = int(math.exp(self.rng.uniform(math.log(max(lo, 1)), math.log(max(typical_hi, lo + 1) + 1))))
            v = min(max(v, lo), hi)
        if self.extreme and NUMPY_INTEGERS and self.chance(0.1):
            return np.int64(v)
        return v


def _workload(d: _Draw, guest: bool, vcpus: int) -> dict:
    kinds = ["hog", "periodic", "cyclictest", "run_sleep", "phases"]
    if guest:
        kinds += ["spinlock_loop", "spinlock_loop"] + (["ipi_sync", "ipi_sync"] if vcpus > 1 else [])
    kind = d.pick(kinds)
    if kind == "hog":
        return {"kind": "hog"}
    if kind == "periodic":
        return {"kind": "periodic", "run_ns": d.ns(1, 500_000), "period_ns": d.ns(1, 5_000_000),
                "jitter_ns": d.ns(0, 200_000), "run_jitter_ns": d.ns(0, 100_000), "offset_ns": d.ns(0, 2_000_000)}
    if kind == "cyclictest":
        return {"kind": "cyclictest", "interval_ns": d.ns(1, 2_000_000), "work_ns": d.ns(1, 20_000)}
    if kind == "run_sleep":
        return {"kind": "run_sleep", "run_ns": d.ns(1, 2_000_000), "sleep_ns": d.ns(1, 3_000_000),
                "run_jitter_ns": d.ns(0, 500_000), "sleep_jitter_ns": d.ns(0, 500_000)}
    if kind == "phases":
        opts = ["run", "sleep", "yield", "timer", "critical"] + (["mmio"] if guest else [])
        phases = []
        for _ in range(d.rng.randint(1, 4)):
            p = d.pick(opts)
            phases.append([p] if p == "yield" else [p, d.ns(1, 1_000_000)])
        if not {p[0] for p in phases} & {"run", "sleep", "critical"}:
            phases.append(["run", d.ns(1, 500_000)])
        return {"kind": "phases", "phases": phases, "loops": d.int(0, 2**31 - 1, [0, 0, 1, 3])}
    if kind == "spinlock_loop":
        loops = d.int(0, 2**31 - 1, [0, 0, 5])
        sleep_ns = d.pick([0, 0, d.ns(1, 500_000)])
        return {"kind": "spinlock_loop", "lock": d.int(0, 3, [0]), "nlocks": d.int(1, 4, [1, 2]),
                "hold_ns": d.ns(1, 20_000), "hold_dist": d.pick(["fixed", "uniform", "exponential"]),
                "hold_spread_ns": d.ns(0, 10_000), "think_ns": d.ns(0, 100_000),
                "think_dist": d.pick(["fixed", "uniform", "exponential"]), "think_spread_ns": d.ns(0, 50_000),
                "pv": d.chance(0.7), "spin_threshold_ns": d.ns(1, 2_000_000), "sleep_ns": sleep_ns,
                "sleep_jitter_ns": d.ns(0, 100_000), "sleep_every": 1 if loops else d.int(1, 5, [1]), "loops": loops}
    loops = d.int(0, 2**31 - 1, [0, 0, 5])
    return {"kind": "ipi_sync", "compute_ns": d.ns(0, 200_000), "compute_dist": d.pick(["fixed", "uniform", "exponential"]),
            "compute_spread_ns": d.ns(0, 50_000), "handler_ns": d.ns(1, 20_000),
            "targets": d.int(1, max(1, vcpus - 1), [1]), "sleep_ns": d.pick([0, d.ns(1, 300_000)]),
            "sleep_jitter_ns": d.ns(0, 50_000), "sleep_every": 1 if loops else d.int(1, 4, [1]), "loops": loops}


def _task(d: _Draw, name: str, ncpu: int, guest: bool, cgroups: List[str]) -> dict:
    t: Dict[str, Any] = {"name": name, "workload": _workload(d, guest, ncpu)}
    pol = d.pick(["normal"] * 6 + ["batch", "idle", "fifo", "rr"])
    if pol != "normal":
        t["policy"] = pol
    if pol in ("fifo", "rr"):
        t["rt_priority"] = d.int(1, 99, [1, 50])
    if d.chance(0.4):
        t["nice"] = d.int(-20, 19, [-5, 0, 5])
    if d.chance(0.3):
        t["cpus"] = sorted(d.rng.sample(range(ncpu), d.rng.randint(1, ncpu)))
    if d.chance(0.2):
        t["start_ns"] = d.ns(0, 5_000_000)
    if d.chance(0.15):
        t["slice_ns"] = d.int(100_000, 100_000_000, [100_000, 3_000_000])
    if d.chance(0.3):
        t["count"] = d.int(1, 3)
    if cgroups and not guest and d.chance(0.5):
        t["cgroup"] = d.pick(cgroups)
    return t


EEVDF_FEATURES = ("PLACE_LAG", "PLACE_DEADLINE_INITIAL", "PLACE_REL_DEADLINE", "RUN_TO_PARITY", "PREEMPT_SHORT",
                  "PICK_BUDDY", "DELAY_DEQUEUE", "DELAY_ZERO", "YIELD_FORFEIT", "REWEIGHT_INPLACE", "NEXT_BUDDY",
                  "WAKEUP_PREEMPTION")
CFS_FEATURES = ("NEXT_BUDDY", "LAST_BUDDY", "CACHE_HOT_BUDDY", "WAKEUP_PREEMPTION", "GENTLE_FAIR_SLEEPERS",
                "START_DEBIT", "ALT_PERIOD", "BASE_SLICE")


def _kernel(d: _Draw) -> dict:
    fc = d.pick(["eevdf", "eevdf", "eevdf", "cfs"])
    names = CFS_FEATURES if fc == "cfs" else EEVDF_FEATURES
    k = {"hz": d.pick([100, 250, 1000, 1000]) if not d.extreme else d.int(1, 10000, [100, 1000]),
         "preempt": d.pick(["full", "lazy"]), "fair_class": fc,
         "features": {f: d.chance(0.5) for f in d.rng.sample(names, d.rng.randint(0, 3))}}
    if d.chance(0.2):
        k["base_slice_ns"] = d.int(1, 10**9, [100_000, 700_000, 3_000_000])
    if d.chance(0.2):
        k["slice_scaling"] = d.pick(["none", "log", "linear"])
    return k


def random_spec(rng: random.Random, extreme: bool = False, small: bool = False) -> dict:
    """A random scenario specification (plain data) with valid values (``small``: at most 2 CPUs,
    2 VMs of 2 vCPUs, 4 host tasks)."""
    d = _Draw(rng, extreme)
    ncpu = d.pick([1, 1, 2, 2, 3, 4]) if not extreme else d.int(1, 6, [1, 2])
    if small:
        ncpu = min(ncpu, 2)
    host: Dict[str, Any] = _kernel(d)
    host["cpus"] = ncpu
    if d.chance(0.3):
        host["rt_guard"] = d.pick(["fair_server", "rt_throttle", "none"])
        period = d.ns(1, 1_000_000_000, MAX_TIME_NS)
        host["rt_period_ns"] = period
        host["rt_runtime_ns"] = min(period, d.ns(1, 950_000_000, MAX_TIME_NS))
        fperiod = d.ns(1, 1_000_000_000, MAX_TIME_NS)
        host["fair_server_period_ns"] = fperiod
        host["fair_server_runtime_ns"] = min(fperiod, d.ns(1, 50_000_000, MAX_TIME_NS))
    for key, p in (("nohz_idle", 0.2), ("tick_exits", 0.2), ("load_balance", 0.15), ("periodic_balance", 0.2)):
        if d.chance(p):
            host[key] = d.chance(0.5)
    if d.chance(0.2):
        host["context_switch_ns"] = d.ns(0, 5_000, 10**9)
    if d.chance(0.2):
        host["idle_exit_ns"] = d.ns(0, 50_000, 10**9)
    if d.chance(0.15):
        host["idle_states"] = [[d.ns(0, 100_000, 10**12), d.ns(0, 100_000, 10**9)] for _ in range(d.rng.randint(1, 3))]
    if d.chance(0.1):
        host["rr_timeslice_ms"] = d.int(1, 10**6, [1, 100])
    if d.chance(0.1):
        host["debooster"] = {"enabled": True, "curve": d.pick(["steps", "linear"]),
                             "rate_limit_ns": d.ns(0, 6_000_000, 10**12), "rate_limit_mode": d.pick(["v1", "v2"]),
                             "debounce_ns": d.ns(0, 600_000, 10**12)}
    cgroups = []
    for i in range(d.pick([0, 0, 1, 2, 4])):
        cg = {"name": f"g{i}", "weight": d.int(1, 10000, [50, 100, 400])}
        if i and d.chance(0.5):
            cg["parent"] = f"g{d.rng.randrange(i)}"
        if d.chance(0.15):
            cg["idle"] = True
        cgroups.append(cg)
    names = [c["name"] for c in cgroups]
    spec: Dict[str, Any] = {"host": host, "cgroups": cgroups, "check_invariants": True,
                            "seed": d.int(0, 2**64 - 1, [0, 1, 42]),
                            "duration_ns": d.ns(1, 50_000_000) if not small else LONG_UNTIL_NS}
    spec["tasks"] = [_task(d, f"t{i}", ncpu, False, names) for i in range(d.pick([0, 1, 2, 3, 5]))]
    vms = []
    for k in range(d.pick([0, 0, 1, 1, 2, 3]) if not small else d.pick([1, 1, 2])):
        vcpus = d.pick([1, 2, 2, 3, 4]) if not small else d.pick([1, 2])
        vm: Dict[str, Any] = {"name": f"vm{k}", "vcpus": vcpus, "guest": _kernel(d)}
        g = vm["guest"]
        g["nohz_idle"] = d.chance(0.8)
        if d.chance(0.2):
            g["idle_poll_ns"] = d.ns(0, 100_000, 10**9)
        g["spinlock"] = d.pick(["queued", "queued", "ticket", "tas"])
        g["pv_sched_yield"] = d.chance(0.2)
        vm["tasks"] = [_task(d, f"w{i}", vcpus, True, []) for i in range(d.pick([1, 2, 3]))]
        if g["spinlock"] == "tas":
            for t in vm["tasks"]:
                if t["workload"]["kind"] == "spinlock_loop":
                    t["workload"]["pv"] = False
        if d.chance(0.3):
            vm["pin"] = [d.rng.randrange(ncpu) for _ in range(vcpus)]
        elif d.chance(0.2):
            vm["cpus"] = sorted(d.rng.sample(range(ncpu), d.rng.randint(1, ncpu)))
        if d.chance(0.2):
            vm["vcpu_policy"] = d.pick(["fifo", "rr", "batch", "idle"])
            if vm["vcpu_policy"] in ("fifo", "rr"):
                vm["vcpu_rt_priority"] = d.int(1, 99, [1, 10])
        for key in ("hlt_exits", "posted_interrupts", "ipi_virtualization", "timer_exits", "ple"):
            if d.chance(0.25):
                vm[key] = d.chance(0.5)
        for key, typ, hi in (("exit_ns", 1_500, 10**9), ("entry_ns", 500, 10**9), ("halt_poll_ns", 200_000, 10**10),
                             ("halt_poll_grow_start", 10_000, 10**10)):
            if d.chance(0.25):
                vm[key] = d.ns(0, typ * 4, hi)
        if d.chance(0.15):
            vm["halt_poll_grow"] = d.int(0, 1000, [0, 2])
            vm["halt_poll_shrink"] = d.int(0, 1000, [0, 2])
        if d.chance(0.2):
            vm["start_ns"] = d.ns(0, 3_000_000)
        if d.chance(0.2):
            vm["weight"] = d.int(1, 10000, [100, 400])
        if cgroups and d.chance(0.3):
            vm["cgroup"] = d.pick(names)
        if d.chance(0.3):
            mode = d.pick(["static", "dynamic", "bounded", "dynamic", "bounded"])
            b: Dict[str, Any] = {"mode": mode, "policy": d.pick(["rr", "fifo"]), "priority": d.int(1, 99, [8])}
            if d.chance(0.3):
                b["triggers"] = {tr: d.chance(0.5) for tr in d.rng.sample(BOOST_TRIGGERS, 3)}
            if mode in ("dynamic", "bounded") and d.chance(0.2):
                b["rogue"] = d.pick(["hold_boost", "doorbell_storm"])
            for key, typ, hi in (("cap_us", 3000, 10**9), ("doorbell_ns", 1_000, 10**9), ("setsched_ns", 2_000, 10**9)):
                if d.chance(0.2):
                    b[key] = d.ns(0, typ, hi)
            for key, typ in (("cs_budget_ns", 2_000_000), ("generic_budget_ns", 500_000_000)):
                if d.chance(0.2):
                    b[key] = d.ns(1, typ, 10**12)
            if mode == "static":
                vm.pop("vcpu_policy", None)
                vm.pop("vcpu_rt_priority", None)
            vm["boost"] = b
        if d.chance(0.25):
            vm["ple_gap"] = d.int(0, 2**32 - 1, [0, 128])
            vm["ple_window"] = d.int(1, 2**32 - 1, [4096, 1])
            vm["ple_window_grow"] = d.int(0, 2**32 - 1, [2])
            vm["ple_window_shrink"] = d.int(0, 2**32 - 1, [0])
            vm["ple_window_max"] = max(vm["ple_window"], d.int(1, 2**32 - 1, [2**32 - 1]))
            vm["guest_cpu_ghz"] = d.pick([0.001, 2.0, 100.0, 3.3])
        if d.chance(0.25):
            vm["yield_policy"] = {"ipi_aware": d.chance(0.6), "relaxed_round": d.chance(0.5),
                                  "candidate_order": d.pick(["scan", "priority"]),
                                  "fix_last_boosted": d.chance(0.5), "ipi_tracking": d.chance(0.7),
                                  "ipi_window_ns": d.ns(0, 50_000_000, 10**12)}
        vms.append(vm)
    spec["vms"] = vms
    if not spec["tasks"] and not vms:
        spec["tasks"] = [_task(d, "t0", ncpu, False, names)]
    return spec


BOOST_TRIGGERS = ("irq_entry", "irq_exit", "sched", "rt_enqueue", "user_return", "kick_timer", "kick_intr",
                  "kick_unhalt", "halt", "pending_at_exit", "preempt_disabled")

class _BadTable(dict):
    """A table an invalid case put where a value goes: passed as is, never unpacked into a constructor."""


#: bad values an invalid case substitutes (types and ranges)
BAD_VALUES = [-1, -2**63, 2**62 + 1, 2**63, 2**64, 10**30, 0.5, float("nan"), float("inf"), "x", "", None, True,
              [], [1], _BadTable(), _BadTable(x=1), (1, 2), b"\xff", np.float64(1.0), np.int64(-1), object(), 0, 1]


def _containers(obj, path=()):
    """(path, container) for every dict and list inside obj."""
    yield path, obj
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        if isinstance(v, (dict, list)):
            yield from _containers(v, path + (k,))


def corrupt(spec: dict, rng: random.Random) -> str:
    """Replace one value (or container) of a specification by a bad one; returns what changed."""
    conts = [(p, c) for p, c in _containers(spec) if c]
    path, c = rng.choice(conts)
    k = rng.choice(list(c)) if isinstance(c, dict) else rng.randrange(len(c))
    old = c[k]
    new = copy.copy(rng.choice(BAD_VALUES))
    if rng.random() < 0.1 and isinstance(old, list):
        new = rng.choice([None, 5, "2", {}, (x for x in old)])     # wrong container types
    c[k] = new
    return f"{'.'.join(map(str, path + (k,)))}: {old!r} -> {new!r}"


def _table(x) -> bool:
    return type(x) is dict


def build(spec: dict):
    """API objects from a specification (the constructors see exactly the specified values)."""
    from pvsched import VM, BoostPolicy, Cgroup, Debooster, GuestKernel, Host, Scenario, Task, YieldPolicy
    from pvsched.workloads import WORKLOADS

    def workload(w):
        if not _table(w):
            return w
        w = dict(w)
        cls = WORKLOADS.get(w.pop("kind", None), None) if isinstance(w.get("kind"), str) else None
        if cls is None:
            return w
        if "phases" in w and isinstance(w["phases"], list):
            w["phases"] = [tuple(p) if isinstance(p, list) else p for p in w["phases"]]
        return cls(**w)

    def task(t):
        if not _table(t):
            return t
        t = dict(t)
        return Task(t.pop("name", "x"), workload(t.pop("workload", None)), **t)

    def tasks(ts):
        return [task(t) for t in ts] if isinstance(ts, list) else ts

    h = dict(spec.get("host", {})) if _table(spec.get("host")) else spec.get("host")
    if _table(h):
        if _table(h.get("debooster")):
            h["debooster"] = Debooster(**h["debooster"])
        h = Host(**h)
    cgs = spec.get("cgroups", [])
    if isinstance(cgs, list):
        cgs = [Cgroup(**c) if _table(c) else c for c in cgs]
    vms = spec.get("vms", [])
    if isinstance(vms, list):
        out = []
        for v in vms:
            if _table(v):
                v = dict(v)
                if _table(v.get("guest")):
                    v["guest"] = GuestKernel(**v["guest"])
                if _table(v.get("boost")):
                    v["boost"] = BoostPolicy(**v["boost"])
                if _table(v.get("yield_policy")):
                    v["yield_policy"] = YieldPolicy(**v["yield_policy"])
                v["tasks"] = tasks(v.get("tasks", []))
                v = VM(v.pop("name", "vm"), **v)
            out.append(v)
        vms = out
    top = {k: spec[k] for k in ("duration_ns", "seed", "shuffle_ties", "check_invariants") if k in spec}
    return Scenario(host=h, cgroups=cgs, tasks=tasks(spec.get("tasks", [])), vms=vms, **top)


# ------------------------------------------------------------------------------ TOML mutation
TOML_VALUES = [0, 1, -1, 2, 3, 7, 64, 4097, 10**6, 10**12, -10**12, 2**62, 2**62 + 1, 2**63 - 1, -2**63, 0.5, -1.0,
               1e300, math.inf, math.nan, True, False, "", "x", "hog", "g", "fifo", "rr", "normal", "lazy", "vm",
               "periodic", "a/b", [], [0], [1, 0], [0, 1, 2, 3], ["x"], [[1]], [{"kind": "hog"}], {},
               {"kind": "hog"}, {"kind": "bogus"}, {"name": "x"}, {"name": "x", "workload": {"kind": "hog"}}]
TOML_KEYS = ["bogus", "name", "cpus", "count", "nice", "weight", "parent", "kind", "vcpus", "tasks", "workload",
             "pin", "guest", "hz", "policy", "rt_priority", "features", "slice_ns", "DELAY_DEQUEUE", "cgroup",
             "phases", "start_ns", "sleep_ns", "idle_states"]


def mutate_data(d, rng: random.Random, values=TOML_VALUES, keys=TOML_KEYS) -> str:
    """Apply one random mutation to parsed TOML data in place; returns a description."""
    conts = list(_containers(d))
    path, c = rng.choice(conts)
    op = rng.choice(["set", "set", "set", "tweak", "tweak", "del", "add", "rename", "dup", "empty"])
    if isinstance(c, dict):
        ks = list(c)
        if op == "add" or not ks:
            k = rng.choice(keys)
            c[k] = copy.deepcopy(rng.choice(values))
            return f"add {path}.{k} = {c[k]!r}"
        k = rng.choice(ks)
        if op == "del":
            del c[k]
            return f"del {path}.{k}"
        if op == "rename":
            nk = rng.choice(keys)
            c[nk] = c.pop(k)
            return f"rename {path}.{k} -> {nk}"
        if op == "tweak" and isinstance(c[k], int) and not isinstance(c[k], bool):
            c[k] = rng.choice([c[k] + 1, c[k] - 1, -c[k], c[k] * 1000, 0, c[k] // 2])
            return f"tweak {path}.{k} = {c[k]!r}"
        c[k] = copy.deepcopy(rng.choice(values))
        return f"set {path}.{k} = {c[k]!r}"
    if op == "dup" and c:
        c.append(copy.deepcopy(rng.choice(c)))
        return f"dup {path}[]"
    if op == "empty":
        c.clear()
        return f"empty {path}"
    if op == "del" and c:
        del c[rng.randrange(len(c))]
        return f"del {path}[i]"
    if c:
        i = rng.randrange(len(c))
        if op == "tweak" and isinstance(c[i], int) and not isinstance(c[i], bool):
            c[i] = c[i] + rng.choice([-1, 1, 100])
        else:
            c[i] = copy.deepcopy(rng.choice(values))
        return f"set {path}[{i}] = {c[i]!r}"
    c.append(copy.deepcopy(rng.choice(values)))
    return f"append {path}"


def mutate_text(text: str, rng: random.Random):
    """One textual mutation (mostly malformed TOML); returns (text, description)."""
    i = rng.randrange(len(text) + 1)
    op = rng.choice(["drop", "insert", "truncate", "dupline", "swapline"])
    if op == "drop":
        return text[:i] + text[i + 1:], f"drop char {i}"
    if op == "insert":
        ch = rng.choice(list("=[]{}\"',.#\n0x -_"))
        return text[:i] + ch + text[i:], f"insert {ch!r} at {i}"
    if op == "truncate":
        return text[:i], f"truncate at {i}"
    lines = text.splitlines(keepends=True)
    j = rng.randrange(len(lines))
    if op == "dupline":
        return "".join(lines[:j + 1] + [lines[j]] + lines[j + 1:]), f"dup line {j}"
    k = rng.randrange(len(lines))
    lines[j], lines[k] = lines[k], lines[j]
    return "".join(lines), f"swap lines {j},{k}"


def mutate_bytes(data: bytes, rng: random.Random):
    """Bytes that are not valid UTF-8 (or a NUL) spliced into a file; returns (bytes, description)."""
    i = rng.randrange(len(data) + 1)
    junk = rng.choice([b"\xff", b"\xc3", b"\xe2\x82", b"\x80\x80", b"\x00", b"\xfe\xff", b"\xed\xa0\x80"])
    return data[:i] + junk + data[i:], f"bytes {junk!r} at {i}"


def example_files() -> List[str]:
    if not os.path.isdir(EXAMPLES):
        return []
    return sorted(os.path.join(EXAMPLES, f) for f in os.listdir(EXAMPLES)
                  if f.endswith(".toml") and not f.startswith("sweep"))


# ------------------------------------------------------------------------------ cases
@dataclass
class Case:
    kind: str
    what: str
    make: Callable[[], Any]       # -> Scenario (may raise ScenarioError)
    until_ns: int
    expect_valid: bool


def make_case(seed: int, index: int, kinds: Sequence[str] = KINDS, tmpdir: Optional[str] = None) -> Case:
    """Case ``index`` of campaign ``seed`` (deterministic)."""
    rng = random.Random(f"pvsched-fuzz:{seed}:{index}")
    kinds = [k for k in kinds if k != "toml" or example_files()]
    kind = kinds[index % len(kinds)]
    until = rng.choice([UNTIL_NS, UNTIL_NS, 5_000_000, 1_000_000, rng.randint(0, UNTIL_NS)])
    if kind == "long":
        spec = random_spec(rng, small=True)
        frozen = copy.deepcopy(spec)
        return Case(kind, "long spec", lambda: build(frozen), LONG_UNTIL_NS, True)
    if kind in ("valid", "extreme", "invalid"):
        spec = random_spec(rng, extreme=kind == "extreme")
        what = ""
        if kind == "invalid":
            what = corrupt(spec, rng)
        frozen = copy.deepcopy(spec) if kind != "invalid" else spec
        return Case(kind, what or f"{kind} spec", lambda: build(frozen), until, kind != "invalid")
    files = example_files()
    src = files[rng.randrange(len(files))]
    name = os.path.basename(src)
    with open(src, "rb") as f:
        data = f.read()
    r = rng.random()
    if r < 0.15:
        blob, what = mutate_bytes(data, rng)
    elif r < 0.35:
        text, what = mutate_text(data.decode(), rng)
        blob = text.encode()
    else:
        try:
            import tomllib
        except ImportError:  # Python < 3.11
            import tomli as tomllib
        import tomli_w
        d = tomllib.loads(data.decode())
        what = "; ".join(mutate_data(d, rng) for _ in range(rng.choice([1, 1, 2, 3])))
        try:
            blob = tomli_w.dumps(d).encode()
        except (TypeError, ValueError):
            blob, what = data, f"(not TOML-representable: {what}; unmutated)"

    def make():
        import tempfile
        from pvsched import Scenario
        with tempfile.TemporaryDirectory(dir=tmpdir) as td:
            p = os.path.join(td, name)
            with open(p, "wb") as f:
                f.write(blob)
            return Scenario.from_toml(p)
    return Case("toml", f"{name}: {what}", make, until, False)


def run_case(case: Case) -> Dict[str, Any]:
    """Run one case in this process; returns {"status": ..., "detail": ...}. Status: ``rejected``
    (ScenarioError/NotModelledError), ``ok`` (an accepted run that passed the checks) or
    ``failed`` (anything else)."""
    from pvsched import Simulation
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sc = case.make()
            sim = Simulation(sc)
            until = min(case.until_ns, int(sc.duration_ns))
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                step = max(1, until // 20)
                r = None
                while r is None or (r.now_ns < until and r.events < EVENT_BUDGET and not sim.engine.stalled):
                    r = sim.run(until_ns=min(until, (r.now_ns if r else 0) + step))
                until = r.now_ns if r.events >= EVENT_BUDGET else until
    except ScenarioError as e:
        if not e.path or not e.problem:
            return {"status": "failed", "detail": f"ScenarioError without a field path: {e}"}
        return {"status": "rejected", "detail": str(e)[:300], "unexpected": case.expect_valid}
    except NotModelledError as e:
        return {"status": "rejected", "detail": str(e)[:300], "unexpected": False}
    except Exception as e:  # noqa: BLE001 - any other exception is the failure being hunted
        tb = traceback.extract_tb(e.__traceback__)
        where = f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno}" if tb else "?"
        return {"status": "failed", "detail": f"{type(e).__name__} at {where}: {str(e)[:300]}"}
    problems = check_result(r, sc, sim.engine)
    if r.now_ns != until:
        problems.append(f"stopped at {r.now_ns} instead of {until}")
    problems += [f"warning: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)]
    if problems:
        return {"status": "failed", "detail": "; ".join(problems)[:600]}
    return {"status": "ok", "detail": f"{r.events} events"}


# ------------------------------------------------------------------------------ campaign runner
def _child(conn, fn):
    try:
        conn.send(("ok", fn()))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        conn.send(("error", f"{type(e).__name__}: {e}"))


def in_child(fn: Callable[[], Any], timeout_s: float = 60.0):
    """``fn()`` in a forked process: ``("ok", value)``, ``("error", "Type: message")``,
    ``("hang", seconds)`` or ``("crash", exit code)`` -- a crash or a hang cannot take the caller
    down. The value must be picklable."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(child, fn))
    p.start()
    child.close()
    try:
        if not parent.poll(timeout_s):
            p.kill()
            return ("hang", timeout_s)
        try:
            return parent.recv()
        except EOFError:
            p.join()
            return ("crash", p.exitcode)
    finally:
        p.join()
        parent.close()


def _worker(conn, seed, indices, kinds, parent):
    from pvsched.sweep import _worker_init
    _worker_init(parent)            # die with the campaign driver; Ctrl-C goes to the driver
    for i in indices:
        conn.send(("start", i, time.monotonic()))
        case = make_case(seed, i, kinds)
        out = run_case(case)
        out.update(kind=case.kind, what=case.what[:500])
        conn.send(("done", i, out))
    conn.send(("exit", None, None))


def campaign(seed: int = 1, cases: int = 1000, start: int = 0, workers: int = 1, timeout_s: float = 60.0,
             kinds: Sequence[str] = KINDS, progress: Optional[Callable[[int, Dict], None]] = None) -> Dict[str, Any]:
    """Run cases ``start .. start + cases - 1`` of campaign ``seed`` in ``workers`` forked worker
    processes; a case that raises in an unexpected way, crashes its worker or runs longer than
    ``timeout_s`` is a failure. Returns counts by kind and status, and the failures."""
    ctx = multiprocessing.get_context("fork")
    todo = {w: [i for i in range(start, start + cases) if (i - start) % max(1, workers) == w]
            for w in range(max(1, workers))}
    counts: Dict[str, Dict[str, int]] = {}
    failures: List[Dict[str, Any]] = []
    unexpected = 0
    live = {}

    def spawn(w):
        if not todo[w]:
            return
        a, b = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_worker, args=(b, seed, list(todo[w]), tuple(kinds), os.getpid()), daemon=True)
        p.start()
        b.close()
        live[a] = {"w": w, "p": p, "case": None, "t0": None}

    def record(i, out):
        nonlocal unexpected
        c = counts.setdefault(out["kind"], {})
        c[out["status"]] = c.get(out["status"], 0) + 1
        if out.get("unexpected"):
            unexpected += 1
        if out["status"] == "failed":
            failures.append({"case": f"{seed}:{i}", **out})
        if progress:
            progress(i, out)

    def kind_of(i):
        ks = [k for k in kinds if k != "toml" or example_files()]
        return ks[i % len(ks)]

    for w in todo:
        spawn(w)
    while live:
        ready = mp_wait(list(live), timeout=1.0)
        for conn in ready:
            st = live[conn]
            try:
                msg, i, payload = conn.recv()
            except (EOFError, OSError):
                st["p"].join()
                i = st["case"]
                del live[conn]
                if i is not None:
                    record(i, {"status": "failed", "kind": kind_of(i), "what": make_case(seed, i, kinds).what[:500],
                               "detail": f"worker died (exit code {st['p'].exitcode}): a crash"})
                    todo[st["w"]] = [j for j in todo[st["w"]] if j > i]
                    spawn(st["w"])
                continue
            if msg == "start":
                st["case"], st["t0"] = i, time.monotonic()
            elif msg == "done":
                todo[st["w"]] = [j for j in todo[st["w"]] if j > i]
                st["case"] = None
                record(i, payload)
            else:
                st["p"].join()
                del live[conn]
        now = time.monotonic()
        for conn, st in list(live.items()):
            if st["case"] is not None and now - st["t0"] > timeout_s:
                st["p"].kill()
                st["p"].join()
                del live[conn]
                i = st["case"]
                record(i, {"status": "failed", "kind": kind_of(i), "what": make_case(seed, i, kinds).what[:500],
                           "detail": f"hang: no result after {timeout_s:.0f} s"})
                todo[st["w"]] = [j for j in todo[st["w"]] if j > i]
                spawn(st["w"])
    total = sum(sum(c.values()) for c in counts.values())
    return {"seed": seed, "start": start, "cases": total, "counts": counts, "failures": failures,
            "valid_rejected": unexpected}


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pvsched.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=int, default=0, help="first case index")
    ap.add_argument("--workers", "-j", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    ap.add_argument("--json", metavar="FILE", help="write the summary (with every failure) as JSON")
    ap.add_argument("--replay", metavar="SEED:INDEX", help="run one case in this process and show its outcome")
    a = ap.parse_args(argv)
    kinds = tuple(k for k in a.kinds.split(",") if k)
    if any(k not in KINDS for k in kinds):
        ap.error(f"--kinds: choose from {','.join(KINDS)}")
    if a.replay:
        seed, idx = (int(x) for x in a.replay.split(":"))
        case = make_case(seed, idx, kinds)
        print(f"case {seed}:{idx} [{case.kind}] {case.what}")
        sc = None
        try:
            sc = case.make()
        except Exception:  # noqa: BLE001
            traceback.print_exc()
        if sc is not None:
            print(sc.to_toml() if hasattr(sc, "to_toml") else sc)
        print(run_case(case))
        return 0
    t0 = time.time()
    done = [0]

    def progress(i, out):
        done[0] += 1
        if out["status"] == "failed":
            print(f"FAIL {a.seed}:{i} [{out['kind']}] {out['what'][:160]}\n     {out['detail'][:300]}", flush=True)
        if done[0] % 1000 == 0:
            print(f"... {done[0]} cases, {time.time() - t0:.0f} s", flush=True)

    s = campaign(a.seed, a.cases, a.start, a.workers, a.timeout, kinds, progress)
    s["wall_s"] = round(time.time() - t0, 1)
    print(f"{s['cases']} cases (seed {a.seed}, from {a.start}) in {s['wall_s']} s: "
          + ", ".join(f"{k}: " + "/".join(f"{n} {st}" for st, n in sorted(v.items())) for k, v in sorted(s["counts"].items()))
          + f"; {len(s['failures'])} failures; {s['valid_rejected']} valid specs rejected")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(s, f, indent=1, default=str)
    return 1 if s["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
