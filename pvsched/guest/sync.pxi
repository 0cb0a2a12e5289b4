# Guest synchronisation: guest spinlocks (queued / ticket / test-and-set, with PV-spinlock halt
# and kick), IPI-based synchronisation (smp_call_function: send, spin until handled), and the spin
# segments that pause-loop exiting watches.
#
# Model
# * A spinning guest task stays current on its vCPU and burns guest time (remaining = -1,
#   preemption disabled). While its vCPU is in guest mode a "spin segment" runs; the vCPU's spin
#   slot fires at the earlier of the PLE window (converted to ns at the guest TSC frequency) and,
#   for a PV lock waiter, the spin threshold. Every exit ends the segment (the CPU restarts its
#   PAUSE-loop detection after VM entry), so PLE fires only after a window of uninterrupted spinning.
# * PV spinlocks (kvm_wait / KVM_HC_KICK_CPU): past the threshold the waiter halts its vCPU with
#   the task still current; the unlocker kicks the queue head (a hypercall exit on the unlocker,
#   pv_unhalted on the target, kvm_vcpu_kick if it sleeps). A halted waiter resumes spinning when
#   its vCPU next enters the guest (kick, or an IPI for it).
# * Queued locks follow pv qspinlock: FIFO waiters; the head takes the lock when it is free and it
#   spins. While spinning the head holds the pending bit, which disables lock stealing, so a head
#   whose vCPU is preempted blocks everybody (lock-waiter preemption); only while the head is
#   halted in pv_wait (pending cleared) may an arrival steal the free lock
#   (pv_hybrid_queued_unfair_trylock). Ticket locks hand the lock to the next ticket at unlock,
#   whether or not that waiter runs. Test-and-set locks (virt_spin_lock, no PV wait) leave the lock
#   free at unlock: the first waiter (arrival order) executing in guest mode wins at once; if none
#   executes, whoever runs first (a resumed waiter or a newcomer) takes it.
# * An IPI is handled on the target vCPU in guest mode: the handler runs for the sender's handler
#   time with the guest clock frozen (no task progresses), then EOI: a trapped EOI write (exit) and
#   the ipi_context clearing unless APICv virtualizes EOI. Senders spin until every target handled it.
# * Lock/IPI state is per-VM arrays allocated at Engine construction; nothing is allocated per event.

cdef inline bint task_executing(Sim* s, s32 t) noexcept nogil:
    # t is current on its guest rq and the guest clock runs (vCPU in guest mode, no IRQ handler).
    cdef s32 cpu = s.task[t].cpu
    return s.rq[cpu].curr == t and s.fa.clk_run[cpu] != 0

cdef inline bint lock_head_spinning(Sim* s, s32 w) noexcept nogil:
    # The queue head sets the pending bit only while it actually spins in guest mode.
    cdef s32 cpu = s.task[w].cpu
    return (s.task[w].sync.state == SYNC_LOCK_SPIN and s.rq[cpu].curr == w
            and s.vcpu[s.rq[cpu].vcpu].mode == VM_GUEST)

# ---------------------------------------------------------------- spin segments

