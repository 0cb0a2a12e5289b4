# Load balancing (kernel/sched/fair.c, v6.15; v6.5 where the fair class is CFS) over one sched
# domain per kernel spanning its CPUs: one LLC, SMT off, no NUMA, so every sched group is one CPU.
# Three paths:
# - the newly-idle balance (a CPU about to go idle pulls a waiting task);
# - the NOHZ idle balancer (a busy CPU's tick kicks an idle CPU to pull), reduced: one task, the
#   least recently run movable one, no failure accounting;
# - the periodic balance of a busy CPU (sched_balance_domains -> sched_balance_rq) at its tick,
#   with the kernel's intervals, group classification, imbalance arithmetic and detach rules.
# Candidates follow can_migrate_task: fair, queued but not running, allowed on the destination,
# and not cache-hot (ran within sysctl_sched_migration_cost, 0.5 ms); the least recently run
# candidate goes first (the tail of cfs_tasks, ordered here by exec_start).

cdef s32 collect_fair_tasks(Sim* s, s32 src, s32* out) noexcept nogil:
    # Every fair task in src's entity hierarchy, the running one included (rq->cfs_tasks). Each
    # entity is pushed at most once (curr is out of its tree), so the stack never outgrows it.
    cdef FairArena* a = &s.fa
    cdef s32* stack = s.lb_stack
    cdef s32 sp = 0
    cdef s32 n, t, m = 0
    cdef cfs_rq_t* c = &a.cfs[s.rq[src].cfs]
    if c.root >= 0:
        stack[sp] = c.root
        sp += 1
    if c.curr >= 0:
        stack[sp] = c.curr
        sp += 1
    while sp > 0:
        sp -= 1
        n = stack[sp]
        if n != a.cfs[a.se[n].cfs_rq].curr:
            if a.se[n].left >= 0:
                stack[sp] = a.se[n].left
                sp += 1
            if a.se[n].right >= 0:
                stack[sp] = a.se[n].right
                sp += 1
        if a.se[n].my_q >= 0:
            c = &a.cfs[a.se[n].my_q]
            if c.root >= 0:
                stack[sp] = c.root
                sp += 1
            if c.curr >= 0:
                stack[sp] = c.curr
                sp += 1
            continue
        t = a.se[n].task
        if t >= 0 and s.task[t].cls == CLS_FAIR:
            out[m] = t
            m += 1
    return m

cdef s32 pull_candidate(Sim* s, s32 src, s32 dst) noexcept nogil:
    # The least recently run movable, cache-cold task on src (idle paths: no failure escalation).
    cdef FairArena* a = &s.fa
    cdef s32 i, t, best = -1
    cdef s32 m = collect_fair_tasks(s, src, s.lb_tasks)
    cdef u64 oldest = <u64>0xFFFFFFFFFFFFFFFF
    cdef u64 now = rq_clock(a, src)
    cdef sched_entity* se
    for i in range(m):
        t = s.lb_tasks[i]
        se = &a.se[s.task[t].se]
        if s.rq[src].curr == t or se.sched_delayed or not task_allowed(s, t, dst):
            continue
        if s.task[t].state != TS_RUNNABLE:
            continue
        if now - se.exec_start < <u64>s.migration_cost_ns:
            continue
        if se.exec_start < oldest:
            oldest = se.exec_start
            best = t
    return best

cdef void move_queued_task(Sim* s, s32 t, s32 dst) noexcept nogil:
    # detach_task + attach_task: a migrating (not sleeping) dequeue and a migrated enqueue.
    cdef task_t* p = &s.task[t]
    cdef sched_entity* se = &s.fa.se[p.se]
    trace_event(s, TR_MIGRATE, dst, t, p.cpu, dst)
    dequeue_task(s, t, DEQUEUE_SAVE | DEQUEUE_MOVE | DEQUEUE_MIGRATING)
    set_task_cpu(s, t, dst)
    p.nr_migrations += 1
    se.avg.last_update_time = 0
    enqueue_task(s, t, ENQUEUE_MIGRATED | ENQUEUE_RESTORE)

