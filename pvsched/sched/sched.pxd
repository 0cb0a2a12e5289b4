# The scheduler's data (kernel/sched/sched.h, include/linux/sched.h): entities, runqueues, task
# groups, tasks and per-CPU rqs, as arrays of C structs indexed by small integers.
# One fair-class implementation serves host and guest kernels; `kparams` says which kernel a
# cfs_rq belongs to (host, or guest k), so rules and tunables can differ per kernel.
# A task carries the state of the guest synchronisation it may run (guest/sync.pxd) and a host rq
# the debooster's per-rq state (policies/debooster.pxd), declared there by their owners.
from libc.stdint cimport uint64_t, int64_t, uint32_t, int32_t, uint8_t, uint16_t, int16_t
from pvsched.sched.calc cimport u64, s64, u32, s32, load_weight, scale_load_down, calc_delta_fair_lw, update_load_set
from pvsched.sched.pelt cimport sched_avg
from pvsched.guest.sync cimport sync_task
from pvsched.guest.workload cimport rtapp_task
from pvsched.policies.debooster cimport deboost_rq
from pvsched.sched.tick_sched cimport tick_sched

ctypedef uint8_t u8
ctypedef int16_t s16

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
    # 256 bytes on a 64-byte aligned array (engine/build.pxi calloc_lines): three cache lines of
    # data, then one of padding that nothing reads (so it costs no cache). First what the
    # timeline and pick read, then update_curr's and the hierarchy walk's, then PELT's. A
    # power-of-two size makes a.se[n] one shift (208 bytes took three instructions per index):
    # -80 instructions per event on the host load, and fewer L1 misses than 208 or 192.
    s32 left                # augmented tree links (entity indices), -1 = none
    s32 right
    s32 tparent
    u32 prio                # treap priority (deterministic hash of the index)
    u64 deadline
    u64 min_vruntime        # subtree augment
    u64 min_slice           # subtree augment
    u64 vruntime
    u64 slice
    s32 my_q                # queue a group entity owns, -1 for a task
    u8 on_rq
    u8 sched_delayed
    u8 custom_slice
    u8 idle                 # SCHED_IDLE task or idle group
    load_weight load        # written only through se_set_weight / se_set_load (keeps weight_down)
    u32 weight_down         # scale_load_down(load.weight) (<= 2^18): se_weight(), read many times per level
    u32 runnable_weight     # group: my_q.h_nr_runnable
    s64 vlag                # V - v_i; while curr (v6.15) doubles as the slice-protection marker
    u64 exec_start
    u64 sum_exec_runtime
    u64 prev_sum_exec_runtime
    s32 parent              # parent group entity, -1 at the top
    s32 cfs_rq              # queue this entity sits on
    sched_avg avg
    s32 task                # owning task, -1 for a group entity
    s16 depth               # (limits.MAX_CGROUP_DEPTH keeps it in range)
    u8 rel_deadline
    u8 pad[65]              # to 256 bytes

cdef struct queue_load:
    # A cfs_rq's load_weight: its inverse is never used (sched_slice computes from a copy), and
    # in its place the scaled-down weight, which PELT reads at every update of the queue.
    u64 weight              # sum of queued entities' load.weight (curr and delayed included)
    u64 weight_down         # scale_load_down(weight), kept by update_load_add / update_load_sub

cdef struct cfs_rq_t:
    queue_load load
    u32 nr_queued
    u32 h_nr_queued
    u32 h_nr_runnable
    u32 h_nr_idle
    s64 avg_vruntime        # S = sum over tree entities of key * w
    s64 avg_load            # W = sum over tree entities of w
    u64 min_vruntime        # v0 (v6.15: monotonic)
    kparams* kp             # &FairArena.kp[kern], one load instead of an index per rule test
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
    u32 pelt_hooks          # some kernel has the PELT hook point attached (policies/hooks.pxd)
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
    int host_only           # no guest rqs: every rq clock is the simulated clock (runs, base 0)

# ---------------------------------------------------------------- clocks and small helpers
cdef inline u64 rq_clock(FairArena* a, s32 cpu) noexcept nogil:
    # clk_base + (now - clk_entry) while the clock runs, else clk_base; a mask, not a branch.
    # Without guests every clock runs from 0 (a test that never changes during a run).
    cdef s64 run
    if a.host_only:
        return <u64>a.now_p[0]
    run = -<s64>a.clk_run[cpu]
    return <u64>(a.clk_base[cpu] + ((a.now_p[0] - a.clk_entry[cpu]) & run))

# PELT reads the rq clock shifted by one PELT period: the simulated clock starts at 0, and a
# last_update_time of 0 means "not attached" to the kernel (the real clock is never 0).
cdef enum:
    PELT_EPOCH_NS = 1048576

cdef inline u64 pelt_time(u64 rq_now) noexcept nogil:
    # the PELT clock of an rq clock reading
    return rq_now + PELT_EPOCH_NS

cdef inline u64 pelt_clock(FairArena* a, s32 cpu) noexcept nogil:
    return pelt_time(rq_clock(a, cpu))

cdef inline bint before(u64 a, u64 b) noexcept nogil:
    # u64 wrap-safe "a earlier than b".
    return <s64>(a - b) < 0

cdef inline void update_load_add(queue_load* lw, u64 inc) noexcept nogil:
    lw.weight += inc
    lw.weight_down = scale_load_down(lw.weight)

cdef inline void update_load_sub(queue_load* lw, u64 dec) noexcept nogil:
    lw.weight -= dec
    lw.weight_down = scale_load_down(lw.weight)

cdef inline u64 se_weight(sched_entity* se) noexcept nogil:
    return se.weight_down

cdef inline void se_set_load(sched_entity* se, load_weight lw) noexcept nogil:
    # An entity's weight changes only here (and in se_set_weight), so weight_down stays exact.
    se.load = lw
    se.weight_down = <u32>scale_load_down(lw.weight)

cdef inline void se_set_weight(sched_entity* se, u64 weight) noexcept nogil:
    # update_load_set() on an entity
    update_load_set(&se.load, weight)
    se.weight_down = <u32>scale_load_down(weight)

cdef inline s64 entity_key(cfs_rq_t* cfs, sched_entity* se) noexcept nogil:
    return <s64>(se.vruntime - cfs.min_vruntime)

cdef inline u64 calc_delta_fair(u64 delta, sched_entity* se) noexcept nogil:
    return calc_delta_fair_lw(delta, &se.load)

# ---------------------------------------------------------------- tasks and per-CPU runqueues
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
    sync_task sync      # guest synchronisation (guest/sync.pxd)
    rtapp_task rtapp    # rt-app ops (guest/workload.pxd)

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
    deboost_rq dbst     # host rqs: the debooster's rate limiter and last pair (policies/debooster.pxd)
    # periodic balancing: rq->next_balance and this CPU's sched_domain (one level), in jiffies / ms
    s64 next_balance
    s64 sd_last_balance
    u32 sd_balance_interval
    u32 sd_nr_balance_failed
    u64 nr_lb_runs
    u64 nr_lb_moved
    u64 nr_lb_failed
    tick_sched ts       # host rqs: nohz_full tick stop (sched/tick_sched.pxd)

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
    u32 hooks           # HOOK_* points something is attached to (policies/hooks.pxd)
    u32 policies        # POL_* built-in policies attached to this kernel
    u32 py_hooks        # HOOK_* points the attached Python policy implements

cdef enum:
    RT_GUARD_FAIR_SERVER = 0
    RT_GUARD_THROTTLE = 1
    RT_GUARD_NONE = 2
