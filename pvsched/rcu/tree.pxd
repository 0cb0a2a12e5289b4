# Tree RCU as seen from one tick of one CPU (kernel/rcu/tree.c, tree_plugin.h, rcu.h),
# context tracking (kernel/context_tracking.c) and the guest policies' skip clause.
#
# The data are the kernel's, reduced to what a nohz_full host running guests exercises:
# per-CPU rcu_data (gp_seq snapshot, core_needs_qs / cpu_no_qs, the FQS snapshot of the
# rcu_watching counter, urgency and forced-tick flags), the global rcu_state (gp_seq, gp_start,
# FQS and stall deadlines) with a single rcu_node (the kernel's leaf fan-out is 16; one node
# reports exactly as a tree does), and per-CPU context tracking (user / kernel / guest / idle and
# the rcu_watching counter). Kernel: Linux v6.15 tree.c (nohz_full_patience_delay present),
# PREEMPT_RCU (PREEMPT_RT host), rcu_nocbs on every nohz_full CPU.
#
# Everything here is a pure rule on these structs: noexcept nogil, no allocation. The grace-period
# machinery lives in tree.pxi, context tracking in context_tracking.pxi. The skip policies
# (policies/rcu_guest.pxd) hand rcu_pending() their disjunct as `pred`.
from libc.stdint cimport uint64_t, int64_t, uint32_t, int32_t, uint8_t
from pvsched.sched.calc cimport u64, s64, u32, s32
from pvsched.policies.rcu_guest cimport rcu_guest_cpu

ctypedef uint8_t u8

cdef enum:
    RCU_SEQ_CTR_SHIFT = 2
    RCU_SEQ_STATE_MASK = 3
    RCU_STALL_RAT_DELAY = 2         # tree.h: let other CPUs tick before ratting on them
    RCU_JIFFIES_FQS_DIV = 256       # tree.h: one more FQS jiffy per 256 CPUs
    RCU_GP_FLAG_INIT = 1
    RCU_GP_FLAG_FQS = 2
    RCU_GP_WAIT_GPS = 1             # GP kthread states (tree.h names)
    RCU_GP_WAIT_FQS = 3
    RCU_KTHREAD_WAITING = 1         # rcuc status (tree.h)
    RCU_KTHREAD_RUNNING = 2
    RCU_KTHREAD_YIELDING = 4
    RCU_PATIENCE_MAX_MS = 5000      # nohz_full_patience_delay is capped at 5 s

# Context-tracking state of a CPU (enum ctx_state).
cdef enum:
    CT_KERNEL = 0
    CT_IDLE = 1
    CT_USER = 2
    CT_GUEST = 3

# rcu_pending(): which rule decided (in the kernel's order).
cdef enum:
    RP_NONE = 0             # nothing to do
    RP_NOCB_WAKE = 1        # deferred NOCB wakeup (rcuo kthreads are not modelled: never taken)
    RP_SKIP = 2             # the nohz_full shortcut returned 0
    RP_NEEDS_QS = 3         # the core waits for this CPU's quiescent-state report
    RP_CBS_READY = 4        # callbacks ready to invoke (non-offloaded CPU)
    RP_NEED_GP = 5          # RCU idle but this CPU's callbacks need a grace period
    RP_GP_CHANGED = 6       # this CPU has not seen the latest GP start or end
    RP_N = 7

# Why the skip clause held: the first true disjunct.
cdef enum:
    SK_NONE = 0
    SK_USER = 1
    SK_IDLE = 2
    SK_POLICY = 3
    SK_N = 4

