"""VMM deferred work and HLT/MWAIT exit rules, one by one, on the engine's own C code
(policies/deferred_work.pxd and kvm/kvm_run.pxd through pvsched.kernel): the work queue's exact accounting, the VMM's
per-KVM_RUN settings, what KVM does at the idle instruction, when the vCPU thread runs work in
userspace, which vCPU a VMM signals, and the deterministic samplers; plus DeferredWork validation."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvsched import ScenarioError
from pvsched.kernel import (WorkQueue, arrival_gaps, idle_action, kick_target, kvm_run_settings,
                            stale_signal, user_work_choice, work_sizes)
from pvsched.policies import DeferredWork


# ------------------------------------------------------------------------------------------ queue
def test_queue_fifo_per_class_high_first_and_wraparound():
    q = WorkQueue(capacity=3)
    for t in range(3):
        assert q.push("low", now=t, size_ns=100 + t)
    assert q.pop("low") == (0, 100)
    assert q.push("low", now=10, size_ns=110)          # reuses the freed slot (ring wraps)
    assert q.push("high", now=11, size_ns=5)
    assert q.pop_any() == ("high", 11, 5)
    assert [q.pop_any() for _ in range(4)] == [("low", 1, 101), ("low", 2, 102), ("low", 10, 110), None]
    assert len(q) == 0


def test_queue_full_class_drops_and_counts_but_other_class_still_accepts():
    q = WorkQueue(capacity=2)
    assert q.push("low", 0, 1) and q.push("low", 1, 1)
    assert not q.push("low", 2, 1)
    assert q.push("high", 3, 1)
    s = q.stats()
    assert s["low"]["arrived"] == 3 and s["low"]["dropped"] == 1 and s["low"]["queued"] == 2
    assert s["high"]["arrived"] == 1 and s["high"]["dropped"] == 0


def test_done_records_latency_once_with_histogram():
    q = WorkQueue(capacity=4)
    q.push("high", now=1_000, size_ns=50)
    cls, at, size = q.pop_any()
    q.done(cls, queued_at=at, size_ns=size, now=4_000)
    s = q.stats()["high"]
    assert (s["done"], s["lat_sum_ns"], s["lat_max_ns"], s["work_ns"]) == (1, 3_000, 3_000, 50)
    assert int(q.histogram("high").sum()) == 1 and int(q.histogram("low").sum()) == 0
    with pytest.raises(ValueError):
        q.done("high", queued_at=5_000, size_ns=1, now=4_000)


ops = st.lists(st.tuples(st.sampled_from(["push_low", "push_high", "pop", "finish"]),
                         st.integers(0, 5_000), st.integers(1, 10_000)), max_size=300)


@settings(max_examples=150, deadline=None)
@given(ops, st.integers(1, 8))
def test_queue_accounting_is_exact(seq, cap):
    """Whatever the interleaving: arrived = dropped + queued + started, started = done + in service,
    every taken item completes exactly once, FIFO per class, and latency = done - queued."""
    q = WorkQueue(capacity=cap)
    now = 0
    model = {"low": [], "high": []}
    in_service = []
    lat = {"low": [], "high": []}
    for op, dt, size in seq:
        now += dt
        if op.startswith("push"):
            c = op[5:]
            ok = q.push(c, now=now, size_ns=size)
            assert ok == (len(model[c]) < cap)
            if ok:
                model[c].append((now, size))
        elif op == "pop":
            got = q.pop_any()
            want = ("high", *model["high"].pop(0)) if model["high"] else (
                ("low", *model["low"].pop(0)) if model["low"] else None)
            assert got == want
            if got:
                in_service.append(got)
        elif in_service:
            c, at, sz = in_service.pop(0)
            q.done(c, queued_at=at, size_ns=sz, now=now)
            lat[c].append(now - at)
    s = q.stats()
    for c in ("low", "high"):
        x = s[c]
        assert x["arrived"] == x["dropped"] + x["queued"] + x["started"]
        assert x["started"] == x["done"] + sum(1 for it in in_service if it[0] == c)
        assert x["queued"] == len(model[c])
        assert x["done"] == len(lat[c]) == int(q.histogram(c).sum())
        assert x["lat_sum_ns"] == sum(lat[c]) and x["lat_max_ns"] == max(lat[c], default=0)


def test_queue_bad_arguments():
    with pytest.raises(ValueError):
        WorkQueue(capacity=0)
    q = WorkQueue(capacity=1)
    with pytest.raises(ValueError):
        q.push("medium", 0, 1)
    with pytest.raises(ValueError):
        q.push("low", 0, 0)


# ------------------------------------------------------------------------------ per-KVM_RUN rules
def _spec_settings(pending, insn, hlt_exits, mwait_exits, toggle, executor):
    # Written from the proposals, independently of the C code.
    if toggle:                     # Graf: intercept only while work is pending (to userspace: his steps 1-4)
        return {"intercept": pending, "userspace_exit": pending and executor == "vcpu"}
    static = hlt_exits if insn == "hlt" else mwait_exits
    return {"intercept": static, "userspace_exit": static and pending and executor == "vcpu"}


@pytest.mark.parametrize("pending,insn,hlt_exits,mwait_exits,toggle,executor", list(itertools.product(
    [False, True], ["hlt", "mwait"], [False, True], [False, True], [False, True], ["thread", "vcpu"])))
def test_kvm_run_settings_table(pending, insn, hlt_exits, mwait_exits, toggle, executor):
    got = kvm_run_settings(pending=pending, insn=insn, hlt_exits=hlt_exits, mwait_exits=mwait_exits,
                           toggle=toggle, executor=executor)
    assert got == _spec_settings(pending, insn, hlt_exits, mwait_exits, toggle, executor)


def test_stock_kvm_never_exits_to_userspace_on_idle():
    for insn in ("hlt", "mwait"):
        for pending in (False, True):
            assert not kvm_run_settings(pending=pending, insn=insn)["userspace_exit"]


@pytest.mark.parametrize("intercept,user,insn,yld,want", [
    (False, False, "hlt", False, "stay"), (False, True, "mwait", True, "stay"),   # no exit, no bit
    (True, False, "hlt", False, "halt"), (True, False, "hlt", True, "halt"),
    (True, False, "mwait", False, "nop"), (True, False, "mwait", True, "nop_yield"),
    (True, True, "hlt", False, "userspace"), (True, True, "mwait", True, "userspace"),  # RFC: no yield then
])
def test_idle_action(intercept, user, insn, yld, want):
    assert idle_action(intercept=intercept, userspace_exit=user, insn=insn, mwait_yield=yld) == want


# ----------------------------------------------------------------------------- userspace work
def test_user_work_hlt_runs_low_until_a_wakeup_is_pending_high_always():
    assert user_work_choice(kind="hlt", n_high=0, n_low=2) == "low"
    assert user_work_choice(kind="hlt", n_high=0, n_low=2, wake_pending=True) is None
    assert user_work_choice(kind="hlt", n_high=1, n_low=2, wake_pending=True) == "high"
    assert user_work_choice(kind="hlt", n_high=0, n_low=0) is None


def test_user_work_mwait_budget_applies_to_low_items_only():
    assert user_work_choice(kind="mwait", n_high=0, n_low=1, used_ns=49_999, budget_ns=50_000) == "low"
    assert user_work_choice(kind="mwait", n_high=0, n_low=1, used_ns=50_000, budget_ns=50_000) is None
    assert user_work_choice(kind="mwait", n_high=1, n_low=1, used_ns=90_000, budget_ns=50_000) == "high"
    assert user_work_choice(kind="mwait", n_high=0, n_low=1, budget_ns=0) is None


def test_user_work_busy_guest_runs_only_high_and_thread_executor_runs_nothing():
    assert user_work_choice(kind="other", n_high=0, n_low=5) is None
    assert user_work_choice(kind="other", n_high=2, n_low=5) == "high"
    for kind in ("hlt", "mwait", "other"):
        assert user_work_choice(kind=kind, n_high=3, n_low=3, budget_ns=10**9, executor="thread") is None


def test_kick_target_prefers_halted_then_idle_then_busy_then_later():
    assert kick_target(["busy_guest", "idle_guest", "halted"]) == 2
    assert kick_target(["busy_guest", "idle_guest", "idle_guest"]) == 1
    assert kick_target(["later", "busy_guest"]) == 1
    assert kick_target(["later", "later"]) == 0
    assert kick_target(["halted", "userspace"]) is None     # a vCPU in userspace takes it
    assert kick_target([]) is None


@pytest.mark.parametrize("executor,toggle", list(itertools.product(["thread", "vcpu"], [False, True])))
def test_stale_signal_rules(executor, toggle):
    sig = lambda pending, c: stale_signal(pending=pending, kick_class=c, executor=executor, toggle=toggle)
    for pending in (False, True):
        assert not sig(pending, "userspace")                      # it re-enters with fresh settings
    for c in ("idle_guest", "busy_guest", "later"):
        assert sig(True, c)
        assert sig(False, c) == (toggle and executor == "thread")  # only in-kernel interception needs it
    assert sig(True, "halted") == (executor == "vcpu")
    assert not sig(False, "halted")


# ------------------------------------------------------------------------------------ samplers
def test_work_sizes_distributions_and_determinism():
    fixed = work_sizes(3, 100, 7_000, 0, "fixed")
    assert (fixed == 7_000).all()
    uni = work_sizes(3, 5_000, 1_000, 500, "uniform")
    assert uni.min() >= 1_000 and uni.max() <= 1_500 and abs(uni.mean() - 1_250) < 15
    ex = work_sizes(3, 40_000, 20_000, 0, "exponential")
    assert abs(ex.mean() / 20_000 - 1) < 0.03 and ex.max() <= 400_000 and ex.min() >= 1
    capped = work_sizes(3, 2_000, 20_000, 25_000, "exponential")
    assert capped.max() == 25_000
    assert (work_sizes(9, 50, 100, 0, "exponential") == work_sizes(9, 50, 100, 0, "exponential")).all()
    assert not (work_sizes(9, 50, 100, 0, "exponential") == work_sizes(10, 50, 100, 0, "exponential")).all()


def test_arrival_gaps_poisson_mean_and_cv_periodic_exact():
    g = arrival_gaps(5, 40_000, 500_000)
    assert abs(g.mean() / 500_000 - 1) < 0.03
    assert abs(g.std() / g.mean() - 1) < 0.05          # exponential: coefficient of variation 1
    assert (arrival_gaps(5, 10, 123_456, poisson=False) == 123_456).all()


# --------------------------------------------------------------------------------- configuration
def test_deferred_work_defaults_are_off_and_valid():
    w = DeferredWork()
    w.validate("vms[0].deferred_work", host_cpus=4, cgroup_names=set())
    assert not w.enabled() and w.nthreads() == 0 and w.mean_gap_ns() == 0
    assert DeferredWork(rate_per_s=1000).nthreads() == 1
    assert DeferredWork(mmio_items=True, executor="vcpu").nthreads() == 0


@pytest.mark.parametrize("field,value", [
    ("rate_per_s", -1), ("rate_per_s", "fast"), ("rate_per_s", True), ("rate_per_s", math.inf),
    ("rate_per_s", 2e9), ("arrival", "bursty"), ("size_ns", 0), ("size_ns", 1.5), ("size_dist", "normal"),
    ("size_spread_ns", -3), ("priority", "urgent"), ("mmio_items", 1), ("mmio_size_ns", 0),
    ("mmio_size_dist", "zipf"), ("mmio_priority", "mid"), ("executor", "coroutine"), ("threads", -1),
    ("threads", 0), ("thread_policy", "fifo"), ("thread_nice", 20), ("thread_cgroup", "nope"),
    ("thread_cgroup", 3), ("thread_cpus", []), ("thread_cpus", [0, 9]), ("thread_cpus", "0"),
    ("mwait_budget_ns", -1), ("preempt_high", "yes"), ("intercept_toggle", None), ("kick", 0),
    ("fallback_timer_ns", 10), ("fallback_timer_ns", -1), ("queue_capacity", 0), ("queue_capacity", 1 << 25),
])
def test_deferred_work_bad_values_name_the_field(field, value):
    w = DeferredWork(rate_per_s=100)
    setattr(w, field, value)
    with pytest.raises(ScenarioError) as e:
        w.validate("vms[1].deferred_work", host_cpus=4, cgroup_names={"vmm"})
    assert e.value.path == f"vms[1].deferred_work.{field}" or e.value.path.startswith(f"vms[1].deferred_work.{field}[")


def test_deferred_work_from_dict_unknown_key():
    from pvsched.policies.deferred_work import from_dict
    with pytest.raises(ScenarioError) as e:
        from_dict({"rate": 5}, "vms[0].deferred_work")
    assert e.value.path == "vms[0].deferred_work.rate"
    assert from_dict({"rate_per_s": 5}, "x").rate_per_s == 5
