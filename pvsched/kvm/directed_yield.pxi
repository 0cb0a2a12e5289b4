# Seed 002, host side: pause-loop exits and the PLE window (arch/x86/kvm/vmx.c, x86.h),
# kvm_vcpu_on_spin with its per-vCPU flags (virt/kvm/kvm_main.c), core yield_to() with its failure
# cases (kernel/sched/syscalls.c), and the two mechanisms of the series:
#   * the vCPU debooster in yield_to_task_fair (patches 1-5, "sched/fair: ... yield deboost"),
#   * IPI-aware directed yield: ipi_context, EOI clearing, candidate priority, relaxed round,
#     and the last_boosted_vcpu fix (patches 6-10).
# Everything is per event, C-level, and off unless the scenario switches it on.

# ---------------------------------------------------------------- preempt notifiers
cdef inline bint guest_in_kernel(Sim* s, s32 v) noexcept nogil:
    # Guest CPL 0 at this instant: an IRQ handler, the idle loop, kernel code with preemption
    # disabled (a lock holder's critical section), or spinning for a lock / an IPI.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 t
    if vc.gsync.irq_active:
        return True
    t = s.rq[vc.rq].curr
    if t < 0:
        return True
    return s.task[t].in_critical != 0 or s.task[t].sync.state != SYNC_NONE

cdef void yield_sched_out(Sim* s, s32 v) noexcept nogil:
    # kvm_sched_out (+ kvm_arch_vcpu_put): a runnable thread is preempted -> ready, and x86 records
    # preempted_in_kernel; a blocking thread is left "blocking" (rcuwait) until it runs again.
    cdef vcpu_t* vc = &s.vcpu[v]
    if s.task[vc.task].state == TS_SLEEPING:
        vc.blocking = 1
    else:
        vc.ready = 1
        vc.preempted_in_kernel = guest_in_kernel(s, v)

cdef void yield_sched_in(Sim* s, s32 v) noexcept nogil:
    # kvm_sched_in: preempted (cleared by the caller) and ready cleared; vmx_vcpu_load shrinks the
    # PLE window after the thread was scheduled out (default shrink 0: back to the base window).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef u64 w
    vc.ready = 0
    vc.blocking = 0
    if vm.ple:
        w = vc.ple_window
        if vm.ple_shrink < 1:
            w = vm.ple_window_base
        elif vm.ple_shrink < vm.ple_window_base:
            w = w // vm.ple_shrink
        else:
            w = w - vm.ple_shrink if w > vm.ple_shrink else 0
        if w < vm.ple_window_base:
            w = vm.ple_window_base
        vc.ple_window = w

# ---------------------------------------------------------------- PLE
cdef inline void grow_ple_window(vm_t* vm, vcpu_t* vc) noexcept nogil:
    # __grow_ple_window: modifier < 1 -> base; < base -> multiply; else add; capped at max.
    cdef u64 w = vc.ple_window
    if vm.ple_grow < 1:
        w = vm.ple_window_base
    elif vm.ple_grow < vm.ple_window_base:
        w = w * vm.ple_grow
    else:
        w = w + vm.ple_grow
    if w > vm.ple_max:
        w = vm.ple_max
    vc.ple_window = w

cdef void handle_pause(Sim* s, s32 v) noexcept nogil:
    # handle_pause: the guest spun a full PLE window. Exit, grow the window, kvm_vcpu_on_spin.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    vm.ys[YS_PLE] += 1
    vc.nr_ple += 1
    vcpu_exit(s, v, EXIT_PLE, vm.exit_ns)
    grow_ple_window(vm, vc)
    kvm_vcpu_on_spin(s, v)

# ---------------------------------------------------------------- candidate predicates
cdef inline bint vcpu_has_pending_interrupt(vm_t* vm, vcpu_t* c) noexcept nogil:
    # kvm_arch_dy_has_pending_interrupt (x86): only an APICv posted-interrupt descriptor is visible.
    return vm.posted_intr != 0 and (c.pending_irq != 0 or c.gsync.ipi_n > 0)

cdef inline bint vcpu_dy_runnable(vm_t* vm, vcpu_t* c) noexcept nogil:
    # kvm_arch_dy_runnable: a pending event (KVM_REQ_EVENT), PV unhalt, or a posted interrupt.
    return c.pending_irq != 0 or c.pv_unhalted != 0 or c.gsync.ipi_n > 0

cdef inline bint eligible_for_directed_yield(vcpu_t* c) noexcept nogil:
    # A vCPU that itself sits in kvm_vcpu_on_spin is eligible every other time it is examined.
    cdef bint eligible = not c.in_spin_loop or c.dy_eligible
    if c.in_spin_loop:
        c.dy_eligible = not c.dy_eligible
    return eligible

