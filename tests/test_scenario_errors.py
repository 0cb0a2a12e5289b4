"""Bad input is rejected with a ScenarioError (a ValueError) naming the field path; the low-level
Engine rejects inconsistent arrays with ValueError instead of crashing; TOML round-trips."""
import copy

import numpy as np
import pytest

import pvsched
from pvsched import Cgroup, Host, NotModelledError, Scenario, ScenarioError, Simulation, Task
from pvsched.workloads import Cyclictest, Hog, Periodic, Phases, RunSleep


def err(fn):
    """Run ``fn`` and return the ScenarioError it raises."""
    with pytest.raises(ScenarioError) as ei:
        fn()
    e = ei.value
    assert isinstance(e, ValueError)
    assert str(e).startswith(e.path + " = ")
    return e


def bad(path, make):
    """Building the scenario that ``make()`` describes (its parts' constructors, then the Scenario)
    must fail naming ``path``: a Scenario-level check names it in full; a part's constructor names
    the part and the same field (``Task('t').nice = 99`` for ``tasks[0].nice``: ``e.rel`` is
    ``.nice``), so the error points at the line that made the mistake."""
    def build():
        kw = make()
        kw.setdefault("tasks", [Task("t", Hog())])
        return Simulation(Scenario(**kw))
    e = err(build)
    rel = getattr(e, "rel", None)
    if rel:
        assert path.endswith(rel) and not e.path.startswith(("tasks", "cgroups", "vms", "host.")), str(e)
    else:
        assert e.path == path, str(e)
    return e


def test_scenario_error_is_value_error():
    assert issubclass(ScenarioError, ValueError)
    e = ScenarioError("tasks[2].nice", -21, "must be in -20..19")
    assert str(e) == "tasks[2].nice = -21: must be in -20..19"
    assert (e.path, e.value, e.problem) == ("tasks[2].nice", -21, "must be in -20..19")
    assert issubclass(NotModelledError, NotImplementedError)


# ------------------------------------------------------------------------------------------
# times
# ------------------------------------------------------------------------------------------
def test_negative_start_ns():
    e = bad("tasks[0].start_ns", lambda: dict(tasks=[Task("t", Hog(), start_ns=-1)]))
    assert e.value == -1


def test_negative_run_ns():
    bad("tasks[0].workload.run_ns", lambda: dict(tasks=[Task("t", RunSleep(run_ns=-5))]))
    bad("tasks[1].workload.run_ns", lambda: dict(tasks=[Task("a", Hog()), Task("t", Periodic(run_ns=0))]))


def test_negative_sleep_and_period():
    bad("tasks[0].workload.sleep_ns", lambda: dict(tasks=[Task("t", RunSleep(sleep_ns=-1))]))
    bad("tasks[0].workload.period_ns", lambda: dict(tasks=[Task("t", Periodic(period_ns=0))]))
    bad("tasks[0].workload.jitter_ns", lambda: dict(tasks=[Task("t", Periodic(jitter_ns=-1))]))
    bad("tasks[0].workload.interval_ns", lambda: dict(tasks=[Task("t", Cyclictest(interval_ns=-1))]))
    bad("tasks[0].workload.work_ns", lambda: dict(tasks=[Task("t", Cyclictest(work_ns=0))]))


def test_negative_until_ns():
    sim = Simulation(Scenario(tasks=[Task("t", Hog())]))
    e = err(lambda: sim.run(until_ns=-1))
    assert e.path == "until_ns"
    sim.run(until_ns=1_000_000)
    e = err(lambda: sim.run(until_ns=999_999))     # before the current time
    assert e.path == "until_ns"
    e = err(lambda: sim.run(until_ns=1.5e6))        # not an integer
    assert e.path == "until_ns"
    e = err(lambda: sim.run(until_ns=True))
    assert e.path == "until_ns"


def test_bad_duration_and_seed():
    bad("duration_ns", lambda: dict(duration_ns=0))
    bad("duration_ns", lambda: dict(duration_ns=-5))
    bad("seed", lambda: dict(seed=-1))
    bad("seed", lambda: dict(seed=2**64))
    bad("shuffle_ties", lambda: dict(shuffle_ties=1))
    bad("check_invariants", lambda: dict(check_invariants="yes"))


# ------------------------------------------------------------------------------------------
# cgroups
# ------------------------------------------------------------------------------------------
def test_unknown_cgroup_of_task():
    e = bad("tasks[0].cgroup", lambda: dict(tasks=[Task("t", Hog(), cgroup="nope")]))
    assert e.value == "nope"


