# RCU guest policies (policies/rcu_guest.pxd): the host-wide policy attached to the host kernel's
# tick (where rcu_pending() takes its disjunct) and to every VM's vCPU points (where it keeps its
# per-pCPU state: the guest exit, KVM_RUN entry and exit, kvm_sched_in/out).

from pvsched.policies.rcu_guest import RCU_GUEST_IDS, RCU_GUEST_MODES     # the names, in RCUP_* order
assert len(RCU_GUEST_MODES) == RCUP_N


cdef int rcu_guest_build(Sim* s, dict cfg) except -1:
    # cfg: RcuGuestPolicy.engine_dict(); attach to every kernel unless vanilla. RCU must be on.
    cdef s32 kk
    cfg = dict(cfg or {})
    rcu_guest_params_fill(&s.rcug, s.kern[0].hz, cfg)
    if cfg:
        raise ValueError(f"unknown RCU guest policy parameters {sorted(cfg)}")
    if s.rcug.mode == RCUP_VANILLA:
        return 0
    if s.rcu == NULL:
        raise ValueError("an RCU guest policy needs the RCU model (Host.nohz_full or synchronize_rcu callers)")
    for kk in range(s.nkern):
        s.kern[kk].policies |= POL_RCU_GUEST
    return 0


cdef u32 rcu_guest_points(Sim* s, s32 kk) noexcept nogil:
    # The points a mode uses: the host tick for a disjunct; per vCPU what keeps its state.
    cdef u8 m = s.rcug.mode
    cdef u32 h = 0
    if kk == 0:
        if m != RCUP_QS_ON_EXIT:
            h |= HOOK_TICK
        return h
    if rcu_guest_last_exit_family(m) or m == RCUP_QS_ON_EXIT:
        h |= HOOK_VCPU_MODE
    if m == RCUP_LAST_EXIT_RESET or m == RCUP_LAST_EXIT_SCHED or m == RCUP_RUN_LOOP or m == RCUP_RUN_LOOP_SCHED:
        h |= HOOK_KVM_RUN | HOOK_KVM_RUN_LEAVE | HOOK_SCHED_IN   # sched_in: a vcpu_load that waited for a pCPU
    if m == RCUP_LAST_EXIT_SCHED or m == RCUP_RUN_LOOP_SCHED:
        h |= HOOK_SCHED_OUT | HOOK_SCHED_IN
    return h


cdef void rcu_guest_tick(Sim* s, s32 cpu) noexcept nogil:
    # The host tick: the disjunct rcu_pending() will use for this tick.
    cdef ct_cpu_t* ct
    cdef rcu_sim_t* r = s.rcu
    if cpu >= s.ncpu:
        return
    ct = &r.ct[cpu]
    ct.skip_pred = rcu_guest_disjunct(&s.rcug, &ct.pol, jiffies_at(&r.p, s.now), rcu_gp_in_progress(&r.rs),
                                      r.rs.gp_start, ct.pf_vcpu)


cdef void rcu_guest_vcpu_mode(Sim* s, s32 v, int mode) noexcept nogil:
    # Every change out of guest mode is a guest exit (guest_context_exit_irqoff).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 cpu = vc.host_cpu
    if vc.mode != VM_GUEST or mode == VM_GUEST:
        return
    rcu_guest_on_exit(&s.rcug, &s.rcu.ct[cpu].pol, jiffies_at(&s.rcu.p, s.now))
    if s.rcug.mode == RCUP_QS_ON_EXIT and not s.rcu.ct[cpu].active:
        rcu_note_context_switch(s.rcu, cpu)     # rcu_virt_note_context_switch() at exit


cdef void rcu_guest_kvm_run(Sim* s, s32 v) noexcept nogil:
    # vcpu_load at the start of KVM_RUN: on the pCPU the thread runs on, or at its next sched_in.
    cdef vcpu_t* vc = &s.vcpu[v]
    if s.rq[vc.host_cpu].curr == vc.task:
        rcu_guest_on_vcpu_load(&s.rcug, &s.rcu.ct[vc.host_cpu].pol, vc.in_kvm_run)
    else:
        vc.rcug.load_pending = 1


cdef void rcu_guest_kvm_run_leave(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    rcu_guest_on_vcpu_put(&s.rcug, &s.rcu.ct[vc.host_cpu].pol, vc.in_kvm_run)


cdef void rcu_guest_sched_out(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    rcu_guest_on_sched_out(&s.rcug, &s.rcu.ct[vc.host_cpu].pol, vc.in_kvm_run)


cdef void rcu_guest_sched_in(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef rcu_guest_cpu* c = &s.rcu.ct[vc.host_cpu].pol
    if vc.rcug.load_pending:
        vc.rcug.load_pending = 0
        rcu_guest_on_vcpu_load(&s.rcug, c, vc.in_kvm_run)
    rcu_guest_on_sched_in(&s.rcug, c, vc.in_kvm_run)
