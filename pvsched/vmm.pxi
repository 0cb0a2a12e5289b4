# VMM deferred work and the HLT/MWAIT exit paths (engine side; the pure rules are vmm_work.pxd).
#
# Model
# -----
# * Guest idle. When a guest vCPU runs out of work in guest mode it executes its idle instruction
#   under the settings of the vCPU's current KVM_RUN (vmm_vcpu_t.run_bits, kvm_run_bits):
#   - HLT not intercepted: the guest halts in non-root mode and stays there across exits (VMX
#     activity state HLT) until it is woken; the vCPU thread keeps its pCPU.
#   - HLT intercepted: an in-kernel exit; at its end KVM halts (halt-polling, then block), as today.
#   - MWAIT: the guest's idle loop (mwait_idle_with_hints) runs `idle_loop_ns` of guest time, then
#     MONITOR and MWAIT. Not intercepted, it waits in non-root mode. Intercepted, both exit and are
#     emulated as NOPs (2 x exit_ns), optionally followed by yield(), and the guest goes round its
#     idle loop again: the vCPU thread never sleeps. MWAIT idle sets TIF_POLLING_NRFLAG, so wakers
#     send no IPI: a wake-up is noticed when the guest next runs its loop.
#   - With the userspace-exit bit (the RFC) the intercepted instruction returns to the VMM instead
#     (KVM_EXIT_HLT with mp_state HALTED / KVM_EXIT_MWAIT, the vCPU still runnable), costing
#     `userspace_exit_ns` more.
#   - The settings are chosen at each KVM_RUN, i.e. after a return to userspace, from whether the
#     VMM has work queued or in service (Graf's toggle switches interception itself).
# * Userspace. While the vCPU thread is in the VMM (VM_USER when it runs work), the VMM runs items
#   as user_work_next says, then calls KVM_RUN with new settings (kvm_run_bits): a HLT-halted vCPU
#   with nothing to wake it blocks in the kernel (kvm_vcpu_halt), otherwise the guest is entered.
#   Userspace work is preemptible by the host scheduler (the item resumes where it stopped) but the
#   VMM itself never slices an item.
# * Work arrives by a per-VM process (slot_vmm) or with guest MMIO exits (which then return to
#   userspace). The VMM then wakes a sleeping worker thread (thread executor), signals vCPUs whose
#   per-KVM_RUN settings became stale (`kick`, stale_kick; again when the last item finishes), and,
#   for a high item under the vCPU executor, signals one vCPU to run it at once (`preempt_high`,
#   choose_kick).
# * A signal to a vCPU (vmm_kick): in guest mode an exit to userspace (EXIT_KICK); blocked or
#   halt-polling, the thread wakes and returns to userspace (mp_state still HALTED); in an
#   in-kernel exit or preempted, it returns to userspace when that exit ends / it runs again.
# * Worker threads and the main thread are host tasks running OP_VMM: take an item (high first),
#   compute it, complete it, repeat; with nothing queued a worker sleeps until woken, the main
#   thread until its next fallback expiry.
# * Accounting: every item is taken by one executor and completed once (wq_done records done -
#   queued). Per vCPU: time in userspace work (the VM_USER mode), in guest mode with the guest
#   idle, and in MONITOR/MWAIT NOP exits. Per VM: how long its threads (vCPU + VMM) ran on more
#   pCPUs at once than it has vCPUs.

cdef inline bint vmm_vcpu_on(Sim* s, s32 v) noexcept nogil:
    return s.vmm_on and s.vw[s.vcpu[v].vm].idle_on

cdef inline void vmm_count_user(Sim* s, s32 v) noexcept nogil:
    s.vv[v].nr_user_exits += 1

# ---------------------------------------------------------------- guest mode boundaries
cdef void vmm_leave_guest(Sim* s, s32 v) noexcept nogil:
    # Guest mode ends (any exit or switch-out): close the guest-idle interval, drop the idle-loop
    # timer; whatever halted state the next exit records starts afresh.
    cdef vmm_vcpu_t* x = &s.vv[v]
    x.mp_halted = 0
    if x.gidle_since >= 0:
        x.guest_idle_ns += s.now - x.gidle_since
        x.gidle_since = -1
    if x.mwait_loop:
        x.mwait_loop = 0
        ev_cancel(&s.q, s.slot_vcpu + v)

