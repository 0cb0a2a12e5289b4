# Hook points (policies/hooks.pxd): the inline mask test each call site makes, and the dispatcher
# behind it that runs the attached built-in policies, then the Python policy.
#
# A mechanism calls hook_<point>(...). With nothing attached that is one load and one predictable
# branch; the dispatcher (an ordinary call, never through a pointer) runs only when the bit is
# set. Built-ins run in a fixed order (boost, debooster, IPI-aware yield, RCU guest), then Python.

HOOK_NAMES = ("vcpu_exit", "vcpu_enter", "kick", "guest_irq", "halt", "spin", "ipi", "sched_in", "sched_out",
              "vcpu_mode", "guest_switch", "guest_enqueue", "guest_idle", "kvm_run", "tick", "yield_to",
              "pelt_update", "kvm_run_leave", "context_switch")
KICK_CAUSES = ("timer", "intr", "unhalt")
CANDIDATE_KINDS = ("vanilla", "ipi_receiver", "pending_irq", "kernel", "relaxed")
assert len(HOOK_NAMES) == HOOK_NPOINTS


cdef inline kern_t* vcpu_kern(Sim* s, s32 v) noexcept nogil:
    return &s.kern[s.vm[s.vcpu[v].vm].kern]

# ---------------------------------------------------------------- vCPU points
cdef inline void hook_vcpu_exit(Sim* s, s32 v, int reason) noexcept nogil:
    if s.vcpu[v].hooks & HOOK_VCPU_EXIT:
        vcpu_exit_hooks(s, v, reason)

cdef void vcpu_exit_hooks(Sim* s, s32 v, int reason) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, v)
    if k.policies & POL_BOOST:
        boost_vcpu_exit(s, v, reason)
    if k.policies & POL_IPI_AWARE_YIELD:
        ipi_aware_vcpu_exit(s, v, reason)
    if k.policies & POL_DEFERRED_WORK:
        deferred_work_vcpu_exit(s, v, reason)
    if k.policies & POL_TRACE:
        trace_vcpu_exit(s, v, reason)
    if k.py_hooks & HOOK_VCPU_EXIT:
        py_hook(s, HOOK_VCPU_EXIT, k, v, reason, 0)

cdef inline void hook_vcpu_enter(Sim* s, s32 v) noexcept nogil:
    if s.vcpu[v].hooks & HOOK_VCPU_ENTER:
        vcpu_enter_hooks(s, v)

cdef void vcpu_enter_hooks(Sim* s, s32 v) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, v)
    if k.policies & POL_BOOST:
        boost_vcpu_enter(s, v)
    if k.policies & POL_TRACE:
        trace_vcpu_enter(s, v)
    if k.py_hooks & HOOK_VCPU_ENTER:
        py_hook(s, HOOK_VCPU_ENTER, k, v, 0, 0)

cdef inline void hook_kick(Sim* s, s32 v, int cause) noexcept nogil:
    if s.vcpu[v].hooks & HOOK_KICK:
        kick_hooks(s, v, cause)

cdef void kick_hooks(Sim* s, s32 v, int cause) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, v)
    if k.policies & POL_BOOST:
        boost_kick(s, v, cause)
    if k.policies & POL_TRACE:
        trace_kick(s, v, cause)
    if k.py_hooks & HOOK_KICK:
        py_hook(s, HOOK_KICK, k, v, cause, 0)

cdef inline bint hook_guest_irq(Sim* s, s32 v) noexcept nogil:
    if s.vcpu[v].hooks & HOOK_GUEST_IRQ:
        return guest_irq_hooks(s, v)
    return False

cdef bint guest_irq_hooks(Sim* s, s32 v) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, v)
    cdef bint exited = False
    if k.policies & POL_BOOST:
        exited = boost_guest_irq(s, v)
    if k.py_hooks & HOOK_GUEST_IRQ:
        py_hook(s, HOOK_GUEST_IRQ, k, v, exited, 0)
    return exited

cdef inline void hook_halt(Sim* s, s32 v) noexcept nogil:
    if s.vcpu[v].hooks & HOOK_HALT:
        halt_hooks(s, v)

cdef void halt_hooks(Sim* s, s32 v) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, v)
    if k.policies & POL_BOOST:
        boost_halt(s, v)
    if k.py_hooks & HOOK_HALT:
        py_hook(s, HOOK_HALT, k, v, 0, 0)

