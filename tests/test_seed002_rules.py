"""Seed 002 rules, one by one: the debooster (LCA, penalty, debounce, rate limit, EEVDF bookkeeping),
PLE, kvm_vcpu_on_spin (flags, candidate tiers and order, relaxed round, last_boosted_vcpu, yield_to
failures), ipi_context (recency window, two-stage EOI clearing), guest spinlocks and IPIs."""
import doctest

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pvsched.kernel as K
from pvsched import (VM, Cgroup, Debooster, GuestKernel, Host, Scenario, ScenarioError, Simulation, Task,
                     YieldPolicy)
from pvsched._core import Engine
from pvsched.kernel import FairRunqueue
from pvsched.workloads import Hog, IPISync, SpinlockLoop


# ---------------------------------------------------------------- debooster: penalty rules
def test_penalty_factor_at_2_7_13_entities_both_curves():
    assert [K.deboost_factor(n) for n in (2, 7, 13)] == [6.0, 2.0, 1.0]
    assert [K.deboost_factor(n, "linear") for n in (2, 7, 13)] == [6.0, 3.5, 1.0]
    # the patch's table, step by step; the linear curve falls 0.5x per entity and is flat above 12
    assert [K.deboost_factor(n) for n in (3, 4, 6, 8, 9, 12, 100)] == [4.0, 2.5, 2.5, 2.0, 1.5, 1.5, 1.0]
    assert [K.deboost_factor(n, "linear") for n in (3, 12, 100)] == [5.5, 1.0, 1.0]
    with pytest.raises(ValueError):
        K.deboost_factor(2, "cubic")


def test_penalty_is_gran_plus_110pct_need_clamped_to_cap():
    g = 2_800_000
    assert K.deboost_penalty(g, 0, 2) == g                       # no gap: the granularity
    assert K.deboost_penalty(g, 1_000_000, 2) == g + 1_100_000   # gran + 1.1 x need
    assert K.deboost_penalty(g, 10**9, 2) == 6 * g               # capped by the queue-size table
    assert K.deboost_penalty(g, 10**9, 7) == 2 * g
    assert K.deboost_penalty(g, 10**9, 13) == g
    assert K.deboost_penalty(g, 10**9, 7, curve="linear") == 35 * g // 10
    # debounced reverse pair: cut to max(need, gran) before the clamp
    assert K.deboost_penalty(g, 1_000_000, 2, reverse=True) == g
    assert K.deboost_penalty(g, 5_000_000, 2, reverse=True) == 5_000_000
    # overflow-safe: extreme inputs saturate instead of wrapping
    big = 2**64 - 1
    assert K.deboost_penalty(big, big, 2) <= big
    assert K.deboost_penalty(10, big, 2) == 60


def test_penalty_docstring_examples():
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner()
    globs = {"deboost_penalty": K.deboost_penalty, "deboost_factor": K.deboost_factor,
             "ple_window_grow": K.ple_window_grow, "ple_window_shrink": K.ple_window_shrink,
             "IpiContext": K.IpiContext}
    for obj in (K.deboost_penalty, K.deboost_factor, K.ple_window_grow, K.ple_window_shrink, K.IpiContext):
        assert obj.__doc__ and ">>>" in obj.__doc__, obj
        runner.run(parser.get_doctest(obj.__doc__, dict(globs), obj.__name__, None, 0))
    assert runner.summarize(verbose=False).failed == 0


# ---------------------------------------------------------------- debooster: EEVDF bookkeeping
def _tree_sum(st):
    # (S, W) recomputed from the tree members' vruntimes (u64 keys relative to min_vruntime)
    return st["avg_vruntime"], st["avg_load"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["enq", "adv", "pick", "pen", "pen_curr", "deq"]),
                          st.integers(0, 2**31)), min_size=1, max_size=60))
def test_lag_sum_stays_within_rounding_after_penalties(ops):
    rq = FairRunqueue(nr_cpus=4)
    ents = []
    for op, x in ops:
        queued = [e for e in ents if rq.entity(e)["on_rq"]]
        if op == "enq" or not queued:
            if len(ents) < 12:
                ents.append(rq.enqueue(nice=(x % 11) - 5))
        elif op == "adv":
            rq.advance(x % 3_000_000)
        elif op == "pick":
            e = rq.pick()
            if e is not None:
                rq.set_curr(e)
        elif op == "pen":
            K.deboost_entity(rq, queued[x % len(queued)], x % 20_000_000)
        elif op == "pen_curr" and rq.curr is not None and rq.entity(rq.curr)["on_rq"]:
            K.deboost_entity(rq, rq.curr, x % 20_000_000)
        elif op == "deq" and len(queued) > 1:
            e = queued[x % len(queued)]
            if e != rq.curr:
                rq.dequeue(e, sleep=False)
        s = rq.state()
        if s["members"]:
            # V is the floor of the weighted mean: sum of w * lag lies in (-W, 0]
            assert -s["sum_weight"] < s["sum_weighted_lag"] <= 0, (s, ops)
            mv = s["min_vruntime"]
            S = sum(((rq.entity(e)["vruntime"] - mv + 2**63) % 2**64 - 2**63) * rq.entity(e)["weight"]
                    for e in s["tree"])
            assert S == s["avg_vruntime"] and sum(rq.entity(e)["weight"] for e in s["tree"]) == s["avg_load"]


def test_penalty_moves_vruntime_deadline_and_vlag_together():
    rq = FairRunqueue(nr_cpus=1)
    a = rq.enqueue(nice=0)
    b = rq.enqueue(nice=0)
    rq.set_curr(a)
    rq.advance(100_000)
    before = rq.entity(b)
    K.deboost_entity(rq, b, 3_000_000)        # a queued (tree) entity
    after = rq.entity(b)
    assert (after["vruntime"] - before["vruntime"]) % 2**64 == 3_000_000       # u64 vruntime wraps early
    assert after["deadline"] == (after["vruntime"] + after["slice"]) % 2**64
    assert after["vlag"] == rq.lag(b)
    assert rq.pick() == a                     # the penalized entity is no longer eligible


