# VMM deferred work and the idle-instruction rules as Python-callable entry points (pvsched.kernel),
# running the engine's own C code (policies/deferred_work.pxd, kvm/kvm_run.pxd); and the policy's
# builder and results (Engine.__init__, Engine.results).

IDLE_INSNS = {"hlt": IDLE_HLT, "mwait": IDLE_MWAIT}
EXECUTORS = {"thread": EXEC_THREAD, "vcpu": EXEC_VCPU}
WORK_CLASSES = {"low": WORK_LOW, "high": WORK_HIGH}
SIZE_DISTS = {"fixed": SIZE_FIXED, "uniform": SIZE_UNIFORM, "exponential": SIZE_EXP}
IDLE_ACTIONS = ("stay", "halt", "nop", "nop_yield", "userspace")
USER_KINDS = {"hlt": USER_HLT, "mwait": USER_MWAIT, "other": USER_OTHER}
VMM_ROLES = {"worker": ROLE_WORKER, "main": ROLE_MAIN}
KICK_CLASSES = {"userspace": KICK_NONE, "halted": KICK_HALTED, "idle_guest": KICK_IDLE_GUEST,
                "busy_guest": KICK_BUSY_GUEST, "later": KICK_LATER}


def _lookup(table, key, what):
    if key not in table:
        raise ValueError(f"{what}={key!r} unknown; known: {sorted(table)}")
    return table[key]


cdef class WorkQueue:
    """One VM's deferred-work queue (the engine's C code): two FIFO classes, ``low`` and ``high``,
    each holding at most ``capacity`` items, with exact accounting and a latency histogram.

    >>> from pvsched.kernel import WorkQueue
    >>> q = WorkQueue(capacity=2)
    >>> q.push("low", now=0, size_ns=500), q.push("high", now=10, size_ns=100)
    (True, True)
    >>> q.pop_any()                      # high before low
    ('high', 10, 100)
    >>> q.done("high", queued_at=10, size_ns=100, now=250)
    >>> q.stats()["high"]["lat_max_ns"]
    240
    """
    cdef work_queue q
    cdef work_item* storage
    cdef u32* hist

    def __cinit__(self, int capacity=1024):
        if capacity < 1 or capacity > 1 << 24:
            raise ValueError(f"capacity={capacity} outside 1..2**24")
        self.storage = <work_item*>calloc(2 * capacity, sizeof(work_item))
        self.hist = <u32*>calloc(2 * HIST_NBUCKETS, sizeof(u32))
        if not self.storage or not self.hist:
            raise MemoryError()
        wq_init(&self.q, self.storage, capacity, self.hist)

    def __dealloc__(self):
        free(self.storage)
        free(self.hist)

    def push(self, cls, long long now, long long size_ns):
        """Queue an item of class ``cls`` at time ``now``; False if that class is full (dropped)."""
        if size_ns < 1 or now < 0:
            raise ValueError("now must be >= 0 and size_ns >= 1")
        return bool(wq_push(&self.q, _lookup(WORK_CLASSES, cls, "cls"), now, size_ns))

    def pop(self, cls):
        """Take the oldest item of class ``cls``: ``(queued_at, size_ns)``, or None."""
        cdef work_item it
        if not wq_pop(&self.q, _lookup(WORK_CLASSES, cls, "cls"), &it):
            return None
        return (it.queued_at, it.size_ns)

    def pop_any(self):
        """Take the oldest high item, else the oldest low one: ``(cls, queued_at, size_ns)`` or None."""
        cdef work_item it
        cdef int c = wq_pop_any(&self.q, &it)
        if c < 0:
            return None
        return ("high" if c == WORK_HIGH else "low", it.queued_at, it.size_ns)

    def done(self, cls, long long queued_at, long long size_ns, long long now):
        """Record the completion at ``now`` of an item taken earlier."""
        cdef work_item it
        if now < queued_at:
            raise ValueError("an item cannot complete before it was queued")
        it.queued_at = queued_at
        it.size_ns = size_ns
        wq_done(&self.q, _lookup(WORK_CLASSES, cls, "cls"), &it, now)

    def __len__(self):
        return wq_pending(&self.q)

    def stats(self):
        """Per class: arrived, dropped, queued (waiting now), started, done, lat_sum_ns, lat_max_ns,
        work_ns."""
        out = {}
        for name, c in WORK_CLASSES.items():
            out[name] = dict(arrived=self.q.arrived[c], dropped=self.q.dropped[c], queued=self.q.ring[c].n,
                             started=self.q.started[c], done=self.q.done[c], lat_sum_ns=self.q.lat_sum[c],
                             lat_max_ns=self.q.lat_max[c], work_ns=self.q.work_ns[c])
        return out

    def histogram(self, cls):
        """Latency histogram counts of class ``cls`` (the engine's log-linear buckets)."""
        cdef int c = _lookup(WORK_CLASSES, cls, "cls")
        return np.array([self.hist[c * HIST_NBUCKETS + i] for i in range(HIST_NBUCKETS)], dtype=np.uint64)


