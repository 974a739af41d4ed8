"""Feeds against a real phoenixd: WatchMembers and WatchEvents replay from a revision and then
follow live changes; a watcher resumed from its last revision misses and repeats nothing; a
watcher that stops reading is cut off with RESOURCE_EXHAUSTED and can resume."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

import grpc
import pytest

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import flight_recorder_service_pb2_grpc as rec_grpc
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from tests.api.agents import probe_until_delivered
from tests.conftest import register
from tests.daemon import PhoenixProcess

T = TypeVar("T")


def take(stream: Iterable[object], n: int) -> list[object]:
    out = []
    for item in stream:
        out.append(item)
        if len(out) == n:
            break
    return out


def pumped(call: Iterable[T]) -> queue.Queue[T]:
    """The stream's items as a thread reads them, so a test can wait on each with a timeout."""
    received: queue.Queue[T] = queue.Queue()

    def pump() -> None:
        try:
            for item in call:
                received.put(item)
        except grpc.RpcError:
            pass

    threading.Thread(target=pump, daemon=True).start()
    return received

def test_watch_members_resumed_from_a_revision_misses_and_repeats_nothing(
    daemon: PhoenixProcess,
) -> None:
    for i in range(5):
        register(daemon, f"w{i}")
    first = daemon.members.WatchMembers(mpb.WatchMembersRequest(after_revision=0), timeout=30)
    seen = take(first, 3)
    first.cancel()
    last = seen[-1].revision  # type: ignore[attr-defined]

    # Changes made while nobody watches.
    for i in range(5, 8):
        register(daemon, f"w{i}")
    daemon.members.RetireMember(mpb.RetireMemberRequest(member_id="w0"))

    resumed = daemon.members.WatchMembers(mpb.WatchMembersRequest(after_revision=last), timeout=30)
    rest = take(resumed, 6)
    resumed.cancel()
    got = [(m.member.member_id, m.event_type) for m in seen + rest]  # type: ignore[attr-defined]
    assert got == [(f"w{i}", "member_registered") for i in range(8)] + [("w0", "member_retired")]
    revisions = [m.revision for m in seen + rest]  # type: ignore[attr-defined]
    assert revisions == sorted(set(revisions))


def test_watch_members_follows_live_changes_after_replay(daemon: PhoenixProcess) -> None:
    register(daemon, "before")
    call = daemon.members.WatchMembers(mpb.WatchMembersRequest(after_revision=0), timeout=30)
    received = pumped(call)
    assert received.get(timeout=10).member.member_id == "before"
    register(daemon, "after")
    live = received.get(timeout=10)
    assert (live.member.member_id, live.event_type) == ("after", "member_registered")
    call.cancel()


def test_watch_members_without_a_revision_streams_only_new_changes(daemon: PhoenixProcess) -> None:
    register(daemon, "old")
    call = daemon.members.WatchMembers(mpb.WatchMembersRequest(), timeout=30)
    received = pumped(call)
    first = probe_until_delivered(lambda name: register(daemon, name), received)
    seen = [first.member.member_id]
    register(daemon, "new")
    while seen[-1] != "new":
        seen.append(received.get(timeout=10).member.member_id)
    call.cancel()
    assert "old" not in seen
    assert all(m.startswith("probe") for m in seen[:-1])


def test_watch_events_filters_by_type_and_resumes_by_sequence(daemon: PhoenixProcess) -> None:
    register(daemon, "e1", "ocr")
    register(daemon, "e2")
    call = daemon.recorder.WatchEvents(
        rpb.WatchEventsRequest(after_sequence=0, types=["capability_discovered"]), timeout=30
    )
    (event,) = take(call, 1)
    call.cancel()
    assert event.event.type == "capability_discovered"  # type: ignore[attr-defined]
    assert list(event.event.member_ids) == ["e1"]  # type: ignore[attr-defined]
    everything = daemon.recorder.WatchEvents(rpb.WatchEventsRequest(after_sequence=0), timeout=30)
    events = [e.event for e in take(everything, 4)]  # type: ignore[attr-defined]
    everything.cancel()
    assert [e.sequence for e in events] == [1, 2, 3, 4]
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(events))


