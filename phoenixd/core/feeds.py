"""Live feeds: a broker fans durable events out to subscribers with bounded queues.

Publishing never waits. A subscriber whose queue is full is cut off (its
stream ends with RESOURCE_EXHAUSTED and the last revision it got, so it can
resume), which is how one slow reader is kept from slowing the daemon.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from phoenixd.core.events import Event

__all__ = ["SUBSCRIBER_QUEUE_LIMIT", "Broker", "Subscription"]

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

    def close_all(self, reason: str) -> None:
        for sub in list(self._subscribers):
            sub.close(reason)
        self._subscribers.clear()
