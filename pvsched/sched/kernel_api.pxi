# pvsched.kernel: the kernel's scheduling rules as Python-callable entry points, running the
# same C functions the engine runs (calc.pxd, fair.pxi, cgroup.pxi), for step-by-step tests.

def sched_prio_to_weight(int nice):
    """Weight of a nice level (kernel ``sched_prio_to_weight``).

    >>> sched_prio_to_weight(0), sched_prio_to_weight(-20)
    (1024, 88761)
    """
    if not -20 <= nice <= 19:
        raise ValueError(f"nice={nice} outside -20..19")
    return pv_prio_to_weight[nice + 20]


def sched_prio_to_wmult(int nice):
    """Inverse weight of a nice level (kernel ``sched_prio_to_wmult``, about 2**32 / weight).

    >>> sched_prio_to_wmult(0)
    4194304
    """
    if not -20 <= nice <= 19:
        raise ValueError(f"nice={nice} outside -20..19")
    return pv_prio_to_wmult[nice + 20]


def py_scale_load_down(unsigned long long w):
    """``scale_load_down``: w >> 10 with a floor of 2 for nonzero w.

    >>> py_scale_load_down(1024 << 10), py_scale_load_down(1)
    (1024, 2)
    """
    return scale_load_down(w)


def py_calc_delta_fair(long long delta_ns, nice=None, weight=None):
    """``calc_delta_fair(delta, se)``: virtual time charged for ``delta_ns`` of execution.

    Give ``nice`` for a task (table weight and table inverse), or ``weight`` (scaled down, as
    for a group entity) whose inverse is computed lazily as floor((2**32 - 1) / w).

    >>> py_calc_delta_fair(1_000_000, nice=1), py_calc_delta_fair(1_000_000, weight=512)
    (1248780, 1999999)
    """
    cdef load_weight lw
    if delta_ns < 0:
        raise ValueError(f"delta_ns={delta_ns} is negative")
    if (nice is None) == (weight is None):
        raise ValueError("give exactly one of nice= or weight=")
    if nice is not None:
        if not -20 <= nice <= 19:
            raise ValueError(f"nice={nice} outside -20..19")
        set_load_nice(&lw, nice, 0)
    else:
        if not 2 <= weight <= (1 << 32):
            raise ValueError(f"weight={weight} outside 2..2**32")
        update_load_set(&lw, scale_load(weight))
    return calc_delta_fair_lw(<u64>delta_ns, &lw)


def py_tick_nsec(int hz):
    """``TICK_NSEC``, the length of a jiffy in ns: ``(NSEC_PER_SEC + HZ/2) / HZ``, rounded as the
    kernel rounds it (the engine's tick period and the lag clamp's floor).

    >>> py_tick_nsec(1000), py_tick_nsec(24), py_tick_nsec(1024)
    (1000000, 41666667, 976563)
    """
    if hz < 1:
        raise ValueError(f"hz={hz} must be positive")
    return tick_nsec(hz)


SLICE_MIN_NS = SCHED_SLICE_MIN_NS
SLICE_MAX_NS = SCHED_SLICE_MAX_NS


def py_setparam_fair_slice(long long sched_runtime_ns):
    """The custom slice ``sched_setattr()`` stores for a fair task asking for ``sched_runtime_ns``
    (``__setparam_fair``, v6.12+): clamped to [0.1 ms, 100 ms]. 0 asks for no custom slice.

    >>> py_setparam_fair_slice(50_000), py_setparam_fair_slice(3_000_000), py_setparam_fair_slice(10**9)
    (100000, 3000000, 100000000)
    """
    if sched_runtime_ns <= 0:
        raise ValueError(f"sched_runtime_ns={sched_runtime_ns}: must be positive (0 means no custom slice)")
    return setparam_fair_slice(<u64>sched_runtime_ns)


