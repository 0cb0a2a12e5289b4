# vCPU priority boosting through a guest/host shared page (the 2024 pvsched RFC).
# Host: per-exit evaluation, proactive kick boosts on injection, boost on halt, the 3 ms cap for
# preempt-disabled boosts, optional budgets (bounded). Guest: lazy requests at irq entry, its own
# __schedule and RT enqueue; synchronous unboost (doorbell exit) at irq exit and return to user.
# Everything is off unless a VM's boost mode says otherwise.

cdef inline void boost_account(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    if vc.boost.status == VCPU_BOOST_BOOSTED:
        vc.boost.boosted_ns[vc.mode] += s.now - vc.boost.bacc_since
    vc.boost.bacc_since = s.now

cdef inline bint guest_preempt_disabled(Sim* s, s32 v) noexcept nogil:
    cdef s32 c = s.rq[s.vcpu[v].rq].curr
    return c >= 0 and s.task[c].in_critical

cdef void vcpu_set_boost(Sim* s, s32 v, bint on, int cause) noexcept nogil:
    # kvm_vcpu_set_sched: RT (boost_policy, boost_prio) or back to SCHED_NORMAL.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s64 budget
    if on == (vc.boost.status == VCPU_BOOST_BOOSTED):
        return
    if on and vm.boost.mode == BOOST_BOUNDED:
        vc.boost.debt_ns -= s.now - vc.boost.unboost_since      # uncharged time repays the debt 1:1
        vc.boost.unboost_since = s.now
        if vc.boost.debt_ns <= 0:
            vc.boost.debt_ns = 0
            vc.boost.latched = 0
        if vc.boost.latched:
            vc.boost.nr_budget_refused += 1
            return
    boost_account(s, v)
    if on:
        task_setscheduler(s, vc.task, CLS_RT, vm.boost.policy, vm.boost.prio)
        vc.boost.status = VCPU_BOOST_BOOSTED
        vc.boost.since = s.now
        vc.boost.nr_boost[cause] += 1
        trace_event(s, TR_BOOST, vc.host_cpu, v, cause, 0)
        vc.boost.cat = 1 if cause == BC_REQUEST and vc.boost.cat == 1 else 0
        if vm.boost.mode == BOOST_BOUNDED:
            budget = vm.boost.gen_budget_ns if vc.boost.cat else vm.boost.cs_budget_ns
            budget -= vc.boost.debt_ns
            ev_arm(&s.q, s.slot_vbudget + v, s.now + (budget if budget > 0 else 0))
    else:
        task_setscheduler(s, vc.task, CLS_FAIR, POLICY_NORMAL, 0)
        vc.boost.status = VCPU_BOOST_NORMAL
        vc.boost.nr_unboost[cause] += 1
        trace_event(s, TR_UNBOOST, vc.host_cpu, v, cause, 0)
        if vm.boost.mode == BOOST_BOUNDED:
            vc.boost.debt_ns += s.now - vc.boost.since
            vc.boost.unboost_since = s.now
            ev_cancel(&s.q, s.slot_vbudget + v)
    if vc.mode == VM_EXIT and vm.boost.setsched_ns and ev_armed(&s.q, s.slot_vcpu + v):
        ev_arm(&s.q, s.slot_vcpu + v, tadd(ev_expiry(&s.q, s.slot_vcpu + v), vm.boost.setsched_ns))

cdef void boost_vcpu_exit(Sim* s, s32 v, int reason) noexcept nogil:
    # kvm_vcpu_do_pv_sched after every VM exit: read schedinfo, re-decide boost both ways.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef bint pd = guest_preempt_disabled(s, v)
    cdef bint exceeds, pending, needs
    cdef u8 req = VCPU_REQ_BOOST if vm.boost.rogue == ROGUE_HOLD_BOOST else vc.boost.req
    if pd:
        if vc.boost.pd_ts < 0:
            vc.boost.pd_ts = s.now
    else:
        vc.boost.pd_ts = -1
    exceeds = pd and vm.boost.cap_ns > 0 and s.now - vc.boost.pd_ts >= vm.boost.cap_ns
    pending = vc.pending_irq and (vm.boost.triggers & TR_PENDING_EXIT) != 0
    needs = (req == VCPU_REQ_BOOST or pending or (pd and (vm.boost.triggers & TR_PREEMPT_DISABLED) != 0)) and not exceeds
    if needs and vm.boost.mode == BOOST_BOUNDED and vc.boost.latched:
        needs = False
        vcpu_set_boost(s, v, False, UC_BUDGET)
        return
    if needs:
        vcpu_set_boost(s, v, True, BC_REQUEST if req == VCPU_REQ_BOOST else (
            BC_PENDING if pending else BC_PREEMPT_DISABLED))
    else:
        vcpu_set_boost(s, v, False, UC_CAP if exceeds else (
            UC_DOORBELL if reason == EXIT_DOORBELL else (UC_BUDGET if reason == EXIT_BUDGET else UC_EXIT)))

cdef bint guest_unboost_sync(Sim* s, s32 v) noexcept nogil:
    # pv_sched_unboost_vcpu: lazy unboost, plus the doorbell exit if the guest sees itself
    # boosted and preempt_count is 0. Returns True when it exited.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef s32 c = s.rq[vc.rq].curr
    vc.boost.req = VCPU_REQ_UNBOOST
    if vc.boost.guest_status == VCPU_BOOST_BOOSTED and c >= 0 and not s.task[c].in_critical:
        vcpu_exit(s, v, EXIT_DOORBELL, s.vm[vc.vm].boost.doorbell_ns)
        return True
    return False

cdef bint boost_guest_irq(Sim* s, s32 v) noexcept nogil:
    # An interrupt was injected at this entry: irqentry_enter / irqentry_exit.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 c = s.rq[vc.rq].curr
    if vm.boost.triggers & TR_IRQ_ENTRY:
        vc.boost.req = VCPU_REQ_BOOST
        vc.boost.cat = 0
    # Whatever the irq exit does, the task that runs next returns to user (exit_to_user_mode_prepare)
    vc.boost.hooked_task = -1
    if (vm.boost.triggers & TR_IRQ_EXIT) and not s.fa.resched[vc.rq] and c >= 0 and s.task[c].cls != CLS_RT:
        return guest_unboost_sync(s, v)
    return False

cdef bint boost_guest_switch(Sim* s, s32 v, s32 t, bint reentry) noexcept nogil:
    # Guest __schedule chose t (lazy request), then t returns to user (sync unboost if not RT).
    # At a re-entry the hooks already ran for t unless an interrupt came in between.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    if reentry and vc.boost.hooked_task == t:
        return False
    vc.boost.hooked_task = t
    if s.task[t].cls == CLS_RT:
        if vm.boost.triggers & TR_SCHED:
            vc.boost.req = VCPU_REQ_BOOST
            vc.boost.cat = 1
        return False
    if vm.boost.triggers & TR_SCHED:
        vc.boost.req = VCPU_REQ_UNBOOST
    if vm.boost.triggers & TR_USER_RETURN:
        return guest_unboost_sync(s, v)
    return False

cdef void handle_vbudget(Sim* s, s32 v) noexcept nogil:
    # Bounded policy: the boost used its budget. Latch, then force the vCPU off RT.
    cdef vcpu_t* vc = &s.vcpu[v]
    if vc.boost.status != VCPU_BOOST_BOOSTED:
        return
    vc.boost.latched = 1
    if vc.mode == VM_GUEST:
        vcpu_exit(s, v, EXIT_BUDGET, s.vm[vc.vm].exit_ns)
    else:
        vcpu_set_boost(s, v, False, UC_BUDGET)
        if s.rq[vc.host_cpu].curr == vc.task:
            resched_deliver(s, vc.host_cpu, False)

# ---------------------------------------------------------------- hook points (policies/hooks.pxd)
cdef enum:
    BOOST_POINTS = (HOOK_VCPU_EXIT | HOOK_VCPU_ENTER | HOOK_KICK | HOOK_GUEST_IRQ | HOOK_HALT | HOOK_VCPU_MODE
                    | HOOK_GUEST_SWITCH | HOOK_GUEST_ENQUEUE)   # + HOOK_TICK for the doorbell-storm rogue

cdef void boost_vcpu_enter(Sim* s, s32 v) noexcept nogil:
    # record_vcpu_boost_status: the guest sees the host's boost status from this entry on.
    s.vcpu[v].boost.guest_status = s.vcpu[v].boost.status

cdef void boost_kick(Sim* s, s32 v, int cause) noexcept nogil:
    # Host-proactive boosts when KVM kicks a vCPU: LAPIC timer, interrupt injection (not with
    # posted interrupts), PV unhalt.
    cdef vm_t* vm = &s.vm[s.vcpu[v].vm]
    if cause == KICK_TIMER:
        if vm.boost.triggers & TR_KICK_TIMER:
            vcpu_set_boost(s, v, True, BC_KICK_TIMER)
    elif cause == KICK_INTR:
        if not vm.posted_intr and (vm.boost.triggers & TR_KICK_INTR):
            vcpu_set_boost(s, v, True, BC_KICK_INTR)
    elif vm.boost.triggers & TR_KICK_UNHALT:
        vcpu_set_boost(s, v, True, BC_KICK_UNHALT)

cdef void boost_halt(Sim* s, s32 v) noexcept nogil:
    # kvm_vcpu_block: boost before sleeping.
    if s.vm[s.vcpu[v].vm].boost.triggers & TR_HALT:
        vcpu_set_boost(s, v, True, BC_HALT)

cdef void boost_vcpu_mode(Sim* s, s32 v) noexcept nogil:
    if s.vcpu[v].boost.status == VCPU_BOOST_BOOSTED:
        boost_account(s, v)

cdef void boost_guest_enqueue(Sim* s, s32 grq, s32 t, s32 local) noexcept nogil:
    # The guest enqueues an RT task locally: a lazy boost request.
    cdef s32 v = s.rq[grq].vcpu
    if (s.task[t].cls == CLS_RT and grq == local
            and (s.vm[s.vcpu[v].vm].boost.triggers & TR_RT_ENQUEUE)):
        s.vcpu[v].boost.req = VCPU_REQ_BOOST
        s.vcpu[v].boost.cat = 1

cdef void boost_tick(Sim* s, s32 cpu) noexcept nogil:
    # A rogue guest that rings the doorbell (asking for a boost) on every guest tick.
    cdef s32 v = s.rq[cpu].vcpu
    if v >= 0 and s.vm[s.vcpu[v].vm].boost.rogue == ROGUE_DOORBELL_STORM:
        s.vcpu[v].boost.req = VCPU_REQ_BOOST
        vcpu_exit(s, v, EXIT_DOORBELL, s.vm[s.vcpu[v].vm].boost.doorbell_ns)

# ---------------------------------------------------------------- building and results
BOOST_TRIGGERS = {"irq_entry": TR_IRQ_ENTRY, "irq_exit": TR_IRQ_EXIT, "sched": TR_SCHED,
                  "rt_enqueue": TR_RT_ENQUEUE, "user_return": TR_USER_RETURN, "kick_timer": TR_KICK_TIMER,
                  "kick_intr": TR_KICK_INTR, "kick_unhalt": TR_KICK_UNHALT, "halt": TR_HALT,
                  "pending_at_exit": TR_PENDING_EXIT, "preempt_disabled": TR_PREEMPT_DISABLED}
BOOST_CAUSES = ("request", "pending", "kick_timer", "kick_intr", "kick_unhalt", "halt", "preempt_disabled")
UNBOOST_CAUSES = ("exit", "doorbell", "cap", "budget")
BOOST_MODES = {"off": BOOST_OFF, "dynamic": BOOST_DYNAMIC, "bounded": BOOST_BOUNDED}
ROGUES = {"none": ROGUE_NONE, "hold_boost": ROGUE_HOLD_BOOST, "doorbell_storm": ROGUE_DOORBELL_STORM}


cdef int boost_build(Sim* s, list vms) except -1:
    cdef s32 k, v
    cdef vm_t* vmp
    for k in range(s.nvm):
        bst = vms[k].get("boost", {})
        vmp = &s.vm[k]
        vmp.boost.mode = BOOST_MODES[bst.get("mode", "off")]
        vmp.boost.policy = POLICY_FIFO if bst.get("policy", "rr") == "fifo" else POLICY_RR
        vmp.boost.prio = int(bst.get("priority", 8))
        vmp.boost.triggers = int(bst.get("triggers", 0))
        vmp.boost.cap_ns = int(bst.get("cap_ns", 3_000_000))
        vmp.boost.doorbell_ns = int(bst.get("doorbell_ns", 1_000))
        vmp.boost.setsched_ns = int(bst.get("setsched_ns", 2_000))
        vmp.boost.cs_budget_ns = int(bst.get("cs_budget_ns", 2_000_000))
        vmp.boost.gen_budget_ns = int(bst.get("gen_budget_ns", 500_000_000))
        vmp.boost.rogue = ROGUES[bst.get("rogue", "none")]
        if not 1 <= vmp.boost.prio <= 99 or vmp.boost.cap_ns < 0 or vmp.boost.doorbell_ns < 0 \
                or vmp.boost.setsched_ns < 0 or vmp.boost.cs_budget_ns < 0 or vmp.boost.gen_budget_ns < 0:
            raise ValueError(f"vm {k}: boost parameters out of range")
        if vmp.boost.mode != BOOST_OFF:
            s.kern[vmp.kern].policies |= POL_BOOST
    for v in range(s.nvcpu):
        s.vcpu[v].boost.hooked_task = -1
        s.vcpu[v].boost.pd_ts = -1
        s.vcpu[v].boost.status = VCPU_BOOST_NORMAL if s.vm[s.vcpu[v].vm].boost.mode else VCPU_BOOST_DISABLED
        s.vcpu[v].boost.guest_status = s.vcpu[v].boost.status
    return 0


cdef void boost_results(Sim* s, dict vc):
    # Per-vCPU boost columns (zeros for a VM without boosting): boosts and unboosts by cause,
    # boosted time by what the vCPU did meanwhile, refused boosts, boosted now.
    cdef s32 c, k
    for m in BOOST_CAUSES:
        vc["boosts_" + m] = np.zeros(s.nvcpu, dtype=np.int64)
    for m in UNBOOST_CAUSES:
        vc["unboosts_" + m] = np.zeros(s.nvcpu, dtype=np.int64)
    for m in ("boosted_run_ns", "boosted_blocked_ns", "boosted_wait_ns", "budget_refused", "boosted"):
        vc[m] = np.zeros(s.nvcpu, dtype=np.int64)
    for c in range(s.nvcpu):
        for k, m in enumerate(BOOST_CAUSES):
            vc["boosts_" + m][c] = s.vcpu[c].boost.nr_boost[k]
        for k, m in enumerate(UNBOOST_CAUSES):
            vc["unboosts_" + m][c] = s.vcpu[c].boost.nr_unboost[k]
        vc["boosted_run_ns"][c] = (s.vcpu[c].boost.boosted_ns[VM_GUEST] + s.vcpu[c].boost.boosted_ns[VM_EXIT]
                                   + s.vcpu[c].boost.boosted_ns[VM_POLL])
        vc["boosted_blocked_ns"][c] = s.vcpu[c].boost.boosted_ns[VM_HALTED]
        vc["boosted_wait_ns"][c] = s.vcpu[c].boost.boosted_ns[VM_PREEMPTED]
        vc["budget_refused"][c] = s.vcpu[c].boost.nr_budget_refused
        vc["boosted"][c] = s.vcpu[c].boost.status == VCPU_BOOST_BOOSTED
