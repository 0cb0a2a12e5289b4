"""RCU rules on nohz_full CPUs that run guests (pvsched.rcu): rcu_seq and jiffies arithmetic,
rcu_pending()'s order, the nohz_full shortcut with its GP-age limit, each seed-003 policy's skip
clause and state updates at each KVM hook, FQS scans over rcu_watching snapshots, the forced-tick
and resched escalation, stall warnings and synchronize_rcu() callers.

Expected values come from Linux v6.15 kernel/rcu/tree.c, tree_plugin.h, rcu.h and
include/linux/jiffies.h (the formulas are restated next to the assertions), and from the seed
thread's patches for the policies (seed-003-rcu-guest-exit.md §2, §4.3).
"""
import pytest

from pvsched.rcu import (
    RCU_POLICIES,
    RcuMachine,
    initial_jiffies,
    jiffies_till_force_qs,
    jiffies_to_sched_qs,
    msecs_to_jiffies,
    policy_hook,
    policy_skip,
    rcu_nohz_full_cpu,
    rcu_pending,
    rcu_seq_done,
    rcu_seq_snap,
    time_after,
    time_before,
)

U64 = 1 << 64
MS = 1_000_000


# ------------------------------------------------------------------------------------------
# sequence numbers and jiffies
# ------------------------------------------------------------------------------------------
def test_rcu_seq_snap_and_done():
    # snap = (s + 2*3 + 1) & ~3: idle (state 0) -> the next GP's end; in progress -> the one after
    assert rcu_seq_snap(0) == 4
    assert rcu_seq_snap(4) == 8
    assert rcu_seq_snap(5) == 12
    assert rcu_seq_snap(7) == 12
    assert rcu_seq_done(8, 8) and rcu_seq_done(9, 8) and not rcu_seq_done(7, 8)
    # ULONG_CMP_GE survives the wrap that rcu_state.gp_seq = (0 - 300) << 2 reaches after 300 GPs
    start = (((-300) % U64) << 2) % U64     # rcu_state.gp_seq at boot
    assert rcu_seq_done(8, start)
    assert not rcu_seq_done(start, 8)
    assert rcu_seq_snap(U64 - 4) == 0


def test_time_before_after_are_signed_differences():
    assert time_before(1, 2) and not time_before(2, 2) and not time_before(3, 2)
    assert time_after(3, 2) and not time_after(2, 2)
    # (long)(a - b) < 0 across the unsigned wrap
    assert time_before(U64 - 10, 5)
    assert time_after(5, U64 - 10)
    # a difference of exactly 2**63 is negative: "before" in both directions' sign convention
    assert time_before(0, 1 << 63)


def test_initial_jiffies_is_a_32_bit_wrap():
    # INITIAL_JIFFIES = (unsigned long)(unsigned int)(-300*HZ)
    assert initial_jiffies(1000) == (1 << 32) - 300_000
    assert initial_jiffies(250) == (1 << 32) - 75_000
    # so a P1' reset to 0 is "long ago" on 64-bit: time_before(jiffies, 0 + HZ) is false
    assert not time_before(initial_jiffies(1000), 0 + 1000)


@pytest.mark.parametrize("ms,hz,expect", [
    (1000, 1000, 1000), (1000, 250, 250), (1000, 100, 100), (1000, 300, 300),
    (1, 250, 1), (4, 250, 1), (5, 250, 2), (1, 100, 1), (10, 300, 3), (0, 1000, 0),
])
def test_msecs_to_jiffies_rounds_up(ms, hz, expect):
    assert msecs_to_jiffies(ms, hz) == expect


def test_fqs_defaults_and_sched_qs_delay():
    # RCU_JIFFIES_TILL_FORCE_QS = 1 + (HZ > 250) + (HZ > 500), + nr_cpu_ids / 256
    assert [jiffies_till_force_qs(hz, 8) for hz in (100, 250, 300, 1000)] == [1, 1, 2, 3]
    assert jiffies_till_force_qs(1000, 256) == 4
    # jiffies_to_sched_qs = max(first + 2*next, HZ/10 + nr_cpu_ids/256)
    assert jiffies_to_sched_qs(3, 3, 1000, 8) == 100
    assert jiffies_to_sched_qs(1, 1, 250, 8) == 25
    assert jiffies_to_sched_qs(100, 100, 1000, 8) == 300


