"""nohz_full tick-stop rules (kernel/sched/core.c sched_can_stop_tick(), kernel/time/tick-sched.c
can_stop_full_tick() and tick_nohz_next_event(); Linux v6.15), reached through pvsched.rcu."""
import pytest

from pvsched.rcu import can_stop_full_tick, sched_can_stop_tick, tick_timer_in_next_period


@pytest.mark.parametrize("kw,stop", [
    (dict(), True),                         # idle / nothing queued
    (dict(fair=1), True),                   # a single fair task (the usual isolated vCPU thread)
    (dict(fair=2), False),                  # two fair tasks need the tick for preemption
    (dict(rt=1), True), (dict(rt=2), True), # FIFO never needs it, however many
    (dict(rt=2, fair=5), True),             # ... and it hides the fair tasks (fair server aside)
    (dict(rt=1, rr=1), True),               # one SCHED_RR task runs tickless
    (dict(rt=2, rr=2), False),              # two need round-robin slices
    (dict(rt=2, rr=1), True),               # RR + FIFO: rr_nr_running == 1
    (dict(rt=3, rr=2, fair=1), False),
    (dict(dl=1), False), (dict(dl=1, rt=1), False),
])
def test_sched_can_stop_tick(kw, stop):
    assert sched_can_stop_tick(**kw) == stop


def test_sched_can_stop_tick_rejects_more_rr_than_rt():
    with pytest.raises(ValueError):
        sched_can_stop_tick(rt=1, rr=2)


def test_can_stop_full_tick_needs_no_dependency():
    assert can_stop_full_tick()
    for dep in ("posix_timer", "perf_events", "sched", "clock_unstable", "rcu", "rcu_exp"):
        assert not can_stop_full_tick([dep])
    assert not can_stop_full_tick(sched_ok=False)
    with pytest.raises(ValueError):
        can_stop_full_tick(["bogus"])


@pytest.mark.parametrize("hz", [100, 250, 1000])
def test_a_timer_in_the_next_tick_period_keeps_the_tick(hz):
    tick = 1_000_000_000 // hz
    last = 7 * tick                         # last jiffies update (the previous tick boundary)
    assert tick_timer_in_next_period(last + tick, last, tick)         # due exactly at the next tick
    assert tick_timer_in_next_period(last + tick // 5, last, tick)
    assert not tick_timer_in_next_period(last + tick + 1, last, tick)
    assert not tick_timer_in_next_period(-1, last, tick)              # no timer pending
