# rtla hwnoise in the workload interpreter (guest/hwnoise.pxd has the rules): the OP_HWNOISE window
# and the gaps in the task's own execution. Like the guest synchronisation unit, it is called
# directly where the guest's execution stops and resumes (vcpu_leave_guest, VM entry, switch-in).
#
# A window is opened by the op (possibly in a timer handler, before the task runs) and starts at
# the task's first execution; the task runs it with preemption and interrupts off (in_critical),
# so within a window it stops executing only when its vCPU leaves guest mode (an exit, then
# perhaps host preemption) and resumes at the next entry. At each resume the remaining burst is
# recomputed from the wall-clock deadline; if the deadline passed during the gap, the window ends
# at that resume, the gap counted whole.

cdef int hwnoise_open(Sim* s, s32 t, op_t* op) noexcept nogil:
    # program_advance met OP_HWNOISE (a = runtime, b = threshold, c = warm-up from task start).
    cdef hwnoise_t* h = &s.hw[t]
    cdef task_t* p = &s.task[t]
    h.on = 1
    h.running = 0
    h.runtime = op.a
    h.threshold = op.b
    h.count_from = p.start_ns + op.c
    h.start = -1
    h.w_noise = 0
    h.w_max = 0
    h.w_gaps = 0
    p.remaining = op.a
    p.in_critical = 1
    return STEP_RUN

cdef void hwnoise_resume(Sim* s, s32 t, s64 at) noexcept nogil:
    # Task t executes again from time `at`: open the window, or close a gap.
    cdef hwnoise_t* h = &s.hw[t]
    cdef s64 gap
    if not h.on or h.running:
        return
    h.running = 1
    if h.start < 0:
        h.start = at
        h.deadline = at + h.runtime
        return
    gap = at - h.stop
    if gap >= h.threshold:
        h.w_noise += gap
        h.w_gaps += 1
        if gap > h.w_max:
            h.w_max = gap
    s.task[t].remaining = h.deadline - at if h.deadline > at else 0

cdef void guest_hwnoise_leave(Sim* s, s32 grq) noexcept nogil:
    # The vCPU of guest runqueue grq leaves guest mode: its current task stops executing.
    cdef hwnoise_t* h
    if s.rq[grq].curr < 0:
        return
    h = &s.hw[s.rq[grq].curr]
    if h.on and h.running:
        h.running = 0
        h.stop = s.now

cdef void hwnoise_close(Sim* s, s32 t) noexcept nogil:
    # The window's burst is done (the sample that reached the runtime): count it.
    cdef hwnoise_t* h = &s.hw[t]
    h.on = 0
    h.running = 0
    if h.start < 0 or s.now < h.count_from:
        return
    h.periods += 1
    h.runtime_ns += s.now - h.start
    h.noise_ns += h.w_noise
    h.gaps += h.w_gaps
    if h.w_noise > h.max_noise_ns:
        h.max_noise_ns = h.w_noise
    if h.w_max > h.max_single_ns:
        h.max_single_ns = h.w_max

HW_COLUMNS = ("hw_periods", "hw_runtime_ns", "hw_noise_ns", "hw_max_noise_ns", "hw_max_single_ns", "hw_gaps")

cdef int hwnoise_build(Sim* s, long long[:, :] opsv) except -1:
    cdef s32 i
    for i in range(opsv.shape[0]):
        if opsv[i, 0] == OP_HWNOISE:
            s.hw = <hwnoise_t*>calloc(max(s.ntask, 1), sizeof(hwnoise_t))
            if s.hw == NULL:
                raise MemoryError()
            return 1
    return 0

cdef void hwnoise_results(Sim* s, dict cols):
    cdef s32 i
    for k in HW_COLUMNS:
        cols[k] = np.zeros(s.ntask, dtype=np.int64)
    if s.hw == NULL:
        return
    for i in range(s.ntask):
        cols["hw_periods"][i] = s.hw[i].periods
        cols["hw_runtime_ns"][i] = s.hw[i].runtime_ns
        cols["hw_noise_ns"][i] = s.hw[i].noise_ns
        cols["hw_max_noise_ns"][i] = s.hw[i].max_noise_ns
        cols["hw_max_single_ns"][i] = s.hw[i].max_single_ns
        cols["hw_gaps"][i] = s.hw[i].gaps
