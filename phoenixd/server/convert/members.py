"""Members: the registry's records and requests as phoenixflight.v1 messages."""

from __future__ import annotations

from phoenixd.core.errors import InvalidArgument
from phoenixd.core.members import Member, MemberKind, MemberStatus
from phoenixd.core.namespaces import DEFAULT_NAMESPACE
from phoenixd.core.registry import Load, MemberUpdate, MemberView, Registration
from phoenixd.server.convert.wire import duration, duration_seconds, timestamp
from phoenixflight_api.v1 import member_pb2
from phoenixflight_api.v1 import membership_service_pb2 as svc

__all__ = [
    "kind_from_pb", "load_from_pb", "load_to_pb", "member_status_from_pb",
    "member_status_to_pb", "member_to_pb", "registration_from_pb", "update_from_pb",
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


def member_status_to_pb(status: MemberStatus) -> member_pb2.MemberStatus.ValueType:
    return _STATUS_TO_PB[status]


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
        namespace=member.namespace,
    )
    if member.learned is not None:
        learned = member.learned
        message.learned_reliability.CopyFrom(member_pb2.LearnedReliability(
            prior=learned.prior, prior_weight=learned.weight, successes=learned.successes,
            failures=learned.failures, update_time=timestamp(learned.at)))
    if heartbeat:  # unknown after a restart until the member is heard from again
        message.last_heartbeat_time.CopyFrom(timestamp(heartbeat))
    return message


def registration_from_pb(request: svc.RegisterMemberRequest) -> Registration:
    capacity = request.capacity if request.HasField("capacity") else None
    return Registration(
        member_id=request.member_id,
        kind=kind_from_pb(request.kind),
        capabilities=tuple(request.capabilities),
        cpu=capacity.cpu if capacity is not None else None,
        memory=capacity.memory if capacity is not None else None,
        trust_score=request.trust_score if request.HasField("trust_score") else None,
        reliability=request.reliability if request.HasField("reliability") else None,
        labels=dict(request.labels),
        lease_ttl=duration_seconds(request.lease_ttl, "lease_ttl"),
        credential=request.credential,
        namespace=request.namespace or DEFAULT_NAMESPACE,
    )


def update_from_pb(request: svc.UpdateMemberRequest) -> MemberUpdate:
    given = request.member
    return MemberUpdate(
        fields=frozenset(request.update_mask.paths),
        capabilities=tuple(given.capabilities),
        labels=dict(given.labels),
        trust_score=given.trust_score,
        reliability=given.reliability,
        cpu=given.capacity.cpu,
        memory=given.capacity.memory,
    )
