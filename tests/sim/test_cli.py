"""``phoenix simulate`` as a subprocess at tiny sizes: its outputs, its refusals, and that it
writes nothing."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

from tests.api.cli import CLI, phoenix

TINY = ("--steps", "4", "--members", "6", "--packets", "20")


def test_table_shows_each_step_and_the_run(tmp_path: Path) -> None:
    out = subprocess.run([*CLI, "simulate", "--preset", "zone-outage", *TINY], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.startswith("simulated zone-outage in ring mode (ring placement)")
    assert "STEP  ACTIVE  JOINS  LEAVES" in out
    assert "fencing rejections:" in out and "audit chain head:" in out
    assert list(tmp_path.iterdir()) == []  # nothing written, no data dir made


def test_json_and_csv_carry_the_same_steps() -> None:
    doc = json.loads(phoenix(None, "simulate", "--mode", "agentic", *TINY, "-o", "json").stdout)
    rows = list(csv.DictReader(io.StringIO(
        phoenix(None, "simulate", "--mode", "agentic", *TINY, "-o", "csv").stdout)))
    assert doc["scenario"]["mode"] == "agentic" and doc["strategy"] == "trust"
    assert len(doc["steps"]) == len(rows) == 4
    assert [int(r["events"]) for r in rows] == [s["events"] for s in doc["steps"]]
    assert len(doc["chain"]["head_hash"]) == 64


def test_the_preset_picks_its_mode() -> None:
    doc = json.loads(phoenix(None, "simulate", "--preset", "capacity-pressure", *TINY,
                             "-o", "json").stdout)
    assert (doc["scenario"]["mode"], doc["strategy"]) == ("binpack", "binpack")


def test_a_scenario_file_with_flags_over_it(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("mode: ring\nsteps: 3\nmembers: 5\npackets: 10\n"
                    "events:\n  - {step: 1, action: retire, member: m-00002}\n")
    doc = json.loads(phoenix(None, "simulate", "--scenario", str(path), "--seed", "3",
                             "-o", "json").stdout)
    assert doc["scenario"]["seed"] == 3 and doc["run"]["leaves"] == 1


def test_compare_prints_strategies_side_by_side() -> None:
    out = phoenix(None, "simulate", "--mode", "agentic", *TINY, "--compare", "ring,trust").stdout
    assert "METRIC" in out and "RING" in out and "TRUST" in out
    assert "packets placed differently (owners in order)" in out


def test_bad_input_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('steps = 3\n[[events]]\nstep = 1\naction = "retire"\nmember = "m-09999"\n')
    refused = phoenix(None, "simulate", "--scenario", str(path), expect=2).stderr
    assert "m-09999" in refused and "has not joined" in refused
    assert "command line: steps: must be between 1 and 10,000, got 0" in phoenix(
        None, "simulate", "--steps", "0", expect=2).stderr
    assert "--compare takes two or more of" in phoenix(
        None, "simulate", "--compare", "ring,rng", expect=2).stderr
    assert "simulate prints table, json or csv" in phoenix(
        None, "simulate", "-o", "yaml", expect=2).stderr
    assert "add '+learned' to the strategies that should" in phoenix(
        None, "simulate", "--compare", "ring,trust", "--learn-reliability", expect=2).stderr
    assert "each optionally with '+learned'" in phoenix(
        None, "simulate", "--compare", "trust,trust+learnt", expect=2).stderr


def test_compare_with_learning_off_and_on() -> None:
    out = phoenix(None, "simulate", "--preset", "unreliable-agents", *TINY, "--compare",
                  "trust,trust+learned").stdout
    assert "TRUST+LEARNED" in out and "attempt_success_rate" in out


def test_charts_are_written_where_asked(tmp_path: Path) -> None:
    done = subprocess.run([*CLI, "simulate", "--preset", "zone-outage", *TINY, "-o", "json",
                           "--charts", "out/charts"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=True)
    assert json.loads(done.stdout)["run"]["steps"] == 4  # stdout is still the JSON alone
    names = sorted(p.name for p in (tmp_path / "out" / "charts").iterdir())
    assert names == ["churn.png", "efficiency.png", "loads.png", "relocations.png", "ring.png"]
    shown = ", ".join(f"out/charts/{n}.png"
                      for n in ("efficiency", "churn", "relocations", "ring", "loads"))
    assert done.stderr == f"charts: {shown}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_compare_draws_the_strategies_together(tmp_path: Path) -> None:
    phoenix(None, "simulate", "--mode", "agentic", *TINY, "--compare", "ring,trust",
            "--charts", str(tmp_path))
    assert len(list(tmp_path.glob("*.png"))) == 5


def test_charts_without_matplotlib_say_which_extra(tmp_path: Path) -> None:
    # A matplotlib that cannot be imported, ahead of the real one on the path.
    (tmp_path / "matplotlib").mkdir()
    (tmp_path / "matplotlib" / "__init__.py").write_text("raise ImportError('absent')\n")
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    refused = phoenix(None, "simulate", *TINY, "--charts", str(tmp_path / "charts"),
                      expect=2, env={"PYTHONPATH": path}).stderr
    assert "charts need matplotlib" in refused and "pip install 'phoenixd[plots]'" in refused
    assert not (tmp_path / "charts").exists()  # refused before the run, nothing written
    # Without --charts, simulate does not need it.
    phoenix(None, "simulate", *TINY, env={"PYTHONPATH": path})


def test_charts_into_a_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("mine\n")
    refused = phoenix(None, "simulate", *TINY, "--charts", str(tmp_path / "taken"),
                      expect=2).stderr
    assert "taken: not a directory" in refused
    assert (tmp_path / "taken").read_text() == "mine\n"


def test_no_progress_bar_off_a_terminal() -> None:
    assert phoenix(None, "simulate", "--preset", "flapping", *TINY).stderr == ""
