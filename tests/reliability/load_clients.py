"""The clients of a held-load round: members holding sessions, and operators.

They run on one asyncio loop in the round's own process (see load_held.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import flight_recorder_service_pb2_grpc as rec_grpc
from phoenixflight_api.v1 import member_pb2, packet_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from phoenixflight_api.v1 import packet_service_pb2_grpc as pkt_grpc
from tests.reliability.load_plan import (
    CALL_TIMEOUT,
    CAPABILITY,
    CHANNEL_OPTIONS,
    LIVE,
    MUTATIONS,
    OPERATIONS,
    Plan,
    Report,
    member_id,
)

__all__ = ["MemberSession", "Operator", "Tally"]

T = TypeVar("T")



class Tally:
    """Times and counts every call of a round."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.window_open = False

    def latency(self, kind: str, seconds: float) -> None:
        self.report.latencies.setdefault(kind, []).append(seconds)

    def error(self, kind: str, code: grpc.StatusCode) -> None:
        key = f"{kind} {code.name}"
        self.report.errors[key] = self.report.errors.get(key, 0) + 1

    async def call(self, kind: str, start: Callable[[], Awaitable[T]]) -> T | None:
        """Run one unary call; None (and an error counted) if it was refused."""
        began = time.perf_counter()
        try:
            reply = await start()
        except grpc.aio.AioRpcError as exc:
            self.error(kind, exc.code())
            return None
        self.latency(kind, time.perf_counter() - began)
        if kind in MUTATIONS and self.window_open:
            self.report.mutations += 1
        return reply


