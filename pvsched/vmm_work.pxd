# VMM deferred work and the HLT/MWAIT exit rules around it (pure parts: no engine state).
#
# A VMM (QEMU, Firecracker, ...) has work to do for its guest outside any exit handler: device
# completions, maintenance, metrics. Each VM has one queue of such work items in two priority
# classes: LOW (maintenance: run it when the vCPU idles) and HIGH (completions: may preempt the
# vCPU). Executors take items from the queue: a separate VMM worker thread, the vCPU thread itself
# while it is in userspace after an exit, or the VMM main thread on a fallback timer.
#
# What KVM does at the guest's idle instruction, and what the VMM asks of KVM at each KVM_RUN,
# are small pure rules below (`kvm_run_bits`, `idle_exit_action`, `user_work_next`), so they can be
# tested one by one; the engine (vmm.pxi) applies them.
#
# Kernel facts these rules follow (arch/x86/kvm/x86.c, vmx/vmx.c, Linux v6.15):
# * HLT with HLT exiting: kvm_emulate_halt -> __kvm_emulate_halt sets mp_state HALTED (the lapic is
#   in the kernel) and returns to the run loop, which calls vcpu_block -> kvm_vcpu_halt
#   (halt-polling, then kvm_vcpu_block). Without HLT exiting (KVM_CAP_X86_DISABLE_EXITS_HLT) the
#   guest halts in non-root mode: the vCPU thread stays current on its pCPU.
# * MWAIT (and MONITOR) with exiting: kvm_emulate_mwait -> kvm_emulate_monitor_mwait ->
#   kvm_emulate_as_nop: the instruction is skipped and the guest re-entered at once, so an idle
#   guest spins round its idle loop through exits. Without exiting (DISABLE_EXITS_MWAIT) the guest
#   waits in non-root mode.
# * KVM_CAP_X86_DISABLE_EXITS is per VM and may only be set before vCPUs are created
#   (kvm_vm_ioctl_enable_cap returns -EINVAL once kvm->created_vcpus); a per-KVM_RUN toggle of
#   interception (Alexander Graf's proposal) does not exist in any kernel.
# * The RFC (David Woodhouse, Sep 2023) adds kvm_run->userspace_exits bits, read at each exit:
#   with the HLT bit, __kvm_emulate_halt still sets mp_state HALTED but returns KVM_EXIT_HLT to
#   userspace; with the MWAIT bit, kvm_emulate_mwait returns KVM_EXIT_MWAIT (the vCPU stays
#   runnable); without it, MWAIT is a NOP followed by yield().
from libc.stdint cimport uint8_t
from libc.math cimport log as vmm_log
from pvsched.calc cimport u64, s64, u32, s32
from pvsched.hist cimport HIST_NBUCKETS, hist_bucket

cdef enum:
    WORK_LOW = 0
    WORK_HIGH = 1
    WORK_NCLASS = 2
    # size distributions of work items
    SIZE_FIXED = 0
    SIZE_UNIFORM = 1          # size + U[0, spread]
    SIZE_EXP = 2              # exponential with mean size, capped at spread (0 = 20 x mean)
    # the guest's idle instruction
    IDLE_HLT = 0
    IDLE_MWAIT = 1
    # per-KVM_RUN settings (what the vCPU runs with until its next KVM_RUN)
    RUN_INTERCEPT = 1         # the idle instruction exits (HLT exiting / MWAIT exiting)
    RUN_USER_EXIT = 2         # ... to userspace (the RFC's kvm_run->userspace_exits bit)
    # what KVM does when the guest executes its idle instruction
    IDLE_STAY = 0             # not intercepted: the guest idles in non-root mode, holding the pCPU
    IDLE_HALT = 1             # HLT emulated in the kernel: halt-polling, then block
    IDLE_NOP = 2              # MWAIT emulated as a NOP: re-enter at once
    IDLE_NOP_YIELD = 3        # ... then yield() (the RFC's minimum)
    IDLE_USER = 4             # exit to userspace (KVM_EXIT_HLT / KVM_EXIT_MWAIT)
    # why the vCPU thread is in userspace (which items the VMM may run there)
    USER_HLT = 0              # after a HLT exit: the vCPU is halted (mp_state HALTED)
    USER_MWAIT = 1            # after an MWAIT exit: the vCPU is idle but runnable
    USER_OTHER = 2            # any other return to userspace (MMIO, signal): the guest is busy
    # executors
    EXEC_THREAD = 0           # separate VMM worker thread(s)
    EXEC_VCPU = 1             # the vCPU thread, in userspace after an exit (the RFC)
    # how a vCPU can be reached by a VMM kick (signal), best first
    KICK_NONE = 0             # no kick needed: already in userspace
    KICK_HALTED = 1           # blocked in the kernel (or halt-polling): wake it
    KICK_IDLE_GUEST = 2       # in guest mode, guest idle: exit it
    KICK_BUSY_GUEST = 3       # in guest mode, guest busy: exit it (preempts the guest)
    KICK_LATER = 4            # in an in-kernel exit or preempted: the signal is seen later
    KICK_NCLASS = 5

