# VMM deferred work (policies/deferred_work.pxd): the queue, where items come from, who runs them,
# and the VMM's per-KVM_RUN choices. Attached (POL_DEFERRED_WORK) to the hook points:
#
# * kvm_run: the VMM chooses the run's settings (vmm_run_bits): the RFC's userspace-exit bit while
#   it has work (vCPU executor), or Graf's interception toggle.
# * kvm_run_leave: the vCPU thread is in userspace (kvm/userspace.pxi): complete the item it ran,
#   start the next one (user_work_next: high items always, low ones only while the vCPU idles and,
#   after MWAIT, within the per-exit budget), or let it call KVM_RUN.
# * vcpu_exit: an MMIO exit to the VMM queues a completion item.
# * context_switch (host): counts the VM's threads (vCPU + VMM) running at once.
#
# Work arrives by a per-VM process (Sim.vmm.slot + vm) or with MMIO exits. The VMM then wakes a
# sleeping worker thread (thread executor), signals vCPUs whose per-KVM_RUN settings went stale
# (`kick`, stale_kick; again when the last item finishes), and, for a high item under the vCPU
# executor, signals one vCPU to run it at once (`preempt_high`, choose_kick). Worker threads and
# the main thread are host tasks running OP_VMM: take an item (high first), compute it, complete
# it, repeat; with nothing queued a worker sleeps until woken, the main thread until its next
# fallback expiry. Every item is taken by one executor and completed once (wq_done records done -
# queued latency).

cdef enum:
    DEFERRED_WORK_POINTS = HOOK_KVM_RUN | HOOK_KVM_RUN_LEAVE | HOOK_VCPU_EXIT

