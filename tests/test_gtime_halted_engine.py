"""Guest halted time in the engine: ground-truth conservation, what KVM measures, the three
halted-aware PELT modes acting through the existing balancer, their cost counters, the nohz_full
no-op and the hierarchy walk on a live engine."""
import numpy as np
import pytest

from pvsched import VM, Cgroup, GuestKernel, HaltedPelt, Host, Scenario, ScenarioError, Simulation, Task
from pvsched.kernel import account_gtime_halted, gtime_halted_levels
from pvsched.workloads import Hog, Periodic, RunSleep

MS = 1_000_000


def pt_scenario(mode="off", *, hogs=2, cpus=4, busy=(0, 1), host_tasks=(), vm_cgroup=None, cgroups=(),
                own_cgroup=False, seed=1, **hp):
    """A pass-through VM with one vCPU per pCPU (pinned): guest hogs on ``busy`` vCPUs, a light
    periodic guest task everywhere else, ``hogs`` host hogs allowed everywhere."""
    tasks = [Task(f"busy{i}", Hog(), cpus=[i]) for i in busy]
    tasks += [Task(f"tick{i}", Periodic(run_ns=20_000, period_ns=10 * MS), cpus=[i])
              for i in range(cpus) if i not in busy]
    vm = VM("pt", vcpus=cpus, pin=list(range(cpus)), hlt_exits=False, tasks=tasks,
            guest=GuestKernel(hz=250), cgroup=vm_cgroup, own_cgroup=own_cgroup)
    host = [Task("hog", Hog(), count=hogs)] if hogs else []
    return Scenario(host=Host(cpus=cpus, hz=250, halted_pelt=HaltedPelt(mode, **hp)),
                    cgroups=list(cgroups), tasks=host + list(host_tasks), vms=[vm], seed=seed)


def run(sc, ns):
    sim = Simulation(sc)
    return sim, sim.run(until_ns=ns)


def guest_cpu_by_vcpu(r, sc):
    """Sum of guest tasks' CPU time per vCPU (each guest task is pinned to one vCPU)."""
    out = {}
    for t in sc.vms[0].tasks:
        out[t.cpus[0]] = out.get(t.cpus[0], 0) + r.task(f"pt/{t.name}").cpu_ns
    return out


@pytest.mark.parametrize("mode", ["off", "exact", "tick"])
def test_conservation_halted_plus_unhalted_is_guest_time(mode):
    sc = pt_scenario(mode, host_tasks=[Task("sleeper", RunSleep(run_ns=300_000, sleep_ns=700_000))])
    sim, r = run(sc, 700 * MS)
    v = r.vcpus
    cpu = guest_cpu_by_vcpu(r, sc)
    for i in range(4):
        # ground truth: halted + unhalted = guest-mode time, exactly; unhalted is exactly what
        # the guest's tasks executed (an independent count: the tasks' own CPU time)
        assert v["guest_halted_ns"][i] + v["guest_unhalted_ns"][i] == v["guest_ns"][i]
        assert v["guest_unhalted_ns"][i] == cpu.get(i, 0)
        # KVM's measurement (matched MPERF) equals the truth over closed stays; the ongoing stay
        # is at most one host tick old (4 ms)
        assert 0 <= v["guest_halted_ns"][i] - v["gtime_halted_ns"][i] <= 4 * MS
        assert v["guest_stays"][i] > 0
    assert v["guest_halted_ns"][2] > 0.9 * v["guest_ns"][2]     # the idle vCPUs are mostly halted
    assert v["guest_halted_ns"][0] == 0                          # a guest hog never halts


def test_hlt_exits_vm_is_not_tracked():
    sc = pt_scenario("exact")
    sc.vms[0].hlt_exits = True
    _, r = run(sc, 100 * MS)
    assert not r.vcpus["guest_halted_ns"].any() and not r.vcpus["gtime_halted_ns"].any()
    assert r.raw["halted_pelt"]["accounted_ns"] == 0 and r.raw["halted_pelt"]["msr_reads"] == 0


