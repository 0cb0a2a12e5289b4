# Tree RCU grace-period machinery (kernel/rcu/tree.c, Linux v6.15): the GP kthread (rcu_gp_init,
# the FQS loop with its first/next scans over rcu_watching snapshots, rcu_gp_cleanup), quiescent-
# state reports, rcu_sched_clock_irq() with rcu_pending(), rcu_core() as rcuc/N runs it,
# synchronize_rcu() callers, the forced-tick / resched_cpu() escalation and stall warnings
# (context tracking: context_tracking.pxi; predicate accounting: accuracy.pxi). Everything acts on one rcu_sim_t (tree.pxd) and is noexcept
# nogil; the caller (the engine, or pvsched.rcu.RcuMachine) owns time and tasks and acts on the
# returned flags (wake rcuc/N, resched, restart the tick).
#
# Ground truth for the invariants: qs_seen_gp records, independently of the reporting code,
# that a CPU passed a quiescent state during the current GP (it was in an EQS at the GP start,
# or entered / left one, or context-switched, or noted rcu_qs() from a preemptible tick).

cdef int rcu_sim_alloc(rcu_sim_t* r, s32 ncpu, s32 nwaiters, s32 obs_cap) noexcept nogil:
    # All arrays at once; returns -1 if memory is short (the caller raises).
    r.ncpu = ncpu
    r.nw = nwaiters
    r.obs_cap = obs_cap
    r.ct = <ct_cpu_t*>calloc(ncpu, sizeof(ct_cpu_t))
    r.rdp = <rcu_data_t*>calloc(ncpu, sizeof(rcu_data_t))
    r.st = <rcu_cpu_stats_t*>calloc(ncpu, sizeof(rcu_cpu_stats_t))
    r.obs = <rcu_obs_t*>calloc(<size_t>ncpu * obs_cap, sizeof(rcu_obs_t))
    r.obs_head = <s32*>calloc(ncpu, sizeof(s32))
    r.obs_n = <s32*>calloc(ncpu, sizeof(s32))
    r.w = <rcu_waiter_t*>calloc(nwaiters if nwaiters > 0 else 1, sizeof(rcu_waiter_t))
    r.done_q = <s32*>calloc(nwaiters if nwaiters > 0 else 1, sizeof(s32))
    r.gp_hist = <u32*>calloc(HIST_NBUCKETS, sizeof(u32))
    r.sync_hist = <u32*>calloc(HIST_NBUCKETS, sizeof(u32))
    r.qs_hist = <u32*>calloc(HIST_NBUCKETS, sizeof(u32))
    if (not r.ct or not r.rdp or not r.st or not r.obs or not r.obs_head or not r.obs_n or not r.w
            or not r.done_q or not r.gp_hist or not r.sync_hist or not r.qs_hist):
        return -1
    return 0

cdef void rcu_sim_free(rcu_sim_t* r) noexcept nogil:
    free(r.ct); free(r.rdp); free(r.st); free(r.obs); free(r.obs_head); free(r.obs_n)
    free(r.w); free(r.done_q); free(r.gp_hist); free(r.sync_hist); free(r.qs_hist)
    r.ct = NULL; r.rdp = NULL; r.st = NULL; r.obs = NULL; r.obs_head = NULL; r.obs_n = NULL
    r.w = NULL; r.done_q = NULL; r.gp_hist = NULL; r.sync_hist = NULL; r.qs_hist = NULL