def test_machine_parameters_follow_boot_clamping():
    m = RcuMachine(ncpu=4, nohz_full=[1, 2, 3], hz=250, patience_ms=7000,
                   jiffies_till_first_fqs=999, jiffies_till_next_fqs=0, stall_timeout_s=1)
    p = m.params
    assert p["gp_cpu"] == 0
    assert p["patience"] == 1250                 # capped at 5 s = 1250 jiffies at HZ=250
    assert p["jiffies_till_first_fqs"] == 250    # param_set_first_fqs_jiffies: min(j, HZ)
    assert p["jiffies_till_next_fqs"] == 1       # param_set_next_fqs_jiffies: 0 -> 1
    assert p["stall_check"] == 3 * 250           # rcu_cpu_stall_timeout clamped to >= 3 s
    assert p["window"] == 250 and p["nohz_full_timeout"] == 250


@pytest.mark.parametrize("kw", [dict(nohz_full=[0, 1]), dict(nohz_full=[5]), dict(policy="bogus"),
                                dict(window_jiffies=-1), dict(patience_ms=True), dict(bogus=1)])
def test_machine_rejects_bad_parameters(kw):
    args = dict(ncpu=2, nohz_full=[1])
    args.update(kw)
    with pytest.raises(ValueError):
        RcuMachine(**args)


# ------------------------------------------------------------------------------------------
# rcu_pending(): the order of its rules
# ------------------------------------------------------------------------------------------
GP = 5          # a gp_seq with a GP in progress (state bits 01)
IDLE_GP = 4


def test_rcu_pending_gp_changed_is_the_last_rule():
    assert rcu_pending(gp_seq=GP, rdp_gp_seq=IDLE_GP) == "gp_changed"
    assert rcu_pending(gp_seq=IDLE_GP + 4, rdp_gp_seq=GP) == "gp_changed"   # a GP ended unseen
    assert rcu_pending(gp_seq=GP) == "none"


def test_rcu_pending_needs_qs_precedes_callbacks_and_gp_change():
    kw = dict(gp_seq=GP, rdp_gp_seq=GP, core_needs_qs=True, cpu_no_qs=False)
    assert rcu_pending(**kw) == "needs_qs"
    assert rcu_pending(**kw, offloaded=False, cbs_ready=True) == "needs_qs"
    # a local QS not yet noted (cpu_no_qs) or no GP: rule 3 does not apply
    assert rcu_pending(**dict(kw, cpu_no_qs=True)) == "none"
    assert rcu_pending(**dict(kw, gp_seq=IDLE_GP, rdp_gp_seq=IDLE_GP)) == "none"


def test_rcu_pending_callback_rules_apply_only_to_non_offloaded_cpus():
    assert rcu_pending(gp_seq=GP, offloaded=False, cbs_ready=True) == "cbs_ready"
    assert rcu_pending(gp_seq=GP, offloaded=True, cbs_ready=True) == "none"
    assert rcu_pending(gp_seq=IDLE_GP, offloaded=False, cbs_need_gp=True) == "need_gp"
    assert rcu_pending(gp_seq=GP, offloaded=False, cbs_need_gp=True) == "none"     # a GP runs
    assert rcu_pending(gp_seq=IDLE_GP, offloaded=False, cbs_ready=True, cbs_need_gp=True) == "cbs_ready"
    assert rcu_pending(gp_seq=GP, rdp_gp_seq=IDLE_GP, offloaded=False, cbs_ready=True) == "cbs_ready"


