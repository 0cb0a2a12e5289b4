# The engine's whole state: every array of a compiled scenario, the clock and the event queue.
# Units receive a Sim* and index its arrays; FairArena comes first so that a FairArena* (all the
# fair class sees) is also the address of its Sim.
from pvsched.sched.calc cimport u64, s64, u32, s32
from pvsched.sched.sched cimport *
from pvsched.kvm.kvm_host cimport vm_t, vcpu_t
from pvsched.guest.workload cimport op_t, rtimer_t
from pvsched.guest.sync cimport glock_t
from pvsched.policies.debooster cimport deboost_params
from pvsched.policies.halted_pelt cimport gth_host_t
from pvsched.guest.hwnoise cimport hwnoise_t
from pvsched.policies.deferred_work cimport vmm_sim
from pvsched.engine.events cimport EventQueue
from pvsched.engine.trace cimport trace_buf
from pvsched.rcu.tree cimport rcu_sim_t
from pvsched.policies.rcu_guest cimport rcu_guest_params

cdef struct Sim:
    FairArena fa        # first: policies/hooks.pxi turns the FairArena* of a PELT update back into its Sim*
    void* owner         # the Engine (borrowed), for Python policies
    int stop            # a Python policy failed: the stop slot (slot_end) is armed at that time
    task_t* task
    s32 ntask
    rq_t* rq
    s32 ncpu            # host pCPUs: rqs [0, ncpu)
    s32 nrq             # all rqs: host then guest (one per vCPU)
    kern_t* kern
    s32 nkern
    vm_t* vm
    s32 nvm
    vcpu_t* vcpu
    s32 nvcpu
    s32* rt_head        # rq * 100 + prio
    s32* rt_tail
    s32 rt_overloaded   # rqs with two or more queued RT tasks (push/pull candidates)
    u64* aff
    u64* idle_mask      # per kernel: bit per rq with nothing current
    op_t* ops
    s32 nops
    rtimer_t* rtimers   # rt-app timer resources (shared by every task that names them)
    s32 nrtimers
    trace_buf trace     # the event trace (engine/trace.pxd), off unless the scenario asks for it
    u32* hist           # ntask * HIST_NBUCKETS; pending increments in hist_buf (engine/hist.pxd)
    u64* hist_buf       # HIST_BATCH cell indices not yet added to hist
    int hist_n
    EventQueue q
    s64 now
    u64 nevents
    s64 ctx_switch_ns
    s64 idle_exit_ns
    s32 n_cstates       # C-states: exit latency of the deepest state whose residency fits the idle time
    s64 cst_residency[8]
    s64 cst_latency[8]
    int host_tick_exits
    int rt_guard
    s64 fs_runtime_ns
    s64 fs_period_ns
    s64 rt_runtime_ns
    s64 rt_period_ns
    s32 rr_ticks
    int check
    int balance         # newly-idle and NOHZ idle-kick load balancing
    int periodic_balance  # busy CPUs' periodic sched_balance_rq (needs balance)
    u8* lb_skip         # per rq: excluded from this balance pass (all its tasks pinned)
    s32* lb_tasks       # scratch: the source rq's fair tasks
    s32* lb_stack       # scratch: entity walk stack / group-entity path (>= entities + groups)
    s64 migration_cost_ns
    u64 nr_balance_pulls
    u64 violations
    u64 violation_kind  # bitmask of invariant kinds seen
    u64 same_n          # events popped so far at the current instant
    u64 same_limit      # more than this at one instant is a livelock: the run stops there
    u8 stalled
    s32 step_depth      # nesting of program_step (zero-time work handing the CPU around)
    # slot bases in the event queue
    s32 slot_tick       # + rq
    s32 slot_burst      # + rq
    s32 slot_fs         # + host rq
    s32 slot_rt         # + host rq
    s32 slot_vcpu       # + vcpu
    s32 slot_vbudget    # + vcpu (bounded-boost budget timer)
    s32 slot_task       # + task
    # guest synchronisation (guest/sync.pxi)
    glock_t* locks
    s32 nlocks
    s32* ipi_ring
    u32* vm_hist        # nvm * HIST_NBUCKETS: IPI round-trip latency
    u32* vm_lhist       # nvm * HIST_NBUCKETS: contended lock wait
    s32 slot_spin       # + vcpu: spin segment end (PLE window / PV threshold)
    s32 slot_irq        # + vcpu: guest IPI handler end
    s32 slot_rcu        # the RCU GP kthread; + 1 + host CPU: the idle task's ct_cpuidle_enter (rcu/)
    s32 slot_aff        # + vcpu: the VMM re-pins the vCPU thread (kvm/userspace.pxi)
    s32 slot_end        # the stop slot, after every other slot
    deboost_params dbst # the vCPU debooster in yield_to_task_fair (policies/debooster.pxd)
    rcu_sim_t* rcu      # RCU on the host (rcu/), NULL when not modelled
    rcu_guest_params rcug   # the host's RCU guest policy (policies/rcu_guest.pxd)
    gth_host_t gth      # guest halted time and halted-aware PELT (policies/halted_pelt.pxd)
    hwnoise_t* hw       # per task rtla-hwnoise state, NULL without OP_HWNOISE (guest/hwnoise.pxd)
    vmm_sim vmm         # VMM deferred work (policies/deferred_work.pxd); its arrival slots follow slot_end
    u8 idle_paths       # some VM takes the MWAIT / userspace-exit paths (kvm/mwait.pxi, kvm/userspace.pxi)
    u64 ys_host[48]     # YS_* counters for yields by host tasks