cdef void rcu_sim_init(rcu_sim_t* r) noexcept nogil:
    # Boot state after the parameters (r.p) and nohz_full flags (rdp[c].nohz_full) are set.
    cdef s32 c, i
    cdef rcu_state_t* rs = &r.rs
    rs.gp_seq = rcu_initial_gp_seq()
    rs.gp_seq_needed = rs.gp_seq
    rs.gp_state = RCU_GP_WAIT_GPS
    rs.gp_flags = 0
    rs.nr_qs_pending = 0
    rs.jiffies_stall = 0
    rs.last_done_gp_start_ns = -1
    for c in range(r.ncpu):
        r.ct[c].watching = 1            # RCU watching: the CPU runs kernel code at boot
        r.ct[c].state = CT_KERNEL
        r.ct[c].active = r.rdp[c].nohz_full
        r.rdp[c].gp_seq = rs.gp_seq
        r.rdp[c].gp_seq_needed = rs.gp_seq
        r.rdp[c].cpu_no_qs = 1
        r.rdp[c].offloaded = r.rdp[c].nohz_full     # rcu_nocbs covers every nohz_full CPU
        r.rdp[c].kthread_status = RCU_KTHREAD_WAITING
        r.rdp[c].qs_seen_gp = 0
        r.rdp[c].qs_wait_since = -1
        r.rdp[c].cb_head = -1
        r.rdp[c].cb_tail = -1
        r.st[c].fp_ep_start = -1
    r.w_free = -1
    for i in range(r.nw - 1, -1, -1):
        r.w[i].next = r.w_free
        r.w[i].queued = 0
        r.w_free = i
    r.wfg_head = -1
    r.done_n = 0

cdef inline void rcu_violation(rcu_sim_t* r, int kind) noexcept nogil:
    r.violations += 1
    r.violation_kind |= (<u64>1) << kind

cdef inline void rcu_tev(rcu_sim_t* r, s32 cpu, int ev, s64 value) noexcept nogil:
    # Leave an event for the engine's trace (rcu/rcu_engine.pxi rcu_trace_drain); off: one test.
    if r.tev != NULL and r.tev_n < r.tev_cap:
        r.tev[r.tev_n].cpu = cpu
        r.tev[r.tev_n].ev = ev
        r.tev[r.tev_n].value = value
        r.tev_n += 1

cdef inline void rcu_truth_qs(rcu_sim_t* r, s32 cpu) noexcept nogil:
    # A quiescent state happened on this CPU now (ground truth, not the reporting machinery).
    if rcu_gp_in_progress(&r.rs):
        r.rdp[cpu].qs_seen_gp = r.rs.gp_seq

# ------------------------------------------------------------------------------ callbacks (synchronize_rcu)
cdef bint rcu_start_this_gp(rcu_sim_t* r, u64 req) noexcept nogil:
    # rcu_start_this_gp() on a single rcu_node: record the need; start a GP if RCU is idle.
    cdef rcu_state_t* rs = &r.rs
    if ulong_cmp_ge(rs.gp_seq_needed, req) or rcu_seq_started(rs.gp_seq, req):
        return False
    rs.gp_seq_needed = req
    if rcu_gp_in_progress(rs):
        return False        # rcu_gp_cleanup() will see the need
    rs.gp_flags |= RCU_GP_FLAG_INIT
    return True

cdef void rcu_cbs_accelerate(rcu_sim_t* r, s32 cpu) noexcept nogil:
    # rcu_accelerate_cbs(): unassigned callbacks wait for the first GP that fully follows now.
    cdef s32 i = r.rdp[cpu].cb_head
    cdef u64 req = rcu_seq_snap(r.rs.gp_seq)
    cdef bint any = False
    while i >= 0:
        if r.w[i].req_seq == 0:
            r.w[i].req_seq = req
            any = True
        i = r.w[i].next
    if any:
        rcu_start_this_gp(r, req)

cdef inline bint rcu_cbs_unassigned(rcu_sim_t* r, s32 cpu) noexcept nogil:
    cdef s32 i = r.rdp[cpu].cb_head
    while i >= 0:
        if r.w[i].req_seq == 0:
            return True
        i = r.w[i].next
    return False

cdef inline bint rcu_cbs_ready(rcu_sim_t* r, s32 cpu) noexcept nogil:
    # Ready once this CPU has noted the end of the GP they wait for (rcu_advance_cbs).
    cdef s32 i = r.rdp[cpu].cb_head
    while i >= 0:
        if r.w[i].req_seq != 0 and rcu_seq_done(r.rdp[cpu].gp_seq, r.w[i].req_seq):
            return True
        i = r.w[i].next
    return False

