# Exits to userspace (virt/kvm/kvm_main.c kvm_vcpu_ioctl KVM_RUN, arch/x86/kvm/x86.c): an exit KVM
# cannot handle (PIO/MMIO to an emulated device) makes KVM_RUN return to the VMM. The thread
# handles the exit in the host kernel (exit_ns), puts the vCPU (vcpu_put: the kvm_run_leave point,
# wants_to_run cleared), returns to userspace (user_return_ns: the window where it is neither in
# KVM_RUN nor in user mode), runs the VMM's handler (VM_USER: user mode, an RCU extended quiescent
# state on a nohz_full CPU), calls KVM_RUN again (wants_to_run, vcpu_load: the kvm_run point) and
# re-enters the guest after entry_ns. Out of KVM_RUN the preempt notifiers are unregistered, so a
# preemption there calls no kvm_sched_out/in.

cdef void vcpu_exit_to_user(Sim* s, s32 v, s64 user_ns) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    vc.user_ns = user_ns if user_ns > 0 else 1
    vc.nr_user_exits += 1
    vcpu_exit(s, v, EXIT_USERSPACE, s.vm[vc.vm].exit_ns)

cdef void vcpu_exit_fault(Sim* s, s32 v, s64 ns) noexcept nogil:
    # An exit whose handling stays in the run loop but runs with preemption on for `ns` (KVM
    # faulting a swapped-out page back in): the scheduler may switch the thread out meanwhile.
    vcpu_exit(s, v, EXIT_FAULT, s.vm[s.vcpu[v].vm].exit_ns + ns)
    s.vcpu[v].exit_preempt = 1

cdef bint vcpu_user_step(Sim* s, s32 v) noexcept nogil:
    # The vCPU's timer fired during an exit to userspace: the next step. False: go on as usual
    # (the re-entry that follows KVM_RUN).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 cpu = vc.host_cpu
    if s.fa.resched[cpu] and vc.user_phase != UP_REENTER:
        schedule(s, cpu)                # exit_to_user_mode_loop / the ioctl's return path reschedule
        if s.rq[cpu].curr != vc.task:
            return True
    if vc.user_phase == UP_NONE:
        if vc.mode != VM_EXIT:
            return False
        hook_kvm_run_leave(s, v)        # vcpu_put
        vc.in_kvm_run = 0
        vc.user_phase = UP_RETURNING
        ev_arm(&s.q, s.slot_vcpu + v, s.now + vm.user_return_ns)
        return True
    if vc.user_phase == UP_RETURNING:
        vc.user_phase = UP_USER
        vcpu_set_mode(s, v, VM_USER)
        if s.rcu != NULL:
            rcu_eqs_enter(s.rcu, cpu, CT_USER, s.now)       # user_enter_irqoff()
        ev_arm(&s.q, s.slot_vcpu + v, s.now + vc.user_ns)
        vc.user_ns = 0
        return True
    if vc.user_phase == UP_USER:
        if s.rcu != NULL:
            rcu_eqs_exit(s.rcu, cpu, s.now)                 # the ioctl's syscall entry
        vc.in_kvm_run = 1
        vc.user_phase = UP_REENTER
        hook_kvm_run(s, v)              # vcpu_load
        vcpu_set_mode(s, v, VM_EXIT)
        vc.exit_reason = EXIT_ENTRY
        ev_arm(&s.q, s.slot_vcpu + v, s.now + vm.entry_ns)
        return True
    vc.user_phase = UP_NONE
    return False

cdef void vcpu_user_preempted(Sim* s, s32 v) noexcept nogil:
    # Switched out between vcpu_put and the next KVM_RUN: keep the phase's remaining time.
    cdef vcpu_t* vc = &s.vcpu[v]
    vc.user_left = 0
    if ev_armed(&s.q, s.slot_vcpu + v):
        vc.user_left = ev_expiry(&s.q, s.slot_vcpu + v) - s.now
        ev_cancel(&s.q, s.slot_vcpu + v)
    if vc.user_phase == UP_USER and s.rcu != NULL:
        rcu_eqs_exit(s.rcu, vc.host_cpu, s.now)           # the preemption runs in the kernel
    vcpu_set_mode(s, v, VM_PREEMPTED)
    vc.preempted = 1

