# RCU guest policies: what the host's rcu_pending() may skip on a nohz_full CPU that runs a
# guest, and the per-CPU state each policy keeps at KVM's hook points. Code:
# policies/rcu_guest.pxi; configuration: policies/rcu_guest.py.
#
# Each policy adds one disjunct to the nohz_full shortcut,
#     (user || rcu_is_cpu_rrupt_from_idle() || <disjunct>) && rcu_nohz_full_cpu(),
# evaluated at the host tick (the tick hook point). The per-CPU state lives in the CPU's context
# tracking (rcu/tree.pxd ct_cpu_t.pol), where the run-loop flag was proposed to live.
from pvsched.sched.calc cimport u64, s64, u32, s32
from libc.stdint cimport uint8_t

cdef enum:
    RCUP_VANILLA = 0            # mainline: no extra disjunct
    RCUP_LAST_EXIT = 1          # time_before(jiffies, last_guest_exit + W)
    RCUP_LAST_EXIT_RESET = 2    # as LAST_EXIT, the timestamp zeroed at vcpu_load / vcpu_put
    RCUP_LAST_EXIT_SCHED = 3    # as LAST_EXIT_RESET, also zeroed at kvm_sched_out
    RCUP_RUN_LOOP = 4           # in_guest_run_loop: set at vcpu_load, cleared at vcpu_put (wants_to_run)
    RCUP_RUN_LOOP_SCHED = 5     # as RUN_LOOP, also cleared at kvm_sched_out and set at kvm_sched_in
    RCUP_PATIENCE = 6           # GP in progress and younger than nohz_full_patience_delay
    RCUP_PF_VCPU = 7            # the interrupted task has PF_VCPU
    RCUP_QS_ON_EXIT = 8         # no disjunct: rcu_virt_note_context_switch() at guest exit
    RCUP_N = 9

cdef struct rcu_guest_params:
    uint8_t mode                # RCUP_*
    u64 window_j                # LAST_EXIT family: W (jiffies)
    u64 patience_j              # PATIENCE: msecs_to_jiffies(nohz_full_patience_delay)

cdef struct rcu_guest_cpu:
    u64 last_guest_exit         # kvm_last_guest_exit (jiffies; 0 = reset)
    uint8_t in_guest_run_loop   # context_tracking.in_guest_run_loop

cdef inline bint rcu_guest_last_exit_family(uint8_t mode) noexcept nogil:
    return mode == RCUP_LAST_EXIT or mode == RCUP_LAST_EXIT_RESET or mode == RCUP_LAST_EXIT_SCHED

cdef inline bint rcu_guest_disjunct(rcu_guest_params* p, rcu_guest_cpu* c, u64 j, bint gp_in_progress,
                                    u64 gp_start, bint pf_vcpu) noexcept nogil:
    # The policy's disjunct at a tick: `j` is jiffies, gp_start the GP's start (jiffies).
    if rcu_guest_last_exit_family(p.mode):
        return <s64>(j - (c.last_guest_exit + p.window_j)) < 0         # time_before()
    if p.mode == RCUP_RUN_LOOP or p.mode == RCUP_RUN_LOOP_SCHED:
        return c.in_guest_run_loop != 0
    if p.mode == RCUP_PATIENCE:
        return gp_in_progress and <s64>(j - (gp_start + p.patience_j)) < 0
    if p.mode == RCUP_PF_VCPU:
        return pf_vcpu
    return False

# The state each policy leaves at each hook point (vanilla KVM changes none of it).
cdef inline void rcu_guest_on_exit(rcu_guest_params* p, rcu_guest_cpu* c, u64 j) noexcept nogil:
    # guest_context_exit_irqoff(): the LAST_EXIT family records the exit time.
    if rcu_guest_last_exit_family(p.mode):
        c.last_guest_exit = j

cdef inline void rcu_guest_on_vcpu_load(rcu_guest_params* p, rcu_guest_cpu* c, bint wants_to_run) noexcept nogil:
    if p.mode == RCUP_LAST_EXIT_RESET or p.mode == RCUP_LAST_EXIT_SCHED:
        c.last_guest_exit = 0
    elif (p.mode == RCUP_RUN_LOOP or p.mode == RCUP_RUN_LOOP_SCHED) and wants_to_run:
        c.in_guest_run_loop = 1

cdef inline void rcu_guest_on_vcpu_put(rcu_guest_params* p, rcu_guest_cpu* c, bint wants_to_run) noexcept nogil:
    if p.mode == RCUP_LAST_EXIT_RESET or p.mode == RCUP_LAST_EXIT_SCHED:
        c.last_guest_exit = 0
    elif (p.mode == RCUP_RUN_LOOP or p.mode == RCUP_RUN_LOOP_SCHED) and wants_to_run:
        c.in_guest_run_loop = 0

cdef inline void rcu_guest_on_sched_out(rcu_guest_params* p, rcu_guest_cpu* c, bint wants_to_run) noexcept nogil:
    # kvm_sched_out(): preemption, yield or blocking (HLT) of a loaded vCPU.
    if p.mode == RCUP_LAST_EXIT_SCHED:
        c.last_guest_exit = 0
    elif p.mode == RCUP_RUN_LOOP_SCHED and wants_to_run:
        c.in_guest_run_loop = 0

cdef inline void rcu_guest_on_sched_in(rcu_guest_params* p, rcu_guest_cpu* c, bint wants_to_run) noexcept nogil:
    if p.mode == RCUP_RUN_LOOP_SCHED and wants_to_run:
        c.in_guest_run_loop = 1

cdef struct rcu_guest_vcpu:
    uint8_t load_pending        # KVM_RUN began before the thread got a pCPU: vcpu_load at its sched_in
