# The fair class at task level (kernel/sched/fair.c, the sched_class methods), Linux v6.15 (EEVDF)
# or v6.5 (CFS): walks of the entity hierarchy for enqueue/dequeue/pick/put/set, the tick, wake-up
# preemption and yield. The per-cfs_rq rules they call are in fair.pxi and cfs.pxi.

cdef inline sched_entity* SE(Sim* s, s32 n) noexcept nogil:
    return &s.fa.se[n]

cdef inline cfs_rq_t* CFS_OF(Sim* s, s32 n) noexcept nogil:
    return &s.fa.cfs[s.fa.se[n].cfs_rq]

cdef void enqueue_task_fair(Sim* s, s32 t, int flags) noexcept nogil:
    cdef FairArena* a = &s.fa
    cdef task_t* p = &s.task[t]
    cdef rq_t* rq = &s.rq[p.cpu]
    cdef s32 n = p.se
    cdef cfs_rq_t* cfs
    cdef u64 slice = 0
    cdef u32 h_nr_idle = 1 if p.policy == POLICY_IDLE else 0
    cdef u32 h_nr_runnable = 1
    cdef u32 rq_h_nr_queued = a.cfs[rq.cfs].h_nr_queued
    cdef u64 now = rq_clock(a, p.cpu)     # every queue walked is this rq's, at this instant
    if flags & ENQUEUE_DELAYED:
        requeue_delayed_entity(a, n)
        return
    if not (flags & ENQUEUE_WAKEUP) and a.se[n].sched_delayed:
        # v6.13+: a delayed sleeper moved by the balancer stays delayed, not runnable on its new rq
        h_nr_runnable = 0
    while n >= 0:
        if a.se[n].on_rq:
            if a.se[n].sched_delayed:
                requeue_delayed_entity(a, n)
            break
        cfs = CFS_OF(s, n)
        if slice:
            a.se[n].slice = slice
            a.se[n].custom_slice = 1
        enqueue_entity(a, cfs, n, flags, now)
        slice = cfs_rq_min_slice(a, cfs)
        cfs.h_nr_runnable += h_nr_runnable
        cfs.h_nr_queued += 1
        cfs.h_nr_idle += h_nr_idle
        if cfs.idle_group:
            h_nr_idle = 1
        flags = ENQUEUE_WAKEUP
        n = a.se[n].parent
    while n >= 0:
        cfs = CFS_OF(s, n)
        update_load_avg_at(a, cfs, n, UPDATE_TG, now)
        se_update_runnable(a, &a.se[n])
        update_cfs_group(a, cfs, n, now)
        a.se[n].slice = slice
        if cfs.curr != n:
            aug_propagate(a, n)
        slice = cfs_rq_min_slice(a, cfs)
        cfs.h_nr_runnable += h_nr_runnable
        cfs.h_nr_queued += 1
        cfs.h_nr_idle += h_nr_idle
        if cfs.idle_group:
            h_nr_idle = 1
        n = a.se[n].parent
    add_nr_running(s, p.cpu, 1)
    if rq_h_nr_queued == 0:
        fair_server_start(s, p.cpu)

