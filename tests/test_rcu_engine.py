"""RCU in the engine: nohz_full tick stop with RCU's dependencies, rcuc/N preempting vCPU threads,
synchronize_rcu() callers, guest entry/exit as extended quiescent states, exits to userspace,
preemptible fault handling, re-pinning, the invariants, and the Scenario options (validation
naming the field, dict/TOML round trip, sweeps by field path)."""
import random

import pytest

from pvsched import VM, Host, RcuConfig, RcuGuestPolicy, Scenario, ScenarioError, Simulation, Task
from pvsched.policies.rcu_guest import RCU_GUEST_MODES
from pvsched.workloads import Cyclictest, Hog, Phases, RcuUpdater, RunSleep

MS = 1_000_000


def rt_host(policy="vanilla", dep="timer", cpus=3, nohz=(1, 2), **rcu):
    return Host(cpus=cpus, nohz_full=list(nohz), context_switch_ns=2_000,
                rcu=RcuConfig(tick_dependency=dep, **rcu), rcu_guest_policy=policy)


def updater(**kw):
    return Task("sync_rcu", RcuUpdater(**({"interval_ns": 5 * MS, "arrival": "poisson"} | kw)), cpus=[0])


def ct(i):
    return Task(f"ct{i}", Cyclictest(interval_ns=200_000), policy="fifo", rt_priority=95, cpus=[i])


def s1(policy="vanilla", duration=500 * MS, **kw):
    vm = VM("rt", vcpus=2, pin=[1, 2], hlt_exits=False, tasks=[ct(0), ct(1)])
    return Scenario(host=rt_host(policy, **kw), tasks=[updater()], vms=[vm], duration_ns=duration,
                    check_invariants=True)


def run(sc):
    r = Simulation(sc).run()
    assert r.violations["count"] == 0, r.violations
    return r


# ------------------------------------------------------------------------------------ off by default
def test_rcu_is_off_unless_configured():
    vm = VM("v", vcpus=1, pin=[1], tasks=[ct(0)])
    r = Simulation(Scenario(host=Host(cpus=2, nohz_full=[1]), vms=[vm], duration_ns=50 * MS)).run()
    assert r.rcu is None and not any(n.startswith("rcuc/") for n in r.task_names)
    with pytest.raises(KeyError, match="not modelled"):
        r.rcu_latency()


@pytest.mark.parametrize("how", ["config", "updater", "policy"])
def test_rcu_is_on_with_a_config_an_updater_or_a_policy(how):
    host = Host(cpus=3, nohz_full=[1, 2], rcu=RcuConfig() if how == "config" else None,
                rcu_guest_policy="run_loop" if how == "policy" else "vanilla")
    sc = Scenario(host=host, tasks=[updater()] if how == "updater" else [Task("h", Hog(), cpus=[0])],
                  duration_ns=20 * MS)
    r = run(sc)
    assert r.rcu is not None and list(r.rcu["nohz_full"]) == [1, 2]
    assert [n for n in r.task_names if n.startswith("rcuc/")] == ["rcuc/1", "rcuc/2"]


# ------------------------------------------------------------------------------------ S1 shape
def test_vanilla_rcuc_preempts_the_vcpu_and_the_run_loop_flag_stops_it():
    p0, p2 = run(s1("vanilla")), run(s1("run_loop_sched"))
    n0 = int(p0.vcpus["rcuc_preemptions"].sum())
    wake0 = int(sum(p0.rcu["cpu"]["rcuc_wakeups"][c] for c in (1, 2)))
    assert n0 > 0 and n0 == wake0                  # every wake-up preempts the SCHED_OTHER vCPU
    assert p0.vcpus["rcuc_preempt_ns"].sum() >= n0 * 20_000
    assert p0.task("rcuc/1").nr_switches > 0 and p0.latency("rcuc/1").max_ns < 10_000
    assert int(p2.vcpus["rcuc_preemptions"].sum()) == 0
    for r in (p0, p2):                             # every GP completes, within the first FQS scan
        rc = r.rcu
        assert rc["gps_done"] >= rc["gps_started"] - 1 and rc["sync_done"] >= rc["sync_calls"] - 1
        assert rc["gp_ns_max"] <= 4 * MS
    # with the flag the GP kthread reports the guests' EQS; vanilla's rcuc reports them locally
    assert p2.rcu["cpu"]["qs_fqs"][1] > 0 == p2.rcu["cpu"]["qs_local"][1]
    assert p0.rcu["cpu"]["qs_local"][1] > 0
    assert p2.latency("rt/ct0").max_ns < p0.latency("rt/ct0").max_ns


