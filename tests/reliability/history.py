"""A history of packet operations as clients saw them, and a checker of ownership over it.

Recording. Every client process (member workers, the operator, a zombie replaying old writes)
appends its operations to its own JSON-lines file with ``HistoryLog``: a line when an
operation is invoked, a line when it returns. Times are ``time.monotonic()``, which on Linux
is one clock for every process of the machine (and keeps running while a process is
SIGSTOPped). An outcome is ``ok``, the refusal's status code, or ``indeterminate``: a timeout,
a lost connection, a process killed mid-call -- the operation may or may not have happened.
An OK reply also records what it showed of each packet (``Seen``: epoch, owner, status, the
revision of the packet's last event, checkpoint step).

The daemon's own record is the journal (the Flight Recorder): each packet event carries the
packet as it is after the event, so a replay gives every grant, i.e. each ``(packet, epoch)``
with its owner, and the state before every write the daemon accepted.

Checking (``check``). The daemon is one process that records events one at a time, in
sequence order, and replies OK (or shows a revision, or sends an assignment) only once the
event is durable; so the journal's sequence is the order in which operations took effect,
an operation took effect between its invoke and its return, and every position the checker
learns from an OK reply is durable. (A kill -9 may lose an unacknowledged tail whose sequence
numbers are then reused; no OK reply ever named them.) From that, each rule below is sound:
it reports only what no correct run can produce.

1. ``epoch-not-increasing``: a packet's grants have strictly increasing epochs, and no
   packet event has a lower epoch than the one before it.
2. ``two-owners``: every event of a packet at epoch ``e`` that names an owner names the one
   ``(packet, e)`` was granted to.
3. ``write-outside-grant``: every member write in the journal (ack, checkpoint, complete,
   fail, handoff completion) came from the owner of the packet's current grant, at its
   epoch, while the packet was owned; every OK write in the history is in the journal as
   that member's write at the epoch it sent; and a write that is *known stale* when it is
   invoked was refused. Known stale: some operation that returned before the write was
   invoked had already shown the packet at a higher epoch, or PENDING at the same epoch (the
   grant ended; the next one has a new epoch), or owned by another member at the same epoch.
   Epochs never go back and an epoch has one owner, so such a write can never be current.
   Its refusal must be FAILED_PRECONDITION (stale epoch), PERMISSION_DENIED (not the owner)
   or UNAUTHENTICATED (a retired or replaced incarnation); another refusal is reported as
   ``refusal-code``; an indeterminate one is only counted.
4. ``real-time-order``: if operation A returned before B was invoked, B took effect after
   A. An OK write's position is the sequence number of its own event -- exactly, unless
   another call could have made that event (an earlier try whose reply was lost), when it
   is only a lower bound; an OK reply that showed packet revision ``r`` took effect at a
   head >= ``r``. So: a write that made event ``s`` must have ``s`` above every position
   returned before it was invoked; a reply showing packet ``p`` at revision ``r`` must have
   ``r`` at or above every position on ``p`` returned before it was invoked (a read never
   misses an acknowledged write, a handoff never takes effect before a write that returned
   before it was asked for); and an OK write's reply shows a revision at or above its own
   event.
5. ``acknowledged-lost``: what was acknowledged survives restarts: every OK write is in the
   final journal; a packet whose completion was acknowledged is COMPLETED, by that owner at
   that epoch, in the final state; a packet's final checkpoint is not older than its newest
   acknowledged checkpoint; an acknowledged submit exists.
"""

from __future__ import annotations

import bisect
import json
import math
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

__all__ = [
    "INDETERMINATE",
    "OK",
    "REFUSALS",
    "WRITES",
    "Entry",
    "HistoryLog",
    "Op",
    "Report",
    "Seen",
    "Violation",
    "check",
    "load_history",
    "outcome_of_code",
]

OK = "ok"
INDETERMINATE = "indeterminate"
# How a stale write must be refused (README, Fencing): another epoch, another member, or a
# credential whose incarnation is over.
REFUSALS = frozenset({"FAILED_PRECONDITION", "PERMISSION_DENIED", "UNAUTHENTICATED"})
# Codes that say the daemon did not apply the call; any other failure may hide a success.
_DEFINITE = REFUSALS | {"INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS", "OUT_OF_RANGE",
                        "RESOURCE_EXHAUSTED"}
