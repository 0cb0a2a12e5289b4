# pvsched.rcu: the RCU rules of rcu/tree.pxd and the guest policies' (policies/rcu_guest.pxd) as
# Python entry points, for step-by-step tests and exploration; they run the engine's C code.
# RcuMachine (rcu/machine.pxi) drives the whole unit.

RCU_POLICIES = RCU_GUEST_MODES
RCU_POLICY_IDS = RCU_GUEST_IDS
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
#: The ``event`` field of the trace's "rcu" records (kind 32) and what ``value`` holds.
RCU_TRACE_EVENTS = ("gp_start", "gp_end", "qs", "qs_fqs", "fqs", "stall", "forced_tick", "resched", "wake", "skip")
RCU_TRACE_VALUES = ("gp_seq", "GP duration ns", "GP start -> report ns", "GP start -> report ns",
                    "1 = first scan of the GP", "1 = self-detected", "", "", "rcu_pending() rule (RCU_PENDING_RULES)",
                    "skip reason (RCU_SKIP_REASONS) * 16 + cause (RCU_CAUSES)")
assert len(RCU_TRACE_EVENTS) == len(RCU_TRACE_VALUES) == RTE_N
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
    cdef bint pred
    cdef u64 j = _u64("jiffies", jiffies)
    memset(&p, 0, sizeof(p))
    memset(&rs, 0, sizeof(rs))
    memset(&rdp, 0, sizeof(rdp))
    if not 1 <= hz <= 10000:
        raise ValueError(f"hz={hz} out of range 1..10000")
    p.hz = hz
    p.nohz_timeout_j = _u64("nohz_full_timeout_jiffies", hz if nohz_full_timeout_jiffies is None
                            else nohz_full_timeout_jiffies)
    rs.gp_seq = _u64("gp_seq", gp_seq)
    rs.gp_start = _u64("gp_start", gp_start)
    rdp.gp_seq = rs.gp_seq if rdp_gp_seq is None else _u64("rdp_gp_seq", rdp_gp_seq)
    rdp.core_needs_qs = core_needs_qs
    rdp.cpu_no_qs = cpu_no_qs
    rdp.offloaded = offloaded
    rdp.nohz_full = nohz_full
    pred = policy_skip(policy, jiffies=j, gp_seq=gp_seq, gp_start=gp_start, last_guest_exit=last_guest_exit,
                       in_guest_run_loop=in_guest_run_loop, pf_vcpu=pf_vcpu, hz=hz, window_jiffies=window_jiffies,
                       patience_jiffies=patience_jiffies)
    return RCU_PENDING_RULES[rcu_pending_rule(&p, &rs, &rdp, user, from_idle, pred, j, cbs_ready, cbs_need_gp)]


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
    cdef rcu_guest_params p
    cdef rcu_guest_cpu c
    memset(&p, 0, sizeof(p))
    memset(&c, 0, sizeof(c))
    if not 1 <= hz <= 10000:
        raise ValueError(f"hz={hz} out of range 1..10000")
    p.mode = _policy_index(policy)
    p.window_j = _u64("window_jiffies", hz if window_jiffies is None else window_jiffies)
    p.patience_j = _u64("patience_jiffies", patience_jiffies)
    c.last_guest_exit = _u64("last_guest_exit", last_guest_exit)
    c.in_guest_run_loop = in_guest_run_loop
    return bool(rcu_guest_disjunct(&p, &c, _u64("jiffies", jiffies), rcu_seq_state(_u64("gp_seq", gp_seq)) != 0,
                                   _u64("gp_start", gp_start), pf_vcpu))


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
    cdef rcu_guest_params p
    cdef rcu_guest_cpu c
    memset(&p, 0, sizeof(p))
    memset(&c, 0, sizeof(c))
    p.mode = _policy_index(policy)
    c.last_guest_exit = _u64("last_guest_exit", last_guest_exit)
    c.in_guest_run_loop = in_guest_run_loop
    if hook == "guest_exit":
        rcu_guest_on_exit(&p, &c, _u64("jiffies", jiffies))
    elif hook == "vcpu_load":
        rcu_guest_on_vcpu_load(&p, &c, wants_to_run)
    elif hook == "vcpu_put":
        rcu_guest_on_vcpu_put(&p, &c, wants_to_run)
    elif hook == "kvm_sched_out":
        rcu_guest_on_sched_out(&p, &c, wants_to_run)
    elif hook == "kvm_sched_in":
        rcu_guest_on_sched_in(&p, &c, wants_to_run)
    else:
        raise ValueError(f"hook={hook!r} unknown; known: {list(RCU_HOOKS)}")
    return c.last_guest_exit, bool(c.in_guest_run_loop)


def _ival(kw, name, default, lo, hi):
    v = kw.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ValueError(f"{name}={v!r} must be an integer in {lo}..{hi}")
    return v


cdef int rcu_guest_params_fill(rcu_guest_params* g, int hz, dict kw) except -1:
    # The guest policy's parameters: mode, W (default HZ), patience (ms, capped at 5 s, rounded
    # up to jiffies as msecs_to_jiffies does). Consumes its keys from kw.
    memset(g, 0, sizeof(rcu_guest_params))
    g.mode = _policy_index(kw.pop("policy", "vanilla"))
    g.window_j = _ival(kw, "window_jiffies", hz, 0, 1 << 40)
    kw.pop("window_jiffies", None)
    patience = _ival(kw, "patience_ms", 0, 0, 1 << 31)
    kw.pop("patience_ms", None)
    if patience > RCU_PATIENCE_MAX_MS:
        patience = RCU_PATIENCE_MAX_MS
    g.patience_j = msecs_to_jiffies(patience, hz)
    return 0


cdef int rcu_params_fill(rcu_params_t* p, int ncpu, int hz, nohz_full, dict kw) except -1:
    # Kernel defaults and boot-parameter clamping; raises ValueError naming the parameter.
    known = {"nohz_full_timeout_jiffies", "jiffies_till_first_fqs",
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
    p.use_softirq = bool(kw.get("use_softirq", False))
    p.wake_from_gp = bool(kw.get("normal_wake_from_gp", False))
    p.nohz_timeout_j = _ival(kw, "nohz_full_timeout_jiffies", hz, 0, 1 << 40)
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


