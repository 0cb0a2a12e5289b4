"""rt-app JSON workloads: parsing as rt-app does, errors that name the key, and the semantics of
run / runtime / sleep / timer (shared refs, unique refs, relative vs absolute) / yield / loops."""
import glob
import os

import pytest

from pvsched import VM, Host, Scenario, ScenarioError, Simulation, Task, rtapp
from pvsched.workloads import Hog, RtApp

pytest.importorskip("json5")
EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "rtapp", "*.json")))


def run(spec, cpus=1, until=1_000_000_000, extra=()):
    f = rtapp.loads(spec)
    sc = f.scenario(Host(cpus=cpus), duration_ns=until, tasks=list(extra))
    return Simulation(sc).run()


def test_three_example_files_load_and_run():
    assert len(EXAMPLES) >= 3
    for path in EXAMPLES:
        text = open(path).read()
        assert "//" in text or "/*" in text                  # real-style: comments ...
        assert ",\n" in text and "}," in text                 # ... and trailing commas
        f = rtapp.load(path)
        sc = f.scenario(Host(cpus=2), duration_ns=300_000_000)
        r = Simulation(sc).run()
        for t in f.tasks:
            for n in t.names():
                assert r.task(n).cpu_ns > 0, (path, n)
    multi = [p for p in EXAMPLES if len(rtapp.load(p).tasks[0].workload.phases) > 1]
    assert multi, "an example with several phases"
    shared = [p for p in EXAMPLES if any(t.count > 1 and "timer" in str(t.workload.phases) and "unique" not in str(t.workload.phases)
                                         for t in rtapp.load(p).tasks)]
    assert shared, "an example whose instances share a timer ref"


def test_example_runs_as_guest_tasks():
    f = rtapp.load([p for p in EXAMPLES if p.endswith("camera.json")][0])
    sc = Scenario(host=Host(cpus=2), vms=[f.vm("cam", vcpus=2)], tasks=[Task("hog", Hog())], duration_ns=500_000_000)
    r = Simulation(sc).run()
    assert r.latency("cam/ui").count > 25 and r.task("cam/isp").cpu_ns > 0


@pytest.mark.parametrize("key, where", [
    ('"tasks": {"a": {"run": 10, "sleep": 10, "colour": 3}}', "tasks.a.colour"),
    ('"tasks": {"a": {"phases": {"p": {"run": 10, "prio": 3}}}}', "tasks.a.phases.p.prio"),
    ('"tasks": {"a": {"run": 10, "sleep": 10}}, "global": {"durration": 1}', "global.durration"),
    ('"tasks": {"a": {"run": 10, "timer": {"ref": "t", "period": 10, "mod": "absolute"}}}', "tasks.a.timer.mod"),
    ('"tasks": {"a": {"run": 10}}, "extra": {}', "extra"),
])
def test_unknown_key_is_an_error_naming_it(key, where):
    with pytest.raises(ScenarioError) as e:
        rtapp.loads("{" + key + "}", source="x.json")
    assert e.value.path == f"x.json: {where}"


