# EEVDF fair class, per cfs_rq (kernel/sched/fair.c, Linux v6.15).
# One implementation for host and guest kernels. Hierarchy walks (enqueue_task_fair,
# dequeue_entities, pick_task_fair) live in the engine (`core.pxi`), which calls these.
from pvsched.calc cimport *
from pvsched.structs cimport *
from pvsched.pelt cimport *
from pvsched.gtime_halted cimport *

cdef inline u64 rq_clock(FairArena* a, s32 cpu) noexcept nogil:
    if a.clk_run[cpu]:
        return <u64>(a.clk_base[cpu] + a.now_p[0] - a.clk_entry[cpu])
    return <u64>a.clk_base[cpu]

# PELT reads the rq clock shifted by one PELT period: the simulated clock starts at 0, and a
# last_update_time of 0 means "not attached" to the kernel (the real clock is never 0).
cdef enum:
    PELT_EPOCH_NS = 1048576

cdef inline u64 pelt_clock(FairArena* a, s32 cpu) noexcept nogil:
    return rq_clock(a, cpu) + PELT_EPOCH_NS

cdef inline bint before(u64 a, u64 b) noexcept nogil:
    # u64 wrap-safe "a earlier than b".
    return <s64>(a - b) < 0

cdef inline u64 se_weight(sched_entity* se) noexcept nogil:
    return scale_load_down(se.load.weight)

cdef inline s64 entity_key(cfs_rq_t* cfs, sched_entity* se) noexcept nogil:
    return <s64>(se.vruntime - cfs.min_vruntime)

cdef inline u64 calc_delta_fair(u64 delta, sched_entity* se) noexcept nogil:
    return calc_delta_fair_lw(delta, &se.load)

cdef inline u32 treap_prio(s32 idx) noexcept nogil:
    # Deterministic priorities: tree shape is a pure function of the operation sequence.
    cdef u32 x = <u32>idx * 2654435761u + 0x9E3779B9u
    x ^= x >> 16
    x *= 0x85EBCA6Bu
    x ^= x >> 13
    x *= 0xC2B2AE35u
    x ^= x >> 16
    return x

# ---------------------------------------------------------------- augmented tree
# Ordered by deadline (equal keys go right, so equal deadlines are FIFO); each node keeps the
# minimum vruntime and slice of its subtree. A treap: any balanced BST gives the same in-order
# sequence, and pick_eevdf depends only on that sequence and the augments.

cdef inline void aug_update(FairArena* a, s32 n) noexcept nogil:
    cdef sched_entity* se = &a.se[n]
    cdef sched_entity* c
    cdef u64 mv = se.vruntime
    cdef u64 ms = se.slice
    if se.left >= 0:
        c = &a.se[se.left]
        if before(c.min_vruntime, mv):
            mv = c.min_vruntime
        if c.min_slice < ms:
            ms = c.min_slice
    if se.right >= 0:
        c = &a.se[se.right]
        if before(c.min_vruntime, mv):
            mv = c.min_vruntime
        if c.min_slice < ms:
            ms = c.min_slice
    se.min_vruntime = mv
    se.min_slice = ms

cdef inline void aug_propagate(FairArena* a, s32 n) noexcept nogil:
    while n >= 0:
        aug_update(a, n)
        n = a.se[n].tparent

cdef inline void tree_replace_child(FairArena* a, cfs_rq_t* cfs, s32 p, s32 old, s32 new) noexcept nogil:
    if p < 0:
        cfs.root = new
    elif a.se[p].left == old:
        a.se[p].left = new
    else:
        a.se[p].right = new
    if new >= 0:
        a.se[new].tparent = p

cdef inline void rotate_up(FairArena* a, cfs_rq_t* cfs, s32 x) noexcept nogil:
    # Lift x above its parent p.
    cdef s32 p = a.se[x].tparent
    cdef s32 g = a.se[p].tparent
    cdef s32 b
    if a.se[p].left == x:
        b = a.se[x].right
        a.se[p].left = b
        if b >= 0:
            a.se[b].tparent = p
        a.se[x].right = p
    else:
        b = a.se[x].left
        a.se[p].right = b
        if b >= 0:
            a.se[b].tparent = p
        a.se[x].left = p
    a.se[p].tparent = x
    tree_replace_child(a, cfs, g, p, x)

