"""PacketService: submit and follow Flight Packets; the member-side fenced writes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from phoenixd.core import directory
from phoenixd.core.errors import InvalidArgument, NotFound, ResourceExhausted
from phoenixd.core.events import EventType
from phoenixd.core.validation import validate_member_id, validate_name
from phoenixd.server import convert
from phoenixd.server.context import Services
from phoenixd.server.errors import Context, streaming, unary
from phoenixd.server.packet_convert import (
    decision_to_pb,
    dict_from_struct,
    packet_status_from_pb,
    packet_to_pb,
    spec_from_pb,
)
from phoenixd.server.sessions import AssignmentWatcher, assignment_pb
from phoenixflight.v1 import packet_service_pb2 as pb
from phoenixflight.v1 import packet_service_pb2_grpc as pb_grpc
from phoenixflight.v1.packet_pb2 import AssignmentsSynced, FlightPacket

__all__ = ["PacketServicer"]


class PacketServicer(pb_grpc.PacketServiceServicer):
    def __init__(self, services: Services) -> None:
        self._s = services
        self._core = services.cluster

    async def _reply_packet(self, packet_id: str) -> FlightPacket:
        """The packet as it is now, once everything recorded so far is durable."""
        message = packet_to_pb(self._s.state.packets[packet_id])
        await self._s.settle()
        return message

    @unary
    async def SubmitPacket(
        self, request: pb.SubmitPacketRequest, context: Context
    ) -> pb.SubmitPacketResponse:
        if not request.HasField("packet"):
            raise InvalidArgument("packet is required: the Flight Packet envelope to submit")
        packet = self._core.submit(spec_from_pb(request.packet))
        return pb.SubmitPacketResponse(packet=await self._reply_packet(packet.packet_id))

    @unary
    async def GetPacket(
        self, request: pb.GetPacketRequest, context: Context
    ) -> pb.GetPacketResponse:
        packet = self._core.get_packet(request.packet_id)
        return pb.GetPacketResponse(packet=await self._reply_packet(packet.packet_id))

    @unary
    async def ListPackets(
        self, request: pb.ListPacketsRequest, context: Context
    ) -> pb.ListPacketsResponse:
        statuses = set(convert.statuses_from_pb(request.statuses, packet_status_from_pb))
        if request.owner:
            validate_member_id(request.owner, "owner")
        validate_name(request.workload_type, "workload_type")
        validate_name(request.lineage_id, "lineage_id")
        query = {
            "statuses": sorted(str(s) for s in statuses), "owner": request.owner,
            "workload_type": request.workload_type, "lineage": request.lineage_id,
        }
        after = str(convert.decode_page_token(request.page_token, query, str) or "")
        page, next_after, total = directory.list_packets(
            self._s.state, statuses=statuses, owner=request.owner,
            workload_type=request.workload_type, lineage_id=request.lineage_id,
            after_id=after, limit=convert.page_size(request.page_size),
        )
        if request.view not in (pb.PACKET_VIEW_UNSPECIFIED, pb.PACKET_VIEW_BASIC,
                                pb.PACKET_VIEW_FULL):
            raise InvalidArgument(f"view {request.view} is not BASIC or FULL")
        full = request.view == pb.PACKET_VIEW_FULL
        reply = pb.ListPacketsResponse(
            packets=[packet_to_pb(p, full=full) for p in page], total_size=total,
            next_page_token=convert.encode_page_token(next_after, query) if next_after else "",
        )
        reply.revision = await self._s.settle()
        return reply

    @unary
    async def CancelPacket(
        self, request: pb.CancelPacketRequest, context: Context
    ) -> pb.CancelPacketResponse:
        packet = self._core.cancel(request.packet_id, request.reason)
        return pb.CancelPacketResponse(packet=await self._reply_packet(packet.packet_id))

    @unary
    async def HandoffPacket(
        self, request: pb.HandoffPacketRequest, context: Context
    ) -> pb.HandoffPacketResponse:
        packet = self._core.handoff(request.packet_id, request.target_member_id, request.reason)
        return pb.HandoffPacketResponse(packet=await self._reply_packet(packet.packet_id))

    @unary
    async def ExplainAssignment(
        self, request: pb.ExplainAssignmentRequest, context: Context
    ) -> pb.ExplainAssignmentResponse:
        epoch, sequence = self._core.explain(request.packet_id, request.epoch)
        await self._s.settle()
        (event,) = await self._s.journal.read(sequence - 1, 1)
        if event.type not in (EventType.ASSIGNMENT_DECISION, EventType.PACKET_WAITING):
            raise NotFound(f"event {sequence} is not a placement decision")
        return pb.ExplainAssignmentResponse(
            decision=decision_to_pb(event.data["decision"], event.data["packet"], epoch, sequence)
        )

    @unary
    async def GetHandoffKey(
        self, request: pb.GetHandoffKeyRequest, context: Context
    ) -> pb.GetHandoffKeyResponse:
        key = self._s.handoff_key
        return pb.GetHandoffKeyResponse(
            public_key=key.public_key, public_key_pem=key.public_key_pem, key_id=key.key_id,
            algorithm="Ed25519",
        )

    # -- member side -------------------------------------------------------------------

    @unary
    async def AckPacket(
        self, request: pb.AckPacketRequest, context: Context
    ) -> pb.AckPacketResponse:
        packet = self._core.ack(
            request.member_id, request.credential, request.packet_id, request.epoch
        )
        return pb.AckPacketResponse(packet=await self._reply_packet(packet.packet_id))

    @unary
    async def SaveCheckpoint(
        self, request: pb.SaveCheckpointRequest, context: Context
    ) -> pb.SaveCheckpointResponse:
        packet = self._core.save_checkpoint(
            request.member_id, request.credential, request.packet_id, request.epoch,
            dict_from_struct(request.state, "state"), request.step,
        )
        return pb.SaveCheckpointResponse(packet=await self._reply_packet(packet.packet_id))

    @unary
    async def CompletePacket(
        self, request: pb.CompletePacketRequest, context: Context
    ) -> pb.CompletePacketResponse:
        packet = self._core.complete(
            request.member_id, request.credential, request.packet_id, request.epoch,
            dict_from_struct(request.result, "result"),
        )
        return pb.CompletePacketResponse(packet=await self._reply_packet(packet.packet_id))

    @unary
    async def FailPacket(
        self, request: pb.FailPacketRequest, context: Context
    ) -> pb.FailPacketResponse:
        packet = self._core.fail(
            request.member_id, request.credential, request.packet_id, request.epoch,
            request.reason, request.permanent,
        )
        return pb.FailPacketResponse(packet=await self._reply_packet(packet.packet_id))

    @streaming
    async def WatchAssignments(
        self, request: pb.WatchAssignmentsRequest, context: Context
    ) -> AsyncIterator[pb.WatchAssignmentsResponse]:
        self._s.cluster.credentials.authenticate(request.member_id, request.credential)
        watcher = AssignmentWatcher(request.member_id)
        # As OpenSession: register and list in one step, then wait for durability.
        self._s.sessions.watch(watcher)
        owned = [assignment_pb(p) for p in self._core.assignments_of(request.member_id)]
        try:
            await self._s.settle()
            for assignment in owned:
                yield pb.WatchAssignmentsResponse(assignment=assignment)
            yield pb.WatchAssignmentsResponse(synced=AssignmentsSynced(count=len(owned)))
            while (message := await watcher.outbox.get()) is not None:
                yield message
        finally:
            self._s.sessions.unwatch(watcher)
        if watcher.overflowed:
            raise ResourceExhausted(
                "this assignment watcher fell behind; open it again (current assignments "
                "are sent first)"
            )
