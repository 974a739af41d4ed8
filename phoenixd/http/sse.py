"""Server-Sent Events: the watch RPCs' messages as ``text/event-stream``, one watch per
stream or several multiplexed on one connection.

Each watch is the gRPC method itself, run through the Guard as a gRPC call of it is (the
operator token, the method's authorization rule and namespace narrowing, the stream slots),
so its feed is the application layer's (feeds.py): the same replay-then-follow, the same
bounded queue per subscriber, cut off the same way when the reader falls behind. Nothing
here buffers more than one message per stream: a reader that stops reading stops the
writer (aiohttp waits for the socket to drain), which stops pulling from the feed, whose
own queue then fills and ends the watch with RESOURCE_EXHAUSTED and the last revision sent.

An event is ``id:`` the message's revision (a multiplexed stream's id holds every feed's,
``m:12,e:340``), ``event:`` its type (a multiplexed stream's: its feed), ``data:`` the
message in the REST responses' JSON. When the daemon ends a watch (the reader fell behind,
the daemon is shutting down) a ``closed`` event says why, without an id, and the stream
ends: an EventSource then reconnects by itself with ``Last-Event-ID`` and resumes where it
was. Refusals before the stream starts (no token, a rule, a bad query, no free stream slot)
are an HTTP status and the JSON error body, as for every route, so that an EventSource
stops instead of retrying a call that cannot succeed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import grpc
import structlog
from aiohttp import web
from google.protobuf.message import Message

from phoenixd.http.context import Aborted, HttpCallContext
from phoenixd.http.transcode import BadRequest, response_json
from phoenixd.server.grpc_server import Handler

__all__ = [
    "FEEDS", "HEARTBEAT_SECONDS", "WATCH_PATH", "Feed", "Frames", "Watch", "cursors", "stream",
]

log = structlog.get_logger("phoenixd.http")

# Several watches on one connection: a browser allows about six per origin (HTTP/1.1).
WATCH_PATH = "/v1/watch"
# A comment line this often while a stream is idle: proxies and load balancers close
# connections that carry nothing for a while (nginx's proxy_read_timeout defaults to 60 s).
HEARTBEAT_SECONDS = 15.0
# How often an idle stream looks whether its client has gone: aiohttp does not cancel a
# handler whose client went away, and a write is the other way to find out.
GONE_CHECK_SECONDS = 1.0
# The reconnection delay an EventSource is told to use (ms): quick, since a stream the daemon
# ended on purpose (a slow reader, a restart) is meant to be resumed.
RETRY_MS = 1000
EVENT_STREAM = "text/event-stream"
# Messages kept as JSON for the streams: every reader of a live feed gets the same messages,
# and writing one as JSON (json_format) costs far more than sending it; as many as the gRPC
# recorder keeps converted (flight_recorder_service.py).
ENCODED_MESSAGES = 4096


@dataclass(frozen=True)
class Feed:
    """How one watch RPC's messages become events."""

    name: str
    """As ``?feeds=`` names it: "members"."""
    tag: str
    """Its cursor's name in a multiplexed stream's Last-Event-ID ("m" in ``m:12,e:340``)."""
    cursor: str
    """The request field a watch resumes after: "after_revision"."""
    revision: Callable[[Any], int]
    kind: Callable[[Any], str]
    key: Callable[[Any], object]
    """What tells two messages of this feed apart (those with the same key are the same)."""


class Frames:
    """Messages as their JSON, written once however many streams send them."""

    def __init__(self, limit: int = ENCODED_MESSAGES) -> None:
        self._limit = limit
        self._json: OrderedDict[tuple[str, object], bytes] = OrderedDict()

    def json(self, feed: Feed, message: Message) -> bytes:
        key = (feed.name, feed.key(message))
        found = self._json.get(key)
        if found is None:
            found = self._json[key] = response_json(message)
            if len(self._json) > self._limit:
                self._json.popitem(last=False)
        return found


# Every server-streaming method with an HTTP route is here (server.py refuses to start
# otherwise): the id and the type of an event come from fields that differ per message.
FEEDS: dict[str, Feed] = {
    "/phoenixflight.v1.MembershipService/WatchMembers": Feed(
        "members", "m", "after_revision", lambda r: r.revision, lambda r: r.event_type,
        # One member per change: its revision is the change's event.
        lambda r: r.revision),
    "/phoenixflight.v1.FlightRecorderService/WatchEvents": Feed(
        "events", "e", "after_sequence", lambda r: r.event.sequence, lambda r: r.event.type,
        lambda r: (r.event.sequence, r.event.hash)),
}
_TAGGED = re.compile(r"([a-z]):(\d+)")


def cursors(header: str, feeds: Sequence[Feed]) -> dict[str, int]:
    """The revisions a Last-Event-ID header names, by feed name: one number for a single
    feed, ``m:12,e:340`` for several (a feed it leaves out starts as its query says)."""
    header = header.strip()
    if len(feeds) == 1 and header.isdigit():
        return {feeds[0].name: int(header)}
    by_tag = {feed.tag: feed for feed in feeds}
    found: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in header.split(","))):
        tagged = _TAGGED.fullmatch(part)
        if tagged is None or tagged[1] not in by_tag:
            expected = ("a revision, e.g. 12" if len(feeds) == 1 else
                        ",".join(f"{f.tag}:<revision>" for f in feeds))
            raise BadRequest(f"Last-Event-ID {header[:80]!r} is not {expected}; send the id of "
                             "the last event this stream gave you, or no header to start anew")
        found[by_tag[tagged[1]].name] = int(tagged[2])
    return found


