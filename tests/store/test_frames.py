"""The journal's record framing and its damage scanner: encode_frame and read_frame round-trip a
record; ``scan`` walks a clean journal to its end and otherwise reports the first bad record's
byte offset, its (positional) sequence number and why it is bad. A record cut short at any byte
is a torn tail (no valid records after it); a flipped byte anywhere in an earlier record, a
damaged newline between the last two records, or a zeroed 512-byte region mid-file is corruption
with valid records after it; and a well-formed record whose prev_hash does not link to the
record before it is reported as "chain broken"."""

from __future__ import annotations

import pytest

from phoenixd.core.events import GENESIS_HASH, Actor, Event, EventType, chain_hash
from phoenixd.core.recorder import Recorder
from phoenixd.store.frames import Frame, encode_frame, read_frame, scan
from tests.store.framing import FrameSink


def _journal(n: int) -> tuple[list[bytes], list[Event]]:
    sink = FrameSink()
    recorder = Recorder(sink, lambda event: None, wall_clock=lambda: 1_700_000_000.0)
    for i in range(n):
        recorder.record(
            EventType.MEMBER_UPDATED, Actor.OPERATOR, reason=f"change {i}",
            member_ids=(f"m{i}",), data={"member": {"member_id": f"m{i}", "n": i}},
        )
    return sink.frames, sink.events


def _offsets(frames: list[bytes]) -> list[int]:
    offsets, pos = [], 0
    for frame in frames:
        offsets.append(pos)
        pos += len(frame)
    return offsets


def _flip(buf: bytes, at: int) -> bytes:
    return buf[:at] + bytes([buf[at] ^ 0x01]) + buf[at + 1 :]


def test_encode_then_read_round_trips() -> None:
    payload = b'{"seq":1}'
    hash_ = chain_hash(GENESIS_HASH, payload)
    data = encode_frame(GENESIS_HASH, hash_, payload)
    frame = read_frame(data, 0)
    assert frame == Frame(0, len(data), GENESIS_HASH, hash_, payload)


def test_a_frame_is_one_json_line() -> None:
    frames, _ = _journal(1)
    assert frames[0].endswith(b"}\n")
    assert frames[0].count(b"\n") == 1
    assert frames[0].startswith(b'{"len":')


def test_read_frame_at_an_offset() -> None:
    frames, events = _journal(3)
    buf = b"".join(frames)
    offsets = _offsets(frames)
    frame = read_frame(buf, offsets[2])
    assert isinstance(frame, Frame)
    assert (frame.offset, frame.end) == (offsets[2], len(buf))
    assert frame.hash == events[2].hash
    assert frame.prev_hash == events[1].hash


def test_read_frame_works_on_a_memoryview() -> None:
    frames, events = _journal(2)
    frame = read_frame(memoryview(b"".join(frames)), len(frames[0]))
    assert isinstance(frame, Frame)
    assert frame.hash == events[1].hash


def test_read_frame_explains_a_missing_header() -> None:
    assert read_frame(b"garbage\n", 0) == "record header is missing or malformed"


def test_read_frame_detects_a_changed_payload_byte() -> None:
    frames, _ = _journal(1)
    at = frames[0].index(b'"reason"') + 3
    problem = read_frame(_flip(frames[0], at), 0)
    assert isinstance(problem, str) and problem.startswith("checksum mismatch")


def test_scan_of_a_clean_journal() -> None:
    frames, events = _journal(5)
    buf = b"".join(frames)
    seen: list[tuple[int, int]] = []
    outcome = scan(buf, lambda seq, frame: seen.append((seq, frame.offset)))
    assert outcome.damage is None
    assert outcome.records == 5
    assert outcome.end_offset == len(buf)
    assert outcome.head_hash == events[-1].hash
    assert seen == list(zip(range(1, 6), _offsets(frames), strict=True))


def test_scan_of_an_empty_journal() -> None:
    outcome = scan(b"")
    assert (outcome.records, outcome.end_offset, outcome.head_hash) == (0, 0, GENESIS_HASH)
    assert outcome.damage is None


def test_a_record_cut_short_at_any_byte_is_a_torn_tail() -> None:
    frames, events = _journal(4)
    good = b"".join(frames[:-1])
    for cut in range(1, len(frames[-1])):
        outcome = scan(good + frames[-1][:cut])
        assert outcome.damage is not None, f"cut at {cut}"
        assert outcome.damage.valid_records_after is False, f"cut at {cut}"
        assert outcome.damage.torn, f"cut at {cut}"
        assert outcome.damage.offset == len(good)
        assert outcome.damage.sequence == 4
        assert outcome.records == 3
        assert outcome.end_offset == len(good)
        assert outcome.head_hash == events[2].hash


def test_a_lone_torn_first_record_is_a_torn_tail() -> None:
    frames, _ = _journal(1)
    outcome = scan(frames[0][:-5])
    assert outcome.damage is not None
    assert (outcome.damage.offset, outcome.damage.sequence) == (0, 1)
    assert outcome.damage.valid_records_after is False
    assert (outcome.records, outcome.end_offset, outcome.head_hash) == (0, 0, GENESIS_HASH)


