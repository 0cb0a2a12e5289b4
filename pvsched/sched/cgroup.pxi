# Group scheduling (kernel/sched/fair.c, CONFIG_FAIR_GROUP_SCHED): the task group hierarchy on each
# CPU (group entities owning cfs_rqs), group shares (calc_group_shares), reweighting an entity
# (v6.14-v6.16 and the in-place v6.8-v6.13 rule, v6.5 for CFS), and the cgroup LCA of two entities.

cdef inline s32 task_cfs_on(Sim* s, s32 t, s32 cpu) noexcept nogil:
    # The cfs_rq a task's entity joins on rq `cpu` (its task group's queue there).
    if s.task[t].kern == 0:
        return s.fa.tg_cfs[s.task[t].tg * s.ncpu + cpu]
    return s.rq[cpu].cfs

cdef inline s32 task_parent_on(Sim* s, s32 t, s32 cpu) noexcept nogil:
    if s.task[t].kern == 0 and s.task[t].tg > 0:
        return s.fa.tg_se[s.task[t].tg * s.ncpu + cpu]
    return -1

cdef inline u64 calc_group_shares(FairArena* a, cfs_rq_t* gcfs) noexcept nogil:
    cdef task_group* tg = &a.tg[gcfs.tg]
    cdef s64 tg_shares = <s64>tg.shares
    cdef s64 load = <s64>gcfs.load.weight_down
    cdef s64 tg_weight
    cdef s64 shares
    if <s64>gcfs.avg.load_avg > load:
        load = <s64>gcfs.avg.load_avg
    tg_weight = tg.load_avg - <s64>gcfs.tg_load_avg_contrib + load
    shares = tg_shares * load
    if tg_weight:
        shares = shares // tg_weight
    if shares < MIN_SHARES:
        shares = MIN_SHARES
    if shares > tg_shares:
        shares = tg_shares
    return <u64>shares

cdef inline void reweight_entity_inplace(FairArena* a, cfs_rq_t* cfs, s32 n, u64 weight,
                                         u64 now) noexcept nogil:
    # v6.8-v6.13 reweight_eevdf (restored by the 2026 revert): V does not move under a reweight,
    # so v' = V - (V - v)*w/w' and d' = V + (d - V)*w/w', with no lag inflation.
    cdef sched_entity* se = &a.se[n]
    cdef bint curr = cfs.curr == n
    cdef u64 avruntime = 0
    cdef s64 oldw = <s64>se.load.weight
    cdef s64 vlag, vslice
    if se.on_rq:
        update_curr_at(a, cfs, now)
        avruntime = avg_vruntime(a, cfs)
        if not curr:
            __dequeue_entity(a, cfs, n)
        update_load_sub(&cfs.load, se.load.weight)
    dequeue_load_avg(cfs, se)
    if se.on_rq:
        if avruntime != se.vruntime:
            vlag = div_s64_trunc(<s64>(avruntime - se.vruntime) * oldw, <s64>weight)
            se.vruntime = avruntime - <u64>vlag
        vslice = div_s64_trunc(<s64>(se.deadline - avruntime) * oldw, <s64>weight)
        se.deadline = avruntime + <u64>vslice
    else:
        se.vlag = div_s64_trunc(se.vlag * oldw, <s64>weight)
    set_weight_load_avg(cfs, se, weight)
    if se.on_rq:
        update_load_add(&cfs.load, se.load.weight)
        if not curr:
            __enqueue_entity(a, cfs, n)
        update_min_vruntime(a, cfs)

