"""Replay-then-follow over the Flight Recorder, shared by every watch RPC."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from phoenixd.core.errors import InvalidArgument, OutOfRange, ResourceExhausted, Unavailable
from phoenixd.core.events import Event
from phoenixd.core.feeds import Broker
from phoenixd.store import EventLog

__all__ = ["REPLAY_CHUNK", "check_resume_point", "follow", "history"]

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


async def history(journal: EventLog, after: int, upto: int) -> AsyncIterator[Event]:
    """Durable events with after < sequence <= upto, read in chunks."""
    cursor = after
    while cursor < upto:
        chunk = await journal.read(cursor, min(REPLAY_CHUNK, upto - cursor))
        if not chunk:
            return
        for event in chunk:
            yield event
        cursor = chunk[-1].sequence


async def follow(
    journal: EventLog,
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
    head = journal.durable_sequence
    last = head if after is None else max(after, 0)
    try:
        if after is not None:
            async for event in history(journal, last, head):
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
