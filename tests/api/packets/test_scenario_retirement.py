"""Scenario: the retirement flow of seed 000, step by step. Retiring a member (1) makes it
RETIRED, (2) evicts every packet it owns, (3) returns each to PENDING and reschedules it
automatically, (4) resets its load metrics, and every step is in the Flight Recorder."""

from __future__ import annotations

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import member_pb2, packet_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope, event_data, packet_of
from tests.daemon import PhoenixProcess


def test_retiring_a_member_evicts_reschedules_and_resets_its_load(daemon: PhoenixProcess) -> None:
    Agent(daemon, "leaving", "ocr", trust_score=0.99)
    packets = daemon.packets
    demand = packet_pb2.Demand(cpu=0.25, memory=100)
    for i in range(3):
        packet = envelope(f"fp-{i}", "ocr", demand=demand)
        packets.SubmitPacket(ppb.SubmitPacketRequest(packet=packet))
    before = daemon.members.GetMember(mpb.GetMemberRequest(member_id="leaving")).member
    assert before.load.assigned_packets == 3
    assert before.load.cpu == 0.75
    Agent(daemon, "staying", "ocr", trust_score=0.5)

    retired = daemon.members.RetireMember(
        mpb.RetireMemberRequest(member_id="leaving", reason="scale-in")).member
    # 1. RETIRED
    assert retired.status == member_pb2.MEMBER_STATUS_RETIRED
    # 4. load metrics reset
    assert (retired.load.assigned_packets, retired.load.cpu, retired.load.memory) == (0, 0, 0)
    for i in range(3):
        moved = packet_of(daemon, f"fp-{i}")
        # 2.-3. evicted, back to PENDING and rescheduled: now owned by the other member
        assert moved.current_owner == "staying"
        assert moved.epoch == 2
        assert list(moved.previous_owners) == ["leaving"]
        assert moved.status == packet_pb2.PACKET_STATUS_ASSIGNED
    staying = daemon.members.GetMember(mpb.GetMemberRequest(member_id="staying")).member
    assert staying.load.assigned_packets == 3

    events = daemon.recorder.QueryEvents(rpb.QueryEventsRequest(
        member_id="leaving", after_sequence=0)).events
    after_retire = [e.type for e in events][[e.type for e in events].index("member_retired"):]
    assert after_retire == ["member_retired"] + ["handoff_started", "assignment_decision"] * 3 + [
        "member_load_reset"]
    reset = event_data(events[-1])
    assert sorted(reset["evicted"]) == ["fp-0", "fp-1", "fp-2"]
    assert reset["released"]["packets"] == 3
    assert reset["released"]["cpu"] == 0.75
    starts = [event_data(e) for e in events if e.type == "handoff_started"]
    assert {e["trigger"] for e in starts} == {"owner_retired"}
