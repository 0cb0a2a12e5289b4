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
#
# Beside the heap, a timer wheel (as the kernel's, but exact): EV_WHEEL_BUCKETS buckets of
# 2^EV_WHEEL_SHIFT ns, each a list of its timers in key order, found through a two-level bitmap.
# Buckets are narrow (a few timers each in a busy load), so an arm is mostly an append at the
# bucket's tail and a pop takes the first bucket's head, where a heap of all ~256 timers walked
# 4-5 levels for each. The heap keeps the timers beyond the wheel's span (and any before its
# first bucket); a pop takes the earlier of its root and the wheel's first timer.
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

cdef enum:
    EV_UNARMED = -1       # pos of a slot not armed
    EV_IN_WHEEL = -2      # pos of a slot in the wheel
    EV_WHEEL_SHIFT = 12   # bucket width 2^12 ns (4.1 us: ~3 timers in the host benchmark)
    EV_WHEEL_WORDS = 16   # bitmap words (< 64), one bit each in wsummary
    EV_WHEEL_BUCKETS = 64 * EV_WHEEL_WORDS      # span 4.2 ms (ticks, slices, sleeps)

cdef struct ev_slot:
    # What the queue keeps of a slot, in one 32-byte aligned record: an arm or a pop from the
    # wheel touches one cache line of the slot's and one of each neighbour's.
    ev_key key        # its key while in the wheel
    s32 pos           # heap index, or EV_UNARMED, EV_IN_WHEEL
    s32 next          # next slot of its wheel bucket, -1 at the end
    s32 prev          # previous slot of its wheel bucket, -1 at the head
    s32 unused

cdef struct ev_list:
    s32 head          # first slot of a wheel bucket, -1 when empty
    s32 tail          # its last slot

cdef struct EventQueue:
    ev_key* heap      # heap index -> key (heap[0] is the earliest)
    s32* hslot        # heap index -> slot
    ev_slot* slot     # slot -> its record
    void* heap_mem    # the allocation behind heap (heap is offset into it for alignment)
    void* slot_mem    # the allocation behind slot (offset for alignment)
    s32 n             # entries in the heap
    s32 wn            # slots in the wheel
    ev_list wlist[EV_WHEEL_BUCKETS]   # wheel bucket -> its slots in key order
    u64 wmask[EV_WHEEL_WORDS]       # bit j % 64 of word j / 64 set: bucket j is not empty
    u64 wsummary      # bit w set: word w of wmask is not zero
    u64 wbase         # bucket number (time >> EV_WHEEL_SHIFT) of the wheel's first bucket
    u64 wfirst        # bucket number of the wheel's first timer, as ev_next_time found it
    s32 wfirst_slot   # that timer's slot
    bint from_wheel   # ev_next_time found the earliest event in the wheel
    s64 now           # time of the last pop: an empty wheel restarts there
    s32 nslots
    u64 seq
    u64 rng           # xorshift state for tie shuffling
    int shuffle
    int hole          # the root was popped but not removed yet (ev_take): the next new arm fills it

