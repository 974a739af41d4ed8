"""The offline reader (store/verify.py read_events): every event of an intact journal in
order, as recorded; it stops before a torn tail or a record that fails its checks, as
recovery would; a missing journal reads as empty."""

from __future__ import annotations

from pathlib import Path

from phoenixd.store import read_events
from tests.store.framing import history_of


def test_an_intact_journal_reads_back_event_for_event(tmp_path: Path) -> None:
    history = history_of(6)
    path = tmp_path / "audit.jsonl"
    path.write_bytes(history.data(6))
    events = read_events(path)
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e.hash for e in events] == [e.hash for e in history.events[:6]]


def test_reading_stops_before_a_torn_tail_or_a_bad_record(tmp_path: Path) -> None:
    history = history_of(6)
    path = tmp_path / "audit.jsonl"
    path.write_bytes(history.data(4) + history.frames[4][:10])
    assert [e.sequence for e in read_events(path)] == [1, 2, 3, 4]
    damaged = bytearray(history.data(6))
    damaged[history.end_of(2) + 5] ^= 0xFF  # inside record 3
    path.write_bytes(bytes(damaged))
    assert [e.sequence for e in read_events(path)] == [1, 2]


def test_a_missing_journal_reads_as_empty(tmp_path: Path) -> None:
    assert read_events(tmp_path / "audit.jsonl") == []
