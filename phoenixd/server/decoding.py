"""Requests whose bytes do not parse are refused with INVALID_ARGUMENT, not grpc's UNKNOWN.

grpc.aio calls a method's request deserializer before its handler runs, and answers UNKNOWN
("Unexpected DecodeError") when it raises: a malformed request would look like a daemon bug.
The Guard (interceptors.py) gives every handler a ``tolerant`` deserializer instead, which turns
undecodable bytes into an ``Undecodable`` marker, and wraps the handler with ``checked``, which
refuses the marker with INVALID_ARGUMENT (in a request stream, at the message that did not parse).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from phoenixd.core.errors import InvalidArgument
from phoenixd.server.errors import Context

__all__ = ["Undecodable", "checked", "tolerant"]


class Undecodable:
    """Stands in for a request message whose bytes did not parse."""

    __slots__ = ("message",)

    def __init__(self, problem: str) -> None:
        self.message = f"the request is not a valid message for this method: {problem}"


class _UndecodableInStream(InvalidArgument):
    """Raised to a handler reading a request stream, at the message that did not parse.

    An InvalidArgument, so that a handler reading the stream in the background (a member
    session) ends the stream with INVALID_ARGUMENT as it does for its own protocol errors.
    """


def tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    """``deserializer`` answering Undecodable instead of raising DecodeError."""
    if deserializer is None:
        return None

    def deserialize(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except DecodeError as exc:
            return Undecodable(str(exc))

    return deserialize


async def _parsed(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
    async for request in requests:
        if isinstance(request, Undecodable):
            raise _UndecodableInStream(request.message)
        yield request


async def _prepared(request: Any, context: Context, request_streaming: bool) -> Any:
    if request_streaming:
        return _parsed(request)
    if isinstance(request, Undecodable):
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
    return request


def checked(inner: Callable[..., Any], *, request_streaming: bool) -> Callable[..., Any]:
    """``inner``, refusing undecodable requests with INVALID_ARGUMENT.

    A handler is a coroutine function (a unary answer, or a stream written with
    ``context.write``) or an async generator function; grpc.aio tells them apart by that, so
    the wrapper is of the same kind.
    """
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    if inspect.isasyncgenfunction(inner):

        async def checked_stream(request: Any, context: Context) -> AsyncIterator[Any]:
            request = await _prepared(request, context, request_streaming)
            try:
                async for item in inner(request, context):
                    yield item
            except _UndecodableInStream as exc:
                await context.abort(invalid, str(exc))

        return checked_stream

    async def checked_call(request: Any, context: Context) -> Any:
        request = await _prepared(request, context, request_streaming)
        try:
            return await inner(request, context)
        except _UndecodableInStream as exc:
            await context.abort(invalid, str(exc))

    return checked_call
