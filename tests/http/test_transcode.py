"""Request messages from bodies, path variables and query strings (pure, in process): both
field-name forms, values converted by field type (numbers, booleans, enums by full or short
name or number, repeated keys, durations, timestamps, field masks in either case), and a
BadRequest naming the field for everything that is not a field or not its type."""

from __future__ import annotations

import pytest
from google.protobuf.message import Message

from phoenixd.http.routes import Binding, bindings
from phoenixd.http.transcode import BadRequest, request_message
from phoenixd.server.grpc_server import SERVICE_DESCRIPTORS
from phoenixflight_api.v1 import cluster_service_pb2 as cpb
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import member_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb

ROUTES = {(b.verb, b.template): b for b in bindings(SERVICE_DESCRIPTORS)}


def build(verb: str, template: str, message: type[Message], *, path: tuple[str, ...] = (),
          query: dict[str, list[str]] | None = None, body: bytes = b"") -> Message:
    binding: Binding = ROUTES[(verb, template)]
    return request_message(binding, path, query or {}, body, message)


def test_query_values_are_converted_by_field_type() -> None:
    got = build("GET", "/v1/members", mpb.ListMembersRequest, query={
        "pageSize": ["5"], "statuses": ["ACTIVE", "MEMBER_STATUS_SUSPECT", "5"],
        "label_selector": ["region=us-east"]})
    assert isinstance(got, mpb.ListMembersRequest)
    assert got.page_size == 5 and got.label_selector == "region=us-east"
    assert list(got.statuses) == [member_pb2.MEMBER_STATUS_ACTIVE,
                                  member_pb2.MEMBER_STATUS_SUSPECT, 5]
    caps = build("GET", "/v1/capabilities", mpb.ListCapabilitiesRequest,
                 query={"include_inactive": ["true"]})
    assert isinstance(caps, mpb.ListCapabilitiesRequest) and caps.include_inactive


def test_well_known_types_take_their_json_strings() -> None:
    health = build("GET", "/v1/cluster/health", cpb.GetClusterHealthRequest,
                   query={"window": ["90s"]})
    assert isinstance(health, cpb.GetClusterHealthRequest) and health.window.seconds == 90
    events = build("GET", "/v1/events", rpb.QueryEventsRequest,
                   query={"start_time": ["2026-01-02T03:04:05Z"], "types": ["a", "b"]})
    assert isinstance(events, rpb.QueryEventsRequest)
    assert events.start_time.seconds == 1767323045 and list(events.types) == ["a", "b"]


def test_a_nested_path_variable_and_a_field_mask_in_snake_case() -> None:
    got = build("PATCH", "/v1/members/{member.member_id}", mpb.UpdateMemberRequest,
                path=("m-1",), query={"update_mask": ["trust_score,labels"]},
                body=b'{"trustScore": 0.8}')
    assert isinstance(got, mpb.UpdateMemberRequest)
    assert got.member.member_id == "m-1" and got.member.trust_score == 0.8
    assert list(got.update_mask.paths) == ["trust_score", "labels"]


def test_the_path_fills_the_body_and_must_agree_with_it() -> None:
    got = build("POST", "/v1/packets/{packet_id}:handoff", ppb.HandoffPacketRequest,
                path=("fp-1",), body=b'{"reason": "manual"}')
    assert isinstance(got, ppb.HandoffPacketRequest)
    assert (got.packet_id, got.reason) == ("fp-1", "manual")
    same = build("POST", "/v1/packets/{packet_id}:handoff", ppb.HandoffPacketRequest,
                 path=("fp-1",), body=b'{"packet_id": "fp-1"}')
    assert isinstance(same, ppb.HandoffPacketRequest) and same.packet_id == "fp-1"
    with pytest.raises(BadRequest, match="'fp-1' in the path but 'fp-2' in the body"):
        build("POST", "/v1/packets/{packet_id}:handoff", ppb.HandoffPacketRequest,
              path=("fp-1",), body=b'{"packet_id": "fp-2"}')


@pytest.mark.parametrize(("query", "needle"), [
    ({"nope": ["1"]}, "query parameter 'nope': phoenixflight.v1.ListMembersRequest has no "
                      "field 'nope'"),
    ({"page_size": ["1", "2"]}, "given 2 times but takes one value"),
    ({"page_size": ["ten"]}, "must be a number"),
    ({"statuses": ["NAPPING"]}, "one of ACTIVE, SUSPECT"),
    ({"namespace.x": ["1"]}, "namespace has no fields to name"),
])
def test_query_mistakes_name_the_parameter(query: dict[str, list[str]], needle: str) -> None:
    with pytest.raises(BadRequest) as info:
        build("GET", "/v1/members", mpb.ListMembersRequest, query=query)
    assert needle in str(info.value)


def test_a_route_without_a_body_refuses_one() -> None:
    with pytest.raises(BadRequest, match="takes no body"):
        build("GET", "/v1/members", mpb.ListMembersRequest, body=b'{"page_size": 1}')
