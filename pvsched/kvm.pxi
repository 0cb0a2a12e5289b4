# KVM layer: the vCPU state machine between a host vCPU thread and its guest runqueue
# (virt/kvm/kvm_main.c, arch/x86/kvm: vcpu_run, exits, halt-polling, kick, preempt notifiers).
#
# A vCPU is a host task (OP_VCPU program) whose behaviour is this file. While that thread is
# current on a pCPU, the vCPU is in guest mode, handling an exit, or halt-polling; otherwise it
# is halted (sleeping) or preempted (runnable, waiting: steal time). The guest runqueue's clock
# runs only in guest mode, so guest tasks progress only then.

cdef inline void vcpu_set_mode(Sim* s, s32 v, u8 mode) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    if vc.boost_status == VCPU_BOOST_BOOSTED:
        boost_account(s, v)
    if vc.mode != VM_OFF:
        vc.t_mode[vc.mode] += s.now - vc.mode_since
    vc.mode_since = s.now
    vc.mode = mode

cdef inline bint guest_busy(Sim* s, s32 grq) noexcept nogil:
    # The guest has something to run on this vCPU (or a pending reschedule to act on).
    cdef rq_t* rq = &s.rq[grq]
    # A throttled rt_rq is off the rq (dequeue_top_rt_rq): its tasks do not keep the guest awake.
    return (rq.curr >= 0 or (rq.rt_nr > 0 and not rq.rt_throttled) or s.fa.cfs[rq.cfs].h_nr_runnable > 0
            or s.fa.resched[grq] != 0)

cdef void vcpu_leave_guest(Sim* s, s32 v) noexcept nogil:
    # Guest mode ends: settle the guest's progress, freeze its clock, park its timers.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 grq = vc.rq
    if s.vm[vc.vm].sync_on:
        sync_leave_guest(s, v)          # seed 002: spin segment / IRQ handler (spin.pxi)
    settle_curr(s, grq)
    s.fa.clk_base[grq] += s.now - s.fa.clk_entry[grq]
    s.fa.clk_run[grq] = 0
    ev_cancel(&s.q, s.slot_burst + grq)
    if ev_armed(&s.q, s.slot_tick + grq):
        s.rq[grq].tick_next = ev_expiry(&s.q, s.slot_tick + grq)
        ev_cancel(&s.q, s.slot_tick + grq)
    if vc.guest_polling:
        vc.guest_polling = 0
        ev_cancel(&s.q, s.slot_vcpu + v)

