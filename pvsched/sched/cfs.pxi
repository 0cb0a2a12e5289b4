# CFS (Linux v6.5) where a kernel's fair class is "cfs": vruntime-ordered queue, sleeper placement
# (GENTLE_FAIR_SLEEPERS), START_DEBIT, sched_slice by period share, tick preemption by ideal slice,
# wake-up granularity, next/last/skip buddies.

cdef inline void place_entity_cfs(FairArena* a, cfs_rq_t* cfs, sched_entity* se, bint initial) noexcept nogil:
    # v6.5: sleepers get up to half a latency period of credit; new tasks start a slice late.
    cdef kparams* kp = cfs.kp
    cdef u64 vruntime = cfs.min_vruntime
    cdef u64 thresh
    if initial and (kp.features & F_START_DEBIT):
        vruntime += calc_delta_fair(sched_slice(a, cfs, se), se)
    if not initial:
        thresh = kp.min_granularity_ns if se.idle else kp.sched_latency_ns
        if kp.features & F_GENTLE_FAIR_SLEEPERS:
            thresh >>= 1
        vruntime -= thresh
    if before(se.vruntime, vruntime):
        se.vruntime = vruntime

cdef inline u64 sched_slice(FairArena* a, cfs_rq_t* cfs, sched_entity* se) noexcept nogil:
    # v6.5 sched_slice: the period share of se, weight by weight up the hierarchy.
    cdef kparams* kp = cfs.kp
    cdef u32 nr = cfs.nr_queued
    cdef u64 slice
    cdef load_weight lw
    cdef cfs_rq_t* q
    cdef s32 x = <s32>(se - a.se)
    cdef bint idle = se.idle
    if kp.features & F_ALT_PERIOD:
        nr = a.cfs[root_cfs_of(a, cfs)].h_nr_queued
    nr += 0 if se.on_rq else 1
    slice = nr * kp.min_granularity_ns if nr > kp.nr_latency else kp.sched_latency_ns
    while x >= 0:
        q = &a.cfs[a.se[x].cfs_rq]
        lw.weight = q.load.weight
        if not a.se[x].on_rq:
            lw.weight += a.se[x].load.weight
        lw.inv_weight = 0
        slice = __calc_delta(slice, a.se[x].load.weight, &lw)
        x = a.se[x].parent
    if (kp.features & F_BASE_SLICE) and slice < kp.min_granularity_ns:
        slice = kp.min_granularity_ns
    return slice

