# Load balancing, reduced to the two paths that keep CPUs from idling next to queued work
# (kernel/sched/fair.c, v6.15): the newly-idle balance (a CPU about to go idle pulls a waiting
# task) and the NOHZ idle balancer (a busy CPU's tick kicks an idle CPU to pull). Candidates
# follow can_migrate_task: fair, queued but not running, not delayed, allowed on the destination,
# and not cache-hot (ran within sysctl_sched_migration_cost, 0.5 ms: task_hot refuses it, and
# neither path here escalates nr_balance_failed); the least recently run candidate goes first
# (the tail of cfs_tasks).
# Periodic busy-CPU balancing between unequally loaded busy CPUs is not modelled.

cdef s32 pull_candidate(Sim* s, s32 src, s32 dst) noexcept nogil:
    # Walk src's entity hierarchy for the best movable task.
    cdef FairArena* a = &s.fa
    cdef s32 stack[64]
    cdef s32 sp = 0
    cdef s32 n, t, best = -1, best_hot = -1
    cdef u64 oldest = <u64>0xFFFFFFFFFFFFFFFF
    cdef u64 oldest_hot = <u64>0xFFFFFFFFFFFFFFFF
    cdef cfs_rq_t* c = &a.cfs[s.rq[src].cfs]
    cdef u64 now = rq_clock(a, src)
    if c.root >= 0:
        stack[sp] = c.root
        sp += 1
    if c.curr >= 0 and a.se[c.curr].my_q >= 0 and sp < 64:
        stack[sp] = c.curr
        sp += 1
    while sp > 0:
        sp -= 1
        n = stack[sp]
        if a.se[n].left >= 0 and sp < 64 and n != a.cfs[a.se[n].cfs_rq].curr:
            stack[sp] = a.se[n].left
            sp += 1
        if a.se[n].right >= 0 and sp < 64 and n != a.cfs[a.se[n].cfs_rq].curr:
            stack[sp] = a.se[n].right
            sp += 1
        if a.se[n].my_q >= 0:
            c = &a.cfs[a.se[n].my_q]
            if c.root >= 0 and sp < 64:
                stack[sp] = c.root
                sp += 1
            if c.curr >= 0 and a.se[c.curr].my_q >= 0 and sp < 64:
                stack[sp] = c.curr
                sp += 1
            continue
        t = a.se[n].task
        if t < 0 or s.rq[src].curr == t or a.se[n].sched_delayed or not task_allowed(s, t, dst):
            continue
        if s.task[t].cls != CLS_FAIR or s.task[t].state != TS_RUNNABLE:
            continue
        if now - a.se[n].exec_start < <u64>s.migration_cost_ns:
            if a.se[n].exec_start < oldest_hot:
                oldest_hot = a.se[n].exec_start
                best_hot = t
        elif a.se[n].exec_start < oldest:
            oldest = a.se[n].exec_start
            best = t
    return best

cdef void move_queued_task(Sim* s, s32 t, s32 dst) noexcept nogil:
    # detach_task + attach_task: a migrating (not sleeping) dequeue and a migrated enqueue.
    cdef task_t* p = &s.task[t]
    cdef sched_entity* se = &s.fa.se[p.se]
    dequeue_task(s, t, DEQUEUE_SAVE | DEQUEUE_MOVE | DEQUEUE_MIGRATING)
    set_task_cpu(s, t, dst)
    p.nr_migrations += 1
    se.avg.last_update_time = 0
    enqueue_task(s, t, ENQUEUE_MIGRATED | ENQUEUE_RESTORE)
    s.nr_balance_pulls += 1

cdef bint newidle_balance(Sim* s, s32 dst) noexcept nogil:
    # Pull from the busiest rq (most runnable fair tasks, at least two) of this kernel.
    cdef kern_t* k = &s.kern[s.rq[dst].kern]
    cdef s32 c, src = -1, t
    cdef u32 most = 1
    for c in range(k.rq_base, k.rq_base + k.nrq):
        if c != dst and s.fa.cfs[s.rq[c].cfs].h_nr_runnable > most:
            most = s.fa.cfs[s.rq[c].cfs].h_nr_runnable
            src = c
    if src < 0:
        return False
    t = pull_candidate(s, src, dst)
    if t < 0:
        return False
    move_queued_task(s, t, dst)
    return True

cdef void nohz_kick_balance(Sim* s, s32 src) noexcept nogil:
    # The idle load balancer pulls one waiting task from this busy rq to an idle allowed CPU.
    cdef kern_t* k = &s.kern[s.rq[src].kern]
    cdef s32 c, t, dst = -1
    for c in range(k.rq_base, k.rq_base + k.nrq):
        if c != src and rq_idle(s, c):
            dst = c
            break
    if dst < 0:
        return
    t = pull_candidate(s, src, dst)
    if t < 0:
        return
    move_queued_task(s, t, dst)
    wakeup_preempt(s, dst, t)
    resched_deliver(s, dst, False)
