"""Scenario: no eligible member. A packet waits PENDING (one packet_waiting event saying why),
and is assigned as soon as an eligible member joins, or one grows to fit it (UpdateMember);
other strategies place it too, trust routing weighing the reliability UpdateMember sets."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import member_pb2, packet_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope, event_data, packet_of, wait_until
from tests.daemon import PhoenixProcess


def test_a_packet_waits_pending_then_goes_to_the_first_eligible_member(
    daemon: PhoenixProcess,
) -> None:
    Agent(daemon, "wrong-skill", "translation")
    packets = daemon.packets
    waiting = packets.SubmitPacket(ppb.SubmitPacketRequest(
        packet=envelope("fp-wait", "ocr@2", demand=packet_pb2.Demand(cpu=0.5)))).packet
    assert waiting.status == packet_pb2.PACKET_STATUS_PENDING
    assert waiting.current_owner == ""
    explained = packets.ExplainAssignment(ppb.ExplainAssignmentRequest(packet_id="fp-wait"))
    assert explained.decision.winner == ""
    assert "no eligible member" in explained.decision.explanation

    Agent(daemon, "old-ocr", "ocr@1")  # wrong version: still waiting
    Agent(daemon, "small-ocr", "ocr@2", capacity={"cpu": 0.25, "memory": 512})  # too small
    assert packet_of(daemon, "fp-wait").status == packet_pb2.PACKET_STATUS_PENDING
    Agent(daemon, "ocr-2", "ocr@2")
    placed = wait_until(lambda: (p := packet_of(daemon, "fp-wait")).current_owner and p)
    assert placed.current_owner == "ocr-2"
    assert placed.epoch == 1
    events = daemon.recorder.QueryEvents(rpb.QueryEventsRequest(packet_id="fp-wait")).events
    assert [e.type for e in events] == ["packet_created", "packet_waiting", "assignment_decision"]
    assert event_data(events[-1])["decision"]["trigger"] == "member_joined"


def test_binpack_and_ring_strategies_place_packets(daemon: PhoenixProcess) -> None:
    Agent(daemon, "big", "ocr", capacity={"cpu": 8, "memory": 8192})
    Agent(daemon, "small", "ocr", capacity={"cpu": 2, "memory": 2048})
    packets = daemon.packets
    demand = packet_pb2.Demand(cpu=1, memory=512)
    spread = packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(
        "fp-spread", "ocr", demand=demand, strategy=packet_pb2.STRATEGY_BINPACK_SPREAD))).packet
    assert spread.current_owner == "big"  # both empty (score 2): the tie goes to the lowest id
    pack = packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(
        "fp-pack", "ocr", demand=demand, strategy=packet_pb2.STRATEGY_BINPACK_PACK))).packet
    assert pack.current_owner == "big"  # now the fuller one: 7/8 + 7680/8192 < 2
    ring_owners = {
        packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(
            f"fp-ring-{i}", "ocr", routing_key="tenant-42",
            strategy=packet_pb2.STRATEGY_RING))).packet.current_owner
        for i in range(5)
    }
    assert len(ring_owners) == 1  # one routing key, one owner
    explained = packets.ExplainAssignment(ppb.ExplainAssignmentRequest(packet_id="fp-ring-0"))
    candidates = {c.member_id: c.eligible for c in explained.decision.candidates}
    assert candidates == {"big": True, "small": True}  # on the ring, eligible without a score
    assert explained.decision.candidates[0].member_id == explained.decision.winner


def _update(daemon: PhoenixProcess, member_id: str, paths: list[str], **fields: object) -> Any:
    return daemon.members.UpdateMember(mpb.UpdateMemberRequest(
        member=member_pb2.Member(member_id=member_id, **fields),  # type: ignore[arg-type]
        update_mask=FieldMask(paths=paths),
    ), timeout=10).member


def test_update_member_capacity_and_reliability_change_placement(daemon: PhoenixProcess) -> None:
    Agent(daemon, "grows", "ocr", capacity={"cpu": 1, "memory": 1024})
    packets = daemon.packets
    big = envelope("fp-big", "ocr", demand=packet_pb2.Demand(cpu=4, memory=512))
    assert packets.SubmitPacket(ppb.SubmitPacketRequest(packet=big)).packet.current_owner == ""
    grown = _update(daemon, "grows", ["capacity"],
                    capacity=member_pb2.Capacity(cpu=8, memory=4096))
    assert (grown.capacity.cpu, grown.capacity.memory) == (8, 4096)
    got = daemon.members.GetMember(mpb.GetMemberRequest(member_id="grows")).member
    assert (got.capacity.cpu, got.capacity.memory) == (8, 4096)
    placed = wait_until(lambda: (p := packet_of(daemon, "fp-big")).current_owner and p)
    assert placed.current_owner == "grows"  # now it fits

    Agent(daemon, "steady", "nlp", trust_score=0.8)
    Agent(daemon, "shaky", "nlp", trust_score=0.8)
    shaken = _update(daemon, "shaky", ["reliability"], reliability=0.1)
    assert shaken.reliability == 0.1
    listed = daemon.members.ListMembers(mpb.ListMembersRequest(capability="nlp")).members
    assert {m.member_id: m.reliability for m in listed} == {"steady": 1.0, "shaky": 0.1}
    # Trust routing weighs reliability: with equal trust, the reliable member wins.
    for i in range(3):
        packet = envelope(f"fp-trust-{i}", "nlp", strategy=packet_pb2.STRATEGY_TRUST)
        owner = packets.SubmitPacket(ppb.SubmitPacketRequest(packet=packet)).packet.current_owner
        assert owner == "steady"
    _update(daemon, "steady", ["reliability"], reliability=0.05)
    packet = envelope("fp-trust-after", "nlp", strategy=packet_pb2.STRATEGY_TRUST)
    assert packets.SubmitPacket(ppb.SubmitPacketRequest(packet=packet)).packet.current_owner == (
        "shaky")

    for paths, fields in (
        (["reliability"], {"reliability": 1.5}),
        (["reliability"], {"reliability": -0.1}),
        (["capacity"], {"capacity": member_pb2.Capacity(cpu=-1, memory=1)}),
        (["capacity"], {"capacity": member_pb2.Capacity(cpu=float("nan"), memory=1)}),
    ):
        with pytest.raises(grpc.RpcError) as info:
            _update(daemon, "shaky", paths, **fields)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (paths, fields)
    assert daemon.members.GetMember(mpb.GetMemberRequest(member_id="shaky")).member.reliability == (
        0.1)  # a refused update changes nothing


def test_pending_packets_keep_their_age_order_across_a_restart(daemon: PhoenixProcess) -> None:
    # Submitted in an order their ids do not sort in; the snapshot lists packets by id.
    order = ["fp-m", "fp-c", "fp-x", "fp-a"]
    for packet_id in order:
        packet = envelope(packet_id, "ocr", demand=packet_pb2.Demand(cpu=1, memory=256))
        daemon.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=packet))
    daemon.restart()  # a clean stop writes a snapshot, and the start restores from it
    started = daemon.recorder.QueryEvents(rpb.QueryEventsRequest(types=["daemon_started"]))
    assert event_data(started.events[-1])["snapshot_revision"] > 0  # restored, not replayed
    # A member with room for one packet at a time takes them oldest first.
    Agent(daemon, "one-at-a-time", "ocr", capacity={"cpu": 1, "memory": 1024})
    served = []
    for packet_id in order:
        owned = wait_until(lambda: next(
            (p for p in order if p not in served and packet_of(daemon, p).current_owner), None))
        served.append(owned)
        daemon.packets.CancelPacket(ppb.CancelPacketRequest(packet_id=owned, reason="next"))
        assert packet_id == owned, served
