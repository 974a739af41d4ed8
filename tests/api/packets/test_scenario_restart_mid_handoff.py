"""Scenario: a daemon crash in the middle of a handoff. The handoff is journaled but the new
owner was never told when the daemon dies (a failpoint crashes it there); after the restart the
packet has exactly one owner, the new owner hears of it when it connects, and the old owner's
epoch is fenced."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from phoenixflight_api.v1 import packet_pb2
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope, packet_of
from tests.daemon import PhoenixProcess

CRASH = 86  # phoenixd.failpoints.CRASH_EXIT_CODE


def test_a_crash_between_journaling_and_telling_the_new_owner(tmp_path: Path) -> None:
    # The 2nd assignment notice is the handoff's: crash right before it is sent.
    d = PhoenixProcess(tmp_path / "data",
                       env={"PHOENIX_FAILPOINTS": "assignment.before_notify=crash@2"}).start()
    old = Agent(d, "agent-old", "ocr", trust_score=0.9, ttl=30)
    new = Agent(d, "agent-new", "ocr", trust_score=0.5, ttl=30)
    packets = d.packets
    packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-1", "ocr")))
    with pytest.raises(grpc.RpcError):
        packets.HandoffPacket(ppb.HandoffPacketRequest(
            packet_id="fp-1", target_member_id="agent-new", reason="move"), timeout=10)
    assert d.proc is not None and d.proc.wait(10) == CRASH

    d.env = None
    d.start()
    try:
        packet = packet_of(d, "fp-1")
        assert (packet.current_owner, packet.epoch) == ("agent-new", 2)
        assert packet.status == packet_pb2.PACKET_STATUS_ASSIGNED
        assert list(packet.previous_owners) == ["agent-old"]
        listing = packets_of(d)
        assert [(p.packet_id, p.current_owner) for p in listing] == [("fp-1", "agent-new")]

        # The new owner learns of it on connecting, and can take it.
        stub = d.packets
        watch = stub.WatchAssignments(ppb.WatchAssignmentsRequest(
            member_id="agent-new", credential=new.credential), timeout=10)
        first = next(iter(watch))
        watch.cancel()
        assert (first.assignment.packet.packet_id, first.assignment.epoch) == ("fp-1", 2)
        assert new.ack("fp-1", 2).status == packet_pb2.PACKET_STATUS_RUNNING

        with pytest.raises(grpc.RpcError) as info:
            old.checkpoint("fp-1", 1, {"late": True}, "stale")
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        d.stop()


def packets_of(d: PhoenixProcess) -> list[packet_pb2.FlightPacket]:
    stub = d.packets
    owned = [packet_pb2.PACKET_STATUS_ASSIGNED, packet_pb2.PACKET_STATUS_RUNNING]
    return list(stub.ListPackets(ppb.ListPacketsRequest(statuses=owned)).packets)