cdef inline bint vcpu_is_ipi_receiver(Sim* s, vm_t* vm, vcpu_t* me, s32 idx) noexcept nogil:
    # kvm_vcpu_is_ipi_receiver: me sent its last IPI to idx, it is not EOI'd, and it is recent.
    return (vm.ipi_yield.tracking != 0 and me.ipi.pending != 0 and me.ipi.last_receiver == idx
            and s.now - me.ipi.time <= vm.ipi_yield.window_ns)

# ---------------------------------------------------------------- yield_to
cdef inline u64* ys_of_task(Sim* s, s32 t) noexcept nogil:
    if t >= 0 and s.task[t].vcpu >= 0:
        return s.vm[s.vcpu[s.task[t].vcpu].vm].ys
    return s.ys_host

cdef int yield_to(Sim* s, s32 cpu, s32 p) noexcept nogil:
    # Core yield_to(p, preempt = true) from rq(cpu)->curr. Returns -1 (-ESRCH), 0 or 1.
    cdef s32 curr = s.rq[cpu].curr
    cdef s32 p_rq = s.task[p].cpu
    cdef u64* ys = ys_of_task(s, curr)
    ys[YS_YT_ATTEMPT] += 1
    if s.rq[cpu].nr_running == 1 and s.rq[p_rq].nr_running == 1:
        ys[YS_YT_ESRCH] += 1
        return -1
    if s.task[curr].cls != CLS_FAIR or s.task[p].cls != s.task[curr].cls:
        ys[YS_YT_CLASS] += 1            # RT has no yield_to_task; or a different class
        return 0
    if s.rq[p_rq].curr == p:
        ys[YS_YT_RUNNING] += 1          # task_on_cpu
        return 0
    if s.task[p].state != TS_RUNNABLE:
        ys[YS_YT_NOT_RUNNABLE] += 1     # not TASK_RUNNING (e.g. blocked in kvm_vcpu_block)
        return 0
    if not yield_to_task_fair(s, cpu, p):
        ys[YS_YT_NOT_QUEUED] += 1
        return 0
    ys[YS_YT_OK] += 1
    if p_rq != cpu:
        s.fa.resched[p_rq] |= RESCHED_NOW       # resched_curr(p_rq), not lazy
        resched_deliver(s, p_rq, False)
    schedule(s, cpu)
    if p_rq == cpu:
        ys[YS_YT_SAME_RQ] += 1
        if s.rq[cpu].curr == p:
            ys[YS_YT_SAME_RQ_PICKED] += 1
    return 1

# ---------------------------------------------------------------- kvm_vcpu_on_spin
cdef enum:
    CAND_VANILLA = 0
    CAND_IPI = 1
    CAND_PENDING = 2
    CAND_KERNEL = 3
    CAND_RELAXED = 4

cdef inline bint boost_is_useful(Sim* s, s32 me, s32 v) noexcept nogil:
    # Ground truth KVM cannot see: does vCPU v run what the spinner on `me` waits for (the holder
    # of its lock, or a pending handler for its IPI)?
    cdef s32 t = s.rq[s.vcpu[me].rq].curr
    cdef s32 h, j
    cdef vcpu_t* c = &s.vcpu[v]
    if t < 0:
        return False
    if s.task[t].sync.state == SYNC_LOCK_SPIN or s.task[t].sync.state == SYNC_LOCK_HALT:
        h = s.locks[s.task[t].sync.lock].owner
        if h < 0:
            h = s.locks[s.task[t].sync.lock].head      # a free lock waits for its queue head
        return h >= 0 and s.rq[s.task[h].cpu].vcpu == v and s.rq[s.task[h].cpu].curr == h
    if s.task[t].sync.state == SYNC_IPI_WAIT:
        for j in range(c.gsync.ipi_n):
            if s.ipi_ring[c.gsync.ipi_ring + (c.gsync.ipi_head + j) % c.gsync.ipi_cap] == t:
                return True
    return False

cdef inline int boost_stat(int kind) noexcept nogil:
    if kind == CAND_IPI:
        return YS_BOOST_IPI
    if kind == CAND_PENDING:
        return YS_BOOST_PENDING
    if kind == CAND_KERNEL:
        return YS_BOOST_KERNEL
    if kind == CAND_RELAXED:
        return YS_BOOST_RELAXED
    return YS_BOOST_VANILLA

