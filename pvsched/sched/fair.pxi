# The EEVDF fair class per cfs_rq (kernel/sched/fair.c, Linux v6.15): V and eligibility, placement
# and deadlines, update_curr, pick, enqueue/dequeue of an entity, delayed dequeue, buddies, yield.
# One implementation for host and guest kernels; a cfs_rq whose kernel runs CFS (v6.5) branches to
# cfs.pxi. Hierarchy walks (enqueue_task_fair, ...) live in fair_class.pxi.

# ---------------------------------------------------------------- initial state
# v6.15 starts every cfs_rq's min_vruntime at -2^20 (so u64 wrap is exercised from the start).
cdef u64 INIT_MIN_VRUNTIME = <u64>(-(<s64>1 << 20))

cdef void init_cfs_rq(cfs_rq_t* c, kparams* kp, s32 kern, s32 cpu, s32 tg, s32 se) noexcept nogil:
    # kp: the kernel's parameters, kept for the queue's life (&FairArena.kp[kern])
    memset(c, 0, sizeof(cfs_rq_t))
    c.kp = kp
    c.min_vruntime = INIT_MIN_VRUNTIME
    c.root = -1
    c.curr = -1
    c.next = -1
    c.last = -1
    c.skip = -1
    c.kern = kern
    c.cpu = cpu
    c.tg = tg
    c.se = se


cdef void init_se(sched_entity* se, s32 idx) noexcept nogil:
    memset(se, 0, sizeof(sched_entity))
    se.left = -1
    se.right = -1
    se.tparent = -1
    se.prio = treap_prio(idx)
    se.parent = -1
    se.cfs_rq = -1
    se.my_q = -1
    se.task = -1

# ---------------------------------------------------------------- V, eligibility

cdef inline void avg_vruntime_add(cfs_rq_t* cfs, sched_entity* se) noexcept nogil:
    cdef s64 w = <s64>se_weight(se)
    cfs.avg_vruntime += entity_key(cfs, se) * w
    cfs.avg_load += w

cdef inline void avg_vruntime_sub(cfs_rq_t* cfs, sched_entity* se) noexcept nogil:
    cdef s64 w = <s64>se_weight(se)
    cfs.avg_vruntime -= entity_key(cfs, se) * w
    cfs.avg_load -= w

cdef inline void eligibility_sums(FairArena* a, cfs_rq_t* cfs, s64* avg, s64* load) noexcept nogil:
    # The tree's weighted key sum and weight, with curr's share added when it is queued: what
    # V and vruntime_eligible are computed from (once when one step needs them several times).
    cdef sched_entity* curr
    cdef s64 w
    avg[0] = cfs.avg_vruntime
    load[0] = cfs.avg_load
    if cfs.curr >= 0:
        curr = &a.se[cfs.curr]
        if curr.on_rq:
            w = <s64>se_weight(curr)
            avg[0] += entity_key(cfs, curr) * w
            load[0] += w

cdef inline u64 avg_vruntime_at(cfs_rq_t* cfs, s64 avg, s64 load) noexcept nogil:
    # V from eligibility_sums(cfs)
    if load:
        # floor division so that V itself is always eligible: a negative sum is lowered by
        # load - 1 first (a mask, not a branch), then divided truncating toward zero
        avg -= (load - 1) & (avg >> 63)
        avg = div_s64_trunc(avg, load)
    return cfs.min_vruntime + <u64>avg