cdef bint newidle_balance(Sim* s, s32 dst) noexcept nogil:
    # Pull from the busiest rq (most runnable fair tasks, at least two) of this kernel.
    cdef kern_t* k = &s.kern[s.rq[dst].kern]
    cdef s32 c, src = -1, t
    cdef u32 most = 1
    for c in range(k.rq_base, k.rq_base + k.nrq):
        if c != dst and s.fa.cfs[s.rq[c].cfs].h_nr_runnable > most:
            most = s.fa.cfs[s.rq[c].cfs].h_nr_runnable
            src = c
    if src < 0:
        return False
    t = pull_candidate(s, src, dst)
    if t < 0:
        return False
    move_queued_task(s, t, dst)
    s.nr_balance_pulls += 1
    return True

cdef void nohz_kick_balance(Sim* s, s32 src) noexcept nogil:
    # The idle load balancer pulls one waiting task from this busy rq to an idle allowed CPU.
    # Only a CPU with nothing current can be idle: walk the kernel's idle bitmap (set bits in
    # rq order, the first idle one wins) instead of testing every rq of a busy machine.
    cdef kern_t* k = &s.kern[s.rq[src].kern]
    cdef s32 c, t, w, dst = -1
    cdef u64 bits
    for w in range(k.aff_words):
        bits = s.idle_mask[k.idle_off + w]
        while bits:
            c = k.rq_base + w * 64 + (63 - pv_clzll(bits & (~bits + 1)))
            if c != src and rq_idle(s, c):
                dst = c
                break
            bits &= bits - 1
        if dst >= 0:
            break
    if dst < 0:
        return
    t = pull_candidate(s, src, dst)
    if t < 0:
        return
    move_queued_task(s, t, dst)
    s.nr_balance_pulls += 1
    wakeup_preempt(s, dst, t)
    if s.rq[dst].vcpu >= 0:
        # kick_ilb's IPI to an idle vCPU: it must be delivered like a wake-up (the sender exits
        # without IPI virtualization, a halted or polling vCPU is woken), or the task pulled to
        # it waits until something else wakes that vCPU
        guest_wakeup_delivered(s, dst, src)
    resched_deliver(s, dst, False)

# ---------------------------------------------------------------- periodic balance of a busy CPU
# sd_init constants for an LLC domain (v6.15 and v6.5 alike): min_interval = sd_weight ms,
# max_interval = 2 * sd_weight, busy_factor 16, imbalance_pct 117, cache_nice_tries 1;
# max_load_balance_interval = HZ * nr_cpus / 10 jiffies; sysctl_sched_nr_migrate 32.
# Reduced: group types has_spare / fully_busy / overloaded only (no misfit, asym packing, SMT
# balance or imbalanced groups); capacity = SCHED_CAPACITY_SCALE (no RT/IRQ pressure); util is
# util_avg (no util_est); loads are read as last updated (no blocked-load decay first). v6.15
# only asks for active balancing on migrate_task/misfit/asym imbalances, which a busy CPU never
# computes here, so it is not modelled; idle CPUs keep the two reduced paths above.
cdef enum:
    SD_BUSY_FACTOR = 16
    SD_IMBALANCE_PCT = 117
    SD_CACHE_NICE_TRIES = 1
    SCHED_NR_MIGRATE = 32
    MAX_PINNED_INTERVAL = 512
    GROUP_HAS_SPARE = 0
    GROUP_FULLY_BUSY = 1
    GROUP_OVERLOADED = 6
    MIGRATE_LOAD = 0
    MIGRATE_UTIL = 1

cdef inline s64 lb_jiffies(Sim* s, kern_t* k) noexcept nogil:
    return s.now // k.tick_ns

cdef inline s64 get_sd_balance_interval(kern_t* k, rq_t* rq, bint busy) noexcept nogil:
    cdef s64 ms = rq.sd_balance_interval
    cdef s64 j, hi
    if busy:
        ms *= SD_BUSY_FACTOR
    j = (ms * k.hz + 999) // 1000          # msecs_to_jiffies rounds up
    if busy:
        j -= 1                              # keep domain periods from being multiples
    hi = <s64>k.hz * k.nrq // 10
    if j < 1:
        j = 1
    if j > hi:
        j = hi
    return j