def test_bad_watch_requests_are_invalid_argument(daemon: PhoenixProcess) -> None:
    for call in (
        daemon.members.WatchMembers(mpb.WatchMembersRequest(after_revision=-1), timeout=10),
        daemon.members.WatchMembers(mpb.WatchMembersRequest(member_id="Not Valid"), timeout=10),
        daemon.recorder.WatchEvents(rpb.WatchEventsRequest(after_sequence=-5), timeout=10),
    ):
        with pytest.raises(grpc.RpcError) as info:
            list(call)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_watcher_that_stops_reading_is_cut_off_and_can_resume(tmp_path: Path) -> None:
    # A tiny queue so that a few hundred large events overflow it quickly.
    with PhoenixProcess(tmp_path / "data", "--watch-queue-limit", "8") as d:
        # Without BDP probing the client keeps HTTP/2's 64 KiB window, so a reader that
        # stops pulling really stops the server's sends instead of being buffered for.
        slow_channel = grpc.insecure_channel(d.address, options=[("grpc.http2.bdp_probe", 0)])
        stalled = rec_grpc.FlightRecorderServiceStub(slow_channel).WatchEvents(
            rpb.WatchEventsRequest(), timeout=60
        )
        next_event = iter(stalled)
        register(d, "first")
        first = next(next_event).event
        # Big events (64 long labels each) fill the transport's buffers and then our queue.
        labels = {f"label-{i:02d}": "v" * 60 for i in range(64)}
        for i in range(300):
            register(d, f"bulk-{i}", labels=labels)
        got = [first.sequence]
        with pytest.raises(grpc.RpcError) as info:
            for item in next_event:
                got.append(item.event.sequence)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        details = str(info.value.details())
        assert f"after_sequence={got[-1]}" in details
        # The daemon kept serving, and the watcher resumes exactly where it stopped.
        resumed = d.recorder.WatchEvents(rpb.WatchEventsRequest(after_sequence=got[-1]), timeout=30)
        (following,) = take(resumed, 1)
        resumed.cancel()
        assert following.event.sequence == got[-1] + 1  # type: ignore[attr-defined]
        assert d.members.GetMember(mpb.GetMemberRequest(member_id="bulk-299")).member.member_id
        slow_channel.close()


def test_list_revision_covers_every_member_on_the_page(daemon: PhoenixProcess) -> None:
    # A few members first, so no page can pass by being empty; then pages read while more
    # register. Each page lists exactly the members registered at or before its revision.
    for i in range(5):
        daemon.members.RegisterMember(mpb.RegisterMemberRequest(member_id=f"c{i:02d}"))
    futures = [
        daemon.members.RegisterMember.future(mpb.RegisterMemberRequest(member_id=f"c{i:02d}"))
        for i in range(5, 40)
    ]
    pages = [daemon.members.ListMembers(mpb.ListMembersRequest(page_size=1000)) for _ in range(20)]
    for f in futures:
        f.result()
    final = daemon.members.ListMembers(mpb.ListMembersRequest(page_size=1000))
    revisions = {m.member_id: m.revision for m in final.members}
    assert len(revisions) == 40
    for page in pages:
        assert len(page.members) >= 5
        assert all(m.revision <= page.revision for m in page.members)
        assert {m.member_id for m in page.members} == {
            m for m, revision in revisions.items() if revision <= page.revision}


def test_a_watch_open_at_shutdown_ends_unavailable_with_a_resume_point(tmp_path: Path) -> None:
    d = PhoenixProcess(tmp_path / "data").start()
    own = grpc.insecure_channel(d.address)
    call = rec_grpc.FlightRecorderServiceStub(own).WatchEvents(
        rpb.WatchEventsRequest(after_sequence=0), timeout=30)
    first = next(iter(call))
    assert d.stop() == 0
    with pytest.raises(grpc.RpcError) as info:
        list(call)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "after_sequence=" in str(info.value.details())
    assert first.event.sequence == 1
    own.close()


def test_past_the_stream_limit_new_watches_are_refused(tmp_path: Path) -> None:
    with PhoenixProcess(tmp_path / "data", "--max-streams", "2") as d:
        watch = d.recorder.WatchEvents
        register(d, "marker")
        open_calls = [watch(rpb.WatchEventsRequest(after_sequence=0), timeout=30) for _ in range(2)]
        for call in open_calls:
            next(call)  # an event delivered: this watch's handler runs and holds its slot
        third = d.recorder.WatchEvents(rpb.WatchEventsRequest(), timeout=10)
        with pytest.raises(grpc.RpcError) as info:
            list(third)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        for call in open_calls:
            call.cancel()
        assert d.members.ListMembers(mpb.ListMembersRequest()).revision > 0  # still healthy