def test_unknown_parent_cgroup():
    bad("cgroups[1].parent", lambda: dict(cgroups=[Cgroup("a"), Cgroup("b", parent="zz")]))


def test_cyclic_hierarchy():
    e = bad("cgroups[0].parent", lambda: dict(cgroups=[Cgroup("a", parent="b"), Cgroup("b", parent="a")]))
    assert "cycle" in e.problem
    e = bad("cgroups[0].parent", lambda: dict(cgroups=[Cgroup("a", parent="a")]))
    assert "cycle" in e.problem
    bad("cgroups[0].parent", lambda: dict(cgroups=[Cgroup("a", parent="c"), Cgroup("b", parent="a"), Cgroup("c", parent="b")]))


def test_cgroups_nested_too_deep(monkeypatch):
    # The engine keeps an entity's depth in 16 bits; the limit is lowered here to keep it quick.
    from pvsched.scenario import description
    monkeypatch.setattr(description, "MAX_CGROUP_DEPTH", 3)
    chain = lambda n: [Cgroup("g0")] + [Cgroup(f"g{i}", parent=f"g{i - 1}") for i in range(1, n)]
    Scenario(host=Host(cpus=1), cgroups=chain(3), tasks=[Task("t", Hog(), cgroup="g2")], duration_ns=1000)
    e = bad("cgroups[3].parent", lambda: dict(cgroups=chain(4)))
    assert "deep" in e.problem


@pytest.mark.parametrize("w", [0, 10001, -3])
def test_cgroup_weight_range(w):
    e = bad("cgroups[0].weight", lambda: dict(cgroups=[Cgroup("a", weight=w)]))
    assert e.value == w


@pytest.mark.parametrize("w", [1, 10000])
def test_cgroup_weight_limits_accepted(w):
    Scenario(cgroups=[Cgroup("a", weight=w)], tasks=[Task("t", Hog(), cgroup="a")]).validate()


def test_cgroup_names():
    bad("cgroups[1].name", lambda: dict(cgroups=[Cgroup("a"), Cgroup("a")]))
    bad("cgroups[0].name", lambda: dict(cgroups=[Cgroup("")]))
    bad("cgroups[0].weight", lambda: dict(cgroups=[Cgroup("a", weight="100")]))
    bad("cgroups[0].idle", lambda: dict(cgroups=[Cgroup("a", idle=1)]))
    bad("cgroups[0]", lambda: dict(cgroups=["a"]))


# ------------------------------------------------------------------------------------------
# tasks
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nice", [-21, 20, 100])
def test_nice_range(nice):
    bad("tasks[0].nice", lambda: dict(tasks=[Task("t", Hog(), nice=nice)]))


@pytest.mark.parametrize("policy", ["fifo", "rr"])
@pytest.mark.parametrize("prio", [0, 100, -1])
def test_rt_priority_range(policy, prio):
    bad("tasks[0].rt_priority", lambda: dict(tasks=[Task("t", Hog(), policy=policy, rt_priority=prio)]))


@pytest.mark.parametrize("policy", ["normal", "batch", "idle"])
def test_rt_priority_on_fair_task(policy):
    e = bad("tasks[0].rt_priority", lambda: dict(tasks=[Task("t", Hog(), policy=policy, rt_priority=5)]))
    assert "fifo/rr" in e.problem


def test_affinity_to_missing_cpu():
    e = bad("tasks[0].cpus", lambda: dict(host=Host(cpus=4), tasks=[Task("t", Hog(), cpus=[4])]))
    assert e.value == 4
    bad("tasks[0].cpus", lambda: dict(host=Host(cpus=4), tasks=[Task("t", Hog(), cpus=[0, -1])]))


def test_empty_and_malformed_affinity():
    bad("tasks[0].cpus", lambda: dict(tasks=[Task("t", Hog(), cpus=[])]))
    bad("tasks[0].cpus", lambda: dict(tasks=[Task("t", Hog(), cpus="0")]))
    bad("tasks[0].cpus", lambda: dict(tasks=[Task("t", Hog(), cpus=5)]))
    bad("tasks[0].cpus", lambda: dict(tasks=[Task("t", Hog(), cpus=[1.0])]))


@pytest.mark.parametrize("policy", ["deadline", "FIFO", "", None, 1])
def test_bad_policy(policy):
    bad("tasks[0].policy", lambda: dict(tasks=[Task("t", Hog(), policy=policy)]))


