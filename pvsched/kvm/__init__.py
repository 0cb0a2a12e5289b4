"""The KVM layer (virt/kvm, arch/x86/kvm): vCPU state machine, exits, halt-polling, interrupt delivery, PLE and directed yield. Cython units compiled into pvsched._core."""
