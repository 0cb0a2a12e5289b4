# Python policies (the sched_ext idea): a pvsched.Policy object attached to a VM or to the host
# has its methods called at the hook points it implements (kern_t.py_hooks). Only there is the GIL
# taken; a run without a Python policy never reaches this file. An exception inside a method stops
# the run at the current simulated time (the events already due then finish) and Engine.run
# raises it as a PolicyError.

from pvsched.errors import PolicyError


cdef class HookContext:
    """What a Python hook sees: the point, its arguments and read access to the relevant state,
    plus the few actions a policy may take. One object per engine, refilled for every call: do not
    keep it (or values read from it) beyond the call.

    Attributes (``None`` where the point has no such argument): ``point`` (hook name), ``now``
    (simulated ns), ``vm`` (VM index, ``None`` for the host), ``vcpu`` (vCPU index within the VM),
    ``reason`` (exit reason name, ``vcpu_exit``), ``cause`` (``kick``: ``"timer"``, ``"intr"``,
    ``"unhalt"``), ``target`` (``ipi``: receiving vCPU), ``unicast``, ``task`` (task index),
    ``cpu`` (runqueue index), ``local`` (``guest_enqueue``: the waking CPU's runqueue or -1/-2),
    ``mode`` (``vcpu_mode``: the new mode), ``candidate`` and ``round`` (``spin``), ``yielded`` and
    ``exhausted`` (``spin_next_round``), ``cfs_rq`` and ``entity`` (``pelt_update``), ``kind``
    (``kvm_run_leave``: ``"hlt"``, ``"mwait"``, ``"other"``), ``cpu`` and ``task`` (``context_switch``:
    the runqueue and the task switched out, -1 for idle).
    """
    cdef Sim* s
    cdef int _point
    cdef s32 _kern
    cdef s32 _v
    cdef s64 _a
    cdef s64 _b
    cdef s64 _c

    cdef void _set(self, Sim* s, int point, s32 kern, s32 v, s64 a, s64 b, s64 c):
        self.s = s
        self._point = point
        self._kern = kern
        self._v = v
        self._a = a
        self._b = b
        self._c = c

    cdef int _bit(self):
        cdef int i = 0
        while (1 << i) != self._point:
            i += 1
        return i

    @property
    def point(self):
        if self._point == -1:
            return "spin_next_round"
        return HOOK_NAMES[self._bit()]

    @property
    def now(self):
        return self.s.now

    @property
    def vm(self):
        return None if self._kern == 0 else self._kern - 1

    @property
    def vcpu(self):
        if self._v < 0:
            return None
        return self._v - self.s.vm[self.s.vcpu[self._v].vm].vcpu_base

    def _arg(self, int which, points):
        if self.point not in points:
            return None
        return (self._a, self._b, self._c)[which]

    @property
    def reason(self):
        r = self._arg(0, ("vcpu_exit",))
        return None if r is None else EXIT_REASONS[r]

    @property
    def kind(self):
        r = self._arg(0, ("kvm_run_leave",))
        return None if r is None else ("hlt", "mwait", "other")[r]

    @property
    def cause(self):
        r = self._arg(0, ("kick",))
        return None if r is None else KICK_CAUSES[r]

    @property
    def target(self):
        r = self._arg(0, ("ipi",))
        return None if r is None else r - self.s.vm[self.s.vcpu[self._v].vm].vcpu_base

    @property
    def unicast(self):
        r = self._arg(1, ("ipi",))
        return None if r is None else bool(r)

    @property
    def task(self):
        r = self._arg(0, ("guest_switch", "guest_enqueue"))
        if r is None:
            r = self._arg(1, ("yield_to", "context_switch"))
        return r

    @property
    def cpu(self):
        r = self._arg(0, ("tick", "yield_to", "context_switch"))
        if r is None and self.point == "guest_enqueue":
            r = self.s.vcpu[self._v].rq
        return r

    @property
    def local(self):
        return self._arg(1, ("guest_enqueue",))

    @property
    def mode(self):
        r = self._arg(0, ("vcpu_mode",))
        return None if r is None else VCPU_MODES[r - 1]

    @property
    def candidate(self):
        return self._arg(0, ("spin",))

    @property
    def round(self):
        r = self._arg(1, ("spin",))
        return self._a if self._point == -1 else r

    @property
    def yielded(self):
        return self._b if self._point == -1 else None

    @property
    def exhausted(self):
        return bool(self._c) if self._point == -1 else None

    @property
    def cfs_rq(self):
        return self._arg(0, ("pelt_update",))

    @property
    def entity(self):
        r = self._arg(1, ("pelt_update",))
        return None if r is None or r < 0 else r

    def vcpu_state(self, vcpu=None):
        """Flags of a vCPU of this VM (default: the hook's own vCPU), as KVM and the scheduler
        see them now."""
        cdef Sim* s = self.s
        cdef vm_t* vm
        cdef vcpu_t* c
        if self._kern == 0:
            raise ValueError("vcpu_state: this hook runs for the host, not a VM")
        vm = &s.vm[self._kern - 1]
        i = self.vcpu if vcpu is None else vcpu
        if not isinstance(i, int) or not 0 <= i < vm.nvcpu:
            raise ValueError(f"vcpu_state: no vCPU {vcpu!r} in this VM")
        c = &s.vcpu[vm.vcpu_base + i]
        return {"mode": VCPU_MODES[c.mode - 1] if c.mode else "off", "preempted": bool(c.preempted),
                "preempted_in_kernel": bool(c.preempted_in_kernel), "ready": bool(c.ready),
                "blocking": bool(c.blocking), "pending_irq": bool(c.pending_irq),
                "pending_interrupt": bool(vcpu_has_pending_interrupt(vm, c)),
                "in_spin_loop": bool(c.in_spin_loop), "host_cpu": c.host_cpu, "task": c.task,
                "boosted": c.boost.status == VCPU_BOOST_BOOSTED}

    def count(self, str name, long long n=1):
        """Add ``n`` to one of this VM's (or the host's) per-VM counters (``Result.vms`` columns,
        e.g. ``"ipi_tracked"``), as a built-in policy would."""
        cdef u64* ys
        if name not in YS_NAMES:
            raise ValueError(f"count: unknown counter {name!r}; known: {YS_NAMES}")
        if self._kern == 0:
            ys = &self.s.ys_host[0]
        else:
            ys = &self.s.vm[self._kern - 1].ys[0]
        ys[YS_NAMES.index(name)] += <u64>n

    def set_vcpu_sched(self, vcpu, str policy, int priority=0):
        """Move a vCPU thread of this VM to ``"fifo"``/``"rr"`` at ``priority`` (a boost) or back to
        ``"normal"`` (sched_setscheduler). Only at ``vcpu_exit``, ``vcpu_enter``, ``kick`` and
        ``halt``, where KVM itself may do it."""
        cdef Sim* s = self.s
        cdef vm_t* vm
        cdef s32 v
        if self.point not in ("vcpu_exit", "vcpu_enter", "kick", "halt"):
            raise ValueError(f"set_vcpu_sched is not allowed at {self.point!r}")
        vm = &s.vm[self._kern - 1]
        if not isinstance(vcpu, int) or not 0 <= vcpu < vm.nvcpu:
            raise ValueError(f"set_vcpu_sched: no vCPU {vcpu!r} in this VM")
        v = vm.vcpu_base + vcpu
        if policy == "normal":
            task_setscheduler(s, s.vcpu[v].task, CLS_FAIR, POLICY_NORMAL, 0)
        elif policy in ("fifo", "rr") and 1 <= priority <= 99:
            task_setscheduler(s, s.vcpu[v].task, CLS_RT, POLICY_FIFO if policy == "fifo" else POLICY_RR, priority)
        else:
            raise ValueError(f"set_vcpu_sched: policy {policy!r} / priority {priority} invalid")


