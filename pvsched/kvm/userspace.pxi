# Leaving KVM_RUN: exits that return to the VMM in userspace, what the vCPU thread does there, and
# the next KVM_RUN (virt/kvm/kvm_main.c kvm_vcpu_ioctl, arch/x86/kvm/x86.c vcpu_run; the RFC's
# kvm_run->userspace_exits). Only VMs with vm_t.idle_paths take these paths.
#
# * An exit returns to userspace (vcpu_t.user = USER_*) when KVM hands it to the VMM: HLT/MWAIT
#   under the RUN_USER_EXIT bit, MMIO to a device the VMM emulates (vm_t.mmio_user), or a signal
#   to the thread (the VMM's pthread_kill: a vCPU in guest mode exits, a blocked one wakes, one in
#   a kernel exit or preempted sees it when that ends). It costs `user_exit_ns` more than exit_ns.
# * In userspace the thread belongs to the VMM: at HOOK_KVM_RUN_LEAVE a policy may start work on
#   it (vcpu_user_run; mode VM_USER, preemptible by the host scheduler, resumed where it stopped),
#   and the point is called again when that work ends. With nothing (more) to do the VMM calls
#   KVM_RUN: the settings of the new run are the VM's own interception unless a policy at
#   HOOK_KVM_RUN sets others; a vCPU whose HLT was emulated (mp_state HALTED) and that nothing
#   wakes halts in the kernel (kvm_vcpu_halt), any other enters the guest.

cdef inline void vcpu_exit_user(Sim* s, s32 v, int reason, s64 cost, int kind) noexcept nogil:
    # An exit that KVM returns to userspace (KVM_RUN returns with kvm_run->exit_reason).
    cdef vcpu_t* vc = &s.vcpu[v]
    vc.user = kind
    vc.nr_user_exits += 1
    vcpu_exit(s, v, reason, tadd(cost, s.vm[vc.vm].user_exit_ns))

cdef void vcpu_exit_to_user(Sim* s, s32 v, int kind) noexcept nogil:
    # The exit just taken (its cost already includes user_exit_ns) returns to userspace.
    cdef vcpu_t* vc = &s.vcpu[v]
    vc.user = kind
    vc.nr_user_exits += 1

cdef inline bint vcpu_wake_pending(Sim* s, s32 v) noexcept nogil:
    # What the VMM can see of a vCPU in userspace: after a HLT, that it must run again
    # (kvm_arch_vcpu_runnable); after an MWAIT, a pending interrupt (a monitor-write wake-up sends
    # none).
    if s.vcpu[v].user == USER_HLT:
        return not guest_halt_ok(s, v)
    return s.vcpu[v].pending_irq != 0

cdef void vcpu_user_run(Sim* s, s32 v, s64 ns) noexcept nogil:
    # The VMM runs `ns` of work on the vCPU thread in userspace (called at HOOK_KVM_RUN_LEAVE).
    cdef vcpu_t* vc = &s.vcpu[v]
    vc.user_left = ns
    vc.user_since = s.now
    vcpu_set_mode(s, v, VM_USER)
    ev_arm(&s.q, s.slot_vcpu + v, tadd(s.now, ns))      # a user_io phase may last up to the horizon

cdef void vcpu_userspace(Sim* s, s32 v) noexcept nogil:
    # The vCPU thread is in userspace with nothing running: the VMM may start work, else KVM_RUN.
    # The first call after KVM_RUN returned is vcpu_put (wants_to_run cleared after the point);
    # with VM.user_return_ns the thread then spends that long in the kernel on its way to user
    # mode (kvm/vmm_actions.pxi) before the VMM handles a user_io exit or calls KVM_RUN.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef bint put = vc.in_kvm_run
    if vc.ret_phase:
        vc.ret_phase = 0                    # arrived in user mode
    else:
        vc.user_left = -1
        hook_kvm_run_leave(s, v, vc.user)
        vc.in_kvm_run = 0
        if put and vc.user_left < 0 and s.vm[vc.vm].user_return_ns > 0:
            vc.ret_phase = 1
            ev_arm(&s.q, s.slot_vcpu + v, s.now + s.vm[vc.vm].user_return_ns)
            return
    if vc.user_left < 0 and vc.vmm_io_ns > 0:
        vcpu_user_run(s, v, vc.vmm_io_ns)   # the VMM emulates the device (a user_io exit)
        vc.vmm_io_ns = 0
        return
    if vc.user_left < 0:                    # no work started: back into KVM_RUN
        vcpu_kvm_run(s, v)

