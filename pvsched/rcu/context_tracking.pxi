# Context tracking (kernel/context_tracking.c) as RCU sees it: entries to and exits from extended
# quiescent states (idle everywhere; user and guest where context tracking runs), guest entry
# and exit as KVM performs them, context switches, and the forced tick of an urgent CPU.

cdef void rcu_eqs_enter(rcu_sim_t* r, s32 cpu, u8 state, s64 now) noexcept nogil:
    # ct_kernel_exit(): the CPU stops being watched (idle; user and guest when tracking is on).
    cdef ct_cpu_t* ct = &r.ct[cpu]
    ct.state = state
    if ct_state_is_eqs(ct, state) and not ct_in_eqs(ct):
        ct.watching += 1
        rcu_truth_qs(r, cpu)
        if r.rdp[cpu].nohz_full:
            rcu_obs_eqs(r, cpu, now, state == CT_GUEST)

cdef void rcu_eqs_exit(rcu_sim_t* r, s32 cpu, s64 now) noexcept nogil:
    cdef ct_cpu_t* ct = &r.ct[cpu]
    if ct_in_eqs(ct):
        ct.watching += 1
        rcu_truth_qs(r, cpu)
    ct.state = CT_KERNEL

cdef void rcu_note_context_switch(rcu_sim_t* r, s32 cpu) noexcept nogil:
    # __schedule() -> rcu_note_context_switch(): a quiescent state (no readers are modelled).
    rcu_qs(&r.rdp[cpu])
    rcu_truth_qs(r, cpu)

cdef void rcu_guest_enter(rcu_sim_t* r, s32 cpu, s64 now) noexcept nogil:
    # guest_timing_enter_irqoff() + guest_context_enter_irqoff(): an EQS where context tracking
    # runs, otherwise rcu_virt_note_context_switch().
    cdef ct_cpu_t* ct = &r.ct[cpu]
    ct.pf_vcpu = 1
    if ct.active:
        rcu_eqs_enter(r, cpu, CT_GUEST, now)
    else:
        ct.state = CT_GUEST
        rcu_note_context_switch(r, cpu)
        if r.rdp[cpu].nohz_full:
            rcu_obs_eqs(r, cpu, now, True)

cdef void rcu_guest_exit(rcu_sim_t* r, s32 cpu, s64 now) noexcept nogil:
    # guest_context_exit_irqoff(): the EQS ends where context tracking runs. PF_VCPU stays set
    # until rcu_guest_timing_exit() (after the exit's interrupt, if one caused it).
    cdef ct_cpu_t* ct = &r.ct[cpu]
    if ct.active:
        rcu_eqs_exit(r, cpu, now)
    else:
        ct.state = CT_KERNEL

cdef inline void rcu_guest_timing_exit(rcu_sim_t* r, s32 cpu) noexcept nogil:
    r.ct[cpu].pf_vcpu = 0

cdef bint rcu_irq_enter_check_tick(rcu_sim_t* r, s32 cpu) noexcept nogil:
    # __rcu_irq_enter_check_tick(): an interrupt while RCU is watching on a nohz_full CPU that
    # owes an urgent QS turns its tick on (TICK_DEP_BIT_RCU). True when it was just set.
    cdef rcu_data_t* rdp = &r.rdp[cpu]
    if not rdp.nohz_full or not rdp.urgent_qs or rdp.forced_tick:
        return False
    rdp.forced_tick = 1
    r.st[cpu].forced_ticks += 1
    rcu_tev(r, cpu, RTE_FORCED_TICK, 0)
    return True

