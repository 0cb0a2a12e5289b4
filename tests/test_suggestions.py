"""Unknown keys and names suggest the nearest valid one; a sweep file given as a scenario says so
(item 10 of the first-contact issue)."""
import os

import pytest

from pvsched import Scenario, ScenarioError
from pvsched.sweep import load_sweep_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASK = '[[tasks]]\nname = "h"\nworkload = { kind = "hog" }\n'


@pytest.mark.parametrize("text,expect", [
    ('durration_ns = 5\n' + TASK, "did you mean 'duration_ns'?"),
    ('[host]\ncpu = 2\n' + TASK, "did you mean 'cpus'?"),
    ('[host.features]\nDELAY_DEQEUE = false\n' + TASK, "unknown feature; did you mean 'DELAY_DEQUEUE'?"),
    ('[[tasks]]\nname = "c"\nworkload = { kind = "cyclictst", interval_ns = 1000000 }\n',
     "unknown workload; did you mean 'cyclictest'?"),
    ('[[tasks]]\nname = "c"\nworkload = { kind = "cyclictest", interval = 1000000 }\n',
     "did you mean 'interval_ns'?"),
    ('[[vms]]\nname = "v"\nhalt_pol_ns = 0\n[[vms.tasks]]\nname = "g"\nworkload = { kind = "hog" }\n',
     "vms[0].halt_pol_ns = 0: unknown key; did you mean 'halt_poll_ns'?"),
    ('[[vms]]\nname = "v"\nboost = { mode = "dynamc" }\n[[vms.tasks]]\nname = "g"\nworkload = { kind = "hog" }\n',
     "did you mean 'dynamic'?"),
])
def test_unknown_names_suggest_the_nearest(text, expect):
    with pytest.raises(ScenarioError) as e:
        Scenario.from_toml(text)
    assert expect in str(e.value)


def test_no_suggestion_when_nothing_is_close():
    with pytest.raises(ScenarioError) as e:
        Scenario.from_toml('zzzzzz = 1\n' + TASK)
    assert "did you mean" not in str(e.value) and "known:" in str(e.value)


def test_a_sweep_file_loaded_as_a_scenario_says_what_it_is():
    with pytest.raises(ScenarioError, match="this is a sweep file.*pvsched sweep"):
        Scenario.from_toml(os.path.join(ROOT, "examples", "sweep_busy_host.toml"))


def test_sweep_file_key_typo(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text('scenario = "x.toml"\nseed = 3\n')
    with pytest.raises(ScenarioError, match="did you mean 'seeds'"):
        load_sweep_file(p)
