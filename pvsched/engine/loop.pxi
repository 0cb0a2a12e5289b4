# The event loop: pop the earliest timer slot, set the clock, dispatch to the unit that owns the
# slot. No Python objects, no allocation, no GIL.

cdef void run_loop(Sim* s, s64 until) noexcept nogil:
    cdef s32 slot
    cdef s64 t
    cdef s64 top
    cdef u64 same = s.same_n             # events so far at the current instant (a register here)
    cdef u64 limit = s.same_limit
    if s.stalled:
        return
    while True:
        top = ev_next_time(&s.q)        # T_NEVER when nothing is armed (until < T_NEVER)
        if top > until:
            break
        if top == s.now:
            same += 1
            if same > limit:
                # State that repeats without time advancing: report it and stop at this instant.
                s.same_n = same
                s.stalled = 1
                violation(s, 3)
                return
        else:
            same = 0
        slot = ev_take(&s.q, &t)          # the handler's first new timer takes its place
        s.now = t
        s.nevents += 1
        if slot < s.slot_burst:
            handle_tick(s, slot - s.slot_tick)
        elif slot < s.slot_fs:
            handle_burst(s, slot - s.slot_burst)
        elif slot < s.slot_rt:
            handle_fair_server(s, slot - s.slot_fs)
        elif slot < s.slot_vcpu:
            handle_rt_period(s, slot - s.slot_rt)
        elif slot < s.slot_vbudget:
            handle_vcpu(s, slot - s.slot_vcpu)
        elif slot < s.slot_task:
            handle_vbudget(s, slot - s.slot_vbudget)
        elif slot < s.slot_spin:
            handle_task_timer(s, slot - s.slot_task)
        elif slot < s.slot_irq:
            handle_spin(s, slot - s.slot_spin)          # guest/sync.pxi
        elif slot < s.slot_rcu:
            handle_irq_end(s, slot - s.slot_irq)
        elif slot == s.slot_rcu:
            handle_rcu_gp(s)                            # rcu/rcu_engine.pxi
        elif slot < s.slot_aff:
            handle_rcu_idle(s, slot - s.slot_rcu - 1)
        elif slot < s.slot_end:
            handle_vcpu_vmm_action(s, slot - s.slot_aff)    # kvm/vmm_actions.pxi
        elif slot > s.slot_end:
            handle_vmm_arrival(s, slot - s.vmm.slot)     # policies/deferred_work.pxi
        else:
            s.nevents -= 1
            ev_settle(&s.q)
            break       # the stop slot: a Python policy raised (policies/python.pxi)
        ev_settle(&s.q)
    s.same_n = same
    if until > s.now:
        s.now = until
