"""Builds the grpc.aio server: options, TLS, the services, health and reflection.

The servicers are made once (``Services``) and handed to every surface that runs them: the
gRPC server here, and the HTTP/JSON transcoder (phoenixd/http), which calls the very same
method handlers through the same Guard.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from phoenixd.core.application import Application
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

__all__ = ["SERVICE_DESCRIPTORS", "SERVICE_NAMES", "BindError", "Services", "build_server"]

# grpc.RpcMethodHandler is generic only in the type stubs, not at run time.
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"

SERVICE_DESCRIPTORS = (
    mem_pb.DESCRIPTOR.services_by_name["MembershipService"],
    pkt_pb.DESCRIPTOR.services_by_name["PacketService"],
    rec_pb.DESCRIPTOR.services_by_name["FlightRecorderService"],
    cluster_pb.DESCRIPTOR.services_by_name["ClusterService"],
    ns_pb.DESCRIPTOR.services_by_name["NamespaceService"],
    bundle_pb.DESCRIPTOR.services_by_name["BundleService"],
    sim_pb.DESCRIPTOR.services_by_name["SimulatorService"],
)
SERVICE_NAMES = tuple(service.full_name for service in SERVICE_DESCRIPTORS)


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


class Services:
    """The phoenixflight.v1 servicers, made once for every surface that serves them."""

    def __init__(self, app: Application, simulator: Simulator) -> None:
        self._adders: list[tuple[Callable[[Any, Any], None], object]] = [
            (mem_grpc.add_MembershipServiceServicer_to_server, MembershipServicer(app)),
            (pkt_grpc.add_PacketServiceServicer_to_server, PacketServicer(app)),
            (rec_grpc.add_FlightRecorderServiceServicer_to_server, FlightRecorderServicer(app)),
            (cluster_grpc.add_ClusterServiceServicer_to_server, ClusterServicer(app)),
            (ns_grpc.add_NamespaceServiceServicer_to_server, NamespaceServicer(app)),
            (bundle_grpc.add_BundleServiceServicer_to_server, BundleServicer(app)),
            (sim_grpc.add_SimulatorServiceServicer_to_server, SimulatorServicer(simulator)),
        ]

    def add_to(self, server: grpc.aio.Server) -> None:
        for add, servicer in self._adders:
            add(servicer, server)

    def method_handlers(self) -> dict[str, Handler]:
        """Every method's handler, by its gRPC path ("/phoenixflight.v1.PacketService/GetPacket"),
        exactly as the generated code registers it with a gRPC server."""
        collected = _Collector()
        for add, servicer in self._adders:
            add(servicer, collected)
        return collected.handlers


class _Collector:
    """Stands in for a grpc server to the generated ``add_*_to_server`` functions."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}

    def add_generic_rpc_handlers(self, handlers: object) -> None:
        pass  # the same handlers come by name below

    def add_registered_method_handlers(self, service: str,
                                       handlers: Mapping[str, Handler]) -> None:
        for name, handler in handlers.items():
            self.handlers[f"/{service}/{name}"] = handler


def build_server(
    services: Services,
    guard: Guard,
    *,
    listen: str,
    max_message_bytes: int,
    tls: tuple[bytes, bytes, bytes | None] | None,
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
    """A started-ready server bound to ``listen``; returns (server, health, port).

    ``guard`` (interceptors.py) authenticates, authorizes and limits every call; the HTTP
    surface runs its calls through the same one.
    """
    server = grpc.aio.server(interceptors=[guard], options=server_options(max_message_bytes))
    services.add_to(server)
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
