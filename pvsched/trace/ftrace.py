"""ftrace text export: one kernel's events as the lines ``trace-cmd report`` prints.

Each line is ``<comm>-<pid> [<cpu>] <secs>.<frac>: <event>: <fields>``, the context of
``kernel/trace/trace_output.c`` (comm right-aligned in 16 columns, pid left-aligned in 7, CPU in
3 digits) and each event's own ``TP_printk`` text as in Linux v6.15:

* ``sched_switch``: ``prev_comm=%s prev_pid=%d prev_prio=%d prev_state=%s%s ==> next_comm=%s
  next_pid=%d next_prio=%d`` (``include/trace/events/sched.h``),
* ``sched_wakeup`` / ``sched_wakeup_new``: ``comm=%s pid=%d prio=%d target_cpu=%03d``,
* ``sched_migrate_task``: ``comm=%s pid=%d prio=%d orig_cpu=%d dest_cpu=%d``,
* host only (``arch/x86/kvm/trace.h``): ``kvm_entry: vcpu %u, rip 0x%lx%s``, ``kvm_exit: vcpu %u
  reason %s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code 0x%08x`` (the
  VMX exit reason of each modelled exit, :data:`VMX_EXIT_REASON`; rip/info are not modelled and
  print 0) and ``kvm_ple_window_update: vcpu %u old %u new %u (%s)``.

Other events (boosts, yield_to, debooster penalties, IPIs, counters, policy events) are not
kernel tracepoints; with ``extra=True`` they are written as ``pvsched_<kind>: name=value ...``
lines, which generic parsers read as unknown events.

pids: a task's pid is its index in ``Result.task_names`` + 1, 0 is the idle task (``<idle>`` in
the context column, ``swapper/N`` in the fields, as the kernel prints them); comm is the task name
cut to 15 characters (TASK_COMM_LEN), without its ``vm/`` prefix in a guest's trace. Each event belongs to the kernel of the CPU that logged it (vCPU
entries/exits and boosts: the host CPU running the vCPU thread); guest kernels are written one
file per VM (``kernel="<vm name>"``), their CPUs being the VM's vCPU numbers. Timestamps have nanosecond
precision (``trace-cmd report -t``); ``precision="us"`` prints microseconds like the kernel's own
``trace`` file. ``irq_flags=True`` adds the 5-character latency column (``d..2.``) of the kernel's
``trace`` file; Perfetto reads both forms, TRAPpy/LISA only the form without it.

>>> from pvsched.trace import Trace, KIND
>>> t = Trace.from_columns(time_ns=[1_500], kind=[KIND["sched_switch"]], cpu=[0], a=[-1], b=[0],
...                        c=[0], task_names=["hog"], ncpu=1, task_prio=[120])
>>> print(write_ftrace(t).splitlines()[-1])
          <idle>-0       [000]     0.000001500: sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=hog next_pid=1 next_prio=120
"""
from __future__ import annotations

import os
from typing import List, Optional, Union

import numpy as np

from pvsched.trace.schema import COUNTERS, IPI_TYPES, KICK_CAUSES, KIND, YIELD_OUTCOMES, kind_name, prev_state_str

TASK_COMM_LEN = 16
# VMX basic exit reason names (arch/x86/include/uapi/asm/vmx.h) for pvsched's exit reasons.
VMX_EXIT_REASON = {
    "host_tick": "EXTERNAL_INTERRUPT", "host_intr": "EXTERNAL_INTERRUPT", "guest_timer": "PREEMPTION_TIMER",
    "ipi_send": "MSR_WRITE", "ipi_recv": "EXTERNAL_INTERRUPT", "hlt": "HLT", "mmio": "EPT_MISCONFIG",
    "doorbell": "MSR_WRITE", "budget": "EXTERNAL_INTERRUPT", "ple": "PAUSE_INSTRUCTION",
    "hypercall": "VMCALL", "eoi": "EOI_INDUCED",
    "mwait": "MWAIT_INSTRUCTION", "monitor": "MONITOR_INSTRUCTION", "signal": "EXTERNAL_INTERRUPT",
}
_K = {name: KIND[name] for name in ("sched_switch", "sched_wakeup", "sched_wakeup_new", "sched_migrate_task",
                                    "kvm_entry", "kvm_exit", "ple_exit", "truncated")}


