"""Scenario: policy-aware assignment. Two members are capable, only one meets the packet's
trust, region and PII policy; the packet goes to it and ExplainAssignment says why the other
was rejected and which policy the winner satisfied."""

from __future__ import annotations

from phoenixflight_api.v1 import packet_pb2
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope
from tests.daemon import PhoenixProcess

CAPS = ("customer_validation", "policy_review")


def test_only_the_member_meeting_the_policy_gets_the_packet(daemon: PhoenixProcess) -> None:
    Agent(daemon, "agent-eu", *CAPS, trust_score=0.99, labels={"region": "eu-west"})
    Agent(daemon, "agent-low", *CAPS, trust_score=0.7,
          labels={"region": "us-east", "pii_cleared": "true"})
    Agent(daemon, "agent-ok", *CAPS, trust_score=0.93,
          labels={"region": "us-east", "pii_cleared": "true"})
    policy = packet_pb2.PolicyConstraints(
        minimum_trust_score=0.9, allowed_regions=["us-east"], pii_review_required=True)
    packets = daemon.packets
    submitted = packets.SubmitPacket(ppb.SubmitPacketRequest(
        packet=envelope("fp-001", *CAPS, policy_constraints=policy))).packet
    assert submitted.current_owner == "agent-ok"

    decision = packets.ExplainAssignment(ppb.ExplainAssignmentRequest(packet_id="fp-001")).decision
    assert decision.winner == "agent-ok"
    assert decision.epoch == 1
    assert decision.strategy == packet_pb2.STRATEGY_TRUST
    assert decision.trigger == "submitted"
    assert decision.considered == 3
    why = {c.member_id: c.rejected_by for c in decision.candidates}
    assert why == {"agent-ok": "", "agent-eu": "region_not_allowed",
                   "agent-low": "trust_below_minimum"}
    scores = {c.member_id: c.score for c in decision.candidates if c.eligible}
    assert scores == {"agent-ok": 0.93}  # (reliability 1 x trust 0.93) / (1 + 0 packets)
    assert list(decision.policy.allowed_regions) == ["us-east"]
    assert decision.policy.pii_review_required
    assert dict(decision.rejected_counts) == {"region_not_allowed": 1, "trust_below_minimum": 1}
    assert "agent-ok" in decision.explanation
