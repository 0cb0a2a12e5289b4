# Host scheduler core (kernel/sched/core.c, rt.c, the hierarchy half of fair.c), Linux v6.15.
# Textually included by _core.pyx, so everything compiles into one translation unit.

cdef inline u64 splitmix64(u64* state) noexcept nogil:
    cdef u64 z
    state[0] += <u64>0x9E3779B97F4A7C15
    z = state[0]
    z = (z ^ (z >> 30)) * <u64>0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <u64>0x94D049BB133111EB
    return z ^ (z >> 31)

cdef inline s64 rand_upto(task_t* t, s64 b) noexcept nogil:
    # Uniform integer in [0, b].
    if b <= 0:
        return 0
    return <s64>(splitmix64(&t.rng) % (<u64>b + 1))

cdef inline bint task_allowed(Sim* s, s32 t, s32 cpu) noexcept nogil:
    # cpu is an rq index; affinity bits are relative to the task's kernel.
    cdef s32 rel = cpu - s.kern[s.task[t].kern].rq_base
    return (s.aff[s.task[t].aff + (rel >> 6)] >> (rel & 63)) & 1

cdef inline void add_nr_running(Sim* s, s32 cpu, s32 delta) noexcept nogil:
    # rq->nr_running, and the kernel's count of overloaded rqs (>= 2 tasks) for balancing.
    cdef u32 old = s.rq[cpu].nr_running
    s.rq[cpu].nr_running = old + delta
    if old < 2 and s.rq[cpu].nr_running >= 2:
        s.kern[s.rq[cpu].kern].nr_overloaded += 1
    elif old >= 2 and s.rq[cpu].nr_running < 2:
        s.kern[s.rq[cpu].kern].nr_overloaded -= 1

cdef inline s32 task_cfs_on(Sim* s, s32 t, s32 cpu) noexcept nogil:
    # The cfs_rq a task's entity joins on rq `cpu` (its task group's queue there).
    if s.task[t].kern == 0:
        return s.fa.tg_cfs[s.task[t].tg * s.ncpu + cpu]
    return s.rq[cpu].cfs

cdef inline s32 task_parent_on(Sim* s, s32 t, s32 cpu) noexcept nogil:
    if s.task[t].kern == 0 and s.task[t].tg > 0:
        return s.fa.tg_se[s.task[t].tg * s.ncpu + cpu]
    return -1

cdef inline void set_task_cpu(Sim* s, s32 t, s32 cpu) noexcept nogil:
    # The task now belongs to rq `cpu`; its fair entity follows, whatever its current class.
    cdef sched_entity* se = &s.fa.se[s.task[t].se]
    s.task[t].cpu = cpu
    se.cfs_rq = task_cfs_on(s, t, cpu)
    se.parent = task_parent_on(s, t, cpu)

cdef inline void set_idle_bit(Sim* s, s32 cpu, bint idle) noexcept nogil:
    cdef kern_t* k = &s.kern[s.rq[cpu].kern]
    cdef s32 rel = cpu - k.rq_base
    if idle:
        s.idle_mask[k.idle_off + (rel >> 6)] |= (<u64>1) << (rel & 63)
    else:
        s.idle_mask[k.idle_off + (rel >> 6)] &= ~((<u64>1) << (rel & 63))

cdef inline void violation(Sim* s, int kind) noexcept nogil:
    s.violations += 1
    s.violation_kind |= (<u64>1) << kind

# ---------------------------------------------------------------- RT class (rt.c)
cdef inline void rt_bm_set(rq_t* rq, int prio) noexcept nogil:
    if prio < 64:
        rq.rt_bm0 |= (<u64>1) << prio
    else:
        rq.rt_bm1 |= (<u64>1) << (prio - 64)

cdef inline void rt_bm_clear(rq_t* rq, int prio) noexcept nogil:
    if prio < 64:
        rq.rt_bm0 &= ~((<u64>1) << prio)
    else:
        rq.rt_bm1 &= ~((<u64>1) << (prio - 64))

cdef inline int rt_highest_prio(rq_t* rq) noexcept nogil:
    if rq.rt_bm0:
        return 63 - pv_clzll(rq.rt_bm0 & (~rq.rt_bm0 + 1))
    if rq.rt_bm1:
        return 64 + 63 - pv_clzll(rq.rt_bm1 & (~rq.rt_bm1 + 1))
    return MAX_RT_PRIO

cdef inline void rt_enqueue(Sim* s, s32 t, bint head) noexcept nogil:
    cdef task_t* p = &s.task[t]
    cdef s32 k = p.cpu * MAX_RT_PRIO + p.rt_prio
    cdef rq_t* rq = &s.rq[p.cpu]
    if s.rt_head[k] < 0:
        s.rt_head[k] = t
        s.rt_tail[k] = t
        p.rt_next = -1
        p.rt_prev = -1
        rt_bm_set(rq, p.rt_prio)
    elif head:
        p.rt_prev = -1
        p.rt_next = s.rt_head[k]
        s.task[s.rt_head[k]].rt_prev = t
        s.rt_head[k] = t
    else:
        p.rt_next = -1
        p.rt_prev = s.rt_tail[k]
        s.task[s.rt_tail[k]].rt_next = t
        s.rt_tail[k] = t
    rq.rt_nr += 1
    if rq.rt_nr == 2:
        s.rt_overloaded += 1

cdef inline void rt_dequeue(Sim* s, s32 t) noexcept nogil:
    cdef task_t* p = &s.task[t]
    cdef s32 k = p.cpu * MAX_RT_PRIO + p.rt_prio
    cdef rq_t* rq = &s.rq[p.cpu]
    if p.rt_prev >= 0:
        s.task[p.rt_prev].rt_next = p.rt_next
    else:
        s.rt_head[k] = p.rt_next
    if p.rt_next >= 0:
        s.task[p.rt_next].rt_prev = p.rt_prev
    else:
        s.rt_tail[k] = p.rt_prev
    p.rt_next = -1
    p.rt_prev = -1
    if s.rt_head[k] < 0:
        rt_bm_clear(rq, p.rt_prio)
    rq.rt_nr -= 1
    if rq.rt_nr == 1:
        s.rt_overloaded -= 1

