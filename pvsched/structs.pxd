# Data layout of the engine: arrays of C structs indexed by small integers.
# One fair-class implementation serves host and guest kernels; `kparams` says which kernel a
# cfs_rq belongs to (host, or guest k), so rules and tunables can differ per kernel.
from libc.stdint cimport uint64_t, int64_t, uint32_t, int32_t, uint8_t, uint16_t
from pvsched.calc cimport u64, s64, u32, s32, load_weight
from pvsched.pelt cimport sched_avg

ctypedef uint8_t u8

# Fair feature bits (kernel/sched/features.h, v6.15 defaults marked *).
cdef enum:
    F_PLACE_LAG = 1 << 0              # *
    F_PLACE_DEADLINE_INITIAL = 1 << 1 # *
    F_PLACE_REL_DEADLINE = 1 << 2     # *
    F_RUN_TO_PARITY = 1 << 3          # *
    F_PREEMPT_SHORT = 1 << 4          # *
    F_NEXT_BUDDY = 1 << 5
    F_PICK_BUDDY = 1 << 6             # *
    F_DELAY_DEQUEUE = 1 << 7          # *
    F_DELAY_ZERO = 1 << 8             # *
    F_WAKEUP_PREEMPTION = 1 << 9      # *
    F_YIELD_FORFEIT = 1 << 10         # v6.18+/6.12.63: yield forfeits vruntime (off in v6.15)
    F_REWEIGHT_INPLACE = 1 << 17      # v6.8-v6.13 and the 2026 revert: rescale around V, no re-placement
    # CFS (v6.5) features, defaults marked *
    F_GENTLE_FAIR_SLEEPERS = 1 << 11  # *
    F_START_DEBIT = 1 << 12           # *
    F_LAST_BUDDY = 1 << 13            # *
    F_CACHE_HOT_BUDDY = 1 << 14       # *
    F_ALT_PERIOD = 1 << 15            # *
    F_BASE_SLICE = 1 << 16            # *

# enqueue / dequeue flags (sched.h)
cdef enum:
    DEQUEUE_SLEEP = 0x01
    DEQUEUE_SAVE = 0x02
    DEQUEUE_MOVE = 0x04
    DEQUEUE_SPECIAL = 0x10
    DEQUEUE_MIGRATING = 0x100
    DEQUEUE_DELAYED = 0x200
    ENQUEUE_WAKEUP = 0x01
    ENQUEUE_RESTORE = 0x02
    ENQUEUE_MOVE = 0x04
    ENQUEUE_INITIAL = 0x80
    ENQUEUE_MIGRATED = 0x40000
    ENQUEUE_DELAYED = 0x200

# update_load_avg flags
cdef enum:
    UPDATE_TG = 0x1
    SKIP_AGE_LOAD = 0x2
    DO_ATTACH = 0x4
    DO_DETACH = 0x8

# rq->resched bits: a lazy request waits for the next tick or the next local kernel entry/exit.
cdef enum:
    RESCHED_LAZY = 1
    RESCHED_NOW = 2

cdef struct kparams:
    u64 base_slice_ns       # sysctl_sched_base_slice after CPU-count scaling
    u64 tick_nsec           # TICK_NSEC = 1e9 / HZ
    u32 features
    int lazy                # PREEMPT_LAZY: fair resched requests are lazy
    # CFS (Linux v6.5) instead of EEVDF: sysctls after CPU-count scaling
    int cfs
    u64 sched_latency_ns
    u64 min_granularity_ns
    u64 wakeup_granularity_ns
    u32 nr_latency

