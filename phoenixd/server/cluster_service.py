"""ClusterService: the daemon's version, revision and counts by status, and the DMA health
figures over a window (read-only)."""

from __future__ import annotations

from phoenixd.core.application import Application
from phoenixd.server.convert.members import member_status_to_pb
from phoenixd.server.convert.packets import packet_status_to_pb
from phoenixd.server.convert.wire import duration, duration_seconds
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

    @unary
    async def GetClusterHealth(
        self, request: pb.GetClusterHealthRequest, context: Context
    ) -> pb.GetClusterHealthResponse:
        window = duration_seconds(request.window, "window") or 0.0
        h = await self._queries.cluster_health(window, readable(request.namespace))
        return pb.GetClusterHealthResponse(
            window=duration(h.window_seconds), namespaces=h.namespaces, revision=h.revision,
            joins=h.joins, leaves=h.leaves, mcr=h.mcr, wmcr=h.wmcr, si=h.si, trust=h.trust,
            compliance=h.compliance, dhs=h.dhs, active_members=h.active,
            owned_packets=h.owned, load_mean=h.load_mean, load_std=h.load_std,
            load_cv=h.load_cv, load_max_avg=h.max_avg, load_jain=h.jain,
            assignments=h.assignments, handoffs=h.handoffs, migrations=h.migrations,
            remaps=h.remaps, tasks_completed=h.completed, tasks_failed=h.failed,
            tasks_poisoned=h.poisoned, success_rate=h.success_rate,
            fencing_rejections=h.fencing_rejections,
        )