cdef extern from *:
    """
    #include <stdint.h>
    #define PV_EV_TIME_FLIP 0x8000000000000000ULL
    /* The keys are read through uint64_t pointers, the type Cython's u64 is (unsigned long
       here): an unsigned long long pointer would be another type, which GCC may assume does
       not alias the heap's stores (strict aliasing). */
    static inline unsigned long long pv_ev_ctz(unsigned long long x) {      /* x != 0 */
        return (unsigned long long)__builtin_ctzll(x);
    }
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
    static inline void pv_ev_sel_mem(uint64_t* ah, uint64_t* al, int64_t* ia, const uint64_t* b) {
        /* (*ah, *al) = key b and *ia += 1 if key b < key (*ah, *al) */
        uint64_t t, h = *ah, l = *al;
        int64_t i = *ia;
        __asm__("cmp %[l], %[bl]; mov %[bh], %[t]; sbb %[h], %[t]; "
                "cmovb %[bh], %[h]; cmovb %[bl], %[l]; adc $0, %[i]"
                : [h] "+r"(h), [l] "+r"(l), [i] "+r"(i), [t] "=&r"(t)
                : [bh] "m"(b[0]), [bl] "m"(b[1]) : "cc");
        *ah = h; *al = l; *ia = i;
    }
    static inline int64_t pv_ev_min4(const uint64_t* h, uint64_t* hi, uint64_t* lo) {
        uint64_t ah = h[0], al = h[1], bh = h[4], bl = h[5], t;
        int64_t ia = 0, ib = 2;
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
    static inline int64_t pv_ev_min2(const uint64_t* h, int64_t a, int64_t b) {
        unsigned __int128 ka = ((unsigned __int128)h[2 * a] << 64) | h[2 * a + 1];
        unsigned __int128 kb = ((unsigned __int128)h[2 * b] << 64) | h[2 * b + 1];
        return a + ((b - a) & -(int64_t)(kb < ka));
    }
    static inline int64_t pv_ev_min4(const uint64_t* h, uint64_t* hi, uint64_t* lo) {
        int64_t m = pv_ev_min2(h, pv_ev_min2(h, 0, 1), pv_ev_min2(h, 2, 3));
        *hi = h[2 * m]; *lo = h[2 * m + 1];
        return m;
    }
    #endif
    """
    bint pv_ev_key_less(u64 ahi, u64 alo, u64 bhi, u64 blo) nogil
    u64 pv_ev_ctz(u64 x) nogil
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
    q.slot_mem = malloc(max(nslots, 1) * sizeof(ev_slot) + 32)
    if mem == NULL or q.hslot == NULL or q.slot_mem == NULL:
        return -1
    q.slot = <ev_slot*>((<size_t>q.slot_mem + 31) & ~(<size_t>31))
    memset(mem, 0xFF, nkeys * sizeof(ev_key))
    off = (<size_t>(64 - ((<size_t>mem + 16) & 63)) & 63) // 16      # entries to skip so &heap[1] is aligned
    q.heap = (<ev_key*>mem) + off
    q.nslots = nslots
    q.n = 0
    q.wn = 0
    q.wsummary = 0
    q.wbase = 0
    q.from_wheel = 0
    q.now = 0
    for i in range(EV_WHEEL_BUCKETS):
        q.wlist[i].head = -1
        q.wlist[i].tail = -1
    for i in range(EV_WHEEL_WORDS):
        q.wmask[i] = 0
    for i in range(nslots):
        q.slot[i].pos = EV_UNARMED
    return 0

cdef inline void ev_free(EventQueue* q) noexcept nogil:
    free(q.heap_mem)
    free(q.hslot)
    free(q.slot_mem)
    q.heap_mem = NULL
    q.heap = NULL
    q.hslot = NULL
    q.slot_mem = NULL
    q.slot = NULL

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
    q.slot[slot].pos = <s32>i

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

cdef inline u64 ev_bucket(u64 hi) noexcept nogil:
    # The wheel bucket number of a key's time.
    return (hi ^ EV_TIME_FLIP) >> EV_WHEEL_SHIFT

cdef inline bint ev_wheel_key_less(EventQueue* q, s32 a, ev_key k) noexcept nogil:
    return pv_ev_key_less(q.slot[a].key.hi, q.slot[a].key.lo, k.hi, k.lo)

cdef inline void ev_wheel_join(EventQueue* q, s32 j, s32 a, s32 b) noexcept nogil:
    # Link slot b after slot a in bucket j (a = -1: b is the head; b = -1: a is the tail).
    if a >= 0:
        q.slot[a].next = b
    else:
        q.wlist[j].head = b
    if b >= 0:
        q.slot[b].prev = a
    else:
        q.wlist[j].tail = a

cdef inline void ev_wheel_add(EventQueue* q, s32 slot, ev_key k, u64 b) noexcept nogil:
    # Insert slot (unarmed) into bucket b (one of the wheel's) in key order: from the tail, as a
    # new timer is mostly the bucket's latest.
    cdef s32 j = <s32>(b & (EV_WHEEL_BUCKETS - 1))
    cdef s32 p = q.wlist[j].tail
    cdef s32 nx = -1
    q.slot[slot].key = k
    q.slot[slot].pos = EV_IN_WHEEL
    q.wn += 1
    if p < 0:
        q.wmask[j >> 6] |= <u64>1 << (j & 63)
        q.wsummary |= <u64>1 << (j >> 6)
    while p >= 0 and not ev_wheel_key_less(q, p, k):
        nx = p
        p = q.slot[p].prev
    ev_wheel_join(q, j, p, slot)
    ev_wheel_join(q, j, slot, nx)