# What the CPU was doing at a tick (set by the caller; used to attribute predicate errors).
cdef enum:
    RC_GUEST_TICK = 0       # the tick interrupted guest mode (and caused the exit)
    RC_RUNLOOP = 1          # KVM_RUN host code between an exit and the next entry
    RC_SLOW_EXIT = 2        # ... an exit handled for longer than the slow-exit threshold
    RC_NEW_CPU = 3          # ... on a pCPU where the vCPU has not entered the guest since it arrived
    RC_USER_EXIT = 4        # between vcpu_put and the return to userspace
    RC_USER = 5             # the vCPU thread in userspace (QEMU)
    RC_HLT_RACE = 6         # the idle task before ct_cpuidle_enter() after an HLT block (the HLT race)
    RC_HLT = 7              # idle, the vCPU that ran here blocked in HLT
    RC_PREEMPTED = 8        # another task runs while the vCPU that ran here is preempted here
    RC_MIGRATED = 9         # the vCPU that ran here now belongs to another pCPU
    RC_TERMINATED = 10      # the VM that ran here is gone
    RC_OTHER = 11
    RC_N = 12

# rcu_sched_clock_irq() results for the caller (bit flags).
cdef enum:
    TK_WAKE_RCUC = 1        # invoke_rcu_core() woke rcuc/N (or raised RCU_SOFTIRQ)
    TK_RESCHED = 2          # rcu_urgent_qs: set need_resched on the interrupted task
    TK_STALL = 4            # an RCU CPU stall warning was printed

# Invariant kinds (reported through the engine's violation mask).
cdef enum:
    RV_GP_END_OWED = 0      # a GP ended while a CPU had not passed a quiescent state
    RV_REPORT_NO_QS = 1     # a QS was reported for a CPU that had not passed one in this GP
    RV_SYNC_EARLY = 2       # a synchronize_rcu() caller returned before a full GP after its call
    RV_N = 3
    # events for the trace (kind "rcu", engine/trace.pxd TR_RCU; names: RCU_TRACE_EVENTS)
    RTE_GP_START = 0        # value: gp_seq
    RTE_GP_END = 1          # value: the GP's duration (ns)
    RTE_QS = 2              # a CPU's QS reported by itself; value: GP start -> report (ns)
    RTE_QS_FQS = 3          # ... by an FQS scan (an EQS seen); value as RTE_QS
    RTE_FQS = 4             # an FQS scan; value: 1 = the first of the GP
    RTE_STALL = 5           # a stall warning; value: 1 = self-detected
    RTE_FORCED_TICK = 6     # TICK_DEP_BIT_RCU set on an interrupt
    RTE_RESCHED = 7         # resched_cpu() from an FQS scan
    RTE_WAKE = 8            # the tick woke rcuc (or ran rcu_core inline); value: the RP_* rule
    RTE_SKIP = 9            # the nohz_full shortcut skipped; value: SK_* * 16 + RC_* cause
    RTE_N = 10

cdef struct rcu_tev_t:      # an event the core leaves for the engine's trace (rcu_sim_t.tev)
    s32 cpu
    s32 ev
    s64 value

cdef struct rcu_params_t:
    s64 tick_ns
    s32 hz
    s32 gp_cpu              # housekeeping CPU the GP kthread is bound to
    u8 use_softirq          # rcutree.use_softirq (false on PREEMPT_RT: rcuc kthreads)
    u8 wake_from_gp         # rcutree.rcu_normal_wake_from_gp
    u64 jiffies_base        # jiffies at t = 0 (INITIAL_JIFFIES + uptime)
    u64 nohz_timeout_j      # rcu_nohz_full_cpu() GP-age limit (kernel: HZ)
    u64 first_fqs_j         # jiffies_till_first_fqs
    u64 next_fqs_j          # jiffies_till_next_fqs
    u64 jtsq                # jiffies_to_sched_qs
    u64 stall_j             # rcu_jiffies_till_stall_check()
    s64 horizon_ns          # predicate-accuracy horizon H

cdef struct ct_cpu_t:
    # struct context_tracking, plus what the guest policies keep per CPU (policies/rcu_guest.pxd).
    u64 watching            # rcu_watching counter: odd = RCU watching, even = in an EQS
    u8 state                # CT_*
    u8 active               # context tracking on this CPU (nohz_full): user and guest are EQS
    u8 pf_vcpu              # PF_VCPU on the current task: guest entry to after the exit's IRQ
    u8 wants_to_run         # vcpu->wants_to_run of the vCPU loaded here (inside KVM_RUN)
    u8 skip_pred            # the guest policy's disjunct for the tick in progress
    rcu_guest_cpu pol