def test_rcu_latency_histograms_agree_with_the_counters():
    r = run(s1("last_exit"))
    for what, n in (("sync", "sync_done"), ("gp", "gps_done"), ("qs", "qs_reports")):
        h = r.rcu_latency(what)
        assert h.count == r.rcu[n] == int(h.counts.sum()) > 0
        assert h.max_ns >= h.mean_ns > 0
    assert r.rcu_latency("sync").mean_ns >= r.rcu_latency("gp").mean_ns / 2


def test_every_policy_runs_clean_and_deterministic():
    for mode in RCU_GUEST_MODES:
        a, b = run(s1(mode, duration=200 * MS)), run(s1(mode, duration=200 * MS))
        assert a.rcu["gps_done"] == b.rcu["gps_done"] > 0
        assert (a.vcpus["rcuc_preemptions"] == b.vcpus["rcuc_preemptions"]).all()


# ------------------------------------------------------------------------------------ the tick
def test_nohz_full_tick_stops_and_rcu_forces_it_back_for_a_cpu_in_the_kernel():
    # A host task looping in the kernel on nohz_full CPU 1 (host tasks are kernel code here: no
    # EQS; one task: the tick stops) owes each GP a QS it cannot report: the FQS scans mark it
    # urgent after jiffies_till_sched_qs (100 jiffies at HZ 1000) and resched_cpu() it 3 x that
    # after its last resched (at once the first time); the IPI turns the tick on
    # (TICK_DEP_BIT_RCU) and the reschedule is the QS; then the tick stops again.
    sc = Scenario(host=Host(cpus=2, nohz_full=[1], rcu=RcuConfig(tick_dependency="none")),
                  tasks=[updater(interval_ns=50 * MS, arrival="fixed"), Task("k", Hog(), cpus=[1])],
                  duration_ns=1000 * MS, check_invariants=True)
    r = run(sc)
    cpu, rc = r.rcu["cpu"], r.rcu
    assert rc["gps_done"] == rc["sync_done"] >= 3 and rc["sync_calls"] - rc["sync_done"] <= 1
    assert cpu["forced_ticks"][1] >= rc["gps_done"] - 1 and cpu["resched_ipis"][1] >= rc["gps_done"] - 1
    assert cpu["ticks"][1] < 0.05 * cpu["ticks"][0]       # tickless but for the forced ticks
    assert 200 * MS < rc["gp_ns_max"] <= 310 * MS          # 3 x jiffies_to_sched_qs, plus a tick


def test_timer_dependency_keeps_the_tick_running():
    none = run(s1("vanilla", dep="none"))
    timer = run(s1("vanilla", dep="timer"))
    assert none.rcu["cpu"]["ticks"][1] < 10 < timer.rcu["cpu"]["ticks"][1] >= 490
    assert none.vcpus["rcuc_preemptions"].sum() == 0 < timer.vcpus["rcuc_preemptions"].sum()


# ------------------------------------------------------------------------------------ the run loop
def _s8(policy):
    vm = VM("rt", vcpus=1, pin=[1], hlt_exits=False, user_return_ns=1_000, tasks=[
        ct(0), Task("pio", Phases([("run", 60_000, 80_000), ("user_io", 20_000)]), cpus=[0])])
    return Scenario(host=rt_host(policy), tasks=[updater()], vms=[vm], duration_ns=1000 * MS,
                    check_invariants=True)


def test_exits_to_userspace_leave_kvm_run_and_p2_misses_the_window():
    p1, p2 = run(_s8("last_exit")), run(_s8("run_loop_sched"))
    for r in (p1, p2):
        v = r.vcpu("rt/vcpu0")
        assert v["user_exits"] == v["exits_mmio"] == v["kvm_runs"] > 1000 and v["vmm_ns"] >= 20_000 * v["user_exits"]
    c2 = p2.rcu["cpu"]
    assert c2["skip_user"][1] > 0                              # ticks in the VMM: skipped as user mode
    assert c2["needless_user_exit"][1] > 0 == p1.rcu["cpu"]["needless_user_exit"][1]
    assert p1.vcpus["rcuc_preemptions"].sum() == 0 < p2.vcpus["rcuc_preemptions"].sum()


