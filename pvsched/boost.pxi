# pvsched (seed 000): dynamic vCPU priority boosting through a guest/host shared page.
# Host: per-exit evaluation, proactive kick boosts on injection, boost on halt, the 3 ms cap for
# preempt-disabled boosts, optional budgets (bounded). Guest: lazy requests at irq entry, its own
# __schedule and RT enqueue; synchronous unboost (doorbell exit) at irq exit and return to user.
# Everything is off unless a VM's boost_mode says otherwise.

cdef void task_setscheduler(Sim* s, s32 t, u8 cls, u8 policy, s32 sched_priority) noexcept nogil:
    # __sched_setscheduler for a class change: dequeue/put, switch, enqueue/set, switched_to.
    cdef task_t* p = &s.task[t]
    cdef s32 cpu = p.cpu
    cdef bint running = s.rq[cpu].curr == t
    cdef bint queued
    if p.cls == CLS_FAIR and p.on_rq and s.fa.se[p.se].sched_delayed:
        # switching_from_fair: a delayed sleeper is dequeued for real first
        dequeue_entities(s, p.se, DEQUEUE_SLEEP | DEQUEUE_DELAYED)
    queued = p.on_rq
    if not queued and s.fa.kp[p.kern].cfs:
        # v6.5 detach/attach_task_cfs_rq of a sleeper: sleeper placement, then relative vruntime
        if p.cls == CLS_FAIR and cls != CLS_FAIR:
            place_entity_cfs(&s.fa, &s.fa.cfs[s.fa.se[p.se].cfs_rq], &s.fa.se[p.se], False)
            s.fa.se[p.se].vruntime -= s.fa.cfs[s.fa.se[p.se].cfs_rq].min_vruntime
        elif p.cls != CLS_FAIR and cls == CLS_FAIR:
            s.fa.se[p.se].vruntime += s.fa.cfs[s.fa.se[p.se].cfs_rq].min_vruntime
    if running:
        settle_curr(s, cpu)
    if queued:
        dequeue_task(s, t, DEQUEUE_SAVE | DEQUEUE_MOVE)
    if running and p.cls == CLS_FAIR:
        put_prev_task_fair(s, t)
    p.cls = cls
    p.policy = policy
    if cls == CLS_RT:
        p.rt_prio = 99 - sched_priority
        p.rr_left = s.rr_ticks
    else:
        p.rt_prio = MAX_RT_PRIO + 20 + p.nice
    if queued:
        enqueue_task(s, t, ENQUEUE_RESTORE | ENQUEUE_MOVE)
        if running and cls == CLS_FAIR:
            set_next_task_fair(s, t)
        if cls == CLS_FAIR and running:
            s.fa.resched[cpu] |= RESCHED_NOW     # switched_to_fair: resched_curr
        elif not running:
            wakeup_preempt(s, cpu, t)

cdef inline void boost_account(Sim* s, s32 v) noexcept nogil:
    cdef vcpu_t* vc = &s.vcpu[v]
    if vc.boost_status == VCPU_BOOST_BOOSTED:
        vc.boosted_ns[vc.mode] += s.now - vc.bacc_since
    vc.bacc_since = s.now

cdef inline bint guest_preempt_disabled(Sim* s, s32 v) noexcept nogil:
    cdef s32 c = s.rq[s.vcpu[v].rq].curr
    return c >= 0 and s.task[c].in_critical

cdef void vcpu_set_boost(Sim* s, s32 v, bint on, int cause) noexcept nogil:
    # kvm_vcpu_set_sched: RT (boost_policy, boost_prio) or back to SCHED_NORMAL.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s64 budget
    if on == (vc.boost_status == VCPU_BOOST_BOOSTED):
        return
    if on and vm.boost_mode == BOOST_BOUNDED:
        vc.debt_ns -= s.now - vc.unboost_since      # uncharged time repays the debt 1:1
        vc.unboost_since = s.now
        if vc.debt_ns <= 0:
            vc.debt_ns = 0
            vc.latched = 0
        if vc.latched:
            vc.nr_budget_refused += 1
            return
    boost_account(s, v)
    if on:
        task_setscheduler(s, vc.task, CLS_RT, vm.boost_policy, vm.boost_prio)
        vc.boost_status = VCPU_BOOST_BOOSTED
        vc.boost_since = s.now
        vc.nr_boost[cause] += 1
        vc.boost_cat = 1 if cause == BC_REQUEST and vc.boost_cat == 1 else 0
        if vm.boost_mode == BOOST_BOUNDED:
            budget = vm.gen_budget_ns if vc.boost_cat else vm.cs_budget_ns
            budget -= vc.debt_ns
            ev_arm(&s.q, s.slot_vbudget + v, s.now + (budget if budget > 0 else 0))
    else:
        task_setscheduler(s, vc.task, CLS_FAIR, POLICY_NORMAL, 0)
        vc.boost_status = VCPU_BOOST_NORMAL
        vc.nr_unboost[cause] += 1
        if vm.boost_mode == BOOST_BOUNDED:
            vc.debt_ns += s.now - vc.boost_since
            vc.unboost_since = s.now
            ev_cancel(&s.q, s.slot_vbudget + v)
    if vc.mode == VM_EXIT and vm.setsched_ns and ev_armed(&s.q, s.slot_vcpu + v):
        ev_arm(&s.q, s.slot_vcpu + v, tadd(ev_expiry(&s.q, s.slot_vcpu + v), vm.setsched_ns))

