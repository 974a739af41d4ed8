"""Namespaces against a real phoenixd: lifecycle, placement that never crosses one, filters on
every list, watch and query, quotas, and records that keep their namespace across a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import namespace_service_pb2 as npb
from phoenixflight_api.v1 import packet_pb2
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import envelope, packet_of
from tests.api.cli import js, phoenix
from tests.daemon import PhoenixProcess


def _refused(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value


def _create(d: PhoenixProcess, name: str, **quota: Any) -> npb.Namespace:
    return d.namespaces.CreateNamespace(npb.CreateNamespaceRequest(namespace=npb.Namespace(
        name=name, labels={"team": name}, quota=npb.NamespaceQuota(**quota))),
        timeout=10).namespace


def _register(d: PhoenixProcess, member_id: str, namespace: str = "", **fields: Any) -> str:
    return d.members.RegisterMember(mpb.RegisterMemberRequest(
        member_id=member_id, capabilities=["ocr"], namespace=namespace, **fields),
        timeout=10).credential


def _submit(d: PhoenixProcess, packet_id: str, namespace: str = "", **fields: Any
            ) -> packet_pb2.FlightPacket:
    return d.packets.SubmitPacket(ppb.SubmitPacketRequest(
        packet=envelope(packet_id, "ocr", namespace=namespace, **fields)), timeout=10).packet


def test_the_default_namespace_keeps_unqualified_calls_working(daemon: PhoenixProcess) -> None:
    _register(daemon, "w1")
    packet = _submit(daemon, "fp-1")
    assert packet.namespace == "default" and packet.current_owner == "w1"
    listed = daemon.namespaces.ListNamespaces(npb.ListNamespacesRequest(), timeout=10)
    assert [n.name for n in listed.namespaces] == ["default"]
    assert listed.namespaces[0].usage.members == 1 and listed.namespaces[0].usage.packets == 1
    deleted = _refused(lambda: daemon.namespaces.DeleteNamespace(
        npb.DeleteNamespaceRequest(name="default"), timeout=10))
    assert deleted.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_placement_never_crosses_a_namespace(daemon: PhoenixProcess) -> None:
    _create(daemon, "billing")
    _register(daemon, "default-worker")  # offers ocr, but in the default namespace
    packet = _submit(daemon, "fp-b", "billing")
    assert packet.status == packet_pb2.PACKET_STATUS_PENDING
    explained = daemon.packets.ExplainAssignment(
        ppb.ExplainAssignmentRequest(packet_id="fp-b"), timeout=10)
    assert "no ACTIVE member offers ocr" in explained.decision.explanation
    handoff = _refused(lambda: daemon.packets.HandoffPacket(ppb.HandoffPacketRequest(
        packet_id="fp-b", target_member_id="default-worker"), timeout=10))
    assert handoff.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "other_namespace" in (handoff.details() or "")
    _register(daemon, "billing-worker", "billing")
    assert packet_of(daemon, "fp-b").current_owner == "billing-worker"


def test_lists_watches_and_queries_filter_by_namespace(daemon: PhoenixProcess) -> None:
    _create(daemon, "billing")
    _register(daemon, "w-default")
    _register(daemon, "w-billing", "billing")
    _submit(daemon, "fp-d")
    _submit(daemon, "fp-b", "billing")
    members = daemon.members.ListMembers(mpb.ListMembersRequest(namespace="billing"), timeout=10)
    assert [(m.member_id, m.namespace) for m in members.members] == [("w-billing", "billing")]
    assert members.total_size == 1
    every = daemon.members.ListMembers(mpb.ListMembersRequest(), timeout=10)
    assert {m.member_id for m in every.members} == {"w-default", "w-billing"}
    packets = daemon.packets.ListPackets(ppb.ListPacketsRequest(namespace="default"), timeout=10)
    assert [p.packet_id for p in packets.packets] == ["fp-d"]
    caps = daemon.members.ListCapabilities(
        mpb.ListCapabilitiesRequest(namespace="billing"), timeout=10)
    assert [p.member_id for c in caps.capabilities for p in c.providers] == ["w-billing"]
    events = daemon.recorder.QueryEvents(rpb.QueryEventsRequest(namespace="billing"), timeout=10)
    assert events.events and {e.namespace for e in events.events} == {"billing"}
    assert {"namespace_created", "member_registered", "packet_created"} <= {
        e.type for e in events.events}
    watch = daemon.members.WatchMembers(
        mpb.WatchMembersRequest(after_revision=0, namespace="billing"), timeout=3)
    seen = []
    with pytest.raises(grpc.RpcError):  # the deadline ends the watch
        for change in watch:
            seen.append(change.member.member_id)
    assert seen and set(seen) == {"w-billing"}
    bad = _refused(lambda: daemon.members.ListMembers(
        mpb.ListMembersRequest(namespace="Not_A_Label"), timeout=10))
    assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT and "namespace" in (bad.details() or "")


def test_quotas_refuse_with_the_quota_and_the_usage(daemon: PhoenixProcess) -> None:
    _create(daemon, "small", members=1, packets=2, cpu=1.5)
    _register(daemon, "w1", "small")
    over = _refused(lambda: _register(daemon, "w2", "small"))
    assert over.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "quota members=1 (in use: 1" in (over.details() or "")
    _submit(daemon, "fp-1", "small", demand=packet_pb2.Demand(cpu=1.0))
    cpu = _refused(lambda: _submit(daemon, "fp-2", "small", demand=packet_pb2.Demand(cpu=1.0)))
    assert cpu.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "quota cpu=1.5 (in use: 1" in (cpu.details() or "")
    _submit(daemon, "fp-3", "small")
    packets = _refused(lambda: _submit(daemon, "fp-4", "small"))
    assert "quota packets=2 (in use: 2" in (packets.details() or "")
    assert _refused(lambda: packet_of(daemon, "fp-4")).code() == grpc.StatusCode.NOT_FOUND
    daemon.namespaces.UpdateNamespace(npb.UpdateNamespaceRequest(
        namespace=npb.Namespace(name="small", quota=npb.NamespaceQuota(packets=3)),
        update_mask=FieldMask(paths=["quota"])), timeout=10)
    _submit(daemon, "fp-4", "small")  # room now (and cpu is unbounded)


def test_lifecycle_and_clear_refusals(daemon: PhoenixProcess) -> None:
    created = _create(daemon, "billing")
    assert created.labels["team"] == "billing" and created.revision > 0
    again = _refused(lambda: _create(daemon, "billing"))
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS
    missing = _refused(lambda: _register(daemon, "w1", "nowhere"))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    assert "phoenix namespace create nowhere" in (missing.details() or "")
    invalid = _refused(lambda: _create(daemon, "Bad Name"))
    assert invalid.code() == grpc.StatusCode.INVALID_ARGUMENT
    mask = _refused(lambda: daemon.namespaces.UpdateNamespace(npb.UpdateNamespaceRequest(
        namespace=npb.Namespace(name="billing"), update_mask=FieldMask(paths=["name"])),
        timeout=10))
    assert mask.code() == grpc.StatusCode.INVALID_ARGUMENT
    _register(daemon, "w1", "billing")
    busy = _refused(lambda: daemon.namespaces.DeleteNamespace(
        npb.DeleteNamespaceRequest(name="billing"), timeout=10))
    assert busy.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "1 live member(s)" in (busy.details() or "")
    daemon.members.RetireMember(mpb.RetireMemberRequest(member_id="w1"), timeout=10)
    daemon.namespaces.DeleteNamespace(npb.DeleteNamespaceRequest(name="billing"), timeout=10)
    gone = _refused(lambda: daemon.namespaces.GetNamespace(
        npb.GetNamespaceRequest(name="billing"), timeout=10))
    assert gone.code() == grpc.StatusCode.NOT_FOUND
    types = [e.type for e in daemon.recorder.QueryEvents(
        rpb.QueryEventsRequest(namespace="billing"), timeout=10).events]
    assert types[0] == "namespace_created" and types[-1] == "namespace_deleted"


def test_namespaces_survive_a_restart_and_a_kill(daemon: PhoenixProcess) -> None:
    _create(daemon, "billing", packets=5)
    _register(daemon, "w1", "billing")
    _submit(daemon, "fp-1", "billing")
    daemon.stop()  # a snapshot at shutdown
    daemon.start()
    got = daemon.namespaces.GetNamespace(npb.GetNamespaceRequest(name="billing"), timeout=10)
    assert got.namespace.quota.packets == 5 and got.namespace.usage.packets == 1
    _submit(daemon, "fp-2", "billing")
    daemon.kill()  # replay of the journal tail
    daemon.start()
    assert packet_of(daemon, "fp-2").namespace == "billing"
    got = daemon.namespaces.GetNamespace(npb.GetNamespaceRequest(name="billing"), timeout=10)
    assert got.namespace.usage.packets == 2 and got.namespace.usage.members == 1


def test_the_cli_creates_scopes_and_deletes(daemon: PhoenixProcess) -> None:
    created = js(daemon, "namespace", "create", "billing", "--label", "team=payments",
                 "--max-packets", "1", "--max-cpu", "4")
    assert created["name"] == "billing" and created["quota"]["packets"] == "1"
    phoenix(daemon, "member", "register", "--ttl", "3600", "w1", "--cap", "ocr",
            "--namespace", "billing")
    phoenix(daemon, "packet", "submit", "fp-1", "--cap", "ocr", "--namespace", "billing")
    full = phoenix(daemon, "packet", "submit", "fp-2", "--cap", "ocr", "--namespace", "billing",
                   expect=1)
    assert "RESOURCE_EXHAUSTED" in full.stderr and "quota packets=1" in full.stderr
    phoenix(daemon, "packet", "submit", "fp-d", "--cap", "ocr")  # the default namespace
    listed = js(daemon, "packet", "list", "--namespace", "billing")
    assert [p["packet_id"] for p in listed] == ["fp-1"]
    table = phoenix(daemon, "namespace", "list").stdout
    assert "billing" in table and "1/1" in table and "default" in table
    updated = js(daemon, "namespace", "update", "billing", "--max-members", "3")
    assert updated["quota"]["members"] == "3" and updated["quota"]["packets"] == "1"  # kept
    busy = phoenix(daemon, "namespace", "delete", "billing", expect=1)
    assert "FAILED_PRECONDITION" in busy.stderr
    bad = phoenix(daemon, "member", "list", "--namespace", "No_Such", expect=2)
    assert "--namespace" in bad.stderr
