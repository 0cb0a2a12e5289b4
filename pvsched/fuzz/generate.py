"""Random scenario specifications (plain data) through the Python API: valid, extreme (range
edges, the 2^62 ns horizon) and invalid (one field replaced by a bad value or type)."""
from __future__ import annotations

import copy
import math
import random
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from pvsched.fuzz.mutate import _containers
from pvsched.limits import MAX_TIME_NS
from pvsched.policies.rcu_guest import RCU_GUEST_MODES

#: simulated time of a ``long`` case (a small valid scenario run for a while: stale state builds up)
LONG_UNTIL_NS = 1_000_000_000
#: extreme cases pass numpy integers where Python ints go (every field accepts them)
NUMPY_INTEGERS = True


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
    kinds = ["hog", "periodic", "cyclictest", "run_sleep", "phases", "rtapp"]
    if guest:
        kinds += ["spinlock_loop", "spinlock_loop", "hwnoise"] + (["ipi_sync", "ipi_sync"] if vcpus > 1 else [])
    kind = d.pick(kinds)
    if kind == "hog":
        return {"kind": "hog"}
    if kind == "hwnoise":
        runtime = d.ns(1, 2_000_000)
        # sums of draws in Python ints: an extreme draw may be np.int64, which wraps at 2**63
        return {"kind": "hwnoise", "runtime_ns": runtime, "period_ns": min(MAX_TIME_NS, int(runtime) + int(d.ns(0, 2_000_000))),
                "threshold_ns": d.ns(1, 10_000), "warmup_ns": d.ns(0, 1_000_000)}
    if kind == "rtapp":
        return _rtapp(d)
    if kind == "periodic":
        return {"kind": "periodic", "run_ns": d.ns(1, 500_000), "period_ns": d.ns(1, 5_000_000),
                "jitter_ns": d.ns(0, 200_000), "run_jitter_ns": d.ns(0, 100_000), "offset_ns": d.ns(0, 2_000_000)}
    if kind == "cyclictest":
        return {"kind": "cyclictest", "interval_ns": d.ns(1, 2_000_000), "work_ns": d.ns(1, 20_000)}
    if kind == "run_sleep":
        return {"kind": "run_sleep", "run_ns": d.ns(1, 2_000_000), "sleep_ns": d.ns(1, 3_000_000),
                "run_jitter_ns": d.ns(0, 500_000), "sleep_jitter_ns": d.ns(0, 500_000)}
    if kind == "phases":
        opts = ["run", "sleep", "yield", "timer", "critical"] + (["mmio", "user_io", "fault", "irq"] if guest else [])
        phases = []
        for _ in range(d.rng.randint(1, 4)):
            p = d.pick(opts)
            phases.append([p] if p == "yield" else [p, d.ns(1, 1_000_000)])
            if p in ("run", "sleep") and d.chance(0.2):
                phases[-1].append(d.ns(0, 200_000))            # a uniform jitter
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


def _rtapp(d: _Draw) -> dict:
    phases = []
    for _ in range(d.rng.randint(1, 3)):
        events = []
        for _ in range(d.rng.randint(1, 3)):
            k = d.pick(["run", "runtime", "sleep", "timer", "yield"])
            if k == "yield":
                events.append(["yield"])
            elif k == "timer":
                ref = d.pick(["t0", "t1", "unique0", "unique1"])    # a ref keeps one mode everywhere
                events.append(["timer", d.ns(1, 2_000_000, 10**15), ref,
                               "relative" if ref in ("t0", "unique0") else "absolute"])
            else:
                events.append([k, d.ns(1, 500_000, 10**15)])
        events.append(["run", d.ns(1, 200_000, 10**15)])       # every phase takes time
        phases.append({"events": events, "loop": d.pick([1, 2, 5, -1])})
    return {"kind": "rtapp", "phases": phases, "loop": d.pick([-1, -1, 0, 1, 3]),
            "runtime_chunk_ns": d.int(1, 10**9, [32_000])}


