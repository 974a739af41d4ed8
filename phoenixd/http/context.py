"""What the servicers and the Guard use of ``grpc.aio.ServicerContext``, for a call that came
over HTTP: ``abort`` ends the call with a status (as grpc.aio's does, by raising), and the
rest answers as it would for a gRPC call from the same peer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

import grpc

__all__ = ["Aborted", "HttpCallContext"]


class Aborted(Exception):
    """The call ended with a status other than OK."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class HttpCallContext:
    """One HTTP request's stand-in for the servicer context of a unary call."""

    __slots__ = ("_code", "_details", "_metadata", "_peer")

    def __init__(self, peer: str, metadata: tuple[tuple[str, str], ...]) -> None:
        self._peer = peer
        self._metadata = metadata
        self._code: grpc.StatusCode | None = None
        self._details = ""

    async def abort(self, code: grpc.StatusCode, details: str = "",
                    trailing_metadata: Sequence[tuple[str, Any]] = ()) -> NoReturn:
        raise Aborted(code, details)

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def code(self) -> grpc.StatusCode | None:
        return self._code

    def details(self) -> str:
        return self._details

    def peer(self) -> str:
        """The client's address as grpc.aio writes it: "ipv4:127.0.0.1:5000"."""
        return self._peer

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def time_remaining(self) -> float | None:
        return None  # HTTP calls carry no deadline

    def cancelled(self) -> bool:
        return False

    def done(self) -> bool:
        return False
