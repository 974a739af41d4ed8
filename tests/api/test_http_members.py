"""The member routes over HTTP against a real phoenixd: register, get, list with query
parameters converted by field type, update with a field mask, heartbeat with the member's
credential, drain and retire; proto and JSON (lowerCamel) field names both accepted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from phoenixflight_api.v1 import membership_service_pb2 as mpb
from tests.api.http import Http, http_daemon
from tests.daemon import PhoenixProcess


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PhoenixProcess, Http]]:
    proc, http = http_daemon(Path(tmp_path_factory.mktemp("http-members")) / "data")
    yield proc, http
    proc.stop()


def test_register_get_and_the_grpc_view_agree(served: tuple[PhoenixProcess, Http]) -> None:
    proc, http = served
    made = http.ok("POST", "/v1/members", {
        "member_id": "agent-planner-01", "kind": "MEMBER_KIND_AGENT",
        "capabilities": ["planning", "routing"], "capacity": {"cpu": 50.0, "memory": 500.0},
        "trust_score": 0.95, "labels": {"region": "us-east"},
    })
    assert made["credential"]
    member = made["member"]
    assert member["status"] == "MEMBER_STATUS_ACTIVE"
    assert member["capacity"] == {"cpu": 50.0, "memory": 500.0}
    assert member["session_open"] is False  # defaults are printed
    assert member["incarnation"] == "1"  # int64 is a JSON string (proto3 JSON)
    got = http.ok("GET", "/v1/members/agent-planner-01")["member"]
    assert got["trust_score"] == 0.95 and got["labels"] == {"region": "us-east"}
    over_grpc = proc.members.GetMember(mpb.GetMemberRequest(member_id="agent-planner-01"))
    assert over_grpc.member.capacity.cpu == 50.0


def test_json_names_are_accepted_as_proto_names_are(served: tuple[PhoenixProcess, Http]) -> None:
    _, http = served
    made = http.ok("POST", "/v1/members", {"memberId": "camel-1", "trustScore": 0.7,
                                            "leaseTtl": "30s", "capabilities": ["ocr"]})
    assert made["member"]["member_id"] == "camel-1"
    assert made["member"]["lease_ttl"] == "30s"


def test_list_converts_query_parameters_by_field_type(served: tuple[PhoenixProcess, Http]) -> None:
    _, http = served
    for name in ("lister-a", "lister-b", "lister-c"):
        http.ok("POST", "/v1/members", {"member_id": name, "capabilities": ["listing"]})
    http.ok("POST", "/v1/members/lister-c:retire", {"reason": "test"})
    page = http.ok("GET", "/v1/members?capability=listing&page_size=1&statuses=ACTIVE")
    assert [m["member_id"] for m in page["members"]] == ["lister-a"]
    assert page["total_size"] == 2 and page["next_page_token"]
    both = http.ok("GET", "/v1/members?capability=listing&statuses=MEMBER_STATUS_RETIRED"
                   "&statuses=active")
    assert sorted(m["member_id"] for m in both["members"]) == ["lister-a", "lister-b",
                                                               "lister-c"]
    caps = http.ok("GET", "/v1/capabilities?include_inactive=true")
    listing = next(c for c in caps["capabilities"] if c["name"] == "listing")
    assert len(listing["providers"]) == 3


def test_update_takes_the_member_in_the_body_and_the_mask_as_a_query_parameter(
    served: tuple[PhoenixProcess, Http],
) -> None:
    _, http = served
    http.ok("POST", "/v1/members", {"member_id": "updated-1", "trust_score": 0.5})
    got = http.ok("PATCH", "/v1/members/updated-1?update_mask=trust_score,labels",
                  {"trust_score": 0.8, "labels": {"tier": "gold"}})["member"]
    assert got["trust_score"] == 0.8 and got["labels"] == {"tier": "gold"}


def test_heartbeat_drain_and_retire(served: tuple[PhoenixProcess, Http]) -> None:
    _, http = served
    credential = http.ok("POST", "/v1/members", {"member_id": "beating-1"})["credential"]
    beat = http.ok("POST", "/v1/members/beating-1:heartbeat", {"credential": credential})
    assert beat["status"] == "MEMBER_STATUS_ACTIVE"
    status, error = http.post("/v1/members/beating-1:heartbeat", {"credential": "wrong"})
    assert status == 401 and error["code"] == 16
    drained = http.ok("POST", "/v1/members/beating-1:drain", {"reason": "maintenance"})
    assert drained["member"]["status"] in ("MEMBER_STATUS_DRAINING", "MEMBER_STATUS_RETIRED")
    http.ok("POST", "/v1/members", {"member_id": "retired-1"})
    retired = http.ok("POST", "/v1/members/retired-1:retire", {})
    assert retired["member"]["status"] == "MEMBER_STATUS_RETIRED"
