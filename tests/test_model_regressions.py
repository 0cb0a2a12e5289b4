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