def test_rcu_pending_nohz_shortcut_precedes_every_work_rule():
    work = dict(gp_seq=GP, rdp_gp_seq=IDLE_GP, core_needs_qs=True, cpu_no_qs=False, offloaded=False,
                cbs_ready=True)
    assert rcu_pending(**work, user=True) == "skip"
    assert rcu_pending(**work, from_idle=True) == "skip"
    assert rcu_pending(**work) == "needs_qs"
    # only on nohz_full CPUs
    assert rcu_pending(**work, user=True, nohz_full=False) == "needs_qs"


@pytest.mark.parametrize("hz", [100, 250, 1000])
def test_nohz_shortcut_expires_when_the_gp_is_hz_jiffies_old(hz):
    gp_start = 5_000
    base = dict(gp_seq=GP, rdp_gp_seq=IDLE_GP, user=True, gp_start=gp_start, hz=hz)
    assert rcu_pending(**base, jiffies=gp_start + hz - 1) == "skip"
    assert rcu_pending(**base, jiffies=gp_start + hz) == "gp_changed"     # time_before is strict
    # no GP in progress: no age limit
    assert rcu_pending(gp_seq=IDLE_GP, rdp_gp_seq=0, user=True, gp_start=0, jiffies=10**9, hz=hz) == "skip"


def test_nohz_shortcut_limit_uses_time_before_across_the_wrap():
    gp_start = U64 - 100
    assert rcu_nohz_full_cpu(nohz_full=True, gp_in_progress=True, jiffies=(gp_start + 999) % U64,
                             gp_start=gp_start, timeout=1000)
    assert not rcu_nohz_full_cpu(nohz_full=True, gp_in_progress=True, jiffies=(gp_start + 1000) % U64,
                                 gp_start=gp_start, timeout=1000)
    assert not rcu_nohz_full_cpu(nohz_full=False, gp_in_progress=False, jiffies=0, gp_start=0, timeout=1000)
    # the limit is a parameter ("what if the kernel's 1 s changed")
    assert rcu_pending(gp_seq=GP, rdp_gp_seq=IDLE_GP, user=True, jiffies=150, gp_start=0,
                       nohz_full_timeout_jiffies=100) == "gp_changed"


# ------------------------------------------------------------------------------------------
# the policies' skip clauses (seed-003 note §4.3), each ANDed with rcu_nohz_full_cpu()
# ------------------------------------------------------------------------------------------
def test_vanilla_and_qs_on_exit_add_no_disjunct():
    for pol in ("vanilla", "qs_on_exit"):
        assert not policy_skip(pol, jiffies=10, last_guest_exit=9, in_guest_run_loop=True, pf_vcpu=True,
                               gp_seq=GP, gp_start=9, patience_jiffies=100)


@pytest.mark.parametrize("pol", ["last_exit", "last_exit_reset", "last_exit_sched"])
def test_last_exit_window_is_strict_in_jiffies(pol):
    assert policy_skip(pol, jiffies=1999, last_guest_exit=1000)        # W defaults to HZ
    assert not policy_skip(pol, jiffies=2000, last_guest_exit=1000)
    assert policy_skip(pol, jiffies=1004, last_guest_exit=1000, window_jiffies=5)
    assert not policy_skip(pol, jiffies=1005, last_guest_exit=1000, window_jiffies=5)
    assert policy_skip(pol, jiffies=1000, last_guest_exit=1000, hz=100)
    assert not policy_skip(pol, jiffies=1100, last_guest_exit=1000, hz=100)
    # a zeroed timestamp (P1'/P1'' reset) is 2**32 jiffies in the past on 64-bit
    assert not policy_skip(pol, jiffies=initial_jiffies(1000), last_guest_exit=0)


@pytest.mark.parametrize("pol", ["run_loop", "run_loop_sched"])
def test_run_loop_flag(pol):
    assert policy_skip(pol, in_guest_run_loop=True)
    assert not policy_skip(pol, in_guest_run_loop=False, last_guest_exit=0, jiffies=0)


def test_patience_is_gp_age_and_needs_a_gp():
    kw = dict(gp_start=1000, patience_jiffies=1000)
    assert policy_skip("patience", jiffies=1999, gp_seq=GP, **kw)
    assert not policy_skip("patience", jiffies=2000, gp_seq=GP, **kw)
    assert not policy_skip("patience", jiffies=1500, gp_seq=IDLE_GP, **kw)
    assert not policy_skip("patience", jiffies=1500, gp_seq=GP, gp_start=1000, patience_jiffies=0)


