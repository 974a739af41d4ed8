"""Offline and online verification of the journal's records and hash chain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from phoenixd.core.events import GENESIS_HASH
from phoenixd.store.frames import Frame, mapped, scan

__all__ = ["VerifyReport", "verify_journal"]


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

    with mapped(path) as buf:
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