cdef void pvsched_exit_eval(Sim* s, s32 v, int reason) noexcept nogil:
    # kvm_vcpu_do_pv_sched after every VM exit: read schedinfo, re-decide boost both ways.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef bint pd = guest_preempt_disabled(s, v)
    cdef bint exceeds, pending, needs
    cdef u8 req = VCPU_REQ_BOOST if vm.rogue == ROGUE_HOLD_BOOST else vc.boost_req
    if pd:
        if vc.pd_ts < 0:
            vc.pd_ts = s.now
    else:
        vc.pd_ts = -1
    exceeds = pd and vm.cap_ns > 0 and s.now - vc.pd_ts >= vm.cap_ns
    pending = vc.pending_irq and (vm.triggers & TR_PENDING_EXIT) != 0
    needs = (req == VCPU_REQ_BOOST or pending or (pd and (vm.triggers & TR_PREEMPT_DISABLED) != 0)) and not exceeds
    if needs and vm.boost_mode == BOOST_BOUNDED and vc.latched:
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
    vc.boost_req = VCPU_REQ_UNBOOST
    if vc.guest_status == VCPU_BOOST_BOOSTED and c >= 0 and not s.task[c].in_critical:
        vcpu_exit(s, v, EXIT_DOORBELL, s.vm[vc.vm].doorbell_ns)
        return True
    return False

cdef bint guest_irq_hooks(Sim* s, s32 v) noexcept nogil:
    # An interrupt was injected at this entry: irqentry_enter / irqentry_exit.
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    cdef s32 c = s.rq[vc.rq].curr
    if vm.triggers & TR_IRQ_ENTRY:
        vc.boost_req = VCPU_REQ_BOOST
        vc.boost_cat = 0
    # Whatever the irq exit does, the task that runs next returns to user (exit_to_user_mode_prepare)
    vc.hooked_task = -1
    if (vm.triggers & TR_IRQ_EXIT) and not s.fa.resched[vc.rq] and c >= 0 and s.task[c].cls != CLS_RT:
        return guest_unboost_sync(s, v)
    return False

cdef bint guest_switch_hooks(Sim* s, s32 v, s32 t) noexcept nogil:
    # Guest __schedule chose t (lazy request), then t returns to user (sync unboost if not RT).
    cdef vcpu_t* vc = &s.vcpu[v]
    cdef vm_t* vm = &s.vm[vc.vm]
    vc.hooked_task = t
    if s.task[t].cls == CLS_RT:
        if vm.triggers & TR_SCHED:
            vc.boost_req = VCPU_REQ_BOOST
            vc.boost_cat = 1
        return False
    if vm.triggers & TR_SCHED:
        vc.boost_req = VCPU_REQ_UNBOOST
    if vm.triggers & TR_USER_RETURN:
        return guest_unboost_sync(s, v)
    return False

cdef void handle_vbudget(Sim* s, s32 v) noexcept nogil:
    # Bounded policy: the boost used its budget. Latch, then force the vCPU off RT.
    cdef vcpu_t* vc = &s.vcpu[v]
    if vc.boost_status != VCPU_BOOST_BOOSTED:
        return
    vc.latched = 1
    if vc.mode == VM_GUEST:
        vcpu_exit(s, v, EXIT_BUDGET, s.vm[vc.vm].exit_ns)
    else:
        vcpu_set_boost(s, v, False, UC_BUDGET)
        if s.rq[vc.host_cpu].curr == vc.task:
            resched_deliver(s, vc.host_cpu, False)
