"""Scenario: capability churn. Members join, change capabilities and retire while packets
keep moving; every packet ends with exactly one owner that advertises what it requires, and
no packet is lost."""

from __future__ import annotations

from google.protobuf.field_mask_pb2 import FieldMask

from phoenixflight_api.v1 import member_pb2, packet_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope
from tests.daemon import PhoenixProcess

OWNED = (packet_pb2.PACKET_STATUS_ASSIGNED, packet_pb2.PACKET_STATUS_RUNNING)


def _set_caps(d: PhoenixProcess, member_id: str, *caps: str) -> None:
    d.members.UpdateMember(mpb.UpdateMemberRequest(
        member=member_pb2.Member(member_id=member_id, capabilities=list(caps)),
        update_mask=FieldMask(paths=["capabilities"])))


def test_packets_keep_moving_through_joins_capability_changes_and_retirements(
    daemon: PhoenixProcess,
) -> None:
    Agent(daemon, "m1", "ocr", "nlp")
    Agent(daemon, "m2", "ocr")
    packets = daemon.packets
    for i in range(6):
        caps = ("ocr", "nlp") if i % 2 else ("ocr",)
        packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(f"fp-{i}", *caps)))

    Agent(daemon, "m3", "ocr", "nlp")               # a member joins
    _set_caps(daemon, "m1", "ocr")                   # m1 stops offering nlp
    daemon.members.RetireMember(mpb.RetireMemberRequest(member_id="m1"))  # and leaves
    _set_caps(daemon, "m2", "ocr", "nlp")            # m2 learns nlp
    daemon.members.RetireMember(mpb.RetireMemberRequest(member_id="m3"))
    Agent(daemon, "m4", "ocr", "nlp")

    listing = packets.ListPackets(ppb.ListPacketsRequest()).packets
    assert len(listing) == 6
    members = {m.member_id: m for m in daemon.members.ListMembers(mpb.ListMembersRequest()).members}
    for packet in listing:
        assert packet.status in OWNED, packet.packet_id
        owner = members[packet.current_owner]
        assert owner.status == member_pb2.MEMBER_STATUS_ACTIVE
        assert set(packet.required_capabilities) <= set(owner.capabilities)
    loads = {m: members[m].load.assigned_packets for m in ("m2", "m4")}
    assert sum(loads.values()) == 6
    assert members["m1"].load.assigned_packets == members["m3"].load.assigned_packets == 0
