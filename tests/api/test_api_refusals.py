"""Refused calls leave a trace for monitoring, on a real phoenixd: an operator call with a
missing or wrong token and a member-side call with an ended incarnation's credential are
each logged (reason, method, peer; never the secret), at most one line per reason and method
every 10 s, the rest counted and reported by the next line or at shutdown. None is journaled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc
import pytest

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from tests.daemon import PhoenixProcess, operator_token_args

TOKEN = "s3cret-operator-token"
BEARER = (("authorization", f"Bearer {TOKEN}"),)
WRONG = (("authorization", "Bearer guessed-token-0451"),)


def refusal_lines(daemon: PhoenixProcess) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in daemon.log().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event", "").startswith(("call refused",
                                                                       "calls refused"))]


def refused(call: Any, request: Any, **kwargs: Any) -> None:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=10, **kwargs)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.fixture
def secured(tmp_path: Path) -> PhoenixProcess:
    return PhoenixProcess(tmp_path / "data", *operator_token_args(tmp_path, TOKEN))


def test_refusals_are_logged_with_method_and_peer_and_no_secret(secured: PhoenixProcess) -> None:
    with secured as d:
        joined = d.members.RegisterMember(mpb.RegisterMemberRequest(member_id="gone"),
                                          metadata=BEARER, timeout=10)
        d.members.RetireMember(mpb.RetireMemberRequest(member_id="gone"), metadata=BEARER,
                               timeout=10)
        events = d.recorder.QueryEvents(rpb.QueryEventsRequest(), metadata=BEARER, timeout=10)
        refused(d.members.ListMembers, mpb.ListMembersRequest())
        refused(d.members.GetMember, mpb.GetMemberRequest(member_id="x"), metadata=WRONG)
        refused(d.members.Heartbeat,
                mpb.HeartbeatRequest(member_id="gone", credential=joined.credential))
        after = d.recorder.QueryEvents(rpb.QueryEventsRequest(), metadata=BEARER, timeout=10)
    lines = {(line["reason"], line["method"]): line for line in refusal_lines(secured)}
    assert set(lines) == {("operator_token", "ListMembers"), ("operator_token", "GetMember"),
                          ("member_credential", "Heartbeat")}
    assert all(line["peer"].startswith(("ipv4:127.0.0.1:", "ipv6:[::1]:"))
               for line in lines.values()), lines
    assert "RETIRED" in lines[("member_credential", "Heartbeat")]["told"]
    log = secured.log()
    for secret in (TOKEN, "guessed-token-0451", joined.credential):
        assert secret not in log
    assert after.events == events.events  # nothing of the refusals is journaled

def test_a_burst_of_refusals_is_one_line_and_a_count(secured: PhoenixProcess) -> None:
    with secured as d:
        for _ in range(200):
            refused(d.members.ListMembers, mpb.ListMembersRequest(), metadata=WRONG)
        during = refusal_lines(secured)
    lines = refusal_lines(secured)
    assert 1 <= len(during) <= 2, during  # one per 10 s: a second only on a very slow machine
    assert len(lines) == len(during) + 1, lines  # and the count of the rest at shutdown
    assert lines[-1]["event"] == "calls refused since the last line"
    assert lines[-1]["total"] == 200
    assert sum(1 + line["not_logged_since_last"] for line in during) + (
        lines[-1]["not_logged_since_last"]) == 200