def _idle_and_deferred_work(d: _Draw, vm: dict, ncpu: int, cgroups: Sequence[str] = ()) -> None:
    """The guest's idle instruction, MWAIT/userspace exits and the VMM's deferred work. (With an
    MWAIT guest, deferred work or user_io exits, vCPU boosting and guest lock/IPI workloads are not
    modelled: such a VM leaves them out.)"""
    g = vm["guest"]
    for key, p in (("mwait_exits", 0.2), ("mwait_yield", 0.1)):
        if d.chance(p):
            vm[key] = d.chance(0.5)
    if d.chance(0.2):
        vm["userspace_exit_ns"] = d.ns(0, 8_000, 10**9)
    if d.chance(0.15):
        g["idle_loop_ns"] = d.int(1, 10**9, [1_000, 100])
    mwait = d.chance(0.2)
    work = d.chance(0.2)
    if mwait:
        g["idle_instruction"] = "mwait"
        g.pop("idle_poll_ns", None)
    if work:
        executor = d.pick(["thread", "thread", "vcpu"])
        w = {"rate_per_s": d.pick([0, 100, 2_000, 50_000, 1e6]), "arrival": d.pick(["poisson", "periodic"]),
             "size_ns": d.ns(1, 50_000, 10**11), "size_dist": d.pick(["fixed", "uniform", "exponential"]),
             "size_spread_ns": d.ns(0, 20_000, 10**11), "priority": d.pick(["low", "high"]),
             "mmio_items": d.chance(0.3), "executor": executor, "threads": d.int(1, 4, [1, 2]),
             "preempt_high": d.chance(0.7), "intercept_toggle": d.chance(0.3), "kick": d.chance(0.8),
             "mwait_budget_ns": d.ns(0, 50_000, 10**11), "queue_capacity": d.int(1, 1 << 24, [16, 65536])}
        if d.chance(0.3):
            w["fallback_timer_ns"] = d.int(1_000, 10**11, [1_000_000])
        if d.chance(0.2):
            w["thread_cpus"] = sorted(d.rng.sample(range(ncpu), d.rng.randint(1, ncpu)))
        if w["mmio_items"]:
            w.update(mmio_size_ns=d.ns(1, 10_000, 10**11), mmio_size_dist=d.pick(["fixed", "uniform", "exponential"]),
                     mmio_size_spread_ns=d.ns(0, 10_000, 10**11), mmio_priority=d.pick(["low", "high"]))
        if executor == "thread" and d.chance(0.3):
            w.update(thread_policy=d.pick(["normal", "batch", "idle"]), thread_nice=d.int(-20, 19, [0, 5]))
            if d.chance(0.3):
                w["thread_slice_ns"] = d.int(100_000, 100_000_000, [100_000, 3_000_000])
            if cgroups and d.chance(0.3):
                w["thread_cgroup"] = d.pick(cgroups)
        vm["deferred_work"] = w
    user_io = any(t["workload"]["kind"] == "phases" and any(ph[0] == "user_io" for ph in t["workload"]["phases"])
                  for t in vm["tasks"])
    if mwait or work or user_io:
        if vm.get("boost", {}).get("mode") in ("dynamic", "bounded"):
            vm["boost"]["mode"] = "vanilla"
            vm["boost"].pop("rogue", None)
        vm["tasks"] = [t for t in vm["tasks"] if t["workload"]["kind"] not in ("spinlock_loop", "ipi_sync")] or \
            [{"name": "w", "workload": {"kind": "run_sleep", "run_ns": 50_000, "sleep_ns": 100_000}}]