cdef void rcu_sync_complete(rcu_sim_t* r, s32 i, s64 now) noexcept nogil:
    cdef rcu_waiter_t* w = &r.w[i]
    cdef s64 lat = now - w.call_ns
    if not rcu_seq_done(r.rs.gp_seq, w.call_snap) or r.rs.last_done_gp_start_ns < w.call_ns:
        rcu_violation(r, RV_SYNC_EARLY)
    r.sync_done += 1
    r.sync_ns_sum += lat
    if lat > r.sync_ns_max:
        r.sync_ns_max = lat
    r.sync_hist[hist_bucket(lat)] += 1
    if w.task >= 0 and r.done_n < r.nw:
        r.done_q[r.done_n] = w.task
        r.done_n += 1
    w.queued = 0
    w.next = r.w_free
    r.w_free = i

cdef void rcu_do_batch(rcu_sim_t* r, s32 cpu, s64 now) noexcept nogil:
    # Invoke the ready callbacks: each wakes its synchronize_rcu() caller.
    cdef s32 i = r.rdp[cpu].cb_head
    cdef s32 prev = -1
    cdef s32 nxt
    while i >= 0:
        nxt = r.w[i].next
        if r.w[i].req_seq != 0 and rcu_seq_done(r.rdp[cpu].gp_seq, r.w[i].req_seq):
            if prev >= 0:
                r.w[prev].next = nxt
            else:
                r.rdp[cpu].cb_head = nxt
            if r.rdp[cpu].cb_tail == i:
                r.rdp[cpu].cb_tail = prev
            rcu_sync_complete(r, i, now)
        else:
            prev = i
        i = nxt

cdef s32 rcu_sync_call(rcu_sim_t* r, s32 cpu, s64 now, s32 task) noexcept nogil:
    # synchronize_rcu() on `cpu`: returns the waiter, or -1 when every slot is in use.
    cdef s32 i = r.w_free
    cdef rcu_waiter_t* w
    if i < 0:
        return -1
    w = &r.w[i]
    r.w_free = w.next
    w.call_ns = now
    w.cpu = cpu
    w.task = task
    w.queued = 1
    w.next = -1
    w.call_snap = rcu_seq_snap(r.rs.gp_seq)
    r.sync_calls += 1
    if r.p.wake_from_gp:
        # synchronize_rcu_normal(): latch a GP and wait for rcu_gp_cleanup() to complete us.
        w.req_seq = w.call_snap
        w.next = r.wfg_head
        r.wfg_head = i
        rcu_start_this_gp(r, w.req_seq)
    else:
        # wait_rcu_gp(call_rcu_hurry): a callback on this CPU, given a GP by rcu_core().
        w.req_seq = 0
        if r.rdp[cpu].cb_tail >= 0:
            r.w[r.rdp[cpu].cb_tail].next = i
        else:
            r.rdp[cpu].cb_head = i
        r.rdp[cpu].cb_tail = i
    return i

# ------------------------------------------------------------------------------ noting GP changes
cdef void rcu_disable_urgency_upon_qs(rcu_data_t* rdp) noexcept nogil:
    rdp.urgent_qs = 0
    rdp.need_heavy_qs = 0
    if rdp.nohz_full and rdp.forced_tick:
        rdp.forced_tick = 0         # tick_dep_clear_cpu(TICK_DEP_BIT_RCU)

cdef void rcu_note_gp_changes(rcu_sim_t* r, s32 cpu, s64 now) noexcept nogil:
    # __note_gp_changes(): note the end of old GPs, then the start of a new one.
    cdef rcu_data_t* rdp = &r.rdp[cpu]
    cdef rcu_state_t* rs = &r.rs
    cdef bint need_qs
    if rdp.gp_seq == rs.gp_seq:
        return
    if rcu_seq_completed_gp(rdp.gp_seq, rs.gp_seq):
        rdp.core_needs_qs = 0
    elif rdp.core_needs_qs:
        rdp.core_needs_qs = rdp.qs_pending
    if rcu_seq_new_gp(rdp.gp_seq, rs.gp_seq):
        need_qs = rdp.qs_pending != 0
        rdp.cpu_no_qs = need_qs
        rdp.core_needs_qs = need_qs
        rdp.ticks_this_gp = 0
        rdp.last_fqs_resched = jiffies_at(&r.p, now)     # zero_cpu_stall_ticks()
    rdp.gp_seq = rs.gp_seq
    if ulong_cmp_lt(rdp.gp_seq_needed, rs.gp_seq_needed):
        rdp.gp_seq_needed = rs.gp_seq_needed
    if not rdp.offloaded:
        rcu_cbs_accelerate(r, cpu)      # rcu_advance_cbs() / rcu_accelerate_cbs()

