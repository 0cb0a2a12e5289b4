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
VCPU_MODES = ("guest", "exit", "poll", "halted", "preempted", "vmm")
EXIT_REASONS = ("entry", "host_tick", "host_intr", "guest_timer", "ipi_send", "ipi_recv", "hlt", "mmio",
                "doorbell", "budget", "ple", "hypercall", "eoi", "mwait", "monitor", "signal", "fault")
POLICIES = {"normal": POLICY_NORMAL, "fifo": POLICY_FIFO, "rr": POLICY_RR, "batch": POLICY_BATCH,
            "idle": POLICY_IDLE}
RT_GUARDS = {"fair_server": RT_GUARD_FAIR_SERVER, "rt_throttle": RT_GUARD_THROTTLE,
             "none": RT_GUARD_NONE}
INVARIANTS = ("work_conservation", "curr_not_running", "affinity", "livelock") + RCU_INVARIANTS
# What Engine.capture copies (pvsched.sweep.batch computes sweep metrics from it)
CAPTURE_SCALARS = ("events", "now_ns", "violations")
CAPTURE_TASK_COLUMNS = ("cpu_ns", "wait_ns", "nr_switches", "nr_preempted", "nr_wakeups", "nr_migrations",
                        "nr_yields", "nr_overruns", "lat_count", "lat_sum_ns", "lat_max_ns")
CAPTURE_VCPU_COLUMNS = (tuple(m + "_ns" for m in VCPU_MODES) + tuple("exits_" + m for m in EXIT_REASONS)
                        + ("nr_poll_ok", "nr_poll_fail", "nr_blocks", "nr_kicks", "guest_ticks", "guest_switches",
                           "rcuc_preemptions", "rcuc_preempt_ns"))


cdef inline s64 rcuc_preempt_ns_now(Sim* s, s32 c) noexcept nogil:
    # Time vCPU c's thread has lost to rcuc so far, an ongoing preemption included.
    return s.vcpu[c].rcuc_preempt_ns + (s.now - s.vcpu[c].rcuc_since if s.vcpu[c].rcuc_since >= 0 else 0)

