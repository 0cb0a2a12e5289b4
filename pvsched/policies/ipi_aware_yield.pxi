# IPI-aware directed yield (the KVM half of the 2025 yield series, patches 6-10): the ipi_context
# record of unicast fixed IPIs, its two-stage clearing at EOI, and kvm_vcpu_is_ipi_receiver.

cdef void ipi_track(Sim* s, s32 vs, s32 vt) noexcept nogil:
    # kvm_track_ipi_communication: sender-side fields and the receiver's last_ipi_sender.
    cdef vm_t* vm = &s.vm[s.vcpu[vs].vm]
    s.vcpu[vs].ipi.last_receiver = vt - vm.vcpu_base
    s.vcpu[vs].ipi.pending = 1
    s.vcpu[vs].ipi.time = s.now
    s.vcpu[vt].ipi.last_sender = vs - vm.vcpu_base
    vm.ys[YS_IPI_TRACKED] += 1

cdef void ipi_eoi_clear(Sim* s, s32 v) noexcept nogil:
    # kvm_clear_ipi_on_eoi: (1) always clear the receiver's context; (2) clear the sender's pending
    # flag only if the sender's last receiver is this vCPU and the IPI is within the window.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 sender = vc.ipi.last_sender
    cdef vcpu_t* sd
    vc.ipi.pending = 0
    vc.ipi.last_sender = -1
    vc.ipi.last_receiver = -1
    vm.ys[YS_EOI_CLR_RECV] += 1
    if sender >= 0:
        sd = &s.vcpu[vm.vcpu_base + sender]
        if sd.ipi.last_receiver == v - vm.vcpu_base and s.now - sd.ipi.time <= vm.ipi_yield.window_ns:
            sd.ipi.pending = 0
            vm.ys[YS_EOI_CLR_SEND] += 1

cdef inline bint vcpu_is_ipi_receiver(Sim* s, vm_t* vm, vcpu_t* me, s32 idx) noexcept nogil:
    # kvm_vcpu_is_ipi_receiver: me sent its last IPI to idx, it is not EOI'd, and it is recent.
    return (vm.ipi_yield.tracking != 0 and me.ipi.pending != 0 and me.ipi.last_receiver == idx
            and s.now - me.ipi.time <= vm.ipi_yield.window_ns)

# ---------------------------------------------------------------- hook points (policies/hooks.pxd)
cdef enum:
    IPI_AWARE_YIELD_POINTS = HOOK_VCPU_EXIT | HOOK_IPI | HOOK_ON_SPIN
    RELAXED_ROUND = 3       # rounds 0..2: the strict tiers (one scan, or three with prio_order)

cdef void ipi_aware_ipi(Sim* s, s32 vs, s32 vt, bint unicast) noexcept nogil:
    if unicast and s.vm[s.vcpu[vs].vm].ipi_yield.tracking:
        ipi_track(s, vs, vt)

cdef void ipi_aware_vcpu_exit(Sim* s, s32 v, int reason) noexcept nogil:
    if reason == EXIT_EOI and s.vm[s.vcpu[v].vm].ipi_yield.tracking:
        ipi_eoi_clear(s, v)

cdef int ipi_aware_classify(Sim* s, s32 me, s32 idx, int rnd) noexcept nogil:
    # kvm_vcpu_is_good_yield_candidate (yield_to_kernel_mode = true on VMX): the strict round takes
    # a confirmed IPI receiver, a vCPU with a visible pending interrupt, or one preempted in kernel
    # mode (with prio_order, round r takes tier r only); the relaxed round any preempted vCPU.
    cdef vcpu_t* mc = &s.vcpu[me]
    cdef vm_t* vm = &s.vm[mc.vm]
    cdef vcpu_t* c = &s.vcpu[vm.vcpu_base + idx]
    cdef int kind
    if rnd == RELAXED_ROUND:
        return CAND_RELAXED if c.preempted else CAND_SKIP
    if vcpu_is_ipi_receiver(s, vm, mc, idx):
        kind = CAND_IPI
    elif vcpu_has_pending_interrupt(vm, c):
        kind = CAND_PENDING
    elif c.preempted and c.preempted_in_kernel:
        kind = CAND_KERNEL
    else:
        return CAND_SKIP
    if vm.ipi_yield.prio_order and kind != CAND_IPI + rnd:
        return CAND_SKIP
    return kind

cdef int ipi_aware_next_round(Sim* s, s32 me, int rnd, int yielded, bint exhausted) noexcept nogil:
    # prio_order: the next tier's scan unless this one boosted or ran out of tries; then the
    # relaxed round (patch 10) if enabled and nothing was boosted.
    cdef vm_t* vm = &s.vm[s.vcpu[me].vm]
    if yielded > 0 or rnd == RELAXED_ROUND:
        return -1
    if vm.ipi_yield.prio_order and rnd < 2 and not exhausted:
        return rnd + 1
    if vm.ipi_yield.relaxed:
        vm.ys[YS_RELAXED_ROUND] += 1
        return RELAXED_ROUND
    return -1


CANDIDATE_ORDERS = ("scan", "priority")


