# HLT handling (virt/kvm/kvm_main.c kvm_vcpu_halt/kvm_vcpu_block, haltpoll): the guest idles, KVM
# halt-polls (adaptive window), blocks the thread, and a kick wakes it.

cdef void vcpu_guest_idle(Sim* s, s32 v) noexcept nogil:
    # The guest ran out of work on this vCPU while in guest mode: it idles (guest halt-polling
    # first when it has cpuidle-haltpoll and HLT exits, then its idle instruction).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    if vm.idle_paths:
        kvm_guest_idle(s, v)            # MWAIT, per-run interception (kvm/mwait.pxi)
        return
    if vm.hlt_exits and vm.guest_poll_ns > 0:
        vc.guest_polling = 1
        ev_arm(&s.q, s.slot_vcpu + v, s.now + vm.guest_poll_ns)
        return
    vcpu_idle_insn(s, v)

cdef void vcpu_idle_insn(Sim* s, s32 v) noexcept nogil:
    # The guest executes HLT: an exit, or (HLT/MWAIT pass-through) it idles inside the vCPU
    # thread. A policy at HOOK_GUEST_IDLE may handle the instruction instead.
    cdef vm_t* vm = &s.vm[s.vcpu[v].vm]
    if hook_guest_idle(s, v):
        return
    if vm.idle_paths:
        kvm_hlt(s, v)                   # HLT under the run's settings (kvm/mwait.pxi)
        return
    if not vm.hlt_exits:
        return
    vcpu_exit(s, v, EXIT_HLT, vm.exit_ns)

cdef void halt_poll_adapt(Sim* s, s32 v, s64 halt_ns) noexcept nogil:
    # kvm_vcpu_halt's grow/shrink of vcpu->halt_poll_ns (every wake-up here is a valid one).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s64 mx = vm.halt_poll_max_ns
    cdef s64 val
    if mx == 0:
        vc.halt_poll_ns = 0
        return
    if halt_ns <= vc.halt_poll_ns:
        return
    if vc.halt_poll_ns and halt_ns > mx:
        val = 0 if vm.halt_poll_shrink == 0 else vc.halt_poll_ns // vm.halt_poll_shrink
        if val < vm.halt_poll_grow_start:
            val = 0
        vc.halt_poll_ns = val
    elif vc.halt_poll_ns < mx and halt_ns < mx:
        val = vc.halt_poll_ns * vm.halt_poll_grow
        if val < vm.halt_poll_grow_start:
            val = vm.halt_poll_grow_start
        if val > mx:
            val = mx
        vc.halt_poll_ns = val

cdef void vcpu_halt_start(Sim* s, s32 v) noexcept nogil:
    # HLT handled: poll for a wake-up (only while alone on the pCPU), then block.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s64 w = vc.halt_poll_ns
    if w > s.vm[vc.vm].halt_poll_max_ns:
        w = s.vm[vc.vm].halt_poll_max_ns
    vc.halt_start = s.now
    if w > 0 and s.rq[vc.host_cpu].nr_running == 1 and not s.fa.resched[vc.host_cpu]:
        vcpu_set_mode(s, v, VM_POLL)
        ev_arm(&s.q, s.slot_vcpu + v, s.now + w)
    else:
        vcpu_block(s, v)

cdef void vcpu_block(Sim* s, s32 v) noexcept nogil:
    # kvm_vcpu_block: the thread sleeps until kicked.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 t = vc.task
    cdef s32 cpu = vc.host_cpu
    if ev_armed(&s.q, s.slot_vcpu + v):       # (ev_cancel is a call: most find none)
        ev_cancel(&s.q, s.slot_vcpu + v)
    hook_halt(s, v)
    vcpu_set_mode(s, v, VM_HALTED)
    vc.nr_blocks += 1
    settle_curr(s, cpu)
    s.task[t].state = TS_SLEEPING
    dequeue_task(s, t, DEQUEUE_SLEEP)
    schedule(s, cpu)

cdef void vcpu_kick(Sim* s, s32 v, s32 from_cpu) noexcept nogil:
    # kvm_vcpu_kick of a halted vCPU: wake its thread (from pCPU `from_cpu`).
    cdef vcpu_t* vc = &s.vcpu[v]
    vc.nr_kicks += 1
    vc.ready = 1                # kvm_vcpu_wake_up
    halt_poll_adapt(s, v, s.now - vc.halt_start)
    vcpu_set_mode(s, v, VM_PREEMPTED)
    try_to_wake_up(s, vc.task, from_cpu if from_cpu >= 0 else vc.host_cpu)

cdef void vcpu_poll_success(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    vc.nr_poll_ok += 1
    trace_event(s, TR_HALT_POLL, vc.host_cpu, v, 1, s.now - vc.halt_start)
    halt_poll_adapt(s, v, s.now - vc.halt_start)
    vcpu_set_mode(s, v, VM_EXIT)
    vc.exit_reason = EXIT_ENTRY
    ev_arm(&s.q, s.slot_vcpu + v, s.now + s.vm[vc.vm].entry_ns)
