"""Scenario.from_toml tells a path from TOML text without guessing from the file system, takes a
pathlib.Path, and reports a missing file, a directory or a non-UTF-8 file as what it is (items 11
and 12 of the first-contact issue)."""
import os
from pathlib import Path

import pytest

from pvsched import Scenario, ScenarioError
from pvsched.scenario.toml_io import looks_like_toml_text
from pvsched.sweep import load_sweep_file

GOOD = '[[tasks]]\nname = "h"\nworkload = { kind = "hog" }\n'


def test_missing_path_is_a_missing_file_not_malformed_toml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ScenarioError) as e:
        Scenario.from_toml("examples/typo.toml")
    msg = str(e.value)
    assert msg.startswith("examples/typo.toml: no such file") and "malformed" not in msg
    assert "expected a scenario TOML file" in msg and str(tmp_path) in msg


def test_pathlib_path_is_a_path(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(GOOD)
    assert Scenario.from_toml(p).tasks[0].name == "h"
    with pytest.raises(ScenarioError, match="no such file"):
        Scenario.from_toml(tmp_path / "nope.toml")


def test_a_directory_says_a_file_was_expected(tmp_path):
    with pytest.raises(ScenarioError, match="is a directory; expected a scenario TOML file"):
        Scenario.from_toml(tmp_path)
    with pytest.raises(ScenarioError, match="is a directory; expected a sweep TOML file"):
        load_sweep_file(tmp_path)


def test_not_utf8(tmp_path):
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00duration_ns = 1\n")
    with pytest.raises(ScenarioError, match="is not UTF-8 text"):
        Scenario.from_toml(p)


@pytest.mark.parametrize("s,text", [("examples/x.toml", False), ("x.toml", False), ("run1", False),
                                    ("a=b.toml", False), ("duration_ns = 5", True), ("[host]", True),
                                    ("# nothing", True), ("", True), (GOOD, True)])
def test_text_or_path_rule(s, text):
    assert looks_like_toml_text(s) is text


def test_one_line_text_and_forced_readings(tmp_path):
    with pytest.raises(ScenarioError, match="needs at least one task"):
        Scenario.from_toml("duration_ns = 5")            # text: parsed, then validated
    p = tmp_path / "duration_ns = 5"                     # a file whose name looks like TOML
    p.write_text(GOOD)
    os.chdir(tmp_path)
    try:
        assert Scenario.from_toml("duration_ns = 5", is_path=True).tasks[0].name == "h"
    finally:
        os.chdir(Path(__file__).parent)
    assert Scenario.from_toml(GOOD.encode()).tasks[0].name == "h"
    with pytest.raises(ScenarioError, match="must be a TOML file path"):
        Scenario.from_toml(42)


def test_text_round_trip_still_works():
    sc = Scenario.from_toml(GOOD)
    assert Scenario.from_toml(sc.to_toml()) == sc
