# Guest halted time and halted-aware PELT (the Feb 2025 RFC "Guest halted time" and the reviewer's
# per-tick alternative; rules in policies/halted_pelt.pxd). Attached points:
# - on the guest kernel of every VM with HLT/MWAIT in guest: vcpu_mode (a stay in guest mode
#   begins or ends: KVM's TSC/MPERF reads; in exact mode the halted ns go to the scheduler),
#   guest_idle and guest_switch (the guest's in-guest HLT/MWAIT starts and ends: ground truth);
# - on the host kernel, when such a VM exists: pelt_update (the split update, and the vCPU
#   threads' signal with and without the discount), and tick in tick mode (the per-tick sample).
#
# Ground truth: a vCPU of a VM with HLT/MWAIT in guest is halted while it is in guest mode with
# nothing current on its guest runqueue (the guest idle loop's HLT/MWAIT does not exit); it
# executes (MPERF counts) otherwise.

cdef enum:
    HALTED_PELT_GUEST_POINTS = HOOK_VCPU_MODE | HOOK_GUEST_IDLE | HOOK_GUEST_SWITCH

# ---------------------------------------------------------------- the stay in guest mode (KVM)
cdef void gth_stay_start(Sim* s, s32 v) noexcept nogil:
    # VM entry: a stay in guest mode begins (KVM reads TSC and MPERF just before it).
    cdef gth_vcpu_t* g = &s.vcpu[v].gth
    g.stay_start = s.now
    g.stay_halted = 0
    g.halted_since = s.now if s.rq[s.vcpu[v].rq].curr < 0 else -1

cdef void gth_guest_idle(Sim* s, s32 v, bint idle) noexcept nogil:
    # The guest's current task changed while in guest mode: its idle HLT/MWAIT starts or ends.
    cdef gth_vcpu_t* g = &s.vcpu[v].gth
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
        s.gth.se_pending[n] += ns
        s.gth.cfs_pending[s.fa.se[n].cfs_rq] += ns
        n = s.fa.se[n].parent

cdef void sched_account_gtime_halted(Sim* s, s32 t, u64 ns) noexcept nogil:
    # Patch 3's hook: compiled to a no-op on a CONFIG_NO_HZ_FULL kernel.
    if not s.gth.no_hz_full:
        gth_account_walk(s, t, ns)

cdef void gth_stay_end(Sim* s, s32 v) noexcept nogil:
    # VM exit: TSC and MPERF are read again; halted = TSC delta - MPERF delta if positive goes to
    # the thread's gtime_halted and, in exact mode, to the scheduler.
    cdef gth_vcpu_t* g = &s.vcpu[v].gth
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

# ---------------------------------------------------------------- the per-tick sample
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
        if v >= 0 and s.vcpu[v].gth.stay_start >= 0:
            g = &s.vcpu[v].gth
            h += g.stay_halted
            if g.halted_since >= 0:
                h += s.now - g.halted_since
    return idle + h

cdef void halted_pelt_tick(Sim* s, s32 cpu) noexcept nogil:
    # Tick mode, at a host tick (after the tick's VM exit, before its PELT update): the CPU's TSC
    # and MPERF deltas since its previous tick give the halted ns of that interval; if the current
    # task is a vCPU thread of a VM with HLT/MWAIT in guest, pinned to this CPU, they are handed to
    # the scheduler exactly as an exit does in exact mode.
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
    if v < 0 or not s.vcpu[v].gth.on or s.gth.se[c].pinned_cpu != cpu:
        return
    measured = gtime_halted_measure(<u64>period, <u64>(period - halted), s.gth.mperf_ppm)
    if measured:
        gc.nr_corrections += 1
        gth_account_walk(s, c, measured)    # a new patch: no CONFIG_NO_HZ_FULL exception

# ---------------------------------------------------------------- hook handlers
cdef void halted_pelt_vcpu_mode(Sim* s, s32 v, int mode) noexcept nogil:
    # Called before the vCPU's mode changes (vcpu.mode is still the old one).
    cdef u8 old = s.vcpu[v].mode
    if old == VM_GUEST and mode != VM_GUEST:
        gth_stay_end(s, v)
    elif mode == VM_GUEST and old != VM_GUEST:
        gth_stay_start(s, v)

cdef void halted_pelt_guest_idle(Sim* s, s32 v) noexcept nogil:
    gth_guest_idle(s, v, True)

cdef void halted_pelt_guest_switch(Sim* s, s32 v, bint reentry) noexcept nogil:
    if not reentry:
        gth_guest_idle(s, v, False)

cdef int halted_pelt_update(Sim* s, cfs_rq_t* cfs, sched_entity* se, sched_avg* sa, u64 now,
                            unsigned long load, unsigned long runnable, int running,
                            unsigned long weight, bint blocked) noexcept nogil:
    # pelt_update point (host): bring the signal up to now here -- the split update when a mode
    # is on (__update_load_avg_se / __update_load_avg_cfs_rq as patched; the blocked-entity update
    # is left as it is) -- then, for a tracked vCPU thread, its undiscounted copy and time
    # averages. Returns whether the averages were recomputed; 0 leaves the update to the caller.
    cdef int ret
    cdef bint tracked = se != NULL and se.task >= 0 and s.gth.se[se.task].track
    if blocked or not (s.gth.mode or tracked):
        return 0
    if s.gth.mode:
        ret = pelt_update_halted(now, sa, &s.gth.se_pending[se - s.fa.se] if se != NULL
                                 else &s.gth.cfs_pending[cfs - s.fa.cfs], load, runnable, running, weight)
    else:
        ret = pelt_update(now, sa, load, runnable, running, weight)
    if tracked:
        gth_track_update(&s.gth.se[se.task], s.now, sa, load, runnable, running, weight, now)
    return ret

