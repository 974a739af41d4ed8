"""Builds the grpc.aio server: options, TLS, the services, health and reflection."""

from __future__ import annotations

from collections.abc import Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from phoenixd.core.application import Application
from phoenixd.server.admission import StreamLimits
from phoenixd.server.authz import Tokens
from phoenixd.server.bundle_service import BundleServicer
from phoenixd.server.cluster_service import ClusterServicer
from phoenixd.server.flight_recorder_service import FlightRecorderServicer
from phoenixd.server.interceptors import Guard
from phoenixd.server.membership_service import MembershipServicer
from phoenixd.server.namespace_service import NamespaceServicer
from phoenixd.server.packet_service import PacketServicer
from phoenixd.server.simulator_service import SimulatorServicer
from phoenixd.sim.service import Simulator
from phoenixflight_api.v1 import bundle_service_pb2 as bundle_pb
from phoenixflight_api.v1 import bundle_service_pb2_grpc as bundle_grpc
from phoenixflight_api.v1 import cluster_service_pb2 as cluster_pb
from phoenixflight_api.v1 import cluster_service_pb2_grpc as cluster_grpc
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rec_pb
from phoenixflight_api.v1 import flight_recorder_service_pb2_grpc as rec_grpc
from phoenixflight_api.v1 import membership_service_pb2 as mem_pb
from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc
from phoenixflight_api.v1 import namespace_service_pb2 as ns_pb
from phoenixflight_api.v1 import namespace_service_pb2_grpc as ns_grpc
from phoenixflight_api.v1 import packet_service_pb2 as pkt_pb
from phoenixflight_api.v1 import packet_service_pb2_grpc as pkt_grpc
from phoenixflight_api.v1 import simulator_service_pb2 as sim_pb
from phoenixflight_api.v1 import simulator_service_pb2_grpc as sim_grpc

__all__ = ["SERVICE_NAMES", "BindError", "build_server"]

SERVICE_NAMES = (
    mem_pb.DESCRIPTOR.services_by_name["MembershipService"].full_name,
    pkt_pb.DESCRIPTOR.services_by_name["PacketService"].full_name,
    rec_pb.DESCRIPTOR.services_by_name["FlightRecorderService"].full_name,
    cluster_pb.DESCRIPTOR.services_by_name["ClusterService"].full_name,
    ns_pb.DESCRIPTOR.services_by_name["NamespaceService"].full_name,
    bundle_pb.DESCRIPTOR.services_by_name["BundleService"].full_name,
    sim_pb.DESCRIPTOR.services_by_name["SimulatorService"].full_name,
)


class BindError(RuntimeError):
    """The listen address could not be bound."""


def server_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        # A second daemon on the same port must fail loudly, not share it.
        ("grpc.so_reuseport", 0),
        # Members may ping every second while idle; don't answer with GOAWAY.
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 1000),
        ("grpc.http2.max_ping_strikes", 0),
        # Our own pings find dead member connections within ~40 s.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
    ]


def build_server(
    app: Application,
    *,
    listen: str,
    max_message_bytes: int,
    max_concurrent_rpcs: int,
    streams: StreamLimits,
    tokens: Tokens,
    tls: tuple[bytes, bytes, bytes | None] | None,
    write_refusal: Callable[[], str | None] = lambda: None,
    simulator: Simulator,
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
    """A started-ready server bound to ``listen``; returns (server, health, port).

    ``write_refusal`` is asked before every mutation: a message means refuse it
    (RESOURCE_EXHAUSTED), None lets it through.
    """
    server = grpc.aio.server(
        interceptors=[Guard(tokens, app.access, max_concurrent_rpcs, streams, write_refusal)],
        options=server_options(max_message_bytes),
    )
    mem_grpc.add_MembershipServiceServicer_to_server(MembershipServicer(app), server)
    pkt_grpc.add_PacketServiceServicer_to_server(PacketServicer(app), server)
    rec_grpc.add_FlightRecorderServiceServicer_to_server(FlightRecorderServicer(app), server)
    cluster_grpc.add_ClusterServiceServicer_to_server(ClusterServicer(app), server)
    ns_grpc.add_NamespaceServiceServicer_to_server(NamespaceServicer(app), server)
    bundle_grpc.add_BundleServiceServicer_to_server(BundleServicer(app), server)
    sim_grpc.add_SimulatorServiceServicer_to_server(SimulatorServicer(simulator), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME),
        server,
    )
    try:
        if tls is None:
            port = server.add_insecure_port(listen)
        else:
            cert, key, client_ca = tls
            creds = grpc.ssl_server_credentials(
                [(key, cert)], root_certificates=client_ca,
                require_client_auth=client_ca is not None,
            )
            port = server.add_secure_port(listen, creds)
    except RuntimeError as exc:
        raise BindError(f"cannot listen on {listen}: {exc} (is another phoenixd running?)") from exc
    if port == 0:
        raise BindError(f"cannot listen on {listen} (is another phoenixd running?)")
    return server, health_servicer, port