cdef struct rcu_data_t:
    u64 gp_seq              # rdp->gp_seq: last GP state this CPU noted
    u64 gp_seq_needed
    u64 watching_snap       # rdp->watching_snap (FQS)
    u64 last_fqs_resched    # jiffies
    u64 qs_seen_gp          # ground truth: gp_seq of the last GP in which this CPU passed a QS
    s64 qs_wait_since       # GP start time this CPU owes a report for (-1 = none)
    u32 ticks_this_gp
    u8 core_needs_qs
    u8 cpu_no_qs            # cpu_no_qs.b.norm
    u8 qs_pending           # this CPU's bit in the rcu_node qsmask
    u8 urgent_qs            # rcu_urgent_qs
    u8 need_heavy_qs
    u8 forced_tick          # rcu_forced_tick: TICK_DEP_BIT_RCU set on this CPU
    u8 resched_req          # resched_cpu() from an FQS scan, not yet delivered
    u8 has_work             # rcu_cpu_has_work
    u8 kthread_status       # rcuc: RCU_KTHREAD_*
    u8 nohz_full            # tick_nohz_full_cpu()
    u8 offloaded            # rcu_nocbs: callbacks offloaded
    u8 held_this_gp         # this CPU already counted the nohz_full expiry for this GP
    s32 cb_head             # synchronize_rcu() waiters queued on this CPU (callback path)
    s32 cb_tail

cdef struct rcu_state_t:
    u64 gp_seq
    u64 gp_seq_needed
    u64 gp_start            # jiffies
    u64 jiffies_force_qs
    u64 jiffies_stall
    u64 jiffies_resched
    u64 n_force_qs
    s64 gp_start_ns
    s64 last_done_gp_start_ns   # start time of the most recently completed GP
    s32 nr_qs_pending       # bits set in the qsmask
    u8 gp_flags
    u8 gp_state
    u8 first_fqs

cdef struct rcu_waiter_t:
    s64 call_ns
    u64 req_seq             # GP sequence that completes the caller (0 = not yet assigned)
    u64 call_snap           # rcu_seq_snap() at the call: the first GP that fully follows it
    s32 cpu
    s32 next
    s32 task                # engine task to wake, -1 = none
    u8 queued

cdef struct rcu_obs_t:
    # One tick of a nohz_full CPU, waiting to learn whether the CPU entered the guest (or any EQS)
    # within the horizon.
    s64 t
    u8 cause
    u8 pred                 # the policy disjunct was true
    u8 skipped              # the skip fired because of the policy disjunct alone
    u8 woke                 # rcuc/N was woken
    u8 eqs                  # the CPU entered an EQS since
    u8 decisive             # neither user nor idle applied: the disjunct decided the skip

cdef struct rcu_cpu_stats_t:
    u64 ticks               # rcu_sched_clock_irq()
    u64 pending[7]          # by RP_*
    u64 skips[4]            # nohz_full shortcut by SK_*
    u64 rcuc_wakeups        # invoke_rcu_core()
    u64 core_runs           # rcu_core() on this CPU
    u64 qs_local            # QS reported by rcu_report_qs_rdp()
    u64 qs_fqs              # QS reported by an FQS scan (EQS snapshot)
    u64 forced_ticks        # TICK_DEP_BIT_RCU set
    u64 resched_ipis        # resched_cpu() from FQS
    u64 urgent_resched      # need_resched from rcu_urgent_qs at a tick
    u64 stall_self          # self-detected stall warnings
    u64 nohz_expired        # GPs in which a tick here found rcu_nohz_full_cpu() expired
    u64 ticks_eval          # ticks that evaluated the skip clause on a nohz_full CPU
    u64 pred_true
    u64 fp[12]              # predicate true, no guest entry within H (by RC_*)
    u64 fn[12]              # predicate false, guest entry within H (by RC_*)
    u64 tp
    u64 tn
    u64 held[12]            # policy-only skip with no EQS within H: a held-up GP (by RC_*)
    u64 needless[12]        # rcuc woken although an EQS followed within H (by RC_*)
    u64 wakes_by[12]        # rcuc wake-ups by RC_*
    s64 fp_ns[12]           # time the predicate was wrongly true: from the first false-positive tick of
                            # an episode to the next guest entry, by the episode's first cause
    s64 fp_ep_start         # the open episode's first FP tick (-1: none)
    u8 fp_ep_cause
    u64 obs_overflow

