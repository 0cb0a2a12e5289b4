"""The trace record: one fixed-size C struct per event, read back as numpy columns.

Every record has the same six fields; what ``cpu``, ``a``, ``b`` and ``c`` mean depends on the
``kind`` (the table :data:`KINDS`, which also names each field). The C core writes records into a
preallocated buffer of :data:`RECORD_DTYPE` (32 bytes each); Python never runs per event.

Conventions:

* ``cpu`` is a global run-queue index: ``0 .. ncpu-1`` are the host's CPUs, ``ncpu + v`` is
  vCPU ``v`` seen as a CPU of its guest kernel (guest events). -1 = not on a CPU.
* Tasks are global task indices (host tasks, then per VM its vCPU threads and guest tasks, the
  order of ``Result.task_names``); -1 is the idle task (``swapper/N``).
* vCPUs are global vCPU indices (the rows of ``Result.vcpus``).
* ``prev_state`` follows the kernel's ``sched_switch`` tracepoint encoding (v4.14+, still v6.15):
  0 = runnable (``R``), ``1 << (task_state_index - 1)`` when it blocked (1 = ``S``, 2 = ``D``,
  0x10 = ``X`` ...), and ``TASK_REPORT_MAX`` (0x100, printed ``R+``) when it was preempted.

>>> from pvsched.trace.schema import KIND, prev_state_str
>>> KIND["sched_switch"], prev_state_str(0x100), prev_state_str(1), RECORD_DTYPE.itemsize
(1, 'R+', 'S', 32)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

# Field order is the C struct's (pvsched trace buffer): 8-byte fields first, no implicit padding.
RECORD_DTYPE = np.dtype([("time_ns", "<i8"), ("c", "<i8"), ("cpu", "<i4"), ("a", "<i4"), ("b", "<i4"),
                         ("kind", "<u2"), ("pad", "<u2")])
COLUMNS = ("time_ns", "kind", "cpu", "a", "b", "c")

# prev_state bits (include/linux/sched.h TASK_REPORT, include/trace/events/sched.h)
TASK_RUNNING = 0
TASK_INTERRUPTIBLE = 0x1
TASK_UNINTERRUPTIBLE = 0x2
EXIT_DEAD = 0x10
EXIT_ZOMBIE = 0x20
TASK_REPORT_IDLE = 0x80
TASK_REPORT_MAX = 0x100          # the tracepoint's "preempted" marker (R+)
_STATE_CHARS = ((0x01, "S"), (0x02, "D"), (0x04, "T"), (0x08, "t"), (0x10, "X"), (0x20, "Z"),
                (0x40, "P"), (0x80, "I"))


def prev_state_str(state: int) -> str:
    """The ``prev_state=`` text of the kernel's sched_switch TP_printk (``__print_flags`` with
    "|", "R" when no state bit is set, "+" appended when preempted).

    >>> [prev_state_str(s) for s in (0, 1, 2, 0x10, 0x100, 0x3)]
    ['R', 'S', 'D', 'X', 'R+', 'S|D']
    """
    bits = state & (TASK_REPORT_MAX - 1)
    txt = "|".join(ch for bit, ch in _STATE_CHARS if bits & bit) if bits else "R"
    return txt + ("+" if state & TASK_REPORT_MAX else "")


@dataclass(frozen=True)
class Kind:
    """One event kind: its code, name and what each field holds ('' = unused)."""

    code: int
    name: str
    cpu: str
    a: str
    b: str
    c: str
    doc: str

    def fields(self) -> Dict[str, str]:
        return {k: v for k, v in (("cpu", self.cpu), ("a", self.a), ("b", self.b), ("c", self.c)) if v}


# Codes are stable: traces saved by one version read the same in the next. 0..31 are the core's,
# 32..63 are reserved for the policies named below, 64.. are free for registered policies.
_KINDS: Tuple[Kind, ...] = (
    Kind(0, "truncated", "", "", "", "events_dropped",
         "marker: the buffer cap was reached at time_ns; later events were counted, not kept"),
    Kind(1, "sched_switch", "cpu", "prev_task", "next_task", "prev_state",
         "a CPU (host or a guest's vCPU) switches from prev to next; -1 is the idle task"),
    Kind(2, "sched_wakeup", "cpu", "task", "target_cpu", "",
         "task woken (timer, unlock, IPI ...) on cpu, to run on target_cpu"),
    Kind(3, "sched_wakeup_new", "cpu", "task", "target_cpu", "", "a task starts (fork)"),
    Kind(4, "sched_migrate_task", "cpu", "task", "orig_cpu", "dest_cpu",
         "load balancing or wake-up placement moves a task between CPUs of one kernel"),
    Kind(5, "kvm_entry", "cpu", "vcpu", "", "", "VM entry: the vCPU thread enters guest mode on host cpu"),
    Kind(6, "kvm_exit", "cpu", "vcpu", "exit_reason", "", "VM exit; exit_reason indexes EXIT_REASONS"),
    Kind(7, "vcpu_mode", "cpu", "vcpu", "mode", "old_mode",
         "the vCPU's mode changes (VCPU_MODES: 1 guest, 2 exit, 3 poll, 4 halted, 5 preempted, 6 vmm; 0 off)"),
    Kind(9, "kvm_vcpu_kick", "cpu", "vcpu", "cause", "",
         "an interrupt for a vCPU not in guest mode, or injected without posting (KICK_CAUSES)"),
    Kind(10, "guest_ipi", "cpu", "src_vcpu", "dst_vcpu", "ipi",
         "a guest sends an IPI (cpu: the sender's vCPU run-queue; ipi: IPI_TYPES)"),
    Kind(11, "vcpu_boost", "cpu", "vcpu", "cause", "", "the vCPU thread is boosted (BOOST_CAUSES)"),
    Kind(12, "vcpu_unboost", "cpu", "vcpu", "cause", "", "the boost ends (UNBOOST_CAUSES)"),
    Kind(13, "yield_to", "cpu", "task", "target_task", "outcome",
         "yield_to (directed yield, e.g. of a spinning vCPU's thread) and its outcome (YIELD_OUTCOMES)"),
    Kind(14, "debooster_penalty", "cpu", "task", "target_task", "penalty_ns",
         "the debooster pushes the yielder back (penalty in ns of vruntime)"),
    Kind(15, "ple_exit", "cpu", "vcpu", "old_ple_window", "ple_window",
         "pause-loop exit; the vCPU's PLE window (cycles) before (saturated at 2^31-1) and after growing"),
    Kind(16, "counter", "cpu", "counter", "index", "value",
         "a counter sample (COUNTERS: 0 nr_running of rq index, 1 util_avg of task index)"),
    Kind(17, "halt_poll", "cpu", "vcpu", "success", "poll_ns", "halt-polling ends (success 1: an event arrived)"),
    Kind(18, "sched_curr", "cpu", "task", "", "",
         "snapshot when a trace window opens after the start: the task current on cpu (not a switch); "
         "vCPUs get a vcpu_mode record with mode == old_mode"),
    Kind(32, "rcu", "cpu", "task", "event", "value",
         "RCU: quiescent states, grace periods, skipped wake-ups after guest exit (policy-defined event)"),
    Kind(33, "pelt_halted", "cpu", "vcpu", "event", "value", "halted-time-aware PELT (policy-defined event)"),
    Kind(34, "vmm_deferred_work", "cpu", "vcpu", "event", "value", "deferred VMM work (policy-defined event)"),
)
KINDS: Dict[int, Kind] = {k.code: k for k in _KINDS}
KIND: Dict[str, int] = {k.name: k.code for k in _KINDS}
FIRST_FREE_CODE = 64
COUNTERS = ("nr_running", "util_avg")
KICK_CAUSES = ("timer", "intr", "unhalt")
IPI_TYPES = ("call_function", "reschedule")
YIELD_OUTCOMES = ("yielded", "esrch", "class", "running", "not_runnable", "not_queued")


def register_kind(code: int, name: str, *, cpu: str = "cpu", a: str = "", b: str = "", c: str = "",
                  doc: str = "") -> Kind:
    """Add an event kind for a policy (code >= 64, name unique). The exporters show unknown kinds
    as instant events named after the kind, with the named fields as arguments.

    >>> k = register_kind(200, "example_event", a="vcpu", c="value_ns")
    >>> KIND["example_event"], k.fields()
    (200, {'cpu': 'cpu', 'a': 'vcpu', 'c': 'value_ns'})
    """
    if isinstance(code, bool) or not isinstance(code, int) or not FIRST_FREE_CODE <= code <= 0xFFFF:
        raise ValueError(f"kind code {code!r} must be an integer in {FIRST_FREE_CODE}..65535")
    if code in KINDS and KINDS[code].name != name:
        raise ValueError(f"kind code {code} is already {KINDS[code].name!r}")
    if name in KIND and KIND[name] != code:
        raise ValueError(f"kind name {name!r} already has code {KIND[name]}")
    k = Kind(code, name, cpu, a, b, c, doc)
    KINDS[code] = k
    KIND[name] = code
    return k


def kind_name(code: int) -> str:
    k = KINDS.get(int(code))
    return k.name if k else f"kind{int(code)}"
