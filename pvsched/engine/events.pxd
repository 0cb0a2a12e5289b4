# Deterministic event queue: an indexed binary heap of timer slots, like hrtimers.
# Every source of future events (a CPU's tick, a CPU's current burst, a task's timer, ...) owns
# one slot, armed at most once, so the heap never holds stale entries and never allocates.
# Order: (time, seq). seq is a FIFO counter, or a seeded random key when tie-shuffling is on.
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

cdef struct ev_t:
    s64 time
    u64 seq
    s32 slot

cdef struct EventQueue:
    ev_t* heap
    s32* pos          # slot -> heap index, -1 when not armed
    s32 n
    s32 nslots
    u64 seq
    u64 rng           # xorshift state for tie shuffling
    int shuffle

cdef inline bint ev_less(ev_t* a, ev_t* b) noexcept nogil:
    if a.time != b.time:
        return a.time < b.time
    return a.seq < b.seq

cdef inline void ev_sift_up(EventQueue* q, s32 i) noexcept nogil:
    cdef ev_t e = q.heap[i]
    cdef s32 p
    while i > 0:
        p = (i - 1) >> 1
        if not ev_less(&e, &q.heap[p]):
            break
        q.heap[i] = q.heap[p]
        q.pos[q.heap[i].slot] = i
        i = p
    q.heap[i] = e
    q.pos[e.slot] = i

cdef inline void ev_sift_down(EventQueue* q, s32 i) noexcept nogil:
    cdef ev_t e = q.heap[i]
    cdef s32 c
    cdef s32 n = q.n
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and ev_less(&q.heap[c + 1], &q.heap[c]):
            c += 1
        if not ev_less(&q.heap[c], &e):
            break
        q.heap[i] = q.heap[c]
        q.pos[q.heap[i].slot] = i
        i = c
    q.heap[i] = e
    q.pos[e.slot] = i

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
    cdef s64 old
    if i < 0:
        i = q.n
        q.n += 1
        q.heap[i].time = time
        q.heap[i].seq = ev_next_seq(q)
        q.heap[i].slot = slot
        q.pos[slot] = i
        ev_sift_up(q, i)
        return
    old = q.heap[i].time
    q.heap[i].time = time
    q.heap[i].seq = ev_next_seq(q)
    if time < old:
        ev_sift_up(q, i)
    else:
        ev_sift_down(q, i)

cdef inline void ev_cancel(EventQueue* q, s32 slot) noexcept nogil:
    cdef s32 i = q.pos[slot]
    cdef ev_t last
    if i < 0:
        return
    q.pos[slot] = -1
    q.n -= 1
    if i == q.n:
        return
    last = q.heap[q.n]
    q.heap[i] = last
    q.pos[last.slot] = i
    if i > 0 and ev_less(&q.heap[i], &q.heap[(i - 1) >> 1]):
        ev_sift_up(q, i)
    else:
        ev_sift_down(q, i)

cdef inline bint ev_armed(EventQueue* q, s32 slot) noexcept nogil:
    return q.pos[slot] >= 0

cdef inline s64 ev_expiry(EventQueue* q, s32 slot) noexcept nogil:
    return q.heap[q.pos[slot]].time

cdef inline s32 ev_pop(EventQueue* q, s64* time) noexcept nogil:
    # Removes the earliest event; returns its slot (caller checks q.n > 0 first).
    cdef s32 slot = q.heap[0].slot
    time[0] = q.heap[0].time
    q.pos[slot] = -1
    q.n -= 1
    if q.n > 0:
        q.heap[0] = q.heap[q.n]
        q.pos[q.heap[0].slot] = 0
        ev_sift_down(q, 0)
    return slot
