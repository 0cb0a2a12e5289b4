"""Time arithmetic near the int64 limit (issue 13 items 4-5): the simulated horizon is 2^62 ns;
larger instants and durations are refused with a ScenarioError naming the field; at the horizon
every time sum saturates (an event pushed past it never fires) instead of wrapping or hanging.
Each at-the-limit case runs in a forked child with a timeout, so a hang fails instead of blocking."""
import subprocess
import sys

import numpy as np
import pytest

from pvsched import VM, Cgroup, Host, Scenario, ScenarioError, Simulation, Task
from pvsched import fuzz
from pvsched.limits import MAX_TIME_NS as M
from pvsched.workloads import Cyclictest, Hog, IPISync, Periodic, Phases, RcuUpdater, RunSleep, SpinlockLoop

BIG = 2**63 - 1


def in_child(fn, timeout=20.0):
    """fn() in a forked process; its return value, or a test failure for an error, a hang or a crash."""
    status, value = fuzz.in_child(fn, timeout)
    assert status == "ok", (status, value)
    return value


def _run(sc, until):
    r = Simulation(sc).run(until_ns=until)
    return {"now": r.now_ns, "events": r.events, "violations": r.violations,
            "task": {k: np.asarray(v).tolist() for k, v in r.raw["task"].items()},
            "vcpu": {k: np.asarray(v).tolist() for k, v in r.raw["vcpu"].items()},
            "vm": {k: np.asarray(v).tolist() for k, v in r.raw.get("vm", {}).items()},
            "busy": np.asarray(r.raw["cpu"]["busy_ns"]).tolist()}


def _sane(out, ncpu):
    assert out["violations"]["count"] == 0, out["violations"]
    for table in ("task", "vcpu", "vm"):
        for k, col in out[table].items():
            if k.endswith("_ns"):
                assert min(col, default=0) >= 0, (table, k, col)
    assert all(0 <= b <= out["now"] for b in out["busy"])
    assert sum(out["task"]["cpu_ns"]) <= ncpu * out["now"] + sum(out["vcpu"]["guest_ns"])


def _vm(*tasks, vcpus=2, **kw):
    return VM("v", vcpus=vcpus, tasks=list(tasks), **kw)


# ------------------------------------------------------------------ over the horizon: refused
@pytest.mark.parametrize("make,path", [
    (lambda: Scenario(tasks=[Task("t", RunSleep(run_ns=1000, sleep_ns=BIG))]), "tasks[0].workload.sleep_ns"),
    (lambda: Scenario(tasks=[Task("t", Periodic(offset_ns=BIG))]), "tasks[0].workload.offset_ns"),
    (lambda: Scenario(tasks=[Task("t", Cyclictest(interval_ns=2**64))]), "tasks[0].workload.interval_ns"),
    (lambda: Scenario(tasks=[Task("t", Hog(), start_ns=10**30)]), "tasks[0].start_ns"),
    (lambda: Scenario(host=Host(fair_server_period_ns=10**30), tasks=[Task("t", Hog())]), "host.fair_server_period_ns"),
    (lambda: Scenario(host=Host(rt_period_ns=M + 1), tasks=[Task("t", Hog())]), "host.rt_period_ns"),
    (lambda: Scenario(duration_ns=2**63, tasks=[Task("t", Hog())]), "duration_ns"),
    (lambda: Scenario(vms=[_vm(Task("t", Phases([("critical", BIG)])))]), "vms[0].tasks[0].workload.phases[0][1]"),
    (lambda: Scenario(vms=[_vm(Task("t", SpinlockLoop(sleep_ns=M + 1)))]), "vms[0].tasks[0].workload.sleep_ns"),
    (lambda: Scenario(vms=[_vm(Task("t", IPISync(handler_ns=BIG)))]), "vms[0].tasks[0].workload.handler_ns"),
    (lambda: Scenario(vms=[_vm(Task("t", Hog()), start_ns=M + 1)]), "vms[0].start_ns"),
    (lambda: Scenario(tasks=[Task("t", Phases([("run", 1)], loops=2**31))]), "tasks[0].workload.loops"),
    (lambda: Scenario(vms=[_vm(Task("t", IPISync(sleep_ns=1, sleep_every=2**31)))]), "vms[0].tasks[0].workload.sleep_every"),
])
def test_times_beyond_the_horizon_are_scenario_errors(make, path):
    with pytest.raises(ScenarioError) as ei:
        Simulation(make())
    e = ei.value
    # the constructor that got the value names its object and the field (e.rel); the scenario
    # names the full path
    assert path.endswith(e.rel) if getattr(e, "rel", None) else e.path == path, str(e)