def test_patience_is_capped_by_the_nohz_full_limit():
    # X1 at 5 s still stops skipping when rcu_nohz_full_cpu() expires at HZ jiffies
    base = dict(policy="patience", gp_seq=GP, rdp_gp_seq=IDLE_GP, gp_start=0, patience_jiffies=5000)
    assert rcu_pending(**base, jiffies=999) == "skip"
    assert rcu_pending(**base, jiffies=1000) == "gp_changed"


def test_pf_vcpu():
    assert policy_skip("pf_vcpu", pf_vcpu=True)
    assert not policy_skip("pf_vcpu", pf_vcpu=False)


# State left by each hook: (last_guest_exit, in_guest_run_loop) starting from (77, flag).
HOOK_TABLE = {
    # policy:          guest_exit  vcpu_load  vcpu_put  sched_out  sched_in
    "vanilla":         [(77, None), (77, None), (77, None), (77, None), (77, None)],
    "last_exit":       [("J", None), (77, None), (77, None), (77, None), (77, None)],
    "last_exit_reset": [("J", None), (0, None), (0, None), (77, None), (77, None)],
    "last_exit_sched": [("J", None), (0, None), (0, None), (0, None), (77, None)],
    "run_loop":        [(77, None), (77, True), (77, False), (77, None), (77, None)],
    "run_loop_sched":  [(77, None), (77, True), (77, False), (77, False), (77, True)],
    "patience":        [(77, None), (77, None), (77, None), (77, None), (77, None)],
    "pf_vcpu":         [(77, None), (77, None), (77, None), (77, None), (77, None)],
    "qs_on_exit":      [(77, None), (77, None), (77, None), (77, None), (77, None)],
}
HOOKS = ("guest_exit", "vcpu_load", "vcpu_put", "kvm_sched_out", "kvm_sched_in")


@pytest.mark.parametrize("pol", RCU_POLICIES)
@pytest.mark.parametrize("flag", [False, True])
def test_policy_state_updates_at_each_hook(pol, flag):
    for hook, (last, newflag) in zip(HOOKS, HOOK_TABLE[pol]):
        got = policy_hook(pol, hook, jiffies=12345, last_guest_exit=77, in_guest_run_loop=flag)
        assert got == (12345 if last == "J" else last, flag if newflag is None else newflag), (pol, hook)


@pytest.mark.parametrize("pol", ["run_loop", "run_loop_sched"])
def test_run_loop_flag_only_moves_inside_kvm_run(pol):
    # vcpu_load/put outside KVM_RUN (wants_to_run == false, e.g. KVM_GET_REGS) leave it alone
    for hook in HOOKS[1:]:
        assert policy_hook(pol, hook, in_guest_run_loop=True, wants_to_run=False) == (0, True)
        assert policy_hook(pol, hook, in_guest_run_loop=False, wants_to_run=False) == (0, False)


# ------------------------------------------------------------------------------------------
# the machine: context tracking, FQS snapshots, escalation, callers
# ------------------------------------------------------------------------------------------
def start_gp(m, t=0):
    """A synchronize_rcu() on CPU 0 and the ticks that start its GP; returns the waiter."""
    w = m.sync_call(0, t)
    assert m.tick(0, t)["rule"] == "need_gp"
    m.rcu_core(0, t)
    m.advance(t)
    assert m.gp_in_progress
    return w


