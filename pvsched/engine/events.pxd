# Deterministic event queue: an indexed heap of timer slots, like hrtimers.
# Every source of future events (a CPU's tick, a CPU's current burst, a task's timer, ...) owns
# one slot, armed at most once, so the heap never holds stale entries and never allocates.
# Order: (time, seq). seq is a FIFO counter, or a seeded random key when tie-shuffling is on.
#
# Layout: a 4-ary heap of 16-byte keys (time with its sign bit flipped, then seq: one unsigned
# 128-bit number, compared without branches) and, beside it, the slot of each heap entry. The
# keys array is offset so that the four children of an entry share one 64-byte cache line.
# Entries past the last hold the largest key, so every child group is a full four: the sifts
# pick the earliest child without testing how many there are (no branch to mispredict).
# (time, seq) keys are unique, so any exact heap pops the same sequence as any other.
from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memset
from pvsched.sched.calc cimport u64, s64, u32, s32

# Simulated time. Inputs are bounded by MAX_TIME_NS (2^62 ns, ~146 years: validated in Python,
# checked again by the Engine), so an instant plus one duration always fits in an s64; longer
# sums (instant + duration + jitter, a slot's expiry + more exit work) saturate at T_NEVER, a
# time no run reaches: an event armed there never fires, and no time wraps negative.
cdef extern from *:
    """
    #define PV_MAX_TIME_NS (1LL << 62)
    #define PV_T_NEVER 0x7FFFFFFFFFFFFFFFLL
    """
    const s64 MAX_TIME_NS "PV_MAX_TIME_NS"
    const s64 T_NEVER "PV_T_NEVER"

cdef inline s64 tadd(s64 a, s64 b) noexcept nogil:
    # a + b for a, b >= 0, saturating at T_NEVER.
    if a > T_NEVER - b:
        return T_NEVER
    return a + b

cdef struct ev_key:
    u64 hi            # time ^ 2^63: unsigned order = signed time order
    u64 lo            # seq

cdef struct EventQueue:
    ev_key* heap      # heap index -> key (heap[0] is the earliest)
    s32* hslot        # heap index -> slot
    s32* pos          # slot -> heap index, -1 when not armed
    void* heap_mem    # the allocation behind heap (heap is offset into it for alignment)
    s32 n
    s32 nslots
    u64 seq
    u64 rng           # xorshift state for tie shuffling
    int shuffle
    int hole          # the root was popped but not removed yet (ev_take): the next new arm fills it

cdef extern from *:
    """
    #define PV_EV_TIME_FLIP 0x8000000000000000ULL
    static inline int pv_ev_key_less(unsigned long long ahi, unsigned long long alo,
                                     unsigned long long bhi, unsigned long long blo) {
        unsigned __int128 a = ((unsigned __int128)ahi << 64) | alo;
        unsigned __int128 b = ((unsigned __int128)bhi << 64) | blo;
        return a < b;
    }
    /* Of the four keys at h (hi, lo pairs), the index (0-3) of the earliest (the first of equals),
       its key in *hi, *lo; without branches (which child wins is data, not a pattern). */
    #if defined(__x86_64__) && defined(__GNUC__)
    /* GCC branches on a select of 128-bit keys; cmov keeps the sift free of mispredicts, and the
       keys stay in registers instead of being loaded again by index. */
    static inline void pv_ev_sel_mem(unsigned long long* ah, unsigned long long* al, long long* ia,
                                     const unsigned long long* b) {
        /* (*ah, *al) = key b and *ia += 1 if key b < key (*ah, *al) */
        unsigned long long t, h = *ah, l = *al;
        long long i = *ia;
        __asm__("cmp %[l], %[bl]; mov %[bh], %[t]; sbb %[h], %[t]; "
                "cmovb %[bh], %[h]; cmovb %[bl], %[l]; adc $0, %[i]"
                : [h] "+r"(h), [l] "+r"(l), [i] "+r"(i), [t] "=&r"(t)
                : [bh] "m"(b[0]), [bl] "m"(b[1]) : "cc");
        *ah = h; *al = l; *ia = i;
    }
    static inline long long pv_ev_min4(const unsigned long long* h, unsigned long long* hi,
                                       unsigned long long* lo) {
        unsigned long long ah = h[0], al = h[1], bh = h[4], bl = h[5], t;
        long long ia = 0, ib = 2;
        pv_ev_sel_mem(&ah, &al, &ia, h + 2);
        pv_ev_sel_mem(&bh, &bl, &ib, h + 6);
        __asm__("cmp %[l], %[bl]; mov %[bh], %[t]; sbb %[h], %[t]; "
                "cmovb %[bh], %[h]; cmovb %[bl], %[l]; cmovb %[ib], %[i]"
                : [h] "+r"(ah), [l] "+r"(al), [i] "+r"(ia), [t] "=&r"(t)
                : [bh] "r"(bh), [bl] "r"(bl), [ib] "r"(ib) : "cc");
        *hi = ah; *lo = al;
        return ia;
    }
    #else
    static inline long long pv_ev_min2(const unsigned long long* h, long long a, long long b) {
        unsigned __int128 ka = ((unsigned __int128)h[2 * a] << 64) | h[2 * a + 1];
        unsigned __int128 kb = ((unsigned __int128)h[2 * b] << 64) | h[2 * b + 1];
        return a + ((b - a) & -(long long)(kb < ka));
    }
    static inline long long pv_ev_min4(const unsigned long long* h, unsigned long long* hi,
                                       unsigned long long* lo) {
        long long m = pv_ev_min2(h, pv_ev_min2(h, 0, 1), pv_ev_min2(h, 2, 3));
        *hi = h[2 * m]; *lo = h[2 * m + 1];
        return m;
    }
    #endif
    """
    bint pv_ev_key_less(u64 ahi, u64 alo, u64 bhi, u64 blo) nogil
    s64 pv_ev_min4(const u64* h, u64* hi, u64* lo) nogil
    const u64 EV_TIME_FLIP "PV_EV_TIME_FLIP"

