"""Placement and moves: the one place that records packet events.

A move takes a packet from its owner (``handoff_started``, back to PENDING with
its latest checkpoint) and places it again; a placement assigns a PENDING
packet to the scheduler's choice (a new epoch and a signed handoff token) or
records once that it waits. Owners hear of both through notices, sent only
once the event they announce is durable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from phoenixd.core.errors import FailedPrecondition, NotFound
from phoenixd.core.events import Actor, Event, EventType
from phoenixd.core.packets import Packet, PacketStatus
from phoenixd.core.recorder import Recorder
from phoenixd.core.scheduler import Decision, Scheduler
from phoenixd.core.state import ClusterState
from phoenixd.core.tokens import Signer, issue
from phoenixd.core.validation import validate_packet_id

__all__ = ["KEPT_OWNERS", "Moves", "PacketNotice", "PacketNoticeKind"]

# Only these events journal the checkpoint state; every other packet event leaves
# it out (it cannot have changed), so a large state is written once per save,
# not once per ack, move or decision.
_CARRIES_STATE = frozenset({EventType.PACKET_CREATED, EventType.CHECKPOINT_SAVED})
# Owners a packet record lists; the whole history is in the Flight Recorder.
KEPT_OWNERS = 32


class PacketNoticeKind(Enum):
    ASSIGNMENT = "assignment"
    REVOCATION = "revocation"


@dataclass(frozen=True, slots=True)
class PacketNotice:
    """Something a member must hear about a packet, once ``sequence`` is durable."""

    kind: PacketNoticeKind
    member_id: str
    packet: Packet
    epoch: int
    reason: str
    sequence: int


class Moves:
    """Places, assigns and moves packets. Not thread-safe: run it on one event loop."""

    def __init__(
        self,
        state: ClusterState,
        recorder: Recorder,
        scheduler: Scheduler,
        signer: Signer,
        *,
        notify: Callable[[PacketNotice], None] = lambda notice: None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._recorder = recorder
        self._scheduler = scheduler
        self._signer = signer
        self._notify = notify
        self._wall = wall_clock
        self._waiting: set[str] = set()  # PENDING packets whose wait is already recorded
        # A retried packet avoids the member that just failed it, if anyone else can take it.
        self._avoid: dict[str, str] = {}
        # Members whose load went down since the drains last looked (insertion-ordered).
        self._released: dict[str, None] = {}

    # -- reading ---------------------------------------------------------------------

    def get(self, packet_id: str) -> Packet:
        validate_packet_id(packet_id)
        packet = self._state.packets.get(packet_id)
        if packet is None:
            raise NotFound(f"packet {packet_id!r} does not exist")
        return packet

    def assignments_of(self, member_id: str) -> list[Packet]:
        """The packets a member owns now, oldest assignment first."""
        load = self._state.load_of(member_id)
        return sorted((self._state.packets[p] for p in load.packets),
                      key=lambda p: (p.assign_time, p.packet_id))

    # -- recording -------------------------------------------------------------------

    def record(
        self, type_: EventType, packet: Packet, reason: str, *,
        actor: str = Actor.DAEMON, members: tuple[str, ...] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[Packet, Event]:
        """Record a packet event; returns the packet as applied, and the event."""
        # The fields every event sets are set in the record, not in a copy of the packet
        # first: the state makes the packet from the record anyway.
        record = packet.to_dict()
        record["last_event"] = str(type_)
        record["update_time"] = self._wall()
        record["previous_owners"] = record["previous_owners"][-KEPT_OWNERS:]
        subjects = tuple(dict.fromkeys(m for m in (*members, packet.owner) if m))
        if type_ not in _CARRIES_STATE:
            record["checkpoint"]["state"] = None  # unchanged: ClusterState.apply carries it over
        event = self._recorder.record(
            type_, actor, reason=reason, member_ids=subjects, packet_ids=(packet.packet_id,),
            lineage_ids=(packet.lineage_id,) if packet.lineage_id else (),
            data={"packet": record, **(extra or {})},
        )
        return self._state.packets[packet.packet_id], event

    # -- waiting and retries -----------------------------------------------------------

    def forget_wait(self, packet_id: str) -> None:
        """The packet no longer waits (cancelled): a later wait is recorded again."""
        self._waiting.discard(packet_id)

    def forget_all_waits(self) -> None:
        """After a restart: every packet still waiting records its wait once more."""
        self._waiting.clear()

    def avoid(self, packet_id: str, member_id: str) -> None:
        """Place the packet elsewhere than ``member_id`` next time, if anyone else can take it."""
        self._avoid[packet_id] = member_id

    # -- placement -----------------------------------------------------------------------

    def place(
        self, packet: Packet, trigger: str, *, exclude: str = "", target: str = ""
    ) -> Packet:
        """Assign a PENDING packet if some member is eligible; else record the wait once."""
        avoid = self._avoid.get(packet.packet_id, "")
        decision = self._scheduler.decide(packet, trigger, exclude=exclude or avoid,
                                          target=target)
        if not decision.winner and avoid and not exclude:
            decision = self._scheduler.decide(packet, trigger, target=target)
        if not decision.winner:
            if packet.packet_id not in self._waiting:
                self._waiting.add(packet.packet_id)
                packet, _ = self.record(
                    EventType.PACKET_WAITING, packet, decision.explanation,
                    extra={"decision": decision.to_dict()},
                )
            return packet
        self._waiting.discard(packet.packet_id)
        self._avoid.pop(packet.packet_id, None)
        return self._assign(packet, decision)

    def _assign(self, packet: Packet, decision: Decision) -> Packet:
        epoch = packet.epoch + 1
        now = self._wall()
        token = issue(
            self._signer, packet_id=packet.packet_id, epoch=epoch,
            from_member=packet.previous_owners[-1] if packet.handoff_started else "",
            to_member=decision.winner, state_hash=packet.checkpoint.state_hash, now=now,
        )
        assigned = replace(
            packet, status=PacketStatus.ASSIGNED, owner=decision.winner, epoch=epoch,
            handoff_token=token, assign_time=now,
        )
        handed_from = packet.previous_owners[-1:] if packet.handoff_started else ()
        assigned, event = self.record(
            EventType.ASSIGNMENT_DECISION, assigned, decision.explanation,
            members=handed_from, extra={"decision": decision.to_dict()},
        )
        self._notify(PacketNotice(
            PacketNoticeKind.ASSIGNMENT, decision.winner, assigned, epoch, decision.trigger,
            event.sequence,
        ))
        return assigned

    def schedule_pending(self, trigger: str) -> int:
        """Try to place every PENDING packet, oldest first. Returns how many were placed."""
        placed = 0
        for packet_id in list(self._state.pending):
            packet = self._state.packets[packet_id]
            if packet.status is PacketStatus.PENDING:
                placed += self.place(packet, trigger).status.owned
        return placed

    # -- moves ---------------------------------------------------------------------------

    def move(
        self, packet: Packet, trigger: str, reason: str, *, target: str = "",
        actor: str = Actor.DAEMON, forced: bool = False,
    ) -> Packet:
        """Take the packet from its owner and place it again, checkpoint and all.

        A forced move (owner failed, retired, or past its drain deadline) always
        happens: the packet waits PENDING if nobody can take it. A voluntary one
        (manual, overload, rebalance, drain) happens only if another member can
        take it now; otherwise the packet stays where it is.
        """
        if not packet.status.owned:
            return self.place(packet, trigger, target=target)
        owner, epoch = packet.owner, packet.epoch
        decision = None
        if not forced:
            decision = self._scheduler.decide(packet, trigger, exclude=owner, target=target)
            if not decision.winner:
                if trigger == "manual":
                    raise FailedPrecondition(
                        f"no other member can take packet {packet.packet_id!r} now: "
                        f"{decision.explanation}"
                    )
                return packet
        moving = replace(
            packet, status=PacketStatus.PENDING, owner="", handoff_reason=reason,
            previous_owners=(*packet.previous_owners, owner), handoff_started=self._wall(),
        )
        moving, event = self.record(
            EventType.HANDOFF_STARTED, moving, f"{trigger}: {reason}", actor=actor,
            members=(owner,), extra={"trigger": trigger, "from_member": owner},
        )
        self.revoke(owner, moving, epoch, f"{trigger}: {reason}", event.sequence)
        if decision is not None:
            self._waiting.discard(moving.packet_id)
            self._assign(moving, decision)
        self.released(owner, trigger)  # forced moves are placed here, oldest first
        return self._state.packets[packet.packet_id]

    def evict(self, member_id: str, trigger: str, reason: str, *, forced: bool) -> list[str]:
        """Move the member's packets: all of them if forced, else those that may move."""
        moved = []
        for packet_id in [p.packet_id for p in self.assignments_of(member_id)]:
            packet = self._state.packets[packet_id]  # fresh: an earlier move may have placed it
            if packet.owner != member_id or not packet.status.owned:
                continue
            if not forced and not packet.handoff_allowed:
                continue
            if self.move(packet, trigger, reason, forced=forced).owner != member_id:
                moved.append(packet_id)
        return moved

    def revoke(self, member_id: str, packet: Packet, epoch: int, reason: str, seq: int) -> None:
        self._notify(PacketNotice(
            PacketNoticeKind.REVOCATION, member_id, packet, epoch, reason, seq
        ))

    def released(self, member_id: str, trigger: str = "capacity_freed") -> None:
        """A member's load went down: place waiting packets; the drains look later."""
        self.schedule_pending(trigger)
        self._released[member_id] = None

    def take_released(self) -> list[str]:
        """The members whose load went down since the last call, in that order."""
        released, self._released = list(self._released), {}
        return released
