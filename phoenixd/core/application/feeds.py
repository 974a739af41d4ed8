"""Feeds: durable events fanned out live, and replay-then-follow for every watch.

A broker fans durable events out to subscribers with bounded queues. Publishing
never waits. A subscriber whose queue is full is cut off (its stream ends with
RESOURCE_EXHAUSTED and the last revision it got, so it can resume), which is how
one slow reader is kept from slowing the daemon. ``follow`` replays the durable
log from a resume point and then goes live, missing and repeating nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass

from phoenixd.core.errors import InvalidArgument, OutOfRange, ResourceExhausted, Unavailable
from phoenixd.core.eventlog import EventLog
from phoenixd.core.events import Event, EventType, namespace_of
from phoenixd.core.namespaces import validate_namespace
from phoenixd.core.validation import validate_member_id, validate_packet_id

__all__ = [
    "MAX_FILTER_TYPES", "REPLAY_CHUNK", "SUBSCRIBER_QUEUE_LIMIT", "Broker", "EventFilter",
    "Subscription", "check_resume_point", "follow", "history",
]

# Events buffered per subscriber. 4096 absorbs a burst of a few thousand
# mutations (a mass re-registration after a restart) while a healthy reader
# catches up; a reader further behind than that is better off resuming from
# its last revision than holding memory the daemon needs.
SUBSCRIBER_QUEUE_LIMIT = 4096


class Subscription:
    """One subscriber's queue; ``overflowed`` is set once it fell behind."""

    def __init__(self, accepts: Callable[[Event], bool], limit: int) -> None:
        self.accepts = accepts
        # One slot more than the limit, kept free for the end-of-stream marker.
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(limit + 1)
        self._limit = limit
        self.overflowed = False
        self.closed_reason = ""

    @property
    def ended(self) -> bool:
        return self.overflowed or bool(self.closed_reason)

    def offer(self, event: Event) -> bool:
        """Queue the event if wanted; False once the subscriber has fallen behind."""
        if self.ended:
            return False
        if not self.accepts(event):
            return True
        if self.queue.qsize() >= self._limit:
            # The reader resumes from the journal, so what it has not read yet
            # can go: it learns where to resume from the events it did read.
            self.overflowed = True
            self.queue.put_nowait(None)
            return False
        self.queue.put_nowait(event)
        return True

    def close(self, reason: str) -> None:
        """End the subscription after what it has queued (the daemon is shutting down)."""
        if self.ended:
            return
        self.closed_reason = reason
        self.queue.put_nowait(None)


class Broker:
    """Subscribers of the durable event stream."""

    def __init__(self, limit: int = SUBSCRIBER_QUEUE_LIMIT) -> None:
        self._limit = limit
        self._subscribers: set[Subscription] = set()
        self.dropped = 0  # subscribers cut off for falling behind, since start

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self, accepts: Callable[[Event], bool] = lambda e: True) -> Subscription:
        sub = Subscription(accepts, self._limit)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subscribers.discard(sub)

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            for sub in list(self._subscribers):
                if not sub.offer(event):
                    self._subscribers.discard(sub)
                    self.dropped += sub.overflowed

    def close_all(self, reason: str) -> None:
        for sub in list(self._subscribers):
            sub.close(reason)
        self._subscribers.clear()


# -- replay, then follow -------------------------------------------------------------------

# Events read per step of a replay; small enough to keep the loop responsive.
REPLAY_CHUNK = 512


def check_resume_point(after: int | None, head: int, what: str) -> None:
    """A watch may resume from 0 up to the durable head, nothing else."""
    if after is None:
        return
    if after < 0:
        raise InvalidArgument(f"{what} must be >= 0, got {after}")
    if after > head:
        raise OutOfRange(
            f"{what}={after} is past the newest revision {head}; resume from a revision "
            "this daemon returned"
        )


async def history(log: EventLog, after: int, upto: int) -> AsyncIterator[Event]:
    """Durable events with after < sequence <= upto, read in chunks."""
    cursor = after
    while cursor < upto:
        chunk = await log.read(cursor, min(REPLAY_CHUNK, upto - cursor))
        if not chunk:
            return
        for event in chunk:
            yield event
        cursor = chunk[-1].sequence


async def follow(
    log: EventLog,
    broker: Broker,
    accepts: Callable[[Event], bool],
    after: int | None,
    what: str,
) -> AsyncIterator[Event]:
    """Matching events after ``after`` (None: from now on), then live ones, forever.

    The subscription is taken before the replay starts, at the durable head, so
    nothing that becomes durable during the replay is missed or repeated.
    """
    subscription = broker.subscribe(accepts)
    head = log.durable_sequence
    last = head if after is None else max(after, 0)
    try:
        if after is not None:
            async for event in history(log, last, head):
                if accepts(event):
                    yield event
            last = max(last, head)
        while True:
            live = await subscription.queue.get()
            if live is None:
                if subscription.overflowed:
                    raise ResourceExhausted(
                        f"this watcher fell behind the live feed; resume with "
                        f"{what}={last} to continue without missing anything"
                    )
                raise Unavailable(f"{subscription.closed_reason}; resume with {what}={last}")
            if live.sequence <= last:
                continue
            last = live.sequence
            yield live
    finally:
        broker.unsubscribe(subscription)


# -- which events a query or a watch wants --------------------------------------------------

MAX_FILTER_TYPES = 64
_KNOWN_TYPES = frozenset(str(t) for t in EventType)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Events of these types (any, if empty), naming this member and this packet (if
    given), recorded in [start, end) (if given)."""

    types: frozenset[str] = frozenset()
    member_id: str = ""
    packet_id: str = ""
    start: float | None = None
    end: float | None = None
    namespaces: frozenset[str] = frozenset()  # any, if empty ("" is the daemon's own events)

    @classmethod
    def of(
        cls, types: Sequence[str] = (), member_id: str = "", packet_id: str = "",
        start: float | None = None, end: float | None = None,
        namespaces: Iterable[str] = (),
    ) -> EventFilter:
        """A checked filter: known types, valid ids, a time range that is not empty."""
        if len(types) > MAX_FILTER_TYPES:
            raise InvalidArgument(f"at most {MAX_FILTER_TYPES} event types per filter")
        unknown = sorted(set(types) - _KNOWN_TYPES)
        if unknown:
            raise InvalidArgument(
                f"unknown event type(s) {', '.join(repr(t[:64]) for t in unknown[:5])}; known: "
                + ", ".join(sorted(_KNOWN_TYPES))
            )
        if member_id:
            validate_member_id(member_id)
        if packet_id:
            validate_packet_id(packet_id)
        if start is not None and end is not None and end <= start:
            raise InvalidArgument("end_time must be after start_time")
        scope = frozenset(namespaces)
        for namespace in scope - {""}:
            validate_namespace(namespace)
        return cls(frozenset(types), member_id, packet_id, start, end, scope)

    def accepts(self, event: Event) -> bool:
        return (
            (not self.types or event.type in self.types)
            and (not self.member_id or self.member_id in event.member_ids)
            and (not self.packet_id or self.packet_id in event.packet_ids)
            and (self.start is None or event.time >= self.start)
            and (self.end is None or event.time < self.end)
            and (not self.namespaces or namespace_of(event) in self.namespaces)
        )

    def fingerprint(self) -> dict[str, object]:
        """What a page token is bound to."""
        return {"types": sorted(self.types), "member": self.member_id,
                "packet": self.packet_id, "start": self.start, "end": self.end,
                "namespaces": sorted(self.namespaces)}
