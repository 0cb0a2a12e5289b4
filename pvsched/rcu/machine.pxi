# RcuMachine: the RCU unit (rcu/tree.pxi, context_tracking.pxi, accuracy.pxi) and a guest policy
# (policies/rcu_guest.pxd) driven step by step from Python, without the engine: the caller
# supplies time, contexts and the order of events.

cdef class RcuMachine:
    """Tree RCU on ``ncpu`` host CPUs, driven step by step: context tracking, ticks, rcu_core()
    (what rcuc/N does), synchronize_rcu() callers and the GP kthread, all running the engine's C
    code (pvsched/rcu/tree.pxi). Time is in ns; ``jiffies(now)`` is what the kernel would read.

    ``nohz_full`` lists the isolated CPUs (rcu_nocbs, context tracking on); the others are
    housekeeping CPUs and the GP kthread runs on the first of them. Keyword parameters: ``policy``
    (one of ``RCU_POLICIES``), ``window_jiffies`` (P1 W, default HZ), ``patience_ms`` (X1),
    ``nohz_full_timeout_jiffies`` (rcu_nohz_full_cpu()'s HZ), ``jiffies_till_first_fqs`` /
    ``jiffies_till_next_fqs`` / ``jiffies_till_sched_qs``, ``stall_timeout_s`` (21),
    ``uptime_s`` (jiffies at t = 0 is INITIAL_JIFFIES + uptime), ``use_softirq`` (False:
    PREEMPT_RT, rcuc kthreads), ``normal_wake_from_gp``, ``horizon_ns`` (predicate accuracy).

    >>> m = RcuMachine(ncpu=2, nohz_full=[1], policy="vanilla")
    >>> m.guest_enter(1, 0)                   # CPU 1 runs a guest: an extended quiescent state
    >>> w = m.sync_call(0, 0)                 # synchronize_rcu() on housekeeping CPU 0
    >>> m.tick(0, 0)["rule"]                  # CPU 0's tick: its callback needs a grace period
    'need_gp'
    >>> m.rcu_core(0, 0); m.advance(0); m.gp_in_progress
    True
    >>> m.guest_exit(1, 500_000); m.tick(1, 1_000_000, cause="guest_tick")["wake_rcuc"]
    True
    """
    cdef rcu_sim_t r
    cdef rcu_guest_params g
    cdef object _nohz

    def __cinit__(self):
        memset(&self.r, 0, sizeof(rcu_sim_t))

    def __dealloc__(self):
        rcu_sim_free(&self.r)

    def __init__(self, int ncpu=2, nohz_full=(1,), int hz=1000, int max_callers=64, **params):
        cdef s32 c, cap
        params = dict(params)
        if not 1 <= hz <= 10000:
            raise ValueError(f"hz={hz} out of range 1..10000")
        rcu_guest_params_fill(&self.g, hz, params)
        rcu_params_fill(&self.r.p, ncpu, hz, nohz_full, params)
        if not 1 <= max_callers <= 1_000_000:
            raise ValueError(f"max_callers={max_callers} out of range 1..1000000")
        cap = <s32>min(self.r.p.horizon_ns // self.r.p.tick_ns + 4, 4096)
        if rcu_sim_alloc(&self.r, ncpu, max_callers, cap) < 0:
            raise MemoryError("pvsched: RCU state too large for memory")
        self._nohz = sorted(set(int(c) for c in nohz_full))
        for c in self._nohz:
            self.r.rdp[c].nohz_full = 1
        rcu_sim_init(&self.r)

    cdef inline s32 _cpu(self, int cpu) except -1:
        if not 0 <= cpu < self.r.ncpu:
            raise ValueError(f"cpu={cpu} outside 0..{self.r.ncpu - 1}")
        return cpu

    cdef inline s64 _now(self, long long now) except? -1:
        if now < 0:
            raise ValueError(f"now={now} is negative")
        return now

    # ---- time and state
    def jiffies(self, long long now):
        """jiffies at ``now`` ns."""
        return jiffies_at(&self.r.p, self._now(now))

    @property
    def params(self):
        """The derived kernel parameters (jiffies unless named otherwise)."""
        cdef rcu_params_t* p = &self.r.p
        return {"hz": p.hz, "tick_ns": p.tick_ns, "gp_cpu": p.gp_cpu, "policy": RCU_POLICIES[self.g.mode],
                "jiffies_base": p.jiffies_base, "nohz_full_timeout": p.nohz_timeout_j, "window": self.g.window_j,
                "patience": self.g.patience_j, "jiffies_till_first_fqs": p.first_fqs_j,
                "jiffies_till_next_fqs": p.next_fqs_j, "jiffies_to_sched_qs": p.jtsq,
                "stall_check": p.stall_j, "horizon_ns": p.horizon_ns, "use_softirq": bool(p.use_softirq),
                "normal_wake_from_gp": bool(p.wake_from_gp)}

    @property
    def gp_in_progress(self):
        return bool(rcu_gp_in_progress(&self.r.rs))

    @property
    def gp_seq(self):
        return self.r.rs.gp_seq

    def state(self):
        """rcu_state as a dict."""
        cdef rcu_state_t* rs = &self.r.rs
        return {"gp_seq": rs.gp_seq, "gp_seq_needed": rs.gp_seq_needed, "gp_start": rs.gp_start,
                "gp_start_ns": rs.gp_start_ns, "jiffies_force_qs": rs.jiffies_force_qs,
                "jiffies_stall": rs.jiffies_stall, "jiffies_resched": rs.jiffies_resched,
                "n_force_qs": rs.n_force_qs, "qs_pending": rs.nr_qs_pending, "gp_flags": rs.gp_flags,
                "gp_in_progress": bool(rcu_gp_in_progress(rs)), "first_fqs": bool(rs.first_fqs)}

    def rdp(self, int cpu):
        """rcu_data and context tracking of ``cpu`` as a dict."""
        cdef rcu_data_t* d = &self.r.rdp[self._cpu(cpu)]
        cdef ct_cpu_t* ct = &self.r.ct[cpu]
        return {"gp_seq": d.gp_seq, "core_needs_qs": bool(d.core_needs_qs), "cpu_no_qs": bool(d.cpu_no_qs),
                "qs_pending": bool(d.qs_pending), "watching_snap": d.watching_snap, "urgent_qs": bool(d.urgent_qs),
                "need_heavy_qs": bool(d.need_heavy_qs), "forced_tick": bool(d.forced_tick),
                "last_fqs_resched": d.last_fqs_resched, "has_work": bool(d.has_work),
                "nohz_full": bool(d.nohz_full), "offloaded": bool(d.offloaded),
                "ct_state": CT_STATES[ct.state], "watching": ct.watching, "in_eqs": bool(ct_in_eqs(ct)),
                "in_guest_run_loop": bool(ct.pol.in_guest_run_loop), "last_guest_exit": ct.pol.last_guest_exit,
                "pf_vcpu": bool(ct.pf_vcpu), "wants_to_run": bool(ct.wants_to_run)}

    # ---- context tracking and KVM hook points
    def guest_enter(self, int cpu, long long now):
        """VM entry: guest_timing_enter_irqoff() + guest_context_enter_irqoff()."""
        rcu_guest_enter(&self.r, self._cpu(cpu), self._now(now))

    def guest_exit(self, int cpu, long long now, bint irq=False):
        """VM exit: guest_context_exit_irqoff(); with ``irq`` PF_VCPU stays set for the
        interrupt that caused the exit (call ``guest_timing_exit`` after its tick)."""
        rcu_guest_exit(&self.r, self._cpu(cpu), self._now(now))
        rcu_guest_on_exit(&self.g, &self.r.ct[cpu].pol, jiffies_at(&self.r.p, now))
        if self.g.mode == RCUP_QS_ON_EXIT and not self.r.ct[cpu].active:
            rcu_note_context_switch(&self.r, cpu)     # rcu_virt_note_context_switch() at exit
        if not irq:
            rcu_guest_timing_exit(&self.r, cpu)

    def guest_timing_exit(self, int cpu):
        rcu_guest_timing_exit(&self.r, self._cpu(cpu))

    def user_enter(self, int cpu, long long now):
        rcu_eqs_enter(&self.r, self._cpu(cpu), CT_USER, self._now(now))

    def user_exit(self, int cpu, long long now):
        rcu_eqs_exit(&self.r, self._cpu(cpu), self._now(now))

    def idle_enter(self, int cpu, long long now):
        """ct_cpuidle_enter(): the idle task stops being watched."""
        rcu_eqs_enter(&self.r, self._cpu(cpu), CT_IDLE, self._now(now))

    def idle_exit(self, int cpu, long long now):
        rcu_eqs_exit(&self.r, self._cpu(cpu), self._now(now))

    def vcpu_load(self, int cpu, bint wants_to_run=True):
        cdef ct_cpu_t* ct = &self.r.ct[self._cpu(cpu)]
        ct.wants_to_run = wants_to_run
        rcu_guest_on_vcpu_load(&self.g, &ct.pol, wants_to_run)

    def vcpu_put(self, int cpu):
        cdef ct_cpu_t* ct = &self.r.ct[self._cpu(cpu)]
        rcu_guest_on_vcpu_put(&self.g, &ct.pol, ct.wants_to_run)
        ct.wants_to_run = 0

    def kvm_sched_out(self, int cpu):
        cdef ct_cpu_t* ct = &self.r.ct[self._cpu(cpu)]
        rcu_guest_on_sched_out(&self.g, &ct.pol, ct.wants_to_run)

    def kvm_sched_in(self, int cpu, bint wants_to_run=True):
        cdef ct_cpu_t* ct = &self.r.ct[self._cpu(cpu)]
        ct.wants_to_run = wants_to_run
        rcu_guest_on_sched_in(&self.g, &ct.pol, wants_to_run)

    def context_switch(self, int cpu):
        """rcu_note_context_switch(): __schedule() on ``cpu``."""
        rcu_note_context_switch(&self.r, self._cpu(cpu))

    def irq_enter_check_tick(self, int cpu):
        """An interrupt while RCU watches ``cpu``; True if it just forced the tick on."""
        return bool(rcu_irq_enter_check_tick(&self.r, self._cpu(cpu)))

    # ---- the tick, rcu_core(), rcuc
    def tick(self, int cpu, long long now, user=None, from_idle=None, preemptible=None, cause="other",
             bint rcuc_current=False):
        """rcu_sched_clock_irq() on ``cpu``. ``user`` / ``from_idle`` default to the context-tracking
        state (user / idle); ``preemptible`` defaults to True in kernel or user context and False
        in idle. Returns the rule rcu_pending() took, the skip reason and the flags."""
        cdef ct_cpu_t* ct = &self.r.ct[self._cpu(cpu)]
        cdef bint u = (ct.state == CT_USER) if user is None else bool(user)
        cdef bint fi = (ct.state == CT_IDLE) if from_idle is None else bool(from_idle)
        cdef bint pr = (not fi) if preemptible is None else bool(preemptible)
        cdef bint pred = rcu_guest_disjunct(&self.g, &ct.pol, jiffies_at(&self.r.p, self._now(now)),
                                            rcu_gp_in_progress(&self.r.rs), self.r.rs.gp_start, ct.pf_vcpu)
        if cause not in RCU_CAUSES:
            raise ValueError(f"cause={cause!r} unknown; known: {list(RCU_CAUSES)}")
        f = rcu_sched_clock_irq(&self.r, cpu, now, u, fi, pr, pred, RCU_CAUSES.index(cause), rcuc_current)
        return {"rule": RCU_PENDING_RULES[self.r.last_rule], "skip": RCU_SKIP_REASONS[self.r.last_skip],
                "wake_rcuc": bool(f & TK_WAKE_RCUC), "resched": bool(f & TK_RESCHED), "stall": bool(f & TK_STALL)}

    def rcu_core(self, int cpu, long long now):
        """rcu_core() on ``cpu`` (what rcuc/N or RCU_SOFTIRQ runs)."""
        rcu_core(&self.r, self._cpu(cpu), self._now(now))

    def rcuc_run(self, int cpu, long long now):
        """One pass of rcuc/N's loop; True if more work arrived meanwhile."""
        return bool(rcu_rcuc_run(&self.r, self._cpu(cpu), self._now(now)))

    # ---- synchronize_rcu() and the GP kthread
    def sync_call(self, int cpu, long long now, int task=-1):
        """synchronize_rcu() on ``cpu``: returns the waiter slot."""
        cdef s32 w = rcu_sync_call(&self.r, self._cpu(cpu), self._now(now), task)
        if w < 0:
            raise ValueError("more concurrent synchronize_rcu() callers than max_callers")
        return w

    def waiting(self, int w):
        """True while waiter ``w`` has not returned."""
        if not 0 <= w < self.r.nw:
            raise ValueError(f"no waiter {w}")
        return bool(self.r.w[w].queued)

    def gp_kthread(self, long long now):
        """Run what the GP kthread has to do at ``now``."""
        rcu_gp_kthread_run(&self.r, self._now(now))

    def next_gp_wake(self, long long now):
        """When the GP kthread runs next (ns), or None while it waits for a request."""
        cdef s64 t = rcu_gp_next_wake(&self.r, self._now(now))
        return None if t < 0 else t

    def advance(self, long long now):
        """Run the GP kthread at every wake-up due up to ``now``."""
        cdef s64 t
        cdef int guard = 0
        self._now(now)
        while guard < 100000:
            guard += 1
            t = rcu_gp_next_wake(&self.r, now)
            if t < 0 or t > now:
                return
            rcu_gp_kthread_run(&self.r, t)
            if rcu_gp_next_wake(&self.r, t) == t:
                break
        raise RuntimeError("GP kthread did not settle")

    def resched_requests(self):
        """CPUs an FQS scan asked to resched_cpu() since the last call."""
        out = [c for c in range(self.r.ncpu) if self.r.rdp[c].resched_req]
        for c in out:
            self.r.rdp[c].resched_req = 0
        return out

    def done_tasks(self):
        """Tasks of synchronize_rcu() callers that returned since the last call."""
        out = [self.r.done_q[i] for i in range(self.r.done_n)]
        self.r.done_n = 0
        return out

    # ---- statistics
    def stats(self, int cpu):
        """Per-CPU counters (predicate accuracy by cause: ``fp``, ``fn``, ``held``, ``needless``,
        ``wakes_by``, ``fp_ns`` are dicts keyed by RCU_CAUSES)."""
        cdef rcu_cpu_stats_t* s = &self.r.st[self._cpu(cpu)]
        d = {"ticks": s.ticks, "rcuc_wakeups": s.rcuc_wakeups, "core_runs": s.core_runs,
             "qs_local": s.qs_local, "qs_fqs": s.qs_fqs, "forced_ticks": s.forced_ticks,
             "resched_ipis": s.resched_ipis, "urgent_resched": s.urgent_resched, "stall_self": s.stall_self,
             "nohz_expired": s.nohz_expired, "ticks_eval": s.ticks_eval, "pred_true": s.pred_true,
             "tp": s.tp, "tn": s.tn, "obs_overflow": s.obs_overflow,
             "pending": {RCU_PENDING_RULES[i]: s.pending[i] for i in range(RP_N)},
             "skips": {RCU_SKIP_REASONS[i]: s.skips[i] for i in range(SK_N)}}
        for name in ("fp", "fn", "held", "needless", "wakes_by", "fp_ns"):
            d[name] = {}
        for i in range(RC_N):
            c = RCU_CAUSES[i]
            d["fp"][c] = s.fp[i]
            d["fn"][c] = s.fn[i]
            d["held"][c] = s.held[i]
            d["needless"][c] = s.needless[i]
            d["wakes_by"][c] = s.wakes_by[i]
            d["fp_ns"][c] = s.fp_ns[i]
        return d

    def flush(self, long long now):
        """Resolve every pending predicate observation at the end of a run."""
        rcu_obs_flush(&self.r, self._now(now))

    def totals(self):
        """Whole-system counters: GPs, synchronize_rcu() latency, FQS scans, stalls."""
        cdef rcu_sim_t* r = &self.r
        return {"gps_started": r.gps_started, "gps_done": r.gps_done, "gp_ns_sum": r.gp_ns_sum,
                "gp_ns_max": r.gp_ns_max, "sync_calls": r.sync_calls, "sync_done": r.sync_done,
                "sync_ns_sum": r.sync_ns_sum, "sync_ns_max": r.sync_ns_max, "fqs_scans": r.nr_fqs,
                "stall_other": r.stall_other, "gps_held": r.gps_held}

    @property
    def violations(self):
        """Invariant violations seen so far (kind name -> seen) and their count."""
        return {name: bool(self.r.violation_kind >> k & 1) for k, name in enumerate(RCU_INVARIANTS)} | {
            "count": self.r.violations}


# ------------------------------------------------------------------------------ nohz_full tick
TICK_DEP_BITS = {"posix_timer": TICK_DEP_BIT_POSIX_TIMER, "perf_events": TICK_DEP_BIT_PERF_EVENTS,
                 "sched": TICK_DEP_BIT_SCHED, "clock_unstable": TICK_DEP_BIT_CLOCK_UNSTABLE,
                 "rcu": TICK_DEP_BIT_RCU, "rcu_exp": TICK_DEP_BIT_RCU_EXP}


def py_sched_can_stop_tick(*, unsigned int dl=0, unsigned int rt=0, unsigned int rr=0, unsigned int fair=0):
    """``sched_can_stop_tick()``: may a nohz_full CPU with these runnable tasks stop its tick?
    ``rt`` counts every RT task (FIFO and RR), ``rr`` the SCHED_RR ones, ``fair`` the fair
    class's h_nr_queued.

    >>> py_sched_can_stop_tick(fair=1), py_sched_can_stop_tick(fair=2), py_sched_can_stop_tick(rt=2, fair=3)
    (True, False, True)
    >>> py_sched_can_stop_tick(rt=2, rr=2), py_sched_can_stop_tick(dl=1)
    (False, False)
    """
    if rr > rt:
        raise ValueError(f"rr={rr} exceeds rt={rt}")
    return bool(sched_can_stop_tick(dl, rt, rr, fair))


def py_can_stop_full_tick(deps=(), bint sched_ok=True):
    """``can_stop_full_tick()``: no tick dependency (names of ``TICK_DEP_BITS``) and the
    scheduler agrees.

    >>> py_can_stop_full_tick(), py_can_stop_full_tick(["rcu"])
    (True, False)
    """
    cdef unsigned int mask = 0
    for d in deps:
        if d not in TICK_DEP_BITS:
            raise ValueError(f"tick dependency {d!r} unknown; known: {sorted(TICK_DEP_BITS)}")
        mask |= 1u << TICK_DEP_BITS[d]
    return bool(can_stop_full_tick(mask, sched_ok))


def py_tick_timer_in_next_period(long long next_timer_ns, long long last_jiffies_update_ns, long long tick_ns):
    """``tick_nohz_next_event()``'s rule: a timer due within one tick period of the last jiffies
    update keeps a running tick running (-1: no timer).

    >>> py_tick_timer_in_next_period(1_800_000, 1_000_000, 1_000_000)
    True
    >>> py_tick_timer_in_next_period(2_000_001, 1_000_000, 1_000_000), py_tick_timer_in_next_period(-1, 0, 1)
    (False, False)
    """
    return bool(tick_timer_in_next_period(next_timer_ns, last_jiffies_update_ns, tick_ns))
