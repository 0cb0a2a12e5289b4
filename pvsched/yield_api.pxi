# Seed 002 glue: Engine setup and results for guest sync + directed yield (called from engine.pxi),
# and Python entry points (pvsched.kernel) that run the same C code step by step: the debooster's
# penalty rules, the PLE window rules, the ipi_context record, kvm_vcpu_on_spin on a live engine,
# and hot-path micro-benchmarks.
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

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
LOCK_KINDS = {"queued": LOCK_QUEUED, "ticket": LOCK_TICKET, "tas": LOCK_TAS}
DEBOOST_CURVES = {"steps": DBST_CURVE_STEPS, "linear": DBST_CURVE_LINEAR}
CANDIDATE_ORDERS = ("scan", "priority")
WORK_FLAGS = {"exp": WORK_EXP, "kernel": WORK_KERNEL}
OPS.update({"lock": OP_LOCK, "unlock": OP_UNLOCK, "ipi": OP_IPI, "work": OP_WORK})
UINT_MAX = 4294967295


cdef int sync_setup(Sim* s, vms, debooster, long long[:, :] opsv, long long[:] tkern, long long[:] tps,
                    long long[:] tpl) except -1:
    cdef s32 k, i, n, v, code, nlock_total = 0, ring_total = 0, L
    cdef vm_t* vm
    cdef vcpu_t* vc
    vms = list(vms)
    db = dict(debooster or {})
    curve = db.get("curve", "steps")
    mode = db.get("rate_limit_mode", "v1")
    rate = int(db.get("rate_limit_ns", 6_000_000))
    debounce = int(db.get("debounce_ns", 600_000))
    if curve not in DEBOOST_CURVES or mode not in ("v1", "v2") or not 0 <= rate <= 10**12 \
            or not 0 <= debounce <= 10**12:
        raise ValueError(f"debooster parameters out of range: {db}")
    s.dbst_on = bool(db.get("enabled", False))
    s.dbst_curve = DEBOOST_CURVES[curve]
    s.dbst_rl_every = mode == "v1"
    s.dbst_rate_ns = rate
    s.dbst_debounce_ns = debounce
    ntask_vm = [0] * max(s.nvm, 1)
    for i in range(s.ntask):
        if tkern[i] > 0 and s.task[i].vcpu < 0:
            ntask_vm[tkern[i] - 1] += 1
    for k in range(s.nvm):
        d = vms[k]
        y = dict(d.get("yield", {}) or {})
        vm = &s.vm[k]
        gap = int(d.get("ple_gap", 128))
        win = int(d.get("ple_window", 4096))
        grow = int(d.get("ple_window_grow", 2))
        shrink = int(d.get("ple_window_shrink", 0))
        wmax = int(d.get("ple_window_max", UINT_MAX))
        khz = int(d.get("guest_cpu_khz", 2_000_000))
        nl = int(d.get("nlocks", 0))
        kind = d.get("spinlock", "queued")
        iwin = int(y.get("ipi_window_ns", 50_000_000))
        order = y.get("candidate_order", "scan")
        if not (0 <= gap <= UINT_MAX and 1 <= win <= UINT_MAX and 0 <= grow <= UINT_MAX and 0 <= shrink <= UINT_MAX
                and win <= wmax <= UINT_MAX and 1_000 <= khz <= 100_000_000 and 0 <= nl <= 1_000_000
                and kind in LOCK_KINDS and 0 <= iwin <= 10**12 and order in CANDIDATE_ORDERS):
            raise ValueError(f"vm {k}: PLE / lock / yield parameters out of range")
        vm.ple = bool(d.get("ple", True)) and gap > 0
        vm.ple_gap = gap
        vm.ple_window_base = win
        vm.ple_grow = grow
        vm.ple_shrink = shrink
        vm.ple_max = wmax
        vm.cpu_khz = khz
        vm.lock_kind = LOCK_KINDS[kind]
        vm.nlock = nl
        vm.lock_base = nlock_total
        if nlock_total > 0x7FFFFFFF - nl:
            raise ValueError("scenario too large: more than 2**31 - 1 guest spinlocks")
        nlock_total += nl
        vm.ipi_aware = bool(y.get("ipi_aware", False))
        vm.relaxed = bool(y.get("relaxed_round", True))
        vm.fix_lb = bool(y.get("fix_last_boosted", False))
        vm.ipi_tracking = bool(y.get("ipi_tracking", True))
        vm.pv_sched_yield = bool(d.get("pv_sched_yield", False))
        vm.ipi_window_ns = iwin
        vm.prio_order = order == "priority"
        vm.last_boosted = 0
        vm.sync_on = 0
    for i in range(s.ntask):
        for n in range(tpl[i]):
            code = <s32>opsv[tps[i] + n, 0]
            if code < OP_LOCK:
                continue
            if code == OP_WORK:
                if opsv[tps[i] + n, 3] & ~(WORK_EXP | WORK_KERNEL):
                    raise ValueError(f"task {i}: work op flags {opsv[tps[i] + n, 3]} unknown")
                continue
            if tkern[i] == 0:
                raise ValueError(f"task {i}: lock and IPI ops run only in guest tasks")
            vm = &s.vm[tkern[i] - 1]
            vm.sync_on = 1
            if code == OP_LOCK and (opsv[tps[i] + n, 3] < 1 or opsv[tps[i] + n, 1] + opsv[tps[i] + n, 3] > vm.nlock):
                raise ValueError(f"task {i}: lock op names locks outside the VM's {vm.nlock}")
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
        for L in range(s.vm[k].lock_base, s.vm[k].lock_base + s.vm[k].nlock):
            s.locks[L].vm = k
            s.locks[L].owner = -1
            s.locks[L].head = -1
            s.locks[L].tail = -1
    ring_total = 0
    for v in range(s.nvcpu):
        vc = &s.vcpu[v]
        vc.ple_window = s.vm[vc.vm].ple_window_base
        vc.ipi_ring = ring_total
        vc.ipi_cap = ntask_vm[vc.vm] + 1
        ring_total += vc.ipi_cap
        vc.ipi_last_receiver = -1
        vc.ipi_last_sender = -1
        vc.sy_target = -1
        vc.spin_task = -1
    for i in range(s.ntask):
        s.task[i].sync_lock = -1
        s.task[i].held_lock = -1
        s.task[i].lock_next = -1
        s.task[i].spin_left = -1
        s.task[i].spin_threshold = -1
    for i in range(s.ncpu):
        s.rq[i].dbst_src = -1
        s.rq[i].dbst_dst = -1
    return 0


