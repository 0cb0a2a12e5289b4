# The vCPU debooster in yield_to_task_fair: its parameters (Sim.dbst) and per-runqueue state
# (rq_t.dbst). Code: policies/debooster.pxi.
from pvsched.sched.calc cimport s64, s32
from libc.stdint cimport uint8_t

cdef enum:
    DBST_CURVE_STEPS = 0    # the patch's queue-size table
    DBST_CURVE_LINEAR = 1   # linear 6.0x at 2 entities -> 1.0x at 12, 1.0x above

cdef struct deboost_params:
    uint8_t on
    uint8_t curve           # DBST_CURVE_*
    uint8_t rl_every        # v1 rate limiter: refresh the timestamp on every call
    s64 rate_ns
    s64 debounce_ns

cdef struct deboost_rq:
    s64 last                # rate limiter timestamp (0 = never)
    s32 src                 # last (yielder, target) pair, task indices
    s32 dst
    s64 pair_time
