# The RT class (kernel/sched/rt.c), Linux v6.15: per-rq priority arrays with a bitmap, push/pull
# of RT tasks between CPUs (cpupri), and root RT throttling (<= v6.11).

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
    trace_event(s, TR_MIGRATE, dst, t, s.task[t].cpu, dst)
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

# ---------------------------------------------------------------- RT throttling (<= v6.11)

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