class Watch:
    """One watch RPC run for a stream: its messages pumped into the stream's queue."""

    def __init__(self, feed: Feed, request: Message, context: HttpCallContext) -> None:
        self.feed = feed
        self.handler: Handler | None = None
        """The watch method's handler as the Guard returned it."""
        self._request = request
        self._context = context
        self.error: Aborted | None = None
        self.started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None

    def entered(self) -> None:
        """The Guard let the call through: its handler runs (see ``entering``)."""
        if not self.started.done():
            self.started.set_result(None)

    async def pump(self, queue: asyncio.Queue[tuple[Watch, Message | None]]) -> None:
        """Put the watch's messages on ``queue``, then (the watch ended) None."""
        assert self.handler is not None and self.handler.unary_stream is not None
        messages = cast(AsyncIterator[Message],
                        self.handler.unary_stream(self._request, cast(Any, self._context)))
        try:
            async for message in messages:
                await queue.put((self, message))
        except Aborted as exc:
            self.error = exc
        except Exception:  # a bug: the stream ends as a gRPC one would, and it is logged
            log.exception("HTTP watch failed", feed=self.feed.name)
            self.error = Aborted(grpc.StatusCode.UNKNOWN,
                                 "unexpected error in the daemon; its log has the details")
        else:
            self.error = Aborted(grpc.StatusCode.OK, "the feed ended")
        self.entered()
        await queue.put((self, None))


def entering(handler: Handler, watch: Watch) -> Handler:
    """``handler`` telling ``watch`` when the Guard has let it run."""
    assert handler.unary_stream is not None
    inner = cast(Callable[[Any, Any], AsyncIterator[Any]], handler.unary_stream)

    async def entered(request: Any, context: Any) -> AsyncIterator[Any]:
        watch.entered()
        async for item in inner(request, context):
            yield item

    return grpc.unary_stream_rpc_method_handler(
        entered, request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer)


async def stream(request: web.Request, watches: list[Watch], *, heartbeat: float,
                 frames: Frames, refuse: Callable[[Aborted], web.Response],
                 after: dict[str, int | None]) -> web.StreamResponse:
    """Serve ``watches`` as one event stream until one of them ends or the client goes.

    ``after`` is where each feed starts (its cursor in the ids until it sends an event).
    """
    queue: asyncio.Queue[tuple[Watch, Message | None]] = asyncio.Queue(1)
    for watch in watches:
        watch.task = asyncio.create_task(watch.pump(queue), name=f"sse-{watch.feed.name}")
    try:
        # A watch the Guard let through validates its request in the same step (before its
        # feed first waits), so once every watch started any refusal is known: it is then
        # still an HTTP status, as nothing has been sent.
        await asyncio.gather(*(watch.started for watch in watches))
        refused = next((w.error for w in watches if w.error is not None), None)
        if refused is not None:
            return refuse(refused)
        response = web.StreamResponse(headers={
            "Content-Type": EVENT_STREAM, "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx: pass each event on as it comes
        })
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            await _serve(request, response, queue, watches, heartbeat, frames, dict(after))
        return response
    finally:
        for watch in watches:
            if watch.task is not None:
                watch.task.cancel()
        await asyncio.gather(*(w.task for w in watches if w.task is not None),
                             return_exceptions=True)


async def _serve(request: web.Request, response: web.StreamResponse,
                 queue: asyncio.Queue[tuple[Watch, Message | None]], watches: list[Watch],
                 heartbeat: float, frames: Frames, positions: dict[str, int | None]) -> None:
    loop = asyncio.get_running_loop()
    multiplexed = len(watches) > 1
    await response.write(f"retry: {RETRY_MS}\n\n".encode())
    quiet_since = loop.time()
    while True:
        try:
            watch, message = await asyncio.wait_for(queue.get(),
                                                    min(GONE_CHECK_SECONDS, heartbeat))
        except TimeoutError:
            if request.transport is None or request.transport.is_closing():
                return
            if loop.time() - quiet_since >= heartbeat:
                await response.write(b": ping\n\n")
                quiet_since = loop.time()
            continue
        feed = watch.feed
        if message is None:
            await response.write(_closed(watch))
            return
        positions[feed.name] = feed.revision(message)
        if multiplexed:
            ident = ",".join(f"{w.feed.tag}:{positions[w.feed.name]}" for w in watches
                             if positions[w.feed.name] is not None)
            kind = feed.name
        else:
            ident, kind = str(positions[feed.name]), feed.kind(message)
        await response.write(b"id: %s\nevent: %s\ndata: %s\n\n" % (
            ident.encode(), _line(kind).encode(), frames.json(feed, message)))
        quiet_since = loop.time()


def _closed(watch: Watch) -> bytes:
    error = watch.error or Aborted(grpc.StatusCode.UNKNOWN, "the feed ended")
    body = {"feed": watch.feed.name, "code": error.code.value[0], "status": error.code.name,
            "message": error.details}
    return b"event: closed\ndata: %s\n\n" % json.dumps(
        body, ensure_ascii=False, separators=(",", ":")).encode()


def _line(text: str) -> str:
    """A field value on one line (an event type comes from the log; it never has breaks)."""
    return text.replace("\r", " ").replace("\n", " ")
