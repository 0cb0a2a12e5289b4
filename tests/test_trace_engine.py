"""The event trace recorded by the C core: off by default and without effect on results; what it
records agrees with the engine's own counters (busy time, switches, vCPU modes) exactly; it decodes
back through independent readers (the Perfetto protobuf classes, TRAPpy); its memory is bounded by
the cap whatever the run length; windows, ring mode and kind filters; Scenario and CLI plumbing."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pvsched import VM, BoostPolicy, Host, Scenario, ScenarioError, Simulation, Task
from pvsched.trace import KIND, Trace, TraceConfig, prev_state_str
from pvsched.workloads import Cyclictest, Hog, Periodic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWO_VM = os.path.join(ROOT, "examples", "overcommit_2vm.toml")


def two_vm(until=300_000_000, **trace):
    sc = Scenario.from_toml(TWO_VM)
    sc.trace = TraceConfig(enabled=True, **trace)
    return Simulation(sc).run(until_ns=until)


@pytest.fixture(scope="module")
def run2():
    return two_vm()


def _flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}/"))
        else:
            out[prefix + k] = v
    return out


def test_off_by_default_and_tracing_changes_no_result(run2):
    sc = Scenario.from_toml(TWO_VM)
    assert sc.trace.enabled is False
    off = Simulation(sc).run(until_ns=300_000_000)
    assert off.trace is None and "trace" not in off.raw
    a, b = _flat(off.raw), _flat({k: v for k, v in run2.raw.items() if k != "trace"})
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else a[k] == b[k], k


def test_trace_agrees_with_the_engine_counters(run2):
    t = run2.trace
    assert isinstance(t, Trace) and not t.truncated and t.dropped == 0
    assert t.busy_ns().tolist() == run2.cpus["busy_ns"].tolist()            # per host CPU, exactly
    sw = t.switches()
    switched_in = np.bincount(sw["next"][sw["next"] >= 0], minlength=len(run2.task_names))
    assert switched_in.tolist() == run2.raw["task"]["nr_switches"].tolist()    # every task, host and guest
    per_rq = np.bincount(sw["cpu"], minlength=t.ncpu)[:t.ncpu]
    assert per_rq.tolist() == run2.cpus["nr_switches"].tolist()
    modes = t.mode_ns()
    for k, col in modes.items():
        assert col.tolist() == run2.vcpus[k].tolist(), k                     # guest/exit/poll/halted/preempted
    exits = t.of_kind("kvm_exit")
    from pvsched._core import EXIT_REASONS
    for i, reason in enumerate(EXIT_REASONS):
        if reason == "entry":
            continue
        got = np.bincount(exits.a[exits.b == i], minlength=len(t.vcpu_vm))
        assert got.tolist() == run2.vcpus["exits_" + reason].tolist(), reason
    wk = t.of_kind("sched_wakeup", "sched_wakeup_new")
    assert np.bincount(wk.a, minlength=len(run2.task_names)).tolist() == run2.raw["task"]["nr_wakeups"].tolist()


def test_switch_records_are_consistent_per_cpu(run2):
    t = run2.trace
    sw = t.switches()
    for rq in range(t.ncpu + len(t.vcpu_vm)):
        m = sw["cpu"] == rq
        prev, nxt = sw["prev"][m], sw["next"][m]
        assert prev[0] == -1 and np.array_equal(prev[1:], nxt[:-1]), rq   # each switch starts from the last
        assert np.all(np.diff(sw["time_ns"][m]) >= 0)
    # prev_state is R+ (preempted) exactly when prev stays runnable, S when it blocked
    states = set(sw["prev_state"].tolist())
    assert {0x100, 1} <= states and states <= {0, 1, 0x10, 0x100}


def test_pftrace_of_a_two_vm_run_decodes_to_the_engine_switches(run2, tmp_path):
    pb2 = pytest.importorskip("perfetto.protos.perfetto.trace.perfetto_trace_pb2")
    t = run2.trace
    path = tmp_path / "run.pftrace"
    t.to_perfetto(path)
    got = {}
    for p in pb2.Trace.FromString(path.read_bytes()).packet:     # the Perfetto protos, not our writer
        if p.HasField("ftrace_events"):
            cs = p.ftrace_events.compact_sched
            rows = got.setdefault(p.ftrace_events.cpu, [])
            ts = np.cumsum(np.array(cs.switch_timestamp, dtype=np.int64))
            for i in range(len(ts)):
                rows.append((int(ts[i]), rows[-1][2] if rows else 0, cs.switch_next_pid[i], cs.switch_prev_state[i]))
    sw = t.switches("host")
    for cpu in range(t.ncpu):
        m = sw["cpu"] == cpu
        want = list(zip(sw["time_ns"][m].tolist(), (sw["prev"][m] + 1).tolist(), (sw["next"][m] + 1).tolist(),
                        sw["prev_state"][m].tolist()))
        assert got[cpu] == want
        # busy time summed from the decoded sequence equals the engine's
        ts = np.array([r[0] for r in got[cpu]] + [t.end_ns])
        busy = sum(int(ts[i + 1] - ts[i]) for i, r in enumerate(got[cpu]) if r[2] != 0)
        assert busy == int(run2.cpus["busy_ns"][cpu])


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning", "ignore:The inplace keyword",
                            "ignore:Reading from .txt")
def test_ftrace_text_of_a_two_vm_run_parses_with_trappy(run2, tmp_path):
    trappy = pytest.importorskip("trappy")
    t = run2.trace.window(0, 100_000_000)
    for kernel in t.kernel_names():
        path = tmp_path / f"{kernel}.txt"
        t.to_ftrace(path, kernel=kernel)
        df = trappy.FTrace(str(path), normalize_time=False, events=["sched_switch"]).sched_switch.data_frame
        sw = t.switches(kernel)
        assert df["next_pid"].tolist() == (sw["next"] + 1).tolist()
        assert df["prev_pid"].tolist() == (sw["prev"] + 1).tolist()
        assert df["prev_state"].tolist() == [prev_state_str(int(s)) for s in sw["prev_state"]]
        assert np.array_equal(np.round(df.index.values * 1e9).astype(np.int64), sw["time_ns"])


def test_memory_is_bounded_by_the_cap_whatever_the_run_length():
    short = two_vm(until=100_000_000, cap_events=2000)
    long = two_vm(until=1_000_000_000, cap_events=2000)
    for r in (short, long):
        raw = r.raw["trace"]
        assert len(raw["records"]) == 2000 and raw["buffer_bytes"] == 2000 * 32
        assert r.trace.truncated and r.trace.dropped > 0
    assert long.trace.dropped > 5 * short.trace.dropped
    assert short.trace.truncated_at_ns == long.trace.truncated_at_ns      # the same first 2000 events
    assert np.array_equal(short.raw["trace"]["records"], long.raw["trace"]["records"])
    assert int(short.trace.time_ns[-1]) <= short.trace.truncated_at_ns
    assert TraceConfig(enabled=True, cap_events=2000).memory_bytes() == 64_000


def test_ring_keeps_the_last_events():
    full = two_vm(until=200_000_000)
    ring = two_vm(until=200_000_000, cap_events=3000, mode="ring")
    assert len(ring.trace) == 3000 and ring.trace.dropped == len(full.trace) - 3000 and not ring.trace.truncated
    assert np.array_equal(ring.trace.records, full.trace.records[-3000:])
    assert ring.trace.start_ns == int(full.trace.time_ns[-3000])


def test_window_recorded_by_the_engine_equals_the_window_of_a_full_trace():
    full = two_vm(until=300_000_000).trace
    part = two_vm(until=300_000_000, from_ns=100_000_000, to_ns=200_000_000).trace
    w = full.window(100_000_000, 200_000_000)
    assert (part.start_ns, part.end_ns) == (w.start_ns, w.end_ns) == (100_000_000, 200_000_000)
    for kern in full.kernel_names():
        a, b = part.cpu_slices(kern), w.cpu_slices(kern)
        assert all(np.array_equal(a[k], b[k]) for k in a), kern
    a, b = part.vcpu_modes(), w.vcpu_modes()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert part.busy_ns().tolist() == [100_000_000] * 4      # the db VM's hogs keep every pCPU busy
    assert part.counts()["sched_curr"] == full.ncpu + len(full.vcpu_vm)


def test_event_kind_filter():
    t = two_vm(until=50_000_000, events=["sched_switch", "vcpu_mode"]).trace
    assert set(t.counts()) == {"sched_switch", "vcpu_mode"}


def test_boost_and_directed_yield_events():
    vm = VM("g", vcpus=2, tasks=[Task("ct", Cyclictest(interval_ns=500_000))], boost=BoostPolicy("dynamic"))
    sc = Scenario(host=Host(cpus=2), vms=[vm], tasks=[Task("hog", Hog(), count=2)],
                  trace=TraceConfig(enabled=True))
    r = Simulation(sc).run(until_ns=200_000_000)
    t = r.trace
    boosts = t.of_kind("vcpu_boost")
    from pvsched._core import BOOST_CAUSES
    for i, cause in enumerate(BOOST_CAUSES):
        assert int((boosts.b == i).sum()) == int(r.vcpus["boosts_" + cause].sum()), cause
    assert len(boosts) > 0 and len(t.of_kind("vcpu_unboost")) > 0
    # a boosted vCPU thread is switched in at its RT prio (99 - boost priority) in the ftrace text
    assert f"next_comm=g/vcpu0 next_pid={r.task_names.index('g/vcpu0') + 1} next_prio={99 - vm.boost.priority}" \
        in t.to_ftrace() or f"next_comm=g/vcpu1 next_pid={r.task_names.index('g/vcpu1') + 1} next_prio={99 - vm.boost.priority}" in t.to_ftrace()


def test_spinlock_vm_records_ple_exits_and_yield_to():
    from pvsched.workloads import SpinlockLoop
    vm = VM("s", vcpus=4, tasks=[Task("lk", SpinlockLoop(hold_ns=20_000, think_ns=5_000), count=4)])
    sc = Scenario(host=Host(cpus=2), vms=[vm], tasks=[Task("hog", Hog(), count=2)], trace=TraceConfig(enabled=True))
    r = Simulation(sc).run(until_ns=100_000_000)
    c = r.trace.counts()
    assert c.get("ple_exit", 0) == int(r.vcpus["exits_ple"].sum()) > 0
    yt = r.trace.of_kind("yield_to")
    row = r.vm_row("s")
    assert len(yt) == row["yield_to_attempts"] > 0
    assert int((yt.c == 0).sum()) == row["yield_to_ok"]
    assert int((yt.c > 0).sum()) == row["yield_to_failures"]


def test_scenario_trace_option_round_trips_and_validates(tmp_path):
    sc = Scenario(host=Host(cpus=1), tasks=[Task("p", Periodic())],
                  trace=TraceConfig(enabled=True, cap_events=500, mode="ring", from_ns=10, to_ns=10_000_000,
                                    events=["sched_switch"]))
    d = sc.to_dict()
    assert d["trace"] == {"enabled": True, "cap_events": 500, "mode": "ring", "from_ns": 10, "to_ns": 10_000_000,
                          "events": ["sched_switch"]}
    back = Scenario.from_toml(sc.to_toml())
    assert back.trace == sc.trace and back.to_dict() == d
    assert Scenario(tasks=[Task("p", Periodic())]).to_dict()["trace"]["enabled"] is False
    for bad, path in [({"cap_events": 0}, "trace.cap_events"), ({"mode": "loop"}, "trace.mode"),
                      ({"from_ns": 5, "to_ns": 5}, "trace.to_ns"), ({"events": ["nope"]}, "trace.events[0]"),
                      ({"enabled": 1}, "trace.enabled"), ({"colour": 1}, "trace.colour"), ({"events": "x"}, "trace.events")]:
        dd = dict(d, trace=dict(d["trace"], **bad))
        with pytest.raises(ScenarioError) as e:
            Scenario.from_dict(dd)
        assert e.value.path == path, bad
    with pytest.raises(ScenarioError, match="trace"):
        Scenario(tasks=[Task("p", Periodic())], trace=5).validate()


def test_trace_options_are_sweepable():
    pytest.importorskip("pandas")
    import pvsched
    base = Scenario(host=Host(cpus=1), tasks=[Task("p", Periodic()), Task("h", Hog())], duration_ns=20_000_000)
    df = pvsched.sweep(base, grid={"trace.enabled": [False, True], "trace.cap_events": [100, 1000]},
                       metrics=["events"], workers=0)
    assert len(df) == 4 and df["events"].nunique() == 1          # tracing never changes the run
    from pvsched.sweep import cell_scenario
    sc = cell_scenario(base, {"trace.enabled": True, "trace.cap_events": 100})
    assert sc.trace.enabled and sc.trace.cap_events == 100


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "pvsched", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_trace_writes_each_format(tmp_path):
    pytest.importorskip("perfetto")
    for name in ("run.pftrace", "run.txt", "run.json", "run.npz"):
        out = tmp_path / name
        r = _cli("trace", TWO_VM, "--out", str(out), "--until-ns", "50000000", "--from-ns", "10000000")
        assert r.returncode == 0, r.stderr
        assert out.exists() and out.stat().st_size > 1000
        assert "events in [10000000, 50000000) ns" in r.stdout
    assert (tmp_path / "run.web.txt").exists() and (tmp_path / "run.db.txt").exists()
    assert json.loads((tmp_path / "run.json").read_text())["traceEvents"]
    t = Trace.load(tmp_path / "run.npz")
    assert t.start_ns == 10_000_000 and t.counts()["sched_switch"] > 0


def test_cli_trace_errors_are_one_line():
    for args, msg in [(("--out", "x.bin"), "--format"), (("--out", "x.pftrace", "--cap", "0"), "trace.cap_events"),
                      (("--out", "x.pftrace", "--events", "bogus"), "trace.events[0]")]:
        r = _cli("trace", TWO_VM, *args)
        assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_cli_run_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run.png"
    r = _cli("run", TWO_VM, "--until-ns", "50000000", "--plot", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_debooster_penalties_and_halt_polling_events():
    from pvsched import Debooster
    from pvsched.workloads import SpinlockLoop
    vm = VM("s", vcpus=4, tasks=[Task("lk", SpinlockLoop(hold_ns=20_000, think_ns=5_000), count=4)])
    sc = Scenario(host=Host(cpus=2, debooster=Debooster(enabled=True, rate_limit_ns=0)), vms=[vm],
                  tasks=[Task("hog", Hog(), count=2)], trace=TraceConfig(enabled=True))
    r = Simulation(sc).run(until_ns=100_000_000)
    pen = r.trace.of_kind("debooster_penalty")
    assert len(pen) == r.vm_row("s")["deboost_applied"] > 0
    assert int(pen.c.sum()) == r.vm_row("s")["deboost_penalty_ns"]
    vm = VM("w", vcpus=2, tasks=[Task("p", Periodic(run_ns=20_000, period_ns=100_000, jitter_ns=50_000))])
    r = Simulation(Scenario(host=Host(cpus=2), vms=[vm], trace=TraceConfig(enabled=True))).run(until_ns=100_000_000)
    hp = r.trace.of_kind("halt_poll")
    assert int((hp.b == 1).sum()) == int(r.vcpus["nr_poll_ok"].sum()) > 0
    assert int((hp.b == 0).sum()) == int(r.vcpus["nr_poll_fail"].sum())