def test_mperf_mismatch_biases_the_measurement():
    base = run(pt_scenario("exact"), 300 * MS)[1].vcpus
    fast = run(pt_scenario("exact", mperf_ppm=50_000), 300 * MS)[1].vcpus
    slow = run(pt_scenario("exact", mperf_ppm=-50_000), 300 * MS)[1].vcpus
    # the busy vCPU: matched and fast MPERF see no halted time, a slow one sees 5% of it halted
    assert base["gtime_halted_ns"][0] == fast["gtime_halted_ns"][0] == 0
    assert slow["gtime_halted_ns"][0] == pytest.approx(0.05 * slow["guest_ns"][0], rel=0.02)
    # the idle vCPU: fast MPERF under-counts
    assert fast["gtime_halted_ns"][2] < fast["guest_halted_ns"][2]


@pytest.mark.parametrize("mode", ["exact", "tick"])
def test_discount_drops_idle_vcpu_pelt_and_the_raw_signal_does_not(mode):
    _, off = run(pt_scenario("off", hogs=0), 500 * MS)
    _, on = run(pt_scenario(mode, hogs=0), 500 * MS)
    vo, vn = off.vcpus, on.vcpus
    # alone on its pCPU, a halted vCPU thread runs all the time: util 1023 without the discount
    assert vo["pelt_util_avg"][2] >= 1000 and vo["pelt_util_avg_raw"][2] == vo["pelt_util_avg"][2]
    assert vn["pelt_util_avg"][2] <= 10 and vn["pelt_util_avg_raw"][2] >= 1000
    assert vn["pelt_load_avg"][2] <= 10 and vn["pelt_load_avg_raw"][2] >= 1000
    # the busy vCPU keeps its signal
    assert vn["pelt_util_avg"][0] >= 1000
    # time averages: integrals over the tracked time
    avg = vn["pelt_util_ns"][2] / vn["pelt_tracked_ns"][2]
    avg_raw = vn["pelt_util_raw_ns"][2] / vn["pelt_tracked_ns"][2]
    assert avg < 0.1 * avg_raw
    assert vo["pelt_util_ns"][2] == vo["pelt_util_raw_ns"][2]     # off: the two signals agree


def test_exact_and_tick_coincide_when_stays_end_at_ticks_and_differ_otherwise():
    # Halted vCPUs alone on their pCPUs exit only at host ticks: every stay is one tick interval,
    # so the per-exit and per-tick measurements hand the same ns to the same PELT updates.
    ex = run(pt_scenario("exact", hogs=0), 300 * MS)[1]
    tk = run(pt_scenario("tick", hogs=0), 300 * MS)[1]
    assert ex.raw["halted_pelt"]["accounted_ns"] == tk.raw["halted_pelt"]["accounted_ns"] > 0
    assert np.array_equal(ex.vcpus["pelt_util_ns"], tk.vcpus["pelt_util_ns"])
    # A host task that wakes mid-tick preempts a halted vCPU between ticks: exact accounts that
    # stay at its exit, the tick mode loses the part run before a tick that finds the sleeper
    # current.
    sleeper = [Task("s", Periodic(run_ns=1_500_000, period_ns=5_300_000), cpus=[2])]
    ex = run(pt_scenario("exact", hogs=0, host_tasks=sleeper), 300 * MS)[1]
    tk = run(pt_scenario("tick", hogs=0, host_tasks=sleeper), 300 * MS)[1]
    assert ex.raw["halted_pelt"]["accounted_ns"] > tk.raw["halted_pelt"]["accounted_ns"]


def test_msr_reads_per_mode():
    ex = run(pt_scenario("exact"), 200 * MS)[1]
    tk = run(pt_scenario("tick"), 200 * MS)[1]
    off = run(pt_scenario("off"), 200 * MS)[1]
    assert ex.raw["halted_pelt"]["msr_reads"] == 2 * int(ex.vcpus["guest_stays"].sum())
    assert tk.raw["halted_pelt"]["msr_reads"] == 2 * int(tk.cpus["nr_ticks"].sum())
    assert off.raw["halted_pelt"]["msr_reads"] == 0
    assert tk.raw["halted_pelt"]["tick_corrections"] > 0 and ex.raw["halted_pelt"]["tick_corrections"] == 0