cdef void vcpu_kvm_run(Sim* s, s32 v) noexcept nogil:
    # KVM_RUN from userspace.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 cpu = vc.host_cpu
    cdef int kind = vc.user
    vc.user = USER_NONE
    vc.signal_pending = 0                   # this return to userspace consumed the signal
    vc.run_bits = <u8>static_run_bits(vm.idle_insn, vm.hlt_exits, vm.mwait_exits)
    vc.nr_kvm_runs += 1
    vc.in_kvm_run = 1                       # wants_to_run, then vcpu_load
    hook_kvm_run(s, v)
    if vc.mode == VM_USER:
        vcpu_set_mode(s, v, VM_EXIT)
    if s.fa.resched[cpu]:
        schedule(s, cpu)
        if vcpu_resched_away(s, v, cpu):
            return                          # vcpu_user_switch_in resumes (halted or not)
    if kind == USER_HLT and vc.mp_halted and guest_halt_ok(s, v):
        vcpu_halt_start(s, v)               # mp_state HALTED: kvm_vcpu_halt
    else:
        vcpu_enter(s, v)

cdef bint vcpu_user_exit_end(Sim* s, s32 v) noexcept nogil:
    # The vCPU's exit handling ends. True when handled here; False: the stock path goes on
    # (resched point, then halt or re-enter).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 cpu = vc.host_cpu
    cdef u8 act = vc.exit_action
    vc.exit_action = ACT_NONE
    if vc.idle_exit:
        vc.idle_exit = 0
        vc.idle_exit_ns += s.now - vc.idle_exit_since
    if vc.user == USER_NONE and vc.signal_pending:
        # a signal arrived during the exit: KVM_RUN returns -EINTR instead of re-entering
        vc.signal_pending = 0
        vcpu_exit_to_user(s, v, USER_HLT if vc.mp_halted else USER_OTHER)
        ev_arm(&s.q, s.slot_vcpu + v, s.now + s.vm[vc.vm].user_exit_ns)
        return True
    if vc.user != USER_NONE:
        if s.fa.resched[cpu]:
            schedule(s, cpu)                # return to user mode is a resched point
            if vcpu_resched_away(s, v, cpu):
                return True
        vcpu_userspace(s, v)
        return True
    if act == ACT_NOP_YIELD:
        kvm_mwait_yield(s, v)
        return vcpu_resched_away(s, v, cpu)
    return False

cdef bint vcpu_user_switch_in(Sim* s, s32 v, s32 cpu) noexcept nogil:
    # kvm_sched_in of a vCPU thread on these paths (after the stock bookkeeping).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s64 at = s.rq[cpu].seg_start
    if vc.user_left >= 0:
        vcpu_set_mode(s, v, VM_USER)        # userspace work resumes where it stopped
        vc.user_since = at
        ev_arm(&s.q, s.slot_vcpu + v, at + vc.user_left)
        return True
    vcpu_set_mode(s, v, VM_EXIT)
    if vc.user == USER_NONE and vc.signal_pending:
        vc.signal_pending = 0               # woken by (or preempted with) a pending signal
        vcpu_exit_to_user(s, v, USER_HLT if vc.mp_halted else USER_OTHER)
        ev_arm(&s.q, s.slot_vcpu + v, at + s.vm[vc.vm].user_exit_ns)
        return True
    if vc.user != USER_NONE:
        ev_arm(&s.q, s.slot_vcpu + v, at + s.vm[vc.vm].entry_ns)
        return True
    if vc.mp_halted and guest_halt_ok(s, v):
        vcpu_halt_start(s, v)
    else:
        vc.exit_reason = EXIT_ENTRY
        ev_arm(&s.q, s.slot_vcpu + v, at + s.vm[vc.vm].entry_ns)
    return True

cdef inline void vcpu_user_switch_out(Sim* s, s32 v) noexcept nogil:
    # kvm_sched_out: work in progress in userspace keeps what it has done.
    cdef vcpu_t* vc = &s.vcpu[v]
    if vc.mode == VM_USER and vc.user_left >= 0:
        vc.user_left -= s.now - vc.user_since
        if vc.user_left < 0:
            vc.user_left = 0