cdef u64 task_h_load(Sim* s, s32 t, s64 stamp) noexcept nogil:
    # update_cfs_rq_h_load + task_h_load: the task's share of its root queue's load, the
    # per-queue h_load cached for the jiffy (stamp = jiffy + 1). path[] holds the group entities
    # from the task's queue up to the first queue already fresh this jiffy (or to the root).
    cdef FairArena* a = &s.fa
    cdef s32* path = s.lb_stack
    cdef s32 d = 0, g, i
    cdef s32 c0 = a.se[s.task[t].se].cfs_rq
    cdef bint fresh = False
    cdef cfs_rq_t* c
    g = a.cfs[c0].se
    while g >= 0:
        path[d] = g
        d += 1
        if a.cfs[a.se[g].cfs_rq].h_load_stamp == stamp:
            fresh = True
            break
        g = a.cfs[a.se[g].cfs_rq].se
    if not fresh:
        c = &a.cfs[a.se[path[d - 1]].cfs_rq if d > 0 else c0]
        c.h_load = c.avg.load_avg
        c.h_load_stamp = stamp
    i = d - 1
    while i >= 0:
        c = &a.cfs[a.se[path[i]].cfs_rq]
        a.cfs[a.se[path[i]].my_q].h_load = c.h_load * a.se[path[i]].avg.load_avg // (c.avg.load_avg + 1)
        a.cfs[a.se[path[i]].my_q].h_load_stamp = stamp
        i -= 1
    c = &a.cfs[c0]
    return a.se[s.task[t].se].avg.load_avg * c.h_load // (c.avg.load_avg + 1)

cdef bint task_hot(Sim* s, s32 t, s32 src, s32 dst) noexcept nogil:
    cdef FairArena* a = &s.fa
    cdef sched_entity* se = &a.se[s.task[t].se]
    cdef cfs_rq_t* c = &a.cfs[se.cfs_rq]
    cdef kparams* kp = &a.kp[c.kern]
    if s.task[t].policy == POLICY_IDLE:
        return False
    if (kp.features & F_CACHE_HOT_BUDDY) and s.rq[dst].nr_running and (
            c.next == s.task[t].se or (kp.cfs and c.last == s.task[t].se)):
        return True                         # buddy candidates are cache hot (v6.5: last too)
    if s.migration_cost_ns == 0:
        return False
    return <s64>(rq_clock(a, src) - se.exec_start) < s.migration_cost_ns

cdef bint can_migrate_task(Sim* s, s32 t, s32 src, s32 dst, int mig, u32 failed, bint* all_pinned) noexcept nogil:
    cdef FairArena* a = &s.fa
    cdef s32 n = s.task[t].se
    cdef kparams* kp = &a.kp[a.cfs[a.se[n].cfs_rq].kern]
    if a.se[n].sched_delayed and mig != MIGRATE_LOAD:
        return False
    # v6.15: an ineligible task is not moved onto a queue with work until balancing has failed
    if (not kp.cfs and failed == 0 and (kp.features & F_PLACE_LAG)
            and a.cfs[task_cfs_on(s, t, dst)].nr_queued and not entity_eligible(a, &a.cfs[a.se[n].cfs_rq], n)):
        return False
    if not task_allowed(s, t, dst):
        return False
    all_pinned[0] = False
    if s.rq[src].curr == t:
        return False
    return not task_hot(s, t, src, dst) or failed > SD_CACHE_NICE_TRIES

