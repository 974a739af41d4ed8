"""Scenario: agent failure and handoff. The owner stops heartbeating mid-task; the packet and
its last checkpoint move to another eligible member with a new epoch and a signed token; the
old owner's late CompletePacket is refused and recorded as stale_owner_rejected."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import packet_pb2
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope, event_data, packet_of, wait_until
from tests.daemon import PhoenixProcess


@pytest.fixture
def d(tmp_path: Path) -> Iterator[PhoenixProcess]:
    with PhoenixProcess(tmp_path / "data", "--suspect-grace", "0.5") as proc:
        yield proc


def test_a_failed_owners_packet_moves_with_its_checkpoint_and_its_late_write_is_refused(
    d: PhoenixProcess,
) -> None:
    first = Agent(d, "agent-01", "triage", ttl=1.5, trust_score=0.99).start_heartbeats()
    packets = d.packets
    packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-001", "triage")))
    assert packet_of(d, "fp-001").current_owner == "agent-01"
    backup = Agent(d, "agent-02", "triage", ttl=30, trust_score=0.8).start_heartbeats()

    first.ack("fp-001", 1)
    first.checkpoint("fp-001", 1, {"case_id": "CUST-88291", "done": 2}, "step-2")
    first.stop_heartbeats()  # crashes mid-task

    moved = wait_until(lambda: (p := packet_of(d, "fp-001")).current_owner == "agent-02" and p)
    assert moved.epoch == 2
    assert list(moved.previous_owners) == ["agent-01"]
    assert moved.context_checkpoint.step == "step-2"
    assert dict(moved.context_checkpoint.state) == {"case_id": "CUST-88291", "done": 2.0}
    token = moved.handoff_token
    assert (token.from_member, token.to_member, token.epoch) == ("agent-01", "agent-02", 2)
    assert token.state_hash == moved.context_checkpoint.state_hash

    with pytest.raises(grpc.RpcError) as info:
        first.complete("fp-001", 1, outcome="late")
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "stale epoch 1" in str(info.value.details())
    assert packet_of(d, "fp-001").status == packet_pb2.PACKET_STATUS_ASSIGNED  # unchanged

    backup.ack("fp-001", 2)
    done = backup.complete("fp-001", 2, outcome="resolved")
    assert done.status == packet_pb2.PACKET_STATUS_COMPLETED
    backup.stop_heartbeats()

    types = [e.type for e in d.recorder.QueryEvents(
        rpb.QueryEventsRequest(packet_id="fp-001")).events]
    assert types == [
        "packet_created", "assignment_decision", "packet_acked", "checkpoint_saved",
        "handoff_started", "assignment_decision", "stale_owner_rejected",
        "handoff_completed", "packet_acked", "packet_completed",
    ]
    completed = d.recorder.QueryEvents(rpb.QueryEventsRequest(
        packet_id="fp-001", types=["handoff_completed"])).events[0]
    assert event_data(completed)["latency_ms"] > 0