def _s6(policy):
    vm = VM("rt", vcpus=1, pin=[1], hlt_exits=False, tasks=[
        ct(0), Task("swapin", Phases([("sleep", 100 * MS), ("run", 10_000), ("fault", 1500 * MS)], loops=1),
                    cpus=[0])])
    return Scenario(host=rt_host(policy), tasks=[updater()], vms=[vm], duration_ns=2000 * MS,
                    check_invariants=True)


def test_a_long_fault_is_preemptible_and_the_run_loop_flag_waits_for_the_1s_expiry():
    p0, p2 = run(_s6("vanilla")), run(_s6("run_loop_sched"))
    assert p0.vcpu("rt/vcpu0")["exits_fault"] == 1
    assert p0.rcu["gp_ns_max"] < 10 * MS                     # rcuc preempts the fault's handling
    assert 1000 * MS <= p2.rcu["gp_ns_max"] <= 1010 * MS       # rcu_nohz_full_cpu() expires after HZ
    assert p2.rcu["gps_held"] >= 1 and p2.rcu["cpu"]["held_slow_exit"][1] > 0
    assert p2.vcpu("rt/vcpu0")["exit_ns"] >= 1500 * MS


def _burst(kind, policy="vanilla", nohz=(1, 2)):
    vm = VM("rt", vcpus=1, pin=[1], hlt_exits=False, tasks=[
        ct(0), Task("softirq", Phases([("sleep", 100 * MS), ("run", 10_000), (kind, 300 * MS)], loops=1), cpus=[0])])
    return Scenario(host=rt_host(policy, nohz=nohz), tasks=[updater()], vms=[vm], duration_ns=600 * MS,
                    check_invariants=True)


def test_an_interrupt_burst_in_the_run_loop_is_neither_preemptible_nor_a_quiescent_state():
    irq, fault = run(_burst("irq")), run(_burst("fault"))
    v = irq.vcpu("rt/vcpu0")
    assert v["exits_host_intr"] == 1 and v["exits_fault"] == 0 and v["exit_ns"] >= 300 * MS
    assert fault.rcu["gp_ns_max"] < 10 * MS                  # rcuc preempts a fault's handling: a QS
    assert 290 * MS <= irq.rcu["gp_ns_max"] <= 301 * MS      # rcuc, woken at once, waits for the burst's end
    assert irq.vcpus["rcuc_preemptions"].sum() < fault.vcpus["rcuc_preemptions"].sum()
    # where rcu_core() runs from the tick (pCPU 1 not nohz_full), a tick in an exit's preemptible
    # handling (mmio) notes a QS that ends the GP; one in softirq work does not
    housekeeping = {k: run(_burst(k, nohz=(2,))) for k in ("irq", "mmio")}
    assert housekeeping["mmio"].rcu["gp_ns_max"] < 10 * MS
    assert housekeeping["irq"].rcu["gp_ns_max"] >= 290 * MS


def test_an_interrupt_burst_holds_the_policies_skip_to_the_1s_expiry():
    # P2's flag stays set through the burst: the skip alone lasts until the GP is HZ jiffies old
    def sc(burst):
        vm = VM("rt", vcpus=1, pin=[1], hlt_exits=False, tasks=[
            ct(0), Task("softirq", Phases([("sleep", 100 * MS), ("run", 10_000), ("irq", burst)], loops=1),
                        cpus=[0])])
        return Scenario(host=rt_host("run_loop_sched"), tasks=[updater()], vms=[vm], duration_ns=burst + 300 * MS,
                        check_invariants=True)
    short, long = run(sc(500 * MS)), run(sc(1500 * MS))
    assert short.rcu["gps_held"] == 0 < long.rcu["gps_held"]
    assert 490 <= short.rcu["cpu"]["held_slow_exit"][1] <= 505
    assert 995 <= long.rcu["cpu"]["held_slow_exit"][1] <= 1010
    assert long.rcu["gp_ns_max"] >= 1490 * MS                # the burst, not the skip, holds the GP


def test_repinning_moves_the_vcpu_and_p1_keeps_claiming_the_old_cpu():
    def sc(policy):
        vm = VM("rt", vcpus=1, pin=[1], migrate_pin=[2], migrate_period_ns=50 * MS + 333, hlt_exits=False,
                tasks=[ct(0)])
        return Scenario(host=rt_host(policy), tasks=[updater()], vms=[vm], duration_ns=1000 * MS,
                        check_invariants=True)
    p1, p2 = run(sc("last_exit")), run(sc("run_loop_sched"))
    assert p1.task("rt/vcpu0").nr_migrations >= 19
    assert p1.rcu["cpu"]["fp_migrated"][1] > 0 and p1.rcu["cpu"]["fp_migrated"][2] > 0
    assert p2.rcu["cpu"]["fp_migrated"].sum() == 0


