"""Seed 003 (Red Hat, 2024): "Avoid rcu_core() if CPU just left guest vcpu" -- the host's RCU tick
on nohz_full CPUs that run guests, and the policies proposed in the thread, side by side.

The seed's symptom: on an isolated pCPU of a PREEMPT_RT host, a vCPU thread runs a guest; a host
tick that exits the guest finds RCU work pending (a grace period started or ended, a quiescent
state to report) and wakes ``rcuc/N``, a SCHED_FIFO thread that preempts the vCPU for tens of
microseconds -- although the CPU will be quiescent again at the next VM entry. The thread's
policies add a disjunct to the nohz_full shortcut of ``rcu_pending()``,
``(user || idle || <policy>) && rcu_nohz_full_cpu()`` (:mod:`pvsched.policies.rcu_guest`):

======= =============================================================================
P0      vanilla (mainline)
P1      last guest exit within W jiffies (RFC v1, W = HZ)
P1'     as P1, the timestamp zeroed at vcpu_load / vcpu_put (Marcelo)
P1''    as P1', also zeroed at kvm_sched_out (Sean's objection)
P2a     in_guest_run_loop, set at vcpu_load / cleared at vcpu_put (Sean's first diff)
P2      as P2a, also cleared at kvm_sched_out and set at kvm_sched_in (Sean)
X1      GP younger than nohz_full_patience_delay (mainline since v6.11; 1000 ms here)
X2      PF_VCPU on the interrupted task (floated after the thread)
X3      a QS noted at guest exit (merged; only on CPUs without context tracking)
======= =============================================================================

The set-up (the seed gives no numbers, so these are choices; :func:`scenario`): a 4-pCPU
PREEMPT_RT host at HZ 1000, pCPU 0 housekeeping (timekeeping, the GP kthread, a
``synchronize_rcu()`` caller arriving every 5 ms on average), pCPUs 1-3 ``nohz_full`` with an
``rcuc/N`` at SCHED_FIFO 1 (``kthread_prio``) costing 20 us a pass; vCPU threads SCHED_OTHER
pinned 1:1 (so rcuc preempts them), 2 us context switches; a timer-wheel timer keeps every
nohz_full tick running (``RcuConfig(tick_dependency="timer")``: the seed's "tick running");
guest ``cyclictest -i 200`` (FIFO 95) per vCPU with timer exits and ``idle=poll`` (no HLT exits).
Each scenario changes one thing:

- **S1** the baseline above.
- **S2** the vCPU thread is re-pinned between pCPUs 1 and 2 every ~50 ms (``VM.migrate_period_ns``).
- **S3** the guest sleeps (20 us of work every 1-9 ms) with HLT exits and no halt polling, so the
  vCPU thread blocks and the pCPU idles; the idle task reaches ``ct_cpuidle_enter()`` 2 us after
  the switch (the HLT race window).
- **S4** the VM is destroyed after 0.5 s (its vCPU threads leave KVM_RUN and exit).
- **S5** a SCHED_FIFO 1 host thread (a misplaced QEMU I/O thread) runs 5 ms every 50 ms on the
  vCPU's pCPU.
- **S6** a guest access faults on a swapped-out page: KVM handles it for 1.5 s in the run loop
  (preemptible kernel code), once every ~2.5 s.
- **S7** after 1 s, an exit for a host interrupt whose hardirq and trailing softirq work runs 30 s
  in the run loop (Paul: "not unheard-of ... for tens of seconds, even minutes"; beyond the 21 s
  ``rcu_cpu_stall_timeout``): preempt_count raised, so rcuc cannot run and a tick notes no QS until
  it ends (Phases ``irq``). The run is traced (RCU events only) to time, for the longest GP, the
  first rcu_core() invocation on the burst's CPU and the first stall warning (:func:`gp_timing`).
- **S8** a guest task exits to QEMU (PIO/MMIO handled in userspace for 20 us) every 60-140 us;
  the return costs ``VM.userspace_exit_ns`` (4 us, in KVM_RUN) and 1 us in the kernel after
  vcpu_put (``VM.user_return_ns``).
- **S10** P1 alone, its window W swept (1, 2, 4 jiffies, 100 ms, 1 s) at HZ 100, 250 and 1000 on
  S8, S5 and S3 (:func:`window_sweep`). S9 (nested virtualization) is not built.
- **Q7** the note's open question 7: S1 and S3 for 30 s with the vCPU threads SCHED_OTHER and
  SCHED_FIFO 2, above rcuc (:func:`priority_rows`).

Metrics (per policy; :func:`measure`): rcuc preemptions of the vCPU threads and the time they
took, rcuc wake-ups on the nohz_full CPUs, guest cyclictest max latency, grace periods completed
and their longest duration, synchronize_rcu() latency, and the predicate's accuracy by cause
(:mod:`pvsched.rcu`, horizon H = one ``jiffies_till_next_fqs``): ``fp`` ticks (the disjunct said
"a guest entry is near" and none came within H), ``fn`` ticks (it did not, on a tick where it
decided, and one came), ``held`` (the skip alone left the GP waiting), ``needless`` (rcuc woken
although the CPU was quiescent again within H).

:data:`CLAIMS` holds the thread's claims (§4.5 of the seed note, with the seed's lines); each says
which policies show an effect and which do not; :func:`verdicts` checks them on a run and lists the
policies where the model also finds the effect. ``pvsched reproduce seed003`` prints all of it.

Findings (README has the numbers): S1 reproduced -- vanilla rcuc preempts each vCPU about three
times per grace period (GP start noted, QS reported, GP end noted), every guest policy brings that
to zero while every GP still ends at the first FQS scan (3 jiffies), where the GP kthread finds the
CPUs in the guest EQS; X3 changes nothing on nohz_full CPUs (context tracking is on) and X1 leaves
the wake-up at each GP's end (no GP in progress, so no patience). S3, S4, S5, S6, S8 reproduced for
the policies named, and the model adds the policies that share the hook placement (P1' and P2a have
no kvm_sched_out hook, so they share P1's HLT and preemption false positives; every policy that
clears its state at vcpu_put shares P2's exit-to-userspace false negatives). S2: P1's false
positive on the old pCPU is reproduced (harmless there: the idle pCPU is quiescent); the false
negatives on the new pCPU are not seen -- the window from kvm_sched_in to the first VM entry is a
few microseconds, and a re-pin inside KVM_RUN calls kvm_sched_in, not vcpu_load, so P1' behaves as
P1 (where KVM_RUN is entered again, S8, the entry follows vcpu_load at once, so the zeroed stamp is
renewed by the next exit before a tick can look; P1' shows P2's exit-to-userspace false negatives
there instead, having zeroed the stamp at vcpu_put); P2a's flag stays on the old pCPU, so it misses
the new one (the reason Sean added the sched hooks). S7: the burst holds the GP for its whole
length under every policy (softirq context is no quiescent state, and rcuc cannot preempt it), so
what the policies change is only when rcu_core() is asked for: at the first tick under P0, 1 s
after the GP began under P1, P2 and X1 (rcu_nohz_full_cpu() expires) -- the bound the thread
expected; the stall warning comes at 21 s under every policy, as check_cpu_stall() runs before the
nohz_full shortcut in rcu_pending(). S10: Sean's "a full tick behind" reproduced at W = 1 jiffy (an
exit late in the jiffy before a tick is stamped one jiffy old, so S8 wakes rcuc needlessly at every
HZ); from W = 2 on it is gone, and longer windows trade the misses of longer absences (S5) for
ticks that hold GPs. Q7: with the vCPU threads above rcuc, vanilla has no rcuc preemptions either,
and rcuc is starved on a busy vCPU's pCPU (no CPU time in 30 s) without any other effect: every GP
still ends at the first FQS scan, which finds the guest's EQS, and no stall warning comes; on a
halting guest's pCPU rcuc runs in idle. On nohz_full CPUs callbacks are offloaded, so the starved
rcuc holds none (the model offloads them too).

>>> from pvsched.experiments import seed003
>>> rows = seed003.run(["S1"], ["P0", "P2"], duration_ns=200_000_000)
>>> rows["S1"]["P0"]["rcuc_preemptions"] > 0 == rows["S1"]["P2"]["rcuc_preemptions"]
True
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from pvsched.policies.rcu_guest import RCU_GUEST_IDS, RcuGuestPolicy
from pvsched.rcu.config import RcuConfig
from pvsched.scenario import VM, Host, Scenario, Task
from pvsched.simulation import Simulation
from pvsched.trace.config import TraceConfig
from pvsched.workloads import Cyclictest, Phases, RcuUpdater, RunSleep

POLICIES = ("P0", "P1", "P1'", "P1''", "P2a", "P2", "X1", "X2", "X3")
MODE_OF = {v: k for k, v in RCU_GUEST_IDS.items()}
SCENARIOS = ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8")
#: S7: the interrupt + softirq burst starts this long into the run and lasts IRQ_BURST_NS
IRQ_START_NS = 1_000_000_000
IRQ_BURST_NS = 30_000_000_000
DURATION_NS = {"S1": 2_000_000_000, "S2": 4_000_000_000, "S3": 10_000_000_000, "S4": 2_000_000_000,
               "S5": 4_000_000_000, "S6": 6_000_000_000, "S7": IRQ_START_NS + IRQ_BURST_NS + 3_000_000_000,
               "S8": 4_000_000_000}
#: ``--quick``: each scenario as short as its claims allow (S4's VM stops at 0.5 s, S6's fault
#: starts at 1 s and must outlast the 1 s expiry; S7's 30 s burst is the point of it)
QUICK_DURATION_NS = {"S1": 200_000_000, "S2": 400_000_000, "S3": 1_000_000_000, "S4": 800_000_000,
                     "S5": 400_000_000, "S6": 2_200_000_000, "S7": DURATION_NS["S7"], "S8": 400_000_000}
TITLES = {"S1": "isolated pinned vCPUs, steady exits, tick running",
          "S2": "vCPU re-pinned between pCPUs 1 and 2 every ~50 ms",
          "S3": "guest HLT: the vCPU thread blocks, the pCPU idles",
          "S4": "the VM is terminated after 0.5 s",
          "S5": "a SCHED_FIFO host thread preempts the vCPU 5 ms in 50",
          "S6": "a 1.5 s page fault handled in the run loop",
          "S7": "30 s of host interrupt + softirq work in the run loop",
          "S8": "frequent exits to QEMU userspace"}
CAUSES = ("guest_tick", "runloop", "slow_exit", "new_cpu", "user_exit", "user", "hlt_race", "hlt",
          "preempted", "migrated", "terminated", "other")
NOHZ = (1, 2, 3)


def host(policy: str, hz: int = 1000, window_jiffies: Optional[int] = None) -> Host:
    """The PREEMPT_RT host of every scenario, with guest policy ``policy`` (an id of POLICIES);
    ``window_jiffies``: P1's window W (default HZ jiffies, 1 s)."""
    mode = MODE_OF[policy]
    return Host(cpus=4, hz=hz, nohz_full=list(NOHZ), context_switch_ns=2_000,
                rcu=RcuConfig(tick_dependency="timer", kthread_prio=1, rcuc_ns=20_000),
                rcu_guest_policy=RcuGuestPolicy(mode, window_jiffies=window_jiffies,
                                                patience_ms=1000 if mode == "patience" else 0))