def test_guest_mode_is_an_eqs_on_nohz_full_cpus_only():
    m = RcuMachine(ncpu=3, nohz_full=[1])
    for cpu in (1, 2):
        before = m.rdp(cpu)["watching"]
        m.guest_enter(cpu, 0)
        assert m.rdp(cpu)["ct_state"] == "guest"
        assert m.rdp(cpu)["in_eqs"] == (cpu == 1)
        assert m.rdp(cpu)["watching"] == before + (1 if cpu == 1 else 0)
        m.guest_exit(cpu, 10)
        assert not m.rdp(cpu)["in_eqs"] and m.rdp(cpu)["ct_state"] == "kernel"
    # idle is an EQS everywhere; user only with context tracking
    m.idle_enter(2, 20)
    assert m.rdp(2)["in_eqs"]
    m.idle_exit(2, 30)
    m.user_enter(2, 40)
    assert m.rdp(2)["ct_state"] == "user" and not m.rdp(2)["in_eqs"]
    m.user_enter(1, 40)
    assert m.rdp(1)["in_eqs"]


def test_first_fqs_scan_reports_a_cpu_seen_in_guest_mode():
    m = RcuMachine(ncpu=2, nohz_full=[1])
    m.guest_enter(1, 0)
    start_gp(m)
    fqs_at = m.next_gp_wake(0)
    assert fqs_at == m.params["jiffies_till_first_fqs"] * MS        # 3 jiffies at HZ=1000
    m.tick(0, MS)                       # the housekeeping CPU notes its QS...
    m.tick(0, 2 * MS)
    m.rcu_core(0, 2 * MS)
    assert m.state()["qs_pending"] == 1
    m.advance(fqs_at)                   # ...and the first scan finds CPU 1 in an EQS
    assert not m.gp_in_progress
    assert m.stats(1)["qs_fqs"] == 1 and m.stats(1)["rcuc_wakeups"] == 0
    assert m.violations["count"] == 0


def test_later_fqs_scan_reports_a_cpu_that_passed_through_an_eqs():
    m = RcuMachine(ncpu=2, nohz_full=[1])
    m.vcpu_load(1)                      # in KVM_RUN, handling an exit: RCU watches
    start_gp(m)
    m.tick(0, MS); m.tick(0, 2 * MS); m.rcu_core(0, 2 * MS)
    m.advance(3 * MS)                   # first scan: snapshot taken, not in an EQS
    snap = m.rdp(1)["watching_snap"]
    assert m.gp_in_progress and snap % 2 == 1
    m.guest_enter(1, 4 * MS)            # the EQS counter moves twice: in, then out
    m.guest_exit(1, 4 * MS + 2000)
    assert m.rdp(1)["watching"] == snap + 2 and not m.rdp(1)["in_eqs"]
    m.advance(6 * MS)                   # second scan: the counter differs from the snapshot
    assert not m.gp_in_progress
    assert m.stats(1)["qs_fqs"] == 1
    assert m.violations["count"] == 0


def test_tick_from_idle_counts_as_passing_through_an_eqs():
    m = RcuMachine(ncpu=2, nohz_full=[1])
    m.idle_enter(1, 0)
    before = m.rdp(1)["watching"]
    m.tick(1, 0)                        # ct_irq_enter / ct_irq_exit around the handler
    assert m.rdp(1)["watching"] == before + 2 and m.rdp(1)["in_eqs"]


