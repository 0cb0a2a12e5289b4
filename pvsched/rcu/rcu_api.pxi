# pvsched.rcu: the RCU rules of tree.pxd / tree.pxi as Python entry points, for step-by-step
# tests and exploration. They run the same C code the engine runs.

RCU_POLICIES = ("vanilla", "last_exit", "last_exit_reset", "last_exit_sched", "run_loop",
                "run_loop_sched", "patience", "pf_vcpu", "qs_on_exit")
assert len(RCU_POLICIES) == RCUP_N
RCU_POLICY_IDS = {"vanilla": "P0", "last_exit": "P1", "last_exit_reset": "P1'", "last_exit_sched": "P1''",
                  "run_loop": "P2a", "run_loop_sched": "P2", "patience": "X1", "pf_vcpu": "X2",
                  "qs_on_exit": "X3"}
RCU_PENDING_RULES = ("none", "nocb_wake", "skip", "needs_qs", "cbs_ready", "need_gp", "gp_changed")
assert len(RCU_PENDING_RULES) == RP_N
RCU_SKIP_REASONS = ("none", "user", "idle", "policy")
RCU_CAUSES = ("guest_tick", "runloop", "slow_exit", "new_cpu", "user_exit", "user", "hlt_race", "hlt",
              "preempted", "migrated", "terminated", "other")
assert len(RCU_CAUSES) == RC_N
CT_STATES = ("kernel", "idle", "user", "guest")
RCU_INVARIANTS = ("rcu_gp_end_owed", "rcu_report_no_qs", "rcu_sync_early")
assert len(RCU_INVARIANTS) == RV_N
RCU_HOOKS = ("guest_exit", "vcpu_load", "vcpu_put", "kvm_sched_out", "kvm_sched_in")
_U64 = (1 << 64) - 1


def _policy_index(policy):
    if policy not in RCU_POLICIES:
        raise ValueError(f"policy={policy!r} unknown; known: {list(RCU_POLICIES)}")
    return RCU_POLICIES.index(policy)


def _u64(name, v):
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= _U64:
        raise ValueError(f"{name}={v!r} must be an integer in 0..2**64-1")
    return v


def py_time_before(a, b):
    """``time_before(a, b)`` on unsigned long jiffies: ``(long)(a - b) < 0`` (wraps).

    >>> py_time_before(2**64 - 1, 5), py_time_before(5, 5)
    (True, False)
    """
    return bool(time_before(_u64("a", a), _u64("b", b)))


def py_time_after(a, b):
    """``time_after(a, b)``: ``(long)(b - a) < 0``.

    >>> py_time_after(5, 2**64 - 1)
    True
    """
    return bool(time_after(_u64("a", a), _u64("b", b)))


def py_rcu_seq_snap(s):
    """``rcu_seq_snap()``: the gp_seq value that marks the end of the first full GP after now.

    >>> py_rcu_seq_snap(8), py_rcu_seq_snap(9)   # idle: the next GP; in progress: the one after
    (12, 16)
    """
    return rcu_seq_snap(_u64("s", s))


def py_rcu_seq_done(cur, snap):
    """``rcu_seq_done()``: has the GP sequence reached ``snap`` (ULONG_CMP_GE, wraps)?

    >>> py_rcu_seq_done(12, 12), py_rcu_seq_done(11, 12), py_rcu_seq_done(4, 2**64 - 4)
    (True, False, True)
    """
    return bool(rcu_seq_done(_u64("cur", cur), _u64("snap", snap)))


def py_msecs_to_jiffies(long long ms, int hz):
    """``msecs_to_jiffies()``: rounds up.

    >>> py_msecs_to_jiffies(1000, 250), py_msecs_to_jiffies(1, 250), py_msecs_to_jiffies(10, 300)
    (250, 1, 3)
    """
    if not 1 <= hz <= 10000:
        raise ValueError(f"hz={hz} out of range 1..10000")
    return msecs_to_jiffies(ms, hz)


