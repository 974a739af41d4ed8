"""Results read as names, not numbers: the SDK's status() and enum_name() on what a real
phoenixd returns, and on a value this SDK does not know."""

from __future__ import annotations

from phoenixflight import Client, enum_name, status
from phoenixflight_api.v1 import member_pb2
from tests.conftest import register
from tests.daemon import PhoenixProcess


def test_statuses_and_enums_print_as_names(daemon: PhoenixProcess) -> None:
    register(daemon, "ocr-1", "ocr")
    with Client(daemon.address) as pf:
        member = pf.get_member("ocr-1")
        packet = pf.submit_packet({"packet_id": "doc-1", "required_capabilities": ["ocr"]})
    assert (status(member), enum_name(member, "kind")) == ("ACTIVE", "AGENT")
    assert (status(packet), enum_name(packet, "strategy")) == ("ASSIGNED", "TRUST")
    newer = member_pb2.MemberStatus.ValueType(99)  # a value a newer daemon may send
    assert status(member_pb2.Member(status=newer)) == "99"