cdef void vcpu_signal(Sim* s, s32 v) noexcept nogil:
    # A signal to the vCPU thread (pthread_kill by the VMM) so that KVM_RUN returns to userspace.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    if vc.user != USER_NONE or vc.mode == VM_USER or vc.mode == VM_OFF:
        return
    vc.nr_signals += 1
    if vc.mode == VM_GUEST:
        vcpu_exit_user(s, v, EXIT_SIGNAL, vm.exit_ns, USER_OTHER)
    elif vc.mode == VM_POLL:
        halt_poll_adapt(s, v, s.now - vc.halt_start)
        vcpu_set_mode(s, v, VM_EXIT)
        vcpu_exit_to_user(s, v, USER_HLT)
        ev_arm(&s.q, s.slot_vcpu + v, s.now + vm.user_exit_ns)
    elif vc.mode == VM_HALTED:
        vc.signal_pending = 1               # kvm_vcpu_block sees signal_pending()
        halt_poll_adapt(s, v, s.now - vc.halt_start)
        vcpu_set_mode(s, v, VM_PREEMPTED)
        try_to_wake_up(s, vc.task, vc.host_cpu)
    else:
        vc.signal_pending = 1               # seen when the exit ends / the thread runs again

# ---------------------------------------------------------------- build, results
cdef int kvm_idle_build(Sim* s, list vms) except -1:
    # Per VM: the guest's idle instruction, MWAIT interception and yield, the userspace-exit cost.
    cdef s32 k, v
    cdef vm_t* vm
    for k in range(s.nvm):
        d = vms[k]
        vm = &s.vm[k]
        insn = d.get("idle_instruction", "hlt")
        if insn not in IDLE_INSNS:
            raise ValueError(f"vm {k}: idle_instruction {insn!r} unknown")
        vm.idle_insn = IDLE_INSNS[insn]
        vm.mwait_exits = bool(d.get("mwait_exits", True))
        vm.mwait_yield = bool(d.get("mwait_yield", False))
        vm.idle_loop_ns = int(d.get("idle_loop_ns", 1_000))
        vm.user_exit_ns = int(d.get("userspace_exit_ns", 4_000))
        if not (1 <= vm.idle_loop_ns <= 10**9 and 0 <= vm.user_exit_ns <= 10**9):
            raise ValueError(f"vm {k}: idle_loop_ns / userspace_exit_ns out of range")
        if vm.idle_insn == IDLE_MWAIT and vm.guest_poll_ns:
            raise ValueError(f"vm {k}: an MWAIT guest does not halt-poll (cpuidle-haltpoll ends in HLT)")
        vm.idle_paths = vm.idle_insn == IDLE_MWAIT or bool((d.get("deferred_work") or {}).get("enabled", False))
        if vm.idle_paths and (vm.boost.mode != BOOST_OFF or vm.gsync.on):
            raise ValueError(f"vm {k}: the MWAIT and userspace-exit paths are not modelled together with vCPU "
                             "boosting or guest lock/IPI workloads")
        s.idle_paths |= vm.idle_paths
    for v in range(s.nvcpu):
        vm = &s.vm[s.vcpu[v].vm]
        s.vcpu[v].user = USER_NONE
        s.vcpu[v].user_left = -1
        s.vcpu[v].gidle_since = -1
        s.vcpu[v].run_bits = <u8>static_run_bits(vm.idle_insn, vm.hlt_exits, vm.mwait_exits)
    return 0

cdef void kvm_idle_finalize(Sim* s) noexcept nogil:
    cdef s32 v
    cdef vcpu_t* vc
    for v in range(s.nvcpu):
        vc = &s.vcpu[v]
        if vc.gidle_since >= 0:
            vc.guest_idle_ns += s.now - vc.gidle_since
            vc.gidle_since = s.now
        if vc.idle_exit:
            vc.idle_exit_ns += s.now - vc.idle_exit_since
            vc.idle_exit_since = s.now

KVM_IDLE_COLUMNS = ("guest_idle_ns", "idle_exit_ns", "user_exits", "hlt_user_exits", "mwait_user_exits",
                    "signals", "mwait_yields", "kvm_runs")


cdef void kvm_idle_results(Sim* s, dict vc):
    cdef s32 v
    cdef vcpu_t* x
    for m in KVM_IDLE_COLUMNS:
        vc[m] = np.zeros(s.nvcpu, dtype=np.int64)
    for v in range(s.nvcpu):
        x = &s.vcpu[v]
        for m, val in zip(KVM_IDLE_COLUMNS, (x.guest_idle_ns, x.idle_exit_ns, x.nr_user_exits, x.nr_hlt_user,
                                             x.nr_mwait_user, x.nr_signals, x.nr_mwait_yields, x.nr_kvm_runs)):
            vc[m][v] = val