cdef void kvm_vcpu_on_spin(Sim* s, s32 me) noexcept nogil:
    # v6.12+ single loop (kvm_main.c), with the series' IPI-aware selection (patch 9), the relaxed
    # round (patch 10) and the last_boosted_vcpu fix (patch 6; v6.12-v6.18 store the loop index i).
    # The patch applies its three tiers as one filter inside the round-robin scan; prio_order makes
    # the strict round three scans instead (receiver first, then pending interrupt, then kernel).
    cdef vcpu_t* mc = &s.vcpu[me]
    cdef vm_t* vm = &s.vm[mc.vm]
    cdef s32 n = vm.nvcpu
    cdef s32 base = vm.vcpu_base
    cdef s32 me_idx = me - base
    cdef s32 start, i, idx, tries = 3
    cdef int yielded = 0
    cdef int kind, pss, npass
    cdef bint first = True
    cdef bint stop = False
    cdef bint useful
    cdef vcpu_t* c
    vm.ys[YS_ON_SPIN] += 1
    if n < 2:
        return
    mc.in_spin_loop = 1
    while True:
        npass = 3 if (first and vm.ipi_yield.aware and vm.ipi_yield.prio_order) else 1
        for pss in range(npass):
            yielded = 0
            start = vm.last_boosted + 1
            for i in range(n):
                idx = (start + i) % n
                if idx == me_idx:
                    continue
                c = &s.vcpu[base + idx]
                if not c.ready:
                    continue
                if c.blocking and not vcpu_dy_runnable(vm, c):
                    continue
                if vm.ipi_yield.aware:
                    if first:
                        # kvm_vcpu_is_good_yield_candidate (yield_to_kernel_mode = true on VMX)
                        if vcpu_is_ipi_receiver(s, vm, mc, idx):
                            kind = CAND_IPI
                        elif vcpu_has_pending_interrupt(vm, c):
                            kind = CAND_PENDING
                        elif c.preempted and c.preempted_in_kernel:
                            kind = CAND_KERNEL
                        else:
                            continue
                        if npass > 1 and kind != CAND_IPI + pss:
                            continue
                    else:
                        if not c.preempted:
                            continue
                        kind = CAND_RELAXED
                else:
                    if c.preempted and not vcpu_has_pending_interrupt(vm, c) and not c.preempted_in_kernel:
                        continue
                    kind = CAND_VANILLA
                if not eligible_for_directed_yield(c):
                    continue
                useful = boost_is_useful(s, me, base + idx)
                yielded = yield_to(s, mc.host_cpu, c.task)
                if yielded > 0:
                    vm.last_boosted = idx if (vm.fix_lb or vm.ipi_yield.aware) else i
                    mc.nr_yield_ok += 1
                    vm.ys[boost_stat(kind)] += 1
                    if useful:
                        vm.ys[YS_BOOST_USEFUL] += 1
                    if kind == CAND_IPI and c.gsync.ipi_n == 0 and not c.gsync.irq_active:
                        vm.ys[YS_BOOST_IPI_STALE] += 1     # its IPI was already handled (EOI unseen)
                    stop = True
                    break
                mc.nr_yield_fail += 1
                if yielded < 0:
                    tries -= 1
                    if tries == 0:
                        stop = True
                        break
            if stop:
                break
        stop = yielded > 0
        if not stop and vm.ipi_yield.aware and vm.ipi_yield.relaxed and first:
            first = False
            vm.ys[YS_RELAXED_ROUND] += 1
            continue
        break
    if yielded <= 0:
        vm.ys[YS_NO_BOOST] += 1
    mc.in_spin_loop = 0
    mc.dy_eligible = 0

# ---------------------------------------------------------------- vCPU debooster
cdef inline u64 deboost_cap(u64 gran, u32 nr, int curve) noexcept nogil:
    # Upper bound of the penalty by the number of entities queued at the LCA.
    if curve == DBST_CURVE_LINEAR:
        if nr <= 2:
            return gran * 6
        if nr > 12:
            return gran
        return gran * (60 - 5 * (nr - 2)) // 10      # 6.0x at 2, -0.5x per entity, 1.0x at 12
    if nr <= 2:
        return gran * 6
    if nr == 3:
        return gran * 4
    if nr <= 6:
        return (gran * 5) // 2
    if nr <= 8:
        return gran * 2
    if nr <= 12:
        return (gran * 3) // 2
    return gran

cdef inline u64 deboost_floor(u64 gran, u32 nr) noexcept nogil:
    # The patch's baseline push when there is no fairness gap (never above gran, so after the
    # clamp to [gran, cap] it cannot change the result; kept for fidelity).
    if nr == 3:
        return (gran * 15) // 16
    if 4 <= nr <= 6:
        return (gran * 5) // 8
    if 7 <= nr <= 8:
        return gran // 2
    if 9 <= nr <= 12:
        return (gran * 3) // 8
    if nr > 12:
        return gran // 4
    return gran

