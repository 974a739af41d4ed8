"""The packet and Flight Recorder routes over HTTP against a real phoenixd: submit, get,
list, hand off and explain; the member side (ack, checkpoint, complete) with the member's
credential in the body, as on gRPC, with its epoch fencing; and the events (query by GET
and by POST, lineage, chain verification)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.http import Http, http_daemon


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Http]:
    proc, client = http_daemon(Path(tmp_path_factory.mktemp("http-packets")) / "data")
    yield client
    proc.stop()


def _member(http: Http, member_id: str, *caps: str) -> str:
    made = http.ok("POST", "/v1/members", {"member_id": member_id, "capabilities": list(caps)})
    credential: str = made["credential"]
    return credential


def test_submit_get_list_and_explain(http: Http) -> None:
    _member(http, "planner-1", "planning")
    made = http.ok("POST", "/v1/packets", {
        "packet_id": "fp-001", "workload_type": "plan", "required_capabilities": ["planning"],
        "context_checkpoint": {"state": {"pages": 10}, "step": "start"},
    })
    packet = made["packet"]
    assert packet["status"] == "PACKET_STATUS_ASSIGNED"
    assert packet["current_owner"] == "planner-1"
    assert packet["context_checkpoint"]["state"] == {"pages": 10}
    got = http.ok("GET", "/v1/packets/fp-001")["packet"]
    assert got["epoch"] == packet["epoch"] == "1"
    listed = http.ok("GET", "/v1/packets?workload_type=plan&statuses=ASSIGNED&view=FULL")
    assert [p["packet_id"] for p in listed["packets"]] == ["fp-001"]
    decision = http.ok("GET", "/v1/packets/fp-001:explain")["decision"]
    assert decision["winner"] == "planner-1"
    assert decision["candidates"][0]["eligible"] is True
    assert http.ok("GET", "/v1/packets/fp-001:explain?epoch=1")["decision"]["epoch"] == "1"


def test_handoff_then_the_member_side_with_its_credential(http: Http) -> None:
    first = _member(http, "mover-a", "moving")
    second = _member(http, "mover-b", "moving")
    owner = http.ok("POST", "/v1/packets", {"packet_id": "fp-move",
                                            "required_capabilities": ["moving"]})
    source = owner["packet"]["current_owner"]
    target = "mover-b" if source == "mover-a" else "mover-a"
    credential = {"mover-a": first, "mover-b": second}
    moved = http.ok("POST", "/v1/packets/fp-move:handoff",
                    {"target_member_id": target, "reason": "manual"})["packet"]
    assert moved["current_owner"] == target and moved["epoch"] == "2"
    ack = {"member_id": target, "credential": credential[target], "epoch": 2}
    assert http.ok("POST", "/v1/packets/fp-move:ack", ack)["packet"]["packet_id"] == "fp-move"
    http.ok("POST", "/v1/packets/fp-move:checkpoint", {**ack, "state": {"page": 3},
                                                         "step": "page-3"})
    status, stale = http.post("/v1/packets/fp-move:complete", {
        "member_id": source, "credential": credential[source], "epoch": 1})
    assert status == 400 and stale["code"] == 9  # FAILED_PRECONDITION, as grpc-gateway maps it
    status, foreign = http.post("/v1/packets/fp-move:complete", {
        "member_id": target, "credential": credential[source], "epoch": 2})
    assert status == 401 and foreign["code"] == 16
    done = http.ok("POST", "/v1/packets/fp-move:complete", {**ack, "result": {"ok": True}})
    assert done["packet"]["status"] == "PACKET_STATUS_COMPLETED"
    assert done["packet"]["result"] == {"ok": True}


def test_events_query_lineage_and_verify(http: Http) -> None:
    _member(http, "audited-1", "auditing")
    http.ok("POST", "/v1/packets", {"packet_id": "fp-audit",
                                    "required_capabilities": ["auditing"]})
    by_get = http.ok("GET", "/v1/events?packet_id=fp-audit&types=packet_created")["events"]
    by_post = http.ok("POST", "/v1/events:query", {"packetId": "fp-audit",
                                                   "types": ["packet_created"]})["events"]
    assert by_get == by_post and len(by_get) == 1
    lineage = http.ok("GET", "/v1/packets/fp-audit/lineage")
    assert {e["type"] for e in lineage["events"]} >= {"packet_created", "assignment_decision"}
    verified = http.ok("GET", "/v1/events:verify")
    assert verified["ok"] is True and int(verified["verified_events"]) > 0
    status = http.ok("GET", "/v1/cluster/status")
    assert int(status["revision"]) >= int(verified["head_sequence"])
