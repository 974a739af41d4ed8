"""``phoenix simulate``: run phoenixd's core on a virtual clock through a churn preset, offline.

Never opens a connection, and writes no file unless asked for charts: the run's journal
lives in memory. The figures per step and for the run print as a table, or as JSON or CSV
(``-o``); ``--compare`` runs one event stream through several strategies and prints them
side by side; ``--charts DIR`` draws them as PNGs (the ``plots`` extra).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from phoenixd.cli.output import Printer
from phoenixd.cli.progress import progress
from phoenixd.cli.replay_commands import add_flags, run_replay
from phoenixd.core.packets import Strategy
from phoenixd.sim import (
    LEARNED,
    MODES,
    PRESETS,
    Comparison,
    Scenario,
    ScenarioError,
    SimResult,
    StepFigures,
    charts,
    compare,
    load_scenario,
    scenario_from_mapping,
    simulate,
    variant,
)

__all__ = ["add_commands"]

Adder = Callable[..., argparse.ArgumentParser]
FLAGS = ("mode", "preset", "steps", "seed", "members", "packets", "step_seconds",
         "learn_reliability")
# Per-step columns of the table (every figure is in -o json and -o csv).
COLUMNS = (
    ("STEP", "step", "d"), ("ACTIVE", "active", "d"), ("JOINS", "joins", "d"),
    ("LEAVES", "leaves", "d"), ("MCR/H", "mcr", ".1f"), ("SI", "si", ".4f"),
    ("DHS", "dhs", ".1%"), ("OWNED", "owned", "d"), ("WAITING", "waiting", "d"),
    ("CV", "load_cv", ".3f"), ("MAX/AVG", "max_avg", ".2f"), ("JAIN", "jain", ".3f"),
    ("REMAPPED", "remapped", "d"), ("FRACTION", "remap_fraction", ".4f"),
    ("IDEAL", "ideal_fraction", ".4f"), ("MIGRATED", "migrations", "d"),
    ("DONE", "completed", "d"), ("FAILED", "failed", "d"), ("POISONED", "poisoned", "d"),
    ("FENCED", "fencing_rejections", "d"),
)
RUN_ROWS: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
    ("joins / leaves", lambda r: f"{r['joins']} / {r['leaves']} over "
                                 f"{r['virtual_hours']:g} virtual hours"),
    ("MCR / WMCR", lambda r: f"{r['mcr']:.4f} / {r['wmcr']:.4f} per hour"),
    ("SI", lambda r: f"{r['si']:.4f}"),
    ("trust / compliance", lambda r: f"{r['trust']:.4f} / {r['compliance']:.4f}"),
    ("DHS", lambda r: f"{r['dhs']:.1%}"),
    ("load cv / max-avg / Jain", lambda r: f"{r['load_cv']:.4f} / {r['max_avg']:.3f} / "
                                           f"{r['jain']:.4f}"),
    ("remap fraction / ideal", lambda r: f"{r['remap_fraction_mean']:.4f} / "
                                         f"{r['ideal_fraction_mean']:.4f} (mean per moving step)"),
    ("overhead ratio", lambda r: f"{r['overhead_ratio_mean']:.4f} (moved / owned, per step)"),
    ("migrations", lambda r: f"{r['migrations']}"),
    ("tasks done / failed / poisoned", lambda r: f"{r['completed']} / {r['failed']} / "
                                                 f"{r['poisoned']}{_success(r)}"),
    ("time to completion", lambda r: f"mean {r['completion_mean_s']:.2f} s, p50 "
                                     f"{r['completion_p50_s']:g} s, p99 "
                                     f"{r['completion_p99_s']:g} s" if r["completed"]
                                     else "no task completed"),
    ("fencing rejections", lambda r: f"{r['fencing_rejections']}"),
    ("handoff p50 / p99", lambda r: f"{r['handoff_p50_ms']:.3f} / {r['handoff_p99_ms']:.3f} ms "
                                    f"over {r['handoffs_timed']} handoffs"),
    ("decisions / events", lambda r: f"{r['decisions']} / {r['events']}"),
)


def _success(run: dict[str, Any]) -> str:
    """The two success rates, when any task ended (a ring run has none)."""
    if not run["completed"] + run["failed"] + run["poisoned"]:
        return " (no task ended)"
    return (f" (success {run['success_rate']:.1%}, per attempt "
            f"{run['attempt_success_rate']:.1%})")


def _strategies(text: str) -> list[str]:
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    known = ", ".join(str(s) for s in Strategy)
    try:
        for name in names:
            variant(name)
    except ValueError:
        names = []
    if len(names) < 2:
        raise argparse.ArgumentTypeError(
            f"--compare takes two or more of {known} (each optionally with {LEARNED!r}: "
            f"learning reliability from outcomes), comma-separated (got {text!r})")
    return names


def _scenario(a: argparse.Namespace) -> Scenario:
    """The scenario file (if any) with the flags over it. Without a file, the mode defaults
    to the one the preset is meant for."""
    base = load_scenario(Path(a.scenario)) if a.scenario else None
    flags = {name: getattr(a, name) for name in FLAGS if getattr(a, name) is not None}
    if base is None and "mode" not in flags:
        flags["mode"] = PRESETS[flags.get("preset", Scenario().preset)].mode
    return scenario_from_mapping(flags, "command line", base)


def run(_client: None, a: argparse.Namespace) -> int:
    printer: Printer = a.printer
    if printer.format.name not in ("table", "wide", "json", "csv"):
        raise ValueError(f"-o {printer.format.name}: simulate prints table, json or csv")
    if a.replay:
        if a.compare or a.scenario or a.charts is not None or a.learn_reliability:
            raise ValueError("--replay re-runs a journal through one --strategy; it takes no "
                             "--compare, --scenario, --charts or --learn-reliability (it "
                             "applies the learned figures the journal recorded)")
        return run_replay(printer, Path(a.replay), Strategy(a.strategy or "trust"))
    if a.strategy:
        raise ValueError("--strategy chooses the placement of a --replay; for a scenario, "
                         "set its strategy field or use --compare")
    if a.compare and a.learn_reliability:
        raise ValueError(f"--compare names whether each run learns: add {LEARNED!r} to the "
                         f"strategies that should (e.g. trust,trust{LEARNED}) and leave out "
                         "--learn-reliability")
    try:
        scenario = _scenario(a)
    except ScenarioError as exc:
        raise ValueError(str(exc)) from None
    if a.charts is not None:  # refused before the run, not after it
        charts.require()
        if Path(a.charts).exists() and not Path(a.charts).is_dir():
            raise ValueError(f"--charts {a.charts}: not a directory; name a directory "
                             "(made if missing) for the PNGs")
    runs = len(a.compare) if a.compare else 1
    # The bar is gone before anything prints (it shares the terminal with stdout).
    with progress(scenario.steps * runs, f"simulating {scenario.preset}") as step:
        done: Comparison | SimResult = (compare(scenario, a.compare, progress=step)
                                        if a.compare else simulate(scenario, progress=step))
    if isinstance(done, Comparison):
        _print_comparison(printer, done)
        results = done.results
    else:
        _print_result(printer, done)
        results = (done,)
    if a.charts is not None:
        _write_charts(Path(a.charts), results)
    return 0


def _write_charts(directory: Path, results: Sequence[SimResult]) -> None:
    """Every chart as DIR/NAME.png, said on stderr (stdout stays the -o output)."""
    pictures = charts.render(results)
    directory.mkdir(parents=True, exist_ok=True)
    for name, png in pictures.items():
        (directory / f"{name}.png").write_bytes(png)
    print(f"charts: {', '.join(str(directory / f'{n}.png') for n in pictures)}",
          file=sys.stderr)


def _cell(value: Any, spec: str) -> str:
    return format(value, spec)


def _print_result(printer: Printer, result: SimResult) -> None:
    name = printer.format.name
    if name == "json":
        printer.data(result.to_dict())
        return
    if name == "csv":
        fields = [f.name for f in dataclasses.fields(StepFigures)]
        writer = csv.writer(printer.out, lineterminator="\n")
        writer.writerow(fields)
        for step in result.steps:
            writer.writerow([getattr(step, f) for f in fields])
        return
    s = result.scenario
    printer.write(f"simulated {s.preset} in {s.mode} mode ({result.strategy} placement): "
                  f"{s.members} members, {s.packets} packets, {s.steps} steps of "
                  f"{s.step_seconds:g}s, seed {s.seed}")
    printer.write("")
    printer.table([c[0] for c in COLUMNS],
                  [[_cell(getattr(step, c[1]), c[2]) for c in COLUMNS] for step in result.steps])
    printer.details([(label, show(result.run)) for label, show in RUN_ROWS] + [
        ("audit chain head", f"{result.head_hash} ({result.head_sequence} events)")])


def _print_comparison(printer: Printer, comparison: Comparison) -> None:
    name = printer.format.name
    results = comparison.results
    if name == "json":
        printer.data(comparison.to_dict())
        return
    keys = [k for k in results[0].run if isinstance(results[0].run[k], int | float)]
    if name == "csv":
        writer = csv.writer(printer.out, lineterminator="\n")
        writer.writerow(["metric", *(r.strategy for r in results)])
        for key in keys:
            writer.writerow([key, *(r.run[key] for r in results)])
        return
    s = results[0].scenario
    printer.write(f"one {s.preset} event stream ({s.mode} workload: {s.members} members, "
                  f"{s.packets} packets, {s.steps} steps, seed {s.seed}) through "
                  f"{', '.join(r.strategy for r in results)}")
    printer.write("")
    printer.table(["METRIC", *(r.strategy.upper() for r in results)],
                  [[key, *(_number(r.run[key]) for r in results)] for key in keys] +
                  [["chain head", *(r.head_hash[:16] for r in results)]])
    differing = comparison.differing
    placed = len({p for r in results for p in r.histories})
    printer.write("")
    printer.write(f"{len(differing)} of {placed} packets placed differently (owners in order)"
                  + (", the first 10:" if len(differing) > 10 else ":" if differing else ""))
    if differing:
        printer.table(["PACKET", *(r.strategy.upper() for r in results)],
                      [[p, *(_owners(owners[r.strategy]) for r in results)]
                       for p, owners in list(differing.items())[:10]])


def _owners(history: tuple[str, ...]) -> str:
    """A packet's owners in order, the middle elided past four."""
    if not history:
        return "(never placed)"
    shown = history if len(history) <= 4 else (*history[:2], "...", *history[-2:])
    return ">".join(shown)