cdef class Engine:
    """A compiled scenario. Build it through :class:`pvsched.Simulation`; the arrays it takes are
    validated there, and checked again here so that no input can crash the process."""
    cdef Sim s
    cdef object task_names
    cdef s32 ntg
    cdef kparams kp_host
    cdef bint finalized
    cdef object _py_error       # (exception, hook name, kernel, time) once a Python policy raised
    cdef list _py_methods       # per kernel: {hook name: bound method} of its Python policy
    cdef object _ctx            # the HookContext handed to Python hooks
    cdef EngineInput _inp       # the checked input, kept so that reset() rebuilds without checking again

    def __cinit__(self):
        memset(&self.s, 0, sizeof(Sim))

    def __dealloc__(self):
        self._free()

    cdef void _free(self) noexcept:
        # Every array the builders allocated; free(NULL) is a no-op,
        # so a constructor that failed half-way is released too.
        cdef Sim* s = &self.s
        free(s.fa.se); free(s.fa.cfs); free(s.fa.kp); free(s.fa.tg)
        free(s.fa.clk_base); free(s.fa.clk_entry); free(s.fa.clk_run); free(s.fa.resched)
        free(s.fa.tg_cfs); free(s.fa.tg_se)
        free(s.task); free(s.rq); free(s.kern); free(s.vm); free(s.vcpu)
        free(s.rt_head); free(s.rt_tail); free(s.aff); free(s.idle_mask); free(s.ops); free(s.hist)
        free(s.hist_buf)
        ev_free(&s.q); free(s.lb_skip); free(s.lb_tasks); free(s.lb_stack)
        free(s.locks); free(s.ipi_ring); free(s.vm_hist); free(s.vm_lhist)
        free(s.gth.se); free(s.gth.cpu); free(s.gth.se_pending); free(s.gth.cfs_pending); free(s.hw)
        deferred_work_free(s)
        free(s.rtimers); free(s.trace.rec)
        rcu_free(s)
        memset(s, 0, sizeof(Sim))

    def __init__(self, **kw):
        """Build from the keyword arguments of :class:`EngineInput` (what ``Scenario.compile`` returns)."""
        self._inp = EngineInput(**kw)
        self._build(self._inp)

    cdef int _build(self, EngineInput c) except -1:
        cdef Sim* s = &self.s
        cdef s32 kk
        self.ntg = c.ntg
        self.finalized = False
        self._py_error = None
        alloc_sim(s, c)
        build_kernels(s, c)
        build_task_groups(s, c)
        build_runqueues(s, c)
        build_tasks(s, c)
        rtimer_build(s, c.rtimer_relative)
        debooster_build(s, c.debooster)
        directed_yield_build(s, c.vms)
        ipi_aware_yield_build(s, c.vms)
        guest_sync_build(s, c.vms, c.opsv, c.tkern, c.tps, c.tpl)
        boost_build(s, c.vms)
        halted_pelt_build(s, c.halted_pelt, c.vms, c.ntask + (c.ntg - 1) * c.ncpu, c.ntg * c.ncpu + c.nvcpu)
        tick_sched_build(s, c.nohz_full)
        hwnoise_build(s, c.opsv)
        kvm_idle_build(s, c.vms)
        deferred_work_build(s, c.vms, c.opsv, c.tkern, c.tvcpu, c.tps, c.tpl, c.tstart, c.seed)
        trace_build(s, c.trace)
        vmm_actions_build(s, c.vms)
        rcu_build(s, c.rcu)
        rcu_guest_build(s, c.rcu_guest)
        self._py_methods = [None] * c.nkern
        self._ctx = HookContext()
        attach_python_policy(self, 0, c.py_policy)
        for kk in range(1, c.nkern):
            attach_python_policy(self, kk, c.vms[kk - 1].get("policy"))
        attach_policies(s)
        s.owner = <void*>self
        return 0

    def reset(self, seed=None):
        """Start over at time 0 with the same compiled scenario and ``seed`` (default: the seed it
        was built with): the state is rebuilt exactly as a new Engine builds it, without compiling
        or checking the scenario again (a sweep reruns one cell this way, once per repetition).

        >>> from pvsched import Scenario, Host, Task, Simulation
        >>> from pvsched.workloads import RunSleep
        >>> sc = Scenario(host=Host(cpus=1), seed=3, tasks=[Task("r", RunSleep(run_ns=10**5, sleep_ns=10**5,
        ...               run_jitter_ns=10**5, sleep_jitter_ns=10**5))])
        >>> eng = Simulation(sc).engine
        >>> _ = eng.run(10**7); first = eng.results()["task"]["nr_switches"][0]
        >>> eng.reset(4); _ = eng.run(10**7); other = eng.results()["task"]["nr_switches"][0]
        >>> eng.reset(3); _ = eng.run(10**7); bool(eng.results()["task"]["nr_switches"][0] == first != other)
        True
        """
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
                raise ValueError(f"seed={seed!r} must be an integer in [0, 2**64)")
            self._inp.seed = seed
        self._free()
        self._build(self._inp)

    def run(self, long long until_ns):
        """Process events up to and including time ``until_ns``; returns events processed."""
        cdef u64 before = self.s.nevents
        self._raise_policy_error()
        if until_ns > MAX_TIME_NS:
            raise ValueError(f"until_ns={until_ns} is beyond the simulated horizon {MAX_TIME_NS}")
        if until_ns < self.s.now:
            raise ValueError(f"until_ns={until_ns} is before the current time {self.s.now}")
        with nogil:
            run_loop(&self.s, until_ns)
        self._raise_policy_error()
        return self.s.nevents - before

    def _raise_policy_error(self):
        if self._py_error is not None:
            e, point, kern, when = self._py_error
            who = "the host's" if kern == 0 else f"VM {kern - 1}'s"
            meth = point if point == "spin_next_round" else "on_" + point
            raise PolicyError(f"{who} Python policy raised {type(e).__name__} in {meth} at {when} ns: {e}; "
                              f"the run stopped there") from e

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
        cdef u64 kinds = self.s.violation_kind
        if self.s.rcu != NULL:
            kinds |= self.s.rcu.violation_kind << 4     # RCU_INVARIANTS after the scheduler's four
        return {name: bool(kinds >> k & 1) for k, name in enumerate(INVARIANTS)} | {"count": self._violation_count()}

    cdef u64 _violation_count(self) noexcept nogil:
        # The scheduler's and the RCU core's (what results() and capture() report).
        return self.s.violations + (self.s.rcu.violations if self.s.rcu != NULL else 0)

    cdef void _finalize(self) noexcept nogil:
        # Bring per-task and per-CPU accounting up to `now` (idempotent).
        cdef Sim* s = &self.s
        cdef s32 i
        hist_batch_flush(s.hist, s.hist_buf, &s.hist_n)
        for i in range(s.nrq):
            settle_curr(s, i)
            if s.rq[i].curr >= 0:
                s.rq[i].busy_ns += s.now - s.rq[i].busy_since
                s.rq[i].busy_since = s.now
        for i in range(s.nvcpu):
            hook_vcpu_mode(s, i, s.vcpu[i].mode)
            if s.vcpu[i].mode != VM_OFF:
                s.vcpu[i].t_mode[s.vcpu[i].mode] += s.now - s.vcpu[i].mode_since
                s.vcpu[i].mode_since = s.now
        sync_finalize(s)
        halted_pelt_finalize(s)
        kvm_idle_finalize(s)
        deferred_work_finalize(s)
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
        hwnoise_results(s, cols)
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
            "halt_poll_ns", "guest_ticks", "guest_switches", "rcuc_preemptions", "rcuc_preempt_ns")}
        for m in VCPU_MODES:
            vc[m + "_ns"] = np.zeros(s.nvcpu, dtype=np.int64)
        for m in EXIT_REASONS:
            vc["exits_" + m] = np.zeros(s.nvcpu, dtype=np.int64)
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
            vc["rcuc_preemptions"][c] = s.vcpu[c].nr_rcuc_preempt
            vc["rcuc_preempt_ns"][c] = rcuc_preempt_ns_now(s, c)
            for k, m in enumerate(VCPU_MODES):
                vc[m + "_ns"][c] = s.vcpu[c].t_mode[k + 1]
            for k, m in enumerate(EXIT_REASONS):
                vc["exits_" + m][c] = s.vcpu[c].nr_exits[k]
        # the units' columns and tables
        boost_results(s, vc)
        directed_yield_results(s, out, vc)
        guest_sync_results(s, out, vc)
        halted_pelt_results(s, out, vc)
        kvm_idle_results(s, vc)
        deferred_work_results(s, out, vc)
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
        if s.rcu != NULL:
            out["rcu"] = rcu_results(s)
        out["violations"] = self.violations
        if s.trace.on:
            out["trace"] = trace_results(s)
        return out

    def capture(self, Py_ssize_t r, long long[:, :] scalars, long long[:, :, :] tasks, long long[:, :] cpus,
                long long[:, :, :] vcpus, long long[:] hist_ptr, long long[:] hist_rows,
                unsigned long long[:, :, :] hist):
        """Copy what sweep metrics read into row ``r`` of arrays stacked over a cell's runs, in one
        call and without building Python objects: ``scalars[r]`` (CAPTURE_SCALARS), ``tasks[r]``
        (CAPTURE_TASK_COLUMNS x tasks), ``cpus[r]`` (busy_ns per pCPU), ``vcpus[r]``
        (CAPTURE_VCPU_COLUMNS x vCPUs) and, per group g of tasks (``hist_rows[hist_ptr[g]:hist_ptr[g+1]]``),
        their merged wake-up latency histogram ``hist[r, g]``. Same values as :meth:`results`."""
        cdef Sim* s = &self.s
        cdef s32 i, c, k, g, ng = hist_ptr.shape[0] - 1
        cdef s64 j, t
        cdef u32* h
        cdef unsigned long long* out
        cdef int nmode = len(VCPU_MODES), nexit = len(EXIT_REASONS)
        if not (0 <= r < scalars.shape[0] and scalars.shape[1] >= 3 and r < tasks.shape[0]
                and tasks.shape[1] >= 11 and tasks.shape[2] == s.ntask and r < cpus.shape[0]
                and cpus.shape[1] == s.ncpu and r < vcpus.shape[0] and vcpus.shape[1] >= nmode + nexit + 8
                and vcpus.shape[2] == s.nvcpu and ng >= 0 and r < hist.shape[0] and hist.shape[1] >= ng
                and hist.shape[2] == HIST_NBUCKETS):
            raise ValueError("capture: arrays of the wrong shape for this engine")
        for g in range(ng):
            if not (0 <= hist_ptr[g] <= hist_ptr[g + 1] <= hist_rows.shape[0]):
                raise ValueError("capture: bad histogram group bounds")
            for j in range(hist_ptr[g], hist_ptr[g + 1]):
                if not 0 <= hist_rows[j] < s.ntask:
                    raise ValueError("capture: no such task")
        self._finalize()
        scalars[r, 0] = <long long>s.nevents
        scalars[r, 1] = s.now
        scalars[r, 2] = <long long>self._violation_count()
        for i in range(s.ntask):
            tasks[r, 0, i] = s.task[i].cpu_ns
            tasks[r, 1, i] = s.task[i].wait_ns
            tasks[r, 2, i] = s.task[i].nr_switches
            tasks[r, 3, i] = s.task[i].nr_preempted
            tasks[r, 4, i] = s.task[i].nr_wakeups
            tasks[r, 5, i] = s.task[i].nr_migrations
            tasks[r, 6, i] = s.task[i].nr_yields
            tasks[r, 7, i] = s.task[i].nr_overruns
            tasks[r, 8, i] = s.task[i].lat_count
            tasks[r, 9, i] = s.task[i].lat_sum
            tasks[r, 10, i] = s.task[i].lat_max
        for c in range(s.ncpu):
            cpus[r, c] = s.rq[c].busy_ns
        for c in range(s.nvcpu):
            for k in range(nmode):
                vcpus[r, k, c] = s.vcpu[c].t_mode[k + 1]
            for k in range(nexit):
                vcpus[r, nmode + k, c] = s.vcpu[c].nr_exits[k]
            k = nmode + nexit
            vcpus[r, k, c] = s.vcpu[c].nr_poll_ok
            vcpus[r, k + 1, c] = s.vcpu[c].nr_poll_fail
            vcpus[r, k + 2, c] = s.vcpu[c].nr_blocks
            vcpus[r, k + 3, c] = s.vcpu[c].nr_kicks
            vcpus[r, k + 4, c] = s.rq[s.vcpu[c].rq].nr_ticks
            vcpus[r, k + 5, c] = s.rq[s.vcpu[c].rq].nr_switches
            vcpus[r, k + 6, c] = s.vcpu[c].nr_rcuc_preempt
            vcpus[r, k + 7, c] = rcuc_preempt_ns_now(s, c)
        for g in range(ng):
            out = &hist[r, g, 0]
            memset(out, 0, HIST_NBUCKETS * sizeof(unsigned long long))
            for j in range(hist_ptr[g], hist_ptr[g + 1]):
                h = &s.hist[<s64>hist_rows[j] * HIST_NBUCKETS]
                for t in range(HIST_NBUCKETS):
                    out[t] += h[t]

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
        "inv_weight": se.load.inv_weight,
        "vruntime": se.vruntime, "deadline": se.deadline, "vlag": se.vlag, "slice": se.slice,
        "on_rq": bool(se.on_rq), "sched_delayed": bool(se.sched_delayed),
        "custom_slice": bool(se.custom_slice), "rel_deadline": bool(se.rel_deadline),
        "sum_exec_runtime": se.sum_exec_runtime, "depth": se.depth, "parent": se.parent,
        "cfs_rq": se.cfs_rq, "my_q": se.my_q, "task": se.task,
        "load_avg": se.avg.load_avg, "util_avg": se.avg.util_avg,
        "load_sum": se.avg.load_sum, "period_contrib": se.avg.period_contrib,
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