class MemberSession:
    """One member: its own connection, a session stream, and the packets it works on."""

    def __init__(self, plan: Plan, index: int, tally: Tally, rng: random.Random) -> None:
        self.plan, self.tally, self.rng = plan, tally, rng
        self.member_id = member_id(index)
        self.channel = grpc.aio.insecure_channel(plan.address, options=CHANNEL_OPTIONS)
        self.members = mem_grpc.MembershipServiceStub(self.channel)
        self.packets = pkt_grpc.PacketServiceStub(self.channel)
        self.credential = ""
        self.call: grpc.aio.StreamStreamCall[mpb.OpenSessionRequest,
                                             mpb.OpenSessionResponse] | None = None
        self.work: dict[str, tuple[int, asyncio.Task[None]]] = {}  # packet -> (epoch, task)
        self.beats_sent: deque[float] = deque()  # sent, their lease reply not yet in
        self.synced = asyncio.Event()
        self.stopping = asyncio.Event()
        self.dropped_at = 0.0  # wall clock; 0 while the member is live
        self.closing = ""
        self._tasks: list[asyncio.Task[None]] = []  # the reader and the heartbeat

    async def open(self) -> bool:
        """Register, open the session, and wait until it has synced its assignments."""
        request = mpb.RegisterMemberRequest(
            member_id=self.member_id, capabilities=[CAPABILITY], labels={"zone": "z0"})
        request.lease_ttl.FromNanoseconds(int(self.plan.lease_ttl * 1e9))
        registered = await self.tally.call(
            "register", lambda: self.members.RegisterMember(request, timeout=CALL_TIMEOUT))
        if registered is None:
            await self.channel.close()
            return False
        self.credential = registered.credential
        self.call = self.members.OpenSession()
        await self.call.write(mpb.OpenSessionRequest(open=mpb.SessionOpen(
            member_id=self.member_id, credential=self.credential)))
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._beat())]
        synced = asyncio.create_task(self.synced.wait())
        await asyncio.wait([synced, self._tasks[0]], timeout=CALL_TIMEOUT,
                           return_when=asyncio.FIRST_COMPLETED)
        synced.cancel()
        if not self.synced.is_set():  # refused (the reader counted it) or never answered
            self.tally.report.session_problems.append(f"{self.member_id}: session not opened")
            await self._end(cancel=True)
            return False
        return True

    async def _beat(self) -> None:
        assert self.call is not None
        while not self.stopping.is_set():
            self.beats_sent.append(time.perf_counter())
            try:
                await self.call.write(mpb.OpenSessionRequest(heartbeat=mpb.SessionHeartbeat()))
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                return  # the stream ended; the reader says how
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.plan.heartbeat_every)

    async def _read(self) -> None:
        assert self.call is not None
        try:
            while (message := await self.call.read()) is not grpc.aio.EOF:
                assert isinstance(message, mpb.OpenSessionResponse)
                self._on(message)
        except grpc.aio.AioRpcError as exc:
            if not self.dropped_at:  # a dropped member's stream ends CANCELLED, by our hand
                self.tally.error("session", exc.code())

    def _on(self, message: mpb.OpenSessionResponse) -> None:
        kind = message.WhichOneof("kind")
        if kind == "lease":
            if self.beats_sent:  # one lease reply per beat, in order
                self.tally.latency("heartbeat", time.perf_counter() - self.beats_sent.popleft())
            if message.lease.status != member_pb2.MEMBER_STATUS_ACTIVE:
                status = member_pb2.MemberStatus.Name(message.lease.status)
                self.tally.report.lease_losses.append(f"{self.member_id}: lease reply {status}")
        elif kind == "assignment":
            packet_id, epoch = message.assignment.packet.packet_id, message.assignment.epoch
            if self.work.get(packet_id, (0,))[0] < epoch:
                self.work[packet_id] = (epoch, asyncio.create_task(self._work(packet_id, epoch)))
        elif kind == "revocation":
            current = self.work.get(message.revocation.packet_id)
            if current is not None and current[0] <= message.revocation.epoch:
                current[1].cancel()
        elif kind == "assignments_synced":
            self.synced.set()
        elif kind == "closing":
            self.closing = message.closing.reason
        elif kind == "drain_request":
            self.tally.report.session_problems.append(f"{self.member_id}: asked to drain")

    async def _work(self, packet_id: str, epoch: int) -> None:
        ack = ppb.AckPacketRequest(member_id=self.member_id, credential=self.credential,
                                   packet_id=packet_id, epoch=epoch)
        done = ppb.CompletePacketRequest(member_id=self.member_id, credential=self.credential,
                                         packet_id=packet_id, epoch=epoch)
        try:
            if await self.tally.call("ack", lambda: self.packets.AckPacket(
                    ack, timeout=CALL_TIMEOUT)) is not None:
                await asyncio.sleep(self.rng.uniform(*self.plan.work))
                await self.tally.call("complete", lambda: self.packets.CompletePacket(
                    done, timeout=CALL_TIMEOUT))
        finally:
            if self.work.get(packet_id, (0,))[0] == epoch:
                del self.work[packet_id]

    async def drop(self) -> None:
        """Crash: the stream breaks without a goodbye and the member goes quiet."""
        self.dropped_at = time.time()
        self.tally.report.dropped += 1
        await self._end(cancel=True)

    async def goodbye(self) -> None:
        """A clean leave: stop beating, say goodbye (retiring the member), read to the end."""
        await self._end(cancel=False)
        # Retiring the member is what closes the session, so the closing may say either.
        if self.closing not in ("member retired", "goodbye: load round over"):
            self.tally.report.session_problems.append(
                f"{self.member_id}: closed with {self.closing!r}, not the goodbye")

    async def _end(self, *, cancel: bool) -> None:
        self.stopping.set()
        for _, task in self.work.values():
            task.cancel()
        await asyncio.gather(*(t for _, t in self.work.values()), return_exceptions=True)
        reader, beats = self._tasks
        await asyncio.wait_for(beats, CALL_TIMEOUT)  # its last beat is written
        assert self.call is not None
        if cancel:
            self.call.cancel()
        else:
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                # (A stream that already ended: the reader counted how, the closing shows it.)
                await self.call.write(mpb.OpenSessionRequest(goodbye=mpb.SessionGoodbye(
                    reason="load round over", retire=True)))
                await self.call.done_writing()
        await asyncio.wait_for(asyncio.gather(reader, return_exceptions=True), CALL_TIMEOUT)
        # grpc keeps a channel's connection open while a call of it is still referenced,
        # closed channel or not: let go of the stream first.
        self.call, self._tasks = None, []
        await self.channel.close()


