# Full dynticks on host CPUs (Host(nohz_full=[...]); kernel/time/tick-sched.c, kernel/sched/core.c
# sched_tick_remote; rules in sched/tick_sched.pxd), reduced to what scheduling sees: at a tick
# where can_stop_full_tick() holds (no dependency bit modelled is set, so sched_can_stop_tick()
# decides) the tick stops; a second runnable fair task (sched_update_tick_dependency) restarts it
# at the next tick boundary -- the kick's own IPI, and the VM exit it would cause, are not
# modelled; meanwhile a housekeeping CPU runs the current task's task_tick once a second
# (sched_tick_remote: no interrupt on the CPU itself, so no VM exit, no balancing, no
# frequency-invariance sample). Textually included by _core.pyx.

cdef inline bint tick_nohz_full_can_stop(Sim* s, s32 cpu) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 c = rq.curr
    cdef u32 rr = 1 if (c >= 0 and s.task[c].cls == CLS_RT and s.task[c].policy == POLICY_RR) else 0
    return can_stop_full_tick(0, sched_can_stop_tick(0, rq.rt_nr, rr, s.fa.cfs[rq.cfs].h_nr_queued))

cdef void tick_nohz_full_stop(Sim* s, s32 cpu) noexcept nogil:
    s.rq[cpu].ts.stopped = 1
    ev_arm(&s.q, s.slot_tick + cpu, s.now + NOHZ_REMOTE_TICK_NS)

cdef void tick_nohz_full_kick(Sim* s, s32 cpu) noexcept nogil:
    # A second task needs the tick back (tick_nohz_dep_set_cpu(TICK_DEP_BIT_SCHED)).
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