cdef inline int ev_alloc(EventQueue* q, s32 nslots) noexcept nogil:
    # Keys 64-byte aligned at index 1 (the first child group), so up to 3 spare entries before;
    # a child group read starts below q.n <= nslots, so 3 more after. All start as the largest
    # key (all bits set).
    cdef s32 i
    cdef size_t nkeys = <size_t>max(nslots, 1) + 7
    cdef char* mem = <char*>malloc(nkeys * sizeof(ev_key))
    cdef size_t off
    q.heap_mem = mem
    q.hslot = <s32*>calloc(max(nslots, 1), sizeof(s32))
    q.pos = <s32*>malloc(max(nslots, 1) * sizeof(s32))
    if mem == NULL or q.hslot == NULL or q.pos == NULL:
        return -1
    memset(mem, 0xFF, nkeys * sizeof(ev_key))
    off = (<size_t>(64 - ((<size_t>mem + 16) & 63)) & 63) // 16      # entries to skip so &heap[1] is aligned
    q.heap = (<ev_key*>mem) + off
    q.nslots = nslots
    q.n = 0
    for i in range(nslots):
        q.pos[i] = -1
    return 0

cdef inline void ev_free(EventQueue* q) noexcept nogil:
    free(q.heap_mem)
    free(q.hslot)
    free(q.pos)
    q.heap_mem = NULL
    q.heap = NULL
    q.hslot = NULL
    q.pos = NULL

cdef inline bint ev_less_idx(EventQueue* q, s32 a, s32 b) noexcept nogil:
    return pv_ev_key_less(q.heap[a].hi, q.heap[a].lo, q.heap[b].hi, q.heap[b].lo)

cdef inline s64 ev_min_child(EventQueue* q, s64 c, ev_key* k) noexcept nogil:
    # The earliest of the children c..c+3 (c < n: past the last entry, the largest key), its key
    # in k (64-bit indices: no sign extensions in the heap's hottest loop).
    return c + pv_ev_min4(<const u64*>(q.heap + c), &k.hi, &k.lo)

cdef inline void ev_unset_last(EventQueue* q) noexcept nogil:
    # The entry at q.n has left the heap: back to the largest key, so its child group stays full.
    q.heap[q.n].hi = <u64>0xFFFFFFFFFFFFFFFF
    q.heap[q.n].lo = <u64>0xFFFFFFFFFFFFFFFF

cdef inline void ev_place(EventQueue* q, s64 i, ev_key k, s32 slot) noexcept nogil:
    q.heap[i] = k
    q.hslot[i] = slot
    q.pos[slot] = <s32>i

cdef inline void ev_sift_up(EventQueue* q, s64 i) noexcept nogil:
    # With a hole (a popped root not removed yet, see ev_take) the root is not an entry: keys
    # stop below it (each of its four subtrees stays a heap, which is all ev_remove_root needs).
    cdef ev_key k = q.heap[i]
    cdef s32 slot = q.hslot[i]
    cdef s64 p
    cdef s64 top = 4 * q.hole       # entries at indices <= top do not move up
    while i > top:
        p = (i - 1) >> 2
        if not pv_ev_key_less(k.hi, k.lo, q.heap[p].hi, q.heap[p].lo):
            break
        ev_place(q, i, q.heap[p], q.hslot[p])
        i = p
    ev_place(q, i, k, slot)

cdef inline void ev_sift_down_key(EventQueue* q, s64 i, ev_key k, s32 slot) noexcept nogil:
    # Place key k of `slot` at index i or below (i's old entry is overwritten).
    cdef s64 c, m
    cdef s64 n = q.n
    cdef ev_key km
    while True:
        c = 4 * i + 1
        if c >= n:
            break
        m = ev_min_child(q, c, &km)
        if not pv_ev_key_less(km.hi, km.lo, k.hi, k.lo):
            break
        ev_place(q, i, km, q.hslot[m])
        i = m
    ev_place(q, i, k, slot)

cdef inline void ev_sift_down(EventQueue* q, s64 i) noexcept nogil:
    ev_sift_down_key(q, i, q.heap[i], q.hslot[i])

