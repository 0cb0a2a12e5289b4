"""Perfetto export: a native protobuf trace (``.pftrace``) for ui.perfetto.dev / trace processor.

The protobuf classes are the ``perfetto`` package's own (``perfetto.protos.perfetto.trace.
perfetto_trace_pb2``; ``pip install perfetto protobuf``, the ``trace`` extra). Layout of the trace:

* **Host CPUs** are Perfetto CPU tracks: each host CPU's ``sched_switch`` and wake-ups are written
  as ftrace data (``FtraceEventBundle.compact_sched``, the form ``traced`` itself records), so the
  UI draws the scheduling slices, thread states and wake-up arrows natively. A ``process_tree``
  packet names the threads: each host task is a process of its own; a VM is a process
  (``vm:<name>``, like its QEMU process) whose threads are its vCPU threads.
* **vCPUs**: under each vCPU thread, a track ``guest sched`` holds the guest kernel's own
  scheduling on that vCPU (one slice per guest task run, instants for guest wake-ups), and a
  track ``vcpu mode`` holds the vCPU's modes as slices (``guest``, ``exit: <reason>``, ``poll``,
  ``halted``, ``preempted``, ``vmm``) with instants for kicks, injected interrupts, boosts, yield_to,
  debooster penalties, PLE exits and policy events.
* **Counters** (``counter`` events: runnable tasks per CPU, PELT util of vCPU threads) are counter
  tracks; other host events are instants on a ``host events`` track.

pids are task index + 1 (0 = idle), as in the ftrace text export. Slices at the edges of a
windowed trace start at the window's start (the running task is the first switch's ``prev``).

>>> from pvsched.trace import Trace, KIND
>>> t = Trace.from_columns(time_ns=[1_000, 5_000], kind=[KIND["sched_switch"]] * 2, cpu=[0, 0],
...                        a=[-1, 0], b=[0, -1], c=[0, 1], task_names=["hog"], ncpu=1)
>>> from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import Trace as PbTrace
>>> pb = PbTrace.FromString(write_perfetto(t))
>>> [list(p.ftrace_events.compact_sched.switch_next_pid) for p in pb.packet if p.HasField("ftrace_events")]
[[1, 0]]
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Union

import numpy as np

from pvsched.trace.schema import COUNTERS, KIND, kind_name

KERNEL_RELEASE = "6.15.0-pvsched"    # utsname: lets trace processor decode prev_state as v6.15
_SEQ_TRACK_EVENTS = 1
_SEQ_FTRACE_BASE = 16
_UUID_SHIFT = 24
U_ROOT, U_VM, U_VCPU_THREAD, U_MODE, U_GUEST, U_COUNTER, U_HOST_EVENTS, U_TASK = range(1, 9)
_MODE_KIND = KIND["vcpu_mode"]
_COUNTER_KIND = KIND["counter"]
_EXIT_KIND = KIND["kvm_exit"]
_ENTRY_KIND = KIND["kvm_entry"]


def _pb():
    try:
        from perfetto.protos.perfetto.trace import perfetto_trace_pb2
    except ImportError as e:   # pragma: no cover - depends on the environment
        raise ImportError("the Perfetto export needs the perfetto package: pip install perfetto protobuf") from e
    return perfetto_trace_pb2


def uuid(kind: int, index: int = 0) -> int:
    """Deterministic track uuids: ``kind << 24 | index``."""
    return (kind << _UUID_SHIFT) | (index + 1)


class _Writer:
    """Collects packets in chunks and streams them to a file (or memory) as concatenated ``Trace``
    messages (a valid trace: ``Trace.packet`` is a repeated field)."""

    def __init__(self, pb, out, chunk: int = 20_000):
        self.pb = pb
        self.out = out
        self.chunk = chunk
        self.cur = pb.Trace()
        self.parts: List[bytes] = []

    def packet(self):
        if len(self.cur.packet) >= self.chunk:
            self.flush()
        return self.cur.packet.add()

    def flush(self):
        if len(self.cur.packet):
            data = self.cur.SerializeToString()
            if self.out is not None:
                self.out.write(data)
            else:
                self.parts.append(data)
            self.cur = self.pb.Trace()

    def bytes(self) -> bytes:
        self.flush()
        return b"".join(self.parts)


def write_perfetto(trace, path: Union[str, os.PathLike, None] = None, *, bundle_events: int = 4096) -> bytes:
    """Write ``trace`` as a Perfetto protobuf trace to ``path`` (streamed, bounded memory), or
    return the bytes when ``path`` is None (returns b"" after writing a file)."""
    pb = _pb()
    f = open(path, "wb") if path is not None else None
    try:
        w = _Writer(pb, f)
        _header(w, trace)
        _process_tree(w, trace)
        _host_sched(w, pb, trace, bundle_events)
        _track_events(w, trace)
        out = w.bytes()
    finally:
        if f is not None:
            f.close()
    return out


def _header(w, trace):
    p = w.packet()
    p.timestamp = trace.start_ns
    si = p.system_info
    si.utsname.sysname = "Linux"
    si.utsname.release = KERNEL_RELEASE
    si.utsname.machine = "x86_64"
    si.num_cpus = trace.ncpu


def _vm_pid(trace, k: int) -> int:
    return len(trace.task_names) + 1 + k


def _process_tree(w, trace):
    p = w.packet()
    p.timestamp = trace.start_ns
    pt = p.process_tree
    vcpu_of_task = {int(t): v for v, t in enumerate(trace.vcpu_task) if t >= 0}
    for k, name in enumerate(trace.vm_names):
        pr = pt.processes.add()
        pr.pid = _vm_pid(trace, k)
        pr.ppid = 1 if trace.task_names else 0
        pr.cmdline.append(f"vm:{name}")
    for t, name in enumerate(trace.task_names):
        if trace.task_kern[t] != 0:
            continue              # guest tasks are not host threads
        th = pt.threads.add()
        th.tid = t + 1
        th.name = name
        if t in vcpu_of_task:
            th.tgid = _vm_pid(trace, int(trace.vcpu_vm[vcpu_of_task[t]]))
        else:
            th.tgid = t + 1
            pr = pt.processes.add()
            pr.pid = t + 1
            pr.cmdline.append(name)


def _host_sched(w, pb, trace, bundle_events: int):
    """Per host CPU: compact_sched bundles of switches and wake-ups, in time order."""
    rec = trace.records
    host = rec["cpu"] < trace.ncpu
    # a window that opens late: the task current at its start is drawn from there, as a switch
    # from idle (compact_sched has no other way to say who runs when the data begins)
    snap = rec[(rec["kind"] == KIND["sched_curr"]) & host & (rec["a"] >= 0)]
    start = np.zeros(len(snap), rec.dtype)
    start["time_ns"], start["cpu"], start["a"], start["b"] = snap["time_ns"], snap["cpu"], -1, snap["a"]
    start["kind"] = KIND["sched_switch"]
    sw = np.concatenate([start, rec[(rec["kind"] == KIND["sched_switch"]) & host & (rec["cpu"] >= 0)]])
    wk = rec[np.isin(rec["kind"], [KIND["sched_wakeup"], KIND["sched_wakeup_new"]]) & host & (rec["cpu"] >= 0)]
    sw_prio = trace.prio(sw["b"], sw["time_ns"])
    wk_prio = trace.prio(wk["a"], wk["time_ns"])
    for cpu in range(trace.ncpu):
        s_idx = np.flatnonzero(sw["cpu"] == cpu)
        w_idx = np.flatnonzero(wk["cpu"] == cpu)
        if not len(s_idx) and not len(w_idx):
            continue
        # split into bundles by time so that each bundle covers one interval of both streams
        times = np.sort(np.r_[sw["time_ns"][s_idx], wk["time_ns"][w_idx]])
        cuts = times[::bundle_events][1:]
        s_parts = np.split(s_idx, np.searchsorted(sw["time_ns"][s_idx], cuts, side="left"))
        w_parts = np.split(w_idx, np.searchsorted(wk["time_ns"][w_idx], cuts, side="left"))
        for si, wi in zip(s_parts, w_parts):
            if not len(si) and not len(wi):
                continue
            p = w.packet()
            p.trusted_packet_sequence_id = _SEQ_FTRACE_BASE + cpu
            b = p.ftrace_events
            b.cpu = cpu
            cs = b.compact_sched
            comms: Dict[str, int] = {}

            def comm_index(task: int) -> int:
                name = trace.task_name(task, cpu)
                if name not in comms:
                    comms[name] = len(comms)
                    cs.intern_table.append(name)
                return comms[name]
            if len(si):
                ts = sw["time_ns"][si]
                cs.switch_timestamp.extend(np.diff(ts, prepend=0).tolist())
                cs.switch_prev_state.extend(sw["c"][si].tolist())
                nxt = sw["b"][si]
                cs.switch_next_pid.extend((nxt + 1).tolist())
                cs.switch_next_prio.extend(sw_prio[si].tolist())
                cs.switch_next_comm_index.extend([comm_index(int(t)) for t in nxt])
            if len(wi):
                ts = wk["time_ns"][wi]
                cs.waking_timestamp.extend(np.diff(ts, prepend=0).tolist())
                tasks = wk["a"][wi]
                cs.waking_pid.extend((tasks + 1).tolist())
                cs.waking_target_cpu.extend([trace.local_cpu(int(x)) if x >= 0 else cpu for x in wk["b"][wi]])
                cs.waking_prio.extend(wk_prio[wi].tolist())
                cs.waking_comm_index.extend([comm_index(int(t)) for t in tasks])
                cs.waking_common_flags.extend([1] * len(wi))


def _vcpu_parent(trace, v: int) -> int:
    """The track vCPU v's tracks hang under: its thread's track, else its VM's."""
    t = int(trace.vcpu_task[v]) if v < len(trace.vcpu_task) else -1
    return uuid(U_VCPU_THREAD, v) if t >= 0 else uuid(U_VM, int(trace.vcpu_vm[v]))