cdef void sync_results(Sim* s, dict out, dict vc):
    cdef s32 v, k, j, c
    sync_finalize(s)
    cols = {k2: np.zeros(s.nvcpu, dtype=np.int64) for k2 in (
        "ple_window", "spin_ns", "ple_exits", "yield_ok", "yield_fail", "ipi_handled",
        "ready", "preempted_in_kernel")}
    for v in range(s.nvcpu):
        cols["ple_window"][v] = s.vcpu[v].ple_window
        cols["spin_ns"][v] = s.vcpu[v].spin_ns
        cols["ple_exits"][v] = s.vcpu[v].nr_ple
        cols["yield_ok"][v] = s.vcpu[v].nr_yield_ok
        cols["yield_fail"][v] = s.vcpu[v].nr_yield_fail
        cols["ipi_handled"][v] = s.vcpu[v].nr_ipi_handled
        cols["ready"][v] = s.vcpu[v].ready
        cols["preempted_in_kernel"][v] = s.vcpu[v].preempted_in_kernel
    vc.update(cols)
    vmt = {name: np.zeros(s.nvm, dtype=np.int64) for name in YS_NAMES}
    for k in range(s.nvm):
        for j, name in enumerate(YS_NAMES):
            vmt[name][k] = <s64>s.vm[k].ys[j]
    vmt["nlocks"] = np.array([s.vm[k].nlock for k in range(s.nvm)], dtype=np.int64)
    out["vm"] = vmt
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
    out["host_yield"] = {name: <s64>s.ys_host[j] for j, name in enumerate(YS_NAMES)}


