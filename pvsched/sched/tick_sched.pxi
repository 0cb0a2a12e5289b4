# Full dynticks on host CPUs (Host(nohz_full=[...]); kernel/time/tick-sched.c, Linux v6.15): the
# tick of a nohz_full CPU stops at interrupt exit (the end of a tick here) when nothing depends on
# it, and restarts at the next tick boundary when a dependency appears: the scheduler's
# (sched_can_stop_tick(): a second fair task, a second SCHED_RR task), RCU's forced tick
# (TICK_DEP_BIT_RCU, rcu/rcu_engine.pxi), or, with RcuConfig.tick_dependency = "timer", a
# timer-wheel timer due in every tick period (it never stops). The kick's own IPI is not modelled.
# Rules: sched/tick_sched.pxd.

cdef u32 rq_rr_nr_running(Sim* s, s32 cpu) noexcept nogil:
    # rq->rt.rr_nr_running: queued SCHED_RR tasks (an isolated CPU holds a handful of RT tasks).
    cdef rq_t* rq = &s.rq[cpu]
    cdef u32 n = 0
    cdef int prio
    cdef s32 t
    if rq.rt_nr == 0:
        return 0
    for prio in range(MAX_RT_PRIO):
        t = s.rt_head[cpu * MAX_RT_PRIO + prio]
        while t >= 0:
            if s.task[t].policy == POLICY_RR:
                n += 1
            t = s.task[t].rt_next
    return n

cdef bint tick_nohz_full_can_stop(Sim* s, s32 cpu) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    if s.rcu != NULL and (s.rcu.hp.tick_dep_timer or s.rcu.rdp[cpu].forced_tick):
        return False
    return can_stop_full_tick(0, sched_can_stop_tick(0, rq.rt_nr, rq_rr_nr_running(s, cpu),
                                                     s.fa.cfs[rq.cfs].h_nr_queued))

cdef void tick_nohz_full_stop(Sim* s, s32 cpu) noexcept nogil:
    s.rq[cpu].tick_stopped = 1
    ev_cancel(&s.q, s.slot_tick + cpu)

cdef void tick_nohz_full_kick(Sim* s, s32 cpu) noexcept nogil:
    # tick_nohz_dep_set_cpu(): restart a stopped tick at the next boundary.
    cdef s64 tick = s.kern[0].tick_ns
    if not s.rq[cpu].tick_stopped:
        return
    s.rq[cpu].tick_stopped = 0
    if s.rq[cpu].curr >= 0 and not ev_armed(&s.q, s.slot_tick + cpu):
        ev_arm(&s.q, s.slot_tick + cpu, (s.now // tick + 1) * tick)

cdef inline void tick_nohz_full_enqueued(Sim* s, s32 cpu) noexcept nogil:
    # sched_update_tick_dependency() after an enqueue: a second task may need the tick.
    if s.rq[cpu].tick_stopped and not tick_nohz_full_can_stop(s, cpu):
        tick_nohz_full_kick(s, cpu)
