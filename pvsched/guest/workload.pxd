# Workload programs: the instruction set of the interpreter (guest/workload.pxi) that runs every
# task's program, host and guest alike. An op is (code, a, b, c).
from libc.stdint cimport uint8_t
from pvsched.sched.calc cimport s64, s32

cdef enum:
    OP_RUN = 1          # compute a ns (+ uniform jitter in [0, b])
    OP_SLEEP = 2        # sleep a ns (+ uniform jitter in [0, b])
    OP_PERIOD = 3       # sleep until the next periodic expiry: next += a; wake at next + U[0, b]
    OP_YIELD = 4        # sched_yield()
    OP_LOOP = 5         # jump to pc a; b = total passes of the body (0 = forever)
    OP_EXIT = 6
    OP_HOG = 7          # compute forever
    OP_START_PERIOD = 8 # the periodic timer starts now + a
    OP_VMEXIT = 9       # guest only: an MMIO-style exit handled by the host for a ns; c: its
                        # EXIT_CTX_* (kvm/kvm_host.pxd): 1 a fault (EXIT_FAULT), 2 interrupt +
                        # softirq work (EXIT_HOST_INTR)
    OP_VCPU = 10        # the vCPU thread's loop (KVM_RUN); its behaviour comes from kvm/vcpu.pxi
    OP_CRITICAL = 11    # compute a ns with preemption disabled (guest: preempt_count > 0)
    # guest synchronisation ops, executed by guest/sync.pxi
    OP_LOCK = 12        # spin_lock: a = first lock (VM-local), b = PV spin threshold ns (-1 = no PV), c = lock count
    OP_UNLOCK = 13      # spin_unlock of the lock held
    OP_IPI = 14         # smp_call_function: a = targets, b = handler ns; spin until all handled
    OP_WORK = 15        # compute: a = mean/base ns, b = spread/cap, c = WORK_* flags
    OP_LAST = 15        # the last guest synchronisation op
    # rtla hwnoise, executed by guest/hwnoise.pxi
    OP_HWNOISE = 16     # a window: a = runtime ns, b = threshold ns, c = warm-up ns from the task's start
    WORK_EXP = 1        # exponential with mean a, capped at b (0 = 20 x a); else a + U[0, b]
                        # (also on OP_SLEEP's c: an exponential sleep, a Poisson arrival process)
    WORK_KERNEL = 16    # kernel code with preemption disabled (a critical section)
    # rt-app events (pvsched/rtapp.py, workloads.RtApp)
    OP_RUNTIME = 17     # rt-app "runtime": compute b-ns chunks until a ns of wall clock passed since it began
    OP_TIMER = 18       # rt-app "timer": rtimer b: next += a, sleep until next (missed: relative c=1 restarts it)
    # VMM deferred work, executed by policies/deferred_work.pxi
    OP_VMM = 19         # a VMM thread's loop: a = VM index, b = ROLE_WORKER / ROLE_MAIN
    # RCU and the VMM (rcu/rcu_engine.pxi, kvm/vmm_actions.pxi)
    OP_SYNC_RCU = 20    # host only: synchronize_rcu(); sleeps until a full grace period has ended
    OP_RCUC = 21        # rcuc/a's loop (the per-CPU RCU core kthread of host CPU a)
    OP_VMEXIT_USER = 22 # guest only: an exit KVM hands to the VMM, which handles it for a ns in user mode
    OP_MAX = 22         # highest op code
    RUNTIME_IDLE = 0
    RUNTIME_PENDING = 1 # the first chunk starts when the task next runs (set by record_latency)
    RUNTIME_STARTED = 2

cdef struct rtimer_t:
    s64 next            # next expiry
    uint8_t init        # the first user set next to its start time
    uint8_t relative    # a missed expiry restarts the timer from now

cdef struct rtapp_task:
    uint8_t runtime_state  # RUNTIME_*: where its OP_RUNTIME busy loop is
    s64 runtime_start   # wall-clock start of that busy loop
    s32 loop_cnt[3]     # counters of nested OP_LOOPs (c = 1..3; c = 0 uses task_t.loop_left)

cdef struct op_t:
    s32 code
    s64 a
    s64 b
    s64 c