def test_no_hz_full_kernel_makes_the_hook_a_no_op():
    _, off = run(pt_scenario("off"), 400 * MS)
    _, nhf = run(pt_scenario("exact", no_hz_full=True), 400 * MS)
    _, ex = run(pt_scenario("exact"), 400 * MS)
    assert nhf.raw["halted_pelt"]["accounted_ns"] == 0
    # the metric (patch 2) is still measured (the same as the unpatched run's ground truth) ...
    assert np.array_equal(nhf.vcpus["gtime_halted_ns"], off.vcpus["gtime_halted_ns"])
    assert nhf.vcpus["gtime_halted_ns"][2] > 0 and ex.raw["halted_pelt"]["accounted_ns"] > 0
    # ... and the scheduler behaves exactly as without the patches
    for k in ("pelt_util_ns", "pelt_load_ns", "guest_ns", "preempted_ns"):
        assert np.array_equal(nhf.vcpus[k], off.vcpus[k]), k
    assert np.array_equal(nhf.tasks["cpu_ns"], off.tasks["cpu_ns"])


def test_accounting_walks_every_level_of_the_hierarchy():
    sc = pt_scenario("exact", vm_cgroup="machine", cgroups=[Cgroup("machine")], own_cgroup=True)
    sim, _ = run(sc, 50 * MS)
    t = sim.task_index("pt/vcpu2")
    before = gtime_halted_levels(sim.engine, t)
    assert [lv["depth"] for lv in before] == [2, 1, 0]           # vCPU, vm:pt group, machine group
    account_gtime_halted(sim.engine, t, 12_345)
    after = gtime_halted_levels(sim.engine, t)
    for b, a in zip(before, after):
        assert a["se_gtime_halted"] - b["se_gtime_halted"] == 12_345
        assert a["cfs_rq_gtime_halted"] - b["cfs_rq_gtime_halted"] == 12_345
    # the next PELT updates consume it (h <= delta: no residual survives a tick)
    sim.run(until_ns=60 * MS)
    assert all(lv["se_gtime_halted"] == 0 for lv in gtime_halted_levels(sim.engine, t))


def test_no_hz_full_probe_is_a_no_op():
    sim, _ = run(pt_scenario("exact", no_hz_full=True), 20 * MS)
    t = sim.task_index("pt/vcpu2")
    account_gtime_halted(sim.engine, t, 5_000)
    assert all(lv["se_gtime_halted"] == 0 and lv["cfs_rq_gtime_halted"] == 0
               for lv in gtime_halted_levels(sim.engine, t))


def test_balancer_moves_hogs_to_halted_vcpus_only_with_the_discount():
    # The passthrough_idle example's set-up: vCPUs 0-1 busy, 2-3 idle, 2 host hogs. The hogs
    # start on pCPUs 0-1 (fork placement); only with the discount does the periodic balance see
    # pCPUs 2-3 as lighter and pull the hogs there.
    def where(mode):
        _, r = run(pt_scenario(mode, seed=3), 3000 * MS)
        return sorted(int(r.task(f"hog[{j}]").cpu) for j in range(2)), r
    off_cpus, off = where("off")
    ex_cpus, ex = where("exact")
    assert ex_cpus == [2, 3]
    assert off_cpus != [2, 3]
    busy = lambda r: (r.task("pt/busy0").cpu_ns + r.task("pt/busy1").cpu_ns) / (2 * r.now_ns)
    assert busy(ex) > 0.95 and busy(off) < 0.85


def test_bad_options_name_the_field():
    # the policy's constructor checks its fields (the error names it); the Host its type
    with pytest.raises(ScenarioError, match=r"^HaltedPelt\.mode"):
        HaltedPelt("fast")
    with pytest.raises(ScenarioError, match=r"^HaltedPelt\.mperf_ppm"):
        HaltedPelt(mperf_ppm=10**6)
    with pytest.raises(ScenarioError, match=r"^HaltedPelt\.no_hz_full"):
        HaltedPelt(no_hz_full=1)
    with pytest.raises(ScenarioError, match="host.halted_pelt.mode"):
        Scenario.from_dict({"host": {"halted_pelt": {"mode": "fast"}}, "tasks": [{"name": "h", "workload": {"kind": "hog"}}]})
    with pytest.raises(ScenarioError, match=r"^Host\.halted_pelt"):
        Scenario(host=Host(halted_pelt="exact"), tasks=[Task("h", Hog())]).validate()
    with pytest.raises(ScenarioError, match=r"vms\[0\].own_cgroup"):
        sc = pt_scenario()
        sc.vms[0].own_cgroup = "no"
        sc.validate()


