"""PacketService against a real phoenixd: request validation and status codes, assignments
and revocations delivered over a member's session, overload shedding, and the paced ring
rebalance after a join."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import member_pb2, packet_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope, event_data, packet_of, wait_until
from tests.api.test_api_leases import Session
from tests.daemon import PhoenixProcess


def _code(call, request) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=10)
    return info.value.code()


def test_bad_requests_get_clear_status_codes(daemon: PhoenixProcess) -> None:
    stub = daemon.packets
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    assert _code(stub.SubmitPacket, ppb.SubmitPacketRequest()) == invalid
    for bad in (
        envelope("Bad_Id"),
        envelope("fp-1", "NOT A CAPABILITY"),
        envelope("fp-1", policy_constraints=packet_pb2.PolicyConstraints(minimum_trust_score=2)),
        envelope("fp-1", policy_constraints=packet_pb2.PolicyConstraints(label_selector="a in (")),
        envelope("fp-1", demand=packet_pb2.Demand(cpu=-1)),
        envelope("fp-1", max_attempts=1000),
        envelope("fp-1", strategy=99),
    ):
        assert _code(stub.SubmitPacket, ppb.SubmitPacketRequest(packet=bad)) == invalid
    stub.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-1")))
    assert _code(stub.SubmitPacket, ppb.SubmitPacketRequest(packet=envelope("fp-1"))) == (
        grpc.StatusCode.ALREADY_EXISTS)
    assert _code(stub.GetPacket, ppb.GetPacketRequest(packet_id="fp-404")) == (
        grpc.StatusCode.NOT_FOUND)
    assert _code(stub.HandoffPacket, ppb.HandoffPacketRequest(
        packet_id="fp-1", target_member_id="ghost")) == grpc.StatusCode.NOT_FOUND
    unknown_status = ppb.ListPacketsRequest()
    unknown_status.statuses.append(42)  # type: ignore[arg-type]
    assert _code(stub.ListPackets, unknown_status) == invalid
    assert _code(stub.AckPacket, ppb.AckPacketRequest(
        member_id="nobody", credential="x", packet_id="fp-1", epoch=1)) == (
        grpc.StatusCode.UNAUTHENTICATED)
    assert _code(stub.ExplainAssignment, ppb.ExplainAssignmentRequest(
        packet_id="fp-1", epoch=7)) == grpc.StatusCode.NOT_FOUND


def test_another_member_acting_on_a_packet_is_permission_denied(daemon: PhoenixProcess) -> None:
    owner = Agent(daemon, "owner", "ocr", trust_score=0.9)
    intruder = Agent(daemon, "intruder", "ocr", trust_score=0.1)
    stub = daemon.packets
    stub.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-1", "ocr")))
    assert packet_of(daemon, "fp-1").current_owner == "owner"
    with pytest.raises(grpc.RpcError) as info:
        intruder.complete("fp-1", 1)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert packet_of(daemon, "fp-1").status == packet_pb2.PACKET_STATUS_ASSIGNED
    rejected = daemon.recorder.QueryEvents(rpb.QueryEventsRequest(
        types=["stale_owner_rejected"])).events
    assert [event_data(e)["member_id"] for e in rejected] == ["intruder"]
    assert owner.complete("fp-1", 1).status == packet_pb2.PACKET_STATUS_COMPLETED


def test_assignments_and_revocations_arrive_over_the_session(daemon: PhoenixProcess) -> None:
    a = Agent(daemon, "a", "ocr", trust_score=0.9, ttl=30)
    Agent(daemon, "b", "ocr", trust_score=0.5, ttl=30)
    session = Session(daemon, "a", a.credential)
    session.opened()  # it held nothing yet
    stub = daemon.packets
    stub.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-1", "ocr")))
    assignment = session.next().assignment
    assert (assignment.packet.packet_id, assignment.epoch) == ("fp-1", 1)
    assert assignment.handoff_token.to_member == "a"
    session.outgoing.put(mpb.OpenSessionRequest(
        packet_ack=mpb.PacketAck(packet_id="fp-1", epoch=1)))
    wait_until(lambda: packet_of(daemon, "fp-1").status == packet_pb2.PACKET_STATUS_RUNNING)
    stub.HandoffPacket(ppb.HandoffPacketRequest(packet_id="fp-1", reason="by hand"))
    revocation = session.next().revocation
    assert (revocation.packet_id, revocation.epoch) == ("fp-1", 1)
    assert "by hand" in revocation.reason
    session.outgoing.put(None)


def test_an_overloaded_member_sheds_a_packet(daemon: PhoenixProcess) -> None:
    busy = Agent(daemon, "busy", "ocr", trust_score=0.9, capacity={"cpu": 2, "memory": 1024})
    Agent(daemon, "idle", "ocr", trust_score=0.3)  # 0.3 < 0.9 / (1 + 1)
    stub = daemon.packets
    for i in range(2):
        stub.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(f"fp-{i}", "ocr")))
    assert busy.owned() == ["fp-0", "fp-1"]
    daemon.members.Heartbeat(mpb.HeartbeatRequest(
        member_id="busy", credential=busy.credential,
        reported_load=member_pb2.Load(cpu=3.5, memory=100)))  # above its 2 cpus
    assert len(busy.owned()) == 1
    starts = daemon.recorder.QueryEvents(rpb.QueryEventsRequest(types=["handoff_started"])).events
    assert [event_data(e)["trigger"] for e in starts] == ["overload"]


def test_a_join_rebalances_only_moved_ring_keys_paced(tmp_path: Path) -> None:
    with PhoenixProcess(tmp_path / "data", "--default-strategy", "ring",
                        "--rebalance-share", "0.2", "--rebalance-interval", "0.2") as d:
        for name in ("r1", "r2", "r3"):
            Agent(d, name, "ocr")
        stub = d.packets
        for i in range(40):
            stub.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(f"fp-{i}", "ocr")))
        before = {p.packet_id: p.current_owner for p in stub.ListPackets(
            ppb.ListPacketsRequest()).packets}
        Agent(d, "r4", "ocr")
        time.sleep(3)  # well past the pacing: every moved key has moved
        after = {p.packet_id: p.current_owner for p in stub.ListPackets(
            ppb.ListPacketsRequest()).packets}
        moved = {k for k in before if before[k] != after[k]}
        assert moved, "a quarter of the ring's keys should move to the new member"
        assert all(after[k] == "r4" for k in moved)  # nothing moves between old members
        assert len(moved) < 20
        starts = d.recorder.QueryEvents(rpb.QueryEventsRequest(
            types=["handoff_started"], page_size=1000)).events
        assert {event_data(e)["trigger"] for e in starts} == {"rebalance"}
        assert len(starts) == len(moved)


def test_lists_leave_out_large_state_unless_asked(daemon: PhoenixProcess) -> None:
    Agent(daemon, "w", "ocr")
    big = {"blob": "x" * 200_000}
    for i in range(5):  # 5 x 200 KB: fine one by one, too much for one page of FULL views
        daemon.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(
            f"fp-{i}", "ocr", state=big)))
    basic = daemon.packets.ListPackets(ppb.ListPacketsRequest()).packets
    assert len(basic) == 5
    assert all(not p.context_checkpoint.state.fields for p in basic)
    assert all(p.context_checkpoint.state_hash for p in basic)
    full = daemon.packets.ListPackets(ppb.ListPacketsRequest(
        view=ppb.PACKET_VIEW_FULL, page_size=2)).packets
    assert full[0].context_checkpoint.state["blob"] == "x" * 200_000
