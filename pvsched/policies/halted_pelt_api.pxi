# Python entry points (pvsched.kernel) for guest halted time: the per-exit measurement, the
# halted-aware (split) PELT update and the per-tick sample, running the C rules of
# policies/halted_pelt.pxd, and probes of a live engine. Included by _core.pyx after
# sched/pelt_api.pxi (PeltAvg, _pelt_arg) and the Engine.

cdef object _GTH_PPM_MIN = -(GTH_PPM_SCALE - 1)
cdef object _GTH_PPM_MAX = GTH_PPM_SCALE - 1


cdef int64_t _gth_ppm(object mperf_ppm) except? -1:
    cdef object v
    try:
        v = PyNumber_Index(mperf_ppm)
    except TypeError:
        raise TypeError(f"mperf_ppm must be an integer, not {type(mperf_ppm).__name__}") from None
    if not _GTH_PPM_MIN <= v <= _GTH_PPM_MAX:
        raise ValueError(f"mperf_ppm must be in {_GTH_PPM_MIN}..{_GTH_PPM_MAX}, got {v}")
    return <int64_t>v


@cython.annotation_typing(False)
def gtime_halted_cycles_py(tsc_delta: int, mperf_delta: int) -> int:
    """gtime_halted_cycles(tsc_delta, mperf_delta) -> int

    Patch 2's rule for one entry/exit pair: ``tsc_delta - mperf_delta`` halted cycles when the TSC
    advanced more than MPERF, else 0 (MPERF stops while the CPU is halted; ``likely(cycles >
    unhalted_cycles)``).

    >>> gtime_halted_cycles(4_000_000, 1_000_000), gtime_halted_cycles(1_000, 1_000)
    (3000000, 0)
    """
    return gtime_halted_cycles(<uint64_t>_pelt_arg(tsc_delta, "tsc_delta", _PELT_U64_MAX),
                               <uint64_t>_pelt_arg(mperf_delta, "mperf_delta", _PELT_U64_MAX))


@cython.annotation_typing(False)
def mperf_cycles_py(unhalted_ns: int, mperf_ppm: int = 0) -> int:
    """mperf_cycles(unhalted_ns, mperf_ppm=0) -> int

    MPERF counts (in TSC-ns units) over ``unhalted_ns`` of unhalted time when MPERF runs
    ``mperf_ppm`` parts per million faster than the TSC (negative: slower); truncating.

    >>> mperf_cycles(3_000_000), mperf_cycles(3_000_000, 1000), mperf_cycles(3_000_000, -1000)
    (3000000, 3003000, 2997000)
    """
    return mperf_cycles(<uint64_t>_pelt_arg(unhalted_ns, "unhalted_ns", _PELT_U64_MAX), _gth_ppm(mperf_ppm))


@cython.annotation_typing(False)
def gtime_halted_stay_py(stay_ns: int, unhalted_ns: int, mperf_ppm: int = 0) -> int:
    """gtime_halted_stay(stay_ns, unhalted_ns, mperf_ppm=0) -> int

    Halted ns that KVM measures (patch 2) for one stay in guest mode of ``stay_ns``, of which
    ``unhalted_ns`` were spent executing: TSC delta = ``stay_ns``, MPERF delta =
    ``mperf_cycles(unhalted_ns, mperf_ppm)``, halted = their difference if positive. With a
    matched MPERF this is exactly the halted time; a fast MPERF under-counts it (and hides short
    halts entirely), a slow one over-counts.

    >>> gtime_halted_stay(4_000_000, 1_000_000)
    3000000
    >>> gtime_halted_stay(4_000_000, 1_000_000, mperf_ppm=10_000)   # MPERF 1% fast
    2990000
    >>> gtime_halted_stay(4_000_000, 4_000_000, mperf_ppm=-10_000)  # busy stay, slow MPERF
    40000
    """
    cdef uint64_t stay = <uint64_t>_pelt_arg(stay_ns, "stay_ns", _PELT_U64_MAX)
    cdef uint64_t unhalted = <uint64_t>_pelt_arg(unhalted_ns, "unhalted_ns", _PELT_U64_MAX)
    if unhalted > stay:
        raise ValueError(f"unhalted_ns={unhalted} exceeds stay_ns={stay}")
    return gtime_halted_measure(stay, unhalted, _gth_ppm(mperf_ppm))


