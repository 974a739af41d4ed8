"""Flight Recorder events as phoenixflight.v1 messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

from phoenixd.core.events import Event, namespace_of
from phoenixd.server.convert.wire import timestamp
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rec_pb

__all__ = ["event_to_pb"]


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
        namespace=namespace_of(event),
    )
