# The vCPU debooster (patches 1-5 of the 2025 yield series, "sched/fair: ... yield deboost"): on a
# yield_to whose target shares the yielder's runqueue, push the yielder's entity at the cgroup LCA
# back by a bounded vruntime penalty.

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

cdef void debooster_yield_to(Sim* s, s32 cpu, s32 p) noexcept nogil:
    # HOOK_YIELD_TO: yield_to_task_fair between set_next_buddy and yield_task_fair.
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
    trace_event(s, TR_DEBOOST, cpu, y, p, <s64>penalty)
    ys[YS_DB_APPLIED] += 1
    ys[YS_DB_PENALTY_NS] += penalty

DEBOOST_CURVES = {"steps": DBST_CURVE_STEPS, "linear": DBST_CURVE_LINEAR}


cdef int debooster_build(Sim* s, debooster) except -1:
    cdef s32 i
    db = dict(debooster or {})
    curve = db.get("curve", "steps")
    mode = db.get("rate_limit_mode", "v1")
    rate = int(db.get("rate_limit_ns", 6_000_000))
    debounce = int(db.get("debounce_ns", 600_000))
    if curve not in DEBOOST_CURVES or mode not in ("v1", "v2") or not 0 <= rate <= 10**12 \
            or not 0 <= debounce <= 10**12:
        raise ValueError(f"debooster parameters out of range: {db}")
    s.dbst.on = bool(db.get("enabled", False))
    if s.dbst.on:
        s.kern[0].policies |= POL_DEBOOSTER
    s.dbst.curve = DEBOOST_CURVES[curve]
    s.dbst.rl_every = mode == "v1"
    s.dbst.rate_ns = rate
    s.dbst.debounce_ns = debounce
    for i in range(s.ncpu):
        s.rq[i].dbst.src = -1
        s.rq[i].dbst.dst = -1
    return 0

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

def deboost_entity(FairRunqueue rq, entity, unsigned long long penalty):
    """Apply the debooster's penalty to a queued entity of a :class:`FairRunqueue` (curr or in
    the tree): vruntime, deadline, vlag and min_vruntime as ``yield_deboost_apply_penalty``."""
    cdef s32 i = rq._check(entity)
    if not rq.a.se[i].on_rq:
        raise ValueError(f"entity {i} is not queued")
    if penalty > (1 << 40):
        raise ValueError("penalty out of range")
    deboost_apply(&rq.a, &rq.cfs, i, penalty)