cdef void rcu_report_qs_cpu(rcu_sim_t* r, s32 cpu, s64 now, bint via_fqs) noexcept nogil:
    # Clear this CPU's qsmask bit (rcu_report_qs_rnp on the single node); the last one wakes
    # the GP kthread (rcu_report_qs_rsp sets RCU_GP_FLAG_FQS).
    cdef rcu_data_t* rdp = &r.rdp[cpu]
    cdef s64 d
    if not rdp.qs_pending:
        return
    if rdp.qs_seen_gp != r.rs.gp_seq:
        rcu_violation(r, RV_REPORT_NO_QS)
    rdp.qs_pending = 0
    r.rs.nr_qs_pending -= 1
    rcu_disable_urgency_upon_qs(rdp)
    if via_fqs:
        r.st[cpu].qs_fqs += 1
    else:
        r.st[cpu].qs_local += 1
    rcu_tev(r, cpu, RTE_QS_FQS if via_fqs else RTE_QS, now - rdp.qs_wait_since if rdp.qs_wait_since >= 0 else -1)
    if rdp.nohz_full and rdp.qs_wait_since >= 0:
        d = now - rdp.qs_wait_since
        r.qs_hist[hist_bucket(d)] += 1
        r.qs_n += 1
        r.qs_ns_sum += d
        if d > r.qs_ns_max:
            r.qs_ns_max = d
    rdp.qs_wait_since = -1
    if r.rs.nr_qs_pending == 0:
        r.rs.gp_flags |= RCU_GP_FLAG_FQS

cdef void rcu_report_qs_rdp(rcu_sim_t* r, s32 cpu, s64 now) noexcept nogil:
    cdef rcu_data_t* rdp = &r.rdp[cpu]
    if rdp.cpu_no_qs or rdp.gp_seq != r.rs.gp_seq:
        rdp.cpu_no_qs = 1           # the QS belonged to an older GP: need a new one
        return
    rdp.core_needs_qs = 0
    if not rdp.qs_pending:
        return
    if not rdp.offloaded:
        rcu_cbs_accelerate(r, cpu)
    rcu_report_qs_cpu(r, cpu, now, False)

cdef void rcu_core(rcu_sim_t* r, s32 cpu, s64 now) noexcept nogil:
    # rcu_core() as rcuc/N (or RCU_SOFTIRQ) runs it on this CPU.
    cdef rcu_data_t* rdp = &r.rdp[cpu]
    r.st[cpu].core_runs += 1
    rcu_note_gp_changes(r, cpu, now)            # rcu_check_quiescent_state()
    if rdp.core_needs_qs and not rdp.cpu_no_qs:
        rcu_report_qs_rdp(r, cpu, now)
    if not rdp.offloaded:
        if not rcu_gp_in_progress(&r.rs) and rcu_cbs_unassigned(r, cpu):
            rcu_cbs_accelerate(r, cpu)
        rcu_do_batch(r, cpu, now)

cdef bint rcu_rcuc_run(rcu_sim_t* r, s32 cpu, s64 now) noexcept nogil:
    # One pass of rcu_cpu_kthread(): take the work flag, run rcu_core(); True if more work came.
    cdef rcu_data_t* rdp = &r.rdp[cpu]
    cdef u8 work = rdp.has_work
    rdp.kthread_status = RCU_KTHREAD_RUNNING
    rdp.has_work = 0
    if work:
        rcu_core(r, cpu, now)
    if not rdp.has_work:
        rdp.kthread_status = RCU_KTHREAD_WAITING
        return False
    return True