cdef inline void rt_requeue_tail(Sim* s, s32 t) noexcept nogil:
    cdef task_t* p = &s.task[t]
    cdef s32 k = p.cpu * MAX_RT_PRIO + p.rt_prio
    if s.rt_tail[k] == t:
        return
    rt_dequeue(s, t)
    rt_enqueue(s, t, False)

cdef inline int rq_prio(Sim* s, s32 cpu) noexcept nogil:
    # cpupri view of a CPU: the running task's prio (idle = lowest).
    cdef s32 c = s.rq[cpu].curr
    if c < 0:
        return MAX_RT_PRIO + 41
    return s.task[c].rt_prio

cdef void rt_move(Sim* s, s32 t, s32 dst) noexcept nogil:
    rt_dequeue(s, t)
    add_nr_running(s, s.task[t].cpu, -1)
    detach_task_pelt(s, t)
    set_task_cpu(s, t, dst)
    s.task[t].nr_migrations += 1
    rt_enqueue(s, t, False)
    add_nr_running(s, dst, 1)

cdef void push_rt_task(Sim* s, s32 cpu) noexcept nogil:
    # push_rt_tasks: queued RT tasks that cannot run here go, highest first, to the allowed CPU
    # running the lowest-priority work, if that is lower than the task's own priority.
    cdef kern_t* k = &s.kern[s.rq[cpu].kern]
    cdef s32 c, t, nxt, prio, best
    cdef int bestp
    for prio in range(MAX_RT_PRIO):
        t = s.rt_head[cpu * MAX_RT_PRIO + prio]
        while t >= 0:
            nxt = s.task[t].rt_next
            if t != s.rq[cpu].curr:
                best = -1
                bestp = s.task[t].rt_prio
                for c in range(k.rq_base, k.rq_base + k.nrq):
                    if c != cpu and task_allowed(s, t, c) and rq_prio(s, c) > bestp and not s.rq[c].rt_throttled:
                        bestp = rq_prio(s, c)
                        best = c
                if best >= 0:
                    rt_move(s, t, best)
                    wakeup_preempt(s, best, t)
                    resched_deliver(s, best, False)
                    return
            t = nxt

cdef void pull_rt_task(Sim* s, s32 cpu) noexcept nogil:
    # pull_rt_task: this CPU is about to run lower-priority work; take the best waiting RT task
    # (any priority level, skipping ones not allowed here) from an overloaded CPU if it beats
    # what this CPU would run.
    cdef kern_t* k = &s.kern[s.rq[cpu].kern]
    cdef s32 c, t, prio, best = -1
    cdef int bestp = rt_highest_prio(&s.rq[cpu])
    for c in range(k.rq_base, k.rq_base + k.nrq):
        if c == cpu or s.rq[c].rt_nr < 2:
            continue
        for prio in range(bestp if bestp < MAX_RT_PRIO else MAX_RT_PRIO):
            t = s.rt_head[c * MAX_RT_PRIO + prio]
            while t >= 0:
                if t != s.rq[c].curr and task_allowed(s, t, cpu):
                    break
                t = s.task[t].rt_next
            if t >= 0:
                bestp = prio
                best = t
                break
    if best >= 0:
        rt_move(s, best, cpu)

cdef inline s32 rt_pick(Sim* s, s32 cpu) noexcept nogil:
    cdef int prio = rt_highest_prio(&s.rq[cpu])
    if prio >= MAX_RT_PRIO:
        return -1
    return s.rt_head[cpu * MAX_RT_PRIO + prio]

# ---------------------------------------------------------------- fair hierarchy (fair.c)
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
        enqueue_entity(a, cfs, n, flags)
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
        update_load_avg(a, cfs, &a.se[n], UPDATE_TG)
        se_update_runnable(a, &a.se[n])
        update_cfs_group(a, n)
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
        if not dequeue_entity(a, cfs, n, flags):
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
        update_load_avg(a, cfs, &a.se[n], UPDATE_TG)
        se_update_runnable(a, &a.se[n])
        update_cfs_group(a, n)
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
    while True:
        cfs = &a.cfs[s.rq[cpu].cfs]
        if not cfs.nr_queued:
            return -1
        while True:
            if cfs.curr >= 0 and a.se[cfs.curr].on_rq:
                update_curr(a, cfs)
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
    while n >= 0:
        put_prev_entity(&s.fa, CFS_OF(s, n), n)
        n = s.fa.se[n].parent

cdef void set_next_task_fair(Sim* s, s32 t) noexcept nogil:
    cdef s32 n = s.task[t].se
    while n >= 0:
        set_next_entity(&s.fa, CFS_OF(s, n), n)
        n = s.fa.se[n].parent

cdef void switch_fair(Sim* s, s32 prev, s32 next) noexcept nogil:
    # pick_next_task_fair: put/set only the levels that change (depth-aligned walk).
    cdef FairArena* a = &s.fa
    cdef s32 se = s.task[next].se
    cdef s32 pse = s.task[prev].se
    cdef s32 sd, pd
    while a.se[se].cfs_rq != a.se[pse].cfs_rq:
        sd = a.se[se].depth
        pd = a.se[pse].depth
        if sd <= pd:
            put_prev_entity(a, CFS_OF(s, pse), pse)
            pse = a.se[pse].parent
        if sd >= pd:
            set_next_entity(a, CFS_OF(s, se), se)
            se = a.se[se].parent
    put_prev_entity(a, CFS_OF(s, pse), pse)
    set_next_entity(a, CFS_OF(s, se), se)