cdef s32 detach_tasks(Sim* s, s32 src, s32 dst, int mig, s64 imbalance, u32 failed, bint* all_pinned) noexcept nogil:
    # Walk src's tasks least recently run first, up to min(32, nr_running) of them; move each
    # movable one whose load (util) fits the remaining imbalance (relaxed by 2^failures).
    cdef FairArena* a = &s.fa
    cdef s32 m, i, j, t, moved = 0
    cdef s32 loop_max = s.rq[src].nr_running
    cdef u64 amount
    cdef s64 stamp = lb_jiffies(s, &s.kern[s.rq[dst].kern]) + 1
    if imbalance <= 0:
        return 0
    if loop_max > SCHED_NR_MIGRATE:
        loop_max = SCHED_NR_MIGRATE
    m = collect_fair_tasks(s, src, s.lb_tasks)
    for i in range(m):
        if i + 1 > loop_max and not all_pinned[0]:
            break
        for j in range(i + 1, m):           # next least recently run (selection, m is small)
            if a.se[s.task[s.lb_tasks[j]].se].exec_start < a.se[s.task[s.lb_tasks[i]].se].exec_start:
                t = s.lb_tasks[i]
                s.lb_tasks[i] = s.lb_tasks[j]
                s.lb_tasks[j] = t
        t = s.lb_tasks[i]
        if not can_migrate_task(s, t, src, dst, mig, failed, all_pinned):
            continue
        if mig == MIGRATE_LOAD:
            amount = task_h_load(s, t, stamp)
            if amount < 1:
                amount = 1
        else:
            amount = a.se[s.task[t].se].avg.util_avg
        if (amount >> (failed if failed < 63 else 63)) > <u64>imbalance:
            continue
        imbalance -= <s64>amount
        move_queued_task(s, t, dst)
        wakeup_preempt(s, dst, t)
        moved += 1
        if imbalance <= 0:
            break
    return moved

cdef int group_classify(u64 nr_running, u64 util, u64 runnable) noexcept nogil:
    # One-CPU group of capacity SCHED_CAPACITY_SCALE (group_is_overloaded / group_has_capacity).
    if nr_running > 1 and (1024 * 100 < util * SD_IMBALANCE_PCT or 1024 * SD_IMBALANCE_PCT < runnable * 100):
        return GROUP_OVERLOADED
    if nr_running < 1:
        return GROUP_HAS_SPARE
    if 1024 * SD_IMBALANCE_PCT < runnable * 100:
        return GROUP_FULLY_BUSY
    if 1024 * 100 > util * SD_IMBALANCE_PCT:
        return GROUP_HAS_SPARE
    return GROUP_FULLY_BUSY

