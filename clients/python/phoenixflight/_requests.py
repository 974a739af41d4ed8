"""Request builders shared by Client and AsyncClient (so the two differ only in how they call)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from google.protobuf import struct_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from phoenixflight.envelope import packet_from_envelope
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rec
from phoenixflight_api.v1 import member_pb2 as mem
from phoenixflight_api.v1 import membership_service_pb2 as ms
from phoenixflight_api.v1 import namespace_service_pb2 as ns
from phoenixflight_api.v1 import packet_pb2 as pkt
from phoenixflight_api.v1 import packet_service_pb2 as ps

__all__ = [
    "Paged",
    "complete_packet",
    "drain_member",
    "duration",
    "fail_packet",
    "list_members",
    "list_packets",
    "query_events",
    "register_member",
    "save_checkpoint",
    "struct",
    "submit_packet",
    "update_member",
    "watch_events",
    "watch_members",
]



class Paged(Protocol):
    """A List* or Query* response: one page, and the token of the next ("" after the last)."""

    next_page_token: str

def duration(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(round(seconds * 1e9))
    return d


def struct(values: Mapping[str, Any] | None) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    if values:
        s.update(dict(values))
    return s


def _timestamp(seconds: float | None) -> Timestamp | None:
    if seconds is None:
        return None
    ts = Timestamp()
    ts.FromNanoseconds(round(seconds * 1e9))
    return ts


def register_member(
    member_id: str, capabilities: Iterable[str], *, kind: str = "agent",
    trust_score: float | None = None, reliability: float | None = None,
    labels: Mapping[str, str] | None = None, cpu: float | None = None,
    memory: float | None = None, lease_ttl: float | None = None, credential: str = "",
    namespace: str = "",
) -> ms.RegisterMemberRequest:
    request = ms.RegisterMemberRequest(
        member_id=member_id, capabilities=list(capabilities),
        kind=mem.MemberKind.Value(f"MEMBER_KIND_{kind.upper()}"),
        labels=dict(labels or {}), credential=credential, namespace=namespace,
    )
    if trust_score is not None:
        request.trust_score = trust_score
    if reliability is not None:
        request.reliability = reliability
    if cpu is not None or memory is not None:
        request.capacity.CopyFrom(mem.Capacity(cpu=cpu or 0.0, memory=memory or 0.0))
    if lease_ttl is not None:
        request.lease_ttl.CopyFrom(duration(lease_ttl))
    return request


def list_members(
    *, statuses: Iterable[str] = (), capability: str = "", label_selector: str = "",
    namespace: str = "", page_size: int = 0, page_token: str = "",
) -> ms.ListMembersRequest:
    return ms.ListMembersRequest(
        statuses=[mem.MemberStatus.Value(f"MEMBER_STATUS_{s.upper()}") for s in statuses],
        capability=capability, label_selector=label_selector, namespace=namespace,
        page_size=page_size, page_token=page_token,
    )


def update_member(
    member_id: str, *, capabilities: Iterable[str] | None = None,
    labels: Mapping[str, str] | None = None, trust_score: float | None = None,
    reliability: float | None = None, cpu: float | None = None, memory: float | None = None,
) -> ms.UpdateMemberRequest:
    """Only the fields given go into the update mask (capacity takes cpu and memory together)."""
    member = mem.Member(member_id=member_id)
    paths = []
    if capabilities is not None:
        member.capabilities.extend(capabilities)
        paths.append("capabilities")
    if labels is not None:
        member.labels.update(labels)
        paths.append("labels")
    if trust_score is not None:
        member.trust_score = trust_score
        paths.append("trust_score")
    if reliability is not None:
        member.reliability = reliability
        paths.append("reliability")
    if cpu is not None or memory is not None:
        member.capacity.CopyFrom(mem.Capacity(cpu=cpu or 0.0, memory=memory or 0.0))
        paths.append("capacity")
    return ms.UpdateMemberRequest(member=member, update_mask=FieldMask(paths=paths))


def drain_member(member_id: str, reason: str, deadline: float | None) -> ms.DrainMemberRequest:
    request = ms.DrainMemberRequest(member_id=member_id, reason=reason)
    if deadline is not None:
        request.deadline.CopyFrom(duration(deadline))
    return request


def watch_members(after_revision: int | None, member_id: str, namespace: str = ""
                  ) -> ms.WatchMembersRequest:
    request = ms.WatchMembersRequest(member_id=member_id, namespace=namespace)
    if after_revision is not None:
        request.after_revision = after_revision
    return request


def submit_packet(packet: pkt.FlightPacket | Mapping[str, Any]) -> ps.SubmitPacketRequest:
    if not isinstance(packet, pkt.FlightPacket):
        packet = packet_from_envelope(packet)
    return ps.SubmitPacketRequest(packet=packet)


def list_packets(
    *, statuses: Iterable[str] = (), owner: str = "", workload_type: str = "",
    lineage_id: str = "", full: bool = False, namespace: str = "", page_size: int = 0,
    page_token: str = "",
) -> ps.ListPacketsRequest:
    return ps.ListPacketsRequest(
        statuses=[pkt.PacketStatus.Value(f"PACKET_STATUS_{s.upper()}") for s in statuses],
        owner=owner, workload_type=workload_type, lineage_id=lineage_id, namespace=namespace,
        view=ps.PACKET_VIEW_FULL if full else ps.PACKET_VIEW_BASIC,
        page_size=page_size, page_token=page_token,
    )


def save_checkpoint(
    member_id: str, credential: str, packet_id: str, epoch: int, state: Mapping[str, Any],
    step: str,
) -> ps.SaveCheckpointRequest:
    return ps.SaveCheckpointRequest(
        member_id=member_id, credential=credential, packet_id=packet_id, epoch=epoch,
        state=struct(state), step=step,
    )


def complete_packet(
    member_id: str, credential: str, packet_id: str, epoch: int,
    result: Mapping[str, Any] | None,
) -> ps.CompletePacketRequest:
    return ps.CompletePacketRequest(
        member_id=member_id, credential=credential, packet_id=packet_id, epoch=epoch,
        result=struct(result),
    )


def fail_packet(
    member_id: str, credential: str, packet_id: str, epoch: int, reason: str, permanent: bool,
) -> ps.FailPacketRequest:
    return ps.FailPacketRequest(
        member_id=member_id, credential=credential, packet_id=packet_id, epoch=epoch,
        reason=reason, permanent=permanent,
    )


def query_events(
    *, types: Iterable[str] = (), member_id: str = "", packet_id: str = "",
    start_time: float | None = None, end_time: float | None = None,
    after_sequence: int = 0, namespace: str = "", page_size: int = 0, page_token: str = "",
) -> rec.QueryEventsRequest:
    return rec.QueryEventsRequest(
        types=list(types), member_id=member_id, packet_id=packet_id, namespace=namespace,
        start_time=_timestamp(start_time), end_time=_timestamp(end_time),
        after_sequence=after_sequence, page_size=page_size, page_token=page_token,
    )


def watch_events(
    *, after_sequence: int | None = None, types: Iterable[str] = (), member_id: str = "",
    packet_id: str = "", namespace: str = "",
) -> rec.WatchEventsRequest:
    request = rec.WatchEventsRequest(types=list(types), member_id=member_id, packet_id=packet_id,
                                     namespace=namespace)
    if after_sequence is not None:
        request.after_sequence = after_sequence
    return request


def namespace(name: str, labels: Mapping[str, str] | None, quota: Mapping[str, float] | None
              ) -> ns.Namespace:
    """A Namespace message; ``quota`` keys: members, packets, cpu, memory (0: no bound)."""
    unknown = sorted(set(quota or {}) - {"members", "packets", "cpu", "memory"})
    if unknown:
        raise ValueError(f"unknown quota field(s) {', '.join(unknown)}; known: members, "
                         "packets, cpu, memory")
    q = dict(quota or {})
    return ns.Namespace(name=name, labels=dict(labels or {}), quota=ns.NamespaceQuota(
        members=int(q.get("members", 0)), packets=int(q.get("packets", 0)),
        cpu=float(q.get("cpu", 0.0)), memory=float(q.get("memory", 0.0))))


def update_namespace(name: str, labels: Mapping[str, str] | None,
                     quota: Mapping[str, float] | None) -> ns.UpdateNamespaceRequest:
    """Only what is given goes into the update mask."""
    paths = [path for path, given in (("labels", labels), ("quota", quota)) if given is not None]
    return ns.UpdateNamespaceRequest(namespace=namespace(name, labels, quota),
                                     update_mask=FieldMask(paths=paths))
