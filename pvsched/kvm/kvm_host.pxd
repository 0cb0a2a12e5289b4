# The KVM layer's data (include/linux/kvm_host.h): per-VM and per-vCPU state, vCPU modes and
# exit reasons. State that a guest mechanism or a policy owns is declared by that unit and
# embedded here by value.
from pvsched.sched.calc cimport u64, s64, u32, s32
from pvsched.sched.sched cimport u8
from pvsched.guest.sync cimport sync_vm, sync_vcpu
from pvsched.policies.boost cimport boost_vm, boost_vcpu
from pvsched.policies.ipi_aware_yield cimport ipi_yield_vm, ipi_context
from pvsched.policies.rcu_guest cimport rcu_guest_vcpu
from pvsched.policies.halted_pelt cimport gth_vcpu_t
from pvsched.policies.deferred_work cimport vmm_vm, vmm_vcpu

# vCPU modes (time is accounted to exactly one at any instant once the VM started)
cdef enum:
    VM_OFF = 0
    VM_GUEST = 1        # the thread runs on a pCPU, in guest mode
    VM_EXIT = 2         # the thread runs on a pCPU, in the host: exit handling / entry
    VM_POLL = 3         # the thread runs on a pCPU, halt-polling
    VM_HALTED = 4       # the thread sleeps (kvm_vcpu_block)
    VM_PREEMPTED = 5    # the thread is runnable but not running (steal time)
    VM_USER = 6         # the thread runs in the VMM (userspace) between two KVM_RUNs (kvm/userspace.pxi)
    VM_NMODES = 7

cdef enum:
    EXIT_ENTRY = 0      # (re)entry after the thread was switched in: not an exit
    EXIT_HOST_TICK = 1  # host tick interrupt
    EXIT_HOST_INTR = 2  # other host interrupts: resched IPI, host timers
    EXIT_GUEST_TIMER = 3  # guest LAPIC timer (VMX preemption timer)
    EXIT_IPI_SEND = 4   # guest ICR write
    EXIT_IPI_RECV = 5   # interrupt delivery to a running vCPU without posted interrupts
    EXIT_HLT = 6
    EXIT_MMIO = 7
    EXIT_DOORBELL = 8   # vCPU boosting: the guest's synchronous unboost wrmsr
    EXIT_BUDGET = 9     # vCPU boosting (bounded): the host forces an exit to end a boost
    EXIT_PLE = 10       # pause-loop exit (a guest spin loop outlasted the PLE window)
    EXIT_HYPERCALL = 11 # KVM_HC_KICK_CPU / KVM_HC_SCHED_YIELD
    EXIT_EOI = 12       # EOI write trapped (no APICv virtual-interrupt delivery)
    EXIT_MWAIT = 13     # MWAIT exiting (the MONITOR exit before it is counted apart)
    EXIT_MONITOR = 14
    EXIT_SIGNAL = 15    # a signal to the vCPU thread (the VMM's pthread_kill): KVM_RUN returns -EINTR
    EXIT_FAULT = 16     # a fault KVM resolves in preemptible host kernel code (e.g. a swapped-out page)
    EXIT_NREASONS = 17

# How the host handles an exit in progress (vcpu_t.exit_ctx; the vmexit op's c, guest/workload.pxd):
# in its default context a reschedule waits for the exit's end and a tick in it notes a QS.
cdef enum:
    EXIT_CTX_DEFAULT = 0
    EXIT_CTX_PREEMPT = 1    # preemption on (EXIT_FAULT): the thread may be switched out meanwhile
    EXIT_CTX_IRQ = 2        # interrupt + softirq work, preempt_count raised: no QS at a tick