# ---------------------------------------------------------------- building and results
HALTED_PELT_MODES = {"off": GTH_OFF, "exact": GTH_EXACT, "tick": GTH_TICK}


cdef u32 halted_pelt_points(Sim* s, s32 kk) noexcept nogil:
    if kk == 0:
        return HOOK_PELT | (HOOK_TICK if s.gth.mode == GTH_TICK else 0)
    return HALTED_PELT_GUEST_POINTS


cdef int halted_pelt_build(Sim* s, dict cfg, list vms, s32 nse, s32 ncfs) except -1:
    # The mode, and the attachment: every VM with HLT/MWAIT in guest, and the host if such a VM exists.
    cdef s32 v, t, c, w, cpu, nb
    cdef u64 bits
    mode = cfg.get("mode", "off")
    ppm = int(cfg.get("mperf_ppm", 0))
    if mode not in HALTED_PELT_MODES or not -GTH_PPM_SCALE < ppm < GTH_PPM_SCALE:
        raise ValueError(f"halted_pelt parameters out of range: {cfg}")
    s.gth.mode = HALTED_PELT_MODES[mode]
    s.gth.no_hz_full = bool(cfg.get("no_hz_full", False))
    s.gth.mperf_ppm = ppm
    for v in range(s.nvcpu):
        s.vcpu[v].gth.stay_start = -1
        s.vcpu[v].gth.halted_since = -1
        vmd = vms[s.vcpu[v].vm]             # its idle instruction stays in guest: HLT or MWAIT pass-through
        s.vcpu[v].gth.on = not bool(vmd.get("mwait_exits", True) if vmd.get("idle_instruction", "hlt") == "mwait"
                                    else vmd.get("hlt_exits", True))
        if s.vcpu[v].gth.on:
            s.gth.tracking = 1
            s.kern[s.vm[s.vcpu[v].vm].kern].policies |= POL_HALTED_PELT
    if not s.gth.tracking:
        return 0
    s.kern[0].policies |= POL_HALTED_PELT
    s.gth.se = <gth_se_t*>calloc(max(s.ntask, 1), sizeof(gth_se_t))
    s.gth.cpu = <gth_cpu_t*>calloc(s.ncpu, sizeof(gth_cpu_t))
    s.gth.se_pending = <u64*>calloc(max(nse, 1), sizeof(u64))
    s.gth.cfs_pending = <u64*>calloc(max(ncfs, 1), sizeof(u64))
    if s.gth.se == NULL or s.gth.cpu == NULL or s.gth.se_pending == NULL or s.gth.cfs_pending == NULL:
        raise MemoryError()
    for t in range(s.ntask):
        s.gth.se[t].t_last = -1
        s.gth.se[t].pinned_cpu = -1
        v = s.task[t].vcpu
        if v < 0:
            continue
        s.gth.se[t].track = s.vcpu[v].gth.on
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
            s.gth.se[t].pinned_cpu = cpu
    return 0


cdef void halted_pelt_finalize(Sim* s) noexcept nogil:
    # Results: bring the tracked time averages up to now (idempotent).
    cdef s32 t
    cdef gth_se_t* g
    cdef s64 dt
    if s.gth.se == NULL:
        return
    for t in range(s.ntask):
        g = &s.gth.se[t]
        if not g.track or g.t_last < 0 or s.now <= g.t_last:
            continue
        dt = s.now - g.t_last
        g.util_ns += g.util_last * <u64>dt
        g.load_ns += g.load_last * <u64>dt
        g.raw_util_ns += g.raw_util_last * <u64>dt
        g.raw_load_ns += g.raw_load_last * <u64>dt
        g.tracked_ns += dt
        g.t_last = s.now


HALTED_PELT_VCPU_COLUMNS = ("guest_halted_ns", "guest_unhalted_ns", "gtime_halted_ns", "guest_stays",
                            "pelt_tracked_ns", "pelt_util_ns", "pelt_load_ns", "pelt_util_raw_ns",
                            "pelt_load_raw_ns", "pelt_util_avg", "pelt_load_avg", "pelt_util_avg_raw",
                            "pelt_load_avg_raw")


cdef void halted_pelt_results(Sim* s, dict out, dict vc):
    # vCPU columns (ground truth and measured halted time, time integrals of the vCPU thread's
    # PELT signal with and without the discount, current values) and the host's counters.
    cdef s32 v, t
    cdef gth_vcpu_t* g
    cdef gth_se_t* e
    cdef s64 halted
    for k in HALTED_PELT_VCPU_COLUMNS:
        vc[k] = np.zeros(s.nvcpu, dtype=np.int64)
    for v in range(s.nvcpu):
        t = s.vcpu[v].task
        g = &s.vcpu[v].gth
        if g.on:
            halted = g.halted_ns
            if g.stay_start >= 0:
                halted += g.stay_halted
                if g.halted_since >= 0:
                    halted += s.now - g.halted_since
            vc["guest_halted_ns"][v] = halted
            vc["gtime_halted_ns"][v] = g.gtime_halted_ns
            vc["guest_stays"][v] = g.nr_stays
        vc["guest_unhalted_ns"][v] = s.vcpu[v].t_mode[VM_GUEST] - vc["guest_halted_ns"][v]
        if s.gth.se != NULL and t >= 0 and s.gth.se[t].track:
            e = &s.gth.se[t]
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
