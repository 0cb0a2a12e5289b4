# Engine state of the VMM deferred-work and HLT/MWAIT exit mechanisms (vmm.pxi): per vCPU,
# per VM and per host task, in arrays the engine allocates only when a VM uses them.
from libc.stdint cimport uint8_t
from pvsched.calc cimport u64, s64, s32
from pvsched.vmm_work cimport work_queue, idle_policy

cdef enum:
    # what the end of the current exit leads to (vmm_vcpu_t.exit_action)
    ACT_NONE = 0
    ACT_NOP = 1               # MWAIT emulated as a NOP: re-enter
    ACT_NOP_YIELD = 2         # ... after yield()
    # roles of host tasks (vmm_task_t.role)
    ROLE_NONE = 0
    ROLE_VCPU = 1
    ROLE_WORKER = 2           # separate VMM worker thread
    ROLE_MAIN = 3             # VMM main thread (fallback timer)
    VMM_USER_NONE = 255       # vmm_vcpu_t.user: not in (or on the way to) userspace

cdef struct vmm_vcpu_t:
    uint8_t run_bits          # RUN_* of the current KVM_RUN
    uint8_t user              # USER_* kind of the current return to userspace, VMM_USER_NONE if none
    uint8_t exit_action       # ACT_*: in-kernel action due when the current exit ends
    uint8_t kick_pending      # a VMM signal not seen yet (in a kernel exit, or preempted)
    uint8_t mwait_loop        # the vCPU slot is the end of a guest idle-loop pass (guest mode)
    uint8_t hlt_in_guest      # the guest sits in a pass-through HLT (activity state survives exits)
    uint8_t idle_exit         # the current exit is a MONITOR/MWAIT NOP emulation
    uint8_t mp_halted         # HLT emulated (mp_state HALTED) since the vCPU last left guest mode
    uint8_t item_busy         # an item is in service on this vCPU thread
    uint8_t item_cls
    s64 item_queued_at
    s64 item_size
    s64 item_left             # service still owed (settled when the thread is switched out)
    s64 item_since            # service of item_left counts from here
    s64 user_used             # work done in the current userspace visit (MWAIT budget)
    s64 gidle_since           # guest mode with the guest idle since (-1: not now)
    s64 idle_exit_since
    s64 guest_idle_ns         # time in guest mode with the guest idle
    s64 idle_exit_ns          # time handling MONITOR/MWAIT NOP exits in the kernel
    s64 work_ns               # time running deferred work on this vCPU thread
    u64 nr_user_exits         # returns to userspace (any reason)
    u64 nr_hlt_user           # KVM_EXIT_HLT
    u64 nr_mwait_user         # KVM_EXIT_MWAIT
    u64 nr_kicked             # VMM signals received
    u64 nr_items              # items run on this vCPU thread
    u64 nr_mwait_yields       # yield() calls after MWAIT NOP emulation
    u64 nr_kvm_runs           # KVM_RUN ioctls after a return to userspace

cdef struct vmm_vm_t:
    idle_policy pol
    uint8_t idle_on           # the VM uses the MWAIT / userspace-exit / deferred-work paths
    uint8_t work_on           # deferred work arrives
    uint8_t poisson
    uint8_t size_dist
    uint8_t prio
    uint8_t mmio_on
    uint8_t mmio_dist
    uint8_t mmio_prio
    uint8_t kick
    uint8_t preempt_high
    s64 mean_gap_ns
    s64 size_ns
    s64 spread_ns
    s64 mmio_size_ns
    s64 mmio_spread_ns
    s64 budget_ns
    s64 fallback_ns
    s64 user_exit_ns
    s64 idle_loop_ns
    u64 rng
    work_queue q
    s32 worker_base           # this VM's worker threads: Sim.vmm_workers[worker_base ...]
    s32 nworkers
    s32 main_task             # VMM main thread (fallback timer), -1 none
    s32 nrun                  # this VM's host threads (vCPU + VMM) running now
    s32 max_nrun
    s64 over_since            # nrun > nvcpu since
    s64 over_ns               # time during which the VM ran on more pCPUs than it has vCPUs
    u64 nr_kicks              # VMM signals sent
    u64 nr_worker_wakeups

cdef struct vmm_task_t:
    s32 vm                    # owning VM, -1 none
    uint8_t role              # ROLE_*
    uint8_t busy              # a worker/main thread holds an item
    uint8_t cls
    s64 queued_at
    s64 size
    s64 period_next           # main thread: next fallback expiry
    u64 nr_items
