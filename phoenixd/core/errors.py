"""Typed errors the core raises; the server maps each to one gRPC status code."""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "PhoenixError",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
]


# Messages quote what the caller sent, and gRPC carries them in the status trailer, which a
# client accepts up to 8 KiB, with every non-ASCII byte percent-encoded (3 bytes each). A message
# quoting a 100 KB id would not arrive: the caller would get a transport error instead of ours.
# So a longer message keeps its start and its end (where the advice is) around a marked cut.
MAX_MESSAGE_BYTES = 1200


def _capped(message: str) -> str:
    raw = message.encode("utf-8", "replace")
    if len(raw) <= MAX_MESSAGE_BYTES:
        return message
    keep = MAX_MESSAGE_BYTES // 2
    head = raw[:keep].decode("utf-8", "ignore")
    tail = raw[-keep:].decode("utf-8", "ignore")
    return f"{head} [... {len(raw) - 2 * keep} bytes cut ...] {tail}"


class PhoenixError(Exception):
    """Base of every error meant for the caller; its message is shown to them."""

    def __init__(self, message: str = "") -> None:
        super().__init__(_capped(message))


class InvalidArgument(PhoenixError):
    """The request is malformed; retrying it unchanged cannot succeed."""


class NotFound(PhoenixError):
    """The named member, packet or event does not exist."""


class AlreadyExists(PhoenixError):
    """Creating something whose id is taken."""


class OutOfRange(PhoenixError):
    """A position past the end (e.g. resuming from a revision not reached yet)."""


class FailedPrecondition(PhoenixError):
    """The request is valid but the target's state does not allow it now."""


class PermissionDenied(PhoenixError):
    """The caller is known but may not act on this target."""


class Unauthenticated(PhoenixError):
    """The caller's credential is missing, wrong or revoked."""


class ResourceExhausted(PhoenixError):
    """A limit was hit (queue, size, concurrency); retry later or resume."""


class Unavailable(PhoenixError):
    """The daemon is shutting down or cannot serve this now."""
