"""Trace exporters, checked through readers that share no code with the writers: the Perfetto
protobuf classes (perfetto package) for .pftrace, TRAPpy (a third-party ftrace parser) for the
ftrace text, the json module for Chrome JSON. Input: a synthetic, consistent two-VM trace."""
import json
import re

import numpy as np
import pytest

from pvsched.trace import KIND, Trace, prev_state_str, register_kind
from trace_fixtures import NCPU, TASKS, make_trace

pb2 = pytest.importorskip("perfetto.protos.perfetto.trace.perfetto_trace_pb2")


def decode(data: bytes):
    return pb2.Trace.FromString(data).packet


def host_switches_from_pftrace(packets):
    """Per CPU: [(ts, prev_pid, next_pid, prev_state, next_prio, next_comm)], prev inferred as the
    previous switch's next (as trace processor does for compact_sched)."""
    out = {}
    for p in packets:
        if not p.HasField("ftrace_events"):
            continue
        b = p.ftrace_events
        cs = b.compact_sched
        rows = out.setdefault(b.cpu, [])
        ts = np.cumsum(np.array(cs.switch_timestamp, dtype=np.int64))
        for i in range(len(ts)):
            prev = rows[-1][2] if rows else 0
            rows.append((int(ts[i]), prev, cs.switch_next_pid[i], cs.switch_prev_state[i], cs.switch_next_prio[i],
                         cs.intern_table[cs.switch_next_comm_index[i]]))
    return out


def track_events(packets):
    descs, events = {}, []
    for p in packets:
        if p.HasField("track_descriptor"):
            descs[p.track_descriptor.uuid] = p.track_descriptor
        elif p.HasField("track_event"):
            events.append((p.timestamp, p.track_event))
    return descs, events


def track_label(descs, u):
    """'<parent thread name>:<track name>' (vCPU tracks hang under their vCPU thread's track)."""
    d = descs[u]
    par = descs.get(d.parent_uuid) if d.HasField("parent_uuid") else None
    owner = par.thread.thread_name if par is not None and par.HasField("thread") else ""
    return f"{owner}:{d.name}"


def slices_by_track(descs, events):
    """{track name: [(start, end, name)]} from BEGIN/END pairs (no nesting is written)."""
    open_, out = {}, {}
    for ts, te in events:
        if te.type == pb2.TrackEvent.TYPE_SLICE_BEGIN:
            assert te.track_uuid not in open_, "slices on one track must not overlap"
            open_[te.track_uuid] = (ts, te.name)
        elif te.type == pb2.TrackEvent.TYPE_SLICE_END:
            st, nm = open_.pop(te.track_uuid)
            out.setdefault(track_label(descs, te.track_uuid), []).append((st, ts, nm))
    assert not open_
    return out


def test_pftrace_host_switches_decode_to_the_recorded_sequence(tmp_path):
    tr = make_trace(seed=3)
    path = tmp_path / "run.pftrace"
    assert tr.to_perfetto(path) == b""
    got = host_switches_from_pftrace(decode(path.read_bytes()))
    sw = tr.switches("host")
    prio = tr.prio(sw["next"], sw["time_ns"])
    for cpu in range(NCPU):
        m = sw["cpu"] == cpu
        want = [(int(t), int(p) + 1, int(n) + 1, int(s), int(pr), tr.task_name(int(n), cpu))
                for t, p, n, s, pr in zip(sw["time_ns"][m], sw["prev"][m], sw["next"][m], sw["prev_state"][m], prio[m])]
        assert got[cpu] == want
        assert len(want) > 50


def test_pftrace_small_bundles_still_decode_in_order():
    tr = make_trace(seed=4)
    packets = decode(tr.to_perfetto(bundle_events=7))
    assert sum(p.HasField("ftrace_events") for p in packets) > 20
    got = host_switches_from_pftrace(packets)
    sw = tr.switches("host")
    assert sum(len(v) for v in got.values()) == len(sw["time_ns"])
    for cpu, rows in got.items():
        assert [r[0] for r in rows] == sw["time_ns"][sw["cpu"] == cpu].tolist()


def test_pftrace_wakeups_names_and_process_tree():
    tr = make_trace(seed=5)
    packets = decode(tr.to_perfetto())
    wk = tr.of_kind("sched_wakeup")
    host = wk.cpu < NCPU
    n = sum(len(p.ftrace_events.compact_sched.waking_pid) for p in packets if p.HasField("ftrace_events"))
    assert n == int(host.sum())
    (pt,) = [p.process_tree for p in packets if p.HasField("process_tree")]
    threads = {t.tid: (t.tgid, t.name) for t in pt.threads}
    procs = {p.pid: p.cmdline[0] for p in pt.processes}
    assert threads[2] == (threads[3][0], "web/vcpu0") and procs[threads[2][0]] == "vm:web"
    assert threads[1] == (1, "hog") and 4 not in threads          # guest tasks are not host threads
    (si,) = [p.system_info for p in packets if p.HasField("system_info")]
    assert si.utsname.release.startswith("6.15")