cdef void vmm_guest_idle_exit(Sim* s, s32 v) noexcept nogil:
    # The guest picked a task on this vCPU: its idle loop (and any pass-through HLT) ends.
    cdef vmm_vcpu_t* x = &s.vv[v]
    x.hlt_in_guest = 0
    if x.gidle_since >= 0:
        x.guest_idle_ns += s.now - x.gidle_since
        x.gidle_since = -1
    if x.mwait_loop:
        x.mwait_loop = 0
        ev_cancel(&s.q, s.slot_vcpu + v)

cdef void vmm_guest_idle(Sim* s, s32 v) noexcept nogil:
    # The guest has nothing to run on vCPU v in guest mode: its idle loop starts (or goes on
    # after a re-entry into the idle guest).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vcpu_t* x = &s.vv[v]
    cdef vmm_vm_t* w = &s.vw[vc.vm]
    if x.gidle_since < 0:
        x.gidle_since = s.now
    if w.pol.insn == IDLE_HLT:
        if x.hlt_in_guest:
            return
        if s.vm[vc.vm].guest_poll_ns > 0 and idle_exit_action(&w.pol, x.run_bits) != IDLE_STAY:
            vc.guest_polling = 1            # cpuidle-haltpoll polls in the guest first
            ev_arm(&s.q, s.slot_vcpu + v, s.now + s.vm[vc.vm].guest_poll_ns)
            return
        vmm_hlt(s, v)
    elif idle_exit_action(&w.pol, x.run_bits) != IDLE_STAY and not x.mwait_loop:
        x.mwait_loop = 1                    # a pass of the idle loop, then MONITOR + MWAIT
        ev_arm(&s.q, s.slot_vcpu + v, s.now + w.idle_loop_ns)

cdef void vmm_hlt(Sim* s, s32 v) noexcept nogil:
    # The guest executes HLT under the vCPU's current settings.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vcpu_t* x = &s.vv[v]
    cdef vmm_vm_t* w = &s.vw[vc.vm]
    cdef int a = idle_exit_action(&w.pol, x.run_bits)
    if a == IDLE_STAY:
        x.hlt_in_guest = 1
        return
    if a == IDLE_USER:
        vcpu_exit(s, v, EXIT_HLT, s.vm[vc.vm].exit_ns + w.user_exit_ns)
        x.user = USER_HLT
        x.nr_hlt_user += 1
        vmm_count_user(s, v)
    else:
        vcpu_exit(s, v, EXIT_HLT, s.vm[vc.vm].exit_ns)
    x.mp_halted = 1

cdef void vmm_mwait(Sim* s, s32 v) noexcept nogil:
    # End of an idle-loop pass: the guest executes MONITOR, then MWAIT.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vcpu_t* x = &s.vv[v]
    cdef vmm_vm_t* w = &s.vw[vc.vm]
    cdef int a = idle_exit_action(&w.pol, x.run_bits)
    cdef s64 cost = 2 * s.vm[vc.vm].exit_ns
    x.mwait_loop = 0
    if a == IDLE_STAY:
        return                              # interception went off meanwhile: MWAIT in non-root
    vc.nr_exits[EXIT_MONITOR] += 1
    if a == IDLE_USER:
        vcpu_exit(s, v, EXIT_MWAIT, cost + w.user_exit_ns)
        x.user = USER_MWAIT
        x.nr_mwait_user += 1
        vmm_count_user(s, v)
        return
    vcpu_exit(s, v, EXIT_MWAIT, cost)
    x.exit_action = ACT_NOP_YIELD if a == IDLE_NOP_YIELD else ACT_NOP
    x.idle_exit = 1
    x.idle_exit_since = s.now

