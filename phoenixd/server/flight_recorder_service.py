"""FlightRecorderService: query, follow, verify and export the hash-chained log."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator

from google.protobuf.timestamp_pb2 import Timestamp

from phoenixd.core.application import Application
from phoenixd.core.application.feeds import EventFilter
from phoenixd.core.events import Event
from phoenixd.server.convert.events import event_to_pb
from phoenixd.server.errors import Context, streaming, unary
from phoenixd.server.scopes import readable
from phoenixflight_api.v1 import flight_recorder_service_pb2 as pb
from phoenixflight_api.v1 import flight_recorder_service_pb2_grpc as pb_grpc

__all__ = ["FlightRecorderServicer"]


def _seconds(ts: Timestamp) -> float | None:
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.seconds + ts.nanos / 1e9


# Converted events kept for the watchers: every watcher of a live feed gets the same
# events, and turning one into its message (its data as a Struct) is most of the cost.
CONVERTED_EVENTS = 4096


class FlightRecorderServicer(pb_grpc.FlightRecorderServiceServicer):
    def __init__(self, app: Application) -> None:
        self._queries = app.queries
        self._watches = app.watches
        self._converted: OrderedDict[int, pb.WatchEventsResponse] = OrderedDict()

    def _watch_response(self, event: Event) -> pb.WatchEventsResponse:
        """The message for ``event``, converted once however many watchers it goes to."""
        response = self._converted.get(event.sequence)
        if response is None or response.event.hash != event.hash:
            response = pb.WatchEventsResponse(event=event_to_pb(event))
            self._converted[event.sequence] = response
            if len(self._converted) > CONVERTED_EVENTS:
                self._converted.popitem(last=False)
        return response

    @unary
    async def QueryEvents(
        self, request: pb.QueryEventsRequest, context: Context
    ) -> pb.QueryEventsResponse:
        wanted = EventFilter.of(
            list(request.types), request.member_id, request.packet_id,
            _seconds(request.start_time), _seconds(request.end_time),
            readable(request.namespace),
        )
        page = await self._queries.query_events(
            wanted, after=request.after_sequence, page_token=request.page_token,
            size=request.page_size,
        )
        return pb.QueryEventsResponse(
            events=[event_to_pb(e) for e in page.items], next_page_token=page.next_token,
            head_sequence=page.revision,
        )

    @streaming
    async def WatchEvents(
        self, request: pb.WatchEventsRequest, context: Context
    ) -> AsyncIterator[pb.WatchEventsResponse]:
        wanted = EventFilter.of(list(request.types), request.member_id, request.packet_id,
                                namespaces=readable(request.namespace))
        after = request.after_sequence if request.HasField("after_sequence") else None
        async for event in self._watches.events(wanted, after):
            yield self._watch_response(event)

    @unary
    async def VerifyChain(
        self, request: pb.VerifyChainRequest, context: Context
    ) -> pb.VerifyChainResponse:
        report = await self._queries.verify_chain()
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
        lineage = await self._queries.export_lineage(
            packet_id=request.packet_id, lineage_id=request.lineage_id,
            namespaces=readable(""))
        return pb.ExportLineageResponse(
            events=[event_to_pb(e) for e in lineage.events],
            head_sequence=lineage.head_sequence, head_hash=lineage.head_hash,
        )