# ---------------------------------------------------------------- pure rules (pvsched.kernel)
def py_deboost_penalty(unsigned long long gran, unsigned long long need, unsigned int nr_queued,
                    bint reverse=False, curve="steps"):
    """The debooster's vruntime penalty (virtual ns) for one yield_to: ``gran`` is
    calc_delta_fair(base_slice) of the yielder's entity at the LCA, ``need`` the fairness gap
    (target vruntime - yielder vruntime, 0 if negative), ``nr_queued`` the entities queued at the
    LCA, ``reverse`` a debounced reverse pair.

    >>> py_deboost_penalty(2_800_000, 0, 2), py_deboost_penalty(2_800_000, 100_000_000, 2)
    (2800000, 16800000)
    >>> py_deboost_penalty(2_800_000, 1_000_000, 2, reverse=True)   # debounced: max(need, gran)
    2800000
    """
    if curve not in DEBOOST_CURVES:
        raise ValueError(f"curve={curve!r} not one of {sorted(DEBOOST_CURVES)}")
    return deboost_penalty(gran, need, nr_queued, reverse, DEBOOST_CURVES[curve])


def deboost_factor(unsigned int nr_queued, curve="steps"):
    """Penalty cap as a multiple of the granularity for ``nr_queued`` entities at the LCA.

    ``steps`` is the patch's table (2: 6.0, 3: 4.0, 4-6: 2.5, 7-8: 2.0, 9-12: 1.5, >12: 1.0);
    ``linear`` interpolates 6.0 at 2 down to 1.0 at 12 (0.5 per entity), 1.0 above.

    >>> [deboost_factor(n) for n in (2, 7, 13)], [deboost_factor(n, "linear") for n in (2, 7, 13)]
    ([6.0, 2.0, 1.0], [6.0, 3.5, 1.0])
    """
    if curve not in DEBOOST_CURVES:
        raise ValueError(f"curve={curve!r} not one of {sorted(DEBOOST_CURVES)}")
    return <double>deboost_cap(1_000_000, nr_queued, DEBOOST_CURVES[curve]) / 1_000_000.0


def ple_window_grow(unsigned long long window, unsigned long long base=4096, unsigned long long modifier=2,
                    unsigned long long maximum=UINT_MAX):
    """``__grow_ple_window`` (vmx.c): the window after a pause-loop exit.

    >>> ple_window_grow(4096), ple_window_grow(3_000_000_000)
    (8192, 4294967295)
    """
    cdef vm_t vm
    cdef vcpu_t vc
    vm.ple_window_base = base
    vm.ple_grow = modifier
    vm.ple_max = maximum
    vc.ple_window = window
    grow_ple_window(&vm, &vc)
    return vc.ple_window


def ple_window_shrink(unsigned long long window, unsigned long long base=4096, unsigned long long modifier=0):
    """``__shrink_ple_window`` (at vcpu_load after the thread was scheduled out); the default
    modifier 0 resets the window to its base.

    >>> ple_window_shrink(65536), ple_window_shrink(65536, modifier=2)
    (4096, 32768)
    """
    cdef Sim s
    cdef vm_t vm
    cdef vcpu_t vc
    memset(&s, 0, sizeof(Sim))
    memset(&vm, 0, sizeof(vm_t))
    memset(&vc, 0, sizeof(vcpu_t))
    vm.ple = 1
    vm.ple_window_base = base
    vm.ple_shrink = modifier
    vc.ple_window = window
    s.vm = &vm
    s.vcpu = &vc
    yield_sched_in(&s, 0)
    return vc.ple_window


def deboost_entity(FairRunqueue rq, entity, unsigned long long penalty):
    """Apply the debooster's penalty to a queued entity of a :class:`FairRunqueue` (curr or in
    the tree): vruntime, deadline, vlag and min_vruntime as ``yield_deboost_apply_penalty``."""
    cdef s32 i = rq._check(entity)
    if not rq.a.se[i].on_rq:
        raise ValueError(f"entity {i} is not queued")
    if penalty > (1 << 40):
        raise ValueError("penalty out of range")
    deboost_apply(&rq.a, &rq.cfs, i, penalty)


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
        self.vm.ipi_tracking = 1
        self.vm.ipi_aware = 1
        self.vm.ipi_window_ns = window_ns
        self.s.vm = &self.vm
        self.s.vcpu = self.vc
        self.s.nvm = 1
        self.s.nvcpu = nvcpu
        for v in range(nvcpu):
            self.vc[v].ipi_last_receiver = -1
            self.vc[v].ipi_last_sender = -1

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
        return {"last_ipi_receiver": c.ipi_last_receiver, "last_ipi_sender": c.ipi_last_sender,
                "pending_ipi": bool(c.ipi_pending), "ipi_time_ns": c.ipi_time}

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


