# Weights, fixed point and calc_delta_fair (kernel/sched/core.c, fair.c, sched.h; Linux v6.15).
# Every function is noexcept nogil: the event loop calls them per event.
from libc.stdint cimport uint64_t, int64_t, uint32_t, int32_t

ctypedef uint64_t u64
ctypedef int64_t s64
ctypedef uint32_t u32
ctypedef int32_t s32

cdef extern from *:
    """
    static const unsigned int pv_prio_to_weight[40] = {
     /* -20 */ 88761, 71755, 56483, 46273, 36291,
     /* -15 */ 29154, 23254, 18705, 14949, 11916,
     /* -10 */  9548,  7620,  6100,  4904,  3906,
     /*  -5 */  3121,  2501,  1991,  1586,  1277,
     /*   0 */  1024,   820,   655,   526,   423,
     /*   5 */   335,   272,   215,   172,   137,
     /*  10 */   110,    87,    70,    56,    45,
     /*  15 */    36,    29,    23,    18,    15,
    };
    static const unsigned int pv_prio_to_wmult[40] = {
     /* -20 */     48388,     59856,     76040,     92818,    118348,
     /* -15 */    147320,    184698,    229616,    287308,    360437,
     /* -10 */    449829,    563644,    704093,    875809,   1099582,
     /*  -5 */   1376151,   1717300,   2157191,   2708050,   3363326,
     /*   0 */   4194304,   5237765,   6557202,   8165337,  10153587,
     /*   5 */  12820798,  15790321,  19976592,  24970740,  31350126,
     /*  10 */  39045157,  49367440,  61356676,  76695844,  95443717,
     /*  15 */ 119304647, 148102320, 186737708, 238609294, 286331153,
    };
    /* mul_u64_u32_shr: (a * b) >> shift with a full 128-bit intermediate. */
    static inline unsigned long long pv_mul_u64_u32_shr(unsigned long long a, unsigned int b, unsigned int shift) {
        return (unsigned long long)(((unsigned __int128)a * b) >> shift);
    }
    /* fls(0) = 0 without a branch: the lowest bit set keeps clzll defined, and (x << 1) | 1 has
       63 - fls(x) leading zeros */
    static inline int pv_fls(unsigned int x) { return 63 - __builtin_clzll(((unsigned long long)x << 1) | 1); }
    static inline int pv_ilog2(unsigned long long x) { return 63 - __builtin_clzll(x); }
    /* s64 division truncating toward zero (C99), as the kernel's div_s64; a divisor of -1 is
       negation (wrapping), so INT64_MIN / -1 cannot trap */
    static inline long long pv_div_s64(long long a, long long b) {
        return b == -1 ? (long long)(0ULL - (unsigned long long)a) : a / b;
    }
    """
    const unsigned int pv_prio_to_weight[40]
    const unsigned int pv_prio_to_wmult[40]
    u64 pv_mul_u64_u32_shr(u64 a, u32 b, u32 shift) nogil
    int pv_fls(u32 x) nogil
    int pv_ilog2(u64 x) nogil
    s64 pv_div_s64(s64 a, s64 b) nogil

cdef enum:
    SCHED_FIXEDPOINT_SHIFT = 10
    NICE_0_LOAD_SHIFT = 20
    WMULT_SHIFT = 32
    WEIGHT_IDLEPRIO = 3
    WMULT_IDLEPRIO = 1431655765
    MIN_SHARES = 2
    MAX_SHARES = 262144

cdef struct load_weight:
    u64 weight        # scaled up by 2^10 (nice 0 = 1048576)
    u32 inv_weight    # 0 = compute lazily as floor((2^32-1)/w)

cdef inline u64 scale_load(u64 w) noexcept nogil:
    return w << SCHED_FIXEDPOINT_SHIFT

cdef inline u64 scale_load_down(u64 w) noexcept nogil:
    # Any nonzero weight scales down to at least 2 (sched.h). Written as one max, with no test
    # of w == 0 that could become a branch: it runs several times per hierarchy level, and a
    # queue's weight is 0 whenever it empties.
    cdef u64 r = w >> SCHED_FIXEDPOINT_SHIFT
    cdef u64 floor = <u64>(w != 0) * 2
    return r if r > floor else floor

