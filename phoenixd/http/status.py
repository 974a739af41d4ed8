"""HTTP statuses for gRPC status codes, as grpc-gateway maps them (runtime/errors.go
HTTPStatusFromCode), and the error body: ``{"code", "message", "details"}`` (google.rpc.Status
in its JSON form)."""

from __future__ import annotations

import json

import grpc

__all__ = ["HTTP_STATUS", "error_body"]

# FAILED_PRECONDITION is 400, not 412, as grpc-gateway decided: 412 is about HTTP
# conditional headers, which these calls do not use.
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}


def error_body(code: grpc.StatusCode, message: str) -> bytes:
    number: int = code.value[0]
    return json.dumps({"code": number, "message": message, "details": []},
                      ensure_ascii=False, separators=(",", ":")).encode()
