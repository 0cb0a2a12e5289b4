# cython: language_level=3
"""Guest halted time (gtime_halted) and the halted-aware PELT update: constants, state, pure rules.

The rules of the Feb 2025 RFC "Guest halted time" (Fernand Sieber, Amazon; patches 2 and 3 of 3)
and of the reviewer's per-tick alternative, restated. The functions here are pure (no engine state),
``noexcept nogil``, and exposed step by step in ``pvsched.kernel`` (policies/halted_pelt_api.pxi);
the engine part is policies/halted_pelt.pxi. State: ``gth_vcpu_t`` (embedded in vcpu_t as
``vcpu.gth``) and ``gth_host_t`` (``Sim.gth``), which holds the arrays allocated only when the
policy is attached: per host CPU ``gth_cpu_t``, per task ``gth_se_t``, and the patch's pending
``se->gtime_halted`` / ``cfs_rq->gtime_halted`` counters, kept beside the entity and queue arrays
(indexed alike) rather than in them so that runs without the policy keep their structs' size.

Measuring (patch 2, ``vcpu_enter_guest``): with HLT/MWAIT/PAUSE in guest, KVM reads the TSC and
MPERF just before guest entry and just after guest exit; over that stay in guest mode
``halted = tsc_delta - mperf_delta`` cycles, counted only when positive (MPERF stops while the CPU
is halted). pvsched counts cycles in TSC nanoseconds (``cycles2ns`` is the identity, so with a
matched MPERF the measured halted time equals the simulator's ground truth exactly); MPERF may run
``mperf_ppm`` parts per million faster (> 0) or slower (< 0) than the TSC -- the author's open
question: the SDM only says both run "close to" the maximum non-turbo frequency.

Discounting (patch 3, ``__update_load_avg_se`` / ``__update_load_avg_cfs_rq``): each entity and
cfs_rq carries a pending ``gtime_halted`` (ns, fed at every exit to the vCPU thread's entity and
every ancestor entity and cfs_rq). An update at ``now`` first accumulates up to ``now - h`` with
the real flags, then the last ``h = min(now - last_update_time, pending)`` ns with load, runnable
and running all zero, both through the kernel's own ``___update_load_sum`` (pelt.pxd, not a
copy); ``h`` leaves the pending counter, and if the update crossed a period boundary the residual
is decayed with ``decay_load(residual, delta / 1024)`` where ``delta`` is in ns. That second
argument is a number of *periods* for decay_load, but ``delta / 1024`` counts 1024 ns units
(~1 us), so the residual halves every ~32 us of update interval and is wiped (decay_load returns 0
beyond 2016 periods) whenever the interval exceeds 2016 * 1024 ns = 2.064 ms: a quirk of the
posted patch, kept as posted.
"""

cimport cython
from libc.stdint cimport uint64_t, int64_t, uint32_t, uint8_t
from pvsched.sched.pelt cimport *


cdef enum:
    GTH_OFF = 0             # today's kernel: no halted-time discount
    GTH_EXACT = 1           # the RFC: per-exit TSC/MPERF accounting, split PELT update
    GTH_TICK = 2            # the reviewer's alternative: per-tick TSC/MPERF sample, same split
    GTH_PPM_SCALE = 1000000


# Per task entity: the signal without the discount and time integrals of both signals
# (allocated only for vCPU threads of VMs with HLT/MWAIT in guest).
cdef struct gth_se_t:
    uint8_t track           # this entity is a tracked vCPU thread
    int64_t pinned_cpu      # the one CPU its affinity allows, -1 if more (tick mode needs pinned)
    sched_avg raw           # the same updates without the discount (raw.last_update_time 0 = not started)
    int64_t t_last          # time of the last tracked update (-1 = none yet)
    uint64_t util_last      # values held since t_last (discounted, raw)
    uint64_t load_last
    uint64_t raw_util_last
    uint64_t raw_load_last
    uint64_t util_ns        # integrals: sum of value * ns held
    uint64_t load_ns
    uint64_t raw_util_ns
    uint64_t raw_load_ns
    int64_t tracked_ns      # time covered by the integrals


# Per vCPU: the current stay in guest mode, ground truth and measured halted time.
cdef struct gth_vcpu_t:
    uint8_t on              # the VM has HLT/MWAIT in guest (KVM's needs_halted_accounting)
    int64_t stay_start      # VM entry time of the current stay (-1 = not in guest mode)
    int64_t stay_halted     # closed halted stretches of the current stay, ns
    int64_t halted_since    # start of the ongoing halted stretch, -1 = executing
    int64_t halted_ns       # ground truth: time halted in guest mode, closed stays
    uint64_t gtime_halted_ns    # what KVM measures (patch 2), closed stays
    uint64_t nr_stays


# Per host CPU: guest-halted time of closed stays, and the tick mode's last sample.
cdef struct gth_cpu_t:
    int64_t guest_halted_ns
    int64_t tick_t          # time of the last tick sample
    int64_t tick_halted     # the CPU's cumulative halted ns at that sample
    uint64_t nr_corrections # ticks that fed a correction to a pinned vCPU thread


