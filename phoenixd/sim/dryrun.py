"""Dry-runs: one change (drain, fail, join) applied to a fork of a daemon's live state.

The fork's records are restored into a fresh ClusterState and wired into a World, the
daemon's own core on a virtual clock; the change goes through the commands and timers that
would carry it out in phoenixd (a failure is a lease that runs out, then its grace), the
clock runs until the consequences have played out (the suspect grace, paced rebalancing),
and the answer is what moved where, what would wait and why (the scheduler's own
explanation), and the figures before and after. Nothing of it reaches the daemon: the fork
has its own state, its own recorder and an in-memory journal.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from phoenixd.core.application.queries import StateFork
from phoenixd.core.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from phoenixd.core.leases import Timer
from phoenixd.core.members import MemberKind, MemberStatus
from phoenixd.core.namespaces import DEFAULT_NAMESPACE
from phoenixd.core.packets import Strategy
from phoenixd.core.registry import Registration
from phoenixd.core.selector import parse_selector
from phoenixd.core.state import ClusterState
from phoenixd.sim.observer import Observer, StepFigures
from phoenixd.sim.scenario import MAX_MEMBERS, MAX_PACKETS, Scenario
from phoenixd.sim.world import TICK, World

__all__ = [
    "ACTIONS",
    "MAX_FORK_MEMBERS",
    "MAX_FORK_PACKETS",
    "MAX_JOIN",
    "Change",
    "DryRunResult",
    "Move",
    "Settings",
    "Waiting",
    "dry_run",
]

ACTIONS = ("drain", "fail", "join")
# A fork is restored whole in memory, so it is bounded as a scenario is.
MAX_FORK_MEMBERS = MAX_MEMBERS
MAX_FORK_PACKETS = MAX_PACKETS
MAX_JOIN = 1_000
# Virtual seconds the clock may run after the change (the daemon allows a suspect grace
# of up to a day; past this the answer would be about a cluster nobody tends).
MAX_HORIZON = 3_600.0
# Waiting packets explained one by one; the rest are counted.
MAX_EXPLAINED = 200
_LIVE = frozenset({MemberStatus.ACTIVE, MemberStatus.SUSPECT, MemberStatus.DRAINING})


@dataclass(frozen=True, slots=True)
class Settings:
    """The daemon's placement settings, which the fork must share to decide as it does."""

    default_strategy: Strategy = Strategy.TRUST
    vnodes: int = 128
    load_bound: float = 0.0
    suspect_grace: float = 10.0
    rebalance_share: float = 0.1
    rebalance_interval: float = 1.0


@dataclass(frozen=True, slots=True)
class Change:
    """What to try: ``drain`` or ``fail`` one member (``member_id``), ``fail`` every live
    member matching ``selector``, or ``join`` ``count`` new members with ``capabilities``,
    ``labels`` and capacity in ``namespace``."""

    action: str
    member_id: str = ""
    selector: str = ""
    count: int = 1
    capabilities: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    cpu: float | None = None
    memory: float | None = None
    trust_score: float | None = None
    namespace: str = DEFAULT_NAMESPACE

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "member_id": self.member_id, "selector": self.selector,
                "count": self.count, "capabilities": list(self.capabilities),
                "labels": dict(self.labels), "namespace": self.namespace}


@dataclass(frozen=True, slots=True)
class Move:
    packet_id: str
    from_member: str
    to_member: str


@dataclass(frozen=True, slots=True)
class Waiting:
    """A packet that would be left without an owner (or held by a member that goes)."""

    packet_id: str
    was_owner: str  # "" if it was waiting already
    explanation: str
    rejected_counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class DryRunResult:
    change: Change
    revision: int  # the journal head the fork was taken at
    members: tuple[str, ...]  # the members the change named (joined, drained, failed)
    moves: tuple[Move, ...]
    waiting: tuple[Waiting, ...]  # newly without an owner, explained (up to MAX_EXPLAINED)
    waiting_total: int  # every packet without an owner afterwards
    held: tuple[Waiting, ...]  # still on a draining member: nowhere else to go yet
    before: StepFigures
    after: StepFigures
    events: int  # events the change would have recorded
    virtual_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "change": self.change.to_dict(), "revision": self.revision,
            "members": list(self.members),
            "moves": [dataclasses.asdict(m) for m in self.moves],
            "waiting": [dataclasses.asdict(w) for w in self.waiting],
            "waiting_total": self.waiting_total,
            "held": [dataclasses.asdict(w) for w in self.held],
            "before": dataclasses.asdict(self.before), "after": dataclasses.asdict(self.after),
            "events": self.events, "virtual_seconds": self.virtual_seconds,
        }


def validate(change: Change) -> None:
    """Refuse a change that cannot be tried, naming the field."""
    if change.action not in ACTIONS:
        raise InvalidArgument(f"action: {change.action!r} is not one of {', '.join(ACTIONS)}")
    if change.action in ("drain", "fail") and not (change.member_id or change.selector):
        raise InvalidArgument(f"{change.action}: name a member, or (fail) a label selector")
    if change.action == "drain" and change.selector:
        raise InvalidArgument("drain: takes one member, not a label selector")
    if change.member_id and change.selector:
        raise InvalidArgument("fail: name a member or a label selector, not both")
    if change.selector:
        parse_selector(change.selector)  # raises InvalidArgument naming the problem
    if change.action == "join" and not 1 <= change.count <= MAX_JOIN:
        raise InvalidArgument(f"join: count must be between 1 and {MAX_JOIN}, "
                              f"not {change.count}")


