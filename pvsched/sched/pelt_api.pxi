# Python-visible PELT API.  Textually included by pvsched/_core.pyx.
#
# The C-level functions and constants come from pvsched/pelt.pxd.  Because
# ``from pvsched.sched.pelt cimport *`` already binds the names ``decay_load``,
# ``accumulate_pelt_segments``, ``LOAD_AVG_MAX`` and ``PELT_MIN_DIVIDER`` at
# compile time, the Python objects of the same names cannot be declared with
# ``def decay_load`` (Cython would shadow the nogil C function).  They are
# defined under private names and published into the module dict at import
# time by ``_pelt_publish`` below.  Cython code in _core.pyx therefore keeps
# calling the C versions; Python callers see the wrappers.

cimport cython
from libc.stdint cimport uint64_t, int64_t, uint32_t
from libc.limits cimport ULONG_MAX
from cpython.number cimport PyNumber_Index
from pvsched.sched.pelt cimport *

cdef object _PELT_U64_MAX = (1 << 64) - 1
cdef object _PELT_U32_MAX = (1 << 32) - 1
cdef object _PELT_ULONG_MAX = <object>ULONG_MAX


cdef object _pelt_arg(object value, str name, object maximum):
    """Coerce ``value`` to a Python int in [0, maximum] or raise, naming ``name``."""
    cdef object v
    try:
        v = PyNumber_Index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer, not {type(value).__name__}") from None
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    if maximum is not None and v > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {v}")
    return v


@cython.embedsignature(False)
@cython.annotation_typing(False)
def _pelt_py_decay_load(val: int, n: int) -> int:
    """decay_load(val, n) -> int

    ``val * y**n`` with ``y**32 == 1/2``, in the kernel's fixed point
    (``kernel/sched/pelt.c: decay_load``): halve once per 32 periods, then
    multiply by ``runnable_avg_yN_inv[n % 32] / 2**32`` (truncating).  Returns
    0 for ``n > 2016``.

    ``val`` must be in [0, 2**64); ``n`` >= 0 (any size).

    >>> decay_load(1000, 1)
    978
    >>> decay_load(1000, 32)
    499
    >>> decay_load(1 << 20, 2017)
    0
    """
    cdef uint64_t c_val = <uint64_t>_pelt_arg(val, "val", _PELT_U64_MAX)
    cdef object py_n = _pelt_arg(n, "n", None)
    if py_n > 2016:
        return 0
    return decay_load(c_val, <uint64_t>py_n)


@cython.embedsignature(False)
@cython.annotation_typing(False)
def _pelt_py_accumulate_pelt_segments(periods: int, d1: int, d3: int) -> int:
    """accumulate_pelt_segments(periods, d1, d3) -> int

    Contribution of a span that crosses ``periods`` period boundaries
    (``__accumulate_pelt_segments``): ``d1 * y**p + 1024 * sum_{n=1}^{p-1} y**n
    + d3``, as a u32.  ``d1`` is the tail of the first (old) period, ``d3`` the
    head of the current one, both in 1024 ns units.

    ``periods`` >= 0 (any size); ``d1`` and ``d3`` in [0, 2**32).  The kernel
    only calls this with ``periods >= 1``; ``periods == 0`` returns the same
    u32-wrapped value the kernel expression would.

    >>> accumulate_pelt_segments(1, 1024, 0)
    1002
    >>> accumulate_pelt_segments(2, 1024, 0)
    1981
    """
    cdef object py_p = _pelt_arg(periods, "periods", None)
    cdef uint32_t c_d1 = <uint32_t>_pelt_arg(d1, "d1", _PELT_U32_MAX)
    cdef uint32_t c_d3 = <uint32_t>_pelt_arg(d3, "d3", _PELT_U32_MAX)
    if py_p > 2016:         # decay_load(*, p) == 0 for every such p
        py_p = 2017
    return accumulate_pelt_segments(<uint64_t>py_p, c_d1, c_d3)