cdef int rcu_invoke_core(rcu_sim_t* r, s32 cpu, bint rcuc_current, bint idle_current) noexcept nogil:
    # invoke_rcu_core(): 1 when rcuc/N must be woken (or the softirq raised).
    cdef rcu_data_t* rdp = &r.rdp[cpu]
    r.st[cpu].rcuc_wakeups += 1
    if r.p.use_softirq:
        return 1
    rdp.has_work = 1
    if rcuc_current:
        return 0
    if rdp.kthread_status != RCU_KTHREAD_YIELDING or idle_current:
        return 1
    return 0

# ------------------------------------------------------------------------------ the tick
cdef bint rcu_check_cpu_stall(rcu_sim_t* r, s32 cpu, u64 j) noexcept nogil:
    # check_cpu_stall(): self-detected when this CPU still owes its QS, else after RAT_DELAY.
    cdef rcu_state_t* rs = &r.rs
    cdef u64 js = rs.jiffies_stall
    cdef bint self_detected
    if not rcu_gp_in_progress(rs) or ulong_cmp_lt(j, js) or ulong_cmp_ge(rs.gp_start, js):
        return False
    self_detected = r.rdp[cpu].qs_pending != 0
    if not self_detected and not ulong_cmp_ge(j, js + RCU_STALL_RAT_DELAY):
        return False
    if self_detected:
        r.st[cpu].stall_self += 1
    else:
        r.stall_other += 1
    rcu_tev(r, cpu, RTE_STALL, self_detected)
    rs.jiffies_stall = j + 3 * r.p.stall_j + 3
    return True

cdef int rcu_sched_clock_irq(rcu_sim_t* r, s32 cpu, s64 now, bint user, bint from_idle, bint preemptible,
                             bint pred, int cause, bint rcuc_current) noexcept nogil:
    # The RCU part of a scheduling-clock interrupt on `cpu` (update_process_times). `user`: the
    # tick interrupted user mode; `from_idle`: rcu_is_cpu_rrupt_from_idle(); `preemptible`: the
    # interrupted context had preemption and softirqs enabled (PREEMPT_RCU notes rcu_qs() then);
    # `pred`: the guest policy's disjunct (policies/rcu_guest). A tick that hit guest mode must be
    # preceded by rcu_guest_exit(). Returns TK_* flags.
    cdef rcu_data_t* rdp = &r.rdp[cpu]
    cdef ct_cpu_t* ct = &r.ct[cpu]
    cdef rcu_cpu_stats_t* st = &r.st[cpu]
    cdef rcu_state_t* rs = &r.rs
    cdef u64 j = jiffies_at(&r.p, now)
    cdef int flags = 0
    cdef int rule
    cdef int why = SK_NONE
    cdef bint gp, woke = False
    cdef bint ready = False, need_gp = False
    if ct_in_eqs(ct):
        # ct_irq_enter()/ct_irq_exit() around the handler: a momentary exit from the EQS.
        ct.watching += 2
        rcu_truth_qs(r, cpu)
    st.ticks += 1
    rdp.ticks_this_gp += 1
    if rdp.urgent_qs:
        if not from_idle and not user:
            flags |= TK_RESCHED
            st.urgent_resched += 1
        rdp.urgent_qs = 0
    if preemptible:
        rcu_qs(rdp)                     # rcu_flavor_sched_clock_irq(): an immediate QS
        rcu_truth_qs(r, cpu)
    if rcu_check_cpu_stall(r, cpu, j):
        flags |= TK_STALL
    if not rdp.offloaded and rdp.cb_head >= 0:
        ready = rcu_cbs_ready(r, cpu)
        need_gp = rcu_cbs_unassigned(r, cpu)
    rule = rcu_pending_rule(&r.p, rs, rdp, user, from_idle, pred, j, ready, need_gp)
    st.pending[rule] += 1
    gp = rcu_gp_in_progress(rs)
    if rule == RP_SKIP:
        why = rcu_skip_reason(&r.p, rs, rdp, user, from_idle, pred, j)
        st.skips[why] += 1
    if rdp.nohz_full:
        st.ticks_eval += 1
        st.pred_true += pred
        if (gp and not rdp.held_this_gp and (user or from_idle or pred)
                and not time_before(j, rs.gp_start + r.p.nohz_timeout_j)):
            # the shortcut would have applied but the GP is too old: rcu_nohz_full_cpu() expired
            rdp.held_this_gp = 1
            st.nohz_expired += 1
            r.gp_held_flag = 1
    if rule != RP_SKIP and rule != RP_NONE:
        if rcu_invoke_core(r, cpu, rcuc_current, from_idle or cause == RC_HLT_RACE):
            flags |= TK_WAKE_RCUC
            woke = True
            st.wakes_by[cause] += 1
    if rdp.nohz_full:
        rcu_obs_push(r, cpu, now, cause, pred, rule == RP_SKIP and why == SK_POLICY, woke,
                     not user and not from_idle)
    r.last_rule = rule
    r.last_skip = why
    return flags