def test_a_flipped_byte_anywhere_in_an_earlier_record_is_mid_log_damage() -> None:
    frames, _ = _journal(5)
    buf = b"".join(frames)
    start = _offsets(frames)[2]
    for at in range(start, start + len(frames[2])):
        outcome = scan(_flip(buf, at))
        assert outcome.damage is not None, f"byte {at}"
        assert outcome.damage.valid_records_after is True, f"byte {at}"
        assert outcome.damage.offset == start, f"byte {at}"
        assert outcome.damage.sequence == 3, f"byte {at}"
        assert outcome.records == 2
        assert outcome.end_offset == start


def test_a_damaged_newline_between_the_last_two_records_is_not_a_torn_tail() -> None:
    frames, _ = _journal(4)
    buf = b"".join(frames)
    newline = _offsets(frames)[3] - 1
    assert buf[newline : newline + 1] == b"\n"
    for replacement in (b" ", b"x", b"\x00"):
        damaged = buf[:newline] + replacement + buf[newline + 1 :]
        outcome = scan(damaged)
        assert outcome.damage is not None
        assert outcome.damage.valid_records_after is True
        assert outcome.damage.offset == _offsets(frames)[2]
        assert outcome.damage.sequence == 3
        assert "terminator" in outcome.damage.problem


def test_a_zeroed_region_mid_file_is_mid_log_damage() -> None:
    frames, _ = _journal(20)
    buf = b"".join(frames)
    assert len(buf) > 4096
    start = 2000
    damaged = buf[:start] + bytes(512) + buf[start + 512 :]
    offsets = _offsets(frames)
    hit = max(i for i, offset in enumerate(offsets) if offset <= start)
    outcome = scan(damaged)
    assert outcome.damage is not None
    assert outcome.damage.valid_records_after is True
    assert outcome.damage.offset == offsets[hit]
    assert outcome.damage.sequence == hit + 1
    assert outcome.records == hit


def test_a_record_that_does_not_link_is_chain_broken() -> None:
    frames, events = _journal(4)
    # Rewrite record 3 so that its own checksum is valid but it links to the wrong record.
    payload = frames[2][frames[2].index(b'"event":') + len(b'"event":') : -2]
    wrong_prev = events[0].hash
    forged = encode_frame(wrong_prev, chain_hash(wrong_prev, payload), payload)
    assert isinstance(read_frame(forged, 0), Frame)
    buf = frames[0] + frames[1] + forged + frames[3]
    outcome = scan(buf)
    assert outcome.damage is not None
    assert outcome.damage.problem.startswith("chain broken")
    assert outcome.damage.offset == len(frames[0]) + len(frames[1])
    assert outcome.damage.sequence == 3
    assert outcome.damage.valid_records_after is True
    assert outcome.records == 2


def test_a_first_record_that_does_not_start_from_genesis_is_chain_broken() -> None:
    frames, _ = _journal(3)
    outcome = scan(b"".join(frames[1:]))  # the first record was removed
    assert outcome.damage is not None
    assert outcome.damage.problem.startswith("chain broken")
    assert (outcome.damage.offset, outcome.damage.sequence) == (0, 1)


def test_reordered_records_are_chain_broken() -> None:
    frames, _ = _journal(4)
    outcome = scan(frames[0] + frames[2] + frames[1] + frames[3])
    assert outcome.damage is not None
    assert outcome.damage.problem.startswith("chain broken")
    assert outcome.damage.sequence == 2


@pytest.mark.parametrize(
    ("garbage", "torn"),
    [(b"\x00" * 10, True), (b'{"len":9', True), (b"\n", False), (b"not json\n", False)],
)
def test_only_an_unfinished_line_after_the_last_record_is_a_torn_tail(
    garbage: bytes, torn: bool
) -> None:
    frames, _ = _journal(3)
    buf = b"".join(frames)
    outcome = scan(buf + garbage)
    assert outcome.damage is not None
    assert outcome.damage.valid_records_after is False
    assert outcome.damage.torn is torn
    assert outcome.damage.offset == len(buf)
    assert outcome.records == 3


def test_scan_stops_calling_back_at_the_damage() -> None:
    frames, _ = _journal(5)
    buf = b"".join(frames)
    seen: list[int] = []
    scan(_flip(buf, _offsets(frames)[3] + 20), lambda seq, frame: seen.append(seq))
    assert seen == [1, 2, 3]


def test_a_complete_last_record_with_a_changed_byte_is_not_torn() -> None:
    frames, _ = _journal(3)
    last = bytearray(frames[-1])
    last[len(last) // 2] ^= 0x01
    outcome = scan(frames[0] + frames[1] + bytes(last))
    assert outcome.damage is not None
    assert outcome.damage.sequence == 3
    assert not outcome.damage.valid_records_after
    assert not outcome.damage.torn  # it may have been acknowledged: refuse, never truncate


def test_a_last_record_whose_newline_was_damaged_is_not_torn() -> None:
    frames, _ = _journal(2)
    last = frames[-1][:-1] + b"X"
    outcome = scan(frames[0] + last)
    assert outcome.damage is not None
    assert not outcome.damage.torn