def test_bad_task_fields():
    bad("tasks[0].slice_ns", lambda: dict(tasks=[Task("t", Hog(), slice_ns=99_999)]))
    bad("tasks[0].slice_ns", lambda: dict(tasks=[Task("t", Hog(), slice_ns=100_000_001)]))
    bad("tasks[0].count", lambda: dict(tasks=[Task("t", Hog(), count=0)]))
    bad("tasks[0].name", lambda: dict(tasks=[Task("", Hog())]))
    bad("tasks[1].name", lambda: dict(tasks=[Task("t", Hog()), Task("t", Hog())]))
    bad("tasks[1].name", lambda: dict(tasks=[Task("t", Hog(), count=2), Task("t[1]", Hog())]))
    bad("tasks[0].workload", lambda: dict(tasks=[Task("t", "hog")]))
    bad("tasks[0]", lambda: dict(tasks=["t"]))
    bad("tasks[0].nice", lambda: dict(tasks=[Task("t", Hog(), nice=1.5)]))
    bad("tasks[0].start_ns", lambda: dict(tasks=[Task("t", Hog(), start_ns=True)]))


def test_no_tasks():
    e = err(Scenario(tasks=[]).validate)
    assert e.path == "tasks"


def test_bad_phases():
    bad("tasks[0].workload.phases", lambda: dict(tasks=[Task("t", Phases([]))]))
    bad("tasks[0].workload.phases[0]", lambda: dict(tasks=[Task("t", Phases([("jump", 10)]))]))
    bad("tasks[0].workload.phases[0][1]", lambda: dict(tasks=[Task("t", Phases([("run", 0)]))]))
    bad("tasks[0].workload.phases[1]", lambda: dict(tasks=[Task("t", Phases([("run", 10), ("sleep",)]))]))
    bad("tasks[0].workload.phases[0]", lambda: dict(tasks=[Task("t", Phases([("yield", 5), ("run", 10)]))]))
    e = bad("tasks[0].workload.phases", lambda: dict(tasks=[Task("t", Phases([("yield",)]))]))
    assert "timed" in e.problem
    bad("tasks[0].workload.loops", lambda: dict(tasks=[Task("t", Phases([("run", 10)], loops=-1))]))


def test_bad_workload_type_params():
    bad("tasks[0].workload.run_ns", lambda: dict(tasks=[Task("t", RunSleep(run_ns=1.5))]))
    bad("tasks[0].workload.run_jitter_ns", lambda: dict(tasks=[Task("t", RunSleep(run_jitter_ns=-1))]))
    bad("tasks[0].workload.offset_ns", lambda: dict(tasks=[Task("t", Periodic(offset_ns=-1))]))


# ------------------------------------------------------------------------------------------
# host
# ------------------------------------------------------------------------------------------
def test_unknown_host_feature():
    e = bad("host.features.TURBO", lambda: dict(host=Host(features={"TURBO": True})))
    assert "unknown feature" in e.problem
    bad("host.features.PLACE_LAG", lambda: dict(host=Host(features={"PLACE_LAG": 1})))
    bad("host.features", lambda: dict(host=Host(features=["PLACE_LAG"])))


@pytest.mark.parametrize("field,value", [
    ("cpus", 0), ("cpus", 4097), ("hz", 0), ("hz", 10001), ("preempt", "voluntary"),
    ("base_slice_ns", 0), ("slice_scaling", "quadratic"), ("rt_guard", "dl"),
    ("fair_server_period_ns", 0), ("rt_period_ns", 0), ("rr_timeslice_ms", 0),
    ("nohz_idle", 1), ("context_switch_ns", -1), ("cpus", "4"),
])
def test_bad_host_fields(field, value):
    e = bad(f"host.{field}", lambda: dict(host=Host(**{field: value})))
    assert e.value == value


def test_fair_server_runtime_above_period():
    bad("host.fair_server_runtime_ns", lambda: dict(host=Host(fair_server_runtime_ns=2_000_000_000)))
    bad("host.rt_runtime_ns", lambda: dict(host=Host(rt_runtime_ns=2_000_000_000)))


def test_host_must_be_host():
    e = err(lambda: Scenario(host={"cpus": 4}, tasks=[Task("t", Hog())]))
    assert e.path == "host"


def test_vms_entries_are_checked():
    # VMs were first rejected as not modelled; now they are validated as VM objects. Either
    # way a bad entry must not pass silently.
    with pytest.raises((NotModelledError, ScenarioError)) as ei:
        Scenario(tasks=[Task("t", Hog())], vms=[{"name": "x"}])
    if isinstance(ei.value, ScenarioError):
        assert ei.value.path.startswith("vms[0]")


# ------------------------------------------------------------------------------------------
# TOML and dicts
# ------------------------------------------------------------------------------------------
GOOD = """
duration_ns = 5000000
seed = 3
[host]
cpus = 2
[[cgroups]]
name = "a"
weight = 200
[[tasks]]
name = "t"
cgroup = "a"
[tasks.workload]
kind = "hog"
"""


