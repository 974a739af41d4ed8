"""Leases and sessions against a real phoenixd: a missed lease makes a member SUSPECT then
FAILED; a heartbeat in time brings it back; a broken session stream makes it SUSPECT at once;
a goodbye does not; re-registering after FAILED bumps the incarnation."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from phoenixflight_api.v1 import member_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc
from tests.conftest import register
from tests.daemon import PhoenixProcess

ACTIVE = member_pb2.MEMBER_STATUS_ACTIVE
SUSPECT = member_pb2.MEMBER_STATUS_SUSPECT
FAILED = member_pb2.MEMBER_STATUS_FAILED


@pytest.fixture
def quick(tmp_path: Path) -> Iterator[PhoenixProcess]:
    """A daemon whose SUSPECT members fail after 1 s of silence."""
    with PhoenixProcess(tmp_path / "data", "--suspect-grace", "1") as proc:
        yield proc


def status(d: PhoenixProcess, member_id: str) -> int:
    return d.members.GetMember(mpb.GetMemberRequest(member_id=member_id), timeout=10).member.status


def wait_for(d: PhoenixProcess, member_id: str, wanted: int, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if status(d, member_id) == wanted:
            return
        time.sleep(0.05)
    name = member_pb2.MemberStatus.Name(member_pb2.MemberStatus.ValueType(wanted))
    raise AssertionError(f"{member_id} did not become {name} within {within}s")


def test_missed_lease_goes_suspect_then_failed(quick: PhoenixProcess) -> None:
    register(quick, "quiet", ttl=1)
    wait_for(quick, "quiet", SUSPECT)
    wait_for(quick, "quiet", FAILED)
    member = quick.members.GetMember(mpb.GetMemberRequest(member_id="quiet")).member
    assert "grace" in member.status_reason


def test_heartbeat_in_time_brings_suspect_back(tmp_path: Path) -> None:
    with PhoenixProcess(tmp_path / "data", "--suspect-grace", "30") as d:
        cred = register(d, "flaky", ttl=1).credential
        wait_for(d, "flaky", SUSPECT)
        resp = d.members.Heartbeat(mpb.HeartbeatRequest(member_id="flaky", credential=cred))
        assert resp.status == ACTIVE
        assert status(d, "flaky") == ACTIVE


def test_heartbeats_keep_a_member_active(quick: PhoenixProcess) -> None:
    cred = register(quick, "steady", ttl=1).credential
    for _ in range(8):  # 2 s of heartbeats every 250 ms: twice the TTL
        quick.members.Heartbeat(mpb.HeartbeatRequest(member_id="steady", credential=cred))
        time.sleep(0.25)
    assert status(quick, "steady") == ACTIVE


def test_failed_member_must_register_again_with_a_new_incarnation(quick: PhoenixProcess) -> None:
    cred = register(quick, "phoenix", ttl=1).credential
    wait_for(quick, "phoenix", FAILED)
    with pytest.raises(grpc.RpcError) as info:
        quick.members.Heartbeat(mpb.HeartbeatRequest(member_id="phoenix", credential=cred))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    again = register(quick, "phoenix")
    assert again.member.incarnation == 2
    assert again.member.status == ACTIVE


def test_heartbeat_needs_the_members_credential(daemon: PhoenixProcess) -> None:
    register(daemon, "m")
    for credential in ("", "wrong"):
        with pytest.raises(grpc.RpcError) as info:
            daemon.members.Heartbeat(mpb.HeartbeatRequest(member_id="m", credential=credential))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


class Session:
    """A member's OpenSession stream driven from a test thread."""

    def __init__(
        self, d: PhoenixProcess, member_id: str, credential: str,
        stub: mem_grpc.MembershipServiceStub | None = None,
    ) -> None:
        self.outgoing: queue.Queue[mpb.OpenSessionRequest | None] = queue.Queue()
        self.outgoing.put(mpb.OpenSessionRequest(
            open=mpb.SessionOpen(member_id=member_id, credential=credential)))
        self.call = (stub or d.members).OpenSession(self._requests(), timeout=60)
        self.received: queue.Queue[mpb.OpenSessionResponse] = queue.Queue()
        self.error: grpc.RpcError | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _requests(self) -> Iterator[mpb.OpenSessionRequest]:
        while (message := self.outgoing.get()) is not None:
            yield message

    def _read(self) -> None:
        try:
            for message in self.call:
                self.received.put(message)
        except grpc.RpcError as exc:
            self.error = exc

    def next(self, timeout: float = 10.0) -> mpb.OpenSessionResponse:
        return self.received.get(timeout=timeout)

    def opened(self) -> mpb.OpenSessionResponse:
        """The `opened` message, after which the held assignments end with a synced marker."""
        first = self.next()
        assert first.WhichOneof("kind") == "opened", first
        while (message := self.next()).WhichOneof("kind") == "assignment":
            pass
        assert message.WhichOneof("kind") == "assignments_synced", message
        return first