cdef inline int hook_spin_classify(Sim* s, s32 me, vcpu_t* c, s32 idx, int rnd) noexcept nogil:
    # kvm_vcpu_on_spin, per candidate: CAND_SKIP or a candidate class. Without a policy, the
    # stock rule (yield_to_kernel_mode): a preempted vCPU needs a visible pending interrupt or
    # to have been preempted in kernel mode.
    if s.vcpu[me].hooks & HOOK_ON_SPIN:
        return spin_classify_hooks(s, me, idx, rnd)
    if c.preempted and not vcpu_has_pending_interrupt(&s.vm[c.vm], c) and not c.preempted_in_kernel:
        return CAND_SKIP
    return CAND_VANILLA

cdef int spin_classify_hooks(Sim* s, s32 me, s32 idx, int rnd) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, me)
    if k.policies & POL_IPI_AWARE_YIELD:
        return ipi_aware_classify(s, me, idx, rnd)
    return py_hook(s, HOOK_ON_SPIN, k, me, idx, rnd)

cdef inline int hook_spin_next_round(Sim* s, s32 me, int rnd, int yielded, bint exhausted) noexcept nogil:
    # After a scan: the next round's number, or -1 to stop (the stock loop is a single scan).
    if s.vcpu[me].hooks & HOOK_ON_SPIN:
        return spin_round_hooks(s, me, rnd, yielded, exhausted)
    return -1

cdef int spin_round_hooks(Sim* s, s32 me, int rnd, int yielded, bint exhausted) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, me)
    if k.policies & POL_IPI_AWARE_YIELD:
        return ipi_aware_next_round(s, me, rnd, yielded, exhausted)
    return py_spin_next_round(s, k, me, rnd, yielded, exhausted)

cdef inline void hook_ipi(Sim* s, s32 vs, s32 vt, bint unicast) noexcept nogil:
    if s.vcpu[vs].hooks & HOOK_IPI:
        ipi_hooks(s, vs, vt, unicast)

cdef void ipi_hooks(Sim* s, s32 vs, s32 vt, bint unicast) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, vs)
    if k.policies & POL_IPI_AWARE_YIELD:
        ipi_aware_ipi(s, vs, vt, unicast)
    if k.py_hooks & HOOK_IPI:
        py_hook(s, HOOK_IPI, k, vs, vt, unicast)

cdef inline void hook_sched_in(Sim* s, s32 v) noexcept nogil:
    if s.vcpu[v].hooks & HOOK_SCHED_IN:
        sched_in_hooks(s, v)

cdef void sched_in_hooks(Sim* s, s32 v) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, v)
    if k.policies & POL_RCU_GUEST:
        rcu_guest_sched_in(s, v)
    if k.py_hooks & HOOK_SCHED_IN:
        py_hook(s, HOOK_SCHED_IN, k, v, 0, 0)

cdef inline void hook_sched_out(Sim* s, s32 v) noexcept nogil:
    if s.vcpu[v].hooks & HOOK_SCHED_OUT:
        sched_out_hooks(s, v)

cdef void sched_out_hooks(Sim* s, s32 v) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, v)
    if k.policies & POL_RCU_GUEST:
        rcu_guest_sched_out(s, v)
    if k.policies & POL_TRACE:
        trace_sched_out(s, v)
    if k.py_hooks & HOOK_SCHED_OUT:
        py_hook(s, HOOK_SCHED_OUT, k, v, 0, 0)

cdef inline void hook_vcpu_mode(Sim* s, s32 v, int mode) noexcept nogil:
    if s.vcpu[v].hooks & HOOK_VCPU_MODE:
        vcpu_mode_hooks(s, v, mode)

cdef void vcpu_mode_hooks(Sim* s, s32 v, int mode) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, v)
    if k.policies & POL_BOOST:
        boost_vcpu_mode(s, v)
    if k.policies & POL_HALTED_PELT:
        halted_pelt_vcpu_mode(s, v, mode)
    if k.policies & POL_RCU_GUEST:
        rcu_guest_vcpu_mode(s, v, mode)
    if k.policies & POL_TRACE:
        trace_vcpu_mode(s, v, mode)
    if k.py_hooks & HOOK_VCPU_MODE:
        py_hook(s, HOOK_VCPU_MODE, k, v, mode, 0)

cdef inline bint hook_guest_switch(Sim* s, s32 v, s32 t, bint reentry) noexcept nogil:
    if s.vcpu[v].hooks & HOOK_GUEST_SWITCH:
        return guest_switch_hooks(s, v, t, reentry)
    return False

cdef bint guest_switch_hooks(Sim* s, s32 v, s32 t, bint reentry) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, v)
    cdef bint exited = False
    if k.policies & POL_HALTED_PELT:
        halted_pelt_guest_switch(s, v, reentry)
    if k.policies & POL_BOOST:
        exited = boost_guest_switch(s, v, t, reentry)
    if k.py_hooks & HOOK_GUEST_SWITCH:
        py_hook(s, HOOK_GUEST_SWITCH, k, v, t, reentry)
    return exited