WRITES = frozenset({"ack", "checkpoint", "complete", "fail"})
_OWNED = frozenset({"ASSIGNED", "RUNNING"})
# Journal events a member's fenced write makes, by the history's kind of write.
_WRITE_EVENTS = {
    "ack": frozenset({"packet_acked"}),
    "checkpoint": frozenset({"checkpoint_saved"}),
    "complete": frozenset({"packet_completed"}),
    "fail": frozenset({"packet_attempt_failed", "packet_failed"}),
}
_MEMBER_WRITE_EVENTS = frozenset().union(*_WRITE_EVENTS.values(), {"handoff_completed"})

EPOCH_ORDER = "epoch-not-increasing"
TWO_OWNERS = "two-owners"
OUTSIDE_GRANT = "write-outside-grant"
REFUSAL_CODE = "refusal-code"
REAL_TIME = "real-time-order"
LOST = "acknowledged-lost"


def outcome_of_code(code_name: str) -> str:
    """The outcome a status code stands for: ok, a definite refusal, or indeterminate."""
    if code_name == "OK":
        return OK
    return code_name if code_name in _DEFINITE else INDETERMINATE


# -- records ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    """A packet as one reply (or assignment notice) showed it."""

    packet_id: str
    epoch: int
    owner: str
    status: str  # PENDING, ASSIGNED, RUNNING, COMPLETED, FAILED, CANCELLED
    revision: int
    step: str = ""


@dataclass(frozen=True, slots=True)
class Op:
    """One operation: who, what, on which packet at which epoch, when, and how it ended."""

    process: str
    kind: str  # a write (ack, checkpoint, complete, fail), or submit, read, handoff, ...
    packet_id: str = ""
    member_id: str = ""  # whose credential a write carried
    epoch: int = 0  # the epoch a write sent
    invoke: float = 0.0
    ret: float = math.inf  # inf while it has not returned (indeterminate)
    outcome: str = INDETERMINATE
    seen: tuple[Seen, ...] = ()
    tag: str = ""  # a checkpoint's step: unique per call, so its event can be found

    @property
    def ok(self) -> bool:
        return self.outcome == OK


@dataclass(frozen=True, slots=True)
class Entry:
    """One journal event, as much of it as the checker needs."""

    sequence: int
    type: str
    actor: str = ""
    packet_id: str = ""  # "" when the event carries no packet record
    epoch: int = 0
    owner: str = ""
    status: str = ""
    step: str = ""
    checkpoint_epoch: int = 0

    @classmethod
    def of(cls, sequence: int, type_: str, actor: str, data: Mapping[str, Any]) -> Entry:
        """From an event's fields (``data`` as JSON, so numbers may be floats)."""
        packet = data.get("packet")
        if not isinstance(packet, Mapping):
            return cls(sequence, type_, actor)
        checkpoint = packet.get("checkpoint") or {}
        return cls(
            sequence, type_, actor, str(packet["packet_id"]), int(packet["epoch"]),
            str(packet.get("owner", "")), str(packet["status"]), str(checkpoint.get("step", "")),
            int(checkpoint.get("epoch", 0)),
        )

    @property
    def member(self) -> str:
        return self.actor.removeprefix("member:") if self.actor.startswith("member:") else ""


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str
    detail: str


@dataclass
class Report:
    """What the checker found, and what it counted on the way."""

    violations: list[Violation] = field(default_factory=list)
    ops: int = 0
    writes_ok: int = 0
    grants: int = 0
    stale_writes: int = 0  # writes known stale when invoked
    stale_refused: int = 0
    stale_indeterminate: int = 0
    refusals: Counter[str] = field(default_factory=Counter)  # code -> stale writes refused

    def add(self, kind: str, detail: str) -> None:
        self.violations.append(Violation(kind, detail))

    @property
    def kinds(self) -> set[str]:
        return {v.kind for v in self.violations}


# -- recording --------------------------------------------------------------------------------


