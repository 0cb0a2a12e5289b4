# The event trace (engine/trace.pxd): build the buffer, the emit helpers the mechanisms call, the
# handlers the trace attaches to the vCPU hook points (as the built-in POL_TRACE), and the copy-out.
# Scheduler events (switch, wake-up, migration, nr_running) and a few mechanism internals (boosts,
# yield_to outcomes, debooster penalties, PLE, halt-polling, guest IPIs) have no hook point and
# call trace_event directly; the vCPU's exits, entries, kicks and mode changes come through hooks.

cdef inline void trace_event(Sim* s, int kind, s32 cpu, s32 a, s32 b, s64 c) noexcept nogil:
    if s.trace.on:
        if not s.trace.snapped:
            trace_snapshot(s)
        trace_emit(&s.trace, s.now, kind, cpu, a, b, c)

cdef void trace_snapshot(Sim* s) noexcept nogil:
    # A window that opens after the start: record what runs where and each vCPU's mode as of
    # from_ns (nothing changed between from_ns and this first event), so that slices start there.
    cdef s32 c, v
    if s.now < s.trace.from_ns:
        return
    s.trace.snapped = 1
    for c in range(s.nrq):
        trace_emit(&s.trace, s.trace.from_ns, TR_SCHED_CURR, c, s.rq[c].curr, 0, 0)
    for v in range(s.nvcpu):
        trace_emit(&s.trace, s.trace.from_ns, TR_VCPU_MODE, s.vcpu[v].host_cpu, v, s.vcpu[v].mode, s.vcpu[v].mode)

cdef inline void trace_switch(Sim* s, s32 cpu, s32 prev, s32 next) noexcept nogil:
    # sched_switch's prev_state: preempted tasks are R+ (TASK_REPORT_MAX), a sched_yield R
    cdef s64 state = TR_STATE_RUNNING
    if not s.trace.on:
        return
    if prev >= 0:
        if s.task[prev].state == TS_SLEEPING:
            state = TR_STATE_SLEEPING
        elif s.task[prev].state == TS_DEAD:
            state = TR_STATE_DEAD
        elif not s.trace.yielding:
            state = TR_STATE_PREEMPTED
    s.trace.yielding = 0
    trace_event(s, TR_SWITCH, cpu, prev, next, state)

cdef inline void trace_yield(Sim* s) noexcept nogil:
    # the switch that follows is a yield (sched_yield / yield_to), not a preemption
    s.trace.yielding = s.trace.on

cdef inline void trace_nr_running(Sim* s, s32 cpu) noexcept nogil:
    if s.trace.on:
        trace_event(s, TR_COUNTER, cpu, TR_COUNTER_NR_RUNNING, cpu, s.rq[cpu].nr_running)

# ---------------------------------------------------------------- vCPU hook points (POL_TRACE)
cdef void trace_vcpu_exit(Sim* s, s32 v, int reason) noexcept nogil:
    trace_event(s, TR_KVM_EXIT, s.vcpu[v].host_cpu, v, reason, 0)

cdef void trace_vcpu_enter(Sim* s, s32 v) noexcept nogil:
    trace_event(s, TR_KVM_ENTRY, s.vcpu[v].host_cpu, v, 0, 0)

cdef void trace_kick(Sim* s, s32 v, int cause) noexcept nogil:
    trace_event(s, TR_KVM_KICK, s.vcpu[v].host_cpu, v, cause, 0)

cdef void trace_vcpu_mode(Sim* s, s32 v, int mode) noexcept nogil:
    if mode != s.vcpu[v].mode:      # the read-out calls the point with the current mode
        trace_event(s, TR_VCPU_MODE, s.vcpu[v].host_cpu, v, mode, s.vcpu[v].mode)

cdef void trace_sched_out(Sim* s, s32 v) noexcept nogil:
    # PELT util of the vCPU thread as it leaves its pCPU
    cdef s32 t = s.vcpu[v].task
    trace_event(s, TR_COUNTER, s.vcpu[v].host_cpu, TR_COUNTER_UTIL, t, s.fa.se[s.task[t].se].avg.util_avg)

# ---------------------------------------------------------------- build and read-out
cdef int trace_build(Sim* s, object cfg) except -1:
    cdef s32 kk
    cdef trace_buf* tb = &s.trace
    tb.truncated_at = -1
    tb.to_ns = -1
    if cfg is None or not cfg.get("enabled"):
        return 0
    tb.cap = int(cfg["cap_events"])
    if tb.cap < 1 or tb.cap > (1 << 28):
        raise ValueError(f"trace cap_events={tb.cap} out of range")
    tb.rec = <trace_rec*>calloc(tb.cap, sizeof(trace_rec))
    if not tb.rec:
        raise MemoryError(f"trace.cap_events = {tb.cap}: no memory for {tb.cap * 32} bytes of trace buffer")
    tb.ring = cfg.get("mode", "cap") == "ring"
    tb.from_ns = int(cfg.get("from_ns", 0))
    tb.to_ns = -1 if cfg.get("to_ns") is None else int(cfg["to_ns"])
    tb.mask = <u64>int(cfg.get("kind_mask", (1 << 64) - 1))
    tb.snapped = tb.from_ns == 0           # from the start: everything is idle, nothing to snapshot
    tb.on = 1
    for kk in range(1, s.nkern):
        s.kern[kk].policies |= POL_TRACE
    return 0

cdef dict trace_results(Sim* s):
    # The records in time order (a ring is unrolled from its oldest record) and the bookkeeping.
    cdef trace_buf* tb = &s.trace
    cdef s64 n, start
    if not tb.on:
        return None
    n = tb.n if tb.n < tb.cap else tb.cap
    out = np.empty(n, dtype=TRACE_DTYPE)
    cdef char* dst = <char*>cnp.PyArray_DATA(out)
    start = tb.n % tb.cap if (tb.ring and tb.n > tb.cap) else 0
    if n:
        memcpy(dst, &tb.rec[start], (n - start) * sizeof(trace_rec))
        if start:
            memcpy(dst + (n - start) * sizeof(trace_rec), tb.rec, start * sizeof(trace_rec))
    return {"records": out, "dropped": tb.dropped, "truncated_at_ns": tb.truncated_at if tb.truncated_at >= 0 else None,
            "cap": tb.cap, "ring": bool(tb.ring), "from_ns": tb.from_ns, "to_ns": tb.to_ns if tb.to_ns >= 0 else None,
            "buffer_bytes": tb.cap * <s64>sizeof(trace_rec)}

TRACE_DTYPE = np.dtype([("time_ns", "<i8"), ("c", "<i8"), ("cpu", "<i4"), ("a", "<i4"), ("b", "<i4"),
                        ("kind", "<u2"), ("pad", "<u2")])
assert TRACE_DTYPE.itemsize == sizeof(trace_rec)