def _track_events(w, trace):
    """Track descriptors, then every slice / instant / counter sorted by (time, end-before-begin)."""
    rec = trace.records
    names = trace.task_names
    vcpu_of_task = {int(t): v for v, t in enumerate(trace.vcpu_task) if t >= 0}
    descs = []     # (uuid, parent, name, extra) in creation order

    def desc(u, name, parent=None, **extra):
        descs.append((u, parent, name, extra))
        return u
    for k, vm in enumerate(trace.vm_names):
        desc(uuid(U_VM, k), None, process=(_vm_pid(trace, k), f"vm:{vm}"))
    nv = len(trace.vcpu_vm)
    for v in range(nv):
        t = int(trace.vcpu_task[v]) if v < len(trace.vcpu_task) else -1
        if t >= 0:
            desc(uuid(U_VCPU_THREAD, v), None, thread=(_vm_pid(trace, int(trace.vcpu_vm[v])), t + 1, names[t]))
        parent = _vcpu_parent(trace, v)
        local = trace.local_cpu(trace.ncpu + v)
        desc(uuid(U_MODE, v), f"vcpu{local} mode", parent, rank=2 * v)
        desc(uuid(U_GUEST, v), f"vcpu{local} guest sched", parent, rank=2 * v + 1)
    events = []   # (time, order, track, type, name, value, args)
    BEGIN, END, INSTANT, COUNTER = 1, 2, 3, 4
    # guest scheduling on each vCPU
    for k, vm in enumerate(trace.vm_names):
        sl = trace.cpu_slices(vm)
        for rq, st, en, tk in zip(sl["rq"].tolist(), sl["start_ns"].tolist(), sl["end_ns"].tolist(), sl["task"].tolist()):
            u = uuid(U_GUEST, rq - trace.ncpu)
            nm = names[tk].split("/", 1)[-1]
            events.append((st, 2, u, BEGIN, nm, None, {"task": names[tk], "pid": tk + 1}))
            events.append((en, 0, u, END, None, None, None))
    # vCPU modes, exits named by their reason
    import pvsched._core as _core
    modes = ("off",) + tuple(_core.VCPU_MODES)
    exits = rec[rec["kind"] == _EXIT_KIND]
    iv = trace.vcpu_modes()
    for v in np.unique(iv["vcpu"]).tolist():
        m = iv["vcpu"] == v
        ex = exits[exits["a"] == v]
        for st, en, md in zip(iv["start_ns"][m].tolist(), iv["end_ns"][m].tolist(), iv["mode"][m].tolist()):
            nm = modes[md] if md < len(modes) else f"mode{md}"
            if nm == "exit" and len(ex):
                i = int(np.searchsorted(ex["time_ns"], st, side="right")) - 1
                if i >= 0:
                    r = int(ex["b"][i])
                    nm = f"exit: {_core.EXIT_REASONS[r] if 0 <= r < len(_core.EXIT_REASONS) else r}"
            events.append((st, 2, uuid(U_MODE, v), BEGIN, nm, None, None))
            events.append((en, 0, uuid(U_MODE, v), END, None, None, None))
    # instants and counters
    from pvsched.trace.ftrace import FieldText
    host_events_used = False
    counter_tracks = {}
    other = ~np.isin(rec["kind"], [KIND["sched_switch"], _MODE_KIND, KIND["sched_curr"]])
    sel = rec[other]
    fields = FieldText(trace)
    vcpu_of = {}
    for code, t, cpu, a, b, c in zip(sel["kind"].tolist(), sel["time_ns"].tolist(), sel["cpu"].tolist(),
                                     sel["a"].tolist(), sel["b"].tolist(), sel["c"].tolist()):
        name = kind_name(code)
        if code == _COUNTER_KIND:
            cname = COUNTERS[a] if 0 <= a < len(COUNTERS) else f"counter{a}"
            key = (a, b)
            if key not in counter_tracks:
                u = uuid(U_COUNTER, len(counter_tracks))
                if a == 0:                      # nr_running of run-queue b
                    label = f"{trace.rq_name(b)} {cname}"
                    parent = _vcpu_parent(trace, b - trace.ncpu) if b >= trace.ncpu else None
                else:                           # per task
                    label = f"{names[b]} {cname}" if 0 <= b < len(names) else f"{cname} {b}"
                    parent = uuid(U_VCPU_THREAD, vcpu_of_task[b]) if b in vcpu_of_task else None
                desc(u, label, parent, counter=True)
                counter_tracks[key] = u
            events.append((t, 1, counter_tracks[key], COUNTER, None, c, None))
            continue
        if code in (KIND["sched_wakeup"], KIND["sched_wakeup_new"]):
            if cpu < trace.ncpu:
                continue                        # host wake-ups are in the ftrace data
            tgt = b if b >= trace.ncpu else cpu
            events.append((t, 1, uuid(U_GUEST, tgt - trace.ncpu), INSTANT, f"wakeup {names[a].split('/', 1)[-1]}",
                           None, {"task": names[a], "from_cpu": trace.rq_name(cpu)}))
            continue
        if code == _ENTRY_KIND:
            continue                             # entries are the starts of "guest" mode slices
        args = {"detail": fields(code, a, b, c)}
        if (code, a) not in vcpu_of:
            vcpu_of[(code, a)] = trace.event_vcpu(code, a)
        ev_v = vcpu_of[(code, a)]
        if ev_v >= 0:
            u = uuid(U_MODE, ev_v)
        elif cpu >= trace.ncpu:
            u = uuid(U_GUEST, cpu - trace.ncpu)
        else:
            u = uuid(U_HOST_EVENTS)
            host_events_used = True
        events.append((t, 1, u, INSTANT, name, None, args))
    if host_events_used:
        desc(uuid(U_HOST_EVENTS), "host events")
    if trace.truncated:
        desc(uuid(U_ROOT), "pvsched trace")
        events.append((trace.truncated_at_ns, 1, uuid(U_ROOT), INSTANT, "trace truncated (buffer full)", None,
                       {"events_dropped": trace.dropped}))
    first = True
    for u, parent, name, extra in descs:
        p = w.packet()
        p.timestamp = trace.start_ns
        p.trusted_packet_sequence_id = _SEQ_TRACK_EVENTS
        if first:
            p.sequence_flags = 1                 # SEQ_INCREMENTAL_STATE_CLEARED
            first = False
        d = p.track_descriptor
        d.uuid = u
        if parent is not None:
            d.parent_uuid = parent
        if "process" in extra:
            d.process.pid, d.process.process_name = extra["process"]
        elif "thread" in extra:
            d.thread.pid, d.thread.tid, d.thread.thread_name = extra["thread"]
        else:
            d.name = name
        if extra.get("counter"):
            d.counter.SetInParent()
        if "rank" in extra:
            d.sibling_order_rank = extra["rank"]
    events.sort(key=lambda e: (e[0], e[1]))
    for t, _, u, typ, name, value, args in events:
        p = w.packet()
        p.timestamp = t
        p.trusted_packet_sequence_id = _SEQ_TRACK_EVENTS
        te = p.track_event
        te.type = typ
        te.track_uuid = u
        if name is not None:
            te.name = name
        if value is not None:
            te.counter_value = value
        if args:
            for k, v in args.items():
                da = te.debug_annotations.add()
                da.name = k
                if isinstance(v, str):
                    da.string_value = v
                else:
                    da.int_value = int(v)
