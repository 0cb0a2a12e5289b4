# Guest synchronisation (spinlocks, IPI sync): its constants and the state it owns per task
# (task_t.sync), per vCPU (vcpu_t.gsync), per VM (vm_t.gsync) and per lock. Code: guest/sync.pxi.
from pvsched.sched.calc cimport u64, s64, s32
from libc.stdint cimport uint8_t

cdef enum:
    SYNC_NONE = 0
    SYNC_LOCK_SPIN = 1  # spinning for a lock (in guest mode when its vCPU runs)
    SYNC_LOCK_HALT = 2  # PV spinlock: spun past the threshold, vCPU halted until kicked
    SYNC_IPI_WAIT = 3   # csd_lock_wait: spinning until its IPIs are handled
    LOCK_QUEUED = 0     # qspinlock (PV hybrid: lock stealing while the queue head is not spinning)
    LOCK_TICKET = 1     # ticket lock: strict FIFO hand-off
    LOCK_TAS = 2        # virt_spin_lock: test-and-set, no queue, no PV wait (guest without PV spinlocks)

cdef struct sync_task:
    uint8_t state       # SYNC_*: what the task spins or waits on
    s32 lock            # lock (global index) it waits for
    s32 held_lock       # lock it holds, -1 = none
    s32 lock_next       # next waiter in the lock's FIFO
    s64 spin_left       # guest-mode spinning left before the PV halt (-1 = spin forever)
    s64 spin_threshold  # PV spin threshold of the current lock op (-1 = no PV)
    s64 wait_since      # contended lock attempt / IPI send time
    s32 ipi_out         # IPI handlers still to complete for this sender
    s64 ipi_handler_ns  # handler duration of its current IPI

cdef struct sync_vcpu:
    uint8_t spinning    # a guest spin segment is running (spin timer armed)
    uint8_t irq_active  # a guest IPI handler is in progress
    uint8_t irq_frozen  # ... and holds the guest clock (not suspended by an exit)
    s32 spin_task
    s64 spin_seg_start
    s64 irq_left        # handler time left while suspended
    s32 ipi_ring        # offset of this vCPU's sender FIFO in Sim.ipi_ring
    s32 ipi_cap
    s32 ipi_head
    s32 ipi_n           # IPIs queued for handling here
    s32 sy_target       # PV sched-yield hypercall due at the next spin start (vCPU index), -1 none
    s64 spin_ns
    u64 nr_ipi_handled

cdef struct sync_vm:
    uint8_t on          # the VM's tasks use guest sync ops
    uint8_t lock_kind   # LOCK_QUEUED / LOCK_TICKET / LOCK_TAS
    uint8_t pv_sched_yield  # guest KVM_HC_SCHED_YIELD after a multi-target call-function IPI
    s32 lock_base       # first lock of this VM in Sim.locks
    s32 nlock

cdef struct glock_t:
    s32 vm
    s32 owner           # holding task, -1 = free
    s32 head            # waiter FIFO (linked through task_t.sync.lock_next)
    s32 tail
    s32 nwait
    s64 hold_since