cdef struct work_item:
    s64 queued_at
    s64 size_ns

cdef struct work_ring:
    # FIFO of one class; storage is owned by whoever built the queue
    work_item* buf
    s32 cap
    s32 head
    s32 n

cdef struct work_queue:
    # Exact accounting: arrived = dropped + queued + started; started = done + in service.
    work_ring ring[2]
    u64 arrived[2]            # items offered to the queue
    u64 dropped[2]            # refused because the class's ring was full
    u64 started[2]            # taken by an executor
    u64 done[2]               # completed (latency recorded)
    s64 lat_sum[2]            # sum of done - queued
    s64 lat_max[2]
    s64 work_ns[2]            # sum of the sizes of completed items
    u32* hist                 # 2 x HIST_NBUCKETS latency histogram (owned by the queue's builder)

cdef struct idle_policy:
    # One VM's idle-instruction handling and the VMM's per-KVM_RUN choices.
    uint8_t insn              # IDLE_HLT / IDLE_MWAIT
    uint8_t hlt_exits         # static HLT interception (KVM_CAP_X86_DISABLE_EXITS_HLT not set)
    uint8_t mwait_exits       # static MWAIT/MONITOR interception
    uint8_t mwait_yield       # yield() after emulating MWAIT as a NOP (RFC)
    uint8_t toggle            # interception on exactly while work is pending (per KVM_RUN, Graf)
    uint8_t executor          # EXEC_THREAD / EXEC_VCPU

# ---------------------------------------------------------------- queue
cdef inline void wq_init(work_queue* q, work_item* storage, s32 cap_per_class, u32* hist) noexcept nogil:
    # storage holds 2 * cap_per_class items (LOW ring first); hist 2 * HIST_NBUCKETS counters.
    cdef int c
    for c in range(WORK_NCLASS):
        q.ring[c].buf = storage + c * cap_per_class
        q.ring[c].cap = cap_per_class
        q.ring[c].head = 0
        q.ring[c].n = 0
        q.arrived[c] = 0
        q.dropped[c] = 0
        q.started[c] = 0
        q.done[c] = 0
        q.lat_sum[c] = 0
        q.lat_max[c] = 0
        q.work_ns[c] = 0
    q.hist = hist

cdef inline bint wq_push(work_queue* q, int cls, s64 now, s64 size_ns) noexcept nogil:
    # Queue one item; False (and counted as dropped) when its class's ring is full.
    cdef work_ring* r = &q.ring[cls]
    cdef s32 i
    q.arrived[cls] += 1
    if r.n >= r.cap:
        q.dropped[cls] += 1
        return False
    i = r.head + r.n
    if i >= r.cap:
        i -= r.cap
    r.buf[i].queued_at = now
    r.buf[i].size_ns = size_ns
    r.n += 1
    return True

