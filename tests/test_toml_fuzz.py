"""Scenario files: clear errors (file, key path, problem) for malformed TOML, unknown keys, wrong
types and out-of-range values; round trips; and a seeded fuzz over random mutations of the example
files: every mutant is either a valid Scenario (which then round-trips and runs) or raises
ScenarioError / NotModelledError, never anything else."""
import math
import os
import random

import pytest
import tomli_w

from pvsched import NotModelledError, Scenario, ScenarioError, Simulation
from pvsched.fuzz import mutate_data, mutate_text

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
SCENARIO_FILES = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".toml") and not f.startswith("sweep"))


def load(path):
    with open(path, "rb") as f:
        return tomllib.load(f)


# ------------------------------------------------------------------------------------------- examples
@pytest.mark.parametrize("name", SCENARIO_FILES)
def test_examples_load_round_trip_and_run(name, tmp_path):
    sc = Scenario.from_toml(os.path.join(EXAMPLES, name))
    assert Scenario.from_toml(sc.to_toml()).to_dict() == sc.to_dict()
    assert Scenario.from_dict(sc.to_dict()) == sc
    (tmp_path / "again.toml").write_text(sc.to_toml())
    assert Scenario.from_toml(str(tmp_path / "again.toml")) == sc
    r = Simulation(sc).run(until_ns=20_000_000)
    assert r.now_ns == 20_000_000 and r.events > 0


# ----------------------------------------------------------------------------------- targeted errors
BASE = """duration_ns = 100_000_000
[host]
cpus = 2
[[cgroups]]
name = "g"
[[tasks]]
name = "t"
cgroup = "g"
workload = { kind = "periodic", run_ns = 100_000, period_ns = 1_000_000 }
[[vms]]
name = "vm"
vcpus = 2
[vms.guest]
hz = 250
[[vms.tasks]]
name = "ct"
workload = { kind = "cyclictest" }
"""


def err_of(tmp_path, text):
    f = tmp_path / "s.toml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as ei:
        Scenario.from_toml(str(f))
    e = ei.value
    assert str(e).startswith(f"{f}: "), str(e)           # names the file ...
    assert e.path.startswith(f"{f}: ")
    return e.path[len(f"{f}: "):], e


