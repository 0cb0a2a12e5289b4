# The guest's idle instruction under the vCPU's current KVM_RUN settings (kvm/kvm_run.pxd): HLT
# (in-kernel, passed through, or returned to userspace) and MWAIT (MONITOR/MWAIT emulated as NOPs,
# optionally followed by yield(); passed through; or returned to userspace). A VM takes these
# paths when it idles with MWAIT or when a policy sets its run bits (vm_t.idle_paths); others
# keep the HLT handling of kvm/halt.pxi.
#
# * MWAIT: the guest's idle loop (mwait_idle_with_hints) runs `idle_loop_ns` of guest time, then
#   MONITOR and MWAIT. Intercepted, both exit (exit_ns each) and are skipped; the guest goes round
#   its loop again, so the vCPU thread never sleeps. MWAIT idle sets TIF_POLLING_NRFLAG: a waker
#   sends no IPI, the idle loop notices the flag (kvm/lapic.pxi).
# * A pass-through HLT leaves the guest in VMX activity state HLT: an exit in between (a tick, a
#   signal) resumes it halted, so a change of interception applies from its next HLT.
# * Accounting: time in guest mode with the guest idle (guest_idle_ns) and in MONITOR/MWAIT NOP
#   exits (idle_exit_ns): what an idle guest holds of its pCPU.

cdef void kvm_idle_leave_guest(Sim* s, s32 v) noexcept nogil:
    # Guest mode ends (any exit or switch-out): close the guest-idle interval, drop the idle-loop
    # timer; the halted state the next exit records starts afresh.
    cdef vcpu_t* vc = &s.vcpu[v]
    vc.mp_halted = 0
    if vc.gidle_since >= 0:
        vc.guest_idle_ns += s.now - vc.gidle_since
        vc.gidle_since = -1
    if vc.mwait_loop:
        vc.mwait_loop = 0
        ev_cancel(&s.q, s.slot_vcpu + v)

cdef void vcpu_guest_idle_exit(Sim* s, s32 v) noexcept nogil:
    # The guest picked a task on this vCPU: its idle loop (and any pass-through HLT) ends.
    cdef vcpu_t* vc = &s.vcpu[v]
    vc.hlt_in_guest = 0
    if vc.gidle_since >= 0:
        vc.guest_idle_ns += s.now - vc.gidle_since
        vc.gidle_since = -1
    if vc.mwait_loop:
        vc.mwait_loop = 0
        ev_cancel(&s.q, s.slot_vcpu + v)

cdef inline int vcpu_idle_action(Sim* s, s32 v) noexcept nogil:
    cdef vm_t* vm = &s.vm[s.vcpu[v].vm]
    return idle_exit_action(vm.idle_insn, vm.mwait_yield, s.vcpu[v].run_bits)

cdef void kvm_guest_idle(Sim* s, s32 v) noexcept nogil:
    # The guest has nothing to run on vCPU v in guest mode: its idle loop starts (or goes on
    # after a re-entry into the idle guest).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    if vc.gidle_since < 0:
        vc.gidle_since = s.now
    if vm.idle_insn == IDLE_HLT:
        if vc.hlt_in_guest:
            return
        if vm.guest_poll_ns > 0 and vcpu_idle_action(s, v) != IDLE_STAY:
            vc.guest_polling = 1            # cpuidle-haltpoll polls in the guest first
            ev_arm(&s.q, s.slot_vcpu + v, s.now + vm.guest_poll_ns)
            return
        vcpu_idle_insn(s, v)
    else:
        hook_guest_idle(s, v)               # seen by policies (halted_pelt); MWAIT is not theirs to handle
        if vcpu_idle_action(s, v) != IDLE_STAY and not vc.mwait_loop:
            vc.mwait_loop = 1               # a pass of the idle loop, then MONITOR + MWAIT
            ev_arm(&s.q, s.slot_vcpu + v, s.now + vm.idle_loop_ns)

cdef void kvm_hlt(Sim* s, s32 v) noexcept nogil:
    # The guest executes HLT under the vCPU's current settings.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef int a = vcpu_idle_action(s, v)
    if a == IDLE_STAY:
        vc.hlt_in_guest = 1
        return
    if a == IDLE_USER:
        vcpu_exit(s, v, EXIT_HLT, vm.exit_ns + vm.user_exit_ns)
        vc.nr_hlt_user += 1
        vcpu_exit_to_user(s, v, USER_HLT)
    else:
        vcpu_exit(s, v, EXIT_HLT, vm.exit_ns)
    vc.mp_halted = 1

cdef void kvm_mwait(Sim* s, s32 v) noexcept nogil:
    # End of an idle-loop pass: the guest executes MONITOR, then MWAIT.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef int a = vcpu_idle_action(s, v)
    cdef s64 cost = 2 * vm.exit_ns
    vc.mwait_loop = 0
    if a == IDLE_STAY:
        return                              # interception went off meanwhile: MWAIT in non-root
    vc.nr_exits[EXIT_MONITOR] += 1         # its round trip is folded into the MWAIT exit's cost
    trace_event(s, TR_KVM_EXIT, vc.host_cpu, v, EXIT_MONITOR, 0)
    if a == IDLE_USER:
        vcpu_exit(s, v, EXIT_MWAIT, cost + vm.user_exit_ns)
        vc.nr_mwait_user += 1
        vcpu_exit_to_user(s, v, USER_MWAIT)
        return
    vcpu_exit(s, v, EXIT_MWAIT, cost)
    vc.exit_action = ACT_NOP_YIELD if a == IDLE_NOP_YIELD else ACT_NOP
    vc.idle_exit = 1
    vc.idle_exit_since = s.now

cdef void kvm_idle_timer(Sim* s, s32 v) noexcept nogil:
    # The vCPU slot fired in guest mode: an idle-loop pass ended, or guest halt-polling did.
    cdef vcpu_t* vc = &s.vcpu[v]
    if vc.mwait_loop:
        kvm_mwait(s, v)
    elif vc.guest_polling:
        vc.guest_polling = 0
        vcpu_idle_insn(s, v)

cdef bint kvm_mwait_yield(Sim* s, s32 v) noexcept nogil:
    # yield() in kvm_emulate_mwait: the vCPU thread's class yield, then schedule(). True if the
    # vCPU thread is still current.
    cdef s32 t = s.vcpu[v].task
    cdef s32 cpu = s.vcpu[v].host_cpu
    s.task[t].nr_yields += 1
    s.vcpu[v].nr_mwait_yields += 1
    if s.task[t].cls == CLS_FAIR:
        yield_task_fair(s, cpu)
    elif s.rq[cpu].rt_nr > 1:
        rt_requeue_tail(s, t)
    schedule(s, cpu)
    return s.rq[cpu].curr == t