cdef s32 find_busiest(Sim* s, s32 dst, int* mig, s64* imbalance) noexcept nogil:
    # sched_balance_find_src_group + calculate_imbalance + sched_balance_find_src_rq for a busy
    # (CPU_NOT_IDLE) destination: only an overloaded group is worth pulling from.
    cdef kern_t* k = &s.kern[s.rq[dst].kern]
    cdef cfs_rq_t* c
    cdef s32 i, cpu, busiest = -1
    cdef u64 util, load, total_load = 0, total_cap = 0, sds_avg, b_avg = 0, l_avg = 0, l_util = 0, x, y
    cdef int typ, l_type = GROUP_HAS_SPARE
    cpu = dst - 1
    for i in range(k.nrq):
        # sd->groups starts at the local CPU's group and wraps (build_sched_groups'
        # for_each_cpu_wrap), so among equally loaded groups the first after dst is the busiest
        cpu += 1
        if cpu == k.rq_base + k.nrq:
            cpu = k.rq_base
        total_cap += 1024                   # group capacity counts even for an excluded CPU
        if s.lb_skip[cpu] and cpu != dst:
            continue                        # (its load and tasks do not: env->cpus)
        c = &s.fa.cfs[s.rq[cpu].cfs]
        util = c.avg.util_avg if c.avg.util_avg < 1024 else 1024
        load = c.avg.load_avg
        typ = group_classify(s.rq[cpu].nr_running, util, c.avg.runnable_avg)
        total_load += load
        if cpu == dst:
            l_type = typ
            l_avg = load
            l_util = util
        elif typ == GROUP_OVERLOADED and c.h_nr_runnable and (busiest < 0 or load > b_avg):
            busiest = cpu
            b_avg = load
    if busiest < 0:
        return -1
    sds_avg = total_load * 1024 // total_cap
    if l_type == GROUP_OVERLOADED:
        if l_avg >= b_avg or l_avg >= sds_avg or 100 * b_avg <= SD_IMBALANCE_PCT * l_avg:
            return -1
    if l_type == GROUP_HAS_SPARE:
        mig[0] = MIGRATE_UTIL
        imbalance[0] = <s64>(1024 - l_util)
    else:
        if l_type != GROUP_OVERLOADED and (l_avg >= b_avg or l_avg >= sds_avg):
            return -1
        mig[0] = MIGRATE_LOAD
        x = (b_avg - sds_avg) * 1024        # unsigned long arithmetic, as in the kernel
        y = (sds_avg - l_avg) * 1024
        imbalance[0] = <s64>((x if x < y else y) // 1024)
    if imbalance[0] == 0:
        return -1
    # sched_balance_find_src_rq within the one-CPU group
    c = &s.fa.cfs[s.rq[busiest].cfs]
    if c.h_nr_runnable == 0:
        return -1
    if mig[0] == MIGRATE_LOAD and c.h_nr_runnable == 1 and c.avg.load_avg > <u64>imbalance[0]:
        return -1
    if mig[0] == MIGRATE_UTIL and c.h_nr_runnable <= 1:
        return -1
    return busiest

cdef s32 sched_balance_rq(Sim* s, s32 dst) noexcept nogil:
    cdef rq_t* rq = &s.rq[dst]
    cdef kern_t* k = &s.kern[rq.kern]
    cdef s32 cpu, src, moved = 0
    cdef int mig = MIGRATE_LOAD
    cdef s64 imbalance = 0
    cdef bint all_pinned = False, others
    for cpu in range(k.rq_base, k.rq_base + k.nrq):
        s.lb_skip[cpu] = 0
    rq.nr_lb_runs += 1
    while True:
        src = find_busiest(s, dst, &mig, &imbalance)
        if src < 0:
            rq.sd_nr_balance_failed = 0     # out_balanced
            break
        all_pinned = True
        moved = 0
        if s.rq[src].nr_running > 1:
            moved = detach_tasks(s, src, dst, mig, imbalance, rq.sd_nr_balance_failed, &all_pinned)
            if all_pinned:
                s.lb_skip[src] = 1          # redo without it while another CPU is left
                others = False
                for cpu in range(k.rq_base, k.rq_base + k.nrq):
                    if cpu != dst and not s.lb_skip[cpu]:
                        others = True
                if others:
                    continue
                rq.sd_nr_balance_failed = 0     # out_all_pinned
                break
        if moved == 0:
            rq.sd_nr_balance_failed += 1
            rq.nr_lb_failed += 1
        else:
            rq.sd_nr_balance_failed = 0
            rq.nr_lb_moved += moved
            if rq.vcpu < 0:
                host_rq_enqueued(s, dst)
        rq.sd_balance_interval = k.nrq      # unbalanced: back to min_interval
        return moved
    # out_balanced / out_all_pinned -> out_one_pinned: back off
    if (all_pinned and rq.sd_balance_interval < MAX_PINNED_INTERVAL) or rq.sd_balance_interval < 2 * <u32>k.nrq:
        rq.sd_balance_interval *= 2
    return 0

cdef void sched_balance_domains(Sim* s, s32 cpu) noexcept nogil:
    # SCHED_SOFTIRQ on a busy CPU whose rq->next_balance is due (the one domain level).
    cdef rq_t* rq = &s.rq[cpu]
    cdef kern_t* k = &s.kern[rq.kern]
    cdef s64 j = lb_jiffies(s, k)
    cdef s64 interval = get_sd_balance_interval(k, rq, True)
    cdef s64 nxt = j + 60 * <s64>k.hz
    if j >= rq.sd_last_balance + interval:
        sched_balance_rq(s, cpu)
        rq.sd_last_balance = j
        interval = get_sd_balance_interval(k, rq, True)
    if nxt > rq.sd_last_balance + interval:
        nxt = rq.sd_last_balance + interval
    rq.next_balance = nxt