def test_toml_good():
    sc = Scenario.from_toml(GOOD)
    assert sc.host.cpus == 2 and sc.cgroups[0].weight == 200 and sc.seed == 3
    r = Simulation(sc).run()
    assert r.task("t").cpu_ns == 5_000_000


@pytest.mark.parametrize("text,path", [
    ("bogus = 1\n" + GOOD, "<string>: bogus"),
    (GOOD.replace("cpus = 2", "cpus = 2\nsmt = true"), "<string>: host.smt"),
    (GOOD.replace('weight = 200', 'weight = 200\ncolour = "red"'), "<string>: cgroups[0].colour"),
    (GOOD.replace('cgroup = "a"', 'cgroup = "a"\npriority = 3'), "<string>: tasks[0].priority"),
    (GOOD.replace('kind = "hog"', 'kind = "hog"\nrun_ns = 5'), "<string>: tasks[0].workload.run_ns"),
    (GOOD.replace('kind = "hog"', 'kind = "spin"'), "<string>: tasks[0].workload.kind"),
    (GOOD.replace("cpus = 2", 'cpus = "2"'), "<string>: host.cpus"),
    (GOOD.replace("seed = 3", "seed = 3.5"), "<string>: seed"),
    (GOOD.replace("weight = 200", "weight = 0"), "<string>: cgroups[0].weight"),
    (GOOD.replace('name = "t"', 'name = "t"\nnice = "low"'), "<string>: tasks[0].nice"),
    (GOOD.replace('name = "t"\n', ''), "<string>: tasks[0].name"),
    (GOOD.replace("[tasks.workload]\nkind = \"hog\"", "workload = 5"), "<string>: tasks[0].workload"),
    ('tasks = 5\n', "<string>: tasks"),
    ('host = 5\n[[tasks]]\nname="t"\n[tasks.workload]\nkind="hog"\n', "<string>: host"),
])
def test_toml_errors_name_the_key(text, path):
    e = err(lambda: Scenario.from_toml(text))
    assert e.path == path, str(e)


def test_toml_malformed():
    e = err(lambda: Scenario.from_toml("[host\ncpus = 2\n"))
    assert e.path == "<string>"
    assert "malformed TOML" in e.problem


def test_toml_file_errors_name_the_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(GOOD.replace("cpus = 2", "cpus = 0"))
    e = err(lambda: Scenario.from_toml(str(p)))
    assert e.path == f"{p}: host.cpus"
    p.write_text(GOOD)
    assert Scenario.from_toml(p, is_path=True).host.cpus == 2


def _rich():
    return Scenario(
        host=Host(cpus=3, hz=250, preempt="lazy", features={"DELAY_DEQUEUE": False, "NEXT_BUDDY": True},
                  rt_guard="rt_throttle", context_switch_ns=1_000),
        cgroups=[Cgroup("a", weight=300), Cgroup("a1", parent="a", weight=7), Cgroup("bg", idle=True)],
        tasks=[Task("h", Hog(), nice=-3, count=2, cpus=[0, 2]),
               Task("p", Periodic(run_ns=10_000, period_ns=1_000_000, jitter_ns=5, run_jitter_ns=6, offset_ns=7),
                    cgroup="a1", slice_ns=200_000),
               Task("c", Cyclictest(interval_ns=500_000, work_ns=3_000), policy="fifo", rt_priority=42),
               Task("r", RunSleep(run_ns=1, sleep_ns=2, run_jitter_ns=3, sleep_jitter_ns=4), policy="rr",
                    rt_priority=1, start_ns=9),
               Task("ph", Phases([("run", 5), ("sleep", 6), ("yield",), ("timer", 1_000)], loops=4),
                    cgroup="bg", policy="idle"),
               Task("b", Hog(), policy="batch", nice=19)],
        duration_ns=123_456_789, seed=2**63 + 5, shuffle_ties=True, check_invariants=True)


def test_toml_round_trip():
    pytest.importorskip("tomli_w")
    sc = _rich()
    text = sc.to_toml()
    back = Scenario.from_toml(text)
    assert back.to_dict() == sc.to_dict()
    assert back.to_toml() == text


def test_dict_round_trip_and_same_engine_input():
    sc = _rich()
    back = Scenario.from_dict(copy.deepcopy(sc.to_dict()))
    assert back.to_dict() == sc.to_dict()
    k1, n1, c1 = sc.compile()
    k2, n2, c2 = back.compile()
    assert n1 == n2 and c1 == c2
    assert k1.keys() == k2.keys()
    for k in k1:
        if isinstance(k1[k], np.ndarray):
            assert np.array_equal(k1[k], k2[k]), k
        else:
            assert k1[k] == k2[k], k