def test_toml_round_trip_of_the_new_options():
    sc = pt_scenario("tick", mperf_ppm=-300, no_hz_full=True, vm_cgroup="machine",
                     cgroups=[Cgroup("machine")], own_cgroup=False)
    back = Scenario.from_toml(sc.to_toml())
    assert back == sc
    assert back.to_dict()["host"]["halted_pelt"] == {"mode": "tick", "mperf_ppm": -300, "no_hz_full": True}
    assert back.to_dict()["vms"][0]["own_cgroup"] is False
    with pytest.raises(ScenarioError, match="host.halted_pelt.speed"):
        d = sc.to_dict()
        d["host"]["halted_pelt"]["speed"] = 1
        Scenario.from_dict(d)


def test_own_cgroup_false_puts_vcpus_in_the_named_cgroup():
    # vCPU threads directly in the root compete with host hogs as plain nice-0 tasks: on a pCPU
    # shared by one hog and a busy vCPU each gets half.
    sc = pt_scenario("off", hogs=1, cpus=1, busy=(0,))
    sc.host.load_balance = False
    _, r = run(sc, 400 * MS)
    assert r.task("pt/vcpu0").cpu_ns == pytest.approx(r.task("hog").cpu_ns, rel=0.05)
    sc2 = pt_scenario("off", hogs=1, cpus=1, busy=(0,), own_cgroup=True)
    assert "vm:pt" in Simulation(sc2).cgroup_names and "vm:pt" not in Simulation(sc).cgroup_names


def test_sweepable_by_field_path_with_metrics():
    import pvsched
    from pvsched.sweep import cell_scenario
    from pvsched.workloads import HwNoise
    base = pt_scenario("off")
    base.duration_ns = 400 * MS
    base.vms[0].tasks.append(Task("hw", HwNoise(period_ns=10 * MS, runtime_ns=9 * MS, threshold_ns=MS),
                                  policy="fifo", rt_priority=50, cpus=[1]))
    base.vms[0].tasks = [t for t in base.vms[0].tasks if t.name != "busy1"]
    df = pvsched.sweep(base, grid={"host.halted_pelt.mode": ["off", "exact", "tick"]},
                       metrics=["pelt_util:pt", "pelt_util_raw:pt", "guest_halted_frac:pt", "msr_reads",
                                "guest_halted_ns:pt", "hwnoise_avail_pct:pt/hw", "hwnoise_gaps:pt/hw"], workers=0)
    by = df.set_index("host.halted_pelt.mode")
    assert by.loc["off", "msr_reads"] == 0 < by.loc["tick", "msr_reads"]
    assert by.loc["exact", "pelt_util:pt"] < by.loc["exact", "pelt_util_raw:pt"]
    assert by.loc["off", "pelt_util:pt"] == by.loc["off", "pelt_util_raw:pt"]
    assert 0 < by.loc["off", "guest_halted_frac:pt"] < 1
    assert 0 < by.loc["off", "hwnoise_avail_pct:pt/hw"] <= 100
    sc = cell_scenario(base, {"host.nohz_full": [1, 2], "host.halted_pelt.mperf_ppm": 7, "vms[0].own_cgroup": True,
                              "vms[0].tasks[3].workload.threshold_ns": 5})
    assert sc.host.nohz_full == [1, 2] and sc.host.halted_pelt.mperf_ppm == 7 and sc.vms[0].own_cgroup
    for path, bad in (("host.halted_pelt.mode", "bogus"), ("host.nohz_full", [9]),
                      ("vms[0].tasks[3].workload.threshold_ns", 0)):
        with pytest.raises(ScenarioError, match=path.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
            cell_scenario(base, {path: bad})


# ------------------------------------------------------------------------ random pass-through scenarios
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


@st.composite
def pt_cases(draw):
    from pvsched.workloads import HwNoise, RunSleep as RS
    ncpu = draw(st.integers(2, 5))
    nv = draw(st.integers(1, ncpu))
    tasks = []
    for i in range(draw(st.integers(0, 2 * nv))):
        kind = draw(st.sampled_from(["hog", "periodic", "runsleep", "hwnoise"]))
        cpu = draw(st.integers(0, nv - 1))
        if kind == "hwnoise":
            rt = draw(st.integers(100_000, 5_000_000))
            w = HwNoise(period_ns=rt + draw(st.integers(0, 2_000_000)), runtime_ns=rt,
                        threshold_ns=draw(st.integers(1, 2_000_000)), warmup_ns=draw(st.integers(0, 20_000_000)))
            tasks.append(Task(f"g{i}", w, policy="fifo", rt_priority=draw(st.integers(1, 99)), cpus=[cpu]))
            continue
        w = {"hog": Hog(), "periodic": Periodic(run_ns=draw(st.integers(1_000, 900_000)), period_ns=1_000_000),
             "runsleep": RS(run_ns=draw(st.integers(1_000, 3_000_000)), sleep_ns=draw(st.integers(1_000, 3_000_000)))}[kind]
        tasks.append(Task(f"g{i}", w, cpus=[cpu]))
    pin = draw(st.one_of(st.none(), st.just(list(range(nv)))))
    vm = VM("pt", vcpus=nv, pin=pin, hlt_exits=draw(st.sampled_from([False, False, True])), tasks=tasks,
            guest=GuestKernel(hz=draw(st.sampled_from([100, 250, 1000]))), own_cgroup=draw(st.booleans()),
            timer_exits=draw(st.booleans()))
    nohz = sorted(draw(st.sets(st.integers(0, ncpu - 1))))
    host = Host(cpus=ncpu, hz=draw(st.sampled_from([100, 250, 1000])), nohz_full=nohz,
                halted_pelt=HaltedPelt(draw(st.sampled_from(["off", "exact", "tick"])),
                                       mperf_ppm=draw(st.sampled_from([0, 0, 5_000, -5_000])),
                                       no_hz_full=draw(st.booleans())),
                periodic_balance=draw(st.booleans()))
    nhog = draw(st.integers(0, 3)) if draw(st.booleans()) else 0     # a Task validates itself: count >= 1
    hogs = [Task("hog", Hog(), count=nhog)] if nhog else []
    sc = Scenario(host=host, vms=[vm], tasks=hogs or [Task("s", RS(run_ns=1_000, sleep_ns=5_000_000))],
                  seed=draw(st.integers(0, 2**32)), shuffle_ties=draw(st.booleans()), check_invariants=True)
    return sc, draw(st.integers(20_000_000, 120_000_000))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=pt_cases())