cdef class HaltedPeltAvg(PeltAvg):
    """A ``struct sched_avg`` with the RFC's pending ``gtime_halted`` counter (patch 3).

    :meth:`account` adds halted ns (what ``sched_account_gtime_halted`` does at a VM exit for
    the vCPU thread's entity and each ancestor entity and cfs_rq); :meth:`update` is the patched
    ``__update_load_avg_se`` / ``__update_load_avg_cfs_rq``: the sums are first brought to
    ``now - h`` with the real flags, then the last ``h = min(now - last_update_time, pending)``
    ns are accumulated with load = runnable = running = 0; ``h`` leaves the counter and, if a
    period boundary was crossed, the residual is decayed by ``decay_load(residual, delta // 1024)``
    (``delta`` in ns: the patch's quirk, so a residual never survives an update interval over
    2.064 ms). With nothing pending it is exactly :class:`PeltAvg`.

    >>> a = HaltedPeltAvg()
    >>> for ms in range(1, 33):
    ...     a.account(500_000)                   # each 1 ms: 0.5 ms of it halted
    ...     _ = a.update(ms * 1_000_000, 1, 1, True, avg_weight=1024)
    >>> a.util_avg, a.gtime_halted         # 495 without the discount; the halves sit last
    (246, 0)
    """

    cdef uint64_t pending

    def __init__(self):
        PeltAvg.__init__(self)
        self.pending = 0

    @cython.annotation_typing(False)
    def account(self, halted_ns: int) -> None:
        """Add ``halted_ns`` to the pending counter (u64, wrapping like the kernel's ``+=``)."""
        self.pending += <uint64_t>_pelt_arg(halted_ns, "halted_ns", _PELT_U64_MAX)

    @property
    def gtime_halted(self):
        """Pending halted ns not yet discounted."""
        return self.pending

    @gtime_halted.setter
    def gtime_halted(self, value):
        self.pending = <uint64_t>_pelt_arg(value, "gtime_halted", _PELT_U64_MAX)

    @cython.annotation_typing(False)
    def update(self, now_ns: int, load: int, runnable: int, running: bool,
               avg_weight: int = 1) -> bool:
        """The split update to ``now_ns`` (see the class); True if the averages were refreshed.

        >>> a = HaltedPeltAvg()
        >>> a.account(3_000_000)                  # pending exceeds the 2 ms interval ...
        >>> a.update(2_000_000, 1, 1, True)       # ... so the whole interval counts as absent
        True
        >>> a.util_avg, a.gtime_halted            # 1 ms residual wiped: decay_load(., 1953) = 0
        (0, 0)
        """
        cdef uint64_t c_now = <uint64_t>_pelt_arg(now_ns, "now_ns", _PELT_U64_MAX)
        cdef unsigned long c_load = <unsigned long>_pelt_arg(load, "load", _PELT_ULONG_MAX)
        cdef unsigned long c_runnable = <unsigned long>_pelt_arg(runnable, "runnable", _PELT_ULONG_MAX)
        cdef int c_running = 1 if _pelt_arg(running, "running", None) else 0
        cdef unsigned long c_weight = <unsigned long>_pelt_arg(avg_weight, "avg_weight", _PELT_ULONG_MAX)
        return pelt_update_halted(c_now, &self.sa, &self.pending, c_load, c_runnable, c_running,
                                  c_weight) != 0

    def __repr__(self):
        base = PeltAvg.__repr__(self)
        return base[:len(base) - 1] + f", gtime_halted={self.pending})"


def _gth_publish():
    g = globals()
    for public in ("gtime_halted_cycles", "mperf_cycles", "gtime_halted_stay"):
        func = g.pop(public + "_py")
        func.__name__ = public
        func.__qualname__ = public
        g[public] = func
    del g["_gth_publish"]


_gth_publish()


# ---------------------------------------------------------------- probes of a live engine
cdef s32 _gth_task(Engine engine, object task) except -1:
    cdef object t = PyNumber_Index(task)
    if not 0 <= t < engine.s.ntask:
        raise ValueError(f"no task {t}")
    return <s32>t


@cython.annotation_typing(False)
def gtime_halted_levels(Engine engine, task) -> list:
    """The pending ``gtime_halted`` of a task's entity and cfs_rq, then of each ancestor entity
    and its cfs_rq (``for_each_sched_entity``), as dicts from the bottom up.

    ``task`` is a task index (``Simulation.task_index("vm/vcpu0")``); the engine is
    ``Simulation.engine``.
    """
    cdef s32 t = _gth_task(engine, task)
    cdef s32 n = engine.s.task[t].se
    out = []
    while n >= 0:
        c = engine.s.fa.se[n].cfs_rq
        pending = engine.s.gth.se_pending != NULL
        out.append({"se": n, "se_gtime_halted": engine.s.gth.se_pending[n] if pending else 0, "cfs_rq": c,
                    "cfs_rq_gtime_halted": engine.s.gth.cfs_pending[c] if pending else 0,
                    "depth": engine.s.fa.se[n].depth})
        n = engine.s.fa.se[n].parent
    return out


@cython.annotation_typing(False)
def account_gtime_halted(Engine engine, task, halted_ns: int) -> None:
    """``sched_account_gtime_halted(task, halted_ns)`` on a live engine: what an exit does in
    exact mode (a no-op when the host kernel is configured with ``no_hz_full``)."""
    cdef s32 t = _gth_task(engine, task)
    sched_account_gtime_halted(&engine.s, t, <uint64_t>_pelt_arg(halted_ns, "halted_ns", _PELT_U64_MAX))