cdef void vmm_idle_timer(Sim* s, s32 v) noexcept nogil:
    # The vCPU slot fired in guest mode: an idle-loop pass ended, or guest halt-polling did.
    cdef vcpu_t* vc = &s.vcpu[v]
    if s.vv[v].mwait_loop:
        vmm_mwait(s, v)
    elif vc.guest_polling:
        vc.guest_polling = 0
        vmm_hlt(s, v)

# ---------------------------------------------------------------- exits, userspace, KVM_RUN
cdef bint vmm_kernel_yield(Sim* s, s32 v) noexcept nogil:
    # yield() in kvm_emulate_mwait: sched_yield semantics of the vCPU thread's class, then
    # schedule(). True if the vCPU thread is still current.
    cdef s32 t = s.vcpu[v].task
    cdef s32 cpu = s.vcpu[v].host_cpu
    s.task[t].nr_yields += 1
    s.vv[v].nr_mwait_yields += 1
    if s.task[t].cls == CLS_FAIR:
        yield_task_fair(s, cpu)
    elif s.rq[cpu].rt_nr > 1:
        rt_requeue_tail(s, t)
    schedule(s, cpu)
    return s.rq[cpu].curr == t

cdef bint vmm_exit_end(Sim* s, s32 v) noexcept nogil:
    # The vCPU's exit handling ends. True when handled here; False: the stock path goes on
    # (resched point, then halt or re-enter).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vcpu_t* x = &s.vv[v]
    cdef s32 cpu = vc.host_cpu
    cdef u8 act = x.exit_action
    x.exit_action = ACT_NONE
    if x.idle_exit:
        x.idle_exit = 0
        x.idle_exit_ns += s.now - x.idle_exit_since
    if x.user == VMM_USER_NONE and x.kick_pending:
        # a signal arrived during the exit: KVM_RUN returns -EINTR instead of re-entering
        x.kick_pending = 0
        x.user = USER_HLT if x.mp_halted else USER_OTHER
        vmm_count_user(s, v)
        ev_arm(&s.q, s.slot_vcpu + v, s.now + s.vw[vc.vm].user_exit_ns)
        return True
    if x.user != VMM_USER_NONE:
        if s.fa.resched[cpu]:
            schedule(s, cpu)                # return to user mode is a resched point
            if s.rq[cpu].curr != vc.task:
                return True
        vmm_user_work(s, v)
        return True
    if act == ACT_NOP_YIELD:
        return not vmm_kernel_yield(s, v)
    return False

cdef inline bint vmm_wake_pending(Sim* s, s32 v, int kind) noexcept nogil:
    # What the VMM can see: a halted vCPU that must run again (kvm_arch_vcpu_runnable), or an
    # interrupt pending for an MWAIT-idle one (a monitor-write wake-up sends no interrupt).
    if kind == USER_HLT:
        return not sync_halt_ok(s, v)
    return s.vcpu[v].pending_irq != 0

cdef void vmm_user_work(Sim* s, s32 v) noexcept nogil:
    # The vCPU thread is in userspace: start the next item on it, or call KVM_RUN.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vcpu_t* x = &s.vv[v]
    cdef vmm_vm_t* w = &s.vw[vc.vm]
    cdef work_item it
    cdef int c = user_work_next(w.pol.executor, x.user, x.user_used, w.budget_ns,
                                vmm_wake_pending(s, v, x.user), wq_len(&w.q, WORK_HIGH), wq_len(&w.q, WORK_LOW))
    if c >= 0 and wq_pop(&w.q, c, &it):
        x.item_busy = 1
        x.item_cls = <u8>c
        x.item_queued_at = it.queued_at
        x.item_size = it.size_ns
        x.item_left = it.size_ns
        x.item_since = s.now
        vcpu_set_mode(s, v, VM_USER)
        ev_arm(&s.q, s.slot_vcpu + v, s.now + it.size_ns)
        return
    vmm_kvm_run(s, v)