def _cyclictest(vcpus: Sequence[int]) -> List[Task]:
    return [Task(f"ct{i}", Cyclictest(interval_ns=200_000), policy="fifo", rt_priority=95, cpus=[i]) for i in vcpus]


def scenario(name: str, policy: str, duration_ns: Optional[int] = None, hz: int = 1000,
             window_jiffies: Optional[int] = None, burst_ns: int = IRQ_BURST_NS, vcpu_fifo: int = 0) -> Scenario:
    """Scenario ``name`` (one of SCENARIOS) under ``policy`` (one of POLICIES), on a host at
    ``hz`` with P1's window ``window_jiffies`` (:func:`host`); ``burst_ns``: S7's burst;
    ``vcpu_fifo``: the vCPU threads' SCHED_FIFO priority (0: SCHED_OTHER, the note's set-up)."""
    if name not in SCENARIOS:
        raise ValueError(f"scenario {name!r} not one of {SCENARIOS}")
    if policy not in POLICIES:
        raise ValueError(f"policy {policy!r} not one of {POLICIES}")
    updater = Task("sync_rcu", RcuUpdater(interval_ns=5_000_000, arrival="poisson"), cpus=[0])
    tasks = [updater]
    trace = TraceConfig()
    if name == "S1":
        vm = VM("rt", vcpus=3, pin=list(NOHZ), hlt_exits=False, tasks=_cyclictest(range(3)))
    elif name == "S2":
        vm = VM("rt", vcpus=1, pin=[1], migrate_pin=[2], migrate_period_ns=50_000_333, hlt_exits=False,
                tasks=_cyclictest([0]))
    elif name == "S3":
        vm = VM("rt", vcpus=3, pin=list(NOHZ), hlt_exits=True, halt_poll_ns=0,
                tasks=[Task(f"w{i}", RunSleep(run_ns=20_000, sleep_ns=1_000_000, sleep_jitter_ns=8_000_000), cpus=[i])
                       for i in range(3)])
    elif name == "S4":
        vm = VM("rt", vcpus=3, pin=list(NOHZ), hlt_exits=False, tasks=_cyclictest(range(3)), stop_ns=500_000_000)
    elif name == "S5":
        vm = VM("rt", vcpus=1, pin=[1], hlt_exits=False, tasks=_cyclictest([0]))
        tasks.append(Task("qemu_io", RunSleep(run_ns=5_000_000, sleep_ns=45_000_000), policy="fifo",
                          rt_priority=1, cpus=[1]))
    elif name == "S6":
        vm = VM("rt", vcpus=1, pin=[1], hlt_exits=False, tasks=_cyclictest([0]) + [
            Task("swapin", Phases([("sleep", 1_000_000_000), ("run", 10_000), ("fault", 1_500_000_000)]), cpus=[0])])
    elif name == "S7":
        vm = VM("rt", vcpus=1, pin=[1], hlt_exits=False, tasks=_cyclictest([0]) + [
            Task("softirq", Phases([("sleep", IRQ_START_NS), ("run", 10_000), ("irq", burst_ns)], loops=1),
                 cpus=[0])])
        # RCU events from the burst on: ~3 a jiffy (a tick on each nohz_full CPU), 32 B each
        trace = TraceConfig(enabled=True, events=["rcu"], from_ns=IRQ_START_NS, cap_events=1 << 20)
    else:
        vm = VM("rt", vcpus=1, pin=[1], hlt_exits=False, user_return_ns=1_000, tasks=_cyclictest([0]) + [
            Task("pio", Phases([("run", 60_000, 80_000), ("user_io", 20_000)]), cpus=[0])])
    if vcpu_fifo:
        vm = dataclasses.replace(vm, vcpu_policy="fifo", vcpu_rt_priority=vcpu_fifo)
    return Scenario(host=host(policy, hz, window_jiffies), tasks=tasks, vms=[vm], check_invariants=True,
                    duration_ns=duration_ns or DURATION_NS[name], trace=trace)


