"""The seed's bodies renamed into the RPCs' request JSON (pure, in process): the seed's member
as RegisterMemberRequest, its envelope as SubmitPacketRequest with the flat checkpoint as
state and step; daemon-owned fields set to anything but empty refused naming each and why;
fields neither form has refused by name."""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from phoenixd.http.seed import member_registration, packet_submission
from phoenixd.http.transcode import BadRequest
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb


def test_the_seeds_member_is_a_register_member_request() -> None:
    request = json_format.ParseDict(member_registration({
        "id": "agent-planner-01", "type": "Agent", "capabilities": ["planning", "routing"],
        "cpu_capacity": 50.0, "memory_capacity": 500.0, "trust_score": 0.95,
        "labels": {"region": "us-east"}}), mpb.RegisterMemberRequest())
    assert request.member_id == "agent-planner-01"
    assert request.kind == 1 and list(request.capabilities) == ["planning", "routing"]
    assert (request.capacity.cpu, request.capacity.memory) == (50.0, 500.0)
    assert request.trust_score == 0.95 and dict(request.labels) == {"region": "us-east"}


@pytest.mark.parametrize(("body", "words"), [
    ({"id": "a", "status": "ACTIVE"}, "status (every registered member starts ACTIVE"),
    ({"id": "a", "type": "robot"}, "type 'robot' is not one of agent, tool, service, node"),
    ({"id": "a", "type": 1}, "type 1 is not one of"),
    ({"id": "a", "member_id": "b"}, "'member_id' is not a field of the seed's member"),
    ("a", "must be a JSON object"),
])
def test_member_fields_refused(body: object, words: str) -> None:
    with pytest.raises(BadRequest) as refused:
        member_registration(body)
    assert words in str(refused.value)


def test_the_envelope_is_a_submit_packet_request() -> None:
    request = json_format.ParseDict(packet_submission({
        "packet_id": "fp-001", "workload_type": "customer-remediation",
        "required_capabilities": ["customer_validation"], "current_owner": "",
        "previous_owners": [], "status": "",
        "context_checkpoint": {"case_id": "CUST-88291", "step": "policy_review_pending"},
        "policy_constraints": {"minimum_trust_score": 0.9, "allowed_regions": ["us-east"]},
        "handoff": {"allowed": False}, "audit": {"lineage_id": "lin-7742"},
    }), ppb.SubmitPacketRequest())
    packet = request.packet
    assert packet.packet_id == "fp-001" and not packet.current_owner
    assert dict(packet.context_checkpoint.state) == {"case_id": "CUST-88291"}
    assert packet.context_checkpoint.step == "policy_review_pending"
    assert packet.policy_constraints.minimum_trust_score == 0.9
    assert packet.HasField("handoff") and not packet.handoff.allowed
    assert packet.audit.lineage_id == "lin-7742"


def test_daemon_owned_envelope_fields_are_refused_each_by_name() -> None:
    with pytest.raises(BadRequest) as refused:
        packet_submission({"packet_id": "fp-1", "status": "ASSIGNED",
                           "context_checkpoint": {"state_hash": "sha256:9c12"},
                           "handoff": {"allowed": True, "reason": "x"},
                           "audit": {"last_event": "handoff_completed"}})
    message = str(refused.value)
    for field in ("status", "context_checkpoint.state_hash", "handoff.reason",
                  "audit.last_event"):
        assert f"{field} (" in message
    assert "current_owner" not in message
    with pytest.raises(BadRequest, match="'owner' is not a field of the Flight Packet"):
        packet_submission({"packet_id": "fp-1", "owner": "a"})
