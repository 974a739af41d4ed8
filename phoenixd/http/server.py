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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

import grpc
import structlog
from aiohttp import web
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message

from phoenixd.http.context import Aborted, HttpCallContext
from phoenixd.http.routes import Binding, bindings
from phoenixd.http.status import HTTP_STATUS, error_body
from phoenixd.http.transcode import BadRequest, request_message, response_json
from phoenixd.server.grpc_server import Handler
from phoenixd.server.interceptors import Guard

__all__ = ["OPENAPI_PATH", "HttpServer"]

log = structlog.get_logger("phoenixd.http")

OPENAPI_PATH = "/v1/openapi.json"
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
                 guard: Guard, *, max_body_bytes: int, shutdown_grace: float = 5.0) -> None:
        self._handlers = dict(handlers)
        self._guard = guard
        self._max_body_bytes = max_body_bytes
        self._shutdown_grace = shutdown_grace
        self._runner: web.AppRunner | None = None
        self.bindings = bindings(services)
        missing = [b.method for b in self.bindings if b.method not in self._handlers]
        if missing:
            raise ValueError(f"annotated methods without a servicer: {', '.join(missing)}")
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
            resource.add_route(binding.verb, self._route(binding))
        app.router.add_get(OPENAPI_PATH, self._openapi_document)
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
        handler = self._handlers[binding.method]

        async def continuation(details: grpc.HandlerCallDetails) -> Handler:
            return handler

        async def serve(request: web.Request) -> web.Response:
            body = await request.read()
            query = {key: request.query.getall(key) for key in request.query}
            try:
                message = request_message(binding, [request.match_info[v] for v in variables],
                                          query, body, message_class)
            except BadRequest as exc:
                return _error(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            metadata = tuple((name, request.headers[name]) for name in FORWARDED_HEADERS
                             if name in request.headers)
            guarded = await self._guard.intercept_service(
                continuation, _CallDetails(binding.method, metadata))
            assert guarded is not None and guarded.unary_unary is not None
            context = HttpCallContext(_peer(request), metadata)
            try:
                response: Message = await guarded.unary_unary(message, cast(Any, context))
            except Aborted as exc:
                return _error(exc.code, exc.details)
            except Exception:  # a bug: answered as grpc.aio answers it, and logged
                log.exception("HTTP call failed", method=binding.method)
                return _error(grpc.StatusCode.UNKNOWN, "unexpected error in the daemon; "
                              "its log has the details")
            code = context.code()
            if code is not None and code is not grpc.StatusCode.OK:
                return _error(code, context.details())
            return web.Response(body=response_json(response), content_type=JSON)

        return serve

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
