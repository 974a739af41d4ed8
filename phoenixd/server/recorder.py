"""FlightRecorderService: query, follow, verify and export the hash-chained log."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Callable

from google.protobuf.timestamp_pb2 import Timestamp

from phoenixd.core.errors import InvalidArgument, NotFound
from phoenixd.core.events import Event, EventType
from phoenixd.core.validation import validate_member_id, validate_name, validate_packet_id
from phoenixd.server import convert
from phoenixd.server.context import Services
from phoenixd.server.errors import Context, streaming, unary
from phoenixd.server.streams import check_resume_point, follow, history
from phoenixflight.v1 import flight_recorder_service_pb2 as pb
from phoenixflight.v1 import flight_recorder_service_pb2_grpc as pb_grpc

__all__ = ["FlightRecorderServicer"]

_MAX_FILTER_TYPES = 64
# Events one QueryEvents call reads at most before it answers with a page token.
MAX_QUERY_SCAN = 50_000
_KNOWN_TYPES = frozenset(str(t) for t in EventType)


def _seconds(ts: Timestamp) -> float | None:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.seconds + ts.nanos / 1e9


def _matcher(
    types: list[str], member_id: str, packet_id: str,
    start: float | None = None, end: float | None = None,
) -> Callable[[Event], bool]:
    if len(types) > _MAX_FILTER_TYPES:
        raise InvalidArgument(f"at most {_MAX_FILTER_TYPES} event types per filter")
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
    wanted = frozenset(types)

    def accepts(event: Event) -> bool:
        return (
            (not wanted or event.type in wanted)
            and (not member_id or member_id in event.member_ids)
            and (not packet_id or packet_id in event.packet_ids)
            and (start is None or event.time >= start)
            and (end is None or event.time < end)
        )

    return accepts


# Converted events kept for the watchers: every watcher of a live feed gets the same
# events, and turning one into its message (its data as a Struct) is most of the cost.
CONVERTED_EVENTS = 4096


class FlightRecorderServicer(pb_grpc.FlightRecorderServiceServicer):
    def __init__(self, services: Services) -> None:
        self._s = services
        self._converted: OrderedDict[int, pb.WatchEventsResponse] = OrderedDict()

    def _watch_response(self, event: Event) -> pb.WatchEventsResponse:
        """The message for ``event``, converted once however many watchers it goes to."""
        response = self._converted.get(event.sequence)
        if response is None or response.event.hash != event.hash:
            response = pb.WatchEventsResponse(event=convert.event_to_pb(event))
            self._converted[event.sequence] = response
            if len(self._converted) > CONVERTED_EVENTS:
                self._converted.popitem(last=False)
        return response

    @unary
    async def QueryEvents(
        self, request: pb.QueryEventsRequest, context: Context
    ) -> pb.QueryEventsResponse:
        start, end = _seconds(request.start_time), _seconds(request.end_time)
        accepts = _matcher(list(request.types), request.member_id, request.packet_id, start, end)
        if request.after_sequence < 0:
            raise InvalidArgument(f"after_sequence must be >= 0, got {request.after_sequence}")
        query = {
            "types": sorted(request.types), "member": request.member_id,
            "packet": request.packet_id, "start": start, "end": end,
            "after": request.after_sequence,
        }
        position = convert.decode_page_token(request.page_token, query, int)
        cursor = int(position) if position is not None else request.after_sequence
        limit = convert.page_size(request.page_size)
        head = await self._s.settle()
        found: list[Event] = []
        scanned_to = cursor
        # A sparse filter over a long log returns a short (even empty) page with
        # a token rather than holding the call for a full scan.
        async for event in history(self._s.journal, cursor, min(head, cursor + MAX_QUERY_SCAN)):
            scanned_to = event.sequence
            if accepts(event):
                found.append(event)
                if len(found) == limit:
                    break
        more = scanned_to < head
        return pb.QueryEventsResponse(
            events=[convert.event_to_pb(e) for e in found],
            next_page_token=convert.encode_page_token(scanned_to, query) if more else "",
            head_sequence=head,
        )

    @streaming
    async def WatchEvents(
        self, request: pb.WatchEventsRequest, context: Context
    ) -> AsyncIterator[pb.WatchEventsResponse]:
        accepts = _matcher(list(request.types), request.member_id, request.packet_id)
        after = request.after_sequence if request.HasField("after_sequence") else None
        check_resume_point(after, self._s.journal.durable_sequence, "after_sequence")
        feed = follow(self._s.journal, self._s.broker, accepts, after, "after_sequence")
        async for event in feed:
            yield self._watch_response(event)

    @unary
    async def VerifyChain(
        self, request: pb.VerifyChainRequest, context: Context
    ) -> pb.VerifyChainResponse:
        await self._s.settle()
        report = await self._s.journal.verify()
        return pb.VerifyChainResponse(
            ok=report.ok,
            verified_events=report.verified,
            head_sequence=report.head_sequence,
            head_hash=report.head_hash,
            first_bad_sequence=report.bad_sequence,
            first_bad_offset=report.bad_offset,
            problem=report.problem,
        )

    @unary
    async def ExportLineage(
        self, request: pb.ExportLineageRequest, context: Context
    ) -> pb.ExportLineageResponse:
        packet_id, lineage_id = request.packet_id, request.lineage_id
        if bool(packet_id) == bool(lineage_id):
            raise InvalidArgument("give exactly one of packet_id or lineage_id")
        if packet_id:
            validate_packet_id(packet_id)
        else:
            validate_name(lineage_id, "lineage_id")
        head, hash_ = self._s.recorder.head_sequence, self._s.recorder.head_hash
        await self._s.journal.wait_durable(head)
        events = [
            event
            async for event in history(self._s.journal, 0, head)
            if (packet_id and packet_id in event.packet_ids)
            or (lineage_id and lineage_id in event.lineage_ids)
        ]
        if not events:
            what = f"packet {packet_id!r}" if packet_id else f"lineage {lineage_id!r}"
            raise NotFound(f"the Flight Recorder has no events for {what}")
        return pb.ExportLineageResponse(
            events=[convert.event_to_pb(e) for e in events], head_sequence=head, head_hash=hash_
        )