# ------------------------------------------------------------------------------ sequences & time
cdef inline bint ulong_cmp_ge(u64 a, u64 b) noexcept nogil:
    return (<u64>0x7FFFFFFFFFFFFFFF) >= a - b

cdef inline bint ulong_cmp_lt(u64 a, u64 b) noexcept nogil:
    return (<u64>0x7FFFFFFFFFFFFFFF) < a - b

cdef inline bint time_before(u64 a, u64 b) noexcept nogil:
    # include/linux/jiffies.h: (long)((a) - (b)) < 0
    return <s64>(a - b) < 0

cdef inline bint time_after(u64 a, u64 b) noexcept nogil:
    return <s64>(b - a) < 0

cdef inline u64 rcu_seq_state(u64 s) noexcept nogil:
    return s & RCU_SEQ_STATE_MASK

cdef inline u64 rcu_seq_ctr(u64 s) noexcept nogil:
    return s >> RCU_SEQ_CTR_SHIFT

cdef inline u64 rcu_seq_endval(u64 s) noexcept nogil:
    return (s | RCU_SEQ_STATE_MASK) + 1

cdef inline u64 rcu_seq_snap(u64 s) noexcept nogil:
    return (s + 2 * RCU_SEQ_STATE_MASK + 1) & ~(<u64>RCU_SEQ_STATE_MASK)

cdef inline bint rcu_seq_done(u64 cur, u64 snap) noexcept nogil:
    return ulong_cmp_ge(cur, snap)

cdef inline bint rcu_seq_started(u64 cur, u64 s) noexcept nogil:
    return ulong_cmp_lt((s - 1) & ~(<u64>RCU_SEQ_STATE_MASK), cur)

cdef inline bint rcu_seq_completed_gp(u64 old, u64 new) noexcept nogil:
    return ulong_cmp_lt(old, new & ~(<u64>RCU_SEQ_STATE_MASK))

cdef inline bint rcu_seq_new_gp(u64 old, u64 new) noexcept nogil:
    return ulong_cmp_lt((old + RCU_SEQ_STATE_MASK) & ~(<u64>RCU_SEQ_STATE_MASK), new)

cdef inline u64 rcu_initial_gp_seq() noexcept nogil:
    # rcu_state.gp_seq = (0UL - 300UL) << RCU_SEQ_CTR_SHIFT: wraps after 300 GPs.
    return (<u64>0 - <u64>300) << RCU_SEQ_CTR_SHIFT

cdef inline u64 initial_jiffies(s32 hz) noexcept nogil:
    # INITIAL_JIFFIES = (unsigned long)(unsigned int)(-300*HZ): the 32-bit wrap, even on 64-bit.
    return <u64>(<u32>(-300 * hz))

