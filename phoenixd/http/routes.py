"""The REST routes, read from the ``google.api.http`` option of each RPC's descriptor.

Nothing here lists a route by hand: a new annotated RPC is served (and documented in the
OpenAPI document) as soon as its code is generated. Path templates are the subset of
google/api/http.proto that the API uses: literal segments, ``{field}`` or ``{field=*}``
variables (``{a.b}`` names a field of a sub-message), and a final ``:verb``. A variable
matches one path segment without '/' or ':' (as grpc-gateway's default): ``/v1/packets/x:cancel``
never reaches GetPacket as packet "x:cancel". A server-streaming RPC may have a GET route
without a body: it is served as Server-Sent Events (sse.py); client-streaming ones get none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf.descriptor import Descriptor, MethodDescriptor, ServiceDescriptor

__all__ = ["Binding", "TemplateError", "bindings", "streaming_methods"]

_VARIABLE = re.compile(r"\{([A-Za-z_][\w.]*)(?:=\*)?\}")
_SEGMENT = "[^/:]+"


class TemplateError(ValueError):
    """An annotation this transcoder cannot serve; raised when the routes are built."""


@dataclass(frozen=True)
class Binding:
    """One HTTP route of one RPC."""

    method: str
    """The gRPC path, "/phoenixflight.v1.PacketService/GetPacket"."""
    verb: str
    """GET, POST, PATCH, PUT or DELETE."""
    template: str
    """As annotated: "/v1/packets/{packet_id}:handoff"."""
    path_fields: tuple[str, ...]
    """The fields bound by the path's variables, in order ("packet_id", "member.member_id")."""
    body: str
    """"*" (the whole request), a top-level field's name, or "" (no body: query parameters)."""
    input: Descriptor
    output: Descriptor
    streaming: bool = False
    """The RPC streams its responses: the route serves them as Server-Sent Events."""

    @property
    def route_path(self) -> str:
        """The template in aiohttp's form: variables named v0, v1, ... matching one segment."""
        count = iter(range(len(self.path_fields)))
        return _VARIABLE.sub(lambda _: f"{{v{next(count)}:{_SEGMENT}}}", self.template)


def _rules(method: MethodDescriptor) -> Iterator[http_pb2.HttpRule]:
    for field, value in method.GetOptions().ListFields():
        if field.full_name == annotations_pb2.http.full_name:
            rule: http_pb2.HttpRule = value
            yield rule
            yield from rule.additional_bindings


def _binding(method: MethodDescriptor, rule: http_pb2.HttpRule) -> Binding:
    name = f"/{method.containing_service.full_name}/{method.name}"
    pattern = rule.WhichOneof("pattern")
    if pattern is None or pattern == "custom":
        raise TemplateError(f"{name}: only get, post, put, patch and delete rules are served")
    template = getattr(rule, pattern)
    fields = tuple(_VARIABLE.findall(template))
    rest = _VARIABLE.sub("", template)
    if "{" in rest or "}" in rest or "*" in rest:
        raise TemplateError(f"{name}: {template!r} has a variable form this transcoder does not "
                            "serve (use {field} or {field=*})")
    for field in fields:
        _check_field(name, method.input_type, field)
    if rule.body not in ("", "*"):
        found = method.input_type.fields_by_name.get(rule.body)
        if found is None or found.message_type is None:
            raise TemplateError(f"{name}: body {rule.body!r} is not a message field of "
                                f"{method.input_type.name}")
    if method.client_streaming:
        raise TemplateError(f"{name}: client-streaming methods get no HTTP route")
    if method.server_streaming and (pattern != "get" or rule.body):
        raise TemplateError(f"{name}: a streaming method's route is a GET without a body "
                            "(its request in query parameters)")
    return Binding(name, pattern.upper(), template, fields, rule.body, method.input_type,
                   method.output_type, streaming=method.server_streaming)


def _check_field(name: str, message: Descriptor, path: str) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        field = message.fields_by_name.get(part)
        if field is None or field.message_type is None:
            raise TemplateError(f"{name}: {path!r} does not name a field of {message.name}")
        message = field.message_type
    field = message.fields_by_name.get(leaf)
    if field is None or field.message_type is not None or field.is_repeated:
        raise TemplateError(f"{name}: path variable {path!r} must name a singular scalar field")


def bindings(services: Iterable[ServiceDescriptor]) -> list[Binding]:
    """Every route of every annotated RPC, those ending in a ``:verb`` first (a verb's
    route must be tried before the plain one on the same collection)."""
    found = [_binding(method, rule) for service in services for method in service.methods
             for rule in _rules(method)]
    return sorted(found, key=lambda b: ":" not in b.template.rpartition("/")[2])


def streaming_methods(services: Iterable[ServiceDescriptor]) -> list[str]:
    """The streaming RPCs without an HTTP route: served over gRPC only."""
    return [f"/{s.full_name}/{m.name}" for s in services for m in s.methods
            if (m.client_streaming or m.server_streaming) and not any(_rules(m))]