@cython.auto_pickle(True)
cdef class PeltAvg:
    """One ``struct sched_avg`` driven by the kernel's PELT update rule.

    Starts zeroed (``last_update_time == 0``, empty sums).  Call
    :meth:`update` with the current time in ns and the state that held *since
    the previous update*; averages are refreshed only when a 1024 us period
    boundary is crossed, exactly as in ``kernel/sched/pelt.c``.

    * task entity: ``load = runnable = on_rq``, ``running = (cfs_rq->curr ==
      se)``, ``avg_weight = se_weight`` (1024 for nice 0)
    * cfs_rq: ``load = sum of weights``, ``runnable = h_nr_runnable``,
      ``running = curr != NULL``, ``avg_weight = 1``

    >>> a = PeltAvg()
    >>> for ms in range(1, 33):
    ...     _ = a.update(ms * 1_000_000, 1, 1, True, avg_weight=1024)
    >>> a.util_avg, a.load_avg, a.runnable_avg
    (495, 495, 495)
    """

    cdef sched_avg sa

    def __init__(self):
        init_entity_avg(&self.sa, 0)

    @cython.annotation_typing(False)
    def update(self, now_ns: int, load: int, runnable: int, running: bool,
               avg_weight: int = 1) -> bool:
        """Advance to ``now_ns``; return True if the averages were refreshed.

        ``now_ns`` in [0, 2**64); ``load``, ``runnable``, ``avg_weight`` in
        [0, ULONG_MAX]; ``running`` is a bool (any int >= 0, non-zero = True).
        ``load == 0`` forces runnable and running to 0 (kernel rule).  A
        ``now_ns`` behind ``last_update_time`` just resets the clock.

        >>> a = PeltAvg()
        >>> a.update(500, 1, 1, True)        # < 1024 ns: nothing accrues
        False
        >>> a.update(1_100_000, 1, 1, True)  # crosses a period boundary
        True
        >>> a.last_update_time, a.period_contrib
        (1099776, 50)
        """
        cdef uint64_t c_now = <uint64_t>_pelt_arg(now_ns, "now_ns", _PELT_U64_MAX)
        cdef unsigned long c_load = <unsigned long>_pelt_arg(load, "load", _PELT_ULONG_MAX)
        cdef unsigned long c_runnable = <unsigned long>_pelt_arg(
            runnable, "runnable", _PELT_ULONG_MAX)
        cdef int c_running = 1 if _pelt_arg(running, "running", None) else 0
        cdef unsigned long c_weight = <unsigned long>_pelt_arg(
            avg_weight, "avg_weight", _PELT_ULONG_MAX)
        return pelt_update(c_now, &self.sa, c_load, c_runnable, c_running,
                           c_weight) != 0

    @cython.annotation_typing(False)
    def init_entity(self, se_weight: int) -> None:
        """``init_entity_runnable_average``: zero everything, ``load_avg = se_weight``.

        ``se_weight`` is the scaled-down weight (1024 for nice 0, 0 for a group
        entity).  ``load_sum`` stays 0 as in the kernel.

        >>> a = PeltAvg()
        >>> a.init_entity(1024)
        >>> a.load_avg, a.load_sum, a.util_avg
        (1024, 0, 0)
        """
        cdef unsigned long c_w = <unsigned long>_pelt_arg(
            se_weight, "se_weight", _PELT_ULONG_MAX)
        init_entity_avg(&self.sa, c_w)

    @cython.annotation_typing(False)
    def post_init_util(self, cfs_util_avg: int, cfs_load_avg: int,
                       se_weight: int) -> None:
        """``post_init_entity_util_avg`` on a 1024-capacity CPU, then sync sums.

        ``util_avg = min(cfs_util_avg * se_weight / (cfs_load_avg + 1), cap)``
        with ``cap = (1024 - cfs_util_avg) / 2`` (``cap`` itself when
        ``cfs_util_avg == 0``; unchanged when ``cap <= 0``);
        ``runnable_avg = util_avg``.  The sums are then rebuilt from the
        averages as ``attach_entity_load_avg`` does.

        >>> a = PeltAvg()
        >>> a.init_entity(1024)
        >>> a.post_init_util(0, 0, 1024)
        >>> a.util_avg, a.runnable_avg, a.util_sum
        (512, 512, 23919616)
        >>> b = PeltAvg()
        >>> b.init_entity(1024)
        >>> b.post_init_util(300, 2048, 1024)
        >>> b.util_avg
        149
        """
        cdef uint64_t c_util = <uint64_t>_pelt_arg(
            cfs_util_avg, "cfs_util_avg", _PELT_U64_MAX)
        cdef uint64_t c_load = <uint64_t>_pelt_arg(
            cfs_load_avg, "cfs_load_avg", _PELT_U64_MAX)
        cdef unsigned long c_w = <unsigned long>_pelt_arg(
            se_weight, "se_weight", _PELT_ULONG_MAX)
        post_init_util(&self.sa, c_util, c_load, c_w)

    @property
    def last_update_time(self):
        """Time (ns) the sums are accounted up to; advances in 1024 ns steps."""
        return self.sa.last_update_time

    @property
    def load_sum(self):
        """Decayed sum of ``load * contrib`` (u64)."""
        return self.sa.load_sum

    @property
    def runnable_sum(self):
        """Decayed sum of ``runnable * contrib << 10`` (u64)."""
        return self.sa.runnable_sum

    @property
    def util_sum(self):
        """Decayed sum of ``contrib << 10`` while running (u32)."""
        return self.sa.util_sum

    @property
    def period_contrib(self):
        """1024 ns units already elapsed in the current period (0..1023)."""
        return self.sa.period_contrib

    @property
    def load_avg(self):
        """``avg_weight * load_sum / divider`` at the last refresh."""
        return self.sa.load_avg

    @property
    def runnable_avg(self):
        """``runnable_sum / divider`` at the last refresh."""
        return self.sa.runnable_avg

    @property
    def util_avg(self):
        """``util_sum / divider`` at the last refresh (0..1024)."""
        return self.sa.util_avg

    def __repr__(self):
        return (f"PeltAvg(last_update_time={self.sa.last_update_time}, "
                f"load_sum={self.sa.load_sum}, runnable_sum={self.sa.runnable_sum}, "
                f"util_sum={self.sa.util_sum}, period_contrib={self.sa.period_contrib}, "
                f"load_avg={self.sa.load_avg}, runnable_avg={self.sa.runnable_avg}, "
                f"util_avg={self.sa.util_avg})")


def _pelt_publish():
    """Bind the public names over the private wrappers (see top of file)."""
    g = globals()
    for public, private in (
            ("decay_load", "_pelt_py_decay_load"),
            ("accumulate_pelt_segments", "_pelt_py_accumulate_pelt_segments")):
        func = g.pop(private)
        func.__name__ = public
        func.__qualname__ = public
        g[public] = func
    g["LOAD_AVG_PERIOD"] = <long>LOAD_AVG_PERIOD
    g["LOAD_AVG_MAX"] = <long>LOAD_AVG_MAX
    g["PELT_MIN_DIVIDER"] = <long>PELT_MIN_DIVIDER
    g["SCHED_CAPACITY_SHIFT"] = <long>SCHED_CAPACITY_SHIFT
    del g["_pelt_publish"]


_pelt_publish()
