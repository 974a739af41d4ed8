"""PacketService: submit and follow Flight Packets; the member-side fenced writes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from phoenixd.core.application import Application
from phoenixd.core.application.watches import Assigned, Revoked
from phoenixd.core.errors import InvalidArgument
from phoenixd.server.convert.packets import (
    assignment_to_pb,
    decision_to_pb,
    packet_status_from_pb,
    packet_to_pb,
    revocation_to_pb,
    spec_from_pb,
)
from phoenixd.server.convert.wire import dict_from_struct, statuses_from_pb
from phoenixd.server.errors import Context, streaming, unary
from phoenixd.server.scopes import readable
from phoenixflight_api.v1 import packet_service_pb2 as pb
from phoenixflight_api.v1 import packet_service_pb2_grpc as pb_grpc
from phoenixflight_api.v1.packet_pb2 import AssignmentsSynced

__all__ = ["PacketServicer"]

_VIEWS = (pb.PACKET_VIEW_UNSPECIFIED, pb.PACKET_VIEW_BASIC, pb.PACKET_VIEW_FULL)


class PacketServicer(pb_grpc.PacketServiceServicer):
    def __init__(self, app: Application) -> None:
        self._commands = app.commands
        self._queries = app.queries
        self._watches = app.watches

    @unary
    async def SubmitPacket(
        self, request: pb.SubmitPacketRequest, context: Context
    ) -> pb.SubmitPacketResponse:
        if not request.HasField("packet"):
            raise InvalidArgument("packet is required: the Flight Packet envelope to submit")
        submitted = await self._commands.submit_packet(spec_from_pb(request.packet))
        return pb.SubmitPacketResponse(packet=packet_to_pb(submitted.packet),
                                       warnings=submitted.warnings)

    @unary
    async def GetPacket(
        self, request: pb.GetPacketRequest, context: Context
    ) -> pb.GetPacketResponse:
        packet = await self._queries.get_packet(request.packet_id)
        return pb.GetPacketResponse(packet=packet_to_pb(packet))

    @unary
    async def ListPackets(
        self, request: pb.ListPacketsRequest, context: Context
    ) -> pb.ListPacketsResponse:
        statuses = statuses_from_pb(request.statuses, packet_status_from_pb)
        if request.view not in _VIEWS:
            raise InvalidArgument(f"view {request.view} is not BASIC or FULL")
        page = await self._queries.list_packets(
            statuses=set(statuses), owner=request.owner, workload_type=request.workload_type,
            lineage_id=request.lineage_id, namespaces=readable(request.namespace),
            page_token=request.page_token, size=request.page_size,
        )
        full = request.view == pb.PACKET_VIEW_FULL
        return pb.ListPacketsResponse(
            packets=[packet_to_pb(packet, full=full) for packet in page.items],
            total_size=page.total, next_page_token=page.next_token, revision=page.revision,
        )

    @unary
    async def CancelPacket(
        self, request: pb.CancelPacketRequest, context: Context
    ) -> pb.CancelPacketResponse:
        packet = await self._commands.cancel_packet(request.packet_id, request.reason)
        return pb.CancelPacketResponse(packet=packet_to_pb(packet))

    @unary
    async def HandoffPacket(
        self, request: pb.HandoffPacketRequest, context: Context
    ) -> pb.HandoffPacketResponse:
        packet = await self._commands.handoff_packet(
            request.packet_id, request.target_member_id, request.reason)
        return pb.HandoffPacketResponse(packet=packet_to_pb(packet))

    @unary
    async def ExplainAssignment(
        self, request: pb.ExplainAssignmentRequest, context: Context
    ) -> pb.ExplainAssignmentResponse:
        found = await self._queries.explain(request.packet_id, request.epoch)
        return pb.ExplainAssignmentResponse(
            decision=decision_to_pb(found.decision, found.packet, found.epoch, found.sequence)
        )

    @unary
    async def GetHandoffKey(
        self, request: pb.GetHandoffKeyRequest, context: Context
    ) -> pb.GetHandoffKeyResponse:
        key = self._queries.handoff_key
        return pb.GetHandoffKeyResponse(
            public_key=key.public_key, public_key_pem=key.public_key_pem, key_id=key.key_id,
            algorithm="Ed25519",
        )

    # -- member side -------------------------------------------------------------------

    @unary
    async def AckPacket(
        self, request: pb.AckPacketRequest, context: Context
    ) -> pb.AckPacketResponse:
        packet = await self._commands.ack_packet(
            request.member_id, request.credential, request.packet_id, request.epoch
        )
        return pb.AckPacketResponse(packet=packet_to_pb(packet))

    @unary
    async def SaveCheckpoint(
        self, request: pb.SaveCheckpointRequest, context: Context
    ) -> pb.SaveCheckpointResponse:
        packet = await self._commands.save_checkpoint(
            request.member_id, request.credential, request.packet_id, request.epoch,
            dict_from_struct(request.state, "state"), request.step,
        )
        return pb.SaveCheckpointResponse(packet=packet_to_pb(packet))

    @unary
    async def CompletePacket(
        self, request: pb.CompletePacketRequest, context: Context
    ) -> pb.CompletePacketResponse:
        packet = await self._commands.complete_packet(
            request.member_id, request.credential, request.packet_id, request.epoch,
            dict_from_struct(request.result, "result"),
        )
        return pb.CompletePacketResponse(packet=packet_to_pb(packet))

    @unary
    async def FailPacket(
        self, request: pb.FailPacketRequest, context: Context
    ) -> pb.FailPacketResponse:
        packet = await self._commands.fail_packet(
            request.member_id, request.credential, request.packet_id, request.epoch,
            request.reason, request.permanent,
        )
        return pb.FailPacketResponse(packet=packet_to_pb(packet))

    @streaming
    async def WatchAssignments(
        self, request: pb.WatchAssignmentsRequest, context: Context
    ) -> AsyncIterator[pb.WatchAssignmentsResponse]:
        async for update in self._watches.assignments(request.member_id, request.credential):
            if isinstance(update, Assigned):
                yield pb.WatchAssignmentsResponse(assignment=assignment_to_pb(update.packet))
            elif isinstance(update, Revoked):
                yield pb.WatchAssignmentsResponse(revocation=revocation_to_pb(
                    update.packet_id, update.epoch, update.reason))
            else:
                yield pb.WatchAssignmentsResponse(synced=AssignmentsSynced(count=update.count))
