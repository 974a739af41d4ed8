"""Watches: the live feeds a surface streams (events, members, one member's assignments)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass

from phoenixd.core.application.durability import Durability
from phoenixd.core.application.feeds import Broker, EventFilter, check_resume_point, follow
from phoenixd.core.application.notices import NoticeGate
from phoenixd.core.cluster import Cluster
from phoenixd.core.errors import ResourceExhausted
from phoenixd.core.events import Event, namespace_of
from phoenixd.core.members import Member
from phoenixd.core.namespaces import validate_namespace
from phoenixd.core.packets import Packet
from phoenixd.core.validation import validate_member_id

__all__ = [
    "WATCHER_QUEUE_LIMIT", "Assigned", "AssignmentUpdate", "Revoked", "Synced", "Watches",
]

# Updates waiting for one assignment watcher: a few per second per member at most; 1024
# means a client that stopped reading for minutes, and is then cut off rather than let
# the daemon hold unbounded memory for it.
WATCHER_QUEUE_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class Assigned:
    packet: Packet


@dataclass(frozen=True, slots=True)
class Revoked:
    packet_id: str
    epoch: int
    reason: str


@dataclass(frozen=True, slots=True)
class Synced:
    """Every assignment the member held when the watch began has been sent."""

    count: int


AssignmentUpdate = Assigned | Revoked | Synced


class _AssignmentWatcher:
    """One watch of a member's assignments (a NoticeGate listener) with a bounded queue."""

    def __init__(self, member_id: str) -> None:
        self.member_id = member_id
        self.queue: asyncio.Queue[Assigned | Revoked | None] = asyncio.Queue(
            WATCHER_QUEUE_LIMIT)
        self.overflowed = False
        self._closed = False

    def assigned(self, packet: Packet) -> None:
        self._put(Assigned(packet))

    def revoked(self, packet_id: str, epoch: int, reason: str) -> None:
        self._put(Revoked(packet_id, epoch, reason))

    def _put(self, update: Assigned | Revoked) -> None:
        if self.overflowed or self._closed:
            return
        try:
            self.queue.put_nowait(update)
        except asyncio.QueueFull:
            self.overflowed = True
            self._end()

    def close(self, reason: str) -> None:
        if not (self.overflowed or self._closed):
            self._closed = True
            self._end()

    def _end(self) -> None:
        if self.queue.full():
            self.queue.get_nowait()  # the ending matters more than what it displaces
        self.queue.put_nowait(None)


class Watches:
    def __init__(
        self, cluster: Cluster, durability: Durability, broker: Broker, gate: NoticeGate
    ) -> None:
        self._cluster = cluster
        self._durability = durability
        self._broker = broker
        self._gate = gate

    def _follow(self, accepts: Callable[[Event], bool], after: int | None,
                what: str) -> AsyncIterator[Event]:
        log = self._durability.log
        check_resume_point(after, log.durable_sequence, what)
        return follow(log, self._broker, accepts, after, what)

    def events(self, wanted: EventFilter, after: int | None) -> AsyncIterator[Event]:
        """Matching events after ``after`` (None: from now on), then live ones."""
        return self._follow(wanted.accepts, after, "after_sequence")

    async def members(
        self, member_id: str, after: int | None, namespaces: Collection[str] = (),
    ) -> AsyncIterator[tuple[Event, Member]]:
        """Every change of one member (or of all, of these namespaces if any are named), as
        (event, the record it made)."""
        if member_id:
            validate_member_id(member_id)
        scope = frozenset(validate_namespace(n) for n in namespaces)

        def member_event(event: Event) -> bool:
            return ("member" in event.data
                    and (not member_id or member_id in event.member_ids)
                    and (not scope or namespace_of(event) in scope))

        async for event in self._follow(member_event, after, "after_revision"):
            yield event, Member.from_dict({**event.data["member"], "revision": event.sequence})

    async def assignments(
        self, member_id: str, credential: str
    ) -> AsyncIterator[AssignmentUpdate]:
        """What the member owns now, then ``Synced``, then each durable assignment and
        revocation; RESOURCE_EXHAUSTED if the reader falls behind (it opens it again)."""
        self._cluster.credentials.authenticate(member_id, credential)
        watcher = _AssignmentWatcher(member_id)
        # As a session: register and list in one step, then wait for durability.
        self._gate.watch(watcher)
        owned = self._cluster.assignments_of(member_id)
        try:
            await self._durability.settle()
            for packet in owned:
                yield Assigned(packet)
            yield Synced(len(owned))
            while (update := await watcher.queue.get()) is not None:
                yield update
        finally:
            self._gate.unwatch(watcher)
        if watcher.overflowed:
            raise ResourceExhausted(
                "this assignment watcher fell behind; open it again (current assignments "
                "are sent first)"
            )