def test_base_is_valid(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(BASE)
    assert Scenario.from_toml(str(f)).vms[0].guest.hz == 250


@pytest.mark.parametrize("text", ["[host\n", "duration_ns = \n", "x = 1\nx = 2\n", "[[tasks]]\nname = 'a\n",
                                  "duration_ns = 1_\n", "\x00"])
def test_malformed_toml(tmp_path, text):
    f = tmp_path / "s.toml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as ei:
        Scenario.from_toml(str(f))
    assert ei.value.path == str(f) and "malformed TOML" in ei.value.problem
    assert "line" in ei.value.problem or "end of document" in ei.value.problem   # ... and where in it


@pytest.mark.parametrize("old,new,path", [
    ("duration_ns = 100_000_000", "duration_ns = 100_000_000\nbogus = 1", "bogus"),
    ("cpus = 2", "cpus = 2\nspeed = 3", "host.speed"),
    ('name = "g"', 'name = "g"\nshares = 3', "cgroups[0].shares"),
    ('cgroup = "g"', 'cgroup = "g"\nprio = 3', "tasks[0].prio"),
    ("period_ns = 1_000_000 }", "period_ns = 1_000_000, phase = 1 }", "tasks[0].workload.phase"),
    ("vcpus = 2", "vcpus = 2\ncores = 2", "vms[0].cores"),
    ("hz = 250", "hz = 250\ntickless = true", "vms[0].guest.tickless"),
    ('kind = "cyclictest" }', 'kind = "cyclictest", every = 5 }', "vms[0].tasks[0].workload.every"),
])
def test_unknown_keys(tmp_path, old, new, path):
    got, e = err_of(tmp_path, BASE.replace(old, new, 1))
    assert got == path and "unknown key" in e.problem and "known:" in e.problem


@pytest.mark.parametrize("old,new,path,problem", [
    ("cpus = 2", "cpus = 2.5", "host.cpus", "integer"),
    ("cpus = 2", 'cpus = "2"', "host.cpus", "integer"),
    ("cpus = 2", "cpus = true", "host.cpus", "integer"),
    ("duration_ns = 100_000_000", "duration_ns = [1]", "duration_ns", "integer"),
    ('name = "g"', "name = 7", "cgroups[0].name", "string"),
    ('cgroup = "g"', 'cgroup = "g"\nnice = "low"', "tasks[0].nice", "integer"),
    ('cgroup = "g"', 'cgroup = "g"\npolicy = 1', "tasks[0].policy", "one of"),
    ('cgroup = "g"', 'cgroup = "g"\ncpus = 0', "tasks[0].cpus", "list"),
    ("run_ns = 100_000", 'run_ns = "fast"', "tasks[0].workload.run_ns", "integer"),
    ("vcpus = 2", "vcpus = 2\nhlt_exits = 1", "vms[0].hlt_exits", "true or false"),
    ("hz = 250", "hz = 250.0", "vms[0].guest.hz", "integer"),
    ("[host]", "host = 3\n[hostx]", "host", None),
])
def test_wrong_types(tmp_path, old, new, path, problem):
    text = BASE.replace(old, new, 1)
    if path == "host":
        text = "host = 3\n" + BASE.split("[host]\ncpus = 2\n", 1)[1]
    got, e = err_of(tmp_path, text)
    assert got == path
    if problem:
        assert problem in e.problem


@pytest.mark.parametrize("old,new,path,problem", [
    ("cpus = 2", "cpus = 0", "host.cpus", ">= 1"),
    ("cpus = 2", "cpus = 100000", "host.cpus", "<= 4096"),
    ("duration_ns = 100_000_000", "duration_ns = -1", "duration_ns", ">= 1"),
    ('name = "g"', 'name = "g"\nweight = 0', "cgroups[0].weight", ">= 1"),
    ('name = "g"', 'name = "g"\nweight = 10001', "cgroups[0].weight", "<= 10000"),
    ('cgroup = "g"', 'cgroup = "g"\nnice = -21', "tasks[0].nice", ">= -20"),
    ('cgroup = "g"', 'cgroup = "g"\ncpus = [5]', "tasks[0].cpus", "<= 1"),
    ('cgroup = "g"', 'cgroup = "g"\ncount = 0', "tasks[0].count", ">= 1"),
    ("period_ns = 1_000_000", "period_ns = 0", "tasks[0].workload.period_ns", ">= 1"),
    ("vcpus = 2", "vcpus = 0", "vms[0].vcpus", ">= 1"),
    ("vcpus = 2", "vcpus = 2\npin = [0, 2]", "vms[0].pin[1]", "<= 1"),
    ("hz = 250", "hz = 0", "vms[0].guest.hz", ">= 1"),
    ('kind = "cyclictest" }', 'kind = "cyclictest" }\ncpus = [2]', "vms[0].tasks[0].cpus", "<= 1"),
    ('cgroup = "g"', 'cgroup = "nope"', "tasks[0].cgroup", "names no cgroup"),
])
def test_out_of_range(tmp_path, old, new, path, problem):
    got, e = err_of(tmp_path, BASE.replace(old, new, 1))
    assert got == path and problem in e.problem


def test_from_toml_text_names_string_source():
    with pytest.raises(ScenarioError) as ei:
        Scenario.from_toml("[host]\ncpus = -1\n[[tasks]]\nname='a'\nworkload={kind='hog'}\n")
    assert ei.value.path == "<string>: host.cpus"


# ----------------------------------------------------------------------------------------------- fuzz
VALUES = [0, 1, -1, 2, 3, 7, 64, 4097, 10**6, 10**12, -10**12, 2**63 - 1, -2**63, 0.5, -1.0, 1e300, math.inf,
          math.nan, True, False, "", "x", "hog", "g", "fifo", "rr", "normal", "lazy", "vm", "periodic", "a/b",
          [], [0], [1, 0], [0, 1, 2, 3], ["x"], [[1]], [{"kind": "hog"}], {}, {"kind": "hog"}, {"kind": "bogus"},
          {"name": "x"}, {"name": "x", "workload": {"kind": "hog"}}]
KEYS = ["bogus", "name", "cpus", "count", "nice", "weight", "parent", "kind", "vcpus", "tasks", "workload",
        "pin", "guest", "hz", "policy", "rt_priority", "features", "slice_ns", "DELAY_DEQUEUE", "cgroup"]


def _mutate(d, rng):
    """Apply one random mutation in place; return a description."""
    return mutate_data(d, rng, VALUES, KEYS)


CASES_PER_FILE = 120
#: Fuzz cases that hit a bug outside the scenario/CLI layer, marked xfail(strict=True) until it is
#: fixed: {(file, case): reason}. Case numbers depend on the example files' contents. (The first
#: run found unhashable TOML values -- an array or table as a workload kind, cgroup parent or cgroup
#: name -- raising TypeError; fixed in scenario.py/workloads.py, now a regression test below.)
KNOWN_BUGS = {}


def _case_params():
    out = []
    for name in SCENARIO_FILES:
        for i in range(CASES_PER_FILE):
            marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[(name, i)])] if (name, i) in KNOWN_BUGS else []
            out.append(pytest.param(name, i, marks=marks, id=f"{name}-{i}"))
    return out


