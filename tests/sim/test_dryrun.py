"""Dry-runs on a fork, in process: the forked state itself is left as it was; a ring join
moves about K/(N+1) packets, all onto the newcomers; a drain and a failure move the same
packets (the ring's next owner) and only the leaver's; the same fork and change give the
same answer; a change that cannot be tried is refused by name; dry-runs and simulations are
bounded in size and time; and the daemon's Simulator refuses a second run while one is
going, rather than queueing it."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time

import pytest

from phoenixd.core.application.queries import StateFork
from phoenixd.core.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from phoenixd.core.members import MemberStatus
from phoenixd.core.packets import Strategy
from phoenixd.sim import Scenario
from phoenixd.sim.dryrun import MAX_FORK_PACKETS, Change, Settings, dry_run
from phoenixd.sim.observer import Observer
from phoenixd.sim.presets import build_plan
from phoenixd.sim.service import MAX_SIM_MEMBERS, Simulator
from phoenixd.sim.world import World

RING = Settings(default_strategy=Strategy.RING)


def _fork(members: int = 8, packets: int = 400) -> tuple[World, StateFork]:
    """A ring cluster after its set-up step, and a fork of it."""
    scenario = Scenario(mode="ring", members=members, packets=packets, steps=1)
    observer = Observer()
    world = World(scenario, Strategy.RING, observer)
    for action in build_plan(scenario).steps[0]:
        world.apply(action)
    for _ in range(3):
        world.tick()
    view = world.state.snapshot_view()
    return world, StateFork(view, observer.head_sequence, observer.head_hash, time.time(),
                            len(view.members), len(view.packets))


def test_the_forked_state_is_left_as_it_was() -> None:
    world, fork = _fork()
    documents = world.state.snapshot()
    dry_run(fork, Change("fail", member_id=fork.view.members[0].member_id), RING)
    assert world.state.snapshot() == documents
    assert world.observer.head_sequence == fork.head_sequence


def test_a_ring_join_moves_about_k_over_n_plus_one_onto_the_newcomer() -> None:
    _, fork = _fork(members=8, packets=400)
    result = dry_run(fork, Change("join"), RING)
    assert result.members == ("dry-run-1",)
    assert {m.to_member for m in result.moves} == {"dry-run-1"}
    ideal = 400 / 9
    assert 0.5 * ideal < len(result.moves) < 1.6 * ideal
    assert result.after.active == result.before.active + 1


def test_drain_and_fail_move_only_the_leavers_packets_to_the_same_owners() -> None:
    _, fork = _fork()
    leaver = fork.view.members[2].member_id
    held = sorted(p.packet_id for p in fork.view.packets if p.owner == leaver)
    drained = dry_run(fork, Change("drain", member_id=leaver), RING)
    failed = dry_run(fork, Change("fail", member_id=leaver), RING)
    assert sorted(m.packet_id for m in drained.moves) == held
    assert {(m.packet_id, m.to_member) for m in drained.moves} == {
        (m.packet_id, m.to_member) for m in failed.moves}
    assert all(m.from_member == leaver for m in failed.moves)
    assert failed.after.active == failed.before.active - 1
    assert dry_run(fork, Change("fail", member_id=leaver), RING) == failed


def test_failing_a_suspect_member_ends_its_grace() -> None:
    world, _ = _fork()
    quiet = next(iter(world.agents.values()))
    quiet.silent_until = math.inf  # it stops heartbeating: past its lease it is SUSPECT
    for _ in range(12):
        world.tick()
    member_id = quiet.plan.member_id
    assert world.state.members[member_id].status is MemberStatus.SUSPECT
    view = world.state.snapshot_view()
    fork = StateFork(view, world.observer.head_sequence, world.observer.head_hash, time.time(),
                     len(view.members), len(view.packets))
    held = {p.packet_id for p in view.packets if p.owner == member_id}
    result = dry_run(fork, Change("fail", member_id=member_id), RING)
    assert held and {m.packet_id for m in result.moves} == held


def test_a_label_selector_fails_every_live_member_it_matches() -> None:
    _, fork = _fork()
    region = fork.view.members[0].labels["region"]
    matching = sorted(m.member_id for m in fork.view.members if m.labels["region"] == region)
    result = dry_run(fork, Change("fail", selector=f"region={region}"), RING)
    assert list(result.members) == matching
    assert result.after.active == result.before.active - len(matching)


@pytest.mark.parametrize(("change", "error", "words"), [
    (Change("reboot", member_id="m-00001"), InvalidArgument, "action"),
    (Change("drain"), InvalidArgument, "name a member"),
    (Change("drain", selector="region=a"), InvalidArgument, "not a label selector"),
    (Change("fail", member_id="m-00001", selector="region=a"), InvalidArgument, "not both"),
    (Change("join", count=0), InvalidArgument, "count"),
    (Change("fail", member_id="ghost"), NotFound, "ghost"),
    (Change("fail", selector="region=nowhere"), NotFound, "region=nowhere"),
])
def test_a_change_that_cannot_be_tried_is_refused(change: Change, error: type[Exception],
                                                  words: str) -> None:
    _, fork = _fork(members=3, packets=10)
    with pytest.raises(error, match=words):
        dry_run(fork, change, RING)


def test_a_dry_run_is_bounded_in_size_and_time() -> None:
    _, fork = _fork(members=3, packets=10)
    with pytest.raises(ResourceExhausted, match="longer than"):
        dry_run(fork, Change("join"), RING, time_budget=0.0)
    huge = dataclasses.replace(fork, packets=MAX_FORK_PACKETS + 1)
    with pytest.raises(FailedPrecondition, match="too large"):
        dry_run(huge, Change("join"), RING)


def test_a_simulation_in_the_daemon_is_bounded_in_size_and_time() -> None:
    async def refused(fields: dict[str, object], budget: float) -> None:
        simulator = Simulator(_never, RING, time_budget=budget)
        await simulator.simulate(fields)

    with pytest.raises(InvalidArgument, match="members: at most"):
        asyncio.run(refused({"members": MAX_SIM_MEMBERS + 1}, 30.0))
    with pytest.raises(InvalidArgument, match="preset"):
        asyncio.run(refused({"preset": "no-such"}, 30.0))
    with pytest.raises(ResourceExhausted, match="longer than"):
        asyncio.run(refused({"members": 3, "packets": 10, "steps": 3}, 0.0))


async def _never() -> StateFork:
    raise AssertionError("a simulation takes no fork")


def test_the_simulator_runs_one_at_a_time() -> None:
    _, fork = _fork(members=3, packets=10)

    async def slow_fork() -> StateFork:
        await asyncio.sleep(0.2)
        return fork

    async def both() -> None:
        simulator = Simulator(slow_fork, RING)
        first = asyncio.create_task(simulator.dry_run(Change("join")))
        await asyncio.sleep(0)  # the first holds the turn
        with pytest.raises(ResourceExhausted, match="already running"):
            await simulator.dry_run(Change("join"))
        assert (await first).members == ("dry-run-1",)

    asyncio.run(both())
