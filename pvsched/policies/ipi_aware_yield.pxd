# IPI-aware directed yield: its per-VM switches (vm_t.ipi_yield) and the per-vCPU ipi_context
# record (vcpu_t.ipi). Code: policies/ipi_aware_yield.pxi.
from pvsched.sched.calc cimport s64, s32
from libc.stdint cimport uint8_t

cdef struct ipi_yield_vm:
    uint8_t aware           # IPI-aware candidate selection (patch 9)
    uint8_t relaxed         # relaxed second round (patch 10, enable_relaxed_boost)
    uint8_t tracking        # ipi_context written on unicast fixed IPI delivery (patches 7-8)
    uint8_t prio_order      # strict round as three passes (IPI receiver, pending, kernel) instead of one scan
    s64 window_ns           # ipi_context recency window

cdef struct ipi_context:
    uint8_t pending         # an IPI sent by this vCPU awaits its EOI
    s32 last_receiver       # sender side
    s32 last_sender         # receiver side
    s64 time
