# The Engine: owns every array of a compiled scenario, runs the event loop without the GIL,
# and copies results out once as numpy arrays.

HIST_BUCKETS = HIST_NBUCKETS
FEATURE_BITS = {
    "PLACE_LAG": F_PLACE_LAG, "PLACE_DEADLINE_INITIAL": F_PLACE_DEADLINE_INITIAL,
    "PLACE_REL_DEADLINE": F_PLACE_REL_DEADLINE, "RUN_TO_PARITY": F_RUN_TO_PARITY,
    "PREEMPT_SHORT": F_PREEMPT_SHORT, "NEXT_BUDDY": F_NEXT_BUDDY, "PICK_BUDDY": F_PICK_BUDDY,
    "DELAY_DEQUEUE": F_DELAY_DEQUEUE, "DELAY_ZERO": F_DELAY_ZERO,
    "WAKEUP_PREEMPTION": F_WAKEUP_PREEMPTION, "YIELD_FORFEIT": F_YIELD_FORFEIT,
    "REWEIGHT_INPLACE": F_REWEIGHT_INPLACE,
    "GENTLE_FAIR_SLEEPERS": F_GENTLE_FAIR_SLEEPERS, "START_DEBIT": F_START_DEBIT,
    "LAST_BUDDY": F_LAST_BUDDY, "CACHE_HOT_BUDDY": F_CACHE_HOT_BUDDY, "ALT_PERIOD": F_ALT_PERIOD,
    "BASE_SLICE": F_BASE_SLICE,
}
CFS_FEATURES = {"NEXT_BUDDY", "LAST_BUDDY", "CACHE_HOT_BUDDY", "WAKEUP_PREEMPTION", "GENTLE_FAIR_SLEEPERS",
                "START_DEBIT", "ALT_PERIOD", "BASE_SLICE"}
DEFAULT_FEATURES_CFS = (F_GENTLE_FAIR_SLEEPERS | F_START_DEBIT | F_LAST_BUDDY | F_CACHE_HOT_BUDDY
                        | F_WAKEUP_PREEMPTION | F_ALT_PERIOD | F_BASE_SLICE)
DEFAULT_FEATURES = (F_PLACE_LAG | F_PLACE_DEADLINE_INITIAL | F_PLACE_REL_DEADLINE | F_RUN_TO_PARITY
                    | F_PREEMPT_SHORT | F_PICK_BUDDY | F_DELAY_DEQUEUE | F_DELAY_ZERO
                    | F_WAKEUP_PREEMPTION)
OPS = {"run": OP_RUN, "sleep": OP_SLEEP, "period": OP_PERIOD, "yield": OP_YIELD, "loop": OP_LOOP,
       "exit": OP_EXIT, "hog": OP_HOG, "start_period": OP_START_PERIOD, "vmexit": OP_VMEXIT,
       "vcpu": OP_VCPU, "critical": OP_CRITICAL}
VCPU_MODES = ("guest", "exit", "poll", "halted", "preempted")
EXIT_REASONS = ("entry", "host_tick", "host_intr", "guest_timer", "ipi_send", "ipi_recv", "hlt", "mmio",
                "doorbell", "budget", "ple", "hypercall", "eoi")
BOOST_TRIGGERS = {"irq_entry": TR_IRQ_ENTRY, "irq_exit": TR_IRQ_EXIT, "sched": TR_SCHED,
                  "rt_enqueue": TR_RT_ENQUEUE, "user_return": TR_USER_RETURN, "kick_timer": TR_KICK_TIMER,
                  "kick_intr": TR_KICK_INTR, "kick_unhalt": TR_KICK_UNHALT, "halt": TR_HALT,
                  "pending_at_exit": TR_PENDING_EXIT, "preempt_disabled": TR_PREEMPT_DISABLED}
BOOST_CAUSES = ("request", "pending", "kick_timer", "kick_intr", "kick_unhalt", "halt", "preempt_disabled")
UNBOOST_CAUSES = ("exit", "doorbell", "cap", "budget")
BOOST_MODES = {"off": BOOST_OFF, "dynamic": BOOST_DYNAMIC, "bounded": BOOST_BOUNDED}
ROGUES = {"none": ROGUE_NONE, "hold_boost": ROGUE_HOLD_BOOST, "doorbell_storm": ROGUE_DOORBELL_STORM}
POLICIES = {"normal": POLICY_NORMAL, "fifo": POLICY_FIFO, "rr": POLICY_RR, "batch": POLICY_BATCH,
            "idle": POLICY_IDLE}
RT_GUARDS = {"fair_server": RT_GUARD_FAIR_SERVER, "rt_throttle": RT_GUARD_THROTTLE,
             "none": RT_GUARD_NONE}
INVARIANTS = ("work_conservation", "curr_not_running", "affinity", "livelock")
cdef u64 INIT_MIN_VRUNTIME = <u64>(-(<s64>1 << 20))


