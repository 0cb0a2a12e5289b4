# VMM deferred work and HLT/MWAIT exit rules (vmm_work.pxd) as Python-callable entry points, for
# step-by-step tests: they run the same C code as the engine.

IDLE_INSNS = {"hlt": IDLE_HLT, "mwait": IDLE_MWAIT}
EXECUTORS = {"thread": EXEC_THREAD, "vcpu": EXEC_VCPU}
WORK_CLASSES = {"low": WORK_LOW, "high": WORK_HIGH}
SIZE_DISTS = {"fixed": SIZE_FIXED, "uniform": SIZE_UNIFORM, "exponential": SIZE_EXP}
IDLE_ACTIONS = ("stay", "halt", "nop", "nop_yield", "userspace")
USER_KINDS = {"hlt": USER_HLT, "mwait": USER_MWAIT, "other": USER_OTHER}
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


cdef idle_policy _policy(insn, bint hlt_exits, bint mwait_exits, bint mwait_yield, bint toggle, executor) except *:
    cdef idle_policy p
    p.insn = _lookup(IDLE_INSNS, insn, "insn")
    p.hlt_exits = hlt_exits
    p.mwait_exits = mwait_exits
    p.mwait_yield = mwait_yield
    p.toggle = toggle
    p.executor = _lookup(EXECUTORS, executor, "executor")
    return p


def kvm_run_settings(*, pending, insn="hlt", hlt_exits=True, mwait_exits=True, mwait_yield=False,
                     toggle=False, executor="thread"):
    """What the VMM asks of KVM at a vCPU's next KVM_RUN: ``{"intercept": ..., "userspace_exit": ...}``.

    >>> from pvsched.kernel import kvm_run_settings
    >>> kvm_run_settings(pending=True, insn="mwait", executor="vcpu")      # the RFC
    {'intercept': True, 'userspace_exit': True}
    >>> kvm_run_settings(pending=False, toggle=True)                       # Graf: pass-through
    {'intercept': False, 'userspace_exit': False}
    """
    cdef idle_policy p = _policy(insn, hlt_exits, mwait_exits, mwait_yield, toggle, executor)
    cdef int b = kvm_run_bits(&p, bool(pending))
    return {"intercept": bool(b & RUN_INTERCEPT), "userspace_exit": bool(b & RUN_USER_EXIT)}


def idle_action(*, intercept, userspace_exit, insn="hlt", mwait_yield=False):
    """What KVM does when the guest executes its idle instruction with these per-KVM_RUN settings:
    ``stay`` (non-root idle), ``halt`` (in-kernel HLT), ``nop`` / ``nop_yield`` (MWAIT as a NOP,
    then yield()), ``userspace`` (KVM_EXIT_HLT / KVM_EXIT_MWAIT).

    >>> from pvsched.kernel import idle_action
    >>> idle_action(intercept=True, userspace_exit=False, insn="mwait", mwait_yield=True)
    'nop_yield'
    """
    cdef idle_policy p = _policy(insn, True, True, mwait_yield, False, "thread")
    cdef int b = (RUN_INTERCEPT if intercept else 0) | (RUN_USER_EXIT if userspace_exit else 0)
    return IDLE_ACTIONS[idle_exit_action(&p, b)]


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