cdef inline void reweight_entity(FairArena* a, cfs_rq_t* cfs, s32 n, u64 weight, u64 now) noexcept nogil:
    # v6.14-v6.16: lag and relative deadline rescaled, then re-placed (place_entity, flags 0).
    # now: rq_clock(cfs.cpu), the walk's reading
    cdef sched_entity* se = &a.se[n]
    cdef bint curr = cfs.curr == n
    cdef s64 oldw
    cdef s64 avg = 0, load = 0, key = 0
    if cfs.kp.cfs:
        # v6.5: the weight changes in place; vruntime, and so the entity's place in the timeline,
        # is untouched (only the weighted vruntime sum, kept for the audit, follows the weight)
        if se.on_rq:
            if curr:
                update_curr_at(a, cfs, now)
            else:
                avg_vruntime_sub(cfs, se)
            update_load_sub(&cfs.load, se.load.weight)
        dequeue_load_avg(cfs, se)
        set_weight_load_avg(cfs, se, weight)
        if se.on_rq:
            update_load_add(&cfs.load, se.load.weight)
            if not curr:
                avg_vruntime_add(cfs, se)
        return
    if cfs.kp.features & F_REWEIGHT_INPLACE:
        reweight_entity_inplace(a, cfs, n, weight, now)
        return
    if se.on_rq:
        update_curr_at(a, cfs, now)
        # V's sums without se: the sums place_entity will see once se's share leaves at the old
        # weight (and, as curr, comes back at the new one); vruntime and min_vruntime stay put.
        # As curr they are the tree's alone (eligibility_sums would add se and this take it out).
        key = entity_key(cfs, se)
        if curr:
            avg = cfs.avg_vruntime
            load = cfs.avg_load
        else:
            eligibility_sums(a, cfs, &avg, &load)
            avg -= key * <s64>se_weight(se)
            load -= <s64>se_weight(se)
        update_entity_lag_at(cfs, se, avg_vruntime_at(cfs, avg + key * <s64>se_weight(se),
                                                      load + <s64>se_weight(se)))
        se.deadline -= se.vruntime
        se.rel_deadline = 1
        cfs.nr_queued -= 1
        if not curr:
            __dequeue_entity(a, cfs, n)
        # the kernel's update_load_sub here and update_load_add below: nothing in between reads
        # the queue's weight, so it changes once, by the difference, below
    # dequeue_load_avg / enqueue_load_avg around the weight change
    dequeue_load_avg(cfs, se)
    if cfs.avg.load_sum < cfs.avg.load_avg * PELT_MIN_DIVIDER:
        cfs.avg.load_sum = cfs.avg.load_avg * PELT_MIN_DIVIDER
    oldw = <s64>se.load.weight
    se.vlag = div_s64_trunc(se.vlag * oldw, <s64>weight)
    if se.rel_deadline:
        se.deadline = <u64>div_s64_trunc(<s64>se.deadline * oldw, <s64>weight)
    set_weight_load_avg(cfs, se, weight)
    if se.on_rq:
        if curr:
            avg += key * <s64>se_weight(se)
            load += <s64>se_weight(se)
        place_entity_at(cfs, se, 0, avg, load)
        update_load_add(&cfs.load, se.load.weight - <u64>oldw)
        if not curr:
            __enqueue_entity(a, cfs, n)
        cfs.nr_queued += 1
        update_min_vruntime(a, cfs)

cdef inline void update_cfs_group(FairArena* a, cfs_rq_t* cfs, s32 n, u64 now) noexcept nogil:
    # cfs: the entity's queue (the caller's pointer, not looked up again); now: rq_clock(cfs.cpu)
    cdef sched_entity* se = &a.se[n]
    cdef u64 shares
    if se.my_q < 0:                 # a task has no group queue
        return
    if cfs.kp.cfs:
        # v6.5 (SMP) reweights every time: a reweight to the same shares still re-derives the
        # entity's load_avg from its load_sum. The equal-shares skip came with v6.7 (eab03c23c2a1),
        # the empty-group one below with DELAY_DEQUEUE.
        reweight_entity(a, cfs, n, calc_group_shares(a, &a.cfs[se.my_q]), now)
        return
    # An emptied group keeps its weight (matters for DELAY_DEQUEUE).
    if a.cfs[se.my_q].load.weight == 0:
        return
    shares = calc_group_shares(a, &a.cfs[se.my_q])
    if se.load.weight != shares:
        reweight_entity(a, cfs, n, shares, now)

cdef inline void find_matching_se(FairArena* a, s32* se, s32* pse) noexcept nogil:
    # Walk both entities up to siblings in their deepest common cfs_rq (cgroup LCA).
    cdef s32 da = a.se[se[0]].depth
    cdef s32 db = a.se[pse[0]].depth
    while da > db:
        se[0] = a.se[se[0]].parent
        da -= 1
    while db > da:
        pse[0] = a.se[pse[0]].parent
        db -= 1
    while se[0] >= 0 and pse[0] >= 0 and a.se[se[0]].cfs_rq != a.se[pse[0]].cfs_rq:
        se[0] = a.se[se[0]].parent
        pse[0] = a.se[pse[0]].parent
