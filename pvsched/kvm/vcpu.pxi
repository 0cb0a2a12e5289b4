# KVM layer: the vCPU state machine between a host vCPU thread and its guest runqueue
# (virt/kvm/kvm_main.c, arch/x86/kvm: vcpu_run, exits, entries, preempt notifiers).
#
# A vCPU is a host task (OP_VCPU program) whose behaviour is this file. While that thread is
# current on a pCPU, the vCPU is in guest mode, handling an exit, or halt-polling; otherwise it
# is halted (sleeping) or preempted (runnable, waiting: steal time). The guest runqueue's clock
# runs only in guest mode, so guest tasks progress only then.

cdef inline void vcpu_set_mode(Sim* s, s32 v, u8 mode) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    hook_vcpu_mode(s, v, mode)
    if s.rcu != NULL and (mode == VM_USER) != (vc.mode == VM_USER):
        rcu_vcpu_user(s, v, mode == VM_USER)    # user mode is an EQS (rcu/rcu_engine.pxi)
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
    guest_sync_leave(s, v)              # the guest's spin segment / IRQ handler (guest/sync.pxi)
    if s.hw != NULL:
        guest_hwnoise_leave(s, grq)     # a gap in an rtla-hwnoise window begins (guest/hwnoise.pxi)
    settle_curr(s, grq)
    s.fa.clk_base[grq] += s.now - s.fa.clk_entry[grq]
    s.fa.clk_run[grq] = 0
    if ev_armed(&s.q, s.slot_burst + grq):     # (ev_cancel is a call: most find none)
        ev_cancel(&s.q, s.slot_burst + grq)
    if ev_armed(&s.q, s.slot_tick + grq):
        s.rq[grq].tick_next = ev_expiry(&s.q, s.slot_tick + grq)
        ev_cancel(&s.q, s.slot_tick + grq)
    if vc.guest_polling:
        vc.guest_polling = 0
        ev_cancel(&s.q, s.slot_vcpu + v)
    if s.vm[vc.vm].idle_paths:
        kvm_idle_leave_guest(s, v)      # guest-idle time, the idle-loop timer (kvm/mwait.pxi)