def test_cpu_stuck_in_kernel_gets_urgency_then_forced_tick_then_resched():
    m = RcuMachine(ncpu=2, nohz_full=[1], policy="run_loop_sched")
    m.vcpu_load(1)
    start_gp(m)
    jtsq = m.params["jiffies_to_sched_qs"]          # 100 jiffies at HZ=1000
    for k in range(1, jtsq + 5):
        m.tick(0, k * MS); m.rcu_core(0, k * MS)
        m.advance(k * MS)
    # the second scan already resched_cpu()s a nohz_full CPU whose last_fqs_resched is stale
    assert m.resched_requests() == [1]
    assert m.rdp(1)["urgent_qs"]                    # GP older than jiffies_to_sched_qs
    assert m.irq_enter_check_tick(1)                # the next interrupt turns the tick on
    assert m.rdp(1)["forced_tick"] and not m.irq_enter_check_tick(1)
    # a context switch notes the QS; the skip clause (flag set, GP < 1 s) keeps rcuc asleep
    m.context_switch(1)
    t = (jtsq + 5) * MS
    r = m.tick(1, t, preemptible=True, cause="runloop")
    assert r["rule"] == "skip" and r["skip"] == "policy" and r["resched"]
    # the GP ends only when rcu_nohz_full_cpu() expires: at GP age HZ the tick wakes rcuc
    gp_start = m.state()["gp_start"]
    t_expire = (gp_start + 1000 - m.params["jiffies_base"]) * MS
    r = m.tick(1, t_expire - MS, preemptible=True, cause="runloop")
    assert r["rule"] == "skip"
    r = m.tick(1, t_expire, preemptible=True, cause="runloop")
    assert r["rule"] == "gp_changed" and r["wake_rcuc"]         # it notes the GP start first...
    m.context_switch(1); m.rcuc_run(1, t_expire); m.context_switch(1)
    assert m.rdp(1)["core_needs_qs"] and m.gp_in_progress
    r = m.tick(1, t_expire + MS, preemptible=True, cause="runloop")
    assert r["rule"] == "needs_qs" and r["wake_rcuc"]           # ...then reports its QS
    m.rcuc_run(1, t_expire + MS)
    assert not m.rdp(1)["forced_tick"]              # rcu_disable_urgency_upon_qs()
    m.advance(t_expire + MS)
    assert not m.gp_in_progress
    assert m.stats(1)["nohz_expired"] == 1 and m.totals()["gps_held"] == 1
    assert m.violations["count"] == 0


def test_vanilla_wakes_rcuc_at_the_gp_start_report_and_end():
    m = RcuMachine(ncpu=2, nohz_full=[1], policy="vanilla")
    m.vcpu_load(1)
    m.guest_enter(1, 0)
    start_gp(m)
    wakes = []
    for k in range(1, 6):
        t = k * MS
        m.tick(0, t); m.rcu_core(0, t)
        m.guest_exit(1, t, irq=True)                # the tick exits the guest
        r = m.tick(1, t, preemptible=False, cause="guest_tick")
        m.guest_timing_exit(1)
        if r["wake_rcuc"]:
            wakes.append(r["rule"])
            m.kvm_sched_out(1); m.context_switch(1)
            m.rcuc_run(1, t)
            m.context_switch(1); m.kvm_sched_in(1)
        m.guest_enter(1, t + 20_000)
        m.advance(t)
    # GP start noticed, QS (noted by the switch back from rcuc) reported, GP end noticed
    assert wakes == ["gp_changed", "needs_qs", "gp_changed"]
    assert not m.gp_in_progress and m.stats(1)["qs_local"] == 1
    assert m.violations["count"] == 0


@pytest.mark.parametrize("pol", ["last_exit", "last_exit_reset", "last_exit_sched", "run_loop",
                                 "run_loop_sched", "pf_vcpu"])
def test_skip_policies_leave_the_qs_to_the_next_fqs_scan(pol):
    m = RcuMachine(ncpu=2, nohz_full=[1], policy=pol)
    m.vcpu_load(1)
    m.guest_enter(1, 0)
    start_gp(m)
    for k in range(1, 8):
        t = k * MS
        m.tick(0, t); m.rcu_core(0, t)
        m.guest_exit(1, t, irq=True)
        r = m.tick(1, t, preemptible=False, cause="guest_tick")
        m.guest_timing_exit(1)
        assert not r["wake_rcuc"] and r["skip"] == "policy"
        m.guest_enter(1, t + 2_000)
        m.advance(t)
    assert m.stats(1)["rcuc_wakeups"] == 0 and m.stats(1)["qs_fqs"] == 1
    assert m.totals()["gps_done"] == 1
    # bounded by an FQS scan: the GP ended at the first scan (the vCPU was in the guest)
    assert m.totals()["gp_ns_max"] == m.params["jiffies_till_first_fqs"] * MS


