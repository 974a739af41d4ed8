"""A full disk, met by the store. DiskSpace refuses mutations, with a message naming the data
dir, its free and reserved MiB, while free space is below the reserve (or the ``disk.full``
failpoint says so, or the journal is stalled), reads statvfs at most once per interval, and
lets mutations through again by itself. A journal write that hits ENOSPC loses nothing: the
file is cut back to its last durable record, the batch is held unacknowledged and retried
until it fits, in order, and ``stalled`` says so meanwhile; an ENOSPC from fsync stays fatal.
A snapshot that does not fit is skipped: its temp files are removed and the previous snapshot
is left as it was."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from phoenixd import failpoints
from phoenixd.core.events import Actor, Event, EventType
from phoenixd.core.recorder import Recorder
from phoenixd.store import Store, verify_journal
from phoenixd.store.journal import Journal
from phoenixd.store.snapshots import SNAPSHOT_FILES, Snapshot, write_snapshot
from phoenixd.store.store import MIB, SPACE_CHECK_INTERVAL, DiskSpace

Arm = Callable[[str], None]


@pytest.fixture
def arm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Arm]:
    """Arms failpoints in this process as PHOENIX_FAILPOINTS would at start-up."""

    def arm_(spec: str) -> None:
        monkeypatch.setattr(failpoints, "_ARMED", failpoints._parse(spec))
        monkeypatch.setattr(failpoints, "_HITS", {})

    yield arm_


# -- free space and the reserve -------------------------------------------------------


def test_no_refusal_while_free_space_is_above_the_reserve(tmp_path: Path) -> None:
    assert DiskSpace(tmp_path, reserve_bytes=0).refusal() is None
    assert DiskSpace(tmp_path, reserve_bytes=MIB).refusal() is None


def test_below_the_reserve_mutations_are_refused_with_an_actionable_message(
    tmp_path: Path,
) -> None:
    space = DiskSpace(tmp_path, reserve_bytes=1 << 60)  # more than any disk has free
    message = space.refusal()
    assert message is not None
    free = space.free_bytes() // MIB
    assert message.startswith(f"data dir {tmp_path} is out of disk space ({free} MiB free, "
                              f"{(1 << 60) // MIB} MiB reserved)")
    assert "changes resume by themselves" in message


def test_a_stalled_journal_refuses_whatever_the_free_space(tmp_path: Path) -> None:
    message = DiskSpace(tmp_path, reserve_bytes=0).refusal(stalled=True)
    assert message is not None and "no space left on device" in message


def test_free_space_is_read_at_most_once_per_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = os.statvfs

    def counting(path: str | Path) -> os.statvfs_result:
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "statvfs", counting)
    now = [100.0]
    space = DiskSpace(tmp_path, reserve_bytes=MIB, monotonic=lambda: now[0])
    for _ in range(50):
        space.refusal()
    assert len(calls) == 1
    now[0] += SPACE_CHECK_INTERVAL
    space.refusal()
    assert len(calls) == 2


def test_the_disk_full_failpoint_turns_refusals_on_and_off(tmp_path: Path, arm: Arm) -> None:
    arm("disk.full=on@2..3")
    space = DiskSpace(tmp_path, reserve_bytes=MIB)
    seen = [space.refusal() is not None for _ in range(5)]
    assert seen == [False, True, True, False, False]


def test_the_store_refuses_while_its_journal_is_stalled(tmp_path: Path) -> None:
    store = Store(tmp_path / "data", snapshot_every=1000, reserve_bytes=0)

    async def scenario() -> None:
        recovery = store.recover(lambda event: None, lambda docs, rev: None, lambda: None)
        journal = store.open_journal(recovery, lambda events: None, lambda exc: None)
        assert store.write_refusal() is None
        journal.stalled = True  # as the flusher sets it after an ENOSPC
        assert "no space left on device" in (store.write_refusal() or "")
        await journal.close()

    try:
        asyncio.run(scenario())
    finally:
        store.close()


# -- the journal on a full disk --------------------------------------------------------


class Durable:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.fatal: list[BaseException] = []

    def on_durable(self, events: list[Event]) -> None:
        self.events.extend(events)


def _journal(path: Path, durable: Durable) -> Journal:
    return Journal(
        path, end_offset=0, head_sequence=0, index=[],
        on_durable=durable.on_durable, on_fatal=durable.fatal.append,
    )


def _record(recorder: Recorder, n: int) -> list[Event]:
    return [recorder.record(EventType.MEMBER_UPDATED, Actor.OPERATOR, reason=f"r{i}")
            for i in range(n)]


async def _until(check: Callable[[], bool]) -> None:
    # The limit only turns a hang into a failure; nothing here measures time.
    async with asyncio.timeout(20):
        while not check():
            await asyncio.sleep(0.01)


def test_enospc_on_write_holds_the_batch_and_retries_until_it_fits(
    tmp_path: Path, arm: Arm
) -> None:
    path = tmp_path / "audit.jsonl"
    durable = Durable()
    arm("journal.write=enospc@2..3")  # the 2nd write and its first retry find the disk full

    async def scenario() -> None:
        journal = _journal(path, durable)
        journal.start()
        recorder = Recorder(journal, lambda event: None)
        _record(recorder, 1)
        await journal.wait_durable(1)
        kept = path.stat().st_size
        held = asyncio.ensure_future(_record_and_wait(recorder, journal, 3))
        await _until(lambda: journal.stalled)
        # Cut back to the last durable record: no part of the batch is in the file.
        assert path.stat().st_size == kept == journal.durable_offset
        assert not held.done() and journal.durable_sequence == 1
        _record(recorder, 2)  # recorded while stalled: queued behind the held batch
        await held
        await journal.wait_durable(6)
        assert not journal.stalled
        await journal.close()

    asyncio.run(scenario())
    assert durable.fatal == []
    assert [e.sequence for e in durable.events] == [1, 2, 3, 4, 5, 6]
    report = verify_journal(path)
    assert report.ok and report.head_sequence == 6


async def _record_and_wait(recorder: Recorder, journal: Journal, n: int) -> None:
    events = _record(recorder, n)
    await journal.wait_durable(events[-1].sequence)


def test_enospc_from_fsync_stays_fatal(tmp_path: Path, arm: Arm) -> None:
    durable = Durable()
    arm("journal.before_fsync=enospc")

    async def scenario() -> None:
        journal = _journal(tmp_path / "audit.jsonl", durable)
        journal.start()
        _record(Recorder(journal, lambda event: None), 1)
        await _until(lambda: bool(durable.fatal))
        assert not journal.stalled and journal.durable_sequence == 0

    asyncio.run(scenario())
    (fatal,) = durable.fatal
    assert isinstance(fatal, OSError) and fatal.errno == errno.ENOSPC


# -- snapshots on a full disk ----------------------------------------------------------


def _snapshot(revision: int) -> Snapshot:
    documents: dict[str, dict[str, Any]] = {name: {"r": [revision]} for name in SNAPSHOT_FILES}
    return Snapshot(revision, f"h{revision}", 100 * revision, documents)


def test_a_snapshot_that_does_not_fit_leaves_no_temp_files_and_the_old_one_intact(
    tmp_path: Path, arm: Arm
) -> None:
    write_snapshot(tmp_path, _snapshot(1))
    before = {name: (tmp_path / name).read_bytes() for name in SNAPSHOT_FILES}
    arm("snapshot.before_rename=enospc")
    with pytest.raises(OSError) as info:
        write_snapshot(tmp_path, _snapshot(2))
    assert info.value.errno == errno.ENOSPC
    assert {name: (tmp_path / name).read_bytes() for name in SNAPSHOT_FILES} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SNAPSHOT_FILES)


def test_the_store_skips_a_snapshot_that_does_not_fit(tmp_path: Path, arm: Arm) -> None:
    arm("snapshot.before_rename=enospc@1")
    store = Store(tmp_path / "data", snapshot_every=1)

    async def scenario() -> None:
        recovery = store.recover(lambda event: None, lambda docs, rev: None, lambda: None)
        journal = store.open_journal(recovery, lambda events: None, lambda exc: None)
        journal.start()
        recorder = Recorder(journal, lambda event: None)
        documents = _snapshot(0).documents
        _record(recorder, 1)
        assert not await store.write_snapshot(documents, 1, recorder.head_hash, 0)
        assert not (tmp_path / "data" / "registry.json").exists()
        _record(recorder, 1)
        assert await store.write_snapshot(documents, 2, recorder.head_hash, 0)
        await journal.close()

    try:
        asyncio.run(scenario())
    finally:
        store.close()
    assert (tmp_path / "data" / "registry.json").exists()