def jiffies_till_force_qs(int hz, int ncpu):
    """Default ``jiffies_till_first_fqs`` / ``jiffies_till_next_fqs`` (rcu_init_geometry).

    >>> jiffies_till_force_qs(1000, 8), jiffies_till_force_qs(250, 8), jiffies_till_force_qs(1000, 512)
    (3, 1, 5)
    """
    return rcu_jiffies_till_force_qs(hz, ncpu)


def jiffies_to_sched_qs(first_fqs, next_fqs, int hz, int ncpu):
    """``adjust_jiffies_till_sched_qs()``: when FQS starts asking a CPU for an urgent QS.

    >>> jiffies_to_sched_qs(3, 3, 1000, 8), jiffies_to_sched_qs(300, 300, 1000, 8)
    (100, 900)
    """
    return rcu_jiffies_to_sched_qs(first_fqs, next_fqs, hz, ncpu)


def py_initial_jiffies(int hz):
    """``INITIAL_JIFFIES``: ``(unsigned long)(unsigned int)(-300*HZ)`` (5 minutes before the
    32-bit wrap; 64-bit jiffies never wrap in practice).

    >>> py_initial_jiffies(1000)
    4294667296
    """
    return initial_jiffies(hz)


def py_rcu_nohz_full_cpu(*, bint nohz_full, bint gp_in_progress, jiffies, gp_start, timeout):
    """``rcu_nohz_full_cpu()``: a nohz_full CPU, and no GP or a GP younger than ``timeout``
    jiffies (the kernel's HZ), compared with ``time_before``.

    >>> py_rcu_nohz_full_cpu(nohz_full=True, gp_in_progress=True, jiffies=1999, gp_start=1000, timeout=1000)
    True
    >>> py_rcu_nohz_full_cpu(nohz_full=True, gp_in_progress=True, jiffies=2000, gp_start=1000, timeout=1000)
    False
    """
    cdef rcu_params_t p
    cdef rcu_state_t rs
    cdef rcu_data_t rdp
    memset(&p, 0, sizeof(p))
    memset(&rs, 0, sizeof(rs))
    memset(&rdp, 0, sizeof(rdp))
    p.nohz_timeout_j = _u64("timeout", timeout)
    rs.gp_seq = 1 if gp_in_progress else 0
    rs.gp_start = _u64("gp_start", gp_start)
    rdp.nohz_full = nohz_full
    return bool(rcu_nohz_full_cpu(&p, &rs, &rdp, _u64("jiffies", jiffies)))