def dry_run(fork: StateFork, change: Change, settings: Settings, *,
            time_budget: float = 30.0) -> DryRunResult:
    """Apply ``change`` to a copy of ``fork`` and report what would follow; CPU-bound, run
    it off the event loop. Raises ResourceExhausted past ``time_budget`` seconds."""
    validate(change)
    if fork.members > MAX_FORK_MEMBERS or fork.packets > MAX_FORK_PACKETS:
        raise FailedPrecondition(
            f"the state is too large to dry-run ({fork.members} members, {fork.packets} "
            f"packets; at most {MAX_FORK_MEMBERS} and {MAX_FORK_PACKETS})")
    stop_at = time.monotonic() + time_budget
    state = ClusterState()
    state.restore(fork.view.documents(), fork.head_sequence)
    observer = Observer()
    observer.start_from(
        ((m.member_id, str(m.status), m.trust_score) for m in fork.view.members),
        ((p.packet_id, str(p.status), p.owner) for p in fork.view.packets))
    before = observer.end_step(0, 0.0, 0.0)
    scenario = Scenario(vnodes=settings.vnodes, suspect_grace=settings.suspect_grace)
    world = World(scenario, settings.default_strategy, observer, state=state,
                  head=(fork.head_sequence, fork.head_hash),
                  rebalance=(settings.rebalance_share, settings.rebalance_interval),
                  load_bound=settings.load_bound, wall_start=fork.wall_time)
    cluster = world.cluster
    start_owner = dict(observer.owner)
    start_waiting = set(observer.waiting)
    named = _apply(world, state, change)
    # Nobody's lease runs out in the fork but the failing members': the others are taken
    # to keep heartbeating, as they do.
    leases = cluster.registry.leases
    for member_id in [*state.members, *named]:
        leases.cancel(member_id)
    if change.action == "fail":
        now = world.clock.monotonic()
        for member_id in named:  # a SUSPECT member is already past its lease: its grace ends
            suspect = state.members[member_id].status is MemberStatus.SUSPECT
            leases.arm(member_id, Timer.GRACE if suspect else Timer.LEASE, now)
    # Long enough for a failure (lease, then grace) and for paced rebalancing to finish.
    rounds = math.ceil(1.0 / settings.rebalance_share) + 1
    horizon = min(MAX_HORIZON, settings.suspect_grace + TICK
                  + rounds * settings.rebalance_interval + TICK)
    while world.clock.elapsed < horizon:
        if time.monotonic() > stop_at:
            raise ResourceExhausted(f"the dry-run took longer than {time_budget:g}s; "
                                    "try a smaller change")
        world.tick()
    after = observer.end_step(1, world.clock.elapsed, world.clock.elapsed)
    moves = tuple(Move(p, was, observer.owner[p]) for p, was in sorted(start_owner.items())
                  if observer.owner.get(p, was) != was)
    moves += tuple(Move(p, "", observer.owner[p]) for p in sorted(start_waiting)
                   if p in observer.owner)
    newly = [p for p in observer.waiting if p not in start_waiting]
    waiting = tuple(_why(world, p, start_owner.get(p, ""), "")
                    for p in sorted(newly)[:MAX_EXPLAINED])
    held = tuple(_why(world, p, m, m) for m in named if change.action == "drain"
                 for p in sorted(state.load_of(m).packets))
    return DryRunResult(
        change=change, revision=fork.head_sequence, members=tuple(named), moves=moves,
        waiting=waiting, waiting_total=len(observer.waiting), held=held[:MAX_EXPLAINED],
        before=before, after=after, events=observer.head_sequence - fork.head_sequence,
        virtual_seconds=world.clock.elapsed)


def _apply(world: World, state: ClusterState, change: Change) -> list[str]:
    """Carry out the change's command (a failure is left to its lease); the members it names."""
    cluster = world.cluster
    if change.action == "join":
        ids = _new_ids(state, change.count)
        for member_id in ids:
            cluster.register(Registration(
                member_id, kind=MemberKind.AGENT, capabilities=change.capabilities,
                cpu=change.cpu, memory=change.memory, trust_score=change.trust_score,
                labels=dict(change.labels), namespace=change.namespace))
        world.settle()
        return ids
    if change.selector:
        selector = parse_selector(change.selector)
        named = sorted(m.member_id for m in state.members.values()
                       if m.status in _LIVE and selector.matches(m.labels))
        if not named:
            raise NotFound(f"no live member matches the label selector {change.selector!r}")
        return named
    member = cluster.get_member(change.member_id)  # NotFound names it
    if member.status not in _LIVE:
        raise FailedPrecondition(
            f"member {change.member_id!r} is {member.status}: nothing to {change.action}")
    if change.action == "drain":
        cluster.drain(change.member_id, "dry-run: drain")
        world.settle()
    return [change.member_id]


def _new_ids(state: ClusterState, count: int) -> list[str]:
    ids: list[str] = []
    n = 0
    while len(ids) < count:
        n += 1
        if (candidate := f"dry-run-{n}") not in state.members:
            ids.append(candidate)
    return ids


def _why(world: World, packet_id: str, was_owner: str, exclude: str) -> Waiting:
    decision = world.scheduler.decide(world.state.packets[packet_id], "dry_run",
                                      exclude=exclude)
    return Waiting(packet_id, was_owner, decision.explanation, dict(decision.rejected_counts))