cdef void set_cfs_sysctls(kparams* kp, bint cfs, int ncpus) noexcept nogil:
    # v6.5 sysctls, scaled like the base slice (factor 1 + ilog2(min(ncpus, 8))).
    kp.cfs = cfs
    kp.sched_latency_ns = base_slice_for(6_000_000, ncpus, 1)
    kp.min_granularity_ns = base_slice_for(750_000, ncpus, 1)
    kp.wakeup_granularity_ns = base_slice_for(1_000_000, ncpus, 1)
    kp.nr_latency = 8


cdef void init_cfs_rq(cfs_rq_t* c, s32 kern, s32 cpu, s32 tg, s32 se) noexcept nogil:
    memset(c, 0, sizeof(cfs_rq_t))
    c.min_vruntime = INIT_MIN_VRUNTIME
    c.root = -1
    c.curr = -1
    c.next = -1
    c.last = -1
    c.skip = -1
    c.kern = kern
    c.cpu = cpu
    c.tg = tg
    c.se = se


cdef void init_se(sched_entity* se, s32 idx) noexcept nogil:
    memset(se, 0, sizeof(sched_entity))
    se.left = -1
    se.right = -1
    se.tparent = -1
    se.prio = treap_prio(idx)
    se.parent = -1
    se.cfs_rq = -1
    se.my_q = -1
    se.task = -1