def comm_of(name: str, guest: bool = False) -> str:
    """The kernel's comm: the name cut to 15 characters; inside a guest, without the "vm/" prefix."""
    if guest:
        name = name.split("/", 1)[-1]
    return name[:TASK_COMM_LEN - 1]


def _exit_reasons():
    from pvsched._core import EXIT_REASONS
    return EXIT_REASONS


def _enum_names(code: int, field: str):
    """Names for enum-valued fields of the core's kinds (cause / reason / mode indices)."""
    import pvsched._core as _core
    name = kind_name(code)
    if name in ("kvm_exit",) and field == "b":
        return _core.EXIT_REASONS
    if name == "vcpu_mode" and field in ("b", "c"):
        return ("off",) + tuple(_core.VCPU_MODES)
    if name == "vcpu_boost" and field == "b":
        return _core.BOOST_CAUSES
    if name == "vcpu_unboost" and field == "b":
        return _core.UNBOOST_CAUSES
    if name == "counter" and field == "a":
        return COUNTERS
    if name == "kvm_vcpu_kick" and field == "b":
        return KICK_CAUSES
    if name == "guest_ipi" and field == "c":
        return IPI_TYPES
    if name == "yield_to" and field == "c":
        return YIELD_OUTCOMES
    return None


class FieldText:
    """``name=value`` pairs of records by their kind's field names (enum fields print their name,
    tasks and vCPUs their names); the per-kind layout is worked out once."""

    def __init__(self, trace):
        self.trace = trace
        self.tasks = [trace.task_name(i) for i in range(len(trace.task_names))]
        self.vcpus = [trace.vcpu_name(v) for v in range(len(trace.vcpu_vm))]
        self.specs = {}

    def spec(self, code: int):
        if code not in self.specs:
            out = []
            for f, label in self.trace.field_names(code).items():
                if f == "cpu":
                    continue
                names = _enum_names(code, f)
                if names is None and label.endswith("task"):
                    names = self.tasks
                elif names is None and label.endswith("vcpu"):
                    names = self.vcpus
                out.append(("abc".index(f), label, names))
            self.specs[code] = out
        return self.specs[code]

    def __call__(self, code: int, a: int, b: int, c: int) -> str:
        vals = (a, b, c)
        out = []
        for i, label, names in self.spec(code):
            v = vals[i]
            if names is not None and 0 <= v < len(names):
                out.append(f"{label}={names[v]}")
            elif names is self.tasks and v == -1:
                out.append(f"{label}=swapper")
            else:
                out.append(f"{label}={v}")
        return " ".join(out)


def field_text(trace, code: int, rec) -> str:
    """``name=value`` pairs of one record (see :class:`FieldText` for many)."""
    return FieldText(trace)(int(code), int(rec["a"]), int(rec["b"]), int(rec["c"]))


