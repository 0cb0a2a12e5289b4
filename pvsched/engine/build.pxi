# Building a simulation from a compiled scenario: EngineInput (engine/input.pxi) holds the checked
# arrays of Scenario.compile, and one builder per part fills the Sim: the arrays and the event
# queue, the kernels, the task groups, the runqueues and vCPUs, the tasks. The units' own builders
# (guest sync, PLE and directed yield, policies) run after these (Engine.__init__).


from posix.stdlib cimport posix_memalign

cdef void* calloc_lines(size_t n, size_t size) noexcept:
    # calloc, 64-byte aligned: an array of 64-byte multiples then puts each element on whole
    # cache lines (sched_entity). NULL on failure or overflow; free() releases it.
    cdef void* p = NULL
    if size and n > (<size_t>-1) // size:
        return NULL
    if posix_memalign(&p, 64, n * size) != 0:
        return NULL
    memset(p, 0, n * size)
    return p


cdef int alloc_sim(Sim* s, EngineInput inp) except -1:
    # Sizes, scalar settings, event-queue slot bases and every array of the Sim.
    cdef int ncpu = inp.ncpu
    cdef int hz = inp.hz
    cdef unsigned long long seed = inp.seed
    cdef bint shuffle_ties = inp.shuffle_ties
    cdef long long ctx_switch_ns = inp.ctx_switch_ns
    cdef long long idle_exit_ns = inp.idle_exit_ns
    cdef object cstates = inp.cstates
    cdef object rt_guard = inp.rt_guard
    cdef long long fs_runtime_ns = inp.fs_runtime_ns
    cdef long long fs_period_ns = inp.fs_period_ns
    cdef long long rt_runtime_ns = inp.rt_runtime_ns
    cdef long long rt_period_ns = inp.rt_period_ns
    cdef int rr_timeslice_ms = inp.rr_timeslice_ms
    cdef bint host_tick_exits = inp.host_tick_exits
    cdef bint check_invariants = inp.check_invariants
    cdef bint load_balance = inp.load_balance
    cdef bint periodic_balance = inp.periodic_balance
    cdef long long migration_cost_ns = inp.migration_cost_ns
    cdef long long[:, :] opsv = inp.opsv
    cdef s32 ntg = inp.ntg
    cdef s32 ntask = inp.ntask
    cdef s32 nvm = inp.nvm
    cdef s32 nkern = inp.nkern
    cdef s32 nvcpu = inp.nvcpu
    cdef s32 nrq = inp.nrq
    cdef list kern_n = inp.kern_n
    cdef s32 maxw = inp.maxw
    cdef s32 i
    cdef s32 nse
    cdef s32 ncfs
    cdef s32 nslots
    nse = ntask + (ntg - 1) * ncpu
    ncfs = ntg * ncpu + nvcpu
    nslots = 4 * nrq + 2 * nvcpu + ntask + 2 * nvcpu + (1 + ncpu) + nvcpu + 1 + nvm
    # + guest-sync spin and IRQ, RCU (GP kthread, idle entry), the VMM's re-pin/stop, stop, deferred-work arrivals
    s.ncpu = ncpu
    s.nrq = nrq
    s.ntask = ntask
    s.nkern = nkern
    s.nvm = nvm
    s.nvcpu = nvcpu
    s.nops = opsv.shape[0]
    # No slot fires more than a few times at one instant in a scenario that makes progress.
    s.same_limit = 1_000_000 + 64 * <u64>nslots
    s.ctx_switch_ns = ctx_switch_ns
    s.idle_exit_ns = idle_exit_ns
    s.n_cstates = len(cstates)          # sorted and checked by EngineInput
    for i, (res, lat) in enumerate(cstates):
        s.cst_residency[i] = res
        s.cst_latency[i] = lat
    s.host_tick_exits = host_tick_exits
    s.rt_guard = RT_GUARDS[rt_guard]
    s.fs_runtime_ns = fs_runtime_ns
    s.fs_period_ns = fs_period_ns
    s.rt_runtime_ns = rt_runtime_ns
    s.rt_period_ns = rt_period_ns
    s.rr_ticks = max(1, <s64>rr_timeslice_ms * hz // 1000)
    s.check = check_invariants
    s.balance = load_balance
    s.periodic_balance = periodic_balance
    s.migration_cost_ns = migration_cost_ns
    s.slot_tick = 0
    s.slot_burst = nrq
    s.slot_fs = 2 * nrq
    s.slot_rt = 3 * nrq
    s.slot_vcpu = 4 * nrq
    s.slot_vbudget = 4 * nrq + nvcpu
    s.slot_task = 4 * nrq + 2 * nvcpu
    s.slot_spin = s.slot_task + ntask
    s.slot_irq = s.slot_spin + nvcpu
    s.slot_rcu = s.slot_irq + nvcpu
    s.slot_aff = s.slot_rcu + 1 + ncpu
    s.slot_end = s.slot_aff + nvcpu
    s.vmm.slot = s.slot_end + 1

    s.fa.se = <sched_entity*>calloc_lines(max(nse, 1), sizeof(sched_entity))
    s.fa.cfs = <cfs_rq_t*>calloc(ncfs, sizeof(cfs_rq_t))
    s.fa.kp = <kparams*>calloc(nkern, sizeof(kparams))
    s.fa.tg = <task_group*>calloc(ntg, sizeof(task_group))
    s.fa.clk_base = <s64*>calloc(nrq, sizeof(s64))
    s.fa.clk_entry = <s64*>calloc(nrq, sizeof(s64))
    s.fa.clk_run = <u8*>calloc(nrq, sizeof(u8))
    s.fa.resched = <u8*>calloc(nrq, sizeof(u8))
    s.fa.tg_cfs = <s32*>calloc(ntg * ncpu, sizeof(s32))
    s.fa.tg_se = <s32*>calloc(ntg * ncpu, sizeof(s32))
    s.fa.ncpu = ncpu
    s.fa.host_only = nvcpu == 0
    s.fa.now_p = &s.now
    s.task = <task_t*>calloc(max(ntask, 1), sizeof(task_t))
    s.rq = <rq_t*>calloc(nrq, sizeof(rq_t))
    s.kern = <kern_t*>calloc(nkern, sizeof(kern_t))
    s.vm = <vm_t*>calloc(max(nvm, 1), sizeof(vm_t))
    s.vcpu = <vcpu_t*>calloc(max(nvcpu, 1), sizeof(vcpu_t))
    s.rt_head = <s32*>malloc(<size_t>nrq * MAX_RT_PRIO * sizeof(s32))
    s.rt_tail = <s32*>malloc(<size_t>nrq * MAX_RT_PRIO * sizeof(s32))
    s.aff = <u64*>calloc(<size_t>max(ntask, 1) * maxw, sizeof(u64))
    s.idle_mask = <u64*>calloc(sum((kn + 63) // 64 for kn in kern_n), sizeof(u64))
    s.ops = <op_t*>calloc(max(s.nops, 1), sizeof(op_t))
    s.hist = <u32*>calloc(<size_t>max(ntask, 1) * HIST_NBUCKETS, sizeof(u32))
    s.hist_buf = <u64*>malloc(HIST_BATCH * sizeof(u64))
    s.lb_skip = <u8*>calloc(nrq, sizeof(u8))
    s.lb_tasks = <s32*>calloc(max(ntask, 1), sizeof(s32))
    s.lb_stack = <s32*>calloc(nse + ntg + 1, sizeof(s32))
    if (ev_alloc(&s.q, nslots) != 0 or not s.fa.se or not s.fa.cfs or not s.fa.kp or not s.fa.tg or not s.fa.clk_base
            or not s.fa.clk_entry or not s.fa.clk_run or not s.kern or not s.vm or not s.vcpu
            or not s.fa.resched or not s.fa.tg_cfs or not s.fa.tg_se or not s.task or not s.rq
            or not s.rt_head or not s.rt_tail or not s.aff or not s.idle_mask or not s.ops
            or not s.hist or not s.hist_buf or not s.lb_skip or not s.lb_tasks or not s.lb_stack):
        raise MemoryError("pvsched: scenario too large for memory")
    s.q.shuffle = shuffle_ties
    s.q.rng = (seed * <u64>0x9E3779B97F4A7C15) ^ <u64>0xD1B54A32D192ED03
    if s.q.rng == 0:
        s.q.rng = 1
    for i in range(nrq * MAX_RT_PRIO):
        s.rt_head[i] = -1
        s.rt_tail[i] = -1
    return 0


cdef int build_kernels(Sim* s, EngineInput inp) except -1:
    # Kernels (0 = host, k = the guest kernel of VM k-1): CPUs, ticks, fair tunables, KVM knobs.
    cdef int ncpu = inp.ncpu
    cdef int hz = inp.hz
    cdef long long base_slice_ns = inp.base_slice_ns
    cdef unsigned int features = inp.features
    cdef bint lazy = inp.lazy
    cdef bint cfs = inp.cfs
    cdef bint nohz_idle = inp.nohz_idle
    cdef list vms = inp.vms
    cdef s32 nkern = inp.nkern
    cdef list kern_n = inp.kern_n
    cdef s32 c
    cdef s32 kk
    cdef s32 r
    cdef s32 w
    cdef vm_t* vmp
    # kernels: 0 = host, k = guest kernel of VM k - 1
    w = 0
    r = 0
    for kk in range(nkern):
        s.kern[kk].rq_base = r
        s.kern[kk].nrq = kern_n[kk]
        s.kern[kk].aff_words = (kern_n[kk] + 63) // 64
        s.kern[kk].idle_off = w
        s.kern[kk].vm = kk - 1
        w += s.kern[kk].aff_words
        r += kern_n[kk]
        if kk == 0:
            s.kern[kk].tick_ns = <s64>tick_nsec(hz)
            s.kern[kk].nohz_idle = nohz_idle
            s.fa.kp[kk].base_slice_ns = base_slice_ns
            s.fa.kp[kk].features = features
            s.fa.kp[kk].lazy = lazy
            set_cfs_sysctls(&s.fa.kp[kk], cfs, ncpu)
        else:
            vm = vms[kk - 1]
            s.kern[kk].tick_ns = <s64>tick_nsec(int(vm["hz"]))
            s.kern[kk].nohz_idle = bool(vm["nohz_idle"])
            s.fa.kp[kk].base_slice_ns = int(vm["base_slice_ns"])
            s.fa.kp[kk].features = int(vm["features"])
            s.fa.kp[kk].lazy = bool(vm["lazy"])
            set_cfs_sysctls(&s.fa.kp[kk], bool(vm.get("cfs", False)), kern_n[kk])
            vmp = &s.vm[kk - 1]
            vmp.kern = kk
            vmp.nvcpu = kern_n[kk]
            vmp.hlt_exits = bool(vm["hlt_exits"])
            vmp.posted_intr = bool(vm["posted_interrupts"])
            vmp.ipiv = bool(vm["ipi_virtualization"])
            vmp.timer_exits = bool(vm["timer_exits"])
            vmp.exit_ns = int(vm["exit_ns"])
            vmp.entry_ns = int(vm["entry_ns"])
            vmp.halt_poll_max_ns = int(vm["halt_poll_max_ns"])
            vmp.halt_poll_grow = int(vm["halt_poll_grow"])
            vmp.halt_poll_grow_start = int(vm["halt_poll_grow_start"])
            vmp.halt_poll_shrink = int(vm["halt_poll_shrink"])
            vmp.guest_poll_ns = int(vm["guest_poll_ns"])
        s.fa.kp[kk].tick_nsec = s.kern[kk].tick_ns
        s.kern[kk].hz = hz if kk == 0 else int(vms[kk - 1]["hz"])
        for c in range(s.kern[kk].rq_base, s.kern[kk].rq_base + kern_n[kk]):
            s.rq[c].sd_balance_interval = kern_n[kk]     # sd_init: balance_interval = sd_weight (ms)
    for kk in range(1, nkern):
        s.vm[kk - 1].vcpu_base = s.kern[kk].rq_base - ncpu
    return 0


cdef int build_task_groups(Sim* s, EngineInput inp) except -1:
    # Task groups (host only): tg 0 is the root; per-CPU queues and group entities.
    cdef int ncpu = inp.ncpu
    cdef long long[:] tgp = inp.tgp
    cdef long long[:] tgs = inp.tgs
    cdef long long[:] tgi = inp.tgi
    cdef s32 ntg = inp.ntg
    cdef s32 ntask = inp.ntask
    cdef s32 c
    cdef s32 g
    cdef s32 gse
    cdef sched_entity* se
    # task groups (host only): tg 0 is the root; per-CPU queues and group entities
    s.fa.tg[0].parent = -1
    s.fa.tg[0].shares = scale_load(1024)
    s.fa.tg[0].depth = -1
    for g in range(ntg):
        if g > 0:
            s.fa.tg[g].parent = tgp[g]
            s.fa.tg[g].idle = tgi[g] != 0
            s.fa.tg[g].shares = scale_load(WEIGHT_IDLEPRIO) if tgi[g] else tgs[g]
            s.fa.tg[g].depth = s.fa.tg[tgp[g]].depth + 1
        for c in range(ncpu):
            s.fa.tg_cfs[g * ncpu + c] = g * ncpu + c
            gse = ntask + (g - 1) * ncpu + c if g > 0 else -1
            s.fa.tg_se[g * ncpu + c] = gse
            init_cfs_rq(&s.fa.cfs[g * ncpu + c], &s.fa.kp[0], 0, c, g, gse)
            s.fa.cfs[g * ncpu + c].idle_group = g > 0 and tgi[g] != 0
    for g in range(1, ntg):
        for c in range(ncpu):
            gse = ntask + (g - 1) * ncpu + c
            se = &s.fa.se[gse]
            init_se(se, gse)
            se_set_weight(se, scale_load(1024))
            se.my_q = g * ncpu + c
            se.cfs_rq = tgp[g] * ncpu + c
            se.parent = s.fa.tg_se[tgp[g] * ncpu + c]
            se.depth = s.fa.tg[g].depth
            se.idle = tgi[g] != 0
    return 0


cdef int build_runqueues(Sim* s, EngineInput inp) except -1:
    # Per-CPU runqueues (host pCPUs, then one guest runqueue per vCPU) and vCPUs.
    cdef int ncpu = inp.ncpu
    cdef long long[:] vvm = inp.vvm
    cdef s32 ntg = inp.ntg
    cdef s32 nvcpu = inp.nvcpu
    cdef s32 nrq = inp.nrq
    cdef s32 c
    cdef s32 v
    for c in range(nrq):
        s.rq[c].curr = -1
        s.rq[c].vcpu = c - ncpu if c >= ncpu else -1
        s.rq[c].kern = 0 if c < ncpu else vvm[c - ncpu] + 1
        rel = c - s.kern[s.rq[c].kern].rq_base
        s.idle_mask[s.kern[s.rq[c].kern].idle_off + (rel >> 6)] |= (<u64>1) << (rel & 63)
        if c < ncpu:
            s.rq[c].cfs = c
            s.fa.clk_run[c] = 1
        else:
            s.rq[c].cfs = ntg * ncpu + (c - ncpu)
            init_cfs_rq(&s.fa.cfs[s.rq[c].cfs], &s.fa.kp[s.rq[c].kern], s.rq[c].kern, c, -1, -1)
    for v in range(nvcpu):
        s.vcpu[v].vm = vvm[v]
        s.vcpu[v].rq = ncpu + v
        s.vcpu[v].task = -1
        s.vcpu[v].host_cpu = 0
        s.vcpu[v].mode = VM_OFF
    return 0


cdef int build_tasks(Sim* s, EngineInput inp) except -1:
    # Workload programs and tasks with their entities; every task starts with its timer armed.
    cdef int ncpu = inp.ncpu
    cdef unsigned long long seed = inp.seed
    cdef bint nohz_idle = inp.nohz_idle
    cdef long long[:] tpol = inp.tpol
    cdef long long[:] tnice = inp.tnice
    cdef long long[:] trt = inp.trt
    cdef long long[:] ttg = inp.ttg
    cdef long long[:] tstart = inp.tstart
    cdef unsigned long long[:, :] taff = inp.taff
    cdef long long[:] tps = inp.tps
    cdef long long[:] tpl = inp.tpl
    cdef long long[:] tsl = inp.tsl
    cdef long long[:] tkern = inp.tkern
    cdef long long[:] tvcpu = inp.tvcpu
    cdef long long[:, :] opsv = inp.opsv
    cdef s32 ntask = inp.ntask
    cdef s32 maxw = inp.maxw
    cdef s32 i
    cdef s32 c
    cdef sched_entity* se
    cdef task_t* p
    cdef load_weight lw
    for i in range(s.nops):
        s.ops[i].code = <s32>opsv[i, 0]
        s.ops[i].a = opsv[i, 1]
        s.ops[i].b = opsv[i, 2]
        s.ops[i].c = opsv[i, 3]
    for i in range(ntask):
        p = &s.task[i]
        p.se = i
        p.kern = <s32>tkern[i]
        p.vcpu = <s32>tvcpu[i]
        if p.vcpu >= 0:
            s.vcpu[p.vcpu].task = i
        p.tg = <s32>ttg[i]
        p.policy = <u8>tpol[i]
        p.cls = CLS_RT if tpol[i] in (POLICY_FIFO, POLICY_RR) else CLS_FAIR
        p.rt_prio = 99 - <s32>trt[i] if p.cls == CLS_RT else MAX_RT_PRIO + 20 + <s32>tnice[i]
        p.nice = <s32>tnice[i]
        p.rt_next = -1
        p.rt_prev = -1
        p.aff = i * maxw
        for c in range(maxw):
            s.aff[i * maxw + c] = taff[i, c]
        p.cpu = s.kern[p.kern].rq_base
        while not task_allowed(s, i, p.cpu):
            p.cpu += 1
        p.prog_start = <s32>tps[i]
        p.prog_len = <s32>tpl[i]
        p.rng = seed ^ (<u64>(i + 1) * <u64>0xA24BAED4963EE407)
        splitmix64(&p.rng)
        p.start_ns = tstart[i]
        p.lat_start = -1
        p.state = TS_NEW
        se = &s.fa.se[i]
        init_se(se, i)
        se.task = i
        se.vruntime = INIT_MIN_VRUNTIME     # (CFS) a sleeper since the queue's creation
        set_load_nice(&lw, <int>tnice[i], tpol[i] == POLICY_IDLE)
        se_set_load(se, lw)
        se.idle = tpol[i] == POLICY_IDLE
        se.depth = s.fa.tg[p.tg].depth + 1 if p.tg > 0 else 0
        se.cfs_rq = task_cfs_on(s, i, p.cpu)
        se.parent = task_parent_on(s, i, p.cpu)
        if tsl[i]:
            se.slice = tsl[i]
            se.custom_slice = 1
        else:
            se.slice = s.fa.kp[p.kern].base_slice_ns
        ev_arm(&s.q, s.slot_task + i, tstart[i])
    if not nohz_idle:
        for c in range(ncpu):
            ev_arm(&s.q, s.slot_tick + c, s.kern[0].tick_ns)
    return 0

