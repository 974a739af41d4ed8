"""Running a scenario: its plan through the world, step by step, into a result.

``simulate`` is the library entry point (the CLI calls it; an RPC can call it inside the
daemon, off the event loop, as the scenario's bounds keep a run small); ``compare`` runs one
plan through several strategies.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from phoenixd.core.events import Event
from phoenixd.core.packets import Strategy
from phoenixd.sim import metrics
from phoenixd.sim.observer import Observer, StepFigures
from phoenixd.sim.plan import Plan
from phoenixd.sim.presets import build_plan
from phoenixd.sim.scenario import Scenario
from phoenixd.sim.world import TICK, World

__all__ = ["LEARNED", "Comparison", "SimResult", "compare", "simulate", "variant"]

Progress = Callable[[int, int], None]
# A run that learns reliability from outcomes is named after its strategy with this suffix
# ("trust+learned"), in its result and in a comparison's list.
LEARNED = "+learned"


def variant(name: str) -> tuple[Strategy, bool]:
    """A comparison entry ("trust", "trust+learned") as (strategy, learn reliability).
    Raises ValueError naming what is accepted."""
    base, learned = (name[:-len(LEARNED)], True) if name.endswith(LEARNED) else (name, False)
    try:
        return Strategy(base), learned
    except ValueError:
        raise ValueError(
            f"{name!r} is not a strategy: one of {', '.join(str(s) for s in Strategy)}, "
            f"each optionally with {LEARNED!r}") from None


@dataclass(frozen=True, slots=True)
class SimResult:
    """One run: its figures per step and for the run, and its audit chain's head."""

    scenario: Scenario
    strategy: str
    head_hash: str
    head_sequence: int
    steps: tuple[StepFigures, ...]
    run: dict[str, Any]
    placements: dict[str, str]  # packet -> owner at the end (owned packets)
    histories: dict[str, tuple[str, ...]]  # packet -> every owner it had, in order
    events: tuple[Event, ...] = ()  # the journal, when asked for (keep_events)
    members: tuple[str, ...] = ()  # the ACTIVE members at the end, in id order

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.to_dict(),
            "strategy": self.strategy,
            "chain": {"head_hash": self.head_hash, "events": self.head_sequence},
            "run": self.run,
            "steps": [dataclasses.asdict(s) for s in self.steps],
        }


def simulate(scenario: Scenario, *, plan: Plan | None = None, strategy: Strategy | None = None,
             keep_events: bool = False, progress: Progress | None = None) -> SimResult:
    """Run ``scenario`` (its plan, unless one is given) on the real core; deterministic."""
    plan = plan or build_plan(scenario)
    placement = strategy or scenario.placement
    observer = Observer(keep=keep_events)
    world = World(scenario, placement, observer)
    ticks = max(1, round(scenario.step_seconds / TICK))
    figures = []
    for step, actions in enumerate(plan.steps):
        for action in actions:
            world.apply(action)
        for _ in range(ticks):
            world.tick()
        figures.append(observer.end_step(step, world.clock.elapsed, ticks * TICK))
        if progress is not None:
            progress(step + 1, len(plan.steps))
    return SimResult(
        scenario=scenario,
        strategy=str(placement) + (LEARNED if scenario.learn_reliability else ""),
        head_hash=observer.head_hash,
        head_sequence=observer.head_sequence, steps=tuple(figures),
        run=_run_figures(figures, observer, ticks * TICK, plan),
        placements=dict(sorted(observer.owner.items())),
        histories={p: tuple(h) for p, h in sorted(observer.history.items())},
        events=tuple(observer.kept or ()),
        members=tuple(sorted(observer.active)),
    )


