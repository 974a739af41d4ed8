"""The one table from core errors to gRPC status codes, and the wrappers that apply it."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from phoenixd.core import errors
from phoenixd.server.refusals import MEMBER_CREDENTIAL, REFUSALS

__all__ = ["STATUS_FOR", "Context", "status_for", "streaming", "unary"]

# The servicer context of any RPC (handlers here are typed by their messages).
Context = grpc.aio.ServicerContext[Any, Any]

STATUS_FOR: dict[type[errors.PhoenixError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.OutOfRange: grpc.StatusCode.OUT_OF_RANGE,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def status_for(exc: errors.PhoenixError) -> grpc.StatusCode:
    for cls in type(exc).__mro__:
        if cls in STATUS_FOR:
            return STATUS_FOR[cls]
    return grpc.StatusCode.INTERNAL


Req = TypeVar("Req")
Resp = TypeVar("Resp")
Self = TypeVar("Self")


def unary(
    method: Callable[[Self, Req, Context], Awaitable[Resp]],
) -> Callable[[Self, Req, Context], Awaitable[Resp]]:
    """Map core errors of a unary handler to their status codes."""

    @functools.wraps(method)
    async def wrapper(self: Self, request: Req, context: Context) -> Resp:
        try:
            return await method(self, request, context)
        except errors.PhoenixError as exc:
            await _abort(exc, method.__name__, context)
            raise  # unreachable: abort raises

    return wrapper


def streaming(
    method: Callable[[Self, Any, Context], AsyncIterator[Resp]],
) -> Callable[[Self, Any, Context], AsyncIterator[Resp]]:
    """Map core errors of a streaming handler to their status codes."""

    @functools.wraps(method)
    async def wrapper(self: Self, request: Any, context: Context) -> AsyncIterator[Resp]:
        try:
            async for item in method(self, request, context):
                yield item
        except errors.PhoenixError as exc:
            await _abort(exc, method.__name__, context)

    return wrapper


async def _abort(exc: errors.PhoenixError, method: str, context: Context) -> None:
    if isinstance(exc, errors.Unauthenticated):  # a credential that is not the member's own
        REFUSALS.note(MEMBER_CREDENTIAL, method, context.peer(), str(exc))
    await context.abort(status_for(exc), str(exc))
