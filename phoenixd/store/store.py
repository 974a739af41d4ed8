"""The embedded store: a data dir holding the journal, snapshots and imports.

Recovery is "last snapshot + replay of the journal tail". Every record is
checked (frame, checksum, chain link) at start-up, which reads the whole
journal but parses only the tail: a damaged record is found before the daemon
serves anything. A torn last record (the file ends inside it: an append cut short
by a crash, so never acknowledged) is cut off with a warning. Any other damage,
including a complete last record that fails its checksum (it may have been
acknowledged), is not a crash artefact, and the daemon refuses to start rather
than guess. So is a journal that ends, torn or not, before the revision of a
snapshot that loads: a snapshot is written only once the events it covers are
durable, so those records were lost; the start is refused unless the loss is
accepted on purpose (``accept_journal_loss``). damage.py holds these rules, for
recovery and verify alike.

A full disk is met before it is hit: every event is applied in memory before it
is written, so a write that fails would leave the state ahead of the journal.
The server asks ``write_refusal`` before each mutation and refuses it while the
data dir has less free space than the reserve; reads, heartbeats and sessions go
on, and the events the daemon must still record (a lease that really expired, a
failover) come out of the reserve. Mutations resume by themselves once space is
freed. A snapshot that does not fit is skipped: the journal alone suffices.
"""

from __future__ import annotations

import asyncio
import errno
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from phoenixd import failpoints
from phoenixd.core.events import Event
from phoenixd.store.damage import BadEvent, Verdict, diagnose, read_event
from phoenixd.store.frames import Frame, mapped, read_frame, scan
from phoenixd.store.fsio import make_private_dir, shared_mode, sync_data
from phoenixd.store.journal import INDEX_STRIDE, Journal
from phoenixd.store.lock import DataDirLock
from phoenixd.store.snapshots import Snapshot, load_snapshot, write_snapshot

__all__ = [
    "MAX_SNAPSHOT_SPACING", "MIB", "SPACE_CHECK_INTERVAL", "CorruptJournal", "DiskSpace",
    "JournalLoss", "JournalLost", "Recovery", "Store",
]

log = structlog.get_logger("phoenixd.store")

JOURNAL = "audit.jsonl"
MIB = 1024 * 1024
# Free space is read at most this often: statvfs is cheap, but a mutation path
# that calls it thousands of times a second would not be.
SPACE_CHECK_INTERVAL = 0.5


class CorruptJournal(RuntimeError):
    """The journal is damaged in a way a crash cannot explain."""


class JournalLost(CorruptJournal):
    """The journal ends before the revision its snapshot proves durable."""


@dataclass(frozen=True)
class Truncation:
    offset: int
    dropped_bytes: int
    sequence: int
    problem: str


@dataclass(frozen=True)
class JournalLoss:
    """Records the snapshot proved durable that the journal no longer holds, accepted at
    start-up (``accept_journal_loss``): the daemon starts on the records before them."""

    offset: int  # where the journal now ends
    dropped_bytes: int  # cut off after it (a torn record), 0 if it ended at a record boundary
    last_revision: int  # the last intact record
    snapshot_revision: int
    snapshot_hash: str
    problem: str


@dataclass(frozen=True)
class Recovery:
    head_sequence: int
    head_hash: str
    end_offset: int
    index: list[int]
    snapshot_revision: int  # 0 when the journal was replayed from the start
    replayed: int  # events parsed and applied after the snapshot
    truncation: Truncation | None
    snapshot_note: str
    loss: JournalLoss | None = None


