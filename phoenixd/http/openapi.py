"""The OpenAPI 3 document of the REST routes, made from the same descriptors and bindings
that the server routes by (scripts/gen_openapi.py writes it to openapi.json, which the daemon
serves at GET /v1/openapi.json; `make check-gen` fails when it drifted from proto/).

Schemas follow the proto3 JSON mapping as the server prints it: proto field names, int64 as
strings, enums by name, well-known types in their JSON forms. Descriptions are the protos'
comments, passed in by name (the generated modules carry no source comments).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor, ServiceDescriptor

from phoenixd.http.routes import Binding, bindings, streaming_methods
from phoenixd.http.sse import FEEDS, WATCH_PATH
from phoenixd.server.interceptors import MEMBER_METHODS, OPEN_METHODS

__all__ = ["document"]

Schema = dict[str, Any]

_INT32 = frozenset({FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32,
                    FieldDescriptor.TYPE_SFIXED32, FieldDescriptor.TYPE_UINT32,
                    FieldDescriptor.TYPE_FIXED32})
_INT64 = frozenset({FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_SINT64,
                    FieldDescriptor.TYPE_SFIXED64, FieldDescriptor.TYPE_UINT64,
                    FieldDescriptor.TYPE_FIXED64})
# Well-known types by their JSON form (the proto3 JSON mapping).
_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?\d+(\.\d{1,9})?s$",
                                 "example": "10s"},
    "google.protobuf.FieldMask": {"type": "string", "example": "trust_score,labels"},
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
}
_STATUS: Schema = {
    "type": "object",
    "description": "The error of a call: its gRPC status code, what is wrong, and (none yet) "
                   "details. The HTTP status is grpc-gateway's for the code.",
    "properties": {"code": {"type": "integer", "format": "int32"},
                   "message": {"type": "string"},
                   "details": {"type": "array", "items": {"type": "object"}}},
    "required": ["code", "message", "details"],
}


def document(services: Iterable[ServiceDescriptor],
             comments: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.0 document of every route of ``services``."""
    services = list(services)
    notes = dict(comments or {})
    schemas: dict[str, Schema] = {"Status": _STATUS}
    paths: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for binding in sorted(bindings(services), key=lambda b: (b.template, b.verb)):
        service, _, name = binding.method.strip("/").rpartition("/")
        operation_id = f"{service.rpartition('.')[2]}_{name}"
        seen[operation_id] = seen.get(operation_id, 0) + 1
        if seen[operation_id] > 1:  # an additional binding of the same RPC
            operation_id += f"_{seen[operation_id] - 1}"
        paths.setdefault(binding.template, {})[binding.verb.lower()] = _operation(
            binding, operation_id, notes, schemas)
    watches = [b for b in bindings(services) if b.streaming]
    if watches:
        paths[WATCH_PATH] = {"get": _multiplexed(watches, notes, schemas)}
    streaming = ", ".join(m.rpartition("/")[2] for m in streaming_methods(services))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "PhoenixFlight API",
            "version": "v1",
            "description": (
                "The REST/JSON routes of phoenixflight.v1, from the google.api.http "
                "annotations of its protos, served by phoenixd --http-listen. Each calls the "
                "same method as gRPC, with the same authorization, validation and errors. "
                "Server-streaming watches are served as Server-Sent Events; other "
                f"streaming methods over gRPC only: {streaming}."),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"operatorToken": {
                "type": "http", "scheme": "bearer",
                "description": "The daemon's --auth-token-file token or one of its "
                               "--auth-tokens (required only when operator auth is on)."}},
        },
        "security": [{"operatorToken": []}],
    }


def _operation(binding: Binding, operation_id: str, notes: Mapping[str, str],
               schemas: dict[str, Schema]) -> dict[str, Any]:
    full_name = binding.method.strip("/").replace("/", ".")
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [full_name.split(".")[-2]],
    }
    if summary := notes.get(full_name):
        operation["description"] = summary
    parameters = [_path_parameter(binding.input, field, notes) for field in binding.path_fields]
    if binding.body != "*":
        parameters += _query_parameters(binding, notes)
    if parameters:
        operation["parameters"] = parameters
    if binding.body:
        target = (binding.input if binding.body == "*"
                  else binding.input.fields_by_name[binding.body].message_type)
        assert target is not None
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": _ref(target, notes, schemas)}}}
    ok = {"description": "OK", "content": {
        "application/json": {"schema": _ref(binding.output, notes, schemas)}}}
    if binding.streaming:
        ok = {"description": (
            "Server-Sent Events: one event per message (`id:` its revision, `event:` its "
            "type, `data:` the message as JSON, in this schema), `: ping` comments while "
            "idle, and a `closed` event saying why when the daemon ends the stream. "
            "Resume with the Last-Event-ID header."), "content": {
            "text/event-stream": {"schema": _ref(binding.output, notes, schemas)}}}
        operation.setdefault("parameters", []).append({
            "name": "Last-Event-ID", "in": "header", "required": False,
            "schema": {"type": "string"},
            "description": "The id of the last event received: the stream resumes after "
                           "it (it overrides the after_* query parameter)."})
    operation["responses"] = {
        "200": ok,
        "default": {"description": "An error", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Status"}}}},
    }
    if binding.method in MEMBER_METHODS:
        operation["security"] = []
        operation["description"] = (operation.get("description", "") + " Member side: "
                                    "authenticated by the member's credential in the body, "
                                    "not by an operator token.").strip()
    elif binding.method in OPEN_METHODS:
        operation["security"] = []
    return operation


def _multiplexed(watches: list[Binding], notes: Mapping[str, str],
                 schemas: dict[str, Schema]) -> dict[str, Any]:
    """The operation of the stream that carries several watches."""
    names = [FEEDS[b.method].name for b in watches]
    parameters: dict[str, Schema] = {"feeds": {
        "name": "feeds", "in": "query", "required": True, "schema": {"type": "string"},
        "example": ",".join(names),
        "description": f"The watches to carry, comma-separated: {', '.join(names)}."}}
    for binding in watches:
        for parameter in _query_parameters(binding, notes):
            parameters.setdefault(parameter["name"], parameter)
    tags = ",".join(f"{FEEDS[b.method].tag}:<revision>" for b in watches)
    return {
        "operationId": "Watch_Multiplexed",
        "tags": ["Watch"],
        "description": (
            "Several watches on one Server-Sent Events stream: `event:` names the feed, "
            f"`id:` holds every feed's cursor ({tags}), `data:` is the message. A query "
            "parameter goes to every watch whose request has that field."),
        "parameters": [*parameters.values(), {
            "name": "Last-Event-ID", "in": "header", "required": False,
            "schema": {"type": "string"},
            "description": f"The id of the last event received ({tags}): each feed "
                           "resumes after its cursor."}],
        "responses": {
            "200": {"description": "Server-Sent Events", "content": {"text/event-stream": {
                "schema": {"oneOf": [_ref(b.output, notes, schemas) for b in watches]}}}},
            "default": {"description": "An error", "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Status"}}}},
        },
    }