cdef void spin_seg_start(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 t = s.rq[vc.rq].curr
    cdef task_t* p
    cdef s64 when = -1
    cdef s64 w
    if vc.gsync.spinning or t < 0 or vc.mode != VM_GUEST or not s.fa.clk_run[vc.rq]:
        return
    p = &s.task[t]
    if p.sync.state != SYNC_LOCK_SPIN and p.sync.state != SYNC_IPI_WAIT:
        return
    vc.gsync.spinning = 1
    vc.gsync.spin_task = t
    vc.gsync.spin_seg_start = s.now
    if vm.ple:
        when = s.now + ple_window_ns(vm, vc.ple_window)
    if p.sync.state == SYNC_LOCK_SPIN and p.sync.spin_left >= 0:
        w = tadd(s.now, p.sync.spin_left)
        if when < 0 or w <= when:
            when = w
    if vc.gsync.sy_target >= 0:
        when = s.now
    if when >= 0:
        ev_arm(&s.q, s.slot_spin + v, when)

cdef void spin_seg_end(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef task_t* p
    cdef s64 el
    if not vc.gsync.spinning:
        return
    vc.gsync.spinning = 0
    ev_cancel(&s.q, s.slot_spin + v)
    el = s.now - vc.gsync.spin_seg_start
    p = &s.task[vc.gsync.spin_task]
    if p.sync.spin_left >= 0 and p.sync.state == SYNC_LOCK_SPIN:
        p.sync.spin_left -= el
        if p.sync.spin_left < 0:
            p.sync.spin_left = 0
    vc.gsync.spin_ns += el
    s.vm[vc.vm].ys[YS_SPIN_NS] += <u64>el

cdef void sync_wake_running(Sim* s, s32 t) noexcept nogil:
    # The task's wait ended (lock granted / IPIs handled): its program continues. If it executes
    # right now, end its spin segment and step it through its burst slot (no re-entrancy).
    cdef task_t* p = &s.task[t]
    cdef s32 cpu = p.cpu
    cdef s32 v = s.rq[cpu].vcpu
    p.sync.state = SYNC_NONE
    p.remaining = 0
    if task_executing(s, t):
        spin_seg_end(s, v)
        ev_arm(&s.q, s.slot_burst + cpu, s.rq[cpu].seg_start if s.rq[cpu].seg_start > s.now else s.now)

# ---------------------------------------------------------------- spinlocks

cdef inline void lock_queue_push(Sim* s, glock_t* lk, s32 t) noexcept nogil:
    s.task[t].sync.lock_next = -1
    if lk.tail >= 0:
        s.task[lk.tail].sync.lock_next = t
    else:
        lk.head = t
    lk.tail = t
    lk.nwait += 1

cdef inline s32 lock_queue_pop(Sim* s, glock_t* lk) noexcept nogil:
    cdef s32 w = lk.head
    if w >= 0:
        lk.head = s.task[w].sync.lock_next
        if lk.head < 0:
            lk.tail = -1
        s.task[w].sync.lock_next = -1
        lk.nwait -= 1
    return w

cdef void lock_queue_unlink(Sim* s, glock_t* lk, s32 t) noexcept nogil:
    # Remove t from anywhere in the waiter list (test-and-set locks: any spinner may win).
    cdef s32 prev = -1
    cdef s32 w = lk.head
    while w >= 0 and w != t:
        prev = w
        w = s.task[w].sync.lock_next
    if w < 0:
        return
    if prev < 0:
        lk.head = s.task[t].sync.lock_next
    else:
        s.task[prev].sync.lock_next = s.task[t].sync.lock_next
    if lk.tail == t:
        lk.tail = prev
    s.task[t].sync.lock_next = -1
    lk.nwait -= 1

cdef s32 tas_winner(Sim* s, glock_t* lk) noexcept nogil:
    # The first waiter (in arrival order) whose cmpxchg can run now: it executes in guest mode.
    cdef s32 w = lk.head
    while w >= 0:
        if s.task[w].sync.state == SYNC_LOCK_SPIN and task_executing(s, w):
            return w
        w = s.task[w].sync.lock_next
    return -1

cdef void lock_take(Sim* s, s32 L, s32 t) noexcept nogil:
    cdef glock_t* lk = &s.locks[L]
    cdef vm_t* vm = &s.vm[lk.vm]
    lk.owner = t
    lk.hold_since = s.now
    s.task[t].sync.held_lock = L
    vm.ys[YS_LOCK_ACQ] += 1

cdef void lock_grant(Sim* s, s32 L, s32 w) noexcept nogil:
    # A waiter gets the lock (popped from the queue by the caller).
    cdef task_t* p = &s.task[w]
    cdef vm_t* vm = &s.vm[s.locks[L].vm]
    cdef s64 waited = s.now - p.sync.wait_since
    lock_take(s, L, w)
    vm.ys[YS_LOCK_WAIT_NS] += <u64>waited
    s.vm_lhist[<s64>s.locks[L].vm * HIST_NBUCKETS + hist_bucket(waited)] += 1
    sync_wake_running(s, w)

cdef void lock_release(Sim* s, s32 t) noexcept nogil:
    cdef task_t* p = &s.task[t]
    cdef s32 L = p.sync.held_lock
    cdef glock_t* lk
    cdef vm_t* vm
    cdef s32 w
    cdef bint kick
    if L < 0:
        return
    lk = &s.locks[L]
    vm = &s.vm[lk.vm]
    p.sync.held_lock = -1
    lk.owner = -1
    vm.ys[YS_CS_DONE] += 1
    w = lk.head
    if w < 0:
        return
    if vm.gsync.lock_kind == LOCK_TAS:
        # virt_spin_lock: the lock is simply free; a spinner that executes now wins the race,
        # otherwise the first one to run again (or a newcomer) takes it.
        w = tas_winner(s, lk)
        if w >= 0:
            lock_queue_unlink(s, lk, w)
            lock_grant(s, L, w)
        return
    kick = s.task[w].sync.state == SYNC_LOCK_HALT
    if vm.gsync.lock_kind == LOCK_TICKET or lock_head_spinning(s, w):
        lock_queue_pop(s, lk)
        lock_grant(s, L, w)
    if kick:
        pv_kick(s, s.rq[p.cpu].vcpu, s.rq[s.task[w].cpu].vcpu)

cdef void pv_wait(Sim* s, s32 v, s32 t) noexcept nogil:
    # kvm_wait: the waiter spun past its threshold; it halts the vCPU (task stays current).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    s.task[t].sync.state = SYNC_LOCK_HALT
    vm.ys[YS_PV_HALT] += 1
    if vc.pv_unhalted:
        # a kick already arrived: HLT returns at once
        vc.pv_unhalted = 0
        sync_resume(s, v, t)
        return
    if vm.hlt_exits:
        vcpu_exit(s, v, EXIT_HLT, vm.exit_ns)

# ---------------------------------------------------------------- the guest IPI handler

cdef void irq_start(Sim* s, s32 v) noexcept nogil:
    # The guest takes the IPI: freeze the guest rq (no task progresses) for the handler time.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s64 h
    if vc.gsync.irq_active:
        h = vc.gsync.irq_left
    else:
        h = s.task[s.ipi_ring[vc.gsync.ipi_ring + vc.gsync.ipi_head]].sync.ipi_handler_ns
    vcpu_leave_guest(s, v)
    vc.gsync.irq_active = 1
    vc.gsync.irq_frozen = 1
    ev_arm(&s.q, s.slot_irq + v, tadd(s.now, h))

cdef void ipi_done(Sim* s, s32 t) noexcept nogil:
    cdef task_t* p = &s.task[t]
    cdef vm_t* vm = &s.vm[s.kern[p.kern].vm]
    cdef s64 lat = s.now - p.sync.wait_since
    vm.ys[YS_IPI_RT] += 1
    vm.ys[YS_IPI_RT_NS] += <u64>lat
    if <u64>lat > vm.ys[YS_IPI_RT_MAX]:
        vm.ys[YS_IPI_RT_MAX] = <u64>lat
    s.vm_hist[<s64>s.kern[p.kern].vm * HIST_NBUCKETS + hist_bucket(lat)] += 1
    s.vcpu[s.rq[p.cpu].vcpu].gsync.sy_target = -1
    sync_wake_running(s, t)

cdef void handle_irq_end(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 grq = vc.rq
    cdef s32 sender = s.ipi_ring[vc.gsync.ipi_ring + vc.gsync.ipi_head]
    cdef bint eoi_exit = not vm.posted_intr
    vc.gsync.irq_active = 0
    vc.gsync.irq_frozen = 0
    vc.gsync.ipi_head += 1
    if vc.gsync.ipi_head == vc.gsync.ipi_cap:
        vc.gsync.ipi_head = 0
    vc.gsync.ipi_n -= 1
    vc.gsync.nr_ipi_handled += 1
    vm.ys[YS_IPI_HANDLED] += 1
    s.task[sender].sync.ipi_out -= 1
    if s.task[sender].sync.ipi_out == 0:
        ipi_done(s, sender)
    # resume the guest clock where the handler froze it
    s.fa.clk_entry[grq] = s.now
    s.fa.clk_run[grq] = 1
    s.rq[grq].seg_start = s.now
    if eoi_exit:
        # the EOI write traps (with APICv the EOI of an edge IPI never reaches KVM); the next
        # queued IPI is taken at re-entry
        vcpu_exit(s, v, EXIT_EOI, vm.exit_ns)
    elif vc.gsync.ipi_n > 0:
        irq_start(s, v)
    else:
        vcpu_enter(s, v)

# ---------------------------------------------------------------- entry points for the KVM layer
cdef inline void guest_sync_leave(Sim* s, s32 v) noexcept nogil:
    if s.vm[s.vcpu[v].vm].gsync.on:
        sync_leave_guest(s, v)

cdef inline bint guest_sync_enter(Sim* s, s32 v) noexcept nogil:
    return s.vm[s.vcpu[v].vm].gsync.on and sync_enter(s, v)


cdef void sync_leave_guest(Sim* s, s32 v) noexcept nogil:
    # Top of vcpu_leave_guest: end the spin segment; an exit during a handler suspends it
    # (and undoes the handler's freeze so the caller's freeze charges nothing twice).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 grq = vc.rq
    spin_seg_end(s, v)
    if vc.gsync.irq_active and vc.gsync.irq_frozen:
        vc.gsync.irq_left = ev_expiry(&s.q, s.slot_irq + v) - s.now
        ev_cancel(&s.q, s.slot_irq + v)
        vc.gsync.irq_frozen = 0
        s.fa.clk_entry[grq] = s.now
        s.fa.clk_run[grq] = 1
        s.rq[grq].seg_start = s.now

cdef bint sync_enter(Sim* s, s32 v) noexcept nogil:
    # In vcpu_enter once the guest clock runs: queued IPIs are taken first. True = the handler
    # now owns the vCPU (vcpu_enter stops; it runs again when the handler ends).
    cdef vcpu_t* vc = &s.vcpu[v]
    vc.pv_unhalted = 0
    if vc.gsync.irq_active or vc.gsync.ipi_n > 0:
        irq_start(s, v)
        return True
    return False

cdef void sync_resume(Sim* s, s32 v, s32 t) noexcept nogil:
    # The current task is waiting and executes again in guest mode: a halted PV waiter left
    # kvm_wait and spins again; a queue head that finds its lock free takes it; else spin.
    cdef task_t* p = &s.task[t]
    cdef glock_t* lk
    if p.sync.state == SYNC_LOCK_HALT:
        p.sync.state = SYNC_LOCK_SPIN
        p.sync.spin_left = p.sync.spin_threshold
    if p.sync.state == SYNC_LOCK_SPIN:
        lk = &s.locks[p.sync.lock]
        if lk.owner < 0 and s.vm[lk.vm].gsync.lock_kind == LOCK_TAS:
            lock_queue_unlink(s, lk, t)
            lock_grant(s, p.sync.lock, t)
            return
        if lk.owner < 0 and lk.head == t:
            lock_queue_pop(s, lk)
            lock_grant(s, p.sync.lock, t)
            return
    if p.sync.state == SYNC_LOCK_SPIN or p.sync.state == SYNC_IPI_WAIT:
        spin_seg_start(s, v)

cdef bint guest_halt_ok(Sim* s, s32 v) noexcept nogil:
    # May the vCPU block after a HLT exit? Not with IPIs to handle; a PV waiter halts with its
    # task still current until kicked; otherwise the guest must be idle.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 t
    if not s.vm[vc.vm].gsync.on:
        return not guest_busy(s, vc.rq)
    if vc.gsync.ipi_n > 0 or vc.gsync.irq_active:
        return False
    t = s.rq[vc.rq].curr
    if t >= 0 and s.task[t].sync.state == SYNC_LOCK_HALT:
        return not vc.pv_unhalted
    return not guest_busy(s, vc.rq)

# ---------------------------------------------------------------- ops (from program_advance)

cdef inline s32 ipi_target(s32 me, s32 start, s32 j, s32 n) noexcept nogil:
    # The j-th of k consecutive other vCPUs from `start` (k = 1: a uniform other vCPU).
    return (me + 1 + (start + j) % (n - 1)) % n

cdef int sync_op(Sim* s, s32 t, op_t* op) noexcept nogil:
    # Returns -1 when the op completed at once (the interpreter goes on), else a STEP_* code.
    cdef task_t* p = &s.task[t]
    cdef s32 cpu, v, vm_i, L, k, j, n, vt, me, start
    cdef vm_t* vm
    cdef glock_t* lk
    if op.code == OP_WORK:
        p.remaining = sample_work(p, op.a, op.b, op.c)
        if p.remaining <= 0:
            return -1
        if op.c & WORK_KERNEL:
            p.in_critical = 1
        return STEP_RUN
    cpu = p.cpu
    if p.kern == 0 or not task_executing(s, t):
        # Lock and IPI ops act only while the task executes in guest mode: step back and run it
        # once the task is current again (e.g. right after a sleep, or after an exit).
        p.pc -= 1
        p.remaining = 0
        return STEP_RUN
    v = s.rq[cpu].vcpu
    vm_i = s.kern[p.kern].vm
    vm = &s.vm[vm_i]
    if op.code == OP_UNLOCK:
        lock_release(s, t)
        return -1
    if op.code == OP_LOCK:
        L = vm.gsync.lock_base + <s32>op.a
        if op.c > 1:
            L += <s32>rand_upto(p, op.c - 1)
        lk = &s.locks[L]
        if lk.owner < 0 and (lk.head < 0 or vm.gsync.lock_kind == LOCK_TAS
                             or (vm.gsync.lock_kind == LOCK_QUEUED and s.task[lk.head].sync.state == SYNC_LOCK_HALT)):
            if lk.head >= 0:
                vm.ys[YS_LOCK_STEAL] += 1
            lock_take(s, L, t)
            return -1
        vm.ys[YS_LOCK_CONTENDED] += 1
        p.sync.state = SYNC_LOCK_SPIN
        p.sync.lock = L
        p.sync.spin_threshold = op.b if op.b > 0 and vm.gsync.lock_kind != LOCK_TAS else -1   # -1: spin forever
        p.sync.spin_left = p.sync.spin_threshold
        p.sync.wait_since = s.now
        p.in_critical = 1
        p.remaining = -1
        lock_queue_push(s, lk, t)
        spin_seg_start(s, v)
        return STEP_RUN
    if op.code == OP_IPI:
        n = vm.nvcpu
        k = <s32>op.a
        if k > n - 1:
            k = n - 1
        if k < 1:
            return -1
        me = v - vm.vcpu_base
        p.sync.state = SYNC_IPI_WAIT
        p.sync.ipi_out = k
        p.sync.ipi_handler_ns = op.b
        p.sync.wait_since = s.now
        p.in_critical = 1
        p.remaining = -1
        vm.ys[YS_IPI_SENT] += <u64>k
        # k consecutive other vCPUs from a uniformly random start (k = 1: a uniform other vCPU)
        start = <s32>rand_upto(p, n - 2)
        for j in range(k):
            ipi_deliver(s, v, vm.vcpu_base + ipi_target(me, start, j, n), t, k == 1)
        if vm.gsync.pv_sched_yield and k >= 2 and p.sync.state == SYNC_IPI_WAIT:
            # kvm_smp_send_call_func_ipi: the first busy target whose vCPU is preempted; the
            # hypercall is issued from the sender's spin (spin_seg_start arms it at once)
            for j in range(k):
                vt = vm.vcpu_base + ipi_target(me, start, j, n)
                if s.vcpu[vt].preempted and guest_busy(s, s.vcpu[vt].rq):
                    s.vcpu[v].gsync.sy_target = vt
                    break
        if not vm.ipiv and s.vcpu[v].mode == VM_GUEST:
            vcpu_exit(s, v, EXIT_IPI_SEND, vm.exit_ns)     # the ICR write traps
        elif p.sync.state == SYNC_IPI_WAIT:
            spin_seg_start(s, v)
        return STEP_RUN
    return -1

# ---------------------------------------------------------------- spin timer

cdef void handle_spin(Sim* s, s32 v) noexcept nogil:
    # The spin segment reached the PV threshold (halt) or the PLE window (pause-loop exit).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 t = vc.gsync.spin_task
    cdef task_t* p = &s.task[t]
    cdef s32 vt = vc.gsync.sy_target
    spin_seg_end(s, v)
    if vt >= 0:
        vc.gsync.sy_target = -1
        kvm_sched_yield(s, v, vt)
        return
    if p.sync.state == SYNC_LOCK_SPIN and p.sync.spin_threshold >= 0 and p.sync.spin_left <= 0:
        pv_wait(s, v, t)
        return
    handle_pause(s, v)

cdef void sync_finalize(Sim* s) noexcept nogil:
    # Bring running spin segments up to now (idempotent; the armed slot keeps its time).
    cdef s32 v
    cdef vcpu_t* vc
    cdef task_t* p
    cdef s64 el
    for v in range(s.nvcpu):
        vc = &s.vcpu[v]
        if not vc.gsync.spinning:
            continue
        el = s.now - vc.gsync.spin_seg_start
        vc.gsync.spin_seg_start = s.now
        p = &s.task[vc.gsync.spin_task]
        if p.sync.spin_left >= 0 and p.sync.state == SYNC_LOCK_SPIN:
            p.sync.spin_left -= el
            if p.sync.spin_left < 0:
                p.sync.spin_left = 0
        vc.gsync.spin_ns += el
        s.vm[vc.vm].ys[YS_SPIN_NS] += <u64>el

# ---------------------------------------------------------------- building and results
LOCK_KINDS = {"queued": LOCK_QUEUED, "ticket": LOCK_TICKET, "tas": LOCK_TAS}


cdef int guest_sync_build(Sim* s, list vms, long long[:, :] opsv, long long[:] tkern, long long[:] tps,
                          long long[:] tpl) except -1:
    # Per-VM lock tables and IPI rings sized by the scenario; nothing is allocated per event.
    cdef s32 k, i, n, v, code, nlock_total = 0, ring_total = 0, L
    cdef vm_t* vm
    cdef vcpu_t* vc
    ntask_vm = [0] * max(s.nvm, 1)
    for i in range(s.ntask):
        if tkern[i] > 0 and s.task[i].vcpu < 0:
            ntask_vm[tkern[i] - 1] += 1
    for k in range(s.nvm):
        d = vms[k]
        vm = &s.vm[k]
        nl = int(d.get("nlocks", 0))
        kind = d.get("spinlock", "queued")
        if not (0 <= nl <= 1_000_000 and kind in LOCK_KINDS):
            raise ValueError(f"vm {k}: lock parameters out of range")
        vm.gsync.lock_kind = LOCK_KINDS[kind]
        vm.gsync.nlock = nl
        vm.gsync.lock_base = nlock_total
        if nlock_total > 0x7FFFFFFF - nl:
            raise ValueError("scenario too large: more than 2**31 - 1 guest spinlocks")
        nlock_total += nl
        vm.gsync.pv_sched_yield = bool(d.get("pv_sched_yield", False))
        vm.gsync.on = 0
    for i in range(s.ntask):
        for n in range(tpl[i]):
            code = <s32>opsv[tps[i] + n, 0]
            if code < OP_LOCK or code > OP_LAST:      # not a sync op
                continue
            if code == OP_WORK:
                if opsv[tps[i] + n, 3] & ~(WORK_EXP | WORK_KERNEL):
                    raise ValueError(f"task {i}: work op flags {opsv[tps[i] + n, 3]} unknown")
                continue
            if tkern[i] == 0:
                raise ValueError(f"task {i}: lock and IPI ops run only in guest tasks")
            vm = &s.vm[tkern[i] - 1]
            vm.gsync.on = 1
            if code == OP_LOCK and (opsv[tps[i] + n, 3] < 1 or opsv[tps[i] + n, 1] + opsv[tps[i] + n, 3] > vm.gsync.nlock):
                raise ValueError(f"task {i}: lock op names locks outside the VM's {vm.gsync.nlock}")
            if code == OP_IPI and (opsv[tps[i] + n, 1] < 1 or opsv[tps[i] + n, 1] > vm.nvcpu - 1
                                   or opsv[tps[i] + n, 2] < 1):
                raise ValueError(f"task {i}: IPI op needs 1..{vm.nvcpu - 1} targets and a handler time")
    ring_entries = sum(ntask_vm[s.vcpu[v].vm] + 1 for v in range(s.nvcpu))
    if ring_entries > 0x7FFFFFFF:
        raise ValueError(f"scenario too large: {ring_entries} IPI queue entries (vCPUs x guest tasks) "
                         "exceed the engine's 2**31 - 1")
    ring_total = ring_entries
    s.nlocks = nlock_total
    s.locks = <glock_t*>calloc(max(nlock_total, 1), sizeof(glock_t))
    s.ipi_ring = <s32*>calloc(max(ring_total, 1), sizeof(s32))
    s.vm_hist = <u32*>calloc(<size_t>max(s.nvm, 1) * HIST_NBUCKETS, sizeof(u32))
    s.vm_lhist = <u32*>calloc(<size_t>max(s.nvm, 1) * HIST_NBUCKETS, sizeof(u32))
    if not s.locks or not s.ipi_ring or not s.vm_hist or not s.vm_lhist:
        raise MemoryError("pvsched: scenario too large for memory")
    for k in range(s.nvm):
        for L in range(s.vm[k].gsync.lock_base, s.vm[k].gsync.lock_base + s.vm[k].gsync.nlock):
            s.locks[L].vm = k
            s.locks[L].owner = -1
            s.locks[L].head = -1
            s.locks[L].tail = -1
    ring_total = 0
    for v in range(s.nvcpu):
        vc = &s.vcpu[v]
        vc.gsync.ipi_ring = ring_total
        vc.gsync.ipi_cap = ntask_vm[vc.vm] + 1
        ring_total += vc.gsync.ipi_cap
        vc.gsync.sy_target = -1
        vc.gsync.spin_task = -1
    for i in range(s.ntask):
        s.task[i].sync.lock = -1
        s.task[i].sync.held_lock = -1
        s.task[i].sync.lock_next = -1
        s.task[i].sync.spin_left = -1
        s.task[i].sync.spin_threshold = -1
    return 0


cdef void guest_sync_results(Sim* s, dict out, dict vc):
    # Per-vCPU spin and IPI columns, the per-VM lock count, IPI round-trip and lock-wait histograms.
    cdef s32 v, k, c
    spin = np.zeros(s.nvcpu, dtype=np.int64)
    handled = np.zeros(s.nvcpu, dtype=np.int64)
    for v in range(s.nvcpu):
        spin[v] = s.vcpu[v].gsync.spin_ns
        handled[v] = s.vcpu[v].gsync.nr_ipi_handled
    vc["spin_ns"] = spin
    vc["ipi_handled"] = handled
    out["vm"]["nlocks"] = np.array([s.vm[k].gsync.nlock for k in range(s.nvm)], dtype=np.int64)
    hist = np.zeros((s.nvm, HIST_NBUCKETS), dtype=np.uint32)
    lhist = np.zeros((s.nvm, HIST_NBUCKETS), dtype=np.uint32)
    cdef unsigned int[:, :] hv = hist
    cdef unsigned int[:, :] lv = lhist
    for k in range(s.nvm):
        for c in range(HIST_NBUCKETS):
            hv[k, c] = s.vm_hist[<s64>k * HIST_NBUCKETS + c]
            lv[k, c] = s.vm_lhist[<s64>k * HIST_NBUCKETS + c]
    out["vm_ipi_hist"] = hist
    out["vm_lock_hist"] = lhist