cdef inline s32 wq_len(work_queue* q, int cls) noexcept nogil:
    return q.ring[cls].n

cdef inline s32 wq_pending(work_queue* q) noexcept nogil:
    return q.ring[WORK_LOW].n + q.ring[WORK_HIGH].n

cdef inline u64 wq_in_service(work_queue* q) noexcept nogil:
    return q.started[WORK_LOW] + q.started[WORK_HIGH] - q.done[WORK_LOW] - q.done[WORK_HIGH]

cdef inline bint wq_busy(work_queue* q) noexcept nogil:
    # The VMM has work: queued or in service (what its per-KVM_RUN choices follow).
    return wq_pending(q) > 0 or wq_in_service(q) > 0

cdef inline bint wq_pop(work_queue* q, int cls, work_item* out) noexcept nogil:
    # Take the oldest item of class cls (FIFO); False if there is none.
    cdef work_ring* r = &q.ring[cls]
    if r.n == 0:
        return False
    out[0] = r.buf[r.head]
    r.head += 1
    if r.head >= r.cap:
        r.head = 0
    r.n -= 1
    q.started[cls] += 1
    return True

cdef inline int wq_pop_any(work_queue* q, work_item* out) noexcept nogil:
    # High before low; returns the class taken, or -1 when the queue is empty.
    if wq_pop(q, WORK_HIGH, out):
        return WORK_HIGH
    if wq_pop(q, WORK_LOW, out):
        return WORK_LOW
    return -1

cdef inline void wq_done(work_queue* q, int cls, work_item* it, s64 now) noexcept nogil:
    # An executor finished item `it` at `now`: latency = now - queued_at, recorded once.
    cdef s64 lat = now - it.queued_at
    q.done[cls] += 1
    q.lat_sum[cls] += lat
    if lat > q.lat_max[cls]:
        q.lat_max[cls] = lat
    q.work_ns[cls] += it.size_ns
    if q.hist != NULL:
        q.hist[cls * HIST_NBUCKETS + hist_bucket(lat)] += 1

# ---------------------------------------------------------------- sampling (deterministic)
cdef inline u64 vmm_rand(u64* state) noexcept nogil:
    # splitmix64, the engine's generator
    cdef u64 z
    state[0] += <u64>0x9E3779B97F4A7C15
    z = state[0]
    z = (z ^ (z >> 30)) * <u64>0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <u64>0x94D049BB133111EB
    return z ^ (z >> 31)

cdef inline double vmm_unit(u64* state) noexcept nogil:
    # uniform in (0, 1]
    return (<double>(vmm_rand(state) >> 11) + 1.0) * (1.0 / 9007199254740992.0)

cdef inline s64 vmm_exp(u64* state, s64 mean, s64 cap) noexcept nogil:
    # exponential with mean `mean`, rounded to ns, capped at `cap`
    cdef s64 v
    if mean <= 0:
        return 0
    v = <s64>(-<double>mean * vmm_log(vmm_unit(state)) + 0.5)
    return v if v < cap else cap

cdef inline s64 sample_size(u64* state, s64 size, s64 spread, int dist) noexcept nogil:
    # An item's size (>= 1 ns): fixed, size + U[0, spread], or exponential (mean size, cap spread
    # or 20 x size).
    cdef s64 v
    if dist == SIZE_EXP:
        v = vmm_exp(state, size, spread if spread > 0 else 20 * size)
    elif dist == SIZE_UNIFORM and spread > 0:
        v = size + <s64>(vmm_rand(state) % (<u64>spread + 1))
    else:
        v = size
    return v if v > 0 else 1

cdef inline s64 next_arrival_gap(u64* state, s64 mean_ns, bint poisson) noexcept nogil:
    # Time to the next arrival (>= 1 ns): exponential (Poisson process) or exactly periodic.
    cdef s64 v
    if poisson:
        v = vmm_exp(state, mean_ns, 1000 * mean_ns)
    else:
        v = mean_ns
    return v if v > 0 else 1