class HistoryLog:
    """Appends one process's operations to a JSON-lines file as they are invoked and return.

    Each line is flushed at once, so a process killed with SIGKILL leaves every operation it
    invoked in the file (an invoke with no return line is indeterminate). Thread-safe.
    """

    def __init__(self, path: Path, process: str) -> None:
        self.process = process
        self._file: TextIO = open(path, "a", buffering=1)  # noqa: SIM115 - closed by close()
        self._lock = threading.Lock()
        self._next = 0

    def _write(self, record: Mapping[str, Any]) -> None:
        with self._lock:
            self._file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def invoke(
        self, kind: str, packet_id: str = "", member_id: str = "", epoch: int = 0,
        tag: str = "", **extra: Any,
    ) -> str:
        """Record that an operation starts now; returns its id for ``done``.

        ``extra`` is kept in the file for other readers (the checker ignores it)."""
        with self._lock:
            self._next += 1
            op_id = f"{self.process}/{self._next}"
        self._write({"op": op_id, "process": self.process, "kind": kind, "packet": packet_id,
                     "member": member_id, "epoch": epoch, "tag": tag,
                     "invoke": time.monotonic(), **extra})
        return op_id

    def done(self, op_id: str, outcome: str, seen: Iterable[Seen] = ()) -> None:
        """Record that the operation returned now, with its outcome and what it showed."""
        self._write({"op": op_id, "ret": time.monotonic(), "outcome": outcome,
                     "seen": [[s.packet_id, s.epoch, s.owner, s.status, s.revision, s.step]
                              for s in seen]})

    def observed(self, kind: str, seen: Seen) -> None:
        """A packet shown without a call of ours (an assignment notice): it took effect at
        some time before now, so it returns now and was "invoked" at the start of time."""
        op_id = self.invoke(kind, seen.packet_id)
        self._write({"op": op_id, "invoke": 0.0})
        self.done(op_id, OK, [seen])

    def close(self) -> None:
        with self._lock:
            self._file.close()


def load_history(paths: Iterable[Path]) -> list[Op]:
    """Every operation in these files; an invoke without its return is indeterminate."""
    ops: dict[str, dict[str, Any]] = {}
    for path in paths:
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the last line of a killed process may be cut short
            ops.setdefault(record["op"], {}).update(record)
    loaded = []
    for raw in ops.values():
        if "kind" not in raw:
            continue
        outcome = raw.get("outcome", INDETERMINATE)
        loaded.append(Op(
            process=raw["process"], kind=raw["kind"], packet_id=raw["packet"],
            member_id=raw["member"], epoch=raw["epoch"], invoke=raw["invoke"],
            ret=math.inf if outcome == INDETERMINATE else raw["ret"], outcome=outcome,
            seen=tuple(Seen(*s) for s in raw.get("seen", ())), tag=raw["tag"],
        ))
    return loaded


# -- checking ---------------------------------------------------------------------------------


def check(ops: Sequence[Op], journal: Sequence[Entry], final: Mapping[str, Seen]) -> Report:
    """Check a history against the final journal and the final packets (see the module doc)."""
    report = Report(ops=len(ops), writes_ok=sum(op.ok and op.kind in WRITES for op in ops))
    entries = sorted(journal, key=lambda e: e.sequence)
    _check_journal(entries, report)
    positions = _check_writes(ops, entries, report)
    _check_stale(ops, report)
    _check_real_time(ops, positions, report)
    _check_final(ops, entries, final, report)
    return report


def _check_journal(entries: Sequence[Entry], report: Report) -> None:
    """Rules 1-3 on the journal alone: grants, owners, and the writes it accepted."""
    last: dict[str, Entry] = {}
    granted: dict[tuple[str, int], str] = {}
    top: dict[str, int] = {}  # packet -> highest epoch granted
    for entry in entries:
        p = entry.packet_id
        if not p:
            continue
        before = last.get(p)
        where = f"event {entry.sequence} ({entry.type}) of {p}"
        if entry.type == "assignment_decision":
            if entry.epoch <= top.get(p, 0):
                report.add(EPOCH_ORDER, f"{where} grants epoch {entry.epoch} after {top[p]}")
            top[p] = max(top.get(p, 0), entry.epoch)
            granted.setdefault((p, entry.epoch), entry.owner)
        elif before is not None and entry.epoch < before.epoch:
            report.add(EPOCH_ORDER, f"{where} has epoch {entry.epoch} after {before.epoch}")
        owner = granted.get((p, entry.epoch), "")
        if entry.owner and entry.owner != owner:
            report.add(TWO_OWNERS, f"{where} names owner {entry.owner!r} at epoch "
                                   f"{entry.epoch}, granted to {owner or 'nobody'!r}")
        if entry.type in _MEMBER_WRITE_EVENTS and entry.member:
            held = before is not None and before.owner == entry.member and (
                before.status in _OWNED and before.epoch == entry.epoch)
            if entry.type == "checkpoint_saved" and entry.checkpoint_epoch != entry.epoch:
                held = False
            if not held:
                state = (f"{before.owner!r} at epoch {before.epoch}, {before.status}"
                         if before else "nothing")
                report.add(OUTSIDE_GRANT, f"{where} accepted from {entry.member!r} at epoch "
                                          f"{entry.epoch} while the packet was {state}")
        last[p] = entry
    report.grants = len(granted)