cdef void vmm_user_item_done(Sim* s, s32 v) noexcept nogil:
    # The item on the vCPU thread is complete.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vcpu_t* x = &s.vv[v]
    cdef work_item it
    it.queued_at = x.item_queued_at
    it.size_ns = x.item_size
    wq_done(&s.vw[vc.vm].q, x.item_cls, &it, s.now)
    x.item_busy = 0
    x.user_used += x.item_size
    x.work_ns += x.item_size
    x.nr_items += 1
    if not wq_busy(&s.vw[vc.vm].q):
        vmm_settings_stale(s, vc.vm)
    vmm_user_work(s, v)

cdef void vmm_kvm_run(Sim* s, s32 v) noexcept nogil:
    # KVM_RUN from userspace with the settings the VMM chooses now.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vcpu_t* x = &s.vv[v]
    cdef vmm_vm_t* w = &s.vw[vc.vm]
    cdef s32 cpu = vc.host_cpu
    cdef int kind = x.user
    x.user = VMM_USER_NONE
    x.user_used = 0
    x.kick_pending = 0                      # this return to userspace consumed the signal
    x.run_bits = <u8>kvm_run_bits(&w.pol, wq_busy(&w.q))
    x.nr_kvm_runs += 1
    if vc.mode == VM_USER:
        vcpu_set_mode(s, v, VM_EXIT)
    if s.fa.resched[cpu]:
        schedule(s, cpu)
        if s.rq[cpu].curr != vc.task:
            return                          # vmm_switch_in resumes (halted or not)
    if kind == USER_HLT and x.mp_halted and sync_halt_ok(s, v):
        vcpu_halt_start(s, v)               # mp_state HALTED: kvm_vcpu_halt
    else:
        vcpu_enter(s, v)

# ---------------------------------------------------------------- host scheduling of the vCPU thread
cdef bint vmm_switch_in(Sim* s, s32 v, s32 cpu) noexcept nogil:
    # kvm_sched_in of a vCPU thread of a VM on these paths (after the stock bookkeeping).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vcpu_t* x = &s.vv[v]
    cdef s64 at = s.rq[cpu].seg_start
    if x.item_busy:
        vcpu_set_mode(s, v, VM_USER)        # userspace work resumes where it stopped
        x.item_since = at
        ev_arm(&s.q, s.slot_vcpu + v, at + x.item_left)
        return True
    vcpu_set_mode(s, v, VM_EXIT)
    if x.user == VMM_USER_NONE and x.kick_pending:
        x.kick_pending = 0                  # woken by (or preempted with) a pending signal
        x.user = USER_HLT if x.mp_halted else USER_OTHER
        vmm_count_user(s, v)
        ev_arm(&s.q, s.slot_vcpu + v, at + s.vw[vc.vm].user_exit_ns)
        return True
    if x.user != VMM_USER_NONE:
        ev_arm(&s.q, s.slot_vcpu + v, at + s.vm[vc.vm].entry_ns)
        return True
    if x.mp_halted and sync_halt_ok(s, v):
        vcpu_halt_start(s, v)
    else:
        vc.exit_reason = EXIT_ENTRY
        ev_arm(&s.q, s.slot_vcpu + v, at + s.vm[vc.vm].entry_ns)
    return True

cdef void vmm_switch_out(Sim* s, s32 v) noexcept nogil:
    # kvm_sched_out: an item in service on the vCPU thread keeps the work it has done.
    cdef vmm_vcpu_t* x = &s.vv[v]
    if s.vcpu[v].mode == VM_USER and x.item_busy:
        x.item_left -= s.now - x.item_since
        if x.item_left < 0:
            x.item_left = 0

cdef void vmm_nrun(Sim* s, s32 k, int d) noexcept nogil:
    # This VM's host threads running now changes by d: track time above its vCPU count.
    cdef vmm_vm_t* w = &s.vw[k]
    cdef s32 n = s.vm[k].nvcpu
    if w.nrun <= n < w.nrun + d:
        w.over_since = s.now
    elif w.nrun + d <= n < w.nrun:
        w.over_ns += s.now - w.over_since
    w.nrun += d
    if w.nrun > w.max_nrun:
        w.max_nrun = w.nrun