# ---------------------------------------------------------------- debooster on a live engine
def two_hogs(**db):
    sim = Simulation(Scenario(host=Host(cpus=1, debooster=Debooster(enabled=True, **db)), cgroups=[Cgroup("c")],
                              tasks=[Task("a", Hog(), cgroup="c"), Task("b", Hog(), cgroup="c")]))
    sim.run(5_000_000)
    return sim


def _curr_other(sim):
    c = sim.engine.running()[0]
    return c, 1 - c


def test_debooster_penalty_on_engine_matches_the_rule():
    sim = two_hogs()
    e = sim.engine
    y, t = _curr_other(sim)
    ey, et = e.entity(y), e.entity(t)
    gran = 700_000                                     # calc_delta_fair(base slice, nice 0), 1 CPU
    need = max(0, ((et["vruntime"] - ey["vruntime"] + 2**63) % 2**64) - 2**63)
    d = K.deboost_call(e, 0, t)
    expect = min(max(gran + need + need // 10, gran), 6 * gran)
    assert d == {"deboost_applied": 1, "deboost_penalty_ns": expect}
    ey2 = e.entity(y)
    assert (ey2["vruntime"] - ey["vruntime"]) % 2**64 == expect
    assert ey2["deadline"] == (ey2["vruntime"] + ey2["slice"]) % 2**64


@pytest.mark.parametrize("mode", ["v2", "v1"])
def test_rate_limit_per_rq_v2_one_pass_per_window_v1_restarts_on_every_call(mode):
    sim = two_hogs(rate_limit_mode=mode)
    e = sim.engine
    _, t = _curr_other(sim)
    assert K.deboost_call(e, 0, t).get("deboost_applied") == 1
    assert K.deboost_call(e, 0, t) == {"deboost_rate_limited": 1}        # same instant
    sim.run(5_000_000 + 5_000_000)
    _, t = _curr_other(sim)
    assert K.deboost_call(e, 0, t) == {"deboost_rate_limited": 1}        # 5 ms after the pass
    sim.run(5_000_000 + 6_500_000)
    _, t = _curr_other(sim)
    d = K.deboost_call(e, 0, t)
    if mode == "v2":
        assert d.get("deboost_applied") == 1                            # 6.5 ms after the last pass
    else:
        assert d == {"deboost_rate_limited": 1}                         # 1.5 ms after the last call


def test_reverse_pair_debounce_and_why_it_cannot_fire_with_defaults():
    # With a window wide enough to see it: A -> B, then B -> A within the window is cut to max(need, gran).
    sim = two_hogs(rate_limit_ns=0, debounce_ns=3_000_000)
    e = sim.engine
    a, b = _curr_other(sim)
    assert K.deboost_call(e, 0, b).get("deboost_applied") == 1
    sim.run(5_000_000 + 1_500_000)                     # the penalized A loses the CPU at the next tick
    assert sim.engine.running()[0] == b
    eb, ea = e.entity(b), e.entity(a)
    need = max(0, ((ea["vruntime"] - eb["vruntime"] + 2**63) % 2**64) - 2**63)
    d = K.deboost_call(e, 0, a)
    assert d["deboost_debounced"] == 1 and d["deboost_applied"] == 1
    assert d["deboost_penalty_ns"] == min(max(need, 700_000), 6 * 700_000)
    # Defaults (6 ms limiter, 600 us debounce): the reverse pair is rate-limited before the debounce.
    sim = two_hogs()
    e = sim.engine
    a, b = _curr_other(sim)
    K.deboost_call(e, 0, b)
    sim.run(5_000_000 + 500_000)
    d = K.deboost_call(e, 0, a if sim.engine.running()[0] == b else b)
    assert d == {"deboost_rate_limited": 1}


def test_lca_found_at_the_right_depth_for_same_vm_and_cross_vm_pairs():
    sc = Scenario(host=Host(cpus=2), cgroups=[Cgroup("tenants")], tasks=[Task("h", Hog(), cpus=[0])],
                  vms=[VM("a", vcpus=2, pin=[0, 0], cgroup="tenants", tasks=[Task("x", Hog(), count=2)]),
                       VM("b", vcpus=2, pin=[0, 1], cgroup="tenants", tasks=[Task("x", Hog(), count=2)])])
    sim = Simulation(sc)
    sim.run(10_000_000)
    e, ix = sim.engine, sim.task_index
    a0, a1, b0, b1, h = ix("a/vcpu0"), ix("a/vcpu1"), ix("b/vcpu0"), ix("b/vcpu1"), ix("h")
    # same VM, same pCPU: the vCPU thread entities themselves in vm:a's queue (tenants -> vm:a -> task)
    ea, eb, cfs, depth, nr = K.deboost_lca(e, a0, a1)
    assert (ea, eb, depth, nr) == (a0, a1, 2, 2)
    assert e.entity(ea)["cfs_rq"] == e.entity(eb)["cfs_rq"] == cfs and e.entity(ea)["my_q"] == -1
    # different VMs under one parent: the two VMs' group entities in tenants' queue
    ga, gb, cfs2, depth2, nr2 = K.deboost_lca(e, a0, b0)
    assert depth2 == 1 and nr2 == 2
    assert ga == e.group_entity(sim.cgroup_index("vm:a"), 0) and gb == e.group_entity(sim.cgroup_index("vm:b"), 0)
    # a vCPU thread and a root host task: tenants' group entity vs the task, at the root
    gt, th, _, depth3, nr3 = K.deboost_lca(e, a0, h)
    assert (gt, th, depth3, nr3) == (e.group_entity(sim.cgroup_index("tenants"), 0), h, 0, 2)
    # the debooster acts only within one runqueue
    assert K.deboost_lca(e, a0, b1) is None


# ---------------------------------------------------------------- PLE
def test_ple_window_grow_and_shrink_rules():
    assert K.ple_window_grow(4096) == 8192
    assert K.ple_window_grow(2**31) == 2**32 - 1            # capped at UINT_MAX
    assert K.ple_window_grow(4096, modifier=5000) == 9096   # modifier >= base: additive
    assert K.ple_window_grow(8192, modifier=0) == 4096      # modifier < 1: back to base
    assert K.ple_window_grow(4096, maximum=6000) == 6000
    assert K.ple_window_shrink(2**20) == 4096               # default shrink 0: reset to base
    assert K.ple_window_shrink(2**20, modifier=2) == 2**19
    assert K.ple_window_shrink(5000, modifier=2) == 4096    # never below base
    assert K.ple_window_shrink(2**20, modifier=5000) == 2**20 - 5000


def holder_spinner(**vm_kw):
    # Two vCPUs on two pCPUs (no overcommit): A holds the lock 1 ms at a time, B spins for it.
    tasks = [Task("a", SpinlockLoop(hold_ns=1_000_000, think_ns=0, pv=False), cpus=[0]),
             Task("b", SpinlockLoop(hold_ns=1_000, think_ns=0, pv=False), cpus=[1])]
    sc = Scenario(host=Host(cpus=2), vms=[VM("g", vcpus=2, pin=[0, 1], tasks=tasks, **vm_kw)], check_invariants=True)
    r = Simulation(sc).run(until_ns=100_000_000)
    assert r.violations["count"] == 0
    return r


def test_pause_loop_exits_fire_after_the_window_and_grow_it():
    r = holder_spinner()
    v = r.vcpus
    spin_b = int(v["spin_ns"][1])
    assert spin_b > 40_000_000                          # B spins about half the time
    assert v["exits_ple"][0] == 0 and v["exits_ple"][1] > 0
    # never scheduled out, so the window keeps doubling: ~log2 exits per spin, not one per 2 us
    assert v["exits_ple"][1] < spin_b / 2048 / 20
    assert v["ple_window"][1] > 4096 and v["ple_window"][0] == 4096
    assert r.vm_row("g")["on_spin_no_boost"] == v["exits_ple"][1]   # nobody to yield to


@pytest.mark.parametrize("kw", [{"ple": False}, {"ple_gap": 0}])
def test_ple_off_or_gap_zero_means_no_pause_loop_exits(kw):
    r = holder_spinner(**kw)
    assert r.vcpus["exits_ple"].sum() == 0 and r.vcpus["spin_ns"][1] > 40_000_000


def test_ple_window_is_in_guest_tsc_cycles():
    # grow modifier 0 keeps the window at its base: one exit per window of uninterrupted spinning
    # (segments cut short by tick exits end without one, so the count is a little lower)
    for ghz in (1.0, 4.0):
        v = holder_spinner(guest_cpu_ghz=ghz, ple_window_grow=0).vcpus
        window_ns = 4096 / ghz
        assert 0.85 < v["exits_ple"][1] * window_ns / v["spin_ns"][1] <= 1.0, ghz


# ---------------------------------------------------------------- kvm_vcpu_on_spin on a live engine
def spin_engine(nvcpu=4, pcpus=1, pin=None, yp=None, tasks_on=None, run_ns=100_000_000, **vm_kw):
    tasks_on = range(nvcpu) if tasks_on is None else tasks_on
    tasks = [Task(f"h{i}", Hog(), cpus=[i]) for i in tasks_on]
    vm = VM("g", vcpus=nvcpu, pin=pin or [0] * nvcpu, tasks=tasks, yield_policy=yp or YieldPolicy(), **vm_kw)
    sim = Simulation(Scenario(host=Host(cpus=pcpus), vms=[vm]))
    sim.run(run_ns)
    return sim


def running_vcpu(sim, cpu=0):
    t = sim.engine.running()[cpu]
    n = K.yield_vm_state(sim.engine, 0)["nvcpu"]
    return next(v for v in range(n) if K.yield_vcpu_state(sim.engine, v)["task"] == t)


def setup_candidates(sim, me, flags):
    """flags: {offset in scan order (1..): dict of vCPU flags}; the scan starts at me + 1."""
    n = K.yield_vm_state(sim.engine, 0, last_boosted=me)["nvcpu"]
    for off in range(1, n):
        f = dict(ready=1, blocking=0, preempted=1, preempted_in_kernel=0, pending_irq=0)
        f.update(flags.get(off, {}))
        K.yield_vcpu_state(sim.engine, (me + off) % n, **f)
    return n


def test_preempt_notifier_flags_follow_sched_out_and_in():
    sim = spin_engine()
    me = running_vcpu(sim)
    for v in range(4):
        s = K.yield_vcpu_state(sim.engine, v)
        if v == me:
            assert (s["ready"], s["preempted"]) == (0, 0)
        else:   # preempted while runnable, guest running user code (Hog)
            assert (s["ready"], s["preempted"], s["preempted_in_kernel"], s["mode"]) == (1, 1, 0, "preempted")


def test_stock_filter_skips_user_mode_preempted_and_boosts_kernel_mode():
    sim = spin_engine()
    me = running_vcpu(sim)
    n = setup_candidates(sim, me, {1: {}, 2: {"preempted_in_kernel": 1}})
    r = K.yield_on_spin(sim.engine, me)
    assert r["kind"] == "vanilla" and r["counters"]["yield_to_ok"] == 1
    # stock v6.12-v6.18: last_boosted_vcpu stores the loop count (i = 1), not the vCPU index
    assert r["boosted"] == 1 != (me + 2) % n


def test_last_boosted_fix_stores_the_boosted_vcpu_index():
    for yp in (YieldPolicy(fix_last_boosted=True), YieldPolicy(ipi_aware=True)):
        sim = spin_engine(yp=yp)
        me = running_vcpu(sim)
        n = setup_candidates(sim, me, {2: {"preempted_in_kernel": 1}})
        assert K.yield_on_spin(sim.engine, me)["boosted"] == (me + 2) % n


def _ipi_record(sim, me, receiver):
    K.yield_vcpu_state(sim.engine, me, ipi_pending=1, ipi_last_receiver=receiver, ipi_time=sim.engine.now_ns)


@pytest.mark.parametrize("order, expect_off, kind", [("scan", 1, "kernel"), ("priority", 3, "ipi_receiver")])
def test_candidate_order_ipi_receiver_pending_kernel(order, expect_off, kind):
    # scan order: [kernel-mode preempted, user-mode, the spinner's IPI receiver (user mode)]
    sim = spin_engine(yp=YieldPolicy(ipi_aware=True, candidate_order=order))
    me = running_vcpu(sim)
    n = setup_candidates(sim, me, {1: {"preempted_in_kernel": 1}})
    _ipi_record(sim, me, (me + 3) % n)
    r = K.yield_on_spin(sim.engine, me)
    assert r["kind"] == kind and r["boosted"] == (me + expect_off) % n


def test_priority_order_tiers_receiver_then_pending_then_kernel():
    sim = spin_engine(yp=YieldPolicy(ipi_aware=True, candidate_order="priority", relaxed_round=False),
                      posted_interrupts=True)
    me = running_vcpu(sim)
    n = setup_candidates(sim, me, {1: {"preempted_in_kernel": 1}, 3: {"pending_irq": 1}})
    assert K.yield_on_spin(sim.engine, me)["kind"] == "pending_irq"            # tier 2 before tier 3
    assert K.yield_on_spin(sim.engine, running_vcpu(sim))["counters"].get("yield_to_ok") == 1


def test_ipi_receiver_accepted_in_user_mode_only_within_the_window():
    sim = spin_engine(yp=YieldPolicy(ipi_aware=True, relaxed_round=False), run_ns=200_000_000)
    me = running_vcpu(sim)
    n = setup_candidates(sim, me, {})
    K.yield_vcpu_state(sim.engine, me, ipi_pending=1, ipi_last_receiver=(me + 2) % n,
                       ipi_time=sim.engine.now_ns - 50_000_001)                  # just too old
    r = K.yield_on_spin(sim.engine, me)
    assert r["boosted"] is None and r["counters"]["on_spin_no_boost"] == 1
    _ipi_record(sim, me, (me + 2) % n)
    r = K.yield_on_spin(sim.engine, me)
    assert r["kind"] == "ipi_receiver" and r["boosted"] == (me + 2) % n


def test_pending_interrupt_tier_needs_apicv():
    for posted, kind in ((True, "pending_irq"), (False, None)):
        sim = spin_engine(yp=YieldPolicy(ipi_aware=True, relaxed_round=False), posted_interrupts=posted)
        me = running_vcpu(sim)
        setup_candidates(sim, me, {2: {"pending_irq": 1}})
        assert K.yield_on_spin(sim.engine, me)["kind"] == kind


def test_relaxed_round_is_the_fallback_and_can_be_switched_off():
    sim = spin_engine(yp=YieldPolicy(ipi_aware=True))
    me = running_vcpu(sim)
    n = setup_candidates(sim, me, {1: {"preempted": 0}})                     # woken, not preempted
    r = K.yield_on_spin(sim.engine, me)
    assert r["kind"] == "relaxed" and r["boosted"] == (me + 2) % n           # first *preempted* one
    assert r["counters"]["relaxed_rounds"] == 1
    sim = spin_engine(yp=YieldPolicy(ipi_aware=True, relaxed_round=False))
    me = running_vcpu(sim)
    setup_candidates(sim, me, {})
    r = K.yield_on_spin(sim.engine, me)
    assert r["boosted"] is None and "relaxed_rounds" not in r["counters"]
    # stock KVM takes a ready, not preempted (freshly woken) vCPU; the strict round does not
    sim = spin_engine()
    me = running_vcpu(sim)
    setup_candidates(sim, me, {2: {"preempted": 0}})
    assert K.yield_on_spin(sim.engine, me)["boosted"] is not None


def test_not_ready_and_blocking_without_events_are_skipped():
    sim = spin_engine()
    me = running_vcpu(sim)
    setup_candidates(sim, me, {1: {"ready": 0, "preempted_in_kernel": 1}, 2: {"blocking": 1, "preempted_in_kernel": 1},
                               3: {"ready": 0}})
    assert K.yield_on_spin(sim.engine, me)["boosted"] is None


def test_yield_to_failure_esrch_both_runqueues_single():
    sim = spin_engine(nvcpu=2, pcpus=2, pin=[0, 1])
    K.yield_vcpu_state(sim.engine, 1, ready=1)
    c = K.yield_on_spin(sim.engine, 0)["counters"]
    assert c["yield_to_esrch"] == 1 and "yield_to_ok" not in c


def test_yield_to_failure_target_running():
    sim = spin_engine(nvcpu=3, pcpus=2, pin=[0, 0, 1])
    me = running_vcpu(sim, 0)
    setup_candidates(sim, me, {})                       # the other vCPU on pCPU 0: user mode, skipped
    K.yield_vcpu_state(sim.engine, 2, ready=1, preempted=0)
    c = K.yield_on_spin(sim.engine, me)["counters"]
    assert c["yield_to_running"] == 1 and "yield_to_ok" not in c


def test_yield_to_failure_target_not_runnable():
    sim = spin_engine(nvcpu=3, tasks_on=[0, 1])          # vCPU 2 has nothing to run: it halts
    assert K.yield_vcpu_state(sim.engine, 2)["mode"] == "halted"
    me = running_vcpu(sim)
    setup_candidates(sim, me, {})
    K.yield_vcpu_state(sim.engine, 2, ready=1, blocking=1, preempted=0, pending_irq=1)   # dy_runnable
    c = K.yield_on_spin(sim.engine, me)["counters"]
    assert c["yield_to_not_runnable"] == 1 and "yield_to_ok" not in c


def test_yield_to_failure_rt_vcpu_has_no_yield_to_task():
    sim = spin_engine(nvcpu=2, vcpu_policy="fifo", vcpu_rt_priority=10)
    me = running_vcpu(sim)
    setup_candidates(sim, me, {1: {"preempted_in_kernel": 1}})
    c = K.yield_on_spin(sim.engine, me)["counters"]
    assert c["yield_to_class"] == 1 and "yield_to_ok" not in c


def test_esrch_strikes_stop_the_scan_after_three():
    sim = spin_engine(nvcpu=5, pcpus=5, pin=[0, 1, 2, 3, 4])
    for v in range(1, 5):
        K.yield_vcpu_state(sim.engine, v, ready=1)
    assert K.yield_on_spin(sim.engine, 0)["counters"]["yield_to_esrch"] == 3


# ---------------------------------------------------------------- ipi_context
def test_recency_window_expiry():
    c = K.IpiContext(4, window_ns=50_000_000)
    c.deliver(0, 2)
    c.advance(50_000_000)
    assert c.is_receiver(0, 2)                      # exactly at the window: still recent
    c.advance(1)
    assert not c.is_receiver(0, 2)
    c.deliver(0, 2)                                 # a new IPI refreshes the record
    assert c.is_receiver(0, 2) and not c.is_receiver(1, 2)


def test_eoi_clearing_stages():
    c = K.IpiContext(4)
    c.deliver(0, 1)
    c.eoi(1)        # receiver matches and is recent: both stages
    assert not c.state(0)["pending_ipi"] and c.state(1)["last_ipi_sender"] == -1
    assert c.counters == {"tracked": 1, "eoi_clear_receiver": 1, "eoi_clear_sender": 1}
    c.deliver(0, 1)
    c.deliver(0, 2)  # the sender's record now names vCPU 2
    c.eoi(1)        # stage 1 only: vCPU 1's own context is cleared, the sender's pending stays
    assert c.state(0)["pending_ipi"] and c.is_receiver(0, 2)
    assert c.state(1)["last_ipi_sender"] == -1 and c.counters["eoi_clear_sender"] == 1
    c.advance(60_000_000)
    c.eoi(2)        # too old: stage 2 is skipped
    assert c.state(0)["pending_ipi"] and c.counters["eoi_clear_sender"] == 1
    with pytest.raises(ValueError):
        c.deliver(3, 3)


# ---------------------------------------------------------------- guest spinlocks
def lock_vm(pcpus=4, vcpus=4, ntask=8, kind="queued", until=100_000_000, **wkw):
    w = dict(nlocks=1, hold_ns=20_000, hold_dist="fixed", think_ns=20_000)
    w.update(wkw)
    sc = Scenario(host=Host(cpus=pcpus), vms=[VM("g", vcpus=vcpus, guest=GuestKernel(spinlock=kind),
                                                  tasks=[Task("w", SpinlockLoop(**w), count=ntask)])],
                  check_invariants=True)
    r = Simulation(sc).run(until_ns=until)
    assert r.violations["count"] == 0
    return r


@pytest.mark.parametrize("kind", ["queued", "ticket", "tas"])
def test_spinlock_mutual_exclusion_and_counters(kind):
    r = lock_vm(kind=kind, pv=kind != "tas")
    v = r.vm_row("g")
    # one lock, fixed 20 us holds: the completed sections fit in the run (two holders would not)
    assert v["critical_sections"] * 20_000 <= r.now_ns + 20_000
    assert v["critical_sections"] > 0.8 * r.now_ns / 20_000      # and the lock is nearly always busy
    assert 0 <= v["lock_acquisitions"] - v["critical_sections"] <= 1
    assert v["lock_contended"] > 0 and v["spin_ns"] > 0
    assert r.lock_wait("g").count <= v["lock_contended"]
    if kind == "ticket":
        assert v["lock_steals"] == 0
    if kind == "tas":
        assert v["pv_halts"] == 0 and v["pv_kicks"] == 0       # virt_spin_lock has no PV wait


def test_tas_lock_survives_waiter_preemption_that_stalls_fifo_locks():
    # 8 vCPUs on 4 pCPUs, one lock: a FIFO lock hands the lock to the next waiter even when its
    # vCPU is preempted (everyone waits for it); test-and-set gives it to a waiter that runs.
    kw = dict(pcpus=4, vcpus=8, ntask=8, hold_ns=5_000, think_ns=20_000, pv=False)
    fifo = lock_vm(kind="ticket", **kw).vm_row("g")
    tas = lock_vm(kind="tas", **kw).vm_row("g")
    assert tas["critical_sections"] > 1.5 * fifo["critical_sections"]
    assert tas["spin_ns"] < fifo["spin_ns"]
    assert tas["lock_steals"] > 0       # a newcomer took a lock whose waiters were all preempted


def test_tas_lock_rejects_pv_waiters():
    with pytest.raises(ScenarioError, match=r"^VM\('g'\)\.tasks\[0\]\.workload\.pv"):
        VM("g", vcpus=2, guest=GuestKernel(spinlock="tas"), tasks=[Task("w", SpinlockLoop(pv=True))])


def test_uncontended_lock_never_spins():
    v = lock_vm(ntask=1).vm_row("g")
    assert v["lock_contended"] == 0 and v["spin_ns"] == 0 and v["critical_sections"] > 2000


def test_pv_spinlock_halts_waiters_and_kicks_them():
    r = lock_vm(pcpus=2, vcpus=4, ntask=4, hold_ns=500_000, think_ns=10_000, spin_threshold_ns=30_000)
    v = r.vm_row("g")
    assert v["pv_halts"] > 10 and v["pv_kicks"] > 10
    assert r.vcpus["exits_hypercall"].sum() == v["pv_kicks"]        # each kick is the unlocker's hypercall
    r2 = lock_vm(pcpus=2, vcpus=4, ntask=4, hold_ns=500_000, think_ns=10_000, pv=False)
    assert r2.vm_row("g")["pv_halts"] == 0 and r2.vcpus["exits_hypercall"].sum() == 0


def test_preempted_lock_holder_makes_directed_yield_target_kernel_mode_vcpus():
    # 8 vCPUs on 2 pCPUs: holders get preempted in their critical sections; waiters PLE-exit and yield.
    r = lock_vm(pcpus=2, vcpus=8, ntask=8, hold_ns=50_000, think_ns=50_000)
    v = r.vm_row("g")
    assert v["ple_exits"] > 100 and v["on_spin"] == v["ple_exits"]
    assert v["yield_to_ok"] > 10 and v["boost_vanilla"] == v["yield_to_ok"]
    assert 0 < v["boost_useful"] <= v["yield_to_ok"]


# ---------------------------------------------------------------- guest IPIs
def ipi_vm(until=100_000_000, pcpus=4, vcpus=4, yp=None, **kw):
    wkw = {k: kw.pop(k) for k in list(kw) if k in ("targets", "handler_ns", "compute_ns")}
    w = IPISync(**{"compute_ns": 50_000, "handler_ns": 5_000, **wkw})
    sc = Scenario(host=Host(cpus=pcpus), check_invariants=True,
                  vms=[VM("g", vcpus=vcpus, tasks=[Task("w", w, count=vcpus)], yield_policy=yp or YieldPolicy(), **kw)])
    r = Simulation(sc).run(until_ns=until)
    assert r.violations["count"] == 0
    return r


def test_ipi_round_trips_exits_and_tracking():
    r = ipi_vm(yp=YieldPolicy(ipi_aware=True))
    v, vc = r.vm_row("g"), r.vcpus
    assert v["ipi_round_trips"] > 1000
    assert 0 <= v["ipi_sent"] - v["ipi_handled"] <= 4 and v["ipi_handled"] - v["ipi_round_trips"] <= 4
    h = r.ipi_latency("g")
    assert h.count == v["ipi_round_trips"] and h.mean_ns >= 5_000     # at least the handler
    assert vc["exits_ipi_send"].sum() >= v["ipi_round_trips"] and vc["exits_eoi"].sum() >= v["ipi_round_trips"]
    assert v["ipi_tracked"] == v["ipi_sent"] and v["eoi_clear_receiver"] == v["ipi_handled"]
    assert ipi_vm().vm_row("g")["ipi_tracked"] == 0                  # stock KVM keeps no record


def test_apicv_hides_eoi_and_ipiv_hides_delivery():
    a = ipi_vm(yp=YieldPolicy(ipi_aware=True), posted_interrupts=True)
    assert a.vcpus["exits_eoi"].sum() == 0 and a.vcpus["exits_ipi_recv"].sum() == 0
    assert a.vm_row("g")["ipi_tracked"] > 0 and a.vm_row("g")["eoi_clear_receiver"] == 0
    b = ipi_vm(yp=YieldPolicy(ipi_aware=True), posted_interrupts=True, ipi_virtualization=True)
    assert b.vcpus["exits_ipi_send"].sum() == 0 and b.vm_row("g")["ipi_tracked"] == 0
    assert b.vm_row("g")["ipi_round_trips"] > 1000


def test_multicast_ipi_waits_for_every_target_and_is_not_tracked():
    r = ipi_vm(yp=YieldPolicy(ipi_aware=True), targets=3)
    v = r.vm_row("g")
    assert v["ipi_tracked"] == 0 and v["ipi_round_trips"] > 100
    assert abs(v["ipi_sent"] - 3 * v["ipi_round_trips"]) <= 12


def test_ipi_to_preempted_receiver_is_boosted_only_by_ipi_aware_yield():
    # 8 vCPUs on 2 pCPUs; senders spin on preempted receivers (user mode).
    base = ipi_vm(pcpus=2, vcpus=8).vm_row("g")
    aware = ipi_vm(pcpus=2, vcpus=8, yp=YieldPolicy(ipi_aware=True)).vm_row("g")
    assert base["boost_ipi_receiver"] == 0 and aware["boost_ipi_receiver"] > 100
    assert aware["boost_useful"] > base["boost_useful"]
    assert aware["ipi_round_trips"] > base["ipi_round_trips"]


# ---------------------------------------------------------------- API: validation, TOML, determinism
def test_seed002_bad_input_names_the_field():
    # constructors check what they can (the error names the object); the scenario the rest
    cases = [
        (lambda: Scenario(tasks=[Task("t", SpinlockLoop())]), r"^tasks\[0\]\.workload"),
        (lambda: VM("g", vcpus=4, tasks=[Task("t", IPISync(targets=4))]), r"^VM\('g'\)\.tasks\[0\]\.workload\.targets"),
        (lambda: SpinlockLoop(hold_dist="normal"), r"^SpinlockLoop\.hold_dist"),
        (lambda: SpinlockLoop(hold_ns=0), r"^SpinlockLoop\.hold_ns"),
        (lambda: YieldPolicy(candidate_order="x"), r"^YieldPolicy\.candidate_order"),
        (lambda: YieldPolicy(ipi_window_ns=-1), r"^YieldPolicy\.ipi_window_ns"),
        (lambda: Debooster(curve="x"), r"^Debooster\.curve"),
        (lambda: Debooster(rate_limit_mode="v3"), r"^Debooster\.rate_limit_mode"),
        (lambda: VM("g", ple_window=0), r"^VM\('g'\)\.ple_window"),
        (lambda: VM("g", ple_window_max=100), r"^VM\('g'\)\.ple_window_max"),
        (lambda: VM("g", guest_cpu_ghz=0), r"^VM\('g'\)\.guest_cpu_ghz"),
        (lambda: GuestKernel(spinlock="mcs"), r"^GuestKernel\.spinlock"),
        (lambda: VM("g", yield_policy={"ipi_aware": True}), r"^VM\('g'\)\.yield_policy"),
    ]
    for make, path in cases:
        with pytest.raises(ScenarioError, match=path):
            make()
    # the dict / TOML form names the full path
    for d, path in [({"vms": [{"name": "g", "tasks": [{"name": "t", "workload": {"kind": "spinlock_loop", "hold_ns": 0}}]}]},
                     r"vms\[0\]\.tasks\[0\]\.workload\.hold_ns"),
                    ({"vms": [{"name": "g", "ple_window": 0}]}, r"vms\[0\]\.ple_window"),
                    ({"vms": [{"name": "g", "yield_policy": {"candidate_order": "x"}}]}, r"vms\[0\]\.yield_policy\.candidate_order"),
                    ({"host": {"debooster": {"curve": "x"}}, "vms": [{"name": "g"}]}, r"host\.debooster\.curve")]:
        with pytest.raises(ScenarioError, match=path):
            Scenario.from_dict(d)
    with pytest.raises(ScenarioError, match=r"vms\[0\]\.yield_policy\.bogus"):
        Scenario.from_dict({"vms": [{"name": "g", "yield_policy": {"bogus": 1}}]})
    with pytest.raises(ScenarioError, match=r"host\.debooster\.bogus"):
        Scenario.from_dict({"host": {"debooster": {"bogus": 1}}, "vms": [{"name": "g"}]})


def test_engine_rejects_bad_sync_programs():
    from pvsched import workloads  # noqa: F401 (registers the ops)
    kw, _, _ = Scenario(vms=[VM("g", vcpus=2, tasks=[Task("t", SpinlockLoop())])]).compile()
    ops = kw["ops"].copy()
    li = [i for i in range(len(ops)) if ops[i, 0] == 12][0]
    ops[li, 1] = 5                                     # lock 5 of a VM with 1 lock
    with pytest.raises(ValueError, match="lock"):
        Engine(**{**kw, "ops": ops})
    kw2 = {**kw, "task_kern": np.zeros_like(kw["task_kern"]), "task_tg": np.zeros_like(kw["task_tg"])}
    kw2["task_vcpu"] = kw["task_vcpu"]
    with pytest.raises(ValueError):
        Engine(**kw2)
    with pytest.raises(ValueError, match="debooster"):
        Engine(**{**kw, "debooster": {"curve": "zigzag"}})
    with pytest.raises(ValueError, match="PLE"):
        Engine(**{**kw, "vms": [{**kw["vms"][0], "ple_window": 0}]})


def sync_scenario(seed=3):
    vms = [VM("a", vcpus=4, guest=GuestKernel(spinlock="ticket"), ple_window=8192, guest_cpu_ghz=2.5,
              yield_policy=YieldPolicy(ipi_aware=True, candidate_order="priority", ipi_window_ns=10_000_000),
              tasks=[Task("l", SpinlockLoop(nlocks=2, hold_dist="exponential", sleep_ns=30_000, sleep_every=3), count=4)]),
           VM("b", vcpus=4, tasks=[Task("i", IPISync(compute_ns=40_000, sleep_ns=20_000), count=4)])]
    return Scenario(host=Host(cpus=3, context_switch_ns=2_000, debooster=Debooster(enabled=True, curve="linear")),
                    vms=vms, seed=seed)


def test_toml_round_trip_keeps_seed002_fields_and_results():
    sc = sync_scenario()
    sc2 = Scenario.from_toml(sc.to_toml())
    assert sc2.to_dict() == sc.to_dict()
    assert sc2.vms[0].yield_policy == sc.vms[0].yield_policy and sc2.host.debooster == sc.host.debooster
    a = Simulation(sc).run(until_ns=50_000_000)
    b = Simulation(sc2).run(until_ns=50_000_000)
    for k in a.raw["vm"]:
        assert np.array_equal(a.raw["vm"][k], b.raw["vm"][k]), k


def test_determinism_with_locks_ipis_and_yields():
    a = Simulation(sync_scenario()).run(until_ns=100_000_000)
    b = Simulation(sync_scenario()).run(until_ns=100_000_000)
    assert a.events == b.events
    for key in ("task", "vcpu", "vm"):
        for col in a.raw[key]:
            assert np.array_equal(a.raw[key][col], b.raw[key][col]), (key, col)
    assert np.array_equal(a.raw["vm_ipi_hist"], b.raw["vm_ipi_hist"])
    assert np.array_equal(a.raw["vm_lock_hist"], b.raw["vm_lock_hist"])
    v = a.vms
    assert v["critical_sections"][0] > 0 and v["ipi_round_trips"][1] > 0 and v["yield_to_attempts"].sum() > 0
    c = Simulation(sync_scenario(seed=4)).run(until_ns=100_000_000)
    assert not np.array_equal(a.raw["vm"]["critical_sections"], c.raw["vm"]["critical_sections"])


# ---------------------------------------------------------------- robustness
def test_rt_boosted_vcpu_that_migrates_returns_to_fair_on_its_new_cpu():
    # Regression: seed 000's bounded boost makes a kicked vCPU thread RT; an RT wake-up may move it
    # to another pCPU. Its fair entity must follow (set_task_rq), or the unboost enqueues it on one
    # CPU with its entity chain on another (an out-of-bounds hierarchy walk in pick_next).
    from pvsched.policies import BoostPolicy
    vm = VM("v0", vcpus=4, tasks=[Task("l", SpinlockLoop(hold_ns=5_000, hold_dist="uniform", hold_spread_ns=1_000,
                                                         think_ns=1_000, think_dist="exponential", sleep_ns=20_000)),
                                  Task("i", IPISync(compute_ns=1_000, handler_ns=1), count=3)],
            posted_interrupts=True, exit_ns=0, boost=BoostPolicy(mode="bounded"), guest=GuestKernel(preempt="lazy"),
            yield_policy=YieldPolicy(candidate_order="priority", fix_last_boosted=True))
    sc = Scenario(host=Host(cpus=3, context_switch_ns=3_000, preempt="lazy",
                            debooster=Debooster(enabled=True, rate_limit_ns=0, rate_limit_mode="v1")),
                  vms=[vm], seed=48, check_invariants=True)
    r = Simulation(sc).run(until_ns=50_000_000)
    assert r.violations["count"] == 0 and r.vm_row("v0")["ipi_round_trips"] > 100
    assert r.raw["vcpu"]["boosts_kick_unhalt"].sum() + r.raw["vcpu"]["boosts_halt"].sum() > 0


def _random_scenario(rng):
    from pvsched.policies import BoostPolicy
    vms = []
    for k in range(rng.randint(1, 3)):
        nv = rng.randint(2, 5)
        kind = rng.choice(["queued", "ticket", "tas"])
        tasks = []
        for j in range(rng.randint(1, 3)):
            if rng.random() < 0.5:
                w = SpinlockLoop(nlocks=rng.randint(1, 2), hold_ns=rng.choice([1, 5_000, 200_000]),
                                 hold_dist=rng.choice(["fixed", "uniform", "exponential"]),
                                 think_ns=rng.choice([0, 1_000, 50_000]), pv=rng.random() < 0.6 and kind != "tas",
                                 spin_threshold_ns=rng.choice([1, 10_000]), sleep_ns=rng.choice([0, 20_000]))
            else:
                w = IPISync(compute_ns=rng.choice([0, 1_000, 80_000]), handler_ns=rng.choice([1, 2_000]),
                            targets=rng.randint(1, nv - 1), sleep_ns=rng.choice([0, 30_000]))
            tasks.append(Task(f"t{j}", w, count=rng.randint(1, 3), cpus=rng.choice([None, [0]])))
        vms.append(VM(f"v{k}", vcpus=nv, tasks=tasks, hlt_exits=rng.random() < 0.8,
                      posted_interrupts=rng.random() < 0.3, ipi_virtualization=rng.random() < 0.2,
                      timer_exits=rng.random() < 0.8, exit_ns=rng.choice([0, 1_500]), ple=rng.random() < 0.9,
                      ple_window_grow=rng.choice([0, 2]), guest=GuestKernel(spinlock=kind, pv_sched_yield=rng.random() < 0.5,
                                                                            idle_poll_ns=rng.choice([0, 20_000])),
                      boost=BoostPolicy(mode=rng.choice(["vanilla", "dynamic", "bounded"])),
                      yield_policy=YieldPolicy(ipi_aware=rng.random() < 0.5, candidate_order=rng.choice(["scan", "priority"]))))
    host = Host(cpus=rng.randint(1, 4), context_switch_ns=rng.choice([0, 3_000]), preempt=rng.choice(["full", "lazy"]),
                debooster=Debooster(enabled=rng.random() < 0.5, rate_limit_ns=rng.choice([0, 6_000_000])))
    return Scenario(host=host, vms=vms, tasks=[Task("hog", Hog())] if rng.random() < 0.3 else [],
                    seed=rng.randint(0, 99), check_invariants=True)


def test_random_seed002_scenarios_run_clean():
    import random
    rng = random.Random(2024)
    for _ in range(25):
        sc = _random_scenario(rng)
        r = Simulation(sc).run(until_ns=20_000_000)
        assert r.violations["count"] == 0
        v = r.vms
        assert np.all(v["lock_acquisitions"] >= v["critical_sections"])
        assert np.all(v["lock_acquisitions"] - v["critical_sections"] <= v["nlocks"])
        modes = sum(r.vcpus[m] for m in ("guest_ns", "exit_ns", "poll_ns", "halted_ns", "preempted_ns"))
        assert np.all(modes <= r.now_ns)


# ---------------------------------------------------------------- guest PV sched yield
def sched_yield_vms(targets, pcpus=4, pvsy=True, until=150_000_000):
    w = IPISync(compute_ns=100_000, handler_ns=3_000, targets=targets)
    sc = Scenario(host=Host(cpus=pcpus), check_invariants=True,
                  vms=[VM(f"g{k}", vcpus=8, tasks=[Task("w", w, count=8)], start_ns=k * 1_234_567,
                          guest=GuestKernel(pv_sched_yield=pvsy)) for k in range(2)])
    r = Simulation(sc).run(until_ns=until)
    assert r.violations["count"] == 0
    return r


def test_pv_sched_yield_hypercall_yields_to_a_preempted_multicast_target():
    r = sched_yield_vms(targets=2)
    v = r.vms
    hc = int(v["sched_yield_hypercalls"].sum())
    assert hc > 100 and 0 < v["sched_yield_ok"].sum() <= hc
    assert r.vcpus["exits_hypercall"].sum() == hc          # one hypercall exit each (no PV kicks here)
    off = sched_yield_vms(targets=2, pvsy=False).vms
    assert off["sched_yield_hypercalls"].sum() == 0
    assert v["ipi_round_trips"].sum() > 1.2 * off["ipi_round_trips"].sum()


def test_pv_sched_yield_not_for_single_target_calls_or_running_targets():
    # smp_call_function_single takes the native IPI path; on an idle host no vCPU is preempted.
    assert sched_yield_vms(targets=1).vms["sched_yield_hypercalls"].sum() == 0
    assert sched_yield_vms(targets=2, pcpus=16).vms["sched_yield_hypercalls"].sum() == 0


def test_pv_sched_yield_flag_is_validated():
    with pytest.raises(ScenarioError, match=r"^GuestKernel\.pv_sched_yield"):
        GuestKernel(pv_sched_yield="yes")
    with pytest.raises(ScenarioError, match=r"vms\[0\]\.guest\.pv_sched_yield"):
        Scenario.from_dict({"vms": [{"name": "g", "guest": {"pv_sched_yield": "yes"}}]})
