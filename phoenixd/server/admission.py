"""Which streams may stay open: slots for authenticated streams, a small budget for
streams that have not authenticated yet, and a bound on the open probe streams.

A stream holds one of the ``--max-streams`` slots only once its caller is known: an
operator watch once its token was checked (the Guard does that before the handler runs),
a member session once its first message, which carries the member's credential, has
arrived. Until then a session waits in a budget of its own (``--max-unauthenticated-streams``)
for at most ``--auth-deadline`` seconds, so callers with nothing to prove cannot take the
slots that operators and members need. Health/Watch and reflection streams are open to
anyone; they are counted apart (``--max-probe-streams``) so that probes keep working
when every session slot is taken, and so that nobody can hold unboundedly many of them.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc

from phoenixd.server.errors import Context

__all__ = ["PendingStreams", "Slots", "StreamLimits"]


@dataclass(frozen=True)
class StreamLimits:
    """How many streams of each kind may be open (the module docstring says why)."""

    authenticated: int
    """Member sessions and watches whose caller is known (--max-streams)."""
    unauthenticated: int
    """Sessions still waiting for their first message (--max-unauthenticated-streams)."""
    auth_deadline: float
    """Seconds a session may take to send its first message (--auth-deadline)."""
    probes: int
    """Health/Watch and reflection streams, open to anyone (--max-probe-streams)."""


class Slots:
    """Calls or open streams of one kind, refused with RESOURCE_EXHAUSTED past ``limit``.

    ``what`` completes the refusal: "more than 1024 calls in flight; retry with backoff".
    """

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what
        self.open = 0

    async def take(self, context: Context) -> None:
        """Take a slot, or end the call with RESOURCE_EXHAUSTED if none is free."""
        if self.open >= self.limit:
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"more than {self.limit} {self.what}; retry with backoff",
            )
        self.open += 1

    def give_back(self) -> None:
        self.open -= 1


class PendingStreams:
    """Streams waiting for their first (authenticating) message.

    Past ``limit`` the stream that has waited longest is closed with RESOURCE_EXHAUSTED
    to make room, rather than the newest refused: a member sends its `open` message with
    its first packet, so it waits here for about one round trip, while a flood that keeps
    the budget full holds each stream much longer. Closing the oldest keeps the budget
    bounded and still lets such a member in; refusing the newest would let a few streams
    a second keep every member out.
    """

    def __init__(self, limit: int, deadline: float) -> None:
        self.limit = limit
        self.deadline = deadline
        self._waiting: OrderedDict[object, asyncio.Future[None]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._waiting)

    async def first_message(self, requests: AsyncIterator[Any], context: Context) -> Any:
        """The stream's first message, or the call ended with a status saying why not.

        DEADLINE_EXCEEDED if nothing arrived within the deadline, RESOURCE_EXHAUSTED if
        the stream was closed to make room, INVALID_ARGUMENT if the caller closed its side
        without sending anything.
        """
        key = object()
        evicted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[key] = evicted
        while len(self._waiting) > self.limit:
            _, oldest = self._waiting.popitem(last=False)
            oldest.set_result(None)
        read = asyncio.ensure_future(anext(requests))
        try:
            await asyncio.wait({read, evicted}, timeout=self.deadline,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._waiting.pop(key, None)
            if not read.done():
                read.cancel()
        if read.done() and not read.cancelled():
            try:
                return read.result()
            except StopAsyncIteration:
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "the stream ended before its first message (a session starts with `open`)",
                )
        if evicted.done():
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"more than {self.limit} streams waiting to authenticate; this one waited "
                "longest without sending its first message",
            )
        await context.abort(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"no first message within {self.deadline:g}s: a session must send `open` with "
            "its member_id and credential first (--auth-deadline)",
        )
