"""``phoenix simulate --replay DATA_DIR``: a recorded history re-run through another strategy.

Reads the data dir's journal offline with the store's reader (the daemon may keep running:
nothing is written), replays its membership and packet events on the core
(phoenixd/sim/replay.py), and prints the recorded figures beside the replay's and the
packets that would have ended with another owner.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
from pathlib import Path

from phoenixd.cli.output import Printer
from phoenixd.core.packets import Strategy
from phoenixd.sim.observer import StepFigures
from phoenixd.sim.replay import ReplayResult, replay
from phoenixd.store import read_events, verify_journal

JOURNAL = "audit.jsonl"  # the journal inside a data dir

__all__ = ["add_flags", "run_replay"]

# Figures shown side by side (every figure is in -o json and -o csv).
FIGURES = (("active members", "active"), ("owned packets", "owned"),
           ("waiting packets", "waiting"), ("load std", "load_std"), ("load cv", "load_cv"),
           ("max / avg", "max_avg"), ("Jain", "jain"), ("trust", "trust"),
           ("migrations", "migrations"), ("decisions", "decisions"))
LISTED = 20


def _journal(path: Path) -> Path:
    journal = path / JOURNAL if path.is_dir() else path
    if not journal.is_file():
        raise FileNotFoundError(f"--replay: no journal at {journal} (give a data dir or its "
                                f"{JOURNAL})")
    return journal


def run_replay(printer: Printer, path: Path, strategy: Strategy) -> int:
    journal = _journal(path)
    report = verify_journal(journal)
    events = read_events(journal)
    result = replay(events, strategy)
    if not report.ok:
        print(f"phoenix: {journal}: {report.problem} at sequence {report.bad_sequence}; "
              f"replaying the {len(events)} events before it", file=sys.stderr)
    name = printer.format.name
    if name == "json":
        printer.data({"journal": str(journal), **result.to_dict()})
    elif name == "csv":
        _csv(printer, result)
    else:
        _table(printer, journal, result)
    return 0


def _csv(printer: Printer, result: ReplayResult) -> None:
    writer = csv.writer(printer.out, lineterminator="\n")
    writer.writerow(["metric", "recorded", "replay"])
    for f in dataclasses.fields(StepFigures):
        writer.writerow([f.name, getattr(result.recorded, f.name),
                         getattr(result.replay, f.name)])


def _table(printer: Printer, journal: Path, result: ReplayResult) -> None:
    replayed = sum(result.replayed.values())
    printer.write(f"replayed {replayed} of {result.events_read} recorded events from {journal} "
                  f"through {result.strategy} placement ({result.refused} refused)")
    printer.write("")
    printer.table(["FIGURE", "RECORDED", f"REPLAY ({result.strategy.upper()})"],
                  [[label, _number(getattr(result.recorded, key)),
                    _number(getattr(result.replay, key))] for label, key in FIGURES] +
                  [["owner changes", str(result.recorded_moves), str(result.replay_moves)]])
    printer.write("")
    printer.write(f"{result.differing} packet(s) would have ended with another owner"
                  + (f", the first {LISTED}:" if result.differing > LISTED
                     else ":" if result.differing else ""))
    if result.placed_differently:
        printer.table(["PACKET", "RECORDED", "REPLAY"],
                      [[p, r or "(none)", s or "(none)"] for p, (r, s)
                       in list(result.placed_differently.items())[:LISTED]])


def _number(value: float) -> str:
    return f"{value:d}" if isinstance(value, int) else f"{value:.4f}"


def add_flags(p: argparse.ArgumentParser) -> None:
    """Add --replay and --strategy to ``phoenix simulate``."""
    p.add_argument("--replay", metavar="DATA_DIR",
                   help="re-run a data dir's recorded membership and packet events (or an "
                   "audit.jsonl) through --strategy, offline, and report what would differ")
    p.add_argument("--strategy", choices=[str(s) for s in Strategy], default=None,
                   help="the placement a --replay uses (default trust)")
