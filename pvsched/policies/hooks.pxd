# Hook points: the fixed places where the mechanisms (sched/, kvm/, guest/) let policies act.
#
# Each kernel (0 = host, k = the guest kernel of VM k-1) has a mask of the points something is
# attached to (kern_t.hooks), with fast copies where the call site has them at hand
# (vcpu_t.hooks for the vCPU points; FairArena.pelt_hooks, any kernel, for the PELT point, whose
# dispatcher then looks at the cfs_rq's kernel). A call site is an inline
# mask test; only when the bit is set does it call the point's dispatcher (policies/hooks.pxi),
# which runs the attached built-in policies (kern_t.policies, POL_*) in C and then, if one is
# attached, the Python policy (kern_t.py_hooks). ARCHITECTURE.md lists every point.

cdef enum:
    # vCPU points (vcpu_t.hooks; the kernel is the VM's guest kernel)
    HOOK_VCPU_EXIT = 1 << 0         # vcpu_exit(v, reason): after the exit is handled and its cost armed
    HOOK_VCPU_ENTER = 1 << 1        # vcpu_enter(v): guest mode begins, before pending events are taken
    HOOK_KICK = 1 << 2              # an interrupt for a vCPU not in guest mode, or injected without posting (cause KICK_*)
    HOOK_GUEST_IRQ = 1 << 3         # the guest takes an interrupt in guest mode (irqentry/irqexit); True = it exited
    HOOK_HALT = 1 << 4              # kvm_vcpu_block: before the vCPU thread sleeps
    HOOK_ON_SPIN = 1 << 5           # kvm_vcpu_on_spin: classify candidates and choose the scan rounds
    HOOK_IPI = 1 << 6               # KVM delivers a fixed IPI (the ICR write trapped: no IPI virtualization)
    HOOK_SCHED_IN = 1 << 7          # kvm_sched_in: the vCPU thread got a pCPU
    HOOK_SCHED_OUT = 1 << 8         # kvm_sched_out: the vCPU thread lost its pCPU (preempted or blocked)
    HOOK_VCPU_MODE = 1 << 9         # the vCPU changes mode (before the time in the old mode is charged), and at read-out
    HOOK_GUEST_SWITCH = 1 << 10     # a guest task returns to user on a vCPU (after __schedule or re-entry); True = exited
    HOOK_GUEST_ENQUEUE = 1 << 11    # try_to_wake_up enqueued a guest task on a vCPU's runqueue
    HOOK_GUEST_IDLE = 1 << 12       # the guest idles in guest mode (about to execute HLT/MWAIT); True = handled
    HOOK_KVM_RUN = 1 << 13          # the vCPU thread enters KVM_RUN: when it starts, and after each return to userspace
    # kernel points (kern_t.hooks of the CPU's kernel; host or guest)
    HOOK_TICK = 1 << 14             # the scheduler tick on a CPU, after its interrupt is delivered
    HOOK_YIELD_TO = 1 << 15         # yield_to_task_fair, between set_next_buddy and yield_task_fair
    HOOK_PELT = 1 << 16             # a PELT signal (entity or cfs_rq) is about to be brought up to now; a policy may do it
    HOOK_KVM_RUN_LEAVE = 1 << 17    # vCPU point: KVM_RUN returned to userspace (and again after VMM work there)
    HOOK_CONTEXT_SWITCH = 1 << 18   # kernel point: a CPU switches from one task to another (or idle)
    HOOK_NPOINTS = 19
    # HOOK_KICK causes
    KICK_TIMER = 0                  # LAPIC timer expiry for a halted / polling vCPU
    KICK_INTR = 1                   # interrupt or IPI that needs a kick or an injection at entry
    KICK_UNHALT = 2                 # PV unhalt (KVM_HC_KICK_CPU)
    # built-in policies (kern_t.policies)
    POL_BOOST = 1 << 0
    POL_DEBOOSTER = 1 << 1
    POL_IPI_AWARE_YIELD = 1 << 2
    POL_HALTED_PELT = 1 << 3
    POL_TRACE = 1 << 4              # the event trace (engine/trace.pxi) records the vCPU points
    TRACE_POINTS = HOOK_VCPU_EXIT | HOOK_VCPU_ENTER | HOOK_KICK | HOOK_VCPU_MODE | HOOK_SCHED_OUT
    POL_DEFERRED_WORK = 1 << 5
    POL_RCU_GUEST = 1 << 6
    # kvm_vcpu_on_spin candidate classes (the stock rule gives CAND_VANILLA)
    CAND_VANILLA = 0
    CAND_IPI = 1
    CAND_PENDING = 2
    CAND_KERNEL = 3
    CAND_RELAXED = 4
    CAND_SKIP = -1