def test_pftrace_guest_sched_and_vcpu_modes_are_slices():
    tr = make_trace(seed=6)
    descs, events = track_events(decode(tr.to_perfetto()))
    sl = slices_by_track(descs, events)
    for vm in ("web", "db"):
        ref = tr.cpu_slices(vm)
        for rq in tr.kernel_rqs(vm):
            local = tr.local_cpu(int(rq))
            m = ref["rq"] == rq
            want = [(int(s), int(e), TASKS[t].split("/")[1]) for s, e, t in zip(ref["start_ns"][m], ref["end_ns"][m], ref["task"][m])]
            assert sl[f"{vm}/vcpu{local}:vcpu{local} guest sched"] == want
    modes = tr.vcpu_modes()
    total = sum(e - s for name, rows in sl.items() if name.endswith(" mode") for s, e, _ in rows)
    assert total == int((modes["end_ns"] - modes["start_ns"]).sum())
    exits = [nm for name, rows in sl.items() if name.endswith(" mode") for _, _, nm in rows if nm.startswith("exit")]
    assert exits and all(nm.startswith("exit: ") for nm in exits)


def test_pftrace_counters_and_instants():
    tr = make_trace(seed=7)
    descs, events = track_events(decode(tr.to_perfetto()))
    counters = [(ts, track_label(descs, te.track_uuid), te.counter_value) for ts, te in events
                if te.type == pb2.TrackEvent.TYPE_COUNTER]
    ref = tr.of_kind("counter")
    assert len(counters) == len(ref)
    assert {n for _, n, _ in counters} == {":CPU 0 nr_running", "web/vcpu0:web/vcpu0 nr_running", "web/vcpu0:web/vcpu0 util_avg"}
    assert sorted(v for _, _, v in counters) == sorted(ref.c.tolist())
    for ts, te in events:
        if te.type == pb2.TrackEvent.TYPE_COUNTER:
            assert descs[te.track_uuid].HasField("counter")
    names = {te.name for _, te in events if te.type == pb2.TrackEvent.TYPE_INSTANT}
    assert {"yield_to", "vcpu_boost", "vcpu_unboost", "kvm_exit"} <= names