@dataclass(frozen=True, slots=True)
class _Position:
    """Where an OK operation took effect in the journal: at or after ``low``; exactly at
    ``low`` if ``made`` (the operation made that event and nothing else could have)."""

    low: int
    made: bool


def _check_writes(
    ops: Sequence[Op], entries: Sequence[Entry], report: Report
) -> dict[int, _Position]:
    """Rule 3's client half: each OK write is its member's write at its epoch in the journal.
    Returns the journal position of each OK operation (by index in ``ops``)."""
    steps: dict[tuple[str, str], Entry] = {}
    made_by: dict[tuple[str, str, int, str], Entry] = {}  # (kind, packet, epoch, member)
    for entry in entries:
        if entry.type == "checkpoint_saved":
            steps.setdefault((entry.packet_id, entry.step), entry)
        for kind, types in _WRITE_EVENTS.items():
            if entry.type in types and kind != "checkpoint":
                made_by.setdefault((kind, entry.packet_id, entry.epoch, entry.member), entry)
    # Calls that could have made a (kind, packet, epoch, member) event: an OK or an
    # indeterminate one (a retry after a lost reply finds the event already made).
    callers = Counter(
        (op.kind, op.packet_id, op.epoch, op.member_id) for op in ops
        if op.kind in WRITES and op.outcome in (OK, INDETERMINATE)
    )
    positions: dict[int, _Position] = {}
    for index, op in enumerate(ops):
        if not op.ok:
            continue
        seen_low = max((s.revision for s in op.seen), default=0)
        positions[index] = _Position(seen_low, False)
        if op.kind not in WRITES:
            continue
        key = (op.kind, op.packet_id, op.epoch, op.member_id)
        found = steps.get((op.packet_id, op.tag)) if op.kind == "checkpoint" else made_by.get(key)
        what = f"OK {op.kind} of {op.packet_id} by {op.member_id!r} at epoch {op.epoch}"
        if found is None:
            report.add(LOST, f"{what} (by {op.process}) is not in the journal")
            continue
        entry = found
        if entry.member != op.member_id or (
                op.kind == "checkpoint" and entry.checkpoint_epoch != op.epoch):
            report.add(OUTSIDE_GRANT, f"{what}: the journal has it as event {entry.sequence} "
                                      f"by {entry.actor!r} at epoch {entry.checkpoint_epoch}")
        shown = [s.revision for s in op.seen if s.packet_id == op.packet_id]
        if shown and max(shown) < entry.sequence:
            report.add(REAL_TIME, f"{what}: its reply showed revision {max(shown)}, before "
                                  f"its own event {entry.sequence}")
        made = op.kind == "checkpoint" or callers[key] == 1
        positions[index] = _Position(max(entry.sequence, seen_low if not made else 0), made)
    return positions


