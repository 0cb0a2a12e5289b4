# Python entry points into a live engine and into hot paths, for tests and benchmarks (pvsched.kernel):
# not used by the event loop.
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC


def ple_window_grow(unsigned long long window, unsigned long long base=4096, unsigned long long modifier=2,
                    unsigned long long maximum=UINT_MAX):
    """``__grow_ple_window`` (vmx.c): the window after a pause-loop exit.

    >>> ple_window_grow(4096), ple_window_grow(3_000_000_000)
    (8192, 4294967295)
    """
    cdef vm_t vm
    cdef vcpu_t vc
    vm.ple_window_base = base
    vm.ple_grow = modifier
    vm.ple_max = maximum
    vc.ple_window = window
    grow_ple_window(&vm, &vc)
    return vc.ple_window

def ple_window_shrink(unsigned long long window, unsigned long long base=4096, unsigned long long modifier=0):
    """``__shrink_ple_window`` (at vcpu_load after the thread was scheduled out); the default
    modifier 0 resets the window to its base.

    >>> ple_window_shrink(65536), ple_window_shrink(65536, modifier=2)
    (4096, 32768)
    """
    cdef Sim s
    cdef vm_t vm
    cdef vcpu_t vc
    memset(&s, 0, sizeof(Sim))
    memset(&vm, 0, sizeof(vm_t))
    memset(&vc, 0, sizeof(vcpu_t))
    vm.ple = 1
    vm.ple_window_base = base
    vm.ple_shrink = modifier
    vc.ple_window = window
    s.vm = &vm
    s.vcpu = &vc
    kvm_sched_in(&s, 0)
    return vc.ple_window


def bench_find_matching_se(Engine engine, int task_a, int task_b, long long n):
    """Time ``n`` cgroup-LCA lookups (find_matching_se) between two tasks queued on one CPU, in C.
    Returns elapsed ns."""
    cdef Sim* s = &engine.s
    cdef s32 a, b, x, y
    cdef long long i
    cdef u64 acc = 0
    cdef s64 t0, t1
    if not (0 <= task_a < s.ntask and 0 <= task_b < s.ntask) or n < 1:
        raise ValueError("bad task index or n")
    if s.task[task_a].cpu != s.task[task_b].cpu or s.task[task_a].kern != 0 or s.task[task_b].kern != 0:
        raise ValueError("find_matching_se needs two host tasks on the same CPU")
    a = s.task[task_a].se
    b = s.task[task_b].se
    with nogil:
        t0 = mono_ns()
        for i in range(n):
            x = a
            y = b
            find_matching_se(&s.fa, &x, &y)
            acc += <u64>(x + y)
        t1 = mono_ns()
    if acc == 0xFFFFFFFFFFFFFFFF:
        print(acc)
    return t1 - t0

def deboost_lca(Engine engine, int task_y, int task_t):
    """The debooster's LCA of two host tasks on one CPU: (yielder entity, target entity, cfs_rq,
    depth, nr_queued there) or None."""
    cdef Sim* s = &engine.s
    cdef s32 a, b
    if not (0 <= task_y < s.ntask and 0 <= task_t < s.ntask) or s.task[task_y].kern or s.task[task_t].kern:
        raise ValueError("no such host task")
    if s.task[task_y].cpu != s.task[task_t].cpu:
        return None
    a = s.task[task_y].se
    b = s.task[task_t].se
    find_matching_se(&s.fa, &a, &b)
    if a < 0 or b < 0 or s.fa.se[a].cfs_rq != s.fa.se[b].cfs_rq:
        return None
    return (a, b, s.fa.se[a].cfs_rq, s.fa.se[a].depth, s.fa.cfs[s.fa.se[a].cfs_rq].nr_queued)