cdef inline void update_inv_weight(load_weight* lw) noexcept nogil:
    cdef u64 w
    if lw.inv_weight:
        return
    w = scale_load_down(lw.weight)
    if w >= <u64>0xFFFFFFFF:
        lw.inv_weight = 1
    elif w == 0:
        lw.inv_weight = <u32>0xFFFFFFFF
    else:
        lw.inv_weight = <u32>(<u64>0xFFFFFFFF // w)

cdef inline u64 __calc_delta(u64 delta_exec, u64 weight, load_weight* lw) noexcept nogil:
    # delta_exec * weight / lw.weight, the kernel's fixed-point way.
    cdef u64 fact = scale_load_down(weight)
    cdef u32 fact_hi = <u32>(fact >> 32)
    cdef int shift = WMULT_SHIFT
    cdef int fs
    update_inv_weight(lw)
    if fact_hi:
        fs = pv_fls(fact_hi)
        shift -= fs
        fact >>= fs
    fact = <u64>(<u32>fact) * lw.inv_weight
    # fls(0) == 0, so the kernel's "if (fact_hi)" needs no branch here (it depends on the weights)
    fs = pv_fls(<u32>(fact >> 32))
    shift -= fs
    fact >>= fs
    return pv_mul_u64_u32_shr(delta_exec, <u32>fact, shift)

cdef inline u64 calc_delta_fair_lw(u64 delta, load_weight* lw) noexcept nogil:
    if lw.weight != (1 << NICE_0_LOAD_SHIFT):
        return __calc_delta(delta, 1 << NICE_0_LOAD_SHIFT, lw)
    return delta

cdef inline int nice_index(int nice) noexcept nogil:
    return nice + 20

cdef inline void set_load_nice(load_weight* lw, int nice, int idle_policy) noexcept nogil:
    # set_load_weight() for a task: table weight and table inverse.
    if idle_policy:
        lw.weight = scale_load(WEIGHT_IDLEPRIO)
        lw.inv_weight = WMULT_IDLEPRIO
    else:
        lw.weight = scale_load(pv_prio_to_weight[nice + 20])
        lw.inv_weight = pv_prio_to_wmult[nice + 20]

cdef inline void update_load_set(load_weight* lw, u64 w) noexcept nogil:
    lw.weight = w
    lw.inv_weight = 0

cdef inline u64 tick_nsec(u64 hz) noexcept nogil:
    # TICK_NSEC = (NSEC_PER_SEC + HZ/2) / HZ (include/vdso/jiffies.h): rounded, so HZ=1024 gives
    # 976563 ns (a truncated 10**9 // HZ gives 976562).
    return (<u64>1_000_000_000 + hz // 2) // hz

cdef enum:
    # __setparam_fair clamps sched_attr.sched_runtime to [NSEC_PER_MSEC/10, NSEC_PER_MSEC*100]
    # (later kernels name the bounds SCHED_SLICE_MIN / SCHED_SLICE_MAX).
    SCHED_SLICE_MIN_NS = 100_000
    SCHED_SLICE_MAX_NS = 100_000_000

cdef inline u64 setparam_fair_slice(u64 runtime) noexcept nogil:
    if runtime < SCHED_SLICE_MIN_NS:
        return SCHED_SLICE_MIN_NS
    if runtime > SCHED_SLICE_MAX_NS:
        return SCHED_SLICE_MAX_NS
    return runtime

cdef inline u64 base_slice_for(u64 base_ns, int ncpus, int scaling) noexcept nogil:
    # sysctl_sched_base_slice * factor; scaling 0 = NONE, 1 = LOG (default), 2 = LINEAR.
    cdef int cpus = ncpus if ncpus < 8 else 8
    if cpus < 1:
        cpus = 1
    if scaling == 0:
        return base_ns
    if scaling == 2:
        return base_ns * <u64>cpus
    return base_ns * <u64>(1 + pv_ilog2(<u64>cpus))
