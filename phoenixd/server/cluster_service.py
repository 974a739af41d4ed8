"""ClusterService: the daemon's version, revision and counts by status (read-only)."""

from __future__ import annotations

from phoenixd.core.application import Application
from phoenixd.server.convert.members import member_status_to_pb
from phoenixd.server.convert.packets import packet_status_to_pb
from phoenixd.server.errors import Context, unary
from phoenixd.server.scopes import readable
from phoenixflight_api.v1 import cluster_service_pb2 as pb
from phoenixflight_api.v1 import cluster_service_pb2_grpc as pb_grpc

__all__ = ["ClusterServicer"]


class ClusterServicer(pb_grpc.ClusterServiceServicer):
    def __init__(self, app: Application) -> None:
        self._queries = app.queries

    @unary
    async def GetClusterStatus(
        self, request: pb.GetClusterStatusRequest, context: Context
    ) -> pb.GetClusterStatusResponse:
        status = await self._queries.cluster_status(readable(""))
        return pb.GetClusterStatusResponse(
            daemon_version=status.daemon_version, revision=status.revision,
            member_counts=[pb.MemberStatusCount(status=member_status_to_pb(s), count=n)
                           for s, n in status.members.items()],
            packet_counts=[pb.PacketStatusCount(status=packet_status_to_pb(s), count=n)
                           for s, n in status.packets.items()],
        )
