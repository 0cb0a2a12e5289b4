# Full dynticks on host CPUs (kernel/time/tick-sched.c; kernel/sched/core.c sched_can_stop_tick,
# sched_tick_remote; Linux v6.15): when a nohz_full CPU may stop its tick, and the per-CPU state.
# Pure rules, noexcept nogil; the engine part is sched/tick_sched.pxi.
from pvsched.sched.calc cimport u64, s64, u32, s32
from libc.stdint cimport uint8_t

# Tick dependency bits (include/linux/tick.h, enum tick_dep_bits).
cdef enum:
    TICK_DEP_BIT_POSIX_TIMER = 0
    TICK_DEP_BIT_PERF_EVENTS = 1
    TICK_DEP_BIT_SCHED = 2
    TICK_DEP_BIT_CLOCK_UNSTABLE = 3
    TICK_DEP_BIT_RCU = 4
    TICK_DEP_BIT_RCU_EXP = 5
    NOHZ_REMOTE_TICK_NS = 1000000000    # sched_tick_remote runs once a second (HZ jiffies)

# Per CPU (embedded in rq_t as rq.ts).
cdef struct tick_sched:
    uint8_t nohz_full       # the CPU is in the nohz_full= set
    uint8_t stopped         # its tick is stopped; the tick slot holds the 1 Hz remote tick

cdef inline bint sched_can_stop_tick(u32 dl_nr_running, u32 rt_nr_running, u32 rr_nr_running,
                                     u32 cfs_h_nr_queued) noexcept nogil:
    # Deadline tasks need the tick; one SCHED_RR task may run tickless, two may not (round
    # robin); any FIFO task: no forced preemption between FIFO tasks, so no tick; otherwise more
    # than one fair task needs it for preemption. (A CFS-bandwidth-constrained single task also
    # keeps it; bandwidth is not modelled.)
    if dl_nr_running:
        return False
    if rr_nr_running:
        return rr_nr_running == 1
    if rt_nr_running - rr_nr_running:
        return True
    if cfs_h_nr_queued > 1:
        return False
    return True

cdef inline bint tick_timer_in_next_period(s64 next_timer_ns, s64 last_jiffies_update_ns, s64 tick_ns) noexcept nogil:
    # tick_nohz_next_event(): a timer-wheel timer due no later than one TICK_NSEC after the last
    # jiffies update keeps a running tick running ("no point in stopping it"). High-resolution
    # timers are not counted in highres mode.
    return next_timer_ns >= 0 and next_timer_ns - last_jiffies_update_ns <= tick_ns

cdef inline bint can_stop_full_tick(u32 dep_mask, bint sched_ok) noexcept nogil:
    # can_stop_full_tick(): no dependency bit set (global, CPU, task or signal) and the
    # scheduler agrees. TICK_DEP_BIT_SCHED is the scheduler's own bit (sched_update_tick_dependency).
    return dep_mask == 0 and sched_ok