cdef inline void vmm_host_switch(Sim* s, s32 prev, s32 next) noexcept nogil:
    if prev >= 0 and s.vt[prev].vm >= 0:
        vmm_nrun(s, s.vt[prev].vm, -1)
    if next >= 0 and s.vt[next].vm >= 0:
        vmm_nrun(s, s.vt[next].vm, 1)

# ---------------------------------------------------------------- VMM signals and wake-ups
cdef void vmm_kick(Sim* s, s32 v) noexcept nogil:
    # The VMM signals vCPU thread v so that KVM_RUN returns to userspace.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vcpu_t* x = &s.vv[v]
    cdef vmm_vm_t* w = &s.vw[vc.vm]
    if x.user != VMM_USER_NONE or vc.mode == VM_USER or vc.mode == VM_OFF:
        return
    w.nr_kicks += 1
    x.nr_kicked += 1
    if vc.mode == VM_GUEST:
        vcpu_exit(s, v, EXIT_KICK, s.vm[vc.vm].exit_ns + w.user_exit_ns)
        x.user = USER_OTHER
        vmm_count_user(s, v)
    elif vc.mode == VM_POLL:
        halt_poll_adapt(s, v, s.now - vc.halt_start)
        vcpu_set_mode(s, v, VM_EXIT)
        x.user = USER_HLT
        vmm_count_user(s, v)
        ev_arm(&s.q, s.slot_vcpu + v, s.now + w.user_exit_ns)
    elif vc.mode == VM_HALTED:
        x.kick_pending = 1                  # kvm_vcpu_block sees signal_pending()
        halt_poll_adapt(s, v, s.now - vc.halt_start)
        vcpu_set_mode(s, v, VM_PREEMPTED)
        try_to_wake_up(s, vc.task, vc.host_cpu)
    else:
        x.kick_pending = 1                  # seen when the exit ends / the thread runs again

