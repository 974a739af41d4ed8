"""JSON and query strings to request messages, response messages to JSON (proto3 JSON).

Input accepts both the proto field names and their lowerCamel JSON names (json_format does
for bodies; query parameters are resolved here the same way). Output uses the proto names and
prints fields left at their defaults, as the seeds show records (Envoy's
``preserve_proto_field_names`` and ``always_print_primitive_fields``, grpc-gateway's
``UseProtoNames`` and ``EmitUnpopulated``). Every problem is a ``BadRequest`` naming the field
or the position in the body that is wrong; nothing unknown is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from phoenixd.http.routes import Binding

__all__ = ["BadRequest", "first_line", "parse_json", "request_message", "response_json"]

_INTEGERS = frozenset({
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_FIXED64, FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
})
_FLOATS = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})
# Well-known types whose JSON form is one string, so that a query parameter can carry them.
_STRING_MESSAGES = frozenset({
    "google.protobuf.Duration", "google.protobuf.Timestamp", "google.protobuf.FieldMask",
})
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})


class BadRequest(ValueError):
    """The request cannot become the method's message; the text says what to change."""


def request_message(
    binding: Binding, path: Sequence[str], query: Mapping[str, Sequence[str]], body: bytes,
    message_class: type[Message],
) -> Message:
    """The request for ``binding``: its body (as the rule's ``body`` says), then the path's
    variables (``path``, in the template's order), then the query parameters."""
    request = message_class()
    if binding.body:
        _merge_body(binding, body, request)
    elif body.strip():
        raise BadRequest(f"{binding.verb} {binding.template} takes no body; "
                         "send its fields as query parameters")
    overlay: dict[str, Any] = {}
    bound = set()
    for field, value in zip(binding.path_fields, path, strict=True):
        chain = _resolve(binding.input, field)
        _refuse_conflict(request, chain, value, field)
        _place(overlay, chain, _query_value(chain[-1], [value], field))
        bound.add(field)
    for key, values in query.items():
        if binding.body == "*":
            raise BadRequest(f"query parameter {key!r}: {binding.verb} {binding.template} takes "
                             "every field in its JSON body")
        chain = _resolve(binding.input, key, query=True)
        dotted = ".".join(f.name for f in chain)
        if dotted in bound:
            raise BadRequest(f"query parameter {key!r} is already given by the path")
        if binding.body and chain[0].name == binding.body:
            raise BadRequest(f"query parameter {key!r} belongs in the JSON body "
                             f"({binding.body!r})")
        _place(overlay, chain, _query_value(chain[-1], values, key))
    if overlay:
        try:
            json_format.ParseDict(overlay, request)
        except json_format.ParseError as exc:
            raise BadRequest(first_line(exc)) from None
    return request


def response_json(message: Message) -> bytes:
    return json.dumps(
        json_format.MessageToDict(message, preserving_proto_field_name=True,
                                  always_print_fields_with_no_presence=True),
        ensure_ascii=False, separators=(",", ":"),
    ).encode()


def parse_json(body: bytes) -> Any:
    """The JSON of a request body ({} when empty), or BadRequest saying where it breaks."""
    try:
        return json.loads(body) if body.strip() else {}
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} "
                         f"column {exc.colno}") from None


def _merge_body(binding: Binding, body: bytes, request: Message) -> None:
    parsed = parse_json(body)
    what = "the body" if binding.body == "*" else f"the body (the {binding.body!r} field)"
    if not isinstance(parsed, dict):
        raise BadRequest(f"{what} must be a JSON object, not {type(parsed).__name__}")
    target = request if binding.body == "*" else getattr(request, binding.body)
    try:
        json_format.ParseDict(parsed, target)
    except json_format.ParseError as exc:
        raise BadRequest(first_line(exc)) from None


def first_line(exc: Exception) -> str:
    """A json_format error's message without the field list it appends."""
    # json_format appends the message's whole field list on a line of its own.
    return str(exc).splitlines()[0].strip()