cdef inline u64 ev_next_seq(EventQueue* q) noexcept nogil:
    cdef u64 x
    q.seq += 1
    if not q.shuffle:
        return q.seq
    x = q.rng
    x ^= x << 13
    x ^= x >> 7
    x ^= x << 17
    q.rng = x
    return (x & <u64>0xFFFFFFFF00000000) | (q.seq & <u64>0xFFFFFFFF)

cdef inline void ev_arm(EventQueue* q, s32 slot, s64 time) noexcept nogil:
    cdef s32 i = q.pos[slot]
    cdef ev_key k
    k.hi = <u64>time ^ EV_TIME_FLIP
    k.lo = ev_next_seq(q)
    if i < 0 and q.hole:
        # the popped root's place: one sift down instead of removing it and inserting (the same
        # entries either way, so the same pops)
        q.hole = 0
        ev_sift_down_key(q, 0, k, slot)
        return
    if i < 0:
        i = q.n
        q.n += 1
        ev_place(q, i, k, slot)
        ev_sift_up(q, i)
        return
    if pv_ev_key_less(k.hi, k.lo, q.heap[i].hi, q.heap[i].lo):
        q.heap[i] = k
        ev_sift_up(q, i)
    else:
        q.heap[i] = k
        ev_sift_down(q, i)

cdef inline void ev_cancel(EventQueue* q, s32 slot) noexcept nogil:
    cdef s32 i = q.pos[slot]
    cdef ev_key last
    if i < 0:
        return
    q.pos[slot] = -1
    q.n -= 1
    last = q.heap[q.n]
    ev_unset_last(q)
    if i == q.n:
        return
    ev_place(q, i, last, q.hslot[q.n])
    if i > 4 * q.hole and ev_less_idx(q, i, (i - 1) >> 2):
        ev_sift_up(q, i)
    else:
        ev_sift_down(q, i)

cdef inline bint ev_armed(EventQueue* q, s32 slot) noexcept nogil:
    return q.pos[slot] >= 0

cdef inline s64 ev_expiry(EventQueue* q, s32 slot) noexcept nogil:
    return <s64>(q.heap[q.pos[slot]].hi ^ EV_TIME_FLIP)

cdef inline s64 ev_top_time(EventQueue* q) noexcept nogil:
    # Time of the earliest event (q.n > 0, no hole).
    return <s64>(q.heap[0].hi ^ EV_TIME_FLIP)

cdef inline void ev_remove_root(EventQueue* q) noexcept nogil:
    # Bottom-up: the hole at the root follows the earliest child down to a leaf, then the last
    # entry is placed there and sifted up.
    cdef s64 i = 0
    cdef s64 c, m, n
    cdef ev_key km
    cdef ev_key last
    q.n -= 1
    n = q.n
    last = q.heap[n]
    ev_unset_last(q)
    if n == 0:
        return
    while True:
        c = 4 * i + 1
        if c >= n:
            break
        m = ev_min_child(q, c, &km)
        ev_place(q, i, km, q.hslot[m])
        i = m
    if i != n:
        ev_place(q, i, last, q.hslot[n])
        ev_sift_up(q, i)

cdef inline bint ev_layout_ok(EventQueue* q) noexcept nogil:
    # For tests: heap order (below a hole), slot <-> index maps, largest keys past the last entry.
    cdef s64 i, top = 4 * q.hole
    for i in range(q.n):
        if q.pos[q.hslot[i]] != i and not (i == 0 and q.hole):     # (a hole's slot is unarmed)
            return False
        if i > top and pv_ev_key_less(q.heap[i].hi, q.heap[i].lo, q.heap[(i - 1) >> 2].hi, q.heap[(i - 1) >> 2].lo):
            return False
    for i in range(q.n, q.nslots + 3):
        if q.heap[i].hi != <u64>0xFFFFFFFFFFFFFFFF or q.heap[i].lo != <u64>0xFFFFFFFFFFFFFFFF:
            return False
    return True

cdef inline void ev_settle(EventQueue* q) noexcept nogil:
    # Remove a popped root still in place (before any other heap operation looks at the heap).
    if q.hole:
        q.hole = 0
        ev_remove_root(q)

cdef inline s32 ev_take(EventQueue* q, s64* time) noexcept nogil:
    # Pops the earliest event (q.n > 0, no hole): its slot is no longer armed, but its place
    # stays as a hole until the next operation, so that a new arm (often the handler re-arming
    # a timer) replaces it directly. ev_settle() after the handler removes an unused hole.
    cdef s32 slot = q.hslot[0]
    time[0] = <s64>(q.heap[0].hi ^ EV_TIME_FLIP)
    q.pos[slot] = -1
    q.hole = 1
    return slot

cdef inline s32 ev_pop(EventQueue* q, s64* time) noexcept nogil:
    # Removes the earliest event; returns its slot (caller checks q.n > 0 first).
    cdef s32 slot
    ev_settle(q)
    slot = ev_take(q, time)
    ev_settle(q)
    return slot