cdef void vcpu_enter(Sim* s, s32 v) noexcept nogil:
    # VM entry: the guest clock runs again; pending guest work (timers, reschedules) happens now.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 grq = vc.rq
    cdef rq_t* rq = &s.rq[grq]
    cdef kern_t* k = &s.kern[rq.kern]
    cdef s32 t = rq.curr
    cdef task_t* p
    vcpu_set_mode(s, v, VM_GUEST)
    s.fa.clk_entry[grq] = s.now
    s.fa.clk_run[grq] = 1
    rq.seg_start = s.now
    vc.guest_status = vc.boost_status          # record_vcpu_boost_status at entry
    if vc.pending_irq:
        vc.pending_irq = 0
        if s.vm[vc.vm].boost_mode and guest_irq_hooks(s, v):
            return                              # the doorbell exited again at once
    if s.vm[vc.vm].sync_on and sync_enter(s, v):
        return                                  # seed 002: a guest IPI handler runs first
    if rq.tick_next:
        ev_arm(&s.q, s.slot_tick + grq, rq.tick_next if rq.tick_next > s.now else s.now)
        rq.tick_next = 0
    elif t >= 0 and not ev_armed(&s.q, s.slot_tick + grq):
        ev_arm(&s.q, s.slot_tick + grq, (s.now // k.tick_ns + 1) * k.tick_ns)
    if s.fa.resched[grq] and not (t >= 0 and s.task[t].in_critical):
        schedule(s, grq)        # switch_in of the new guest current does the rest
        t = rq.curr
        if (t >= 0 and s.fa.clk_run[grq] and s.vm[vc.vm].boost_mode and vc.hooked_task != t
                and s.task[t].state == TS_RUNNING):
            guest_switch_hooks(s, v, t)     # the same task goes on: it returns to user too
        return
    if t >= 0:
        p = &s.task[t]
        if s.vm[vc.vm].boost_mode and vc.hooked_task != t and guest_switch_hooks(s, v, t):
            return
        if p.lat_start >= 0 and p.state == TS_RUNNING:
            record_latency(s, t, s.now)
        if p.remaining > 0:
            ev_arm(&s.q, s.slot_burst + grq, tadd(s.now, p.remaining))
        elif p.remaining == 0:
            program_step(s, t, grq)
        elif p.sync:
            sync_resume(s, v, t)        # seed 002: the waiter spins again (spin.pxi)
    else:
        vcpu_guest_idle(s, v)

cdef void vcpu_exit(Sim* s, s32 v, int reason, s64 cost) noexcept nogil:
    # A VM exit (or more host work during one): the thread handles it in the host for `cost` ns.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s64 end = s.now
    if vc.mode == VM_GUEST:
        vcpu_leave_guest(s, v)
        vcpu_set_mode(s, v, VM_EXIT)
        vc.exit_reason = reason
    elif vc.mode == VM_EXIT:
        if ev_armed(&s.q, s.slot_vcpu + v) and ev_expiry(&s.q, s.slot_vcpu + v) > end:
            end = ev_expiry(&s.q, s.slot_vcpu + v)
        if vc.exit_reason != EXIT_HLT:
            vc.exit_reason = reason
    else:
        return
    vc.nr_exits[reason] += 1
    ev_arm(&s.q, s.slot_vcpu + v, tadd(end, cost))
    if s.vm[vc.vm].boost_mode:
        pvsched_exit_eval(s, v, reason)

cdef void vcpu_guest_idle(Sim* s, s32 v) noexcept nogil:
    # The guest ran out of work on this vCPU while in guest mode: it idles (HLT).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    if not vm.hlt_exits:
        return          # HLT/MWAIT pass-through: the guest idles inside the vCPU thread
    if vm.guest_poll_ns > 0:
        vc.guest_polling = 1
        ev_arm(&s.q, s.slot_vcpu + v, s.now + vm.guest_poll_ns)
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
    ev_cancel(&s.q, s.slot_vcpu + v)
    if s.vm[vc.vm].boost_mode and (s.vm[vc.vm].triggers & TR_HALT):
        vcpu_set_boost(s, v, True, BC_HALT)     # kvm_vcpu_block: boost before sleeping
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
    halt_poll_adapt(s, v, s.now - vc.halt_start)
    vcpu_set_mode(s, v, VM_EXIT)
    vc.exit_reason = EXIT_ENTRY
    ev_arm(&s.q, s.slot_vcpu + v, s.now + s.vm[vc.vm].entry_ns)

cdef void vcpu_switch_in(Sim* s, s32 v, s32 cpu) noexcept nogil:
    # The vCPU thread got a pCPU (kvm_sched_in): resume KVM_RUN.
    cdef vcpu_t* vc = &s.vcpu[v]
    vc.host_cpu = cpu
    vc.preempted = 0
    yield_sched_in(s, v)        # seed 002: ready, PLE window shrink (yield.pxi)
    if not sync_halt_ok(s, v) or not s.vm[vc.vm].hlt_exits:
        vcpu_set_mode(s, v, VM_EXIT)
        vc.exit_reason = EXIT_ENTRY
        ev_arm(&s.q, s.slot_vcpu + v, s.rq[cpu].seg_start + s.vm[vc.vm].entry_ns)
    else:
        vcpu_set_mode(s, v, VM_EXIT)
        vcpu_halt_start(s, v)

cdef void vcpu_switch_out(Sim* s, s32 v) noexcept nogil:
    # kvm_sched_out: preempted while runnable (steal time starts), or blocked (halted).
    cdef vcpu_t* vc = &s.vcpu[v]
    ev_cancel(&s.q, s.slot_vcpu + v)
    if vc.mode == VM_GUEST:
        vcpu_leave_guest(s, v)
    if s.task[vc.task].state == TS_SLEEPING:
        if vc.mode != VM_HALTED:
            vcpu_set_mode(s, v, VM_HALTED)
    else:
        vcpu_set_mode(s, v, VM_PREEMPTED)
        vc.preempted = 1
    yield_sched_out(s, v)       # seed 002: ready, preempted_in_kernel (yield.pxi)

cdef void handle_vcpu(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 cpu = vc.host_cpu
    if vc.mode == VM_GUEST:
        # the guest's own idle polling found nothing: now it executes HLT
        vc.guest_polling = 0
        vcpu_exit(s, v, EXIT_HLT, s.vm[vc.vm].exit_ns)
    elif vc.mode == VM_EXIT:
        if s.fa.resched[cpu]:
            schedule(s, cpu)          # the host's resched point before re-entry
            if s.rq[cpu].curr != vc.task:
                return
        if vc.exit_reason == EXIT_HLT and sync_halt_ok(s, v):
            vcpu_halt_start(s, v)
        else:
            vcpu_enter(s, v)
    elif vc.mode == VM_POLL:
        vc.nr_poll_fail += 1
        vcpu_block(s, v)

# ---------------------------------------------------------------- host side hooks
cdef void host_interrupt(Sim* s, s32 cpu, int reason) noexcept nogil:
    # A host interrupt on pCPU `cpu`; a vCPU running there in guest mode takes an exit for it.
    cdef s32 c
    cdef s32 v
    if cpu < 0 or cpu >= s.ncpu:
        return
    c = s.rq[cpu].curr
    if c < 0:
        return
    v = s.task[c].vcpu
    if v < 0 or s.vcpu[v].mode != VM_GUEST:
        return
    if reason == EXIT_HOST_TICK and not s.host_tick_exits:
        return
    vcpu_exit(s, v, reason, s.vm[s.vcpu[v].vm].exit_ns)

cdef void resched_deliver(Sim* s, s32 cpu, bint local) noexcept nogil:
    # Act on rq->resched: at once for a NOW request or a local event (return from interrupt);
    # a vCPU in guest mode first takes an exit for the IPI; a lazy remote request waits.
    cdef u8 f = s.fa.resched[cpu]
    cdef s32 c, v
    if not f:
        return
    if s.rq[cpu].vcpu >= 0:
        c = s.rq[cpu].curr
        if c >= 0 and s.task[c].in_critical:
            return          # preempt_count > 0: the reschedule waits for preempt_enable
        if s.fa.clk_run[cpu] and ((f & RESCHED_NOW) or local):
            schedule(s, cpu)
        return
    c = s.rq[cpu].curr
    if c >= 0 and s.task[c].vcpu >= 0:
        v = s.task[c].vcpu
        if s.vcpu[v].mode == VM_GUEST:
            if f & RESCHED_NOW:
                vcpu_exit(s, v, EXIT_HOST_INTR, s.vm[s.vcpu[v].vm].exit_ns)
            return
        if s.vcpu[v].mode == VM_EXIT:
            return
        if s.vcpu[v].mode == VM_POLL:
            vcpu_block(s, v)
            return
    if (f & RESCHED_NOW) or local:
        schedule(s, cpu)

cdef void host_rq_enqueued(Sim* s, s32 cpu) noexcept nogil:
    # A task became runnable on a pCPU where a vCPU halt-polls: single_task_running() fails.
    cdef s32 c = s.rq[cpu].curr
    if c >= 0 and s.task[c].vcpu >= 0 and s.vcpu[s.task[c].vcpu].mode == VM_POLL:
        vcpu_block(s, s.task[c].vcpu)

# ---------------------------------------------------------------- guest side hooks
cdef void guest_timer_interrupt(Sim* s, s32 v) noexcept nogil:
    # A guest hrtimer (LAPIC timer) expires for vCPU v.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    if vc.mode == VM_GUEST:
        if vm.timer_exits:
            vc.pending_irq = 1
            vcpu_exit(s, v, EXIT_GUEST_TIMER, vm.exit_ns)
        elif vm.boost_mode:
            guest_irq_hooks(s, v)               # posted timer: handled in guest, no exit
    else:
        vc.pending_irq = 1
        if vc.mode == VM_HALTED or vc.mode == VM_POLL:
            # kvm's hrtimer fires on the pCPU the vCPU last ran on
            host_interrupt(s, vc.host_cpu, EXIT_HOST_INTR)
            if vm.boost_mode and (vm.triggers & TR_KICK_TIMER):
                vcpu_set_boost(s, v, True, BC_KICK_TIMER)

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
    if need_ipi and vc.guest_polling:
        need_ipi = False        # TIF_POLLING_NRFLAG: the idle loop notices without an IPI
    if need_ipi and not vm.ipiv:
        sv = s.rq[local].vcpu
        vcpu_exit(s, sv, EXIT_IPI_SEND, vm.exit_ns)
    if vc.guest_polling:
        vc.guest_polling = 0
        ev_cancel(&s.q, s.slot_vcpu + v)
    if need_ipi or (remote and vc.mode == VM_HALTED):
        if vm.boost_mode and not vm.posted_intr and (vm.triggers & TR_KICK_INTR):
            vcpu_set_boost(s, v, True, BC_KICK_INTR)
        if vc.mode == VM_GUEST and vm.posted_intr:
            if vm.boost_mode:
                guest_irq_hooks(s, v)
        else:
            vc.pending_irq = 1
    if vc.mode == VM_GUEST:
        if need_ipi and not vm.posted_intr:
            vcpu_exit(s, v, EXIT_IPI_RECV, vm.exit_ns)
    elif vc.mode == VM_POLL:
        vcpu_poll_success(s, v)
    elif vc.mode == VM_HALTED:
        vcpu_kick(s, v, s.vcpu[s.rq[local].vcpu].host_cpu if remote else vc.host_cpu)
