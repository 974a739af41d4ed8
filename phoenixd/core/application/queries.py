"""Queries: reads of the registry, the packets and the Flight Recorder.

Each answers as of the durable head: a query waits until everything recorded
before it is durable, so nobody is shown a change a crash could still undo.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from phoenixd.core import directory
from phoenixd.core.application.durability import Durability
from phoenixd.core.application.feeds import EventFilter, history
from phoenixd.core.application.health import (
    ClusterHealth,
    HealthTally,
    check_window,
    cluster_health,
)
from phoenixd.core.application.pages import Page, decode_token, encode_token, page_size
from phoenixd.core.bundled import AppliedBundle
from phoenixd.core.cluster import Cluster
from phoenixd.core.errors import InvalidArgument, NotFound
from phoenixd.core.eventlog import ChainReport
from phoenixd.core.events import Event, EventType, namespace_of
from phoenixd.core.members import Member, MemberStatus
from phoenixd.core.namespaces import Namespace, Usage, validate_namespace
from phoenixd.core.packets import Packet, PacketStatus
from phoenixd.core.registry import MemberView
from phoenixd.core.selector import parse_selector
from phoenixd.core.state import ClusterState, SnapshotView
from phoenixd.core.tokens import HandoffKeyInfo
from phoenixd.core.validation import validate_member_id, validate_name, validate_packet_id

__all__ = [
    "MAX_QUERY_SCAN", "Capability", "ClusterStatus", "Explanation", "Lineage", "NamespaceView",
    "Queries", "StateFork",
]

# Events one QueryEvents call reads at most before it answers with a page token.
MAX_QUERY_SCAN = 50_000


@dataclass(frozen=True, slots=True)
class Capability:
    """One entry of the capability directory: who offers it, at which versions."""

    name: str
    versions: list[str]
    providers: list[tuple[Member, str]]  # (provider, version), by member id


@dataclass(frozen=True, slots=True)
class Explanation:
    """A placement decision as the Flight Recorder kept it."""

    decision: dict[str, Any]
    packet: dict[str, Any]
    epoch: int
    sequence: int


@dataclass(frozen=True, slots=True)
class Lineage:
    """Every event of one packet or lineage, and the chain head they were read at."""

    events: list[Event]
    head_sequence: int
    head_hash: str


@dataclass(frozen=True, slots=True)
class NamespaceView:
    """A namespace and what it holds live now."""

    namespace: Namespace
    usage: Usage


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    """The daemon as a whole: its version, its revision, its records counted by status."""

    daemon_version: str
    revision: int
    members: dict[MemberStatus, int]  # every status, zeros included
    packets: dict[PacketStatus, int]


@dataclass(frozen=True, slots=True)
class StateFork:
    """The state's records as of one journal head, for a simulation to restore and change
    (records are immutable: taking one costs a list of references, not a copy)."""

    view: SnapshotView
    head_sequence: int
    head_hash: str
    wall_time: float  # when it was taken (seconds since the epoch)
    members: int
    packets: int


class Queries:
    def __init__(
        self, cluster: Cluster, durability: Durability, handoff_key: HandoffKeyInfo,
        daemon_version: str, health: HealthTally,
    ) -> None:
        self._cluster = cluster
        self._health = health
        self._state: ClusterState = cluster.state
        self._durability = durability
        self.handoff_key = handoff_key
        self._daemon_version = daemon_version

    # -- the cluster ---------------------------------------------------------------------

    async def cluster_status(self, namespaces: Collection[str] = ()) -> ClusterStatus:
        """Counts by status at the durable head: over the whole daemon from the state's
        counters (no scan), or over ``namespaces`` from what each of them holds."""
        if namespaces:
            state = self._state
            scope = [state.peek(n) for n in _scope(namespaces)]
            by_member = Counter(state.members[i].status for s in scope for i in s.member_ids)
            by_packet = Counter(state.packets[i].status for s in scope for i in s.packet_ids)
        else:
            by_member, by_packet = self._state.member_counts, self._state.packet_counts
        members = {s: by_member[s] for s in MemberStatus}
        packets = {s: by_packet[s] for s in PacketStatus}
        revision = await self._durability.settle()
        return ClusterStatus(self._daemon_version, revision, members, packets)

    async def fork(self) -> StateFork:
        """The state as of now (taken in one step on the event loop, so it is one
        revision's), returned once that revision is durable."""
        recorder = self._durability.recorder
        view = self._state.snapshot_view()
        fork = StateFork(view, recorder.head_sequence, recorder.head_hash, time.time(),
                         len(view.members), len(view.packets))
        await self._durability.wait(fork.head_sequence)
        return fork

    async def cluster_health(self, window: float = 0.0,
                             namespaces: Collection[str] = ()) -> ClusterHealth:
        """The DMA figures over the last ``window`` seconds (0: the default hour), in
        ``namespaces`` (all, if none): counted as events became durable, not scanned."""
        seconds = check_window(window)
        scope = _scope(namespaces)
        await self._health.primed()
        counts = self._health.window(seconds, scope)
        revision = await self._durability.settle()
        return cluster_health(self._state, counts, seconds, scope, revision)

    # -- namespaces ----------------------------------------------------------------------

    def _namespace_view(self, record: Namespace) -> NamespaceView:
        usage = self._state.usage_of(record.name)
        return NamespaceView(record, Usage(usage.members, usage.packets, usage.cpu,
                                           usage.memory))

    async def get_namespace(self, name: str) -> NamespaceView:
        view = self._namespace_view(self._cluster.namespaces.get(name))
        await self._durability.settle()
        return view

    async def list_namespaces(self, *, within: Collection[str] = (), page_token: str = "",
                              size: int = 0) -> Page[NamespaceView]:
        """Namespaces by name (only those in ``within``, if given)."""
        query = {"within": sorted(within)}
        after = str(decode_token(page_token, query, str) or "")
        names = sorted(n for n in self._state.namespaces if not within or n in within)
        later = [n for n in names if n > after]
        limit = page_size(size)
        views = [self._namespace_view(self._state.namespaces[n]) for n in later[:limit]]
        revision = await self._durability.settle()
        token = encode_token(views[-1].namespace.name, query) if len(later) > limit else ""
        return Page(views, token, len(names), revision)

    # -- bundles -------------------------------------------------------------------------

    async def get_bundle(self, name: str) -> AppliedBundle:
        record = self._cluster.imports.get(name)
        await self._durability.settle()
        return record

    async def list_bundles(self, *, page_token: str = "", size: int = 0
                           ) -> Page[AppliedBundle]:
        """Applied bundles by name (the newest version of each)."""
        query: dict[str, Any] = {"bundles": True}
        after = str(decode_token(page_token, query, str) or "")
        names = sorted(self._state.bundles)
        later = [n for n in names if n > after]
        limit = page_size(size)
        records = [self._state.bundles[n] for n in later[:limit]]
        revision = await self._durability.settle()
        token = encode_token(records[-1].name, query) if len(later) > limit else ""
        return Page(records, token, len(names), revision)

    # -- members -------------------------------------------------------------------------

    async def get_member(self, member_id: str) -> MemberView:
        view = self._cluster.view(self._cluster.get_member(member_id))
        await self._durability.settle()
        return view

    async def list_members(
        self, *, statuses: Collection[MemberStatus] = (), capability: str = "",
        label_selector: str = "", namespaces: Collection[str] = (), page_token: str = "",
        size: int = 0,
    ) -> Page[MemberView]:
        selector = parse_selector(label_selector)
        scope = _scope(namespaces)
        query = {"statuses": sorted(str(s) for s in statuses), "capability": capability,
                 "selector": label_selector, "namespaces": scope}
        after = str(decode_token(page_token, query, str) or "")
        members, next_after, total = directory.list_members(
            self._state, statuses=statuses, capability=capability, selector=selector,
            namespaces=scope, after_id=after, limit=page_size(size),
        )
        views = [self._cluster.view(m) for m in members]
        # The page and its revision are taken in one step, then made durable.
        revision = await self._durability.settle()
        token = encode_token(next_after, query) if next_after else ""
        return Page(views, token, total, revision)

    async def list_capabilities(
        self, *, include_inactive: bool = False, namespaces: Collection[str] = (),
        page_token: str = "", size: int = 0,
    ) -> Page[Capability]:
        scope = _scope(namespaces)
        query = {"include_inactive": include_inactive, "namespaces": scope}
        after = str(decode_token(page_token, query, str) or "")
        limit = page_size(size)
        providers = directory.capability_directory(self._state, include_inactive, scope)
        names = [name for name in providers if name > after]
        page = [
            Capability(name, sorted({version for _, version in providers[name]}),
                       providers[name])
            for name in names[:limit]
        ]
        more = len(names) > limit
        revision = await self._durability.settle()
        token = encode_token(page[-1].name, query) if more else ""
        return Page(page, token, len(providers), revision)

    # -- packets -------------------------------------------------------------------------

    async def get_packet(self, packet_id: str) -> Packet:
        packet = self._cluster.get_packet(packet_id)
        await self._durability.settle()
        return packet

    async def list_packets(
        self, *, statuses: Collection[PacketStatus] = (), owner: str = "",
        workload_type: str = "", lineage_id: str = "", namespaces: Collection[str] = (),
        page_token: str = "", size: int = 0,
    ) -> Page[Packet]:
        if owner:
            validate_member_id(owner, "owner")
        validate_name(workload_type, "workload_type")
        validate_name(lineage_id, "lineage_id")
        scope = _scope(namespaces)
        query = {"statuses": sorted(str(s) for s in statuses), "owner": owner,
                 "workload_type": workload_type, "lineage": lineage_id, "namespaces": scope}
        after = str(decode_token(page_token, query, str) or "")
        packets, next_after, total = directory.list_packets(
            self._state, statuses=statuses, owner=owner, workload_type=workload_type,
            lineage_id=lineage_id, namespaces=scope, after_id=after, limit=page_size(size),
        )
        revision = await self._durability.settle()
        token = encode_token(next_after, query) if next_after else ""
        return Page(packets, token, total, revision)

    async def explain(self, packet_id: str, epoch: int) -> Explanation:
        """The placement decision of ``epoch`` (0: the latest), read back from the log."""
        decided_epoch, sequence = self._cluster.explain(packet_id, epoch)
        await self._durability.settle()
        (event,) = await self._durability.log.read(sequence - 1, 1)
        if event.type not in (EventType.ASSIGNMENT_DECISION, EventType.PACKET_WAITING):
            raise NotFound(f"event {sequence} is not a placement decision")
        return Explanation(event.data["decision"], event.data["packet"], decided_epoch, sequence)

    # -- the Flight Recorder ------------------------------------------------------------------

    async def query_events(
        self, wanted: EventFilter, *, after: int = 0, page_token: str = "", size: int = 0,
    ) -> Page[Event]:
        """Matching events after ``after``, a page at a time. A sparse filter over a long
        log returns a short (even empty) page with a token rather than holding the call
        for a full scan. ``total`` is the page's length; ``revision`` the head."""
        if after < 0:
            raise InvalidArgument(f"after_sequence must be >= 0, got {after}")
        query = {**wanted.fingerprint(), "after": after}
        position = decode_token(page_token, query, int)
        cursor = int(position) if position is not None else after
        limit = page_size(size)
        head = await self._durability.settle()
        found: list[Event] = []
        scanned_to = cursor
        log = self._durability.log
        async for event in history(log, cursor, min(head, cursor + MAX_QUERY_SCAN)):
            scanned_to = event.sequence
            if wanted.accepts(event):
                found.append(event)
                if len(found) == limit:
                    break
        token = encode_token(scanned_to, query) if scanned_to < head else ""
        return Page(found, token, len(found), head)

    async def export_lineage(self, *, packet_id: str = "", lineage_id: str = "",
                             namespaces: Collection[str] = ()) -> Lineage:
        """Every event of one packet, or of one lineage (give exactly one); only those of
        ``namespaces``, if given."""
        if bool(packet_id) == bool(lineage_id):
            raise InvalidArgument("give exactly one of packet_id or lineage_id")
        if packet_id:
            validate_packet_id(packet_id)
        else:
            validate_name(lineage_id, "lineage_id")
        recorder = self._durability.recorder
        head, hash_ = recorder.head_sequence, recorder.head_hash
        await self._durability.wait(head)
        within = set(_scope(namespaces))
        events = [
            event
            async for event in history(self._durability.log, 0, head)
            if ((packet_id and packet_id in event.packet_ids)
                or (lineage_id and lineage_id in event.lineage_ids))
            and (not within or namespace_of(event) in within)
        ]
        if not events:
            what = f"packet {packet_id!r}" if packet_id else f"lineage {lineage_id!r}"
            raise NotFound(f"the Flight Recorder has no events for {what}")
        return Lineage(events, head, hash_)

    async def verify_chain(self) -> ChainReport:
        await self._durability.settle()
        return await self._durability.log.verify()


def _scope(namespaces: Collection[str]) -> list[str]:
    """The namespaces a query is limited to (all, if none), checked and sorted."""
    return sorted({validate_namespace(n) for n in namespaces})