def test_pftrace_marks_truncation():
    tr = make_trace(seed=8)
    cut = tr.time_ns[len(tr) // 2]
    t2 = tr.where(tr.time_ns < cut)
    t2.truncated_at_ns, t2.dropped = int(cut), 123
    descs, events = track_events(decode(t2.to_perfetto()))
    marks = [(ts, te) for ts, te in events if te.name.startswith("trace truncated")]
    assert len(marks) == 1 and marks[0][0] == cut
    assert marks[0][1].debug_annotations[0].int_value == 123


# ---------------------------------------------------------------- ftrace text
LINE = re.compile(r"^\s*(?P<comm>.{1,16})-(?P<pid>\d+)\s+\[(?P<cpu>\d{3})\]\s+(?P<ts>\d+\.\d+): (?P<ev>\w+): (?P<body>.*)$")


def test_ftrace_text_has_the_kernel_line_format():
    tr = make_trace(seed=9)
    txt = tr.to_ftrace()
    lines = [ln for ln in txt.splitlines() if not ln.startswith("#")]
    sw = [ln for ln in lines if ": sched_switch: " in ln]
    assert len(sw) == len(tr.switches("host")["time_ns"])
    for ln in lines:
        m = LINE.match(ln)
        assert m, ln
        assert len(ln.split("-")[0]) >= 16 or ln.startswith(" ")
    assert re.fullmatch(r"prev_comm=\S+ prev_pid=\d+ prev_prio=\d+ prev_state=(R\+?|S|D|X) ==> next_comm=\S+ next_pid=\d+ next_prio=\d+",
                        LINE.match(sw[0])["body"])
    us = tr.to_ftrace(precision="us", irq_flags=True)
    assert re.search(r"\[000\] d\.\.2\.\s+\d+\.\d{6}: sched_switch: ", us)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning", "ignore:The inplace keyword")
def test_ftrace_text_parses_with_trappy(tmp_path):
    trappy = pytest.importorskip("trappy")
    tr = make_trace(seed=10)
    for kernel in ("host", "web"):
        path = tmp_path / f"{kernel}.txt"
        tr.to_ftrace(path, kernel=kernel)
        with pytest.warns(UserWarning):
            ft = trappy.FTrace(str(path), normalize_time=False, events=["sched_switch", "sched_wakeup"])
        df = ft.sched_switch.data_frame
        sw = tr.switches(kernel)
        assert len(df) == len(sw["time_ns"])
        assert np.array_equal(np.round(df.index.values * 1e9).astype(np.int64), sw["time_ns"])
        assert df["prev_pid"].tolist() == (sw["prev"] + 1).tolist()
        assert df["next_pid"].tolist() == (sw["next"] + 1).tolist()
        assert df["__cpu"].tolist() == [tr.local_cpu(int(c)) for c in sw["cpu"]]
        assert df["prev_state"].tolist() == [prev_state_str(int(s)) for s in sw["prev_state"]]
        # busy time per CPU from the parsed text equals the trace's
        busy = np.zeros(len(tr.kernel_rqs(kernel)), np.int64)
        for cpu, g in df.groupby("__cpu"):
            t = np.r_[np.round(g.index.values * 1e9).astype(np.int64), tr.end_ns]
            run = g["next_pid"].values != 0
            busy[cpu] = int(((t[1:] - t[:-1]) * run).sum())
        assert busy.tolist() == tr.busy_ns(kernel).tolist()
        assert len(ft.sched_wakeup.data_frame) == int((tr.kind == KIND["sched_wakeup"])[np.isin(tr.cpu, tr.kernel_rqs(kernel))].sum())


def test_ftrace_comm_is_cut_like_the_kernel():
    tr = Trace.from_columns(time_ns=[10], kind=[KIND["sched_switch"]], cpu=[0], a=[-1], b=[0], c=[0],
                            task_names=["a_very_long_task_name"], ncpu=1)
    assert "next_comm=a_very_long_tas next_pid=1" in tr.to_ftrace()


# ---------------------------------------------------------------- Chrome JSON
def test_chrome_json_slices_sum_to_busy_time(tmp_path):
    tr = make_trace(seed=11)
    path = tmp_path / "run.json"
    tr.to_chrome_json(path)
    d = json.loads(path.read_text())
    busy = np.zeros(NCPU)
    for e in d["traceEvents"]:
        if e["ph"] == "X" and e["pid"] == 1:
            busy[e["tid"]] += e["dur"]
    assert np.allclose(busy * 1000, tr.busy_ns("host"), atol=1e-3)
    assert {e["name"] for e in d["traceEvents"] if e["ph"] == "M" and e["name"] == "process_name"} == {"process_name"}
    assert any(e["ph"] == "C" for e in d["traceEvents"])


# ---------------------------------------------------------------- Trace
def test_busy_time_and_slices_by_hand():
    # CPU 0: idle -> a at 10, a -> b at 30 (a preempted), b -> idle at 45; end 100
    tr = Trace.from_columns(time_ns=[10, 30, 45], kind=[KIND["sched_switch"]] * 3, cpu=[0, 0, 0],
                            a=[-1, 0, 1], b=[0, 1, -1], c=[0, 0x100, 1], task_names=["a", "b"], ncpu=2, end_ns=100)
    assert tr.busy_ns().tolist() == [35, 0]
    s = tr.cpu_slices()
    assert list(zip(s["start_ns"], s["end_ns"], s["task"])) == [(10, 30, 0), (30, 45, 1)]
    w = tr.window(20, 40)
    assert w.busy_ns().tolist() == [20, 0]      # a from 20 (the first switch's prev), then b to 40
    cut = tr.where(tr.time_ns < 40)          # a full buffer keeps no event after the cut
    cut.truncated_at_ns = 40
    assert cut.busy_ns().tolist() == [30, 0]


def test_prio_follows_boosts():
    tr = make_trace(seed=12)
    b = tr.records[tr.kind == KIND["vcpu_boost"]][0]
    u = tr.records[(tr.kind == KIND["vcpu_unboost"]) & (tr.a == b["a"])][0]
    task = tr.vcpu_task[b["a"]]
    got = tr.prio([task] * 3, [b["time_ns"] - 1, b["time_ns"], u["time_ns"]]).tolist()
    assert got == [120, 98, 120]


def test_save_load_round_trip(tmp_path):
    tr = make_trace(seed=13)
    tr.truncated_at_ns, tr.dropped = 49_000_000, 5
    tr.save(tmp_path / "t.npz")
    back = Trace.load(tmp_path / "t.npz")
    assert np.array_equal(back.records, tr.records)
    assert (back.task_names, back.vm_names, back.truncated_at_ns, back.dropped) == (tr.task_names, tr.vm_names, 49_000_000, 5)
    assert back.to_ftrace() == tr.to_ftrace()


def test_register_kind_rules_and_unknown_kinds_export():
    with pytest.raises(ValueError):
        register_kind(5, "x")
    with pytest.raises(ValueError):
        register_kind(300, "sched_switch")
    register_kind(301, "test_policy_event", a="vcpu", c="value_ns")
    tr = Trace.from_columns(time_ns=[5], kind=[301], cpu=[0], a=[0], b=[0], c=[77], task_names=["t", "web/vcpu0"],
                            ncpu=1, vcpu_vm=[0], vcpu_task=[1], vm_names=["web"])
    assert "pvsched_test_policy_event: vcpu=web/vcpu0 value_ns=77" in tr.to_ftrace()
    descs, events = track_events(decode(tr.to_perfetto()))
    assert [te.name for _, te in events] == ["test_policy_event"]
    assert track_label(descs, events[0][1].track_uuid) == "web/vcpu0:vcpu0 mode"
