# The workload interpreter: every task (host or guest) runs a program of ops (guest/workload.pxd);
# program_advance executes instant ops until one that takes time, program_step acts on the next op
# when a burst ends. Randomness is a per-task splitmix64 stream, so results are deterministic.
from libc.math cimport log as c_log

OPS = {"run": OP_RUN, "sleep": OP_SLEEP, "period": OP_PERIOD, "yield": OP_YIELD, "loop": OP_LOOP,
       "exit": OP_EXIT, "hog": OP_HOG, "start_period": OP_START_PERIOD, "vmexit": OP_VMEXIT,
       "vcpu": OP_VCPU, "critical": OP_CRITICAL, "lock": OP_LOCK, "unlock": OP_UNLOCK, "ipi": OP_IPI,
       "work": OP_WORK, "hwnoise": OP_HWNOISE, "runtime": OP_RUNTIME, "timer": OP_TIMER, "vmm": OP_VMM,
       "sync_rcu": OP_SYNC_RCU, "rcuc": OP_RCUC, "vmexit_user": OP_VMEXIT_USER}
WORK_FLAGS = {"exp": WORK_EXP, "kernel": WORK_KERNEL}

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

cdef inline s64 sample_work(task_t* p, s64 a, s64 b, s64 flags) noexcept nogil:
    cdef double u
    cdef s64 cap, v
    cdef double d
    if flags & WORK_EXP:
        if a <= 0:
            return 0
        u = (<double>(splitmix64(&p.rng) >> 11) + 1.0) * (1.0 / 9007199254740992.0)   # (0, 1]
        cap = b if b > 0 else (20 * a if a <= T_NEVER // 20 else T_NEVER)
        d = -<double>a * c_log(u) + 0.5
        v = <s64>d if d < 9.2e18 else T_NEVER       # no out-of-range cast
        return v if v < cap else cap
    return tadd(a, rand_upto(p, b))

cdef enum:
    STEP_RUN = 0
    STEP_BLOCK = 1
    STEP_YIELD = 2
    STEP_EXIT = 3

cdef int rtimer_build(Sim* s, list relative) except -1:
    # The rt-app timer resources the compiled programs name (OP_TIMER b).
    cdef s32 i
    s.nrtimers = len(relative)
    s.rtimers = <rtimer_t*>calloc(max(s.nrtimers, 1), sizeof(rtimer_t))
    if not s.rtimers:
        raise MemoryError("pvsched: scenario too large for memory")
    for i in range(s.nrtimers):
        s.rtimers[i].relative = relative[i] != 0
    return 0

cdef int rtapp_op(Sim* s, s32 t, op_t* op, s64* wake_at) noexcept nogil:
    # rt-app events (src/rt-app.c run_event); returns a STEP_* or -1 to go on with the next op.
    cdef task_t* p = &s.task[t]
    cdef rtapp_task* ra = &p.rtapp
    cdef rtimer_t* tm
    if op.code == OP_RUNTIME:
        # do { loadwait(32 us) } while (wall time since the first chunk began < duration)
        if ra.runtime_state == RUNTIME_IDLE:
            if p.state == TS_RUNNING:
                ra.runtime_state = RUNTIME_STARTED
                ra.runtime_start = s.rq[p.cpu].seg_start if s.rq[p.cpu].seg_start > s.now else s.now
            else:
                ra.runtime_state = RUNTIME_PENDING     # executed at a wake-up: starts when it runs
        else:
            if ra.runtime_state == RUNTIME_PENDING:
                ra.runtime_state = RUNTIME_STARTED
                ra.runtime_start = s.now - op.b
            if s.now - ra.runtime_start >= op.a:
                ra.runtime_state = RUNTIME_IDLE
                return -1
        p.pc -= 1
        p.remaining = op.b
        return STEP_RUN
    # OP_TIMER: t_next += period; sleep to it, or on a miss restart from now (relative mode)
    tm = &s.rtimers[op.b]
    if not tm.init:
        tm.init = 1
        tm.next = p.start_ns
    tm.next = tadd(tm.next, op.a)
    if s.now < tm.next:
        wake_at[0] = tm.next
        return STEP_BLOCK
    p.nr_overruns += 1
    if tm.relative:
        tm.next = s.now
    return -1

cdef int program_op(Sim* s, s32 t, op_t* op, s64* wake_at) noexcept nogil:
    # The ops other than the four every steady load repeats (program_advance's own branches):
    # kept out of line so the hot interpreter loop stays small; returns a STEP_* or -1 to go on
    # with the next op.
    cdef task_t* p = &s.task[t]
    cdef int r
    if op.code == OP_CRITICAL:
        p.remaining = tadd(op.a, rand_upto(p, op.b))
        if p.remaining <= 0:
            return -1
        p.in_critical = 1
        return STEP_RUN
    elif op.code == OP_HOG or op.code == OP_VCPU:
        p.pc -= 1
        p.remaining = -1
        return STEP_RUN
    elif op.code == OP_START_PERIOD:
        p.period_next = tadd(s.now, op.a)
    elif op.code == OP_YIELD:
        p.remaining = 0
        return STEP_YIELD
    elif op.code == OP_EXIT:
        return STEP_EXIT
    elif op.code == OP_VMEXIT:
        if p.kern > 0 and s.fa.clk_run[p.cpu]:
            if op.c == EXIT_CTX_PREEMPT:
                vcpu_exit_fault(s, s.rq[p.cpu].vcpu, op.a)      # kvm/vmm_actions.pxi
            elif op.c == EXIT_CTX_IRQ:
                vcpu_exit_irq(s, s.rq[p.cpu].vcpu, op.a)
            elif s.vm[s.kern[p.kern].vm].mmio_user:     # the VMM emulates the device (kvm/userspace.pxi)
                vcpu_exit_user(s, s.rq[p.cpu].vcpu, EXIT_MMIO, tadd(s.vm[s.kern[p.kern].vm].exit_ns, op.a), USER_OTHER)
            else:
                vcpu_exit(s, s.rq[p.cpu].vcpu, EXIT_MMIO, tadd(s.vm[s.kern[p.kern].vm].exit_ns, op.a))
    elif op.code == OP_HWNOISE:
        return hwnoise_open(s, t, op)   # an rtla hwnoise window (guest/hwnoise.pxi)
    elif op.code == OP_VMM:
        return vmm_thread_op(s, t, wake_at)     # a VMM thread (policies/deferred_work.pxi)
    elif op.code == OP_RUNTIME or op.code == OP_TIMER:
        return rtapp_op(s, t, op, wake_at)
    elif op.code == OP_SYNC_RCU:
        return rcu_sync_op(s, t, wake_at)      # synchronize_rcu() (rcu/rcu_engine.pxi)
    elif op.code == OP_RCUC:
        return rcu_rcuc_op(s, t, wake_at)      # rcuc/N's loop (rcu/rcu_engine.pxi)
    elif op.code == OP_VMEXIT_USER:
        if p.kern > 0 and s.fa.clk_run[p.cpu]:
            vcpu_exit_user_io(s, s.rq[p.cpu].vcpu, op.a)     # kvm/vmm_actions.pxi
    elif op.code >= OP_LOCK:
        return sync_op(s, t, op)       # guest synchronisation ops (guest/sync.pxi)
    return -1

cdef int program_advance(Sim* s, s32 t, s64* wake_at) noexcept nogil:
    # Execute instant ops until one that takes time; returns what the task does next. The four
    # ops of the common run/sleep and periodic loops are tested here one by one (too few for a
    # jump table, whose one indirect branch mispredicted as the op sequence alternates).
    cdef task_t* p = &s.task[t]
    cdef op_t* op
    cdef int guard = 0
    cdef int r
    cdef s32* cnt
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
        elif op.code == OP_PERIOD:
            p.period_next = tadd(p.period_next, op.a)
            wake_at[0] = tadd(p.period_next, rand_upto(p, op.b))
            if wake_at[0] <= s.now:
                # Overrun: clock_nanosleep(TIMER_ABSTIME) returns at once; still a sample.
                p.nr_overruns += 1
                p.lat_start = wake_at[0]
                continue
            return STEP_BLOCK
        elif op.code == OP_LOOP:
            if op.b == 0:
                p.pc = <s32>op.a
            else:
                cnt = &p.loop_left if op.c == 0 else &p.rtapp.loop_cnt[op.c - 1]
                if cnt[0] == 0:
                    cnt[0] = <s32>op.b
                cnt[0] -= 1
                if cnt[0] > 0:
                    p.pc = <s32>op.a
        elif op.code == OP_SLEEP:
            if op.c & WORK_EXP:
                wake_at[0] = tadd(s.now, sample_work(p, op.a, op.b, WORK_EXP))
            else:
                wake_at[0] = tadd(tadd(s.now, op.a), rand_upto(p, op.b))
            return STEP_BLOCK
        else:
            r = program_op(s, t, op, wake_at)
            if r >= 0:
                return r
    return STEP_EXIT

cdef enum:
    MAX_STEP_DEPTH = 32

cdef void program_step(Sim* s, s32 t, s32 cpu) noexcept nogil:
    # The running task finished its burst (or had none): act on its next op. Zero-time work
    # (yields, expired periodic timers) can hand the CPU back and forth at one instant: past a
    # small nesting depth the step continues from the event loop, at this same instant, instead
    # of recursing deeper (a long chain of hand-overs overflowed the C stack).
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
    if s.hw != NULL and s.hw[t].on:
        hwnoise_close(s, t)             # the window's last sample (guest/hwnoise.pxi)
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
        if s.hw != NULL:
            hwnoise_resume(s, t, s.now)
        if p.lat_start >= 0:
            record_latency(s, t, s.now)   # a periodic overrun sample: the task runs right now
        if p.remaining > 0:
            ev_arm(&s.q, s.slot_burst + cpu, tadd(s.rq[cpu].seg_start, p.remaining))
        return
    if ev_armed(&s.q, s.slot_burst + cpu):     # (ev_cancel is a call: most find none)
        ev_cancel(&s.q, s.slot_burst + cpu)
    if r == STEP_YIELD:
        p.nr_yields += 1
        if p.cls == CLS_FAIR:
            yield_task_fair(s, cpu)
        elif s.rq[cpu].rt_nr > 1:
            rt_requeue_tail(s, t)
        trace_yield(s)
        schedule(s, cpu)
        if s.rq[cpu].curr == t and p.remaining == 0:
            # Picked again at once: the program goes on (loops always contain a timed op).
            program_step(s, t, cpu)
        return
    p.state = TS_SLEEPING if r == STEP_BLOCK else TS_DEAD
    dequeue_task(s, t, DEQUEUE_SLEEP if r == STEP_BLOCK else DEQUEUE_SLEEP | DEQUEUE_SPECIAL)
    if r == STEP_BLOCK:
        p.timer_cpu = cpu
        if wake_at >= 0:
            ev_arm(&s.q, s.slot_task + t, wake_at)  # (< 0: no timer, woken by an event)
    schedule(s, cpu)

cdef void handle_burst(Sim* s, s32 cpu) noexcept nogil:
    cdef s32 t = s.rq[cpu].curr
    settle_curr(s, cpu)
    s.task[t].remaining = 0
    program_step(s, t, cpu)