def measure(r) -> Dict[str, float]:
    """One row: the metrics of a run (see the module docstring)."""
    rc = r.rcu
    cpu = rc["cpu"]
    nz = [int(c) for c in rc["nohz_full"]]
    v = r.vcpus
    row = {"rcuc_preemptions": int(v["rcuc_preemptions"].sum()),
           "rcuc_preempt_us": float(v["rcuc_preempt_ns"].sum()) / 1e3,
           "rcuc_wakeups": int(sum(cpu["rcuc_wakeups"][c] for c in nz)),
           "gps": int(rc["gps_done"]), "gp_max_ms": rc["gp_ns_max"] / 1e6,
           "sync_mean_ms": rc["sync_ns_sum"] / max(rc["sync_done"], 1) / 1e6, "sync_max_ms": rc["sync_ns_max"] / 1e6,
           "qs_by_fqs": int(sum(cpu["qs_fqs"][c] for c in nz)), "qs_local": int(sum(cpu["qs_local"][c] for c in nz)),
           "forced_ticks": int(cpu["forced_ticks"].sum()), "resched_ipis": int(cpu["resched_ipis"].sum()),
           "gps_held_1s": int(rc["gps_held"]), "violations": int(r.violations["count"]),
           "stall_warnings": int(rc["stall_other"] + cpu["stall_self"].sum())}
    hists = [r.latency(n) for n in r.task_names if "/ct" in n]
    lat = hists[0] if hists else None
    for h in hists[1:]:
        lat = lat.merge(h)
    row["lat_max_us"] = lat.max_ns / 1e3 if lat is not None and lat.count else 0.0
    row["lat_p999_us"] = lat.percentile(99.9) / 1e3 if lat is not None and lat.count else 0.0
    row["lat_p9999_us"] = lat.percentile(99.99) / 1e3 if lat is not None and lat.count else 0.0
    for k in ("fp", "fn", "held", "needless"):
        for c in CAUSES:
            row[f"{k}_{c}"] = int(sum(cpu[f"{k}_{c}"][x] for x in nz))
        row[k] = sum(row[f"{k}_{c}"] for c in CAUSES)
    row["gp_beyond_fqs"] = int(rc["gp_ns_max"] > 4 * 1_000_000_000 // r.scenario.host.hz)   # first FQS + a jiffy
    row["gp_1s"] = int(rc["gp_ns_max"] >= 1_000_000_000)
    if r.scenario.trace.enabled:
        row.update(gp_timing(r))
    return row


def gp_timing(r) -> Dict[str, float]:
    """From a run traced with RCU events (S7): for the longest grace period (or the one still in
    progress at the end, if longer), ``gp_ms`` its length so far, ``core_delay_ms`` the time from
    its start to the first tick on a nohz_full CPU that invoked rcu_core() (woke rcuc), and
    ``stall_after_s`` the time to the first stall warning in it; -1 where there is none."""
    import numpy as np
    from pvsched._core import RCU_TRACE_EVENTS
    ev = {name: i for i, name in enumerate(RCU_TRACE_EVENTS)}
    rec = r.trace.of_kind("rcu").records
    t, kind = rec["time_ns"], rec["b"]
    starts = t[kind == ev["gp_start"]]
    out = {"gp_ms": -1.0, "core_delay_ms": -1.0, "stall_after_s": -1.0}
    if not starts.size:
        return out
    ends = t[kind == ev["gp_end"]]
    # GPs do not overlap: the i-th start's end is the first end after it, or the run's end
    k = np.searchsorted(ends, starts)
    stop = np.full(starts.size, r.now_ns, dtype=np.int64)
    stop[k < ends.size] = ends[k[k < ends.size]]
    i = int(np.argmax(stop - starts))
    g0, g1 = int(starts[i]), int(stop[i])
    inside = (t >= g0) & (t <= g1)
    nohz = np.isin(rec["cpu"], r.rcu["nohz_full"])
    wakes = t[inside & nohz & (kind == ev["wake"])]
    stalls = t[inside & (kind == ev["stall"])]
    out["gp_ms"] = (g1 - g0) / 1e6
    if wakes.size:
        out["core_delay_ms"] = (int(wakes[0]) - g0) / 1e6
    if stalls.size:
        out["stall_after_s"] = (int(stalls[0]) - g0) / 1e9
    return out


def run(scenarios: Sequence[str] = SCENARIOS, policies: Sequence[str] = POLICIES,
        duration_ns: Optional[int] = None) -> Dict[str, Dict[str, Dict[str, float]]]:
    """{scenario: {policy: row}}."""
    return {s: {p: measure(Simulation(scenario(s, p, duration_ns)).run()) for p in policies} for s in scenarios}


# ------------------------------------------------------------------------------------ the claims
@dataclass(frozen=True)
class Claim:
    """A claim of the thread: ``metric`` (a row key) is above ``threshold`` for the ``present``
    policies and not for the ``absent`` ones."""

    scenario: str
    text: str
    refs: str
    metric: str
    present: Tuple[str, ...]
    absent: Tuple[str, ...]
    threshold: float = 0.0
    note: str = ""              # why the model disagrees, where it does


CLAIMS = (
    Claim("S1", "P0: rcuc preempts the vCPU after GPs start and end", "L8-20", "rcuc_preemptions", ("P0",), ()),
    Claim("S1", "P1 and P2 suppress the rcuc preemptions", "L8-35, L413-515", "rcuc_preemptions", (), ("P1", "P2")),
    Claim("S1", "the GP still completes via the next VM entry and an FQS scan (not later than 4 jiffies)",
          "L11-12, L2170", "gp_beyond_fqs", (), ("P0", "P1", "P2")),
    Claim("S2", "P1: false positives on the old pCPU", "L836-839", "fp_migrated", ("P1",), ("P2",)),
    Claim("S2", "P1: false negatives on the new pCPU", "L836-839", "fn_new_cpu", ("P1",), ("P2",),
          note="the window is kvm_sched_in to the first VM entry (a context switch and an entry, ~2.5 us); "
               "a tick lands there about once in 400 migrations at HZ 1000, and the first tick in guest "
               "mode exits and stamps the exit before RCU looks"),
    Claim("S2", "P1': false negative on the first tick after vcpu_load", "L2175-2177", "fn_new_cpu", ("P1'",), ("P2",),
          note="a re-pin inside KVM_RUN calls kvm_sched_in, not vcpu_load, so P1' behaves as P1 here; where "
               "KVM_RUN is entered again (S8) the entry follows vcpu_load at once, so no tick finds the zeroed "
               "stamp before the next exit renews it"),
    Claim("S3", "P1: false positives while the vCPU is halted (until wake or 1 s)", "L841-843", "fp_hlt",
          ("P1",), ("P1''", "P2")),
    Claim("S3", "P2 and P1'': the HLT race, rcuc woken in the idle task", "L2721-2729, L2823-2830",
          "needless_hlt_race", ("P2", "P1''"), ("P1",)),
    Claim("S4", "P1: false positives for up to 1 s after the VM terminates; a vcpu_put hook fixes them",
          "L845-846, L848-849", "fp_terminated", ("P1",), ("P1'", "P2")),
    Claim("S5", "P1' and P2a: false positives while another task runs; P1'' and P2 correct", "L2168-2173, L2501-2504",
          "fp_preempted", ("P1'", "P2a"), ("P1''", "P2")),
    Claim("S6", "P2 relies on the 1 s rcu_nohz_full_cpu() expiry; rcuc then wakes", "L1408-1414, L2514-2516",
          "gp_1s", ("P2",), ("P0",)),
    Claim("S7", "the GP held up under P1 and P2 is bounded by the 1 s expiry: rcu_core() is asked for within "
          "1 s of the GP's start, however long the burst", "L1360-1365, L1478-1487",
          "core_delay_ms", (), ("P1", "P2"), threshold=1000.0),
    Claim("S7", "compare the stall thresholds: the 1 s expiry is far below the 21 s stall threshold, and the "
          "RCU CPU stall warning still comes under P1 and P2", "L1776-1777, L2514-2516", "stall_warnings",
          ("P0", "P1", "P2"), ()),
    Claim("S8", "P2: false negatives in the exit-to-userspace window", "L2565-2572", "needless_user_exit",
          ("P2",), ("P1",)),
)


def verdicts(rows) -> List[Dict]:
    """For each claim whose scenario was run: the metric per policy, whether it holds (present
    where claimed, absent where claimed), and the other policies where the model finds it."""
    out = []
    for c in CLAIMS:
        if c.scenario not in rows:
            continue
        r = rows[c.scenario]
        shows = {p: r[p][c.metric] > c.threshold for p in r}
        holds_present = all(shows[p] for p in c.present if p in r)
        holds_absent = not any(shows[p] for p in c.absent if p in r)
        out.append({"claim": c, "values": {p: r[p][c.metric] for p in r}, "present_ok": holds_present,
                    "absent_ok": holds_absent, "holds": holds_present and holds_absent,
                    "also": [p for p in r if shows[p] and p not in c.present]})
    return out


# ------------------------------------------------------------------------------------ question 7
#: The note's open question 7: with the vCPU threads above rcuc (SCHED_FIFO 2 against rcuc's
#: kthread_prio 1), rcuc cannot preempt them but may be starved; what happens to GP latency and
#: stall warnings? Runs are longer than the 21 s stall timeout.
PRIORITY_DURATION_NS = 30_000_000_000
PRIORITY_SCENARIOS = ("S1", "S3")
PRIORITY_POLICIES = ("P0", "P2")
PRIORITY_VCPU = (("SCHED_OTHER", 0), ("SCHED_FIFO 2", 2))


def priority_rows(duration_ns: int = PRIORITY_DURATION_NS, scenarios: Sequence[str] = PRIORITY_SCENARIOS,
                  policies: Sequence[str] = PRIORITY_POLICIES) -> List[Dict]:
    """Question 7: each scenario and policy with the vCPU threads SCHED_OTHER and SCHED_FIFO 2;
    a row has :func:`measure`'s metrics and ``rcuc_cpu_us``, the CPU time rcuc/N got on the
    nohz_full CPUs.

    >>> rows = priority_rows(200_000_000, ["S1"], ["P0"])
    >>> [(r["vcpu"], r["rcuc_preemptions"] > 0, r["rcuc_cpu_us"] > 0) for r in rows]
    [('SCHED_OTHER', True, True), ('SCHED_FIFO 2', False, False)]
    """
    out = []
    for name in scenarios:
        for label, prio in PRIORITY_VCPU:
            for p in policies:
                r = Simulation(scenario(name, p, duration_ns, vcpu_fifo=prio)).run()
                row = {"scenario": name, "vcpu": label, "policy": p, **measure(r)}
                row["rcuc_cpu_us"] = sum(r.task(f"rcuc/{c}").cpu_ns for c in NOHZ) / 1e3
                out.append(row)
    return out


def markdown_priorities(rows: List[Dict]) -> str:
    """Question 7: the README table."""
    out = ["| scenario | vCPU threads | policy | rcuc preemptions | rcuc CPU time us | rcuc wake-ups | GPs | "
           "GP max ms | sync_rcu max ms | stall warnings | cyclictest max us |", "|---" * 11 + "|"]
    for r in rows:
        out.append(f"| {r['scenario']} | {r['vcpu']} | {r['policy']} | {r['rcuc_preemptions']:d} | "
                   f"{r['rcuc_cpu_us']:.0f} | {r['rcuc_wakeups']:d} | {r['gps']:d} | {r['gp_max_ms']:.1f} | "
                   f"{r['sync_max_ms']:.2f} | {r['stall_warnings']:d} | "
                   + (f"{r['lat_max_us']:.1f} |" if r["scenario"] != "S3" else "- |"))     # S3 runs no cyclictest
    return "\n".join(out)


# ------------------------------------------------------------------------------------ S10
#: S10, P1's window W against HZ. Sean: jiffies read at a guest exit are "a full tick behind" on
#: many exits (L131-132); the 1 s window was "copied from rcu_nohz_full_cpu()" (L47-50).
WINDOW_HZ = (100, 250, 1000)
#: what each scenario shows of the window: S8 false negatives (exits to userspace every 60-140
#: us), S5 false negatives and GPs held (5 ms preemptions), S3 false positives (halts)
WINDOW_SCENARIOS = ("S8", "S5", "S3")
WINDOW_DURATION_NS = 2_000_000_000
WINDOW_METRICS = ("needless", "fp", "held", "gp_max_ms", "violations")
#: no policies to name (P1 throughout): :func:`window_verdict` checks it over the windows instead
WINDOW_CLAIM = Claim("S10", "jiffies read at an exit are a full tick behind: it matters only for small windows",
                     "L131-132, L47-50", "S8_needless", (), (),
                     note="S8 misses at W = 1 jiffy at every HZ, none from W = 2")


def window_jiffies(hz: int) -> Tuple[int, ...]:
    """The windows swept at ``hz``: 1, 2 and 4 jiffies, 100 ms and 1 s (P1's default)."""
    return (1, 2, 4, hz // 10, hz)


def window_sweep(hzs: Sequence[int] = WINDOW_HZ, scenarios: Sequence[str] = WINDOW_SCENARIOS,
                 duration_ns: int = WINDOW_DURATION_NS) -> List[Dict[str, float]]:
    """S10: P1 with each window of :func:`window_jiffies` at each HZ, one row per (HZ, W): the
    ``WINDOW_METRICS`` of each scenario, as ``<scenario>_<metric>``.

    >>> rows = window_sweep([1000], ["S8"], duration_ns=300_000_000)
    >>> [r["S8_needless"] > 0 for r in rows]          # a full tick behind: only W = 1 misses
    [True, False, False, False, False]
    """
    out = []
    for hz in hzs:
        for w in window_jiffies(hz):
            row: Dict[str, float] = {"hz": hz, "window_jiffies": w, "window_ms": w * 1000 / hz}
            for name in scenarios:
                m = measure(Simulation(scenario(name, "P1", duration_ns, hz=hz, window_jiffies=w)).run())
                row.update({f"{name}_{k}": m[k] for k in WINDOW_METRICS})
            out.append(row)
    return out


def window_verdict(rows: List[Dict[str, float]]) -> Dict:
    """:data:`WINDOW_CLAIM` on a sweep: at every HZ, W = 1 jiffy has S8 false negatives (an exit
    in the jiffy before the tick is stamped one jiffy old) and W = 2 has none."""
    w1 = {r["hz"]: r["S8_needless"] for r in rows if r["window_jiffies"] == 1}
    w2 = {r["hz"]: r["S8_needless"] for r in rows if r["window_jiffies"] == 2}
    present_ok, absent_ok = all(v > 0 for v in w1.values()), not any(v > 0 for v in w2.values())
    return {"claim": WINDOW_CLAIM, "w1": w1, "w2": w2, "present_ok": present_ok, "absent_ok": absent_ok,
            "holds": present_ok and absent_ok}


#: the S10 table's columns: (row key, heading), what each scenario shows of the window
WINDOW_COLUMNS = (("S8_needless", "S8 needless rcuc"), ("S5_needless", "S5 needless rcuc"),
                  ("S5_held", "S5 GP-held ticks"), ("S3_needless", "S3 needless rcuc"), ("S3_fp", "S3 FP ticks"),
                  ("S3_held", "S3 GP-held ticks"))


def markdown_window_sweep(rows: List[Dict[str, float]]) -> str:
    """S10: the README table and the verdict."""
    cols = [(k, h) for k, h in WINDOW_COLUMNS if all(k in r for r in rows)]
    heads = ["HZ", "W jiffies", "W ms"] + [h for _, h in cols]
    keys = [k for k, _ in cols]
    out = ["| " + " | ".join(heads) + " |", "|---" * len(heads) + "|"]
    for r in rows:
        out.append(f"| {r['hz']} | {r['window_jiffies']} | {r['window_ms']:g} | "
                   + " | ".join(f"{r[k]:g}" for k in keys) + " |")
    v = window_verdict(rows)
    c = v["claim"]
    out.append("")
    out.append(f"Thread ({c.refs}): {c.text} -> {'reproduced' if v['holds'] else 'not reproduced'} "
               f"[S8 needless rcuc at W = 1: {', '.join(f'HZ {h}: {n:g}' for h, n in v['w1'].items())}; "
               f"at W = 2: {', '.join(f'HZ {h}: {n:g}' for h, n in v['w2'].items())}]")
    return "\n".join(out)


# ------------------------------------------------------------------------------------ tables
COLUMNS = (("rcuc_preemptions", "rcuc preempt", "{:d}"), ("rcuc_preempt_us", "preempt us", "{:.0f}"),
           ("lat_max_us", "ct max us", "{:.1f}"), ("gps", "GPs", "{:d}"), ("gp_max_ms", "GP max ms", "{:.1f}"),
           ("sync_mean_ms", "sync mean ms", "{:.2f}"), ("qs_by_fqs", "QS by FQS", "{:d}"), ("fp", "FP", "{:d}"),
           ("fn", "FN", "{:d}"), ("held", "held", "{:d}"), ("needless", "needless", "{:d}"))


def _causes(row, kind) -> str:
    return " ".join(f"{c}:{row[f'{kind}_{c}']}" for c in CAUSES if row[f"{kind}_{c}"]) or "-"


#: columns of a traced scenario's table (S7, :func:`gp_timing`)
TIMING_COLUMNS = (("core_delay_ms", "rcu_core ms", "{:.0f}"), ("stall_after_s", "stall s", "{:.1f}"))


def format_table(rows, name: str) -> str:
    r = rows[name]
    cols = COLUMNS + tuple(c for c in TIMING_COLUMNS if all(c[0] in row for row in r.values()))
    head = f"{name}: {TITLES[name]}"
    heads = "".join(f"{h:>14s}" for _, h, _ in cols)
    lines = [head, "  " + f"{'policy':6s}" + heads + "   FP / FN / needless by cause"]
    for p, row in r.items():
        cells = "".join(f"{f.format(row[k]):>14s}" for k, _, f in cols)
        lines.append(f"  {p:6s}{cells}   {_causes(row, 'fp')} / {_causes(row, 'fn')} / {_causes(row, 'needless')}")
    for v in verdicts({name: r}):
        c = v["claim"]
        vals = ", ".join(f"{p}={v['values'][p]:g}" for p in c.present + c.absent if p in v["values"])
        mark = "reproduced" if v["holds"] else "NOT reproduced"
        also = f"; the model also finds it for {', '.join(v['also'])}" if v["also"] and c.present else ""
        lines.append(f"  thread ({c.refs}): {c.text} -> {mark} [{c.metric}: {vals}]{also}")
        if not v["holds"] and c.note:
            lines.append(f"    why: {c.note}")
    return "\n".join(lines)


def markdown_s1(rows) -> str:
    """S1, every policy: the README table."""
    keys = ("rcuc_preemptions", "rcuc_preempt_us", "lat_p999_us", "lat_p9999_us", "lat_max_us", "gps", "gp_max_ms",
            "sync_mean_ms", "sync_max_ms", "qs_by_fqs", "rcuc_wakeups")
    heads = ("rcuc preemptions", "rcuc time us", "cyclictest p99.9 us", "p99.99 us", "max us", "GPs", "GP max ms",
             "sync_rcu mean ms", "max ms", "QS by FQS", "rcuc wake-ups")
    fmt = {k: f for k, _, f in COLUMNS}
    fmt.update({"rcuc_wakeups": "{:d}", "lat_p999_us": "{:.1f}", "lat_p9999_us": "{:.1f}", "sync_max_ms": "{:.2f}"})
    out = ["| policy | " + " | ".join(heads) + " |", "|---" * (len(heads) + 1) + "|"]
    for p, row in rows["S1"].items():
        out.append(f"| {p} | " + " | ".join(fmt[k].format(row[k]) for k in keys) + " |")
    return "\n".join(out)


def markdown_s7(rows) -> str:
    """S7, every policy: the README table (the longest GP, :func:`gp_timing`)."""
    out = ["| policy | GP ms | rcu_core() asked for after ms | stall warning after s | GP-held ticks | "
           "rcuc wake-ups | sync_rcu max ms |", "|---" * 7 + "|"]
    for p, row in rows["S7"].items():
        out.append(f"| {p} | {row['gp_ms']:.1f} | {row['core_delay_ms']:.0f} | {row['stall_after_s']:.2f} | "
                   f"{row['held']:d} | {row['rcuc_wakeups']:d} | {row['sync_max_ms']:.1f} |")
    return "\n".join(out)


def markdown_claims(rows) -> str:
    """Every claim with its measured values: the README table."""
    out = ["| scenario | the thread says | metric | " + " | ".join(POLICIES) + " | verdict |",
           "|---" * (len(POLICIES) + 4) + "|"]
    for v in verdicts(rows):
        c = v["claim"]
        vals = " | ".join(f"{v['values'][p]:g}" for p in POLICIES)
        verdict = "reproduced" if v["holds"] else "not reproduced"
        if v["also"] and c.present:
            verdict += "; also " + ", ".join(v["also"])
        out.append(f"| {c.scenario} | {c.text} ({c.refs}) | {c.metric} | {vals} | {verdict} |")
    return "\n".join(out)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="pvsched reproduce seed003",
                                description="Seed 003: the RCU tick on nohz_full CPUs running guests, every policy.")
    every = SCENARIOS + ("S10", "Q7")
    p.add_argument("--scenarios", default=",".join(every),
                   help="comma-separated subset of " + ",".join(every) + " (S10: P1's window against HZ; "
                        "Q7: vCPU threads above rcuc)")
    p.add_argument("--quick", action="store_true",
                   help="each scenario as short as its claims allow (QUICK_DURATION_NS; S7 and S10 keep theirs)")
    a = p.parse_args(argv)
    names = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    if not names or any(s not in every for s in names):
        p.error(f"--scenarios takes names from {','.join(every)}")
    t0 = time.perf_counter()
    print("4 pCPUs (0 housekeeping, 1-3 nohz_full, rcuc/N FIFO 1, 20 us a pass), HZ 1000, PREEMPT_RT host;\n"
          "vCPUs SCHED_OTHER pinned; guest cyclictest -i 200; synchronize_rcu() every ~5 ms on pCPU 0\n")
    rows = {}
    for s in names:
        if s not in ("S10", "Q7"):
            rows.update(run([s], duration_ns=QUICK_DURATION_NS[s] if a.quick else None))
            print(format_table(rows, s) + "\n")
    results = [(v["claim"], v["holds"]) for v in verdicts(rows)]
    if "S10" in names:
        sweep = window_sweep()
        print(f"S10: P1's window W against HZ ({WINDOW_DURATION_NS / 1e9:g} s each, {', '.join(WINDOW_SCENARIOS)})")
        print(markdown_window_sweep(sweep) + "\n")
        results.append((WINDOW_CLAIM, window_verdict(sweep)["holds"]))
    if "Q7" in names:
        print(f"Q7: the vCPU threads above rcuc ({PRIORITY_DURATION_NS / 1e9:g} s each, beyond the stall timeout)")
        print(markdown_priorities(priority_rows()) + "\n")
    bad = [c for c, holds in results if not holds]
    if results:
        print(f"{len(results) - len(bad)} of {len(results)} claims reproduced"
              + (f"; not: {'; '.join(c.scenario + ' ' + c.text for c in bad)}" if bad else ""))
    print(f"({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
