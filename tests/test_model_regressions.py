"""Regression tests for model bugs found by the long-run fuzz/soak campaign (issue 13), each with
the reproduction that exposed it, plus the runqueue-counter audit they rely on."""
import numpy as np
import pytest

from pvsched import VM, Host, Scenario, Simulation, Task
from pvsched._core import engine_audit
from pvsched.workloads import Cyclictest, Periodic, RunSleep


def _guest_mix(**host):
    vm = VM("v0", vcpus=2, halt_poll_ns=0, tasks=[
        Task("ct", Cyclictest(interval_ns=1_000_000), count=2),
        Task("per", Periodic(run_ns=500_000, period_ns=2_000_000), count=3),
        Task("rs", RunSleep(run_ns=300_000, sleep_ns=700_000), count=2)])
    return Scenario(host=Host(cpus=2, **host), vms=[vm], check_invariants=True)


def test_audit_is_clean_on_a_fresh_and_a_running_engine():
    sim = Simulation(_guest_mix())
    assert engine_audit(sim.engine) == []
    sim.run(until_ns=5_000_000)
    assert engine_audit(sim.engine) == []


def test_delayed_task_moved_by_periodic_balance_is_not_runnable_on_its_new_rq():
    # Issue 13 item 1, minimal case: the guest's periodic balance (migrate_load) moves a
    # DELAY_DEQUEUE'd sleeper; enqueue_task_fair must not count it runnable there (v6.13+:
    # h_nr_runnable = 0 for a non-wakeup enqueue of a delayed entity). The stale count made an
    # idle guest CPU look busy from t = 223,007,500 ns on.
    sim = Simulation(_guest_mix())
    for ms in range(1, 231):
        r = sim.run(until_ns=ms * 1_000_000)
        assert engine_audit(sim.engine) == [], f"stale runqueue counters at {ms} ms"
    assert r.violations["count"] == 0, r.violations
    assert r.balance["periodic_moved"]["guests"] > 0      # the path was exercised


def test_no_hlt_exit_storm_after_the_stale_count():
    # Issue 13 item 2, same root cause: with the stale h_nr_runnable the idle vCPU never passed
    # the "guest idle" check after its HLT exit (kvm_vcpu_block needs an idle guest), so it
    # re-entered, found nothing, and exited on HLT again: ~225 k HLT exits per simulated second
    # on vCPU 1 from 240 ms on, instead of < 1 k (one per guest timer wake-up at most).
    sim = Simulation(_guest_mix())
    prev = np.zeros(2, dtype=np.int64)
    for w in range(1, 31):
        r = sim.run(until_ns=w * 20_000_000)
        hlt = np.asarray(r.vcpus["exits_hlt"])
        assert (hlt - prev).max() < 200, f"HLT storm in window ending {w * 20} ms: {hlt - prev}"
        prev = hlt
    assert r.violations["count"] == 0


def _rt_guest(guard="rt_throttle", runtime_ns=649, exit_ns=0):
    from pvsched.workloads import Hog
    vm = VM("v", vcpus=1, exit_ns=exit_ns, tasks=[Task("t", Hog(), policy="fifo", rt_priority=50)])
    return Scenario(host=Host(rt_guard=guard, rt_runtime_ns=runtime_ns), vms=[vm])


@pytest.mark.parametrize("exit_ns", [0, 1])
def test_throttled_guest_rt_lets_the_vcpu_halt(exit_ns):
    # Issue 13 item 3: a guest whose only work is a throttled RT task is idle (the throttled
    # rt_rq is off the rq, dequeue_top_rt_rq), so its vCPU blocks after the HLT exit. The model
    # counted the throttled task as work: the vCPU re-entered, found nothing to run and exited
    # on HLT again -- forever at one instant with exit_ns=0, every ns with exit_ns=1.
    sim = Simulation(_rt_guest(exit_ns=exit_ns))
    r = sim.run(until_ns=1_000_000)
    assert r.now_ns == 1_000_000 and r.events < 50
    r = sim.run(until_ns=3_000_000_000)
    assert r.vcpus["exits_hlt"][0] <= 3 and r.violations["count"] == 0
    # the 1 ms tick overran 649 ns of runtime by ~1 ms: paid back 649 ns per period
    assert r.task("v/t").cpu_ns < 1_000_000
    assert r.vcpus["halted_ns"][0] > 2_990_000_000