cdef int dequeue_entities(Sim* s, s32 n, int flags) noexcept nogil:
    # Returns -1 if the task's own dequeue was delayed, 1 otherwise.
    cdef FairArena* a = &s.fa
    cdef bint task_sleep = (flags & DEQUEUE_SLEEP) != 0
    cdef bint task_delayed = (flags & DEQUEUE_DELAYED) != 0
    cdef s32 t = a.se[n].task
    cdef u32 h_nr_idle = 0
    cdef u32 h_nr_queued = 0
    cdef u32 h_nr_runnable = 0
    cdef cfs_rq_t* cfs
    cdef u64 slice = 0
    cdef s32 cpu = a.cfs[a.se[n].cfs_rq].cpu
    cdef u64 now = rq_clock(a, cpu)
    cdef s32 first = n
    if t >= 0:
        h_nr_queued = 1
        h_nr_idle = 1 if s.task[t].policy == POLICY_IDLE else 0
        if task_sleep or task_delayed or not a.se[n].sched_delayed:
            h_nr_runnable = 1
    else:
        slice = cfs_rq_min_slice(a, &a.cfs[a.se[n].my_q])
    while n >= 0:
        cfs = CFS_OF(s, n)
        if not dequeue_entity(a, cfs, n, flags, now):
            if t >= 0 and n == first:
                return -1
            slice = cfs_rq_min_slice(a, cfs)
            break
        cfs.h_nr_runnable -= h_nr_runnable
        cfs.h_nr_queued -= h_nr_queued
        cfs.h_nr_idle -= h_nr_idle
        if cfs.idle_group:
            h_nr_idle = h_nr_queued
        if cfs.load.weight:
            slice = cfs_rq_min_slice(a, cfs)
            n = a.se[n].parent
            # Bias the next pick towards this cgroup: p sleeps within its slice.
            if task_sleep and n >= 0:
                set_next_buddy(a, n)
            break
        flags |= DEQUEUE_SLEEP
        flags &= ~(DEQUEUE_DELAYED | DEQUEUE_SPECIAL)
        n = a.se[n].parent
    while n >= 0:
        cfs = CFS_OF(s, n)
        update_load_avg_at(a, cfs, n, UPDATE_TG, now)
        se_update_runnable(a, &a.se[n])
        update_cfs_group(a, cfs, n, now)
        a.se[n].slice = slice
        if cfs.curr != n:
            aug_propagate(a, n)
        slice = cfs_rq_min_slice(a, cfs)
        cfs.h_nr_runnable -= h_nr_runnable
        cfs.h_nr_queued -= h_nr_queued
        cfs.h_nr_idle -= h_nr_idle
        if cfs.idle_group:
            h_nr_idle = h_nr_queued
        n = a.se[n].parent
    add_nr_running(s, cpu, -<s32>h_nr_queued)
    if h_nr_queued and s.fa.cfs[s.rq[cpu].cfs].h_nr_queued == 0:
        fair_server_stop(s, cpu)
    if t >= 0 and task_delayed:
        # __block_task: the delayed sleeper finally leaves the runqueue.
        s.task[t].on_rq = 0
    return 1

cdef s32 pick_task_fair(Sim* s, s32 cpu) noexcept nogil:
    cdef FairArena* a = &s.fa
    cdef cfs_rq_t* cfs
    cdef s32 n
    cdef u64 now = rq_clock(a, cpu)     # every queue walked is this rq's, at this instant
    while True:
        cfs = &a.cfs[s.rq[cpu].cfs]
        if not cfs.nr_queued:
            return -1
        while True:
            if cfs.curr >= 0 and a.se[cfs.curr].on_rq:
                update_curr_at(a, cfs, now)
            n = pick_next_entity(a, cfs)
            if n < 0:
                return -1
            if a.se[n].sched_delayed:
                dequeue_entities(s, n, DEQUEUE_SLEEP | DEQUEUE_DELAYED)
                break       # restart from the root ("goto again")
            if a.se[n].my_q < 0:
                return a.se[n].task
            cfs = &a.cfs[a.se[n].my_q]

cdef void put_prev_task_fair(Sim* s, s32 t) noexcept nogil:
    cdef s32 n = s.task[t].se
    cdef u64 now = rq_clock(&s.fa, CFS_OF(s, n).cpu)
    while n >= 0:
        put_prev_entity(&s.fa, CFS_OF(s, n), n, now)
        n = s.fa.se[n].parent

cdef void set_next_task_fair(Sim* s, s32 t) noexcept nogil:
    cdef s32 n = s.task[t].se
    cdef u64 now = rq_clock(&s.fa, CFS_OF(s, n).cpu)
    while n >= 0:
        set_next_entity(&s.fa, CFS_OF(s, n), n, now)
        n = s.fa.se[n].parent

cdef void switch_fair(Sim* s, s32 prev, s32 next) noexcept nogil:
    # pick_next_task_fair: put/set only the levels that change (depth-aligned walk).
    cdef FairArena* a = &s.fa
    cdef s32 se = s.task[next].se
    cdef s32 pse = s.task[prev].se
    cdef s32 sd, pd
    cdef u64 now = rq_clock(a, a.cfs[a.se[se].cfs_rq].cpu)
    while a.se[se].cfs_rq != a.se[pse].cfs_rq:
        sd = a.se[se].depth
        pd = a.se[pse].depth
        if sd <= pd:
            put_prev_entity(a, CFS_OF(s, pse), pse, now)
            pse = a.se[pse].parent
        if sd >= pd:
            set_next_entity(a, CFS_OF(s, se), se, now)
            se = a.se[se].parent
    put_prev_entity(a, CFS_OF(s, pse), pse, now)
    set_next_entity(a, CFS_OF(s, se), se, now)

