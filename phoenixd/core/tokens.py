"""Handoff tokens: the daemon's signed statement of who may take a packet, at which epoch,
with which checkpoint.

The signed bytes are plain lines, not JSON, so that a member in any language
can rebuild them exactly::

    phoenixflight-handoff-v1
    <packet_id>
    <epoch>
    <from_member>      ("" on a first assignment)
    <to_member>
    <state_hash>
    <issued_at>        (RFC 3339 UTC, microseconds)

The core only asks a Signer to sign; the key itself lives with the app (in
the data dir) and is Ed25519 through ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from phoenixflight_api import protocol

__all__ = ["TOKEN_DOMAIN", "HandoffKeyInfo", "HandoffToken", "Signer", "signed_bytes"]

TOKEN_DOMAIN = protocol.TOKEN_DOMAIN


class Signer(Protocol):
    key_id: str

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class HandoffKeyInfo:
    """The public half of the handoff signing key, as GetHandoffKey serves it."""

    public_key: bytes
    public_key_pem: str
    key_id: str


@dataclass(frozen=True, slots=True)
class HandoffToken:
    packet_id: str
    epoch: int
    from_member: str
    to_member: str
    state_hash: str
    issued_at: str
    signature: str  # hex
    key_id: str

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, packet_id: str = "") -> HandoffToken:
        """A token read back. Member ids, the state hash and the key id repeat across
        packets, so they are interned; ``packet_id`` (the packet's own id string) is used
        in place of an equal one read with the token."""
        return cls(
            packet_id if raw["packet_id"] == packet_id else raw["packet_id"], raw["epoch"],
            sys.intern(raw["from_member"]), sys.intern(raw["to_member"]),
            sys.intern(raw["state_hash"]), raw["issued_at"], raw["signature"],
            sys.intern(raw["key_id"]),
        )


signed_bytes = protocol.token_signed_bytes


def issue(
    signer: Signer, *, packet_id: str, epoch: int, from_member: str, to_member: str,
    state_hash: str, now: float,
) -> HandoffToken:
    issued_at = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    data = signed_bytes(packet_id, epoch, from_member, to_member, state_hash, issued_at)
    return HandoffToken(
        packet_id, epoch, from_member, to_member, state_hash, issued_at,
        signer.sign(data).hex(), signer.key_id,
    )