def test_hlt_p1_claims_a_guest_entry_p2_does_not():
    def sc(policy):
        vm = VM("rt", vcpus=1, pin=[1], hlt_exits=True, halt_poll_ns=0,
                tasks=[Task("w", RunSleep(run_ns=20_000, sleep_ns=5 * MS), cpus=[0])])
        return Scenario(host=rt_host(policy), tasks=[updater()], vms=[vm], duration_ns=1000 * MS,
                        check_invariants=True)
    p1, p2 = run(sc("last_exit")), run(sc("run_loop_sched"))
    assert p1.rcu["cpu"]["fp_hlt"][1] > 100 and p1.rcu["cpu"]["fp_ns_hlt"][1] > 100 * MS
    assert p2.rcu["cpu"]["fp_hlt"][1] == 0


def test_vm_termination_puts_the_vcpus_and_p1_keeps_claiming_for_a_second():
    def sc(policy, hlt=False):
        vm = VM("rt", vcpus=2, pin=[1, 2], hlt_exits=hlt, halt_poll_ns=0, stop_ns=200 * MS,
                tasks=[ct(0), Task("w", RunSleep(run_ns=20_000, sleep_ns=3 * MS), cpus=[1])])
        return Scenario(host=rt_host(policy), tasks=[updater()], vms=[vm], duration_ns=1500 * MS,
                        check_invariants=True)
    p1, p1r, p2 = run(sc("last_exit")), run(sc("last_exit_reset", hlt=True)), run(sc("run_loop_sched"))
    for r in (p1, p1r, p2):
        v = r.vcpus
        life = v["guest_ns"] + v["exit_ns"] + v["poll_ns"] + v["halted_ns"] + v["preempted_ns"] + v["vmm_ns"]
        assert (life <= 200 * MS + 1).all() and (life >= 199 * MS).all()   # no time after the VM is gone
        assert r.task("rt/vcpu0").cpu_ns <= 200 * MS
        assert r.rcu["gps_done"] > 150 and r.task("rt/vcpu0").nr_switches > 0   # RCU goes on without the VM
    fp = p1.rcu["cpu"]["fp_terminated"]
    assert fp[1] == fp[2] and 990 <= fp[1] <= 1000                     # until the 1 s window lapses
    assert p1r.rcu["cpu"]["fp_terminated"].sum() == 0 == p2.rcu["cpu"]["fp_terminated"].sum()


# ------------------------------------------------------------------------------------ invariants
def _random_rcu_scenario(seed):
    rnd = random.Random(seed)
    ncpu = rnd.choice([2, 3, 4])
    nohz = sorted(rnd.sample(range(1, ncpu), rnd.randint(1, ncpu - 1)))
    host = Host(cpus=ncpu, hz=rnd.choice([100, 250, 1000]), nohz_full=nohz, context_switch_ns=rnd.choice([0, 2000]),
                rcu=RcuConfig(tick_dependency=rnd.choice(["none", "timer"]), rcuc_ns=rnd.choice([0, 5000, 50_000]),
                              jiffies_till_first_fqs=rnd.choice([None, 1, 10]), idle_entry_ns=rnd.choice([0, 2000]),
                              normal_wake_from_gp=rnd.random() < 0.3),
                rcu_guest_policy=RcuGuestPolicy(rnd.choice(RCU_GUEST_MODES), patience_ms=rnd.choice([0, 100, 1000])))
    phases = [("run", rnd.randint(10_000, 200_000), rnd.randint(0, 100_000))]
    phases += rnd.sample([("user_io", 20_000), ("mmio", 5_000), ("fault", 3 * MS), ("irq", 2 * MS), ("sleep", 300_000, 500_000)],
                         rnd.randint(1, 3))
    pin = [rnd.choice(nohz) for _ in range(len(nohz))]
    vm = VM("g", vcpus=len(nohz), pin=pin, hlt_exits=rnd.random() < 0.5, halt_poll_ns=rnd.choice([0, 50_000]),
            migrate_pin=[rnd.randrange(ncpu) for _ in nohz] if rnd.random() < 0.4 else None,
            tasks=[Task("p", Phases(phases), count=len(nohz)), Task("c", Cyclictest(interval_ns=rnd.choice([100_000, 1 * MS])),
                                                                      policy="fifo", rt_priority=50)])
    if vm.migrate_pin is not None:
        vm.migrate_period_ns = rnd.choice([3 * MS, 20 * MS])
    if rnd.random() < 0.3:
        vm.stop_ns = rnd.choice([1, 50 * MS, 150 * MS])
    tasks = [Task("u", RcuUpdater(interval_ns=rnd.choice([1 * MS, 5 * MS]), arrival="poisson"), count=rnd.randint(1, 3),
                  cpus=[0])]
    if rnd.random() < 0.5:
        cpu, policy = rnd.choice(nohz), rnd.choice(["normal", "fifo"])   # drawn in the order of the golden cases
        tasks.append(Task("intruder", RunSleep(run_ns=2 * MS, sleep_ns=8 * MS), cpus=[cpu],
                          policy=policy, rt_priority=1 if policy == "fifo" else 0))
    return Scenario(host=host, tasks=tasks, vms=[vm], duration_ns=300 * MS, check_invariants=True, seed=seed)