def _check_stale(ops: Sequence[Op], report: Report) -> None:
    """Rule 3's real-time half: a write known stale when invoked is refused."""
    shown: dict[str, list[tuple[float, Seen]]] = defaultdict(list)
    for op in ops:
        if op.ok:
            for s in op.seen:
                shown[s.packet_id].append((op.ret, s))
    # Per packet, by return time: the highest epoch shown so far; and per (packet, epoch)
    # the first time it was shown PENDING, and shown owned by each member.
    rets: dict[str, list[float]] = {}
    top: dict[str, list[int]] = {}
    ended: dict[tuple[str, int], float] = {}
    owned: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for p, items in shown.items():
        items.sort(key=lambda item: item[0])
        rets[p] = [t for t, _ in items]
        running = 0
        top[p] = [running := max(running, s.epoch) for _, s in items]
        for t, s in items:
            if s.status == "PENDING":
                ended.setdefault((p, s.epoch), t)
            if s.owner:
                owned[(p, s.epoch)].setdefault(s.owner, t)
    for op in ops:
        if op.kind not in WRITES or op.epoch < 1:
            continue
        p, e = op.packet_id, op.epoch
        before = bisect.bisect_left(rets.get(p, []), op.invoke)
        stale = (before > 0 and top[p][before - 1] > e) or ended.get((p, e), math.inf) < op.invoke
        stale = stale or any(t < op.invoke for m, t in owned[(p, e)].items() if m != op.member_id)
        if not stale:
            continue
        report.stale_writes += 1
        what = f"{op.kind} of {p} by {op.member_id!r} at epoch {e} (by {op.process})"
        if op.ok:
            report.add(OUTSIDE_GRANT, f"stale {what} was accepted")
        elif op.outcome in REFUSALS:
            report.stale_refused += 1
            report.refusals[op.outcome] += 1
        elif op.outcome == INDETERMINATE:
            report.stale_indeterminate += 1
        else:
            report.add(REFUSAL_CODE, f"stale {what} was refused with {op.outcome}")


def _check_real_time(ops: Sequence[Op], positions: Mapping[int, _Position],
                     report: Report) -> None:
    """Rule 4: the journal order agrees with the order of the clients' calls."""
    done = sorted(positions, key=lambda i: ops[i].ret)
    rets = [ops[i].ret for i in done]
    highest: list[int] = []  # the highest position among the first k returned
    for i in done:
        highest.append(max(highest[-1] if highest else 0, positions[i].low))
    # Per packet, in return order: the highest revision of it acknowledged so far.
    per_packet: dict[str, tuple[list[float], list[int]]] = {}
    for i in done:
        shown = [(s.packet_id, s.revision) for s in ops[i].seen]
        if ops[i].kind in WRITES:
            shown.append((ops[i].packet_id, positions[i].low))
        for packet_id, revision in shown:
            times, tops = per_packet.setdefault(packet_id, ([], []))
            times.append(ops[i].ret)
            tops.append(max(tops[-1] if tops else 0, revision))
    for i, position in positions.items():
        op = ops[i]
        k = bisect.bisect_left(rets, op.invoke)
        if position.made and k and highest[k - 1] >= position.low:
            report.add(REAL_TIME, f"{op.kind} of {op.packet_id} by {op.process} made event "
                                  f"{position.low}, yet position {highest[k - 1]} had returned "
                                  "before it was invoked")
        for s in op.seen:
            times, tops = per_packet[s.packet_id]
            j = bisect.bisect_left(times, op.invoke)
            if j and tops[j - 1] > s.revision:
                report.add(REAL_TIME, f"{op.kind} by {op.process} showed {s.packet_id} at "
                                      f"revision {s.revision}, older than revision "
                                      f"{tops[j - 1]} acknowledged before it was invoked")


def _check_final(ops: Sequence[Op], entries: Sequence[Entry], final: Mapping[str, Seen],
                 report: Report) -> None:
    """Rule 5: what was acknowledged is in the final state (after the last restart)."""
    step_at = {(e.packet_id, e.step): e.sequence for e in entries if e.type == "checkpoint_saved"}
    newest: dict[str, tuple[int, str]] = {}  # packet -> (event, step) of the newest acked save
    for op in ops:
        if not op.ok:
            continue
        now = final.get(op.packet_id)
        if op.kind == "submit" and now is None:
            report.add(LOST, f"acknowledged submit of {op.packet_id} is not in the final state")
        elif op.kind == "complete" and (now is None or (now.status, now.owner, now.epoch) != (
                "COMPLETED", op.member_id, op.epoch)):
            report.add(LOST, f"acknowledged completion of {op.packet_id} by {op.member_id!r} at "
                             f"epoch {op.epoch}; the final state is {now}")
        elif op.kind == "checkpoint" and (op.packet_id, op.tag) in step_at:
            sequence = step_at[(op.packet_id, op.tag)]
            if sequence > newest.get(op.packet_id, (0, ""))[0]:
                newest[op.packet_id] = (sequence, op.tag)
    for p, (sequence, step) in newest.items():
        now = final.get(p)
        have = step_at.get((p, now.step), 0) if now is not None else -1
        if have < sequence:
            report.add(LOST, f"{p}: final checkpoint {now.step if now else None!r} is older than "
                             f"the acknowledged {step!r} (event {sequence})")