def deboost_call(Engine engine, int cpu, int target_task):
    """Run the debooster once for rq(cpu)->curr yielding to ``target_task`` (as yield_to_task_fair
    would, without the buddy and the yield); returns the counters it changed and the penalty."""
    cdef Sim* s = &engine.s
    cdef u64 before[YS_N]
    cdef u64* ys
    cdef s32 j
    if not (0 <= cpu < s.ncpu and 0 <= target_task < s.ntask) or s.rq[cpu].curr < 0:
        raise ValueError("no current task on that CPU, or no such task")
    ys = ys_of_task(s, s.rq[cpu].curr)
    for j in range(YS_N):
        before[j] = ys[j]
    debooster_yield_to(s, cpu, target_task)
    return {YS_NAMES[j]: <s64>(ys[j] - before[j]) for j in range(YS_N) if ys[j] != before[j]}

_VCPU_FLAGS = ("ready", "blocking", "preempted", "preempted_in_kernel", "in_spin_loop", "dy_eligible",
               "pv_unhalted", "pending_irq", "ipi_pending", "ipi_last_receiver", "ipi_last_sender",
               "ipi_time", "ple_window")

def yield_vcpu_state(Engine engine, int v, **set_flags):
    """Read (and, for tests, overwrite) a vCPU's directed-yield flags; returns them as a dict."""
    cdef Sim* s = &engine.s
    cdef vcpu_t* c
    if not 0 <= v < s.nvcpu:
        raise ValueError(f"no vCPU {v}")
    c = &s.vcpu[v]
    for k, val in set_flags.items():
        if k not in _VCPU_FLAGS:
            raise ValueError(f"unknown flag {k!r}; known: {_VCPU_FLAGS}")
        val = int(val)
        if k in ("ipi_last_receiver", "ipi_last_sender"):
            if not -1 <= val < s.vm[c.vm].nvcpu:
                raise ValueError(f"{k}={val} is not a vCPU of this VM (or -1)")
        elif k == "ipi_time":
            if not 0 <= val <= s.now:
                raise ValueError("ipi_time must be in [0, now]")
        elif k == "ple_window":
            if not s.vm[c.vm].ple_window_base <= val <= s.vm[c.vm].ple_max:
                raise ValueError("ple_window must lie between the VM's base and max windows")
        elif val not in (0, 1):
            raise ValueError(f"{k} is a flag (0 or 1)")
        if k == "ready": c.ready = val
        elif k == "blocking": c.blocking = val
        elif k == "preempted": c.preempted = val
        elif k == "preempted_in_kernel": c.preempted_in_kernel = val
        elif k == "in_spin_loop": c.in_spin_loop = val
        elif k == "dy_eligible": c.dy_eligible = val
        elif k == "pv_unhalted": c.pv_unhalted = val
        elif k == "pending_irq": c.pending_irq = val
        elif k == "ipi_pending": c.ipi.pending = val
        elif k == "ipi_last_receiver": c.ipi.last_receiver = val
        elif k == "ipi_last_sender": c.ipi.last_sender = val
        elif k == "ipi_time": c.ipi.time = val
        elif k == "ple_window": c.ple_window = val
    return {"ready": c.ready, "blocking": c.blocking, "preempted": c.preempted,
            "preempted_in_kernel": c.preempted_in_kernel, "in_spin_loop": c.in_spin_loop,
            "dy_eligible": c.dy_eligible, "pv_unhalted": c.pv_unhalted, "pending_irq": c.pending_irq,
            "ipi_pending": c.ipi.pending, "ipi_last_receiver": c.ipi.last_receiver,
            "ipi_last_sender": c.ipi.last_sender, "ipi_time": c.ipi.time, "ple_window": c.ple_window,
            "mode": VCPU_MODES[c.mode - 1] if c.mode else "off", "task": c.task, "host_cpu": c.host_cpu}

