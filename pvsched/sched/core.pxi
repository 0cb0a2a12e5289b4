# The scheduler core (kernel/sched/core.c), Linux v6.15: per-CPU runqueues and class order,
# __schedule and the context switch, try_to_wake_up and select_task_rq, the tick.
# Like every unit, textually included by _core.pyx: one translation unit.

cdef inline bint task_allowed(Sim* s, s32 t, s32 cpu) noexcept nogil:
    # cpu is an rq index; affinity bits are relative to the task's kernel.
    cdef s32 rel = cpu - s.kern[s.task[t].kern].rq_base
    return (s.aff[s.task[t].aff + (rel >> 6)] >> (rel & 63)) & 1

cdef inline void add_nr_running(Sim* s, s32 cpu, s32 delta) noexcept nogil:
    # rq->nr_running, and the kernel's count of overloaded rqs (>= 2 tasks) for balancing.
    cdef u32 old = s.rq[cpu].nr_running
    s.rq[cpu].nr_running = old + delta
    if old < 2 and s.rq[cpu].nr_running >= 2:
        s.kern[s.rq[cpu].kern].nr_overloaded += 1
        if s.rq[cpu].ts.stopped:
            tick_nohz_full_kick(s, cpu)         # a second task needs the tick (sched/tick_sched.pxi)
    elif old >= 2 and s.rq[cpu].nr_running < 2:
        s.kern[s.rq[cpu].kern].nr_overloaded -= 1
    trace_nr_running(s, cpu)

cdef inline void set_task_cpu(Sim* s, s32 t, s32 cpu) noexcept nogil:
    # The task now belongs to rq `cpu`; its fair entity follows, whatever its current class.
    cdef sched_entity* se = &s.fa.se[s.task[t].se]
    s.task[t].cpu = cpu
    se.cfs_rq = task_cfs_on(s, t, cpu)
    se.parent = task_parent_on(s, t, cpu)

cdef inline void set_idle_bit(Sim* s, s32 cpu, bint idle) noexcept nogil:
    cdef kern_t* k = &s.kern[s.rq[cpu].kern]
    cdef s32 rel = cpu - k.rq_base
    if idle:
        s.idle_mask[k.idle_off + (rel >> 6)] |= (<u64>1) << (rel & 63)
    else:
        s.idle_mask[k.idle_off + (rel >> 6)] &= ~((<u64>1) << (rel & 63))

cdef inline void violation(Sim* s, int kind) noexcept nogil:
    s.violations += 1
    s.violation_kind |= (<u64>1) << kind

# ---------------------------------------------------------------- accounting

cdef inline void settle_curr(Sim* s, s32 cpu) noexcept nogil:
    # Charge the running task's workload progress (and the class budgets) up to now. The
    # "nothing to charge" test stays at the call sites: about half the calls on the two-level
    # load find nothing (idle, or already settled at this time), and paid a call for it.
    cdef rq_t* rq = &s.rq[cpu]
    if rq.curr >= 0 and s.now > rq.seg_start and s.fa.clk_run[cpu]:
        settle_curr_charge(s, cpu)

cdef void settle_curr_charge(Sim* s, s32 cpu) noexcept nogil:
    # settle_curr's work: rq.curr >= 0, now > seg_start and the rq clock runs.
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 t = rq.curr
    cdef task_t* p
    cdef s64 el
    el = s.now - rq.seg_start
    rq.seg_start = s.now
    p = &s.task[t]
    p.cpu_ns += el
    if p.remaining > 0:
        p.remaining -= el
        if p.remaining < 0:
            p.remaining = 0
    if p.cls == CLS_FAIR:
        if rq.fs_on:
            rq.fs_runtime -= el
    elif s.rt_guard == RT_GUARD_THROTTLE:
        rt_period_advance(s, rq)
        rq.rt_time += el
        if rq.rt_time > s.rt_runtime_ns and not rq.rt_throttled:
            rq.rt_throttled = 1
            rq.rt_throttle_count += 1
            s.fa.resched[cpu] |= RESCHED_NOW
            ev_arm(&s.q, s.slot_rt + cpu, tadd(rq.rt_period_start, s.rt_period_ns))

# ---------------------------------------------------------------- class dispatch

