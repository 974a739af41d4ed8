"""Replay (sim/replay.py), in process, of the simulator's own journals: through the strategy
that made them, every packet ends with the owner it had and the owner changes are the same
count; through another strategy the differences are reported, each with both owners."""

from __future__ import annotations

import pytest

from phoenixd.core.packets import Strategy
from phoenixd.sim import Scenario, simulate
from phoenixd.sim.replay import replay


@pytest.mark.parametrize(("preset", "mode"), [
    ("zone-outage", "ring"), ("rolling-restart", "ring"), ("flash-crowd", "ring"),
    ("capacity-pressure", "binpack"),
])
def test_a_replay_through_the_recorded_strategy_reproduces_the_owners(preset: str,
                                                                       mode: str) -> None:
    scenario = Scenario(mode=mode, preset=preset, members=8, packets=60, steps=6)
    recorded = simulate(scenario, keep_events=True)
    result = replay(list(recorded.events), scenario.placement)
    assert result.differing == 0 and result.refused == 0
    assert result.recorded_moves == result.replay_moves
    assert result.replay.owned == result.recorded.owned
    assert result.replayed["packet_created"] == len(
        [e for e in recorded.events if e.type == "packet_created"])


def test_a_replay_through_another_strategy_reports_what_differs() -> None:
    scenario = Scenario(mode="ring", preset="flash-crowd", members=8, packets=60, steps=6)
    recorded = simulate(scenario, keep_events=True)
    result = replay(list(recorded.events), Strategy.TRUST)
    assert result.strategy == "trust" and result.differing > 0
    for packet, (was, now) in result.placed_differently.items():
        assert recorded.placements.get(packet, "") == was and now != was


def test_a_replay_applies_what_reliability_learning_recorded() -> None:
    """Outcomes are not replayed (a completed packet is cancelled there), so the recorded
    learned reliabilities are applied as they were, for trust routing to see them."""
    scenario = Scenario(mode="agentic", preset="unreliable-agents", members=8, packets=40,
                        steps=6, learn_reliability=True)
    recorded = simulate(scenario, keep_events=True)
    learned = [e for e in recorded.events if e.type == "member_reliability_learned"]
    assert learned
    result = replay(list(recorded.events), Strategy.TRUST)
    assert result.refused == 0
    assert 0 < result.replayed["member_reliability_learned"] <= len(learned)
