# What the VMM and the host do to vCPU threads that the guest did not ask for, and two exit
# kinds the RCU scenarios need (virt/kvm/kvm_main.c, arch/x86/kvm):
#
# * user_io: an exit KVM hands to the VMM (PIO/MMIO to a device QEMU emulates): it returns to
#   userspace on the kvm/userspace.pxi path, the VMM handles it in user mode for the op's time
#   (vcpu_user_run, mode VM_USER) and calls KVM_RUN again. VM.user_return_ns is the kernel's
#   return path after vcpu_put (wants_to_run already cleared, not yet in user mode).
# * fault: an exit KVM resolves in the run loop with preemption on (a swapped-out page faulted
#   back in): the scheduler may switch the thread out meanwhile; the handling resumes where it
#   stopped (vcpu_t.exit_ctx EXIT_CTX_PREEMPT / exit_left, kvm/vcpu.pxi).
# * irq: a host interrupt whose hardirq and trailing softirq work runs in the run loop, between
#   the exit and the next entry (Paul McKenney's "interrupts plus trailing softirqs ... for tens
#   of seconds"): preempt_count is raised, so a reschedule waits for its end (as for every exit
#   here) and a tick in it notes no quiescent state (EXIT_CTX_IRQ, rcu/rcu_engine.pxi).
# * re-pinning (VM.migrate_period_ns, between pin and migrate_pin, as an administrator's taskset
#   would) and termination (VM.stop_ns: the threads take a last exit, leave KVM_RUN and exit).

cdef void vcpu_exit_user_io(Sim* s, s32 v, s64 ns) noexcept nogil:
    s.vcpu[v].vmm_io_ns = ns if ns > 0 else 1
    vcpu_exit_user(s, v, EXIT_MMIO, s.vm[s.vcpu[v].vm].exit_ns, USER_OTHER)

cdef void vcpu_exit_fault(Sim* s, s32 v, s64 ns) noexcept nogil:
    vcpu_exit(s, v, EXIT_FAULT, tadd(s.vm[s.vcpu[v].vm].exit_ns, ns))
    s.vcpu[v].exit_ctx = EXIT_CTX_PREEMPT

cdef void vcpu_exit_irq(Sim* s, s32 v, s64 ns) noexcept nogil:
    vcpu_exit(s, v, EXIT_HOST_INTR, tadd(s.vm[s.vcpu[v].vm].exit_ns, ns))
    s.vcpu[v].exit_ctx = EXIT_CTX_IRQ

# ---------------------------------------------------------------- the VMM's own actions
cdef int vmm_actions_build(Sim* s, list vms) except -1:
    # Per VM: the return-to-userspace time, re-pinning and termination; a VM whose guest takes
    # user_io exits takes the userspace paths (vm_t.idle_paths).
    cdef s32 k, i, v, t, n, kk
    cdef vm_t* vm
    cdef s64 first
    for t in range(s.ntask):
        kk = s.task[t].kern
        if kk == 0:
            continue
        for n in range(s.task[t].prog_len):
            if s.ops[s.task[t].prog_start + n].code == OP_VMEXIT_USER:
                vm = &s.vm[s.kern[kk].vm]
                if vm.boost.mode != BOOST_OFF or vm.gsync.on:
                    raise ValueError(f"vm {s.kern[kk].vm}: exits to userspace are not modelled together with vCPU "
                                     "boosting or guest lock/IPI workloads")
                vm.idle_paths = 1
                s.idle_paths = 1
    for k in range(s.nvm):
        d = vms[k]
        vm = &s.vm[k]
        vm.user_return_ns = int(d.get("user_return_ns", 0))
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

cdef void handle_vcpu_vmm_action(Sim* s, s32 v) noexcept nogil:
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
    ev_cancel(&s.q, s.slot_vcpu + v)
    if vc.in_kvm_run and vcpu_kern(s, v).policies & POL_RCU_GUEST:
        rcu_guest_kvm_run_leave(s, v)   # vcpu_put (no VMM work: the thread is going away)
    vc.in_kvm_run = 0
    vc.exit_ctx = EXIT_CTX_DEFAULT
    vc.ret_phase = 0
    vc.user_left = -1
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
