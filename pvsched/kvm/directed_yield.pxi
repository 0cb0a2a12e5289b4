# Pause-loop exiting and directed yield (arch/x86/kvm/vmx.c, virt/kvm/kvm_main.c, Linux v6.15):
# the per-vCPU flags the preempt notifiers keep (ready, preempted_in_kernel), the PLE window,
# handle_pause, kvm_vcpu_on_spin's candidate scan and the KVM_HC_SCHED_YIELD hypercall.

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

cdef void kvm_sched_out(Sim* s, s32 v) noexcept nogil:
    # kvm_sched_out (+ kvm_arch_vcpu_put): a runnable thread is preempted -> ready, and x86 records
    # preempted_in_kernel; a blocking thread is left "blocking" (rcuwait) until it runs again.
    cdef vcpu_t* vc = &s.vcpu[v]
    if s.task[vc.task].state == TS_SLEEPING:
        vc.blocking = 1
    else:
        vc.ready = 1
        vc.preempted_in_kernel = guest_in_kernel(s, v)
    hook_sched_out(s, v)

cdef void kvm_sched_in(Sim* s, s32 v) noexcept nogil:
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
    hook_sched_in(s, v)

# ---------------------------------------------------------------- PLE

cdef inline s64 ple_window_ns(vm_t* vm, u64 cycles) noexcept nogil:
    # cycles at the guest TSC frequency -> ns (cycles <= UINT_MAX, khz >= 1: no overflow)
    return <s64>((cycles * <u64>1000000 + <u64>vm.cpu_khz - 1) // <u64>vm.cpu_khz)

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
    cdef u64 old_window = vc.ple_window
    vm.ys[YS_PLE] += 1
    vc.nr_ple += 1
    vcpu_exit(s, v, EXIT_PLE, vm.exit_ns)
    grow_ple_window(vm, vc)
    trace_event(s, TR_PLE, vc.host_cpu, v, <s32>(old_window if old_window < 0x7FFFFFFF else 0x7FFFFFFF),
                <s64>vc.ple_window)
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

# ---------------------------------------------------------------- kvm_vcpu_on_spin

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

cdef int spin_scan(Sim* s, s32 me, int rnd, s32* tries) noexcept nogil:
    # One round-robin scan from last_boosted_vcpu + 1 (v6.12+ single loop, kvm_main.c): each
    # candidate that is ready (and, if it blocked, has an event) is classified (HOOK_ON_SPIN, or the
    # stock rule), passes the in-spin-loop eligibility toggle, and is offered to yield_to. Returns
    # the last yield_to result (0 if none was tried); three -ESRCH end the scan.
    cdef vcpu_t* mc = &s.vcpu[me]
    cdef vm_t* vm = &s.vm[mc.vm]
    cdef s32 n = vm.nvcpu
    cdef s32 base = vm.vcpu_base
    cdef s32 me_idx = me - base
    cdef s32 start = vm.last_boosted + 1
    cdef s32 i, idx
    cdef int kind
    cdef int yielded = 0
    cdef bint useful
    cdef vcpu_t* c
    for i in range(n):
        idx = (start + i) % n
        if idx == me_idx:
            continue
        c = &s.vcpu[base + idx]
        if not c.ready:
            continue
        if c.blocking and not vcpu_dy_runnable(vm, c):
            continue
        kind = hook_spin_classify(s, me, c, idx, rnd)
        if kind < 0:
            continue
        if not eligible_for_directed_yield(c):
            continue
        useful = boost_is_useful(s, me, base + idx)
        yielded = yield_to(s, mc.host_cpu, c.task)
        if yielded > 0:
            # v6.19 (and the IPI-aware series, patch 6) store the boosted vCPU's index;
            # v6.12-v6.18 store the loop count i
            vm.last_boosted = idx if vm.fix_lb else i
            mc.nr_yield_ok += 1
            vm.ys[boost_stat(kind)] += 1
            if useful:
                vm.ys[YS_BOOST_USEFUL] += 1
            if kind == CAND_IPI and c.gsync.ipi_n == 0 and not c.gsync.irq_active:
                vm.ys[YS_BOOST_IPI_STALE] += 1     # its IPI was already handled (EOI unseen)
            break
        mc.nr_yield_fail += 1
        if yielded < 0:
            tries[0] -= 1
            if tries[0] == 0:
                break
    return yielded

cdef void kvm_vcpu_on_spin(Sim* s, s32 me) noexcept nogil:
    # kvm_vcpu_on_spin: scan rounds until one boosts a vCPU. Stock KVM runs one round; a policy
    # at HOOK_ON_SPIN classifies the candidates and may ask for more rounds (the IPI-aware
    # policy's tiers and relaxed round).
    cdef vcpu_t* mc = &s.vcpu[me]
    cdef vm_t* vm = &s.vm[mc.vm]
    cdef s32 tries = 3
    cdef int yielded = 0
    cdef int rnd = 0
    vm.ys[YS_ON_SPIN] += 1
    if vm.nvcpu < 2:
        return
    mc.in_spin_loop = 1
    while rnd >= 0:
        yielded = spin_scan(s, me, rnd, &tries)
        rnd = hook_spin_next_round(s, me, rnd, yielded, tries == 0)
    if yielded <= 0:
        vm.ys[YS_NO_BOOST] += 1
    mc.in_spin_loop = 0
    mc.dy_eligible = 0

# ---------------------------------------------------------------- KVM_HC_SCHED_YIELD

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


# ---------------------------------------------------------------- building and results
UINT_MAX = 4294967295
YS_NAMES = (
    "lock_acquisitions", "lock_contended", "lock_steals", "critical_sections", "lock_wait_ns",
    "pv_halts", "pv_kicks", "spin_ns", "ipi_sent", "ipi_round_trips", "ipi_rtt_sum_ns", "ipi_rtt_max_ns",
    "ipi_tracked", "eoi_clear_receiver", "eoi_clear_sender", "ple_exits", "on_spin", "on_spin_no_boost",
    "relaxed_rounds", "yield_to_attempts", "yield_to_ok", "yield_to_esrch", "yield_to_class",
    "yield_to_running", "yield_to_not_runnable", "yield_to_not_queued", "boost_ipi_receiver",
    "boost_pending_irq", "boost_kernel", "boost_relaxed", "boost_vanilla", "boost_ipi_stale",
    "deboost_applied", "deboost_debounced", "deboost_rate_limited", "deboost_cross_rq", "deboost_skipped",
    "deboost_penalty_ns", "ipi_handled", "yield_to_same_rq", "yield_to_same_rq_picked", "boost_useful",
    "sched_yield_hypercalls", "sched_yield_ok")

assert len(YS_NAMES) == YS_N


cdef int directed_yield_build(Sim* s, list vms) except -1:
    # VMX PLE module parameters per VM (a ple_gap of 0 disables PLE) and the guest TSC frequency.
    cdef s32 k, v
    cdef vm_t* vm
    for k in range(s.nvm):
        d = vms[k]
        vm = &s.vm[k]
        gap = int(d.get("ple_gap", 128))
        win = int(d.get("ple_window", 4096))
        grow = int(d.get("ple_window_grow", 2))
        shrink = int(d.get("ple_window_shrink", 0))
        wmax = int(d.get("ple_window_max", UINT_MAX))
        khz = int(d.get("guest_cpu_khz", 2_000_000))
        if not (0 <= gap <= UINT_MAX and 1 <= win <= UINT_MAX and 0 <= grow <= UINT_MAX and 0 <= shrink <= UINT_MAX
                and win <= wmax <= UINT_MAX and 1_000 <= khz <= 100_000_000):
            raise ValueError(f"vm {k}: PLE parameters out of range")
        vm.ple = bool(d.get("ple", True)) and gap > 0
        vm.ple_gap = gap
        vm.ple_window_base = win
        vm.ple_grow = grow
        vm.ple_shrink = shrink
        vm.ple_max = wmax
        vm.cpu_khz = khz
        vm.fix_lb = bool(dict(d.get("yield", {}) or {}).get("fix_last_boosted", False))
        vm.last_boosted = 0
    for v in range(s.nvcpu):
        s.vcpu[v].ple_window = s.vm[s.vcpu[v].vm].ple_window_base
    return 0


cdef void directed_yield_results(Sim* s, dict out, dict vc):
    # Per-vCPU PLE / yield columns, the per-VM counters (YS_*) and those of host yielders.
    cdef s32 v, k, j
    cols = {k2: np.zeros(s.nvcpu, dtype=np.int64) for k2 in (
        "ple_window", "ple_exits", "yield_ok", "yield_fail", "ready", "preempted_in_kernel")}
    for v in range(s.nvcpu):
        cols["ple_window"][v] = s.vcpu[v].ple_window
        cols["ple_exits"][v] = s.vcpu[v].nr_ple
        cols["yield_ok"][v] = s.vcpu[v].nr_yield_ok
        cols["yield_fail"][v] = s.vcpu[v].nr_yield_fail
        cols["ready"][v] = s.vcpu[v].ready
        cols["preempted_in_kernel"][v] = s.vcpu[v].preempted_in_kernel
    vc.update(cols)
    vmt = {name: np.zeros(s.nvm, dtype=np.int64) for name in YS_NAMES}
    for k in range(s.nvm):
        for j, name in enumerate(YS_NAMES):
            vmt[name][k] = <s64>s.vm[k].ys[j]
    out["vm"] = vmt
    out["host_yield"] = {name: <s64>s.ys_host[j] for j, name in enumerate(YS_NAMES)}
