# The event trace (pvsched/trace/schema.py is the Python side of these records): a preallocated
# buffer of fixed-size records in the Sim, filled by inline emit calls at the scheduler's and
# KVM's event sites. Off (the default) an emit is one load and one predictable branch.
from libc.stdint cimport uint16_t
from pvsched.sched.calc cimport u64, s64, s32

cdef struct trace_rec:      # numpy RECORD_DTYPE: time_ns, c, cpu, a, b, kind, pad (32 bytes)
    s64 time_ns
    s64 c
    s32 cpu
    s32 a
    s32 b
    uint16_t kind
    uint16_t pad

cdef struct trace_buf:
    trace_rec* rec
    s64 cap             # records the buffer holds
    s64 n               # records emitted into it (ring: keeps counting past cap)
    s64 dropped         # cap mode: events after the buffer filled; ring: records overwritten
    s64 truncated_at    # cap mode: time of the first event that did not fit, -1 = none
    s64 from_ns         # record only events in [from_ns, to_ns); to_ns -1 = no end
    s64 to_ns
    u64 mask            # bit k: record kind k (k < 63); bit 63: kinds >= 63
    int on
    int ring
    int yielding        # the next switch of this CPU is a sched_yield (prev_state R, not R+)
    int snapped         # the state at from_ns has been recorded (sched_curr / vcpu_mode records)

# kind codes (schema.KIND)
cdef enum:
    TR_SWITCH = 1
    TR_WAKEUP = 2
    TR_WAKEUP_NEW = 3
    TR_MIGRATE = 4
    TR_KVM_ENTRY = 5
    TR_KVM_EXIT = 6
    TR_VCPU_MODE = 7
    TR_KVM_KICK = 9
    TR_GUEST_IPI = 10
    TR_BOOST = 11
    TR_UNBOOST = 12
    TR_YIELD_TO = 13
    TR_DEBOOST = 14
    TR_PLE = 15
    TR_COUNTER = 16
    TR_HALT_POLL = 17
    TR_SCHED_CURR = 18
    TR_RCU = 32             # rcu/rcu_engine.pxi: b = the event (pvsched.rcu.RCU_TRACE_EVENTS), c = its value
    TR_COUNTER_NR_RUNNING = 0
    TR_COUNTER_UTIL = 1
    # sched_switch prev_state (include/trace/events/sched.h, v6.15)
    TR_STATE_RUNNING = 0
    TR_STATE_SLEEPING = 0x1
    TR_STATE_DEAD = 0x10
    TR_STATE_PREEMPTED = 0x100

cdef inline void trace_emit(trace_buf* tb, s64 now, int kind, s32 cpu, s32 a, s32 b, s64 c) noexcept nogil:
    cdef trace_rec* r
    if not tb.on:
        return
    if not (tb.mask >> (kind if kind < 63 else 63)) & 1:
        return
    if now < tb.from_ns or (tb.to_ns >= 0 and now >= tb.to_ns):
        return
    if tb.n >= tb.cap:
        tb.dropped += 1
        if not tb.ring:
            if tb.truncated_at < 0:
                tb.truncated_at = now
            return
        r = &tb.rec[tb.n % tb.cap]
    else:
        r = &tb.rec[tb.n]
    tb.n += 1
    r.time_ns = now
    r.kind = <uint16_t>kind
    r.cpu = cpu
    r.a = a
    r.b = b
    r.c = c
    r.pad = 0