def _small(sc):
    threads = sum(t.count for t in sc.tasks) + sum(vm.vcpus + sum(t.count for t in vm.tasks) for vm in sc.vms)
    return sc.host.cpus <= 64 and threads <= 512 and all(vm.vcpus <= 64 for vm in sc.vms)


@pytest.mark.parametrize("name,case", _case_params())
def test_fuzz_mutated_examples(tmp_path, name, case):
    src = os.path.join(EXAMPLES, name)
    rng = random.Random(f"{name}:{case}")
    if case % 4 == 3:                                    # text-level: mostly malformed TOML
        with open(src) as f:
            text, what = mutate_text(f.read(), rng)
    else:                                               # structure-level: keys, values, types
        d = load(src)
        what = "; ".join(_mutate(d, rng) for _ in range(rng.choice([1, 1, 2, 3])))
        try:
            text = tomli_w.dumps(d)
        except (TypeError, ValueError):                  # not representable in TOML: nothing to test
            pytest.skip(f"not TOML-representable: {what}")
    f = tmp_path / name
    f.write_text(text)
    try:
        sc = Scenario.from_toml(str(f))
    except ScenarioError as e:
        assert str(e).startswith(f"{f}"), f"{what}: error does not name the file: {e}"
        assert e.path and e.problem, what
        return
    except NotModelledError:
        return
    except Exception as e:
        pytest.fail(f"{what}: Scenario.from_toml raised {type(e).__name__}: {e}")
    # a valid scenario: it round-trips, and a short run neither raises nor crashes
    assert Scenario.from_toml(sc.to_toml()).to_dict() == sc.to_dict(), what
    if _small(sc):
        try:
            r = Simulation(sc).run(until_ns=min(sc.duration_ns, 5_000_000))
        except (ScenarioError, NotModelledError):
            return
        except Exception as e:
            pytest.fail(f"{what}: a valid scenario failed to run: {type(e).__name__}: {e}")
        assert r.now_ns == min(sc.duration_ns, 5_000_000), what


@pytest.mark.parametrize("text", [
    pytest.param("[[tasks]]\nname='a'\nworkload={kind=[0]}\n", id="workload-kind-array"),
    pytest.param("[[tasks]]\nname='a'\nworkload={kind={x=1}}\n", id="workload-kind-table"),
    pytest.param("[[cgroups]]\nname='g'\nparent=[0]\n[[tasks]]\nname='a'\nworkload={kind='hog'}\n", id="cgroup-parent-array"),
    pytest.param("[[tasks]]\nname='a'\ncgroup=['g']\nworkload={kind='hog'}\n", id="task-cgroup-array"),
    pytest.param("[[vms]]\nname='v'\ncgroup={x=1}\n", id="vm-cgroup-table"),
    pytest.param("[[tasks]]\nname='a'\nworkload={kind='phases', phases=3}\n", id="phases-not-a-list"),
])
def test_unhashable_name_values_are_scenario_errors(text):
    # found by the fuzz: `x not in dict` on a TOML array/table raised TypeError
    with pytest.raises(ScenarioError) as ei:
        Scenario.from_toml(text)
    assert ei.value.path.startswith("<string>: ") and ("kind" in ei.value.path or "cgroup" in ei.value.path
                                                        or "parent" in ei.value.path or "phases" in ei.value.path)