def rcu_pending(*, policy="vanilla", bint nohz_full=True, bint user=False, bint from_idle=False,
                jiffies=0, gp_seq=0, gp_start=0, rdp_gp_seq=None, bint core_needs_qs=False,
                bint cpu_no_qs=True, bint offloaded=True, bint cbs_ready=False, bint cbs_need_gp=False,
                last_guest_exit=0, bint in_guest_run_loop=False, bint pf_vcpu=False, int hz=1000,
                window_jiffies=None, patience_jiffies=0, nohz_full_timeout_jiffies=None):
    """The rule of ``rcu_pending()`` that decides, in the kernel's order (after the stall check):
    ``"skip"`` (the nohz_full shortcut: ``(user || idle || <policy>) && rcu_nohz_full_cpu()``),
    ``"needs_qs"``, ``"cbs_ready"``, ``"need_gp"``, ``"gp_changed"`` or ``"none"``. ``gp_seq`` is
    rcu_state.gp_seq (low two bits = GP in progress), ``rdp_gp_seq`` what this CPU last noted
    (default: the same).

    >>> rcu_pending(gp_seq=5, rdp_gp_seq=4)          # a GP started while the CPU was in the guest
    'gp_changed'
    >>> rcu_pending(policy="run_loop_sched", in_guest_run_loop=True, gp_seq=5, rdp_gp_seq=4)
    'skip'
    >>> rcu_pending(policy="run_loop_sched", in_guest_run_loop=True, gp_seq=5, rdp_gp_seq=4,
    ...             jiffies=1000, gp_start=0)        # the GP is 1 s old at HZ=1000
    'gp_changed'
    """
    cdef rcu_params_t p
    cdef rcu_state_t rs
    cdef rcu_data_t rdp
    cdef ct_cpu_t ct
    memset(&p, 0, sizeof(p))
    memset(&rs, 0, sizeof(rs))
    memset(&rdp, 0, sizeof(rdp))
    memset(&ct, 0, sizeof(ct))
    if not 1 <= hz <= 10000:
        raise ValueError(f"hz={hz} out of range 1..10000")
    p.policy = _policy_index(policy)
    p.hz = hz
    p.window_j = _u64("window_jiffies", hz if window_jiffies is None else window_jiffies)
    p.patience_j = _u64("patience_jiffies", patience_jiffies)
    p.nohz_timeout_j = _u64("nohz_full_timeout_jiffies", hz if nohz_full_timeout_jiffies is None
                            else nohz_full_timeout_jiffies)
    rs.gp_seq = _u64("gp_seq", gp_seq)
    rs.gp_start = _u64("gp_start", gp_start)
    rdp.gp_seq = rs.gp_seq if rdp_gp_seq is None else _u64("rdp_gp_seq", rdp_gp_seq)
    rdp.core_needs_qs = core_needs_qs
    rdp.cpu_no_qs = cpu_no_qs
    rdp.offloaded = offloaded
    rdp.nohz_full = nohz_full
    ct.last_guest_exit = _u64("last_guest_exit", last_guest_exit)
    ct.in_guest_run_loop = in_guest_run_loop
    ct.pf_vcpu = pf_vcpu
    return RCU_PENDING_RULES[rcu_pending_rule(&p, &rs, &rdp, &ct, user, from_idle, _u64("jiffies", jiffies),
                                              cbs_ready, cbs_need_gp)]


def policy_skip(policy, *, jiffies=0, gp_seq=0, gp_start=0, last_guest_exit=0, bint in_guest_run_loop=False,
                bint pf_vcpu=False, int hz=1000, window_jiffies=None, patience_jiffies=0):
    """The policy's own disjunct of the skip clause (before the AND with rcu_nohz_full_cpu()).

    >>> policy_skip("last_exit", jiffies=1999, last_guest_exit=1000)   # W = HZ = 1000 jiffies
    True
    >>> policy_skip("last_exit", jiffies=2000, last_guest_exit=1000)
    False
    >>> policy_skip("patience", jiffies=1100, gp_seq=1, gp_start=1000, patience_jiffies=1000)
    True
    """
    cdef rcu_params_t p
    cdef rcu_state_t rs
    cdef ct_cpu_t ct
    memset(&p, 0, sizeof(p))
    memset(&rs, 0, sizeof(rs))
    memset(&ct, 0, sizeof(ct))
    if not 1 <= hz <= 10000:
        raise ValueError(f"hz={hz} out of range 1..10000")
    p.policy = _policy_index(policy)
    p.window_j = _u64("window_jiffies", hz if window_jiffies is None else window_jiffies)
    p.patience_j = _u64("patience_jiffies", patience_jiffies)
    rs.gp_seq = _u64("gp_seq", gp_seq)
    rs.gp_start = _u64("gp_start", gp_start)
    ct.last_guest_exit = _u64("last_guest_exit", last_guest_exit)
    ct.in_guest_run_loop = in_guest_run_loop
    ct.pf_vcpu = pf_vcpu
    return bool(rcu_policy_disjunct(&p, &rs, &ct, _u64("jiffies", jiffies)))