cdef int py_hook(Sim* s, int point, kern_t* k, s32 v, s64 a, s64 b) noexcept nogil:
    # The Python policy attached to kernel k implements `point`: call it with the GIL.
    with gil:
        return _py_call(s, point, <s32>(k - s.kern), v, a, b, 0)

cdef int py_spin_next_round(Sim* s, kern_t* k, s32 me, int rnd, int yielded, bint exhausted) noexcept nogil:
    if not (k.py_hooks & HOOK_ON_SPIN):
        return -1
    with gil:
        return _py_call(s, -1, <s32>(k - s.kern), me, rnd, yielded, exhausted)

cdef int _py_call(Sim* s, int point, s32 kern, s32 v, s64 a, s64 b, s64 c) noexcept:
    cdef Engine eng = <Engine>s.owner
    cdef HookContext ctx
    if eng._py_error is not None:
        return -1 if point == -1 or point == HOOK_ON_SPIN else 0
    ctx = eng._ctx
    ctx._set(s, point, kern, v, a, b, c)
    try:
        if point == -1:
            meth = eng._py_methods[kern].get("spin_next_round")
            if meth is None:
                return -1
            r = meth(ctx)
            if r is None:
                return -1
            if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < 1 << 20:
                raise ValueError(f"spin_next_round must return a round number >= 0 or None, not {r!r}")
            return r
        meth = eng._py_methods[kern][ctx.point]
        r = meth(ctx)
        if point == HOOK_ON_SPIN:
            if r is None:
                return CAND_SKIP
            if r not in CANDIDATE_KINDS:
                raise ValueError(f"on_spin must return one of {CANDIDATE_KINDS} or None, not {r!r}")
            return CANDIDATE_KINDS.index(r)
        if point == HOOK_GUEST_IDLE:
            return 1 if r else 0
        return 0
    except BaseException as e:
        eng._py_error = (e, ctx.point, kern, s.now)
        if not s.stop:
            s.stop = 1
            ev_arm(&s.q, s.slot_end, s.now)     # run_loop stops when it pops this slot
        return -1 if point == -1 or point == HOOK_ON_SPIN else 0


