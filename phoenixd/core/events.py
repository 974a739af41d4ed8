"""Flight Recorder events: their types, their record, and the hash chain over them.

Every state change of the daemon is one event. An event's canonical bytes are
compact, key-sorted JSON; its hash is ``sha256(prev_hash || canonical bytes)``
so that editing any byte of any event breaks the chain from there on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from phoenixd.core.namespaces import DEFAULT_NAMESPACE

__all__ = [
    "GENESIS_HASH",
    "Actor",
    "Event",
    "EventType",
    "canonical_bytes",
    "chain_hash",
    "event_from_payload",
    "namespace_of",
]

# The prev_hash of the first event: there is nothing before it.
GENESIS_HASH = "0" * 64


class EventType(StrEnum):
    """Every kind of event the daemon records (the seed's names, plus ours)."""

    MEMBER_REGISTERED = "member_registered"
    CAPABILITY_DISCOVERED = "capability_discovered"
    MEMBER_UPDATED = "member_updated"
    MEMBER_SUSPECT = "member_suspect"
    MEMBER_RECOVERED = "member_recovered"
    MEMBER_FAILED = "member_failed"
    MEMBER_DRAINING = "member_draining"
    MEMBER_RETIRED = "member_retired"
    MEMBER_LOAD_RESET = "member_load_reset"
    MEMBER_RELIABILITY_LEARNED = "member_reliability_learned"
    PACKET_CREATED = "packet_created"
    ASSIGNMENT_DECISION = "assignment_decision"
    PACKET_WAITING = "packet_waiting"
    PACKET_ACKED = "packet_acked"
    CHECKPOINT_SAVED = "checkpoint_saved"
    HANDOFF_STARTED = "handoff_started"
    HANDOFF_COMPLETED = "handoff_completed"
    PACKET_COMPLETED = "packet_completed"
    PACKET_ATTEMPT_FAILED = "packet_attempt_failed"
    PACKET_FAILED = "packet_failed"
    PACKET_CANCELLED = "packet_cancelled"
    STALE_OWNER_REJECTED = "stale_owner_rejected"
    POLICY_REJECTED = "policy_rejected"
    NAMESPACE_CREATED = "namespace_created"
    NAMESPACE_UPDATED = "namespace_updated"
    NAMESPACE_DELETED = "namespace_deleted"
    BUNDLE_APPLIED = "bundle_applied"
    PERMISSION_DENIED = "permission_denied"
    JOURNAL_TRUNCATED = "journal_truncated"
    JOURNAL_LOSS_ACCEPTED = "journal_loss_accepted"
    DAEMON_STARTED = "daemon_started"


class Actor:
    """Who caused an event."""

    OPERATOR = "operator"
    DAEMON = "phoenixd"

    @staticmethod
    def member(member_id: str) -> str:
        return f"member:{member_id}"


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded event. ``data`` is type-specific and must be JSON-able."""

    sequence: int
    time: float  # wall clock, seconds since the epoch
    type: str
    actor: str
    reason: str = ""
    member_ids: tuple[str, ...] = ()
    packet_ids: tuple[str, ...] = ()
    lineage_ids: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""
    # The namespace of what the event is about ("" for the daemon's own events, and for
    # events journaled before namespaces existed: see namespace_of).
    namespace: str = ""

    def body(self) -> dict[str, Any]:
        """The hashed part of the event (everything but the two hashes)."""
        body = {
            "seq": self.sequence,
            "time": self.time,
            "type": self.type,
            "actor": self.actor,
            "reason": self.reason,
            "members": list(self.member_ids),
            "packets": list(self.packet_ids),
            "lineages": list(self.lineage_ids),
            "data": self.data,
        }
        if self.namespace:  # absent before namespaces existed: old events hash as written
            body["namespace"] = self.namespace
        return body


def namespace_of(event: Event) -> str:
    """The namespace an event belongs to: its own, or for an event journaled before
    namespaces existed, the default namespace when it is about a member or a packet
    (every record was the default namespace's then); "" for the daemon's own events."""
    if event.namespace:
        return event.namespace
    return DEFAULT_NAMESPACE if event.member_ids or event.packet_ids else ""


# One encoder for every event (json.dumps with options builds a new one per call). Event
# bodies are trees the core builds from records, never cyclic, so the encoder skips the
# cycle check, which costs a dictionary insert and delete per container (about a sixth
# of encoding a placement decision) and changes no byte of the output.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              check_circular=False)


def canonical_bytes(body: dict[str, Any]) -> bytes:
    """Compact, key-sorted UTF-8 JSON: the same event always gives the same bytes."""
    return _CANONICAL.encode(body).encode()


def chain_hash(prev_hash: str, payload: bytes) -> str:
    """The hash that links an event's payload to the event before it."""
    return hashlib.sha256(prev_hash.encode("ascii") + payload).hexdigest()


def event_from_payload(payload: bytes, prev_hash: str, hash_: str) -> Event:
    """Rebuild an event from its canonical bytes (as read back from the journal)."""
    body = json.loads(payload)
    return Event(
        sequence=body["seq"],
        time=body["time"],
        type=body["type"],
        actor=body["actor"],
        reason=body["reason"],
        member_ids=tuple(body["members"]),
        packet_ids=tuple(body["packets"]),
        lineage_ids=tuple(body["lineages"]),
        data=body["data"],
        prev_hash=prev_hash,
        hash=hash_,
        namespace=body.get("namespace", ""),
    )