def kvm_run_settings(*, pending, insn="hlt", hlt_exits=True, mwait_exits=True, mwait_yield=False,
                     toggle=False, executor="thread"):
    """What the VMM asks of KVM at a vCPU's next KVM_RUN: ``{"intercept": ..., "userspace_exit": ...}``.

    >>> from pvsched.kernel import kvm_run_settings
    >>> kvm_run_settings(pending=True, insn="mwait", executor="vcpu")      # the RFC
    {'intercept': True, 'userspace_exit': True}
    >>> kvm_run_settings(pending=False, toggle=True)                       # Graf: pass-through
    {'intercept': False, 'userspace_exit': False}
    """
    cdef int b = vmm_run_bits(static_run_bits(_lookup(IDLE_INSNS, insn, "insn"), hlt_exits, mwait_exits),
                              toggle, _lookup(EXECUTORS, executor, "executor"), bool(pending))
    return {"intercept": bool(b & RUN_INTERCEPT), "userspace_exit": bool(b & RUN_USER_EXIT)}


def idle_action(*, intercept, userspace_exit, insn="hlt", mwait_yield=False):
    """What KVM does when the guest executes its idle instruction with these per-KVM_RUN settings:
    ``stay`` (non-root idle), ``halt`` (in-kernel HLT), ``nop`` / ``nop_yield`` (MWAIT as a NOP,
    then yield()), ``userspace`` (KVM_EXIT_HLT / KVM_EXIT_MWAIT).

    >>> from pvsched.kernel import idle_action
    >>> idle_action(intercept=True, userspace_exit=False, insn="mwait", mwait_yield=True)
    'nop_yield'
    """
    cdef int b = (RUN_INTERCEPT if intercept else 0) | (RUN_USER_EXIT if userspace_exit else 0)
    return IDLE_ACTIONS[idle_exit_action(_lookup(IDLE_INSNS, insn, "insn"), bool(mwait_yield), b)]


def user_work_choice(*, kind, n_high, n_low, used_ns=0, budget_ns=0, wake_pending=False, executor="vcpu"):
    """Which item class the vCPU thread runs next while in userspace (``kind``: after a ``hlt``,
    ``mwait`` or ``other`` exit), or None to re-enter KVM_RUN.

    >>> from pvsched.kernel import user_work_choice
    >>> user_work_choice(kind="mwait", n_high=0, n_low=3, used_ns=60_000, budget_ns=50_000) is None
    True
    >>> user_work_choice(kind="other", n_high=1, n_low=3)
    'high'
    """
    if n_high < 0 or n_low < 0 or used_ns < 0 or budget_ns < 0:
        raise ValueError("counts and times must be >= 0")
    cdef int c = user_work_next(_lookup(EXECUTORS, executor, "executor"), _lookup(USER_KINDS, kind, "kind"),
                                used_ns, budget_ns, bool(wake_pending), n_high, n_low)
    return None if c < 0 else ("high" if c == WORK_HIGH else "low")


def stale_signal(*, pending, kick_class, executor="thread", toggle=False):
    """Whether the VMM signals a vCPU whose per-KVM_RUN settings went stale, ``pending`` saying
    whether work just appeared (True) or ran out (False), from the vCPU's state ``kick_class``.

    >>> from pvsched.kernel import stale_signal
    >>> stale_signal(pending=True, kick_class="halted", executor="vcpu")      # the RFC: wake it to work
    True
    >>> stale_signal(pending=True, kick_class="halted", executor="thread")    # it already frees its pCPU
    False
    """
    return bool(stale_kick(bool(toggle), _lookup(EXECUTORS, executor, "executor"), bool(pending),
                           _lookup(KICK_CLASSES, kick_class, "kick_class")))


