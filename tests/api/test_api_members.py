"""MembershipService against a real phoenixd: register, get, list, update, drain, retire,
the capability directory, and the status codes bad requests get."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import member_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from tests.conftest import register
from tests.daemon import PhoenixProcess

ACTIVE = member_pb2.MEMBER_STATUS_ACTIVE
RETIRED = member_pb2.MEMBER_STATUS_RETIRED


def code_of(call, *args, **kwargs) -> grpc.StatusCode:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        call(*args, timeout=10, **kwargs)
    return info.value.code()


def test_register_then_get_returns_the_member_with_defaults(daemon: PhoenixProcess) -> None:
    resp = register(daemon, "agent-planner-01", "planning", "routing@2", trust_score=0.95,
                    labels={"region": "us-east"})
    assert resp.credential
    got = daemon.members.GetMember(mpb.GetMemberRequest(member_id="agent-planner-01")).member
    assert got.status == ACTIVE
    assert list(got.capabilities) == ["planning", "routing@2"]
    assert got.trust_score == pytest.approx(0.95)
    assert got.reliability == 1.0
    assert got.incarnation == 1
    assert got.kind == member_pb2.MEMBER_KIND_AGENT
    assert dict(got.labels) == {"region": "us-east"}
    assert got.revision > 0


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"member_id": ""}, "member_id is required"),
        ({"member_id": "Bad_Id"}, "not a valid id"),
        ({"member_id": "a", "capabilities": ["Has Space"]}, "capability"),
        ({"member_id": "a", "capabilities": ["x@1", "x@2"]}, "listed twice"),
        ({"member_id": "a", "trust_score": 1.5}, "trust_score"),
        ({"member_id": "a", "labels": {"bad key!": "v"}}, "label key"),
    ],
)
def test_register_rejects_bad_input_with_invalid_argument(
    daemon: PhoenixProcess, fields: dict[str, object], needle: str
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        daemon.members.RegisterMember(mpb.RegisterMemberRequest(**fields), timeout=10)  # type: ignore[arg-type]
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert needle in str(info.value.details())


def test_lease_ttl_below_one_second_is_refused(daemon: PhoenixProcess) -> None:
    with pytest.raises(grpc.RpcError) as info:
        register(daemon, "fast", ttl=0.5)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "lease_ttl" in str(info.value.details())


def test_registering_a_live_id_twice_is_already_exists(daemon: PhoenixProcess) -> None:
    register(daemon, "dup")
    with pytest.raises(grpc.RpcError) as info:
        register(daemon, "dup")
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "current credential" in str(info.value.details())


def test_re_registering_with_the_credential_bumps_the_incarnation(daemon: PhoenixProcess) -> None:
    first = register(daemon, "phoenix")
    second = register(daemon, "phoenix", credential=first.credential)
    assert second.member.incarnation == 2
    old = mpb.HeartbeatRequest(member_id="phoenix", credential=first.credential)
    assert code_of(daemon.members.Heartbeat, old) == grpc.StatusCode.UNAUTHENTICATED


def test_unknown_member_is_not_found(daemon: PhoenixProcess) -> None:
    call = daemon.members.GetMember
    assert code_of(call, mpb.GetMemberRequest(member_id="ghost")) == grpc.StatusCode.NOT_FOUND


def test_list_filters_by_status_capability_and_labels_and_paginates(
    daemon: PhoenixProcess,
) -> None:
    for i in range(7):
        register(daemon, f"m{i}", "ocr@2" if i % 2 else "ocr@1",
                 labels={"region": "us-east" if i < 4 else "eu-west"})
    daemon.members.RetireMember(mpb.RetireMemberRequest(member_id="m0"))

    seen, token = [], ""
    while True:
        page = daemon.members.ListMembers(mpb.ListMembersRequest(page_size=3, page_token=token))
        assert page.total_size == 7
        seen += [m.member_id for m in page.members]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"m{i}" for i in range(7)]

    active = daemon.members.ListMembers(mpb.ListMembersRequest(statuses=[ACTIVE]))
    assert [m.member_id for m in active.members] == ["m1", "m2", "m3", "m4", "m5", "m6"]
    v2 = daemon.members.ListMembers(mpb.ListMembersRequest(capability="ocr@2"))
    assert [m.member_id for m in v2.members] == ["m1", "m3", "m5"]
    east = daemon.members.ListMembers(
        mpb.ListMembersRequest(label_selector="region=us-east", capability="ocr")
    )
    assert [m.member_id for m in east.members] == ["m0", "m1", "m2", "m3"]


def test_list_rejects_bad_selectors_and_foreign_page_tokens(daemon: PhoenixProcess) -> None:
    for i in range(3):
        register(daemon, f"p{i}")
    bad = mpb.ListMembersRequest(label_selector="region=(")
    assert code_of(daemon.members.ListMembers, bad) == grpc.StatusCode.INVALID_ARGUMENT
    token = daemon.members.ListMembers(mpb.ListMembersRequest(page_size=1)).next_page_token
    other = mpb.ListMembersRequest(page_size=1, page_token=token, capability="x")
    assert code_of(daemon.members.ListMembers, other) == grpc.StatusCode.INVALID_ARGUMENT
    junk = mpb.ListMembersRequest(page_token="not-a-token")
    assert code_of(daemon.members.ListMembers, junk) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("spaces", [16_000, 1 << 20], ids=["16k", "1MiB"])
def test_a_selector_past_the_limit_is_refused_before_it_is_read(
    daemon: PhoenixProcess, spaces: int
) -> None:
    # Read by a backtracking pattern, this selector held the event loop for seconds at 16k and
    # for hours at 1 MiB. It is refused by its length, before any of it is read.
    register(daemon, "s1", labels={"a": "x"})
    selector = "a in (" + " " * spaces + "x"
    with pytest.raises(grpc.RpcError) as info:
        daemon.members.ListMembers(mpb.ListMembersRequest(label_selector=selector), timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = info.value.details() or ""
    assert f"label_selector is {len(selector)} characters long" in details
    assert "at most 1024" in details
    fits = daemon.members.ListMembers(mpb.ListMembersRequest(label_selector="a in (x)"))
    assert [m.member_id for m in fits.members] == ["s1"]


def test_a_status_filter_longer_than_the_statuses_is_refused(daemon: PhoenixProcess) -> None:
    # A 4 MiB request holds millions of packed enums: each was read and sorted on the loop.
    many = mpb.ListMembersRequest(statuses=[ACTIVE] * 1_000_000)
    with pytest.raises(grpc.RpcError) as info:
        daemon.members.ListMembers(many, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "statuses lists 1000000 entries; at most 16" in (info.value.details() or "")
    twice = mpb.ListMembersRequest(statuses=[ACTIVE, ACTIVE])
    assert daemon.members.ListMembers(twice).members == []


def test_update_changes_only_the_masked_fields(daemon: PhoenixProcess) -> None:
    register(daemon, "u1", "ocr", trust_score=0.4)
    resp = daemon.members.UpdateMember(mpb.UpdateMemberRequest(
        member=member_pb2.Member(member_id="u1", trust_score=0.9, capabilities=["ocr", "nlp@3"],
                                 reliability=0.1),
        update_mask=FieldMask(paths=["trust_score", "capabilities"]),
    ))
    assert resp.member.trust_score == pytest.approx(0.9)
    assert list(resp.member.capabilities) == ["nlp@3", "ocr"]
    assert resp.member.reliability == 1.0  # not in the mask
    empty = mpb.UpdateMemberRequest(member=member_pb2.Member(member_id="u1"))
    assert code_of(daemon.members.UpdateMember, empty) == grpc.StatusCode.INVALID_ARGUMENT
    wrong = mpb.UpdateMemberRequest(
        member=member_pb2.Member(member_id="u1"), update_mask=FieldMask(paths=["status"])
    )
    assert code_of(daemon.members.UpdateMember, wrong) == grpc.StatusCode.INVALID_ARGUMENT


def test_drain_without_work_retires_and_retire_is_idempotent(daemon: PhoenixProcess) -> None:
    register(daemon, "d1")
    drained = daemon.members.DrainMember(mpb.DrainMemberRequest(member_id="d1", reason="deploy"))
    assert drained.member.status == RETIRED
    again = daemon.members.RetireMember(mpb.RetireMemberRequest(member_id="d1"))
    assert again.member.status == RETIRED
    events = daemon.recorder.QueryEvents(rpb.QueryEventsRequest(member_id="d1")).events
    types = [e.type for e in events]
    assert types == [
        "member_registered", "member_draining", "member_retired", "member_load_reset",
    ]


def test_retired_and_failed_members_stay_queryable(daemon: PhoenixProcess) -> None:
    register(daemon, "r1")
    daemon.members.RetireMember(mpb.RetireMemberRequest(member_id="r1", reason="done"))
    got = daemon.members.GetMember(mpb.GetMemberRequest(member_id="r1")).member
    assert got.status == RETIRED
    assert got.status_reason == "done"
    listed = daemon.members.ListMembers(mpb.ListMembersRequest(statuses=[RETIRED]))
    assert [m.member_id for m in listed.members] == ["r1"]


def test_capability_directory_lists_providers_and_versions(daemon: PhoenixProcess) -> None:
    register(daemon, "a1", "ocr@1", "nlp", trust_score=0.8)
    register(daemon, "a2", "ocr@2")
    register(daemon, "a3", "ocr@2")
    daemon.members.RetireMember(mpb.RetireMemberRequest(member_id="a3"))
    caps = daemon.members.ListCapabilities(mpb.ListCapabilitiesRequest()).capabilities
    by_name = {c.name: c for c in caps}
    assert sorted(by_name) == ["nlp", "ocr"]
    assert list(by_name["ocr"].versions) == ["1", "2"]
    assert [p.member_id for p in by_name["ocr"].providers] == ["a1", "a2"]
    every = daemon.members.ListCapabilities(mpb.ListCapabilitiesRequest(include_inactive=True))
    ocr = {c.name: c for c in every.capabilities}["ocr"]
    assert [p.member_id for p in ocr.providers] == ["a1", "a2", "a3"]