@pytest.mark.parametrize("seed", range(24))
def test_random_rcu_scenarios_keep_the_invariants(seed):
    sc = _random_rcu_scenario(seed)
    r = Simulation(sc).run()
    assert r.violations["count"] == 0, (seed, r.violations)
    rc = r.rcu
    assert rc["sync_done"] <= rc["sync_calls"] and rc["gps_done"] <= rc["gps_started"]
    assert rc["gps_done"] > 0 and rc["sync_done"] > 0
    assert Scenario.from_toml(sc.to_toml()) == sc


# ------------------------------------------------------------------------------------ scenario options
def test_options_round_trip_through_dict_and_toml():
    sc = _s8("patience")
    sc.host.rcu_guest_policy = RcuGuestPolicy("last_exit", window_jiffies=10)
    sc.host.rcu.jiffies_till_first_fqs = 5
    sc.vms[0].migrate_pin, sc.vms[0].migrate_period_ns, sc.vms[0].user_return_ns = [2], 7 * MS, 3_000
    d = sc.to_dict()
    assert d["host"]["rcu"]["jiffies_till_first_fqs"] == 5 and "jiffies_till_next_fqs" not in d["host"]["rcu"]
    assert d["host"]["rcu_guest_policy"] == {"mode": "last_exit", "window_jiffies": 10, "patience_ms": 0}
    assert d["host"]["nohz_full"] == [1, 2] and d["vms"][0]["migrate_pin"] == [2]
    assert Scenario.from_dict(d) == sc and Scenario.from_toml(sc.to_toml()) == sc
    assert "rcu" not in Scenario(tasks=[Task("h", Hog())]).to_dict()["host"]
    d["host"]["rcu_guest_policy"] = "run_loop"                     # the mode name is enough
    assert Scenario.from_dict(d).host.rcu_guest_policy == RcuGuestPolicy("run_loop")


def test_sweeps_set_rcu_fields_by_path():
    from pvsched.sweep import run_cell
    base = s1(duration=100 * MS).to_dict()
    m = ["rcuc_preemptions:rt", "rcu_gps", "rcu_gp_max_ns", "rcu_sync_mean_ns", "rcu_fp", "rcu_needless", "violations"]
    p0 = run_cell(base, {}, metrics=m)
    p2 = run_cell(base, {"host.rcu_guest_policy.mode": "run_loop_sched"}, metrics=m)
    assert p0["rcuc_preemptions:rt"] > 0 == p2["rcuc_preemptions:rt"] and p0["rcu_needless"] > 0
    slow = run_cell(base, {"host.rcu.jiffies_till_first_fqs": 8, "host.rcu_guest_policy": "last_exit"}, metrics=m)
    assert slow["rcu_gp_max_ns"] > p2["rcu_gp_max_ns"] and slow["violations"] == 0
    long = run_cell(base, {"host.rcu.rcuc_ns": 50_000}, metrics=["rcuc_preempt_ns:rt", "rcuc_preemptions:rt"])
    assert long["rcuc_preempt_ns:rt"] >= 50_000 * long["rcuc_preemptions:rt"] > 0
    off = run_cell(Scenario(tasks=[Task("h", Hog())], duration_ns=MS), {}, metrics=["rcu_gps"])
    assert off["rcu_gps"] != off["rcu_gps"]                        # NaN: RCU not modelled