def test_synchronize_rcu_caller_returns_after_a_full_gp_that_started_after_the_call():
    m = RcuMachine(ncpu=2, nohz_full=[1])
    m.guest_enter(1, 0)
    w1 = start_gp(m)
    w2 = m.sync_call(0, MS // 2)                    # arrives while that GP runs
    for k in range(1, 12):
        t = k * MS
        m.tick(0, t); m.rcu_core(0, t)
        m.advance(t)
        if not m.waiting(w1):
            break
    assert not m.waiting(w1) and m.waiting(w2)      # w2 needs the next GP
    for k in range(k + 1, 30):
        t = k * MS
        m.tick(0, t); m.rcu_core(0, t)
        m.advance(t)
    assert not m.waiting(w2)
    tot = m.totals()
    assert tot["gps_done"] == 2 and tot["sync_done"] == 2
    assert m.violations["count"] == 0


def test_normal_wake_from_gp_latches_a_gp_at_the_call():
    m = RcuMachine(ncpu=2, nohz_full=[1], normal_wake_from_gp=True, max_callers=4)
    m.guest_enter(1, 0)
    w = m.sync_call(0, 0, task=7)
    assert m.next_gp_wake(0) == 0                   # the GP kthread is woken at once
    m.advance(0)
    assert m.gp_in_progress
    m.tick(0, MS); m.tick(0, 2 * MS); m.rcu_core(0, 2 * MS)
    m.advance(3 * MS)
    assert not m.waiting(w) and m.done_tasks() == [7]
    assert m.totals()["sync_ns_max"] == 3 * MS


def test_other_cpu_stall_warning_after_the_timeout():
    m = RcuMachine(ncpu=2, nohz_full=[1], stall_timeout_s=3)
    m.vcpu_load(1)                                  # stuck in the kernel, never quiescent
    start_gp(m)
    m.tick(0, MS); m.rcu_core(0, MS)                # the housekeeping CPU reports its own QS
    gp_start = m.state()["gp_start"]
    stall_j = m.params["stall_check"]
    base = m.params["jiffies_base"]
    t_warn = (gp_start + stall_j + 2 - base) * MS   # + RCU_STALL_RAT_DELAY jiffies
    for t in (t_warn - MS, t_warn):
        r = m.tick(0, t)
        assert r["stall"] == (t == t_warn)
    assert m.totals()["stall_other"] == 1
    assert m.state()["jiffies_stall"] == m.jiffies(t_warn) + 3 * stall_j + 3
    r = m.tick(1, t_warn, preemptible=False)        # the stalled CPU's own tick: not yet again
    assert not r["stall"]


def test_hlt_predicates_false_positive_for_last_exit_but_not_run_loop_sched():
    out = {}
    for pol in ("last_exit", "run_loop_sched"):
        m = RcuMachine(ncpu=2, nohz_full=[1], policy=pol)
        m.vcpu_load(1)
        m.guest_enter(1, 0)
        m.guest_exit(1, 100_000)                    # HLT exit; the vCPU blocks
        m.kvm_sched_out(1)
        m.context_switch(1)
        m.idle_enter(1, 105_000)
        for k in range(1, 50):                      # idle ticks for 49 ms, no guest entry
            m.tick(1, k * MS, cause="hlt")
        m.flush(60 * MS)
        out[pol] = m.stats(1)
    # the wrong claim lasts from the first idle tick to the end (no entry): one 59 ms episode
    assert out["last_exit"]["fp"]["hlt"] == 49 and out["last_exit"]["fp_ns"]["hlt"] == 59 * MS
    # idle ticks are skipped by the idle term whatever the disjunct: not counted as TN or FN
    assert out["run_loop_sched"]["fp"]["hlt"] == 0 and out["run_loop_sched"]["tn"] == 0
    # idle is an EQS either way: no GP is held up by these ticks
    assert sum(out["last_exit"]["held"].values()) == 0


def test_hlt_race_wakes_rcuc_in_the_idle_task_when_the_flag_is_cleared():
    m = RcuMachine(ncpu=2, nohz_full=[1], policy="run_loop_sched")
    m.vcpu_load(1)
    m.guest_enter(1, 0)
    start_gp(m, 0)
    m.guest_exit(1, 400_000)
    m.kvm_sched_out(1)                              # HLT: the flag is cleared...
    m.context_switch(1)
    r = m.tick(1, MS, from_idle=False, preemptible=False, cause="hlt_race")    # ...before ct_cpuidle_enter()
    assert r["wake_rcuc"] and r["rule"] == "gp_changed"
    m.idle_enter(1, MS + 1_000)                     # the idle task reaches its EQS just after
    m.flush(10 * MS)
    assert m.stats(1)["needless"]["hlt_race"] == 1 and m.stats(1)["wakes_by"]["hlt_race"] == 1


def test_qs_on_exit_notes_a_qs_only_without_context_tracking():
    for nohz in ([1], []):
        m = RcuMachine(ncpu=2, nohz_full=nohz, policy="qs_on_exit")
        m.guest_enter(1, 0)
        start_gp(m)
        m.rcu_core(1, 0)                           # CPU 1 notes the GP: it now owes a QS
        assert m.rdp(1)["cpu_no_qs"]
        m.guest_exit(1, 10)
        assert m.rdp(1)["cpu_no_qs"] == bool(nohz)  # rcu_virt_note_context_switch() at exit


# ------------------------------------------------------------------------------------------
# configuration (validated where the mistake is made, naming the field)
# ------------------------------------------------------------------------------------------
def test_rcu_config_validation_names_the_field():
    from pvsched import ScenarioError
    from pvsched.policies.rcu_guest import RcuGuestPolicy
    from pvsched.rcu.config import RcuConfig
    RcuConfig().validate()
    RcuGuestPolicy().validate()
    # the constructors validate: the error names the class's field (Host/TOML re-root it at host.rcu...)
    bad = [(lambda: RcuGuestPolicy(mode="bogus"), "RcuGuestPolicy.mode"),
           (lambda: RcuGuestPolicy(window_jiffies=-1), "RcuGuestPolicy.window_jiffies"),
           (lambda: RcuGuestPolicy(patience_ms=1.5), "RcuGuestPolicy.patience_ms"),
           (lambda: RcuConfig(kthread_prio=0), "RcuConfig.kthread_prio"),
           (lambda: RcuConfig(tick_dependency="always"), "RcuConfig.tick_dependency"),
           (lambda: RcuConfig(normal_wake_from_gp=1), "RcuConfig.normal_wake_from_gp"),
           (lambda: RcuConfig(horizon_us=0), "RcuConfig.horizon_us"),
           (lambda: RcuConfig(jiffies_till_first_fqs=-2), "RcuConfig.jiffies_till_first_fqs")]
    for make, path in bad:
        with pytest.raises(ScenarioError) as e:
            make()
        assert e.value.path == path
    from pvsched import Host, Scenario, Task
    from pvsched.workloads import Hog
    # the Host checks its own list when it is made; only the scenario knows RCU needs a housekeeping CPU
    for val, path in [([4], "Host.nohz_full[0]"), ([1, 1], "Host.nohz_full"), ([0, 1, 2, 3], "host.nohz_full"),
                      ("1,2", "Host.nohz_full")]:
        with pytest.raises(ScenarioError) as e:
            Scenario(host=Host(cpus=4, nohz_full=val, rcu=RcuConfig()), tasks=[Task("t", Hog())]).validate()
        assert e.value.path == path
    Scenario(host=Host(cpus=4, nohz_full=[0, 1, 2, 3]), tasks=[Task("t", Hog())]).validate()   # no RCU: allowed


def test_rcu_config_feeds_the_c_unit():
    from pvsched.policies.rcu_guest import RcuGuestPolicy
    from pvsched.rcu.config import RcuConfig
    kw = dict(RcuGuestPolicy("patience", patience_ms=1000).engine_dict(),
              **RcuConfig(jiffies_till_first_fqs=5, horizon_us=2000).engine_dict())
    m = RcuMachine(ncpu=4, nohz_full=[1, 2, 3], hz=250, **kw)
    p = m.params
    assert (p["policy"], p["patience"], p["jiffies_till_first_fqs"], p["horizon_ns"]) == ("patience", 250, 5, 2_000_000)