def _resolve(message: Descriptor, dotted: str, *, query: bool = False) -> list[FieldDescriptor]:
    """The fields along ``dotted`` (proto or JSON names), or BadRequest naming what is not one."""
    what = "query parameter" if query else "path variable"
    parts = dotted.split(".")
    chain = []
    for depth, part in enumerate(parts, 1):
        field = message.fields_by_name.get(part) or _by_json_name(message, part)
        if field is None:
            known = ", ".join(sorted(f.name for f in message.fields))
            raise BadRequest(f"{what} {dotted!r}: {message.full_name} has no field {part!r} "
                             f"(fields: {known})")
        chain.append(field)
        if depth == len(parts):
            break
        if (field.message_type is None or field.is_repeated
                or field.message_type.full_name in _STRING_MESSAGES):
            raise BadRequest(f"{what} {dotted!r}: {field.name} has no fields to name")
        message = field.message_type
    return chain


def _by_json_name(message: Descriptor, name: str) -> FieldDescriptor | None:
    return next((f for f in message.fields if f.json_name == name), None)


def _refuse_conflict(request: Message, chain: list[FieldDescriptor], value: str,
                     field: str) -> None:
    """A body that names the field the path binds must name the same value."""
    holder: Any = request
    for part in chain[:-1]:
        holder = getattr(holder, part.name)
    current = getattr(holder, chain[-1].name)
    if current not in ("", 0) and str(current) != value:
        raise BadRequest(f"{field} is {value!r} in the path but {current!r} in the body; "
                         "leave it out of the body or make them agree")


def _place(overlay: dict[str, Any], chain: list[FieldDescriptor], value: Any) -> None:
    for part in chain[:-1]:
        overlay = overlay.setdefault(part.name, {})
    overlay[chain[-1].name] = value


def _query_value(field: FieldDescriptor, values: Sequence[str], key: str) -> Any:
    """``values`` as JSON-typed values json_format accepts for ``field``."""
    if field.is_repeated:
        if field.message_type is not None:
            raise BadRequest(f"query parameter {key!r} is a list of messages; send this call "
                             "with a JSON body instead")
        return [_scalar(field, value, key) for value in values]
    if len(values) > 1:
        raise BadRequest(f"query parameter {key!r} is given {len(values)} times but takes "
                         "one value")
    return _scalar(field, values[0], key)


def _scalar(field: FieldDescriptor, value: str, key: str) -> Any:
    kind = field.type
    try:
        if kind in _INTEGERS:
            return int(value)
        if kind in _FLOATS:
            return float(value)
    except ValueError:
        raise BadRequest(f"query parameter {key!r} must be a number, not {value!r}") from None
    if kind == FieldDescriptor.TYPE_BOOL:
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise BadRequest(f"query parameter {key!r} must be true or false, not {value!r}")
    if field.enum_type is not None:
        return _enum_name(field.enum_type, value, key)
    if field.message_type is not None:
        name = field.message_type.full_name
        if name not in _STRING_MESSAGES:
            raise BadRequest(f"query parameter {key!r} is a message; name its fields "
                             f"({key}.<field>=...) or send a JSON body")
        if name == "google.protobuf.FieldMask":
            return ",".join(_camel(path.strip()) for path in value.split(",") if path.strip())
    return value


def _enum_name(enum: EnumDescriptor, value: str, key: str) -> str | int:
    """An enum value by its full name, its number, or its name less the enum's prefix
    (``statuses=ACTIVE`` for MEMBER_STATUS_ACTIVE)."""
    if value in enum.values_by_name:
        return value
    if value.lstrip("-").isdigit():
        return int(value)
    prefix = enum.values_by_number[0].name.removesuffix("UNSPECIFIED")
    if (prefix + value.upper()) in enum.values_by_name:
        return prefix + value.upper()
    names = ", ".join(v.name.removeprefix(prefix) for v in enum.values if v.number)
    raise BadRequest(f"query parameter {key!r}: {value!r} is not a {enum.name} "
                     f"(one of {names})")


def _camel(path: str) -> str:
    """A FieldMask path in the lowerCamel form its JSON mapping reads (snake_case accepted)."""
    head, *rest = path.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
