"""The Python SDK against a real phoenixd: Client and AsyncClient cover every RPC with typed
helpers, follow pages, raise PhoenixFlightError with the status code, and submit the seed's
envelope as a dict."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from phoenixflight import AsyncClient, Client, PhoenixFlightError
from phoenixflight_api.v1 import member_pb2, packet_pb2
from tests.daemon import PhoenixProcess


def test_the_sync_client_covers_the_api(daemon: PhoenixProcess) -> None:
    with Client(daemon.address) as pf:
        member, cred = pf.register_member("agent-a", "ocr@2", trust_score=0.9,
                                          labels={"region": "us-east"}, lease_ttl=30)
        pf.register_member("agent-b", "ocr@2", trust_score=0.5, cpu=2, memory=512)
        assert member.status == member_pb2.MEMBER_STATUS_ACTIVE and cred
        assert pf.heartbeat("agent-a", cred).incarnation == 1
        assert pf.get_member("agent-b").capacity.cpu == 2
        assert [m.member_id for m in pf.iter_members(page_size=1)] == ["agent-a", "agent-b"]
        assert pf.update_member("agent-b", labels={"tier": "gold"}).labels["tier"] == "gold"
        assert [c.name for c in pf.list_capabilities()] == ["ocr"]

        packet = pf.submit_packet({"packet_id": "fp-1", "required_capabilities": ["ocr@2"],
                                   "context_checkpoint": {"case_id": "C-1", "step": "start"}})
        assert (packet.current_owner, packet.epoch) == ("agent-a", 1)
        assert pf.explain_assignment("fp-1").winner == "agent-a"
        assert pf.get_handoff_key().algorithm == "Ed25519"
        pf.ack_packet("agent-a", cred, "fp-1", 1)
        saved = pf.save_checkpoint("agent-a", cred, "fp-1", 1, {"case_id": "C-1", "n": 2}, "two")
        assert saved.context_checkpoint.step == "two"
        done = pf.complete_packet("agent-a", cred, "fp-1", 1, {"ok": True})
        assert done.status == packet_pb2.PACKET_STATUS_COMPLETED
        pf.submit_packet({"packet_id": "fp-2", "required_capabilities": ["ocr@2"]})
        moved = pf.handoff_packet("fp-2", reason="test")
        assert moved.epoch == 2
        assert pf.cancel_packet("fp-2").status == packet_pb2.PACKET_STATUS_CANCELLED
        assert [p.packet_id for p in pf.iter_packets(statuses=["completed"])] == ["fp-1"]

        types = [e.type for e in pf.iter_events(packet_id="fp-1", page_size=2)]
        assert types[0] == "packet_created" and types[-1] == "packet_completed"
        assert pf.verify_chain().ok
        assert pf.export_lineage(packet_id="fp-1").events
        first = next(iter(pf.watch_events(after_sequence=0)))
        assert first.sequence == 1
        change = next(iter(pf.watch_members(after_revision=0)))
        assert change.member.member_id == "agent-a"
        assert pf.drain_member("agent-b").status == member_pb2.MEMBER_STATUS_RETIRED
        assert pf.retire_member("agent-a").status == member_pb2.MEMBER_STATUS_RETIRED

        with pytest.raises(PhoenixFlightError) as info:
            pf.get_member("ghost")
        assert info.value.code == grpc.StatusCode.NOT_FOUND
        with pytest.raises(ValueError, match="not a Flight Packet envelope"):
            pf.submit_packet({"packet_id": "fp-3", "no_such_field": 1})


def test_the_async_client_covers_the_api(daemon: PhoenixProcess) -> None:
    async def scenario() -> None:
        async with AsyncClient(daemon.address) as pf:
            _, cred = await pf.register_member("agent-a", "ocr", lease_ttl=30)
            assert (await pf.heartbeat("agent-a", cred)).status == member_pb2.MEMBER_STATUS_ACTIVE
            assert (await pf.list_members()).total_size == 1
            packet = await pf.submit_packet({"packet_id": "fp-1", "required_capabilities": ["ocr"]})
            assert packet.current_owner == "agent-a"
            watch = pf.watch_assignments("agent-a", cred)
            first = await anext(watch)
            assert first.assignment.packet.packet_id == "fp-1"
            assert (await anext(watch)).WhichOneof("kind") == "synced"
            await watch.aclose()
            await pf.ack_packet("agent-a", cred, "fp-1", 1)
            await pf.complete_packet("agent-a", cred, "fp-1", 1, {"ok": True})
            assert (await pf.get_packet("fp-1")).status == packet_pb2.PACKET_STATUS_COMPLETED
            events = pf.watch_events(after_sequence=0, types=["packet_completed"])
            assert (await anext(events)).packet_ids == ["fp-1"]
            await events.aclose()
            assert (await pf.verify_chain()).ok
            with pytest.raises(PhoenixFlightError) as info:
                await pf.get_packet("nope")
            assert info.value.code == grpc.StatusCode.NOT_FOUND

    asyncio.run(scenario())
