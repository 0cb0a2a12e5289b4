# vCPU priority boosting: its constants and the per-VM / per-vCPU state it owns (embedded in
# vm_t.boost and vcpu_t.boost, kvm/kvm_host.pxd). Code: policies/boost.pxi.
from pvsched.sched.calc cimport u64, s64, u32, s32
from libc.stdint cimport uint8_t

cdef enum:
    BOOST_OFF = 0
    BOOST_DYNAMIC = 1
    BOOST_BOUNDED = 2
    VCPU_BOOST_DISABLED = 0
    VCPU_BOOST_NORMAL = 1
    VCPU_BOOST_BOOSTED = 2
    VCPU_REQ_NONE = 0
    VCPU_REQ_UNBOOST = 1
    VCPU_REQ_BOOST = 2
    # switchable triggers
    TR_IRQ_ENTRY = 1 << 0       # guest irq/NMI/softirq entry: lazy boost request
    TR_IRQ_EXIT = 1 << 1        # guest irq exit to a preemptible context: (sync) unboost
    TR_SCHED = 1 << 2           # guest __schedule: next RT -> boost, next fair -> unboost (lazy)
    TR_RT_ENQUEUE = 1 << 3      # guest local enqueue of an RT task: lazy boost
    TR_USER_RETURN = 1 << 4     # guest return to user of a non-RT task: (sync) unboost
    TR_KICK_TIMER = 1 << 5      # host: LAPIC timer expiry kick of a blocked vCPU boosts
    TR_KICK_INTR = 1 << 6       # host: interrupt/IPI injection without posted interrupts boosts
    TR_KICK_UNHALT = 1 << 7     # host: PV-unhalt kick boosts
    TR_HALT = 1 << 8            # host: boost in kvm_vcpu_block before sleeping
    TR_PENDING_EXIT = 1 << 9    # host: a pending timer/interrupt at an exit needs a boost
    TR_PREEMPT_DISABLED = 1 << 10  # patch-3 variant: preempt-disabled alone needs a boost
    # boost causes / unboost causes (counters)
    BC_REQUEST = 0
    BC_PENDING = 1
    BC_KICK_TIMER = 2
    BC_KICK_INTR = 3
    BC_KICK_UNHALT = 4
    BC_HALT = 5
    BC_PREEMPT_DISABLED = 6
    BC_N = 7
    UC_EXIT = 0             # re-evaluation at an ordinary exit found no need
    UC_DOORBELL = 1         # the guest's synchronous unboost
    UC_CAP = 2              # preempt-disabled boost over the cap
    UC_BUDGET = 3           # bounded policy budget exhausted
    UC_N = 4
    ROGUE_NONE = 0
    ROGUE_HOLD_BOOST = 1
    ROGUE_DOORBELL_STORM = 2

cdef struct boost_vm:
    uint8_t mode            # BOOST_*
    uint8_t policy          # POLICY_RR / POLICY_FIFO while boosted
    uint8_t rogue
    s32 prio                # sched_priority while boosted (1..99)
    u32 triggers
    s64 cap_ns              # max preempt-disabled boost (0 = off)
    s64 doorbell_ns         # cost of the doorbell exit (fastpath wrmsr)
    s64 setsched_ns         # cost of sched_setscheduler during an exit
    s64 cs_budget_ns        # bounded: critical-section boost budget
    s64 gen_budget_ns       # bounded: generic boost budget

cdef struct boost_vcpu:
    uint8_t status          # host's authoritative copy (VCPU_BOOST_*)
    uint8_t guest_status    # the guest-visible copy (published at entry)
    uint8_t req             # written by the guest (VCPU_REQ_*)
    uint8_t cat             # 0 = critical-section boost, 1 = generic boost
    uint8_t latched         # bounded: throttled until debt is repaid
    s64 pd_ts               # host timestamp of the first exit that saw preempt_disabled
    s64 since
    s64 unboost_since
    s64 bacc_since          # boosted-time accounting mark
    s32 hooked_task         # guest task the switch/return-to-user hooks last ran for
    s64 debt_ns             # bounded: boosted time not yet repaid (1:1 by unboosted time)
    s64 boosted_ns[7]       # boosted time by vCPU mode (VM_NMODES)
    u64 nr_boost[7]         # BC_N
    u64 nr_unboost[4]       # UC_N
    u64 nr_budget_refused