def _number(value: float) -> str:
    return f"{value:d}" if isinstance(value, int) else f"{value:.4f}"


def add_commands(commands: argparse._SubParsersAction, leaf: Adder) -> None:  # type: ignore[type-arg]
    """Add ``simulate`` to the phoenix command."""
    presets = "; ".join(f"{name} ({p.mode}): {p.summary}" for name, p in PRESETS.items())
    p = leaf(commands, "simulate", run,
             "simulate churn on phoenixd's own core, on a virtual clock (offline)",
             description="Run the daemon's core (state, scheduler and compiled kernel, leases, "
             "handoffs, fencing, the hash-chained recorder) on a virtual clock: members join, "
             "leave, fall silent and come back as the preset says, and fail through their "
             "leases expiring. A seed and a scenario give the same run, byte for byte, and "
             "the same audit chain head. Prints the DMA metrics per step and for the run "
             "(docs/simulator.md defines each). Nothing is written to disk, unless --charts "
             "asks for PNG charts. "
             f"Presets: {presets}.",
             examples=["phoenix simulate --preset zone-outage --steps 12 --members 30",
                       "phoenix simulate --mode agentic --preset unreliable-agents -o json",
                       "phoenix simulate --preset rolling-restart -o csv > steps.csv",
                       "phoenix simulate --scenario scenario.toml --seed 7",
                       "phoenix simulate --preset flash-crowd --compare ring,binpack,trust",
                       "phoenix simulate --preset unreliable-agents --compare "
                       "trust,trust+learned",
                       "phoenix simulate --preset zone-outage --charts charts/",
                       "phoenix simulate --replay ./.phoenixflight --strategy ring"],
             local=True)
    p.add_argument("--mode", choices=MODES, default=None,
                   help="ring, binpack or agentic (default: the scenario file's, else the "
                   "one the preset is meant for)")
    p.add_argument("--preset", choices=list(PRESETS), default=None, metavar="NAME",
                   help="the churn preset, one of those above (default: steady)")
    p.add_argument("--steps", type=int, default=None, help="steps to run (default 20)")
    p.add_argument("--seed", type=int, default=None, help="the run's seed (default 1)")
    p.add_argument("--members", type=int, default=None,
                   help="members at the start (default 20)")
    p.add_argument("--packets", type=int, default=None,
                   help="packets at the start (default 200)")
    p.add_argument("--step-seconds", dest="step_seconds", type=float, default=None,
                   help="virtual seconds per step (default 30)")
    p.add_argument("--scenario", metavar="FILE",
                   help="a scenario file (.toml or .yaml); flags override its fields")
    p.add_argument("--compare", type=_strategies, metavar="S1,S2,...",
                   help="run the same event stream through each strategy (ring, binpack, "
                   f"pack, trust; each with {LEARNED} to learn reliability from outcomes) and "
                   "print them side by side")
    p.add_argument("--learn-reliability", dest="learn_reliability", action="store_const",
                   const=True, default=None,
                   help="learn the members' reliability from their tasks' outcomes, as "
                   "phoenixd --learn-reliability does")
    p.add_argument("--charts", metavar="DIR",
                   help="also draw the run's charts as PNGs in DIR (made if missing): "
                   f"{', '.join(f'{n}.png' for n in charts.CHARTS)}; with --compare, the "
                   "strategies on the same axes. Needs matplotlib: pip install "
                   f"'phoenixd[{charts.EXTRA}]'")
    add_flags(p)
