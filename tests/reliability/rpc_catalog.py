"""Every RPC phoenixd serves, read from the generated descriptors, how each is guarded, and
one generic way to call any of them.

The reliability tests go over this catalog instead of a hand-written list of methods, so an RPC
added to a ``phoenixflight.v1`` proto is tested the day it appears. ``ACCESS`` says who may call
each method; it is written out by hand on purpose (it is the specification the daemon's guard is
checked against), and test_security_matrix fails for a method that it does not classify.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from types import ModuleType
from typing import Any

import grpc
from google.protobuf import descriptor, message_factory
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2

import phoenixflight_api.v1
from phoenixflight_api.v1 import membership_service_pb2 as mpb

__all__ = [
    "ACCESS",
    "CATALOG",
    "NOT_SERVED",
    "PACKAGE",
    "Access",
    "Outcome",
    "Rpc",
    "call",
    "fill",
    "member_request",
    "phoenixflight_rpcs",
    "served_services",
]

PACKAGE = "phoenixflight.v1"  # the proto package
GENERATED = "phoenixflight_api.v1"  # the Python package generated from it


class Access(Enum):
    """Who may call a method."""

    OPERATOR = "operator"
    """Needs the operator token (``authorization: Bearer``) when operator auth is on."""
    MEMBER = "member"
    """Authenticated by the calling member's own credential, carried in the request."""
    OPEN = "open"
    """Needs nothing: probes, discovery and public keys."""


@dataclass(frozen=True)
class Rpc:
    """One method, with the message classes and streaming kinds its descriptor declares."""

    method: descriptor.MethodDescriptor

    @property
    def path(self) -> str:
        """The HTTP/2 path of the method, e.g. ``/phoenixflight.v1.PacketService/AckPacket``."""
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def name(self) -> str:
        return self.method.name

    @property
    def request(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.input_type)

    @property
    def response(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.output_type)

    @property
    def client_streaming(self) -> bool:
        return bool(self.method.client_streaming)

    @property
    def server_streaming(self) -> bool:
        return bool(self.method.server_streaming)

    @property
    def streaming(self) -> bool:
        return self.client_streaming or self.server_streaming

    def __str__(self) -> str:
        return f"{self.method.containing_service.name}/{self.name}"


def _services(module: ModuleType) -> Iterator[descriptor.ServiceDescriptor]:
    yield from module.DESCRIPTOR.services_by_name.values()


def phoenixflight_rpcs() -> list[Rpc]:
    """Every method of every service in the generated ``phoenixflight.v1`` modules."""
    found: list[Rpc] = []
    for info in sorted(pkgutil.iter_modules(phoenixflight_api.v1.__path__), key=lambda m: m.name):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"{GENERATED}.{info.name}")
        for service in _services(module):
            found.extend(Rpc(method) for method in service.methods)
    return found


def _standard_rpcs() -> list[Rpc]:
    """Health and reflection: served beside the API (see phoenixd/server/grpc_server.py)."""
    return [
        Rpc(method)
        for module in (health_pb2, reflection_pb2)
        for service in _services(module)
        for method in service.methods
    ]


CATALOG: tuple[Rpc, ...] = (*phoenixflight_rpcs(), *_standard_rpcs())


def _paths(service: str, access: Access, *names: str) -> dict[str, Access]:
    return {f"/{service}/{name}": access for name in names}


_MEMBERSHIP, _PACKETS, _RECORDER = (
    f"{PACKAGE}.MembershipService", f"{PACKAGE}.PacketService", f"{PACKAGE}.FlightRecorderService"
)
# The matrix: every served method, by who may call it (README, "Security and operations").
ACCESS: dict[str, Access] = {
    **_paths(_MEMBERSHIP, Access.OPERATOR, "RegisterMember", "GetMember", "ListMembers",
             "UpdateMember", "DrainMember", "RetireMember", "WatchMembers", "ListCapabilities"),
    **_paths(_MEMBERSHIP, Access.MEMBER, "Heartbeat", "OpenSession"),
    **_paths(_PACKETS, Access.OPERATOR, "SubmitPacket", "GetPacket", "ListPackets",
             "CancelPacket", "HandoffPacket", "ExplainAssignment"),
    **_paths(_PACKETS, Access.MEMBER, "AckPacket", "SaveCheckpoint", "CompletePacket",
             "FailPacket", "WatchAssignments"),
    # The public key that verifies handoff tokens: members need it before they can trust one.
    **_paths(_PACKETS, Access.OPEN, "GetHandoffKey"),
    **_paths(_RECORDER, Access.OPERATOR, "QueryEvents", "WatchEvents", "VerifyChain",
             "ExportLineage"),
    **_paths(f"{PACKAGE}.ClusterService", Access.OPERATOR, "GetClusterStatus",
             "GetClusterHealth"),
    **_paths(f"{PACKAGE}.NamespaceService", Access.OPERATOR, "CreateNamespace", "GetNamespace",
             "ListNamespaces", "UpdateNamespace", "DeleteNamespace"),
    **_paths(f"{PACKAGE}.BundleService", Access.OPERATOR, "ApplyBundle", "GetBundle",
             "ListBundles"),
    **_paths(f"{PACKAGE}.SimulatorService", Access.OPERATOR, "DryRun", "Simulate"),
    **_paths("grpc.health.v1.Health", Access.OPEN, "Check", "Watch", "List"),
    **_paths("grpc.reflection.v1alpha.ServerReflection", Access.OPEN, "ServerReflectionInfo"),
}


