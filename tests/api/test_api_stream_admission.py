"""Stream admission against a real phoenixd: sessions that never send their `open` message wait
in a budget of their own and cannot take the --max-streams slots, so an operator watch and a
real member session still open; past that budget the stream that waited longest is closed with
RESOURCE_EXHAUSTED; a silent session is closed with DEADLINE_EXCEEDED after --auth-deadline;
Health/Watch and reflection streams are bounded by --max-probe-streams."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from tests.api.agents import wait_until
from tests.daemon import PhoenixProcess, operator_token_args

TOKEN = "stream-admission-token"
BEARER = (("authorization", f"Bearer {TOKEN}"),)
SILENT_BUDGET = 4
# Long enough that no silent session of the first test times out while it runs.
LONG_DEADLINE = 120


class Streams:
    """Sessions and watches opened by one test, each ended (by the daemon or at clean-up)."""

    def __init__(self, d: PhoenixProcess) -> None:
        self.d = d
        self.stop = threading.Event()
        self.calls: list[Any] = []
        self.ended: queue.Queue[Any] = queue.Queue()

    def _requests(self, *first: mpb.OpenSessionRequest) -> Iterator[mpb.OpenSessionRequest]:
        yield from first
        self.stop.wait(LONG_DEADLINE)  # then say nothing more until the test ends

    def _track(self, call: Any) -> Any:
        self.calls.append(call)
        call.add_done_callback(self.ended.put)
        return call

    def silent_session(self) -> Any:
        """An OpenSession that never sends a message."""
        return self._track(self.d.members.OpenSession(self._requests(), timeout=LONG_DEADLINE))

    def member_session(self, member_id: str, credential: str) -> Any:
        opening = mpb.OpenSessionRequest(
            open=mpb.SessionOpen(member_id=member_id, credential=credential))
        return self._track(
            self.d.members.OpenSession(self._requests(opening), timeout=LONG_DEADLINE))

    def next_ended(self) -> Any:
        return self.ended.get(timeout=60)

    def close(self) -> None:
        for call in self.calls:
            call.cancel()
        self.stop.set()


@pytest.fixture
def streams(tmp_path: Path) -> Iterator[Streams]:
    with PhoenixProcess(
        tmp_path / "data", *operator_token_args(tmp_path, TOKEN), "--max-streams", "2",
        "--max-unauthenticated-streams", str(SILENT_BUDGET),
        "--auth-deadline", str(LONG_DEADLINE),
    ) as d:
        s = Streams(d)
        try:
            yield s
        finally:
            s.close()


def test_silent_sessions_do_not_lock_out_operators_and_members(streams: Streams) -> None:
    d = streams.d
    credential = d.members.RegisterMember(
        mpb.RegisterMemberRequest(member_id="m1"), metadata=BEARER, timeout=10).credential
    # More silent sessions than --max-streams, and one more than their own budget.
    for _ in range(SILENT_BUDGET + 1):
        streams.silent_session()
    evicted = streams.next_ended()  # the others are now waiting inside the daemon
    assert evicted.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, evicted
    assert "waiting to authenticate" in (evicted.details() or ""), evicted.details()
    assert streams.ended.empty()

    watch = d.recorder.WatchEvents(rpb.WatchEventsRequest(after_sequence=0), metadata=BEARER,
                                   timeout=LONG_DEADLINE)
    assert next(watch).event.sequence == 1
    session = streams.member_session("m1", credential)
    assert next(session).WhichOneof("kind") == "opened"

    # The two slots are the watch's and the session's: the silent sessions hold none.
    more = d.members.WatchMembers(mpb.WatchMembersRequest(), metadata=BEARER, timeout=30)
    with pytest.raises(grpc.RpcError) as info:
        next(more)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "streams open" in (info.value.details() or "")
    watch.cancel()


def test_a_session_that_sends_nothing_is_closed_after_the_auth_deadline(
    tmp_path: Path,
) -> None:
    with PhoenixProcess(tmp_path / "data", "--auth-deadline", "1") as d:
        streams = Streams(d)
        try:
            streams.silent_session()
            ended = streams.next_ended()
        finally:
            streams.close()
        assert ended.code() == grpc.StatusCode.DEADLINE_EXCEEDED, ended
        assert "no first message within 1s" in (ended.details() or ""), ended.details()


def test_health_watch_and_reflection_streams_are_bounded(tmp_path: Path) -> None:
    with PhoenixProcess(tmp_path / "data", "--max-probe-streams", "2") as d:
        assert d.channel is not None
        health = health_pb2_grpc.HealthStub(d.channel)
        held = [health.Watch(health_pb2.HealthCheckRequest(), timeout=120)  # type: ignore[attr-defined]
                for _ in range(2)]
        for watch in held:
            assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as info:
            next(health.Watch(health_pb2.HealthCheckRequest(), timeout=30))  # type: ignore[attr-defined]
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "health and reflection streams" in (info.value.details() or "")
        reflect: Any = reflection_pb2_grpc.ServerReflectionStub(d.channel)
        listing = reflection_pb2.ServerReflectionRequest(list_services="")
        with pytest.raises(grpc.RpcError) as info:
            next(reflect.ServerReflectionInfo(iter([listing]), timeout=30))
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        # The unary probe stays open, and a slot comes back when a watch goes.
        check = health.Check(health_pb2.HealthCheckRequest(), timeout=10)  # type: ignore[attr-defined]
        assert check.status == health_pb2.HealthCheckResponse.SERVING
        held.pop().cancel()

        def reflection_answers() -> bool:
            try:
                return bool(next(reflect.ServerReflectionInfo(iter([listing]), timeout=10)))
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, exc
                return False

        assert wait_until(reflection_answers, within=30)
        for watch in held:
            watch.cancel()
