"""Chrome trace-event JSON export (the fallback format: chrome://tracing, Perfetto, speedscope).

Processes and threads of the JSON: pid 1 "host" with one thread per host CPU (``X`` slices: who
ran), then per VM a process "vm <name>" with two threads per vCPU: its guest scheduling and its
modes. Other events are instants (``ph: i``) with the record's fields as ``args``; counters are
``C`` events. Timestamps are microseconds as floats (``displayTimeUnit: ns``), exact to 1 ns.

>>> from pvsched.trace import Trace, KIND
>>> t = Trace.from_columns(time_ns=[1_000, 5_000], kind=[KIND["sched_switch"]] * 2, cpu=[0, 0],
...                        a=[-1, 0], b=[0, -1], c=[0, 1], task_names=["hog"], ncpu=1)
>>> [(e["name"], e["ts"], e["dur"]) for e in write_chrome_json(t)["traceEvents"] if e["ph"] == "X"]
[('hog', 1.0, 4.0)]
"""
from __future__ import annotations

import json
import os
from typing import Union

import numpy as np

from pvsched.trace.schema import COUNTERS, KIND, kind_name

HOST_PID = 1


def _us(ns: int) -> float:
    return ns / 1000.0


def write_chrome_json(trace, path: Union[str, os.PathLike, None] = None) -> dict:
    """Build the trace-event JSON object; write it to ``path`` if given; return it."""
    import pvsched._core as _core
    from pvsched.trace.ftrace import FieldText
    ev = []
    meta = lambda pid, tid, kind, name: ev.append(
        {"ph": "M", "pid": pid, "tid": tid, "name": kind, "args": {"name": name}})
    meta(HOST_PID, 0, "process_name", "host")
    for c in range(trace.ncpu):
        meta(HOST_PID, c, "thread_name", f"CPU {c}")
    nv = len(trace.vcpu_vm)

    def vm_pid(k):
        return HOST_PID + 1 + k

    def vcpu_tid(v, mode):
        return 2 * trace.local_cpu(trace.ncpu + v) + (1 if mode else 0)
    for k, vm in enumerate(trace.vm_names):
        meta(vm_pid(k), 0, "process_name", f"vm {vm}")
    for v in range(nv):
        k, local = int(trace.vcpu_vm[v]), trace.local_cpu(trace.ncpu + v)
        meta(vm_pid(k), vcpu_tid(v, False), "thread_name", f"vcpu{local} guest sched")
        meta(vm_pid(k), vcpu_tid(v, True), "thread_name", f"vcpu{local} mode")

    def where(rq):
        if rq < trace.ncpu:
            return HOST_PID, int(rq)
        v = rq - trace.ncpu
        return vm_pid(int(trace.vcpu_vm[v])), vcpu_tid(v, False)
    for kern in trace.kernel_names():
        sl = trace.cpu_slices(kern)
        for rq, st, en, tk in zip(sl["rq"].tolist(), sl["start_ns"].tolist(), sl["end_ns"].tolist(), sl["task"].tolist()):
            pid, tid = where(rq)
            ev.append({"ph": "X", "name": trace.task_names[tk], "cat": "sched", "pid": pid, "tid": tid,
                       "ts": _us(st), "dur": _us(en - st), "args": {"pid": tk + 1}})
    modes = ("off",) + tuple(_core.VCPU_MODES)
    iv = trace.vcpu_modes()
    for v, st, en, md in zip(iv["vcpu"].tolist(), iv["start_ns"].tolist(), iv["end_ns"].tolist(), iv["mode"].tolist()):
        ev.append({"ph": "X", "name": modes[md] if md < len(modes) else f"mode{md}", "cat": "vcpu_mode",
                   "pid": vm_pid(int(trace.vcpu_vm[v])), "tid": vcpu_tid(v, True), "ts": _us(st), "dur": _us(en - st)})
    rec = trace.records
    sel = rec[~np.isin(rec["kind"], [KIND["sched_switch"], KIND["vcpu_mode"], KIND["sched_curr"]])]
    fields = FieldText(trace)
    for code, t, cpu, a, b, c in zip(sel["kind"].tolist(), sel["time_ns"].tolist(), sel["cpu"].tolist(),
                                     sel["a"].tolist(), sel["b"].tolist(), sel["c"].tolist()):
        if code == KIND["counter"]:
            label = COUNTERS[a] if 0 <= a < len(COUNTERS) else f"counter{a}"
            owner = trace.rq_name(b) if a == 0 else trace.task_name(b)
            ev.append({"ph": "C", "name": f"{owner} {label}", "pid": HOST_PID, "ts": _us(t), "args": {label: c}})
            continue
        if code == KIND["truncated"]:
            ev.append({"ph": "i", "s": "g", "name": "trace truncated (buffer full)", "pid": HOST_PID, "tid": 0,
                       "ts": _us(t), "args": {"events_dropped": c}})
            continue
        ev_v = trace.event_vcpu(code, a)
        if ev_v >= 0:
            pid, tid = vm_pid(int(trace.vcpu_vm[ev_v])), vcpu_tid(ev_v, True)
        elif cpu >= 0:
            pid, tid = where(cpu)
        else:
            pid, tid = HOST_PID, 0
        ev.append({"ph": "i", "s": "t", "name": kind_name(code), "pid": pid, "tid": tid, "ts": _us(t),
                   "args": {"detail": fields(code, a, b, c)}})
    out = {"traceEvents": ev, "displayTimeUnit": "ns",
           "otherData": {"generator": "pvsched", "start_ns": trace.start_ns, "end_ns": trace.end_ns,
                         "truncated_at_ns": trace.truncated_at_ns, "events_dropped": trace.dropped}}
    if path is not None:
        with open(path, "w") as f:
            json.dump(out, f)
    return out