cdef int ipi_aware_yield_build(Sim* s, list vms) except -1:
    cdef s32 k, v
    cdef vm_t* vm
    for k in range(s.nvm):
        y = dict(vms[k].get("yield", {}) or {})
        vm = &s.vm[k]
        iwin = int(y.get("ipi_window_ns", 50_000_000))
        order = y.get("candidate_order", "scan")
        if not (0 <= iwin <= 10**12 and order in CANDIDATE_ORDERS):
            raise ValueError(f"vm {k}: yield parameters out of range")
        vm.ipi_yield.aware = bool(y.get("ipi_aware", False))
        vm.ipi_yield.relaxed = bool(y.get("relaxed_round", True))
        vm.ipi_yield.tracking = bool(y.get("ipi_tracking", True))
        vm.ipi_yield.window_ns = iwin
        vm.ipi_yield.prio_order = order == "priority"
        if vm.ipi_yield.aware:
            s.kern[vm.kern].policies |= POL_IPI_AWARE_YIELD
            vm.fix_lb = 1           # patch 6 of the series: last_boosted_vcpu stores the vCPU index
    for v in range(s.nvcpu):
        s.vcpu[v].ipi.last_receiver = -1
        s.vcpu[v].ipi.last_sender = -1
    return 0

cdef class IpiContext:
    """The per-vCPU ``ipi_context`` records of one VM with ``nvcpu`` vCPUs, driven by the engine's
    own C functions: :meth:`deliver` (unicast fixed IPI, kvm_track_ipi_communication), :meth:`eoi`
    (kvm_clear_ipi_on_eoi, two stages), :meth:`is_receiver` (kvm_vcpu_is_ipi_receiver).

    >>> c = IpiContext(4); c.deliver(0, 2); c.is_receiver(0, 2), c.is_receiver(0, 1)
    (True, False)
    >>> c.advance(50_000_001); c.is_receiver(0, 2)       # older than the 50 ms window
    False
    """
    cdef Sim s
    cdef vm_t vm
    cdef vcpu_t* vc
    cdef s32 n

    def __cinit__(self):
        memset(&self.s, 0, sizeof(Sim))
        memset(&self.vm, 0, sizeof(vm_t))
        self.vc = NULL

    def __init__(self, int nvcpu=2, long long window_ns=50_000_000):
        cdef s32 v
        if not 2 <= nvcpu <= 4096 or window_ns < 0:
            raise ValueError("nvcpu must be 2..4096 and window_ns >= 0")
        self.n = nvcpu
        self.vc = <vcpu_t*>calloc(nvcpu, sizeof(vcpu_t))
        if not self.vc:
            raise MemoryError()
        self.vm.nvcpu = nvcpu
        self.vm.ipi_yield.tracking = 1
        self.vm.ipi_yield.aware = 1
        self.vm.ipi_yield.window_ns = window_ns
        self.s.vm = &self.vm
        self.s.vcpu = self.vc
        self.s.nvm = 1
        self.s.nvcpu = nvcpu
        for v in range(nvcpu):
            self.vc[v].ipi.last_receiver = -1
            self.vc[v].ipi.last_sender = -1

    def __dealloc__(self):
        free(self.vc)

    cdef s32 _v(self, long long v) except -1:
        if not 0 <= v < self.n:
            raise ValueError(f"no vCPU {v}")
        return <s32>v

    def advance(self, long long ns):
        if ns < 0:
            raise ValueError("ns must be >= 0")
        self.s.now += ns

    def deliver(self, sender, receiver):
        cdef s32 a = self._v(sender), b = self._v(receiver)
        if a == b:
            raise ValueError("a self-IPI is not tracked")
        ipi_track(&self.s, a, b)

    def eoi(self, receiver):
        ipi_eoi_clear(&self.s, self._v(receiver))

    def is_receiver(self, sender, receiver):
        return vcpu_is_ipi_receiver(&self.s, &self.vm, &self.vc[self._v(sender)], self._v(receiver))

    def state(self, v):
        cdef vcpu_t* c = &self.vc[self._v(v)]
        return {"last_ipi_receiver": c.ipi.last_receiver, "last_ipi_sender": c.ipi.last_sender,
                "pending_ipi": bool(c.ipi.pending), "ipi_time_ns": c.ipi.time}

    @property
    def counters(self):
        return {"tracked": self.vm.ys[YS_IPI_TRACKED], "eoi_clear_receiver": self.vm.ys[YS_EOI_CLR_RECV],
                "eoi_clear_sender": self.vm.ys[YS_EOI_CLR_SEND]}

cdef inline s64 mono_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <s64>ts.tv_sec * 1000000000 + ts.tv_nsec

def bench_ipi_context(long long n, int nvcpu=16):
    """Time ``n`` IPI round trips through the ipi_context hot path (delivery record, receiver
    check, two-stage EOI clear) in C. Returns elapsed ns (divide by n for ns/op)."""
    cdef IpiContext c = IpiContext(nvcpu)
    cdef long long i
    cdef s32 a, b
    cdef u64 hits = 0
    cdef s64 t0, t1
    if n < 1:
        raise ValueError("n must be >= 1")
    with nogil:
        t0 = mono_ns()
        for i in range(n):
            c.s.now += 1000
            a = <s32>(i % nvcpu)
            b = <s32>((i * 7 + 1) % nvcpu)
            if b == a:
                b = (a + 1) % nvcpu
            ipi_track(&c.s, a, b)
            hits += vcpu_is_ipi_receiver(&c.s, &c.vm, &c.vc[a], b)
            ipi_eoi_clear(&c.s, b)
        t1 = mono_ns()
    if hits != <u64>n:
        raise AssertionError("ipi_context benchmark lost records")
    return t1 - t0
