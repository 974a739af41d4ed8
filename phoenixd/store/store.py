"""The embedded store: a data dir holding the journal, snapshots and imports.

Recovery is "last snapshot + replay of the journal tail". Every record is
checked (frame, checksum, chain link) at start-up, which reads the whole
journal but parses only the tail: a damaged record is found before the daemon
serves anything. A torn last record (a crash mid-write, never acknowledged) is
cut off with a warning; damage followed by valid records is not a crash
artefact, and the daemon refuses to start rather than guess.
"""

from __future__ import annotations

import asyncio
import json
import mmap
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phoenixd.core.events import GENESIS_HASH, Event, event_from_payload
from phoenixd.store.frames import Damage, Frame, read_frame, scan
from phoenixd.store.journal import INDEX_STRIDE, Journal
from phoenixd.store.lock import DataDirLock
from phoenixd.store.snapshots import Snapshot, fsync_dir, load_snapshot, write_snapshot

__all__ = ["CorruptJournal", "Recovery", "Store", "VerifyReport", "verify_journal"]

JOURNAL = "audit.jsonl"


class CorruptJournal(RuntimeError):
    """The journal is damaged in a way a crash cannot explain."""


@dataclass(frozen=True)
class Truncation:
    offset: int
    dropped_bytes: int
    sequence: int
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


@contextmanager
def _mapped(path: Path) -> Iterator[bytes | mmap.mmap]:
    if not path.exists() or path.stat().st_size == 0:
        yield b""
        return
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        yield m


def _damage_message(path: Path, damage: Damage) -> str:
    return (
        f"{path} is damaged at byte offset {damage.offset} (record {damage.sequence}): "
        f"{damage.problem}. Valid records follow it, so this is not a torn write; phoenixd "
        "will not start on a damaged journal. Restore the data dir from a backup, or inspect "
        "it with `phoenix audit verify --data-dir DIR`."
    )


class Store:
    """Owns the data dir: the lock, recovery, the journal and snapshots."""

    def __init__(self, data_dir: Path, *, snapshot_every: int) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "imports").mkdir(exist_ok=True)
        self._lock = DataDirLock(data_dir)
        self.journal_path = data_dir / JOURNAL
        self.snapshot_every = snapshot_every
        self.last_snapshot_revision = 0
        self.journal: Journal | None = None

    def recover(
        self,
        apply: Callable[[Event], None],
        restore: Callable[[dict[str, dict[str, Any]], int], None],
    ) -> Recovery:
        """Rebuild the state through ``restore`` (snapshot) and ``apply`` (journal tail)."""
        snap, note = load_snapshot(self.data_dir)
        index: list[int] = []
        snapshot_ok = False

        with _mapped(self.journal_path) as buf:

            def check(seq: int, frame: Frame) -> None:
                nonlocal snapshot_ok
                if (seq - 1) % INDEX_STRIDE == 0:
                    index.append(frame.offset)
                if snap is not None and frame.end == snap.journal_offset:
                    snapshot_ok = seq == snap.revision and frame.hash == snap.hash

            outcome = scan(buf, check)
            if outcome.damage is not None and outcome.damage.valid_records_after:
                raise CorruptJournal(_damage_message(self.journal_path, outcome.damage))
            if snap is not None and not snapshot_ok:
                note = f"snapshot at revision {snap.revision} does not match the journal"
            start, seq = (snap.journal_offset, snap.revision) if snapshot_ok and snap else (0, 0)
            if snapshot_ok and snap is not None:
                restore(snap.documents, snap.revision)
                self.last_snapshot_revision = snap.revision
            replayed = 0
            pos = start
            while pos < outcome.end_offset:
                frame = read_frame(buf, pos)
                assert isinstance(frame, Frame)  # checked by the scan above
                event = event_from_payload(frame.payload, frame.prev_hash, frame.hash)
                seq += 1
                if event.sequence != seq:
                    raise CorruptJournal(
                        f"{self.journal_path}: record at byte offset {pos} carries sequence "
                        f"{event.sequence}, expected {seq}"
                    )
                apply(event)
                replayed += 1
                pos = frame.end

        truncation = None
        if outcome.damage is not None:  # a torn tail: cut it off
            size = self.journal_path.stat().st_size
            os.truncate(self.journal_path, outcome.end_offset)
            fsync_dir(self.data_dir)
            truncation = Truncation(
                outcome.end_offset, size - outcome.end_offset,
                outcome.damage.sequence, outcome.damage.problem,
            )
        return Recovery(
            head_sequence=outcome.records,
            head_hash=outcome.head_hash,
            end_offset=outcome.end_offset,
            index=index,
            snapshot_revision=snap.revision if snapshot_ok and snap else 0,
            replayed=replayed,
            truncation=truncation,
            snapshot_note=note,
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

    def snapshot_due(self, revision: int) -> bool:
        return revision - self.last_snapshot_revision >= self.snapshot_every

    async def write_snapshot(
        self, documents: dict[str, dict[str, Any]], revision: int, hash_: str, offset: int
    ) -> None:
        """Persist a snapshot of the state at ``revision`` once that revision is durable."""
        assert self.journal is not None
        self.last_snapshot_revision = revision
        await self.journal.wait_durable(revision)
        await asyncio.to_thread(
            write_snapshot, self.data_dir, Snapshot(revision, hash_, offset, documents)
        )

    def close(self) -> None:
        self._lock.release()


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    verified: int
    head_sequence: int
    head_hash: str
    bad_sequence: int = 0
    bad_offset: int = 0
    problem: str = ""


def verify_journal(path: Path, upto_offset: int | None = None) -> VerifyReport:
    """Check every record and chain link, and that sequence numbers run 1, 2, 3..."""
    problem: tuple[int, int, str] | None = None

    def check(seq: int, frame: Frame) -> None:
        nonlocal problem
        if problem is not None:
            return
        try:
            body = json.loads(frame.payload)
            carried = body.get("seq")
        except ValueError as exc:
            problem = (seq, frame.offset, f"event is not valid JSON: {exc}")
            return
        if carried != seq:
            problem = (seq, frame.offset, f"event carries sequence {carried}, expected {seq}")

    with _mapped(path) as buf:
        view = buf if upto_offset is None else memoryview(buf)[:upto_offset]
        outcome = scan(view, check)
        if isinstance(view, memoryview):
            view.release()
    if problem is not None:
        seq, offset, why = problem
        return VerifyReport(False, seq - 1, outcome.records, outcome.head_hash, seq, offset, why)
    if outcome.damage is not None:
        d = outcome.damage
        return VerifyReport(
            False, outcome.records, outcome.records, outcome.head_hash,
            d.sequence, d.offset, d.problem,
        )
    return VerifyReport(True, outcome.records, outcome.records, outcome.head_hash or GENESIS_HASH)