cdef inline void ev_wheel_unlink(EventQueue* q, s32 slot, s32 j) noexcept nogil:
    # Unlink slot from bucket j; it is left unarmed.
    ev_wheel_join(q, j, q.slot[slot].prev, q.slot[slot].next)
    if q.wlist[j].head < 0:
        q.wmask[j >> 6] &= ~(<u64>1 << (j & 63))
        if q.wmask[j >> 6] == 0:
            q.wsummary &= ~(<u64>1 << (j >> 6))
    q.slot[slot].pos = EV_UNARMED
    q.wn -= 1

cdef inline void ev_wheel_del(EventQueue* q, s32 slot) noexcept nogil:
    ev_wheel_unlink(q, slot, <s32>(ev_bucket(q.slot[slot].key.hi) & (EV_WHEEL_BUCKETS - 1)))

cdef inline u64 ev_wheel_first(EventQueue* q) noexcept nogil:
    # Bucket number of the wheel's first non-empty bucket (q.wn > 0): in the first bitmap word
    # at or after wbase's bit, else the first non-empty word after it (wrapping round, where
    # the buckets are a span later).
    cdef u64 j = q.wbase & (EV_WHEEL_BUCKETS - 1)
    cdef u64 w = j >> 6
    cdef u64 m = q.wmask[w] >> (j & 63)
    cdef u64 r, s, k
    if m:
        return q.wbase + pv_ev_ctz(m)
    r = (w + 1) & (EV_WHEEL_WORDS - 1)         # the words after w, rotated to bit 0
    s = ((q.wsummary >> r) | (q.wsummary << ((EV_WHEEL_WORDS - r) & (EV_WHEEL_WORDS - 1)))) & ((<u64>1 << EV_WHEEL_WORDS) - 1)
    k = pv_ev_ctz(s)
    return q.wbase + (64 - (j & 63)) + 64 * k + pv_ev_ctz(q.wmask[(w + 1 + k) & (EV_WHEEL_WORDS - 1)])

cdef inline void ev_heap_delete(EventQueue* q, s32 i) noexcept nogil:
    # Remove heap entry i (its slot already unarmed).
    cdef ev_key last
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

cdef inline void ev_cancel(EventQueue* q, s32 slot) noexcept nogil:
    cdef s32 i = q.slot[slot].pos
    if i == EV_UNARMED:
        return
    if i == EV_IN_WHEEL:
        ev_wheel_del(q, slot)
        return
    q.slot[slot].pos = EV_UNARMED
    ev_heap_delete(q, i)

cdef inline void ev_arm(EventQueue* q, s32 slot, s64 time) noexcept nogil:
    cdef s32 i = q.slot[slot].pos
    cdef ev_key k
    cdef u64 b = <u64>time >> EV_WHEEL_SHIFT
    k.hi = <u64>time ^ EV_TIME_FLIP
    k.lo = ev_next_seq(q)
    if b - q.wbase >= EV_WHEEL_BUCKETS and q.wn == 0:
        q.wbase = <u64>q.now >> EV_WHEEL_SHIFT     # an empty wheel may start anywhere: now
    if b - q.wbase < EV_WHEEL_BUCKETS:
        # (b before the wheel's first bucket wraps to a large difference: the heap)
        if i != EV_UNARMED:
            ev_cancel(q, slot)
        ev_wheel_add(q, slot, k, b)
        return
    if i == EV_IN_WHEEL:
        ev_wheel_del(q, slot)
        i = EV_UNARMED
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

cdef inline bint ev_armed(EventQueue* q, s32 slot) noexcept nogil:
    return q.slot[slot].pos != EV_UNARMED

cdef inline s64 ev_expiry(EventQueue* q, s32 slot) noexcept nogil:
    cdef s32 i = q.slot[slot].pos
    if i == EV_IN_WHEEL:
        return <s64>(q.slot[slot].key.hi ^ EV_TIME_FLIP)
    return <s64>(q.heap[i].hi ^ EV_TIME_FLIP)

cdef inline bint ev_pending(EventQueue* q) noexcept nogil:
    # Any event armed (after ev_settle).
    return q.n + q.wn > 0