def write_ftrace(trace, path: Union[str, os.PathLike, None] = None, *, kernel: Union[str, int] = "host",
                 precision: str = "ns", irq_flags: bool = False, extra: bool = True) -> str:
    """Render one kernel's events as ftrace text; write it to ``path`` if given; return the text."""
    if precision not in ("ns", "us"):
        raise ValueError(f"precision={precision!r}: 'ns' or 'us'")
    k = trace._kernel_index(kernel)
    rqs = trace.kernel_rqs(k)
    in_kernel = np.zeros(trace.ncpu + len(trace.vcpu_vm), bool)
    in_kernel[rqs] = True
    rec = trace.records
    rq_ok = (rec["cpu"] >= 0) & (rec["cpu"] < len(in_kernel))
    mine = np.zeros(len(rec), bool)
    mine[rq_ok] = in_kernel[rec["cpu"][rq_ok]]
    if not extra:
        mine &= np.isin(rec["kind"], list(_K.values()))
    snapshot = (rec["kind"] == KIND["sched_curr"]) | ((rec["kind"] == KIND["vcpu_mode"]) & (rec["b"] == rec["c"]))
    idx = np.flatnonzero((mine & ~snapshot) | (rec["kind"] == _K["truncated"]))
    sel = rec[idx]
    exit_names = _exit_reasons()
    sw = rec["kind"] == _K["sched_switch"]
    # prio of each task field at its event (vCPU threads change prio while boosted)
    pa = trace.prio(sel["a"], sel["time_ns"])
    pb = trace.prio(sel["b"], sel["time_ns"])
    # the task current on each CPU when a non-switch event happens, from the switches before it
    curr = {}
    for r in rqs:
        first = np.flatnonzero(sw & (rec["cpu"] == r))
        curr[int(r)] = int(rec["a"][first[0]]) if len(first) else -1
    cpus_n = len(rqs)
    lines: List[str] = [
        "# tracer: nop",
        "#",
        f"# entries-in-buffer/entries-written: {len(sel)}/{len(sel) + trace.dropped}   #P:{cpus_n}",
        f"# pvsched: kernel {trace.kernel_names()[k]}, [{trace.start_ns}, {trace.end_ns}) ns"
        + (f", truncated at {trace.truncated_at_ns} ns ({trace.dropped} events dropped)" if trace.truncated else ""),
        "#",
        "#           TASK-PID     CPU#  " + ("|||||  " if irq_flags else "") + "TIMESTAMP  FUNCTION",
        "#              | |         |   " + ("|||||     " if irq_flags else "") + "|         |",
    ]
    flags = " d..2." if irq_flags else ""
    names = [comm_of(n, k > 0) for n in trace.task_names]
    local = [trace.local_cpu(r) for r in range(trace.ncpu + len(trace.vcpu_vm))]
    fields = FieldText(trace)
    kname = {}
    K = _K
    for code, t, rq, a, b, c, pai, pbi in zip(sel["kind"].tolist(), sel["time_ns"].tolist(), sel["cpu"].tolist(),
                                              sel["a"].tolist(), sel["b"].tolist(), sel["c"].tolist(),
                                              pa.tolist(), pb.tolist()):
        if code == K["truncated"]:
            lines.append(f"# pvsched: buffer full at {t} ns; {c} later events dropped")
            continue
        cur = curr.get(rq, -1)
        if precision == "ns":
            ts = f"{t // 1_000_000_000:5d}.{t % 1_000_000_000:09d}"
        else:
            us = t // 1000
            ts = f"{us // 1_000_000:5d}.{us % 1_000_000:06d}"
        lc = local[rq]
        head = f"{'<idle>' if cur < 0 else names[cur]:>16}-{cur + 1:<7d} [{lc:03d}]{flags} {ts}: "
        if code == K["sched_switch"]:
            body = (f"sched_switch: prev_comm={names[a] if a >= 0 else f'swapper/{lc}'} prev_pid={a + 1} "
                    f"prev_prio={pai} prev_state={prev_state_str(c)} ==> "
                    f"next_comm={names[b] if b >= 0 else f'swapper/{lc}'} next_pid={b + 1} next_prio={pbi}")
            curr[rq] = b
        elif code == K["sched_wakeup"] or code == K["sched_wakeup_new"]:
            body = (f"{kind_name(code)}: comm={names[a]} pid={a + 1} prio={pai} "
                    f"target_cpu={local[b] if b >= 0 else -1:03d}")
        elif code == K["sched_migrate_task"]:
            body = f"sched_migrate_task: comm={names[a]} pid={a + 1} prio={pai} orig_cpu={local[b]} dest_cpu={local[c]}"
        elif code == K["kvm_entry"]:
            body = f"kvm_entry: vcpu {local[trace.ncpu + a]}, rip 0x0"
        elif code == K["kvm_exit"]:
            reason = VMX_EXIT_REASON.get(exit_names[b] if 0 <= b < len(exit_names) else "", "UNKNOWN")
            body = (f"kvm_exit: vcpu {local[trace.ncpu + a]} reason {reason} rip 0x0 info1 0x{0:016x} "
                    f"info2 0x{0:016x} intr_info 0x{0:08x} error_code 0x{0:08x}")
        elif code == K["ple_exit"]:
            body = (f"kvm_ple_window_update: vcpu {local[trace.ncpu + a]} old {b} new {c} "
                    f"({'growed' if b < c else 'shrinked'})")
        else:
            if code not in kname:
                kname[code] = f"pvsched_{kind_name(code)}: "
            body = kname[code] + fields(code, a, b, c)
        lines.append(head + body)
    text = "\n".join(lines) + "\n"
    if path is not None:
        with open(path, "w") as f:
            f.write(text)
    return text
