# What a vCPU runs with until its next KVM_RUN, and what KVM does when the guest executes its
# idle instruction under it (pure rules; the code is kvm/mwait.pxi, kvm/halt.pxi, kvm/userspace.pxi).
#
# Kernel facts (arch/x86/kvm/x86.c, vmx/vmx.c, Linux v6.15):
# * HLT with HLT exiting: kvm_emulate_halt -> __kvm_emulate_halt sets mp_state HALTED (the lapic is
#   in the kernel) and returns to the run loop, which calls vcpu_block -> kvm_vcpu_halt
#   (halt-polling, then kvm_vcpu_block). Without HLT exiting (KVM_CAP_X86_DISABLE_EXITS_HLT) the
#   guest halts in non-root mode (VMX activity state HLT) until an interrupt wakes it.
# * MWAIT and MONITOR with exiting: kvm_emulate_mwait / kvm_emulate_monitor ->
#   kvm_emulate_monitor_mwait -> kvm_emulate_as_nop: skipped, the guest re-entered at once, so an
#   idle guest spins round its idle loop through exits. Without exiting (DISABLE_EXITS_MWAIT) the
#   guest waits in non-root mode.
# * KVM_CAP_X86_DISABLE_EXITS is per VM and only before vCPUs exist (kvm_vm_ioctl_enable_cap
#   returns -EINVAL once kvm->created_vcpus): interception switched per KVM_RUN (Alexander Graf's
#   proposal) is not in any kernel; it is modelled as a RUN_INTERCEPT bit the VMM sets per run.
# * The 2023 RFC (David Woodhouse) adds kvm_run->userspace_exits, read at each exit: with the HLT
#   bit __kvm_emulate_halt still sets mp_state HALTED but returns KVM_EXIT_HLT to userspace; with
#   the MWAIT bit kvm_emulate_mwait returns KVM_EXIT_MWAIT (the vCPU stays runnable); without it
#   MWAIT is a NOP followed by yield() (in the RFC; stock KVM has no yield).

cdef enum:
    # the guest's idle instruction
    IDLE_HLT = 0
    IDLE_MWAIT = 1
    # per-KVM_RUN settings
    RUN_INTERCEPT = 1         # the idle instruction exits (HLT exiting / MWAIT exiting)
    RUN_USER_EXIT = 2         # ... to userspace (kvm_run->userspace_exits)
    # what KVM does when the guest executes its idle instruction
    IDLE_STAY = 0             # not intercepted: the guest idles in non-root mode, holding the pCPU
    IDLE_HALT = 1             # HLT emulated in the kernel: halt-polling, then block
    IDLE_NOP = 2              # MWAIT emulated as a NOP: re-enter at once
    IDLE_NOP_YIELD = 3        # ... then yield()
    IDLE_USER = 4             # exit to userspace (KVM_EXIT_HLT / KVM_EXIT_MWAIT)
    # why the vCPU thread is in userspace (what the VMM can know of the vCPU there)
    USER_HLT = 0              # after a HLT: the vCPU is halted (mp_state HALTED)
    USER_MWAIT = 1            # after an MWAIT: the vCPU is idle but runnable
    USER_OTHER = 2            # any other return (MMIO, a signal): the VMM sees a runnable vCPU
    USER_NONE = 255           # in KVM_RUN
    # what ends the current in-kernel exit (vcpu_t.exit_action)
    ACT_NONE = 0
    ACT_NOP = 1               # MWAIT emulated as a NOP: re-enter
    ACT_NOP_YIELD = 2         # ... after yield()

cdef inline int static_run_bits(int insn, bint hlt_exits, bint mwait_exits) noexcept nogil:
    # The VM's own interception of its idle instruction (KVM_CAP_X86_DISABLE_EXITS at creation).
    if (hlt_exits if insn == IDLE_HLT else mwait_exits):
        return RUN_INTERCEPT
    return 0

cdef inline int idle_exit_action(int insn, bint mwait_yield, int bits) noexcept nogil:
    # What happens when the guest executes its idle instruction under `bits`.
    if not (bits & RUN_INTERCEPT):
        return IDLE_STAY
    if bits & RUN_USER_EXIT:
        return IDLE_USER
    if insn == IDLE_HLT:
        return IDLE_HALT
    return IDLE_NOP_YIELD if mwait_yield else IDLE_NOP
