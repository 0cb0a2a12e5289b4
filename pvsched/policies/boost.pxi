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
        vc.boost.cat = 1 if cause == BC_REQUEST and vc.boost.cat == 1 else 0
        if vm.boost.mode == BOOST_BOUNDED:
            budget = vm.boost.gen_budget_ns if vc.boost.cat else vm.boost.cs_budget_ns
            budget -= vc.boost.debt_ns
            ev_arm(&s.q, s.slot_vbudget + v, s.now + (budget if budget > 0 else 0))
    else:
        task_setscheduler(s, vc.task, CLS_FAIR, POLICY_NORMAL, 0)
        vc.boost.status = VCPU_BOOST_NORMAL
        vc.boost.nr_unboost[cause] += 1
        if vm.boost.mode == BOOST_BOUNDED:
            vc.boost.debt_ns += s.now - vc.boost.since
            vc.boost.unboost_since = s.now
            ev_cancel(&s.q, s.slot_vbudget + v)
    if vc.mode == VM_EXIT and vm.boost.setsched_ns and ev_armed(&s.q, s.slot_vcpu + v):
        ev_arm(&s.q, s.slot_vcpu + v, ev_expiry(&s.q, s.slot_vcpu + v) + vm.boost.setsched_ns)

cdef void pvsched_exit_eval(Sim* s, s32 v, int reason) noexcept nogil:
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

cdef bint guest_irq_hooks(Sim* s, s32 v) noexcept nogil:
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

cdef bint guest_switch_hooks(Sim* s, s32 v, s32 t) noexcept nogil:
    # Guest __schedule chose t (lazy request), then t returns to user (sync unboost if not RT).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
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