def _run_figures(steps: Sequence[StepFigures], observer: Observer, seconds: float,
                 plan: Plan) -> dict[str, Any]:
    """The run's figures. Step 0 is the set-up (the members join, the packets arrive), so
    churn and movement are counted over the steps after it."""
    churn = steps[1:]
    hours = len(churn) * seconds / 3600.0
    joins, leaves = sum(s.joins for s in churn), sum(s.leaves for s in churn)
    total = {name: sum(getattr(s, name) for s in steps)
             for name in ("migrations", "completed", "failed", "poisoned", "fencing_rejections",
                          "decisions", "events")}
    moving = [s for s in churn if s.remapped or s.ideal_fraction]
    rate = metrics.mcr(joins, leaves, hours)
    last = steps[-1]
    writes_refused = total["fencing_rejections"]
    compliance = (math.fsum(s.compliance for s in steps) / len(steps))
    stability = metrics.si(rate)
    latencies = observer.latencies
    return {
        "steps": len(steps),
        "virtual_hours": round(hours, 6),
        "plan_actions": plan.actions,
        "joins": joins,
        "leaves": leaves,
        "mcr": rate,
        "wmcr": metrics.wmcr(joins, leaves, hours),
        "si": stability,
        "trust": last.trust,
        "compliance": compliance,
        "dhs": metrics.dhs(stability, last.trust, compliance),
        "active": last.active,
        "owned": last.owned,
        "waiting": last.waiting,
        "load_std": last.load_std,
        "load_cv": last.load_cv,
        "max_avg": last.max_avg,
        "jain": last.jain,
        "remapped": sum(s.remapped for s in churn),
        "remap_fraction_mean": (math.fsum(s.remap_fraction for s in moving) / len(moving)
                                if moving else 0.0),
        "ideal_fraction_mean": (math.fsum(s.ideal_fraction for s in moving) / len(moving)
                                if moving else 0.0),
        "overhead_ratio_mean": (math.fsum(s.overhead_ratio for s in churn) / len(churn)
                                if churn else 0.0),
        **total,
        "success_rate": metrics.success_rate(total["completed"], total["poisoned"]),
        "attempt_success_rate": metrics.attempt_success_rate(
            total["completed"], total["failed"], total["poisoned"]),
        "completion_mean_s": (math.fsum(observer.completions) / len(observer.completions)
                              if observer.completions else 0.0),
        "completion_p50_s": metrics.percentile(observer.completions, 50),
        "completion_p99_s": metrics.percentile(observer.completions, 99),
        "fencing_rejections": writes_refused,
        "handoffs_timed": len(latencies),
        "handoff_p50_ms": metrics.percentile(latencies, 50),
        "handoff_p99_ms": metrics.percentile(latencies, 99),
        "handoff_max_ms": max(latencies, default=0.0),
    }


@dataclass(frozen=True, slots=True)
class Comparison:
    """One plan through several strategies."""

    results: tuple[SimResult, ...]
    # packet -> strategy -> its owners in order (empty: never placed), for the packets
    # whose owners were not the same under every strategy
    differing: dict[str, dict[str, tuple[str, ...]]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.results[0].scenario.to_dict(),
            "strategies": {r.strategy: {"chain": {"head_hash": r.head_hash,
                                                  "events": r.head_sequence}, "run": r.run}
                           for r in self.results},
            "placed_differently": {p: {s: list(h) for s, h in owners.items()}
                                   for p, owners in self.differing.items()},
        }


def compare(scenario: Scenario, strategies: Sequence[str], *,
            progress: Progress | None = None) -> Comparison:
    """Run one plan (one identical event stream) through each strategy; a name ending in
    LEARNED learns reliability from outcomes, one without does not (whatever the
    scenario says), so that ``trust,trust+learned`` shows what learning changes."""
    plan = build_plan(scenario)
    results = []
    for name in strategies:
        strategy, learned = variant(str(name))
        results.append(simulate(dataclasses.replace(scenario, learn_reliability=learned),
                                plan=plan, strategy=strategy, progress=progress))
    packets = sorted({p for r in results for p in r.histories})
    differing = {}
    for packet_id in packets:
        owners = {r.strategy: r.histories.get(packet_id, ()) for r in results}
        if len(set(owners.values())) > 1:
            differing[packet_id] = owners
    return Comparison(tuple(results), differing)