# ------------------------------------------------------------------------------ the GP kthread
cdef void rcu_gp_init(rcu_sim_t* r, s64 now) noexcept nogil:
    cdef rcu_state_t* rs = &r.rs
    cdef u64 j = jiffies_at(&r.p, now)
    cdef s32 c
    rs.gp_flags = 0
    rs.gp_start = j                     # record_gp_stall_check_time()
    rs.jiffies_stall = j + r.p.stall_j
    rs.jiffies_resched = j + r.p.stall_j // 2
    rs.gp_seq += 1                      # rcu_seq_start()
    rs.gp_start_ns = now
    rs.nr_qs_pending = r.ncpu
    for c in range(r.ncpu):
        r.rdp[c].qs_pending = 1
        r.rdp[c].held_this_gp = 0
        r.rdp[c].qs_wait_since = now
        if ct_in_eqs(&r.ct[c]):
            r.rdp[c].qs_seen_gp = rs.gp_seq
    rcu_note_gp_changes(r, r.p.gp_cpu, now)
    r.gps_started += 1
    rcu_tev(r, r.p.gp_cpu, RTE_GP_START, <s64>rs.gp_seq)
    rs.gp_state = RCU_GP_WAIT_FQS
    rs.first_fqs = 1
    rs.jiffies_force_qs = j + r.p.first_fqs_j

cdef int rcu_implicit_qs(rcu_sim_t* r, s32 cpu, u64 j) noexcept nogil:
    # rcu_watching_snap_recheck(): 1 = passed through an EQS since the snapshot; -1 = resched it.
    cdef rcu_data_t* rdp = &r.rdp[cpu]
    cdef rcu_state_t* rs = &r.rs
    cdef u64 jtsq = r.p.jtsq
    cdef int ret = 0
    if rdp.watching_snap != r.ct[cpu].watching:
        return 1
    if not rdp.need_heavy_qs and (time_after(j, rs.gp_start + jtsq * 2) or time_after(j, rs.jiffies_resched)):
        rdp.need_heavy_qs = 1
        rdp.urgent_qs = 1
    elif time_after(j, rs.gp_start + jtsq):
        rdp.urgent_qs = 1
    if rdp.nohz_full and time_after(j, rdp.last_fqs_resched + jtsq * 3):
        rdp.urgent_qs = 1
        rdp.last_fqs_resched = j
        ret = -1
    if time_after(j, rs.jiffies_resched):
        if time_after(j, rdp.last_fqs_resched + jtsq):
            rdp.last_fqs_resched = j
            ret = -1
    return ret

cdef void rcu_gp_fqs(rcu_sim_t* r, s64 now, bint first) noexcept nogil:
    # force_qs_rnp() with rcu_watching_snap_save() (first scan) or the recheck (later scans).
    cdef u64 j = jiffies_at(&r.p, now)
    cdef s32 c
    cdef int ret
    r.rs.n_force_qs += 1
    r.nr_fqs += 1
    rcu_tev(r, r.p.gp_cpu, RTE_FQS, first)
    for c in range(r.ncpu):
        if not r.rdp[c].qs_pending:
            continue
        if first:
            r.rdp[c].watching_snap = r.ct[c].watching
            ret = 1 if rcu_watching_snap_in_eqs(r.rdp[c].watching_snap) else 0
        else:
            ret = rcu_implicit_qs(r, c, j)
        if ret > 0:
            rcu_report_qs_cpu(r, c, now, True)
        elif ret < 0:
            r.rdp[c].resched_req = 1
            r.st[c].resched_ipis += 1
            rcu_tev(r, c, RTE_RESCHED, 0)