cdef inline void tree_insert(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    cdef sched_entity* se = &a.se[n]
    cdef s32 p = cfs.root
    cdef s32 par
    se.left = -1
    se.right = -1
    se.min_vruntime = se.vruntime
    se.min_slice = se.slice
    if p < 0:
        cfs.root = n
        se.tparent = -1
        return
    while True:
        if before(se.deadline, a.se[p].deadline):
            if a.se[p].left < 0:
                a.se[p].left = n
                break
            p = a.se[p].left
        else:
            if a.se[p].right < 0:
                a.se[p].right = n
                break
            p = a.se[p].right
    se.tparent = p
    aug_propagate(a, p)
    while se.tparent >= 0 and a.se[se.tparent].prio < se.prio:
        par = se.tparent
        rotate_up(a, cfs, n)
        aug_update(a, par)
        aug_update(a, n)

cdef inline void tree_erase(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    cdef sched_entity* se = &a.se[n]
    cdef s32 child, p
    while se.left >= 0 and se.right >= 0:
        if a.se[se.left].prio > a.se[se.right].prio:
            rotate_up(a, cfs, se.left)
        else:
            rotate_up(a, cfs, se.right)
    child = se.left if se.left >= 0 else se.right
    p = se.tparent
    tree_replace_child(a, cfs, p, n, child)
    se.left = -1
    se.right = -1
    se.tparent = -1
    aug_propagate(a, p)

cdef inline s32 tree_leftmost(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    cdef s32 n = cfs.root
    if n < 0:
        return -1
    while a.se[n].left >= 0:
        n = a.se[n].left
    return n

# ---------------------------------------------------------------- V, eligibility
cdef inline void avg_vruntime_add(cfs_rq_t* cfs, sched_entity* se) noexcept nogil:
    cdef s64 w = <s64>se_weight(se)
    cfs.avg_vruntime += entity_key(cfs, se) * w
    cfs.avg_load += w

cdef inline void avg_vruntime_sub(cfs_rq_t* cfs, sched_entity* se) noexcept nogil:
    cdef s64 w = <s64>se_weight(se)
    cfs.avg_vruntime -= entity_key(cfs, se) * w
    cfs.avg_load -= w

cdef inline u64 avg_vruntime(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    cdef s64 avg = cfs.avg_vruntime
    cdef s64 load = cfs.avg_load
    cdef sched_entity* curr
    cdef s64 w
    if cfs.curr >= 0:
        curr = &a.se[cfs.curr]
        if curr.on_rq:
            w = <s64>se_weight(curr)
            avg += entity_key(cfs, curr) * w
            load += w
    if load:
        # floor division so that V itself is always eligible
        if avg < 0:
            avg -= (load - 1)
        avg = avg // load if avg >= 0 else -((-avg) // load)
    return cfs.min_vruntime + <u64>avg

cdef inline bint vruntime_eligible(FairArena* a, cfs_rq_t* cfs, u64 vruntime) noexcept nogil:
    cdef s64 avg = cfs.avg_vruntime
    cdef s64 load = cfs.avg_load
    cdef sched_entity* curr
    cdef s64 w
    if cfs.curr >= 0:
        curr = &a.se[cfs.curr]
        if curr.on_rq:
            w = <s64>se_weight(curr)
            avg += entity_key(cfs, curr) * w
            load += w
    return avg >= <s64>(vruntime - cfs.min_vruntime) * load

cdef inline bint entity_eligible(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    return vruntime_eligible(a, cfs, a.se[n].vruntime)

cdef inline void update_min_vruntime(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    cdef u64 vruntime = cfs.min_vruntime
    cdef s32 curr = cfs.curr
    cdef s64 delta
    if curr >= 0:
        if a.se[curr].on_rq:
            vruntime = a.se[curr].vruntime
        else:
            curr = -1
    if cfs.root >= 0:
        if curr < 0:
            vruntime = a.se[cfs.root].min_vruntime
        elif before(a.se[cfs.root].min_vruntime, vruntime):
            vruntime = a.se[cfs.root].min_vruntime
    delta = <s64>(vruntime - cfs.min_vruntime)
    if delta > 0:
        cfs.avg_vruntime -= cfs.avg_load * delta
        cfs.min_vruntime = vruntime

cdef inline void update_entity_lag(FairArena* a, cfs_rq_t* cfs, sched_entity* se) noexcept nogil:
    cdef s64 vlag = <s64>(avg_vruntime(a, cfs) - se.vruntime)
    cdef u64 span = 2 * se.slice
    cdef s64 limit
    if span < a.kp[cfs.kern].tick_nsec:
        span = a.kp[cfs.kern].tick_nsec
    limit = <s64>calc_delta_fair(span, se)
    if vlag > limit:
        vlag = limit
    elif vlag < -limit:
        vlag = -limit
    se.vlag = vlag

cdef inline s64 div_s64_trunc(s64 a, s64 b) noexcept nogil:
    # C division truncates toward zero; spelled out so Cython's cdivision setting cannot matter.
    if (a < 0) != (b < 0):
        return -((-a) // b) if a < 0 else -(a // (-b))
    if a < 0:
        return (-a) // (-b)
    return a // b

cdef inline void place_entity_cfs(FairArena* a, cfs_rq_t* cfs, sched_entity* se, bint initial) noexcept nogil:
    # v6.5: sleepers get up to half a latency period of credit; new tasks start a slice late.
    cdef kparams* kp = &a.kp[cfs.kern]
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
    cdef kparams* kp = &a.kp[cfs.kern]
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
        lw = q.load
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
    gran = <s64>calc_delta_fair(a.kp[a.cfs[a.se[se].cfs_rq].kern].wakeup_granularity_ns, &a.se[se])
    if vdiff > gran:
        return 1
    return 0

cdef inline s32 tree_next(FairArena* a, s32 n) noexcept nogil:
    # In-order successor in the tree.
    cdef s32 p
    if a.se[n].right >= 0:
        n = a.se[n].right
        while a.se[n].left >= 0:
            n = a.se[n].left
        return n
    p = a.se[n].tparent
    while p >= 0 and a.se[p].right == n:
        n = p
        p = a.se[p].tparent
    return p

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
    if delta_exec < a.kp[cfs.kern].min_granularity_ns:
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

cdef inline void place_entity(FairArena* a, cfs_rq_t* cfs, sched_entity* se, int flags) noexcept nogil:
    cdef kparams* kp = &a.kp[cfs.kern]
    cdef u64 vruntime = avg_vruntime(a, cfs)
    cdef u64 vslice
    cdef s64 lag = 0
    cdef s64 load
    cdef sched_entity* curr
    if not se.custom_slice:
        se.slice = kp.base_slice_ns
    vslice = calc_delta_fair(se.slice, se)
    if (kp.features & F_PLACE_LAG) and cfs.nr_queued and se.vlag:
        lag = se.vlag
        load = cfs.avg_load
        if cfs.curr >= 0:
            curr = &a.se[cfs.curr]
            if curr.on_rq:
                load += <s64>se_weight(curr)
        lag *= load + <s64>se_weight(se)
        if load == 0:
            load = 1
        lag = div_s64_trunc(lag, load)
    se.vruntime = vruntime - <u64>lag
    if se.rel_deadline:
        se.deadline += se.vruntime
        se.rel_deadline = 0
        return
    if (kp.features & F_PLACE_DEADLINE_INITIAL) and (flags & ENQUEUE_INITIAL):
        vslice //= 2
    se.deadline = se.vruntime + vslice

cdef inline bint update_deadline(FairArena* a, cfs_rq_t* cfs, sched_entity* se) noexcept nogil:
    if before(se.vruntime, se.deadline):
        return False
    if not se.custom_slice:
        se.slice = a.kp[cfs.kern].base_slice_ns
    se.deadline = se.vruntime + calc_delta_fair(se.slice, se)
    return True

cdef inline u64 cfs_rq_min_slice(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    cdef u64 min_slice = ~(<u64>0)
    if cfs.curr >= 0 and a.se[cfs.curr].on_rq:
        min_slice = a.se[cfs.curr].slice
    if cfs.root >= 0 and a.se[cfs.root].min_slice < min_slice:
        min_slice = a.se[cfs.root].min_slice
    return min_slice

# ---------------------------------------------------------------- buddies
cdef enum:
    BUDDY_NEXT = 0
    BUDDY_LAST = 1
    BUDDY_SKIP = 2

cdef inline s32* buddy_slot(cfs_rq_t* c, int which) noexcept nogil:
    if which == BUDDY_NEXT:
        return &c.next
    if which == BUDDY_LAST:
        return &c.last
    return &c.skip

cdef inline void __clear_buddy(FairArena* a, s32 n, int which) noexcept nogil:
    # Walk up while each level's buddy of this kind points at us.
    cdef s32* slot
    while n >= 0:
        slot = buddy_slot(&a.cfs[a.se[n].cfs_rq], which)
        if slot[0] != n:
            break
        slot[0] = -1
        n = a.se[n].parent

cdef inline void clear_buddies(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    # __clear_buddies_{next,last,skip} (only next exists under EEVDF).
    if cfs.next == n:
        __clear_buddy(a, n, BUDDY_NEXT)
    if cfs.last == n:
        __clear_buddy(a, n, BUDDY_LAST)
    if cfs.skip == n:
        __clear_buddy(a, n, BUDDY_SKIP)

cdef inline void set_next_buddy(FairArena* a, s32 n) noexcept nogil:
    while n >= 0:
        if not a.se[n].on_rq:
            return
        if a.se[n].idle:
            return
        a.cfs[a.se[n].cfs_rq].next = n
        n = a.se[n].parent

# ---------------------------------------------------------------- protection (v6.15 vlag marker)
cdef inline bint protect_slice(sched_entity* se) noexcept nogil:
    return se.vlag == <s64>se.deadline

cdef inline void cancel_protect_slice(sched_entity* se) noexcept nogil:
    if protect_slice(se):
        se.vlag = <s64>(se.deadline + 1)

cdef inline bint did_preempt_short(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    if not (a.kp[cfs.kern].features & F_PREEMPT_SHORT):
        return False
    if protect_slice(&a.se[n]):
        return False
    return not entity_eligible(a, cfs, n)

cdef inline void resched_curr_lazy(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    a.resched[cfs.cpu] |= RESCHED_LAZY if a.kp[cfs.kern].lazy else RESCHED_NOW

# ---------------------------------------------------------------- PELT glue
cdef inline void update_tg_load_avg(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    cdef s64 delta
    cdef u64 now
    if cfs.tg <= 0:       # root group (0) and group-less guest queues (-1) keep no tg sum
        return
    now = rq_clock(a, cfs.cpu)
    if now - cfs.last_update_tg_load_avg < 1000000:
        return
    delta = <s64>cfs.avg.load_avg - <s64>cfs.tg_load_avg_contrib
    if (delta if delta >= 0 else -delta) > <s64>(cfs.tg_load_avg_contrib // 64):
        a.tg[cfs.tg].load_avg += delta
        cfs.tg_load_avg_contrib = cfs.avg.load_avg
        cfs.last_update_tg_load_avg = now

cdef inline int update_cfs_rq_avg(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    # __update_load_avg_cfs_rq: the queue's own weight is the load; curr != NULL is running.
    if a.gth_mode:          # halted-aware PELT: the split update (gtime_halted.pxd)
        return pelt_update_halted(pelt_clock(a, cfs.cpu), &cfs.avg, &cfs.gtime_halted,
                                  scale_load_down(cfs.load.weight), cfs.h_nr_runnable, cfs.curr >= 0, 1)
    return pelt_update(pelt_clock(a, cfs.cpu), &cfs.avg, scale_load_down(cfs.load.weight),
                       cfs.h_nr_runnable, cfs.curr >= 0, 1)

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
    update_load_set(&se.load, weight)
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

cdef inline void update_se_avg_halted(FairArena* a, cfs_rq_t* cfs, sched_entity* se, u64 runnable,
                                     u64 now) noexcept nogil:
    # __update_load_avg_se when guest halted time is tracked: the split update if a mode is on,
    # then the vCPU thread's undiscounted copy and time averages (gtime_halted.pxd).
    cdef int running = cfs.curr >= 0 and &a.se[cfs.curr] == se
    if a.gth_mode:
        pelt_update_halted(now, &se.avg, &se.gtime_halted, se.on_rq, runnable, running, se_weight(se))
    else:
        pelt_update(now, &se.avg, se.on_rq, runnable, running, se_weight(se))
    if se.task >= 0 and a.gth_se[se.task].track:
        gth_track_update(&a.gth_se[se.task], a.now_p[0], &se.avg, se.on_rq, runnable, running,
                         se_weight(se), now)

cdef inline void update_load_avg(FairArena* a, cfs_rq_t* cfs, sched_entity* se, int flags) noexcept nogil:
    cdef u64 now = pelt_clock(a, cfs.cpu)
    cdef u64 runnable
    cdef int decayed
    if se.avg.last_update_time and not (flags & SKIP_AGE_LOAD):
        if se.my_q >= 0:
            runnable = se.runnable_weight
        else:
            runnable = 1 if (se.on_rq and not se.sched_delayed) else 0
        if a.gth_se == NULL:
            pelt_update(now, &se.avg, se.on_rq, runnable, cfs.curr >= 0 and &a.se[cfs.curr] == se,
                        se_weight(se))
        else:
            update_se_avg_halted(a, cfs, se, runnable, now)
    decayed = update_cfs_rq_avg(a, cfs)
    if not se.avg.last_update_time and (flags & DO_ATTACH):
        attach_entity_load_avg(cfs, se)
        update_tg_load_avg(a, cfs)
    elif flags & DO_DETACH:
        detach_entity_load_avg(cfs, se)
        se.avg.last_update_time = 0
        update_tg_load_avg(a, cfs)
    elif decayed and (flags & UPDATE_TG):
        update_tg_load_avg(a, cfs)

cdef inline void se_update_runnable(FairArena* a, sched_entity* se) noexcept nogil:
    if se.my_q >= 0:
        se.runnable_weight = a.cfs[se.my_q].h_nr_runnable

# ---------------------------------------------------------------- update_curr
cdef inline void update_curr(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    cdef sched_entity* curr
    cdef s64 delta_exec
    cdef bint resched
    cdef u64 now
    if cfs.curr < 0:
        return
    curr = &a.se[cfs.curr]
    now = rq_clock(a, cfs.cpu)
    delta_exec = <s64>(now - curr.exec_start)
    if delta_exec <= 0:
        return
    curr.exec_start = now
    curr.sum_exec_runtime += <u64>delta_exec
    curr.vruntime += calc_delta_fair(<u64>delta_exec, curr)
    if a.kp[cfs.kern].cfs:
        update_min_vruntime(a, cfs)    # CFS: preemption is decided at the tick and at wake-up
        return
    resched = update_deadline(a, cfs, curr)
    update_min_vruntime(a, cfs)
    if cfs.nr_queued == 1:
        return
    if resched or did_preempt_short(a, cfs, cfs.curr):
        resched_curr_lazy(a, cfs)
        clear_buddies(a, cfs, cfs.curr)

# ---------------------------------------------------------------- tree membership
cdef inline void __enqueue_entity(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    if a.kp[cfs.kern].cfs:
        a.se[n].deadline = a.se[n].vruntime   # CFS orders its tree by vruntime
    avg_vruntime_add(cfs, &a.se[n])
    tree_insert(a, cfs, n)

cdef inline void __dequeue_entity(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    tree_erase(a, cfs, n)
    avg_vruntime_sub(cfs, &a.se[n])

# ---------------------------------------------------------------- pick
cdef inline s32 pick_eevdf(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    cdef s32 node = cfs.root
    cdef s32 se = tree_leftmost(a, cfs)
    cdef s32 curr = cfs.curr
    cdef s32 best = -1
    cdef s32 left
    if cfs.nr_queued == 1:
        return curr if (curr >= 0 and a.se[curr].on_rq) else se
    if curr >= 0 and (not a.se[curr].on_rq or not entity_eligible(a, cfs, curr)):
        curr = -1
    if (a.kp[cfs.kern].features & F_RUN_TO_PARITY) and curr >= 0 and protect_slice(&a.se[curr]):
        return curr
    if se >= 0 and entity_eligible(a, cfs, se):
        best = se
    else:
        while node >= 0:
            left = a.se[node].left
            if left >= 0 and vruntime_eligible(a, cfs, a.se[left].min_vruntime):
                node = left
                continue
            if entity_eligible(a, cfs, node):
                best = node
                break
            node = a.se[node].right
    if best < 0 or (curr >= 0 and before(a.se[curr].deadline, a.se[best].deadline)):
        best = curr
    return best

cdef inline s32 pick_next_entity(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    # PICK_BUDDY (v6.13+): an eligible next buddy wins. A delayed pick is returned as is; the
    # caller must dequeue it (DEQUEUE_SLEEP | DEQUEUE_DELAYED) and restart the pick.
    if a.kp[cfs.kern].cfs:
        return pick_next_entity_cfs(a, cfs)
    if (a.kp[cfs.kern].features & F_PICK_BUDDY) and cfs.next >= 0 and entity_eligible(a, cfs, cfs.next):
        return cfs.next
    return pick_eevdf(a, cfs)

cdef inline void set_next_entity(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    cdef sched_entity* se = &a.se[n]
    clear_buddies(a, cfs, n)
    if se.on_rq:
        __dequeue_entity(a, cfs, n)
        update_load_avg(a, cfs, se, UPDATE_TG)
        se.vlag = <s64>se.deadline   # slice-protection marker (RUN_TO_PARITY)
    se.exec_start = rq_clock(a, cfs.cpu)
    cfs.curr = n
    se.prev_sum_exec_runtime = se.sum_exec_runtime

cdef inline void put_prev_entity(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    cdef sched_entity* se = &a.se[n]
    if se.on_rq:
        update_curr(a, cfs)
        __enqueue_entity(a, cfs, n)
        update_load_avg(a, cfs, se, 0)
    cfs.curr = -1

# ---------------------------------------------------------------- group shares
cdef inline u64 calc_group_shares(FairArena* a, cfs_rq_t* gcfs) noexcept nogil:
    cdef task_group* tg = &a.tg[gcfs.tg]
    cdef s64 tg_shares = <s64>tg.shares
    cdef s64 load = <s64>scale_load_down(gcfs.load.weight)
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

cdef inline void reweight_entity_inplace(FairArena* a, cfs_rq_t* cfs, s32 n, u64 weight) noexcept nogil:
    # v6.8-v6.13 reweight_eevdf (restored by the 2026 revert): V does not move under a reweight,
    # so v' = V - (V - v)*w/w' and d' = V + (d - V)*w/w', with no lag inflation.
    cdef sched_entity* se = &a.se[n]
    cdef bint curr = cfs.curr == n
    cdef u64 avruntime = 0
    cdef s64 oldw = <s64>se.load.weight
    cdef s64 vlag, vslice
    if se.on_rq:
        update_curr(a, cfs)
        avruntime = avg_vruntime(a, cfs)
        if not curr:
            __dequeue_entity(a, cfs, n)
        cfs.load.weight -= se.load.weight
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
        cfs.load.weight += se.load.weight
        if not curr:
            __enqueue_entity(a, cfs, n)
        update_min_vruntime(a, cfs)
    cfs.load.inv_weight = 0

cdef inline void reweight_entity(FairArena* a, cfs_rq_t* cfs, s32 n, u64 weight) noexcept nogil:
    # v6.14-v6.16: lag and relative deadline rescaled, then re-placed (place_entity, flags 0).
    cdef sched_entity* se = &a.se[n]
    cdef bint curr = cfs.curr == n
    cdef s64 oldw
    if a.kp[cfs.kern].cfs:
        # v6.5: the weight changes in place; vruntime is untouched
        if se.on_rq:
            if curr:
                update_curr(a, cfs)
            else:
                __dequeue_entity(a, cfs, n)
            cfs.load.weight -= se.load.weight
        dequeue_load_avg(cfs, se)
        set_weight_load_avg(cfs, se, weight)
        if se.on_rq:
            cfs.load.weight += se.load.weight
            if not curr:
                __enqueue_entity(a, cfs, n)
        cfs.load.inv_weight = 0
        return
    if a.kp[cfs.kern].features & F_REWEIGHT_INPLACE:
        reweight_entity_inplace(a, cfs, n, weight)
        return
    if se.on_rq:
        update_curr(a, cfs)
        update_entity_lag(a, cfs, se)
        se.deadline -= se.vruntime
        se.rel_deadline = 1
        cfs.nr_queued -= 1
        if not curr:
            __dequeue_entity(a, cfs, n)
        cfs.load.weight -= se.load.weight
        cfs.load.inv_weight = 0
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
        place_entity(a, cfs, se, 0)
        cfs.load.weight += se.load.weight
        cfs.load.inv_weight = 0
        if not curr:
            __enqueue_entity(a, cfs, n)
        cfs.nr_queued += 1
        update_min_vruntime(a, cfs)

cdef inline void update_cfs_group(FairArena* a, s32 n) noexcept nogil:
    cdef sched_entity* se = &a.se[n]
    cdef u64 shares
    # A task has no group queue; an emptied group keeps its weight (matters for DELAY_DEQUEUE).
    if se.my_q < 0 or a.cfs[se.my_q].load.weight == 0:
        return
    shares = calc_group_shares(a, &a.cfs[se.my_q])
    if se.load.weight != shares:
        reweight_entity(a, &a.cfs[se.cfs_rq], n, shares)

# ---------------------------------------------------------------- delayed dequeue
cdef inline void set_delayed(FairArena* a, s32 n) noexcept nogil:
    cdef s32 x = n
    a.se[n].sched_delayed = 1
    if a.se[n].my_q >= 0:
        return
    while x >= 0:
        a.cfs[a.se[x].cfs_rq].h_nr_runnable -= 1
        x = a.se[x].parent

cdef inline void clear_delayed(FairArena* a, s32 n) noexcept nogil:
    cdef s32 x = n
    a.se[n].sched_delayed = 0
    if a.se[n].my_q >= 0:
        return
    while x >= 0:
        a.cfs[a.se[x].cfs_rq].h_nr_runnable += 1
        x = a.se[x].parent

cdef inline void finish_delayed_dequeue_entity(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    clear_delayed(a, n)
    if (a.kp[cfs.kern].features & F_DELAY_ZERO) and a.se[n].vlag > 0:
        a.se[n].vlag = 0

# ---------------------------------------------------------------- enqueue / dequeue entity
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
    update_load_avg(a, cfs, se, UPDATE_TG | DO_ATTACH)
    se_update_runnable(a, se)
    update_cfs_group(a, n)
    cfs.load.weight += se.load.weight
    cfs.load.inv_weight = 0
    cfs.nr_queued += 1
    if flags & ENQUEUE_WAKEUP:
        place_entity_cfs(a, cfs, se, False)
    if flags & ENQUEUE_MIGRATED:
        se.exec_start = 0
    if not curr:
        __enqueue_entity(a, cfs, n)
    se.on_rq = 1

cdef inline void enqueue_entity(FairArena* a, cfs_rq_t* cfs, s32 n, int flags) noexcept nogil:
    cdef sched_entity* se = &a.se[n]
    cdef bint curr = cfs.curr == n
    if a.kp[cfs.kern].cfs:
        enqueue_entity_cfs(a, cfs, n, flags)
        return
    if curr:
        place_entity(a, cfs, se, flags)
    update_curr(a, cfs)
    update_load_avg(a, cfs, se, UPDATE_TG | DO_ATTACH)
    se_update_runnable(a, se)
    update_cfs_group(a, n)
    if not curr:
        place_entity(a, cfs, se, flags)
    cfs.load.weight += se.load.weight
    cfs.load.inv_weight = 0
    cfs.nr_queued += 1
    if flags & ENQUEUE_MIGRATED:
        se.exec_start = 0
    if not curr:
        __enqueue_entity(a, cfs, n)
    se.on_rq = 1

cdef inline bint dequeue_entity(FairArena* a, cfs_rq_t* cfs, s32 n, int flags) noexcept nogil:
    # Returns False when the dequeue was delayed (DELAY_DEQUEUE: sleeping while not eligible).
    cdef sched_entity* se = &a.se[n]
    cdef bint sleep = (flags & DEQUEUE_SLEEP) != 0
    cdef bint delay
    cdef int action = UPDATE_TG
    if a.kp[cfs.kern].cfs:
        update_curr(a, cfs)
        update_load_avg(a, cfs, se, action | (DO_DETACH if flags & DEQUEUE_MIGRATING else 0))
        se_update_runnable(a, se)
        clear_buddies(a, cfs, n)
        if cfs.curr != n:
            __dequeue_entity(a, cfs, n)
        se.on_rq = 0
        cfs.load.weight -= se.load.weight
        cfs.load.inv_weight = 0
        cfs.nr_queued -= 1
        if not sleep:
            se.vruntime -= cfs.min_vruntime      # normalise: relative while off the queue
        update_cfs_group(a, n)
        if (flags & (DEQUEUE_SAVE | DEQUEUE_MOVE)) != DEQUEUE_SAVE:
            update_min_vruntime(a, cfs)
        return True
    update_curr(a, cfs)
    clear_buddies(a, cfs, n)
    if not (flags & DEQUEUE_DELAYED):
        delay = sleep and not (flags & DEQUEUE_SPECIAL)
        if (a.kp[cfs.kern].features & F_DELAY_DEQUEUE) and delay and not entity_eligible(a, cfs, n):
            update_load_avg(a, cfs, se, 0)
            set_delayed(a, n)
            return False
    if flags & DEQUEUE_MIGRATING:
        action |= DO_DETACH
    update_load_avg(a, cfs, se, action)
    se_update_runnable(a, se)
    update_entity_lag(a, cfs, se)
    if (a.kp[cfs.kern].features & F_PLACE_REL_DEADLINE) and not sleep:
        se.deadline -= se.vruntime
        se.rel_deadline = 1
    if cfs.curr != n:
        __dequeue_entity(a, cfs, n)
    se.on_rq = 0
    cfs.load.weight -= se.load.weight
    cfs.load.inv_weight = 0
    cfs.nr_queued -= 1
    update_cfs_group(a, n)
    if (flags & (DEQUEUE_SAVE | DEQUEUE_MOVE)) != DEQUEUE_SAVE:
        update_min_vruntime(a, cfs)
    if flags & DEQUEUE_DELAYED:
        finish_delayed_dequeue_entity(a, cfs, n)
    return True

cdef inline void requeue_delayed_entity(FairArena* a, s32 n) noexcept nogil:
    # A delayed entity woken before it was picked (ENQUEUE_DELAYED).
    cdef sched_entity* se = &a.se[n]
    cdef cfs_rq_t* cfs = &a.cfs[se.cfs_rq]
    if a.kp[cfs.kern].features & F_DELAY_ZERO:
        update_entity_lag(a, cfs, se)
        if se.vlag > 0:
            cfs.nr_queued -= 1
            if cfs.curr != n:
                __dequeue_entity(a, cfs, n)
            se.vlag = 0
            place_entity(a, cfs, se, 0)
            if cfs.curr != n:
                __enqueue_entity(a, cfs, n)
            cfs.nr_queued += 1
    update_load_avg(a, cfs, se, 0)
    clear_delayed(a, n)

# ---------------------------------------------------------------- yield
cdef inline void yield_entity(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    # The entity part of yield_task_fair (after the rq->nr_running == 1 check).
    cdef sched_entity* se = &a.se[n]
    clear_buddies(a, cfs, n)
    update_curr(a, cfs)
    if a.kp[cfs.kern].cfs:
        set_skip_buddy(a, n)                  # v6.5: yield = skip buddy
        return
    if a.kp[cfs.kern].features & F_YIELD_FORFEIT:
        if entity_eligible(a, cfs, n):
            se.vruntime = se.deadline
            se.deadline += calc_delta_fair(se.slice, se)
    else:
        se.deadline += calc_delta_fair(se.slice, se)

cdef inline bint do_preempt_short(FairArena* a, cfs_rq_t* cfs, s32 pse, s32 se) noexcept nogil:
    if not (a.kp[cfs.kern].features & F_PREEMPT_SHORT):
        return False
    if a.se[pse].slice >= a.se[se].slice:
        return False
    if not entity_eligible(a, cfs, pse):
        return False
    if before(a.se[pse].deadline, a.se[se].deadline):
        return True
    if not entity_eligible(a, cfs, se):
        return True
    return False

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
