"""Reference scenarios of the golden-results test (``test_golden.py``).

Each case is a name and a function returning ``(Scenario, until_ns)``. They cover the two
benchmark scenarios (shortened), the seed experiments' cells, the TOML examples and a fixed sample
of randomly generated scenarios (host-only and two-level, every policy switch), so that a refactor
or optimisation that changes any result of any mechanism shows up as a changed hash.

The random sample uses ``random.Random`` with fixed seeds, not hypothesis: the cases must be the
same on every run and every machine.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from pvsched import (VM, BoostPolicy, Cgroup, Debooster, GuestKernel, Host, Scenario, Task,
                     YieldPolicy)
from pvsched.workloads import (Cyclictest, Hog, IPISync, Periodic, Phases, RunSleep,
                               SpinlockLoop)

ROOT = Path(__file__).resolve().parent.parent
Case = Callable[[], Tuple[Scenario, int]]


def _bench():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import scenarios
    finally:
        sys.path.pop(0)
    return scenarios


def _host_bench():
    return _bench().host_only(duration_ns=500_000_000), 500_000_000


def _two_level_bench():
    return _bench().two_level(duration_ns=3_000_000_000), 3_000_000_000


def _seed000(mode: str, busy: bool, interval_us: int):
    def case():
        from pvsched.experiments.seed000 import Setup, cyclictest_scenario
        return cyclictest_scenario(Setup(duration_ns=300_000_000), mode, busy, interval_us), 300_000_000
    return case


def _seed000_oboe(mode: str, busy: bool, buffer_ms: int):
    def case():
        from pvsched.experiments.seed000 import Setup, oboe_scenario
        return oboe_scenario(Setup(duration_ns=300_000_000), mode, busy, buffer_ms), 300_000_000
    return case


def _seed002(nvm: int, load: str, policy: str, **kw):
    def case():
        from pvsched.experiments.seed002 import scenario
        sc = scenario(nvm, load, policy, duration_ns=60_000_000, **kw)
        return sc, sc.duration_ns
    return case


def _seed002_pvsy(pvsy: bool, ipi: bool):
    def case():
        from pvsched.experiments.seed002 import scenario
        sc = scenario(2, "dedup", "ipi" if ipi else "baseline", duration_ns=60_000_000)
        for vm in sc.vms:
            vm.tasks[0].workload = IPISync(compute_ns=100_000, compute_dist="exponential", handler_ns=3_000,
                                           targets=2)
            vm.guest = GuestKernel(pv_sched_yield=pvsy)
        return sc, sc.duration_ns
    return case


def _seed004(scenario: str, policy: str, *args):
    def case():
        from pvsched.experiments import seed004
        sc = getattr(seed004, f"scenario_{scenario}")(policy, *args, duration_ns=100_000_000)
        return sc, sc.duration_ns
    return case


def _seed001(mode: str, layout: str, **kw):
    def case():
        from pvsched.experiments.seed001 import Setup, scenario
        sc = scenario(Setup(layout=layout, warmup_ns=300_000_000, duration_ns=700_000_000, **kw), mode)
        return sc, sc.duration_ns
    return case


def _seed003(name: str, policy: str):
    def case():
        from pvsched.experiments.seed003 import DURATION_NS, scenario
        d = DURATION_NS[name] // 4
        return scenario(name, policy, d), d
    return case


def random_rcu_scenario(seed: int) -> Tuple[Scenario, int]:
    """A random scenario with host RCU: nohz_full CPUs, a guest policy, synchronize_rcu() callers,
    exits to userspace, faults, re-pinning and an intruder (its own generator, so that the
    random/N cases above keep their draws)."""
    from pvsched import RcuConfig, RcuGuestPolicy
    from pvsched.policies.rcu_guest import RCU_GUEST_MODES
    from pvsched.workloads import RcuUpdater
    rnd = random.Random(10_000 + seed)
    ncpu = rnd.choice([2, 3, 4])
    nohz = sorted(rnd.sample(range(1, ncpu), rnd.randint(1, ncpu - 1)))
    host = Host(cpus=ncpu, hz=rnd.choice([250, 1000]), nohz_full=nohz, context_switch_ns=rnd.choice([0, 2000]),
                rcu=RcuConfig(tick_dependency=rnd.choice(["none", "timer"]), rcuc_ns=rnd.choice([5000, 20_000]),
                              jiffies_till_first_fqs=rnd.choice([None, 1, 10])),
                rcu_guest_policy=RcuGuestPolicy(rnd.choice(RCU_GUEST_MODES), patience_ms=rnd.choice([0, 1000])))
    phases = [("run", rnd.randint(10_000, 200_000), rnd.randint(0, 100_000))]
    phases += rnd.sample([("user_io", 20_000), ("mmio", 5_000), ("fault", 2_000_000), ("sleep", 300_000, 500_000)],
                         rnd.randint(1, 3))
    vm = VM("g", vcpus=len(nohz), pin=[rnd.choice(nohz) for _ in nohz], hlt_exits=rnd.random() < 0.5,
            halt_poll_ns=rnd.choice([0, 50_000]),
            tasks=[Task("p", Phases(phases), count=len(nohz)),
                   Task("c", Cyclictest(interval_ns=rnd.choice([100_000, 1_000_000])), policy="fifo", rt_priority=50)])
    if rnd.random() < 0.4:
        vm.migrate_pin, vm.migrate_period_ns = [rnd.randrange(ncpu) for _ in nohz], rnd.choice([3_000_000, 20_000_000])
    tasks = [Task("u", RcuUpdater(interval_ns=rnd.choice([1_000_000, 5_000_000]), arrival="poisson"),
                  count=rnd.randint(1, 3), cpus=[0])]
    if rnd.random() < 0.5:
        tasks.append(Task("intruder", RunSleep(run_ns=2_000_000, sleep_ns=8_000_000), cpus=[rnd.choice(nohz)],
                          policy="fifo", rt_priority=1))
    return Scenario(host=host, tasks=tasks, vms=[vm], check_invariants=True, seed=seed), 200_000_000


def _example(name: str):
    def case():
        return Scenario.from_toml(str(ROOT / "examples" / name)), 200_000_000
    return case


# ---------------------------------------------------------------- random sample
def _workload(rnd: random.Random, guest: bool, ncpu: int):
    kinds = ["hog", "periodic", "runsleep", "phases", "cyclictest"]
    if guest:
        kinds += ["spin"] + (["ipi"] if ncpu >= 2 else [])
    k = rnd.choice(kinds)
    if k == "hog":
        return Hog()
    if k == "periodic":
        period = rnd.randint(300_000, 5_000_000)
        return Periodic(run_ns=rnd.randint(10_000, period), period_ns=period,
                        jitter_ns=rnd.choice([0, rnd.randint(0, 500_000)]),
                        run_jitter_ns=rnd.choice([0, rnd.randint(0, 100_000)]))
    if k == "runsleep":
        return RunSleep(run_ns=rnd.randint(10_000, 3_000_000), sleep_ns=rnd.randint(10_000, 3_000_000),
                        run_jitter_ns=rnd.randint(0, 200_000), sleep_jitter_ns=rnd.randint(0, 200_000))
    if k == "phases":
        ph = []
        for _ in range(rnd.randint(1, 4)):
            p = rnd.choice(["run", "sleep", "yield", "timer"] + (["mmio", "critical"] if guest else []))
            ph.append(("yield",) if p == "yield" else (p, rnd.randint(1_000, 2_000_000)))
        ph.append(("run", 100_000))
        return Phases(ph, loops=rnd.randint(0, 20))
    if k == "cyclictest":
        return Cyclictest(interval_ns=rnd.randint(100_000, 2_000_000), work_ns=rnd.randint(1, 50_000))
    if k == "spin":
        return SpinlockLoop(lock=0, nlocks=rnd.randint(1, 3), hold_ns=rnd.randint(500, 20_000),
                            hold_dist=rnd.choice(["fixed", "uniform", "exponential"]),
                            hold_spread_ns=rnd.randint(0, 5_000), think_ns=rnd.randint(1_000, 100_000),
                            pv=rnd.random() < 0.5, spin_threshold_ns=rnd.randint(10_000, 1_000_000),
                            sleep_ns=rnd.choice([0, rnd.randint(10_000, 500_000)]))
    return IPISync(compute_ns=rnd.randint(5_000, 200_000), handler_ns=rnd.randint(500, 10_000),
                   targets=rnd.randint(1, min(2, ncpu - 1)), sleep_ns=rnd.choice([0, rnd.randint(10_000, 300_000)]))


def _tasks(rnd: random.Random, ncpu: int, cgroups: List[str], guest: bool, prefix: str) -> List[Task]:
    out = []
    for i in range(rnd.randint(1, 6)):
        w = _workload(rnd, guest, ncpu)
        policy = rnd.choice(["normal"] * 4 + ["batch", "idle", "fifo", "rr"])
        if isinstance(w, (SpinlockLoop, IPISync)):
            policy = "normal"
        rt = rnd.randint(1, 99) if policy in ("fifo", "rr") else 0
        cpus = sorted(rnd.sample(range(ncpu), rnd.randint(1, ncpu))) if rnd.random() < 0.3 else None
        cg = rnd.choice([None] + cgroups) if (cgroups and policy not in ("fifo", "rr")) else None
        out.append(Task(f"{prefix}{i}", w, policy=policy, rt_priority=rt, nice=rnd.randint(-20, 19),
                        cgroup=cg, cpus=cpus, start_ns=rnd.randint(0, 3_000_000),
                        slice_ns=rnd.choice([None, rnd.randint(100_000, 10_000_000)]),
                        count=rnd.randint(1, 3)))
    return out


def _features(rnd: random.Random, fair_class: str) -> Dict[str, bool]:
    if fair_class == "eevdf":
        return {k: rnd.random() < 0.5 for k in ("DELAY_DEQUEUE", "NEXT_BUDDY", "REWEIGHT_INPLACE")}
    return {k: rnd.random() < 0.5 for k in ("NEXT_BUDDY", "GENTLE_FAIR_SLEEPERS")}


def random_scenario(seed: int) -> Tuple[Scenario, int]:
    rnd = random.Random(seed)
    ncpu = rnd.randint(1, 6)
    cgroups: List[Cgroup] = []
    for i in range(rnd.randint(0, 4)):
        parent = rnd.choice([None] + [c.name for c in cgroups])
        cgroups.append(Cgroup(f"g{i}", parent=parent, weight=rnd.randint(1, 10000), idle=rnd.random() < 0.1))
    fair_class = rnd.choice(["eevdf", "eevdf", "cfs"])
    host = Host(cpus=ncpu, hz=rnd.choice([100, 250, 1000]), preempt=rnd.choice(["full", "lazy"]),
                fair_class=fair_class, features=_features(rnd, fair_class),
                rt_guard=rnd.choice(["fair_server", "rt_throttle", "none"]),
                nohz_idle=rnd.random() < 0.7, load_balance=rnd.random() < 0.8,
                periodic_balance=rnd.random() < 0.7, context_switch_ns=rnd.choice([0, 0, 1_500]),
                idle_states=rnd.choice([[], [[0, 1_000], [200_000, 4_000]]]),
                debooster=Debooster(enabled=rnd.random() < 0.3, rate_limit_mode=rnd.choice(["v1", "v2"])))
    names = [c.name for c in cgroups]
    tasks = _tasks(rnd, ncpu, names, False, "t")
    vms = []
    if rnd.random() < 0.6:
        for k in range(rnd.randint(1, 2)):
            nv = rnd.randint(1, 4)
            gclass = rnd.choice(["eevdf", "cfs"])
            spinlock = rnd.choice(["queued", "ticket", "tas"])
            gtasks = _tasks(rnd, nv, [], True, "w")
            if spinlock == "tas":
                for t in gtasks:
                    if isinstance(t.workload, SpinlockLoop):
                        t.workload.pv = False
            boost = None
            if rnd.random() < 0.4:
                boost = BoostPolicy(rnd.choice(["vanilla", "static", "dynamic", "bounded"]))
            pin = [rnd.randrange(ncpu) for _ in range(nv)] if rnd.random() < 0.3 else None
            vms.append(VM(f"vm{k}", vcpus=nv, tasks=gtasks, pin=pin,
                          guest=GuestKernel(hz=rnd.choice([100, 250, 1000]), fair_class=gclass,
                                            preempt=rnd.choice(["full", "lazy"]),
                                            features=_features(rnd, gclass),
                                            idle_poll_ns=rnd.choice([0, 0, 50_000]), spinlock=spinlock,
                                            pv_sched_yield=rnd.random() < 0.3),
                          hlt_exits=rnd.random() < 0.8, posted_interrupts=rnd.random() < 0.4,
                          halt_poll_ns=rnd.choice([0, 200_000]), boost=boost,
                          weight=rnd.randint(10, 1000), start_ns=rnd.randint(0, 2_000_000),
                          ple=rnd.random() < 0.8,
                          yield_policy=YieldPolicy(ipi_aware=rnd.random() < 0.5,
                                                   fix_last_boosted=rnd.random() < 0.5)))
    until = rnd.randint(30_000_000, 150_000_000)
    sc = Scenario(host=host, cgroups=cgroups, tasks=tasks, vms=vms, seed=rnd.randrange(2**63),
                  shuffle_ties=rnd.random() < 0.3, check_invariants=rnd.random() < 0.5, duration_ns=until)
    return sc, until


def _odd_hz():
    """HZ values whose TICK_NSEC the kernel rounds: host 1024 (976563 ns), guest 24 (41666667 ns)."""
    vm = VM("v", vcpus=2, guest=GuestKernel(hz=24),
            tasks=[Task("ct", Cyclictest(interval_ns=700_000)), Task("h", Hog(), count=2),
                   Task("p", Periodic(run_ns=300_000, period_ns=5_000_000, jitter_ns=1_000_000))])
    sc = Scenario(host=Host(cpus=2, hz=1024), vms=[vm], seed=7,
                  tasks=[Task("hog", Hog()), Task("p", Periodic(run_ns=300_000, period_ns=2_000_000))])
    return sc, 200_000_000


def _random(seed: int):
    return lambda: random_scenario(seed)


CASES: Dict[str, Case] = {
    "bench/host_only": _host_bench,
    "bench/two_level": _two_level_bench,
}
for _mode in ("vanilla", "static", "dynamic", "bounded"):
    for _busy in (False, True):
        CASES[f"seed000/cyclictest/{_mode}/{'busy' if _busy else 'idle'}"] = _seed000(_mode, _busy, 500)
    CASES[f"seed000/oboe/{_mode}/busy"] = _seed000_oboe(_mode, True, 2)
for _load in ("dbench", "dedup"):
    for _pol in ("baseline", "debooster", "ipi", "both", "lbfix"):
        CASES[f"seed002/{_load}/2vm/{_pol}"] = _seed002(2, _load, _pol)
    CASES[f"seed002/{_load}/3vm/both/v6.19"] = _seed002(3, _load, "both", kvm="v6.19")
CASES["seed002/dedup/2vm/ipi/ipiv"] = _seed002(2, "dedup", "ipi",
                                              vm_overrides={"posted_interrupts": True, "ipi_virtualization": True})
for _mode in ("off", "exact", "tick"):
    CASES[f"seed001/scopes/{_mode}"] = _seed001(_mode, "scopes")
    CASES[f"seed001/flat/{_mode}"] = _seed001(_mode, "flat")
CASES["seed001/nohz_full/tick"] = _seed001("tick", "scopes", nohz_full=list(range(1, 16)))
CASES["seed001/mperf/exact"] = _seed001("exact", "flat", mperf_ppm=-2_000)
CASES["seed002/dedup/2vm/pvsy"] = _seed002_pvsy(True, False)
CASES["seed002/dedup/2vm/pvsy+ipi"] = _seed002_pvsy(True, True)
for _name, _pol in (("S1", "P0"), ("S1", "P2"), ("S1", "X1"), ("S2", "P2a"), ("S3", "P1"), ("S3", "P2"), ("S4", "P1"),
                    ("S5", "P1'"), ("S5", "P1''"), ("S6", "P2"), ("S7", "P0"), ("S7", "P2"), ("S8", "P2"), ("S8", "X2")):
    CASES[f"seed003/{_name}/{_pol}"] = _seed003(_name, _pol)
for _s in range(12):
    CASES[f"random_rcu/{_s}"] = (lambda s: (lambda: random_rcu_scenario(s)))(_s)
for _sc, _pols in (("dedicated", ("none", "passthrough", "nop", "nop_yield", "userspace", "toggle")),
                  ("overcommit", ("hlt", "threads", "userspace", "toggle")),
                  ("busy", ("userspace", "userspace_fb"))):
    for _pol in _pols:
        CASES[f"seed004/{_sc}/{_pol}"] = _seed004(_sc, _pol)
CASES["seed004/size/500us/thread_slice"] = _seed004("size", "thread_slice", 500)
CASES["seed004/size/500us/userspace"] = _seed004("size", "userspace", 500)
for _f in sorted(p.name for p in (ROOT / "examples").glob("*.toml") if not p.name.startswith("sweep")):
    CASES[f"example/{_f}"] = _example(_f)
CASES["tick/host-hz1024-guest-hz24"] = _odd_hz
for _s in range(120):
    CASES[f"random/{_s}"] = _random(_s)