cdef inline u8 vmm_kick_class(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    if s.vv[v].user != VMM_USER_NONE or vc.mode == VM_USER:
        return KICK_NONE
    if vc.mode == VM_HALTED or vc.mode == VM_POLL:
        return KICK_HALTED
    if vc.mode == VM_GUEST:
        return KICK_IDLE_GUEST if s.rq[vc.rq].curr < 0 else KICK_BUSY_GUEST
    return KICK_LATER

cdef void vmm_wake_worker(Sim* s, s32 k, s32 local) noexcept nogil:
    # Wake one sleeping worker of VM k, from pCPU `local` (-1: an interrupt on the worker's own
    # pCPU signals it, e.g. the VMM's event source).
    cdef vmm_vm_t* w = &s.vw[k]
    cdef s32 i, t, cpu
    for i in range(w.worker_base, w.worker_base + w.nworkers):
        t = s.vmm_workers[i]
        if s.task[t].state == TS_SLEEPING and not s.vt[t].busy:
            cpu = local
            if cpu < 0:
                cpu = s.task[t].cpu
                host_interrupt(s, cpu, EXIT_HOST_INTR)
            w.nr_worker_wakeups += 1
            try_to_wake_up(s, t, cpu)
            return

cdef void vmm_settings_stale(Sim* s, s32 k) noexcept nogil:
    # VM k's work went from none to some or back: signal the vCPUs whose settings are stale.
    cdef vmm_vm_t* w = &s.vw[k]
    cdef s32 v, base = s.vm[k].vcpu_base, n = s.vm[k].nvcpu
    cdef bint busy = wq_busy(&w.q)
    cdef u8 want = <u8>kvm_run_bits(&w.pol, busy)
    if not w.kick:
        return
    for v in range(base, base + n):
        if s.vv[v].run_bits != want and stale_kick(&w.pol, busy, vmm_kick_class(s, v)):
            vmm_kick(s, v)

cdef void vmm_notify(Sim* s, s32 k, int cls, s32 local) noexcept nogil:
    # An item of class cls was queued on VM k.
    cdef vmm_vm_t* w = &s.vw[k]
    cdef s32 v, base = s.vm[k].vcpu_base, n = s.vm[k].nvcpu
    if w.pol.executor == EXEC_THREAD:
        vmm_wake_worker(s, k, local)
    if wq_pending(&w.q) == 1 and wq_in_service(&w.q) == 0:
        vmm_settings_stale(s, k)
    if cls == WORK_HIGH and w.preempt_high and w.pol.executor == EXEC_VCPU:
        for v in range(n):
            s.vmm_kick_cls[v] = vmm_kick_class(s, base + v)
        v = choose_kick(s.vmm_kick_cls, n)
        if v >= 0:
            vmm_kick(s, base + v)

cdef void handle_vmm_arrival(Sim* s, s32 k) noexcept nogil:
    # The VM's work process delivers an item.
    cdef vmm_vm_t* w = &s.vw[k]
    cdef s64 size = sample_size(&w.rng, w.size_ns, w.spread_ns, w.size_dist)
    ev_arm(&s.q, s.slot_vmm + k, s.now + next_arrival_gap(&w.rng, w.mean_gap_ns, w.poisson))
    if wq_push(&w.q, w.prio, s.now, size):
        vmm_notify(s, k, w.prio, -1)

cdef void vmm_mmio_exit(Sim* s, s32 v, s64 handle_ns) noexcept nogil:
    # A guest MMIO exit handled by the VMM in userspace, which queues a completion item.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vm_t* w = &s.vw[vc.vm]
    cdef s64 size
    vcpu_exit(s, v, EXIT_MMIO, s.vm[vc.vm].exit_ns + handle_ns + w.user_exit_ns)
    s.vv[v].user = USER_OTHER
    vmm_count_user(s, v)
    size = sample_size(&w.rng, w.mmio_size_ns, w.mmio_spread_ns, w.mmio_dist)
    if wq_push(&w.q, w.mmio_prio, s.now, size):
        vmm_notify(s, vc.vm, w.mmio_prio, vc.host_cpu)

# ---------------------------------------------------------------- VMM threads (OP_VMM)
cdef int vmm_thread_op(Sim* s, s32 t, s64* wake_at) noexcept nogil:
    # A worker or the main thread at its loop: complete the item it held, take the next one.
    cdef vmm_task_t* x = &s.vt[t]
    cdef vmm_vm_t* w = &s.vw[x.vm]
    cdef task_t* p = &s.task[t]
    cdef work_item it
    cdef int c
    cdef s64 k
    p.pc -= 1
    if x.busy:
        it.queued_at = x.queued_at
        it.size_ns = x.size
        wq_done(&w.q, x.cls, &it, s.now)
        x.busy = 0
        x.nr_items += 1
        if not wq_busy(&w.q):
            vmm_settings_stale(s, x.vm)
    c = wq_pop_any(&w.q, &it)
    if c >= 0:
        x.busy = 1
        x.cls = <u8>c
        x.queued_at = it.queued_at
        x.size = it.size_ns
        p.remaining = it.size_ns
        return STEP_RUN
    if x.role == ROLE_MAIN:
        if x.period_next <= s.now:
            k = (s.now - x.period_next) // w.fallback_ns + 1
            x.period_next += k * w.fallback_ns
        wake_at[0] = x.period_next
    else:
        wake_at[0] = -1                     # until vmm_wake_worker
    return STEP_BLOCK

# ---------------------------------------------------------------- end of run
cdef void vmm_finalize(Sim* s) noexcept nogil:
    cdef s32 v, k
    cdef vmm_vcpu_t* x
    if not s.vmm_on:
        return
    for v in range(s.nvcpu):
        x = &s.vv[v]
        if x.gidle_since >= 0:
            x.guest_idle_ns += s.now - x.gidle_since
            x.gidle_since = s.now
        if x.idle_exit:
            x.idle_exit_ns += s.now - x.idle_exit_since
            x.idle_exit_since = s.now
    for k in range(s.nvm):
        if s.vw[k].nrun > s.vm[k].nvcpu:
            s.vw[k].over_ns += s.now - s.vw[k].over_since
            s.vw[k].over_since = s.now