def base_slice_ns(int ncpus, long long base_ns=700_000, scaling="log"):
    """``sysctl_sched_base_slice`` after CPU-count scaling (v6.15: 0.70 ms base).

    >>> base_slice_ns(1), base_slice_ns(4), base_slice_ns(64)
    (700000, 2100000, 2800000)
    """
    modes = {"none": 0, "log": 1, "linear": 2}
    if scaling not in modes:
        raise ValueError(f"scaling={scaling!r} not one of {sorted(modes)}")
    if ncpus < 1:
        raise ValueError(f"ncpus={ncpus} must be >= 1")
    if base_ns <= 0:
        raise ValueError(f"base_ns={base_ns} must be positive")
    return base_slice_for(base_ns, ncpus, modes[scaling])


def py_calc_group_shares(long long tg_shares, long long grq_load_weight, long long grq_load_avg,
                         long long tg_load_avg, long long tg_load_avg_contrib):
    """``calc_group_shares`` (kernel-reference §2.2); tg_shares and the result are scaled weights.

    >>> py_calc_group_shares(1024 << 10, 1024 << 10, 0, 0, 0)  # UP case: the whole share
    1048576
    """
    cdef FairArena a
    cdef task_group tg
    cdef cfs_rq_t c
    for v, name in ((tg_shares, "tg_shares"), (grq_load_weight, "grq_load_weight"),
                    (grq_load_avg, "grq_load_avg"), (tg_load_avg, "tg_load_avg"),
                    (tg_load_avg_contrib, "tg_load_avg_contrib")):
        if v < 0:
            raise ValueError(f"{name}={v} is negative")
    memset(&a, 0, sizeof(a))
    memset(&c, 0, sizeof(c))
    tg.shares = tg_shares
    tg.load_avg = tg_load_avg
    a.tg = &tg
    c.tg = 0
    update_load_add(&c.load, grq_load_weight)
    c.avg.load_avg = grq_load_avg
    c.tg_load_avg_contrib = tg_load_avg_contrib
    return calc_group_shares(&a, &c)


_FLAG_NAMES = {"wakeup": ENQUEUE_WAKEUP, "initial": ENQUEUE_INITIAL, "migrated": ENQUEUE_MIGRATED,
               "restore": ENQUEUE_RESTORE}