cdef struct sched_entity:
    load_weight load
    s32 left                # augmented tree links (entity indices), -1 = none
    s32 right
    s32 tparent
    u32 prio                # treap priority (deterministic hash of the index)
    u64 deadline
    u64 min_vruntime        # subtree augment
    u64 min_slice           # subtree augment
    u64 vruntime
    s64 vlag                # V - v_i; while curr (v6.15) doubles as the slice-protection marker
    u64 slice
    u64 exec_start
    u64 sum_exec_runtime
    u64 prev_sum_exec_runtime
    u8 on_rq
    u8 sched_delayed
    u8 rel_deadline
    u8 custom_slice
    u8 idle                 # SCHED_IDLE task or idle group
    s32 depth
    s32 parent              # parent group entity, -1 at the top
    s32 cfs_rq              # queue this entity sits on
    s32 my_q                # queue a group entity owns, -1 for a task
    s32 task                # owning task, -1 for a group entity
    u64 runnable_weight     # group: my_q.h_nr_runnable
    sched_avg avg

cdef struct cfs_rq_t:
    load_weight load        # sum of queued entities' load.weight (curr and delayed included)
    u32 nr_queued
    u32 h_nr_queued
    u32 h_nr_runnable
    u32 h_nr_idle
    s64 avg_vruntime        # S = sum over tree entities of key * w
    s64 avg_load            # W = sum over tree entities of w
    u64 min_vruntime        # v0 (v6.15: monotonic)
    s32 root
    s32 curr
    s32 next
    s32 last                # CFS buddies (v6.5): last and skip
    s32 skip
    s32 kern                # index into Sim.kp
    s32 cpu                 # rq index (for resched requests and the clock)
    s32 tg                  # task group, -1 for a guest root queue without groups
    s32 se                  # group entity owning this queue, -1 for a root queue
    u8 idle_group
    sched_avg avg
    u64 tg_load_avg_contrib
    u64 last_update_tg_load_avg
    u64 h_load              # hierarchical load (update_cfs_rq_h_load), valid for one jiffy
    s64 h_load_stamp        # jiffy + 1 of the last h_load update, 0 = never

cdef struct task_group:
    s32 parent
    u64 shares              # scaled
    s64 load_avg            # sum of per-CPU contributions
    s32 depth
    u8 idle

cdef struct FairArena:
    # The part of the engine the fair class touches: entity and queue arrays, clocks, flags.
    sched_entity* se
    cfs_rq_t* cfs
    kparams* kp
    task_group* tg
    # rq clock_task = clk_base + (now - clk_entry) while clk_run, else clk_base. A host rq runs
    # always (base 0, entry 0); a guest rq's clock runs only while its vCPU is in guest mode,
    # so guest update_curr never charges steal time.
    s64* now_p
    s64* clk_base           # per rq
    s64* clk_entry          # per rq
    u8* clk_run             # per rq
    u8* resched             # per rq
    s32* tg_cfs             # tg * ncpu + cpu -> cfs_rq index
    s32* tg_se              # tg * ncpu + cpu -> group se index
    int ncpu

# ---------------------------------------------------------------- engine level
from pvsched.events cimport EventQueue

cdef enum:
    POLICY_NORMAL = 0
    POLICY_FIFO = 1
    POLICY_RR = 2
    POLICY_BATCH = 3
    POLICY_IDLE = 5
    CLS_IDLE = 0
    CLS_FAIR = 1
    CLS_RT = 2
    MAX_RT_PRIO = 100

cdef enum:
    TS_NEW = 0          # not started yet
    TS_RUNNABLE = 1     # queued, waiting for a CPU
    TS_RUNNING = 2      # current on its CPU
    TS_SLEEPING = 3     # blocked (its se may still be queued as sched_delayed)
    TS_DEAD = 4

# Workload program ops: (code, a, b, c).
cdef enum:
    OP_RUN = 1          # compute a ns (+ uniform jitter in [0, b])
    OP_SLEEP = 2        # sleep a ns (+ uniform jitter in [0, b])
    OP_PERIOD = 3       # sleep until the next periodic expiry: next += a; wake at next + U[0, b]
    OP_YIELD = 4        # sched_yield()
    OP_LOOP = 5         # jump to pc a; b = total passes of the body (0 = forever)
    OP_EXIT = 6
    OP_HOG = 7          # compute forever
    OP_START_PERIOD = 8 # the periodic timer starts now + a
    OP_VMEXIT = 9       # guest only: an MMIO-style exit handled by the host for a ns
    OP_VCPU = 10        # the vCPU thread's loop (KVM_RUN); its behaviour comes from kvm.pxi
    OP_CRITICAL = 11    # compute a ns with preemption disabled (guest: preempt_count > 0)