cdef inline u64 jiffies_at(rcu_params_t* p, s64 now) noexcept nogil:
    # jiffies advance at the housekeeping (timekeeper) tick, every TICK_NSEC from t = 0; a tick
    # on another CPU at the same instant sees the new value.
    return p.jiffies_base + <u64>(now // p.tick_ns)

cdef inline s64 jiffy_time(rcu_params_t* p, u64 j) noexcept nogil:
    # The instant jiffies becomes j.
    return <s64>(j - p.jiffies_base) * p.tick_ns

cdef inline u64 msecs_to_jiffies(s64 m, s32 hz) noexcept nogil:
    # include/linux/jiffies.h: rounds up (_msecs_to_jiffies; the 32-bit multiply path for HZ
    # values that do not divide 1000 is also a ceiling).
    if m <= 0:
        return 0
    if hz <= 1000 and 1000 % hz == 0:
        return <u64>((m + 1000 // hz - 1) // (1000 // hz))
    if hz > 1000 and hz % 1000 == 0:
        return <u64>(m * (hz // 1000))
    return <u64>((m * hz + 999) // 1000)

cdef inline u64 rcu_jiffies_till_force_qs(s32 hz, s32 ncpu) noexcept nogil:
    # rcu_init_geometry(): RCU_JIFFIES_TILL_FORCE_QS + nr_cpu_ids / RCU_JIFFIES_FQS_DIV
    return <u64>(1 + (1 if hz > 250 else 0) + (1 if hz > 500 else 0) + ncpu // RCU_JIFFIES_FQS_DIV)

cdef inline u64 rcu_jiffies_to_sched_qs(u64 first_fqs, u64 next_fqs, s32 hz, s32 ncpu) noexcept nogil:
    # adjust_jiffies_till_sched_qs(): the third FQS scan, at least HZ/10 (+ nr_cpu_ids/256).
    cdef u64 j = first_fqs + 2 * next_fqs
    cdef u64 lo = <u64>(hz // 10 + ncpu // RCU_JIFFIES_FQS_DIV)
    return j if j >= lo else lo

cdef inline u64 rcu_jiffies_till_stall_check(s32 timeout_s, s32 hz) noexcept nogil:
    # rcu_cpu_stall_timeout clamped to 3..300 s (RCU_STALL_DELAY_DELTA = 0 without PROVE_RCU).
    cdef s32 t = timeout_s
    if t < 3:
        t = 3
    elif t > 300:
        t = 300
    return <u64>(t * hz)

# ------------------------------------------------------------------------------ rcu_pending()
cdef inline bint rcu_gp_in_progress(rcu_state_t* rs) noexcept nogil:
    return rcu_seq_state(rs.gp_seq) != 0

cdef inline bint rcu_nohz_full_cpu(rcu_params_t* p, rcu_state_t* rs, rcu_data_t* rdp, u64 j) noexcept nogil:
    # tree_plugin.h: nohz_full CPU and (no GP, or the GP is younger than HZ jiffies).
    return rdp.nohz_full and (not rcu_gp_in_progress(rs) or time_before(j, rs.gp_start + p.nohz_timeout_j))

cdef inline int rcu_skip_reason(rcu_params_t* p, rcu_state_t* rs, rcu_data_t* rdp, bint user, bint from_idle,
                                bint pred, u64 j) noexcept nogil:
    # The nohz_full shortcut: SK_NONE when it does not apply, else the first true disjunct
    # (`pred`: the guest policy's own disjunct).
    if not (user or from_idle or pred):
        return SK_NONE
    if not rcu_nohz_full_cpu(p, rs, rdp, j):
        return SK_NONE
    if user:
        return SK_USER
    if from_idle:
        return SK_IDLE
    return SK_POLICY

cdef inline int rcu_pending_rule(rcu_params_t* p, rcu_state_t* rs, rcu_data_t* rdp, bint user, bint from_idle,
                                 bint pred, u64 j, bint cbs_ready, bint cbs_need_gp) noexcept nogil:
    # rcu_pending() after check_cpu_stall(), in the kernel's order; returns the deciding RP_*.
    # The deferred NOCB wakeup (rule 1) belongs to the rcuo kthreads, which are not modelled.
    cdef bint gp = rcu_gp_in_progress(rs)
    if rcu_skip_reason(p, rs, rdp, user, from_idle, pred, j) != SK_NONE:
        return RP_SKIP
    if rdp.core_needs_qs and not rdp.cpu_no_qs and gp:
        return RP_NEEDS_QS
    if not rdp.offloaded and cbs_ready:
        return RP_CBS_READY
    if not gp and not rdp.offloaded and cbs_need_gp:
        return RP_NEED_GP
    if rs.gp_seq != rdp.gp_seq:
        return RP_GP_CHANGED
    return RP_NONE

# ------------------------------------------------------------------------------ context tracking
cdef inline bint ct_in_eqs(ct_cpu_t* ct) noexcept nogil:
    return (ct.watching & 1) == 0

cdef inline bint rcu_watching_snap_in_eqs(u64 snap) noexcept nogil:
    return (snap & 1) == 0

cdef inline bint ct_state_is_eqs(ct_cpu_t* ct, u8 state) noexcept nogil:
    # Idle is an EQS everywhere; user and guest only where context tracking runs (nohz_full).
    if state == CT_IDLE:
        return True
    if state == CT_USER or state == CT_GUEST:
        return ct.active != 0
    return False

cdef inline void rcu_qs(rcu_data_t* rdp) noexcept nogil:
    # tree_plugin.h rcu_qs(): a local quiescent state, to be reported later by rcu_core().
    rdp.cpu_no_qs = 0

# ------------------------------------------------------------------------------ the whole unit
cdef struct rcu_host_params_t:
    # What the engine needs beyond the kernel's parameters (rcu/rcu_engine.pxi).
    s64 rcuc_ns             # CPU time of one rcu_core() pass in rcuc/N
    s64 slow_exit_ns        # an exit handled this long counts as a slow exit (cause RC_SLOW_EXIT)
    s64 idle_entry_ns       # switch to the idle task -> ct_cpuidle_enter()
    u8 tick_dep_timer       # a timer in every tick period keeps nohz_full ticks running

cdef struct rcu_host_cpu_t:
    # Per host CPU, the engine's side: its rcuc/N task and what last ran there.
    s32 rcuc_task           # -1: a housekeeping CPU (rcu_core() runs inline, its cost not simulated)
    s32 last_vcpu           # the vCPU that last ran here (-1 = none)
    u8 rcuc_passes          # rcu_cpu_kthread() passes since it last slept (it yields after 10)

cdef struct rcu_sim_t:
    rcu_params_t p
    rcu_host_params_t hp
    rcu_host_cpu_t* hc      # engine only (NULL in RcuMachine)
    rcu_state_t rs
    s32 ncpu
    ct_cpu_t* ct
    rcu_data_t* rdp
    rcu_cpu_stats_t* st
    rcu_obs_t* obs          # ncpu * obs_cap: per-CPU rings of ticks awaiting their outcome
    s32* obs_head
    s32* obs_n
    s32 obs_cap
    rcu_waiter_t* w         # synchronize_rcu() callers
    s32 nw
    s32 w_free
    s32 wfg_head            # callers waiting for the GP kthread (rcu_normal_wake_from_gp)
    s32* done_q             # completed callers' tasks, drained by the caller of the unit
    s32 done_n
    u32* gp_hist            # GP durations (HIST_NBUCKETS)
    u32* sync_hist          # synchronize_rcu() latencies
    u32* qs_hist            # GP start -> QS reported, nohz_full CPUs
    u64 gps_started
    u64 gps_done
    s64 gp_ns_sum
    s64 gp_ns_max
    u64 sync_calls
    u64 sync_done
    s64 sync_ns_sum
    s64 sync_ns_max
    u64 qs_n                # nohz_full CPUs' QS reports (qs_hist)
    s64 qs_ns_sum
    s64 qs_ns_max
    u64 nr_fqs
    u64 stall_other
    u64 gps_held            # GPs in which a nohz_full CPU's tick found rcu_nohz_full_cpu() expired
    u8 gp_held_flag
    u64 violations
    u64 violation_kind
    int last_rule           # the last tick's rcu_pending() rule and skip reason (inspection)
    int last_skip
    rcu_tev_t* tev          # trace on: events since the engine last drained them (NULL: off)
    s32 tev_n
    s32 tev_cap