cdef class Engine:
    """A compiled scenario. Build it through :class:`pvsched.Simulation`; the arrays it takes are
    validated there, and checked again here so that no input can crash the process."""
    cdef Sim s
    cdef object task_names
    cdef s32 ntg
    cdef kparams kp_host
    cdef bint finalized

    def __cinit__(self):
        memset(&self.s, 0, sizeof(Sim))

    def __dealloc__(self):
        # Every array the constructor (or the seed-002 setup) allocated; free(NULL) is a no-op,
        # so a constructor that failed half-way is released too.
        cdef Sim* s = &self.s
        free(s.fa.se); free(s.fa.cfs); free(s.fa.kp); free(s.fa.tg)
        free(s.fa.clk_base); free(s.fa.clk_entry); free(s.fa.clk_run); free(s.fa.resched)
        free(s.fa.tg_cfs); free(s.fa.tg_se)
        free(s.task); free(s.rq); free(s.kern); free(s.vm); free(s.vcpu)
        free(s.rt_head); free(s.rt_tail); free(s.aff); free(s.idle_mask); free(s.ops); free(s.hist)
        free(s.q.heap); free(s.q.pos); free(s.lb_skip); free(s.lb_tasks); free(s.lb_stack)
        free(s.locks); free(s.ipi_ring); free(s.vm_hist); free(s.vm_lhist)

    def __init__(self, *, int ncpu, int hz, long long base_slice_ns, unsigned int features, bint lazy,
                 tg_parent, tg_shares, tg_idle, task_policy, task_nice, task_rt_prio, task_tg,
                 task_start_ns, task_affinity, task_prog_start, task_prog_len, task_slice_ns, ops,
                 task_kern=None, task_vcpu=None, vms=(), vcpu_vm=None,
                 bint cfs=False, unsigned long long seed=0, bint shuffle_ties=False, long long ctx_switch_ns=0,
                 long long idle_exit_ns=0, cstates=(),
                 rt_guard="fair_server", long long fs_runtime_ns=50_000_000,
                 long long fs_period_ns=1_000_000_000, long long rt_runtime_ns=950_000_000,
                 long long rt_period_ns=1_000_000_000, int rr_timeslice_ms=100, bint nohz_idle=True,
                 bint host_tick_exits=True, bint check_invariants=False, bint load_balance=True,
                 bint periodic_balance=True, long long migration_cost_ns=500_000, debooster=None):
        cdef Sim* s = &self.s
        cdef s32 i, c, g, n, ntask, ntg, nse, ncfs, nslots, words, maxw, nvm, nvcpu, nrq, nkern
        cdef s32 gse, kk, v, r, w
        cdef long long[:] tgp = np.ascontiguousarray(tg_parent, dtype=np.int64)
        cdef long long[:] tgs = np.ascontiguousarray(tg_shares, dtype=np.int64)
        cdef long long[:] tgi = np.ascontiguousarray(tg_idle, dtype=np.int64)
        cdef long long[:] tpol = np.ascontiguousarray(task_policy, dtype=np.int64)
        cdef long long[:] tnice = np.ascontiguousarray(task_nice, dtype=np.int64)
        cdef long long[:] trt = np.ascontiguousarray(task_rt_prio, dtype=np.int64)
        cdef long long[:] ttg = np.ascontiguousarray(task_tg, dtype=np.int64)
        cdef long long[:] tstart = np.ascontiguousarray(task_start_ns, dtype=np.int64)
        cdef unsigned long long[:, :] taff
        cdef long long[:] tps = np.ascontiguousarray(task_prog_start, dtype=np.int64)
        cdef long long[:] tpl = np.ascontiguousarray(task_prog_len, dtype=np.int64)
        cdef long long[:] tsl = np.ascontiguousarray(task_slice_ns, dtype=np.int64)
        cdef long long[:] tkern
        cdef long long[:] tvcpu
        cdef long long[:] vvm
        cdef long long[:, :] opsv = np.ascontiguousarray(ops, dtype=np.int64).reshape(-1, 4)
        cdef sched_entity* se
        cdef task_t* p
        cdef vm_t* vmp
        if ncpu < 1 or ncpu > 4096:
            raise ValueError(f"ncpu={ncpu} out of range 1..4096")
        if hz < 1 or hz > 10000:
            raise ValueError(f"hz={hz} out of range")
        if base_slice_ns < 1:
            raise ValueError(f"base_slice_ns={base_slice_ns} must be positive")
        ntg = tgp.shape[0]
        ntask = tpol.shape[0]
        vms = list(vms)
        nvm = len(vms)
        nkern = 1 + nvm
        vcpu_vm = np.zeros(0, dtype=np.int64) if vcpu_vm is None else vcpu_vm
        vvm = np.ascontiguousarray(vcpu_vm, dtype=np.int64)
        nvcpu = vvm.shape[0]
        nrq = ncpu + nvcpu
        tkern = np.ascontiguousarray(np.zeros(ntask, dtype=np.int64) if task_kern is None else task_kern, dtype=np.int64)
        tvcpu = np.ascontiguousarray(np.full(ntask, -1, dtype=np.int64) if task_vcpu is None else task_vcpu, dtype=np.int64)
        kern_n = [ncpu] + [int(vm["nvcpu"]) for vm in vms]
        if sum(kern_n[1:]) != nvcpu:
            raise ValueError("vcpu_vm does not match the VMs' vCPU counts")
        for v in range(nvcpu):
            if not (0 <= vvm[v] < nvm) or (v > 0 and vvm[v] < vvm[v - 1]):
                raise ValueError(f"vcpu {v}: vm index {vvm[v]} invalid or out of order")
        maxw = max((kn + 63) // 64 for kn in kern_n)
        taff = np.ascontiguousarray(task_affinity, dtype=np.uint64).reshape(ntask, -1)
        if taff.shape[1] < maxw:
            raise ValueError(f"task_affinity needs {maxw} words per task")
        if ntg < 1 or tgs.shape[0] != ntg or tgi.shape[0] != ntg:
            raise ValueError("task group arrays must have equal, nonzero length")
        for arr, name in ((tnice, "nice"), (trt, "rt_prio"), (ttg, "tg"), (tstart, "start_ns"),
                          (tps, "prog_start"), (tpl, "prog_len"), (tsl, "slice_ns"), (tkern, "kern"),
                          (tvcpu, "vcpu")):
            if arr.shape[0] != ntask:
                raise ValueError(f"task array {name} has the wrong length")
        for g in range(1, ntg):
            if tgp[g] < 0 or tgp[g] >= g:
                raise ValueError(f"task group {g}: parent {tgp[g]} must be an earlier group")
            if tgs[g] < MIN_SHARES or tgs[g] > scale_load(MAX_SHARES):
                raise ValueError(f"task group {g}: shares {tgs[g]} out of range")
        for i in range(opsv.shape[0]):
            if (opsv[i, 0] < OP_RUN or opsv[i, 0] > OP_LAST or not 0 <= opsv[i, 1] <= MAX_TIME_NS
                    or not 0 <= opsv[i, 2] <= MAX_TIME_NS or (opsv[i, 0] == OP_LOOP and opsv[i, 2] > 0x7FFFFFFF)):
                raise ValueError(f"op {i} is invalid: {tuple(opsv[i])}")
        seen_vcpu = set()
        for i in range(ntask):
            if not 0 <= tkern[i] < nkern:
                raise ValueError(f"task {i}: kernel {tkern[i]} unknown")
            kn = kern_n[tkern[i]]
            if tpol[i] not in (POLICY_NORMAL, POLICY_FIFO, POLICY_RR, POLICY_BATCH, POLICY_IDLE):
                raise ValueError(f"task {i}: policy {tpol[i]} unknown")
            if tnice[i] < -20 or tnice[i] > 19:
                raise ValueError(f"task {i}: nice {tnice[i]} out of range")
            if tpol[i] in (POLICY_FIFO, POLICY_RR) and not (1 <= trt[i] <= 99):
                raise ValueError(f"task {i}: rt priority {trt[i]} out of range 1..99")
            if ttg[i] < 0 or ttg[i] >= ntg or (tkern[i] > 0 and ttg[i] != 0):
                raise ValueError(f"task {i}: task group {ttg[i]} unknown")
            if not 0 <= tstart[i] <= MAX_TIME_NS:
                raise ValueError(f"task {i}: start {tstart[i]} outside 0..{MAX_TIME_NS}")
            if tps[i] < 0 or tpl[i] < 1 or tps[i] + tpl[i] > opsv.shape[0]:
                raise ValueError(f"task {i}: program range out of bounds")
            for n in range(tpl[i]):
                if opsv[tps[i] + n, 0] == OP_LOOP and opsv[tps[i] + n, 1] >= tpl[i]:
                    raise ValueError(f"task {i}: loop target out of range")
                if opsv[tps[i] + n, 0] == OP_VMEXIT and tkern[i] == 0:
                    raise ValueError(f"task {i}: a host task cannot take a VM exit")
                if (opsv[tps[i] + n, 0] == OP_VCPU) != (tvcpu[i] >= 0):
                    raise ValueError(f"task {i}: only vCPU threads run the vCPU program")
            if tvcpu[i] >= 0:
                if tkern[i] != 0 or tvcpu[i] >= nvcpu or tvcpu[i] in seen_vcpu:
                    raise ValueError(f"task {i}: vcpu {tvcpu[i]} invalid")
                seen_vcpu.add(tvcpu[i])
            kw = (kn + 63) // 64
            if not any(int(taff[i, w]) for w in range(kw)):
                raise ValueError(f"task {i}: empty affinity")
            if any(int(taff[i, w]) for w in range(kw, taff.shape[1])) or (
                    (kn & 63) and int(taff[i, kw - 1]) >> (kn & 63)):
                raise ValueError(f"task {i}: affinity names a CPU >= {kn}")
            if tsl[i] != 0 and not (100_000 <= tsl[i] <= 100_000_000):
                raise ValueError(f"task {i}: slice {tsl[i]} outside [100000, 100000000] ns")
        if len(seen_vcpu) != nvcpu:
            raise ValueError("every vCPU needs exactly one thread")
        if rt_guard not in RT_GUARDS:
            raise ValueError(f"rt_guard={rt_guard!r} unknown")
        if not (0 <= ctx_switch_ns <= 1_000_000_000 and 0 <= idle_exit_ns <= 1_000_000_000):
            raise ValueError("ctx_switch_ns / idle_exit_ns outside 0..1e9")
        for k, vm in enumerate(vms):
            for key in ("hz", "base_slice_ns", "exit_ns", "entry_ns", "halt_poll_max_ns", "halt_poll_grow",
                        "halt_poll_grow_start", "halt_poll_shrink", "guest_poll_ns"):
                # per-event costs stay far below the horizon, so now + cost always fits
                hi = 1000 if key in ("halt_poll_grow", "halt_poll_shrink") else 10_000_000_000
                if not 0 <= int(vm[key]) <= hi or (key in ("hz", "base_slice_ns") and int(vm[key]) < 1):
                    raise ValueError(f"vm {k}: {key}={vm[key]} out of range")
            if int(vm["hz"]) > 10000:
                raise ValueError(f"vm {k}: hz out of range")

        # Indices and counts are int32 in the core: refuse a scenario whose arrays they cannot
        # address (Python integers here: the products must not wrap before they are checked).
        for what, count in (("tasks", ntask), ("entities", ntask + (int(ntg) - 1) * ncpu),
                            ("cfs_rqs", int(ntg) * ncpu + nvcpu), ("event slots", 8 * int(nrq) + ntask),
                            ("RT queues", int(nrq) * MAX_RT_PRIO), ("affinity words", int(max(ntask, 1)) * maxw)):
            if count > 0x7FFFFFFF:
                raise ValueError(f"scenario too large: {count} {what} (the engine indexes at most 2**31 - 1)")
        self.ntg = ntg
        nse = ntask + (ntg - 1) * ncpu
        ncfs = ntg * ncpu + nvcpu
        nslots = 4 * nrq + 2 * nvcpu + ntask + 2 * nvcpu     # + seed-002 spin and IRQ slots
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
        cstates = sorted((int(res), int(lat)) for res, lat in cstates)
        if len(cstates) > 8 or any(not (0 <= res <= MAX_TIME_NS and 0 <= lat <= 1_000_000_000) for res, lat in cstates):
            raise ValueError("cstates: at most 8 (residency_ns <= MAX_TIME_NS, exit_latency_ns <= 1e9) pairs")
        s.n_cstates = len(cstates)
        for i, (res, lat) in enumerate(cstates):
            s.cst_residency[i] = res
            s.cst_latency[i] = lat
        s.host_tick_exits = host_tick_exits
        s.rt_guard = RT_GUARDS[rt_guard]
        s.fs_runtime_ns = fs_runtime_ns
        s.fs_period_ns = fs_period_ns
        s.rt_runtime_ns = rt_runtime_ns
        s.rt_period_ns = rt_period_ns
        if not (1 <= fs_runtime_ns <= fs_period_ns <= MAX_TIME_NS and 1 <= rt_runtime_ns <= rt_period_ns <= MAX_TIME_NS):
            raise ValueError("fair server / RT throttling: need 1 <= runtime <= period <= MAX_TIME_NS")
        if not 1 <= rr_timeslice_ms <= 1_000_000:
            raise ValueError(f"rr_timeslice_ms={rr_timeslice_ms} out of range 1..1000000")
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
        s.slot_end = s.slot_irq + nvcpu

        s.fa.se = <sched_entity*>calloc(max(nse, 1), sizeof(sched_entity))
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
        s.lb_skip = <u8*>calloc(nrq, sizeof(u8))
        s.lb_tasks = <s32*>calloc(max(ntask, 1), sizeof(s32))
        s.lb_stack = <s32*>calloc(nse + ntg + 1, sizeof(s32))
        s.q.heap = <ev_t*>calloc(nslots, sizeof(ev_t))
        s.q.pos = <s32*>malloc(nslots * sizeof(s32))
        if (not s.fa.se or not s.fa.cfs or not s.fa.kp or not s.fa.tg or not s.fa.clk_base
                or not s.fa.clk_entry or not s.fa.clk_run or not s.kern or not s.vm or not s.vcpu
                or not s.fa.resched or not s.fa.tg_cfs or not s.fa.tg_se or not s.task or not s.rq
                or not s.rt_head or not s.rt_tail or not s.aff or not s.idle_mask or not s.ops
                or not s.hist or not s.q.heap or not s.q.pos or not s.lb_skip or not s.lb_tasks or not s.lb_stack):
            raise MemoryError("pvsched: scenario too large for memory")
        s.q.nslots = nslots
        for i in range(nslots):
            s.q.pos[i] = -1
        s.q.shuffle = shuffle_ties
        s.q.rng = (seed * <u64>0x9E3779B97F4A7C15) ^ <u64>0xD1B54A32D192ED03
        if s.q.rng == 0:
            s.q.rng = 1
        for i in range(nrq * MAX_RT_PRIO):
            s.rt_head[i] = -1
            s.rt_tail[i] = -1

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
                s.kern[kk].tick_ns = 1_000_000_000 // hz
                s.kern[kk].nohz_idle = nohz_idle
                s.fa.kp[kk].base_slice_ns = base_slice_ns
                s.fa.kp[kk].features = features
                s.fa.kp[kk].lazy = lazy
                set_cfs_sysctls(&s.fa.kp[kk], cfs, ncpu)
            else:
                vm = vms[kk - 1]
                s.kern[kk].tick_ns = 1_000_000_000 // int(vm["hz"])
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
                bst = vm.get("boost", {})
                vmp.boost_mode = BOOST_MODES[bst.get("mode", "off")]
                vmp.boost_policy = POLICY_FIFO if bst.get("policy", "rr") == "fifo" else POLICY_RR
                vmp.boost_prio = int(bst.get("priority", 8))
                vmp.triggers = int(bst.get("triggers", 0))
                vmp.cap_ns = int(bst.get("cap_ns", 3_000_000))
                vmp.doorbell_ns = int(bst.get("doorbell_ns", 1_000))
                vmp.setsched_ns = int(bst.get("setsched_ns", 2_000))
                vmp.cs_budget_ns = int(bst.get("cs_budget_ns", 2_000_000))
                vmp.gen_budget_ns = int(bst.get("gen_budget_ns", 500_000_000))
                vmp.rogue = ROGUES[bst.get("rogue", "none")]
                if not 1 <= vmp.boost_prio <= 99 or vmp.cap_ns < 0 or vmp.doorbell_ns < 0 \
                        or vmp.setsched_ns < 0 or vmp.cs_budget_ns < 0 or vmp.gen_budget_ns < 0:
                    raise ValueError(f"vm {kk - 1}: boost parameters out of range")
            s.fa.kp[kk].tick_nsec = s.kern[kk].tick_ns
            s.kern[kk].hz = hz if kk == 0 else int(vms[kk - 1]["hz"])
            for c in range(s.kern[kk].rq_base, s.kern[kk].rq_base + kern_n[kk]):
                s.rq[c].sd_balance_interval = kern_n[kk]     # sd_init: balance_interval = sd_weight (ms)
        for kk in range(1, nkern):
            s.vm[kk - 1].vcpu_base = s.kern[kk].rq_base - ncpu

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
                init_cfs_rq(&s.fa.cfs[g * ncpu + c], 0, c, g, gse)
                s.fa.cfs[g * ncpu + c].idle_group = g > 0 and tgi[g] != 0
        for g in range(1, ntg):
            for c in range(ncpu):
                gse = ntask + (g - 1) * ncpu + c
                se = &s.fa.se[gse]
                init_se(se, gse)
                update_load_set(&se.load, scale_load(1024))
                se.my_q = g * ncpu + c
                se.cfs_rq = tgp[g] * ncpu + c
                se.parent = s.fa.tg_se[tgp[g] * ncpu + c]
                se.depth = s.fa.tg[g].depth
                se.idle = tgi[g] != 0
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
                init_cfs_rq(&s.fa.cfs[s.rq[c].cfs], s.rq[c].kern, c, -1, -1)
        for v in range(nvcpu):
            s.vcpu[v].vm = vvm[v]
            s.vcpu[v].rq = ncpu + v
            s.vcpu[v].task = -1
            s.vcpu[v].hooked_task = -1
            s.vcpu[v].pd_ts = -1
            s.vcpu[v].boost_status = VCPU_BOOST_NORMAL if s.vm[vvm[v]].boost_mode else VCPU_BOOST_DISABLED
            s.vcpu[v].guest_status = s.vcpu[v].boost_status
            s.vcpu[v].host_cpu = 0
            s.vcpu[v].mode = VM_OFF

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
            set_load_nice(&se.load, <int>tnice[i], tpol[i] == POLICY_IDLE)
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
        sync_setup(s, vms, debooster, opsv, tkern, tps, tpl)     # seed 002 (yield_api.pxi)

    def run(self, long long until_ns):
        """Process events up to and including time ``until_ns``; returns events processed."""
        cdef u64 before = self.s.nevents
        if until_ns > MAX_TIME_NS:
            raise ValueError(f"until_ns={until_ns} is beyond the simulated horizon {MAX_TIME_NS}")
        if until_ns < self.s.now:
            raise ValueError(f"until_ns={until_ns} is before the current time {self.s.now}")
        with nogil:
            run_loop(&self.s, until_ns)
        return self.s.nevents - before

    @property
    def now_ns(self):
        return self.s.now

    @property
    def events(self):
        """Events processed so far (each pop of the queue changes simulated state)."""
        return self.s.nevents

    @property
    def stalled(self):
        """True once the run met a livelock (more than ``same_instant_limit`` events at one
        instant) and stopped there; later runs do not advance it."""
        return bool(self.s.stalled)

    @property
    def same_instant_limit(self):
        return self.s.same_limit

    @same_instant_limit.setter
    def same_instant_limit(self, unsigned long long n):
        self.s.same_limit = n

    @property
    def violations(self):
        """Invariant violations seen with ``check_invariants`` (kind name -> seen)."""
        return {name: bool(self.s.violation_kind >> k & 1) for k, name in enumerate(INVARIANTS)} | {
            "count": self.s.violations}

    cdef void _finalize(self) noexcept nogil:
        # Bring per-task and per-CPU accounting up to `now` (idempotent).
        cdef Sim* s = &self.s
        cdef s32 i
        for i in range(s.nrq):
            settle_curr(s, i)
            if s.rq[i].curr >= 0:
                s.rq[i].busy_ns += s.now - s.rq[i].busy_since
                s.rq[i].busy_since = s.now
        for i in range(s.nvcpu):
            if s.vcpu[i].boost_status == VCPU_BOOST_BOOSTED:
                boost_account(s, i)
            if s.vcpu[i].mode != VM_OFF:
                s.vcpu[i].t_mode[s.vcpu[i].mode] += s.now - s.vcpu[i].mode_since
                s.vcpu[i].mode_since = s.now
        for i in range(s.ntask):
            if s.task[i].state == TS_RUNNABLE:
                s.task[i].wait_ns += s.now - s.task[i].runnable_since
                s.task[i].runnable_since = s.now

    def results(self):
        """Copy the raw counters out as a dict of numpy arrays."""
        cdef Sim* s = &self.s
        cdef s32 i, n = s.ntask, c
        self._finalize()
        out = {}
        cols = {k: np.zeros(n, dtype=np.int64) for k in (
            "cpu_ns", "wait_ns", "nr_switches", "nr_preempted", "nr_wakeups", "nr_migrations",
            "nr_yields", "nr_overruns", "lat_count", "lat_sum_ns", "lat_max_ns", "state", "cpu", "vruntime",
            "sum_exec_runtime_ns")}
        cdef long long[:] v_cpu = cols["cpu_ns"], v_wait = cols["wait_ns"], v_sw = cols["nr_switches"]
        cdef long long[:] v_pre = cols["nr_preempted"], v_wk = cols["nr_wakeups"], v_mig = cols["nr_migrations"]
        cdef long long[:] v_y = cols["nr_yields"], v_lc = cols["lat_count"], v_ls = cols["lat_sum_ns"]
        cdef long long[:] v_ov = cols["nr_overruns"]
        cdef long long[:] v_lm = cols["lat_max_ns"], v_st = cols["state"], v_c = cols["cpu"]
        cdef long long[:] v_vr = cols["vruntime"], v_se = cols["sum_exec_runtime_ns"]
        for i in range(n):
            v_cpu[i] = s.task[i].cpu_ns
            v_wait[i] = s.task[i].wait_ns
            v_sw[i] = s.task[i].nr_switches
            v_pre[i] = s.task[i].nr_preempted
            v_wk[i] = s.task[i].nr_wakeups
            v_mig[i] = s.task[i].nr_migrations
            v_y[i] = s.task[i].nr_yields
            v_ov[i] = s.task[i].nr_overruns
            v_lc[i] = s.task[i].lat_count
            v_ls[i] = s.task[i].lat_sum
            v_lm[i] = s.task[i].lat_max
            v_st[i] = s.task[i].state
            v_c[i] = s.task[i].cpu
            v_vr[i] = <s64>s.fa.se[i].vruntime
            v_se[i] = <s64>s.fa.se[i].sum_exec_runtime
        out["task"] = cols
        hist = np.zeros((n, HIST_NBUCKETS), dtype=np.uint32)
        cdef unsigned int[:, :] hv = hist
        for i in range(n):
            for c in range(HIST_NBUCKETS):
                hv[i, c] = s.hist[<s64>i * HIST_NBUCKETS + c]
        out["task_lat_hist"] = hist
        cpu = {k: np.zeros(s.ncpu, dtype=np.int64) for k in (
            "busy_ns", "nr_switches", "nr_ticks", "fs_activations", "rt_throttle_count", "nr_running",
            "lb_runs", "lb_moved", "lb_failed")}
        for c in range(s.ncpu):
            cpu["busy_ns"][c] = s.rq[c].busy_ns
            cpu["nr_switches"][c] = s.rq[c].nr_switches
            cpu["nr_ticks"][c] = s.rq[c].nr_ticks
            cpu["fs_activations"][c] = s.rq[c].fs_activations
            cpu["rt_throttle_count"][c] = s.rq[c].rt_throttle_count
            cpu["nr_running"][c] = s.rq[c].nr_running
            cpu["lb_runs"][c] = s.rq[c].nr_lb_runs
            cpu["lb_moved"][c] = s.rq[c].nr_lb_moved
            cpu["lb_failed"][c] = s.rq[c].nr_lb_failed
        out["cpu"] = cpu
        vc = {k: np.zeros(s.nvcpu, dtype=np.int64) for k in (
            "vm", "task", "host_cpu", "mode", "nr_poll_ok", "nr_poll_fail", "nr_blocks", "nr_kicks",
            "halt_poll_ns", "guest_ticks", "guest_switches")}
        for m in VCPU_MODES:
            vc[m + "_ns"] = np.zeros(s.nvcpu, dtype=np.int64)
        for m in EXIT_REASONS:
            vc["exits_" + m] = np.zeros(s.nvcpu, dtype=np.int64)
        for m in BOOST_CAUSES:
            vc["boosts_" + m] = np.zeros(s.nvcpu, dtype=np.int64)
        for m in UNBOOST_CAUSES:
            vc["unboosts_" + m] = np.zeros(s.nvcpu, dtype=np.int64)
        for m in ("boosted_run_ns", "boosted_blocked_ns", "boosted_wait_ns", "budget_refused", "boosted"):
            vc[m] = np.zeros(s.nvcpu, dtype=np.int64)
        for c in range(s.nvcpu):
            vc["vm"][c] = s.vcpu[c].vm
            vc["task"][c] = s.vcpu[c].task
            vc["host_cpu"][c] = s.vcpu[c].host_cpu
            vc["mode"][c] = s.vcpu[c].mode
            vc["nr_poll_ok"][c] = s.vcpu[c].nr_poll_ok
            vc["nr_poll_fail"][c] = s.vcpu[c].nr_poll_fail
            vc["nr_blocks"][c] = s.vcpu[c].nr_blocks
            vc["nr_kicks"][c] = s.vcpu[c].nr_kicks
            vc["halt_poll_ns"][c] = s.vcpu[c].halt_poll_ns
            vc["guest_ticks"][c] = s.rq[s.vcpu[c].rq].nr_ticks
            vc["guest_switches"][c] = s.rq[s.vcpu[c].rq].nr_switches
            for k, m in enumerate(VCPU_MODES):
                vc[m + "_ns"][c] = s.vcpu[c].t_mode[k + 1]
            for k, m in enumerate(EXIT_REASONS):
                vc["exits_" + m][c] = s.vcpu[c].nr_exits[k]
            for k, m in enumerate(BOOST_CAUSES):
                vc["boosts_" + m][c] = s.vcpu[c].nr_boost[k]
            for k, m in enumerate(UNBOOST_CAUSES):
                vc["unboosts_" + m][c] = s.vcpu[c].nr_unboost[k]
            vc["boosted_run_ns"][c] = (s.vcpu[c].boosted_ns[VM_GUEST] + s.vcpu[c].boosted_ns[VM_EXIT]
                                       + s.vcpu[c].boosted_ns[VM_POLL])
            vc["boosted_blocked_ns"][c] = s.vcpu[c].boosted_ns[VM_HALTED]
            vc["boosted_wait_ns"][c] = s.vcpu[c].boosted_ns[VM_PREEMPTED]
            vc["budget_refused"][c] = s.vcpu[c].nr_budget_refused
            vc["boosted"][c] = s.vcpu[c].boost_status == VCPU_BOOST_BOOSTED
        sync_results(s, out, vc)         # seed 002: vCPU yield columns, per-VM table (yield_api.pxi)
        out["vcpu"] = vc
        out["now_ns"] = s.now
        out["events"] = s.nevents
        out["balance_pulls"] = s.nr_balance_pulls
        out["balance"] = {k: {"host": 0, "guests": 0} for k in ("periodic_runs", "periodic_moved", "periodic_failed")}
        for c in range(s.nrq):
            side = "host" if c < s.ncpu else "guests"
            out["balance"]["periodic_runs"][side] += s.rq[c].nr_lb_runs
            out["balance"]["periodic_moved"][side] += s.rq[c].nr_lb_moved
            out["balance"]["periodic_failed"][side] += s.rq[c].nr_lb_failed
        out["violations"] = self.violations
        return out

    # ---- inspection (tests, policies, debugging); not for the hot path
    def running(self):
        """Task index current on each CPU (-1 = idle)."""
        return [self.s.rq[c].curr for c in range(self.s.ncpu)]

    def cfs_rq_state(self, int tg, int cpu):
        """Snapshot of the cfs_rq of task group ``tg`` on ``cpu``: V, sums and its entities."""
        if not (0 <= tg < self.ntg and 0 <= cpu < self.s.ncpu):
            raise ValueError("no such cfs_rq")
        return _cfs_snapshot(&self.s.fa, tg * self.s.ncpu + cpu)

    def find_matching_se(self, int task_a, int task_b):
        """Cgroup LCA of two tasks queued on one CPU: (entity_a, entity_b, cfs_rq, depth)."""
        cdef s32 a, b
        if not (0 <= task_a < self.s.ntask and 0 <= task_b < self.s.ntask):
            raise ValueError("no such task")
        if self.s.task[task_a].cpu != self.s.task[task_b].cpu:
            raise ValueError("find_matching_se needs two tasks on the same CPU")
        a = self.s.task[task_a].se
        b = self.s.task[task_b].se
        find_matching_se(&self.s.fa, &a, &b)
        if a < 0 or b < 0:
            return None
        return (a, b, self.s.fa.se[a].cfs_rq, self.s.fa.se[a].depth)

    def group_entity(self, int tg, int cpu):
        """Index of the group entity of task group ``tg`` (>= 1) on ``cpu``."""
        if not (1 <= tg < self.ntg and 0 <= cpu < self.s.ncpu):
            raise ValueError("no such group entity")
        return self.s.fa.tg_se[tg * self.s.ncpu + cpu]

    def entity(self, int n):
        """State of sched_entity ``n`` as a dict."""
        if not (0 <= n < self.s.ntask + (self.ntg - 1) * self.s.ncpu):
            raise ValueError("no such entity")
        return _se_dict(&self.s.fa.se[n])


cdef dict _se_dict(sched_entity* se):
    return {
        "weight": scale_load_down(se.load.weight), "load_weight": se.load.weight,
        "vruntime": se.vruntime, "deadline": se.deadline, "vlag": se.vlag, "slice": se.slice,
        "on_rq": bool(se.on_rq), "sched_delayed": bool(se.sched_delayed),
        "custom_slice": bool(se.custom_slice), "rel_deadline": bool(se.rel_deadline),
        "sum_exec_runtime": se.sum_exec_runtime, "depth": se.depth, "parent": se.parent,
        "cfs_rq": se.cfs_rq, "my_q": se.my_q, "task": se.task,
        "load_avg": se.avg.load_avg, "util_avg": se.avg.util_avg,
    }


cdef dict _cfs_snapshot(FairArena* a, s32 ci):
    cdef cfs_rq_t* cfs = &a.cfs[ci]
    cdef list ents = []
    cdef list stack = []
    cdef s32 n
    cdef u64 V = avg_vruntime(a, cfs)
    cdef s64 total = 0
    if cfs.root >= 0:
        stack.append(cfs.root)
    while stack:
        n = stack.pop()
        ents.append(n)
        if a.se[n].left >= 0:
            stack.append(a.se[n].left)
        if a.se[n].right >= 0:
            stack.append(a.se[n].right)
    d = {
        "V": V, "min_vruntime": cfs.min_vruntime, "avg_vruntime": cfs.avg_vruntime,
        "avg_load": cfs.avg_load, "load_weight": cfs.load.weight, "nr_queued": cfs.nr_queued,
        "h_nr_queued": cfs.h_nr_queued, "h_nr_runnable": cfs.h_nr_runnable,
        "curr": cfs.curr if cfs.curr >= 0 else None, "next": cfs.next if cfs.next >= 0 else None,
        "tree": sorted(ents), "load_avg": cfs.avg.load_avg, "util_avg": cfs.avg.util_avg,
    }
    # lag of every queued entity (tree + curr if on_rq), in weight * virtual ns
    members = list(ents)
    if cfs.curr >= 0 and a.se[cfs.curr].on_rq:
        members.append(cfs.curr)
    for n in members:
        total += <s64>scale_load_down(a.se[n].load.weight) * <s64>(V - a.se[n].vruntime)
    d["members"] = sorted(members)
    d["sum_weighted_lag"] = total
    d["sum_weight"] = sum(scale_load_down(a.se[n].load.weight) for n in members)
    return d