# ---------------------------------------------------------------- hook handlers
cdef void deferred_work_kvm_run(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vm* w = &s.vm[vc.vm].vmm
    vc.vmm.user_used = 0
    vc.run_bits = <u8>vmm_run_bits(vc.run_bits, w.toggle, w.executor, wq_busy(&w.q))

cdef void deferred_work_user(Sim* s, s32 v, int kind) noexcept nogil:
    # The vCPU thread is in userspace: complete the item it ran, start the next one or let it go.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vcpu* x = &vc.vmm
    cdef vmm_vm* w = &s.vm[vc.vm].vmm
    cdef work_item it
    cdef int c
    if x.item_busy:
        it.queued_at = x.item_queued_at
        it.size_ns = x.item_size
        wq_done(&w.q, x.item_cls, &it, s.now)
        x.item_busy = 0
        x.user_used += x.item_size
        x.work_ns += x.item_size
        x.nr_items += 1
        if not wq_busy(&w.q):
            vmm_settings_stale(s, vc.vm)
    c = user_work_next(w.executor, kind, x.user_used, w.budget_ns, vcpu_wake_pending(s, v),
                       wq_len(&w.q, WORK_HIGH), wq_len(&w.q, WORK_LOW))
    if c >= 0 and wq_pop(&w.q, c, &it):
        x.item_busy = 1
        x.item_cls = <u8>c
        x.item_queued_at = it.queued_at
        x.item_size = it.size_ns
        vcpu_user_run(s, v, it.size_ns)

cdef void deferred_work_vcpu_exit(Sim* s, s32 v, int reason) noexcept nogil:
    # An MMIO exit the VMM handles in userspace queues a completion item.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vmm_vm* w = &s.vm[vc.vm].vmm
    cdef s64 size
    if reason != EXIT_MMIO or not w.mmio_on:
        return
    size = sample_size(&w.rng, w.mmio_size_ns, w.mmio_spread_ns, w.mmio_dist)
    if wq_push(&w.q, w.mmio_prio, s.now, size):
        vmm_notify(s, vc.vm, w.mmio_prio, vc.host_cpu)

cdef void vmm_nrun(Sim* s, s32 k, int d) noexcept nogil:
    # This VM's host threads running now changes by d: track time above its vCPU count.
    cdef vmm_vm* w = &s.vm[k].vmm
    cdef s32 n = s.vm[k].nvcpu
    if w.nrun <= n < w.nrun + d:
        w.over_since = s.now
    elif w.nrun + d <= n < w.nrun:
        w.over_ns += s.now - w.over_since
    w.nrun += d
    if w.nrun > w.max_nrun:
        w.max_nrun = w.nrun

cdef void deferred_work_context_switch(Sim* s, s32 cpu, s32 prev, s32 next) noexcept nogil:
    if prev >= 0 and s.vmm.task[prev].vm >= 0:
        vmm_nrun(s, s.vmm.task[prev].vm, -1)
    if next >= 0 and s.vmm.task[next].vm >= 0:
        vmm_nrun(s, s.vmm.task[next].vm, 1)

# ---------------------------------------------------------------- VMM signals and wake-ups
cdef void vmm_kick(Sim* s, s32 v) noexcept nogil:
    # The VMM signals vCPU thread v so that KVM_RUN returns to userspace.
    cdef vcpu_t* vc = &s.vcpu[v]
    if vc.user != USER_NONE or vc.mode == VM_USER or vc.mode == VM_OFF:
        return
    s.vm[vc.vm].vmm.nr_kicks += 1
    vcpu_signal(s, v)

cdef inline u8 vmm_kick_class(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    if vc.user != USER_NONE or vc.mode == VM_USER:
        return KICK_NONE
    if vc.mode == VM_HALTED or vc.mode == VM_POLL:
        return KICK_HALTED
    if vc.mode == VM_GUEST:
        return KICK_IDLE_GUEST if s.rq[vc.rq].curr < 0 else KICK_BUSY_GUEST
    return KICK_LATER

cdef void vmm_wake_worker(Sim* s, s32 k, s32 local) noexcept nogil:
    # Wake one sleeping worker of VM k, from pCPU `local` (-1: an interrupt on the worker's own
    # pCPU signals it, e.g. the VMM's event source).
    cdef vmm_vm* w = &s.vm[k].vmm
    cdef s32 i, t, cpu
    for i in range(w.worker_base, w.worker_base + w.nworkers):
        t = s.vmm.workers[i]
        if s.task[t].state == TS_SLEEPING and not s.vmm.task[t].busy:
            cpu = local
            if cpu < 0:
                cpu = s.task[t].cpu
                host_interrupt(s, cpu, EXIT_HOST_INTR)
            w.nr_worker_wakeups += 1
            try_to_wake_up(s, t, cpu)
            return

cdef void vmm_settings_stale(Sim* s, s32 k) noexcept nogil:
    # VM k's work went from none to some or back: signal the vCPUs whose settings are stale.
    cdef vm_t* vm = &s.vm[k]
    cdef vmm_vm* w = &vm.vmm
    cdef s32 v, base = vm.vcpu_base, n = vm.nvcpu
    cdef bint busy = wq_busy(&w.q)
    cdef u8 want = <u8>vmm_run_bits(static_run_bits(vm.idle_insn, vm.hlt_exits, vm.mwait_exits),
                                    w.toggle, w.executor, busy)
    if not w.kick:
        return
    for v in range(base, base + n):
        if s.vcpu[v].run_bits != want and stale_kick(w.toggle, w.executor, busy, vmm_kick_class(s, v)):
            vmm_kick(s, v)

cdef void vmm_notify(Sim* s, s32 k, int cls, s32 local) noexcept nogil:
    # An item of class cls was queued on VM k.
    cdef vmm_vm* w = &s.vm[k].vmm
    cdef s32 v, base = s.vm[k].vcpu_base, n = s.vm[k].nvcpu
    if w.executor == EXEC_THREAD:
        vmm_wake_worker(s, k, local)
    if wq_pending(&w.q) == 1 and wq_in_service(&w.q) == 0:
        vmm_settings_stale(s, k)
    if cls == WORK_HIGH and w.preempt_high and w.executor == EXEC_VCPU:
        for v in range(n):
            s.vmm.kick_cls[v] = vmm_kick_class(s, base + v)
        v = choose_kick(s.vmm.kick_cls, n)
        if v >= 0:
            vmm_kick(s, base + v)

cdef void handle_vmm_arrival(Sim* s, s32 k) noexcept nogil:
    # The VM's work process delivers an item.
    cdef vmm_vm* w = &s.vm[k].vmm
    cdef s64 size = sample_size(&w.rng, w.size_ns, w.spread_ns, w.size_dist)
    ev_arm(&s.q, s.vmm.slot + k, s.now + next_arrival_gap(&w.rng, w.mean_gap_ns, w.poisson))
    if wq_push(&w.q, w.prio, s.now, size):
        vmm_notify(s, k, w.prio, -1)

# ---------------------------------------------------------------- VMM threads (OP_VMM)
cdef int vmm_thread_op(Sim* s, s32 t, s64* wake_at) noexcept nogil:
    # A worker or the main thread at its loop: complete the item it held, take the next one.
    cdef vmm_task* x = &s.vmm.task[t]
    cdef vmm_vm* w = &s.vm[x.vm].vmm
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

cdef void deferred_work_finalize(Sim* s) noexcept nogil:
    cdef s32 k
    if not s.vmm.on:
        return
    for k in range(s.nvm):
        if s.vm[k].vmm.nrun > s.vm[k].nvcpu:
            s.vm[k].vmm.over_ns += s.now - s.vm[k].vmm.over_since
            s.vm[k].vmm.over_since = s.now