cdef void task_tick_fair(Sim* s, s32 t) noexcept nogil:
    cdef FairArena* a = &s.fa
    cdef s32 n = s.task[t].se
    cdef cfs_rq_t* cfs
    while n >= 0:
        cfs = CFS_OF(s, n)
        update_curr(a, cfs)
        update_load_avg(a, cfs, &a.se[n], UPDATE_TG)
        update_cfs_group(a, n)
        if a.kp[cfs.kern].cfs and cfs.nr_queued > 1:
            check_preempt_tick(a, cfs, n)
        n = a.se[n].parent

cdef void check_preempt_wakeup_fair(Sim* s, s32 cpu, s32 p) noexcept nogil:
    cdef FairArena* a = &s.fa
    cdef s32 donor = s.rq[cpu].curr
    cdef s32 se = s.task[donor].se
    cdef s32 pse = s.task[p].se
    cdef cfs_rq_t* cfs
    cdef bint cse_idle, pse_idle
    cdef u32 feat = a.kp[a.cfs[a.se[pse].cfs_rq].kern].features
    if se == pse:
        return
    if a.kp[a.cfs[a.se[pse].cfs_rq].kern].cfs:
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
    cdef kparams* kp = &a.kp[cfs.kern]
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
    if s.dbst_on:
        yield_to_deboost(s, cpu, p)     # seed 002 vCPU debooster (yield.pxi)
    yield_task_fair(s, cpu)
    return True

cdef void yield_task_fair(Sim* s, s32 cpu) noexcept nogil:
    cdef s32 t = s.rq[cpu].curr
    cdef s32 n
    if t < 0 or s.rq[cpu].nr_running == 1:
        return
    n = s.task[t].se
    yield_entity(&s.fa, CFS_OF(s, n), n)

# ---------------------------------------------------------------- fair deadline server / RT throttle
cdef void fair_server_start(Sim* s, s32 cpu) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    if s.rt_guard != RT_GUARD_FAIR_SERVER or rq.fs_on:
        return
    rq.fs_on = 1
    if s.now >= rq.fs_deadline:
        rq.fs_deadline = tadd(s.now, s.fs_period_ns)
        rq.fs_runtime = s.fs_runtime_ns

cdef void fair_server_stop(Sim* s, s32 cpu) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    if not rq.fs_on:
        return
    rq.fs_on = 0
    if rq.fs_active:
        rq.fs_active = 0
    ev_cancel(&s.q, s.slot_fs + cpu)

cdef inline void fair_server_replenish(Sim* s, rq_t* rq) noexcept nogil:
    cdef s64 k
    if s.now >= rq.fs_deadline:
        k = (s.now - rq.fs_deadline) // s.fs_period_ns
        rq.fs_deadline = tadd(rq.fs_deadline + k * s.fs_period_ns, s.fs_period_ns)
        rq.fs_runtime = s.fs_runtime_ns

cdef void fair_server_update(Sim* s, s32 cpu) noexcept nogil:
    # Deferred server: arm at the zero-laxity point while RT starves queued fair tasks,
    # or at budget exhaustion while the server runs fair tasks above RT.
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 curr = rq.curr
    cdef s64 when
    if not rq.fs_on:
        return
    fair_server_replenish(s, rq)
    if rq.fs_active:
        if curr >= 0 and s.task[curr].cls == CLS_FAIR:
            ev_arm(&s.q, s.slot_fs + cpu, tadd(s.now, rq.fs_runtime if rq.fs_runtime > 0 else 0))
        return
    if curr >= 0 and s.task[curr].cls == CLS_RT and s.fa.cfs[rq.cfs].h_nr_runnable > 0:
        if rq.fs_runtime > 0:
            when = rq.fs_deadline - rq.fs_runtime
        else:
            when = rq.fs_deadline
        if when < s.now:
            when = s.now
        if not ev_armed(&s.q, s.slot_fs + cpu) or ev_expiry(&s.q, s.slot_fs + cpu) != when:
            ev_arm(&s.q, s.slot_fs + cpu, when)
    elif ev_armed(&s.q, s.slot_fs + cpu):
        ev_cancel(&s.q, s.slot_fs + cpu)

cdef void handle_fair_server(Sim* s, s32 cpu) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 curr = rq.curr
    host_interrupt(s, cpu, EXIT_HOST_INTR)
    settle_curr(s, cpu)
    if rq.fs_active and rq.fs_runtime <= 0:
        # budget used up: throttled until the deadline, whatever the next period holds
        rq.fs_active = 0
        s.fa.resched[cpu] |= RESCHED_NOW
    fair_server_replenish(s, rq)
    if (not rq.fs_active and curr >= 0 and s.task[curr].cls == CLS_RT
            and s.fa.cfs[rq.cfs].h_nr_runnable > 0 and rq.fs_runtime > 0
            and s.now >= rq.fs_deadline - rq.fs_runtime):
        rq.fs_active = 1
        rq.fs_activations += 1
        s.fa.resched[cpu] |= RESCHED_NOW
    if s.fa.resched[cpu]:
        resched_deliver(s, cpu, True)
    else:
        fair_server_update(s, cpu)

cdef inline void rt_period_advance(Sim* s, rq_t* rq) noexcept nogil:
    cdef s64 k
    if s.now - rq.rt_period_start >= s.rt_period_ns:
        k = (s.now - rq.rt_period_start) // s.rt_period_ns
        rq.rt_period_start += k * s.rt_period_ns
        rq.rt_time -= k * s.rt_runtime_ns
        if rq.rt_time < 0:
            rq.rt_time = 0

