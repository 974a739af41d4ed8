"""Security over every method, enumerated from the service descriptors (rpc_catalog.py).

A new RPC cannot slip past: the first test fails for a served method the matrix does not
classify, or that the daemon's guard classifies otherwise. Then, per class, the designed refusal
for every method of it, against a real phoenixd with operator auth on:

- operator methods without the token, or with a wrong one: UNAUTHENTICATED, nothing recorded;
  open methods (health, reflection, GetHandoffKey) answer with no credential at all;
- member-side methods without a credential, with another member's, a retired member's or a
  replaced incarnation's: UNAUTHENTICATED, the packet untouched;
- member A on member B's packet: PERMISSION_DENIED, the packet unchanged, a stale_owner_rejected
  event in the Flight Recorder; an epoch from before a handoff: FAILED_PRECONDITION, likewise;
- a message above --max-message-bytes: RESOURCE_EXHAUSTED, the daemon still SERVING;
- past --max-concurrent-rpcs (unary) and --max-streams: RESOURCE_EXHAUSTED at once, within a
  deadline (a refusal, not a queue), and the daemon healthy afterwards.

tests/api/test_api_security.py checks a few of these on one method each; this goes over all.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from phoenixd.server import interceptors
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_pb2
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import envelope, event_data, wait_until
from tests.daemon import PhoenixProcess, operator_token_args
from tests.reliability.rpc_catalog import (
    ACCESS,
    CATALOG,
    NOT_SERVED,
    PACKAGE,
    Access,
    Outcome,
    Rpc,
    call,
    fill,
    member_request,
    served_services,
)
from tests.reliability.soak import figure

TOKEN = "matrix-operator-token"
BEARER = (("authorization", f"Bearer {TOKEN}"),)
# Leases outlast the module: no member may turn SUSPECT or FAILED under a test's feet.
LEASE = Duration(seconds=3600)
# Long enough for a loaded machine; a refusal comes back in milliseconds.
DEADLINE = 10.0

OPERATOR_RPCS = [r for r in CATALOG if ACCESS.get(r.path) is Access.OPERATOR]
OPEN_RPCS = [r for r in CATALOG if ACCESS.get(r.path) is Access.OPEN]
MEMBER_RPCS = [r for r in CATALOG if ACCESS.get(r.path) is Access.MEMBER]


def _fenced(rpc: Rpc) -> bool:
    """A member-side write on one packet: carries (packet_id, epoch) and is fenced by it."""
    fields = rpc.request.DESCRIPTOR.fields_by_name
    return "packet_id" in fields and "epoch" in fields


PACKET_RPCS = [r for r in MEMBER_RPCS if _fenced(r)]


# -- the world: one secured daemon, a few members and packets ----------------------------


@dataclass(frozen=True)
class Member:
    member_id: str
    credential: str


@dataclass
class World:
    d: PhoenixProcess
    alpha: Member  # owns "alpha-own"
    bravo: Member  # owns "bravo-own"; with charlie, takes "pair" packets
    charlie: Member
    retiree: Member  # owned "retiree-own", then was retired
    superseded: Member  # the credential of an incarnation replaced since

    @property
    def channel(self) -> grpc.Channel:
        assert self.d.channel is not None
        return self.d.channel

    def submit(self, packet_id: str, *caps: str) -> packet_pb2.FlightPacket:
        return self.d.packets.SubmitPacket(ppb.SubmitPacketRequest(
            packet=envelope(packet_id, *caps)), metadata=BEARER, timeout=DEADLINE).packet

    def packet(self, packet_id: str) -> packet_pb2.FlightPacket:
        return self.d.packets.GetPacket(
            ppb.GetPacketRequest(packet_id=packet_id), metadata=BEARER, timeout=DEADLINE).packet

    def rejections(self, packet_id: str) -> list[rpb.Event]:
        """stale_owner_rejected events about one packet, oldest first."""
        return list(self.d.recorder.QueryEvents(rpb.QueryEventsRequest(
            types=["stale_owner_rejected"], packet_id=packet_id, page_size=1000),
            metadata=BEARER, timeout=DEADLINE).events)

    def head(self) -> int:
        return self.d.recorder.QueryEvents(
            rpb.QueryEventsRequest(page_size=1), metadata=BEARER, timeout=DEADLINE
        ).head_sequence

    def member_call(
        self, rpc: Rpc, member: Member, *, packet_id: str = "", epoch: int = 0,
        metadata: tuple[tuple[str, str], ...] | None = None,
    ) -> Outcome:
        values = {"member_id": member.member_id, "credential": member.credential,
                  "packet_id": packet_id, "epoch": epoch, "reason": "matrix", "step": "matrix"}
        # A session is read to its end (its goodbye), a watch only to its first answer.
        return call(self.channel, rpc, member_request(rpc, values), metadata=metadata,
                    timeout=DEADLINE, max_responses=50 if rpc.client_streaming else 1)


def register(d: PhoenixProcess, member_id: str, *caps: str, credential: str = "") -> Member:
    reply = d.members.RegisterMember(mpb.RegisterMemberRequest(
        member_id=member_id, capabilities=list(caps), lease_ttl=LEASE, credential=credential),
        metadata=BEARER, timeout=DEADLINE)
    return Member(member_id, reply.credential)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("matrix")
    with PhoenixProcess(root / "data", *operator_token_args(root, TOKEN)) as d:
        old = register(d, "superseded")
        register(d, "superseded", credential=old.credential)  # a new incarnation replaces it
        w = World(d, alpha=register(d, "alpha", "alpha-only"),
                  bravo=register(d, "bravo", "bravo-only", "pair"),
                  charlie=register(d, "charlie", "pair"),
                  retiree=register(d, "retiree", "retiree-only"), superseded=old)
        for packet_id, cap in (("alpha-own", "alpha-only"), ("bravo-own", "bravo-only"),
                               ("retiree-own", "retiree-only")):
            w.submit(packet_id, cap)
        d.members.RetireMember(mpb.RetireMemberRequest(member_id="retiree"),
                               metadata=BEARER, timeout=DEADLINE)
        assert w.packet("alpha-own").current_owner == "alpha"
        assert w.packet("bravo-own").current_owner == "bravo"
        assert w.packet("retiree-own").status == packet_pb2.PACKET_STATUS_PENDING
        yield w


# -- the matrix is complete ----------------------------------------------------------------


def test_every_served_method_is_classified_as_the_daemon_guards_it(world: World) -> None:
    """A method missing from ACCESS, or guarded otherwise by the daemon, fails here."""
    paths = {rpc.path for rpc in CATALOG}
    assert paths - ACCESS.keys() == set(), "served methods the matrix does not classify"
    assert ACCESS.keys() - paths == set(), "classified methods that no descriptor declares"
    by_access = {a: {p for p, x in ACCESS.items() if x is a} for a in Access}
    assert by_access[Access.MEMBER] == interceptors.MEMBER_METHODS
    assert by_access[Access.OPEN] == interceptors.OPEN_METHODS
    # The daemon serves exactly the catalog's services: none it does not enumerate.
    services = {rpc.method.containing_service.full_name for rpc in CATALOG}
    assert served_services(world.channel) == services
    assert any(s.startswith(PACKAGE) for s in services)
    assert PACKET_RPCS, "no fenced member-side writes found: the catalog is broken"
    figure("methods in the security matrix", f"{len(CATALOG)}: " + ", ".join(
        f"{len(by_access[a])} {a.value}" for a in Access))


# -- operator methods -------------------------------------------------------------------------


def _plausible(rpc: Rpc, w: World) -> Message:
    """A request that would change or reveal something if it got past auth."""
    return fill(rpc.request(), {
        "member_id": w.alpha.member_id, "packet_id": "alpha-own", "target_member_id": "charlie",
        "reason": "matrix", "lineage_id": "lin-alpha-own", "after_sequence": 0,
    })


@pytest.mark.parametrize("rpc", OPERATOR_RPCS, ids=str)
def test_operator_method_refuses_a_missing_or_wrong_token(rpc: Rpc, world: World) -> None:
    head = world.head()
    refused_with = [
        None,
        (("authorization", "Bearer wrong-token"),),
        (("authorization", f"Bearer {world.alpha.credential}"),),  # a member's credential
        (("authorization", TOKEN),),  # no scheme
        (("authorization", f"Basic {TOKEN}"),),
        (("x-api-key", TOKEN),),
    ]
    for metadata in refused_with:
        outcome = call(world.channel, rpc, _plausible(rpc, world), metadata=metadata,
                       timeout=DEADLINE)
        assert outcome.code == grpc.StatusCode.UNAUTHENTICATED, (metadata, outcome)
    assert world.head() == head, "a refused operator call recorded something"
    assert world.packet("alpha-own").current_owner == "alpha"
    # The same method with the token gets past auth (to validation, or to an answer).
    allowed = call(world.channel, rpc, rpc.request(), metadata=BEARER, timeout=1.0)
    assert allowed.code != grpc.StatusCode.UNAUTHENTICATED, allowed


@pytest.mark.parametrize("rpc", OPEN_RPCS, ids=str)
def test_open_method_answers_without_any_credential(rpc: Rpc, world: World) -> None:
    request = [rpc.request()] if rpc.client_streaming else rpc.request()
    outcome = call(world.channel, rpc, request, timeout=DEADLINE, max_responses=1)
    if rpc.path in NOT_SERVED:
        assert outcome.code == grpc.StatusCode.UNIMPLEMENTED, outcome
        return
    assert outcome.code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED), outcome
    assert outcome.responses, outcome


# -- member-side methods ----------------------------------------------------------------------


@pytest.mark.parametrize("rpc", MEMBER_RPCS, ids=str)
def test_member_method_refuses_missing_foreign_retired_and_replaced_credentials(
    rpc: Rpc, world: World
) -> None:
    w = world
    before = {p: w.packet(p) for p in ("alpha-own", "retiree-own")}
    alpha_on = {"packet_id": "alpha-own", "epoch": before["alpha-own"].epoch}
    cases: list[tuple[str, Member, dict[str, Any], tuple[tuple[str, str], ...] | None]] = [
        ("no credential", Member("alpha", ""), alpha_on, None),
        ("no credential, operator token", Member("alpha", ""), alpha_on, BEARER),
        ("operator token as credential", Member("alpha", TOKEN), alpha_on, None),
        ("another member's credential", Member("alpha", w.bravo.credential), alpha_on, None),
        ("posing as another member", Member("bravo", w.alpha.credential), alpha_on, None),
        ("unknown member", Member("ghost", w.alpha.credential), alpha_on, None),
        ("retired member", w.retiree, {"packet_id": "retiree-own", "epoch": 1}, None),
        ("replaced incarnation", w.superseded, alpha_on, None),
    ]
    for label, member, target, metadata in cases:
        outcome = w.member_call(rpc, member, metadata=metadata, **target)
        assert outcome.code == grpc.StatusCode.UNAUTHENTICATED, (label, outcome)
    assert {p: w.packet(p) for p in before} == before, "a refused call changed a packet"
    # The member's own credential gets past auth: to the epoch fence for packet writes.
    own = w.member_call(rpc, w.alpha, packet_id="alpha-own", epoch=before["alpha-own"].epoch + 7)
    if _fenced(rpc):
        assert own.code == grpc.StatusCode.FAILED_PRECONDITION, own
    else:
        assert own.code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED), own
        assert own.responses, own


def _assert_refusals_recorded(
    w: World, packet_id: str, seen: int, refused: list[tuple[Member, str]]
) -> None:
    """Exactly one stale_owner_rejected per refused call, naming the caller and the call."""
    events = w.rejections(packet_id)[seen:]
    assert [(e.actor, event_data(e)["call"]) for e in events] == [
        (f"member:{m.member_id}", name) for m, name in refused
    ]


@pytest.mark.parametrize("rpc", PACKET_RPCS, ids=str)
def test_member_acting_on_another_members_packet_is_denied_unchanged_and_recorded(
    rpc: Rpc, world: World
) -> None:
    w = world
    before = w.packet("bravo-own")
    seen = len(w.rejections("bravo-own"))
    outcome = w.member_call(rpc, w.alpha, packet_id="bravo-own", epoch=before.epoch)
    assert outcome.code == grpc.StatusCode.PERMISSION_DENIED, outcome
    assert w.packet("bravo-own") == before
    _assert_refusals_recorded(w, "bravo-own", seen, [(w.alpha, rpc.name)])


@pytest.mark.parametrize("rpc", PACKET_RPCS, ids=str)
def test_an_epoch_from_before_a_handoff_is_refused_unchanged_and_recorded(
    rpc: Rpc, world: World
) -> None:
    w = world
    packet_id = f"handoff-{rpc.name.lower()}"
    first = w.submit(packet_id, "pair")
    old_owner = w.bravo if first.current_owner == "bravo" else w.charlie
    new_owner = w.charlie if old_owner is w.bravo else w.bravo
    moved = w.d.packets.HandoffPacket(ppb.HandoffPacketRequest(
        packet_id=packet_id, target_member_id=new_owner.member_id, reason="matrix"),
        metadata=BEARER, timeout=DEADLINE).packet
    assert (moved.current_owner, moved.epoch) == (new_owner.member_id, first.epoch + 1)
    before, seen = w.packet(packet_id), len(w.rejections(packet_id))
    for member in (old_owner, new_owner):  # the stale epoch, from either side of the handoff
        outcome = w.member_call(rpc, member, packet_id=packet_id, epoch=first.epoch)
        assert outcome.code == grpc.StatusCode.FAILED_PRECONDITION, (member, outcome)
    assert w.packet(packet_id) == before
    _assert_refusals_recorded(w, packet_id, seen, [(old_owner, rpc.name), (new_owner, rpc.name)])


def test_a_session_ack_for_another_members_packet_is_recorded_and_the_session_goes_on(
    world: World,
) -> None:
    """OpenSession carries acks too: refused ones change nothing, are recorded, end nothing."""
    w = world
    (session,) = [r for r in MEMBER_RPCS if r.client_streaming and r.server_streaming]
    before, seen = w.packet("bravo-own"), len(w.rejections("bravo-own"))
    requests = [
        mpb.OpenSessionRequest(open=mpb.SessionOpen(member_id="alpha",
                                                    credential=w.alpha.credential)),
        mpb.OpenSessionRequest(packet_ack=mpb.PacketAck(packet_id="bravo-own",
                                                        epoch=before.epoch)),
        mpb.OpenSessionRequest(heartbeat=mpb.SessionHeartbeat()),
        mpb.OpenSessionRequest(goodbye=mpb.SessionGoodbye(reason="matrix")),
    ]
    outcome = call(w.channel, session, requests, timeout=DEADLINE, max_responses=50)
    assert outcome.code == grpc.StatusCode.OK, outcome
    kinds = [r.WhichOneof("kind") for r in outcome.responses]
    assert "lease" in kinds, kinds  # the heartbeat after the refused ack was answered
    assert kinds[-1] == "closing", kinds
    assert w.packet("bravo-own") == before
    _assert_refusals_recorded(w, "bravo-own", seen, [(w.alpha, "AckPacket")])


# -- message size and concurrency limits ------------------------------------------------------

SMALL_LIMIT = 16 * 1024


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def padded(rpc: Rpc, size: int) -> bytes:
    """An empty request plus an unknown length-delimited field: ``size`` bytes on the wire."""
    tag = _varint((9999 << 3) | 2)
    body = size - len(tag) - 3
    return rpc.request().SerializeToString() + tag + _varint(body) + b"x" * body


def _serving(channel: grpc.Channel) -> bool:
    stub = health_pb2_grpc.HealthStub(channel)
    check = stub.Check(health_pb2.HealthCheckRequest(), timeout=DEADLINE)  # type: ignore[attr-defined]
    return bool(check.status == health_pb2.HealthCheckResponse.SERVING)


def _chain_ok(d: PhoenixProcess) -> bool:
    return d.recorder.VerifyChain(rpb.VerifyChainRequest(), timeout=DEADLINE).ok


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoenixProcess]:
    root = tmp_path_factory.mktemp("small")
    with PhoenixProcess(root / "data", "--max-message-bytes", str(SMALL_LIMIT)) as d:
        yield d


@pytest.mark.parametrize("rpc", CATALOG, ids=str)
def test_oversized_request_is_resource_exhausted_and_the_daemon_stays_healthy(
    rpc: Rpc, small: PhoenixProcess
) -> None:
    assert small.channel is not None
    request = padded(rpc, SMALL_LIMIT + 1024)
    outcome = call(small.channel, rpc, request, timeout=DEADLINE)
    assert outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED, outcome
    assert _serving(small.channel)
    # Under the limit the same padding is just an unknown field, ignored.
    handoff_key = next(r for r in CATALOG if ACCESS[r.path] is Access.OPEN and not r.streaming
                       and r.path.startswith(f"/{PACKAGE}"))
    assert call(small.channel, handoff_key, padded(handoff_key, SMALL_LIMIT - 1024)).code == (
        grpc.StatusCode.OK)
    member_id = f"after-{rpc.name.lower()}-{CATALOG.index(rpc)}"
    reply = small.members.RegisterMember(mpb.RegisterMemberRequest(member_id=member_id),
                                         timeout=DEADLINE)
    assert reply.member.member_id == member_id
    assert _chain_ok(small)


# Every journal fsync takes this long in the `limited` daemon, so one write holds the only
# unary slot while the other methods are tried against the limit.
HOLD_MS = 3000


@dataclass
class Limited:
    d: PhoenixProcess
    holders: Iterator[int]
    holder: grpc.Future[Any] | None = None

    @property
    def channel(self) -> grpc.Channel:
        assert self.d.channel is not None
        return self.d.channel

    def _start_holder(self) -> grpc.Future[Any]:
        register = self.d.members.RegisterMember.future
        request = mpb.RegisterMemberRequest(member_id=f"holder-{next(self.holders)}")
        future: grpc.Future[Any] = register(request, timeout=60)
        return future

    def hold_the_unary_slot(self) -> grpc.Future[Any]:
        """A write in flight (sleeping in fsync) that holds the one unary slot."""
        probe = next(r for r in CATALOG if r.path == "/grpc.health.v1.Health/Check")

        def held() -> grpc.Future[Any] | None:
            if self.holder is None or self.holder.done():
                self.holder = self._start_holder()
            refused = call(self.channel, probe, probe.request(), timeout=DEADLINE).code == (
                grpc.StatusCode.RESOURCE_EXHAUSTED)
            return self.holder if refused and not self.holder.done() else None

        return wait_until(held, within=60)  # type: ignore[no-any-return]

    def release(self) -> None:
        """Wait for the holder to end (whichever way), giving the unary slot back."""
        if self.holder is not None:
            self.holder.exception(timeout=60)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    root = tmp_path_factory.mktemp("limited")
    failpoint = {"PHOENIX_FAILPOINTS": f"journal.before_fsync=sleep:{HOLD_MS}"}
    with PhoenixProcess(root / "data", "--max-concurrent-rpcs", "1", "--max-streams", "1",
                        env=failpoint) as d:
        limits = Limited(d, itertools.count())
        yield limits
        if limits.holder is not None:
            limits.holder.cancel()


UNARY_RPCS = [r for r in CATALOG if not r.streaming]
REFUSAL_MS: list[float] = []


@pytest.mark.parametrize("rpc", UNARY_RPCS, ids=str)
def test_past_the_unary_limit_every_method_is_refused_at_once(
    rpc: Rpc, limited: Limited
) -> None:
    for _ in range(5):  # the holder may finish between the check and the call: hold again
        holder = limited.hold_the_unary_slot()
        started = time.monotonic()
        outcome = call(limited.channel, rpc, rpc.request(), timeout=DEADLINE)
        elapsed_ms = (time.monotonic() - started) * 1000
        if outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            REFUSAL_MS.append(elapsed_ms)
            assert "in flight" in outcome.details, outcome
            break
        assert holder.done(), f"{rpc} got {outcome} while the only slot was held"
    else:
        pytest.fail(f"{rpc} was never tried while the slot was held")
    if len(REFUSAL_MS) == len(UNARY_RPCS):
        figure("unary refusals past --max-concurrent-rpcs",
               f"{len(REFUSAL_MS)} methods, median {statistics.median(REFUSAL_MS):.1f} ms, "
               f"max {max(REFUSAL_MS):.1f} ms (deadline {DEADLINE:g} s)")


def test_past_the_stream_limit_streams_are_refused_at_once_and_probes_stay_open(
    limited: Limited,
) -> None:
    channel = limited.channel
    limited.release()  # the unary probe below must not meet a held unary slot
    watch_events = next(r for r in CATALOG if r.name == "WatchEvents")
    hold = channel.unary_stream(
        watch_events.path, request_serializer=rpb.WatchEventsRequest.SerializeToString,
        response_deserializer=rpb.WatchEventsResponse.FromString,
    )(rpb.WatchEventsRequest(after_sequence=0), timeout=120)
    next(hold)  # the replay began: the watch is open and holds the one stream slot
    try:
        for rpc in (r for r in CATALOG if r.server_streaming):
            requests: Message | list[Message] = [rpc.request()] if rpc.client_streaming else (
                rpc.request())
            outcome = call(channel, rpc, requests, timeout=DEADLINE, max_responses=1)
            if ACCESS[rpc.path] is Access.OPEN:  # health and reflection: never limited
                assert outcome.code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED), outcome
                assert outcome.responses, (rpc, outcome)
            else:
                assert outcome.code == grpc.StatusCode.RESOURCE_EXHAUSTED, (rpc, outcome)
                assert "streams open" in outcome.details, outcome
    finally:
        hold.cancel()
    # The slot is given back when the holder goes.

    def reopened() -> bool:
        again = call(channel, watch_events, rpb.WatchEventsRequest(after_sequence=0),
                     timeout=DEADLINE, max_responses=1)
        return again.cut and bool(again.responses)

    assert wait_until(reopened, within=30)
    assert _serving(channel)


def test_the_limited_daemon_is_healthy_after_the_refusals(limited: Limited) -> None:
    limited.release()
    assert wait_until(lambda: _serving(limited.channel), within=30)
    assert _chain_ok(limited.d)
    assert limited.d.proc is not None and limited.d.proc.poll() is None

