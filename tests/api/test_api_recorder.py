"""FlightRecorderService against a real phoenixd: QueryEvents filters and pages, VerifyChain
passes on an intact journal and names the first bad sequence number after one edited byte,
ExportLineage validates its request."""

from __future__ import annotations

import time

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import member_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from tests.conftest import register
from tests.daemon import PhoenixProcess


def test_query_filters_by_type_and_member_and_pages_without_gaps(daemon: PhoenixProcess) -> None:
    for i in range(6):
        register(daemon, f"q{i}", "ocr")
    daemon.members.RetireMember(mpb.RetireMemberRequest(member_id="q3", reason="test"))

    types = daemon.recorder.QueryEvents(rpb.QueryEventsRequest(types=["member_registered"]))
    assert [e.member_ids[0] for e in types.events] == [f"q{i}" for i in range(6)]
    by_member = daemon.recorder.QueryEvents(rpb.QueryEventsRequest(member_id="q3"))
    assert [e.type for e in by_member.events] == [
        "member_registered", "capability_discovered", "member_retired", "member_load_reset",
    ]
    retired = by_member.events[2]
    assert retired.reason == "test"
    member = retired.data.fields["member"].struct_value
    assert member["status"] == "RETIRED"
    assert "credential_hash" not in member

    sequences, token = [], ""
    while True:
        page = daemon.recorder.QueryEvents(rpb.QueryEventsRequest(page_size=4, page_token=token))
        sequences += [e.sequence for e in page.events]
        token = page.next_page_token
        if not token:
            break
    assert sequences == list(range(1, page.head_sequence + 1))


def test_query_by_time_range(daemon: PhoenixProcess) -> None:
    register(daemon, "early")
    time.sleep(0.2)
    cut = Timestamp()
    cut.GetCurrentTime()
    time.sleep(0.2)
    register(daemon, "late")
    after = daemon.recorder.QueryEvents(
        rpb.QueryEventsRequest(start_time=cut, types=["member_registered"]))
    assert [e.member_ids[0] for e in after.events] == ["late"]
    before = daemon.recorder.QueryEvents(
        rpb.QueryEventsRequest(end_time=cut, types=["member_registered"]))
    assert [e.member_ids[0] for e in before.events] == ["early"]


@pytest.mark.parametrize(
    "request_",
    [
        rpb.QueryEventsRequest(page_size=-1),
        rpb.QueryEventsRequest(after_sequence=-1),
        rpb.QueryEventsRequest(member_id="NOT VALID"),
        rpb.QueryEventsRequest(page_token="garbage"),
        rpb.QueryEventsRequest(start_time=Timestamp(seconds=200), end_time=Timestamp(seconds=100)),
    ],
)
def test_bad_queries_are_invalid_argument(
    daemon: PhoenixProcess, request_: rpb.QueryEventsRequest
) -> None:
    with pytest.raises(grpc.RpcError) as info:
        daemon.recorder.QueryEvents(request_, timeout=10)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_verify_chain_names_the_first_edited_record(daemon: PhoenixProcess) -> None:
    for i in range(4):
        register(daemon, f"v{i}", "ocr")
    ok = daemon.recorder.VerifyChain(rpb.VerifyChainRequest())
    assert ok.ok
    assert ok.verified_events == ok.head_sequence >= 9

    journal = daemon.data_dir / "audit.jsonl"
    data = bytearray(journal.read_bytes())
    target = data.index(b'"v2"')  # inside the event that registered v2
    data[target + 1] = ord("x")
    journal.write_bytes(bytes(data))
    expected = next(
        e.sequence
        for e in daemon.recorder.QueryEvents(rpb.QueryEventsRequest(member_id="v2")).events
    )

    bad = daemon.recorder.VerifyChain(rpb.VerifyChainRequest())
    assert not bad.ok
    assert bad.first_bad_sequence == expected
    assert bad.verified_events == expected - 1
    assert "checksum" in bad.problem
    assert 0 < bad.first_bad_offset <= target


def test_export_lineage_needs_exactly_one_id(daemon: PhoenixProcess) -> None:
    for request_, code in (
        (rpb.ExportLineageRequest(), grpc.StatusCode.INVALID_ARGUMENT),
        (rpb.ExportLineageRequest(packet_id="a", lineage_id="b"), grpc.StatusCode.INVALID_ARGUMENT),
        (rpb.ExportLineageRequest(packet_id="fp-404"), grpc.StatusCode.NOT_FOUND),
    ):
        with pytest.raises(grpc.RpcError) as info:
            daemon.recorder.ExportLineage(request_, timeout=10)
        assert info.value.code() == code


def test_unknown_event_types_and_future_sequences_are_refused(daemon: PhoenixProcess) -> None:
    with pytest.raises(grpc.RpcError) as info:
        daemon.recorder.QueryEvents(rpb.QueryEventsRequest(types=["member_registerd"]))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "member_registered" in str(info.value.details())  # the known types are listed
    watch = daemon.recorder.WatchEvents(rpb.WatchEventsRequest(after_sequence=10_000), timeout=10)
    with pytest.raises(grpc.RpcError) as info:
        list(watch)
    assert info.value.code() == grpc.StatusCode.OUT_OF_RANGE


def test_overlong_free_text_is_refused_before_it_reaches_the_log(daemon: PhoenixProcess) -> None:
    register(daemon, "talker")
    with pytest.raises(grpc.RpcError) as info:
        daemon.members.RetireMember(mpb.RetireMemberRequest(member_id="talker", reason="x" * 5000))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 1024" in str(info.value.details())
    member = daemon.members.GetMember(mpb.GetMemberRequest(member_id="talker")).member
    assert member.status == member_pb2.MEMBER_STATUS_ACTIVE  # nothing happened
