"""The daemon's durable state and the one function that folds events into it.

Member and packet events carry the whole record after the change, so applying
one is an upsert: replay is simple, and a watcher can be shown a record as it
was at any revision without keeping old versions around. Load accounting
(packets, cpu and memory per owner) is derived from the packet records here,
so it is exact through every transition, on replay too.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from phoenixd.core.events import Event, EventType
from phoenixd.core.members import Member
from phoenixd.core.packets import Packet, PacketStatus

__all__ = ["KEPT_DECISIONS", "ClusterState", "OwnerLoad"]

# Placement decisions remembered per packet (their events hold the details).
KEPT_DECISIONS = 32
_DECISION_EVENTS = frozenset({EventType.ASSIGNMENT_DECISION, EventType.PACKET_WAITING})


@dataclass(slots=True)
class OwnerLoad:
    """What one member carries now."""

    packets: set[str] = field(default_factory=set)
    cpu: float = 0.0
    memory: float = 0.0


class ClusterState:
    """Members, packets, and the load each member carries."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to empty (before a full replay)."""
        self.members: dict[str, Member] = {}
        self._sorted_ids: list[str] = []  # for stable, cheap pagination
        self.packets: dict[str, Packet] = {}
        self._sorted_packets: list[str] = []
        self.loads: dict[str, OwnerLoad] = {}
        self.pending: dict[str, None] = {}  # PENDING packet ids, oldest first
        self.revision = 0

    @property
    def member_ids(self) -> list[str]:
        return self._sorted_ids

    @property
    def packet_ids(self) -> list[str]:
        return self._sorted_packets

    def load_of(self, member_id: str) -> OwnerLoad:
        return self.loads.get(member_id) or OwnerLoad()

    def apply(self, event: Event) -> None:
        """Fold one event into the state; used live and on replay alike."""
        raw = event.data.get("member")
        if raw is not None:
            self._put_member(replace(Member.from_dict(raw), revision=event.sequence))
        raw = event.data.get("packet")
        if raw is not None:
            if raw["checkpoint"]["state"] is None:  # not journaled again: carried over
                carried = self.packets[raw["packet_id"]].checkpoint.state
                raw = {**raw, "checkpoint": {**raw["checkpoint"], "state": dict(carried)}}
            packet = replace(Packet.from_dict(raw), revision=event.sequence)
            if event.type in _DECISION_EVENTS:
                epoch = packet.epoch if event.type == EventType.ASSIGNMENT_DECISION else 0
                kept = (*packet.decisions, (epoch, event.sequence))[-KEPT_DECISIONS:]
                packet = replace(packet, decisions=kept)
            self._put_packet(packet)
        self.revision = event.sequence

    def _put_member(self, member: Member) -> None:
        if member.member_id not in self.members:
            bisect.insort(self._sorted_ids, member.member_id)
        self.members[member.member_id] = member

    def _put_packet(self, packet: Packet) -> None:
        old = self.packets.get(packet.packet_id)
        if old is None:
            bisect.insort(self._sorted_packets, packet.packet_id)
        else:
            self._account(old, -1)
        self.packets[packet.packet_id] = packet
        self._account(packet, +1)

    def _account(self, packet: Packet, sign: int) -> None:
        if packet.status.owned and packet.owner:
            load = self.loads.setdefault(packet.owner, OwnerLoad())
            if sign > 0:
                load.packets.add(packet.packet_id)
            else:
                load.packets.discard(packet.packet_id)
            # Re-summed rather than adjusted: running float sums drift, and the
            # load must be exact. fsum over a member's own packets is cheap.
            load.cpu = math.fsum(self.packets[p].demand_cpu for p in load.packets)
            load.memory = math.fsum(self.packets[p].demand_memory for p in load.packets)
        if packet.status is PacketStatus.PENDING:
            if sign > 0:
                self.pending[packet.packet_id] = None
            else:
                self.pending.pop(packet.packet_id, None)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The state as the three snapshot documents (file name -> document)."""
        return {
            "registry.json": {
                "members": [self.members[i].to_dict() for i in self._sorted_ids]
            },
            "packets.json": {
                "packets": [self.packets[i].to_dict() for i in self._sorted_packets]
            },
            # Derived from the packets; kept for people and tools reading the data dir.
            "assignments.json": {
                "assignments": [
                    {"packet_id": p.packet_id, "member_id": p.owner, "epoch": p.epoch,
                     "status": str(p.status)}
                    for i in self._sorted_packets
                    if (p := self.packets[i]).status.owned
                ]
            },
        }

    def restore(self, documents: Mapping[str, Mapping[str, Any]], revision: int) -> None:
        for raw in documents["registry.json"]["members"]:
            self._put_member(Member.from_dict(raw))
        for raw in documents["packets.json"]["packets"]:
            self._put_packet(Packet.from_dict(raw))
        # Oldest first, as they became PENDING (the snapshot lists packets by id).
        waiting = sorted(self.pending, key=lambda p: (self.packets[p].update_time, p))
        self.pending = dict.fromkeys(waiting)
        self.revision = revision