# Per-VM counters of guest synchronisation, PLE, directed yield and its policies (vm_t.ys;
# Sim.ys_host for host yielders). Python names: YS_NAMES (kvm/directed_yield.pxi).
cdef enum:
    YS_LOCK_ACQ = 0
    YS_LOCK_CONTENDED = 1
    YS_LOCK_STEAL = 2
    YS_CS_DONE = 3
    YS_LOCK_WAIT_NS = 4
    YS_PV_HALT = 5
    YS_PV_KICK = 6
    YS_SPIN_NS = 7
    YS_IPI_SENT = 8
    YS_IPI_RT = 9
    YS_IPI_RT_NS = 10
    YS_IPI_RT_MAX = 11
    YS_IPI_TRACKED = 12
    YS_EOI_CLR_RECV = 13
    YS_EOI_CLR_SEND = 14
    YS_PLE = 15
    YS_ON_SPIN = 16
    YS_NO_BOOST = 17
    YS_RELAXED_ROUND = 18
    YS_YT_ATTEMPT = 19
    YS_YT_OK = 20
    YS_YT_ESRCH = 21
    YS_YT_CLASS = 22
    YS_YT_RUNNING = 23
    YS_YT_NOT_RUNNABLE = 24
    YS_YT_NOT_QUEUED = 25
    YS_BOOST_IPI = 26
    YS_BOOST_PENDING = 27
    YS_BOOST_KERNEL = 28
    YS_BOOST_RELAXED = 29
    YS_BOOST_VANILLA = 30
    YS_BOOST_IPI_STALE = 31
    YS_DB_APPLIED = 32
    YS_DB_DEBOUNCED = 33
    YS_DB_RATE_LIMITED = 34
    YS_DB_CROSS_RQ = 35
    YS_DB_SKIPPED = 36
    YS_DB_PENALTY_NS = 37
    YS_IPI_HANDLED = 38
    YS_YT_SAME_RQ = 39          # successful yield_to whose target shares the yielder's rq
    YS_YT_SAME_RQ_PICKED = 40   # ... and the target runs right after the yield (buddy honoured)
    YS_BOOST_USEFUL = 41        # ground truth: the boosted vCPU holds the spinner's lock / owes it an IPI
    YS_SCHED_YIELD = 42         # guest PV sched-yield hypercalls (KVM_HC_SCHED_YIELD)
    YS_SCHED_YIELD_OK = 43      # ... whose kvm_vcpu_yield_to succeeded
    YS_N = 44

cdef struct vm_t:
    s32 kern
    s32 vcpu_base
    s32 nvcpu
    u8 hlt_exits
    u8 posted_intr
    u8 ipiv
    u8 timer_exits
    s64 exit_ns
    s64 entry_ns
    s64 halt_poll_max_ns
    s64 halt_poll_grow
    s64 halt_poll_grow_start
    s64 halt_poll_shrink
    s64 guest_poll_ns
    # the guest's idle instruction and exits to userspace (kvm/mwait.pxi, kvm/userspace.pxi)
    u8 idle_paths       # the VM takes these paths (an MWAIT guest, or a VMM that sets run bits)
    u8 idle_insn        # IDLE_HLT / IDLE_MWAIT (kvm/kvm_run.pxd)
    u8 mwait_exits      # MWAIT/MONITOR exiting (KVM_X86_DISABLE_EXITS_MWAIT not set)
    u8 mwait_yield      # yield() after emulating MWAIT as a NOP
    s64 idle_loop_ns    # guest time of one pass of its idle loop between MWAITs
    s64 user_exit_ns    # an exit that returns to userspace costs this much more than exit_ns
    u8 mmio_user        # MMIO exits return to the VMM in userspace (it emulates the device)
    # pause-loop exiting and directed yield (vmx.c, kvm_main.c)
    u8 ple              # pause-loop exiting enabled (and ple_gap > 0)
    u8 fix_lb           # last_boosted_vcpu stores the boosted vCPU index (v6.19; IPI-aware patch 6)
    u32 ple_gap
    u64 ple_window_base
    u64 ple_grow
    u64 ple_shrink
    u64 ple_max
    s64 cpu_khz         # guest TSC frequency: PLE window cycles -> ns
    s32 last_boosted    # kvm->last_boosted_vcpu
    u64 ys[48]          # YS_* counters
    # state owned by the guest kernel model and by the policies attached to this VM
    sync_vm gsync       # guest/sync.pxd
    boost_vm boost      # policies/boost.pxd
    ipi_yield_vm ipi_yield  # policies/ipi_aware_yield.pxd
    vmm_vm vmm          # policies/deferred_work.pxd
    s64 migrate_period_ns   # the VMM re-pins every vCPU thread to its other pCPU this often (0 = never)
    s64 user_return_ns      # an exit to userspace: vcpu_put -> user mode, in the kernel (kvm/vmm_actions.pxi)
    s64 stop_ns             # the VMM terminates the VM then (0 = never)

