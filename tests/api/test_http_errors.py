"""What a bad HTTP request gets from a real phoenixd: the HTTP status grpc-gateway gives the
gRPC code, and a ``{"code", "message", "details"}`` body whose message names what is wrong:
unknown fields (in the body or the query), values of the wrong type, malformed JSON, a path
and body that disagree, an unknown id (404), a live id registered twice (409), an unknown
path (404), a method the path does not take (405) and a body past --max-message-bytes (413)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.http import Http, http_daemon

MAX_BYTES = 4096


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Http]:
    proc, client = http_daemon(Path(tmp_path_factory.mktemp("http-errors")) / "data",
                               "--max-message-bytes", str(MAX_BYTES))
    client.ok("POST", "/v1/members", {"member_id": "known-1"})
    yield client
    proc.stop()


@pytest.mark.parametrize(("method", "path", "body", "needle"), [
    ("POST", "/v1/members", {"member_id": "a", "trust_scor": 0.5}, 'no field named "trust_scor"'),
    ("POST", "/v1/members", {"member_id": "a", "trust_score": "high"}, "trust_score"),
    ("POST", "/v1/members", {"member_id": "Bad_Id"}, "not a valid id"),
    ("POST", "/v1/members", ["member_id"], "must be a JSON object, not list"),
    ("POST", "/v1/members?member_id=a", {}, "query parameter 'member_id'"),
    ("GET", "/v1/members?colour=red", None, "query parameter 'colour'"),
    ("GET", "/v1/members?page_size=many", None, "'page_size' must be a number"),
    ("GET", "/v1/capabilities?include_inactive=maybe", None, "must be true or false"),
    ("GET", "/v1/members?statuses=ASLEEP", None, "'ASLEEP' is not a MemberStatus"),
    ("PATCH", "/v1/members/known-1?update_mask=trust_score", {"member_id": "other-1"},
     "'known-1' in the path but 'other-1' in the body"),
    ("POST", "/v1/packets?packet.packet_id=x", {}, "belongs in the JSON body"),
])
def test_bad_input_is_400_naming_the_problem(http: Http, method: str, path: str,
                                             body: object, needle: str) -> None:
    status, error = http.call(method, path, body)
    assert status == 400, error
    assert error["code"] == 3 and needle in error["message"], error
    assert error["details"] == []


def test_malformed_json_is_400_saying_where(http: Http) -> None:
    status, error = http.call("POST", "/v1/members", raw=b'{"member_id": "a",')
    assert status == 400
    assert error["message"].startswith("the body is not valid JSON")
    assert "column" in error["message"]


def test_unknown_ids_and_live_duplicates_get_404_and_409(http: Http) -> None:
    status, error = http.get("/v1/members/nobody-here")
    assert (status, error["code"]) == (404, 5) and "nobody-here" in error["message"]
    status, error = http.post("/v1/members", {"member_id": "known-1"})
    assert (status, error["code"]) == (409, 6) and "known-1" in error["message"]


def test_unknown_paths_and_methods_answer_in_json(http: Http) -> None:
    status, error = http.get("/v1/nothing-here")
    assert (status, error["code"]) == (404, 5) and "/v1/openapi.json" in error["message"]
    status, error = http.call("DELETE", "/v1/members/known-1")
    assert status == 405 and "GET" in error["message"] and "PATCH" in error["message"]
    status, error = http.get("/v1/packets/fp-1:cancel")  # a verb's route is not GetPacket's
    assert status == 405 and "POST" in error["message"]


def test_a_body_past_the_message_limit_is_413(http: Http) -> None:
    big = {"member_id": "big-1", "labels": {f"k{i}": "v" * 60 for i in range(80)}}
    status, error = http.post("/v1/members", big)
    assert status == 413 and error["code"] == 8
    assert str(MAX_BYTES) in error["message"] and "--max-message-bytes" in error["message"]
    status, _ = http.get("/v1/members/big-1")
    assert status == 404  # nothing of it was applied
