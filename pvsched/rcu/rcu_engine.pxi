# Where the simulated host calls RCU (the call sites of kernel/rcu in the kernel): the tick
# (update_process_times -> rcu_sched_clock_irq), interrupt entry on a nohz_full CPU
# (rcu_irq_enter_check_tick), __schedule (rcu_note_context_switch), the idle loop
# (ct_cpuidle_enter after idle_entry_ns), guest entry and exit, rcuc/N (a SCHED_FIFO host task per
# nohz_full CPU running the OP_RCUC program), synchronize_rcu() callers (OP_SYNC_RCU), and the GP
# kthread (its own event slot). With RCU off (Sim.rcu == NULL) every call site is one test.

RCU_STATS_COLUMNS = ("ticks", "rcuc_wakeups", "core_runs", "qs_local", "qs_fqs", "forced_ticks", "resched_ipis",
                     "urgent_resched", "stall_self", "nohz_expired", "ticks_eval", "pred_true", "tp", "tn",
                     "obs_overflow")


cdef int rcu_build(Sim* s, object cfg) except -1:
    # cfg: None (RCU not modelled) or the dict Scenario.compile makes (params, callers, ...); the
    # nohz_full CPUs are the tick's (sched/tick_sched.pxi tick_sched_build, called first).
    cdef rcu_sim_t* r
    cdef s32 c, t, cap, n
    cdef int hz = s.kern[0].hz
    if cfg is None:
        return 0
    cfg = dict(cfg)
    nohz = [c for c in range(s.ncpu) if s.rq[c].ts.nohz_full]      # tick_sched_build set them
    params = dict(cfg.pop("params", {}) or {})
    callers = int(cfg.pop("callers", 0))
    rcuc_ns = int(cfg.pop("rcuc_ns", 20_000))
    slow_exit_ns = int(cfg.pop("slow_exit_ns", 100_000))
    idle_entry_ns = int(cfg.pop("idle_entry_ns", 2_000))
    tick_dep = cfg.pop("tick_dependency", "none")
    if cfg:
        raise ValueError(f"unknown RCU settings {sorted(cfg)}")
    if not (0 <= rcuc_ns <= 10**9 and 1 <= slow_exit_ns <= 10**12 and 0 <= idle_entry_ns <= 10**9
            and 0 <= callers <= 1_000_000 and tick_dep in ("none", "timer")):
        raise ValueError("RCU settings out of range")
    r = <rcu_sim_t*>calloc(1, sizeof(rcu_sim_t))
    if r == NULL:
        raise MemoryError("pvsched: RCU state too large for memory")
    s.rcu = r
    if s.trace.on:
        r.tev_cap = 2 * s.ncpu + 32
        r.tev = <rcu_tev_t*>calloc(r.tev_cap, sizeof(rcu_tev_t))
        if r.tev == NULL:
            raise MemoryError("pvsched: RCU trace buffer")
    rcu_params_fill(&r.p, s.ncpu, hz, nohz, params)
    cap = <s32>min(r.p.horizon_ns // r.p.tick_ns + 4, 4096)
    r.hc = <rcu_host_cpu_t*>calloc(s.ncpu, sizeof(rcu_host_cpu_t))
    if rcu_sim_alloc(r, s.ncpu, max(callers, 1), cap) < 0 or r.hc == NULL:
        raise MemoryError("pvsched: RCU state too large for memory")
    for c in nohz:
        r.rdp[c].nohz_full = 1
    rcu_sim_init(r)
    r.hp.rcuc_ns = rcuc_ns
    r.hp.slow_exit_ns = slow_exit_ns
    r.hp.idle_entry_ns = idle_entry_ns
    r.hp.tick_dep_timer = tick_dep == "timer"
    for c in range(s.ncpu):
        r.hc[c].rcuc_task = -1
        r.hc[c].last_vcpu = -1
    for t in range(s.ntask):
        if s.task[t].kern == 0 and s.ops[s.task[t].prog_start].code == OP_RCUC:
            c = <s32>s.ops[s.task[t].prog_start].a
            if not (0 <= c < s.ncpu and r.rdp[c].nohz_full) or r.hc[c].rcuc_task >= 0:
                raise ValueError(f"task {t}: an rcuc thread for CPU {c}, which is not nohz_full or has one")
            for n in range(s.ncpu):
                if task_allowed(s, t, n) != (n == c):
                    raise ValueError(f"task {t}: rcuc/{c} must be pinned to CPU {c}")
            r.hc[c].rcuc_task = t
    for c in nohz:
        if r.hc[c].rcuc_task < 0:
            raise ValueError(f"nohz_full CPU {c} has no rcuc thread")
    for c in range(s.ncpu):
        if s.rq[c].curr < 0:
            rcu_eqs_enter(r, c, CT_IDLE, s.now)     # the CPUs start in the idle loop
    return 0


cdef void rcu_free(Sim* s) noexcept nogil:
    if s.rcu != NULL:
        rcu_sim_free(s.rcu)
        free(s.rcu.hc)
        free(s.rcu.tev)
        free(s.rcu)
        s.rcu = NULL


cdef void rcu_trace_drain(Sim* s) noexcept nogil:
    # The core's events since the last drain, as trace records (kind "rcu") at this instant.
    cdef rcu_sim_t* r = s.rcu
    cdef s32 i, c
    for i in range(r.tev_n):
        c = r.tev[i].cpu
        trace_event(s, TR_RCU, c, s.rq[c].curr, r.tev[i].ev, r.tev[i].value)
    r.tev_n = 0


# ------------------------------------------------------------------------------ GP kthread, callers
cdef void rcu_kick_gp(Sim* s) noexcept nogil:
    # Re-arm the GP kthread's slot at its next wake-up (a GP request, an FQS deadline, a full qsmask).
    cdef s64 t = rcu_gp_next_wake(s.rcu, s.now)
    if t < 0:
        ev_cancel(&s.q, s.slot_rcu)
    elif not ev_armed(&s.q, s.slot_rcu) or ev_expiry(&s.q, s.slot_rcu) != t:
        ev_arm(&s.q, s.slot_rcu, t)

cdef void rcu_drain(Sim* s) noexcept nogil:
    # synchronize_rcu() callers whose grace period ended return.
    cdef rcu_sim_t* r = s.rcu
    cdef s32 i, t
    for i in range(r.done_n):
        t = r.done_q[i]
        if s.task[t].state == TS_SLEEPING:
            try_to_wake_up(s, t, s.task[t].cpu)
    r.done_n = 0

cdef void rcu_resched_cpu(Sim* s, s32 cpu) noexcept nogil:
    # resched_cpu() from an FQS scan: an IPI (a guest exits; the interrupt may force the tick on),
    # then a reschedule, i.e. a context switch: a quiescent state.
    host_interrupt(s, cpu, EXIT_HOST_INTR)
    if s.rq[cpu].curr >= 0:
        s.fa.resched[cpu] |= RESCHED_NOW
        resched_deliver(s, cpu, False)

cdef void handle_rcu_gp(Sim* s) noexcept nogil:
    cdef rcu_sim_t* r = s.rcu
    cdef s32 c
    rcu_gp_kthread_run(r, s.now)
    if r.tev != NULL:
        rcu_trace_drain(s)
    for c in range(s.ncpu):
        if r.rdp[c].resched_req:
            r.rdp[c].resched_req = 0
            rcu_resched_cpu(s, c)
    rcu_drain(s)
    rcu_kick_gp(s)

cdef int rcu_sync_op(Sim* s, s32 t, s64* wake_at) noexcept nogil:
    # OP_SYNC_RCU: synchronize_rcu() on the caller's CPU; it sleeps until its GP has ended.
    cdef s32 w
    if s.rcu == NULL:
        return -1
    w = rcu_sync_call(s.rcu, s.task[t].cpu, s.now, t)
    rcu_kick_gp(s)
    if w < 0:
        return -1
    s.task[t].lat_start = -1            # its wait is the synchronize_rcu() latency, not a wake-up's
    wake_at[0] = -1
    return STEP_BLOCK

cdef int rcu_rcuc_op(Sim* s, s32 t, s64* wake_at) noexcept nogil:
    # OP_RCUC, rcu_cpu_kthread(): a pass of rcu_core() per rcuc_ns while work keeps arriving; after
    # 10 passes it yields for 2 jiffies; without work it sleeps until invoke_rcu_core() wakes it.
    cdef rcu_sim_t* r = s.rcu
    cdef s32 cpu = s.task[t].cpu
    cdef rcu_data_t* rdp = &r.rdp[cpu]
    cdef rcu_host_cpu_t* hc = &r.hc[cpu]
    if rdp.has_work:
        if hc.rcuc_passes >= 10:
            hc.rcuc_passes = 0
            rdp.kthread_status = RCU_KTHREAD_YIELDING
            wake_at[0] = s.now + 2 * r.p.tick_ns
            return STEP_BLOCK
        hc.rcuc_passes += 1
        rcu_rcuc_run(r, cpu, s.now)
        if r.tev != NULL:
            rcu_trace_drain(s)
        rdp.kthread_status = RCU_KTHREAD_RUNNING
        rcu_drain(s)
        rcu_kick_gp(s)
        s.task[t].remaining = r.hp.rcuc_ns
        return STEP_RUN if r.hp.rcuc_ns > 0 else -1
    hc.rcuc_passes = 0
    rdp.kthread_status = RCU_KTHREAD_WAITING
    s.task[t].lat_start = -1            # until invoke_rcu_core() wakes it
    wake_at[0] = -1
    return STEP_BLOCK

cdef void rcu_invoke(Sim* s, s32 cpu) noexcept nogil:
    # invoke_rcu_core() decided to wake rcuc/N; housekeeping CPUs run rcu_core() inline.
    cdef s32 t = s.rcu.hc[cpu].rcuc_task
    if t < 0:
        rcu_core(s.rcu, cpu, s.now)
        if s.rcu.tev != NULL:
            rcu_trace_drain(s)
        rcu_drain(s)
        return
    if s.task[t].state == TS_SLEEPING:
        ev_cancel(&s.q, s.slot_task + t)
        s.task[t].lat_start = s.now     # rcuc's wake-up latency: invoke_rcu_core() -> running
        try_to_wake_up(s, t, cpu)

# ------------------------------------------------------------------------------ the tick
cdef int rcu_cause(Sim* s, s32 cpu, s32 t) noexcept nogil:
    # What the CPU was doing at a tick, for the predicate-accuracy counters (RC_*).
    cdef rcu_sim_t* r = s.rcu
    cdef s32 lv = r.hc[cpu].last_vcpu
    cdef vcpu_t* vc
    if t >= 0 and s.task[t].vcpu >= 0:
        vc = &s.vcpu[s.task[t].vcpu]
        if vc.mode == VM_USER:
            return RC_USER
        if vc.mode == VM_EXIT and vc.exit_reason == EXIT_HOST_TICK and vc.mode_since == s.now:
            return RC_GUEST_TICK
        if vc.ret_phase or (vc.user != USER_NONE and not vc.in_kvm_run):
            return RC_USER_EXIT         # out of KVM_RUN, in the kernel: the way to or from the VMM
        if vc.mode == VM_EXIT and s.now - vc.mode_since >= r.hp.slow_exit_ns:
            return RC_SLOW_EXIT
        if not vc.entered_here:
            return RC_NEW_CPU
        return RC_RUNLOOP
    if t >= 0 and t == r.hc[cpu].rcuc_task or lv < 0:
        return RC_OTHER
    vc = &s.vcpu[lv]
    if vc.host_cpu != cpu:
        return RC_MIGRATED
    if s.task[vc.task].state == TS_DEAD:
        return RC_TERMINATED
    if vc.mode == VM_HALTED:
        if t < 0 and r.ct[cpu].state != CT_IDLE:
            return RC_HLT_RACE
        return RC_HLT
    if vc.mode == VM_PREEMPTED and t >= 0:
        return RC_PREEMPTED
    return RC_OTHER

cdef inline bint vcpu_in_irq_exit(vcpu_t* vc) noexcept nogil:
    return vc.mode == VM_EXIT and vc.exit_ctx == EXIT_CTX_IRQ


cdef void rcu_tick(Sim* s, s32 cpu) noexcept nogil:
    # rcu_sched_clock_irq() for the tick on host CPU `cpu` (after the guest policies' tick hook).
    cdef rcu_sim_t* r = s.rcu
    cdef ct_cpu_t* ct = &r.ct[cpu]
    cdef s32 t = s.rq[cpu].curr
    cdef bint user = False, from_idle = False, preemptible = True
    cdef int cause = rcu_cause(s, cpu, t)
    cdef int flags
    if t < 0:
        from_idle = ct.state == CT_IDLE
        preemptible = False
    elif cause == RC_USER:
        user = True
    elif cause == RC_GUEST_TICK:
        preemptible = False             # KVM handles the exit's interrupt with preemption off
    elif s.task[t].vcpu >= 0 and vcpu_in_irq_exit(&s.vcpu[s.task[t].vcpu]):
        preemptible = False             # the tick interrupted softirq work (kvm/vmm_actions.pxi)
    flags = rcu_sched_clock_irq(r, cpu, s.now, user, from_idle, preemptible, ct.skip_pred, cause,
                                t >= 0 and t == r.hc[cpu].rcuc_task)
    ct.skip_pred = 0
    if r.tev != NULL:
        if r.last_rule == RP_SKIP:
            rcu_tev(r, cpu, RTE_SKIP, r.last_skip * 16 + cause)
        elif flags & TK_WAKE_RCUC:
            rcu_tev(r, cpu, RTE_WAKE, r.last_rule)
        rcu_trace_drain(s)
    if cause == RC_GUEST_TICK:
        ct.pf_vcpu = 0                  # guest_timing_exit_irqoff() after the interrupt
    if flags & TK_WAKE_RCUC:
        rcu_invoke(s, cpu)
    if flags & TK_RESCHED and t >= 0:
        s.fa.resched[cpu] |= RESCHED_NOW
    rcu_kick_gp(s)

cdef void rcu_host_irq(Sim* s, s32 cpu) noexcept nogil:
    # An interrupt on a nohz_full CPU: taken where RCU watches (kernel, or the host side of the
    # exit it causes), rcu_irq_enter_check_tick() may turn the tick on for an urgent QS.
    cdef s32 t = s.rq[cpu].curr
    if t < 0:
        if s.rcu.ct[cpu].state == CT_IDLE:
            return
    elif s.task[t].vcpu >= 0 and s.vcpu[s.task[t].vcpu].mode == VM_USER:
        return
    if rcu_irq_enter_check_tick(s.rcu, cpu):
        if s.rcu.tev != NULL:
            rcu_trace_drain(s)
        tick_nohz_full_kick(s, cpu)

cdef inline bint rcu_idle_keeps_tick(Sim* s, s32 cpu) noexcept nogil:
    # tick_nohz_idle_stop_tick() declines: non-offloaded callbacks (rcu_needs_cpu()), or a timer
    # in every tick period on a nohz_full CPU.
    if s.rcu == NULL or cpu >= s.ncpu:
        return False
    return s.rcu.rdp[cpu].cb_head >= 0 or (s.rq[cpu].ts.nohz_full and s.rcu.hp.tick_dep_timer)

# ------------------------------------------------------------------------------ switches, idle, guest
cdef void rcu_switch(Sim* s, s32 cpu, s32 prev, s32 next) noexcept nogil:
    # __schedule() switched host CPU `cpu` from prev to next (-1 = idle).
    cdef rcu_sim_t* r = s.rcu
    cdef vcpu_t* vc
    if prev < 0:
        ev_cancel(&s.q, s.slot_rcu + 1 + cpu)
        if r.ct[cpu].state == CT_IDLE:
            rcu_eqs_exit(r, cpu, s.now)             # ct_cpuidle_exit()
    if next < 0:
        if r.hp.idle_entry_ns > 0:
            ev_arm(&s.q, s.slot_rcu + 1 + cpu, s.now + r.hp.idle_entry_ns)
        else:
            rcu_eqs_enter(r, cpu, CT_IDLE, s.now)
        return
    if next == r.hc[cpu].rcuc_task and prev >= 0 and s.task[prev].vcpu >= 0 and s.task[prev].state == TS_RUNNABLE:
        vc = &s.vcpu[s.task[prev].vcpu]
        vc.nr_rcuc_preempt += 1
        vc.rcuc_since = s.now
    if s.task[next].vcpu >= 0:
        vc = &s.vcpu[s.task[next].vcpu]
        if vc.rcuc_since >= 0:
            vc.rcuc_preempt_ns += s.now - vc.rcuc_since
            vc.rcuc_since = -1
        r.hc[cpu].last_vcpu = s.task[next].vcpu

cdef void handle_rcu_idle(Sim* s, s32 cpu) noexcept nogil:
    # The idle task reaches ct_cpuidle_enter(): an extended quiescent state.
    if s.rq[cpu].curr < 0:
        rcu_eqs_enter(s.rcu, cpu, CT_IDLE, s.now)

cdef inline void rcu_vcpu_enter(Sim* s, s32 v) noexcept nogil:
    s.vcpu[v].entered_here = 1
    if s.rcu != NULL:
        rcu_guest_enter(s.rcu, s.vcpu[v].host_cpu, s.now)

cdef void rcu_vcpu_user(Sim* s, s32 v, bint enter) noexcept nogil:
    # The vCPU thread enters or leaves user mode (the VMM's work on it, kvm/userspace.pxi).
    if enter:
        rcu_eqs_enter(s.rcu, s.vcpu[v].host_cpu, CT_USER, s.now)       # user_enter_irqoff()
    else:
        rcu_eqs_exit(s.rcu, s.vcpu[v].host_cpu, s.now)

cdef inline void rcu_vcpu_leave(Sim* s, s32 v, bint irq) noexcept nogil:
    # Guest mode ends; PF_VCPU stays set through the interrupt that caused the exit (a tick).
    if s.rcu != NULL:
        rcu_guest_exit(s.rcu, s.vcpu[v].host_cpu, s.now)
        if not irq:
            rcu_guest_timing_exit(s.rcu, s.vcpu[v].host_cpu)

# ------------------------------------------------------------------------------ results
cdef dict rcu_results(Sim* s):
    cdef rcu_sim_t* r = s.rcu
    cdef rcu_cpu_stats_t* st
    cdef s32 c, i
    nohz = [c for c in range(s.ncpu) if r.rdp[c].nohz_full]
    out = {"nohz_full": np.array(nohz, dtype=np.int64)}
    out.update({"gps_started": r.gps_started, "gps_done": r.gps_done, "gp_ns_sum": r.gp_ns_sum,
                "gp_ns_max": r.gp_ns_max, "sync_calls": r.sync_calls, "sync_done": r.sync_done,
                "sync_ns_sum": r.sync_ns_sum, "sync_ns_max": r.sync_ns_max, "qs_reports": r.qs_n,
                "qs_ns_sum": r.qs_ns_sum, "qs_ns_max": r.qs_ns_max, "fqs_scans": r.nr_fqs,
                "stall_other": r.stall_other, "gps_held": r.gps_held})
    cpu = {k: np.zeros(s.ncpu, dtype=np.int64) for k in RCU_STATS_COLUMNS}
    for name in ("fp", "fn", "held", "needless", "wakes_by", "fp_ns"):
        for k in RCU_CAUSES:
            cpu[f"{name}_{k}"] = np.zeros(s.ncpu, dtype=np.int64)
    for k in RCU_PENDING_RULES:
        cpu["pending_" + k] = np.zeros(s.ncpu, dtype=np.int64)
    for k in RCU_SKIP_REASONS[1:]:
        cpu["skip_" + k] = np.zeros(s.ncpu, dtype=np.int64)
    for c in range(s.ncpu):
        st = &r.st[c]
        for k, v in zip(RCU_STATS_COLUMNS, (st.ticks, st.rcuc_wakeups, st.core_runs, st.qs_local, st.qs_fqs,
                                            st.forced_ticks, st.resched_ipis, st.urgent_resched, st.stall_self,
                                            st.nohz_expired, st.ticks_eval, st.pred_true, st.tp, st.tn,
                                            st.obs_overflow)):
            cpu[k][c] = v
        for i in range(RC_N):
            k = RCU_CAUSES[i]
            cpu["fp_" + k][c] = st.fp[i]
            cpu["fn_" + k][c] = st.fn[i]
            cpu["held_" + k][c] = st.held[i]
            cpu["needless_" + k][c] = st.needless[i]
            cpu["wakes_by_" + k][c] = st.wakes_by[i]
            cpu["fp_ns_" + k][c] = st.fp_ns[i] + (s.now - st.fp_ep_start if st.fp_ep_start >= 0 and
                                                  st.fp_ep_cause == i else 0)
        for i in range(RP_N):
            cpu["pending_" + RCU_PENDING_RULES[i]][c] = st.pending[i]
        for i in range(1, SK_N):
            cpu["skip_" + RCU_SKIP_REASONS[i]][c] = st.skips[i]
    out["cpu"] = cpu
    out["gp_hist"] = _rcu_hist(r.gp_hist)
    out["sync_hist"] = _rcu_hist(r.sync_hist)
    out["qs_hist"] = _rcu_hist(r.qs_hist)
    return out


cdef object _rcu_hist(u32* h):
    cdef s32 i
    a = np.zeros(HIST_NBUCKETS, dtype=np.uint32)
    for i in range(HIST_NBUCKETS):
        a[i] = h[i]
    return a