cdef inline s32 root_cfs_of(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    # The rq's root cfs_rq: walk up the owning group entities.
    cdef s32 ci = <s32>(cfs - a.cfs)
    while a.cfs[ci].se >= 0:
        ci = a.se[a.cfs[ci].se].cfs_rq
    return ci

cdef inline int wakeup_preempt_entity(FairArena* a, s32 curr, s32 se) noexcept nogil:
    # v6.5: 1 if se is more than a wakeup granularity ahead of curr in vruntime.
    cdef s64 vdiff = <s64>(a.se[curr].vruntime - a.se[se].vruntime)
    cdef s64 gran
    if vdiff <= 0:
        return -1
    gran = <s64>calc_delta_fair(a.cfs[a.se[se].cfs_rq].kp.wakeup_granularity_ns, &a.se[se])
    if vdiff > gran:
        return 1
    return 0

cdef inline s32 pick_next_entity_cfs(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    # v6.5 pick_next_entity: the leftmost (or curr), with skip/next/last buddy adjustments.
    cdef s32 curr = cfs.curr
    cdef s32 left = tree_leftmost(a, cfs)
    cdef s32 se, second
    if curr >= 0 and not a.se[curr].on_rq:
        curr = -1
    if left < 0 or (curr >= 0 and before(a.se[curr].vruntime, a.se[left].vruntime)):
        left = curr
    se = left
    if cfs.skip >= 0 and cfs.skip == se:
        if se == curr:
            second = tree_leftmost(a, cfs)
        else:
            second = tree_next(a, se)
            if second < 0 or (curr >= 0 and before(a.se[curr].vruntime, a.se[second].vruntime)):
                second = curr
        if second >= 0 and wakeup_preempt_entity(a, second, left) < 1:
            se = second
    if cfs.next >= 0 and wakeup_preempt_entity(a, cfs.next, left) < 1:
        se = cfs.next
    elif cfs.last >= 0 and wakeup_preempt_entity(a, cfs.last, left) < 1:
        se = cfs.last
    return se

cdef inline void check_preempt_tick(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    # v6.5: preempt a curr that ran its ideal slice, or that is a slice ahead of the leftmost.
    cdef sched_entity* curr = &a.se[n]
    cdef u64 ideal = sched_slice(a, cfs, curr)
    cdef u64 delta_exec = curr.sum_exec_runtime - curr.prev_sum_exec_runtime
    cdef s32 left
    cdef s64 delta
    if delta_exec > ideal:
        a.resched[cfs.cpu] |= RESCHED_NOW
        clear_buddies(a, cfs, n)
        return
    if delta_exec < cfs.kp.min_granularity_ns:
        return
    left = tree_leftmost(a, cfs)
    if left < 0:
        return
    delta = <s64>(curr.vruntime - a.se[left].vruntime)
    if delta < 0:
        return
    if <u64>delta > ideal:
        a.resched[cfs.cpu] |= RESCHED_NOW

cdef inline void set_last_buddy(FairArena* a, s32 n) noexcept nogil:
    while n >= 0:
        if not a.se[n].on_rq or a.se[n].idle:
            return
        a.cfs[a.se[n].cfs_rq].last = n
        n = a.se[n].parent

cdef inline void set_skip_buddy(FairArena* a, s32 n) noexcept nogil:
    while n >= 0:
        a.cfs[a.se[n].cfs_rq].skip = n
        n = a.se[n].parent

cdef inline void enqueue_entity_cfs(FairArena* a, cfs_rq_t* cfs, s32 n, int flags) noexcept nogil:
    # v6.5: vruntime is relative while off the queue unless the entity slept (renormalise).
    cdef sched_entity* se = &a.se[n]
    cdef bint curr = cfs.curr == n
    cdef bint renorm = not (flags & ENQUEUE_WAKEUP) or (flags & ENQUEUE_MIGRATED)
    if flags & ENQUEUE_INITIAL:
        # task_fork_fair: start from the queue's base, START_DEBIT placement, as a relative value
        se.vruntime = cfs.min_vruntime
        place_entity_cfs(a, cfs, se, True)
        se.vruntime -= cfs.min_vruntime
    if renorm and curr:
        se.vruntime += cfs.min_vruntime
    update_curr(a, cfs)
    if renorm and not curr:
        se.vruntime += cfs.min_vruntime
    update_load_avg(a, cfs, n, UPDATE_TG | DO_ATTACH)
    se_update_runnable(a, se)
    update_cfs_group(a, cfs, n, rq_clock(a, cfs.cpu))
    update_load_add(&cfs.load, se.load.weight)
    cfs.nr_queued += 1
    if flags & ENQUEUE_WAKEUP:
        place_entity_cfs(a, cfs, se, False)
    if flags & ENQUEUE_MIGRATED:
        se.exec_start = 0
    if not curr:
        __enqueue_entity(a, cfs, n)
    se.on_rq = 1

cdef void set_cfs_sysctls(kparams* kp, bint cfs, int ncpus) noexcept nogil:
    # v6.5 sysctls, scaled like the base slice (factor 1 + ilog2(min(ncpus, 8))).
    kp.cfs = cfs
    kp.sched_latency_ns = base_slice_for(6_000_000, ncpus, 1)
    kp.min_granularity_ns = base_slice_for(750_000, ncpus, 1)
    kp.wakeup_granularity_ns = base_slice_for(1_000_000, ncpus, 1)
    kp.nr_latency = 8