cdef void task_tick_fair(Sim* s, s32 t) noexcept nogil:
    cdef FairArena* a = &s.fa
    cdef s32 n = s.task[t].se
    cdef cfs_rq_t* cfs
    cdef u64 now = rq_clock(a, CFS_OF(s, n).cpu)
    while n >= 0:
        cfs = CFS_OF(s, n)
        update_curr_at(a, cfs, now)
        update_load_avg_at(a, cfs, n, UPDATE_TG, now)
        update_cfs_group(a, cfs, n, now)
        if cfs.kp.cfs and cfs.nr_queued > 1:
            check_preempt_tick(a, cfs, n)
        n = a.se[n].parent

cdef void check_preempt_wakeup_fair(Sim* s, s32 cpu, s32 p) noexcept nogil:
    cdef FairArena* a = &s.fa
    cdef s32 donor = s.rq[cpu].curr
    cdef s32 se = s.task[donor].se
    cdef s32 pse = s.task[p].se
    cdef cfs_rq_t* cfs
    cdef bint cse_idle, pse_idle
    cdef u32 feat = a.cfs[a.se[pse].cfs_rq].kp.features
    if se == pse:
        return
    if a.cfs[a.se[pse].cfs_rq].kp.cfs:
        check_preempt_wakeup_cfs(s, cpu, p)
        return
    if (feat & F_NEXT_BUDDY) and not a.se[pse].sched_delayed:
        set_next_buddy(a, pse)
    if a.resched[cpu] & RESCHED_NOW:
        return
    if not (feat & F_WAKEUP_PREEMPTION):
        return
    find_matching_se(a, &se, &pse)
    cse_idle = a.se[se].idle
    pse_idle = a.se[pse].idle
    if cse_idle and not pse_idle:
        cancel_protect_slice(&a.se[se])
        resched_curr_lazy(a, CFS_OF(s, se))
        return
    if cse_idle != pse_idle:
        return
    if s.task[p].policy != POLICY_NORMAL:
        return
    cfs = CFS_OF(s, se)
    update_curr(a, cfs)
    if do_preempt_short(a, cfs, pse, se):
        cancel_protect_slice(&a.se[se])
    if pick_eevdf(a, cfs) == pse:
        resched_curr_lazy(a, cfs)

cdef void check_preempt_wakeup_cfs(Sim* s, s32 cpu, s32 p) noexcept nogil:
    # v6.5 check_preempt_wakeup: preempt when the wakee is a wakeup granularity behind curr.
    cdef FairArena* a = &s.fa
    cdef s32 donor = s.rq[cpu].curr
    cdef s32 se = s.task[donor].se
    cdef s32 pse = s.task[p].se
    cdef cfs_rq_t* cfs = CFS_OF(s, se)
    cdef kparams* kp = cfs.kp
    cdef bint scale = cfs.nr_queued >= kp.nr_latency
    cdef bint marked = False
    if (kp.features & F_NEXT_BUDDY) and scale:
        set_next_buddy(a, pse)
        marked = True
    if a.resched[cpu] & RESCHED_NOW:
        return
    if s.task[donor].policy == POLICY_IDLE and s.task[p].policy != POLICY_IDLE:
        a.resched[cpu] |= RESCHED_NOW
        return
    if s.task[p].policy != POLICY_NORMAL or not (kp.features & F_WAKEUP_PREEMPTION):
        return
    find_matching_se(a, &se, &pse)
    if a.se[se].idle and not a.se[pse].idle:
        a.resched[cpu] |= RESCHED_NOW
        return
    if a.se[se].idle != a.se[pse].idle:
        return
    update_curr(a, CFS_OF(s, se))
    if wakeup_preempt_entity(a, se, pse) == 1:
        if not marked:
            set_next_buddy(a, pse)
        a.resched[cpu] |= RESCHED_NOW
        if a.se[se].on_rq and (kp.features & F_LAST_BUDDY) and scale and a.se[se].my_q < 0:
            set_last_buddy(a, se)

cdef bint yield_to_task_fair(Sim* s, s32 cpu, s32 p) noexcept nogil:
    # Directed yield from rq(cpu)->curr to p: next buddy on p's side, then yield_task_fair.
    cdef FairArena* a = &s.fa
    cdef s32 n = s.task[p].se
    if not a.se[n].on_rq:
        return False
    set_next_buddy(a, n)
    hook_yield_to(s, cpu, p)
    yield_task_fair(s, cpu)
    return True

cdef void yield_task_fair(Sim* s, s32 cpu) noexcept nogil:
    cdef s32 t = s.rq[cpu].curr
    cdef s32 n
    if t < 0 or s.rq[cpu].nr_running == 1:
        return
    n = s.task[t].se
    yield_entity(&s.fa, CFS_OF(s, n), n)
