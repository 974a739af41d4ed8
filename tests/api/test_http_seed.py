"""The seed's own routes against a real phoenixd: the seed's curl body registers a member as
RegisterMember does; a field the seed's member does not have, or one the daemon owns, is refused
naming it; the seed's Flight Packet envelope with the daemon's fields (owner, status, earlier
owners, hash, handoff reason, audit times) is refused naming each and why, and without them it
is submitted with its flat checkpoint as the state; the routes pass through the same Guard."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from phoenixflight_api.v1 import member_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from tests.api.agents import SEED_ENVELOPE
from tests.api.http import Http, http_daemon
from tests.daemon import PhoenixProcess, operator_token_args

# The seed's curl command's body, exactly as written.
SEED_MEMBER = {"id": "agent-planner-01", "type": "agent", "capabilities": ["planning", "routing"],
               "cpu_capacity": 50.0, "memory_capacity": 500.0, "trust_score": 0.95}
DAEMON_OWNED = ("current_owner", "previous_owners", "context_checkpoint.state_hash",
                "handoff.reason", "audit.created_at", "audit.last_event", "status")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PhoenixProcess, Http]]:
    proc, http = http_daemon(Path(tmp_path_factory.mktemp("http-seed")) / "data")
    yield proc, http
    proc.stop()


def test_the_seeds_curl_body_registers_the_member(served: tuple[PhoenixProcess, Http]) -> None:
    proc, http = served
    made = http.ok("POST", "/api/members/register", SEED_MEMBER)
    assert made["credential"]
    member = made["member"]
    assert (member["member_id"], member["kind"]) == ("agent-planner-01", "MEMBER_KIND_AGENT")
    assert member["capabilities"] == ["planning", "routing"]
    assert member["capacity"] == {"cpu": 50.0, "memory": 500.0}
    assert member["trust_score"] == 0.95 and member["status"] == "MEMBER_STATUS_ACTIVE"
    over_grpc = proc.members.GetMember(mpb.GetMemberRequest(member_id="agent-planner-01"))
    assert over_grpc.member.kind == member_pb2.MEMBER_KIND_AGENT
    assert over_grpc.member.capacity.memory == 500.0


def test_member_fields_that_are_not_the_seeds_or_are_the_daemons_are_refused(
    served: tuple[PhoenixProcess, Http],
) -> None:
    _, http = served
    for body, words in (
        ({**SEED_MEMBER, "id": "m-2", "cpu": 4}, "'cpu' is not a field of the seed's member"),
        ({**SEED_MEMBER, "id": "m-3", "status": "ACTIVE"}, "status (every registered member"),
        ({**SEED_MEMBER, "id": "m-4", "type": "robot"}, "type 'robot' is not one of agent"),
        ({**SEED_MEMBER, "id": "m-5", "trust_score": "high"}, "trust"),
        (["not", "an", "object"], "must be a JSON object"),
    ):
        status, error = http.post("/api/members/register", body)
        assert (status, error["code"]) == (400, 3), (body, error)
        assert words in error["message"], error
        if isinstance(body, dict):
            assert http.get(f"/v1/members/{body['id']}")[0] == 404  # nothing was registered
    status, error = http.call("POST", "/api/members/register", raw=b'{"id": ')
    assert status == 400 and "not valid JSON" in error["message"]


def test_the_seeds_envelope_is_refused_naming_the_fields_the_daemon_owns(
    served: tuple[PhoenixProcess, Http],
) -> None:
    _, http = served
    status, error = http.post("/api/packets", SEED_ENVELOPE)
    assert (status, error["code"]) == (400, 3), error
    for field in DAEMON_OWNED:
        assert f"{field} (" in error["message"], (field, error["message"])
    assert http.get("/v1/packets/fp-001")[0] == 404


def test_the_envelope_without_the_daemons_fields_is_submitted(
    served: tuple[PhoenixProcess, Http],
) -> None:
    _, http = served
    envelope = copy.deepcopy(SEED_ENVELOPE)
    for field in ("current_owner", "status", "previous_owners"):
        del envelope[field]
    del envelope["context_checkpoint"]["state_hash"]
    del envelope["handoff"]["reason"]
    envelope["audit"] = {"lineage_id": "lin-7742"}
    envelope["packet_id"] = "fp-seed-1"
    packet = http.ok("POST", "/api/packets", envelope)["packet"]
    assert packet["context_checkpoint"]["state"] == {"case_id": "CUST-88291"}
    assert packet["context_checkpoint"]["step"] == "policy_review_pending"
    assert packet["context_checkpoint"]["state_hash"].startswith("sha256:")
    assert packet["audit"]["lineage_id"] == "lin-7742"
    assert packet["policy_constraints"]["allowed_regions"] == ["us-east"]
    # Nobody has the capabilities: it waits, unowned.
    assert (packet["status"], packet["current_owner"]) == ("PACKET_STATUS_PENDING", "")
    status, error = http.post("/api/packets", {**envelope, "packet_id": "fp-seed-2",
                                               "owner": "x"})
    assert status == 400 and "'owner' is not a field of the Flight Packet envelope" in \
        error["message"]


def test_the_seed_routes_pass_through_the_guard(tmp_path: Path) -> None:
    proc, http = http_daemon(tmp_path / "data", *operator_token_args(tmp_path, "seed-token"))
    try:
        for path, body in (("/api/members/register", SEED_MEMBER),
                           ("/api/packets", {"packet_id": "fp-guarded"})):
            status, error = http.post(path, body)
            assert (status, error["code"]) == (401, 16), error
        status, made = http.call("POST", "/api/members/register", SEED_MEMBER,
                                 token="seed-token")
        assert status == 200 and made["member"]["member_id"] == "agent-planner-01"
    finally:
        proc.stop()