def _rcu(d: _Draw, host: dict, ncpu: int) -> None:
    """Host RCU (RcuConfig, the RCU guest policy) on nohz_full CPUs; RCU needs a housekeeping CPU
    and the tick's exits."""
    if ncpu > 1:
        host["nohz_full"] = sorted(d.rng.sample(range(ncpu), d.rng.randint(1, ncpu - 1)))
    host.pop("tick_exits", None)
    if d.chance(0.7):
        c: Dict[str, Any] = {}
        for key, lo, hi, typ in (("nohz_full_timeout_jiffies", 0, 10**9, [1000, 1]),
                                 ("jiffies_till_first_fqs", 0, 10**9, [1, 3]), ("jiffies_till_next_fqs", 0, 10**9, [1, 3]),
                                 ("jiffies_till_sched_qs", 0, 10**9, [1, 30]), ("stall_timeout_s", 1, 10**6, [21, 1]),
                                 ("kthread_prio", 1, 99, [1, 50]), ("uptime_s", 0, 10**8, [3600, 0]),
                                 ("horizon_us", 1, 10**7, [2000, 1])):
            if d.chance(0.3):
                c[key] = d.int(lo, hi, typ)
        for key, lo, typ, hi in (("rcuc_ns", 0, 20_000, 10**9), ("slow_exit_ns", 1, 100_000, 10**12),
                                 ("idle_entry_ns", 0, 2_000, 10**9)):
            if d.chance(0.3):
                c[key] = d.ns(lo, typ, hi)
        if d.chance(0.3):
            c["normal_wake_from_gp"] = d.chance(0.5)
        if d.chance(0.3):
            c["tick_dependency"] = d.pick(["none", "timer"])
        host["rcu"] = c
    if d.chance(0.8):
        mode = d.pick(RCU_GUEST_MODES)
        if d.chance(0.5):
            host["rcu_guest_policy"] = mode
        else:
            pol: Dict[str, Any] = {"mode": mode, "patience_ms": d.int(0, 10**9, [0, 1000, 20])}
            if d.chance(0.5):
                pol["window_jiffies"] = d.int(0, 10**9, [0, 1000, 250])
            host["rcu_guest_policy"] = pol


def _vmm(d: _Draw, vm: dict, ncpu: int) -> None:
    """The VMM: return-to-userspace time, re-pinning between pin and migrate_pin, termination."""
    if d.chance(0.2):
        vm["user_return_ns"] = d.ns(0, 2_000, 10**9)
    if "pin" in vm and d.chance(0.25):
        vm["migrate_pin"] = [d.rng.randrange(ncpu) for _ in range(vm["vcpus"])]
        vm["migrate_period_ns"] = d.ns(0, 20_000_000, 10**12)
    if d.chance(0.15) and vm.get("start_ns", 0) < MAX_TIME_NS:       # it stops after it starts
        vm["stop_ns"] = min(MAX_TIME_NS, int(vm.get("start_ns", 0)) + int(d.ns(1, 50_000_000)))


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
    rcu = d.chance(0.15)
    if rcu:
        _rcu(d, host, ncpu)
    elif d.chance(0.1):
        host["nohz_full"] = sorted(d.rng.sample(range(ncpu), d.rng.randint(1, ncpu)))
    if d.chance(0.15):
        host["halted_pelt"] = {"mode": d.pick(["off", "exact", "tick"]), "mperf_ppm": d.int(-999_999, 999_999, [0]),
                               "no_hz_full": d.chance(0.3)}
    if d.chance(0.05):
        host["policy"] = "fuzz-policy"
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
    if rcu and d.chance(0.6):
        # synchronize_rcu() callers (they alone turn the RCU model on)
        u = {"name": "sync", "workload": {"kind": "rcu_updater", "interval_ns": d.ns(1, 10_000_000),
                                          "work_ns": d.ns(1, 5_000), "arrival": d.pick(["fixed", "poisson"])}}
        if d.chance(0.5):
            u["count"] = d.int(1, 3)
        if d.chance(0.5):
            u["cpus"] = [c for c in range(ncpu) if c not in host.get("nohz_full", [])] or [0]
        spec["tasks"].append(u)
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
        if d.chance(0.1):
            vm["own_cgroup"] = False
        if d.chance(0.05):
            vm["policy"] = "fuzz-policy"
        _idle_and_deferred_work(d, vm, ncpu, names)
        _vmm(d, vm, ncpu)
        vms.append(vm)
    spec["vms"] = vms
    if d.chance(0.1):
        trace = {"enabled": True, "cap_events": d.int(1, 200_000, [1000]), "mode": d.pick(["cap", "ring"]),
                 "from_ns": d.ns(0, 1_000_000)}
        if d.chance(0.3):
            trace["to_ns"] = min(MAX_TIME_NS + 1, int(trace["from_ns"]) + int(d.ns(1, 5_000_000)))
        if d.chance(0.3):
            trace["events"] = d.rng.sample(TRACE_KINDS, d.rng.randint(1, 4))
        spec["trace"] = trace
    if not spec["tasks"] and not vms:
        spec["tasks"] = [_task(d, "t0", ncpu, False, names)]
    return spec