cdef class FairRunqueue:
    """One EEVDF ``cfs_rq`` driven step by step, running the engine's own C code.

    Entities are numbered from 0 in creation order. ``advance(ns)`` moves the clock and charges
    the current entity (``update_curr``); nothing runs unless an entity is set current.

    >>> rq = FairRunqueue(nr_cpus=1)
    >>> a = rq.enqueue(nice=0); b = rq.enqueue(nice=0)
    >>> rq.set_curr(rq.pick()); rq.advance(700_000)
    True
    >>> rq.pick() == b
    True
    """
    cdef FairArena a
    cdef kparams kp
    cdef cfs_rq_t cfs
    cdef s64 clock
    cdef s64 zero
    cdef u8 run_flag
    cdef u8 resched_flag
    cdef s32 n
    cdef s32 cap

    def __cinit__(self):
        memset(&self.a, 0, sizeof(FairArena))
        self.a.se = NULL

    def __init__(self, int nr_cpus=1, long long base_slice_ns=700_000, scaling="log", int hz=1000,
                 features=None, min_vruntime=None):
        if hz < 1:
            raise ValueError(f"hz={hz} must be positive")
        self.kp.base_slice_ns = base_slice_for(base_slice_ns, nr_cpus, {"none": 0, "log": 1, "linear": 2}[scaling]) if nr_cpus >= 1 and base_slice_ns > 0 and scaling in ("none", "log", "linear") else 0
        if self.kp.base_slice_ns == 0:
            raise ValueError("bad nr_cpus, base_slice_ns or scaling")
        self.kp.tick_nsec = tick_nsec(hz)
        self.kp.features = _features_mask(features)
        self.kp.lazy = 0
        init_cfs_rq(&self.cfs, &self.kp, 0, 0, -1, -1)
        if min_vruntime is not None:
            self.cfs.min_vruntime = <u64>(min_vruntime & 0xFFFFFFFFFFFFFFFF)
        self.cap = 16
        self.a.se = <sched_entity*>calloc(self.cap, sizeof(sched_entity))
        if not self.a.se:
            raise MemoryError()
        self.a.cfs = &self.cfs
        self.a.kp = &self.kp
        self.clock = 0
        self.zero = 0
        self.run_flag = 1
        self.a.now_p = &self.clock
        self.a.clk_base = &self.zero
        self.a.clk_entry = &self.zero
        self.a.clk_run = &self.run_flag
        self.a.resched = &self.resched_flag
        self.n = 0

    def __dealloc__(self):
        free(self.a.se)

    cdef s32 _new(self, load_weight lw, u64 slice_ns, bint custom) except -1:
        cdef sched_entity* grown
        if self.n == self.cap:
            grown = <sched_entity*>realloc(self.a.se, 2 * self.cap * sizeof(sched_entity))
            if not grown:
                raise MemoryError()
            self.a.se = grown
            self.cap *= 2
        init_se(&self.a.se[self.n], self.n)
        se_set_load(&self.a.se[self.n], lw)
        self.a.se[self.n].cfs_rq = 0
        self.a.se[self.n].slice = slice_ns if custom else self.kp.base_slice_ns
        self.a.se[self.n].custom_slice = custom
        self.n += 1
        return self.n - 1

    cdef s32 _check(self, long long i) except -1:
        if not 0 <= i < self.n:
            raise ValueError(f"no entity {i}")
        return <s32>i

    cdef load_weight _lw(self, nice, weight) except *:
        cdef load_weight lw
        if weight is not None:
            if not 2 <= weight <= 88761 * 4:
                raise ValueError(f"weight={weight} out of range")
            update_load_set(&lw, scale_load(weight))
        else:
            if not -20 <= nice <= 19:
                raise ValueError(f"nice={nice} outside -20..19")
            set_load_nice(&lw, nice, 0)
        return lw

    def enqueue(self, entity=None, *, int nice=0, weight=None, vlag=None, slice_ns=None, flags="wakeup",
                bint clamp_slice=False):
        """Enqueue a new entity (``entity=None``) or a dequeued one; returns its index. Waking an
        entity that DELAY_DEQUEUE kept queued runs ``requeue_delayed_entity`` instead (with
        DELAY_ZERO, a positive lag is dropped and the entity re-placed at V).

        ``vlag`` (virtual ns) sets the stored lag first; ``flags`` names enqueue flags
        ("wakeup", "initial", "migrated") separated by ``|``. ``slice_ns`` (a new entity's custom
        slice) must be in [0.1 ms, 100 ms]; with ``clamp_slice=True`` it is clamped as
        ``sched_setattr()`` does and a :class:`~pvsched.errors.SliceClampedWarning` reports it.
        """
        cdef s32 i
        cdef int f = 0
        for name in str(flags).split("|"):
            name = name.strip()
            if name and name not in _FLAG_NAMES:
                raise ValueError(f"unknown enqueue flag {name!r}")
            if name:
                f |= _FLAG_NAMES[name]
        if slice_ns is not None and not SCHED_SLICE_MIN_NS <= slice_ns <= SCHED_SLICE_MAX_NS:
            if not clamp_slice or slice_ns <= 0:
                raise ValueError(f"slice_ns={slice_ns} outside [{SCHED_SLICE_MIN_NS}, {SCHED_SLICE_MAX_NS}]; "
                                 f"pass clamp_slice=True to clamp it as sched_setattr() does")
            import warnings
            from pvsched.errors import SliceClampedWarning
            clamped = setparam_fair_slice(<u64>slice_ns)
            warnings.warn(SliceClampedWarning(f"slice_ns={slice_ns} clamped to {clamped} "
                                              f"(__setparam_fair: [{SCHED_SLICE_MIN_NS}, {SCHED_SLICE_MAX_NS}] ns)"),
                          stacklevel=2)
            slice_ns = clamped
        if entity is None:
            i = self._new(self._lw(nice, weight), slice_ns or 0, slice_ns is not None)
        else:
            i = self._check(entity)
            if self.a.se[i].on_rq:
                if not self.a.se[i].sched_delayed:
                    raise ValueError(f"entity {i} is already queued")
                if vlag is not None:
                    raise ValueError(f"entity {i} is delayed (DELAY_DEQUEUE): waking it keeps its own lag")
                # ttwu of a delayed entity: enqueue_task(ENQUEUE_DELAYED) -> requeue_delayed_entity
                requeue_delayed_entity(&self.a, i)
                return i
        if vlag is not None:
            self.a.se[i].vlag = vlag
        enqueue_entity(&self.a, &self.cfs, i, f, rq_clock(&self.a, self.cfs.cpu))
        return i

    def inject(self, *, int nice=0, weight=None, unsigned long long vruntime, unsigned long long deadline,
               slice_ns=None, bint curr=False):
        """Insert an entity at an exact (vruntime, deadline), bypassing placement (test vectors)."""
        cdef s32 i = self._new(self._lw(nice, weight), slice_ns or 0, slice_ns is not None)
        cdef sched_entity* se = &self.a.se[i]
        if curr and self.cfs.curr >= 0:
            raise ValueError("there is already a current entity")
        se.vruntime = vruntime
        se.deadline = deadline
        se.on_rq = 1
        update_load_add(&self.cfs.load, se.load.weight)
        self.cfs.nr_queued += 1
        if curr:
            self.cfs.curr = i
            se.exec_start = self.clock
        else:
            __enqueue_entity(&self.a, &self.cfs, i)
        return i

    def dequeue(self, entity, *, bint sleep=True):
        """Dequeue; returns False when DELAY_DEQUEUE kept an ineligible sleeper queued."""
        cdef s32 i = self._check(entity)
        if not self.a.se[i].on_rq:
            raise ValueError(f"entity {i} is not queued")
        return dequeue_entity(&self.a, &self.cfs, i, DEQUEUE_SLEEP if sleep else 0,
                              rq_clock(&self.a, self.cfs.cpu))

    def pick(self):
        """``pick_next_entity`` (buddy, then ``pick_eevdf``); a delayed pick is dequeued and the
        pick repeated, as ``pick_task_fair`` does. Returns None on an empty queue."""
        cdef s32 i
        while self.cfs.nr_queued:
            if self.cfs.curr >= 0 and self.a.se[self.cfs.curr].on_rq:
                update_curr(&self.a, &self.cfs)
            i = pick_next_entity(&self.a, &self.cfs)
            if i < 0:
                return None
            if self.a.se[i].sched_delayed:
                dequeue_entity(&self.a, &self.cfs, i, DEQUEUE_SLEEP | DEQUEUE_DELAYED,
                               rq_clock(&self.a, self.cfs.cpu))
                continue
            return i
        return None

    def pick_eevdf(self):
        """Bare ``pick_eevdf`` (no buddy, no delayed handling, no update_curr)."""
        cdef s32 i = pick_eevdf(&self.a, &self.cfs)
        return None if i < 0 else i

    def set_curr(self, entity):
        """Make ``entity`` current: ``put_prev_entity`` on the old one, ``set_next_entity``."""
        cdef s32 i = self._check(entity)
        if self.cfs.curr == i:
            return
        if not self.a.se[i].on_rq:
            raise ValueError(f"entity {i} is not queued")
        if self.cfs.curr >= 0:
            put_prev_entity(&self.a, &self.cfs, self.cfs.curr, rq_clock(&self.a, self.cfs.cpu))
        set_next_entity(&self.a, &self.cfs, i, rq_clock(&self.a, self.cfs.cpu))

    def put_prev(self):
        """``put_prev_entity`` on the current entity (the queue then has no current)."""
        if self.cfs.curr >= 0:
            put_prev_entity(&self.a, &self.cfs, self.cfs.curr, rq_clock(&self.a, self.cfs.cpu))

    def advance(self, long long ns):
        """Move the clock by ``ns`` and run ``update_curr``; True if a reschedule was requested."""
        if ns < 0:
            raise ValueError(f"ns={ns} is negative")
        self.clock += ns
        self.resched_flag = 0
        update_curr(&self.a, &self.cfs)
        return self.resched_flag != 0

    def yield_(self):
        """``yield_task_fair`` for the current entity (nothing when it is alone)."""
        if self.cfs.curr < 0:
            raise ValueError("no current entity")
        if self.cfs.nr_queued > 1:
            yield_entity(&self.a, &self.cfs, self.cfs.curr)

    def set_next_buddy(self, entity):
        set_next_buddy(&self.a, self._check(entity))

    def wakeup_preempts(self, entity):
        """Would ``entity`` (queued) preempt the current one (``check_preempt_wakeup_fair``)?"""
        cdef s32 i = self._check(entity)
        cdef s32 c = self.cfs.curr
        if c < 0:
            return True
        update_curr(&self.a, &self.cfs)
        if do_preempt_short(&self.a, &self.cfs, i, c):
            cancel_protect_slice(&self.a.se[c])
        return pick_eevdf(&self.a, &self.cfs) == i

    def reweight(self, entity, weight=None, *, nice=None):
        """``reweight_entity`` to a new scaled-down ``weight``, or ``reweight_task_fair`` to the
        table weight of ``nice`` (which then keeps the table's inverse weight, as a task does).

        Returns False and changes nothing when the weight is the one the entity has: the kernel
        never reweights to the same weight (``update_cfs_group`` compares first,
        ``set_user_nice`` returns early), and a reweight would re-place the entity.

        >>> rq = FairRunqueue(); a = rq.enqueue(nice=0)
        >>> rq.reweight(a, 1024), rq.reweight(a, nice=5), rq.entity(a)["weight"]
        (False, True, 335)
        """
        cdef s32 i = self._check(entity)
        cdef load_weight lw
        if (weight is None) == (nice is None):
            raise ValueError("give a weight or a nice value")
        lw = self._lw(0 if nice is None else nice, weight)
        if lw.weight == self.a.se[i].load.weight:
            return False
        reweight_entity(&self.a, &self.cfs, i, lw.weight, rq_clock(&self.a, self.cfs.cpu))
        if nice is not None:
            self.a.se[i].load.inv_weight = lw.inv_weight
        return True

    def avg_vruntime(self):
        return avg_vruntime(&self.a, &self.cfs)

    def eligible(self, entity):
        return entity_eligible(&self.a, &self.cfs, self._check(entity))

    def lag(self, entity):
        """V - v_i in virtual ns (signed)."""
        cdef s32 i = self._check(entity)
        return <s64>(avg_vruntime(&self.a, &self.cfs) - self.a.se[i].vruntime)

    def entity(self, entity):
        return _se_dict(&self.a.se[self._check(entity)])

    def state(self):
        return _cfs_snapshot(&self.a, 0)

    @property
    def clock_ns(self):
        return self.clock

    @property
    def curr(self):
        return None if self.cfs.curr < 0 else self.cfs.curr

    @property
    def base_slice_ns(self):
        return self.kp.base_slice_ns


def _features_mask(features, cfs=False):
    """features: None (defaults: v6.15 EEVDF, or v6.5 CFS when ``cfs``), or a dict
    {name: bool} applied over the defaults."""
    mask = DEFAULT_FEATURES_CFS if cfs else DEFAULT_FEATURES
    if features is None:
        return mask
    for name, on in dict(features).items():
        if name not in FEATURE_BITS:
            raise ValueError(f"unknown feature {name!r}; known: {sorted(FEATURE_BITS)}")
        mask = (mask | FEATURE_BITS[name]) if on else (mask & ~FEATURE_BITS[name])
    return mask
