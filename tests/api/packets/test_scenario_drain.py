"""Scenario: drain with a deadline. Draining stops new work at once and hands off, with their
checkpoints, the packets that may move; a packet that may not move stays until its owner
completes it or the drain deadline passes, when it is evicted; then the member is RETIRED."""

from __future__ import annotations

from google.protobuf.duration_pb2 import Duration

from phoenixflight_api.v1 import member_pb2, packet_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope, packet_of, wait_until
from tests.daemon import PhoenixProcess

RETIRED = member_pb2.MEMBER_STATUS_RETIRED


def _status(d: PhoenixProcess, member_id: str) -> int:
    return d.members.GetMember(mpb.GetMemberRequest(member_id=member_id)).member.status


def test_drain_hands_off_movable_work_and_evicts_the_rest_at_the_deadline(
    daemon: PhoenixProcess,
) -> None:
    draining = Agent(daemon, "draining", "ocr", trust_score=0.99, ttl=30).start_heartbeats()
    packets = daemon.packets
    packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-move", "ocr")))
    pinned = envelope("fp-pinned", "ocr", handoff=packet_pb2.HandoffPolicy(allowed=False))
    packets.SubmitPacket(ppb.SubmitPacketRequest(packet=pinned))
    draining.checkpoint("fp-move", 1, {"progress": 40}, "half-way")
    Agent(daemon, "other", "ocr", trust_score=0.5, ttl=30).start_heartbeats()

    deadline = Duration(seconds=2)
    member = daemon.members.DrainMember(mpb.DrainMemberRequest(
        member_id="draining", reason="node upgrade", deadline=deadline)).member
    assert member.status == member_pb2.MEMBER_STATUS_DRAINING
    moved = packet_of(daemon, "fp-move")
    assert moved.current_owner == "other"
    assert moved.context_checkpoint.step == "half-way"  # handed off with its checkpoint
    assert packet_of(daemon, "fp-pinned").current_owner == "draining"

    # No new work for a draining member.
    fresh = packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-new", "ocr"))).packet
    assert fresh.current_owner == "other"

    wait_until(lambda: _status(daemon, "draining") == RETIRED, within=10)
    evicted = packet_of(daemon, "fp-pinned")
    assert evicted.current_owner == "other"
    assert evicted.handoff.reason == "drain deadline passed"
    draining.stop_heartbeats()


def test_drain_completes_when_the_last_packet_is_done(daemon: PhoenixProcess) -> None:
    worker = Agent(daemon, "worker", "ocr", ttl=30).start_heartbeats()
    packets = daemon.packets
    pinned = envelope("fp-pinned", "ocr", handoff=packet_pb2.HandoffPolicy(allowed=False))
    packets.SubmitPacket(ppb.SubmitPacketRequest(packet=pinned))
    daemon.members.DrainMember(mpb.DrainMemberRequest(member_id="worker"))
    assert _status(daemon, "worker") == member_pb2.MEMBER_STATUS_DRAINING
    worker.ack("fp-pinned", 1)
    worker.complete("fp-pinned", 1, outcome="finished before leaving")
    member = daemon.members.GetMember(mpb.GetMemberRequest(member_id="worker")).member
    assert member.status == RETIRED
    assert member.status_reason.startswith("drain complete")
    worker.stop_heartbeats()