cdef struct op_t:
    s32 code
    s64 a
    s64 b
    s64 c

cdef struct task_t:
    s32 se
    s32 cpu             # rq index it is queued on / last ran on
    s32 tg
    s32 kern            # 0 = host, k = guest kernel of VM k-1
    s32 vcpu            # >= 0: this host task is that vCPU's thread
    u8 policy
    u8 cls
    u8 state
    u8 on_rq            # queued in its class (a delayed fair entity counts)
    u8 state_new        # its first wake-up is in progress (wake_up_new_task)
    u8 in_critical      # running a preempt-disabled section (guest kernel code)
    s32 rt_prio         # kernel prio 0..98 = 99 - sched_priority; fair: 120 + nice
    s32 nice
    s32 rr_left         # SCHED_RR ticks left
    s32 rt_next
    s32 rt_prev
    s32 aff             # offset of its affinity bitmap in Sim.aff (bits relative to its kernel)
    s32 pc
    s32 prog_start
    s32 prog_len
    s32 loop_left
    s64 remaining       # ns left in the current burst; < 0 = forever
    s64 period_next
    u64 rng
    s64 start_ns
    s64 lat_start       # pending wake-up latency reference (timer expiry), -1 = none
    s64 runnable_since
    s32 timer_cpu       # rq whose (h)rtimer wakes it
    s64 cpu_ns
    s64 wait_ns
    u64 nr_switches
    u64 nr_preempted
    u64 nr_wakeups
    u64 nr_migrations
    u64 nr_yields
    u64 nr_overruns     # periodic jobs that ended after their next period had begun
    u64 lat_count
    s64 lat_sum
    s64 lat_max
    # seed 002 guest synchronization (spin.pxi)
    u8 sync             # SYNC_*: what the task spins or waits on
    s32 sync_lock       # lock (global index) it waits for
    s32 held_lock       # lock it holds, -1 = none
    s32 lock_next       # next waiter in the lock's FIFO
    s64 spin_left       # guest-mode spinning left before the PV halt (-1 = spin forever)
    s64 spin_threshold  # PV spin threshold of the current lock op (-1 = no PV)
    s64 wait_since      # contended lock attempt / IPI send time
    s32 ipi_out         # IPI handlers still to complete for this sender
    s64 ipi_handler_ns  # handler duration of its current IPI

cdef struct rq_t:
    s32 curr            # task, -1 = idle
    s32 cfs             # root cfs_rq
    s32 kern
    s32 vcpu            # guest rq: its vCPU; host rq: -1
    u32 nr_running
    u32 rt_nr
    u64 rt_bm0
    u64 rt_bm1
    s64 seg_start       # workload progress of curr counts from here
    s64 busy_since
    s64 busy_ns
    s64 idle_since
    s64 tick_next       # guest rq: tick due while the vCPU was out of guest mode (0 = none)
    u64 nr_switches
    u64 nr_ticks
    # fair deadline server (v6.12+)
    u8 fs_on
    u8 fs_active
    s64 fs_deadline
    s64 fs_runtime
    u64 fs_activations
    # root RT throttling (<= v6.11)
    u8 rt_throttled
    s64 rt_time
    s64 rt_period_start
    u64 rt_throttle_count
    # seed 002 debooster per-rq state (host rqs)
    s64 dbst_last       # rate limiter timestamp (0 = never)
    s32 dbst_src        # last (yielder, target) pair, task indices
    s32 dbst_dst
    s64 dbst_pair_time
    # periodic balancing: rq->next_balance and this CPU's sched_domain (one level), in jiffies / ms
    s64 next_balance
    s64 sd_last_balance
    u32 sd_balance_interval
    u32 sd_nr_balance_failed
    u64 nr_lb_runs
    u64 nr_lb_moved
    u64 nr_lb_failed