cdef void enqueue_task(Sim* s, s32 t, int flags) noexcept nogil:
    cdef task_t* p = &s.task[t]
    if p.cls == CLS_FAIR:
        enqueue_task_fair(s, t, flags)
    else:
        rt_enqueue(s, t, False)
        add_nr_running(s, p.cpu, 1)
    p.on_rq = 1

cdef bint dequeue_task(Sim* s, s32 t, int flags) noexcept nogil:
    # False when a fair sleeper's dequeue was delayed (it stays queued, sched_delayed).
    cdef task_t* p = &s.task[t]
    if p.cls == CLS_FAIR:
        if dequeue_entities(s, p.se, flags) < 0:
            return False
    else:
        rt_dequeue(s, t)
        add_nr_running(s, p.cpu, -1)
    p.on_rq = 0
    return True

cdef void wakeup_preempt(Sim* s, s32 cpu, s32 p) noexcept nogil:
    cdef s32 curr = s.rq[cpu].curr
    cdef u8 pc = s.task[p].cls
    cdef u8 cc
    if curr < 0:
        s.fa.resched[cpu] |= RESCHED_NOW
        return
    cc = s.task[curr].cls
    if s.rq[cpu].fs_active and cc == CLS_FAIR:
        cc = CLS_RT + 1     # fair tasks run as the deadline server's payload
    if pc == cc:
        if pc == CLS_FAIR:
            check_preempt_wakeup_fair(s, cpu, p)
        elif s.task[p].rt_prio < s.task[curr].rt_prio:
            s.fa.resched[cpu] |= RESCHED_NOW
    elif pc > cc:
        s.fa.resched[cpu] |= RESCHED_NOW

cdef s32 pick_next_task(Sim* s, s32 cpu, s32 prev) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 next = -1
    cdef bint rt_ok
    cdef bint prev_fair = prev >= 0 and s.task[prev].cls == CLS_FAIR
    if s.rt_overloaded > 0 and not rq.rt_throttled and (
            rq.rt_nr == 0 or (prev >= 0 and s.task[prev].cls == CLS_RT and rt_highest_prio(rq) > s.task[prev].rt_prio)):
        pull_rt_task(s, cpu)     # need_pull_rt_task: this rq's priority is dropping
    rt_ok = rq.rt_nr > 0 and not rq.rt_throttled
    if rq.fs_active and s.fa.cfs[rq.cfs].h_nr_runnable == 0:
        rq.fs_active = 0
    if rt_ok and not rq.fs_active:
        next = rt_pick(s, cpu)
        if next != prev:
            if prev_fair:
                put_prev_task_fair(s, prev)
        return next
    next = pick_task_fair(s, cpu)
    if next < 0 and not rt_ok and s.balance and s.kern[rq.kern].nr_overloaded > 0:
        # sched_balance_newidle: pull a waiting task before going idle, then pick again
        if newidle_balance(s, cpu):
            next = pick_task_fair(s, cpu)
    if next < 0 and rt_ok:
        next = rt_pick(s, cpu)
        if next != prev and prev_fair:
            put_prev_task_fair(s, prev)
        return next
    if next < 0:
        if prev_fair:
            put_prev_task_fair(s, prev)
        return -1
    if prev_fair:
        if prev != next:
            switch_fair(s, prev, next)
    else:
        set_next_task_fair(s, next)
    return next