class DiskSpace:
    """The data dir's free space against the reserve kept for the journal."""

    def __init__(
        self, path: Path, reserve_bytes: int, *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.reserve_bytes = reserve_bytes
        self._monotonic = monotonic
        self._free = 0
        self._read_at: float | None = None

    def free_bytes(self) -> int:
        """Bytes an unprivileged writer may still use there (read at most every interval)."""
        now = self._monotonic()
        if self._read_at is None or now - self._read_at >= SPACE_CHECK_INTERVAL:
            st = os.statvfs(self.path)
            self._free, self._read_at = st.f_bavail * st.f_frsize, now
        return self._free

    def refusal(self, *, stalled: bool = False) -> str | None:
        """Why a mutation must wait for space now, or None when there is room."""
        full = failpoints.hit("disk.full")
        free = 0 if full else self.free_bytes()
        if not stalled and free >= self.reserve_bytes:
            return None
        cause = "; a journal write found no space left on device" if stalled else ""
        return (
            f"data dir {self.path} is out of disk space ({free // MIB} MiB free, "
            f"{self.reserve_bytes // MIB} MiB reserved{cause}): free some space there and "
            "changes resume by themselves; reads, heartbeats and sessions go on meanwhile"
        )


# The most events between snapshots that the state's size alone may call for: at the
# ~10,000 events/s a replay runs, a restart replays at most ~25 s of journal tail.
MAX_SNAPSHOT_SPACING = 250_000


class Store:
    """Owns the data dir: the lock, recovery, the journal and snapshots."""

    def __init__(
        self, data_dir: Path, *, snapshot_every: int, reserve_bytes: int = 0,
        accept_journal_loss: bool = False,
    ) -> None:
        self.data_dir = data_dir
        # Start even on a journal that ends before its snapshot's revision (see damage.py).
        self.accept_journal_loss = accept_journal_loss
        make_private_dir(data_dir)
        if (mode := shared_mode(data_dir)) is not None:
            log.warning(
                "the data dir is open to other users, who could replace handoff.key or the "
                f"journal while phoenixd is stopped; chmod 700 {data_dir}",
                data_dir=str(data_dir), mode=oct(mode),
            )
        make_private_dir(data_dir / "imports")
        self._lock = DataDirLock(data_dir)
        self.space = DiskSpace(data_dir.resolve(), reserve_bytes)
        self.journal_path = data_dir / JOURNAL
        self.snapshot_every = snapshot_every
        self.last_snapshot_revision = 0
        self.journal: Journal | None = None
        self._snapshot_lock = asyncio.Lock()

    def recover(
        self,
        apply: Callable[[Event], None],
        restore: Callable[[Mapping[str, Mapping[str, Any]], int], None],
        reset: Callable[[], None],
    ) -> Recovery:
        """Rebuild the state through ``restore`` (snapshot) and ``apply`` (journal tail).

        A snapshot that cannot be restored is dropped (``reset``) in favour of a
        full replay: the journal is never compacted, so it alone suffices. What the
        journal's damage means is decided by damage.diagnose, as verify decides it.
        """
        snap, note = load_snapshot(self.data_dir)
        index: list[int] = []
        restore_failed = False
        replayed = 0
        bad_event: BadEvent | None = None
        # One pass: each record is checked and, from the snapshot's offset on (from the
        # start without one), applied as the scan reaches it. Damage found later still
        # refuses the start; a snapshot that turns out not to fit is replayed around below.
        applying = snap is None

        def apply_frame(seq: int, frame: Frame) -> None:
            nonlocal replayed, bad_event
            if bad_event is not None:  # the start is refused: apply nothing after it
                return
            event = read_event(seq, frame)
            if isinstance(event, BadEvent):
                bad_event = event
                return
            apply(event)
            replayed += 1

        def on_frame(seq: int, frame: Frame) -> None:
            nonlocal restore_failed, applying, note
            if (seq - 1) % INDEX_STRIDE == 0:
                index.append(frame.offset)
            if applying:
                apply_frame(seq, frame)
            elif snap is not None and frame.end == snap.journal_offset:
                if seq != snap.revision or frame.hash != snap.hash:
                    return
                try:
                    restore(snap.documents, snap.revision)
                except (KeyError, TypeError, ValueError) as exc:
                    reset()
                    restore_failed = True
                    note = f"snapshot at revision {snap.revision} could not be restored: {exc!r}"
                    return
                applying = True
                self.last_snapshot_revision = snap.revision

        proof = snap.revision if snap is not None else 0
        with mapped(self.journal_path) as buf:
            outcome = scan(buf, on_frame)
            size = len(buf)
            if diagnose(outcome, size, proof).verdict is not Verdict.CORRUPT and not applying:
                # The snapshot did not fit (or the journal ends before it): replay it all.
                pos, seq = 0, 0
                while pos < outcome.end_offset and bad_event is None:
                    frame = read_frame(buf, pos)
                    assert isinstance(frame, Frame)  # checked by the scan above
                    seq += 1
                    apply_frame(seq, frame)
                    pos = frame.end
        diagnosis = diagnose(outcome, size, proof, bad_event)
        if diagnosis.verdict is Verdict.CORRUPT:
            raise CorruptJournal(diagnosis.refusal(self.journal_path))
        lost = diagnosis.verdict is Verdict.TRUNCATED_BELOW_SNAPSHOT
        if lost and not self.accept_journal_loss:
            raise JournalLost(diagnosis.refusal(self.journal_path))
        restored = snap is not None and applying
        if snap is not None and not restored and not restore_failed:
            fit = "is ahead of the journal (loss accepted)" if lost else (
                "does not match the journal")
            note = f"snapshot at revision {snap.revision} {fit}"

        truncation = loss = None
        if diagnosis.dropped_bytes:  # a torn tail: cut it off
            with open(self.journal_path, "r+b") as f:
                f.truncate(diagnosis.end_offset)
                sync_data(f.fileno())
        if lost:
            assert snap is not None
            loss = JournalLoss(
                diagnosis.end_offset, diagnosis.dropped_bytes, diagnosis.records,
                snap.revision, snap.hash, diagnosis.problem,
            )
        elif diagnosis.damage is not None:
            truncation = Truncation(
                diagnosis.end_offset, diagnosis.dropped_bytes,
                diagnosis.damage.sequence, diagnosis.damage.problem,
            )
        return Recovery(
            head_sequence=diagnosis.records,
            head_hash=diagnosis.head_hash,
            end_offset=diagnosis.end_offset,
            index=index,
            snapshot_revision=snap.revision if restored and snap else 0,
            replayed=replayed,
            truncation=truncation,
            snapshot_note=note,
            loss=loss,
        )

    def open_journal(
        self,
        recovery: Recovery,
        on_durable: Callable[[list[Event]], None],
        on_fatal: Callable[[BaseException], None],
    ) -> Journal:
        self.journal = Journal(
            self.journal_path,
            end_offset=recovery.end_offset,
            head_sequence=recovery.head_sequence,
            index=recovery.index,
            on_durable=on_durable,
            on_fatal=on_fatal,
        )
        return self.journal

    def write_refusal(self) -> str | None:
        """Why mutations are refused now (the disk is full), or None: asked before each one."""
        return self.space.refusal(stalled=self.journal is not None and self.journal.stalled)

    def snapshot_due(self, revision: int, records: int = 0) -> bool:
        """Whether to snapshot now: after ``snapshot_every`` events, and never before as
        many events as the state holds ``records`` (members and packets) have passed, up
        to MAX_SNAPSHOT_SPACING: snapshot work per event stays bounded as the state grows
        (a million packets take tens of seconds to write), and so does the journal tail a
        restart replays."""
        spacing = max(self.snapshot_every, min(records, MAX_SNAPSHOT_SPACING))
        return revision - self.last_snapshot_revision >= spacing

    async def write_snapshot(
        self, documents: Mapping[str, Mapping[str, Iterable[Any]]], revision: int, hash_: str,
        offset: int,
    ) -> bool:
        """Persist a snapshot of the state at ``revision`` once that revision is durable.

        Returns whether it was written: not when a newer one exists, nor when the
        disk is full (the next one is tried after another ``snapshot_every`` events).
        """
        assert self.journal is not None
        async with self._snapshot_lock:  # one writer of the temp files at a time
            if revision <= self.last_snapshot_revision:
                return False
            self.last_snapshot_revision = revision
            await self.journal.wait_durable(revision)
            try:
                await asyncio.to_thread(
                    write_snapshot, self.data_dir, Snapshot(revision, hash_, offset, documents)
                )
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                log.warning("snapshot skipped: no space left on device (the journal alone "
                            "suffices for recovery)", revision=revision, error=str(exc))
                return False
            return True

    def close(self) -> None:
        self._lock.release()
