"""Held load against one phoenixd: member sessions heartbeating every second, plus operators.

One round: ``sessions`` members register and hold OpenSession streams, heartbeat once a
second, ack each assignment and complete it after a short random time; ``controls``
operator clients submit packets, get and list them, query the Flight Recorder, update
members and cancel packets, back to back, for ``seconds``; ``churn`` of the members drop
their stream mid-round without a goodbye (crashed workers: their packets are handed off).
The round then waits until every packet has finished, says goodbye to every session
(retiring its member) and reports latencies per kind of call, errors by status code, the
acked mutations per second, and every lease a live member lost.

Each round runs in a fresh process of its own, so that the daemon, not the client side of
the test, is what is loaded; meanwhile the caller samples the daemon's RSS, open fds and
threads from /proc. As a script it runs longer rounds against a phoenixd of its own:

    python -m tests.reliability.load_held --sessions 300 --controls 8 --seconds 300 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from phoenixflight.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight.v1 import flight_recorder_service_pb2_grpc as rec_grpc
from phoenixflight.v1 import member_pb2, packet_pb2
from phoenixflight.v1 import membership_service_pb2 as mpb
from phoenixflight.v1 import membership_service_pb2_grpc as mem_grpc
from phoenixflight.v1 import packet_service_pb2 as ppb
from phoenixflight.v1 import packet_service_pb2_grpc as pkt_grpc

__all__ = [
    "DESIGNED_CODES", "Held", "Plan", "Report", "Sample", "daemon_flags", "describe",
    "hold_rounds", "run_round", "sample", "show",
]

T = TypeVar("T")

CAPABILITY = "work"
# Calls that change state; each successful one is an acknowledged (fsynced) mutation.
MUTATIONS = frozenset({"submit", "update", "cancel", "ack", "complete"})
# The refusals this workload provokes by design: a cancel races the owner's complete, an
# update may find a dropped member FAILED, an owner may complete a packet just revoked from
# it. The daemon answers each with FAILED_PRECONDITION; any other code is a defect.
DESIGNED_CODES = frozenset({"FAILED_PRECONDITION"})
# What the operators do, with weights: mostly submits, then reads and the other writes.
OPERATIONS = {"submit": 6, "get": 2, "list": 2, "query": 2, "members": 1, "update": 2,
              "cancel": 2}
# Every client its own connection (a real deployment's members are separate processes),
# so the daemon's sockets rise and fall with the sessions.
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
CALL_TIMEOUT = 30.0
# Streams the daemon may hold beyond a round's sessions and its one audit follower. With
# --max-streams this tight, a stream the daemon forgot to count down would refuse the next
# round's sessions (RESOURCE_EXHAUSTED).
STREAM_MARGIN = 2
# Periodic snapshots off (one is still written at shutdown). A snapshot turns the whole
# state into documents and JSON at once, and the allocator keeps the high-water mark of
# that, which grows with the state: it would hide or fake the growth this load is measured
# for. Snapshots under load are what the kill -9 and failpoint suites exercise.
SNAPSHOT_EVERY = 10**9
LIVE = [packet_pb2.PACKET_STATUS_PENDING, packet_pb2.PACKET_STATUS_ASSIGNED,
        packet_pb2.PACKET_STATUS_RUNNING]


@dataclass(frozen=True)
class Plan:
    """One round of load."""

    address: str
    name: str = "r0"
    """Prefix of this round's packet ids (unique per round on one daemon)."""
    sessions: int = 50
    controls: int = 4
    seconds: float = 10.0
    churn: int = 3
    """Members that drop their stream mid-round without a goodbye."""
    lease_ttl: float = 5.0
    heartbeat_every: float = 1.0
    work: tuple[float, float] = (0.05, 0.5)
    """A member completes a packet this long (uniform) after acking it."""
    settle_timeout: float = 90.0
    """How long every packet may take to finish once the load stops."""
    seed: int = 0


def daemon_flags(plan: Plan) -> list[str]:
    """phoenixd flags for a plan: dropped members fail 1 s after their stream breaks (so
    their packets move within the round), streams are limited to just above the load, and
    snapshots are written only at shutdown."""
    return ["--suspect-grace", "1", "--max-streams", str(plan.sessions + 1 + STREAM_MARGIN),
            "--snapshot-every", str(SNAPSHOT_EVERY)]


def member_id(index: int) -> str:
    """The same ids every round: each round registers a new incarnation of each member."""
    return f"load-{index:04d}"


