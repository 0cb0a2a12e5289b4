"""The step-by-step kernel API (``pvsched.kernel``) and the engine follow the kernel's rules
where a user steps them (Linux v6.15): TICK_NSEC rounding (``include/vdso/jiffies.h``); no
reweight to an unchanged weight (``update_cfs_group``, ``set_user_nice``, ``reweight_task_fair``);
waking a delayed entity (``requeue_delayed_entity``, DELAY_ZERO); the custom-slice clamp of
``sched_setattr()`` (``__setparam_fair``).
"""
import warnings

import pytest

from pvsched import Host, Scenario, Simulation, Task, VM, GuestKernel
from pvsched.kernel import (SLICE_MAX_NS, SLICE_MIN_NS, FairRunqueue, SliceClampedWarning,
                            setparam_fair_slice, tick_nsec)
from pvsched.workloads import Hog


# --------------------------------------------------------------------------- TICK_NSEC (item 16)
@pytest.mark.parametrize("hz,expected", [(100, 10_000_000), (250, 4_000_000), (300, 3_333_333),
                                         (1000, 1_000_000), (24, 41_666_667), (1024, 976_563),
                                         (3, 333_333_333), (7, 142_857_143)])
def test_tick_nsec_rounds_like_the_kernel(hz, expected):
    # (NSEC_PER_SEC + HZ/2) / HZ
    assert tick_nsec(hz) == (10**9 + hz // 2) // hz == expected


def test_engine_ticks_every_rounded_tick_nsec_on_host_and_guest():
    # 99 whole rounded ticks (976563 ns) fit before until_ns; with a truncated TICK_NSEC (976562 ns)
    # a 100th tick would land at 97656200 < until_ns.
    until = 100 * 976_563 - 1
    host = Simulation(Scenario(host=Host(cpus=1, hz=1024), tasks=[Task("h", Hog())])).run(until_ns=until)
    assert int(host.cpus["nr_ticks"][0]) == 99
    vm = VM("v", vcpus=1, tasks=[Task("g", Hog())], guest=GuestKernel(hz=1024))
    guest = Simulation(Scenario(host=Host(cpus=1, hz=100), vms=[vm])).run(until_ns=until)
    assert int(guest.vcpus["guest_ticks"][0]) == 99


def test_lag_clamp_uses_the_rounded_tick():
    # update_entity_lag clamps vlag to calc_delta_fair(max(2 * slice, TICK_NSEC)); at HZ=24 the tick
    # (41666667 ns) is the larger term for a 0.7 ms slice.
    rq = FairRunqueue(nr_cpus=1, hz=24, features={"DELAY_DEQUEUE": False})
    a = rq.enqueue(nice=0)
    rq.enqueue(nice=0)
    rq.set_curr(a)
    rq.advance(500_000_000)                  # a runs far ahead of V
    rq.put_prev()
    rq.dequeue(a)
    assert rq.entity(a)["vlag"] == -41_666_667


# ------------------------------------------------------------------- reweight no-op (item 17)
def _running_pair():
    rq = FairRunqueue(nr_cpus=4)
    a = rq.enqueue(nice=3)
    b = rq.enqueue(nice=-2)
    rq.set_curr(rq.pick())
    rq.advance(1_234_567)
    return rq, a, b


def test_reweight_to_the_same_weight_changes_nothing():
    rq, a, b = _running_pair()
    for e in (rq.curr, a if rq.curr != a else b):
        before = rq.state(), rq.entity(e)
        assert rq.reweight(e, rq.entity(e)["weight"]) is False
        assert rq.reweight(e, nice=3 if e == a else -2) is False
        assert (rq.state(), rq.entity(e)) == before


def test_reweight_to_a_new_weight_still_rescales_and_reports_it():
    rq, a, b = _running_pair()
    assert rq.reweight(a, 2048) is True
    assert rq.entity(a)["weight"] == 2048


def test_reweight_by_nice_keeps_the_table_inverse_weight():
    # reweight_task_fair() stores the sched_prio_to_wmult entry after reweight_entity()
    from pvsched.kernel import sched_prio_to_wmult, sched_prio_to_weight
    rq, a, b = _running_pair()
    assert rq.reweight(a, nice=7) is True
    e = rq.entity(a)
    assert e["weight"] == sched_prio_to_weight(7)
    assert e["inv_weight"] == sched_prio_to_wmult(7)
    with pytest.raises(ValueError):
        rq.reweight(a, 1024, nice=0)
    with pytest.raises(ValueError):
        rq.reweight(a)


# ------------------------------------------------------------ waking a delayed entity (item 18)
def _delayed(features=None):
    """a ran ahead of V and went to sleep: DELAY_DEQUEUE keeps it queued, delayed."""
    rq = FairRunqueue(nr_cpus=1, features=features)
    a = rq.enqueue(nice=0)
    b = rq.enqueue(nice=0)
    rq.set_curr(a)
    rq.advance(3_000_000)
    assert rq.dequeue(a) is False            # ineligible sleeper: delayed, still on the queue
    assert rq.entity(a)["sched_delayed"] and rq.entity(a)["on_rq"]
    rq.set_curr(b)
    return rq, a, b


def test_waking_a_delayed_entity_requeues_it():
    rq, a, b = _delayed()
    v = rq.entity(a)["vruntime"]
    assert rq.lag(a) < 0                     # still ineligible: DELAY_ZERO leaves it alone
    assert rq.enqueue(a) == a
    e = rq.entity(a)
    assert e["on_rq"] and not e["sched_delayed"] and e["vruntime"] == v
    assert rq.state()["nr_queued"] == 2


def test_waking_a_delayed_entity_with_positive_lag_zeroes_it_under_delay_zero():
    rq, a, b = _delayed()
    rq.advance(8_000_000)                    # b catches up and passes a: a's lag turns positive
    assert rq.lag(a) > 0
    rq.enqueue(a)                            # requeue_delayed_entity: vlag = 0, place_entity
    assert rq.entity(a)["vlag"] == 0
    assert abs(rq.lag(a)) <= 1               # placed at V (floor-rounded average)
    assert not rq.entity(a)["sched_delayed"]


def test_without_delay_zero_the_positive_lag_is_kept():
    rq, a, b = _delayed({"DELAY_ZERO": False})
    rq.advance(8_000_000)
    v = rq.entity(a)["vruntime"]
    rq.enqueue(a)
    assert rq.entity(a)["vruntime"] == v and not rq.entity(a)["sched_delayed"]


def test_enqueue_of_a_queued_entity_that_is_not_delayed_still_fails():
    rq, a, b = _delayed()
    with pytest.raises(ValueError, match="already queued"):
        rq.enqueue(b)
    with pytest.raises(ValueError, match="delayed"):
        rq.enqueue(a, vlag=5)                # a requeue keeps the entity's own lag


# ------------------------------------------------------------------ custom slice clamp (item 19)
@pytest.mark.parametrize("asked,got", [(1, 100_000), (99_999, 100_000), (100_000, 100_000),
                                       (3_000_000, 3_000_000), (100_000_000, 100_000_000),
                                       (10**12, 100_000_000)])
def test_setparam_fair_slice_clamps(asked, got):
    # clamp_t(u64, attr->sched_runtime, NSEC_PER_MSEC/10, NSEC_PER_MSEC*100)
    assert (SLICE_MIN_NS, SLICE_MAX_NS) == (100_000, 100_000_000)
    assert setparam_fair_slice(asked) == got


def test_clamp_slice_rejects_what_the_kernel_would_not_take():
    with pytest.raises(ValueError):
        setparam_fair_slice(0)                    # 0 means "no custom slice" in sched_attr
    with pytest.raises(ValueError):
        setparam_fair_slice(-5)


def test_task_slice_out_of_range_says_what_the_kernel_would_do():
    from pvsched import ScenarioError
    with pytest.raises(ScenarioError, match="clamp it to 100000"):
        Simulation(Scenario(tasks=[Task("t", Hog(), slice_ns=50_000)]))


def test_fair_runqueue_refuses_an_out_of_range_slice_and_says_how_to_clamp():
    rq = FairRunqueue()
    with pytest.raises(ValueError, match="clamp_slice=True"):
        rq.enqueue(slice_ns=50_000)


def test_fair_runqueue_clamps_like_sched_setattr_when_asked_and_reports_it():
    rq = FairRunqueue()
    with pytest.warns(SliceClampedWarning, match="50000.*100000"):
        a = rq.enqueue(slice_ns=50_000, clamp_slice=True)
    assert rq.entity(a)["slice"] == 100_000 and rq.entity(a)["custom_slice"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = rq.enqueue(slice_ns=300_000, clamp_slice=True)     # in range: nothing to report
    assert rq.entity(b)["slice"] == 300_000