def kick_target(classes):
    """Index of the vCPU a VMM signals to run a new high-priority item, from each vCPU's state
    (``userspace``, ``halted``, ``idle_guest``, ``busy_guest``, ``later``); None if one is already in
    userspace.

    >>> from pvsched.kernel import kick_target
    >>> kick_target(["busy_guest", "later", "idle_guest", "halted"])
    3
    """
    cdef s32 n = len(classes)
    cdef uint8_t* arr
    cdef s32 i, r
    if n == 0:
        return None
    arr = <uint8_t*>malloc(n)
    if not arr:
        raise MemoryError()
    try:
        for i in range(n):
            arr[i] = _lookup(KICK_CLASSES, classes[i], "class")
        r = choose_kick(arr, n)
    finally:
        free(arr)
    return None if r < 0 else r


def work_sizes(unsigned long long seed, int n, long long size_ns, long long spread_ns=0, dist="exponential"):
    """``n`` item sizes drawn as the engine draws them (deterministic in ``seed``).

    >>> from pvsched.kernel import work_sizes
    >>> work_sizes(1, 3, 1000, 0, "fixed").tolist()
    [1000, 1000, 1000]
    """
    cdef u64 st = seed
    cdef int d = _lookup(SIZE_DISTS, dist, "dist")
    cdef long long[:] v
    if n < 0 or size_ns < 1 or spread_ns < 0:
        raise ValueError("n >= 0, size_ns >= 1, spread_ns >= 0")
    out = np.zeros(n, dtype=np.int64)
    v = out
    for i in range(n):
        v[i] = sample_size(&st, size_ns, spread_ns, d)
    return out


def arrival_gaps(unsigned long long seed, int n, long long mean_ns, bint poisson=True):
    """``n`` gaps between arrivals of the engine's arrival process (Poisson or periodic).

    >>> from pvsched.kernel import arrival_gaps
    >>> arrival_gaps(7, 2, 500_000, poisson=False).tolist()
    [500000, 500000]
    """
    cdef u64 st = seed
    cdef long long[:] v
    if n < 0 or mean_ns < 1:
        raise ValueError("n >= 0 and mean_ns >= 1")
    out = np.zeros(n, dtype=np.int64)
    v = out
    for i in range(n):
        v[i] = next_arrival_gap(&st, mean_ns, poisson)
    return out


# ---------------------------------------------------------------- builder and results
VMM_VM_COLUMNS = ("arrived_low", "arrived_high", "dropped_low", "dropped_high", "done_low", "done_high",
                  "queued_low", "queued_high", "in_service", "lat_sum_low_ns", "lat_sum_high_ns",
                  "lat_max_low_ns", "lat_max_high_ns", "work_low_ns", "work_high_ns", "worker_items",
                  "main_items", "vcpu_items", "worker_cpu_ns", "main_cpu_ns", "over_vcpus_ns", "max_running",
                  "kicks", "worker_wakeups")


