"""What a journal's state means for a start: one verdict, for phoenixd and for verify alike.

The scanner (frames.py) finds the first bad record; this module says what that
record, and a valid snapshot beside the journal, mean:

- intact: every byte is a whole, checked record;
- torn tail: the file ends inside its last record and nothing after it was
  written whole: an append cut short by a crash, never acknowledged (nothing is
  acknowledged before its fsync). phoenixd cuts those bytes off and starts;
- corrupt: a record the file holds in full fails its checks, anywhere (a
  complete last record may have been acknowledged). phoenixd refuses to start;
- truncated below the snapshot: a snapshot at revision R is written only once
  the events up to R are durable in the journal, so a journal that ends (torn
  or at a record boundary) before R has lost records that were durable: that
  is lost data, not an interrupted append, and phoenixd refuses to start unless
  told to accept the loss (``--accept-journal-loss``).

Only a snapshot that loads (every file passes its checksum, the three agree) is
proof of anything: a damaged one is ignored and the journal replayed, as before.

Recovery and verify both scan every record (frame, checksum, chain link) and read
each event they parse through ``read_event``. Verify parses every event; recovery
only those it applies, not the ones a matching snapshot covers (skipping them is
what the snapshot is for). So a record below the snapshot that is whole, checksummed
and chained but whose event does not carry its number is refused by verify only:
no torn write or flipped bit makes one, only a writer that hashed wrong content.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from phoenixd.core.events import Event, event_from_payload
from phoenixd.store.frames import Damage, Frame, ScanOutcome

__all__ = ["ACCEPT_LOSS_FLAG", "BadEvent", "Diagnosis", "Verdict", "diagnose", "read_event"]

ACCEPT_LOSS_FLAG = "--accept-journal-loss"


class Verdict(enum.StrEnum):
    INTACT = "intact"
    TORN_TAIL = "torn_tail"
    CORRUPT = "corrupt"
    TRUNCATED_BELOW_SNAPSHOT = "truncated_below_snapshot"


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The verdict on one journal, and the figures both its readers report."""

    verdict: Verdict
    records: int  # whole, checked records before any damage: the last intact revision
    end_offset: int  # just past them
    head_hash: str
    size: int  # the file's size
    damage: Damage | None  # the first bad record, if any
    snapshot_revision: int  # the loadable snapshot's revision (0: none)

    @property
    def dropped_bytes(self) -> int:
        """Bytes after the last whole record: what a start cuts off."""
        return self.size - self.end_offset

    @property
    def bad_sequence(self) -> int:
        """The first sequence number that is damaged or missing (0 when intact)."""
        if self.damage is not None:
            return self.damage.sequence
        return self.records + 1 if self.verdict is Verdict.TRUNCATED_BELOW_SNAPSHOT else 0

    @property
    def bad_offset(self) -> int:
        """Where the first damaged or missing record begins (0 when intact)."""
        return self.damage.offset if self.damage is not None else (
            self.end_offset if self.verdict is not Verdict.INTACT else 0)

    @property
    def problem(self) -> str:
        """What is wrong, in one clause ("" when intact)."""
        if self.verdict is Verdict.TRUNCATED_BELOW_SNAPSHOT:
            how = f"{self.damage.problem}; " if self.damage is not None else ""
            return (
                f"{how}the journal ends after revision {self.records}, but the snapshot covers "
                f"revision {self.snapshot_revision}: records {self.records + 1}.."
                f"{self.snapshot_revision} were durable before it was written"
            )
        return self.damage.problem if self.damage is not None else ""

    def refusal(self, path: Path) -> str:
        """Why phoenixd will not start on this journal (only for a verdict that refuses)."""
        if self.verdict is Verdict.TRUNCATED_BELOW_SNAPSHOT:
            return (
                f"{path} is truncated below its snapshot at byte offset {self.end_offset}: the "
                f"last intact revision is {self.records}, but the snapshot covers revision "
                f"{self.snapshot_revision}, and a snapshot is written only after the events it "
                f"covers are durable. Records {self.records + 1}..{self.snapshot_revision} "
                "(at least) were lost: this is not a torn write, and phoenixd will not start "
                "on it. Restore the data dir from a backup; or, to start on the first "
                f"{self.records} records and accept the loss (recorded in the journal as a "
                f"journal_loss_accepted event), copy the data dir aside and start with "
                f"{ACCEPT_LOSS_FLAG}."
            )
        assert self.damage is not None
        why = (
            "Valid records follow it" if self.damage.valid_records_after
            else "The record is complete, so it may have been acknowledged"
        )
        return (
            f"{path} is damaged at byte offset {self.damage.offset} (record "
            f"{self.damage.sequence}): {self.damage.problem}. {why}: this is not a torn write, "
            "and phoenixd will not start on a damaged journal. Restore the data dir from a "
            "backup, or inspect it with `phoenix audit verify --data-dir DIR`."
        )


@dataclass(frozen=True, slots=True)
class BadEvent:
    """A whole record whose event does not carry its position's sequence number (or does
    not parse): found by whoever parsed it, since the scan itself parses no event."""

    sequence: int
    frame: Frame
    problem: str


def read_event(seq: int, frame: Frame) -> Event | BadEvent:
    """The event the ``seq``-th record holds, or why it cannot be that record's.

    Recovery reads every record it applies through this, and verify every record, so
    that both call the same record bad. The record passed its checksum: a failure here
    was written so, it is never a torn write.
    """
    try:
        event = event_from_payload(frame.payload, frame.prev_hash, frame.hash)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        return BadEvent(seq, frame, f"event does not parse: {exc!r}")
    if event.sequence != seq:
        return BadEvent(seq, frame, f"event carries sequence {event.sequence}, expected {seq}")
    return event


def diagnose(
    outcome: ScanOutcome, size: int, snapshot_revision: int,
    bad_event: BadEvent | None = None,
) -> Diagnosis:
    """The verdict on a scanned journal of ``size`` bytes beside a snapshot at
    ``snapshot_revision`` (0: none that loads). A ``bad_event`` record is corruption, and
    the journal is taken as ending just before it."""
    if bad_event is not None:
        m = bad_event
        bad = Damage(m.frame.offset, m.sequence, m.problem, m.sequence < outcome.records)
        outcome = ScanOutcome(m.sequence - 1, m.frame.offset, m.frame.prev_hash, bad)
    damage = outcome.damage
    if damage is not None and not damage.torn:
        verdict = Verdict.CORRUPT
    elif outcome.records < snapshot_revision:
        verdict = Verdict.TRUNCATED_BELOW_SNAPSHOT
    elif damage is not None:
        verdict = Verdict.TORN_TAIL
    else:
        verdict = Verdict.INTACT
    return Diagnosis(
        verdict, outcome.records, outcome.end_offset, outcome.head_hash, size, damage,
        snapshot_revision,
    )