cdef int attach_python_policy(Engine eng, s32 kk, policy) except -1:
    # Which points the object implements: its methods named on_<point> (and spin_next_round).
    cdef Sim* s = &eng.s
    from pvsched.policies.policy import Policy
    if policy is None:
        return 0
    if not isinstance(policy, Policy):
        raise TypeError(f"a Python policy must be a pvsched.Policy, not {type(policy).__name__}")
    methods = {}
    for bit, name in enumerate(HOOK_NAMES):
        fn = getattr(type(policy), "on_" + name, None)
        if fn is not None and fn is not getattr(Policy, "on_" + name):
            if name in ("kick", "guest_irq", "halt", "spin", "ipi", "sched_in", "sched_out", "vcpu_mode", "guest_switch",
                        "guest_enqueue", "guest_idle", "kvm_run", "vcpu_exit", "vcpu_enter", "kvm_run_leave") and kk == 0:
                raise ValueError(f"{type(policy).__name__}.on_{name}: a vCPU hook needs the policy on a VM, not the host")
            if name == "yield_to" and kk != 0:
                raise ValueError(f"{type(policy).__name__}.on_yield_to: yield_to runs in the host; attach it to the host")
            methods[name] = getattr(policy, "on_" + name)
            s.kern[kk].py_hooks |= 1 << bit
    if type(policy).spin_next_round is not Policy.spin_next_round:
        if "spin" not in methods:
            raise ValueError(f"{type(policy).__name__}.spin_next_round needs on_spin too")
        methods["spin_next_round"] = policy.spin_next_round
    eng._py_methods[kk] = methods
    return 0
