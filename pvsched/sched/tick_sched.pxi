# Full dynticks on host CPUs (Host(nohz_full=[...]); kernel/time/tick-sched.c, kernel/sched/core.c
# sched_tick_remote; rules in sched/tick_sched.pxd), reduced to what scheduling and RCU see: at a
# tick where can_stop_full_tick() holds the tick stops; a dependency restarts it at the next tick
# boundary -- the scheduler's (a second runnable task: sched_update_tick_dependency), RCU's forced
# tick (TICK_DEP_BIT_RCU, rcu/rcu_engine.pxi) -- and with RcuConfig.tick_dependency = "timer" a
# timer-wheel timer due in every tick period keeps it running (tick_nohz_next_event()). The kick's
# own IPI, and the VM exit it would cause, are not modelled; while the tick is off a housekeeping
# CPU runs the current task's task_tick once a second (sched_tick_remote: no interrupt on the CPU
# itself, so no VM exit, no balancing, no frequency-invariance sample, no RCU).
# Textually included by _core.pyx.

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

cdef inline u32 tick_dep_mask(Sim* s, s32 cpu) noexcept nogil:
    # The dependency bits other than the scheduler's: RCU's forced tick, and the "timer" model of
    # a timer due in every period (counted as TICK_DEP_BIT_POSIX_TIMER's effect).
    cdef u32 m = 0
    if s.rcu != NULL:
        if s.rcu.rdp[cpu].forced_tick:
            m |= 1 << TICK_DEP_BIT_RCU
        if s.rcu.hp.tick_dep_timer:
            m |= 1 << TICK_DEP_BIT_POSIX_TIMER
    return m

cdef inline bint tick_nohz_full_can_stop(Sim* s, s32 cpu) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    return can_stop_full_tick(tick_dep_mask(s, cpu), sched_can_stop_tick(0, rq.rt_nr, rq_rr_nr_running(s, cpu),
                                                                         s.fa.cfs[rq.cfs].h_nr_queued))

cdef void tick_nohz_full_stop(Sim* s, s32 cpu) noexcept nogil:
    s.rq[cpu].ts.stopped = 1
    ev_arm(&s.q, s.slot_tick + cpu, s.now + NOHZ_REMOTE_TICK_NS)

cdef void tick_nohz_full_kick(Sim* s, s32 cpu) noexcept nogil:
    # A dependency needs the tick back (tick_nohz_dep_set_cpu()).
    cdef s64 tick = s.kern[s.rq[cpu].kern].tick_ns
    if not s.rq[cpu].ts.stopped or tick_nohz_full_can_stop(s, cpu):
        return
    s.rq[cpu].ts.stopped = 0
    ev_arm(&s.q, s.slot_tick + cpu, (s.now // tick + 1) * tick)

cdef void sched_tick_remote(Sim* s, s32 cpu) noexcept nogil:
    # The 1 Hz remote tick of a CPU whose tick is stopped.
    cdef s32 t = s.rq[cpu].curr
    settle_curr(s, cpu)
    if t >= 0 and s.task[t].cls == CLS_FAIR:
        task_tick_fair(s, t)
    ev_arm(&s.q, s.slot_tick + cpu, s.now + NOHZ_REMOTE_TICK_NS)

cdef int tick_sched_build(Sim* s, list nohz_full) except -1:
    for c in nohz_full:
        if not 0 <= c < s.ncpu:
            raise ValueError(f"nohz_full CPU {c} out of range 0..{s.ncpu - 1}")
        s.rq[c].ts.nohz_full = 1
    return 0