cdef inline u64 avg_vruntime(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    cdef s64 avg, load
    eligibility_sums(a, cfs, &avg, &load)
    return avg_vruntime_at(cfs, avg, load)

cdef inline bint eligible_at(cfs_rq_t* cfs, s64 avg, s64 load, u64 vruntime) noexcept nogil:
    return avg >= <s64>(vruntime - cfs.min_vruntime) * load

cdef inline bint vruntime_eligible(FairArena* a, cfs_rq_t* cfs, u64 vruntime) noexcept nogil:
    cdef s64 avg, load
    eligibility_sums(a, cfs, &avg, &load)
    return eligible_at(cfs, avg, load, vruntime)

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
    update_entity_lag_at(cfs, se, avg_vruntime(a, cfs))

cdef inline void update_entity_lag_at(cfs_rq_t* cfs, sched_entity* se, u64 avruntime) noexcept nogil:
    # avruntime: avg_vruntime(cfs)
    cdef s64 vlag = <s64>(avruntime - se.vruntime)
    cdef u64 span = 2 * se.slice
    cdef s64 limit
    if span < cfs.kp.tick_nsec:
        span = cfs.kp.tick_nsec
    limit = <s64>calc_delta_fair(span, se)
    if vlag > limit:
        vlag = limit
    elif vlag < -limit:
        vlag = -limit
    se.vlag = vlag

cdef inline s64 div_s64_trunc(s64 a, s64 b) noexcept nogil:
    # Truncating toward zero, in C whatever Cython's cdivision setting (no sign branches).
    return pv_div_s64(a, b)

cdef inline void place_entity(FairArena* a, cfs_rq_t* cfs, sched_entity* se, int flags) noexcept nogil:
    cdef s64 avg, load
    eligibility_sums(a, cfs, &avg, &load)     # V's, and the lag's load (tree + queued curr)
    place_entity_at(cfs, se, flags, avg, load)

cdef inline void place_entity_at(cfs_rq_t* cfs, sched_entity* se, int flags, s64 avg, s64 load) noexcept nogil:
    # avg, load: eligibility_sums(cfs)
    cdef kparams* kp = cfs.kp
    cdef u64 vruntime
    cdef u64 vslice
    cdef s64 lag = 0
    vruntime = avg_vruntime_at(cfs, avg, load)
    if not se.custom_slice:
        se.slice = kp.base_slice_ns
    vslice = calc_delta_fair(se.slice, se)
    if (kp.features & F_PLACE_LAG) and cfs.nr_queued and se.vlag:
        lag = se.vlag
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
        se.slice = cfs.kp.base_slice_ns
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
    if not (cfs.kp.features & F_PREEMPT_SHORT):
        return False
    if protect_slice(&a.se[n]):
        return False
    return not entity_eligible(a, cfs, n)

cdef inline void resched_curr_lazy(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    a.resched[cfs.cpu] |= RESCHED_LAZY if cfs.kp.lazy else RESCHED_NOW

# ---------------------------------------------------------------- update_curr

cdef inline void update_curr(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    update_curr_at(a, cfs, rq_clock(a, cfs.cpu))

cdef inline void update_curr_at(FairArena* a, cfs_rq_t* cfs, u64 now) noexcept nogil:
    # now: rq_clock(cfs.cpu), read once by a walk over one rq's queues
    cdef sched_entity* curr
    cdef s64 delta_exec
    cdef bint resched
    if cfs.curr < 0:
        return
    curr = &a.se[cfs.curr]
    delta_exec = <s64>(now - curr.exec_start)
    if delta_exec <= 0:
        return
    curr.exec_start = now
    curr.sum_exec_runtime += <u64>delta_exec
    curr.vruntime += calc_delta_fair(<u64>delta_exec, curr)
    if cfs.kp.cfs:
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
    if cfs.kp.cfs:
        a.se[n].deadline = a.se[n].vruntime   # CFS orders its tree by vruntime
    avg_vruntime_add(cfs, &a.se[n])
    tree_insert(a, cfs, n)

cdef inline void __dequeue_entity(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    tree_erase(a, cfs, n)
    avg_vruntime_sub(cfs, &a.se[n])

# ---------------------------------------------------------------- pick

cdef inline s32 pick_eevdf(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    cdef s64 avg, load
    if cfs.nr_queued == 1:
        return pick_eevdf_at(a, cfs, 0, 0)
    eligibility_sums(a, cfs, &avg, &load)
    return pick_eevdf_at(a, cfs, avg, load)

cdef inline s32 pick_single(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    # The one queued entity (nr_queued == 1): curr if queued, else the tree's only node.
    cdef s32 curr = cfs.curr
    return curr if (curr >= 0 and a.se[curr].on_rq) else cfs.root

cdef inline s32 pick_eevdf_at(FairArena* a, cfs_rq_t* cfs, s64 avg, s64 load) noexcept nogil:
    # avg, load: eligibility_sums(cfs) (nothing changes during a pick; unused with one entity)
    cdef s32 node = cfs.root
    cdef s32 se
    cdef s32 curr = cfs.curr
    cdef s32 best = -1
    cdef s32 left
    if cfs.nr_queued == 1:
        return pick_single(a, cfs)
    if curr >= 0 and (not a.se[curr].on_rq or not eligible_at(cfs, avg, load, a.se[curr].vruntime)):
        curr = -1
    if (cfs.kp.features & F_RUN_TO_PARITY) and curr >= 0 and protect_slice(&a.se[curr]):
        return curr
    se = tree_leftmost(a, cfs)      # a walk here (the kernel's is cached): after the early return
    if se >= 0 and eligible_at(cfs, avg, load, a.se[se].vruntime):
        best = se
    else:
        while node >= 0:
            left = a.se[node].left
            if left >= 0 and eligible_at(cfs, avg, load, a.se[left].min_vruntime):
                node = left
                continue
            if eligible_at(cfs, avg, load, a.se[node].vruntime):
                best = node
                break
            node = a.se[node].right
    if best < 0 or (curr >= 0 and before(a.se[curr].deadline, a.se[best].deadline)):
        best = curr
    return best

cdef inline s32 pick_next_entity(FairArena* a, cfs_rq_t* cfs) noexcept nogil:
    # PICK_BUDDY (v6.13+): an eligible next buddy wins. A delayed pick is returned as is; the
    # caller must dequeue it (DEQUEUE_SLEEP | DEQUEUE_DELAYED) and restart the pick.
    cdef s64 avg, load
    if cfs.kp.cfs:
        return pick_next_entity_cfs(a, cfs)
    if cfs.nr_queued == 1:
        # the next buddy, if set, is that entity: every pick below returns it
        return pick_single(a, cfs)
    if (cfs.kp.features & F_PICK_BUDDY) and cfs.next >= 0:
        eligibility_sums(a, cfs, &avg, &load)
        if eligible_at(cfs, avg, load, a.se[cfs.next].vruntime):
            return cfs.next
        return pick_eevdf_at(a, cfs, avg, load)
    return pick_eevdf(a, cfs)

cdef inline void set_next_entity(FairArena* a, cfs_rq_t* cfs, s32 n, u64 now) noexcept nogil:
    # now: rq_clock(cfs.cpu) (as for every entity step below)
    cdef sched_entity* se = &a.se[n]
    clear_buddies(a, cfs, n)
    if se.on_rq:
        __dequeue_entity(a, cfs, n)
        update_load_avg_at(a, cfs, n, UPDATE_TG, now)
        se.vlag = <s64>se.deadline   # slice-protection marker (RUN_TO_PARITY)
    se.exec_start = now
    cfs.curr = n
    se.prev_sum_exec_runtime = se.sum_exec_runtime

cdef inline void put_prev_entity(FairArena* a, cfs_rq_t* cfs, s32 n, u64 now) noexcept nogil:
    cdef sched_entity* se = &a.se[n]
    if se.on_rq:
        update_curr_at(a, cfs, now)
        __enqueue_entity(a, cfs, n)
        update_load_avg_at(a, cfs, n, 0, now)
    cfs.curr = -1

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
    if (cfs.kp.features & F_DELAY_ZERO) and a.se[n].vlag > 0:
        a.se[n].vlag = 0

# ---------------------------------------------------------------- enqueue / dequeue entity

cdef inline void enqueue_entity(FairArena* a, cfs_rq_t* cfs, s32 n, int flags, u64 now) noexcept nogil:
    cdef sched_entity* se = &a.se[n]
    cdef bint curr = cfs.curr == n
    if cfs.kp.cfs:
        enqueue_entity_cfs(a, cfs, n, flags)
        return
    if curr:
        place_entity(a, cfs, se, flags)
    update_curr_at(a, cfs, now)
    update_load_avg_at(a, cfs, n, UPDATE_TG | DO_ATTACH, now)
    se_update_runnable(a, se)
    update_cfs_group(a, cfs, n, now)
    if not curr:
        place_entity(a, cfs, se, flags)
    update_load_add(&cfs.load, se.load.weight)
    cfs.nr_queued += 1
    if flags & ENQUEUE_MIGRATED:
        se.exec_start = 0
    if not curr:
        __enqueue_entity(a, cfs, n)
    se.on_rq = 1

cdef inline bint dequeue_entity(FairArena* a, cfs_rq_t* cfs, s32 n, int flags, u64 now) noexcept nogil:
    # Returns False when the dequeue was delayed (DELAY_DEQUEUE: sleeping while not eligible).
    cdef sched_entity* se = &a.se[n]
    cdef bint sleep = (flags & DEQUEUE_SLEEP) != 0
    cdef bint delay
    cdef int action = UPDATE_TG
    cdef s64 avg, load
    if cfs.kp.cfs:
        update_curr(a, cfs)
        update_load_avg(a, cfs, n, action | (DO_DETACH if flags & DEQUEUE_MIGRATING else 0))
        se_update_runnable(a, se)
        clear_buddies(a, cfs, n)
        if cfs.curr != n:
            __dequeue_entity(a, cfs, n)
        se.on_rq = 0
        update_load_sub(&cfs.load, se.load.weight)
        cfs.nr_queued -= 1
        if not sleep:
            se.vruntime -= cfs.min_vruntime      # normalise: relative while off the queue
        update_cfs_group(a, cfs, n, now)
        if (flags & (DEQUEUE_SAVE | DEQUEUE_MOVE)) != DEQUEUE_SAVE:
            update_min_vruntime(a, cfs)
        return True
    update_curr_at(a, cfs, now)
    clear_buddies(a, cfs, n)
    # V's sums, once: the eligibility test and the lag see the same queue (PELT alone changes)
    eligibility_sums(a, cfs, &avg, &load)
    if not (flags & DEQUEUE_DELAYED):
        delay = sleep and not (flags & DEQUEUE_SPECIAL)
        if (cfs.kp.features & F_DELAY_DEQUEUE) and delay and not eligible_at(cfs, avg, load, se.vruntime):
            update_load_avg_at(a, cfs, n, 0, now)
            set_delayed(a, n)
            return False
    if flags & DEQUEUE_MIGRATING:
        action |= DO_DETACH
    update_load_avg_at(a, cfs, n, action, now)
    se_update_runnable(a, se)
    update_entity_lag_at(cfs, se, avg_vruntime_at(cfs, avg, load))
    if (cfs.kp.features & F_PLACE_REL_DEADLINE) and not sleep:
        se.deadline -= se.vruntime
        se.rel_deadline = 1
    if cfs.curr != n:
        __dequeue_entity(a, cfs, n)
    se.on_rq = 0
    update_load_sub(&cfs.load, se.load.weight)
    cfs.nr_queued -= 1
    update_cfs_group(a, cfs, n, now)
    if (flags & (DEQUEUE_SAVE | DEQUEUE_MOVE)) != DEQUEUE_SAVE:
        update_min_vruntime(a, cfs)
    if flags & DEQUEUE_DELAYED:
        finish_delayed_dequeue_entity(a, cfs, n)
    return True

cdef inline void requeue_delayed_entity(FairArena* a, s32 n) noexcept nogil:
    # A delayed entity woken before it was picked (ENQUEUE_DELAYED).
    cdef sched_entity* se = &a.se[n]
    cdef cfs_rq_t* cfs = &a.cfs[se.cfs_rq]
    if cfs.kp.features & F_DELAY_ZERO:
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
    update_load_avg(a, cfs, n, 0)
    clear_delayed(a, n)

# ---------------------------------------------------------------- yield

cdef inline void yield_entity(FairArena* a, cfs_rq_t* cfs, s32 n) noexcept nogil:
    # The entity part of yield_task_fair (after the rq->nr_running == 1 check).
    cdef sched_entity* se = &a.se[n]
    clear_buddies(a, cfs, n)
    update_curr(a, cfs)
    if cfs.kp.cfs:
        set_skip_buddy(a, n)                  # v6.5: yield = skip buddy
        return
    if cfs.kp.features & F_YIELD_FORFEIT:
        if entity_eligible(a, cfs, n):
            se.vruntime = se.deadline
            se.deadline += calc_delta_fair(se.slice, se)
    else:
        se.deadline += calc_delta_fair(se.slice, se)

cdef inline bint do_preempt_short(FairArena* a, cfs_rq_t* cfs, s32 pse, s32 se) noexcept nogil:
    if not (cfs.kp.features & F_PREEMPT_SHORT):
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