def policy_hook(policy, hook, *, jiffies=0, last_guest_exit=0, bint in_guest_run_loop=False,
                bint wants_to_run=True):
    """The state a policy leaves after one of KVM's hook points: returns
    ``(last_guest_exit, in_guest_run_loop)``. Hooks: ``guest_exit``, ``vcpu_load``, ``vcpu_put``,
    ``kvm_sched_out``, ``kvm_sched_in``; ``wants_to_run`` is vcpu->wants_to_run (inside KVM_RUN).

    >>> policy_hook("last_exit", "guest_exit", jiffies=77)
    (77, False)
    >>> policy_hook("last_exit_reset", "kvm_sched_out", last_guest_exit=77)   # P1' keeps it
    (77, False)
    >>> policy_hook("run_loop_sched", "kvm_sched_out", in_guest_run_loop=True)
    (0, False)
    """
    cdef rcu_params_t p
    cdef ct_cpu_t ct
    memset(&p, 0, sizeof(p))
    memset(&ct, 0, sizeof(ct))
    p.policy = _policy_index(policy)
    ct.last_guest_exit = _u64("last_guest_exit", last_guest_exit)
    ct.in_guest_run_loop = in_guest_run_loop
    if hook == "guest_exit":
        policy_guest_exit(&p, &ct, _u64("jiffies", jiffies))
    elif hook == "vcpu_load":
        policy_vcpu_load(&p, &ct, wants_to_run)
    elif hook == "vcpu_put":
        policy_vcpu_put(&p, &ct, wants_to_run)
    elif hook == "kvm_sched_out":
        policy_sched_out(&p, &ct, wants_to_run)
    elif hook == "kvm_sched_in":
        policy_sched_in(&p, &ct, wants_to_run)
    else:
        raise ValueError(f"hook={hook!r} unknown; known: {list(RCU_HOOKS)}")
    return ct.last_guest_exit, bool(ct.in_guest_run_loop)


def _ival(kw, name, default, lo, hi):
    v = kw.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{name}={v!r} must be an integer in {lo}..{hi}")
    return v