cdef inline void hook_guest_enqueue(Sim* s, s32 grq, s32 t, s32 local) noexcept nogil:
    if s.vcpu[s.rq[grq].vcpu].hooks & HOOK_GUEST_ENQUEUE:
        guest_enqueue_hooks(s, grq, t, local)

cdef void guest_enqueue_hooks(Sim* s, s32 grq, s32 t, s32 local) noexcept nogil:
    cdef s32 v = s.rq[grq].vcpu
    cdef kern_t* k = vcpu_kern(s, v)
    if k.policies & POL_BOOST:
        boost_guest_enqueue(s, grq, t, local)
    if k.py_hooks & HOOK_GUEST_ENQUEUE:
        py_hook(s, HOOK_GUEST_ENQUEUE, k, v, t, local)

cdef inline bint hook_guest_idle(Sim* s, s32 v) noexcept nogil:
    # True = a policy handled the idle instruction (the default HLT handling is skipped).
    if s.vcpu[v].hooks & HOOK_GUEST_IDLE:
        return guest_idle_hooks(s, v)
    return False

cdef bint guest_idle_hooks(Sim* s, s32 v) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, v)
    if k.policies & POL_HALTED_PELT:
        halted_pelt_guest_idle(s, v)
    if k.py_hooks & HOOK_GUEST_IDLE:
        return py_hook(s, HOOK_GUEST_IDLE, k, v, 0, 0) > 0
    return False

cdef inline void hook_kvm_run(Sim* s, s32 v) noexcept nogil:
    # The thread enters KVM_RUN (at its start, and after each return to userspace): a policy may
    # set the run's settings (vcpu_t.run_bits, kvm/kvm_run.pxd).
    if s.vcpu[v].hooks & HOOK_KVM_RUN:
        kvm_run_hooks(s, v)

cdef void kvm_run_hooks(Sim* s, s32 v) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, v)
    if k.policies & POL_RCU_GUEST:
        rcu_guest_kvm_run(s, v)
    if k.policies & POL_DEFERRED_WORK:
        deferred_work_kvm_run(s, v)
    if k.py_hooks & HOOK_KVM_RUN:
        py_hook(s, HOOK_KVM_RUN, k, v, 0, 0)

cdef inline void hook_kvm_run_leave(Sim* s, s32 v, int kind) noexcept nogil:
    # KVM_RUN returned to userspace (kind USER_*), or VMM work started there ended: a policy may
    # run work on the thread (vcpu_user_run, kvm/userspace.pxi); else the thread calls KVM_RUN.
    if s.vcpu[v].hooks & HOOK_KVM_RUN_LEAVE:
        kvm_run_leave_hooks(s, v, kind)

cdef void kvm_run_leave_hooks(Sim* s, s32 v, int kind) noexcept nogil:
    cdef kern_t* k = vcpu_kern(s, v)
    if k.policies & POL_RCU_GUEST:
        rcu_guest_kvm_run_leave(s, v)
    if k.policies & POL_DEFERRED_WORK:
        deferred_work_user(s, v, kind)
    if k.py_hooks & HOOK_KVM_RUN_LEAVE:
        py_hook(s, HOOK_KVM_RUN_LEAVE, k, v, kind, 0)

# ---------------------------------------------------------------- kernel points
cdef inline void hook_context_switch(Sim* s, kern_t* k, s32 cpu, s32 prev, s32 next) noexcept nogil:
    if k.hooks & HOOK_CONTEXT_SWITCH:
        context_switch_hooks(s, k, cpu, prev, next)

cdef void context_switch_hooks(Sim* s, kern_t* k, s32 cpu, s32 prev, s32 next) noexcept nogil:
    if k.policies & POL_DEFERRED_WORK:
        deferred_work_context_switch(s, cpu, prev, next)
    if k.py_hooks & HOOK_CONTEXT_SWITCH:
        py_hook(s, HOOK_CONTEXT_SWITCH, k, s.rq[cpu].vcpu, cpu, prev)

cdef inline void hook_tick(Sim* s, kern_t* k, s32 cpu) noexcept nogil:
    if k.hooks & HOOK_TICK:
        tick_hooks(s, k, cpu)