def test_random_pass_through_scenarios(case):
    sc, until = case
    r = Simulation(sc).run(until_ns=until)
    assert r.violations["count"] == 0
    v = r.vcpus
    cpu = {}
    for t in sc.vms[0].tasks:
        cpu[t.cpus[0]] = cpu.get(t.cpus[0], 0) + r.task(f"pt/{t.name}").cpu_ns
    for i in range(sc.vms[0].vcpus):
        assert v["guest_halted_ns"][i] + v["guest_unhalted_ns"][i] == v["guest_ns"][i]
        assert v["guest_unhalted_ns"][i] == cpu.get(i, 0)          # conservation against the guest
        assert v["gtime_halted_ns"][i] >= 0 and v["pelt_tracked_ns"][i] <= r.now_ns
    if sc.host.halted_pelt.mode == "off" or (sc.host.halted_pelt.mode == "exact" and
                                              (sc.host.halted_pelt.no_hz_full or sc.host.nohz_full)):
        assert r.raw["halted_pelt"]["accounted_ns"] == 0
    hw = r.hwnoise()
    for k, name in enumerate(hw["name"]):
        w = next(t.workload for t in sc.vms[0].tasks if f"pt/{t.name}" == name)
        assert hw["runtime_ns"][k] >= hw["periods"][k] * w.runtime_ns
        assert hw["max_single_ns"][k] <= hw["max_noise_ns"][k] <= hw["noise_ns"][k]
        assert hw["gaps"][k] * w.threshold_ns <= hw["noise_ns"][k]
    # determinism
    r2 = Simulation(sc).run(until_ns=until)
    assert r2.raw["halted_pelt"] == r.raw["halted_pelt"]
    for k in ("guest_halted_ns", "gtime_halted_ns", "pelt_util_ns"):
        assert (r2.vcpus[k] == v[k]).all()