# ---------------------------------------------------------------- per-KVM_RUN and per-exit rules
cdef inline int kvm_run_bits(idle_policy* p, bint pending) noexcept nogil:
    # What the VMM sets for the next KVM_RUN of a vCPU, given whether it has work (queued or in
    # service). Toggle (Graf): intercept the idle instruction only while work is pending, else
    # pass it through; the intercepted instruction is handled in the kernel (HLT halts and frees
    # the pCPU for the worker thread, MWAIT is a NOP), or, with the vCPU executor, returns to
    # userspace (his steps 1-4). Without the toggle interception is the VM's static setting, and
    # the vCPU executor (the RFC) sets the userspace-exit bit while work is pending.
    cdef int bits = 0
    if p.toggle:
        if pending:
            bits = RUN_INTERCEPT
            if p.executor == EXEC_VCPU:
                bits |= RUN_USER_EXIT
        return bits
    if (p.hlt_exits if p.insn == IDLE_HLT else p.mwait_exits):
        bits = RUN_INTERCEPT
        if pending and p.executor == EXEC_VCPU:
            bits |= RUN_USER_EXIT
    return bits

cdef inline int idle_exit_action(idle_policy* p, int bits) noexcept nogil:
    # What happens when the guest executes its idle instruction under `bits`.
    if not (bits & RUN_INTERCEPT):
        return IDLE_STAY
    if bits & RUN_USER_EXIT:
        return IDLE_USER
    if p.insn == IDLE_HLT:
        return IDLE_HALT
    return IDLE_NOP_YIELD if p.mwait_yield else IDLE_NOP

cdef inline int user_work_next(int executor, int kind, s64 used_ns, s64 budget_ns, bint wake_pending,
                               s32 n_high, s32 n_low) noexcept nogil:
    # The vCPU thread is in userspace (kind USER_*), `used_ns` of work done there since the exit:
    # the class of the next item to run on it, or -1 to re-enter KVM_RUN. Only the vCPU executor
    # runs work here. High items may preempt the vCPU: always run. Low items run only while the
    # vCPU idles and no wake-up is pending: after a HLT exit until one is; after an MWAIT exit
    # within the per-exit budget too (the vCPU is runnable and its idle loop is waiting).
    # An item once started runs to completion (userspace has no time slicing).
    if executor != EXEC_VCPU:
        return -1
    if n_high > 0:
        return WORK_HIGH
    if n_low <= 0 or wake_pending:
        return -1
    if kind == USER_HLT:
        return WORK_LOW
    if kind == USER_MWAIT and used_ns < budget_ns:
        return WORK_LOW
    return -1

cdef inline bint stale_kick(idle_policy* p, bint pending, int kick_class) noexcept nogil:
    # The VMM's settings for a vCPU went stale (work became pending, or the last of it finished):
    # does it signal the vCPU so that it re-enters with new ones? Not one already in userspace.
    # When work appears: every other vCPU, but a blocked one only if it can run the work itself
    # (vCPU executor; for a worker thread a blocked vCPU already frees its pCPU). When work runs
    # out: only to switch a toggle's in-kernel interception off again (a userspace-exit bit is
    # cleared at the next idle exit anyway), and not for blocked vCPUs.
    if kick_class == KICK_NONE:
        return False
    if pending:
        return kick_class != KICK_HALTED or p.executor == EXEC_VCPU
    return p.toggle and p.executor == EXEC_THREAD and kick_class != KICK_HALTED

cdef inline s32 choose_kick(uint8_t* kick_class, s32 n) noexcept nogil:
    # The vCPU a VMM signals to run a newly queued high-priority item at once: none if one is
    # already in userspace; else the first in the best class (halted, idle guest, busy guest,
    # and last one that will only see the signal later: in a kernel exit, or preempted).
    cdef s32 i, best = -1
    cdef int bc = KICK_NCLASS
    for i in range(n):
        if kick_class[i] == KICK_NONE:
            return -1
        if kick_class[i] < bc:
            bc = kick_class[i]
            best = i
    return best