def test_guest_rt_period_timer_wakes_the_halted_vcpu_when_it_unthrottles():
    # The guest's rt_period_timer is a LAPIC timer interrupt: a halted vCPU wakes, and with the
    # debt paid the RT task runs again (about one 1 ms tick per 1 s period at 0.9 ms runtime).
    sim = Simulation(_rt_guest(runtime_ns=900_000))
    cpu = []
    for s in range(1, 5):
        cpu.append(sim.run(until_ns=s * 1_000_000_000).task("v/t").cpu_ns)
    steps = np.diff([0] + cpu)
    assert all(900_000 <= x <= 1_100_000 for x in steps), steps


@pytest.mark.parametrize("guard", ["fair_server", "none"])
def test_other_rt_guards_run_the_same_case(guard):
    r = Simulation(_rt_guest(guard)).run(until_ns=1_000_000)
    assert r.now_ns == 1_000_000 and r.violations["count"] == 0


def test_same_instant_guard_reports_a_livelock_and_stops_there():
    # The guard: more than `same_instant_limit` events at one instant is reported as the
    # 'livelock' invariant and the run stops at that instant instead of spinning. The default
    # limit (10^6 + 64 per event slot) is far above any legitimate burst; lowered here, 40 task
    # starts at t = 0 trip it.
    from pvsched.workloads import Hog
    sim = Simulation(Scenario(host=Host(cpus=2), tasks=[Task("h", Hog(), count=40)]))
    assert sim.engine.same_instant_limit >= 1_000_000
    sim.engine.same_instant_limit = 10
    with pytest.warns(RuntimeWarning, match="livelock"):
        r = sim.run(until_ns=5_000_000)
    assert r.violations["livelock"] and r.violations["count"] == 1
    assert r.now_ns == 0 and r.events == 10 and sim.engine.stalled
    with pytest.warns(RuntimeWarning):
        r = sim.run(until_ns=6_000_000)
    assert r.now_ns == 0 and r.events == 10          # it does not move on


def test_same_instant_guard_default_does_not_trip_on_many_simultaneous_starts():
    from pvsched.workloads import Hog
    r = Simulation(Scenario(host=Host(cpus=64), tasks=[Task("h", Hog(), count=20_000)])).run(until_ns=2_000_000)
    assert not r.violations["livelock"] and r.now_ns == 2_000_000


def test_long_zero_time_hand_over_chains_do_not_overflow_the_stack():
    # Found by the fuzz campaign (SIGSEGV): tasks that yield as soon as they run hand the CPU on
    # at one instant, each hand-over a nested program_step -> schedule -> switch_in call. Here
    # 2,000 such tasks queue behind a host RT task and run when it blocks: a 2,000-deep chain.
    # Past a small depth the step now continues from the event loop at the same instant. The run
    # uses a 256 KiB thread stack (in a forked child) so the old recursion would overflow it.
    import threading
    from pvsched import fuzz
    from pvsched.workloads import Phases

    def run():
        out = {}

        def body():
            sc = Scenario(host=Host(cpus=1), tasks=[
                Task("rt", Periodic(run_ns=1_000_000, period_ns=2_000_000), policy="fifo", rt_priority=1),
                Task("y", Phases([("yield",), ("sleep", 1_000_000)]), count=2_000)], check_invariants=True)
            r = Simulation(sc).run(until_ns=6_000_000)
            out["r"] = (int(r.raw["task"]["nr_yields"].sum()), r.violations["count"])
        threading.stack_size(256 * 1024)
        t = threading.Thread(target=body)
        t.start()
        t.join()
        return out["r"]
    status, value = fuzz.in_child(run, 60)
    assert status == "ok", (status, value)
    assert value == (10_000, 0)


def test_timer_and_yield_phases_alone_are_refused():
    # Found by the fuzz campaign: Phases([yield, yield, timer 2 ns]) starved for a while replays
    # every missed expiry, and each pass takes no time at all (an expired absolute timer returns
    # at once, a yield is free in the model): tens of millions of passes at one instant until the
    # livelock guard stopped the run. Such a program cannot be simulated faithfully (each pass
    # costs a real task a syscall or two), so it is refused; any time-taking phase makes it valid.
    from pvsched import ScenarioError
    from pvsched.workloads import Phases
    with pytest.raises(ScenarioError) as ei:
        Phases([("yield",), ("yield",), ("timer", 2)])
    assert ei.value.path == "Phases.phases"
    sc = Scenario(host=Host(cpus=1), tasks=[
        Task("rt", Periodic(run_ns=1_000_000, period_ns=2_000_000), policy="fifo", rt_priority=1),
        Task("p", Phases([("yield",), ("timer", 2), ("run", 1)]))])
    r = Simulation(sc).run(until_ns=5_000_000)
    assert r.now_ns == 5_000_000 and not r.violations["livelock"]
