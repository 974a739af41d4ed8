"""Scenario files and bounds: a good file loads; a bad one is refused naming the file, the
field and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from phoenixd.sim import MAX_MEMBERS, ChurnSpec, Scenario, ScenarioError, load_scenario
from phoenixd.sim.scenario import scenario_from_mapping


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_toml_and_yaml_give_the_same_scenario(tmp_path: Path) -> None:
    toml = _file(tmp_path, "s.toml", """
mode = "agentic"
preset = "unreliable-agents"
steps = 5
members = 8
[[events]]
step = 2
action = "fail"
region = "zone-b"
count = 2
seconds = 15
""")
    yaml = _file(tmp_path, "s.yaml", """
mode: agentic
preset: unreliable-agents
steps: 5
members: 8
events:
  - {step: 2, action: fail, region: zone-b, count: 2, seconds: 15}
""")
    expected = Scenario(mode="agentic", preset="unreliable-agents", steps=5, members=8,
                        events=(ChurnSpec(2, "fail", count=2, region="zone-b", seconds=15.0),))
    assert load_scenario(toml) == expected
    assert load_scenario(yaml) == expected


@pytest.mark.parametrize(("text", "problem"), [
    ('steps = "x"', "s.toml: steps: must be a whole number, got 'x'"),
    ("steps = true", "s.toml: steps: must be a whole number"),
    (f"members = {MAX_MEMBERS + 1}", "s.toml: members: must be between 1 and 20,000"),
    ('mode = "mesh"', "s.toml: mode: 'mesh' is not one of ring, binpack, agentic"),
    ('preset = "chaos"', "s.toml: preset: 'chaos' is not one of steady"),
    ("colour = 1", "s.toml: colour: unknown field; a scenario takes arrivals"),
    ("heartbeat_every = 10.0", "s.toml: heartbeat_every: 10s is not below lease_ttl 10s"),
    ("members = 20000\nsteps = 2000", "s.toml: steps: members x steps is 40,000,000"),
    ("lease_ttl = nan", "s.toml: lease_ttl: must be between 1 and 3600, got nan"),
    ('[[events]]\nstep = 1\naction = "explode"',
     "s.toml: events[0].action: 'explode' is not one of join, retire"),
    ('[[events]]\naction = "join"', "s.toml: events[0].step: missing"),
    ('steps = 4\n[[events]]\nstep = 4\naction = "join"',
     "s.toml: events[0].step: must be between 0 and 3, got 4"),
    ('[[events]]\nstep = 1\naction = "join"\nwho = "me"', "s.toml: events[0].who: unknown"),
    ("steps = [", "s.toml: not valid TOML"),
])
def test_bad_input_is_refused_with_file_field_and_reason(
        tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as refused:
        load_scenario(_file(tmp_path, "s.toml", text))
    assert str(refused.value).startswith(str(tmp_path / problem.split(": ")[0])), refused.value
    assert problem.split(": ", 1)[1] in str(refused.value)


def test_files_it_cannot_read(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot be read"):
        load_scenario(tmp_path / "missing.toml")
    with pytest.raises(ScenarioError, match=r"ends in \.toml, \.yaml or \.yml"):
        load_scenario(_file(tmp_path, "s.json", "{}"))
    with pytest.raises(ScenarioError, match="must be a table of fields"):
        load_scenario(_file(tmp_path, "s.yaml", "- 1\n- 2\n"))


def test_flags_go_over_a_file() -> None:
    base = Scenario(mode="binpack", steps=9)
    assert scenario_from_mapping({"steps": 3}, "command line", base) == Scenario(
        mode="binpack", steps=3)
    with pytest.raises(ScenarioError, match=r"^command line: seed: "):
        scenario_from_mapping({"seed": -1}, "command line")
