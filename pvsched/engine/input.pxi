# The input of an Engine: the flat arrays and settings Scenario.compile produces, typed and checked
# again here so that no input, however it was made, can crash the process.

cdef class EngineInput:
    """The compiled scenario an Engine is built from (the keyword arguments of ``Engine``), as typed
    arrays, checked so that no input can crash the process."""
    cdef int ncpu
    cdef int hz
    cdef long long base_slice_ns
    cdef unsigned int features
    cdef bint lazy
    cdef bint cfs
    cdef unsigned long long seed
    cdef bint shuffle_ties
    cdef long long ctx_switch_ns
    cdef long long idle_exit_ns
    cdef object cstates
    cdef object rt_guard
    cdef long long fs_runtime_ns
    cdef long long fs_period_ns
    cdef long long rt_runtime_ns
    cdef long long rt_period_ns
    cdef int rr_timeslice_ms
    cdef bint nohz_idle
    cdef bint host_tick_exits
    cdef bint check_invariants
    cdef bint load_balance
    cdef bint periodic_balance
    cdef long long migration_cost_ns
    cdef object debooster
    cdef object py_policy
    cdef dict halted_pelt
    cdef list nohz_full
    cdef list rtimer_relative
    cdef object trace
    cdef object rcu             # RCU model settings (rcu/rcu_engine.pxi rcu_build), None = off
    cdef object rcu_guest       # RcuGuestPolicy.engine_dict() (policies/rcu_guest.pxi)
    cdef list vms
    cdef long long[:] tgp
    cdef long long[:] tgs
    cdef long long[:] tgi
    cdef long long[:] tpol
    cdef long long[:] tnice
    cdef long long[:] trt
    cdef long long[:] ttg
    cdef long long[:] tstart
    cdef unsigned long long[:, :] taff
    cdef long long[:] tps
    cdef long long[:] tpl
    cdef long long[:] tsl
    cdef long long[:] tkern
    cdef long long[:] tvcpu
    cdef long long[:] vvm
    cdef long long[:, :] opsv
    cdef s32 ntg
    cdef s32 ntask
    cdef s32 nvm
    cdef s32 nkern
    cdef s32 nvcpu
    cdef s32 nrq
    cdef list kern_n
    cdef s32 maxw

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
                 bint periodic_balance=True, long long migration_cost_ns=500_000, debooster=None,
                 py_policy=None, halted_pelt=None, nohz_full=(), rtimer_relative=(), trace=None, rcu=None,
                 rcu_guest=None):
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
            if tgs[g] < MIN_SHARES or tgs[g] > <s64>scale_load(MAX_SHARES):
                raise ValueError(f"task group {g}: shares {tgs[g]} out of range")
        rtimer_relative = [int(x) for x in rtimer_relative]
        for i in range(opsv.shape[0]):
            if (opsv[i, 0] < OP_RUN or opsv[i, 0] > OP_MAX or not 0 <= opsv[i, 1] <= MAX_TIME_NS
                    or not 0 <= opsv[i, 2] <= MAX_TIME_NS):
                raise ValueError(f"op {i} is invalid: {tuple(opsv[i])}")
            if ((opsv[i, 0] == OP_LOOP and (not 0 <= opsv[i, 3] <= 3 or opsv[i, 2] > 0x7FFFFFFF))
                    or (opsv[i, 0] == OP_RUNTIME and opsv[i, 2] < 1)
                    or (opsv[i, 0] == OP_TIMER and opsv[i, 2] >= len(rtimer_relative))
                    or (opsv[i, 0] == OP_HWNOISE and not 0 <= opsv[i, 3] <= MAX_TIME_NS)):
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
                if opsv[tps[i] + n, 0] in (OP_VMEXIT, OP_VMEXIT_USER) and tkern[i] == 0:
                    raise ValueError(f"task {i}: a host task cannot take a VM exit")
                if opsv[tps[i] + n, 0] == OP_VMEXIT and not EXIT_CTX_DEFAULT <= opsv[tps[i] + n, 3] <= EXIT_CTX_IRQ:
                    raise ValueError(f"task {i}: vmexit op flags {opsv[tps[i] + n, 3]} unknown")
                if opsv[tps[i] + n, 0] == OP_HWNOISE and (tkern[i] == 0 or opsv[tps[i] + n, 1] < 1):
                    raise ValueError(f"task {i}: hwnoise runs in a guest, with a runtime >= 1 ns")
                if opsv[tps[i] + n, 0] in (OP_SYNC_RCU, OP_RCUC) and tkern[i] != 0:
                    raise ValueError(f"task {i}: synchronize_rcu and rcuc run only on the host")
                if opsv[tps[i] + n, 0] == OP_SLEEP and opsv[tps[i] + n, 3] & ~WORK_EXP:
                    raise ValueError(f"task {i}: sleep op flags {opsv[tps[i] + n, 3]} unknown")
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
        cstates = sorted((int(res), int(lat)) for res, lat in cstates)
        if len(cstates) > 8 or any(not (0 <= res <= MAX_TIME_NS and 0 <= lat <= 1_000_000_000) for res, lat in cstates):
            raise ValueError("cstates: at most 8 (residency_ns <= MAX_TIME_NS, exit_latency_ns <= 1e9) pairs")
        if not (1 <= fs_runtime_ns <= fs_period_ns <= MAX_TIME_NS and 1 <= rt_runtime_ns <= rt_period_ns <= MAX_TIME_NS):
            raise ValueError("fair server / RT throttling: need 1 <= runtime <= period <= MAX_TIME_NS")
        if not 1 <= rr_timeslice_ms <= 1_000_000:
            raise ValueError(f"rr_timeslice_ms={rr_timeslice_ms} out of range 1..1000000")
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
        self.ncpu = ncpu
        self.hz = hz
        self.base_slice_ns = base_slice_ns
        self.features = features
        self.lazy = lazy
        self.cfs = cfs
        self.seed = seed
        self.shuffle_ties = shuffle_ties
        self.ctx_switch_ns = ctx_switch_ns
        self.idle_exit_ns = idle_exit_ns
        self.cstates = cstates
        self.rt_guard = rt_guard
        self.fs_runtime_ns = fs_runtime_ns
        self.fs_period_ns = fs_period_ns
        self.rt_runtime_ns = rt_runtime_ns
        self.rt_period_ns = rt_period_ns
        self.rr_timeslice_ms = rr_timeslice_ms
        self.nohz_idle = nohz_idle
        self.host_tick_exits = host_tick_exits
        self.check_invariants = check_invariants
        self.load_balance = load_balance
        self.periodic_balance = periodic_balance
        self.migration_cost_ns = migration_cost_ns
        self.debooster = debooster
        self.py_policy = py_policy
        self.halted_pelt = dict(halted_pelt or {})
        self.nohz_full = [int(c) for c in nohz_full]
        self.rtimer_relative = rtimer_relative
        self.trace = trace
        self.rcu = rcu
        self.rcu_guest = rcu_guest
        if (rcu is None and any(opsv[i, 0] in (OP_SYNC_RCU, OP_RCUC) for i in range(opsv.shape[0]))):
            raise ValueError("synchronize_rcu and rcuc ops need the RCU model (rcu=...)")
        self.vms = vms
        self.tgp = tgp
        self.tgs = tgs
        self.tgi = tgi
        self.tpol = tpol
        self.tnice = tnice
        self.trt = trt
        self.ttg = ttg
        self.tstart = tstart
        self.taff = taff
        self.tps = tps
        self.tpl = tpl
        self.tsl = tsl
        self.tkern = tkern
        self.tvcpu = tvcpu
        self.vvm = vvm
        self.opsv = opsv
        self.ntg = ntg
        self.ntask = ntask
        self.nvm = nvm
        self.nkern = nkern
        self.nvcpu = nvcpu
        self.nrq = nrq
        self.kern_n = kern_n
        self.maxw = maxw
