# Seed 002, guest side: guest spinlocks (queued / ticket, with PV-spinlock halt and kick),
# IPI-based synchronization (smp_call_function: send, spin until handled), and the spin
# segments that pause-loop exiting watches.
#
# Model
# -----
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

from libc.math cimport log as c_log

cdef inline bint task_executing(Sim* s, s32 t) noexcept nogil:
    # t is current on its guest rq and the guest clock runs (vCPU in guest mode, no IRQ handler).
    cdef s32 cpu = s.task[t].cpu
    return s.rq[cpu].curr == t and s.fa.clk_run[cpu] != 0

cdef inline bint lock_head_spinning(Sim* s, s32 w) noexcept nogil:
    # The queue head sets the pending bit only while it actually spins in guest mode.
    cdef s32 cpu = s.task[w].cpu
    return (s.task[w].sync == SYNC_LOCK_SPIN and s.rq[cpu].curr == w
            and s.vcpu[s.rq[cpu].vcpu].mode == VM_GUEST)

cdef inline s64 ple_window_ns(vm_t* vm, u64 cycles) noexcept nogil:
    # cycles at the guest TSC frequency -> ns (cycles <= UINT_MAX, khz >= 1: no overflow)
    return <s64>((cycles * <u64>1000000 + <u64>vm.cpu_khz - 1) // <u64>vm.cpu_khz)

cdef inline s64 sample_work(task_t* p, s64 a, s64 b, s64 flags) noexcept nogil:
    cdef double u
    cdef s64 cap, v
    cdef double d
    if flags & WORK_EXP:
        if a <= 0:
            return 0
        u = (<double>(splitmix64(&p.rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0)   # (0, 1]
        cap = b if b > 0 else (20 * a if a <= T_NEVER // 20 else T_NEVER)
        d = -<double>a * c_log(u) + 0.5
        v = <s64>d if d < 9.2e18 else T_NEVER       # no out-of-range cast
        return v if v < cap else cap
    return tadd(a, rand_upto(p, b))

# ---------------------------------------------------------------- spin segments
cdef void spin_seg_start(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 t = s.rq[vc.rq].curr
    cdef task_t* p
    cdef s64 when = -1
    cdef s64 w
    if vc.spinning or t < 0 or vc.mode != VM_GUEST or not s.fa.clk_run[vc.rq]:
        return
    p = &s.task[t]
    if p.sync != SYNC_LOCK_SPIN and p.sync != SYNC_IPI_WAIT:
        return
    vc.spinning = 1
    vc.spin_task = t
    vc.spin_seg_start = s.now
    if vm.ple:
        when = s.now + ple_window_ns(vm, vc.ple_window)
    if p.sync == SYNC_LOCK_SPIN and p.spin_left >= 0:
        w = tadd(s.now, p.spin_left)
        if when < 0 or w <= when:
            when = w
    if vc.sy_target >= 0:
        when = s.now
    if when >= 0:
        ev_arm(&s.q, s.slot_spin + v, when)

cdef void spin_seg_end(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef task_t* p
    cdef s64 el
    if not vc.spinning:
        return
    vc.spinning = 0
    ev_cancel(&s.q, s.slot_spin + v)
    el = s.now - vc.spin_seg_start
    p = &s.task[vc.spin_task]
    if p.spin_left >= 0 and p.sync == SYNC_LOCK_SPIN:
        p.spin_left -= el
        if p.spin_left < 0:
            p.spin_left = 0
    vc.spin_ns += el
    s.vm[vc.vm].ys[YS_SPIN_NS] += <u64>el

cdef void sync_wake_running(Sim* s, s32 t) noexcept nogil:
    # The task's wait ended (lock granted / IPIs handled): its program continues. If it executes
    # right now, end its spin segment and step it through its burst slot (no re-entrancy).
    cdef task_t* p = &s.task[t]
    cdef s32 cpu = p.cpu
    cdef s32 v = s.rq[cpu].vcpu
    p.sync = SYNC_NONE
    p.remaining = 0
    if task_executing(s, t):
        spin_seg_end(s, v)
        ev_arm(&s.q, s.slot_burst + cpu, s.rq[cpu].seg_start if s.rq[cpu].seg_start > s.now else s.now)

# ---------------------------------------------------------------- spinlocks
cdef inline void lock_queue_push(Sim* s, glock_t* lk, s32 t) noexcept nogil:
    s.task[t].lock_next = -1
    if lk.tail >= 0:
        s.task[lk.tail].lock_next = t
    else:
        lk.head = t
    lk.tail = t
    lk.nwait += 1

cdef inline s32 lock_queue_pop(Sim* s, glock_t* lk) noexcept nogil:
    cdef s32 w = lk.head
    if w >= 0:
        lk.head = s.task[w].lock_next
        if lk.head < 0:
            lk.tail = -1
        s.task[w].lock_next = -1
        lk.nwait -= 1
    return w

cdef void lock_queue_unlink(Sim* s, glock_t* lk, s32 t) noexcept nogil:
    # Remove t from anywhere in the waiter list (test-and-set locks: any spinner may win).
    cdef s32 prev = -1
    cdef s32 w = lk.head
    while w >= 0 and w != t:
        prev = w
        w = s.task[w].lock_next
    if w < 0:
        return
    if prev < 0:
        lk.head = s.task[t].lock_next
    else:
        s.task[prev].lock_next = s.task[t].lock_next
    if lk.tail == t:
        lk.tail = prev
    s.task[t].lock_next = -1
    lk.nwait -= 1

cdef s32 tas_winner(Sim* s, glock_t* lk) noexcept nogil:
    # The first waiter (in arrival order) whose cmpxchg can run now: it executes in guest mode.
    cdef s32 w = lk.head
    while w >= 0:
        if s.task[w].sync == SYNC_LOCK_SPIN and task_executing(s, w):
            return w
        w = s.task[w].lock_next
    return -1

cdef void lock_take(Sim* s, s32 L, s32 t) noexcept nogil:
    cdef glock_t* lk = &s.locks[L]
    cdef vm_t* vm = &s.vm[lk.vm]
    lk.owner = t
    lk.hold_since = s.now
    s.task[t].held_lock = L
    vm.ys[YS_LOCK_ACQ] += 1

cdef void lock_grant(Sim* s, s32 L, s32 w) noexcept nogil:
    # A waiter gets the lock (popped from the queue by the caller).
    cdef task_t* p = &s.task[w]
    cdef vm_t* vm = &s.vm[s.locks[L].vm]
    cdef s64 waited = s.now - p.wait_since
    lock_take(s, L, w)
    vm.ys[YS_LOCK_WAIT_NS] += <u64>waited
    s.vm_lhist[<s64>s.locks[L].vm * HIST_NBUCKETS + hist_bucket(waited)] += 1
    sync_wake_running(s, w)

cdef void pv_kick(Sim* s, s32 from_v, s32 to_v) noexcept nogil:
    # KVM_HC_KICK_CPU from the unlocker: a hypercall exit, then kvm_pv_kick_cpu_op (APIC_DM_REMRD:
    # pv_unhalted, KVM_REQ_EVENT, kvm_vcpu_kick). Seed 000's kick_unhalt trigger may boost.
    cdef vcpu_t* tv = &s.vcpu[to_v]
    cdef vm_t* vm = &s.vm[tv.vm]
    cdef s32 from_cpu = s.vcpu[from_v].host_cpu if from_v >= 0 else tv.host_cpu
    cdef s32 t
    vm.ys[YS_PV_KICK] += 1
    tv.pv_unhalted = 1
    if vm.boost_mode and (vm.triggers & TR_KICK_UNHALT):
        vcpu_set_boost(s, to_v, True, BC_KICK_UNHALT)
    if tv.mode == VM_HALTED:
        vcpu_kick(s, to_v, from_cpu)
    elif tv.mode == VM_POLL:
        vcpu_poll_success(s, to_v)
    elif tv.mode == VM_GUEST:
        # HLT pass-through: the waiter halted inside the guest; the kick interrupt wakes it there
        t = s.rq[tv.rq].curr
        if t >= 0 and s.task[t].sync == SYNC_LOCK_HALT:
            tv.pv_unhalted = 0
            sync_resume(s, to_v, t)
    if from_v >= 0 and s.vcpu[from_v].mode == VM_GUEST:
        vcpu_exit(s, from_v, EXIT_HYPERCALL, vm.exit_ns)

cdef void lock_release(Sim* s, s32 t) noexcept nogil:
    cdef task_t* p = &s.task[t]
    cdef s32 L = p.held_lock
    cdef glock_t* lk
    cdef vm_t* vm
    cdef s32 w
    cdef bint kick
    if L < 0:
        return
    lk = &s.locks[L]
    vm = &s.vm[lk.vm]
    p.held_lock = -1
    lk.owner = -1
    vm.ys[YS_CS_DONE] += 1
    w = lk.head
    if w < 0:
        return
    if vm.lock_kind == LOCK_TAS:
        # virt_spin_lock: the lock is simply free; a spinner that executes now wins the race,
        # otherwise the first one to run again (or a newcomer) takes it.
        w = tas_winner(s, lk)
        if w >= 0:
            lock_queue_unlink(s, lk, w)
            lock_grant(s, L, w)
        return
    kick = s.task[w].sync == SYNC_LOCK_HALT
    if vm.lock_kind == LOCK_TICKET or lock_head_spinning(s, w):
        lock_queue_pop(s, lk)
        lock_grant(s, L, w)
    if kick:
        pv_kick(s, s.rq[p.cpu].vcpu, s.rq[s.task[w].cpu].vcpu)

cdef void pv_wait(Sim* s, s32 v, s32 t) noexcept nogil:
    # kvm_wait: the waiter spun past its threshold; it halts the vCPU (task stays current).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    s.task[t].sync = SYNC_LOCK_HALT
    vm.ys[YS_PV_HALT] += 1
    if vc.pv_unhalted:
        # a kick already arrived: HLT returns at once
        vc.pv_unhalted = 0
        sync_resume(s, v, t)
        return
    if vm.hlt_exits:
        vcpu_exit(s, v, EXIT_HLT, vm.exit_ns)

# ---------------------------------------------------------------- IPIs
cdef void ipi_track(Sim* s, s32 vs, s32 vt) noexcept nogil:
    # kvm_track_ipi_communication: sender-side fields and the receiver's last_ipi_sender.
    cdef vm_t* vm = &s.vm[s.vcpu[vs].vm]
    s.vcpu[vs].ipi_last_receiver = vt - vm.vcpu_base
    s.vcpu[vs].ipi_pending = 1
    s.vcpu[vs].ipi_time = s.now
    s.vcpu[vt].ipi_last_sender = vs - vm.vcpu_base
    vm.ys[YS_IPI_TRACKED] += 1

cdef void ipi_eoi_clear(Sim* s, s32 v) noexcept nogil:
    # kvm_clear_ipi_on_eoi: (1) always clear the receiver's context; (2) clear the sender's pending
    # flag only if the sender's last receiver is this vCPU and the IPI is within the window.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 sender = vc.ipi_last_sender
    cdef vcpu_t* sd
    vc.ipi_pending = 0
    vc.ipi_last_sender = -1
    vc.ipi_last_receiver = -1
    vm.ys[YS_EOI_CLR_RECV] += 1
    if sender >= 0:
        sd = &s.vcpu[vm.vcpu_base + sender]
        if sd.ipi_last_receiver == v - vm.vcpu_base and s.now - sd.ipi_time <= vm.ipi_window_ns:
            sd.ipi_pending = 0
            vm.ys[YS_EOI_CLR_SEND] += 1

cdef void irq_start(Sim* s, s32 v) noexcept nogil:
    # The guest takes the IPI: freeze the guest rq (no task progresses) for the handler time.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s64 h
    if vc.irq_active:
        h = vc.irq_left
    else:
        h = s.task[s.ipi_ring[vc.ipi_ring + vc.ipi_head]].ipi_handler_ns
    vcpu_leave_guest(s, v)
    vc.irq_active = 1
    vc.irq_frozen = 1
    ev_arm(&s.q, s.slot_irq + v, tadd(s.now, h))

cdef void ipi_deliver(Sim* s, s32 vs, s32 vt, s32 sender, bint unicast) noexcept nogil:
    # kvm_irq_delivery_to_apic for a fixed IPI from vCPU vs to vt on behalf of task `sender`.
    cdef vcpu_t* vc = &s.vcpu[vt]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 slot
    if unicast and vm.ipi_aware and vm.ipi_tracking and not vm.ipiv:
        ipi_track(s, vs, vt)      # with IPI virtualization the ICR write never reaches KVM
    slot = vc.ipi_head + vc.ipi_n
    if slot >= vc.ipi_cap:
        slot -= vc.ipi_cap
    s.ipi_ring[vc.ipi_ring + slot] = sender
    vc.ipi_n += 1
    vc.pending_irq = 1
    if vc.mode == VM_GUEST:
        if vc.irq_active:
            return
        if vm.posted_intr:
            if vm.boost_mode and guest_irq_hooks(s, vt):
                return          # seed 000's doorbell exit: the IPI is taken at re-entry
            irq_start(s, vt)
        else:
            vcpu_exit(s, vt, EXIT_IPI_RECV, vm.exit_ns)
    elif vc.mode == VM_HALTED:
        if vm.boost_mode and not vm.posted_intr and (vm.triggers & TR_KICK_INTR):
            vcpu_set_boost(s, vt, True, BC_KICK_INTR)
        vcpu_kick(s, vt, s.vcpu[vs].host_cpu)
    elif vc.mode == VM_POLL:
        vcpu_poll_success(s, vt)

cdef void ipi_done(Sim* s, s32 t) noexcept nogil:
    cdef task_t* p = &s.task[t]
    cdef vm_t* vm = &s.vm[s.kern[p.kern].vm]
    cdef s64 lat = s.now - p.wait_since
    vm.ys[YS_IPI_RT] += 1
    vm.ys[YS_IPI_RT_NS] += <u64>lat
    if <u64>lat > vm.ys[YS_IPI_RT_MAX]:
        vm.ys[YS_IPI_RT_MAX] = <u64>lat
    s.vm_hist[<s64>s.kern[p.kern].vm * HIST_NBUCKETS + hist_bucket(lat)] += 1
    s.vcpu[s.rq[p.cpu].vcpu].sy_target = -1
    sync_wake_running(s, t)

cdef void handle_irq_end(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 grq = vc.rq
    cdef s32 sender = s.ipi_ring[vc.ipi_ring + vc.ipi_head]
    cdef bint eoi_exit = not vm.posted_intr
    vc.irq_active = 0
    vc.irq_frozen = 0
    vc.ipi_head += 1
    if vc.ipi_head == vc.ipi_cap:
        vc.ipi_head = 0
    vc.ipi_n -= 1
    vc.nr_ipi_handled += 1
    vm.ys[YS_IPI_HANDLED] += 1
    s.task[sender].ipi_out -= 1
    if s.task[sender].ipi_out == 0:
        ipi_done(s, sender)
    if eoi_exit and vm.ipi_aware and vm.ipi_tracking:
        ipi_eoi_clear(s, v)     # with APICv the EOI of an edge IPI never reaches KVM
    # resume the guest clock where the handler froze it
    s.fa.clk_entry[grq] = s.now
    s.fa.clk_run[grq] = 1
    s.rq[grq].seg_start = s.now
    if eoi_exit:
        vcpu_exit(s, v, EXIT_EOI, vm.exit_ns)      # the next queued IPI is taken at re-entry
    elif vc.ipi_n > 0:
        irq_start(s, v)
    else:
        vcpu_enter(s, v)

# ---------------------------------------------------------------- hooks called from kvm.pxi
cdef void sync_leave_guest(Sim* s, s32 v) noexcept nogil:
    # Top of vcpu_leave_guest: end the spin segment; an exit during a handler suspends it
    # (and undoes the handler's freeze so the caller's freeze charges nothing twice).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 grq = vc.rq
    spin_seg_end(s, v)
    if vc.irq_active and vc.irq_frozen:
        vc.irq_left = ev_expiry(&s.q, s.slot_irq + v) - s.now
        ev_cancel(&s.q, s.slot_irq + v)
        vc.irq_frozen = 0
        s.fa.clk_entry[grq] = s.now
        s.fa.clk_run[grq] = 1
        s.rq[grq].seg_start = s.now

cdef bint sync_enter(Sim* s, s32 v) noexcept nogil:
    # In vcpu_enter once the guest clock runs: queued IPIs are taken first. True = the handler
    # now owns the vCPU (vcpu_enter stops; it runs again when the handler ends).
    cdef vcpu_t* vc = &s.vcpu[v]
    vc.pv_unhalted = 0
    if vc.irq_active or vc.ipi_n > 0:
        irq_start(s, v)
        return True
    return False

cdef void sync_resume(Sim* s, s32 v, s32 t) noexcept nogil:
    # The current task is waiting and executes again in guest mode: a halted PV waiter left
    # kvm_wait and spins again; a queue head that finds its lock free takes it; else spin.
    cdef task_t* p = &s.task[t]
    cdef glock_t* lk
    if p.sync == SYNC_LOCK_HALT:
        p.sync = SYNC_LOCK_SPIN
        p.spin_left = p.spin_threshold
    if p.sync == SYNC_LOCK_SPIN:
        lk = &s.locks[p.sync_lock]
        if lk.owner < 0 and s.vm[lk.vm].lock_kind == LOCK_TAS:
            lock_queue_unlink(s, lk, t)
            lock_grant(s, p.sync_lock, t)
            return
        if lk.owner < 0 and lk.head == t:
            lock_queue_pop(s, lk)
            lock_grant(s, p.sync_lock, t)
            return
    if p.sync == SYNC_LOCK_SPIN or p.sync == SYNC_IPI_WAIT:
        spin_seg_start(s, v)

cdef bint sync_halt_ok(Sim* s, s32 v) noexcept nogil:
    # May the vCPU block after a HLT exit? Not with IPIs to handle; a PV waiter halts with its
    # task still current until kicked; otherwise the guest must be idle.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 t
    if not s.vm[vc.vm].sync_on:
        return not guest_busy(s, vc.rq)
    if vc.ipi_n > 0 or vc.irq_active:
        return False
    t = s.rq[vc.rq].curr
    if t >= 0 and s.task[t].sync == SYNC_LOCK_HALT:
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
        L = vm.lock_base + <s32>op.a
        if op.c > 1:
            L += <s32>rand_upto(p, op.c - 1)
        lk = &s.locks[L]
        if lk.owner < 0 and (lk.head < 0 or vm.lock_kind == LOCK_TAS
                             or (vm.lock_kind == LOCK_QUEUED and s.task[lk.head].sync == SYNC_LOCK_HALT)):
            if lk.head >= 0:
                vm.ys[YS_LOCK_STEAL] += 1
            lock_take(s, L, t)
            return -1
        vm.ys[YS_LOCK_CONTENDED] += 1
        p.sync = SYNC_LOCK_SPIN
        p.sync_lock = L
        p.spin_threshold = op.b if op.b > 0 and vm.lock_kind != LOCK_TAS else -1   # -1: spin forever
        p.spin_left = p.spin_threshold
        p.wait_since = s.now
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
        p.sync = SYNC_IPI_WAIT
        p.ipi_out = k
        p.ipi_handler_ns = op.b
        p.wait_since = s.now
        p.in_critical = 1
        p.remaining = -1
        vm.ys[YS_IPI_SENT] += <u64>k
        # k consecutive other vCPUs from a uniformly random start (k = 1: a uniform other vCPU)
        start = <s32>rand_upto(p, n - 2)
        for j in range(k):
            ipi_deliver(s, v, vm.vcpu_base + ipi_target(me, start, j, n), t, k == 1)
        if vm.pv_sched_yield and k >= 2 and p.sync == SYNC_IPI_WAIT:
            # kvm_smp_send_call_func_ipi: the first busy target whose vCPU is preempted; the
            # hypercall is issued from the sender's spin (spin_seg_start arms it at once)
            for j in range(k):
                vt = vm.vcpu_base + ipi_target(me, start, j, n)
                if s.vcpu[vt].preempted and guest_busy(s, s.vcpu[vt].rq):
                    s.vcpu[v].sy_target = vt
                    break
        if not vm.ipiv and s.vcpu[v].mode == VM_GUEST:
            vcpu_exit(s, v, EXIT_IPI_SEND, vm.exit_ns)     # the ICR write traps
        elif p.sync == SYNC_IPI_WAIT:
            spin_seg_start(s, v)
        return STEP_RUN
    return -1

cdef void kvm_sched_yield(Sim* s, s32 v, s32 vt) noexcept nogil:
    # The guest's KVM_HC_SCHED_YIELD (kvm_smp_send_call_func_ipi) and the host's kvm_sched_yield.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    vm.ys[YS_SCHED_YIELD] += 1
    vcpu_exit(s, v, EXIT_HYPERCALL, vm.exit_ns)
    if s.rq[vc.host_cpu].nr_running == 1 or not s.vcpu[vt].ready:
        return          # single_task_running(), or the target is not ready (targets exclude self)
    if yield_to(s, vc.host_cpu, s.vcpu[vt].task) > 0:
        vm.ys[YS_SCHED_YIELD_OK] += 1

# ---------------------------------------------------------------- spin timer
cdef void handle_spin(Sim* s, s32 v) noexcept nogil:
    # The spin segment reached the PV threshold (halt) or the PLE window (pause-loop exit).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 t = vc.spin_task
    cdef task_t* p = &s.task[t]
    cdef s32 vt = vc.sy_target
    spin_seg_end(s, v)
    if vt >= 0:
        vc.sy_target = -1
        kvm_sched_yield(s, v, vt)
        return
    if p.sync == SYNC_LOCK_SPIN and p.spin_threshold >= 0 and p.spin_left <= 0:
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
        if not vc.spinning:
            continue
        el = s.now - vc.spin_seg_start
        vc.spin_seg_start = s.now
        p = &s.task[vc.spin_task]
        if p.spin_left >= 0 and p.sync == SYNC_LOCK_SPIN:
            p.spin_left -= el
            if p.spin_left < 0:
                p.spin_left = 0
        vc.spin_ns += el
        s.vm[vc.vm].ys[YS_SPIN_NS] += <u64>el
