"""The metrics' fold of the journal agrees with the core's own state: after every step of a
churning run, the owners, ACTIVE members and waiting packets derived from the recorded
events alone are the ones ClusterState holds."""

from __future__ import annotations

import pytest

from phoenixd.core.members import MemberStatus
from phoenixd.core.packets import PacketStatus
from phoenixd.sim import PRESETS, Scenario, build_plan
from phoenixd.sim.observer import Observer
from phoenixd.sim.world import TICK, World


@pytest.mark.parametrize("preset", ["flapping", "zone-outage", "capacity-pressure",
                                    "unreliable-agents"])
def test_the_fold_matches_the_state(preset: str) -> None:
    scenario = Scenario(mode=PRESETS[preset].mode, preset=preset, steps=6, members=9,
                        packets=40)
    observer = Observer()
    world = World(scenario, scenario.placement, observer)
    for step, actions in enumerate(build_plan(scenario).steps):
        for action in actions:
            world.apply(action)
        for _ in range(round(scenario.step_seconds / TICK)):
            world.tick()
        state = world.state
        assert observer.owner == {p.packet_id: p.owner for p in state.packets.values()
                                  if p.status.owned}, step
        assert set(observer.active) == {m.member_id for m in state.members.values()
                                        if m.status is MemberStatus.ACTIVE}, step
        assert set(observer.waiting) == {p.packet_id for p in state.packets.values()
                                         if p.status is PacketStatus.PENDING}, step
        figures = observer.end_step(step, world.clock.elapsed, scenario.step_seconds)
        assert figures.owned == sum(len(state.load_of(m).packets) for m in state.members)
        assert observer.head_sequence == state.revision
