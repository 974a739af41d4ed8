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


class PhoenixError(Exception):
    """Base of every error meant for the caller; its message is shown to them."""


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