def test_unknown_key_in_a_file_names_file_and_key(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{ "tasks": { "t": { "run": 100, "sleep": 100, "cpu_affinity": [0], }, }, }  // typo')
    with pytest.raises(ScenarioError, match=r"bad.json: tasks.t.cpu_affinity"):
        rtapp.load(p)


@pytest.mark.parametrize("body, where, why", [
    ('"lock": "m", "run": 10, "unlock": "m"', "tasks.a.lock", "not modelled"),
    ('"run": 10, "barrier": "b"', "tasks.a.barrier", "not modelled"),
    ('"run": 10, "mem0": 100', "tasks.a.mem0", "not modelled"),
    ('"policy": "SCHED_DEADLINE", "run": 10', "tasks.a.policy", "SCHED_DEADLINE"),
    ('"util_min": 100, "run": 10', "tasks.a.util_min", "uclamp"),
    ('"policy": "SCHED_FIFO", "taskgroup": "/g", "run": 10', "tasks.a.taskgroup", "SCHED_OTHER"),
    ('"run": 10.5', "tasks.a.run", "integer"),
    ('"priority": 30, "run": 10', "tasks.a.priority", "<= 19"),
])
def test_unmodelled_things_are_errors(body, where, why):
    with pytest.raises(ScenarioError, match=why) as e:
        rtapp.loads('{"tasks": {"a": {' + body + '}}}')
    assert e.value.path.endswith(where)


def test_per_phase_attribute_changes_are_refused():
    spec = '{"tasks": {"a": {"cpus": [0], "phases": {"p0": {"run": 10}, "p1": {"cpus": [1], "run": 10}}}}}'
    with pytest.raises(ScenarioError, match="affinity per phase"):
        rtapp.loads(spec)
    same = '{"tasks": {"a": {"cpus": [0], "phases": {"p0": {"run": 10, "sleep": 5}, "p1": {"cpus": [0], "run": 10}}}}}'
    assert rtapp.loads(same).tasks[0].cpus == [0]


def test_harness_keys_are_listed_not_silently_dropped():
    f = rtapp.loads('{"global": {"logdir": "/tmp", "gnuplot": true, "pi_enabled": false}, "resources": {},'
                    '"tasks": {"a": {"nodes_membind": [0], "run": 10, "sleep": 10}, "b": {"instance": 0, "run": 1}}}')
    assert f.no_effect == ["global.logdir", "global.gnuplot", "global.pi_enabled", "resources",
                           "tasks.a.nodes_membind", "tasks.b.instance"]
    assert [t.name for t in f.tasks] == ["a"]


def test_prefix_matched_and_duplicate_event_keys_keep_their_order():
    f = rtapp.loads('{"tasks": {"a": {"run0": 10, "sleep": 20, "runtime1": 30, "run": 40, "sleep": 50, "yield": ""}}}')
    assert f.tasks[0].workload.phases[0]["events"] == [
        ["run", 10_000], ["sleep", 20_000], ["runtime", 30_000], ["run", 40_000], ["sleep", 50_000], ["yield"]]


def test_thread_and_phase_loops():
    # thread loop 2 x (phase a: 3 x run 100 us + sleep 1 ms, phase b: 2 x run 200 us + sleep 1 ms), then exit
    r = run('{"tasks": {"t": {"loop": 2, "phases": {'
            '"a": {"loop": 3, "run": 100, "sleep": 1000},'
            '"b": {"loop": 2, "run": 200, "sleep": 1000}}}}}')
    assert r.task("t").cpu_ns == 2 * (3 * 100_000 + 2 * 200_000)
    assert r.task("t").state == 4                                  # TS_DEAD: the thread ended
    # without "phases", "loop" counts the thread's single phase
    assert run('{"tasks": {"t": {"loop": 7, "run": 100, "sleep": 100}}}').task("t").cpu_ns == 700_000
    # no loop key: forever
    assert run('{"tasks": {"t": {"run": 100, "sleep": 900}}}', until=10_000_000).task("t").cpu_ns == 1_000_000


def test_run_is_work_and_runtime_is_wall_clock():
    # one CPU shared with a hog: "run" gets its full 5 ms of CPU per cycle, "runtime" only what
    # the 5 ms of wall-clock time it is busy leave it
    hog = [Task("hog", Hog())]
    r_run = run('{"tasks": {"t": {"run": 5000, "sleep": 5000}}}', extra=hog)
    r_rt = run('{"tasks": {"t": {"runtime": 5000, "sleep": 5000}}}', extra=hog)
    cycles_run = r_run.task("t").nr_wakeups
    assert abs(r_run.task("t").cpu_ns - cycles_run * 5_000_000) <= 5_000_000
    cycles_rt = r_rt.task("t").nr_wakeups
    assert r_rt.task("t").cpu_ns < 0.7 * cycles_rt * 5_000_000
    # alone on its CPU, runtime is busy exactly its duration each time (32 us chunks: 5000 = 156.25 x 32)
    alone = run('{"tasks": {"t": {"loop": 10, "runtime": 5000, "sleep": 5000}}}')
    assert alone.task("t").cpu_ns == 10 * 157 * 32_000


def test_calibration_sets_the_work_of_run():
    f = rtapp.loads('{"global": {"calibration": 452}, "tasks": {"t": {"loop": 1, "run": 1000, "runtime": 100, "sleep": 1}}}')
    ev = f.tasks[0].workload.phases[0]["events"]
    assert ev[0] == ["run", (1_000_000 // 452) * 452]              # loadwait: floor(us * 1000 / p) loops
    assert f.tasks[0].workload.runtime_chunk_ns == (32_000 // 452) * 452
    big = rtapp.loads('{"global": {"calibration": 452}, "tasks": {"t": {"run": 2500000}}}')
    assert big.tasks[0].workload.phases[0]["events"][0] == ["run", (2 * (10**9 // 452) + 500_000_000 // 452) * 452]


def test_a_shared_timer_ref_is_advanced_by_every_user():
    spec = '{"tasks": {"t": {"instance": 2, "run": 100, "timer": {"ref": "%s", "period": 1000}}}}'
    shared = run(spec % "tick", cpus=2, until=100_000_000)
    unique = run(spec % "unique", cpus=2, until=100_000_000)
    # shared: each use moves the one timer a period on, so each of the 2 instances wakes every 2 ms
    assert [shared.task(f"t[{i}]").nr_wakeups for i in range(2)] == [51, 51]
    assert [unique.task(f"t[{i}]").nr_wakeups for i in range(2)] == [101, 101]
    # two different threads naming one ref take turns too
    two = run('{"tasks": {"a": {"run": 100, "timer": {"ref": "f", "period": 1000}},'
              ' "b": {"run": 100, "timer": {"ref": "f", "period": 1000}}}}', cpus=2, until=100_000_000)
    assert two.task("a").nr_wakeups + two.task("b").nr_wakeups == 102


def test_timer_miss_relative_restarts_absolute_keeps_the_grid():
    # 1.5 ms of work against a 1 ms timer: every expiry is missed
    spec = '{"tasks": {"t": {"loop": 20, "run": 1500, "timer": {"ref": "x", "period": 1000, "mode": "%s"}}}}'
    rel = run(spec % "relative")
    ab = run(spec % "absolute")
    assert rel.task("t").nr_overruns == 20 and ab.task("t").nr_overruns == 20
    # one 2.5 ms burst, then 100 us per 1 ms period: relative restarts the grid at the miss (one
    # overrun), absolute keeps it and misses again at 2 ms before catching up (two overruns)
    once = '{"tasks": {"t": {"loop": 1, "phases": {"late": {"run": 2500, "timer": {"ref": "x", "period": 1000, "mode": "%s"}},' \
           ' "steady": {"loop": 5, "run": 100, "timer": {"ref": "x", "period": 1000, "mode": "%s"}}}}}}'
    assert run(once % ("relative", "relative")).task("t").nr_overruns == 1
    assert run(once % ("absolute", "absolute")).task("t").nr_overruns == 2
    with pytest.raises(ScenarioError, match="both relative and absolute"):
        Simulation(rtapp.loads('{"tasks": {"t": {"run": 1, "timer0": {"ref": "x", "period": 9},'
                               ' "timer1": {"ref": "x", "period": 9, "mode": "absolute"}}}}').scenario())


def test_timer_wakeups_are_latency_samples():
    r = run('{"tasks": {"t": {"run": 100, "timer": {"ref": "x", "period": 1000}}}}', until=50_000_000)
    assert r.latency("t").count == r.task("t").nr_wakeups and r.task("t").nr_overruns == 0


def test_policies_priorities_delay_cpus_and_taskgroups():
    f = rtapp.loads('{"global": {"default_policy": "SCHED_IDLE"}, "tasks": {'
                    '"rt": {"policy": "SCHED_FIFO", "run": 10, "sleep": 10},'
                    '"rr": {"policy": "SCHED_RR", "priority": 42, "run": 10, "sleep": 10},'
                    '"nice": {"policy": "SCHED_OTHER", "priority": -5, "delay": 250, "cpus": [1], "run": 10, "sleep": 10},'
                    '"bg": {"taskgroup": "/a/b", "run": 10, "sleep": 10}}}')
    t = {x.name: x for x in f.tasks}
    assert (t["rt"].policy, t["rt"].rt_priority) == ("fifo", 10)
    assert (t["rr"].policy, t["rr"].rt_priority) == ("rr", 42)
    assert (t["nice"].policy, t["nice"].nice, t["nice"].start_ns, t["nice"].cpus) == ("normal", -5, 250_000, [1])
    assert (t["bg"].policy, t["bg"].cgroup) == ("idle", "/a/b")
    assert [(c.name, c.parent) for c in f.cgroups] == [("/a", None), ("/a/b", "/a")]
    Simulation(f.scenario(Host(cpus=2), duration_ns=10_000_000)).run()
    with pytest.raises(ScenarioError, match="guest cgroups"):
        f.vm("g")


def test_rtapp_scenario_round_trips_through_toml():
    f = rtapp.load(EXAMPLES[0])
    sc = f.scenario(Host(cpus=2), duration_ns=200_000_000)
    back = Scenario.from_toml(sc.to_toml())
    assert back.to_dict() == sc.to_dict()
    a, b = Simulation(sc).run(), Simulation(back).run()
    assert a.raw["task"]["cpu_ns"].tolist() == b.raw["task"]["cpu_ns"].tolist()


def test_rtapp_workload_validation_names_the_field():
    bad = [({"phases": []}, "phases"), ({"phases": [{"events": [["jump", 1]]}]}, "phases[0].events[0]"),
           ({"phases": [{"events": [["timer", 10, "t", "sideways"]]}]}, "phases[0].events[0][3]"),
           ({"phases": [{"events": [["run", 10]], "loop": 0}]}, "phases[0].loop"),
           ({"phases": [{"events": [["yield"]], "loop": -1}]}, "phases[0].events"),
           ({"phases": [{"events": [["run", 1]]}], "loop": -2}, "loop")]
    for kw, where in bad:
        with pytest.raises(ScenarioError) as e:
            RtApp(**kw)                             # the workload's constructor checks it
        assert e.value.path == f"RtApp.{where}", kw
        with pytest.raises(ScenarioError) as e:     # the file form names the full path
            Scenario.from_dict({"tasks": [{"name": "t", "workload": {"kind": "rtapp", **kw}}]})
        assert e.value.path == f"tasks[0].workload.{where}", kw


def test_malformed_json_is_one_clear_error():
    with pytest.raises(ScenarioError, match="malformed rt-app JSON"):
        rtapp.loads('{"tasks": {"a": {"run": }}}')