cdef void tick_hooks(Sim* s, kern_t* k, s32 cpu) noexcept nogil:
    if k.policies & POL_BOOST:
        boost_tick(s, cpu)
    if k.policies & POL_HALTED_PELT and s.gth.mode == GTH_TICK and s.rq[cpu].vcpu < 0:
        halted_pelt_tick(s, cpu)
    if k.policies & POL_RCU_GUEST:
        rcu_guest_tick(s, cpu)
    if k.py_hooks & HOOK_TICK:
        py_hook(s, HOOK_TICK, k, s.rq[cpu].vcpu, cpu, 0)

cdef inline void hook_yield_to(Sim* s, s32 cpu, s32 p) noexcept nogil:
    if s.kern[s.rq[cpu].kern].hooks & HOOK_YIELD_TO:
        yield_to_hooks(s, cpu, p)

cdef void yield_to_hooks(Sim* s, s32 cpu, s32 p) noexcept nogil:
    cdef kern_t* k = &s.kern[s.rq[cpu].kern]
    if k.policies & POL_DEBOOSTER:
        debooster_yield_to(s, cpu, p)
    if k.py_hooks & HOOK_YIELD_TO:
        py_hook(s, HOOK_YIELD_TO, k, -1, cpu, p)

cdef inline int hook_pelt(FairArena* a, cfs_rq_t* cfs, sched_entity* se, sched_avg* sa, u64 now,
                          unsigned long load, unsigned long runnable, int running, unsigned long weight,
                          bint blocked) noexcept nogil:
    # se = NULL: the cfs_rq's own signal; sa, now and the flags are what the caller's
    # pelt_update is about to use (blocked: the entity's blocked update). A built-in policy may
    # bring the signal up to now itself and return whether it recomputed the averages; the
    # caller's own update then finds nothing left. The hot test reads the arena (any kernel).
    if a.pelt_hooks:
        return pelt_hooks(<Sim*>a, cfs, se, sa, now, load, runnable, running, weight, blocked)
    return 0

cdef int pelt_hooks(Sim* s, cfs_rq_t* cfs, sched_entity* se, sched_avg* sa, u64 now, unsigned long load,
                    unsigned long runnable, int running, unsigned long weight, bint blocked) noexcept nogil:
    cdef kern_t* k = &s.kern[cfs.kern]
    cdef int ret = 0
    if not k.hooks & HOOK_PELT:
        return 0
    if k.policies & POL_HALTED_PELT:
        ret = halted_pelt_update(s, cfs, se, sa, now, load, runnable, running, weight, blocked)
    if k.py_hooks & HOOK_PELT:
        py_hook(s, HOOK_PELT, k, -1, <s64>(cfs - s.fa.cfs), <s64>(se - s.fa.se) if se != NULL else -1)
    return ret

# ---------------------------------------------------------------- attaching
cdef u32 builtin_points(Sim* s, s32 kk) noexcept nogil:
    # The points the built-in policies attached to kernel kk use.
    cdef kern_t* k = &s.kern[kk]
    cdef u32 h = 0
    if k.policies & POL_BOOST:
        h |= BOOST_POINTS
        if s.vm[k.vm].boost.rogue == ROGUE_DOORBELL_STORM:
            h |= HOOK_TICK
    if k.policies & POL_DEBOOSTER:
        h |= HOOK_YIELD_TO
    if k.policies & POL_IPI_AWARE_YIELD:
        h |= IPI_AWARE_YIELD_POINTS
    if k.policies & POL_HALTED_PELT:
        h |= halted_pelt_points(s, kk)
    if k.policies & POL_DEFERRED_WORK:
        h |= HOOK_CONTEXT_SWITCH if kk == 0 else DEFERRED_WORK_POINTS
    if k.policies & POL_RCU_GUEST:
        h |= rcu_guest_points(s, kk)
    if k.policies & POL_TRACE:
        h |= TRACE_POINTS
    return h


cdef int attach_policies(Sim* s) except -1:
    # Publish each kernel's mask where the call sites test it (after the built-ins set their
    # kern_t.policies bit and the Python policies their py_hooks).
    cdef s32 kk, v, c
    for kk in range(s.nkern):
        if (s.kern[kk].py_hooks & HOOK_ON_SPIN) and (s.kern[kk].policies & POL_IPI_AWARE_YIELD):
            raise ValueError(f"vm {kk - 1}: a Python policy's on_spin and the IPI-aware yield policy both want to "
                             "choose the directed-yield candidates; attach one")
        s.kern[kk].hooks = builtin_points(s, kk) | s.kern[kk].py_hooks
        s.fa.pelt_hooks |= s.kern[kk].hooks & HOOK_PELT
    for v in range(s.nvcpu):
        s.vcpu[v].hooks = s.kern[s.vm[s.vcpu[v].vm].kern].hooks
    return 0