class Operator:
    """One control client: a closed loop of operator calls until the window ends."""

    def __init__(self, plan: Plan, index: int, tally: Tally, rng: random.Random) -> None:
        self.plan, self.index, self.tally, self.rng = plan, index, tally, rng
        self.channel = grpc.aio.insecure_channel(plan.address, options=CHANNEL_OPTIONS)
        self.members = mem_grpc.MembershipServiceStub(self.channel)
        self.packets = pkt_grpc.PacketServiceStub(self.channel)
        self.recorder = rec_grpc.FlightRecorderServiceStub(self.channel)
        self.mine: list[tuple[str, int]] = []  # (packet id, revision it was created at)
        self.head = 0  # the newest revision seen

    async def run(self, until: float) -> None:
        actions: dict[str, Callable[[int], Awaitable[None]]] = {
            "submit": self._submit, "get": self._get, "list": self._list, "query": self._query,
            "members": self._members, "update": self._update, "cancel": self._cancel,
        }
        n = 0
        while time.perf_counter() < until:
            kind = self.rng.choices(list(OPERATIONS), list(OPERATIONS.values()))[0]
            await actions[kind if self.mine else "submit"](n)  # the rest need a packet
            n += 1
        await self.channel.close()

    def _some_packet(self) -> tuple[str, int]:
        return self.rng.choice(self.mine[-50:])  # recent ones: the live part of the work

    async def _submit(self, n: int) -> None:
        packet_id = f"{self.plan.name}-c{self.index}-{n}"
        checkpoint = packet_pb2.ContextCheckpoint(step="start")
        checkpoint.state.update({"round": self.plan.name, "n": n})
        packet = packet_pb2.FlightPacket(
            packet_id=packet_id, workload_type="load", required_capabilities=[CAPABILITY],
            context_checkpoint=checkpoint, handoff=packet_pb2.HandoffPolicy(allowed=True))
        reply = await self.tally.call("submit", lambda: self.packets.SubmitPacket(
            ppb.SubmitPacketRequest(packet=packet), timeout=CALL_TIMEOUT))
        if reply is not None:
            self.mine.append((packet_id, reply.packet.revision))
            self.tally.report.submitted += 1

    async def _get(self, n: int) -> None:
        request = ppb.GetPacketRequest(packet_id=self._some_packet()[0])
        await self.tally.call("get", lambda: self.packets.GetPacket(
            request, timeout=CALL_TIMEOUT))

    async def _list(self, n: int) -> None:
        owner = member_id(self.rng.randrange(self.plan.sessions)) if n % 2 else ""
        request = ppb.ListPacketsRequest(page_size=50, statuses=LIVE, owner=owner)
        await self.tally.call("list", lambda: self.packets.ListPackets(
            request, timeout=CALL_TIMEOUT))

    async def _query(self, n: int) -> None:
        """The audit: one packet's events since it was created, or the log's tail."""
        if n % 2:
            packet_id, created = self._some_packet()
            request = rpb.QueryEventsRequest(packet_id=packet_id, after_sequence=created - 1,
                                             page_size=20)
        else:
            request = rpb.QueryEventsRequest(after_sequence=max(0, self.head - 50), page_size=50)
        reply = await self.tally.call("query", lambda: self.recorder.QueryEvents(
            request, timeout=CALL_TIMEOUT))
        if reply is not None:
            self.head = reply.head_sequence

    async def _members(self, n: int) -> None:
        await self.tally.call("members", lambda: self.members.ListMembers(
            mpb.ListMembersRequest(page_size=100), timeout=CALL_TIMEOUT))

    async def _update(self, n: int) -> None:
        member = member_pb2.Member(member_id=member_id(self.rng.randrange(self.plan.sessions)))
        if n % 2:
            member.labels["zone"] = f"z{n % 3}"
        else:
            member.trust_score = self.rng.uniform(0.3, 0.9)
        request = mpb.UpdateMemberRequest(
            member=member, update_mask=FieldMask(paths=["labels" if n % 2 else "trust_score"]))
        await self.tally.call("update", lambda: self.members.UpdateMember(
            request, timeout=CALL_TIMEOUT))

    async def _cancel(self, n: int) -> None:
        request = ppb.CancelPacketRequest(packet_id=self._some_packet()[0], reason="load")
        await self.tally.call("cancel", lambda: self.packets.CancelPacket(
            request, timeout=CALL_TIMEOUT))
