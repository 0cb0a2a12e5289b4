# Streaming log-linear latency histogram (HdrHistogram-like): exact below 32 ns, then 32
# sub-buckets per power of two (relative error <= 1/32). Values >= 2^42 ns land in the last bucket.
from pvsched.sched.calc cimport u64, s64, u32

cdef enum:
    HIST_SUB_BITS = 5
    HIST_SUB = 32
    HIST_NBUCKETS = 1216     # (42 - 5 + 1) * 32

cdef extern from *:
    """
    static inline int pv_clzll(unsigned long long x) { return __builtin_clzll(x); }
    """
    int pv_clzll(u64 x) nogil

cdef inline int hist_bucket(s64 v) noexcept nogil:
    cdef u64 u
    cdef int e, shift, idx
    if v < HIST_SUB:
        return <int>v if v > 0 else 0
    u = <u64>v
    e = 63 - pv_clzll(u)
    shift = e - HIST_SUB_BITS
    idx = ((shift + 1) << HIST_SUB_BITS) | <int>((u >> shift) & (HIST_SUB - 1))
    if idx >= HIST_NBUCKETS:
        idx = HIST_NBUCKETS - 1
    return idx