@pytest.mark.parametrize("until", [M + 1, 2**63, 2**64, 10**30])
def test_until_beyond_the_horizon_is_a_scenario_error(until):
    sim = Simulation(Scenario(tasks=[Task("t", Hog())]))
    with pytest.raises(ScenarioError) as ei:
        sim.run(until_ns=until)
    assert ei.value.path == "until_ns"


def test_cli_until_beyond_the_horizon_is_one_line_exit_2(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(Scenario(tasks=[Task("t", Hog())]).to_toml())
    p = subprocess.run([sys.executable, "-m", "pvsched", "run", str(f), "--until-ns", "9223372036854775808"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "until_ns" in p.stderr, p.stderr


def test_engine_refuses_times_beyond_the_horizon_itself():
    kw, _, _ = Scenario(tasks=[Task("t", Hog(), start_ns=5)]).compile()
    from pvsched._core import Engine
    kw["task_start_ns"] = np.array([M + 1])
    with pytest.raises(ValueError):
        Engine(**kw)
    e = Engine(**Scenario(tasks=[Task("t", Hog())]).compile()[0])
    with pytest.raises(ValueError):
        e.run(M + 1)


def test_idle_state_residency_beyond_int32_runs():
    # Host(idle_states=[[2**31, 10]]) passed validation and overflowed an int32 in the engine.
    sc = Scenario(host=Host(cpus=1, idle_states=[[2**31, 10], [10**12, 20]]), tasks=[Task("t", RunSleep(1000, 5000))])
    assert Simulation(sc).run(until_ns=1_000_000).task("t").cpu_ns > 0


# ------------------------------------------------------------------ at the horizon: saturation
# Inputs are at most M = 2^62, so an instant plus one duration always fits; sums of more terms
# (an instant near the horizon + a duration + its jitter) saturate. Each case starts its work 1 ms
# before the horizon and runs to it: without saturation these sums wrapped negative.
S = M - 1_000_000


def test_run_sleep_sleeping_past_the_horizon_sleeps_once():
    # wrapped: the wake-up came at once, the task ran on and on (cpu_ns 1,001,002,000 in 1 s)
    out = in_child(lambda: _run(Scenario(host=Host(cpus=1), tasks=[
        Task("t", RunSleep(run_ns=1000, sleep_ns=M, sleep_jitter_ns=M), start_ns=S)]), M))
    assert out["task"]["cpu_ns"] == [1000]
    _sane(out, 1)


def test_periodic_whose_first_period_ends_past_the_horizon_never_runs():
    # wrapped: every period had "expired", the task ran the whole time
    out = in_child(lambda: _run(Scenario(host=Host(cpus=1), tasks=[
        Task("t", Periodic(run_ns=1000, period_ns=M, jitter_ns=M, offset_ns=M), start_ns=S)]), M))
    assert out["task"]["cpu_ns"] == [0]


def test_guest_spinlock_sleep_past_the_horizon():
    # wrapped: wait_ns 7.2e18
    sc = Scenario(host=Host(cpus=2), vms=[_vm(Task("s", SpinlockLoop(think_ns=1000, sleep_ns=M, sleep_jitter_ns=M),
                                                   count=3), start_ns=S)], check_invariants=True)
    out = in_child(lambda: _run(sc, M))
    assert max(out["task"]["wait_ns"]) <= 1_000_000
    _sane(out, 2)


def test_guest_ipi_handler_past_the_horizon():
    # wrapped: ipi_rtt_max_ns -1220
    sc = Scenario(host=Host(cpus=2), vms=[_vm(Task("i", IPISync(compute_ns=1000, handler_ns=M), count=2),
                                              start_ns=S)], check_invariants=True)
    out = in_child(lambda: _run(sc, M))
    assert min(out["vm"]["ipi_rtt_max_ns"]) >= 0
    _sane(out, 2)


@pytest.mark.parametrize("make", [
    pytest.param(lambda: Scenario(host=Host(cpus=1), vms=[_vm(Task("c", Phases([("critical", M)])), vcpus=1,
                                                              start_ns=S)]), id="guest-critical"),
    pytest.param(lambda: Scenario(host=Host(cpus=1, idle_states=[[0, 10]]), tasks=[
        Task("t", RunSleep(run_ns=M, sleep_ns=1000, run_jitter_ns=M), start_ns=S)]), id="idle-state-exit-latency"),
    pytest.param(lambda: Scenario(host=Host(cpus=1), tasks=[
        Task("f", RunSleep(run_ns=M, sleep_ns=1, run_jitter_ns=M), start_ns=S),
        Task("rt", Periodic(run_ns=100_000, period_ns=300_000), policy="fifo", rt_priority=10, start_ns=S)]),
        id="rt-preempts-fair"),
    pytest.param(lambda: Scenario(host=Host(cpus=1), vms=[_vm(Task("m", Phases([("mmio", M), ("run", M)])), vcpus=1,
                                                              start_ns=S)]), id="guest-mmio-exit"),
    pytest.param(lambda: Scenario(host=Host(cpus=2), vms=[_vm(Task("s", SpinlockLoop(
        think_ns=M, think_dist="exponential", hold_ns=M, hold_dist="uniform", hold_spread_ns=M,
        spin_threshold_ns=M), count=3), start_ns=S)]), id="spinlock-horizon-work"),
    pytest.param(lambda: Scenario(host=Host(cpus=1, rt_guard="rt_throttle", rt_runtime_ns=M, rt_period_ns=M),
                                  tasks=[Task("rt", Hog(), policy="fifo", rt_priority=1, start_ns=S),
                                         Task("f", Hog(), start_ns=S)]), id="rt-throttle-horizon-period"),
    pytest.param(lambda: Scenario(host=Host(cpus=1, fair_server_runtime_ns=M, fair_server_period_ns=M),
                                  tasks=[Task("rt", Hog(), policy="fifo", rt_priority=1, start_ns=S),
                                         Task("f", Hog(), start_ns=S)]), id="fair-server-horizon-period"),
    # exits to the VMM that last up to the horizon (kvm/userspace.pxi, kvm/vmm_actions.pxi)
    pytest.param(lambda: Scenario(host=Host(cpus=1), vms=[_vm(Task("u", Phases([("user_io", M), ("run", M)])), vcpus=1,
                                                              start_ns=S, user_return_ns=10**9)]), id="guest-user-io-exit"),
    pytest.param(lambda: Scenario(host=Host(cpus=1), vms=[_vm(Task("p", Phases([("fault", M), ("run", M)])), vcpus=1,
                                                              start_ns=S)]), id="guest-fault-exit"),
    # synchronize_rcu() callers sleeping a horizon-long (exponential) interval on a nohz_full host
    pytest.param(lambda: Scenario(host=Host(cpus=2, nohz_full=[1]), tasks=[
        Task("u", RcuUpdater(interval_ns=M, work_ns=M, arrival="poisson"), count=2, start_ns=S)],
        vms=[_vm(Task("c", Cyclictest(interval_ns=M)), vcpus=1, pin=[1], start_ns=S)]), id="rcu-updater-horizon"),
])
def test_horizon_values_neither_hang_nor_wrap(make):
    sc = make()
    ncpu = sc.host.cpus
    out = in_child(lambda: _run(sc, M))
    assert out["now"] == M
    _sane(out, ncpu)


def test_a_run_to_the_horizon_from_zero():
    # Only sleepers whose next wake-up lies past the horizon: nothing is left to do, and the
    # clock reaches MAX_TIME_NS without a wrapped event firing on the way.
    sc = Scenario(host=Host(cpus=2), cgroups=[Cgroup("g")], tasks=[
        Task("a", RunSleep(run_ns=1000, sleep_ns=M, sleep_jitter_ns=M), cgroup="g"),
        Task("p", Periodic(run_ns=1000, period_ns=M - 10_005, offset_ns=5))])
    out = in_child(lambda: _run(sc, M))
    assert out["now"] == M and out["task"]["cpu_ns"] == [1000, 1000]
    _sane(out, 2)


def test_engine_refuses_scenarios_its_int32_indices_cannot_address():
    # 4096 CPUs x 524,289 task groups = 2^31 + 4096 cfs_rqs: the products were formed in int32
    # and wrapped before the allocation; now they are checked first.
    from pvsched._core import Engine
    kw, _, _ = Scenario(host=Host(cpus=4096), tasks=[Task("t", Hog())]).compile()
    ntg = 524_289
    kw.update(tg_parent=np.zeros(ntg, dtype=np.int64), tg_shares=np.full(ntg, 1024 << 10, dtype=np.int64),
              tg_idle=np.zeros(ntg, dtype=np.int64))
    kw["tg_parent"][0] = -1
    with pytest.raises(ValueError, match="too large"):
        Engine(**kw)