def bench_find_matching_se(Engine engine, int task_a, int task_b, long long n):
    """Time ``n`` cgroup-LCA lookups (find_matching_se) between two tasks queued on one CPU, in C.
    Returns elapsed ns."""
    cdef Sim* s = &engine.s
    cdef s32 a, b, x, y
    cdef long long i
    cdef u64 acc = 0
    cdef s64 t0, t1
    if not (0 <= task_a < s.ntask and 0 <= task_b < s.ntask) or n < 1:
        raise ValueError("bad task index or n")
    if s.task[task_a].cpu != s.task[task_b].cpu or s.task[task_a].kern != 0 or s.task[task_b].kern != 0:
        raise ValueError("find_matching_se needs two host tasks on the same CPU")
    a = s.task[task_a].se
    b = s.task[task_b].se
    with nogil:
        t0 = mono_ns()
        for i in range(n):
            x = a
            y = b
            find_matching_se(&s.fa, &x, &y)
            acc += <u64>(x + y)
        t1 = mono_ns()
    if acc == 0xFFFFFFFFFFFFFFFF:
        print(acc)
    return t1 - t0


# ---------------------------------------------------------------- engine probes (tests, debugging)
def deboost_lca(Engine engine, int task_y, int task_t):
    """The debooster's LCA of two host tasks on one CPU: (yielder entity, target entity, cfs_rq,
    depth, nr_queued there) or None."""
    cdef Sim* s = &engine.s
    cdef s32 a, b
    if not (0 <= task_y < s.ntask and 0 <= task_t < s.ntask) or s.task[task_y].kern or s.task[task_t].kern:
        raise ValueError("no such host task")
    if s.task[task_y].cpu != s.task[task_t].cpu:
        return None
    a = s.task[task_y].se
    b = s.task[task_t].se
    find_matching_se(&s.fa, &a, &b)
    if a < 0 or b < 0 or s.fa.se[a].cfs_rq != s.fa.se[b].cfs_rq:
        return None
    return (a, b, s.fa.se[a].cfs_rq, s.fa.se[a].depth, s.fa.cfs[s.fa.se[a].cfs_rq].nr_queued)


def deboost_call(Engine engine, int cpu, int target_task):
    """Run the debooster once for rq(cpu)->curr yielding to ``target_task`` (as yield_to_task_fair
    would, without the buddy and the yield); returns the counters it changed and the penalty."""
    cdef Sim* s = &engine.s
    cdef u64 before[YS_N]
    cdef u64* ys
    cdef s32 j
    if not (0 <= cpu < s.ncpu and 0 <= target_task < s.ntask) or s.rq[cpu].curr < 0:
        raise ValueError("no current task on that CPU, or no such task")
    ys = ys_of_task(s, s.rq[cpu].curr)
    for j in range(YS_N):
        before[j] = ys[j]
    yield_to_deboost(s, cpu, target_task)
    return {YS_NAMES[j]: <s64>(ys[j] - before[j]) for j in range(YS_N) if ys[j] != before[j]}


_VCPU_FLAGS = ("ready", "blocking", "preempted", "preempted_in_kernel", "in_spin_loop", "dy_eligible",
               "pv_unhalted", "pending_irq", "ipi_pending", "ipi_last_receiver", "ipi_last_sender",
               "ipi_time", "ple_window")