# Declared by the standard health proto (List came after Check and Watch), but not implemented
# by grpcio-health-checking's servicer, which the daemon uses: it answers UNIMPLEMENTED.
NOT_SERVED = frozenset({"/grpc.health.v1.Health/List"})


def served_services(channel: grpc.Channel, timeout: float = 10.0) -> set[str]:
    """The services the daemon lists through server reflection."""
    info = channel.stream_stream(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (reply,) = list(info(iter([request]), timeout=timeout))
    return {service.name for service in reply.list_services_response.service}


def fill(message: Message, values: Mapping[str, object]) -> Message:
    """Set the top-level scalar fields of ``message`` named in ``values`` (others are skipped).

    Member-side requests are built this way from their descriptors: every one of them has
    ``member_id`` and ``credential``, the packet ones ``packet_id`` and ``epoch`` too.
    """
    fields = message.DESCRIPTOR.fields_by_name
    for name, value in values.items():
        found = fields.get(name)
        if found is not None and found.message_type is None and not found.is_repeated:
            setattr(message, name, value)
    return message


def member_request(rpc: Rpc, values: dict[str, object]) -> list[Message] | Message:
    """A member-side request: the credential is in the request, or in the first message of a
    session (``open``), followed by a clean goodbye so the member's lease keeps running."""
    request = rpc.request()
    if "credential" in request.DESCRIPTOR.fields_by_name:
        return fill(request, values)
    for fd in request.DESCRIPTOR.fields:
        carried = fd.message_type
        if carried is not None and {"member_id", "credential"} <= set(carried.fields_by_name):
            fill(getattr(request, fd.name), values)
            goodbye = mpb.OpenSessionRequest(goodbye=mpb.SessionGoodbye(reason="matrix"))
            return [request, goodbye]
    raise AssertionError(f"{rpc}: a member-side request must carry member_id and credential")


@dataclass
class Outcome:
    """How one call ended."""

    code: grpc.StatusCode
    details: str = ""
    responses: list[Any] = field(default_factory=list)
    cut: bool = False
    """We ended the call ourselves (enough responses read, or our deadline on a stream)."""


def call(
    channel: grpc.Channel,
    rpc: Rpc,
    request: bytes | Message | Sequence[bytes | Message],
    *,
    metadata: Sequence[tuple[str, str]] | None = None,
    timeout: float = 10.0,
    max_responses: int = 3,
) -> Outcome:
    """Call ``rpc`` with already-built messages or raw bytes; never raises a grpc.RpcError.

    A stream-request method takes a sequence (sent, then half-closed); a streaming response is
    read until the server ends it, ``max_responses`` arrived (then cancelled), or ``timeout``.
    """
    if rpc.client_streaming:
        items: Iterable[bytes | Message] = (
            [request] if isinstance(request, bytes | Message) else request
        )
        payload: object = iter([_raw(item) for item in items])
    else:
        assert isinstance(request, bytes | Message), f"{rpc} takes one request"
        payload = _raw(request)
    kinds = {
        (False, False): channel.unary_unary, (False, True): channel.unary_stream,
        (True, False): channel.stream_unary, (True, True): channel.stream_stream,
    }
    callable_: Any = kinds[rpc.client_streaming, rpc.server_streaming](
        rpc.path, request_serializer=None, response_deserializer=rpc.response.FromString,
    )
    try:
        if not rpc.server_streaming:
            return Outcome(grpc.StatusCode.OK, responses=[
                callable_(payload, metadata=metadata, timeout=timeout)])
        return _read_stream(callable_(payload, metadata=metadata, timeout=timeout), max_responses)
    except grpc.RpcError as exc:
        return Outcome(exc.code(), exc.details() or "")


def _raw(item: bytes | Message) -> bytes:
    return item if isinstance(item, bytes) else item.SerializeToString()


def _read_stream(stream: Any, max_responses: int) -> Outcome:
    responses: list[Any] = []
    try:
        for response in stream:
            responses.append(response)
            if len(responses) >= max_responses:
                stream.cancel()
                return Outcome(grpc.StatusCode.CANCELLED, "", responses, cut=True)
    except grpc.RpcError as exc:
        cut = exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        return Outcome(exc.code(), exc.details() or "", responses, cut=cut)
    return Outcome(grpc.StatusCode.OK, "", responses)