def test_session_open_renews_and_a_lost_stream_is_suspect_at_once(daemon: PhoenixProcess) -> None:
    cred = register(daemon, "streamer", ttl=30).credential
    session = Session(daemon, "streamer", cred)
    opened = session.opened()
    assert opened.opened.member.session_open
    session.outgoing.put(mpb.OpenSessionRequest(heartbeat=mpb.SessionHeartbeat()))
    assert session.next().lease.status == ACTIVE
    session.call.cancel()  # the member vanishes without a goodbye
    wait_for(daemon, "streamer", SUSPECT, within=5)


def test_session_goodbye_leaves_the_member_active(daemon: PhoenixProcess) -> None:
    cred = register(daemon, "polite", ttl=30).credential
    session = Session(daemon, "polite", cred)
    session.opened()
    session.outgoing.put(mpb.OpenSessionRequest(goodbye=mpb.SessionGoodbye(reason="bye")))
    closing = session.next()
    assert closing.WhichOneof("kind") == "closing"
    session.outgoing.put(None)
    # The call's status arrives only after the daemon has handled the stream's end.
    assert session.call.code() == grpc.StatusCode.OK
    member = daemon.members.GetMember(mpb.GetMemberRequest(member_id="polite"), timeout=10).member
    assert not member.session_open
    assert member.status == ACTIVE


def test_a_newer_session_supersedes_the_old_one(daemon: PhoenixProcess) -> None:
    cred = register(daemon, "twice", ttl=30).credential
    first = Session(daemon, "twice", cred)
    first.opened()
    second = Session(daemon, "twice", cred)
    second.opened()
    closing = first.next()
    assert "superseded" in closing.closing.reason
    first.call.code()  # returns once the daemon has handled the old stream's end
    assert status(daemon, "twice") == ACTIVE  # the old stream's end is not a failure


def test_session_must_start_with_open(daemon: PhoenixProcess) -> None:
    call = daemon.members.OpenSession(
        iter([mpb.OpenSessionRequest(heartbeat=mpb.SessionHeartbeat())]), timeout=10)
    with pytest.raises(grpc.RpcError) as info:
        list(call)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_retiring_a_member_closes_its_session(daemon: PhoenixProcess) -> None:
    cred = register(daemon, "leaver", ttl=30).credential
    session = Session(daemon, "leaver", cred)
    session.opened()
    daemon.members.RetireMember(mpb.RetireMemberRequest(member_id="leaver"))
    assert session.next().closing.reason == "member retired"
    with pytest.raises(grpc.RpcError) as info:
        daemon.members.Heartbeat(mpb.HeartbeatRequest(member_id="leaver", credential=cred))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    session.outgoing.put(None)


def test_a_member_pinging_every_second_keeps_its_connection(daemon: PhoenixProcess) -> None:
    options = [
        ("grpc.keepalive_time_ms", 1000),
        ("grpc.keepalive_timeout_ms", 5000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]
    states: list[grpc.ChannelConnectivity] = []
    with grpc.insecure_channel(daemon.address, options=options) as channel:
        channel.subscribe(states.append)
        stub = mem_grpc.MembershipServiceStub(channel)
        cred = stub.RegisterMember(mpb.RegisterMemberRequest(member_id="pinger")).credential
        time.sleep(4)  # four idle keepalive pings: a strict server would answer GOAWAY
        resp = stub.Heartbeat(mpb.HeartbeatRequest(member_id="pinger", credential=cred))
        assert resp.status == ACTIVE
        channel.unsubscribe(states.append)
    ready = states.index(grpc.ChannelConnectivity.READY)
    assert set(states[ready:]) == {grpc.ChannelConnectivity.READY}  # never dropped


def test_a_second_open_on_a_session_is_invalid_argument(daemon: PhoenixProcess) -> None:
    cred = register(daemon, "confused", ttl=30).credential
    session = Session(daemon, "confused", cred)
    session.opened()
    session.outgoing.put(mpb.OpenSessionRequest(
        open=mpb.SessionOpen(member_id="confused", credential=cred)))
    session._reader.join(10)
    assert session.error is not None
    assert session.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "first message" in str(session.error.details())
    session.outgoing.put(None)


def test_goodbye_with_retire_is_a_clean_leave(daemon: PhoenixProcess) -> None:
    cred = register(daemon, "leaving", ttl=30).credential
    session = Session(daemon, "leaving", cred)
    session.opened()
    session.outgoing.put(mpb.OpenSessionRequest(
        goodbye=mpb.SessionGoodbye(reason="job done", retire=True)))
    assert session.next().WhichOneof("kind") == "closing"
    session.outgoing.put(None)
    member = daemon.members.GetMember(mpb.GetMemberRequest(member_id="leaving")).member
    assert member.status == member_pb2.MEMBER_STATUS_RETIRED
    assert member.status_reason == "job done"