def yield_vcpu_state(Engine engine, int v, **set_flags):
    """Read (and, for tests, overwrite) a vCPU's directed-yield flags; returns them as a dict."""
    cdef Sim* s = &engine.s
    cdef vcpu_t* c
    if not 0 <= v < s.nvcpu:
        raise ValueError(f"no vCPU {v}")
    c = &s.vcpu[v]
    for k, val in set_flags.items():
        if k not in _VCPU_FLAGS:
            raise ValueError(f"unknown flag {k!r}; known: {_VCPU_FLAGS}")
        val = int(val)
        if k in ("ipi_last_receiver", "ipi_last_sender"):
            if not -1 <= val < s.vm[c.vm].nvcpu:
                raise ValueError(f"{k}={val} is not a vCPU of this VM (or -1)")
        elif k == "ipi_time":
            if not 0 <= val <= s.now:
                raise ValueError("ipi_time must be in [0, now]")
        elif k == "ple_window":
            if not s.vm[c.vm].ple_window_base <= val <= s.vm[c.vm].ple_max:
                raise ValueError("ple_window must lie between the VM's base and max windows")
        elif val not in (0, 1):
            raise ValueError(f"{k} is a flag (0 or 1)")
        if k == "ready": c.ready = val
        elif k == "blocking": c.blocking = val
        elif k == "preempted": c.preempted = val
        elif k == "preempted_in_kernel": c.preempted_in_kernel = val
        elif k == "in_spin_loop": c.in_spin_loop = val
        elif k == "dy_eligible": c.dy_eligible = val
        elif k == "pv_unhalted": c.pv_unhalted = val
        elif k == "pending_irq": c.pending_irq = val
        elif k == "ipi_pending": c.ipi_pending = val
        elif k == "ipi_last_receiver": c.ipi_last_receiver = val
        elif k == "ipi_last_sender": c.ipi_last_sender = val
        elif k == "ipi_time": c.ipi_time = val
        elif k == "ple_window": c.ple_window = val
    return {"ready": c.ready, "blocking": c.blocking, "preempted": c.preempted,
            "preempted_in_kernel": c.preempted_in_kernel, "in_spin_loop": c.in_spin_loop,
            "dy_eligible": c.dy_eligible, "pv_unhalted": c.pv_unhalted, "pending_irq": c.pending_irq,
            "ipi_pending": c.ipi_pending, "ipi_last_receiver": c.ipi_last_receiver,
            "ipi_last_sender": c.ipi_last_sender, "ipi_time": c.ipi_time, "ple_window": c.ple_window,
            "mode": VCPU_MODES[c.mode - 1] if c.mode else "off", "task": c.task, "host_cpu": c.host_cpu}


def yield_on_spin(Engine engine, int v):
    """Run kvm_vcpu_on_spin for vCPU ``v`` (its thread must be current on its pCPU). Returns
    {"boosted": vCPU index within the VM or None, "kind": candidate class, "counters": changes}."""
    cdef Sim* s = &engine.s
    cdef vm_t* vm
    cdef u64 before[YS_N]
    cdef s32 j
    if not 0 <= v < s.nvcpu:
        raise ValueError(f"no vCPU {v}")
    if s.rq[s.vcpu[v].host_cpu].curr != s.vcpu[v].task:
        raise ValueError(f"vCPU {v} is not running")
    vm = &s.vm[s.vcpu[v].vm]
    for j in range(YS_N):
        before[j] = vm.ys[j]
    kvm_vcpu_on_spin(s, v)
    delta = {YS_NAMES[j]: <s64>(vm.ys[j] - before[j]) for j in range(YS_N) if vm.ys[j] != before[j]}
    kind = None
    for name in ("boost_ipi_receiver", "boost_pending_irq", "boost_kernel", "boost_relaxed", "boost_vanilla"):
        if delta.get(name):
            kind = name[6:]
    return {"boosted": vm.last_boosted if delta.get("yield_to_ok") else None, "kind": kind, "counters": delta}


def yield_vm_state(Engine engine, int vm, last_boosted=None):
    """Read (and, for tests, set) a VM's kvm->last_boosted_vcpu and its yield-policy switches."""
    cdef Sim* s = &engine.s
    cdef vm_t* m
    if not 0 <= vm < s.nvm:
        raise ValueError(f"no VM {vm}")
    m = &s.vm[vm]
    if last_boosted is not None:
        if not 0 <= last_boosted < m.nvcpu:
            raise ValueError("last_boosted out of range")
        m.last_boosted = last_boosted
    return {"last_boosted": m.last_boosted, "ipi_aware": bool(m.ipi_aware), "relaxed_round": bool(m.relaxed),
            "fix_last_boosted": bool(m.fix_lb), "candidate_order": "priority" if m.prio_order else "scan",
            "ple": bool(m.ple), "vcpu_base": m.vcpu_base, "nvcpu": m.nvcpu}
