# Consistency audit of the runqueue counters (tests and the fuzz harness; not the hot path).
# Recounts, from the entities themselves, what the kernel keeps incrementally: every cfs_rq's
# nr_queued (entities queued on it), h_nr_queued (tasks queued in its subtree, delayed ones
# included), h_nr_runnable (the same without sched_delayed tasks), the RT queue length and
# rq->nr_running. A mismatch is a stale count: the class of bug behind lost work conservation.

def engine_audit(Engine e):
    """Recount the runqueue counters of a compiled engine; returns a list of mismatches
    (empty when every counter agrees with the queued entities)."""
    cdef Sim* s = &e.s
    cdef FairArena* a = &s.fa
    cdef s32 ncfs = e.ntg * s.ncpu + s.nvcpu
    cdef s32 nse = s.ntask + (e.ntg - 1) * s.ncpu
    cdef s32 i, n, c, t
    nr_queued = [0] * ncfs
    h_queued = [0] * ncfs
    h_runnable = [0] * ncfs
    rt_nr = [0] * s.nrq
    out = []
    for n in range(nse):
        if a.se[n].on_rq:
            nr_queued[a.se[n].cfs_rq] += 1
    for t in range(s.ntask):
        if s.task[t].cls == CLS_RT:
            if s.task[t].on_rq:
                rt_nr[s.task[t].cpu] += 1
            continue
        n = s.task[t].se
        if not a.se[n].on_rq:
            continue
        delayed = a.se[n].sched_delayed
        while n >= 0:
            if not a.se[n].on_rq:
                out.append(f"task {t}: entity {n} on its path is not queued")
                break
            h_queued[a.se[n].cfs_rq] += 1
            if not delayed:
                h_runnable[a.se[n].cfs_rq] += 1
            n = a.se[n].parent
    for c in range(ncfs):
        if a.cfs[c].nr_queued != nr_queued[c]:
            out.append(f"cfs_rq {c}: nr_queued {a.cfs[c].nr_queued} != {nr_queued[c]}")
        if a.cfs[c].h_nr_queued != h_queued[c]:
            out.append(f"cfs_rq {c}: h_nr_queued {a.cfs[c].h_nr_queued} != {h_queued[c]}")
        if a.cfs[c].h_nr_runnable != h_runnable[c]:
            out.append(f"cfs_rq {c}: h_nr_runnable {a.cfs[c].h_nr_runnable} != {h_runnable[c]}")
    for c in range(s.nrq):
        if s.rq[c].rt_nr != rt_nr[c]:
            out.append(f"rq {c}: rt_nr {s.rq[c].rt_nr} != {rt_nr[c]}")
        if s.rq[c].nr_running != a.cfs[s.rq[c].cfs].h_nr_queued + s.rq[c].rt_nr:
            out.append(f"rq {c}: nr_running {s.rq[c].nr_running} != "
                       f"{a.cfs[s.rq[c].cfs].h_nr_queued} fair + {s.rq[c].rt_nr} rt")
    return out
