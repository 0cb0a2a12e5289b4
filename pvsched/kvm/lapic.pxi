# Interrupt delivery to vCPUs (arch/x86/kvm/lapic.c, x86.c): guest LAPIC timer expiry, wake-up IPIs
# between guest CPUs, fixed IPIs of smp_call_function, the PV unhalt kick (KVM_HC_KICK_CPU), with
# or without posted interrupts / IPI virtualization.

cdef void guest_timer_interrupt(Sim* s, s32 v) noexcept nogil:
    # A guest hrtimer (LAPIC timer) expires for vCPU v.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    if vc.mode == VM_GUEST:
        if vm.timer_exits:
            vc.pending_irq = 1
            vcpu_exit(s, v, EXIT_GUEST_TIMER, vm.exit_ns)
        else:
            hook_guest_irq(s, v)                # posted timer: handled in guest, no exit
    else:
        vc.pending_irq = 1
        if vc.mode == VM_HALTED or vc.mode == VM_POLL:
            # kvm's hrtimer fires on the pCPU the vCPU last ran on
            host_interrupt(s, vc.host_cpu, EXIT_HOST_INTR)
            hook_kick(s, v, KICK_TIMER)

cdef void guest_timer_wake(Sim* s, s32 v) noexcept nogil:
    # A guest timer interrupt that wakes no task still ends a halt (kvm_vcpu_check_block sees
    # the pending timer): the vCPU runs its handler, then idles again if nothing is left to do.
    if s.vcpu[v].mode == VM_POLL:
        vcpu_poll_success(s, v)
    elif s.vcpu[v].mode == VM_HALTED:
        vcpu_kick(s, v, s.vcpu[v].host_cpu)

cdef void guest_wakeup_delivered(Sim* s, s32 grq, s32 local) noexcept nogil:
    # A guest task was enqueued on grq by an event on guest rq `local` (-2: no sender).
    # Deliver the interrupt/IPI to the target vCPU as KVM would.
    cdef s32 v = s.rq[grq].vcpu
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef bint remote = local >= 0 and local != grq
    cdef bint need_ipi = remote and (s.rq[grq].curr < 0 or (s.fa.resched[grq] & RESCHED_NOW))
    cdef s32 sv
    if need_ipi and (vc.guest_polling or (vm.idle_insn == IDLE_MWAIT and s.rq[grq].curr < 0)):
        need_ipi = False        # TIF_POLLING_NRFLAG (haltpoll, mwait_idle): the idle loop notices
    if need_ipi:
        trace_event(s, TR_GUEST_IPI, local, s.rq[local].vcpu, v, 1)      # the reschedule IPI
    if need_ipi and not vm.ipiv:
        sv = s.rq[local].vcpu
        vcpu_exit(s, sv, EXIT_IPI_SEND, vm.exit_ns)
    if vc.guest_polling:
        vc.guest_polling = 0
        ev_cancel(&s.q, s.slot_vcpu + v)
    if need_ipi or (remote and vc.mode == VM_HALTED):
        hook_kick(s, v, KICK_INTR)
        if vc.mode == VM_GUEST and vm.posted_intr:
            hook_guest_irq(s, v)
        else:
            vc.pending_irq = 1
    if vc.mode == VM_GUEST:
        if need_ipi and not vm.posted_intr:
            vcpu_exit(s, v, EXIT_IPI_RECV, vm.exit_ns)
    elif vc.mode == VM_POLL:
        vcpu_poll_success(s, v)
    elif vc.mode == VM_HALTED:
        vcpu_kick(s, v, s.vcpu[s.rq[local].vcpu].host_cpu if remote else vc.host_cpu)

cdef void ipi_deliver(Sim* s, s32 vs, s32 vt, s32 sender, bint unicast) noexcept nogil:
    # kvm_irq_delivery_to_apic for a fixed IPI from vCPU vs to vt on behalf of task `sender`.
    cdef vcpu_t* vc = &s.vcpu[vt]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 slot
    trace_event(s, TR_GUEST_IPI, s.vcpu[vs].rq, vs, vt, 0)
    if not vm.ipiv:
        hook_ipi(s, vs, vt, unicast)    # with IPI virtualization the ICR write never reaches KVM
    slot = vc.gsync.ipi_head + vc.gsync.ipi_n
    if slot >= vc.gsync.ipi_cap:
        slot -= vc.gsync.ipi_cap
    s.ipi_ring[vc.gsync.ipi_ring + slot] = sender
    vc.gsync.ipi_n += 1
    vc.pending_irq = 1
    if vc.mode == VM_GUEST:
        if vc.gsync.irq_active:
            return
        if vm.posted_intr:
            if hook_guest_irq(s, vt):
                return          # a policy made the vCPU exit: the IPI is taken at re-entry
            irq_start(s, vt)
        else:
            vcpu_exit(s, vt, EXIT_IPI_RECV, vm.exit_ns)
    elif vc.mode == VM_HALTED:
        hook_kick(s, vt, KICK_INTR)
        vcpu_kick(s, vt, s.vcpu[vs].host_cpu)
    elif vc.mode == VM_POLL:
        vcpu_poll_success(s, vt)

cdef void pv_kick(Sim* s, s32 from_v, s32 to_v) noexcept nogil:
    # KVM_HC_KICK_CPU from the unlocker: a hypercall exit, then kvm_pv_kick_cpu_op (APIC_DM_REMRD:
    # pv_unhalted, KVM_REQ_EVENT, kvm_vcpu_kick).
    cdef vcpu_t* tv = &s.vcpu[to_v]
    cdef vm_t* vm = &s.vm[tv.vm]
    cdef s32 from_cpu = s.vcpu[from_v].host_cpu if from_v >= 0 else tv.host_cpu
    cdef s32 t
    vm.ys[YS_PV_KICK] += 1
    tv.pv_unhalted = 1
    hook_kick(s, to_v, KICK_UNHALT)
    if tv.mode == VM_HALTED:
        vcpu_kick(s, to_v, from_cpu)
    elif tv.mode == VM_POLL:
        vcpu_poll_success(s, to_v)
    elif tv.mode == VM_GUEST:
        # HLT pass-through: the waiter halted inside the guest; the kick interrupt wakes it there
        t = s.rq[tv.rq].curr
        if t >= 0 and s.task[t].sync.state == SYNC_LOCK_HALT:
            tv.pv_unhalted = 0
            sync_resume(s, to_v, t)
    if from_v >= 0 and s.vcpu[from_v].mode == VM_GUEST:
        vcpu_exit(s, from_v, EXIT_HYPERCALL, vm.exit_ns)
