# Scheduler system calls the mechanisms use (kernel/sched/syscalls.c): sched_setscheduler for a
# class change and yield_to.

cdef void task_setscheduler(Sim* s, s32 t, u8 cls, u8 policy, s32 sched_priority) noexcept nogil:
    # __sched_setscheduler for a class change: dequeue/put, switch, enqueue/set, switched_to.
    cdef task_t* p = &s.task[t]
    cdef s32 cpu = p.cpu
    cdef bint running = s.rq[cpu].curr == t
    cdef bint queued
    if p.cls == CLS_FAIR and p.on_rq and s.fa.se[p.se].sched_delayed:
        # switching_from_fair: a delayed sleeper is dequeued for real first
        dequeue_entities(s, p.se, DEQUEUE_SLEEP | DEQUEUE_DELAYED)
    queued = p.on_rq
    if not queued and s.fa.kp[p.kern].cfs:
        # v6.5 detach/attach_task_cfs_rq of a sleeper: sleeper placement, then relative vruntime
        if p.cls == CLS_FAIR and cls != CLS_FAIR:
            place_entity_cfs(&s.fa, &s.fa.cfs[s.fa.se[p.se].cfs_rq], &s.fa.se[p.se], False)
            s.fa.se[p.se].vruntime -= s.fa.cfs[s.fa.se[p.se].cfs_rq].min_vruntime
        elif p.cls != CLS_FAIR and cls == CLS_FAIR:
            s.fa.se[p.se].vruntime += s.fa.cfs[s.fa.se[p.se].cfs_rq].min_vruntime
    if running:
        settle_curr(s, cpu)
    if queued:
        dequeue_task(s, t, DEQUEUE_SAVE | DEQUEUE_MOVE)
    if running and p.cls == CLS_FAIR:
        put_prev_task_fair(s, t)
    p.cls = cls
    p.policy = policy
    if cls == CLS_RT:
        p.rt_prio = 99 - sched_priority
        p.rr_left = s.rr_ticks
    else:
        p.rt_prio = MAX_RT_PRIO + 20 + p.nice
    if queued:
        enqueue_task(s, t, ENQUEUE_RESTORE | ENQUEUE_MOVE)
        if running and cls == CLS_FAIR:
            set_next_task_fair(s, t)
        if cls == CLS_FAIR and running:
            s.fa.resched[cpu] |= RESCHED_NOW     # switched_to_fair: resched_curr
        elif not running:
            wakeup_preempt(s, cpu, t)

cdef inline u64* ys_of_task(Sim* s, s32 t) noexcept nogil:
    if t >= 0 and s.task[t].vcpu >= 0:
        return s.vm[s.vcpu[s.task[t].vcpu].vm].ys
    return s.ys_host

cdef int yield_to(Sim* s, s32 cpu, s32 p) noexcept nogil:
    # Core yield_to(p, preempt = true) from rq(cpu)->curr. Returns -1 (-ESRCH), 0 or 1.
    cdef s32 curr = s.rq[cpu].curr
    cdef s32 p_rq = s.task[p].cpu
    cdef u64* ys = ys_of_task(s, curr)
    ys[YS_YT_ATTEMPT] += 1
    if s.rq[cpu].nr_running == 1 and s.rq[p_rq].nr_running == 1:
        ys[YS_YT_ESRCH] += 1
        trace_event(s, TR_YIELD_TO, cpu, curr, p, 1)
        return -1
    if s.task[curr].cls != CLS_FAIR or s.task[p].cls != s.task[curr].cls:
        ys[YS_YT_CLASS] += 1            # RT has no yield_to_task; or a different class
        trace_event(s, TR_YIELD_TO, cpu, curr, p, 2)
        return 0
    if s.rq[p_rq].curr == p:
        ys[YS_YT_RUNNING] += 1          # task_on_cpu
        trace_event(s, TR_YIELD_TO, cpu, curr, p, 3)
        return 0
    if s.task[p].state != TS_RUNNABLE:
        ys[YS_YT_NOT_RUNNABLE] += 1     # not TASK_RUNNING (e.g. blocked in kvm_vcpu_block)
        trace_event(s, TR_YIELD_TO, cpu, curr, p, 4)
        return 0
    if not yield_to_task_fair(s, cpu, p):
        ys[YS_YT_NOT_QUEUED] += 1
        trace_event(s, TR_YIELD_TO, cpu, curr, p, 5)
        return 0
    ys[YS_YT_OK] += 1
    trace_event(s, TR_YIELD_TO, cpu, curr, p, 0)
    if p_rq != cpu:
        s.fa.resched[p_rq] |= RESCHED_NOW       # resched_curr(p_rq), not lazy
        resched_deliver(s, p_rq, False)
    trace_yield(s)
    schedule(s, cpu)
    if p_rq == cpu:
        ys[YS_YT_SAME_RQ] += 1
        if s.rq[cpu].curr == p:
            ys[YS_YT_SAME_RQ_PICKED] += 1
    return 1

cdef void sched_pin_task(Sim* s, s32 t, s32 cpu) noexcept nogil:
    # sched_setaffinity(t, {cpu}) for a host task (__set_cpus_allowed_ptr): a queued task moves at
    # once (move_queued_task); a running one is first preempted by the migration stopper (its IPI
    # makes a guest exit), then moved; a sleeper moves at its next wake-up (select_task_rq).
    cdef task_t* p = &s.task[t]
    cdef s32 old = p.cpu
    cdef s32 w
    for w in range(s.kern[0].aff_words):
        s.aff[p.aff + w] = 0
    s.aff[p.aff + (cpu >> 6)] = (<u64>1) << (cpu & 63)
    if old == cpu:
        return
    if s.rq[old].curr == t:
        host_interrupt(s, old, EXIT_HOST_INTR)
        settle_curr(s, old)
        dequeue_task(s, t, DEQUEUE_SAVE | DEQUEUE_MOVE | DEQUEUE_MIGRATING)
        schedule(s, old)
        set_task_cpu(s, t, cpu)
        p.nr_migrations += 1
        s.fa.se[p.se].avg.last_update_time = 0
        enqueue_task(s, t, ENQUEUE_MIGRATED | ENQUEUE_RESTORE)
    elif p.on_rq and p.state == TS_RUNNABLE:
        move_queued_task(s, t, cpu)
    else:
        if p.on_rq and p.cls == CLS_FAIR and s.fa.se[p.se].sched_delayed:
            dequeue_entities(s, p.se, DEQUEUE_SLEEP | DEQUEUE_DELAYED)     # finish a delayed dequeue
        return
    wakeup_preempt(s, cpu, t)
    host_rq_enqueued(s, cpu)
    resched_deliver(s, cpu, False)