cdef void vcpu_user_resume(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    if vc.user_phase == UP_USER:
        vcpu_set_mode(s, v, VM_USER)
        if s.rcu != NULL:
            rcu_eqs_enter(s.rcu, vc.host_cpu, CT_USER, s.now)
    else:
        vcpu_set_mode(s, v, VM_EXIT)
    ev_arm(&s.q, s.slot_vcpu + v, s.rq[vc.host_cpu].seg_start + vc.user_left)

# ---------------------------------------------------------------- the VMM's own actions
cdef int vmm_build(Sim* s, list vms) except -1:
    # Per VM: the return-to-userspace time, periodic re-pinning of the vCPU threads between their
    # pin and migrate_pin pCPUs (VM.migrate_period_ns, as an administrator's taskset would), and
    # the VM's termination (VM.stop_ns).
    cdef s32 k, i, v
    cdef vm_t* vm
    cdef s64 first
    for k in range(s.nvm):
        d = vms[k]
        vm = &s.vm[k]
        vm.user_return_ns = int(d.get("user_return_ns", 1_000))
        vm.migrate_period_ns = int(d.get("migrate_period_ns", 0))
        vm.stop_ns = int(d.get("stop_ns") or 0)
        alt = d.get("migrate_pin")
        if not (0 <= vm.user_return_ns <= 10**9 and 0 <= vm.migrate_period_ns <= 10**12 and vm.stop_ns >= 0):
            raise ValueError(f"vm {k}: user_return_ns / migrate_period_ns / stop_ns out of range")
        for i in range(vm.nvcpu):
            v = vm.vcpu_base + i
            s.vcpu[v].rcuc_since = -1
            first = -1
            if vm.migrate_period_ns:
                if alt is None or len(alt) != vm.nvcpu or not 0 <= int(alt[i]) < s.ncpu:
                    raise ValueError(f"vm {k}: migrate_pin needs one pCPU per vCPU")
                s.vcpu[v].pin_a = s.task[s.vcpu[v].task].cpu
                s.vcpu[v].pin_b = int(alt[i])
                first = s.task[s.vcpu[v].task].start_ns + vm.migrate_period_ns
            if vm.stop_ns and (first < 0 or vm.stop_ns < first):
                first = vm.stop_ns
            if first >= 0:
                ev_arm(&s.q, s.slot_aff + v, first)
    return 0

cdef void handle_vcpu_vmm(Sim* s, s32 v) noexcept nogil:
    # The VMM acts on a vCPU thread: terminate the VM, or re-pin the thread.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s64 nxt
    if vm.stop_ns and s.now >= vm.stop_ns:
        vcpu_terminate(s, v)
        return
    vc.pin_which ^= 1
    sched_pin_task(s, vc.task, vc.pin_b if vc.pin_which else vc.pin_a)
    nxt = s.now + vm.migrate_period_ns
    ev_arm(&s.q, s.slot_aff + v, vm.stop_ns if vm.stop_ns and vm.stop_ns < nxt else nxt)

cdef void vcpu_terminate(Sim* s, s32 v) noexcept nogil:
    # The VM is destroyed: the vCPU thread leaves KVM_RUN (vcpu_put; a halted or preempted thread
    # is woken for it on the pCPU it last ran on) and exits. Nothing runs the guest afterwards.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 t = vc.task
    cdef s32 cpu = vc.host_cpu
    cdef bint current = s.rq[cpu].curr == t
    if s.task[t].state == TS_DEAD:
        return
    if s.task[t].state == TS_NEW:
        ev_cancel(&s.q, s.slot_task + t)    # destroyed before its thread started
        s.task[t].state = TS_DEAD
        return
    if vc.mode == VM_GUEST:
        vcpu_leave_guest(s, v)
        rcu_vcpu_leave(s, v, False)
        vcpu_set_mode(s, v, VM_EXIT)    # the last guest exit
    elif vc.mode == VM_USER and s.rcu != NULL:
        rcu_eqs_exit(s.rcu, cpu, s.now)
    ev_cancel(&s.q, s.slot_vcpu + v)
    if vc.in_kvm_run:
        hook_kvm_run_leave(s, v)        # vcpu_put
        vc.in_kvm_run = 0
    vc.user_phase = UP_NONE
    vc.exit_preempt = 0
    vcpu_set_mode(s, v, VM_OFF)
    if current:
        settle_curr(s, cpu)
        ev_cancel(&s.q, s.slot_burst + cpu)
    if s.task[t].state == TS_SLEEPING:
        ev_cancel(&s.q, s.slot_task + t)
        s.task[t].state = TS_DEAD
        return
    s.task[t].state = TS_DEAD
    dequeue_task(s, t, DEQUEUE_SLEEP | DEQUEUE_SPECIAL)
    if current:
        schedule(s, cpu)
