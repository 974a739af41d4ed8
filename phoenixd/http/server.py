"""The HTTP/JSON server on ``--http-listen``: one aiohttp route per ``google.api.http``
binding, each calling its RPC's gRPC method handler in process.

A route runs exactly what a gRPC call of the same method runs: the Guard (interceptors.py)
is asked for the handler, as grpc.aio asks it, with the call's ``authorization`` header as
its metadata; so the operator token, the per-method authorization rule and CALLER, the
concurrency limit and the disk-full refusal all apply, and the servicer then validates,
converts and maps errors as for gRPC. No loopback gRPC hop: that measured about 3.5x slower
than this in-process call. Errors come back with the HTTP status grpc-gateway gives their
code (status.py) and a ``{"code", "message", "details"}`` body, including the transcoder's
own: a body past --max-message-bytes (413), JSON that does not parse or names an unknown
field (400), an unknown path (404) and a method a path does not take (405).

A server-streaming RPC's route serves Server-Sent Events (sse.py), and ``GET /v1/watch``
several watches on one connection. The seed's own routes (seed.py) rewrite the seed's
bodies into the requests of RegisterMember and SubmitPacket and then run as their /v1 routes.
``/console`` is the runtime console (static.py): static files calling these same routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

import grpc
import structlog
from aiohttp import web
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from phoenixd.http import seed, sse
from phoenixd.http.context import Aborted, HttpCallContext
from phoenixd.http.routes import Binding, bindings
from phoenixd.http.static import Console
from phoenixd.http.status import HTTP_STATUS, error_body
from phoenixd.http.transcode import (
    BadRequest,
    first_line,
    parse_json,
    request_message,
    response_json,
)
from phoenixd.server.grpc_server import Handler
from phoenixd.server.interceptors import NO_OPERATOR_TOKEN, Guard

__all__ = ["OPENAPI_PATH", "SEED_ROUTES", "HttpServer"]

log = structlog.get_logger("phoenixd.http")

OPENAPI_PATH = "/v1/openapi.json"
# The seed's routes: (path, the RPC served, how the seed's body becomes its request's JSON).
SEED_ROUTES: tuple[tuple[str, str, Callable[[Any], dict[str, Any]]], ...] = (
    ("/api/members/register", "/phoenixflight.v1.MembershipService/RegisterMember",
     seed.member_registration),
    ("/api/packets", "/phoenixflight.v1.PacketService/SubmitPacket", seed.packet_submission),
)
# Request headers passed to the Guard as the call's metadata: what it reads, nothing else.
FORWARDED_HEADERS = ("authorization",)
JSON = "application/json"


@dataclass(frozen=True)
class _CallDetails(grpc.HandlerCallDetails):
    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


class HttpServer:
    """The REST routes of ``services`` (descriptors) over ``handlers`` (by gRPC path)."""

    def __init__(self, services: Iterable[ServiceDescriptor], handlers: Mapping[str, Handler],
                 guard: Guard, *, max_body_bytes: int, shutdown_grace: float = 5.0,
                 heartbeat: float = sse.HEARTBEAT_SECONDS) -> None:
        self._handlers = dict(handlers)
        self._guard = guard
        self._max_body_bytes = max_body_bytes
        self._shutdown_grace = shutdown_grace
        self._heartbeat = heartbeat
        self._runner: web.AppRunner | None = None
        self.bindings = bindings(services)
        missing = [b.method for b in self.bindings if b.method not in self._handlers]
        if missing:
            raise ValueError(f"annotated methods without a servicer: {', '.join(missing)}")
        unfed = [b.method for b in self.bindings if b.streaming and b.method not in sse.FEEDS]
        if unfed:
            raise ValueError(f"streaming routes without an SSE feed: {', '.join(unfed)}")
        self._watches = {sse.FEEDS[b.method].name: b for b in self.bindings if b.streaming}
        self._frames = sse.Frames()
        self._openapi = (resources.files("phoenixd.http") / "openapi.json").read_bytes()
        self.app = self._build()

    def _build(self) -> web.Application:
        app = web.Application(client_max_size=self._max_body_bytes, middlewares=[self._errors])
        by_path: dict[str, web.Resource] = {}
        for binding in self.bindings:
            resource = by_path.get(binding.route_path)
            if resource is None:
                resource = by_path[binding.route_path] = app.router.add_resource(
                    binding.route_path)
            serve = self._watch_route(binding) if binding.streaming else self._route(binding)
            resource.add_route(binding.verb, serve)
        app.router.add_get(sse.WATCH_PATH, self._watch_many)
        for path, method, rewrite in SEED_ROUTES:
            app.router.add_post(path, self._seed_route(method, rewrite))
        app.router.add_get(OPENAPI_PATH, self._openapi_document)
        Console().add_routes(app)
        return app

    async def start(self, host: str, port: int) -> int:
        """Serve on host:port (0: a free port); returns the port bound."""
        # In-flight calls get the daemon's --shutdown-grace to finish, as gRPC's do. A client
        # that goes away does not cancel its call (aiohttp's default): a mutation it started
        # is applied and recorded whole, as over gRPC.
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=self._shutdown_grace)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound: int = self._runner.addresses[0][1]
        return bound

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _route(self, binding: Binding) -> Callable[[web.Request], Awaitable[web.Response]]:
        message_class = message_factory.GetMessageClass(binding.input)
        variables = [f"v{i}" for i in range(len(binding.path_fields))]

        async def serve(request: web.Request) -> web.Response:
            if (refused := self._unauthenticated((binding.method,), request)) is not None:
                return refused
            body = await request.read()
            try:
                message = request_message(binding, [request.match_info[v] for v in variables],
                                          _query(request), body, message_class)
            except BadRequest as exc:
                return _error(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            return await self._call(binding.method, message, request)

        return serve

    def _seed_route(self, method: str, rewrite: Callable[[Any], dict[str, Any]],
                    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """A seed route: its body rewritten into ``method``'s request, then as /v1 serves it."""
        message_class = message_factory.GetMessageClass(
            next(b.input for b in self.bindings if b.method == method))

        async def serve(request: web.Request) -> web.Response:
            if (refused := self._unauthenticated((method,), request)) is not None:
                return refused
            try:
                message = message_class()
                json_format.ParseDict(rewrite(parse_json(await request.read())), message)
            except BadRequest as exc:
                return _error(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            except json_format.ParseError as exc:
                return _error(grpc.StatusCode.INVALID_ARGUMENT, first_line(exc))
            return await self._call(method, message, request)

        return serve

    def _unauthenticated(self, methods: Iterable[str], request: web.Request
                         ) -> web.Response | None:
        """401 before anything else of the request is read, as gRPC refuses a call without
        a valid operator token before it looks at the request: such a caller learns nothing
        of the request's checks."""
        metadata = _metadata(request)
        if any(self._guard.unauthenticated(method, metadata) for method in methods):
            return _error(grpc.StatusCode.UNAUTHENTICATED, NO_OPERATOR_TOKEN)
        return None

    async def _guarded(self, method: str, metadata: tuple[tuple[str, str], ...],
                       handler: Handler) -> Handler:
        """``handler`` as the Guard gives it for a gRPC call of ``method`` with ``metadata``."""

        async def continuation(details: grpc.HandlerCallDetails) -> Handler:
            return handler

        guarded = await self._guard.intercept_service(continuation,
                                                      _CallDetails(method, metadata))
        assert guarded is not None
        return guarded

    async def _call(self, method: str, message: Message, request: web.Request) -> web.Response:
        """Run the unary ``method`` on ``message`` as a gRPC call of it runs."""
        metadata = _metadata(request)
        guarded = await self._guarded(method, metadata, self._handlers[method])
        assert guarded.unary_unary is not None
        context = HttpCallContext(_peer(request), metadata)
        try:
            response: Message = await guarded.unary_unary(message, cast(Any, context))
        except Aborted as exc:
            return _error(exc.code, exc.details)
        except Exception:  # a bug: answered as grpc.aio answers it, and logged
            log.exception("HTTP call failed", method=method)
            return _error(grpc.StatusCode.UNKNOWN, "unexpected error in the daemon; "
                          "its log has the details")
        code = context.code()
        if code is not None and code is not grpc.StatusCode.OK:
            return _error(code, context.details())
        return web.Response(body=response_json(response), content_type=JSON)

    def _watch_route(self, binding: Binding,
                     ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        message_class = message_factory.GetMessageClass(binding.input)

        async def serve(request: web.Request) -> web.StreamResponse:
            if (refused := self._unauthenticated((binding.method,), request)) is not None:
                return refused
            try:
                message = request_message(binding, [], _query(request),
                                          await request.read(), message_class)
            except BadRequest as exc:
                return _error(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            return await self._stream(request, [(binding, message)])

        return serve

    async def _watch_many(self, request: web.Request) -> web.StreamResponse:
        """``GET /v1/watch?feeds=members,events``: each named watch on this one stream, the
        other query parameters going to every watch whose request has that field."""
        methods = [binding.method for binding in self._watches.values()]
        if (refused := self._unauthenticated(methods, request)) is not None:
            return refused
        query = _query(request)
        names = [n.strip() for v in query.pop("feeds", []) for n in v.split(",") if n.strip()]
        unknown = sorted(set(names) - set(self._watches))
        if unknown or not names:
            what = f"feeds {', '.join(map(repr, unknown))} are not known" if unknown else \
                "feeds names no watch"
            return _error(grpc.StatusCode.INVALID_ARGUMENT,
                          f"{what}; name some of {', '.join(self._watches)}, e.g. "
                          f"?feeds={','.join(self._watches)}")
        chosen = [self._watches[name] for name in dict.fromkeys(names)]
        stray = next((key for key in query
                      if not any(_names_field(b, key) for b in chosen)), None)
        if stray is not None:
            return _error(grpc.StatusCode.INVALID_ARGUMENT,
                          f"query parameter {stray!r} is a field of none of the watches named "
                          f"({', '.join(names)})")
        parts = []
        try:
            for binding in chosen:
                own = {key: values for key, values in query.items()
                       if _names_field(binding, key)}
                parts.append((binding, request_message(
                    binding, [], own, b"", message_factory.GetMessageClass(binding.input))))
        except BadRequest as exc:
            return _error(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return await self._stream(request, parts)

    async def _stream(self, request: web.Request,
                      parts: list[tuple[Binding, Message]]) -> web.StreamResponse:
        """The watches of ``parts`` as one event stream, each resumed from Last-Event-ID if
        the request carries it (an EventSource reconnecting sends it, with the URL it first
        opened: the header wins over the URL's after_* parameters)."""
        feeds = [sse.FEEDS[binding.method] for binding, _ in parts]
        try:
            resume = sse.cursors(request.headers.get("Last-Event-ID", ""), feeds)
        except BadRequest as exc:
            return _error(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        metadata = _metadata(request)
        watches, after = [], {}
        for (binding, message), feed in zip(parts, feeds, strict=True):
            if feed.name in resume:
                setattr(message, feed.cursor, resume[feed.name])
            after[feed.name] = (getattr(message, feed.cursor) if message.HasField(feed.cursor)
                                else None)
            watch = sse.Watch(feed, message, HttpCallContext(_peer(request), metadata))
            watch.handler = await self._guarded(
                binding.method, metadata, sse.entering(self._handlers[binding.method], watch))
            watches.append(watch)
        return await sse.stream(request, watches, heartbeat=self._heartbeat, after=after,
                                frames=self._frames,
                                refuse=lambda exc: _error(exc.code, exc.details))

    async def _openapi_document(self, request: web.Request) -> web.Response:
        return web.Response(body=self._openapi, content_type=JSON)

    @web.middleware
    async def _errors(self, request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                      ) -> web.StreamResponse:
        """The router's and aiohttp's own refusals, in the same JSON form as every error."""
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return _error(grpc.StatusCode.NOT_FOUND,
                          f"no route for {request.method} {request.path}; "
                          f"GET {OPENAPI_PATH} lists every route", status=404)
        except web.HTTPMethodNotAllowed as exc:
            allowed = ", ".join(sorted(exc.allowed_methods))
            response = _error(grpc.StatusCode.UNIMPLEMENTED,
                              f"{request.path} does not take {request.method}; it takes "
                              f"{allowed}", status=405)
            response.headers["Allow"] = allowed
            return response
        except web.HTTPRequestEntityTooLarge:
            return _error(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"the request body is larger than {self._max_body_bytes} bytes "
                          "(the daemon's --max-message-bytes)", status=413)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _error(grpc.StatusCode.UNKNOWN, exc.reason, status=exc.status)


def _names_field(binding: Binding, key: str) -> bool:
    """Does query parameter ``key`` name a field of the binding's request (either name form)?"""
    top = key.split(".")[0]
    message = binding.input
    return top in message.fields_by_name or any(f.json_name == top for f in message.fields)


def _query(request: web.Request) -> dict[str, list[str]]:
    return {key: request.query.getall(key) for key in request.query}


def _metadata(request: web.Request) -> tuple[tuple[str, str], ...]:
    return tuple((name, request.headers[name]) for name in FORWARDED_HEADERS
                 if name in request.headers)


def _error(code: grpc.StatusCode, message: str, *, status: int | None = None) -> web.Response:
    return web.Response(status=status or HTTP_STATUS.get(code, 500),
                        body=error_body(code, message), content_type=JSON)


def _peer(request: web.Request) -> str:
    """The client's address in grpc.aio's form, as refusals and logs record peers."""
    peer: Any = request.transport.get_extra_info("peername") if request.transport else None
    if not peer:
        return "unknown"
    host, port = peer[0], peer[1]
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"
