"""The pure parts of the event streams (in process): Last-Event-ID read as one revision or as
the tagged cursors of a multiplexed stream, anything else a BadRequest naming the form; every
routed watch has a feed whose id and type come from its message; a message is written as JSON
once per key, the oldest forgotten past the limit."""

from __future__ import annotations

import pytest

from phoenixd.http.sse import FEEDS, Frames, cursors
from phoenixd.http.transcode import BadRequest
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import membership_service_pb2 as mpb

MEMBERS = FEEDS["/phoenixflight.v1.MembershipService/WatchMembers"]
EVENTS = FEEDS["/phoenixflight.v1.FlightRecorderService/WatchEvents"]


def test_last_event_id_forms() -> None:
    assert cursors("", [EVENTS]) == {}
    assert cursors("12", [EVENTS]) == {"events": 12}
    assert cursors("e:12", [EVENTS]) == {"events": 12}
    assert cursors("m:3, e:40", [MEMBERS, EVENTS]) == {"members": 3, "events": 40}
    assert cursors("m:3", [MEMBERS, EVENTS]) == {"members": 3}  # events: as the URL says


@pytest.mark.parametrize("header", ["-1", "m:3", "e:", "x:1", "12,13", "m:1;e:2"])
def test_other_last_event_ids_are_refused(header: str) -> None:
    feeds = [EVENTS] if header in ("-1", "m:3") else [MEMBERS, EVENTS]
    with pytest.raises(BadRequest, match="Last-Event-ID"):
        cursors(header, feeds)


def test_ids_and_types_come_from_each_feeds_message() -> None:
    change = mpb.WatchMembersResponse(revision=7, event_type="member_suspect")
    assert (MEMBERS.revision(change), MEMBERS.kind(change)) == (7, "member_suspect")
    event = rpb.WatchEventsResponse(event=rpb.Event(sequence=9, type="packet_created"))
    assert (EVENTS.revision(event), EVENTS.kind(event)) == (9, "packet_created")
    assert len({feed.tag for feed in FEEDS.values()}) == len(FEEDS)


def test_frames_write_each_message_once_and_stay_bounded() -> None:
    frames = Frames(limit=2)
    first = rpb.WatchEventsResponse(event=rpb.Event(sequence=1, type="a", hash="h1"))
    written = frames.json(EVENTS, first)
    assert b'"sequence":"1"' in written
    assert frames.json(EVENTS, first) is written
    # Same sequence, another hash (a journal rewritten under it): written anew.
    assert b'"hash":"h2"' in frames.json(EVENTS, rpb.WatchEventsResponse(
        event=rpb.Event(sequence=1, type="a", hash="h2")))
    frames.json(EVENTS, rpb.WatchEventsResponse(event=rpb.Event(sequence=2)))
    assert frames.json(EVENTS, first) is not written  # forgotten past the limit, rewritten