cdef struct kern_t:
    s32 rq_base
    s32 nrq
    s32 aff_words
    s32 idle_off        # first word of this kernel's idle bitmap in Sim.idle_mask
    s32 vm              # -1 = host
    s64 tick_ns
    int nohz_idle
    s32 nr_overloaded   # rqs with nr_running >= 2 (root-domain "overload")
    s32 hz

# vCPU modes (time is accounted to exactly one at any instant once the VM started)
cdef enum:
    VM_OFF = 0
    VM_GUEST = 1        # the thread runs on a pCPU, in guest mode
    VM_EXIT = 2         # the thread runs on a pCPU, in the host: exit handling / entry
    VM_POLL = 3         # the thread runs on a pCPU, halt-polling
    VM_HALTED = 4       # the thread sleeps (kvm_vcpu_block)
    VM_PREEMPTED = 5    # the thread is runnable but not running (steal time)
    VM_NMODES = 6

cdef enum:
    EXIT_ENTRY = 0      # (re)entry after the thread was switched in: not an exit
    EXIT_HOST_TICK = 1  # host tick interrupt
    EXIT_HOST_INTR = 2  # other host interrupts: resched IPI, host timers
    EXIT_GUEST_TIMER = 3  # guest LAPIC timer (VMX preemption timer)
    EXIT_IPI_SEND = 4   # guest ICR write
    EXIT_IPI_RECV = 5   # interrupt delivery to a running vCPU without posted interrupts
    EXIT_HLT = 6
    EXIT_MMIO = 7
    EXIT_DOORBELL = 8   # pvsched: the guest's synchronous unboost wrmsr
    EXIT_BUDGET = 9     # pvsched bounded policy: the host forces an exit to end a boost
    EXIT_PLE = 10       # seed 002: pause-loop exit (a guest spin loop outlasted the PLE window)
    EXIT_HYPERCALL = 11 # seed 002: KVM_HC_KICK_CPU (PV spinlock unlock kicks a halted waiter)
    EXIT_EOI = 12       # seed 002: EOI write trapped (no APICv virtual-interrupt delivery)
    EXIT_NREASONS = 13

# pvsched (seed 000) boost policy
cdef enum:
    BOOST_OFF = 0
    BOOST_DYNAMIC = 1
    BOOST_BOUNDED = 2
    VCPU_BOOST_DISABLED = 0
    VCPU_BOOST_NORMAL = 1
    VCPU_BOOST_BOOSTED = 2
    VCPU_REQ_NONE = 0
    VCPU_REQ_UNBOOST = 1
    VCPU_REQ_BOOST = 2
    # switchable triggers
    TR_IRQ_ENTRY = 1 << 0       # guest irq/NMI/softirq entry: lazy boost request
    TR_IRQ_EXIT = 1 << 1        # guest irq exit to a preemptible context: (sync) unboost
    TR_SCHED = 1 << 2           # guest __schedule: next RT -> boost, next fair -> unboost (lazy)
    TR_RT_ENQUEUE = 1 << 3      # guest local enqueue of an RT task: lazy boost
    TR_USER_RETURN = 1 << 4     # guest return to user of a non-RT task: (sync) unboost
    TR_KICK_TIMER = 1 << 5      # host: LAPIC timer expiry kick of a blocked vCPU boosts
    TR_KICK_INTR = 1 << 6       # host: interrupt/IPI injection without posted interrupts boosts
    TR_KICK_UNHALT = 1 << 7     # host: PV-unhalt kick boosts
    TR_HALT = 1 << 8            # host: boost in kvm_vcpu_block before sleeping
    TR_PENDING_EXIT = 1 << 9    # host: a pending timer/interrupt at an exit needs a boost
    TR_PREEMPT_DISABLED = 1 << 10  # patch-3 variant: preempt-disabled alone needs a boost
    # boost causes / unboost causes (counters)
    BC_REQUEST = 0
    BC_PENDING = 1
    BC_KICK_TIMER = 2
    BC_KICK_INTR = 3
    BC_KICK_UNHALT = 4
    BC_HALT = 5
    BC_PREEMPT_DISABLED = 6
    BC_N = 7
    UC_EXIT = 0             # re-evaluation at an ordinary exit found no need
    UC_DOORBELL = 1         # the guest's synchronous unboost
    UC_CAP = 2              # preempt-disabled boost over the cap
    UC_BUDGET = 3           # bounded policy budget exhausted
    UC_N = 4
    ROGUE_NONE = 0
    ROGUE_HOLD_BOOST = 1
    ROGUE_DOORBELL_STORM = 2