def test_from_dict_prefixes_source():
    e = err(lambda: Scenario.from_dict({"tasks": [], "seed": -1}, source="x.toml"))
    assert e.path == "x.toml: seed"
    e = err(lambda: Scenario.from_dict([1, 2]))
    assert e.path == "<root>"


# ------------------------------------------------------------------------------------------
# the low-level Engine validates its arrays
# ------------------------------------------------------------------------------------------
def _kwargs(**sc):
    sc.setdefault("host", Host(cpus=4))
    sc.setdefault("cgroups", [Cgroup("g")])
    sc.setdefault("tasks", [Task("a", Phases([("run", 1000), ("sleep", 1000)], loops=3), cgroup="g"),
                            Task("b", RunSleep(), cpus=[1, 3]), Task("c", Hog(), policy="fifo", rt_priority=3)])
    return Scenario(**sc).compile()[0]


def _engine(kw):
    from pvsched._core import Engine
    return Engine(**kw)


def test_engine_accepts_compiled_kwargs():
    e = _engine(_kwargs())
    assert e.run(10_000_000) > 0
    with pytest.raises(ValueError):
        e.run(5_000_000)                    # before the current time


def _corrupt(fn):
    kw = copy.deepcopy(_kwargs())
    fn(kw)
    with pytest.raises(ValueError):
        _engine(kw)


def test_engine_rejects_loop_target_out_of_range():
    from pvsched._core import OPS

    def f(kw):
        ops = kw["ops"]
        rows = [i for i in range(len(ops)) if ops[i, 0] == OPS["loop"]]
        assert rows
        ops[rows[0], 1] = 1000
    _corrupt(f)


def test_engine_rejects_bad_ops():
    def code(kw):
        kw["ops"][0, 0] = 99
    _corrupt(code)

    def neg(kw):
        kw["ops"][0, 1] = -1
    _corrupt(neg)


def test_engine_rejects_task_tg_out_of_range():
    def f(kw):
        kw["task_tg"][0] = len(kw["tg_parent"])
    _corrupt(f)

    def g(kw):
        kw["task_tg"][1] = -1
    _corrupt(g)


def test_engine_rejects_affinity_beyond_ncpu():
    def f(kw):
        kw["task_affinity"][0, 0] |= np.uint64(1 << 4)      # CPU 4 on a 4-CPU host
    _corrupt(f)

    def empty(kw):
        kw["task_affinity"][1, 0] = 0
    _corrupt(empty)


def test_engine_rejects_bad_task_arrays():
    def nice(kw):
        kw["task_nice"][0] = 25
    _corrupt(nice)

    def pol(kw):
        kw["task_policy"][0] = 9
    _corrupt(pol)

    def rt(kw):
        kw["task_rt_prio"][2] = 0
    _corrupt(rt)

    def start(kw):
        kw["task_start_ns"][0] = -5
    _corrupt(start)

    def prog(kw):
        kw["task_prog_len"][0] = 10_000
    _corrupt(prog)

    def progstart(kw):
        kw["task_prog_start"][0] = -1
    _corrupt(progstart)

    def slc(kw):
        kw["task_slice_ns"][0] = 5
    _corrupt(slc)

    def length(kw):
        kw["task_nice"] = kw["task_nice"][:-1]
    _corrupt(length)


def test_engine_rejects_bad_groups():
    def parent(kw):
        kw["tg_parent"][1] = 1          # must be an earlier group
    _corrupt(parent)

    def shares(kw):
        kw["tg_shares"][1] = 0
    _corrupt(shares)

    def shares_big(kw):
        kw["tg_shares"][1] = (1 << 18 << 10) + 1
    _corrupt(shares_big)

    def lens(kw):
        kw["tg_idle"] = kw["tg_idle"][:1]
    _corrupt(lens)


def test_engine_rejects_bad_scalars():
    for k, v in (("ncpu", 0), ("hz", 0), ("base_slice_ns", 0), ("rt_guard", "bogus"), ("ctx_switch_ns", -1)):
        kw = _kwargs()
        kw[k] = v
        with pytest.raises(ValueError):
            _engine(kw)


def test_exports():
    for name in ("Scenario", "Host", "Cgroup", "Task", "Simulation", "Result", "LatencyHistogram",
                 "ScenarioError", "NotModelledError", "workloads", "KERNEL_VERSION"):
        assert hasattr(pvsched, name)
    assert pvsched.KERNEL_VERSION == "v6.15"