cdef int deferred_work_build(Sim* s, list vms, long long[:, :] opsv, long long[:] tkern, long long[:] tvcpu,
                             long long[:] tps, long long[:] tpl, long long[:] tstart,
                             unsigned long long seed) except -1:
    # Per VM: the work sources, executors and per-KVM_RUN choices; the VMM threads from their
    # OP_VMM programs; POL_DEFERRED_WORK on the guest kernels of VMs with work (and the host's
    # context-switch point for the pCPU count).
    cdef s32 k, i, n, nw = 0, total_cap = 0, first
    cdef vmm_vm* w
    cdef vm_t* vm
    conf = [dict(vms[k].get("deferred_work") or {}) for k in range(s.nvm)]
    roles = {}
    for i in range(s.ntask):
        for n in range(tpl[i]):
            if opsv[tps[i] + n, 0] != OP_VMM:
                continue
            k = <s32>opsv[tps[i] + n, 1]
            role = opsv[tps[i] + n, 2]
            if tkern[i] != 0 or tvcpu[i] >= 0 or not 0 <= k < s.nvm or role not in (ROLE_WORKER, ROLE_MAIN) \
                    or not conf[k].get("enabled") or tpl[i] != 1:
                raise ValueError(f"task {i}: a VMM thread program needs a host task of a VM with deferred work")
            roles[i] = (k, role)
    if not any(c.get("enabled") for c in conf):
        return 0
    s.vmm.on = 1
    for k in range(s.nvm):
        total_cap += int(conf[k].get("queue_capacity", 0)) if conf[k].get("enabled") else 0
    s.vmm.task = <vmm_task*>calloc(max(s.ntask, 1), sizeof(vmm_task))
    s.vmm.store = <work_item*>calloc(max(2 * total_cap, 1), sizeof(work_item))
    s.vmm.hist = <u32*>calloc(max(s.nvm, 1) * 2 * HIST_NBUCKETS, sizeof(u32))
    s.vmm.workers = <s32*>calloc(max(len(roles), 1), sizeof(s32))
    s.vmm.kick_cls = <uint8_t*>calloc(max(s.nvcpu, 1), sizeof(uint8_t))
    if not s.vmm.task or not s.vmm.store or not s.vmm.hist or not s.vmm.workers or not s.vmm.kick_cls:
        raise MemoryError("pvsched: scenario too large for memory")
    for i in range(s.ntask):
        s.vmm.task[i].vm = -1
        if s.task[i].vcpu >= 0:
            s.vmm.task[i].vm = s.vcpu[s.task[i].vcpu].vm
            s.vmm.task[i].role = ROLE_VCPU
    total_cap = 0
    for k in range(s.nvm):
        dw = conf[k]
        vm = &s.vm[k]
        w = &vm.vmm
        w.worker_base = nw
        w.main_task = -1
        w.rng = (seed + <u64>(k + 1) * <u64>0xD1B54A32D192ED03) ^ <u64>0x5DEECE66D
        if dw.get("enabled"):
            w.on = 1
            w.toggle = bool(dw.get("intercept_toggle", False))
            w.executor = EXECUTORS[dw.get("executor", "thread")]
            w.mean_gap_ns = int(dw.get("mean_gap_ns", 0))
            w.poisson = dw.get("arrival", "poisson") == "poisson"
            w.size_ns = int(dw.get("size_ns", 20_000))
            w.spread_ns = int(dw.get("size_spread_ns", 0))
            w.size_dist = SIZE_DISTS[dw.get("size_dist", "exponential")]
            w.prio = WORK_CLASSES[dw.get("priority", "low")]
            w.mmio_on = bool(dw.get("mmio_items", False))
            w.mmio_size_ns = int(dw.get("mmio_size_ns", 10_000))
            w.mmio_spread_ns = int(dw.get("mmio_size_spread_ns", 0))
            w.mmio_dist = SIZE_DISTS[dw.get("mmio_size_dist", "fixed")]
            w.mmio_prio = WORK_CLASSES[dw.get("mmio_priority", "high")]
            w.kick = bool(dw.get("kick", True))
            w.preempt_high = bool(dw.get("preempt_high", True))
            w.budget_ns = int(dw.get("mwait_budget_ns", 50_000))
            w.fallback_ns = int(dw.get("fallback_timer_ns", 0))
            cap = int(dw.get("queue_capacity", 65_536))
            if not (0 <= w.mean_gap_ns <= 10**12 and 1 <= w.size_ns <= 10**11 and 0 <= w.spread_ns <= 10**11
                    and 1 <= w.mmio_size_ns <= 10**11 and 0 <= w.mmio_spread_ns <= 10**11
                    and 0 <= w.budget_ns <= 10**11 and 0 <= w.fallback_ns <= 10**11 and 1 <= cap <= 1 << 24):
                raise ValueError(f"vm {k}: deferred work parameters out of range")
            wq_init(&w.q, s.vmm.store + 2 * total_cap, cap, s.vmm.hist + 2 * k * HIST_NBUCKETS)
            total_cap += cap
            vm.mmio_user = w.mmio_on                # the VMM emulates the device: MMIO exits reach it
            s.kern[vm.kern].policies |= POL_DEFERRED_WORK
            if w.mean_gap_ns > 0:
                first = vm.vcpu_base
                start = min([int(tstart[s.vcpu[first + j].task]) for j in range(vm.nvcpu)])
                ev_arm(&s.q, s.vmm.slot + k, start + next_arrival_gap(&w.rng, w.mean_gap_ns, w.poisson))
        for i, (kk, role) in sorted(roles.items()):
            if kk != k:
                continue
            s.vmm.task[i].vm = k
            s.vmm.task[i].role = role
            if role == ROLE_MAIN:
                if w.main_task >= 0 or w.fallback_ns <= 0:
                    raise ValueError(f"vm {k}: one VMM main thread, and only with a fallback timer")
                w.main_task = i
                s.vmm.task[i].period_next = int(tstart[i]) + w.fallback_ns
            else:
                s.vmm.workers[nw] = i
                nw += 1
        w.nworkers = nw - w.worker_base
        if w.on and w.executor == EXEC_THREAD and w.nworkers == 0:
            raise ValueError(f"vm {k}: the thread executor needs worker threads")
        if w.on and w.fallback_ns > 0 and w.main_task < 0:
            raise ValueError(f"vm {k}: a fallback timer needs the VMM main thread")
    s.kern[0].policies |= POL_DEFERRED_WORK           # the host's context switches: the pCPU count
    return 0