cdef void handle_rt_period(Sim* s, s32 cpu) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    if rq.vcpu >= 0:
        guest_timer_interrupt(s, rq.vcpu)   # a guest's rt_period_timer is its LAPIC timer
    else:
        host_interrupt(s, cpu, EXIT_HOST_INTR)
    settle_curr(s, cpu)
    rt_period_advance(s, rq)
    if rq.rt_throttled and rq.rt_time < s.rt_runtime_ns:
        rq.rt_throttled = 0
        if rq.rt_nr:
            s.fa.resched[cpu] |= RESCHED_NOW
    if rq.rt_throttled:
        ev_arm(&s.q, s.slot_rt + cpu, tadd(rq.rt_period_start, s.rt_period_ns))
    if rq.vcpu >= 0:
        guest_timer_wake(s, rq.vcpu)
    resched_deliver(s, cpu, True)

# ---------------------------------------------------------------- accounting
cdef void settle_curr(Sim* s, s32 cpu) noexcept nogil:
    # Charge the running task's workload progress (and the class budgets) up to now.
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 t = rq.curr
    cdef task_t* p
    cdef s64 el
    if t < 0 or s.now <= rq.seg_start or not s.fa.clk_run[cpu]:
        return
    el = s.now - rq.seg_start
    rq.seg_start = s.now
    p = &s.task[t]
    p.cpu_ns += el
    if p.remaining > 0:
        p.remaining -= el
        if p.remaining < 0:
            p.remaining = 0
    if p.cls == CLS_FAIR:
        if rq.fs_on:
            rq.fs_runtime -= el
    elif s.rt_guard == RT_GUARD_THROTTLE:
        rt_period_advance(s, rq)
        rq.rt_time += el
        if rq.rt_time > s.rt_runtime_ns and not rq.rt_throttled:
            rq.rt_throttled = 1
            rq.rt_throttle_count += 1
            s.fa.resched[cpu] |= RESCHED_NOW
            ev_arm(&s.q, s.slot_rt + cpu, tadd(rq.rt_period_start, s.rt_period_ns))

# ---------------------------------------------------------------- class dispatch
cdef void enqueue_task(Sim* s, s32 t, int flags) noexcept nogil:
    cdef task_t* p = &s.task[t]
    if p.cls == CLS_FAIR:
        enqueue_task_fair(s, t, flags)
    else:
        rt_enqueue(s, t, False)
        add_nr_running(s, p.cpu, 1)
    p.on_rq = 1

cdef bint dequeue_task(Sim* s, s32 t, int flags) noexcept nogil:
    # False when a fair sleeper's dequeue was delayed (it stays queued, sched_delayed).
    cdef task_t* p = &s.task[t]
    if p.cls == CLS_FAIR:
        if dequeue_entities(s, p.se, flags) < 0:
            return False
    else:
        rt_dequeue(s, t)
        add_nr_running(s, p.cpu, -1)
    p.on_rq = 0
    return True

cdef void wakeup_preempt(Sim* s, s32 cpu, s32 p) noexcept nogil:
    cdef s32 curr = s.rq[cpu].curr
    cdef u8 pc = s.task[p].cls
    cdef u8 cc
    if curr < 0:
        s.fa.resched[cpu] |= RESCHED_NOW
        return
    cc = s.task[curr].cls
    if s.rq[cpu].fs_active and cc == CLS_FAIR:
        cc = CLS_RT + 1     # fair tasks run as the deadline server's payload
    if pc == cc:
        if pc == CLS_FAIR:
            check_preempt_wakeup_fair(s, cpu, p)
        elif s.task[p].rt_prio < s.task[curr].rt_prio:
            s.fa.resched[cpu] |= RESCHED_NOW
    elif pc > cc:
        s.fa.resched[cpu] |= RESCHED_NOW

cdef s32 pick_next_task(Sim* s, s32 cpu, s32 prev) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 next = -1
    cdef bint rt_ok
    cdef bint prev_fair = prev >= 0 and s.task[prev].cls == CLS_FAIR
    if s.rt_overloaded > 0 and not rq.rt_throttled and (
            rq.rt_nr == 0 or (prev >= 0 and s.task[prev].cls == CLS_RT and rt_highest_prio(rq) > s.task[prev].rt_prio)):
        pull_rt_task(s, cpu)     # need_pull_rt_task: this rq's priority is dropping
    rt_ok = rq.rt_nr > 0 and not rq.rt_throttled
    if rq.fs_active and s.fa.cfs[rq.cfs].h_nr_runnable == 0:
        rq.fs_active = 0
    if rt_ok and not rq.fs_active:
        next = rt_pick(s, cpu)
        if next != prev:
            if prev_fair:
                put_prev_task_fair(s, prev)
        return next
    next = pick_task_fair(s, cpu)
    if next < 0 and not rt_ok and s.balance and s.kern[rq.kern].nr_overloaded > 0:
        # sched_balance_newidle: pull a waiting task before going idle, then pick again
        if newidle_balance(s, cpu):
            next = pick_task_fair(s, cpu)
    if next < 0 and rt_ok:
        next = rt_pick(s, cpu)
        if next != prev and prev_fair:
            put_prev_task_fair(s, prev)
        return next
    if next < 0:
        if prev_fair:
            put_prev_task_fair(s, prev)
        return -1
    if prev_fair:
        if prev != next:
            switch_fair(s, prev, next)
    else:
        set_next_task_fair(s, next)
    return next

