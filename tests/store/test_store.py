"""The embedded store on a temporary data dir. Store.recover replays every journaled event in
order; it cuts a torn last record off (the file shrinks to the last good record, Recovery says
what was dropped, and the next recovery is clean); it refuses a journal damaged mid-log with
CorruptJournal naming the byte offset, leaving the file untouched; it starts from a snapshot
that matches the journal and replays only the events after it, and ignores (with a note) one
that does not match. One Store holds a data dir at a time (DataDirLocked). verify_journal
reports a clean journal, or the first bad sequence number and its offset. The Journal commits in
groups (many appends share one fsync), hands durable events to ``on_durable`` in order, reads
them back from memory or from the file, and ``close`` flushes what is still queued."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from phoenixd.core.events import (
    GENESIS_HASH,
    Actor,
    Event,
    EventType,
    canonical_bytes,
)
from phoenixd.core.recorder import Recorder
from phoenixd.core.state import ClusterState
from phoenixd.store import (
    CorruptJournal,
    DataDirLocked,
    Store,
    verify_journal,
)
from phoenixd.store.frames import encode_frame
from phoenixd.store.journal import RECENT_EVENTS, Journal
from phoenixd.store.snapshots import Snapshot, write_snapshot
from phoenixd.store.store import MAX_SNAPSHOT_SPACING
from tests.store.framing import (
    FrameSink,
    history_of,
    replay_into,
    store_at,
    write_snapshot_at,
)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


# -- recovery ------------------------------------------------------------------


def test_recovery_of_a_new_data_dir(tmp_path: Path) -> None:
    with store_at(tmp_path / "data") as store:
        recovery, replay = replay_into(store)
    assert (recovery.head_sequence, recovery.head_hash, recovery.end_offset) == (
        0, GENESIS_HASH, 0,
    )
    assert recovery.replayed == 0
    assert recovery.truncation is None
    assert replay.applied == []
    assert (tmp_path / "data" / "imports").is_dir()


def test_recovery_replays_every_event_in_order(tmp_path: Path) -> None:
    history = history_of(6)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(history.data())
    with store_at(data_dir) as store:
        recovery, replay = replay_into(store)
    assert replay.applied == history.events
    assert recovery.replayed == len(history.events)
    assert recovery.head_sequence == len(history.events)
    assert recovery.head_hash == history.events[-1].hash
    assert recovery.end_offset == len(history.data())
    assert recovery.snapshot_revision == 0
    assert recovery.truncation is None
    assert replay.state.members == history.state.members


def test_recovery_indexes_the_first_record(tmp_path: Path) -> None:
    history = history_of(3)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(history.data())
    with store_at(data_dir) as store:
        recovery, _ = replay_into(store)
    assert recovery.index == [0]


@pytest.mark.parametrize("kept", [1, 40, -2])
def test_a_torn_tail_is_truncated_to_the_last_good_record(tmp_path: Path, kept: int) -> None:
    history = history_of(5)
    n = len(history.events)
    good = history.data(n - 1)
    torn = history.frames[-1][:kept]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(good + torn)
    with store_at(data_dir) as store:
        recovery, replay = replay_into(store)
    assert (data_dir / "audit.jsonl").stat().st_size == len(good)
    assert (data_dir / "audit.jsonl").read_bytes() == good
    assert recovery.truncation is not None
    assert recovery.truncation.offset == len(good)
    assert recovery.truncation.dropped_bytes == len(torn)
    assert recovery.truncation.sequence == n
    assert recovery.head_sequence == n - 1
    assert recovery.end_offset == len(good)
    assert replay.applied == history.events[:-1]


def test_a_complete_last_record_that_fails_its_checksum_refuses_to_start(tmp_path: Path) -> None:
    history = history_of(3)
    data = history.data()
    last = len(data) - len(history.frames[-1])
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(_flip(data, last + 60))
    with store_at(data_dir) as store, pytest.raises(CorruptJournal, match=f"byte offset {last}"):
        replay_into(store)
    assert (data_dir / "audit.jsonl").read_bytes() == _flip(data, last + 60)  # nothing cut


def test_recovery_after_a_truncation_is_clean(tmp_path: Path) -> None:
    history = history_of(5)
    n = len(history.events)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(history.data(n - 1) + history.frames[-1][:30])
    with store_at(data_dir) as store:
        replay_into(store)
    with store_at(data_dir) as store:
        recovery, replay = replay_into(store)
    assert recovery.truncation is None
    assert recovery.replayed == n - 1
    assert replay.applied == history.events[:-1]


def test_mid_log_corruption_refuses_to_start_and_names_the_offset(tmp_path: Path) -> None:
    history = history_of(5)
    data = history.data()
    offset = history.end_of(2)  # the start of record 3
    damaged = _flip(data, offset + len(history.frames[2]) // 2)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(damaged)
    with store_at(data_dir) as store, pytest.raises(CorruptJournal) as excinfo:
        replay_into(store)
    message = str(excinfo.value)
    assert f"byte offset {offset}" in message
    assert "record 3" in message
    assert (data_dir / "audit.jsonl").read_bytes() == damaged  # nothing was cut off


def test_records_with_wrong_sequence_numbers_are_refused(tmp_path: Path) -> None:
    sink = FrameSink()
    recorder = Recorder(sink, lambda event: None, head_sequence=10, wall_clock=lambda: 1.0)
    for _ in range(3):
        recorder.record(EventType.DAEMON_STARTED, Actor.DAEMON)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(b"".join(sink.frames))
    with store_at(data_dir) as store, pytest.raises(CorruptJournal, match="byte offset 0"):
        replay_into(store)


def test_recovery_starts_from_a_matching_snapshot(tmp_path: Path) -> None:
    history = history_of(8)
    revision = 7
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(history.data())
    write_snapshot_at(data_dir, history, revision, history.events[revision - 1].hash)
    with store_at(data_dir) as store:
        recovery, replay = replay_into(store)
        assert store.last_snapshot_revision == revision
    assert recovery.snapshot_revision == revision
    assert replay.restored == [revision]
    assert replay.applied == history.events[revision:]
    assert recovery.replayed == len(history.events) - revision
    assert recovery.head_sequence == len(history.events)
    assert replay.state.members == history.state.members


def test_a_snapshot_at_the_head_replays_nothing(tmp_path: Path) -> None:
    history = history_of(4)
    n = len(history.events)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(history.data())
    write_snapshot_at(data_dir, history, n, history.events[-1].hash)
    with store_at(data_dir) as store:
        recovery, replay = replay_into(store)
    assert recovery.snapshot_revision == n
    assert recovery.replayed == 0
    assert replay.state.members == history.state.members


def test_a_snapshot_that_does_not_match_the_journal_is_ignored(tmp_path: Path) -> None:
    history = history_of(8)
    revision = 7
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(history.data())
    write_snapshot_at(data_dir, history, revision, history.events[revision - 2].hash)
    with store_at(data_dir) as store:
        recovery, replay = replay_into(store)
    assert recovery.snapshot_revision == 0
    assert f"snapshot at revision {revision} does not match the journal" in recovery.snapshot_note
    assert replay.restored == []
    assert replay.applied == history.events
    assert recovery.replayed == len(history.events)
    assert replay.state.members == history.state.members


@pytest.mark.parametrize(
    ("edit", "note"),
    [
        ((b'"trust_score":0.5', b'"trust_score":0.9'), "fails its checksum"),
        ((b'"body_sha256":"', b'"body_sha256":"0'), "fails its checksum"),
    ],
)
def test_an_edited_snapshot_is_ignored_and_the_journal_replayed(
    tmp_path: Path, edit: tuple[bytes, bytes], note: str
) -> None:
    history = history_of(5)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(history.data())
    write_snapshot_at(data_dir, history, 7, history.events[6].hash)
    registry = data_dir / "registry.json"
    registry.write_bytes(registry.read_bytes().replace(*edit, 1))
    with store_at(data_dir) as store:
        recovery, replay = replay_into(store)
    assert recovery.snapshot_revision == 0
    assert note in recovery.snapshot_note
    assert replay.applied == history.events


def test_a_snapshot_that_cannot_be_restored_falls_back_to_a_full_replay(tmp_path: Path) -> None:
    history = history_of(5)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(history.data())
    at_revision = ClusterState()
    for event in history.events[:7]:
        at_revision.apply(event)
    documents = at_revision.snapshot()
    documents["registry.json"]["members"][0]["status"] = "NOT-A-STATUS"  # checksummed, yet bad
    write_snapshot(
        data_dir, Snapshot(7, history.events[6].hash, history.end_of(7), documents)
    )
    with store_at(data_dir) as store:
        recovery, replay = replay_into(store)
    assert recovery.snapshot_revision == 0
    assert "could not be restored" in recovery.snapshot_note
    expected = ClusterState()
    for event in history.events:
        expected.apply(event)
    assert replay.state.members == expected.members


def test_an_interrupted_snapshot_is_ignored(tmp_path: Path) -> None:
    history = history_of(8)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "audit.jsonl").write_bytes(history.data())
    write_snapshot_at(data_dir, history, 7, history.events[6].hash)
    registry = data_dir / "registry.json"
    registry.write_bytes(registry.read_bytes().replace(b'"revision":7', b'"revision":8', 1))
    with store_at(data_dir) as store:
        recovery, replay = replay_into(store)
    assert recovery.snapshot_revision == 0
    assert "disagree" in recovery.snapshot_note
    assert replay.applied == history.events


def test_a_second_store_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with store_at(data_dir), pytest.raises(DataDirLocked, match="in use"):
        Store(data_dir, snapshot_every=1000)
    with store_at(data_dir):  # released on close
        pass


# -- verify_journal ------------------------------------------------------------


def test_verify_reports_a_clean_journal(tmp_path: Path) -> None:
    history = history_of(5)
    path = tmp_path / "audit.jsonl"
    path.write_bytes(history.data())
    report = verify_journal(path)
    assert report.ok
    assert report.verified == report.head_sequence == len(history.events)
    assert report.head_hash == history.events[-1].hash


def test_verify_names_the_first_bad_sequence_and_offset(tmp_path: Path) -> None:
    history = history_of(5)
    path = tmp_path / "audit.jsonl"
    offset = history.end_of(3)
    path.write_bytes(_flip(history.data(), offset + 100))
    report = verify_journal(path)
    assert not report.ok
    assert report.bad_sequence == 4
    assert report.bad_offset == offset
    assert report.verified == 3
    assert report.problem


def test_verify_names_a_record_with_the_wrong_sequence(tmp_path: Path) -> None:
    sink = FrameSink()
    recorder = Recorder(sink, lambda event: None, head_sequence=1, wall_clock=lambda: 1.0)
    recorder.record(EventType.DAEMON_STARTED, Actor.DAEMON)
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"".join(sink.frames))
    report = verify_journal(path)
    assert not report.ok
    assert (report.bad_sequence, report.bad_offset) == (1, 0)
    assert "carries sequence 2, expected 1" in report.problem


def test_verify_up_to_an_offset_ignores_what_follows(tmp_path: Path) -> None:
    history = history_of(5)
    path = tmp_path / "audit.jsonl"
    path.write_bytes(history.data() + b"torn")
    report = verify_journal(path, upto_offset=history.end_of(3))
    assert report.ok
    assert report.verified == 3


# -- the journal ---------------------------------------------------------------


class Durable:
    """Collects what the journal reports durable, and any fatal error."""

    def __init__(self) -> None:
        self.batches: list[list[Event]] = []
        self.fatal: list[BaseException] = []

    def on_durable(self, events: list[Event]) -> None:
        self.batches.append(list(events))

    @property
    def events(self) -> list[Event]:
        return [event for batch in self.batches for event in batch]


def _new_journal(path: Path, durable: Durable) -> Journal:
    return Journal(
        path, end_offset=0, head_sequence=0, index=[],
        on_durable=durable.on_durable, on_fatal=durable.fatal.append,
    )


def _record(recorder: Recorder, n: int) -> list[Event]:
    return [
        recorder.record(EventType.MEMBER_UPDATED, Actor.OPERATOR, reason=f"r{i}", data={"i": i})
        for i in range(n)
    ]


def test_many_appends_share_fsync_batches(tmp_path: Path) -> None:
    durable = Durable()

    async def scenario() -> None:
        journal = _new_journal(tmp_path / "audit.jsonl", durable)
        journal.start()
        recorder = Recorder(journal, lambda event: None)
        events = _record(recorder, 200)
        await journal.wait_durable(200)
        assert 1 <= journal.batches < len(events)
        assert journal.durable_sequence == 200
        assert journal.durable_offset == journal.end_offset
        await journal.close()

    asyncio.run(scenario())
    assert durable.fatal == []


def test_durable_events_are_handed_on_in_order(tmp_path: Path) -> None:
    durable = Durable()
    recorded: list[Event] = []

    async def scenario() -> None:
        journal = _new_journal(tmp_path / "audit.jsonl", durable)
        journal.start()
        recorder = Recorder(journal, lambda event: None)
        for burst in (5, 1, 30, 7):
            recorded.extend(_record(recorder, burst))
            await journal.wait_durable(recorder.head_sequence)
        await journal.close()

    asyncio.run(scenario())
    assert durable.events == recorded
    assert [e.sequence for e in durable.events] == list(range(1, 44))


def test_wait_durable_returns_once_the_record_is_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"

    async def scenario() -> None:
        journal = _new_journal(path, Durable())
        journal.start()
        recorder = Recorder(journal, lambda event: None)
        event = _record(recorder, 1)[0]
        await journal.wait_durable(1)
        payload = canonical_bytes(event.body())
        assert path.read_bytes() == encode_frame(event.prev_hash, event.hash, payload)
        assert verify_journal(path).ok
        await journal.wait_durable(1)  # already durable: returns at once
        await journal.close()

    asyncio.run(scenario())


def test_journal_writes_a_file_that_verifies_and_recovers(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    recorded: list[Event] = []

    async def scenario() -> None:
        journal = _new_journal(data_dir / "audit.jsonl", Durable())
        journal.start()
        recorded.extend(_record(Recorder(journal, lambda event: None), 50))
        await journal.wait_durable(50)
        await journal.close()

    asyncio.run(scenario())
    assert verify_journal(data_dir / "audit.jsonl").ok
    with store_at(data_dir) as store:
        _, replay = replay_into(store)
    assert replay.applied == recorded


def test_read_returns_recent_events_from_memory(tmp_path: Path) -> None:
    async def scenario() -> None:
        journal = _new_journal(tmp_path / "audit.jsonl", Durable())
        journal.start()
        events = _record(Recorder(journal, lambda event: None), 20)
        await journal.wait_durable(20)
        (tmp_path / "audit.jsonl").write_bytes(b"")  # proves nothing is read from the file
        assert await journal.read(0, 100) == events
        assert await journal.read(5, 3) == events[5:8]
        assert await journal.read(20, 10) == []
        await journal.close()

    asyncio.run(scenario())


def test_read_never_returns_events_that_are_not_durable(tmp_path: Path) -> None:
    async def scenario() -> None:
        journal = _new_journal(tmp_path / "audit.jsonl", Durable())
        journal.start()
        recorder = Recorder(journal, lambda event: None)
        _record(recorder, 3)
        await journal.wait_durable(3)
        _record(recorder, 2)  # queued, not yet flushed
        assert [e.sequence for e in await journal.read(0, 100)] == [1, 2, 3]
        await journal.wait_durable(5)
        await journal.close()

    asyncio.run(scenario())


def test_read_falls_back_to_the_file_for_old_events(tmp_path: Path) -> None:
    total = RECENT_EVENTS + 2000  # the oldest 2000 are no longer held in memory

    async def scenario() -> None:
        journal = _new_journal(tmp_path / "audit.jsonl", Durable())
        journal.start()
        events = _record(Recorder(journal, lambda event: None), total)
        await journal.wait_durable(total)
        assert await journal.read(0, 10) == events[:10]
        assert await journal.read(1500, 10) == events[1500:1510]  # past the first index stride
        assert await journal.read(1995, 10) == events[1995:2005]  # from the file, into memory
        assert await journal.read(total - 5, 10) == events[-5:]
        await journal.close()

    asyncio.run(scenario())


def test_a_reopened_journal_reads_old_events_from_the_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    history = history_of(10)
    (data_dir / "audit.jsonl").write_bytes(history.data())
    n = len(history.events)

    async def scenario() -> None:
        with store_at(data_dir) as store:
            recovery, replay = replay_into(store)
            durable = Durable()
            journal = store.open_journal(recovery, durable.on_durable, durable.fatal.append)
            journal.start()
            assert await journal.read(0, 5) == history.events[:5]
            recorder = Recorder(
                journal, replay.state.apply, head_sequence=recovery.head_sequence,
                head_hash=recovery.head_hash,
            )
            more = _record(recorder, 3)
            await journal.wait_durable(n + 3)
            assert await journal.read(n - 2, 10) == [*history.events[-2:], *more]
            assert await journal.read(n, 10) == more
            await journal.close()

    asyncio.run(scenario())
    assert verify_journal(data_dir / "audit.jsonl").head_sequence == n + 3


def test_close_flushes_queued_records_and_returns(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    durable = Durable()

    async def scenario() -> None:
        journal = _new_journal(path, durable)
        journal.start()
        _record(Recorder(journal, lambda event: None), 3)
        await journal.close()  # no wait_durable first: close must flush what is queued

    try:
        # The limit only turns a hang into a failure; nothing here measures time.
        asyncio.run(asyncio.wait_for(scenario(), timeout=10))
        returned = True
    except TimeoutError:
        returned = False
    assert [e.sequence for e in durable.events] == [1, 2, 3]
    assert verify_journal(path).head_sequence == 3
    assert returned, "Journal.close() flushed the queued records but never returned"


def test_append_after_close_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        journal = _new_journal(tmp_path / "audit.jsonl", Durable())
        journal.start()
        recorder = Recorder(journal, lambda event: None)
        _record(recorder, 1)
        await journal.wait_durable(1)
        await journal.close()
        with pytest.raises(RuntimeError, match="closed"):
            _record(recorder, 1)

    asyncio.run(scenario())


def test_snapshots_are_spaced_by_the_size_of_the_state(tmp_path: Path) -> None:
    """Every snapshot_every events while the state is small; once it holds more records than
    that, only after as many events as it holds records (a snapshot's cost grows with them)."""
    store = Store(tmp_path, snapshot_every=100)
    store.last_snapshot_revision = 1000
    assert not store.snapshot_due(1099, records=10)
    assert store.snapshot_due(1100, records=10)
    assert not store.snapshot_due(1100, records=5000)
    assert not store.snapshot_due(5999, records=5000)
    assert store.snapshot_due(6000, records=5000)
    assert store.snapshot_due(1000 + MAX_SNAPSHOT_SPACING, records=10**7)  # capped
