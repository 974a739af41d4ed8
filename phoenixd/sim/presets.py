"""The churn presets: each writes a plan's membership changes for a scenario.

Every preset starts the same way (the scenario's members join and its packets are submitted
at step 0) and then churns in its own way; agentic runs get new tasks every step. Members
are chosen by the run's seed, so a preset and a seed always give the same plan.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from phoenixd.sim.plan import REGIONS, SKILLS, Plan, PlanBuilder
from phoenixd.sim.scenario import Scenario

__all__ = ["PRESETS", "Preset", "build_plan"]

# flapping: a short outage ends inside the grace period (SUSPECT, then back with its work),
# a long one after it (FAILED: its work moves, and it comes back as a new incarnation).
FLAP_SHORT = 0.75  # x (lease_ttl + suspect_grace)
FLAP_LONG = 1.25
FLAPPING_SHARE = 0.1
UNRELIABLE_SHARE = 0.3
UNRELIABLE_FAIL_RATE = 0.5
# capacity-pressure: by the last step, the packets asked for need this many times the
# members' total cpu.
PRESSURE = 2.0


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    mode: str  # the mode it is meant for (any mode runs it)
    summary: str
    churn: Callable[[PlanBuilder], None]


def _later(b: PlanBuilder, fraction: float) -> int:
    """The step at ``fraction`` of the run (at least step 1, so step 0 stays the start)."""
    return min(b.scenario.steps - 1, max(1, int(b.scenario.steps * fraction)))


def _steady(b: PlanBuilder) -> None:
    pass


def _flash_crowd(b: PlanBuilder) -> None:
    b.join_new(_later(b, 1 / 3), b.scenario.members)


def _rolling_restart(b: PlanBuilder) -> None:
    members = sorted(b.roster)
    rounds = max(1, b.scenario.steps - 2)
    batch = math.ceil(len(members) / rounds)
    for i in range(0, len(members), batch):
        step = 1 + i // batch
        if step + 1 >= b.scenario.steps:
            break
        for member_id in members[i:i + batch]:
            b.add(step, "retire", member_id)
            b.rejoin(step + 1, member_id)


def _zone_outage(b: PlanBuilder) -> None:
    down, up = _later(b, 1 / 3), _later(b, 2 / 3)
    zone = REGIONS[0]
    members = b.in_region(zone)
    for member_id in members:
        b.add(down, "fail", member_id)
    if up > down:
        for member_id in members:
            b.add(up, "recover", member_id)


def _flapping(b: PlanBuilder) -> None:
    s = b.scenario
    outage = s.lease_ttl + s.suspect_grace
    flappers = b.pick(max(1, int(len(b.roster) * FLAPPING_SHARE)))
    for step in range(1, s.steps, 2):
        seconds = outage * (FLAP_SHORT if step % 4 == 1 else FLAP_LONG)
        for member_id in flappers:
            b.add(step, "fail", member_id, seconds=min(seconds, s.step_seconds))


def _capability_churn(b: PlanBuilder) -> None:
    count = max(1, len(b.roster) // 10)
    for step in range(1, b.scenario.steps):
        for member_id in b.pick(count):
            current = set(b.roster[member_id].capabilities)
            kept = sorted(current)[b.rng.randrange(len(current))] if current else ""
            gained = b.rng.choice([c for c in SKILLS if c not in current])
            capabilities = tuple(sorted({c for c in (kept, gained) if c}))
            b.add(step, "capabilities", member_id, capabilities=capabilities)
            b.roster[member_id] = replace(b.roster[member_id], capabilities=capabilities)


def _capacity_pressure(b: PlanBuilder) -> None:
    s = b.scenario
    capacity = sum(m.cpu for m in b.roster.values())
    mean_demand = 0.9375  # of plan.DEMANDS, equally likely
    wanted = int(PRESSURE * capacity / mean_demand) - s.packets
    rounds = s.steps - 1
    if rounds <= 0 or wanted <= 0:
        return
    # Arrivals grow linearly: step k gets k shares of the total.
    shares = rounds * (rounds + 1) // 2
    for step in range(1, s.steps):
        b.submit(step, wanted * step // shares)
    # Half-way, a quarter of the members lose half their capacity (a node under pressure
    # from outside): what they can no longer hold moves where there is room, or waits.
    for member_id in b.pick(max(1, len(b.roster) // 4)):
        m = b.roster[member_id]
        b.add(_later(b, 0.5), "capacity", member_id, cpu=m.cpu / 2, memory=m.memory / 2)


def _unreliable_agents(b: PlanBuilder) -> None:
    pass  # the unreliable members are made at the start (see build_plan)


PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("steady", "ring", "no churn: the baseline", _steady),
    Preset("flash-crowd", "ring", "as many members again join at once, a third of the way in",
           _flash_crowd),
    Preset("rolling-restart", "ring",
           "each member retires and rejoins (a new incarnation) the next step, once",
           _rolling_restart),
    Preset("zone-outage", "ring",
           f"every member of {REGIONS[0]} goes silent at a third of the run (their leases "
           "expire) and comes back at two thirds", _zone_outage),
    Preset("flapping", "ring",
           f"{FLAPPING_SHARE:.0%} of the members go silent every other step, alternately "
           "within the grace period (SUSPECT, then back) and past it (FAILED, then back)",
           _flapping),
    Preset("capability-churn", "agentic",
           "every step a tenth of the members swap a capability for another", _capability_churn),
    Preset("capacity-pressure", "binpack",
           f"demand grows each step to {PRESSURE:g}x the cpu there is, and half-way a quarter "
           "of the members lose half their capacity", _capacity_pressure),
    Preset("unreliable-agents", "agentic",
           f"{UNRELIABLE_SHARE:.0%} of the agents fail {UNRELIABLE_FAIL_RATE:.0%} of their "
           "tasks (the rest 5%)", _unreliable_agents),
)}


def build_plan(scenario: Scenario) -> Plan:
    """The plan of ``scenario``: its preset's churn plus its scripted events."""
    b = PlanBuilder(scenario, random.Random(f"phoenixflight-sim:plan:{scenario.seed}"))
    unreliable = (round(scenario.members * UNRELIABLE_SHARE)
                  if scenario.preset == "unreliable-agents" else 0)
    for i in range(scenario.members):
        rate = UNRELIABLE_FAIL_RATE if i < unreliable else None
        b.join(0, b.new_member() if rate is None else b.new_member(fail_rate=rate))
    b.submit(0, scenario.packets)
    PRESETS[scenario.preset].churn(b)
    for spec in sorted(scenario.events, key=lambda e: e.step):
        b.script(spec)
    if scenario.mode == "agentic":
        for step in range(1, scenario.steps):
            b.submit(step, scenario.task_arrivals)
    return b.build()