cdef struct vm_t:
    s32 kern
    s32 vcpu_base
    s32 nvcpu
    u8 hlt_exits
    u8 posted_intr
    u8 ipiv
    u8 timer_exits
    s64 exit_ns
    s64 entry_ns
    s64 halt_poll_max_ns
    s64 halt_poll_grow
    s64 halt_poll_grow_start
    s64 halt_poll_shrink
    s64 guest_poll_ns
    # pvsched boost policy
    u8 boost_mode
    u8 boost_policy     # POLICY_RR / POLICY_FIFO while boosted
    u8 rogue
    s32 boost_prio      # sched_priority while boosted (1..99)
    u32 triggers
    s64 cap_ns          # max preempt-disabled boost (0 = off)
    s64 doorbell_ns     # cost of the doorbell exit (fastpath wrmsr)
    s64 setsched_ns     # cost of sched_setscheduler during an exit
    s64 cs_budget_ns    # bounded: critical-section boost budget
    s64 gen_budget_ns   # bounded: generic boost budget
    # seed 002: PLE, directed yield (kvm_vcpu_on_spin), IPI-aware yield, guest locks
    u8 ple              # pause-loop exiting enabled (and ple_gap > 0)
    u8 ipi_aware        # IPI-aware candidate selection (patch 9)
    u8 relaxed          # relaxed second round (patch 10, enable_relaxed_boost)
    u8 fix_lb           # last_boosted_vcpu stores the boosted vCPU index (patch 6)
    u8 ipi_tracking     # ipi_context written on unicast fixed IPI delivery (patches 7-8)
    u8 pv_sched_yield   # guest KVM_HC_SCHED_YIELD after a multi-target call-function IPI
    u8 lock_kind        # LOCK_QUEUED / LOCK_TICKET / LOCK_TAS
    u8 sync_on          # the VM uses guest sync ops
    u8 prio_order       # strict round as three passes (IPI receiver, pending, kernel) instead of one scan
    u32 ple_gap
    u64 ple_window_base
    u64 ple_grow
    u64 ple_shrink
    u64 ple_max
    s64 cpu_khz         # guest TSC frequency: PLE window cycles -> ns
    s64 ipi_window_ns   # ipi_context recency window
    s32 last_boosted    # kvm->last_boosted_vcpu
    s32 lock_base       # first lock of this VM in Sim.locks
    s32 nlock
    u64 ys[48]          # YS_* counters