cdef void schedule(Sim* s, s32 cpu) noexcept nogil:
    # __schedule(): prev has already been dequeued if it blocks.
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 prev = rq.curr
    cdef s32 next
    cdef task_t* p
    cdef kern_t* k = &s.kern[rq.kern]
    settle_curr(s, cpu)
    s.fa.resched[cpu] = 0
    next = pick_next_task(s, cpu, prev)
    s.fa.resched[cpu] = 0
    if next != prev:
        if prev >= 0:
            p = &s.task[prev]
            ev_cancel(&s.q, s.slot_burst + cpu)
            if p.state == TS_RUNNING:
                p.state = TS_RUNNABLE
                p.runnable_since = s.now
                p.nr_preempted += 1
            if p.vcpu >= 0:
                vcpu_switch_out(s, p.vcpu)
        else:
            rq.busy_since = s.now
            if s.fa.clk_run[cpu] and not ev_armed(&s.q, s.slot_tick + cpu):
                ev_arm(&s.q, s.slot_tick + cpu, (s.now // k.tick_ns + 1) * k.tick_ns)
        rq.curr = next
        rq.nr_switches += 1
        set_idle_bit(s, cpu, next < 0)
        if next >= 0:
            if prev < 0 and rq.vcpu < 0:
                rq.seg_start = s.now + cstate_exit_ns(s, s.now - rq.idle_since) - s.ctx_switch_ns
            switch_in(s, cpu, next)
        else:
            rq.busy_ns += s.now - rq.busy_since
            rq.idle_since = s.now
            if k.nohz_idle:
                ev_cancel(&s.q, s.slot_tick + cpu)
                rq.tick_next = 0
            if rq.vcpu >= 0 and s.fa.clk_run[cpu]:
                vcpu_guest_idle(s, rq.vcpu)
    if rq.fs_on:
        fair_server_update(s, cpu)
    if rq.rt_nr > 1:
        push_rt_task(s, cpu)
    if s.check:
        check_rq(s, cpu)

cdef inline s64 cstate_exit_ns(Sim* s, s64 idle_ns) noexcept nogil:
    # Exit latency of the deepest C-state whose target residency the idle period covered
    # (an oracle governor); without a table, the flat idle_exit_ns.
    cdef s32 i
    cdef s64 lat = s.idle_exit_ns
    for i in range(s.n_cstates):
        if idle_ns >= s.cst_residency[i]:
            lat = s.cst_latency[i]
    return lat

cdef inline void record_latency(Sim* s, s32 t, s64 at) noexcept nogil:
    # Wake-up latency: from the timer expiry to the moment the task executes (`at`).
    cdef task_t* p = &s.task[t]
    cdef s64 lat = at - p.lat_start
    p.lat_start = -1
    p.lat_count += 1
    p.lat_sum += lat
    if lat > p.lat_max:
        p.lat_max = lat
    s.hist[<s64>t * HIST_NBUCKETS + hist_bucket(lat)] += 1

cdef void switch_in(Sim* s, s32 cpu, s32 t) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    cdef task_t* p = &s.task[t]
    p.state = TS_RUNNING
    p.nr_switches += 1
    p.wait_ns += s.now - p.runnable_since
    if p.cls == CLS_RT and p.policy == POLICY_RR and p.rr_left <= 0:
        p.rr_left = s.rr_ticks
    if rq.seg_start < s.now:
        rq.seg_start = s.now
    rq.seg_start += s.ctx_switch_ns
    if p.vcpu >= 0:
        vcpu_switch_in(s, p.vcpu, cpu)
        return
    if not s.fa.clk_run[cpu]:
        # A guest rq whose vCPU is not in guest mode: the task starts running at the next entry.
        return
    if rq.vcpu >= 0 and s.vm[s.vcpu[rq.vcpu].vm].boost_mode and guest_switch_hooks(s, rq.vcpu, t):
        return              # a doorbell exit before the task reaches user space
    if p.lat_start >= 0:
        record_latency(s, t, rq.seg_start)
    if p.remaining == 0:
        # Nothing to compute (fresh start or after a yield): run the program now.
        program_step(s, t, cpu)
    elif p.remaining > 0:
        ev_arm(&s.q, s.slot_burst + cpu, tadd(rq.seg_start, p.remaining))
    elif p.sync and rq.vcpu >= 0:
        sync_resume(s, rq.vcpu, t)      # seed 002: a waiting task spins again

cdef void check_rq(Sim* s, s32 cpu) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 c
    if rq.curr < 0:
        if s.fa.cfs[rq.cfs].h_nr_runnable > 0 or (rq.rt_nr > 0 and not rq.rt_throttled):
            violation(s, 0)        # work conservation
    else:
        c = rq.curr
        if s.task[c].cpu != cpu or s.task[c].state != TS_RUNNING:
            violation(s, 1)        # a task current where it is not running
        if not task_allowed(s, c, cpu):
            violation(s, 2)        # affinity

# ---------------------------------------------------------------- wake-up
cdef inline bint rq_idle(Sim* s, s32 c) noexcept nogil:
    # available_idle_cpu(): nothing current or queued, and (guest) the vCPU is not preempted.
    if s.rq[c].curr >= 0 or s.rq[c].nr_running:
        return False
    if s.rq[c].vcpu >= 0 and s.vcpu[s.rq[c].vcpu].preempted:
        return False
    return True

cdef inline s32 find_idle_allowed(Sim* s, s32 t, s32 start) noexcept nogil:
    # First idle allowed rq at or after `start` (rq index), wrapping within the task's kernel.
    cdef kern_t* k = &s.kern[s.task[t].kern]
    cdef s32 words = k.aff_words
    cdef s32 rstart = start - k.rq_base
    cdef s32 kk, w, c
    cdef u64 bits
    cdef s32 sb = rstart & 63
    for kk in range(words + 1):
        w = ((rstart >> 6) + kk) % words
        bits = s.idle_mask[k.idle_off + w] & s.aff[s.task[t].aff + w]
        if kk == 0:
            bits &= ~(<u64>0) << sb
        elif kk == words:
            bits &= ((<u64>1) << sb) - 1
        while bits:
            c = w * 64 + (63 - pv_clzll(bits & (~bits + 1)))
            if c < k.nrq and rq_idle(s, k.rq_base + c):
                return k.rq_base + c
            bits &= bits - 1
    return -1

cdef s32 select_task_rq(Sim* s, s32 t) noexcept nogil:
    # Simplified select_task_rq: fair -> prev if idle, else the next idle allowed CPU in the LLC
    # (wrapping from prev + 1), else prev. RT -> prev unless it runs equal/higher RT, then the
    # allowed CPU with the lowest-priority current task (cpupri).
    cdef task_t* p = &s.task[t]
    cdef kern_t* k = &s.kern[p.kern]
    cdef s32 prev = p.cpu
    cdef s32 i, c, best
    cdef int bestv, v
    cdef rq_t* rq
    if p.cls == CLS_FAIR:
        if task_allowed(s, t, prev) and rq_idle(s, prev):
            return prev
        c = find_idle_allowed(s, t, k.rq_base + (prev - k.rq_base + 1) % k.nrq)
        if c >= 0:
            return c
        if task_allowed(s, t, prev):
            return prev
        for c in range(k.rq_base, k.rq_base + k.nrq):
            if task_allowed(s, t, c):
                return c
        return prev
    rq = &s.rq[prev]
    if task_allowed(s, t, prev) and (rq.curr < 0 or s.task[rq.curr].cls != CLS_RT
                                     or s.task[rq.curr].rt_prio > p.rt_prio):
        return prev
    best = -1
    bestv = -1
    for i in range(k.nrq):
        c = k.rq_base + (prev - k.rq_base + i) % k.nrq
        if not task_allowed(s, t, c):
            continue
        rq = &s.rq[c]
        if rq.curr < 0:
            v = 1000
        elif s.task[rq.curr].cls != CLS_RT:
            v = 500
        else:
            v = s.task[rq.curr].rt_prio
        if v > bestv:
            bestv = v
            best = c
    return best if best >= 0 else prev

cdef s32 select_new_cpu(Sim* s, s32 t) noexcept nogil:
    # Fork balance: the least-loaded allowed CPU of the task's kernel, scanning from its index.
    cdef kern_t* k = &s.kern[s.task[t].kern]
    cdef s32 i, c, best = -1
    cdef u32 bestn = 0xFFFFFFFF
    for i in range(k.nrq):
        c = k.rq_base + (t + i) % k.nrq
        if task_allowed(s, t, c) and s.rq[c].nr_running < bestn:
            bestn = s.rq[c].nr_running
            best = c
    return best

cdef void detach_task_pelt(Sim* s, s32 t) noexcept nogil:
    # Leaving a CPU: an attached PELT signal is decayed and removed from the old queue first,
    # whatever the task's class (an RT-boosted vCPU thread keeps its fair entity's signal).
    cdef sched_entity* se = &s.fa.se[s.task[t].se]
    cdef cfs_rq_t* old = &s.fa.cfs[se.cfs_rq]
    if se.avg.last_update_time:
        update_cfs_rq_avg(&s.fa, old)
        pelt_update(pelt_clock(&s.fa, old.cpu), &se.avg, 0, 0, 0, se_weight(se))
        detach_entity_load_avg(old, se)
        update_tg_load_avg(&s.fa, old)
        se.avg.last_update_time = 0

cdef void migrate_task(Sim* s, s32 t, s32 cpu) noexcept nogil:
    # set_task_cpu for a sleeping task: move its entity to the target CPU's group queues.
    cdef task_t* p = &s.task[t]
    cdef sched_entity* se = &s.fa.se[p.se]
    cdef cfs_rq_t* old = &s.fa.cfs[se.cfs_rq]
    if p.cls == CLS_FAIR and s.fa.kp[old.kern].cfs:
        se.vruntime -= old.min_vruntime   # v6.5 migrate_task_rq_fair: a waking task goes relative
    detach_task_pelt(s, t)
    set_task_cpu(s, t, cpu)
    p.nr_migrations += 1

cdef void try_to_wake_up(Sim* s, s32 t, s32 local) noexcept nogil:
    cdef task_t* p = &s.task[t]
    cdef s32 cpu
    cdef int flags = ENQUEUE_WAKEUP
    p.nr_wakeups += 1
    p.state = TS_RUNNABLE
    p.runnable_since = s.now
    if p.on_rq:
        # ttwu_runnable: a delayed fair sleeper is requeued where it is.
        cpu = p.cpu
        enqueue_task_fair(s, t, ENQUEUE_DELAYED)
    else:
        if p.state_new:
            # wake_up_new_task: fork balance (RT: cpupri), fully loaded PELT, half-slice deadline.
            p.state_new = 0
            cpu = select_new_cpu(s, t)
            if p.cls == CLS_RT:
                set_task_cpu(s, t, cpu)
                cpu = select_task_rq(s, t)
                set_task_cpu(s, t, cpu)
            p.cpu = cpu
            flags = ENQUEUE_INITIAL
            if p.cls == CLS_FAIR:
                s.fa.se[p.se].cfs_rq = task_cfs_on(s, t, cpu)
                s.fa.se[p.se].parent = task_parent_on(s, t, cpu)
                init_entity_avg(&s.fa.se[p.se].avg, se_weight(&s.fa.se[p.se]))
        else:
            cpu = select_task_rq(s, t)
            if cpu != p.cpu:
                migrate_task(s, t, cpu)
                flags |= ENQUEUE_MIGRATED
        enqueue_task(s, t, flags)
    wakeup_preempt(s, cpu, t)
    if s.rq[cpu].fs_on:
        fair_server_update(s, cpu)
    if s.rq[cpu].vcpu >= 0:
        if (p.cls == CLS_RT and cpu == local and s.vm[s.vcpu[s.rq[cpu].vcpu].vm].boost_mode
                and (s.vm[s.vcpu[s.rq[cpu].vcpu].vm].triggers & TR_RT_ENQUEUE)):
            s.vcpu[s.rq[cpu].vcpu].boost_req = VCPU_REQ_BOOST
            s.vcpu[s.rq[cpu].vcpu].boost_cat = 1
        guest_wakeup_delivered(s, cpu, local)
    else:
        host_rq_enqueued(s, cpu)
    resched_deliver(s, cpu, cpu == local)

# ---------------------------------------------------------------- workload interpreter
cdef enum:
    STEP_RUN = 0
    STEP_BLOCK = 1
    STEP_YIELD = 2
    STEP_EXIT = 3

cdef int program_advance(Sim* s, s32 t, s64* wake_at) noexcept nogil:
    # Execute instant ops until one that takes time; returns what the task does next.
    cdef task_t* p = &s.task[t]
    cdef op_t* op
    cdef int guard = 0
    cdef int r
    while guard < 4096:
        guard += 1
        if p.pc >= p.prog_len:
            return STEP_EXIT
        op = &s.ops[p.prog_start + p.pc]
        p.pc += 1
        if op.code == OP_RUN:
            p.remaining = tadd(op.a, rand_upto(p, op.b))
            if p.remaining <= 0:
                continue
            return STEP_RUN
        elif op.code == OP_CRITICAL:
            p.remaining = tadd(op.a, rand_upto(p, op.b))
            if p.remaining <= 0:
                continue
            p.in_critical = 1
            return STEP_RUN
        elif op.code == OP_HOG:
            p.pc -= 1
            p.remaining = -1
            return STEP_RUN
        elif op.code == OP_SLEEP:
            wake_at[0] = tadd(tadd(s.now, op.a), rand_upto(p, op.b))
            return STEP_BLOCK
        elif op.code == OP_START_PERIOD:
            p.period_next = tadd(s.now, op.a)
        elif op.code == OP_PERIOD:
            p.period_next = tadd(p.period_next, op.a)
            wake_at[0] = tadd(p.period_next, rand_upto(p, op.b))
            if wake_at[0] <= s.now:
                # Overrun: clock_nanosleep(TIMER_ABSTIME) returns at once; still a sample.
                p.nr_overruns += 1
                p.lat_start = wake_at[0]
                continue
            return STEP_BLOCK
        elif op.code == OP_YIELD:
            p.remaining = 0
            return STEP_YIELD
        elif op.code == OP_LOOP:
            if op.b == 0:
                p.pc = <s32>op.a
            else:
                if p.loop_left == 0:
                    p.loop_left = <s32>op.b
                p.loop_left -= 1
                if p.loop_left > 0:
                    p.pc = <s32>op.a
        elif op.code == OP_EXIT:
            return STEP_EXIT
        elif op.code == OP_VMEXIT:
            if p.kern > 0 and s.fa.clk_run[p.cpu]:
                vcpu_exit(s, s.rq[p.cpu].vcpu, EXIT_MMIO, tadd(s.vm[s.kern[p.kern].vm].exit_ns, op.a))
        elif op.code == OP_VCPU:
            p.pc -= 1
            p.remaining = -1
            return STEP_RUN
        elif op.code >= OP_LOCK:
            r = sync_op(s, t, op)       # seed 002 guest sync ops (spin.pxi)
            if r >= 0:
                return r
    return STEP_EXIT

cdef enum:
    MAX_STEP_DEPTH = 32

cdef void program_step(Sim* s, s32 t, s32 cpu) noexcept nogil:
    # The running task finished its burst (or had none): act on its next op. Zero-time work
    # (yields, expired periodic timers) can hand the CPU back and forth at one instant: past a
    # small nesting depth the step continues from the event loop, at this same instant, instead
    # of recursing deeper (a long catch-up overflowed the C stack).
    if s.step_depth >= MAX_STEP_DEPTH:
        ev_arm(&s.q, s.slot_burst + cpu, s.rq[cpu].seg_start if s.rq[cpu].seg_start > s.now else s.now)
        return
    s.step_depth += 1
    program_step_now(s, t, cpu)
    s.step_depth -= 1

cdef void program_step_now(Sim* s, s32 t, s32 cpu) noexcept nogil:
    cdef task_t* p = &s.task[t]
    cdef s64 wake_at = 0
    cdef int r
    cdef bint was_critical = p.in_critical
    p.in_critical = 0
    r = program_advance(s, t, &wake_at)
    if was_critical and not p.in_critical and r == STEP_RUN and s.fa.resched[cpu]:
        # preempt_enable() with a reschedule pending
        if p.remaining > 0 and s.fa.clk_run[cpu]:
            ev_arm(&s.q, s.slot_burst + cpu, tadd(s.rq[cpu].seg_start, p.remaining))
        resched_deliver(s, cpu, True)
        return
    if r == STEP_RUN:
        if not s.fa.clk_run[cpu]:
            # An MMIO exit in the program stopped the guest: the rest runs after re-entry.
            return
        if p.lat_start >= 0:
            record_latency(s, t, s.now)   # a periodic overrun sample: the task runs right now
        if p.remaining > 0:
            ev_arm(&s.q, s.slot_burst + cpu, tadd(s.rq[cpu].seg_start, p.remaining))
        return
    ev_cancel(&s.q, s.slot_burst + cpu)
    if r == STEP_YIELD:
        p.nr_yields += 1
        if p.cls == CLS_FAIR:
            yield_task_fair(s, cpu)
        elif s.rq[cpu].rt_nr > 1:
            rt_requeue_tail(s, t)
        schedule(s, cpu)
        if s.rq[cpu].curr == t and p.remaining == 0:
            # Picked again at once: the program goes on (loops always contain a timed op).
            program_step(s, t, cpu)
        return
    p.state = TS_SLEEPING if r == STEP_BLOCK else TS_DEAD
    dequeue_task(s, t, DEQUEUE_SLEEP if r == STEP_BLOCK else DEQUEUE_SLEEP | DEQUEUE_SPECIAL)
    if r == STEP_BLOCK:
        p.timer_cpu = cpu
        ev_arm(&s.q, s.slot_task + t, wake_at)
    schedule(s, cpu)

# ---------------------------------------------------------------- event handlers
cdef void handle_tick(Sim* s, s32 cpu) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 t = rq.curr
    cdef task_t* p
    cdef kern_t* k = &s.kern[rq.kern]
    cdef s32 v = rq.vcpu
    rq.nr_ticks += 1
    if v >= 0:
        # Guest tick: the LAPIC timer interrupt (a preemption-timer exit unless timer exits are off).
        if s.vm[s.vcpu[v].vm].timer_exits:
            s.vcpu[v].pending_irq = 1
            vcpu_exit(s, v, EXIT_GUEST_TIMER, s.vm[s.vcpu[v].vm].exit_ns)
        elif s.vm[s.vcpu[v].vm].boost_mode:
            guest_irq_hooks(s, v)
        if s.vm[s.vcpu[v].vm].rogue == ROGUE_DOORBELL_STORM:
            s.vcpu[v].boost_req = VCPU_REQ_BOOST
            vcpu_exit(s, v, EXIT_DOORBELL, s.vm[s.vcpu[v].vm].doorbell_ns)
    else:
        host_interrupt(s, cpu, EXIT_HOST_TICK)
    settle_curr(s, cpu)
    if t >= 0:
        p = &s.task[t]
        if p.cls == CLS_FAIR:
            task_tick_fair(s, t)
        elif p.policy == POLICY_RR:
            p.rr_left -= 1
            if p.rr_left <= 0:
                p.rr_left = s.rr_ticks
                if rq.rt_nr > 1 and s.rt_head[cpu * MAX_RT_PRIO + p.rt_prio] != s.rt_tail[cpu * MAX_RT_PRIO + p.rt_prio]:
                    rt_requeue_tail(s, t)
                    s.fa.resched[cpu] |= RESCHED_NOW
    if s.balance and rq.nr_running >= 2 and s.fa.cfs[rq.cfs].h_nr_runnable >= 2:
        nohz_kick_balance(s, cpu)
    if s.balance and s.periodic_balance and t >= 0 and k.nrq > 1 and lb_jiffies(s, k) >= rq.next_balance:
        sched_balance_domains(s, cpu)       # sched_balance_trigger -> SCHED_SOFTIRQ
    if t >= 0 or not k.nohz_idle:
        if s.fa.clk_run[cpu]:
            ev_arm(&s.q, s.slot_tick + cpu, s.now + k.tick_ns)
        else:
            rq.tick_next = s.now + k.tick_ns
    if s.fa.resched[cpu]:
        s.fa.resched[cpu] |= RESCHED_NOW    # the tick promotes a lazy request
        resched_deliver(s, cpu, True)

cdef void handle_burst(Sim* s, s32 cpu) noexcept nogil:
    cdef s32 t = s.rq[cpu].curr
    settle_curr(s, cpu)
    s.task[t].remaining = 0
    program_step(s, t, cpu)

cdef void handle_task_timer(Sim* s, s32 t) noexcept nogil:
    cdef task_t* p = &s.task[t]
    cdef s64 wake_at = 0
    cdef int r
    cdef bint is_new = p.state == TS_NEW
    if is_new:
        p.state_new = 1
        if p.vcpu >= 0:
            vcpu_set_mode(s, p.vcpu, VM_PREEMPTED)
        # wake_up_new_task runs on the parent's CPU: taken to be the task's first allowed CPU
        # (p.cpu at creation), so a child placed elsewhere is a remote wake-up.
        p.timer_cpu = p.cpu
    elif p.timer_cpu >= 0:
        if p.kern > 0:
            guest_timer_interrupt(s, s.rq[p.timer_cpu].vcpu)
        else:
            host_interrupt(s, p.timer_cpu, EXIT_HOST_INTR)
    p.lat_start = s.now
    r = program_advance(s, t, &wake_at)
    if r == STEP_BLOCK:
        if is_new:
            # A new task whose program sleeps first: it was forked (fork balance placed it), ran
            # for an instant and went to sleep, so its first wake-up is an ordinary sleeper's.
            set_task_cpu(s, t, select_new_cpu(s, t))
            p.timer_cpu = p.cpu
            p.state_new = 0
        p.state = TS_SLEEPING
        ev_arm(&s.q, s.slot_task + t, wake_at)
        return
    if r == STEP_EXIT:
        p.state = TS_DEAD
        p.lat_start = -1
        return
    if r == STEP_YIELD:
        p.remaining = 0
        p.nr_yields += 1
    try_to_wake_up(s, t, p.timer_cpu)

cdef void run_loop(Sim* s, s64 until) noexcept nogil:
    cdef s32 slot
    cdef s64 t
    if s.stalled:
        return
    while s.q.n > 0 and s.q.heap[0].time <= until:
        if s.q.heap[0].time == s.now:
            s.same_n += 1
            if s.same_n > s.same_limit:
                # State that repeats without time advancing: report it and stop at this instant.
                s.stalled = 1
                violation(s, 3)
                return
        else:
            s.same_n = 0
        slot = ev_pop(&s.q, &t)
        s.now = t
        s.nevents += 1
        if slot < s.slot_burst:
            handle_tick(s, slot - s.slot_tick)
        elif slot < s.slot_fs:
            handle_burst(s, slot - s.slot_burst)
        elif slot < s.slot_rt:
            handle_fair_server(s, slot - s.slot_fs)
        elif slot < s.slot_vcpu:
            handle_rt_period(s, slot - s.slot_rt)
        elif slot < s.slot_vbudget:
            handle_vcpu(s, slot - s.slot_vcpu)
        elif slot < s.slot_task:
            handle_vbudget(s, slot - s.slot_vbudget)
        elif slot < s.slot_spin:
            handle_task_timer(s, slot - s.slot_task)
        elif slot < s.slot_irq:
            handle_spin(s, slot - s.slot_spin)          # seed 002 (spin.pxi)
        else:
            handle_irq_end(s, slot - s.slot_irq)
    if until > s.now:
        s.now = until
