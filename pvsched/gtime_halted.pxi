# Guest halted time in the engine (Feb 2025 RFC "Guest halted time", and the reviewer's per-tick
# alternative): the simulator's ground truth of halted time inside guest mode, what KVM measures
# from it at each exit (patch 2), and the hand-over to the scheduler's halted-aware PELT (patch 3:
# exact mode at every exit, tick mode at every host tick). The rules are in gtime_halted.pxd.
# Textually included by _core.pyx.
#
# Ground truth: a vCPU of a VM with HLT/MWAIT in guest (VM.hlt_exits = False) is halted while it
# is in guest mode with nothing current on its guest runqueue (the guest idle loop's HLT/MWAIT
# does not exit); it executes (MPERF counts) otherwise.

cdef inline bint gth_tracks(Sim* s, s32 v) noexcept nogil:
    return s.gth.vcpu != NULL and s.gth.vcpu[v].on

cdef void gth_stay_start(Sim* s, s32 v) noexcept nogil:
    # VM entry: a stay in guest mode begins (KVM reads TSC and MPERF just before it).
    cdef gth_vcpu_t* g = &s.gth.vcpu[v]
    g.stay_start = s.now
    g.stay_halted = 0
    g.halted_since = s.now if s.rq[s.vcpu[v].rq].curr < 0 else -1

cdef void gth_guest_idle(Sim* s, s32 v, bint idle) noexcept nogil:
    # The guest's current task changed while in guest mode: its idle HLT/MWAIT starts or ends.
    cdef gth_vcpu_t* g = &s.gth.vcpu[v]
    if g.stay_start < 0:
        return
    if idle:
        if g.halted_since < 0:
            g.halted_since = s.now
    elif g.halted_since >= 0:
        g.stay_halted += s.now - g.halted_since
        g.halted_since = -1

cdef void gth_account_walk(Sim* s, s32 t, u64 ns) noexcept nogil:
    # The halted ns go to the thread's entity and its cfs_rq, and to every ancestor entity and
    # its cfs_rq (for_each_sched_entity).
    cdef s32 n = s.task[t].se
    if ns == 0:
        return
    s.gth.accounted_ns += ns
    while n >= 0:
        s.fa.se[n].gtime_halted += ns
        s.fa.cfs[s.fa.se[n].cfs_rq].gtime_halted += ns
        n = s.fa.se[n].parent

cdef void sched_account_gtime_halted(Sim* s, s32 t, u64 ns) noexcept nogil:
    # Patch 3's hook: compiled to a no-op on a CONFIG_NO_HZ_FULL kernel.
    if not s.gth.no_hz_full:
        gth_account_walk(s, t, ns)

cdef void gth_stay_end(Sim* s, s32 v) noexcept nogil:
    # VM exit: TSC and MPERF are read again; halted = TSC delta - MPERF delta if positive goes to
    # the thread's gtime_halted and, in exact mode, to the scheduler.
    cdef gth_vcpu_t* g = &s.gth.vcpu[v]
    cdef s64 stay, halted
    cdef u64 measured
    if g.stay_start < 0:
        return
    gth_guest_idle(s, v, False)
    stay = s.now - g.stay_start
    halted = g.stay_halted
    g.stay_start = -1
    g.halted_ns += halted
    g.nr_stays += 1
    s.gth.cpu[s.vcpu[v].host_cpu].guest_halted_ns += halted
    measured = gtime_halted_measure(<u64>stay, <u64>(stay - halted), s.gth.mperf_ppm)
    g.gtime_halted_ns += measured
    if s.gth.mode == GTH_EXACT:
        s.gth.msr_reads += 2
        sched_account_gtime_halted(s, s.vcpu[v].task, measured)

