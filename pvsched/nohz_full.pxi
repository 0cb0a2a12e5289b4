# Full dynticks on host CPUs (``Host(nohz_full=[...])``, kernel/time/tick-sched.c and
# sched_tick_remote in kernel/sched/core.c), reduced to what scheduling sees: at a tick that finds
# at most one task on a nohz_full CPU the tick stops (sched_can_stop_tick: nr_running <= 1); a
# second task restarts it at the next tick boundary (tick_nohz_dep_set_cpu; the kick's own IPI,
# and the VM exit it would cause, are not modelled); meanwhile a housekeeping CPU runs the
# current task's task_tick once a second (sched_tick_remote: no interrupt on the CPU itself, so no
# VM exit, no balancing, no frequency-invariance sample). Textually included by _core.pyx.

cdef enum:
    NOHZ_REMOTE_TICK_NS = 1000000000

cdef void nohz_full_stop_tick(Sim* s, s32 cpu) noexcept nogil:
    s.rq[cpu].tick_stopped = 1
    ev_arm(&s.q, s.slot_tick + cpu, s.now + NOHZ_REMOTE_TICK_NS)

cdef void nohz_full_restart_tick(Sim* s, s32 cpu) noexcept nogil:
    cdef s64 tick = s.kern[s.rq[cpu].kern].tick_ns
    s.rq[cpu].tick_stopped = 0
    ev_arm(&s.q, s.slot_tick + cpu, (s.now // tick + 1) * tick)

cdef void nohz_full_remote_tick(Sim* s, s32 cpu) noexcept nogil:
    cdef s32 t = s.rq[cpu].curr
    settle_curr(s, cpu)
    if t >= 0 and s.task[t].cls == CLS_FAIR:
        task_tick_fair(s, t)
    ev_arm(&s.q, s.slot_tick + cpu, s.now + NOHZ_REMOTE_TICK_NS)
