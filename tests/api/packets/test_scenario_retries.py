"""Scenario: retries to poison. FailPacket returns the packet to PENDING (and it is placed
again) until max_attempts, then it is FAILED with the reason kept; permanent failures stop
at once."""

from __future__ import annotations

import grpc
import pytest

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import packet_pb2
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope
from tests.daemon import PhoenixProcess


def test_a_packet_that_keeps_failing_becomes_poison(daemon: PhoenixProcess) -> None:
    worker = Agent(daemon, "worker", "parse")
    packets = daemon.packets
    packet = packets.SubmitPacket(ppb.SubmitPacketRequest(
        packet=envelope("fp-poison", "parse", max_attempts=3))).packet
    for attempt in (1, 2):
        packet = worker.fail("fp-poison", packet.epoch, f"bad input #{attempt}")
        assert packet.status == packet_pb2.PACKET_STATUS_ASSIGNED  # back through PENDING
        assert packet.attempts == attempt
        assert packet.epoch == attempt + 1
    packet = worker.fail("fp-poison", packet.epoch, "bad input #3")
    assert packet.status == packet_pb2.PACKET_STATUS_FAILED
    assert packet.attempts == 3
    assert packet.failure_reason == "bad input #3"
    with pytest.raises(grpc.RpcError) as info:
        worker.complete("fp-poison", packet.epoch)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    types = [e.type for e in daemon.recorder.QueryEvents(
        rpb.QueryEventsRequest(packet_id="fp-poison", types=[
            "packet_attempt_failed", "packet_failed"])).events]
    assert types == ["packet_attempt_failed", "packet_attempt_failed", "packet_failed"]


def test_a_permanent_failure_stops_at_once(daemon: PhoenixProcess) -> None:
    worker = Agent(daemon, "worker", "parse")
    packets = daemon.packets
    packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-1", "parse")))
    failed = worker.fail("fp-1", 1, "schema violation", permanent=True)
    assert failed.status == packet_pb2.PACKET_STATUS_FAILED
    assert failed.attempts == 1