cdef void rcu_gp_cleanup(rcu_sim_t* r, s64 now) noexcept nogil:
    cdef rcu_state_t* rs = &r.rs
    cdef s64 d = now - rs.gp_start_ns
    cdef s32 c, i, prev, nxt
    cdef bint needgp
    for c in range(r.ncpu):
        if r.rdp[c].qs_seen_gp != rs.gp_seq:
            rcu_violation(r, RV_GP_END_OWED)
        r.rdp[c].qs_wait_since = -1
    r.gps_done += 1
    rcu_tev(r, r.p.gp_cpu, RTE_GP_END, d)
    r.gp_ns_sum += d
    if d > r.gp_ns_max:
        r.gp_ns_max = d
    r.gp_hist[hist_bucket(d)] += 1
    if r.gp_held_flag:
        r.gps_held += 1
        r.gp_held_flag = 0
    rs.last_done_gp_start_ns = rs.gp_start_ns
    rs.gp_seq = rcu_seq_endval(rs.gp_seq)           # rcu_seq_end()
    rcu_note_gp_changes(r, r.p.gp_cpu, now)
    needgp = ulong_cmp_lt(rs.gp_seq, rs.gp_seq_needed)
    if not needgp:
        rs.gp_seq_needed = rs.gp_seq
    rs.gp_state = RCU_GP_WAIT_GPS
    rs.gp_flags &= RCU_GP_FLAG_INIT
    if needgp:
        rs.gp_flags |= RCU_GP_FLAG_INIT
    # rcu_sr_normal_gp_cleanup(): callers latched before this GP return now
    i = r.wfg_head
    prev = -1
    while i >= 0:
        nxt = r.w[i].next
        if rcu_seq_done(rs.gp_seq, r.w[i].req_seq):
            if prev >= 0:
                r.w[prev].next = nxt
            else:
                r.wfg_head = nxt
            rcu_sync_complete(r, i, now)
        else:
            prev = i
        i = nxt

cdef void rcu_gp_kthread_run(rcu_sim_t* r, s64 now) noexcept nogil:
    # Everything the GP kthread does at `now` (its own wake-up latency is not modelled).
    cdef rcu_state_t* rs = &r.rs
    cdef u64 j
    cdef int guard = 0
    while guard < 64:
        guard += 1
        if rs.gp_state == RCU_GP_WAIT_GPS:
            if not (rs.gp_flags & RCU_GP_FLAG_INIT):
                return
            rcu_gp_init(r, now)
            continue
        if rs.nr_qs_pending == 0:
            rcu_gp_cleanup(r, now)
            continue
        j = jiffies_at(&r.p, now)
        if not time_after(rs.jiffies_force_qs, j) or (rs.gp_flags & RCU_GP_FLAG_FQS):
            rcu_gp_fqs(r, now, rs.first_fqs)
            rs.first_fqs = 0
            rs.gp_flags &= ~RCU_GP_FLAG_FQS
            rs.jiffies_force_qs = j + r.p.next_fqs_j
            continue
        return

cdef s64 rcu_gp_next_wake(rcu_sim_t* r, s64 now) noexcept nogil:
    # When the GP kthread wants to run next: now, the FQS deadline, or -1 (waiting for a request).
    cdef rcu_state_t* rs = &r.rs
    cdef s64 t
    if rs.gp_state == RCU_GP_WAIT_GPS:
        return now if rs.gp_flags & RCU_GP_FLAG_INIT else -1
    if rs.nr_qs_pending == 0 or rs.gp_flags & RCU_GP_FLAG_FQS:
        return now
    t = jiffy_time(&r.p, rs.jiffies_force_qs)
    return t if t > now else now