cdef int rcu_params_fill(rcu_params_t* p, int ncpu, int hz, nohz_full, dict kw) except -1:
    # Kernel defaults and boot-parameter clamping; raises ValueError naming the parameter.
    known = {"policy", "window_jiffies", "patience_ms", "nohz_full_timeout_jiffies", "jiffies_till_first_fqs",
             "jiffies_till_next_fqs", "jiffies_till_sched_qs", "stall_timeout_s", "uptime_s", "use_softirq",
             "normal_wake_from_gp", "horizon_ns"}
    for k in kw:
        if k not in known:
            raise ValueError(f"unknown RCU parameter {k!r}; known: {sorted(known)}")
    if not 1 <= ncpu <= 4096:
        raise ValueError(f"ncpu={ncpu} out of range 1..4096")
    if not 1 <= hz <= 10000:
        raise ValueError(f"hz={hz} out of range 1..10000")
    nohz = sorted(set(int(c) for c in nohz_full))
    if any(not 0 <= c < ncpu for c in nohz):
        raise ValueError(f"nohz_full={list(nohz_full)} names a CPU outside 0..{ncpu - 1}")
    hk = [c for c in range(ncpu) if c not in nohz]
    if not hk:
        raise ValueError("nohz_full must leave at least one housekeeping CPU")
    memset(p, 0, sizeof(rcu_params_t))
    p.hz = hz
    p.tick_ns = 1_000_000_000 // hz
    p.gp_cpu = hk[0]
    p.policy = _policy_index(kw.get("policy", "vanilla"))
    p.use_softirq = bool(kw.get("use_softirq", False))
    p.wake_from_gp = bool(kw.get("normal_wake_from_gp", False))
    p.window_j = _ival(kw, "window_jiffies", hz, 0, 1 << 40)
    p.nohz_timeout_j = _ival(kw, "nohz_full_timeout_jiffies", hz, 0, 1 << 40)
    patience = _ival(kw, "patience_ms", 0, 0, 1 << 31)
    if patience > RCU_PATIENCE_MAX_MS:
        patience = RCU_PATIENCE_MAX_MS
    p.patience_j = msecs_to_jiffies(patience, hz)
    d = rcu_jiffies_till_force_qs(hz, ncpu)
    first = _ival(kw, "jiffies_till_first_fqs", d, 0, 1 << 40)
    nxt = _ival(kw, "jiffies_till_next_fqs", d, 0, 1 << 40)
    p.first_fqs_j = hz if first > hz else first            # param_set_first_fqs_jiffies()
    p.next_fqs_j = hz if nxt > hz else (nxt if nxt else 1)  # param_set_next_fqs_jiffies()
    sched_qs = kw.get("jiffies_till_sched_qs")
    if sched_qs is None:
        p.jtsq = rcu_jiffies_to_sched_qs(p.first_fqs_j, p.next_fqs_j, hz, ncpu)
    else:
        p.jtsq = _ival(kw, "jiffies_till_sched_qs", 0, 0, 1 << 40)
    p.stall_j = rcu_jiffies_till_stall_check(_ival(kw, "stall_timeout_s", 21, 0, 1 << 20), hz)
    p.jiffies_base = initial_jiffies(hz) + <u64>_ival(kw, "uptime_s", 3600, 0, 1 << 30) * hz
    p.horizon_ns = _ival(kw, "horizon_ns", p.next_fqs_j * p.tick_ns, 1, 10**10)
    return 0


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
    cdef object _nohz

    def __cinit__(self):
        memset(&self.r, 0, sizeof(rcu_sim_t))

    def __dealloc__(self):
        rcu_sim_free(&self.r)

    def __init__(self, int ncpu=2, nohz_full=(1,), int hz=1000, int max_callers=64, **params):
        cdef s32 c, cap
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
        return {"hz": p.hz, "tick_ns": p.tick_ns, "gp_cpu": p.gp_cpu, "policy": RCU_POLICIES[p.policy],
                "jiffies_base": p.jiffies_base, "nohz_full_timeout": p.nohz_timeout_j, "window": p.window_j,
                "patience": p.patience_j, "jiffies_till_first_fqs": p.first_fqs_j,
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
                "in_guest_run_loop": bool(ct.in_guest_run_loop), "last_guest_exit": ct.last_guest_exit,
                "pf_vcpu": bool(ct.pf_vcpu), "wants_to_run": bool(ct.wants_to_run)}

    # ---- context tracking and KVM hook points
    def guest_enter(self, int cpu, long long now):
        """VM entry: guest_timing_enter_irqoff() + guest_context_enter_irqoff()."""
        rcu_guest_enter(&self.r, self._cpu(cpu), self._now(now))

    def guest_exit(self, int cpu, long long now, bint irq=False):
        """VM exit: guest_context_exit_irqoff(); with ``irq`` PF_VCPU stays set for the
        interrupt that caused the exit (call ``guest_timing_exit`` after its tick)."""
        rcu_guest_exit(&self.r, self._cpu(cpu), self._now(now))
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
        rcu_vcpu_load(&self.r, self._cpu(cpu), wants_to_run)

    def vcpu_put(self, int cpu):
        rcu_vcpu_put(&self.r, self._cpu(cpu))

    def kvm_sched_out(self, int cpu):
        rcu_kvm_sched_out(&self.r, self._cpu(cpu))

    def kvm_sched_in(self, int cpu, bint wants_to_run=True):
        rcu_kvm_sched_in(&self.r, self._cpu(cpu), wants_to_run)

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
        if cause not in RCU_CAUSES:
            raise ValueError(f"cause={cause!r} unknown; known: {list(RCU_CAUSES)}")
        f = rcu_sched_clock_irq(&self.r, cpu, self._now(now), u, fi, pr, RCU_CAUSES.index(cause), rcuc_current)
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