def yield_on_spin(Engine engine, int v):
    """Run kvm_vcpu_on_spin for vCPU ``v`` (its thread must be current on its pCPU). Returns
    {"boosted": vCPU index within the VM or None, "kind": candidate class, "counters": changes}."""
    cdef Sim* s = &engine.s
    cdef vm_t* vm
    cdef u64 before[YS_N]
    cdef s32 j
    if not 0 <= v < s.nvcpu:
        raise ValueError(f"no vCPU {v}")
    if s.rq[s.vcpu[v].host_cpu].curr != s.vcpu[v].task:
        raise ValueError(f"vCPU {v} is not running")
    vm = &s.vm[s.vcpu[v].vm]
    for j in range(YS_N):
        before[j] = vm.ys[j]
    kvm_vcpu_on_spin(s, v)
    delta = {YS_NAMES[j]: <s64>(vm.ys[j] - before[j]) for j in range(YS_N) if vm.ys[j] != before[j]}
    kind = None
    for name in ("boost_ipi_receiver", "boost_pending_irq", "boost_kernel", "boost_relaxed", "boost_vanilla"):
        if delta.get(name):
            kind = name[6:]
    return {"boosted": vm.last_boosted if delta.get("yield_to_ok") else None, "kind": kind, "counters": delta}

def yield_vm_state(Engine engine, int vm, last_boosted=None):
    """Read (and, for tests, set) a VM's kvm->last_boosted_vcpu and its yield-policy switches."""
    cdef Sim* s = &engine.s
    cdef vm_t* m
    if not 0 <= vm < s.nvm:
        raise ValueError(f"no VM {vm}")
    m = &s.vm[vm]
    if last_boosted is not None:
        if not 0 <= last_boosted < m.nvcpu:
            raise ValueError("last_boosted out of range")
        m.last_boosted = last_boosted
    return {"last_boosted": m.last_boosted, "ipi_aware": bool(m.ipi_yield.aware), "relaxed_round": bool(m.ipi_yield.relaxed),
            "fix_last_boosted": bool(m.fix_lb), "candidate_order": "priority" if m.ipi_yield.prio_order else "scan",
            "ple": bool(m.ple), "vcpu_base": m.vcpu_base, "nvcpu": m.nvcpu}


def event_queue_replay(int nslots, ops, bint shuffle_ties=False):
    """Run operations on a fresh event queue as the event loop does; returns the pops as
    ``(slot, time_ns)`` and, after every operation, whether the heap's layout invariants hold
    (heap order below a popped root's hole, slot <-> index maps, the largest key past the last
    entry, the wheel's buckets). Ops: ``("arm", slot, time_ns)``, ``("cancel", slot)``, ``("take",)`` (pop the
    earliest, leaving its place as a hole for the next arm) and ``("settle",)``.

    >>> event_queue_replay(3, [("arm", 0, 50), ("arm", 2, 20), ("arm", 1, 20), ("take",), ("settle",)])
    ([(2, 20)], True)
    """
    cdef EventQueue q
    cdef s64 t
    cdef s32 slot
    cdef bint ok = True
    pops = []
    memset(&q, 0, sizeof(EventQueue))
    if nslots < 0 or ev_alloc(&q, nslots) != 0:
        ev_free(&q)
        raise MemoryError("event queue")
    q.shuffle = shuffle_ties
    q.rng = 0x9E3779B97F4A7C15
    try:
        for op in ops:
            if op[0] == "take":
                if q.hole or not ev_pending(&q):
                    raise ValueError("take needs a settled, non-empty queue")
                ev_next_time(&q)
                slot = ev_take(&q, &t)
                pops.append((slot, t))
                continue
            if op[0] == "settle":
                ev_settle(&q)
            elif not 0 <= op[1] < nslots:
                raise ValueError(f"slot {op[1]} out of range")
            elif op[0] == "arm":
                if not 0 <= op[2] <= T_NEVER:
                    raise ValueError(f"time {op[2]} out of range")
                ev_arm(&q, op[1], op[2])
            else:
                ev_cancel(&q, op[1])
            ok = ok and ev_layout_ok(&q)
    finally:
        ev_free(&q)
    return pops, ok