cdef struct gth_host_t:
    uint8_t mode            # GTH_*
    uint8_t no_hz_full      # CONFIG_NO_HZ_FULL kernel: sched_account_gtime_halted is a no-op
    uint8_t tracking        # some VM has HLT/MWAIT in guest: its vCPUs and threads are tracked
    int64_t mperf_ppm
    gth_se_t* se            # per task entity (index = task), NULL unless tracking
    gth_cpu_t* cpu          # per host CPU, NULL unless tracking
    uint64_t* se_pending    # se->gtime_halted, by entity index, NULL unless tracking
    uint64_t* cfs_pending   # cfs_rq->gtime_halted, by cfs_rq index, NULL unless tracking
    uint64_t msr_reads      # MPERF/TSC reads the mode implies (2 per stay or 2 per tick)
    uint64_t accounted_ns   # halted ns handed to the scheduler (sched_account_gtime_halted)


@cython.cdivision(True)
cdef inline uint64_t mperf_cycles(uint64_t unhalted_ns, int64_t mperf_ppm) noexcept nogil:
    """MPERF cycles (in TSC ns) counted over ``unhalted_ns`` of unhalted time, MPERF running
    ``mperf_ppm`` ppm faster than the TSC; overflow-free for any u64 time and |ppm| < 10**6."""
    cdef uint64_t rate = <uint64_t>(<int64_t>GTH_PPM_SCALE + mperf_ppm)
    return ((unhalted_ns // GTH_PPM_SCALE) * rate
            + (unhalted_ns % GTH_PPM_SCALE) * rate // GTH_PPM_SCALE)


cdef inline uint64_t gtime_halted_cycles(uint64_t tsc_delta, uint64_t mperf_delta) noexcept nogil:
    """Patch 2: halted cycles of one entry/exit pair, ``tsc - mperf`` only if positive."""
    if tsc_delta > mperf_delta:
        return tsc_delta - mperf_delta
    return 0


cdef inline uint64_t gtime_halted_measure(uint64_t stay_ns, uint64_t unhalted_ns,
                                          int64_t mperf_ppm) noexcept nogil:
    """Halted ns KVM measures for a stay of ``stay_ns`` in guest mode of which ``unhalted_ns``
    were unhalted (TSC ticks through the stay, MPERF only while unhalted)."""
    return gtime_halted_cycles(stay_ns, mperf_cycles(unhalted_ns, mperf_ppm))


@cython.cdivision(True)
cdef inline int pelt_update_halted(uint64_t now, sched_avg* sa, uint64_t* gtime_halted,
                                   unsigned long load, unsigned long runnable, int running,
                                   unsigned long avg_weight) noexcept nogil:
    """Patch 3's ``__update_load_avg_se`` / ``__update_load_avg_cfs_rq``: the split update.

    ``gtime_halted`` is the pending counter of this entity or cfs_rq. With nothing pending this
    is exactly ``pelt_update``. Returns 1 if the averages were recomputed.
    """
    cdef int ret
    cdef uint64_t delta = now - sa.last_update_time
    cdef uint64_t h = gtime_halted[0]
    if delta < h:
        h = delta
    ret = ___update_load_sum(now - h, sa, load, runnable, running)
    if h:
        ret |= ___update_load_sum(now, sa, 0, 0, 0)
        gtime_halted[0] -= h
        if ret and gtime_halted[0]:
            # delta / 1024 is in ~us, used as a number of ~ms periods: the patch's quirk.
            gtime_halted[0] = decay_load(gtime_halted[0], delta // 1024)
    if ret:
        ___update_load_avg(sa, avg_weight)
        return 1
    return 0


cdef inline void gth_track_update(gth_se_t* g, int64_t now_ns, sched_avg* sa,
                                  unsigned long load, unsigned long runnable, int running,
                                  unsigned long avg_weight, uint64_t pelt_now) noexcept nogil:
    """After an update of a tracked entity: integrate the values held since the last update,
    bring the undiscounted copy to ``pelt_now`` with the same flags, and hold the new values."""
    cdef int64_t dt
    if g.raw.last_update_time == 0:
        g.raw = sa[0]                       # starts as the entity's own signal
    else:
        pelt_update(pelt_now, &g.raw, load, runnable, running, avg_weight)
    if g.t_last >= 0 and now_ns > g.t_last:
        dt = now_ns - g.t_last
        g.util_ns += g.util_last * <uint64_t>dt
        g.load_ns += g.load_last * <uint64_t>dt
        g.raw_util_ns += g.raw_util_last * <uint64_t>dt
        g.raw_load_ns += g.raw_load_last * <uint64_t>dt
        g.tracked_ns += dt
    g.t_last = now_ns
    g.util_last = sa.util_avg
    g.load_last = sa.load_avg
    g.raw_util_last = g.raw.util_avg
    g.raw_load_last = g.raw.load_avg