@dataclass
class Report:
    """What one round's clients saw."""

    window: float = 0.0
    """Seconds the operators ran."""
    latencies: dict[str, list[float]] = field(default_factory=dict)
    """Seconds per successful call, by kind ("heartbeat": a session beat to its lease reply)."""
    errors: dict[str, int] = field(default_factory=dict)
    """Failed calls by "kind CODE"."""
    mutations: int = 0
    """Successful mutations that completed inside the window."""
    submitted: int = 0
    events: int = 0
    """Flight Recorder events the round caused."""
    opened: int = 0
    """Sessions that opened and synced their assignments."""
    dropped: int = 0
    followed: int = 0
    """Events an operator tailing the audit received live."""
    lease_losses: list[str] = field(default_factory=list)
    """A live member made SUSPECT or FAILED, or told its lease was not ACTIVE."""
    session_problems: list[str] = field(default_factory=list)
    """Sessions not opened, or ended or told something other than the round intended."""
    stuck: list[str] = field(default_factory=list)
    """What was still unfinished settle_timeout after the load stopped."""

    def codes(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for key, n in self.errors.items():
            counts[key.rpartition(" ")[2]] += n
        return counts

    def undesigned(self) -> dict[str, int]:
        """Errors with a code this workload never provokes by design."""
        return {k: n for k, n in self.errors.items() if k.rpartition(" ")[2] not in DESIGNED_CODES}

    def rate(self) -> float:
        """Acked mutations per second of load."""
        return self.mutations / self.window if self.window else 0.0

    def percentile_ms(self, kind: str, q: float) -> float:
        """Nearest-rank percentile of one kind of call, in milliseconds."""
        values = sorted(self.latencies.get(kind, ()))
        return values[max(0, math.ceil(q * len(values)) - 1)] * 1000 if values else math.nan


# -- the clients (one asyncio loop, in the round's own process) ------------------------------


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


# -- one round ---------------------------------------------------------------------------


async def _round(plan: Plan) -> Report:
    report = Report()
    tally = Tally(report)
    rng = random.Random(plan.seed)
    async with grpc.aio.insecure_channel(plan.address, options=CHANNEL_OPTIONS) as channel:
        members = mem_grpc.MembershipServiceStub(channel)
        recorder = rec_grpc.FlightRecorderServiceStub(channel)
        start = await _revision(members)
        sessions = [MemberSession(plan, i, tally, random.Random(rng.random()))
                    for i in range(plan.sessions)]
        opened = await asyncio.gather(*(s.open() for s in sessions))
        report.opened = sum(opened)
        live = [s for s, ok in zip(sessions, opened, strict=True) if ok]
        feed = recorder.WatchEvents(rpb.WatchEventsRequest())  # live events only
        follower = asyncio.create_task(_follow(feed, tally))

        churned = rng.sample(live, min(plan.churn, len(live)))
        operators = [Operator(plan, i, tally, random.Random(rng.random()))
                     for i in range(plan.controls)]
        began = time.perf_counter()
        tally.window_open = True
        await asyncio.gather(
            *(o.run(began + plan.seconds) for o in operators),
            *(_drop_later(s, rng.uniform(0.2, 0.7) * plan.seconds) for s in churned))
        tally.window_open = False
        report.window = time.perf_counter() - began

        report.stuck = await _settle(channel, plan, [s.member_id for s in churned])
        await asyncio.gather(*(s.goodbye() for s in live if not s.dropped_at))
        feed.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        dropped = {s.member_id: s.dropped_at for s in churned}
        report.lease_losses += await _lease_losses(recorder, start, dropped)
        report.events = await _revision(members) - start
    return report


async def _revision(members: mem_grpc.MembershipServiceAsyncStub) -> int:
    """The daemon's durable revision now."""
    reply = await members.ListMembers(mpb.ListMembersRequest(page_size=1), timeout=CALL_TIMEOUT)
    return reply.revision


async def _drop_later(session: MemberSession, after: float) -> None:
    await asyncio.sleep(after)
    await session.drop()


async def _follow(feed: grpc.aio.UnaryStreamCall[rpb.WatchEventsRequest,
                                                 rpb.WatchEventsResponse],
                  tally: Tally) -> None:
    """An operator tailing the audit live for the whole round."""
    try:
        async for _ in feed:
            tally.report.followed += 1
    except grpc.aio.AioRpcError as exc:
        tally.error("follow", exc.code())


async def _settle(channel: grpc.aio.Channel, plan: Plan, churned: list[str]) -> list[str]:
    """Wait until every packet has finished and every dropped member is FAILED (so the
    next round can register it again); returns what is still unfinished at the deadline."""
    packets = pkt_grpc.PacketServiceStub(channel)
    members = mem_grpc.MembershipServiceStub(channel)
    deadline = time.monotonic() + plan.settle_timeout
    while True:
        reply = await packets.ListPackets(ppb.ListPacketsRequest(
            statuses=LIVE, page_size=20), timeout=CALL_TIMEOUT)
        unfinished = [f"packet {p.packet_id} {packet_pb2.PacketStatus.Name(p.status)}"
                      for p in reply.packets]
        for member in churned:
            got = await members.GetMember(mpb.GetMemberRequest(member_id=member),
                                          timeout=CALL_TIMEOUT)
            if got.member.status != member_pb2.MEMBER_STATUS_FAILED:
                status = member_pb2.MemberStatus.Name(got.member.status)
                unfinished.append(f"member {member} {status}")
        if not unfinished or time.monotonic() > deadline:
            return unfinished
        await asyncio.sleep(0.2)


async def _lease_losses(
    recorder: rec_grpc.FlightRecorderServiceAsyncStub, start: int, dropped: dict[str, float],
) -> list[str]:
    """The round's suspect/failed/recovered events that a live member should never get:
    only a member that dropped its stream may be SUSPECT, and only once it had dropped."""
    losses = []
    token = ""
    while True:
        reply = await recorder.QueryEvents(rpb.QueryEventsRequest(
            types=["member_suspect", "member_failed", "member_recovered"],
            after_sequence=start, page_size=1000, page_token=token), timeout=CALL_TIMEOUT)
        for event in reply.events:
            member = event.member_ids[0]
            at = event.time.seconds + event.time.nanos / 1e9
            if event.type == "member_recovered" or at < dropped.get(member, math.inf):
                losses.append(f"{member}: {event.type} at {event.sequence}: {event.reason}")
        token = reply.next_page_token
        if not token:
            return losses


def run_round(plan: Plan) -> Report:
    """One round, on an event loop of its own (what each round's process runs)."""
    return asyncio.run(_round(plan))


# -- the caller's side: rounds in other processes, the daemon sampled meanwhile ----------------


@dataclass(frozen=True)
class Sample:
    """The daemon process as /proc shows it."""

    rss_kb: int
    fds: int
    threads: int


def sample(pid: int) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return Sample(int(fields["VmRSS"].split()[0]), len(os.listdir(f"/proc/{pid}/fd")),
                  int(fields["Threads"]))


@dataclass(frozen=True)
class Held:
    """One round: what its clients saw, and the daemon during it (peaks) and after it."""

    report: Report
    during: Sample
    after: Sample


def hold_rounds(pid: int, plans: list[Plan], every: float = 0.5,
                settle: float = 30.0) -> tuple[Sample, list[Held]]:
    """Run the rounds one after another, each in a fresh process that exits after it (so
    no client connection outlives its round), sampling daemon ``pid`` every ``every``
    seconds. A round is over once its clients are done and the daemon's fds are back to
    where they were before it (closed connections are reaped a moment after the clients
    leave; at most ``settle`` seconds). Returns the sample before the first round, and
    each round."""
    held: list[Held] = []
    before = sample(pid)
    pool = ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1)
    with pool:
        for plan in plans:
            start = held[-1].after if held else before
            future = pool.submit(run_round, plan)
            during = [sample(pid)]
            while not wait([future], timeout=every).done:
                during.append(sample(pid))
            deadline = time.monotonic() + settle
            while (after := sample(pid)).fds > start.fds and time.monotonic() < deadline:
                time.sleep(0.1)
            peak = Sample(max(s.rss_kb for s in during), max(s.fds for s in during),
                          max(s.threads for s in during))
            held.append(Held(future.result(), peak, after))
    return before, held