cdef s64 gth_cpu_halted(Sim* s, s32 cpu) noexcept nogil:
    # A host CPU's halted ns since time 0 (what TSC - MPERF sees): host idle plus guest-halted
    # time of the stays run on it, the ongoing one included.
    cdef rq_t* rq = &s.rq[cpu]
    cdef s32 c = rq.curr
    cdef s32 v
    cdef gth_vcpu_t* g
    cdef s64 idle = s.now - rq.busy_ns
    cdef s64 h = s.gth.cpu[cpu].guest_halted_ns
    if c >= 0:
        idle -= s.now - rq.busy_since
        v = s.task[c].vcpu
        if v >= 0 and s.gth.vcpu[v].stay_start >= 0:
            g = &s.gth.vcpu[v]
            h += g.stay_halted
            if g.halted_since >= 0:
                h += s.now - g.halted_since
    return idle + h

cdef void gth_tick(Sim* s, s32 cpu) noexcept nogil:
    # Tick mode, at a host tick (after the tick's VM exit, before its PELT update): the CPU's
    # TSC and MPERF deltas since its previous tick give the halted ns of that interval; if the
    # current task is a vCPU thread of a VM with HLT/MWAIT in guest, pinned to this CPU, they are
    # handed to the scheduler exactly as an exit does in exact mode.
    cdef gth_cpu_t* gc = &s.gth.cpu[cpu]
    cdef s64 total = gth_cpu_halted(s, cpu)
    cdef s64 period = s.now - gc.tick_t
    cdef s64 halted = total - gc.tick_halted
    cdef s32 c = s.rq[cpu].curr
    cdef s32 v
    cdef u64 measured
    gc.tick_t = s.now
    gc.tick_halted = total
    s.gth.msr_reads += 2
    if c < 0 or period <= 0:
        return
    v = s.task[c].vcpu
    if v < 0 or not s.gth.vcpu[v].on or s.fa.gth_se[c].pinned_cpu != cpu:
        return
    measured = gtime_halted_measure(<u64>period, <u64>(period - halted), s.gth.mperf_ppm)
    if measured:
        gc.nr_corrections += 1
        gth_account_walk(s, c, measured)    # a new patch: no CONFIG_NO_HZ_FULL exception

cdef int gth_setup(Sim* s, halted_pelt, vms) except -1:
    # Engine construction: the mode, and the per-vCPU / per-CPU / per-entity arrays when any VM
    # has HLT/MWAIT in guest or a mode is on.
    cdef s32 v, t, c, w, cpu, nb
    cdef u64 bits
    d = dict(halted_pelt or {})
    modes = {"off": GTH_OFF, "exact": GTH_EXACT, "tick": GTH_TICK}
    mode = d.get("mode", "off")
    ppm = int(d.get("mperf_ppm", 0))
    if mode not in modes or not -GTH_PPM_SCALE < ppm < GTH_PPM_SCALE:
        raise ValueError(f"halted_pelt parameters out of range: {d}")
    s.gth.mode = modes[mode]
    s.gth.no_hz_full = bool(d.get("no_hz_full", False))
    s.gth.mperf_ppm = ppm
    s.fa.gth_mode = s.gth.mode
    vms = list(vms)
    if s.gth.mode == GTH_OFF and not any(not bool(vm.get("hlt_exits", True)) for vm in vms):
        return 0
    s.gth.vcpu = <gth_vcpu_t*>calloc(max(s.nvcpu, 1), sizeof(gth_vcpu_t))
    s.gth.cpu = <gth_cpu_t*>calloc(s.ncpu, sizeof(gth_cpu_t))
    s.fa.gth_se = <gth_se_t*>calloc(max(s.ntask, 1), sizeof(gth_se_t))
    if s.gth.vcpu == NULL or s.gth.cpu == NULL or s.fa.gth_se == NULL:
        raise MemoryError()
    for v in range(s.nvcpu):
        s.gth.vcpu[v].on = not bool(vms[s.vcpu[v].vm].get("hlt_exits", True))
        s.gth.vcpu[v].stay_start = -1
        s.gth.vcpu[v].halted_since = -1
    for t in range(s.ntask):
        s.fa.gth_se[t].t_last = -1
        s.fa.gth_se[t].pinned_cpu = -1
        v = s.task[t].vcpu
        if v < 0:
            continue
        s.fa.gth_se[t].track = s.gth.vcpu[v].on
        cpu = -1
        nb = 0
        for w in range(s.kern[0].aff_words):
            bits = s.aff[s.task[t].aff + w]
            while bits:
                c = w * 64 + (63 - pv_clzll(bits & (~bits + 1)))
                nb += 1
                cpu = c
                bits &= bits - 1
        if nb == 1:
            s.fa.gth_se[t].pinned_cpu = cpu
    return 0