cdef struct vcpu_t:
    s32 vm
    s32 task            # the vCPU thread
    s32 rq              # the guest runqueue
    s32 host_cpu        # pCPU it last ran on (its hrtimers live there)
    u8 mode
    u8 exit_reason
    u8 guest_polling    # guest cpuidle haltpoll in progress (in guest mode)
    u8 preempted        # steal-time "preempted" flag (kvm_sched_out while runnable)
    s64 mode_since
    s64 t_mode[6]
    u64 nr_exits[13]    # EXIT_NREASONS
    s64 halt_poll_ns    # adaptive window (vcpu->halt_poll_ns)
    s64 halt_start
    u64 nr_poll_ok
    u64 nr_poll_fail
    u64 nr_blocks
    u64 nr_kicks
    # pvsched boost state
    u8 boost_status     # host's authoritative copy
    u8 guest_status     # the guest-visible copy (published at entry)
    u8 boost_req        # written by the guest
    u8 pending_irq      # an interrupt waits for injection at the next entry
    u8 boost_cat        # 0 = critical-section boost, 1 = generic boost
    u8 latched          # bounded: throttled until debt is repaid
    s64 pd_ts           # host timestamp of the first exit that saw preempt_disabled
    s64 boost_since
    s64 unboost_since
    s64 bacc_since      # boosted-time accounting mark
    s32 hooked_task     # guest task the switch/return-to-user hooks last ran for
    s64 debt_ns         # bounded: boosted time not yet repaid (1:1 by unboosted time)
    s64 boosted_ns[6]   # boosted time by vCPU mode
    u64 nr_boost[7]
    u64 nr_unboost[4]
    u64 nr_budget_refused
    # seed 002: KVM directed-yield flags (kvm_main.c), PLE window, guest IRQ handler, ipi_context
    u64 ple_window      # cycles
    u8 ready
    u8 blocking         # blocked in kvm_vcpu_block and not yet run again
    u8 preempted_in_kernel
    u8 in_spin_loop
    u8 dy_eligible
    u8 pv_unhalted
    u8 spinning         # a guest spin segment is running (spin timer armed)
    u8 irq_active       # a guest IPI handler is in progress
    u8 irq_frozen       # ... and holds the guest clock (not suspended by an exit)
    u8 ipi_pending      # ipi_context: an IPI sent by this vCPU awaits its EOI
    s32 spin_task
    s64 spin_seg_start
    s64 irq_left        # handler time left while suspended
    s32 ipi_ring        # offset of this vCPU's sender FIFO in Sim.ipi_ring
    s32 ipi_cap
    s32 ipi_head
    s32 ipi_n           # IPIs queued for handling here
    s32 ipi_last_receiver   # ipi_context (sender side)
    s32 ipi_last_sender     # ipi_context (receiver side)
    s32 sy_target           # PV sched-yield hypercall due at the next spin start (vCPU index), -1 none
    s64 ipi_time
    s64 spin_ns
    u64 nr_ple
    u64 nr_yield_ok
    u64 nr_yield_fail
    u64 nr_ipi_handled

cdef struct glock_t     # seed 002 guest spinlock, defined at the end

cdef enum:
    RT_GUARD_FAIR_SERVER = 0
    RT_GUARD_THROTTLE = 1
    RT_GUARD_NONE = 2

cdef struct Sim:
    FairArena fa
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
    u32* hist           # ntask * HIST_NBUCKETS
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
    # seed 002 (spin.pxi, yield.pxi)
    glock_t* locks
    s32 nlocks
    s32* ipi_ring
    u32* vm_hist        # nvm * HIST_NBUCKETS: IPI round-trip latency
    u32* vm_lhist       # nvm * HIST_NBUCKETS: contended lock wait
    s32 slot_spin       # + vcpu: spin segment end (PLE window / PV threshold)
    s32 slot_irq        # + vcpu: guest IPI handler end
    s32 slot_end        # first slot after the seed-002 slots
    u8 dbst_on          # vCPU debooster in yield_to_task_fair
    u8 dbst_curve       # DBST_CURVE_*
    u8 dbst_rl_every    # v1 rate limiter: refresh the timestamp on every call
    s64 dbst_rate_ns
    s64 dbst_debounce_ns
    u64 ys_host[48]     # YS_* counters for yields by host tasks

