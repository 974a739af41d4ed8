"""The daemon's durable state and the one function that folds events into it.

Member and packet events carry the whole record after the change, so applying
one is an upsert: replay is simple, and a watcher can be shown a record as it
was at any revision without keeping old versions around. Load accounting
(packets, cpu and memory per owner) is derived from the packet records here,
so it is exact through every transition, on replay too: sums are kept as
integers in units of 2**-1074 (every finite float is a whole number of those),
so adding and removing a packet never drifts, and each total reads back as the
correctly rounded float, the same value math.fsum would give.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from phoenixd.core.bundled import AppliedBundle, NamedPolicy
from phoenixd.core.contracts import Contract
from phoenixd.core.events import Event, EventType
from phoenixd.core.members import Member, MemberStatus
from phoenixd.core.namespaces import DEFAULT_NAMESPACE, Namespace, Usage
from phoenixd.core.packets import Packet, PacketStatus, Strategy
from phoenixd.core.table import MemberTable

__all__ = ["KEPT_DECISIONS", "NO_LOAD", "ClusterState", "OwnerLoad", "SnapshotView", "Space"]

# Placement decisions remembered per packet (their events hold the details).
KEPT_DECISIONS = 32
_DECISION_EVENTS = frozenset({EventType.ASSIGNMENT_DECISION, EventType.PACKET_WAITING})
_STANDBY = frozenset({MemberStatus.SUSPECT, MemberStatus.DRAINING})


_EXP = 1074
_ONE = 1 << _EXP  # 1.0 in exact units


def _exact(value: float) -> int:
    """``value`` as a whole number of 2**-1074 units, exactly."""
    numerator, denominator = value.as_integer_ratio()  # the denominator is a power of two
    return numerator << (_EXP + 1 - denominator.bit_length())


@dataclass(slots=True)
class OwnerLoad:
    """What one member carries now."""

    packets: set[str] = field(default_factory=set)
    cpu: float = 0.0
    memory: float = 0.0
    _cpu_units: int = field(default=0, compare=False, repr=False)
    _memory_units: int = field(default=0, compare=False, repr=False)

    def add(self, packet: Packet, sign: int) -> None:
        if sign > 0:
            self.packets.add(packet.packet_id)
        else:
            self.packets.discard(packet.packet_id)
        self._cpu_units += sign * _exact(packet.demand_cpu)
        self._memory_units += sign * _exact(packet.demand_memory)
        self.cpu = self._cpu_units / _ONE  # int / int rounds correctly
        self.memory = self._memory_units / _ONE


class Space:
    """What the state keeps per namespace: its placement table, its members in play, its
    records by id (so that a namespace's list costs what the namespace holds, not what the
    daemon holds) and its live usage (what a quota bounds)."""

    __slots__ = ("_cpu_units", "_memory_units", "member_ids", "packet_ids", "standby_ids",
                 "table", "usage")

    def __init__(self) -> None:
        # Placement only ever looks at ACTIVE members: they are kept as columns for the
        # compiled eligibility pass, so a decision does not walk the registry in Python.
        self.table = MemberTable()
        # Not ACTIVE but still in play (SUSPECT may recover, DRAINING still holds work), sorted:
        # with the ACTIVE ones, the members a decision considers. FAILED and RETIRED members
        # are out of placement until they register again, so decisions leave them out.
        self.standby_ids: list[str] = []
        self.member_ids: list[str] = []
        self.packet_ids: list[str] = []
        self.usage = Usage()
        self._cpu_units = 0
        self._memory_units = 0

    def count_demand(self, packet: Packet, sign: int) -> None:
        self.usage.packets += sign
        self._cpu_units += sign * _exact(packet.demand_cpu)
        self._memory_units += sign * _exact(packet.demand_memory)
        self.usage.cpu = self._cpu_units / _ONE
        self.usage.memory = self._memory_units / _ONE


_NOTHING = Space()  # never written: see ClusterState.peek


def _remove_sorted(ids: list[str], record_id: str) -> None:
    del ids[bisect.bisect_left(ids, record_id)]


def _accounted_alike(old: Packet, new: Packet) -> bool:
    """Whether ``new`` counts exactly as ``old`` does in every tally ClusterState._account
    keeps: both held by the same owner, with the same demand, in the same namespace, and
    both movable by a rebalance or neither. Most changes to an owned packet (an ack, a
    checkpoint, a completed handoff) are such: taking the packet out of each tally only to
    put it back would be work for nothing."""
    return (old.status.owned and new.status.owned and old.owner == new.owner
            and old.namespace == new.namespace and old.demand_cpu == new.demand_cpu
            and old.demand_memory == new.demand_memory and old.strategy is new.strategy
            and old.handoff_allowed == new.handoff_allowed)


@dataclass(frozen=True, slots=True)
class SnapshotView:
    members: list[Member]
    packets: list[Packet]
    namespaces: list[Namespace] = field(default_factory=list)
    policies: list[NamedPolicy] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)
    bundles: list[AppliedBundle] = field(default_factory=list)

    def streamed(self) -> dict[str, dict[str, Iterator[dict[str, Any]]]]:
        """The three snapshot documents (file name -> document), each record made only
        as the writer reaches it: a million of them never exist at once."""
        return {
            "registry.json": {"members": (m.to_dict() for m in self.members),
                              "namespaces": (n.to_dict() for n in self.namespaces),
                              "policies": (p.to_dict() for p in self.policies),
                              "contracts": (c.to_dict() for c in self.contracts),
                              "bundles": ({**b.to_dict(), "revision": b.revision}
                                          for b in self.bundles)},
            "packets.json": {"packets": (p.to_dict() for p in self.packets)},
            # Derived from the packets; kept for people and tools reading the data dir.
            "assignments.json": {
                "assignments": (
                    {"packet_id": p.packet_id, "member_id": p.owner, "epoch": p.epoch,
                     "status": str(p.status)}
                    for p in self.packets if p.status.owned
                )
            },
        }

    def documents(self) -> dict[str, dict[str, Any]]:
        """The three snapshot documents, whole."""
        return {name: {key: list(records) for key, records in document.items()}
                for name, document in self.streamed().items()}


NO_LOAD = OwnerLoad()  # what a member with no packets carries; never mutated


class ClusterState:
    """Members, packets, and the load each member carries."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Back to empty (before a full replay)."""
        self.members: dict[str, Member] = {}
        self._sorted_ids: list[str] = []  # for stable, cheap pagination
        # The default namespace always exists; it is journaled only once it changes.
        self.namespaces: dict[str, Namespace] = {DEFAULT_NAMESPACE: Namespace(DEFAULT_NAMESPACE)}
        # Per namespace, including one whose record was deleted while it kept finished
        # records (they stay readable as history).
        self.spaces: dict[str, Space] = {}
        # What applied bundles left: named policies and contracts per (namespace, name), and
        # the newest applied version of each bundle, by name.
        self.policies: dict[tuple[str, str], NamedPolicy] = {}
        self.contracts: dict[tuple[str, str], Contract] = {}
        self.bundles: dict[str, AppliedBundle] = {}
        self.packets: dict[str, Packet] = {}
        self._sorted_packets: list[str] = []
        self.loads: dict[str, OwnerLoad] = {}
        self.pending: dict[str, None] = {}  # PENDING packet ids, oldest first
        # Ring packets an owner holds that may be handed off: what a rebalance after a join
        # checks, listed in self.packets' order without a pass over every packet's fields.
        self.ring_movable: set[str] = set()
        # Records by status, kept as they change: a status query costs the same with a
        # million packets as with ten.
        self.member_counts: Counter[MemberStatus] = Counter()
        self.packet_counts: Counter[PacketStatus] = Counter()
        self.revision = 0

    @property
    def member_ids(self) -> list[str]:
        return self._sorted_ids

    @property
    def packet_ids(self) -> list[str]:
        return self._sorted_packets

    def space(self, namespace: str) -> Space:
        """What ``namespace`` holds (an empty Space, made on first use, when nothing yet)."""
        space = self.spaces.get(namespace)
        if space is None:
            space = self.spaces[namespace] = Space()
        return space

    def peek(self, namespace: str) -> Space:
        """What ``namespace`` holds, for reading only (a shared empty Space when nothing):
        a query naming a namespace that holds nothing makes nothing."""
        return self.spaces.get(namespace, _NOTHING)

    def usage_of(self, namespace: str) -> Usage:
        return self.peek(namespace).usage

    def load_of(self, member_id: str) -> OwnerLoad:
        """What ``member_id`` carries (read-only: NO_LOAD is shared)."""
        return self.loads.get(member_id, NO_LOAD)

    def apply(self, event: Event) -> None:
        """Fold one event into the state; used live and on replay alike."""
        if event.type == EventType.BUNDLE_APPLIED:
            self._apply_bundle(event)
        raw = event.data.get("namespace")
        if raw is not None:
            if event.type == EventType.NAMESPACE_DELETED:
                self.namespaces.pop(raw["name"], None)
                if raw["name"] == DEFAULT_NAMESPACE:  # it always exists; deleting resets it
                    self.namespaces[DEFAULT_NAMESPACE] = Namespace(DEFAULT_NAMESPACE)
            else:
                self.namespaces[raw["name"]] = Namespace.from_dict(raw, event.sequence)
        raw = event.data.get("member")
        if raw is not None:
            member = Member.from_dict(raw, revision=event.sequence)
            if event.type == EventType.MEMBER_RELIABILITY_LEARNED:
                self._put_learned(member)
            else:
                self._put_member(member)
        raw = event.data.get("packet")
        if raw is not None:
            if raw["checkpoint"]["state"] is None:  # not journaled again: carried over
                carried = self.packets[raw["packet_id"]].checkpoint.state
                raw = {**raw, "checkpoint": {**raw["checkpoint"], "state": carried}}
            decisions = tuple(tuple(d) for d in raw.get("decisions", ()))
            if event.type in _DECISION_EVENTS:
                epoch = raw["epoch"] if event.type == EventType.ASSIGNMENT_DECISION else 0
                decisions = (*decisions, (epoch, event.sequence))[-KEPT_DECISIONS:]
            self._put_packet(
                Packet.from_dict(raw, revision=event.sequence, decisions=decisions))
        self.revision = event.sequence

    def _apply_bundle(self, event: Event) -> None:
        """A bundle's one event: every record it creates or updates, in full."""
        data = event.data
        for raw in data["created_namespaces"]:
            self.namespaces[raw["name"]] = Namespace.from_dict(raw, event.sequence)
        for raw in data["policies"]:
            policy = NamedPolicy.from_dict(raw)
            self.policies[policy.key] = policy
        for raw in data["contracts"]:
            contract = Contract.from_dict(raw)
            self.contracts[contract.key] = contract
        for raw in data["created_packets"]:
            self._put_packet(Packet.from_dict(raw, revision=event.sequence))
        bundle = AppliedBundle.from_dict(data["bundle"], event.sequence)
        self.bundles[bundle.name] = bundle

    def _put_member(self, member: Member) -> None:
        member_id = member.member_id
        old = self.members.get(member_id)
        space = self.space(member.namespace)
        if old is None:
            bisect.insort(self._sorted_ids, member_id)
            bisect.insort(space.member_ids, member_id)
        else:
            self.member_counts[old.status] -= 1
            before = self.space(old.namespace)
            if old.status is MemberStatus.ACTIVE:
                before.table.remove(member_id)
            elif old.status in _STANDBY:
                _remove_sorted(before.standby_ids, member_id)
            if not old.status.terminal:
                before.usage.members -= 1
            if before is not space:  # a new incarnation in another namespace
                _remove_sorted(before.member_ids, member_id)
                bisect.insort(space.member_ids, member_id)
        self.member_counts[member.status] += 1
        self.members[member_id] = member
        if not member.status.terminal:
            space.usage.members += 1
        if member.status is MemberStatus.ACTIVE:
            load = self.load_of(member_id)
            space.table.insert(member, load.cpu, load.memory, len(load.packets))
        elif member.status in _STANDBY:
            bisect.insort(space.standby_ids, member_id)

    def _put_learned(self, member: Member) -> None:
        """Only the reliability (and what taught it) changed: the table row is updated in
        place, as a load is, and the members the scheduler may place on stay the same."""
        old = self.members.get(member.member_id)
        if old is None or (old.status, old.namespace) != (member.status, member.namespace):
            self._put_member(member)  # not what Learning writes; taken as any member change
            return
        self.members[member.member_id] = member
        if member.status is MemberStatus.ACTIVE:
            self.space(member.namespace).table.set_reliability(member.member_id,
                                                               member.reliability)

    def _put_packet(self, packet: Packet) -> None:
        old = self.packets.get(packet.packet_id)
        if old is None:
            bisect.insort(self._sorted_packets, packet.packet_id)
            bisect.insort(self.space(packet.namespace).packet_ids, packet.packet_id)
        else:
            self.packet_counts[old.status] -= 1
        self.packet_counts[packet.status] += 1
        self.packets[packet.packet_id] = packet
        if old is None or not _accounted_alike(old, packet):
            if old is not None:
                self._account(old, -1)
            self._account(packet, +1)

    def _account(self, packet: Packet, sign: int) -> None:
        if not packet.status.terminal:
            self.space(packet.namespace).count_demand(packet, sign)
        if packet.status.owned and packet.owner:
            load = self.loads.setdefault(packet.owner, OwnerLoad())
            load.add(packet, sign)
            owner = self.members.get(packet.owner)
            if owner is not None:
                self.space(owner.namespace).table.set_load(
                    packet.owner, load.cpu, load.memory, len(load.packets))
        if packet.status is PacketStatus.PENDING:
            if sign > 0:
                self.pending[packet.packet_id] = None
            else:
                self.pending.pop(packet.packet_id, None)
        elif packet.strategy is Strategy.RING and packet.status.owned and packet.handoff_allowed:
            if sign > 0:
                self.ring_movable.add(packet.packet_id)
            else:
                self.ring_movable.discard(packet.packet_id)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """The state as the three snapshot documents (file name -> document)."""
        return self.snapshot_view().documents()

    def snapshot_view(self) -> SnapshotView:
        """The records as of now, cheap to take (records are immutable); the documents
        are built from it later, off the event loop, while the state moves on."""
        return SnapshotView(
            [self.members[i] for i in self._sorted_ids],
            [self.packets[i] for i in self._sorted_packets],
            [n for n in self.namespaces.values() if n.revision],  # journaled ones only
            [self.policies[k] for k in sorted(self.policies)],
            [self.contracts[k] for k in sorted(self.contracts)],
            [self.bundles[k] for k in sorted(self.bundles)],
        )

    def restore(self, documents: Mapping[str, Mapping[str, Any]], revision: int) -> None:
        # Snapshots written before namespaces (or bundles) existed have none: every record is
        # default's.
        for raw in documents["registry.json"].get("namespaces", ()):
            self.namespaces[raw["name"]] = Namespace.from_dict(raw, revision)
        registry = documents["registry.json"]
        for raw in registry.get("policies", ()):
            policy = NamedPolicy.from_dict(raw)
            self.policies[policy.key] = policy
        for raw in registry.get("contracts", ()):
            contract = Contract.from_dict(raw)
            self.contracts[contract.key] = contract
        for raw in registry.get("bundles", ()):
            bundle = AppliedBundle.from_dict(raw, revision)
            self.bundles[bundle.name] = bundle
        for raw in documents["registry.json"]["members"]:
            self._put_member(Member.from_dict(raw))
        for raw in documents["packets.json"]["packets"]:
            self._put_packet(Packet.from_dict(raw))
        # Oldest first, as they became PENDING (the snapshot lists packets by id).
        waiting = sorted(self.pending, key=lambda p: (self.packets[p].update_time, p))
        self.pending = dict.fromkeys(waiting)
        self.revision = revision
