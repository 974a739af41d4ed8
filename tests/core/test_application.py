"""The application layer without a transport: commands answer once durable, the notice gate
holds an assignment until its event is durable, the session protocol renews, answers, says
goodbye and marks a lost stream SUSPECT, and queries and watches read the log through the
EventLog interface. The log here is in memory and becomes durable only when a test says so."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from phoenixd.core.application import Application, Broker, Durability, NoticeGate
from phoenixd.core.application.feeds import EventFilter
from phoenixd.core.application.sessions import Goodbye, Heartbeat, PacketAck
from phoenixd.core.cluster import Cluster
from phoenixd.core.dispatch import PacketSpec
from phoenixd.core.errors import InvalidArgument
from phoenixd.core.events import Event
from phoenixd.core.members import MemberKind, MemberStatus
from phoenixd.core.packets import Packet, PacketStatus
from phoenixd.core.recorder import Recorder
from phoenixd.core.registry import Registration
from phoenixd.core.scheduler import Scheduler
from phoenixd.core.state import ClusterState
from phoenixd.core.tokens import HandoffKeyInfo
from tests.core.packet_world import MONO_START, WALL_START, Clock, FakeSigner, ListSink

T = TypeVar("T")


class MemoryLog(ListSink):
    """An EventLog whose events become durable only on ``make_durable``."""

    def __init__(self) -> None:
        super().__init__()
        self.durable_sequence = 0
        self.on_durable: list[Any] = []
        self._changed = asyncio.Event()

    def make_durable(self) -> None:
        fresh = self.events[self.durable_sequence:]
        self.durable_sequence = len(self.events)
        for callback in self.on_durable:
            callback(fresh)
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_durable(self, sequence: int) -> None:
        while self.durable_sequence < sequence:
            await self._changed.wait()

    async def read(self, after: int, limit: int) -> list[Event]:
        return self.events[after:min(after + limit, self.durable_sequence)]

    async def verify(self) -> Any:
        raise NotImplementedError


@dataclass
class Listener:
    """A session listener that writes down what its member would hear."""

    member_id: str
    heard: list[tuple[str, Any]] = field(default_factory=list)

    def assigned(self, packet: Packet) -> None:
        self.heard.append(("assigned", (packet.packet_id, packet.epoch)))

    def revoked(self, packet_id: str, epoch: int, reason: str) -> None:
        self.heard.append(("revoked", (packet_id, epoch)))

    def drain_requested(self, reason: str) -> None:
        self.heard.append(("drain", reason))

    def close(self, reason: str) -> None:
        self.heard.append(("closed", reason))


@dataclass
class Stack:
    app: Application
    cluster: Cluster
    log: MemoryLog


def _stack() -> Stack:
    state, log = ClusterState(), MemoryLog()
    recorder = Recorder(log, state.apply, wall_clock=Clock(WALL_START))
    gate, broker = NoticeGate(), Broker()
    cluster = Cluster(
        state, recorder, Scheduler(state), FakeSigner(), notify_member=gate.notify,
        notify_packet=gate.deliver, monotonic=Clock(MONO_START), wall_clock=Clock(WALL_START),
    )
    app = Application(cluster, Durability(recorder, log), broker, gate,
                      HandoffKeyInfo(b"k", "pem", "fake:test"), "0.0.0-test")
    log.on_durable.append(app.made_durable)
    return Stack(app, cluster, log)


def _run(scenario: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(scenario, 10))


async def _settled(stack: Stack, call: Coroutine[Any, Any, T]) -> T:
    """Run a command, let it reach the durability wait, make the log durable, get the reply."""
    task = asyncio.ensure_future(call)
    await asyncio.sleep(0)
    assert not task.done(), "a command answered before its events were durable"
    stack.log.make_durable()
    return await task


def _registration(member_id: str, *capabilities: str) -> Registration:
    return Registration(member_id=member_id, kind=MemberKind.AGENT,
                        capabilities=capabilities, lease_ttl=10.0)


def test_a_command_answers_only_once_its_events_are_durable() -> None:
    async def scenario() -> None:
        stack = _stack()
        view, credential = await _settled(
            stack, stack.app.commands.register_member(_registration("m1", "ocr")))
        assert view.member.status is MemberStatus.ACTIVE and credential
        submitted = await _settled(
            stack, stack.app.commands.submit_packet(PacketSpec("p1", "doc", ("ocr",))))
        assert (submitted.packet.status, submitted.packet.owner) == (PacketStatus.ASSIGNED, "m1")
        assert submitted.warnings == ()
        waiting = await _settled(
            stack, stack.app.commands.submit_packet(PacketSpec("p2", "doc", ("teleport",))))
        assert waiting.packet.status is PacketStatus.PENDING
        assert waiting.warnings == (
            "no ACTIVE member offers teleport: the packet waits until a member that does "
            "registers or advertises it",)

    _run(scenario())


def test_the_gate_holds_an_assignment_until_its_event_is_durable() -> None:
    async def scenario() -> None:
        stack = _stack()
        _, credential = await _settled(
            stack, stack.app.commands.register_member(_registration("m1", "ocr")))
        listener = Listener("m1")
        session, opened = stack.app.sessions.open(listener, "m1", credential)
        assert opened.owned == []
        submitted = asyncio.ensure_future(
            stack.app.commands.submit_packet(PacketSpec("p1", "doc", ("ocr",))))
        await asyncio.sleep(0)
        assert listener.heard == []  # decided and recorded, not durable: nobody is told
        stack.log.make_durable()
        await submitted
        assert listener.heard == [("assigned", ("p1", 1))]
        # An ack over the session is a fenced write; a stale epoch is refused, the session
        # goes on.
        stack.app.sessions.receive(session, PacketAck("p1", 7))
        assert stack.cluster.get_packet("p1").status is PacketStatus.ASSIGNED
        stack.app.sessions.receive(session, PacketAck("p1", 1))
        assert stack.cluster.get_packet("p1").status is PacketStatus.RUNNING

    _run(scenario())


def test_a_session_answers_heartbeats_ends_with_goodbye_and_a_lost_one_is_suspect() -> None:
    async def scenario() -> None:
        stack = _stack()
        _, credential = await _settled(
            stack, stack.app.commands.register_member(_registration("m1")))
        listener = Listener("m1")
        session, _ = stack.app.sessions.open(listener, "m1", credential)
        member = stack.app.sessions.receive(session, Heartbeat())
        assert member is not None and member.status is MemberStatus.ACTIVE
        with pytest.raises(InvalidArgument):  # a goodbye reason is checked like any text
            stack.app.sessions.receive(session, Goodbye("x" * 100_000, retire=False))
        assert stack.app.sessions.receive(session, Goodbye("done", retire=False)) is None
        assert listener.heard == [("closed", "goodbye: done")]
        stack.app.sessions.close(session, closed_by_daemon=True)
        assert stack.cluster.get_member("m1").status is MemberStatus.ACTIVE

        lost, _ = stack.app.sessions.open(Listener("m1"), "m1", credential)
        stack.app.sessions.close(lost, closed_by_daemon=False)  # the stream broke
        assert stack.cluster.get_member("m1").status is MemberStatus.SUSPECT

    _run(scenario())


def test_queries_and_watches_read_the_durable_log() -> None:
    async def scenario() -> None:
        stack = _stack()
        await _settled(stack, stack.app.commands.register_member(_registration("m1", "ocr")))
        await _settled(stack, stack.app.commands.submit_packet(
            PacketSpec("p1", "doc", ("ocr",))))
        wanted = EventFilter.of(packet_id="p1")
        page = await stack.app.queries.query_events(wanted, size=1)
        assert [e.type for e in page.items] == ["packet_created"] and page.next_token
        rest = await stack.app.queries.query_events(wanted, page_token=page.next_token)
        assert [e.type for e in rest.items] == ["assignment_decision"]
        with pytest.raises(InvalidArgument, match="other filters"):
            await stack.app.queries.query_events(EventFilter.of(), page_token=page.next_token)

        feed = stack.app.watches.members("m1", after=0)
        event, member = await anext(feed)  # replayed from the log
        assert (event.type, member.member_id) == ("member_registered", "m1")
        live = asyncio.ensure_future(anext(feed))
        await asyncio.sleep(0)
        stack.cluster.retire("m1", "done")
        await asyncio.sleep(0)
        assert not live.done()  # recorded, not yet durable
        stack.log.make_durable()
        event, member = await live
        assert event.type == "member_retired" and member.status is MemberStatus.RETIRED

    _run(scenario())


def test_the_cluster_status_counts_members_and_packets_by_status() -> None:
    async def scenario() -> None:
        stack = _stack()
        for member_id in ("m1", "m2"):
            await _settled(stack, stack.app.commands.register_member(
                _registration(member_id, "ocr")))
        await _settled(stack, stack.app.commands.retire_member("m2", "gone"))
        for packet_id in ("p1", "p2"):
            await _settled(stack, stack.app.commands.submit_packet(
                PacketSpec(packet_id, "doc", ("ocr",))))
        await _settled(stack, stack.app.commands.cancel_packet("p2", "no longer needed"))
        status = await stack.app.queries.cluster_status()
        assert status.daemon_version == "0.0.0-test"
        assert status.revision == stack.cluster.state.revision
        assert status.members == {MemberStatus.ACTIVE: 1, MemberStatus.SUSPECT: 0,
                                  MemberStatus.FAILED: 0, MemberStatus.DRAINING: 0,
                                  MemberStatus.RETIRED: 1}
        assert {s: n for s, n in status.packets.items() if n} == {
            PacketStatus.ASSIGNED: 1, PacketStatus.CANCELLED: 1}

    _run(scenario())
