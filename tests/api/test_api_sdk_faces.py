"""Client and AsyncClient are two faces of one client: every RPC of phoenixflight.v1 has a
method on both, the two have the same public methods with the same docstrings, and the helpers
once found on one face only (paging iterators, the session stream) work on the other too."""

from __future__ import annotations

import asyncio
import inspect
import queue
import re
from collections.abc import Iterator
from types import ModuleType

import pytest

from phoenixflight import AsyncClient, Client
from phoenixflight_api.v1 import (
    cluster_service_pb2,
    flight_recorder_service_pb2,
    membership_service_pb2,
    packet_service_pb2,
)
from tests.daemon import PhoenixProcess

SERVICES: tuple[ModuleType, ...] = (
    cluster_service_pb2, flight_recorder_service_pb2, membership_service_pb2, packet_service_pb2,
)
# RPCs a client face does not offer as a method of the same name, with the reason.
EXCEPTIONS: dict[str, str] = {}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def rpc_names() -> list[str]:
    return sorted(
        f"{service.full_name}.{method.name}"
        for module in SERVICES
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    )


def public_methods(cls: type) -> set[str]:
    return {name for name, value in vars(cls).items()
            if callable(value) and not name.startswith("_")}


@pytest.mark.parametrize("face", [Client, AsyncClient], ids=["sync", "async"])
@pytest.mark.parametrize("rpc", rpc_names())
def test_every_rpc_has_a_method_on_both_faces(face: type, rpc: str) -> None:
    name = snake(rpc.rsplit(".", 1)[1])
    if rpc in EXCEPTIONS:
        pytest.skip(EXCEPTIONS[rpc])
    assert callable(getattr(face, name, None)), f"{face.__name__} has no {name}() for {rpc}"


def test_the_faces_have_the_same_methods_and_docstrings() -> None:
    assert len(rpc_names()) >= 26  # the descriptors were read, not an empty list
    assert public_methods(Client) == public_methods(AsyncClient)
    for name in public_methods(Client):
        assert inspect.getdoc(getattr(Client, name)) == inspect.getdoc(getattr(AsyncClient, name))


def test_the_async_face_follows_pages(daemon: PhoenixProcess) -> None:
    async def scenario() -> None:
        async with AsyncClient(daemon.address) as pf:
            for n in range(3):
                await pf.register_member(f"agent-{n}", "ocr", lease_ttl=30)
                await pf.submit_packet({"packet_id": f"fp-{n}", "required_capabilities": ["ocr"]})
            members = [m.member_id async for m in pf.iter_members(page_size=1)]
            assert members == ["agent-0", "agent-1", "agent-2"]
            packets = [p.packet_id async for p in pf.iter_packets(page_size=2)]
            assert sorted(packets) == ["fp-0", "fp-1", "fp-2"]
            types = [e.type async for e in pf.iter_events(packet_id="fp-1", page_size=1)]
            assert types[0] == "packet_created" and len(types) > 1

    asyncio.run(scenario())


def test_the_sync_face_holds_a_session(daemon: PhoenixProcess) -> None:
    with Client(daemon.address) as pf:
        _, cred = pf.register_member("agent-s", "ocr", lease_ttl=30)
        outgoing: queue.Queue[membership_service_pb2.OpenSessionRequest | None] = queue.Queue()
        outgoing.put(membership_service_pb2.OpenSessionRequest(
            open=membership_service_pb2.SessionOpen(member_id="agent-s", credential=cred)))

        def requests() -> Iterator[membership_service_pb2.OpenSessionRequest]:
            while (item := outgoing.get(timeout=30)) is not None:
                yield item

        session = pf.open_session(requests())
        try:
            assert next(session).WhichOneof("kind") == "opened"
            pf.submit_packet({"packet_id": "fp-s", "required_capabilities": ["ocr"]})
            kinds = []
            for message in session:  # ends at the assignment; bounded by the daemon's replies
                kinds.append(message.WhichOneof("kind"))
                if kinds[-1] == "assignment":
                    assert message.assignment.packet.packet_id == "fp-s"
                    break
            assert "assignment" in kinds
        finally:
            outgoing.put(None)
            close = getattr(session, "close", None)
            if close is not None:
                close()