def describe(report: Report) -> dict[str, str]:
    """The round's figures, by name."""
    figures = {
        "acked mutations/s": f"{report.rate():.0f} ({report.mutations} in {report.window:.1f} s, "
                             f"{report.submitted} packets, {report.dropped} members dropped)",
        "errors by code": ", ".join(f"{c} {n}" for c, n in sorted(report.codes().items()))
                          or "none",
        "audit events followed live": str(report.followed),
    }
    for kind in sorted(report.latencies):
        figures[f"{kind} p50/p99/max ms"] = (
            f"{report.percentile_ms(kind, 0.5):.1f} / {report.percentile_ms(kind, 0.99):.1f} / "
            f"{report.percentile_ms(kind, 1.0):.1f} ({len(report.latencies[kind])} calls)")
    return figures


def show(sample: Sample) -> str:
    return f"RSS {sample.rss_kb / 1024:.1f} MiB, {sample.fds} fds, {sample.threads} threads"


def main(argv: list[str] | None = None) -> int:
    from tests.daemon import PhoenixProcess

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=300)
    p.add_argument("--controls", type=int, default=8)
    p.add_argument("--seconds", type=float, default=120.0, help="load window per round")
    p.add_argument("--churn", type=int, default=10, help="members dropped per round")
    p.add_argument("--rounds", type=int, default=2, help="measured rounds after a warm-up")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        plan = Plan("", sessions=a.sessions, controls=a.controls, seconds=a.seconds,
                    churn=a.churn)
        daemon = PhoenixProcess(Path(tmp) / "data", *daemon_flags(plan), "--log-level",
                                "warning").start()
        try:
            assert daemon.proc is not None
            plans = [replace(plan, address=daemon.address, name=f"r{r}", seed=r,
                             seconds=plan.seconds if r else min(plan.seconds, 10.0))
                     for r in range(a.rounds + 1)]
            before, rounds = hold_rounds(daemon.proc.pid, plans)
        finally:
            daemon.stop()
    print(f"before: {show(before)}")
    for r, held in enumerate(rounds):
        print(f"round {r}{' (warm-up)' if not r else ''}:")
        for name, value in describe(held.report).items():
            print(f"  {name:<28} {value}")
        print(f"  {'daemon during (peaks)':<28} {show(held.during)}")
        print(f"  {'daemon after':<28} {show(held.after)}")
        for problem in (*held.report.undesigned(), *held.report.lease_losses,
                        *held.report.session_problems, *held.report.stuck):
            print(f"  PROBLEM: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
