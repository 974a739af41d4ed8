"""Replay: a recorded history's membership and packet events, re-run on the real core through
a chosen strategy, against what was recorded.

The recorded events are read twice. Once straight into an Observer, which gives the figures
and every packet's owners as they were. Once as commands to a fresh World, in order: members
register (with their recorded capabilities, capacity, trust and labels), update, drain,
retire, turn SUSPECT (a lease runs out), recover (a heartbeat) and fail (the grace that
follows, as in phoenixd);
packets are submitted with the strategy under test and leave when the record says they
completed, failed for good or were cancelled (they are cancelled here: the owner the replay
chose did not do that work). Everything the core decides in between (placements, handoffs,
rebalancing) is its own. Assignments, acks and checkpoints in the record are the outcome
under the old strategy, so they are not replayed. Nor are the members' outcomes (a packet
that completed is cancelled here), so a journal recorded with reliability learning on has
each member_reliability_learned change applied as recorded, as an update of that member's
reliability, for trust routing to see the same figures (an operator's update there, so
the core rechecks and places as after any member update, where the daemon only placed
what the outcome's freed room allowed).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from phoenixd.core.dispatch import PacketSpec
from phoenixd.core.errors import PhoenixError
from phoenixd.core.events import Actor, Event, EventType
from phoenixd.core.leases import Timer
from phoenixd.core.members import Member, MemberStatus
from phoenixd.core.namespaces import Namespace
from phoenixd.core.packets import Packet, Strategy
from phoenixd.core.registry import UPDATABLE_FIELDS, MemberUpdate, Registration
from phoenixd.sim.dryrun import Settings
from phoenixd.sim.observer import Observer, StepFigures
from phoenixd.sim.scenario import Scenario
from phoenixd.sim.world import TICK, World

__all__ = ["MAX_LISTED", "ReplayResult", "replay"]

# Packets placed differently listed one by one; the rest are counted.
MAX_LISTED = 200
_LEAVES: dict[str, str] = {EventType.PACKET_COMPLETED: "completed",
                           EventType.PACKET_FAILED: "failed",
                           EventType.PACKET_CANCELLED: "cancelled"}
# What the daemon records of its own accord that the replay takes as a cause: leases running
# out, packets given up on, and learned reliabilities (the consequence of outcomes, which
# the replay does not re-run, so it applies the figures as they were recorded).
_DAEMON_CAUSES = frozenset({EventType.MEMBER_SUSPECT, EventType.MEMBER_FAILED,
                            EventType.PACKET_FAILED, EventType.MEMBER_RELIABILITY_LEARNED})
_MEMBER_EVENTS = frozenset({
    EventType.MEMBER_REGISTERED, EventType.MEMBER_UPDATED, EventType.MEMBER_DRAINING,
    EventType.MEMBER_RETIRED, EventType.MEMBER_SUSPECT, EventType.MEMBER_RECOVERED,
    EventType.MEMBER_FAILED})


@dataclass(frozen=True, slots=True)
class ReplayResult:
    strategy: str
    events_read: int
    replayed: dict[str, int]  # recorded event type -> how many were replayed as commands
    refused: int  # replayed commands the core refused (e.g. a capacity no longer there)
    recorded: StepFigures
    replay: StepFigures
    recorded_moves: int  # owner changes, over every packet (first placements included)
    replay_moves: int
    differing: int  # packets whose final owner differs
    placed_differently: dict[str, tuple[str, str]]  # packet -> (recorded owner, replayed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy, "events_read": self.events_read,
            "replayed": self.replayed, "refused": self.refused,
            "recorded": dataclasses.asdict(self.recorded),
            "replay": dataclasses.asdict(self.replay),
            "recorded_moves": self.recorded_moves, "replay_moves": self.replay_moves,
            "differing": self.differing,
            "placed_differently": {p: {"recorded": r, "replay": s}
                                   for p, (r, s) in self.placed_differently.items()},
        }


def replay(events: Sequence[Event], strategy: Strategy,
           settings: Settings | None = None) -> ReplayResult:
    """Re-run ``events`` (a whole journal, oldest first) through ``strategy``."""
    settings = settings or Settings(default_strategy=strategy)
    recorded = Observer()
    for event in events:
        recorded.append(event, b"")
    span = (events[-1].time - events[0].time) if events else 0.0
    recorded_figures = recorded.end_step(0, span, span)

    observer = Observer()
    scenario = Scenario(vnodes=settings.vnodes, suspect_grace=settings.suspect_grace)
    world = World(scenario, strategy, observer,
                  rebalance=(settings.rebalance_share, settings.rebalance_interval),
                  load_bound=settings.load_bound,
                  wall_start=events[0].time if events else 0.0)
    runner = _Runner(world, strategy, settings)
    for event in events:
        runner.apply(event)
    runner.settle_all()
    replay_figures = observer.end_step(0, world.clock.elapsed, world.clock.elapsed)

    final_recorded, final_replay = _finals(recorded), _finals(observer)
    differing = sorted(p for p in final_recorded.keys() | final_replay.keys()
                       if final_recorded.get(p, "") != final_replay.get(p, ""))
    return ReplayResult(
        strategy=str(strategy), events_read=len(events), replayed=dict(runner.replayed),
        refused=runner.refused, recorded=recorded_figures, replay=replay_figures,
        recorded_moves=_moves(recorded.history.values()),
        replay_moves=_moves(observer.history.values()), differing=len(differing),
        placed_differently={p: (final_recorded.get(p, ""), final_replay.get(p, ""))
                            for p in differing[:MAX_LISTED]},
    )


def _finals(observer: Observer) -> dict[str, str]:
    """Every packet that ever had an owner -> its owner at the end ("" if none now)."""
    return {p: observer.owner.get(p, "") for p in observer.history}


def _moves(histories: Iterable[list[str]]) -> int:
    return sum(len(h) for h in histories)


class _Runner:
    """Turns recorded events into the commands that caused them."""

    def __init__(self, world: World, strategy: Strategy, settings: Settings) -> None:
        self._world = world
        self._cluster = world.cluster
        self._strategy = strategy
        self._settings = settings
        self._credentials: dict[str, str] = {}
        self._start: float | None = None
        self._skipped = 0.0  # virtual seconds of long quiet stretches left out
        self.replayed: dict[str, int] = {}
        self.refused = 0

    def apply(self, event: Event) -> None:
        self._advance(event.time)
        handled = self._command(event)
        if handled:
            self.replayed[event.type] = self.replayed.get(event.type, 0) + 1
            self._world.settle()

    def _advance(self, when: float) -> None:
        """Move the virtual clock to the record's time, running the core's timers at each
        whole tick on the way (records made later carry later times, so the core orders
        them, e.g. oldest assignment first, as the daemon did). A quiet stretch longer than
        an hour is cut to an hour: past that the timers have nothing left to do."""
        clock = self._world.clock
        if self._start is None:
            self._start = when
        target = when - self._start - self._skipped
        if target - clock.elapsed > 3600.0:
            self._skipped += target - clock.elapsed - 3600.0
            target = clock.elapsed + 3600.0
        while clock.elapsed + TICK <= target:
            self._world.tick()
        if target > clock.elapsed:
            clock.advance(target - clock.elapsed)

    def _command(self, event: Event) -> bool:
        kind, data = event.type, event.data
        run = self._run
        if event.actor == Actor.DAEMON and kind not in _DAEMON_CAUSES:
            return False  # a consequence (a drain that ended), which the replay reaches itself
        if kind == EventType.NAMESPACE_CREATED and "namespace" in data:
            ns = Namespace.from_dict(data["namespace"])
            return run(lambda: self._cluster.namespaces.create(ns.name, ns.labels, ns.quota))
        if kind == EventType.MEMBER_RELIABILITY_LEARNED and "member" in data:
            return self._learned(Member.from_dict(data["member"]))
        if "member" in data and kind in _MEMBER_EVENTS:
            return self._member(kind, Member.from_dict(data["member"]))
        if kind == EventType.PACKET_CREATED and "packet" in data:
            return run(lambda: self._cluster.submit(self._spec(Packet.from_dict(data["packet"]))))
        if kind in _LEAVES and event.packet_ids:
            packet_id = event.packet_ids[0]
            return run(lambda: self._cluster.cancel(packet_id, f"replay: {_LEAVES[kind]}"))
        return False

    def _member(self, kind: str, m: Member) -> bool:
        cluster, run = self._cluster, self._run
        if kind == EventType.MEMBER_REGISTERED:
            def register() -> None:
                _, credential = cluster.register(Registration(
                    m.member_id, kind=m.kind, capabilities=m.capabilities, cpu=m.cpu,
                    memory=m.memory, trust_score=m.trust_score, reliability=m.reliability,
                    labels=dict(m.labels), lease_ttl=m.lease_ttl,
                    credential=self._credentials.get(m.member_id, ""),
                    namespace=m.namespace))
                self._credentials[m.member_id] = credential
                cluster.registry.leases.cancel(m.member_id)  # it heartbeats, as it did
            return run(register)
        if kind == EventType.MEMBER_UPDATED:
            return run(lambda: cluster.update_member(m.member_id, MemberUpdate(
                UPDATABLE_FIELDS, capabilities=m.capabilities, cpu=m.cpu, memory=m.memory,
                labels=dict(m.labels), trust_score=m.trust_score,
                reliability=m.reliability)))
        if kind == EventType.MEMBER_DRAINING:
            return run(lambda: self._quiet(m.member_id, cluster.drain(m.member_id,
                                                                      "replay: drained")))
        if kind == EventType.MEMBER_RETIRED:
            return run(lambda: cluster.retire(m.member_id, "replay: retired"))
        if kind == EventType.MEMBER_RECOVERED:
            return run(lambda: self._quiet(m.member_id, cluster.heartbeat(
                m.member_id, self._credentials.get(m.member_id, ""))))
        # SUSPECT (or FAILED straight from DRAINING): its lease runs out now; the grace that
        # follows is the replay's own.
        current = self._world.state.members.get(m.member_id)
        if current is None or current.status not in (MemberStatus.ACTIVE,
                                                      MemberStatus.DRAINING):
            return False
        cluster.registry.leases.arm(m.member_id, Timer.LEASE, self._world.clock.monotonic())
        self._world.tick()
        return True

    def _learned(self, m: Member) -> bool:
        current = self._world.state.members.get(m.member_id)
        if current is None or current.status.terminal:
            return False  # it failed holding work: nothing places on it until it is back
        return self._run(lambda: self._cluster.update_member(m.member_id, MemberUpdate(
            frozenset({"reliability"}), reliability=m.reliability)))

    def _quiet(self, member_id: str, _: object) -> None:
        """Nobody's lease runs out in the replay unless the record says it did."""
        self._cluster.registry.leases.cancel(member_id)

    def _spec(self, p: Packet) -> PacketSpec:
        return PacketSpec(
            p.packet_id, workload_type=p.workload_type,
            required_capabilities=p.required_capabilities, state=p.checkpoint.state,
            step=p.checkpoint.step, policy=p.policy, handoff_allowed=p.handoff_allowed,
            lineage_id=p.lineage_id, demand_cpu=p.demand_cpu, demand_memory=p.demand_memory,
            routing_key=p.routing_key, strategy=self._strategy, max_attempts=p.max_attempts,
            namespace=p.namespace)

    def _run(self, command: Any) -> bool:
        """A command the core refuses in the replay's world (its cluster differs) is
        counted and skipped, as a refused call changes nothing."""
        try:
            command()
        except PhoenixError:
            self.refused += 1
            return False
        return True

    def settle_all(self) -> None:
        """Let what was set in motion finish: grace periods, paced rebalancing."""
        s = self._settings
        rounds = math.ceil(1.0 / s.rebalance_share) + 1
        for _ in range(math.ceil(s.suspect_grace + rounds * s.rebalance_interval) + 2):
            self._world.tick()
