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
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(limit)
        self.overflowed = False
        self.closed_reason = ""

    def offer(self, event: Event) -> bool:
        """Queue the event if wanted; False if the subscriber fell behind."""
        if not self.accepts(event):
            return True
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            return False
        return True

    def close(self, reason: str) -> None:
        """End the subscription (daemon shutting down) after what it has queued."""
        self.closed_reason = reason
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:  # a full queue is not a slow reader here: just end it
            self.queue = _overflow_signal(self.queue)


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
                    sub.queue = _overflow_signal(sub.queue)

    def close_all(self, reason: str) -> None:
        for sub in list(self._subscribers):
            sub.close(reason)
        self._subscribers.clear()


def _overflow_signal(queue: asyncio.Queue[Event | None]) -> asyncio.Queue[Event | None]:
    """Keep what was queued, and wake the reader so it notices the overflow."""
    signal: asyncio.Queue[Event | None] = asyncio.Queue()
    while not queue.empty():
        signal.put_nowait(queue.get_nowait())
    signal.put_nowait(None)
    return signal
