"""Flight Recorder events and their hash chain: canonical_bytes gives the same compact,
key-sorted bytes whatever the key order; chain_hash changes when any byte of the payload or the
previous hash changes; the Recorder numbers events 1, 2, 3... (or on from a given head), links
each event's prev_hash to the hash before it (the first to GENESIS_HASH), hands every event and
its canonical payload to the sink, applies each one once in order, and event_from_payload
rebuilds exactly the recorded event from those bytes."""

from __future__ import annotations

from itertools import pairwise

import pytest

from phoenixd.core.events import (
    GENESIS_HASH,
    Actor,
    Event,
    EventType,
    canonical_bytes,
    chain_hash,
    event_from_payload,
)
from phoenixd.core.recorder import Recorder


class ListSink:
    """An EventSink that keeps what it is given."""

    def __init__(self) -> None:
        self.records: list[tuple[Event, bytes]] = []

    def append(self, event: Event, payload: bytes) -> None:
        self.records.append((event, payload))


def _recorder(
    applied: list[Event] | None = None,
    *,
    head_sequence: int = 0,
    head_hash: str = GENESIS_HASH,
) -> tuple[Recorder, ListSink]:
    sink = ListSink()
    target = applied if applied is not None else []
    recorder = Recorder(
        sink, target.append, head_sequence=head_sequence, head_hash=head_hash,
        wall_clock=lambda: 1700000000.123456789,
    )
    return recorder, sink


def _record_some(recorder: Recorder, n: int) -> list[Event]:
    return [
        recorder.record(
            EventType.MEMBER_REGISTERED, Actor.member(f"m{i}"), reason=f"event {i}",
            member_ids=(f"m{i}",), data={"i": i, "nested": {"b": [1, 2], "a": None}},
        )
        for i in range(n)
    ]


def test_canonical_bytes_ignore_key_order() -> None:
    one = {"b": 1, "a": {"y": [1, 2], "x": "z"}, "c": None}
    two = {"c": None, "a": {"x": "z", "y": [1, 2]}, "b": 1}
    assert canonical_bytes(one) == canonical_bytes(two)


def test_canonical_bytes_are_compact_sorted_json() -> None:
    assert canonical_bytes({"b": 1, "a": [1, 2]}) == b'{"a":[1,2],"b":1}'


def test_canonical_bytes_keep_non_ascii_as_utf8() -> None:
    assert canonical_bytes({"who": "zoë"}) == '{"who":"zoë"}'.encode()


def test_chain_hash_is_a_sha256_hex_digest() -> None:
    digest = chain_hash(GENESIS_HASH, b"{}")
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert chain_hash(GENESIS_HASH, b"{}") == digest


def test_chain_hash_changes_when_any_payload_byte_changes() -> None:
    payload = canonical_bytes({"seq": 1, "type": "member_registered", "data": {"x": "abc"}})
    original = chain_hash(GENESIS_HASH, payload)
    for i in range(len(payload)):
        edited = payload[:i] + bytes([payload[i] ^ 0x01]) + payload[i + 1 :]
        assert chain_hash(GENESIS_HASH, edited) != original, f"byte {i}"


def test_chain_hash_changes_when_the_previous_hash_changes() -> None:
    payload = b'{"seq":2}'
    other = "1" + GENESIS_HASH[1:]
    assert chain_hash(GENESIS_HASH, payload) != chain_hash(other, payload)


def test_recorder_numbers_events_consecutively_from_one() -> None:
    recorder, _ = _recorder()
    events = _record_some(recorder, 5)
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5]
    assert recorder.head_sequence == 5


def test_recorder_links_each_event_to_the_previous_hash() -> None:
    recorder, _ = _recorder()
    events = _record_some(recorder, 4)
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in pairwise(events):
        assert after.prev_hash == before.hash
    assert recorder.head_hash == events[-1].hash


def test_recorder_hash_is_the_chain_hash_of_the_canonical_body() -> None:
    recorder, sink = _recorder()
    events = _record_some(recorder, 3)
    for event, (sunk, payload) in zip(events, sink.records, strict=True):
        assert sunk is event
        assert payload == canonical_bytes(event.body())
        assert event.hash == chain_hash(event.prev_hash, payload)


def test_recorder_applies_every_event_once_in_order() -> None:
    applied: list[Event] = []
    recorder, sink = _recorder(applied)
    events = _record_some(recorder, 6)
    assert applied == events
    assert [e for e, _ in sink.records] == events


def test_recorder_continues_from_a_given_head() -> None:
    head = chain_hash(GENESIS_HASH, b"earlier")
    recorder, _ = _recorder(head_sequence=41, head_hash=head)
    event = _record_some(recorder, 1)[0]
    assert event.sequence == 42
    assert event.prev_hash == head


def test_recorder_stamps_wall_clock_time_to_the_microsecond() -> None:
    recorder, _ = _recorder()
    event = _record_some(recorder, 1)[0]
    assert event.time == pytest.approx(1700000000.123457, abs=1e-9)


def test_recorder_stores_the_event_type_as_its_string_value() -> None:
    recorder, _ = _recorder()
    event = recorder.record(EventType.DAEMON_STARTED, Actor.DAEMON)
    assert event.type == "daemon_started"
    assert type(event.type) is str
    assert event.data == {}


def test_event_round_trips_through_its_canonical_bytes() -> None:
    recorder, _ = _recorder()
    for event in _record_some(recorder, 3):
        rebuilt = event_from_payload(canonical_bytes(event.body()), event.prev_hash, event.hash)
        assert rebuilt == event


def test_event_round_trip_keeps_packet_and_lineage_ids() -> None:
    recorder, _ = _recorder()
    event = recorder.record(
        "packet_routed", Actor.OPERATOR, reason="r", member_ids=("a", "b"),
        packet_ids=("p1",), lineage_ids=("l1", "l2"), data={"k": [1, "two", 3.5]},
    )
    rebuilt = event_from_payload(canonical_bytes(event.body()), event.prev_hash, event.hash)
    assert rebuilt == event
    assert rebuilt.packet_ids == ("p1",)
    assert rebuilt.lineage_ids == ("l1", "l2")


def test_editing_a_recorded_event_breaks_its_hash() -> None:
    recorder, _ = _recorder()
    event = _record_some(recorder, 1)[0]
    body = event.body()
    body["reason"] = "something else"
    assert chain_hash(event.prev_hash, canonical_bytes(body)) != event.hash


def test_actor_names() -> None:
    assert Actor.member("a-1") == "member:a-1"
    assert Actor.OPERATOR == "operator"
    assert Actor.DAEMON == "phoenixd"