@pytest.mark.parametrize("change, path", [
    (lambda sc: setattr(sc.host.rcu, "kthread_prio", 0), "host.rcu.kthread_prio"),
    (lambda sc: setattr(sc.host.rcu, "tick_dependency", "always"), "host.rcu.tick_dependency"),
    (lambda sc: setattr(sc.host, "rcu_guest_policy", 3), "host.rcu_guest_policy"),
    (lambda sc: setattr(sc.host, "rcu", {"kthread_prio": 2}), "host.rcu"),
    (lambda sc: setattr(sc.host, "nohz_full", [0, 1, 2]), "host.nohz_full"),
    (lambda sc: setattr(sc.host, "tick_exits", False), "host.tick_exits"),
    (lambda sc: setattr(sc.vms[0], "migrate_period_ns", MS), "vms[0].migrate_pin"),
    (lambda sc: setattr(sc.vms[0], "migrate_pin", [1]), "vms[0].migrate_pin"),
    (lambda sc: setattr(sc.vms[0], "migrate_pin", [1, 7]), "vms[0].migrate_pin[1]"),
    (lambda sc: setattr(sc.vms[0], "user_return_ns", -1), "vms[0].user_return_ns"),
    (lambda sc: setattr(sc.vms[0], "stop_ns", 0), "vms[0].stop_ns"),
    (lambda sc: setattr(sc.tasks[0].workload, "arrival", "bursty"), "tasks[0].workload.arrival"),
    (lambda sc: sc.vms[0].tasks.append(Task("u", RcuUpdater())), "vms[0].tasks[2].workload"),
])
def test_bad_values_name_the_field(change, path):
    sc = s1()
    change(sc)
    with pytest.raises(ScenarioError) as e:
        sc.validate()
    assert e.value.path == path


@pytest.mark.parametrize("make, path", [
    (lambda: RcuGuestPolicy("bogus"), "RcuGuestPolicy.mode"),
    (lambda: Host(rcu_guest_policy="bogus"), "Host.rcu_guest_policy.mode"),
    (lambda: Phases([("user_io", 5)]), "Phases.phases"),
    (lambda: Phases([("run", 5, -1)]), "Phases.phases[0][2]"),
])
def test_bad_values_fail_where_the_object_is_made(make, path):
    with pytest.raises(ScenarioError) as e:
        make()
    assert e.value.path == path


def test_a_guest_policy_implies_rcu_and_needs_a_housekeeping_cpu():
    with pytest.raises(ScenarioError) as e:     # the scenario checks itself when it is made
        Scenario(host=Host(cpus=2, nohz_full=[0, 1], rcu_guest_policy="last_exit"), tasks=[Task("h", Hog())])
    assert e.value.path == "host.nohz_full"


def test_cli_run_prints_the_rcu_line(capsys):
    import os
    from pvsched.cli import main
    ex = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "rcu_guest.toml")
    assert main(["run", ex, "--until-ns", "100000000"]) == 0
    out = capsys.readouterr().out
    assert "rcu: " in out and "GPs" in out and "nohz_full [1, 2]" in out


def test_rcu_events_in_the_trace():
    import numpy as np
    from pvsched.rcu import RCU_CAUSES, RCU_SKIP_REASONS, RCU_TRACE_EVENTS
    from pvsched.trace import TraceConfig
    ev = {n: i for i, n in enumerate(RCU_TRACE_EVENTS)}
    for mode in ("vanilla", "run_loop_sched"):
        sc = s1(mode, duration=100 * MS)
        sc.trace = TraceConfig(enabled=True)
        r = run(sc)
        t = r.trace.of_kind("rcu")
        n = np.bincount(t.b, minlength=len(RCU_TRACE_EVENTS))
        rc = r.rcu
        assert n[ev["gp_start"]] == rc["gps_started"] and n[ev["gp_end"]] == rc["gps_done"]
        assert n[ev["fqs"]] == rc["fqs_scans"]
        assert n[ev["qs"]] == rc["cpu"]["qs_local"].sum() and n[ev["qs_fqs"]] == rc["cpu"]["qs_fqs"].sum()
        wakes = t.where(t.b == ev["wake"])
        assert len(wakes) == rc["cpu"]["rcuc_wakeups"].sum()
        ends = t.where(t.b == ev["gp_end"])
        assert int(ends.c.max()) == rc["gp_ns_max"]
        if mode == "run_loop_sched":
            skips = t.where((t.b == ev["skip"]) & (t.cpu == 1))
            assert len(skips) == 100 and set(skips.c // 16) == {RCU_SKIP_REASONS.index("policy")}
            assert set(skips.c % 16) == {RCU_CAUSES.index("guest_tick")}
    assert Simulation(s1(duration=10 * MS)).run().rcu is not None           # trace off: no buffer