cdef inline u64 deboost_penalty(u64 gran, u64 need, u32 nr, bint reverse, int curve) noexcept nogil:
    # yield_deboost_calculate_penalty: gran + 1.1 x need, debounced to max(need, gran) on a
    # reverse pair, clamped to [gran, cap(nr)]. Saturating u64 arithmetic throughout.
    cdef u64 U64_MAX = ~(<u64>0)
    cdef u64 penalty, weighted, alt, maxp, base
    if gran > U64_MAX // 8:
        gran = U64_MAX // 8
    penalty = gran
    if need:
        weighted = need + need // 10 if need <= U64_MAX - need // 10 else U64_MAX
        if weighted > U64_MAX - penalty:
            weighted = U64_MAX - penalty
        penalty += weighted
    if reverse:
        alt = need if need > gran else gran
        if penalty > alt:
            penalty = alt
    maxp = deboost_cap(gran, nr, curve)
    if penalty < gran:
        penalty = gran
    if penalty > maxp:
        penalty = maxp
    if need == 0:
        base = deboost_floor(gran, nr)
        if penalty < base:
            penalty = base
    return penalty

cdef void deboost_apply(FairArena* a, cfs_rq_t* cfs, s32 n, u64 penalty) noexcept nogil:
    # yield_deboost_apply_penalty (v1): vruntime += penalty, deadline = vruntime + vslice,
    # vlag = V - vruntime, update_min_vruntime. The yielder's entity is curr at its level (not in
    # the tree, so (S, W) are untouched); a queued entity is taken out of the tree and re-inserted
    # so that the sums and the augmented tree stay exact. vruntime is u64 modular: adding a bounded
    # penalty is always safe (the patch's raw `vruntime > U64_MAX - penalty` test would refuse it
    # right after v6.15 starts min_vruntime at -2^20; pvsched bounds the penalty instead).
    cdef sched_entity* se = &a.se[n]
    cdef bint curr = cfs.curr == n
    if not curr:
        __dequeue_entity(a, cfs, n)
    se.vruntime += penalty
    se.deadline = se.vruntime + calc_delta_fair(se.slice, se)
    if not curr:
        __enqueue_entity(a, cfs, n)
    se.vlag = <s64>(avg_vruntime(a, cfs) - se.vruntime)
    update_min_vruntime(a, cfs)

cdef void yield_to_deboost(Sim* s, s32 cpu, s32 p) noexcept nogil:
    # Called from yield_to_task_fair between set_next_buddy and yield_task_fair.
    cdef FairArena* a = &s.fa
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 y = rq.curr
    cdef u64* ys = ys_of_task(s, y)
    cdef s32 ya, ta
    cdef cfs_rq_t* cfs
    cdef bint limited, reverse
    cdef u64 gran, need, penalty
    cdef s64 d
    # per-rq rate limiter (v2: one pass per window; v1: the timestamp moves on every call)
    limited = rq.dbst.last != 0 and s.now - rq.dbst.last <= s.dbst.rate_ns
    if s.dbst.rl_every or not limited:
        rq.dbst.last = s.now
    if limited:
        ys[YS_DB_RATE_LIMITED] += 1
        return
    if y < 0 or y == p or s.task[p].cls != CLS_FAIR:
        ys[YS_DB_SKIPPED] += 1
        return
    if s.task[p].cpu != cpu:
        ys[YS_DB_CROSS_RQ] += 1         # the debooster acts only on a target in the same rq
        return
    ya = s.task[y].se
    ta = s.task[p].se
    if not a.se[ya].on_rq or not a.se[ta].on_rq:
        ys[YS_DB_SKIPPED] += 1
        return
    find_matching_se(a, &ya, &ta)
    if ya < 0 or ta < 0 or a.se[ya].cfs_rq != a.se[ta].cfs_rq:
        ys[YS_DB_SKIPPED] += 1
        return
    cfs = &a.cfs[a.se[ya].cfs_rq]
    if cfs.nr_queued <= 1 or a.se[ya].slice == 0:
        ys[YS_DB_SKIPPED] += 1
        return
    if cfs.curr != ya:
        update_curr(a, cfs)
    gran = calc_delta_fair(a.kp[0].base_slice_ns, &a.se[ya])
    d = <s64>(a.se[ta].vruntime - a.se[ya].vruntime)     # wrap-safe fairness gap
    need = <u64>d if d > 0 else 0
    reverse = (rq.dbst.src == p and rq.dbst.dst == y and s.now - rq.dbst.pair_time <= s.dbst.debounce_ns)
    penalty = deboost_penalty(gran, need, cfs.nr_queued, reverse, s.dbst.curve)
    if reverse:
        ys[YS_DB_DEBOUNCED] += 1
    rq.dbst.src = y
    rq.dbst.dst = p
    rq.dbst.pair_time = s.now
    deboost_apply(a, cfs, ya, penalty)
    ys[YS_DB_APPLIED] += 1
    ys[YS_DB_PENALTY_NS] += penalty
