"""The watches over Server-Sent Events against a real phoenixd: members and events arrive live
(id = revision, event = type, data = the message's JSON), a reader that disconnects resumes
with Last-Event-ID and gets every event exactly once, across a daemon restart too; a reader
that stops reading is cut off with a `closed` event saying where to resume; idle streams get
`: ping` comments; bad requests and refusals are HTTP statuses with the JSON error (401/403
with operator tokens on, and a scoped token's stream narrowed to its namespace); one stream
carries both feeds with both cursors in its ids; streams hold --max-streams slots (429 past
them) and give them back when the reader goes."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from tests.api.http import EventStream, Http, http_daemon
from tests.daemon import operator_token_args

ADMIN = "sse-admin-token"
SCOPED = "pft_sse-billing-token"


def _register(http: Http, *names: str, token: str | None = None, **fields: object) -> None:
    for name in names:
        status, body = http.call("POST", "/v1/members", {"member_id": name, **fields},
                                 token=token)
        assert status == 200, body


def _port(http: Http) -> int:
    return int(http.base.rpartition(":")[2])


def _head(http: Http) -> int:
    return int(http.ok("GET", "/v1/events?page_size=1")["head_sequence"])


def test_members_and_events_live_then_resumed_exactly_once(tmp_path: Path) -> None:
    proc, http = http_daemon(tmp_path / "data", "--sse-heartbeat", "0.2")
    try:
        members = EventStream(_port(http), "/v1/members:watch")
        assert members.status == 200
        assert members.response.getheader("Content-Type", "").startswith("text/event-stream")
        _register(http, "live-1", capabilities=["ocr"])
        (event,) = members.take(1)
        assert event.event == "member_registered"
        assert event.data["member"]["member_id"] == "live-1"
        assert event.id == event.data["revision"]  # int64 as proto3 JSON writes it
        members.close()

        events = EventStream(_port(http), "/v1/events:watch?after_sequence=0")
        got = events.take(_head(http))
        assert [int(e.id or 0) for e in got] == list(range(1, len(got) + 1))
        assert {"member_registered", "capability_discovered"} <= {e.event for e in got}
        assert all(e.event == e.data["event"]["type"] for e in got)
        events.close()
        _register(http, "gone-1", "gone-2")  # while nobody reads
        # The URL still says after_sequence=0, as an EventSource reconnecting sends it: the
        # header wins.
        again = EventStream(_port(http), "/v1/events:watch?after_sequence=0",
                            last_event_id=got[-1].id)
        rest = again.take(_head(http) - len(got))
        assert [int(e.id or 0) for e in rest] == list(range(len(got) + 1, _head(http) + 1))
        assert [e.data["event"]["member_ids"] for e in rest] == [["gone-1"], ["gone-2"]]
        # Idle now: comments keep the connection alive, and events still follow.
        assert again.next_comment() == "ping"
        _register(http, "after-pings")
        assert again.take(1)[0].data["event"]["member_ids"] == ["after-pings"]
        again.close()

        only = EventStream(_port(http), "/v1/events:watch?after_sequence=0&member_id=gone-2")
        (mine,) = only.take(1)
        assert mine.data["event"]["member_ids"] == ["gone-2"]
        only.close()
    finally:
        proc.stop()


def test_bad_requests_are_refused_before_the_stream_starts(tmp_path: Path) -> None:
    proc, http = http_daemon(tmp_path / "data")
    try:
        port = _port(http)
        for path, last_id, code, words in (
            ("/v1/events:watch?after_sequence=-1", None, 3, "after_sequence must be >= 0"),
            ("/v1/events:watch?after_sequence=999", None, 11, "past the newest revision"),
            ("/v1/members:watch?member_id=Not%20Valid", None, 3, "member"),
            ("/v1/events:watch?tipes=x", None, 3, "no field 'tipes'"),
            ("/v1/events:watch", "m:3", 3, "Last-Event-ID"),
            ("/v1/watch?feeds=members,audit", None, 3, "'audit' are not known"),
            ("/v1/watch?feeds=members&types=x", None, 3, "none of the watches"),
            ("/v1/watch?feeds=members,events", "e:x", 3, "Last-Event-ID"),
        ):
            stream = EventStream(port, path, last_event_id=last_id)
            assert (stream.status, stream.error["code"]) == (400, code), (path, stream.error)
            assert words in stream.error["message"], (path, stream.error)
            stream.close()
    finally:
        proc.stop()


def test_resume_across_a_daemon_restart_loses_and_repeats_nothing(tmp_path: Path) -> None:
    proc, http = http_daemon(tmp_path / "data")
    try:
        _register(http, "before-1", "before-2")
        stream = EventStream(_port(http), "/v1/events:watch?after_sequence=0")
        seen = stream.take(_head(http))
        assert proc.stop() == 0
        closed = stream.next()
        assert closed is not None and closed.event == "closed" and closed.id is None
        assert closed.data["status"] == "UNAVAILABLE"
        assert f"after_sequence={seen[-1].id}" in closed.data["message"]
        assert stream.next() is None  # the stream ended cleanly
        stream.close()
        proc.start()
        _register(http, "after-1")
        resumed = EventStream(_port(http), "/v1/events:watch?after_sequence=0",
                              last_event_id=stream.last_id)
        seen += resumed.take(_head(http) - len(seen))
        resumed.close()
        assert [int(e.id or 0) for e in seen] == list(range(1, _head(http) + 1))
        assert any(e.data["event"]["member_ids"] == ["after-1"] for e in seen)
    finally:
        proc.stop()


def test_a_reader_that_stops_reading_is_cut_off_with_the_reason(tmp_path: Path) -> None:
    # A tiny queue, a small socket buffer and big events: the feed overflows quickly.
    proc, http = http_daemon(tmp_path / "data", "--watch-queue-limit", "8")
    try:
        stalled = EventStream(_port(http), "/v1/events:watch", receive_buffer=4096)
        _register(http, "first")
        first = stalled.take(1)[0]
        # ~20 KB an event: 300 of them outgrow what the kernel buffers for the socket (its
        # send buffer grows to 4 MiB), so the feed's own queue has to take the rest.
        prefix = ".".join(["p" * 60] * 3)
        labels = {f"{prefix}/label-{i:02d}": "v" * 60 for i in range(64)}
        for i in range(300):
            _register(http, f"bulk-{i}", labels=labels)
        got = [first]
        while (event := stalled.next()) is not None and event.event != "closed":
            got.append(event)
        assert event is not None, "the stream ended without saying why"
        assert event.data["status"] == "RESOURCE_EXHAUSTED"
        assert f"after_sequence={got[-1].id}" in event.data["message"]
        assert len(got) < 301
        stalled.close()
        resumed = EventStream(_port(http), "/v1/events:watch", last_event_id=got[-1].id)
        (following,) = resumed.take(1)
        assert int(following.id or 0) == int(got[-1].id or 0) + 1
        resumed.close()
        assert http.ok("GET", "/v1/members/bulk-299")["member"]["member_id"] == "bulk-299"
    finally:
        proc.stop()


def test_feeds_take_the_operator_token_and_are_narrowed_to_its_namespaces(
    tmp_path: Path,
) -> None:
    tokens = tmp_path / "tokens.toml"
    tokens.write_text('[[token]]\nname = "billing-ci"\n'
                      f'sha256 = "{hashlib.sha256(SCOPED.encode()).hexdigest()}"\n'
                      'namespaces = ["billing"]\n')
    tokens.chmod(0o600)
    proc, http = http_daemon(tmp_path / "data", *operator_token_args(tmp_path, ADMIN),
                             "--auth-tokens", str(tokens))
    try:
        port = _port(http)
        for name in ("billing", "search"):
            assert http.call("POST", "/v1/namespaces", {"name": name}, token=ADMIN)[0] == 200
        for path in ("/v1/members:watch", "/v1/events:watch", "/v1/watch?feeds=members,events"):
            for token in (None, "not-the-token"):
                refused = EventStream(port, path, token=token)
                assert (refused.status, refused.error["code"]) == (401, 16), path
                assert "operator token" in refused.error["message"]
                refused.close()
        for path in ("/v1/members:watch?namespace=search",
                     "/v1/watch?feeds=events,members&namespace=search"):
            refused = EventStream(port, path, token=SCOPED)
            assert (refused.status, refused.error["code"]) == (403, 7), refused.error
            assert "may act in namespace 'billing' only" in refused.error["message"]
            refused.close()
        scoped = EventStream(port, "/v1/members:watch?after_revision=0", token=SCOPED)
        _register(http, "w-search", namespace="search", token=ADMIN)
        _register(http, "w-billing", namespace="billing", token=ADMIN)
        (event,) = scoped.take(1)
        assert event.data["member"]["member_id"] == "w-billing"  # never w-search
        scoped.close()
    finally:
        proc.stop()


def test_one_stream_carries_both_feeds_and_resumes_both(tmp_path: Path) -> None:
    proc, http = http_daemon(tmp_path / "data")
    try:
        port = _port(http)
        _register(http, "both-1")
        head = _head(http)
        both = EventStream(port, "/v1/watch?feeds=members,events&after_revision=0"
                                 "&after_sequence=0")
        got = both.take(head + 1)  # every event, and the one member change among them
        assert sorted(e.event for e in got).count("members") == 1
        members = [e for e in got if e.event == "members"]
        assert members[0].data["member"]["member_id"] == "both-1"
        assert {e.event for e in got} == {"members", "events"}
        last = got[-1].id
        assert last is not None and last.startswith("m:") and ",e:" in last
        assert last == f"m:{members[0].data['revision']},e:{head}"
        both.close()
        _register(http, "both-2")
        resumed = EventStream(port, "/v1/watch?feeds=members,events&after_revision=0"
                                    "&after_sequence=0", last_event_id=last)
        after = resumed.take(2)  # both-2's member change and its event, nothing earlier
        resumed.close()
        assert sorted(e.event for e in after) == ["events", "members"]
        assert all("both-2" in str(e.data) for e in after)
    finally:
        proc.stop()


def test_streams_take_the_stream_slots_and_give_them_back(tmp_path: Path) -> None:
    proc, http = http_daemon(tmp_path / "data", "--max-streams", "1")
    try:
        port = _port(http)
        held = EventStream(port, "/v1/watch?feeds=members")
        assert held.status == 200
        refused = EventStream(port, "/v1/events:watch")
        assert (refused.status, refused.error["code"]) == (429, 8), refused.error
        assert "streams open" in refused.error["message"]
        refused.close()
        held.close()
        # The daemon notices the reader went away (within a second or so) and frees the slot.
        for _ in range(100):
            again = EventStream(port, "/v1/events:watch?after_sequence=0")
            if again.status == 200:
                break
            again.close()
            time.sleep(0.1)
        assert again.status == 200, again.error
        assert again.take(1)[0].id == "1"
        again.close()
    finally:
        proc.stop()
