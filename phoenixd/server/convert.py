"""Conversions between the core's records and phoenixflight.v1 messages."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from google.protobuf import struct_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from phoenixd.core.errors import InvalidArgument
from phoenixd.core.events import Event
from phoenixd.core.members import Member, MemberKind, MemberStatus
from phoenixd.core.membership import Load, MemberView
from phoenixflight.v1 import flight_recorder_service_pb2 as rec_pb
from phoenixflight.v1 import member_pb2

__all__ = [
    "MAX_STATUS_FILTER",
    "decode_page_token",
    "duration_seconds",
    "encode_page_token",
    "event_to_pb",
    "kind_from_pb",
    "load_from_pb",
    "member_status_from_pb",
    "member_status_to_pb",
    "member_to_pb",
    "statuses_from_pb",
    "timestamp",
]

_KIND_TO_PB = {
    MemberKind.AGENT: member_pb2.MEMBER_KIND_AGENT,
    MemberKind.TOOL: member_pb2.MEMBER_KIND_TOOL,
    MemberKind.SERVICE: member_pb2.MEMBER_KIND_SERVICE,
    MemberKind.NODE: member_pb2.MEMBER_KIND_NODE,
}
_KIND_FROM_PB: dict[int, MemberKind] = {int(v): k for k, v in _KIND_TO_PB.items()}
_STATUS_TO_PB = {
    MemberStatus.ACTIVE: member_pb2.MEMBER_STATUS_ACTIVE,
    MemberStatus.SUSPECT: member_pb2.MEMBER_STATUS_SUSPECT,
    MemberStatus.FAILED: member_pb2.MEMBER_STATUS_FAILED,
    MemberStatus.DRAINING: member_pb2.MEMBER_STATUS_DRAINING,
    MemberStatus.RETIRED: member_pb2.MEMBER_STATUS_RETIRED,
}
_STATUS_FROM_PB: dict[int, MemberStatus] = {int(v): k for k, v in _STATUS_TO_PB.items()}


def kind_from_pb(kind: int) -> MemberKind:
    """Unspecified means agent, the common case (and the seed's example)."""
    if kind == member_pb2.MEMBER_KIND_UNSPECIFIED:
        return MemberKind.AGENT
    found = _KIND_FROM_PB.get(kind)
    if found is None:
        raise InvalidArgument(f"kind {kind} is not a known MemberKind")
    return found


def member_status_from_pb(status: int) -> MemberStatus:
    found = _STATUS_FROM_PB.get(status)
    if found is None:
        raise InvalidArgument(
            f"status {status} is not a member status; use ACTIVE, SUSPECT, FAILED, "
            "DRAINING or RETIRED"
        )
    return found


# A status filter names each status once, so it is refused past this many entries before
# any is read: a request of --max-message-bytes could otherwise carry millions of them.
MAX_STATUS_FILTER = 16

S = TypeVar("S")


def statuses_from_pb(values: Sequence[int], one: Callable[[int], S]) -> list[S]:
    """A request's status filter, each entry read by ``one`` (member or packet statuses)."""
    if len(values) > MAX_STATUS_FILTER:
        raise InvalidArgument(
            f"statuses lists {len(values)} entries; at most {MAX_STATUS_FILTER} are accepted "
            "(name each status once)"
        )
    return [one(v) for v in values]


def member_status_to_pb(status: MemberStatus) -> member_pb2.MemberStatus.ValueType:
    return _STATUS_TO_PB[status]


def timestamp(seconds: float) -> Timestamp:
    ts = Timestamp()
    if seconds:
        whole = int(seconds)
        ts.seconds, ts.nanos = whole, round((seconds - whole) * 1e9) % 1_000_000_000
    return ts


def duration(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(round(seconds * 1e9))
    return d


def duration_seconds(d: Duration, what: str) -> float | None:
    """Seconds in a Duration field, or None when it was left unset (zero)."""
    if d.seconds < 0 or d.nanos < 0:
        raise InvalidArgument(f"{what} must not be negative")
    total = d.seconds + d.nanos / 1e9
    return total or None


def load_to_pb(load: Load | None) -> member_pb2.Load:
    if load is None:
        return member_pb2.Load()
    return member_pb2.Load(assigned_packets=load.assigned_packets, cpu=load.cpu, memory=load.memory)


def load_from_pb(load: member_pb2.Load) -> Load:
    for what, value in (("cpu", load.cpu), ("memory", load.memory)):
        if not value >= 0 or value == float("inf"):
            raise InvalidArgument(f"reported load {what} must be a finite number >= 0")
    if load.assigned_packets < 0:
        raise InvalidArgument("reported load assigned_packets must be >= 0")
    return Load(load.assigned_packets, load.cpu, load.memory)


def member_to_pb(view: MemberView | Member) -> member_pb2.Member:
    if isinstance(view, Member):
        member, load, reported, heartbeat, session = view, None, None, 0.0, False
    else:
        member, load = view.member, view.load
        reported, heartbeat, session = view.reported_load, view.last_heartbeat, view.session_open
    message = member_pb2.Member(
        member_id=member.member_id,
        kind=_KIND_TO_PB[member.kind],
        capabilities=list(member.capabilities),
        capacity=member_pb2.Capacity(cpu=member.cpu, memory=member.memory),
        trust_score=member.trust_score,
        reliability=member.reliability,
        labels=dict(member.labels),
        status=_STATUS_TO_PB[member.status],
        lease_ttl=duration(member.lease_ttl),
        incarnation=member.incarnation,
        load=load_to_pb(load),
        reported_load=load_to_pb(reported),
        create_time=timestamp(member.create_time),
        update_time=timestamp(member.update_time),
        status_reason=member.status_reason,
        revision=member.revision,
        session_open=session,
    )
    if heartbeat:  # unknown after a restart until the member is heard from again
        message.last_heartbeat_time.CopyFrom(timestamp(heartbeat))
    return message


def _public_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Event data as shown to API users: credential hashes stay inside the daemon."""
    member = data.get("member")
    if isinstance(member, dict) and "credential_hash" in member:
        member = {k: v for k, v in member.items() if k != "credential_hash"}
        return {**data, "member": member}
    return dict(data)


def event_to_pb(event: Event) -> rec_pb.Event:
    data = struct_pb2.Struct()
    data.update(_public_data(event.data))
    return rec_pb.Event(
        sequence=event.sequence,
        time=timestamp(event.time),
        type=event.type,
        actor=event.actor,
        member_ids=list(event.member_ids),
        packet_ids=list(event.packet_ids),
        lineage_ids=list(event.lineage_ids),
        reason=event.reason,
        data=data,
        prev_hash=event.prev_hash,
        hash=event.hash,
    )


def member_from_event(event: Event) -> Member | None:
    raw = event.data.get("member")
    if raw is None:
        return None
    return Member.from_dict({**raw, "revision": event.sequence})


# -- pagination (AIP-158): opaque tokens bound to the query that made them ------


def _fingerprint(query: Mapping[str, Any]) -> str:
    canonical = json.dumps(query, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def encode_page_token(position: str | int, query: Mapping[str, Any]) -> str:
    raw = json.dumps({"p": position, "q": _fingerprint(query)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(
    token: str, query: Mapping[str, Any], kind: type[str] | type[int]
) -> str | int | None:
    """The position a token resumes from (a ``kind``); None for the first page."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position, fingerprint = raw["p"], raw["q"]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: nested JSON
        raise InvalidArgument(
            "page_token is not valid; pass the next_page_token you received"
        ) from None
    if fingerprint != _fingerprint(query):
        raise InvalidArgument(
            "page_token belongs to a query with other filters; repeat the same filters or "
            "start again without a page_token"
        )
    if isinstance(position, str) and kind is str:
        return position
    if type(position) is int and kind is int and position >= 0:
        return position
    raise InvalidArgument("page_token is not valid; pass the next_page_token you received")


def page_size(requested: int, default: int = 100, maximum: int = 1000) -> int:
    if requested < 0:
        raise InvalidArgument(f"page_size must be >= 0, got {requested}")
    return min(requested or default, maximum)