# ---------------------------------------------------------------- seed 002: guest sync and directed yield
cdef enum:
    OP_LOCK = 12        # spin_lock: a = first lock (VM-local), b = PV spin threshold ns (-1 = no PV), c = lock count
    OP_UNLOCK = 13      # spin_unlock of the lock held
    OP_IPI = 14         # smp_call_function: a = targets, b = handler ns; spin until all handled
    OP_WORK = 15        # compute: a = mean/base ns, b = spread/cap, c = WORK_* flags
    OP_LAST = 15
    WORK_EXP = 1        # exponential with mean a, capped at b (0 = 20 x a); else a + U[0, b]
    WORK_KERNEL = 16    # kernel code with preemption disabled (a critical section)
    SYNC_NONE = 0
    SYNC_LOCK_SPIN = 1  # spinning for a lock (in guest mode when its vCPU runs)
    SYNC_LOCK_HALT = 2  # PV spinlock: spun past the threshold, vCPU halted until kicked
    SYNC_IPI_WAIT = 3   # csd_lock_wait: spinning until its IPIs are handled
    LOCK_QUEUED = 0     # qspinlock (PV hybrid: lock stealing while the queue head is not spinning)
    LOCK_TICKET = 1     # ticket lock: strict FIFO hand-off
    LOCK_TAS = 2        # virt_spin_lock: test-and-set, no queue, no PV wait (guest without PV spinlocks)
    DBST_CURVE_STEPS = 0    # the patch's queue-size table
    DBST_CURVE_LINEAR = 1   # linear 6.0x at 2 entities -> 1.0x at 12, 1.0x above

# Per-VM counters (vm_t.ys; Sim.ys_host for host yielders). Names in yield_api.pxi (YS_NAMES).
cdef enum:
    YS_LOCK_ACQ = 0
    YS_LOCK_CONTENDED = 1
    YS_LOCK_STEAL = 2
    YS_CS_DONE = 3
    YS_LOCK_WAIT_NS = 4
    YS_PV_HALT = 5
    YS_PV_KICK = 6
    YS_SPIN_NS = 7
    YS_IPI_SENT = 8
    YS_IPI_RT = 9
    YS_IPI_RT_NS = 10
    YS_IPI_RT_MAX = 11
    YS_IPI_TRACKED = 12
    YS_EOI_CLR_RECV = 13
    YS_EOI_CLR_SEND = 14
    YS_PLE = 15
    YS_ON_SPIN = 16
    YS_NO_BOOST = 17
    YS_RELAXED_ROUND = 18
    YS_YT_ATTEMPT = 19
    YS_YT_OK = 20
    YS_YT_ESRCH = 21
    YS_YT_CLASS = 22
    YS_YT_RUNNING = 23
    YS_YT_NOT_RUNNABLE = 24
    YS_YT_NOT_QUEUED = 25
    YS_BOOST_IPI = 26
    YS_BOOST_PENDING = 27
    YS_BOOST_KERNEL = 28
    YS_BOOST_RELAXED = 29
    YS_BOOST_VANILLA = 30
    YS_BOOST_IPI_STALE = 31
    YS_DB_APPLIED = 32
    YS_DB_DEBOUNCED = 33
    YS_DB_RATE_LIMITED = 34
    YS_DB_CROSS_RQ = 35
    YS_DB_SKIPPED = 36
    YS_DB_PENALTY_NS = 37
    YS_IPI_HANDLED = 38
    YS_YT_SAME_RQ = 39          # successful yield_to whose target shares the yielder's rq
    YS_YT_SAME_RQ_PICKED = 40   # ... and the target runs right after the yield (buddy honoured)
    YS_BOOST_USEFUL = 41        # ground truth: the boosted vCPU holds the spinner's lock / owes it an IPI
    YS_SCHED_YIELD = 42         # guest PV sched-yield hypercalls (KVM_HC_SCHED_YIELD)
    YS_SCHED_YIELD_OK = 43      # ... whose kvm_vcpu_yield_to succeeded
    YS_N = 44

cdef struct glock_t:
    s32 vm
    s32 owner           # holding task, -1 = free
    s32 head            # waiter FIFO (linked through task_t.lock_next)
    s32 tail
    s32 nwait
    s64 hold_since