cdef struct vcpu_t:
    s32 vm
    s32 task            # the vCPU thread
    s32 rq              # the guest runqueue
    s32 host_cpu        # pCPU it last ran on (its hrtimers live there)
    u32 hooks           # copy of its guest kernel's kern_t.hooks: the vCPU points' mask test
    u8 mode
    u8 exit_reason
    u8 guest_polling    # guest cpuidle haltpoll in progress (in guest mode)
    u8 preempted        # steal-time "preempted" flag (kvm_sched_out while runnable)
    u8 pending_irq      # an interrupt waits for injection at the next entry
    s64 mode_since
    s64 t_mode[7]       # VM_NMODES
    u64 nr_exits[17]    # EXIT_NREASONS
    s64 halt_poll_ns    # adaptive window (vcpu->halt_poll_ns)
    s64 halt_start
    u64 nr_poll_ok
    u64 nr_poll_fail
    u64 nr_blocks
    u64 nr_kicks
    # directed-yield flags (kvm_main.c), PLE window
    u64 ple_window      # cycles
    u8 ready
    u8 blocking         # blocked in kvm_vcpu_block and not yet run again
    u8 preempted_in_kernel
    u8 in_spin_loop
    u8 dy_eligible
    u8 pv_unhalted
    u64 nr_ple
    u64 nr_yield_ok
    u64 nr_yield_fail
    # the idle instruction, KVM_RUN and userspace (kvm/mwait.pxi, kvm/userspace.pxi)
    u8 run_bits         # RUN_* of the current KVM_RUN
    u8 user             # USER_* kind of the current return to userspace, USER_NONE in KVM_RUN
    u8 exit_action      # ACT_*: what ends the current in-kernel exit
    u8 signal_pending   # a signal the thread has not seen yet (in a kernel exit, or preempted)
    u8 mwait_loop       # the vCPU slot is the end of a guest idle-loop pass (guest mode)
    u8 hlt_in_guest     # the guest sits in a pass-through HLT (activity state survives exits)
    u8 mp_halted        # HLT emulated (mp_state HALTED) since the vCPU last left guest mode
    u8 idle_exit        # the current exit is a MONITOR/MWAIT NOP emulation
    s64 user_left       # VMM work owed on the thread in userspace (settled when switched out)
    s64 user_since
    s64 gidle_since     # guest mode with the guest idle since (-1: not now)
    s64 idle_exit_since
    s64 guest_idle_ns   # time in guest mode with the guest idle
    s64 idle_exit_ns    # time handling MONITOR/MWAIT NOP exits in the kernel
    u64 nr_user_exits   # returns to userspace (any reason)
    u64 nr_hlt_user     # KVM_EXIT_HLT
    u64 nr_mwait_user   # KVM_EXIT_MWAIT
    u64 nr_signals      # signals received
    u64 nr_mwait_yields # yield() calls after MWAIT NOP emulation
    u64 nr_kvm_runs     # KVM_RUN calls after a return to userspace
    # KVM_RUN as RCU sees it (rcu/rcu_engine.pxi) and the VMM's own actions (kvm/vmm_actions.pxi)
    u8 in_kvm_run       # vcpu->wants_to_run: inside the KVM_RUN ioctl (vcpu_load .. vcpu_put)
    u8 ret_phase        # 1: vcpu_put done, returning to user mode (VM.user_return_ns)
    u8 entered_here     # entered guest mode since it arrived on host_cpu
    s64 vmm_io_ns       # the VMM's handling time of the user_io exit in progress (user mode)
    u8 exit_ctx         # EXIT_CTX_*: the context the exit in progress is handled in
    s64 exit_left       # handling time left when switched out inside an EXIT_CTX_PREEMPT exit
    s64 rcuc_since      # preempted by rcuc/N at (-1 = not)
    u64 nr_rcuc_preempt
    s64 rcuc_preempt_ns
    s32 pin_a           # periodic re-pinning between two pCPUs (VM.migrate_period_ns)
    s32 pin_b
    u8 pin_which
    # state owned by the guest kernel model and by the policies attached to this VM
    sync_vcpu gsync     # guest/sync.pxd: spin segments, the guest IPI handler
    boost_vcpu boost    # policies/boost.pxd
    ipi_context ipi     # policies/ipi_aware_yield.pxd
    rcu_guest_vcpu rcug # policies/rcu_guest.pxd
    gth_vcpu_t gth      # policies/halted_pelt.pxd: the stay in guest mode, halted time
    vmm_vcpu vmm        # policies/deferred_work.pxd
