# The fair deadline server (kernel/sched/deadline.c, v6.12+): a deferred server that lets queued
# fair tasks run for fs_runtime per fs_period while RT tasks would starve them.

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
    if ev_armed(&s.q, s.slot_fs + cpu):         # (ev_cancel is a call: most find none)
        ev_cancel(&s.q, s.slot_fs + cpu)

cdef inline void fair_server_replenish(Sim* s, rq_t* rq) noexcept nogil:
    cdef s64 k
    if s.now >= rq.fs_deadline:
        k = (s.now - rq.fs_deadline) // s.fs_period_ns
        rq.fs_deadline = tadd(rq.fs_deadline + k * s.fs_period_ns, s.fs_period_ns)
        rq.fs_runtime = s.fs_runtime_ns

cdef inline bint fair_server_may_act(Sim* s, s32 cpu) noexcept nogil:
    # False when fair_server_update(s, cpu) would change nothing: the server is off, or it is
    # not active, no replenishment is due, its timer is not armed and the current task is not
    # RT (a looser test than fair_server_update's RT branch). The hot callers test this inline:
    # on the two-level load most updates find nothing to do and paid a call for it.
    # Keep in step with fair_server_update and fair_server_replenish.
    cdef rq_t* rq = &s.rq[cpu]
    if not rq.fs_on:
        return False
    # one branch for the three plain tests (bitwise, not short-circuit)
    if (rq.fs_active != 0) | (s.now >= rq.fs_deadline) | ev_armed(&s.q, s.slot_fs + cpu):
        return True
    return rq.curr >= 0 and s.task[rq.curr].cls == CLS_RT

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
