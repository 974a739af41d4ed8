"""Operator auth and authorization, the concurrency limits and the disk-full refusal,
applied in one place."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc

from phoenixd.core.access import ADMIN, Caller
from phoenixd.core.application.access import Access
from phoenixd.core.errors import PhoenixError
from phoenixd.server.admission import PendingStreams, Slots, StreamLimits
from phoenixd.server.authz import CALLER, Tokens, authorize
from phoenixd.server.decoding import Undecodable, checked, tolerant
from phoenixd.server.errors import Context, status_for
from phoenixd.server.refusals import OPERATOR_TOKEN, REFUSALS

__all__ = ["MEMBER_METHODS", "MUTATING_METHODS", "NO_OPERATOR_TOKEN", "OPEN_METHODS", "Guard"]

# grpc.RpcMethodHandler is generic only in the type stubs, not at run time.
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"

# Authenticated by the member's own credential inside the request, whatever
# the operator auth mode: once registered, a worker needs no operator token
# (registering does, when operator auth is on).
MEMBER_METHODS = frozenset({
    "/phoenixflight.v1.MembershipService/Heartbeat",
    "/phoenixflight.v1.MembershipService/OpenSession",
    "/phoenixflight.v1.PacketService/AckPacket",
    "/phoenixflight.v1.PacketService/SaveCheckpoint",
    "/phoenixflight.v1.PacketService/CompletePacket",
    "/phoenixflight.v1.PacketService/FailPacket",
    "/phoenixflight.v1.PacketService/WatchAssignments",
})
# Calls that record events at a client's request. While the data dir is short of
# space they are refused before anything is applied (every event is applied in
# memory before it is written). Heartbeat and OpenSession are not among them: they
# renew leases in memory, and refusing them would fail members whose only fault is
# the daemon's full disk; the few events they cause come out of the reserve.
MUTATING_METHODS = frozenset({
    "/phoenixflight.v1.MembershipService/RegisterMember",
    "/phoenixflight.v1.MembershipService/UpdateMember",
    "/phoenixflight.v1.MembershipService/DrainMember",
    "/phoenixflight.v1.MembershipService/RetireMember",
    "/phoenixflight.v1.PacketService/SubmitPacket",
    "/phoenixflight.v1.PacketService/CancelPacket",
    "/phoenixflight.v1.PacketService/HandoffPacket",
    "/phoenixflight.v1.PacketService/AckPacket",
    "/phoenixflight.v1.PacketService/SaveCheckpoint",
    "/phoenixflight.v1.PacketService/CompletePacket",
    "/phoenixflight.v1.PacketService/FailPacket",
    "/phoenixflight.v1.NamespaceService/CreateNamespace",
    "/phoenixflight.v1.NamespaceService/UpdateNamespace",
    "/phoenixflight.v1.NamespaceService/DeleteNamespace",
    "/phoenixflight.v1.BundleService/ApplyBundle",
})
# Probes and discovery stay open so that load balancers and grpcurl work.
OPEN_METHODS = frozenset({
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.health.v1.Health/List",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    # Public data that members need to verify handoff tokens.
    "/phoenixflight.v1.PacketService/GetHandoffKey",
})
NO_OPERATOR_TOKEN = ("missing or wrong operator token: send `authorization: Bearer <token>` "
                     "(the daemon's --auth-token-file, or one of its --auth-tokens)")


def _rebuild(
    handler: Handler,
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]],
    *,
    checking: bool = True,
) -> Handler:
    """The same handler with its behaviour wrapped (one factory per RPC shape); a request
    that does not parse is refused with INVALID_ARGUMENT (decoding.py) where ``checking``."""
    factory: Callable[..., Handler]
    inner: Any
    if handler.unary_unary:
        factory, inner = grpc.unary_unary_rpc_method_handler, handler.unary_unary
    elif handler.unary_stream:
        factory, inner = grpc.unary_stream_rpc_method_handler, handler.unary_stream
    elif handler.stream_unary:
        factory, inner = grpc.stream_unary_rpc_method_handler, handler.stream_unary
    else:
        factory, inner = grpc.stream_stream_rpc_method_handler, handler.stream_stream
    if checking:
        inner = checked(inner, request_streaming=handler.request_streaming)
    return factory(
        wrap(inner),
        request_deserializer=tolerant(handler.request_deserializer),
        response_serializer=handler.response_serializer,
    )


class Guard(grpc.aio.ServerInterceptor):
    """Refuses calls without an operator token, operator calls on what their token may not
    act on (authz.py), unary calls past the limit, streams past theirs, and mutations while
    ``write_refusal`` says why not (the disk is full).

    grpc's own ``maximum_concurrent_rpcs`` counts streams too, and every member
    holds a session stream for hours: unary calls and open streams (sessions and
    watches) are counted against separate limits.
    """

    def __init__(
        self, tokens: Tokens, access: Access, max_concurrent: int, streams: StreamLimits,
        write_refusal: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._tokens = tokens
        self._access = access
        self._write_refusal = write_refusal
        self.calls = Slots(max_concurrent, "calls in flight")
        self.streams = Slots(streams.authenticated, "streams open")
        self.pending = PendingStreams(streams.unauthenticated, streams.auth_deadline)
        self.probes = Slots(streams.probes, "health and reflection streams open")

    def unauthenticated(self, method: str, metadata: tuple[Any, ...] | None) -> bool:
        """Whether a call of operator ``method`` lacks a valid operator token, which
        intercept_service refuses before the request is looked at (the HTTP surface asks
        first, so that it too refuses before reading a body)."""
        return (method not in OPEN_METHODS and method not in MEMBER_METHODS
                and self._caller(metadata) is None)

    def _caller(self, metadata: tuple[Any, ...] | None) -> Caller | None:
        """Whose bearer token the call carries (None: no valid one)."""
        if not self._tokens.enabled:
            return ADMIN
        for key, value in metadata or ():
            if key == "authorization":
                raw = value.encode() if isinstance(value, str) else value
                scheme, _, given = raw.partition(b" ")
                return self._tokens.caller(given.strip()) if scheme.lower() == b"bearer" else None
        return None

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(details)
        if handler is None:
            return handler
        method = details.method
        if method not in OPEN_METHODS and method not in MEMBER_METHODS:
            caller = self._caller(details.invocation_metadata)
            if caller is None:
                streams_back = handler.response_streaming
                return _rebuild(handler, lambda inner: _refuse(
                    grpc.StatusCode.UNAUTHENTICATED, NO_OPERATOR_TOKEN,
                    streaming=streams_back, noted_as=method.rpartition("/")[2],
                ))
            if not caller.admin:  # the admin may call anything, and CALLER's default is it
                handler = _rebuild(handler,
                                   lambda inner: self._authorizing(inner, method, caller),
                                   checking=False)
        if handler.unary_unary and method in MUTATING_METHODS:
            return _rebuild(handler, lambda inner: self._limited(self._gated(inner)))
        if handler.unary_unary:
            return _rebuild(handler, self._limited)
        if not handler.response_streaming:
            return _rebuild(handler, lambda inner: inner)
        if method in OPEN_METHODS:
            return _rebuild(handler, lambda inner: self._limited_stream(inner, self.probes))
        if handler.request_streaming and method in MEMBER_METHODS:
            return _rebuild(handler, self._authenticating_stream)
        return _rebuild(handler, lambda inner: self._limited_stream(inner, self.streams))

    def _authorizing(self, inner: Callable[..., Any], method: str,
                     caller: Caller) -> Callable[..., Any]:
        """``inner`` run as ``caller`` once the method's rule lets it (operator methods take
        one request, unary or streamed back)."""
        access = self._access

        async def check(request: Any, context: Context) -> None:
            if isinstance(request, Undecodable):
                return  # refused with INVALID_ARGUMENT by the checked handler
            try:
                await authorize(access, method, request, caller)
            except PhoenixError as exc:
                await context.abort(status_for(exc), str(exc))

        # grpc.aio serves each call in a task of its own, whose context is a copy: the
        # caller set here is the call's alone and ends with it.
        if not inspect.isasyncgenfunction(inner):

            async def authorized(request: Any, context: Context) -> Any:
                await check(request, context)
                CALLER.set(caller)
                return await inner(request, context)

            return authorized

        async def authorized_stream(request: Any, context: Context) -> AsyncIterator[Any]:
            await check(request, context)
            CALLER.set(caller)
            async for item in inner(request, context):
                yield item

        return authorized_stream

    @staticmethod
    def _limited_stream(inner: Callable[..., Any], slots: Slots) -> Callable[..., Any]:
        # grpc.aio tells a generator handler from one writing with context.write (grpcio's
        # health servicer) by its kind, so the wrapper is of the same kind (decoding.py).
        if not inspect.isasyncgenfunction(inner):

            async def limited_writer(request: Any, context: Context) -> Any:
                await slots.take(context)
                try:
                    return await inner(request, context)
                finally:
                    slots.give_back()

            return limited_writer

        async def limited(request: Any, context: Context) -> AsyncIterator[Any]:
            await slots.take(context)
            try:
                async for item in inner(request, context):
                    yield item
            finally:
                slots.give_back()

        return limited

    def _authenticating_stream(
        self, inner: Callable[..., AsyncIterator[Any]],
    ) -> Callable[..., Any]:
        """A member session: its first message carries the credential, so the stream
        takes a slot only once that message is here. The handler checks the credential
        before it awaits anything, so a wrong one gives the slot back at once."""

        async def authenticating(requests: AsyncIterator[Any], context: Context) -> Any:
            first = await self.pending.first_message(requests, context)
            await self.streams.take(context)
            try:
                async for item in inner(_chained(first, requests), context):
                    yield item
            finally:
                self.streams.give_back()

        return authenticating

    def _gated(self, inner: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def gated(request: Any, context: Context) -> Any:
            refusal = self._write_refusal()
            if refusal is not None:
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, refusal)
            return await inner(request, context)

        return gated

    def _limited(self, inner: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def limited(request: Any, context: Context) -> Any:
            await self.calls.take(context)
            try:
                return await inner(request, context)
            finally:
                self.calls.give_back()

        return limited


async def _chained(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    async for item in rest:
        yield item


def _refuse(
    code: grpc.StatusCode, message: str, *, streaming: bool, noted_as: str,
) -> Callable[..., Any]:
    """A handler that refuses its call with an operator-token refusal, noted for monitoring."""
    if streaming:

        async def refuse_stream(request: Any, context: Context) -> Any:
            REFUSALS.note(OPERATOR_TOKEN, noted_as, context.peer(), message)
            await context.abort(code, message)
            yield  # pragma: no cover - makes this an async generator

        return refuse_stream

    async def refuse(request: Any, context: Context) -> Any:
        REFUSALS.note(OPERATOR_TOKEN, noted_as, context.peer(), message)
        await context.abort(code, message)

    return refuse