TRACE_KINDS = ["sched_switch", "sched_wakeup", "sched_wakeup_new", "sched_migrate_task", "kvm_entry", "kvm_exit",
               "vcpu_mode", "kvm_vcpu_kick", "guest_ipi", "yield_to", "halt_poll", "counter"]


class FuzzPolicy:
    """Stand-in for a user's Python policy on a VM (built where a spec says "fuzz-policy"): it
    looks at every exit and kick and changes nothing."""

    calls = 0

    def on_vcpu_exit(self, ctx):
        FuzzPolicy.calls += 1

    def on_kick(self, ctx):
        FuzzPolicy.calls += 1


class FuzzHostPolicy:
    """The same on the host: it looks at every tick."""

    def on_tick(self, ctx):
        FuzzPolicy.calls += 1


BOOST_TRIGGERS = ("irq_entry", "irq_exit", "sched", "rt_enqueue", "user_return", "kick_timer", "kick_intr",
                  "kick_unhalt", "halt", "pending_at_exit", "preempt_disabled")

class _BadTable(dict):
    """A table an invalid case put where a value goes: passed as is, never unpacked into a constructor."""


#: bad values an invalid case substitutes (types and ranges)
BAD_VALUES = [-1, -2**63, 2**62 + 1, 2**63, 2**64, 10**30, 0.5, float("nan"), float("inf"), "x", "", None, True,
              [], [1], _BadTable(), _BadTable(x=1), (1, 2), b"\xff", np.float64(1.0), np.int64(-1), object(), 0, 1]


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

    from pvsched import HaltedPelt, Policy
    from pvsched.trace import TraceConfig

    def policy(p, base=FuzzPolicy):
        if p != "fuzz-policy":
            return p
        return type(base.__name__ + "Object", (base, Policy), {})()

    h = dict(spec.get("host", {})) if _table(spec.get("host")) else spec.get("host")
    if _table(h):
        if _table(h.get("debooster")):
            h["debooster"] = Debooster(**h["debooster"])
        if _table(h.get("halted_pelt")):
            h["halted_pelt"] = HaltedPelt(**h["halted_pelt"])
        if _table(h.get("rcu")):
            from pvsched.rcu.config import RcuConfig
            h["rcu"] = RcuConfig(**h["rcu"])
        if _table(h.get("rcu_guest_policy")):
            from pvsched.policies.rcu_guest import RcuGuestPolicy
            h["rcu_guest_policy"] = RcuGuestPolicy(**h["rcu_guest_policy"])
        if "policy" in h:
            h["policy"] = policy(h["policy"], FuzzHostPolicy)
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
                if _table(v.get("deferred_work")):
                    from pvsched.policies.deferred_work import DeferredWork
                    v["deferred_work"] = DeferredWork(**v["deferred_work"])
                v["tasks"] = tasks(v.get("tasks", []))
                if "policy" in v:
                    v["policy"] = policy(v["policy"])
                v = VM(v.pop("name", "vm"), **v)
            out.append(v)
        vms = out
    top = {k: spec[k] for k in ("duration_ns", "seed", "shuffle_ties", "check_invariants") if k in spec}
    if _table(spec.get("trace")):
        top["trace"] = TraceConfig(**spec["trace"])
    elif "trace" in spec:
        top["trace"] = spec["trace"]
    return Scenario(host=h, cgroups=cgs, tasks=tasks(spec.get("tasks", [])), vms=vms, **top)