cdef inline s64 ev_next_time(EventQueue* q) noexcept nogil:
    # Time of the earliest event (no hole): the wheel's first timer or the heap's root; ev_take
    # pops it. With nothing armed, T_NEVER (an empty heap's root holds the largest key).
    cdef s32 slot
    if q.wn > 0:
        q.wfirst = ev_wheel_first(q)
        slot = q.wlist[q.wfirst & (EV_WHEEL_BUCKETS - 1)].head
        q.wfirst_slot = slot
        q.from_wheel = q.n == 0 or pv_ev_key_less(q.slot[slot].key.hi, q.slot[slot].key.lo, q.heap[0].hi, q.heap[0].lo)
        if q.from_wheel:
            return <s64>(q.slot[slot].key.hi ^ EV_TIME_FLIP)
    q.from_wheel = 0
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

cdef inline bint ev_wheel_ok(EventQueue* q) noexcept nogil:
    # For tests: every wheel slot linked both ways in the bucket of its time, in key order,
    # inside the wheel's span; the bitmaps and the count right.
    cdef s64 j, seen = 0, inwheel = 0
    cdef s32 slot, prev
    cdef u64 b
    for j in range(EV_WHEEL_BUCKETS):
        if (q.wlist[j].head >= 0) != ((q.wmask[j >> 6] >> (j & 63)) & 1):
            return False
        prev = -1
        slot = q.wlist[j].head
        while slot >= 0:
            b = ev_bucket(q.slot[slot].key.hi)
            if (q.slot[slot].pos != EV_IN_WHEEL or q.slot[slot].prev != prev or b - q.wbase >= EV_WHEEL_BUCKETS
                    or <s64>(b & (EV_WHEEL_BUCKETS - 1)) != j or seen > q.nslots
                    or (prev >= 0 and not ev_wheel_key_less(q, prev, q.slot[slot].key))):
                return False
            seen += 1
            prev = slot
            slot = q.slot[slot].next
        if q.wlist[j].tail != prev:
            return False
    for j in range(EV_WHEEL_WORDS):
        if (q.wmask[j] != 0) != ((q.wsummary >> j) & 1):
            return False
    for j in range(q.nslots):
        inwheel += q.slot[j].pos == EV_IN_WHEEL
    return seen == q.wn and inwheel == q.wn

cdef inline bint ev_layout_ok(EventQueue* q) noexcept nogil:
    # For tests: heap order (below a hole), slot <-> index maps, largest keys past the last entry.
    cdef s64 i, top = 4 * q.hole
    for i in range(q.n):
        if q.slot[q.hslot[i]].pos != i and not (i == 0 and q.hole):     # (a hole's slot is unarmed)
            return False
        if i > top and pv_ev_key_less(q.heap[i].hi, q.heap[i].lo, q.heap[(i - 1) >> 2].hi, q.heap[(i - 1) >> 2].lo):
            return False
    for i in range(q.n, q.nslots + 3):
        if q.heap[i].hi != <u64>0xFFFFFFFFFFFFFFFF or q.heap[i].lo != <u64>0xFFFFFFFFFFFFFFFF:
            return False
    return ev_wheel_ok(q)

cdef inline void ev_settle(EventQueue* q) noexcept nogil:
    # Remove a popped root still in place (before any other heap operation looks at the heap).
    if q.hole:
        q.hole = 0
        ev_remove_root(q)

cdef inline s32 ev_take(EventQueue* q, s64* time) noexcept nogil:
    # Pops the earliest event (right after ev_next_time): its slot is no longer armed. From the
    # heap, its place stays as a hole until the next operation, so that a new arm into the heap
    # replaces it directly; ev_settle() after the handler removes an unused hole.
    cdef s32 slot
    cdef s32 j
    if q.from_wheel:
        # the wheel starts at the popped timer's bucket: nothing is armed before now
        j = <s32>(q.wfirst & (EV_WHEEL_BUCKETS - 1))
        slot = q.wfirst_slot
        time[0] = <s64>(q.slot[slot].key.hi ^ EV_TIME_FLIP)
        q.now = time[0]
        q.wbase = q.wfirst
        ev_wheel_unlink(q, slot, j)
        return slot
    slot = q.hslot[0]
    time[0] = <s64>(q.heap[0].hi ^ EV_TIME_FLIP)
    q.now = time[0]
    q.slot[slot].pos = EV_UNARMED
    q.hole = 1
    return slot

cdef inline s32 ev_pop(EventQueue* q, s64* time) noexcept nogil:
    # Removes the earliest event; returns its slot (caller checks ev_pending first).
    cdef s32 slot
    ev_settle(q)
    ev_next_time(q)
    slot = ev_take(q, time)
    ev_settle(q)
    return slot