cdef void vcpu_enter(Sim* s, s32 v) noexcept nogil:
    # VM entry: the guest clock runs again; pending guest work (timers, reschedules) happens now.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 grq = vc.rq
    cdef rq_t* rq = &s.rq[grq]
    cdef kern_t* k = &s.kern[rq.kern]
    cdef s32 t = rq.curr
    cdef task_t* p
    vcpu_set_mode(s, v, VM_GUEST)
    rcu_vcpu_enter(s, v)                        # guest_context_enter_irqoff (rcu/rcu_engine.pxi)
    s.fa.clk_entry[grq] = s.now
    s.fa.clk_run[grq] = 1
    rq.seg_start = s.now
    hook_vcpu_enter(s, v)
    if vc.pending_irq:
        vc.pending_irq = 0
        if hook_guest_irq(s, v):
            return                              # a policy made the vCPU exit again at once
    if guest_sync_enter(s, v):
        return                                  # a guest IPI handler runs first (guest/sync.pxi)
    if rq.tick_next:
        ev_arm(&s.q, s.slot_tick + grq, rq.tick_next if rq.tick_next > s.now else s.now)
        rq.tick_next = 0
    elif t >= 0 and not ev_armed(&s.q, s.slot_tick + grq):
        ev_arm(&s.q, s.slot_tick + grq, (s.now // k.tick_ns + 1) * k.tick_ns)
    if s.fa.resched[grq] and not (t >= 0 and s.task[t].in_critical):
        schedule(s, grq)        # switch_in of the new guest current does the rest
        t = rq.curr
        if t >= 0 and s.fa.clk_run[grq] and s.task[t].state == TS_RUNNING:
            hook_guest_switch(s, v, t, True)    # the same task goes on: it returns to user too
        return
    if t >= 0:
        p = &s.task[t]
        if hook_guest_switch(s, v, t, True):
            return
        if p.lat_start >= 0 and p.state == TS_RUNNING:
            record_latency(s, t, s.now)
        if s.hw != NULL:
            hwnoise_resume(s, t, s.now)     # the window's gap ends (guest/hwnoise.pxi)
        if p.remaining > 0:
            ev_arm(&s.q, s.slot_burst + grq, tadd(s.now, p.remaining))
        elif p.remaining == 0:
            program_step(s, t, grq)
        elif p.sync.state:
            sync_resume(s, v, t)        # a waiting task spins again (guest/sync.pxi)
    else:
        vcpu_guest_idle(s, v)

cdef void vcpu_exit(Sim* s, s32 v, int reason, s64 cost) noexcept nogil:
    # A VM exit (or more host work during one): the thread handles it in the host for `cost` ns.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s64 end = s.now
    if vc.mode == VM_GUEST:
        vcpu_leave_guest(s, v)
        rcu_vcpu_leave(s, v, reason == EXIT_HOST_TICK)
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
    hook_vcpu_exit(s, v, reason)

cdef void vcpu_switch_in(Sim* s, s32 v, s32 cpu) noexcept nogil:
    # The vCPU thread got a pCPU (kvm_sched_in): resume KVM_RUN.
    cdef vcpu_t* vc = &s.vcpu[v]
    if vc.host_cpu != cpu:
        vc.entered_here = 0
    vc.host_cpu = cpu
    vc.preempted = 0
    kvm_sched_in(s, v)
    if vc.exit_ctx == EXIT_CTX_PREEMPT:
        vcpu_set_mode(s, v, VM_EXIT)            # the fault's handling goes on where it stopped
        ev_arm(&s.q, s.slot_vcpu + v, s.rq[cpu].seg_start + vc.exit_left)
        return
    if s.vm[vc.vm].idle_paths and vcpu_user_switch_in(s, v, cpu):
        return                          # userspace, MWAIT and per-run interception (kvm/userspace.pxi)
    if not guest_halt_ok(s, v) or not s.vm[vc.vm].hlt_exits:
        vcpu_set_mode(s, v, VM_EXIT)
        vc.exit_reason = EXIT_ENTRY
        ev_arm(&s.q, s.slot_vcpu + v, s.rq[cpu].seg_start + s.vm[vc.vm].entry_ns)
    else:
        vcpu_set_mode(s, v, VM_EXIT)
        vcpu_halt_start(s, v)

cdef inline bint vcpu_resched_away(Sim* s, s32 v, s32 cpu) noexcept nogil:
    # After schedule() at a resched point of the vCPU thread: it lost its pCPU, or lost it and got
    # it back within that call (the switch-in already armed its re-entry); either way the caller
    # must not enter the guest now.
    return s.rq[cpu].curr != s.vcpu[v].task or ev_armed(&s.q, s.slot_vcpu + v)

cdef void vcpu_switch_out(Sim* s, s32 v) noexcept nogil:
    # kvm_sched_out: preempted while runnable (steal time starts), or blocked (halted).
    cdef vcpu_t* vc = &s.vcpu[v]
    if s.task[vc.task].state == TS_DEAD:
        return                                  # the VM was terminated (kvm/vmm_actions.pxi)
    if vc.exit_ctx == EXIT_CTX_PREEMPT and vc.mode == VM_EXIT and ev_armed(&s.q, s.slot_vcpu + v):
        vc.exit_left = ev_expiry(&s.q, s.slot_vcpu + v) - s.now     # preempted inside a fault's handling
    ev_cancel(&s.q, s.slot_vcpu + v)
    if s.vm[vc.vm].idle_paths:
        vcpu_user_switch_out(s, v)
    if vc.mode == VM_GUEST:
        vcpu_leave_guest(s, v)
        rcu_vcpu_leave(s, v, False)
    if s.task[vc.task].state == TS_SLEEPING:
        if vc.mode != VM_HALTED:
            vcpu_set_mode(s, v, VM_HALTED)
    else:
        vcpu_set_mode(s, v, VM_PREEMPTED)
        vc.preempted = 1
    kvm_sched_out(s, v)

cdef void handle_vcpu(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 cpu = vc.host_cpu
    if vc.mode == VM_GUEST:
        if s.vm[vc.vm].idle_paths:
            kvm_idle_timer(s, v)        # an idle-loop pass or guest polling ended (kvm/mwait.pxi)
            return
        # the guest's own idle polling found nothing: now it executes HLT
        vc.guest_polling = 0
        vcpu_idle_insn(s, v)
    elif vc.mode == VM_EXIT:
        vc.exit_ctx = EXIT_CTX_DEFAULT
        if s.vm[vc.vm].idle_paths and vcpu_user_exit_end(s, v):
            return
        if s.fa.resched[cpu]:
            schedule(s, cpu)          # the host's resched point before re-entry
            if vcpu_resched_away(s, v, cpu):
                return
        if vc.exit_reason == EXIT_HLT and guest_halt_ok(s, v):
            vcpu_halt_start(s, v)
        else:
            vcpu_enter(s, v)
    elif vc.mode == VM_POLL:
        vc.nr_poll_fail += 1
        trace_event(s, TR_HALT_POLL, vc.host_cpu, v, 0, s.now - vc.halt_start)
        vcpu_block(s, v)
    elif vc.mode == VM_USER:
        vcpu_userspace(s, v)            # the VMM's work on the thread ended (kvm/userspace.pxi)

# ---------------------------------------------------------------- host side

cdef inline void host_interrupt(Sim* s, s32 cpu, int reason) noexcept nogil:
    # A host interrupt on pCPU `cpu`. Without vCPUs or RCU it changes nothing: tested here, in
    # line, as a host-only load takes one per tick and per timer wake-up.
    if s.nvcpu > 0 or s.rcu != NULL:
        host_interrupt_deliver(s, cpu, reason)

cdef void host_interrupt_deliver(Sim* s, s32 cpu, int reason) noexcept nogil:
    # RCU's irq entry on a nohz_full CPU; a vCPU running there in guest mode takes an exit.
    cdef s32 c
    cdef s32 v
    if cpu < 0 or cpu >= s.ncpu:
        return
    if s.rq[cpu].ts.nohz_full and s.rcu != NULL:
        rcu_host_irq(s, cpu)        # rcu_irq_enter_check_tick (rcu/rcu_engine.pxi)
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
        if s.vcpu[v].mode == VM_EXIT and s.vcpu[v].exit_ctx != EXIT_CTX_PREEMPT:
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