cdef void gth_finalize(Sim* s) noexcept nogil:
    # Results: bring the tracked time averages up to now (idempotent).
    cdef s32 t
    cdef gth_se_t* g
    cdef s64 dt
    if s.fa.gth_se == NULL:
        return
    for t in range(s.ntask):
        g = &s.fa.gth_se[t]
        if not g.track or g.t_last < 0 or s.now <= g.t_last:
            continue
        dt = s.now - g.t_last
        g.util_ns += g.util_last * <u64>dt
        g.load_ns += g.load_last * <u64>dt
        g.raw_util_ns += g.raw_util_last * <u64>dt
        g.raw_load_ns += g.raw_load_last * <u64>dt
        g.tracked_ns += dt
        g.t_last = s.now

GTH_VCPU_COLUMNS = ("guest_halted_ns", "guest_unhalted_ns", "gtime_halted_ns", "guest_stays",
                    "pelt_tracked_ns", "pelt_util_ns", "pelt_load_ns", "pelt_util_raw_ns",
                    "pelt_load_raw_ns", "pelt_util_avg", "pelt_load_avg", "pelt_util_avg_raw",
                    "pelt_load_avg_raw")

cdef void gth_results(Sim* s, dict out, dict vc):
    # vCPU columns (ground truth and measured halted time, time integrals of the vCPU thread's
    # PELT signal with and without the discount, current values) and the host's counters.
    cdef s32 v, t
    cdef gth_vcpu_t* g
    cdef gth_se_t* e
    cdef s64 halted
    for k in GTH_VCPU_COLUMNS:
        vc[k] = np.zeros(s.nvcpu, dtype=np.int64)
    for v in range(s.nvcpu):
        t = s.vcpu[v].task
        guest = s.vcpu[v].t_mode[VM_GUEST]
        if s.gth.vcpu != NULL and s.gth.vcpu[v].on:
            g = &s.gth.vcpu[v]
            halted = g.halted_ns
            if g.stay_start >= 0:
                halted += g.stay_halted
                if g.halted_since >= 0:
                    halted += s.now - g.halted_since
            vc["guest_halted_ns"][v] = halted
            vc["gtime_halted_ns"][v] = g.gtime_halted_ns
            vc["guest_stays"][v] = g.nr_stays
        vc["guest_unhalted_ns"][v] = guest - vc["guest_halted_ns"][v]
        if s.fa.gth_se != NULL and t >= 0 and s.fa.gth_se[t].track:
            e = &s.fa.gth_se[t]
            vc["pelt_tracked_ns"][v] = e.tracked_ns
            vc["pelt_util_ns"][v] = e.util_ns
            vc["pelt_load_ns"][v] = e.load_ns
            vc["pelt_util_raw_ns"][v] = e.raw_util_ns
            vc["pelt_load_raw_ns"][v] = e.raw_load_ns
            vc["pelt_util_avg_raw"][v] = e.raw.util_avg
            vc["pelt_load_avg_raw"][v] = e.raw.load_avg
        if t >= 0:
            vc["pelt_util_avg"][v] = s.fa.se[s.task[t].se].avg.util_avg
            vc["pelt_load_avg"][v] = s.fa.se[s.task[t].se].avg.load_avg
    corr = 0
    if s.gth.cpu != NULL:
        for v in range(s.ncpu):
            corr += s.gth.cpu[v].nr_corrections
    out["halted_pelt"] = {"msr_reads": int(s.gth.msr_reads), "accounted_ns": int(s.gth.accounted_ns),
                          "tick_corrections": int(corr)}