cdef void deferred_work_free(Sim* s) noexcept nogil:
    free(s.vmm.task); free(s.vmm.store); free(s.vmm.hist); free(s.vmm.workers); free(s.vmm.kick_cls)


cdef void deferred_work_results(Sim* s, dict out, dict vc):
    # Per-vCPU items and work time on the vCPU threads; the per-VM table and latency histograms.
    cdef s32 v, k, c
    cdef vmm_vm* w
    vc["vcpu_items"] = np.zeros(s.nvcpu, dtype=np.int64)
    vc["vcpu_work_ns"] = np.zeros(s.nvcpu, dtype=np.int64)
    tab = {m: np.zeros(s.nvm, dtype=np.int64) for m in VMM_VM_COLUMNS}
    hist = np.zeros((s.nvm, 2, HIST_NBUCKETS), dtype=np.uint32)
    out["vmm"] = tab
    out["vmm_lat_hist"] = hist
    if not s.vmm.on:
        return
    for v in range(s.nvcpu):
        vc["vcpu_items"][v] = s.vcpu[v].vmm.nr_items
        vc["vcpu_work_ns"][v] = s.vcpu[v].vmm.work_ns
        tab["vcpu_items"][s.vcpu[v].vm] += s.vcpu[v].vmm.nr_items
        if s.vcpu[v].vmm.item_busy:
            tab["in_service"][s.vcpu[v].vm] += 1
    for i in range(s.ntask):
        k = s.vmm.task[i].vm
        if k < 0 or s.vmm.task[i].role == ROLE_VCPU:
            continue
        tab["in_service"][k] += s.vmm.task[i].busy
        if s.vmm.task[i].role == ROLE_MAIN:
            tab["main_items"][k] += s.vmm.task[i].nr_items
            tab["main_cpu_ns"][k] += s.task[i].cpu_ns
        else:
            tab["worker_items"][k] += s.vmm.task[i].nr_items
            tab["worker_cpu_ns"][k] += s.task[i].cpu_ns
    for k in range(s.nvm):
        w = &s.vm[k].vmm
        for c, name in ((WORK_LOW, "low"), (WORK_HIGH, "high")):
            tab["arrived_" + name][k] = w.q.arrived[c]
            tab["dropped_" + name][k] = w.q.dropped[c]
            tab["done_" + name][k] = w.q.done[c]
            tab["queued_" + name][k] = w.q.ring[c].n
            tab[f"lat_sum_{name}_ns"][k] = w.q.lat_sum[c]
            tab[f"lat_max_{name}_ns"][k] = w.q.lat_max[c]
            tab[f"work_{name}_ns"][k] = w.q.work_ns[c]
            if w.on:
                for i in range(HIST_NBUCKETS):
                    hist[k, c, i] = w.q.hist[c * HIST_NBUCKETS + i]
        tab["over_vcpus_ns"][k] = w.over_ns
        tab["max_running"][k] = w.max_nrun
        tab["kicks"][k] = w.nr_kicks
        tab["worker_wakeups"][k] = w.nr_worker_wakeups
