# PELT bookkeeping of the fair class (kernel/sched/fair.c): update_load_avg of an entity and its
# cfs_rq, attach/detach, the task group's load_avg contribution. The PELT math is pelt.pxd.

cdef inline void update_tg_load_avg(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    update_tg_load_avg_at(a, cfs, rq_clock(a, cfs.cpu))

cdef inline void update_tg_load_avg_at(FairArena* a, cfs_rq_t* cfs, u64 now) noexcept nogil:
    # now: rq_clock(cfs.cpu)
    cdef s64 delta
    if cfs.tg <= 0:       # root group (0) and group-less guest queues (-1) keep no tg sum
        return
    if now - cfs.last_update_tg_load_avg < 1000000:
        return
    delta = <s64>cfs.avg.load_avg - <s64>cfs.tg_load_avg_contrib
    if (delta if delta >= 0 else -delta) > <s64>(cfs.tg_load_avg_contrib // 64):
        a.tg[cfs.tg].load_avg += delta
        cfs.tg_load_avg_contrib = cfs.avg.load_avg
        cfs.last_update_tg_load_avg = now

cdef inline int update_cfs_rq_avg_at(FairArena* a, cfs_rq_t* cfs, u64 now, bint hooks) noexcept nogil:
    # __update_load_avg_cfs_rq at `now` (its PELT clock): the queue's own weight is the load;
    # curr != NULL is running. The "nothing due" test stays inline (a queue is often updated
    # twice at one time). hooks: whether a PELT hook may be attached (a constant at each site).
    cdef unsigned long load = cfs.load.weight_down
    cdef int decayed = 0
    if hooks:
        decayed = hook_pelt(a, cfs, NULL, &cfs.avg, now, load, cfs.h_nr_runnable, cfs.curr >= 0, 1, False)
    if not pelt_due(now, &cfs.avg):
        return decayed
    return pelt_update_sums(now, &cfs.avg, load, cfs.h_nr_runnable, cfs.curr >= 0, 1) | decayed

cdef inline int update_cfs_rq_avg(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    return update_cfs_rq_avg_at(a, cfs, pelt_clock(a, cfs.cpu), True)

cdef inline void attach_entity_load_avg(cfs_rq_t* cfs, sched_entity* se) noexcept nogil:
    cdef u32 divider = PELT_MIN_DIVIDER + cfs.avg.period_contrib
    se.avg.last_update_time = cfs.avg.last_update_time
    se.avg.period_contrib = cfs.avg.period_contrib
    se.avg.util_sum = <u32>(se.avg.util_avg * divider)
    se.avg.runnable_sum = se.avg.runnable_avg * divider
    se.avg.load_sum = se.avg.load_avg * divider
    if se_weight(se) < se.avg.load_sum:
        se.avg.load_sum = se.avg.load_sum // se_weight(se)
    else:
        se.avg.load_sum = 1
    cfs.avg.util_avg += se.avg.util_avg
    cfs.avg.util_sum += se.avg.util_sum
    cfs.avg.runnable_avg += se.avg.runnable_avg
    cfs.avg.runnable_sum += se.avg.runnable_sum
    cfs.avg.load_avg += se.avg.load_avg
    cfs.avg.load_sum += se_weight(se) * se.avg.load_sum

cdef inline u64 sub_positive(u64 a, u64 b) noexcept nogil:
    return a - b if a > b else 0

cdef inline void dequeue_load_avg(cfs_rq_t* cfs, sched_entity* se) noexcept nogil:
    cfs.avg.load_avg = sub_positive(cfs.avg.load_avg, se.avg.load_avg)
    cfs.avg.load_sum = sub_positive(cfs.avg.load_sum, se_weight(se) * se.avg.load_sum)

cdef inline void set_weight_load_avg(cfs_rq_t* cfs, sched_entity* se, u64 weight) noexcept nogil:
    # update_load_set + the entity's load_avg at the new weight, re-added to the queue (enqueue_load_avg).
    se_set_weight(se, weight)
    se.avg.load_avg = se_weight(se) * se.avg.load_sum // (PELT_MIN_DIVIDER + se.avg.period_contrib)
    cfs.avg.load_avg += se.avg.load_avg
    cfs.avg.load_sum += se_weight(se) * se.avg.load_sum

cdef inline void detach_entity_load_avg(cfs_rq_t* cfs, sched_entity* se) noexcept nogil:
    dequeue_load_avg(cfs, se)
    if cfs.avg.load_sum < cfs.avg.load_avg * PELT_MIN_DIVIDER:
        cfs.avg.load_sum = cfs.avg.load_avg * PELT_MIN_DIVIDER
    cfs.avg.util_avg = sub_positive(cfs.avg.util_avg, se.avg.util_avg)
    cfs.avg.util_sum = <u32>sub_positive(cfs.avg.util_sum, se.avg.util_sum)
    if cfs.avg.util_sum < cfs.avg.util_avg * PELT_MIN_DIVIDER:
        cfs.avg.util_sum = <u32>(cfs.avg.util_avg * PELT_MIN_DIVIDER)
    cfs.avg.runnable_avg = sub_positive(cfs.avg.runnable_avg, se.avg.runnable_avg)
    cfs.avg.runnable_sum = sub_positive(cfs.avg.runnable_sum, se.avg.runnable_sum)
    if cfs.avg.runnable_sum < cfs.avg.runnable_avg * PELT_MIN_DIVIDER:
        cfs.avg.runnable_sum = cfs.avg.runnable_avg * PELT_MIN_DIVIDER

cdef inline int update_load_avg_sums(FairArena* a, cfs_rq_t* cfs, s32 n, int skip_age,
                                     bint hooks, u64 now) noexcept nogil:
    # The entity's signal (unless skipped or not attached), then its queue's; returns decayed.
    # Inline into update_load_avg: the call's register saves and restores cost more than the
    # extra code at its ~15 call sites (callgrind: -57 instructions per event on the host load).
    # hooks is a constant: update_load_avg tests the arena's hook mask once and inlines the
    # variant, so that without PELT hooks their tests and the clock re-read fold away.
    # now: pelt_clock(cfs.cpu) (without hooks, the caller's reading)
    cdef sched_entity* se = &a.se[n]
    cdef u64 runnable
    cdef int running
    if se.avg.last_update_time and not skip_age and (hooks or pelt_due(now, &se.avg)):
        runnable = se_pelt_runnable(se)
        running = cfs.curr == n
        if hooks:
            hook_pelt(a, cfs, se, &se.avg, now, se.on_rq, runnable, running, se_weight(se), False)
        if not hooks or pelt_due(now, &se.avg):
            pelt_update_sums(now, &se.avg, se.on_rq, runnable, running, se_weight(se))
    if hooks:
        now = pelt_clock(a, cfs.cpu)        # read after the entity's hook, as the kernel would
    return update_cfs_rq_avg_at(a, cfs, now, hooks)

cdef inline void update_load_avg(FairArena* a, cfs_rq_t* cfs, s32 n, int flags) noexcept nogil:
    update_load_avg_at(a, cfs, n, flags, rq_clock(a, cfs.cpu))

cdef inline u64 se_pelt_runnable(sched_entity* se) noexcept nogil:
    # group: my_q's runnable count; task: queued and not delayed (selects, not branches: a walk
    # alternates tasks and groups)
    cdef u64 runnable = <u64>(se.on_rq & (se.sched_delayed ^ 1))
    return se.runnable_weight if se.my_q >= 0 else runnable

cdef inline void update_load_avg_at(FairArena* a, cfs_rq_t* cfs, s32 n, int flags,
                                    u64 now) noexcept nogil:
    # The entity a.se[n] on its queue cfs (the index: a running test is one compare);
    # now: rq_clock(cfs.cpu), read once by a walk over one rq's queues.
    # Most updates cross no PELT period boundary on either signal (5 in 6 on the host
    # load): then the sums only grow, nothing decays, neither average changes (so neither does
    # the task group's sum), and the work fits in a few registers. Anything else (a period
    # crossed, a hook, SKIP_AGE_LOAD or DO_DETACH, an entity not attached: its position is
    # then >= 2**10 since the PELT clock is >= PELT_EPOCH_NS) goes to update_load_avg_full.
    cdef sched_entity* se = &a.se[n]
    cdef u64 pelt_now = pelt_time(now)
    cdef u64 se_pos = pelt_period_pos(pelt_now, &se.avg)
    cdef u64 cfs_pos = pelt_period_pos(pelt_now, &cfs.avg)
    if a.pelt_hooks or (flags & (SKIP_AGE_LOAD | DO_DETACH)) or (se_pos | cfs_pos) >= 1024:
        update_load_avg_full(a, cfs, n, flags, now)
        return
    # a signal with no whole 1024 ns unit elapsed (often: the same instant again) is left as is
    if se_pos != se.avg.period_contrib:
        pelt_accrue_in_period(&se.avg, se_pos, se.on_rq, se_pelt_runnable(se), cfs.curr == n)
    if cfs_pos != cfs.avg.period_contrib:
        pelt_accrue_in_period(&cfs.avg, cfs_pos, cfs.load.weight_down, cfs.h_nr_runnable,
                              cfs.curr >= 0)

cdef void update_load_avg_full(FairArena* a, cfs_rq_t* cfs, s32 n, int flags,
                               u64 now) noexcept nogil:
    # update_load_avg. One test of the hook mask per call picks the inlined variant of the sums
    # (GCC keeps this function out of line, so the flags stay run-time tests). A hook may run
    # Python code: with hooks the clock is re-read at each use, as before.
    cdef sched_entity* se = &a.se[n]
    cdef int decayed
    if a.pelt_hooks:
        decayed = update_load_avg_sums(a, cfs, n, flags & SKIP_AGE_LOAD, True, pelt_clock(a, cfs.cpu))
        now = rq_clock(a, cfs.cpu)
    else:
        decayed = update_load_avg_sums(a, cfs, n, flags & SKIP_AGE_LOAD, False, pelt_time(now))
    if not se.avg.last_update_time and (flags & DO_ATTACH):
        attach_entity_load_avg(cfs, se)
        update_tg_load_avg_at(a, cfs, now)
    elif flags & DO_DETACH:
        detach_entity_load_avg(cfs, se)
        se.avg.last_update_time = 0
        update_tg_load_avg_at(a, cfs, now)
    elif decayed and (flags & UPDATE_TG):
        update_tg_load_avg_at(a, cfs, now)

cdef inline void se_update_runnable(FairArena* a, sched_entity* se) noexcept nogil:
    if se.my_q >= 0:
        se.runnable_weight = a.cfs[se.my_q].h_nr_runnable
