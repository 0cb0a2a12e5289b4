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
    void __builtin_prefetch(const void* p) nogil

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


# Batched increments: a wake-up's histogram write goes to a small sequential buffer of cell
# indices, folded into the (large, cache-cold) histograms when the buffer fills and before any
# histogram is read. Same counts; the random writes happen together, so their cache misses overlap.
cdef enum:
    HIST_BATCH = 512

cdef inline void hist_batch_flush(u32* hist, u64* buf, int* n) noexcept nogil:
    cdef int i
    cdef int m = n[0]
    for i in range(m):
        if i + 8 < m:
            __builtin_prefetch(&hist[buf[i + 8]])
        hist[buf[i]] += 1
    n[0] = 0

cdef inline void hist_batch_add(u32* hist, u64* buf, int* n, u64 cell) noexcept nogil:
    buf[n[0]] = cell
    n[0] += 1
    if n[0] == HIST_BATCH:
        hist_batch_flush(hist, buf, n)