cdef void schedule(Sim* s, s32 cpu) noexcept nogil:
    # __schedule(): prev has already been dequeued if it blocks.
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 prev = rq.curr
    cdef s32 next
    cdef task_t* p
    cdef kern_t* k = &s.kern[rq.kern]
    settle_curr(s, cpu)
    if s.rcu != NULL and cpu < s.ncpu:
        rcu_note_context_switch(s.rcu, cpu)
    s.fa.resched[cpu] = 0
    next = pick_next_task(s, cpu, prev)
    s.fa.resched[cpu] = 0
    if next != prev:
        hook_context_switch(s, k, cpu, prev, next)
        if prev < 0 and s.idle_paths and rq.vcpu >= 0:
            vcpu_guest_idle_exit(s, rq.vcpu)        # the guest leaves its idle loop (kvm/mwait.pxi)
        trace_switch(s, cpu, prev, next)
        if prev >= 0:
            p = &s.task[prev]
            if ev_armed(&s.q, s.slot_burst + cpu):     # (ev_cancel is a call: most find none)
                ev_cancel(&s.q, s.slot_burst + cpu)
            if p.state == TS_RUNNING:
                p.state = TS_RUNNABLE
                p.runnable_since = s.now
                p.nr_preempted += 1
            if p.vcpu >= 0:
                vcpu_switch_out(s, p.vcpu)
        else:
            rq.busy_since = s.now
            if s.fa.clk_run[cpu] and not ev_armed(&s.q, s.slot_tick + cpu):
                ev_arm(&s.q, s.slot_tick + cpu, (s.now // k.tick_ns + 1) * k.tick_ns)
        rq.curr = next
        if s.rcu != NULL and cpu < s.ncpu:
            rcu_switch(s, cpu, prev, next)
        rq.nr_switches += 1
        set_idle_bit(s, cpu, next < 0)
        if next >= 0:
            if prev < 0 and rq.vcpu < 0:
                rq.seg_start = s.now + cstate_exit_ns(s, s.now - rq.idle_since) - s.ctx_switch_ns
            switch_in(s, cpu, next)
        else:
            rq.busy_ns += s.now - rq.busy_since
            rq.idle_since = s.now
            if k.nohz_idle and not rcu_idle_keeps_tick(s, cpu):
                if ev_armed(&s.q, s.slot_tick + cpu):
                    ev_cancel(&s.q, s.slot_tick + cpu)
                rq.tick_next = 0
                rq.ts.stopped = 0
            if rq.vcpu >= 0 and s.fa.clk_run[cpu]:
                vcpu_guest_idle(s, rq.vcpu)
    if fair_server_may_act(s, cpu):
        fair_server_update(s, cpu)
    if rq.rt_nr > 1:
        push_rt_task(s, cpu)
    if s.check:
        check_rq(s, cpu)

cdef inline s64 cstate_exit_ns(Sim* s, s64 idle_ns) noexcept nogil:
    # Exit latency of the deepest C-state whose target residency the idle period covered
    # (an oracle governor); without a table, the flat idle_exit_ns.
    cdef s32 i
    cdef s64 lat = s.idle_exit_ns
    for i in range(s.n_cstates):
        if idle_ns >= s.cst_residency[i]:
            lat = s.cst_latency[i]
    return lat

cdef inline void record_latency(Sim* s, s32 t, s64 at) noexcept nogil:
    # Wake-up latency: from the timer expiry to the moment the task executes (`at`).
    cdef task_t* p = &s.task[t]
    cdef s64 lat = at - p.lat_start
    p.lat_start = -1
    if p.rtapp.runtime_state == RUNTIME_PENDING:
        p.rtapp.runtime_state = RUNTIME_STARTED     # rt-app runtime: its clock starts as the task runs
        p.rtapp.runtime_start = at
    p.lat_count += 1
    p.lat_sum += lat
    if lat > p.lat_max:
        p.lat_max = lat
    hist_batch_add(s.hist, s.hist_buf, &s.hist_n, <u64>t * HIST_NBUCKETS + <u64>hist_bucket(lat))

cdef void switch_in(Sim* s, s32 cpu, s32 t) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    cdef task_t* p = &s.task[t]
    p.state = TS_RUNNING
    p.nr_switches += 1
    p.wait_ns += s.now - p.runnable_since
    if p.cls == CLS_RT and p.policy == POLICY_RR and p.rr_left <= 0:
        p.rr_left = s.rr_ticks
    if rq.seg_start < s.now:
        rq.seg_start = s.now
    rq.seg_start += s.ctx_switch_ns
    if p.vcpu >= 0:
        vcpu_switch_in(s, p.vcpu, cpu)
        return
    if not s.fa.clk_run[cpu]:
        # A guest rq whose vCPU is not in guest mode: the task starts running at the next entry.
        return
    if rq.vcpu >= 0 and hook_guest_switch(s, rq.vcpu, t, False):
        return              # a policy made the vCPU exit before the task reaches user space
    if s.hw != NULL:
        hwnoise_resume(s, t, rq.seg_start)     # an rtla-hwnoise window opens (guest/hwnoise.pxi)
    if p.lat_start >= 0:
        record_latency(s, t, rq.seg_start)
    if p.remaining == 0:
        # Nothing to compute (fresh start or after a yield): run the program now.
        program_step(s, t, cpu)
    elif p.remaining > 0:
        ev_arm(&s.q, s.slot_burst + cpu, tadd(rq.seg_start, p.remaining))
    elif p.sync.state and rq.vcpu >= 0:
        sync_resume(s, rq.vcpu, t)      # a waiting task spins again (guest/sync.pxi)

cdef void check_rq(Sim* s, s32 cpu) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 c
    if rq.curr < 0:
        if s.fa.cfs[rq.cfs].h_nr_runnable > 0 or (rq.rt_nr > 0 and not rq.rt_throttled):
            violation(s, 0)        # work conservation
    else:
        c = rq.curr
        if s.task[c].cpu != cpu or s.task[c].state != TS_RUNNING:
            violation(s, 1)        # a task current where it is not running
        if not task_allowed(s, c, cpu):
            violation(s, 2)        # affinity

# ---------------------------------------------------------------- wake-up

cdef inline bint rq_idle(Sim* s, s32 c) noexcept nogil:
    # available_idle_cpu(): nothing current or queued, and (guest) the vCPU is not preempted.
    if s.rq[c].curr >= 0 or s.rq[c].nr_running:
        return False
    if s.rq[c].vcpu >= 0 and s.vcpu[s.rq[c].vcpu].preempted:
        return False
    return True

cdef inline s32 find_idle_allowed(Sim* s, s32 t, s32 start) noexcept nogil:
    # First idle allowed rq at or after `start` (rq index), wrapping within the task's kernel.
    cdef kern_t* k = &s.kern[s.task[t].kern]
    cdef s32 words = k.aff_words
    cdef s32 rstart = start - k.rq_base
    cdef s32 kk, w, c
    cdef u64 bits
    cdef s32 sb = rstart & 63
    for kk in range(words + 1):
        w = ((rstart >> 6) + kk) % words
        bits = s.idle_mask[k.idle_off + w] & s.aff[s.task[t].aff + w]
        if kk == 0:
            bits &= ~(<u64>0) << sb
        elif kk == words:
            bits &= ((<u64>1) << sb) - 1
        while bits:
            c = w * 64 + (63 - pv_clzll(bits & (~bits + 1)))
            if c < k.nrq and rq_idle(s, k.rq_base + c):
                return k.rq_base + c
            bits &= bits - 1
    return -1

cdef s32 select_task_rq(Sim* s, s32 t) noexcept nogil:
    # Simplified select_task_rq: fair -> prev if idle, else the next idle allowed CPU in the LLC
    # (wrapping from prev + 1), else prev. RT -> prev unless it runs equal/higher RT, then the
    # allowed CPU with the lowest-priority current task (cpupri).
    cdef task_t* p = &s.task[t]
    cdef kern_t* k = &s.kern[p.kern]
    cdef s32 prev = p.cpu
    cdef s32 i, c, best
    cdef int bestv, v
    cdef rq_t* rq
    if p.cls == CLS_FAIR:
        if task_allowed(s, t, prev) and rq_idle(s, prev):
            return prev
        c = find_idle_allowed(s, t, k.rq_base + (prev - k.rq_base + 1) % k.nrq)
        if c >= 0:
            return c
        if task_allowed(s, t, prev):
            return prev
        for c in range(k.rq_base, k.rq_base + k.nrq):
            if task_allowed(s, t, c):
                return c
        return prev
    rq = &s.rq[prev]
    if task_allowed(s, t, prev) and (rq.curr < 0 or s.task[rq.curr].cls != CLS_RT
                                     or s.task[rq.curr].rt_prio > p.rt_prio):
        return prev
    best = -1
    bestv = -1
    for i in range(k.nrq):
        c = k.rq_base + (prev - k.rq_base + i) % k.nrq
        if not task_allowed(s, t, c):
            continue
        rq = &s.rq[c]
        if rq.curr < 0:
            v = 1000
        elif s.task[rq.curr].cls != CLS_RT:
            v = 500
        else:
            v = s.task[rq.curr].rt_prio
        if v > bestv:
            bestv = v
            best = c
    return best if best >= 0 else prev

cdef s32 select_new_cpu(Sim* s, s32 t) noexcept nogil:
    # Fork balance: the least-loaded allowed CPU of the task's kernel, scanning from its index.
    cdef kern_t* k = &s.kern[s.task[t].kern]
    cdef s32 i, c, best = -1
    cdef u32 bestn = 0xFFFFFFFF
    for i in range(k.nrq):
        c = k.rq_base + (t + i) % k.nrq
        if task_allowed(s, t, c) and s.rq[c].nr_running < bestn:
            bestn = s.rq[c].nr_running
            best = c
    return best

cdef void detach_task_pelt(Sim* s, s32 t) noexcept nogil:
    # Leaving a CPU: an attached PELT signal is decayed and removed from the old queue first,
    # whatever the task's class (an RT-boosted vCPU thread keeps its fair entity's signal).
    cdef sched_entity* se = &s.fa.se[s.task[t].se]
    cdef cfs_rq_t* old = &s.fa.cfs[se.cfs_rq]
    if se.avg.last_update_time:
        update_cfs_rq_avg(&s.fa, old)
        hook_pelt(&s.fa, old, se, &se.avg, pelt_clock(&s.fa, old.cpu), 0, 0, 0, se_weight(se), True)
        pelt_update(pelt_clock(&s.fa, old.cpu), &se.avg, 0, 0, 0, se_weight(se))
        detach_entity_load_avg(old, se)
        update_tg_load_avg(&s.fa, old)
        se.avg.last_update_time = 0

cdef void migrate_task(Sim* s, s32 t, s32 cpu) noexcept nogil:
    # set_task_cpu for a sleeping task: move its entity to the target CPU's group queues.
    cdef task_t* p = &s.task[t]
    cdef sched_entity* se = &s.fa.se[p.se]
    cdef cfs_rq_t* old = &s.fa.cfs[se.cfs_rq]
    if p.cls == CLS_FAIR and s.fa.kp[old.kern].cfs:
        se.vruntime -= old.min_vruntime   # v6.5 migrate_task_rq_fair: a waking task goes relative
    trace_event(s, TR_MIGRATE, cpu, t, p.cpu, cpu)
    detach_task_pelt(s, t)
    set_task_cpu(s, t, cpu)
    p.nr_migrations += 1

cdef void try_to_wake_up(Sim* s, s32 t, s32 local) noexcept nogil:
    cdef task_t* p = &s.task[t]
    cdef s32 cpu
    cdef int flags = ENQUEUE_WAKEUP
    p.nr_wakeups += 1
    p.state = TS_RUNNABLE
    p.runnable_since = s.now
    if p.on_rq:
        # ttwu_runnable: a delayed fair sleeper is requeued where it is.
        cpu = p.cpu
        enqueue_task_fair(s, t, ENQUEUE_DELAYED)
    else:
        if p.state_new:
            # wake_up_new_task: fork balance (RT: cpupri), fully loaded PELT, half-slice deadline.
            p.state_new = 0
            cpu = select_new_cpu(s, t)
            if p.cls == CLS_RT:
                set_task_cpu(s, t, cpu)
                cpu = select_task_rq(s, t)
                set_task_cpu(s, t, cpu)
            p.cpu = cpu
            flags = ENQUEUE_INITIAL
            if p.cls == CLS_FAIR:
                s.fa.se[p.se].cfs_rq = task_cfs_on(s, t, cpu)
                s.fa.se[p.se].parent = task_parent_on(s, t, cpu)
                init_entity_avg(&s.fa.se[p.se].avg, se_weight(&s.fa.se[p.se]))
        else:
            cpu = select_task_rq(s, t)
            if cpu != p.cpu:
                migrate_task(s, t, cpu)
                flags |= ENQUEUE_MIGRATED
        enqueue_task(s, t, flags)
    trace_event(s, TR_WAKEUP_NEW if flags == ENQUEUE_INITIAL else TR_WAKEUP, local if local >= 0 else cpu, t, cpu, 0)
    wakeup_preempt(s, cpu, t)
    if fair_server_may_act(s, cpu):
        fair_server_update(s, cpu)
    if s.rq[cpu].vcpu >= 0:
        hook_guest_enqueue(s, cpu, t, local)
        guest_wakeup_delivered(s, cpu, local)
    else:
        host_rq_enqueued(s, cpu)
    resched_deliver(s, cpu, cpu == local)

# ---------------------------------------------------------------- event handlers

cdef void handle_tick(Sim* s, s32 cpu) noexcept nogil:
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 t = rq.curr
    cdef task_t* p
    cdef kern_t* k = &s.kern[rq.kern]
    cdef s32 v = rq.vcpu
    if rq.ts.stopped:
        sched_tick_remote(s, cpu)           # the tick is off: this is the 1 Hz remote one
        return
    rq.nr_ticks += 1
    if v >= 0:
        # Guest tick: the LAPIC timer interrupt (a preemption-timer exit unless timer exits are off).
        if s.vm[s.vcpu[v].vm].timer_exits:
            s.vcpu[v].pending_irq = 1
            vcpu_exit(s, v, EXIT_GUEST_TIMER, s.vm[s.vcpu[v].vm].exit_ns)
        else:
            hook_guest_irq(s, v)
    else:
        host_interrupt(s, cpu, EXIT_HOST_TICK)
    hook_tick(s, k, cpu)
    if s.rcu != NULL and v < 0:
        rcu_tick(s, cpu)            # update_process_times -> rcu_sched_clock_irq
    settle_curr(s, cpu)
    if t >= 0:
        p = &s.task[t]
        if p.cls == CLS_FAIR:
            task_tick_fair(s, t)
        elif p.policy == POLICY_RR:
            p.rr_left -= 1
            if p.rr_left <= 0:
                p.rr_left = s.rr_ticks
                if rq.rt_nr > 1 and s.rt_head[cpu * MAX_RT_PRIO + p.rt_prio] != s.rt_tail[cpu * MAX_RT_PRIO + p.rt_prio]:
                    rt_requeue_tail(s, t)
                    s.fa.resched[cpu] |= RESCHED_NOW
    if s.balance and rq.nr_running >= 2 and s.fa.cfs[rq.cfs].h_nr_runnable >= 2:
        nohz_kick_balance(s, cpu)
    if s.balance and s.periodic_balance and t >= 0 and k.nrq > 1 and lb_jiffies(s, k) >= rq.next_balance:
        sched_balance_domains(s, cpu)       # sched_balance_trigger -> SCHED_SOFTIRQ
    if rq.ts.nohz_full and t >= 0 and tick_nohz_full_can_stop(s, cpu):
        tick_nohz_full_stop(s, cpu)         # nohz_full: nothing needs the tick (sched/tick_sched.pxi)
    elif t >= 0 or not k.nohz_idle or rcu_idle_keeps_tick(s, cpu):
        if s.fa.clk_run[cpu]:
            ev_arm(&s.q, s.slot_tick + cpu, s.now + k.tick_ns)
        else:
            rq.tick_next = s.now + k.tick_ns
    if s.fa.resched[cpu]:
        s.fa.resched[cpu] |= RESCHED_NOW    # the tick promotes a lazy request
        resched_deliver(s, cpu, True)

cdef void handle_task_timer(Sim* s, s32 t) noexcept nogil:
    cdef task_t* p = &s.task[t]
    cdef s64 wake_at = 0
    cdef int r
    cdef bint is_new = p.state == TS_NEW
    if is_new:
        p.state_new = 1
        if p.vcpu >= 0:
            vcpu_set_mode(s, p.vcpu, VM_PREEMPTED)
            s.vcpu[p.vcpu].in_kvm_run = 1
            hook_kvm_run(s, p.vcpu)     # the vCPU thread enters KVM_RUN (vcpu_load)
        # wake_up_new_task runs on the parent's CPU: taken to be the task's first allowed CPU
        # (p.cpu at creation), so a child placed elsewhere is a remote wake-up.
        p.timer_cpu = p.cpu
    elif p.timer_cpu >= 0:
        if p.kern > 0:
            guest_timer_interrupt(s, s.rq[p.timer_cpu].vcpu)
        else:
            host_interrupt(s, p.timer_cpu, EXIT_HOST_INTR)
    p.lat_start = s.now
    r = program_advance(s, t, &wake_at)
    if r == STEP_BLOCK:
        if is_new:
            # A new task whose program sleeps first: it was forked (fork balance placed it), ran
            # for an instant and went to sleep, so its first wake-up is an ordinary sleeper's.
            set_task_cpu(s, t, select_new_cpu(s, t))
            p.timer_cpu = p.cpu
            p.state_new = 0
        p.state = TS_SLEEPING
        if wake_at >= 0:
            ev_arm(&s.q, s.slot_task + t, wake_at)
        return
    if r == STEP_EXIT:
        p.state = TS_DEAD
        p.lat_start = -1
        return
    if r == STEP_YIELD:
        p.remaining = 0
        p.nr_yields += 1
    try_to_wake_up(s, t, p.timer_cpu)
