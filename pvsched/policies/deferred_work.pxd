# VMM deferred work: work a VMM does for its guest outside exit handlers (device completions,
# maintenance), the queue it waits in, and who runs it. Pure parts (queue, samplers, the VMM's
# per-KVM_RUN choices) and the state this policy owns (embedded in vm_t.vmm, vcpu_t.vmm and
# Sim.vmm). Code: policies/deferred_work.pxi; Python entry points: policies/deferred_work_api.pxi.
#
# Each VM has one queue in two priority classes: LOW (maintenance: run it when the vCPU is idle)
# and HIGH (completions: may preempt the vCPU). Executors take items from it: separate VMM worker
# threads, the vCPU thread itself while it is in userspace after an exit (kvm/userspace.pxi), or
# the VMM main thread on a fallback timer.
from libc.stdint cimport uint8_t
from libc.math cimport log as vmm_log
from pvsched.sched.calc cimport u64, s64, u32, s32
from pvsched.engine.hist cimport HIST_NBUCKETS, hist_bucket
from pvsched.engine.events cimport T_NEVER
from pvsched.kvm.kvm_run cimport RUN_INTERCEPT, RUN_USER_EXIT, USER_HLT, USER_MWAIT

cdef enum:
    WORK_LOW = 0
    WORK_HIGH = 1
    WORK_NCLASS = 2
    # size distributions of work items
    SIZE_FIXED = 0
    SIZE_UNIFORM = 1          # size + U[0, spread]
    SIZE_EXP = 2              # exponential with mean size, capped at spread (0 = 20 x mean)
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
    cdef double d
    if mean <= 0:
        return 0
    d = -<double>mean * vmm_log(vmm_unit(state)) + 0.5
    v = <s64>d if d < 9.2e18 else T_NEVER     # no out-of-range cast
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
        v = vmm_exp(state, mean_ns, 1000 * mean_ns if mean_ns <= T_NEVER // 1000 else T_NEVER)
    else:
        v = mean_ns
    return v if v > 0 else 1

# ---------------------------------------------------------------- per-KVM_RUN and per-exit rules
cdef inline int vmm_run_bits(int static_bits, bint toggle, int executor, bint pending) noexcept nogil:
    # What the VMM sets for a vCPU's next KVM_RUN, given the VM's own interception and whether the
    # VMM has work (queued or in service). Toggle (Graf): intercept the idle instruction only while
    # work is pending, else pass it through; handled in the kernel (HLT halts and frees the pCPU
    # for the worker thread, MWAIT is a NOP) or, with the vCPU executor, returned to userspace (his
    # steps 1-4). Without the toggle interception stays the VM's, and the vCPU executor (the RFC)
    # sets the userspace-exit bit while work is pending.
    if toggle:
        if not pending:
            return 0
        return RUN_INTERCEPT | (RUN_USER_EXIT if executor == EXEC_VCPU else 0)
    if (static_bits & RUN_INTERCEPT) and pending and executor == EXEC_VCPU:
        return static_bits | RUN_USER_EXIT
    return static_bits

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

cdef inline bint stale_kick(bint toggle, int executor, bint pending, int kick_class) noexcept nogil:
    # The VMM's settings for a vCPU went stale (work became pending, or the last of it finished):
    # does it signal the vCPU so that it re-enters with new ones? Not one already in userspace.
    # When work appears: every other vCPU, but a blocked one only if it can run the work itself
    # (vCPU executor; for a worker thread a blocked vCPU already frees its pCPU). When work runs
    # out: only to switch a toggle's in-kernel interception off again (a userspace-exit bit is
    # cleared at the next idle exit anyway), and not for blocked vCPUs.
    if kick_class == KICK_NONE:
        return False
    if pending:
        return kick_class != KICK_HALTED or executor == EXEC_VCPU
    return toggle and executor == EXEC_THREAD and kick_class != KICK_HALTED

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

# ---------------------------------------------------------------- state
cdef enum:
    ROLE_NONE = 0
    ROLE_VCPU = 1
    ROLE_WORKER = 2           # a separate VMM worker thread
    ROLE_MAIN = 3             # the VMM main thread (fallback timer)

cdef struct vmm_vm:
    # per VM (vm_t.vmm)
    uint8_t on                # deferred work arrives
    uint8_t toggle            # interception per KVM_RUN follows pending work
    uint8_t executor          # EXEC_THREAD / EXEC_VCPU
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
    u64 rng
    work_queue q
    s32 worker_base           # this VM's worker threads: Sim.vmm.workers[worker_base ...]
    s32 nworkers
    s32 main_task             # VMM main thread (fallback timer), -1 none
    s32 nrun                  # this VM's host threads (vCPU + VMM) running now
    s32 max_nrun
    s64 over_since            # nrun > nvcpu since
    s64 over_ns               # time during which the VM ran on more pCPUs than it has vCPUs
    u64 nr_kicks              # VMM signals sent
    u64 nr_worker_wakeups

cdef struct vmm_vcpu:
    # per vCPU (vcpu_t.vmm): the item the vCPU thread runs in userspace
    uint8_t item_busy
    uint8_t item_cls
    s64 item_queued_at
    s64 item_size
    s64 user_used             # work done in the current userspace visit (MWAIT budget)
    s64 work_ns               # deferred work run on this vCPU thread
    u64 nr_items

cdef struct vmm_task:
    # per host task (Sim.vmm.task)
    s32 vm                    # owning VM, -1 none
    uint8_t role              # ROLE_*
    uint8_t busy              # a worker/main thread holds an item
    uint8_t cls
    s64 queued_at
    s64 size
    s64 period_next           # main thread: next fallback expiry
    u64 nr_items

cdef struct vmm_sim:
    # per engine (Sim.vmm); NULL pointers unless a VM has deferred work
    uint8_t on
    vmm_task* task
    s32* workers              # worker thread task indices, grouped by VM
    uint8_t* kick_cls         # scratch: KICK_* class per vCPU of one VM
    work_item* store          # the queues' storage
    u32* hist                 # nvm x 2 x HIST_NBUCKETS latency
    s32 slot                  # + vm: next arrival of the VM's work process
