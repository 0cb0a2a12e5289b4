"""The rtla-hwnoise guest workload: windows, gaps, thresholds, the whole-gap rule at a window's end,
warm-up, and the consistency of its counts with the task's own CPU time."""
import pytest

from pvsched import VM, GuestKernel, Host, Scenario, ScenarioError, Simulation, Task
from pvsched.workloads import HwNoise, Hog, Periodic

MS = 1_000_000


def scenario(threshold_ns=1 * MS, warmup_ns=0, host_tasks=(), guest_tasks=(), period=10 * MS, runtime=9 * MS,
             exit_ns=1_500, entry_ns=500):
    hw = Task("hw", HwNoise(period_ns=period, runtime_ns=runtime, threshold_ns=threshold_ns, warmup_ns=warmup_ns),
              policy="fifo", rt_priority=50, cpus=[0])
    vm = VM("g", vcpus=1, pin=[0], hlt_exits=False, tasks=[hw] + list(guest_tasks), guest=GuestKernel(hz=250),
            exit_ns=exit_ns, entry_ns=entry_ns, own_cgroup=False)
    return Scenario(host=Host(cpus=1, hz=250), vms=[vm], tasks=list(host_tasks))


def row(sc, until):
    r = Simulation(sc).run(until_ns=until)
    t = r.hwnoise()
    assert list(t["name"]) == ["g/hw"]
    return {k: (v[0].item() if hasattr(v[0], "item") else v[0]) for k, v in t.items()}, r


def test_alone_no_noise_above_a_1ms_threshold():
    h, _ = row(scenario(), 300 * MS)
    assert h["noise_ns"] == 0 and h["gaps"] == 0 and h["cpu_available_pct"] == 100.0
    assert h["runtime_ns"] == h["periods"] * 9 * MS            # every window ends at its deadline
    assert 29 <= h["periods"] <= 30


def test_exits_are_gaps_below_a_microsecond_threshold():
    # The host tick and the guest's own tick (both 250 Hz) make exits of exit_ns = 1.5 us each;
    # with a 1 us threshold each is a gap (two coinciding exits make one 3 us gap).
    h, r = row(scenario(threshold_ns=1_000), 300 * MS)
    assert h["gaps"] > 0
    assert h["max_single_ns"] in (1_500, 3_000)
    assert 1_500 * h["gaps"] <= h["noise_ns"] <= 3_000 * h["gaps"]
    assert h["cpu_available_pct"] > 99.9


def rt_preemptor():
    # a host SCHED_FIFO task on the vCPU's pCPU: 2 ms every 10 ms, preempting the vCPU at once
    return [Task("rt", Periodic(run_ns=2 * MS, period_ns=10 * MS), policy="fifo", rt_priority=10, cpus=[0])]


def test_host_preemption_gaps():
    h, r = row(scenario(host_tasks=rt_preemptor()), 500 * MS)
    # gap = exit handling 1.5 us + 2 ms of the RT task + entry 0.5 us
    assert h["max_single_ns"] == 2 * MS + 2_000
    assert h["gaps"] >= 30
    assert h["noise_ns"] == pytest.approx(0.2 * h["runtime_ns"], rel=0.1)
    # a window's noise is at most one such gap (10 ms RT period, 9 ms window) or two
    assert h["max_noise_ns"] in (2 * MS + 2_000, 2 * (2 * MS + 2_000))


def test_window_end_inside_a_gap_counts_the_gap_whole():
    # With a 1 ns threshold every gap is counted, so runtime - noise is exactly the time the task
    # executed in counted windows: its CPU time minus the unfinished last window.
    h, r = row(scenario(threshold_ns=1, host_tasks=rt_preemptor()), 500 * MS)
    executed = h["runtime_ns"] - h["noise_ns"]
    cpu = r.task("g/hw").cpu_ns
    assert 0 <= cpu - executed <= 9 * MS
    # windows never execute more than the runtime; those whose deadline fell inside a gap ran
    # longer in wall time (the gap counted whole), so the total runtime exceeds periods x 9 ms
    assert executed <= h["periods"] * 9 * MS
    assert h["runtime_ns"] > h["periods"] * 9 * MS


def test_warm_up_discards_early_windows():
    base, _ = row(scenario(), 200 * MS)
    warm, _ = row(scenario(warmup_ns=50 * MS), 200 * MS)
    # windows end at about 9, 19, 29, 39, 49 ms: five before the warm-up is over
    assert base["periods"] - warm["periods"] == 5
    assert base["runtime_ns"] - warm["runtime_ns"] == 5 * 9 * MS


def test_guest_tasks_do_not_interrupt_a_window():
    # interrupts and preemption are off during a window: a guest fair hog and a higher-priority
    # guest RT task on the same vCPU add no noise (they run between windows)
    guest = [Task("ghog", Hog(), cpus=[0]),
             Task("grt", Periodic(run_ns=500_000, period_ns=7 * MS), policy="fifo", rt_priority=90, cpus=[0])]
    h, r = row(scenario(guest_tasks=guest), 300 * MS)
    assert h["noise_ns"] == 0
    assert r.task("g/grt").cpu_ns > 0 and r.task("g/ghog").cpu_ns > 0


def test_validation_and_round_trip():
    # the workload's constructor checks it (the error names it); the file form names the full path
    with pytest.raises(ScenarioError, match=r"^HwNoise\.period_ns"):
        scenario(period=5 * MS, runtime=9 * MS).validate()
    with pytest.raises(ScenarioError, match=r"^HwNoise\.threshold_ns"):
        scenario(threshold_ns=0).validate()
    d = scenario().to_dict()
    d["vms"][0]["tasks"][0]["workload"]["period_ns"] = 5 * MS
    with pytest.raises(ScenarioError, match=r"vms\[0\].tasks\[0\].workload.period_ns"):
        Scenario.from_dict(d)
    with pytest.raises(ScenarioError, match=r"tasks\[0\].workload"):
        Scenario(tasks=[Task("hw", HwNoise())]).validate()
    sc = scenario(warmup_ns=3 * MS)
    back = Scenario.from_toml(sc.to_toml())
    assert back == sc
    assert back.to_dict()["vms"][0]["tasks"][0]["workload"] == {
        "kind": "hwnoise", "period_ns": 10 * MS, "runtime_ns": 9 * MS, "threshold_ns": MS, "warmup_ns": 3 * MS}
    # period == runtime: osnoise does not sleep between windows
    assert [op[0] for op in HwNoise(period_ns=5, runtime_ns=5).ops()] == ["hwnoise", "loop"]
