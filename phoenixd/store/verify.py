"""Offline and online verification of the journal's records and hash chain.

Offline (``verify_data_dir``) the verdict is the one phoenixd's recovery reaches on the
same data dir (damage.py): the journal is checked against the snapshot beside it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from phoenixd.core.events import GENESIS_HASH, Event
from phoenixd.store.damage import BadEvent, Diagnosis, Verdict, diagnose, read_event
from phoenixd.store.frames import Frame, mapped, scan
from phoenixd.store.snapshots import load_snapshot

__all__ = ["VerifyReport", "read_events", "verify_data_dir", "verify_journal"]

JOURNAL = "audit.jsonl"


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    verified: int
    head_sequence: int
    head_hash: str
    bad_sequence: int = 0
    bad_offset: int = 0
    problem: str = ""
    verdict: Verdict = Verdict.INTACT
    dropped_bytes: int = 0  # what a start cuts off (a torn tail)
    snapshot_revision: int = 0  # the loadable snapshot checked against (0: none)


def verify_journal(
    path: Path, upto_offset: int | None = None, snapshot_revision: int = 0,
) -> VerifyReport:
    """Check every record and chain link, and that sequence numbers run 1, 2, 3..."""
    bad_event: BadEvent | None = None

    def check(seq: int, frame: Frame) -> None:
        nonlocal bad_event
        if bad_event is not None:
            return
        event = read_event(seq, frame)
        if isinstance(event, BadEvent):
            bad_event = event

    with mapped(path) as buf:
        view = buf if upto_offset is None else memoryview(buf)[:upto_offset]
        outcome = scan(view, check)
        size = len(view)
        if isinstance(view, memoryview):
            view.release()
    return _report(diagnose(outcome, size, snapshot_revision, bad_event))


def verify_data_dir(data_dir: Path) -> VerifyReport:
    """Verify a data dir's journal as recovery will judge it: beside its snapshot.

    A missing journal is read as an empty one, as recovery reads it: beside a snapshot
    that loads, every record it covers was lost. With neither, there is nothing to verify
    (FileNotFoundError).
    """
    journal = data_dir / JOURNAL
    snapshot, _ = load_snapshot(data_dir)
    if snapshot is None and not journal.exists():
        raise FileNotFoundError(f"no journal at {journal}")
    proof = snapshot.revision if snapshot is not None else 0
    return verify_journal(journal, snapshot_revision=proof)


def _report(d: Diagnosis) -> VerifyReport:
    ok = d.verdict is Verdict.INTACT
    return VerifyReport(
        ok, d.records, d.records, d.head_hash or GENESIS_HASH, d.bad_sequence, d.bad_offset,
        d.problem, d.verdict, d.dropped_bytes, d.snapshot_revision,
    )


def read_events(path: Path) -> list[Event]:
    """Every event of the journal at ``path``, in order, read offline (a daemon may hold
    the data dir meanwhile: this only reads). Stops before the first record that fails its
    checks, as recovery would; ``verify_journal`` says what is wrong with it."""
    events: list[Event] = []
    stopped = False

    def keep(seq: int, frame: Frame) -> None:
        nonlocal stopped
        if stopped:
            return
        event = read_event(seq, frame)
        if isinstance(event, BadEvent):
            stopped = True
        else:
            events.append(event)

    with mapped(path) as buf:
        scan(buf, keep)
    return events
