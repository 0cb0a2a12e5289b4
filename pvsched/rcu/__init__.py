"""RCU on nohz_full host CPUs that run guests: grace periods, rcuc, context tracking, and the
policies proposed to skip rcuc wake-ups after a guest exit (Linux v6.15 Tree RCU, PREEMPT_RCU).

The pure rules are C (``pvsched/rcu/tree.pxd``: structs and per-tick rules; ``tree.pxi``: the
grace-period machinery), compiled into the engine; this module exposes them for step-by-step
use. Everything runs the engine's own code.

>>> from pvsched.rcu import rcu_pending, policy_skip, RcuMachine
>>> rcu_pending(gp_seq=5, rdp_gp_seq=4)                 # a GP started while the CPU was in a guest
'gp_changed'
>>> rcu_pending(gp_seq=5, rdp_gp_seq=4, policy="run_loop_sched", in_guest_run_loop=True)
'skip'
>>> policy_skip("last_exit", jiffies=1500, last_guest_exit=1000)    # W = HZ = 1000 jiffies
True

Model
=====

State (``tree.pxd``)
--------------------
* ``rcu_state``: ``gp_seq`` (rcu_seq with two state bits, starting at ``(0 - 300) << 2`` so it
  wraps, compared with ULONG_CMP_*), ``gp_seq_needed``, ``gp_start`` (jiffies), FQS, stall and
  resched deadlines, GP-kthread flags. One rcu_node holds the qsmask: the kernel's tree reports
  the same quiescent states, only through more locks.
* ``rcu_data`` per CPU: ``gp_seq`` last noted, ``core_needs_qs``, ``cpu_no_qs``, the FQS snapshot
  of the EQS counter, ``rcu_urgent_qs`` / ``rcu_need_heavy_qs``, ``rcu_forced_tick``
  (TICK_DEP_BIT_RCU), ``last_fqs_resched``, rcuc's ``has_work`` and status, nohz_full and
  rcu_nocbs (offloaded callbacks; every nohz_full CPU is also an rcu_nocbs CPU).
* Context tracking per CPU: user / kernel / guest / idle and the ``rcu_watching`` counter (odd =
  watched, even = in an extended quiescent state). Idle is an EQS on every CPU; user and guest
  only where context tracking runs (nohz_full). An interrupt taken from an EQS moves the counter
  by two. Guest entry elsewhere calls rcu_virt_note_context_switch() (a local QS).
* Per-CPU policy state: ``kvm_last_guest_exit`` (P1 family, jiffies), ``in_guest_run_loop``
  (P2 family, in struct context_tracking), ``PF_VCPU`` on the current task (X2), and
  ``wants_to_run`` of the loaded vCPU (KVM_RUN).
* Jiffies: ``INITIAL_JIFFIES + uptime_s * HZ + now // TICK_NSEC``, advanced by the housekeeping
  (timekeeper) tick; ``INITIAL_JIFFIES`` is the kernel's 32-bit wrap value, so a P1' reset to 0
  reads as 2**32 jiffies ago and every comparison uses ``time_before`` on unsigned jiffies.

The tick: ``rcu_sched_clock_irq(user)``
---------------------------------------
In the kernel's order: ``ticks_this_gp++``; ``rcu_urgent_qs`` asks for a reschedule unless the
tick interrupted user or idle; the PREEMPT_RCU flavor hook notes ``rcu_qs()`` when the
interrupted context was preemptible (not the exit IRQ of a guest, which KVM handles with
preemption off; not host softirq work in the run loop, a ``Phases`` ``irq`` exit; not idle); then
``rcu_pending()``:

1. ``check_cpu_stall()`` (self-detected at ``jiffies_stall``, other CPUs' after
   RCU_STALL_RAT_DELAY more jiffies; the next warning 3 x timeout + 3 jiffies later);
2. a deferred NOCB wakeup (rcuo kthreads are not modelled: never);
3. the nohz_full shortcut: ``(user || rcu_is_cpu_rrupt_from_idle() || <policy>) &&
   rcu_nohz_full_cpu()``, where ``rcu_nohz_full_cpu()`` = nohz_full CPU and (no GP, or
   ``time_before(jiffies, gp_start + HZ)``); the HZ is a parameter (``nohz_full_timeout_jiffies``);
4. ``core_needs_qs && !cpu_no_qs && GP in progress``;
5. ready callbacks, 6. callbacks needing a GP while RCU is idle (non-offloaded CPUs only);
7. ``rnp->gp_seq != rdp->gp_seq`` (a GP started or ended unseen).

A non-zero result calls ``invoke_rcu_core()``: with ``use_softirq`` off (PREEMPT_RT) it sets
``rcu_cpu_has_work`` and wakes rcuc/N unless rcuc is current or yielding. rcuc runs
``rcu_core()``: note GP changes (``__note_gp_changes``: a new GP sets ``cpu_no_qs`` and
``core_needs_qs`` from the qsmask; ``last_fqs_resched = jiffies``), report a noted QS
(``rcu_report_qs_rdp``), and on housekeeping CPUs accelerate and invoke callbacks. The context
switches into and out of rcuc are quiescent states (``rcu_note_context_switch``). So with a
running tick, vanilla RCU wakes rcuc on an isolated CPU up to three times per GP: to note its
start, to report the QS noted by the switch back from rcuc, and to note its end, unless an FQS
scan reported the CPU first.

The policies (the extra disjunct, each ANDed with ``rcu_nohz_full_cpu()``)
-------------------------------------------------------------------------
============  =======================  ==========================================  ===============================
id            name                     skip disjunct                               state updates
============  =======================  ==========================================  ===============================
P0            ``vanilla``              none                                        none
P1            ``last_exit``            ``time_before(j, last_guest_exit + W)``     guest exit: ``= jiffies``
P1'           ``last_exit_reset``      as P1                                       + ``= 0`` at vcpu_load/vcpu_put
P1''          ``last_exit_sched``      as P1                                       + ``= 0`` at kvm_sched_out
P2a           ``run_loop``             ``in_guest_run_loop``                       vcpu_load/put with wants_to_run
P2            ``run_loop_sched``       ``in_guest_run_loop``                       + clear at kvm_sched_out, set at kvm_sched_in
X1            ``patience``             ``GP && time_before(j, gp_start + D)``      none (D = nohz_full_patience_delay)
X2            ``pf_vcpu``              ``current->flags & PF_VCPU``                PF_VCPU from guest entry to after the exit's IRQ
X3            ``qs_on_exit``           none                                        rcu_virt_note_context_switch() at exit
                                                                                   (only without context tracking)
============  =======================  ==========================================  ===============================

W defaults to HZ (``window_jiffies``); D is ``patience_ms`` converted by msecs_to_jiffies()
(rounds up) after the kernel's 5 s cap; since the clause is ANDed with rcu_nohz_full_cpu(), X1's
effective patience is min(D, HZ).

The GP kthread (``tree.pxi``)
-----------------------------
On the first housekeeping CPU; its own wake-up latency and CPU time are not simulated.
``rcu_gp_init``: ``rcu_seq_start``, ``gp_start = jiffies``, stall deadline = start + timeout
(21 s default, clamped 3..300 s), resched deadline = half of it, every CPU owes a QS. The FQS
loop waits ``jiffies_till_first_fqs`` (default ``1 + (HZ>250) + (HZ>500) + ncpu/256``), then
scans: the first scan snapshots each owing CPU's EQS counter and reports those in an EQS; later
scans (every ``jiffies_till_next_fqs``) report those whose counter moved, set ``rcu_urgent_qs``
past ``jiffies_to_sched_qs`` (>= HZ/10) and ``rcu_need_heavy_qs`` past twice that, and
``resched_cpu()`` a nohz_full CPU when ``last_fqs_resched`` is 3 x jiffies_to_sched_qs old (more
often past the resched deadline). An interrupt that finds ``rcu_urgent_qs`` on a nohz_full CPU
where RCU watches turns its tick on (``__rcu_irq_enter_check_tick``, TICK_DEP_BIT_RCU); a
reported QS turns it off. The last report wakes the kthread; ``rcu_gp_cleanup`` ends the GP and
starts the next if ``gp_seq_needed`` asks for it.

synchronize_rcu()
-----------------
Default (``rcu_normal_wake_from_gp`` off): ``wait_rcu_gp(call_rcu_hurry)``, a callback on the
caller's housekeeping CPU; that CPU's next tick finds it needing a GP, rcu_core() accelerates it
to ``rcu_seq_snap()`` and requests the GP; once the CPU has noted that GP's end, rcu_core()
invokes it and the caller returns. With ``normal_wake_from_gp`` the call latches a GP at once and
returns at ``rcu_gp_cleanup``.

Invariants (checked on every run)
---------------------------------
* no GP ends while a CPU has not passed a quiescent state in it (ground truth kept apart from
  the reporting code: in an EQS at the GP start, an EQS entry or exit, a context switch, or a
  local QS at a preemptible tick);
* no QS is reported for a CPU that has not passed one;
* every synchronize_rcu() caller returns after a full GP that started after its call.

Predicate accuracy (per nohz_full CPU, by cause)
------------------------------------------------
Every tick on a nohz_full CPU records the policy's disjunct and what the CPU was doing (the
cause: guest tick, run-loop exit handling, slow exit, new pCPU after migration, the exit-to-
userspace window, HLT race, HLT, preemption, migration, termination). It resolves when the CPU
next enters a guest or after the horizon H (default: one ``jiffies_till_next_fqs``):

* ``fp``: the disjunct was true but no guest entry followed within H (``fp_ns``: for how long
  it was wrongly true, from the first such tick to the next entry); ``fn``: false although an
  entry followed, on a tick where it decided (neither ``user`` nor idle already skipped);
* ``held``: the skip fired because of the policy alone and the CPU reached no EQS within H (the
  GP had to wait for an FQS scan or the 1 s expiry);
* ``needless``: rcuc was woken although the CPU reached an EQS (guest, idle, user) within H.

In the engine
=============
RCU is modelled when the host has an ``RcuConfig`` (``Host(rcu=...)``), ``synchronize_rcu()``
callers (``workloads.RcuUpdater``) or a guest policy other than vanilla; otherwise every call site
is one NULL test and results are those of a run without it. Where the engine calls RCU
(``rcu/rcu_engine.pxi``):

* the tick on a host CPU (``sched/core.pxi`` handle_tick, after the tick hook point where the
  policy computes its disjunct): ``rcu_sched_clock_irq``; a tick that hits a vCPU in guest mode
  is handled after the exit it causes, with PF_VCPU still set;
* ``Host(nohz_full=[...])`` is the tick's (``sched/tick_sched.pxi``): the tick stops at a tick
  where nothing depends on it; RCU adds its dependencies: TICK_DEP_BIT_RCU set by an interrupt
  (``host_interrupt``) on an urgent CPU where RCU watches, and, with
  ``RcuConfig(tick_dependency="timer")``, a timer-wheel timer in every tick period (the tick
  never stops, also in idle); idle nohz_full CPUs otherwise stop ticking;
* ``__schedule``: ``rcu_note_context_switch`` (a QS); switches to and from the idle task: the idle
  EQS begins ``idle_entry_ns`` after the switch (``ct_cpuidle_enter``, the HLT race window) and
  ends at the next switch;
* guest entry and exit (``kvm/vcpu.pxi``): EQS on nohz_full CPUs (context tracking on),
  ``rcu_virt_note_context_switch`` elsewhere; the VMM's user mode on an exit to userspace
  (``kvm/userspace.pxi``) is an EQS too;
* ``rcuc/N``: a SCHED_FIFO host task at ``kthread_prio`` pinned to each nohz_full CPU (added by
  ``Scenario.compile``), woken by ``invoke_rcu_core()`` (its wake-up latency is the task's);
  it preempts a lower-priority vCPU thread (counted per vCPU with the time until the vCPU runs
  again); housekeeping CPUs run ``rcu_core()`` inline;
* the GP kthread: its own event slot; ``resched_cpu()`` is an IPI (a guest exits) and a
  reschedule;
* ``synchronize_rcu()``: a host task's ``sync_rcu`` op blocks until its GP ends.

The policies (``policies/rcu_guest.pxi``) attach to the hook points: the host tick (the
disjunct), vcpu_mode (guest exit: P1's timestamp, X3's note), kvm_run and kvm_run_leave
(vcpu_load / vcpu_put at the KVM_RUN boundaries, with ``wants_to_run``; a vcpu_load before the
thread has a pCPU takes effect at its kvm_sched_in) and kvm_sched_in/out (preempt notifiers,
only while the vCPU is loaded).

With the event trace on (``Scenario(trace=TraceConfig(enabled=True))``) RCU records kind ``rcu``
(32): ``cpu``, ``task`` (current there), ``event`` (``RCU_TRACE_EVENTS``: GP start and end, QS
reported by the CPU or by an FQS scan, FQS scans, stall warnings, forced ticks, resched IPIs, rcuc
wake-ups and nohz_full skips at the tick) and ``value`` (``RCU_TRACE_VALUES``).

Results: ``Result.rcu`` (counters, per-CPU columns), ``Result.rcu_latency("sync" | "gp" | "qs")``,
vCPU columns ``rcuc_preemptions``, ``rcuc_preempt_ns``, ``user_exits``; sweep metrics ``rcu_*``,
``rcuc_*``. ``pvsched reproduce`` runs the scenarios of the thread that proposed the policies under each.
"""
from pvsched._core import (  # noqa: F401
    CT_STATES,
    RCU_CAUSES,
    RCU_HOOKS,
    RCU_INVARIANTS,
    RCU_TRACE_EVENTS,
    RCU_TRACE_VALUES,
    RCU_PENDING_RULES,
    RCU_POLICIES,
    RCU_POLICY_IDS,
    RCU_SKIP_REASONS,
    TICK_DEP_BITS,
    RcuMachine,
    jiffies_till_force_qs,
    jiffies_to_sched_qs,
    policy_hook,
    policy_skip,
    rcu_pending,
)
from pvsched._core import py_initial_jiffies as initial_jiffies  # noqa: F401
from pvsched._core import py_msecs_to_jiffies as msecs_to_jiffies  # noqa: F401
from pvsched._core import py_rcu_nohz_full_cpu as rcu_nohz_full_cpu  # noqa: F401
from pvsched._core import py_rcu_seq_done as rcu_seq_done  # noqa: F401
from pvsched._core import py_rcu_seq_snap as rcu_seq_snap  # noqa: F401
from pvsched._core import py_time_after as time_after  # noqa: F401
from pvsched._core import py_time_before as time_before  # noqa: F401
from pvsched._core import py_can_stop_full_tick as can_stop_full_tick  # noqa: F401
from pvsched._core import py_sched_can_stop_tick as sched_can_stop_tick  # noqa: F401
from pvsched._core import py_tick_timer_in_next_period as tick_timer_in_next_period  # noqa: F401

__all__ = [
    "RcuMachine", "rcu_pending", "rcu_nohz_full_cpu", "policy_skip", "policy_hook", "rcu_seq_snap",
    "rcu_seq_done", "time_before", "time_after", "msecs_to_jiffies", "initial_jiffies",
    "jiffies_till_force_qs", "jiffies_to_sched_qs", "RCU_POLICIES", "RCU_POLICY_IDS", "RCU_PENDING_RULES",
    "RCU_SKIP_REASONS", "RCU_CAUSES", "RCU_HOOKS", "RCU_INVARIANTS", "RCU_TRACE_EVENTS", "RCU_TRACE_VALUES", "CT_STATES",
    "sched_can_stop_tick", "can_stop_full_tick", "tick_timer_in_next_period", "TICK_DEP_BITS",
]