def _leaf(message: Descriptor, dotted: str) -> FieldDescriptor:
    *parents, last = dotted.split(".")
    for part in parents:
        found = message.fields_by_name[part].message_type
        assert found is not None
        message = found
    return message.fields_by_name[last]


def _path_parameter(message: Descriptor, dotted: str, notes: Mapping[str, str]) -> Schema:
    field = _leaf(message, dotted)
    parameter: Schema = {"name": dotted, "in": "path", "required": True,
                         "schema": _scalar(field)}
    if note := notes.get(field.full_name):
        parameter["description"] = note
    return parameter


def _query_parameters(binding: Binding, notes: Mapping[str, str]) -> list[Schema]:
    found: list[Schema] = []

    def walk(message: Descriptor, prefix: str, depth: int) -> None:
        for field in message.fields:
            dotted = prefix + field.name
            if dotted in binding.path_fields or (not prefix and field.name == binding.body):
                continue
            nested = field.message_type
            if nested is not None and nested.full_name not in _WELL_KNOWN:
                if not field.is_repeated and depth < 3:
                    walk(nested, dotted + ".", depth + 1)
                continue  # lists of messages and maps take a JSON body
            schema = _scalar(field)
            parameter: Schema = {"name": dotted, "in": "query", "required": False,
                                 "schema": {"type": "array", "items": schema}
                                 if field.is_repeated else schema}
            if field.is_repeated:
                parameter["explode"] = True
            if note := notes.get(field.full_name):
                parameter["description"] = note
            found.append(parameter)

    walk(binding.input, "", 0)
    return found


def _scalar(field: FieldDescriptor) -> Schema:
    kind = field.type
    if field.enum_type is not None:
        return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
    if field.message_type is not None:
        return dict(_WELL_KNOWN.get(field.message_type.full_name, {"type": "object"}))
    if kind in _INT32:
        return {"type": "integer", "format": "int32"}
    if kind in _INT64:
        return {"type": "string", "format": "int64"}
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return {"type": "number",
                "format": "double" if kind == FieldDescriptor.TYPE_DOUBLE else "float"}
    if kind == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if kind == FieldDescriptor.TYPE_BYTES:
        return {"type": "string", "format": "byte"}
    return {"type": "string"}


def _ref(message: Descriptor, notes: Mapping[str, str], schemas: dict[str, Schema]) -> Schema:
    """A $ref to ``message``'s schema, added to ``schemas`` (with the messages it names)."""
    if message.full_name in _WELL_KNOWN:
        return dict(_WELL_KNOWN[message.full_name])
    name = message.full_name.removeprefix("phoenixflight.v1.")
    if name not in schemas:
        schema: Schema = {"type": "object", "properties": {}}
        schemas[name] = schema  # before the fields: a message may name itself
        if note := notes.get(message.full_name):
            schema["description"] = note
        for field in message.fields:
            schema["properties"][field.name] = _field(field, notes, schemas)
    return {"$ref": f"#/components/schemas/{name}"}


def _field(field: FieldDescriptor, notes: Mapping[str, str],
           schemas: dict[str, Schema]) -> Schema:
    nested = field.message_type
    if nested is not None and nested.GetOptions().map_entry:
        value = nested.fields_by_name["value"]
        schema: Schema = {"type": "object", "additionalProperties": _single(value, notes,
                                                                            schemas)}
    elif field.is_repeated:
        schema = {"type": "array", "items": _single(field, notes, schemas)}
    else:
        schema = _single(field, notes, schemas)
    if note := notes.get(field.full_name):
        # A $ref takes no siblings in OpenAPI 3.0: the description goes beside it in allOf.
        schema = {"allOf": [schema], "description": note} if "$ref" in schema else {
            **schema, "description": note}
    return schema


def _single(field: FieldDescriptor, notes: Mapping[str, str],
            schemas: dict[str, Schema]) -> Schema:
    if field.message_type is not None:
        return _ref(field.message_type, notes, schemas)
    return _scalar(field)
