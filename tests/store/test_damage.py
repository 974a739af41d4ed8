"""What a journal's state means for a start (store/damage.py), judged alike by Store.recover
and verify: a journal that ends, torn or at a record boundary, before the revision of the
snapshot beside it lost durable records and refuses to start (JournalLost, naming where it
ends, the last intact revision and the snapshot's), unless the loss is accepted, when recovery
starts on the records left and says what was dropped; an empty or missing journal beside a
snapshot is such a loss; a snapshot that fails its checksum proves nothing; a checksummed
record whose event does not parse is corruption for both readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from phoenixd.core.events import chain_hash
from phoenixd.store import (
    CorruptJournal,
    JournalLost,
    Store,
    Verdict,
    verify_data_dir,
    verify_journal,
)
from phoenixd.store.frames import encode_frame
from tests.store.framing import history_of, replay_into, store_at, write_snapshot_at


@pytest.mark.parametrize("payload", [b'{"seq":2}', b"[2]"], ids=["fields missing", "not an object"])
def test_a_checksummed_record_whose_event_does_not_parse_is_refused_by_both_readers(
    tmp_path: Path, payload: bytes
) -> None:
    """Its frame, checksum and chain link pass, so only reading the event finds it: start-up
    refuses it naming its offset (it used to raise out of recovery as a traceback), and verify
    names the same record."""
    history = history_of(3)
    prev = history.events[0].hash
    data = history.data(1) + encode_frame(prev, chain_hash(prev, payload), payload)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(data)
    offset = history.end_of(1)
    with store_at(data_dir) as store, pytest.raises(CorruptJournal) as excinfo:
        replay_into(store)
    assert f"is damaged at byte offset {offset} (record 2): event does not parse" in str(
        excinfo.value)
    report = verify_journal(data_dir / "audit.jsonl")
    assert (report.ok, report.bad_sequence, report.bad_offset) == (False, 2, offset)


@pytest.mark.parametrize("torn", [0, 1, 40], ids=["at a record boundary", "1 byte", "40 bytes"])
def test_a_journal_that_ends_below_its_snapshot_refuses_to_start(
    tmp_path: Path, torn: int
) -> None:
    """A snapshot at revision 7 was written only once 7 was durable: a journal holding 5 whole
    records (and maybe part of the 6th) lost records, it was not torn mid-append."""
    history = history_of(8)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data = history.data(5) + history.frames[5][:torn]
    (data_dir / "audit.jsonl").write_bytes(data)
    write_snapshot_at(data_dir, history, 7, history.events[6].hash)
    with store_at(data_dir) as store, pytest.raises(JournalLost) as excinfo:
        replay_into(store)
    message = str(excinfo.value)
    assert f"truncated below its snapshot at byte offset {history.end_of(5)}: " in message
    assert "the last intact revision is 5, but the snapshot covers revision 7" in message
    assert "--accept-journal-loss" in message
    assert isinstance(excinfo.value, CorruptJournal)  # refused like any other damage
    assert (data_dir / "audit.jsonl").read_bytes() == data  # nothing was cut off


def test_an_accepted_loss_starts_on_the_records_left(tmp_path: Path) -> None:
    history = history_of(8)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(history.data(5) + history.frames[5][:40])
    write_snapshot_at(data_dir, history, 7, history.events[6].hash)
    store = Store(data_dir, snapshot_every=1000, accept_journal_loss=True)
    try:
        recovery, replay = replay_into(store)
    finally:
        store.close()
    assert recovery.loss is not None
    assert (recovery.loss.offset, recovery.loss.dropped_bytes) == (history.end_of(5), 40)
    assert (recovery.loss.last_revision, recovery.loss.snapshot_revision) == (5, 7)
    assert recovery.loss.snapshot_hash == history.events[6].hash
    assert recovery.truncation is None  # the loss says what was cut
    assert (recovery.head_sequence, recovery.snapshot_revision) == (5, 0)
    assert "ahead of the journal" in recovery.snapshot_note
    assert replay.restored == []
    assert replay.applied == history.events[:5]
    assert (data_dir / "audit.jsonl").read_bytes() == history.data(5)


@pytest.mark.parametrize("journal", ["empty", "missing"])
def test_a_snapshot_beside_an_empty_or_missing_journal_is_a_loss_for_both_readers(
    tmp_path: Path, journal: str
) -> None:
    """Every record the snapshot covers is gone: start-up refuses at byte offset 0 after
    revision 0, and verify of the data dir calls it the same."""
    history = history_of(8)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if journal == "empty":
        (data_dir / "audit.jsonl").write_bytes(b"")
    write_snapshot_at(data_dir, history, 7, history.events[6].hash)
    report = verify_data_dir(data_dir)
    assert (report.ok, report.verdict, report.bad_offset, report.snapshot_revision) == (
        False, Verdict.TRUNCATED_BELOW_SNAPSHOT, 0, 7)
    with store_at(data_dir) as store, pytest.raises(JournalLost) as excinfo:
        replay_into(store)
    assert "truncated below its snapshot at byte offset 0: the last intact revision is 0, " \
        "but the snapshot covers revision 7" in str(excinfo.value)


def test_an_empty_journal_without_a_snapshot_is_intact(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(b"")
    report = verify_data_dir(data_dir)
    assert (report.ok, report.verdict, report.head_sequence) == (True, Verdict.INTACT, 0)
    with store_at(data_dir) as store:
        recovery, _ = replay_into(store)
    assert (recovery.head_sequence, recovery.truncation, recovery.loss) == (0, None, None)
    with pytest.raises(FileNotFoundError, match="no journal at"):
        verify_data_dir(tmp_path / "nothing")


def test_a_damaged_snapshot_proves_nothing_about_the_journal(tmp_path: Path) -> None:
    """A snapshot that fails its checksum is ignored, so a journal shorter than it is judged
    alone: a torn last record is cut off as usual."""
    history = history_of(8)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(history.data(5) + history.frames[5][:40])
    write_snapshot_at(data_dir, history, 7, history.events[6].hash)
    registry = data_dir / "registry.json"
    edited = registry.read_bytes().replace(b'"trust_score":0.5', b'"trust_score":0.9', 1)
    registry.write_bytes(edited)
    with store_at(data_dir) as store:
        recovery, replay = replay_into(store)
    assert "fails its checksum" in recovery.snapshot_note
    assert recovery.loss is None
    assert recovery.truncation is not None
    assert recovery.truncation.offset == history.end_of(5)
    assert replay.applied == history.events[:5]

