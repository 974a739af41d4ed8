"""Journal damage: a torn tail is cut off and the daemon starts; any other damage is refused with
its byte offset; a damaged snapshot is ignored and the journal replayed; never a traceback.

The journal comes from a real daemon run: members registered, packets submitted (one that nobody
can take), a checkpoint, a graceful stop (which snapshots the state), a restart and more work,
then kill -9, so the snapshot stands a few records before the end of the journal.

What "as designed" means (phoenixd/store/store.py and frames.py), and so what is asserted:

- The file ends inside a record (an append cut short; never acknowledged, as nothing is
  acknowledged before its fsync): that record is cut off, the daemon starts on the records before
  it, audits a ``journal_truncated`` event, and uses the snapshot if it is not past the cut.
- A record the file holds in full that fails its checks is refused, even when it is the last one
  (it may have been acknowledged): start-up stops naming its byte offset and record number, and
  the file is left as it was.
- So a flipped bit is always refused at the record that holds it: every record still ends where
  it did, or its length field no longer fits and a line end still follows.
- A zeroed 512-byte sector is refused at the record it starts in, except when the zeros begin in
  that record's header (its length is unreadable) and run to the end of the file (no record after
  it ends): then the file ends inside it, and it is cut off like any torn tail.
- A flipped bit in a snapshot file makes the snapshot fail its checksum, its parse, or agreement
  with its two siblings: it is ignored and the journal replayed from the start, to the same
  state. Only a flip in its head that leaves the JSON meaning the same may keep it (the body's
  checksum is over its bytes).
- A journal cut (torn or at a record boundary) before the revision of the snapshot beside it
  lost records the snapshot proves durable: refused, naming where the journal ends and the
  first record missing, with the file left as it was.
- ``phoenix audit verify --data-dir`` reaches the daemon's verdict on every file: exit 0 where
  the daemon starts on the journal as it is, 3 where it cuts a torn tail off and starts, 1 where
  it refuses; and it names the same offset.

In-process sweeps run ``Store.recover`` (what phoenixd's start-up calls) and the CLI's own
``audit verify --data-dir`` function on every case: the last two records (one operation), and the
record just below the snapshot, cut at every byte offset; every 512-byte sector zeroed, plus one
starting at every byte of the last record's header; a bit flipped every few bytes and at every
byte of the last records; a bit flipped every few bytes of each snapshot file. Each outcome is
compared, field by field, with what the rules above predict from the record layout alone, and
the two verdicts with each other. ``make soak`` widens the sweeps to every offset, every sector
position and every bit. Then a sample of each kind runs against the real daemon, and
``phoenix audit verify --data-dir`` as a user runs it on the same files: a torn tail starts,
serves and audits its cut with every whole record intact; other damage exits 2 with one error
line naming the offset, no traceback, and the CLI names the same offset.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import pytest

from phoenixd.cli import audit_commands
from phoenixd.cli.output import Format, Printer
from phoenixd.core.events import event_from_payload
from phoenixd.core.state import ClusterState
from phoenixd.store import CorruptJournal, Store
from phoenixd.store.frames import Frame, read_frame
from phoenixd.store.snapshots import SNAPSHOT_FILES
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope, event_data, packet_of
from tests.conftest import register
from tests.daemon import PhoenixProcess
from tests.reliability.soak import figure, scaled

SECTOR = 512
# Where each sweep looks: the CI size (about 2 s each), and all of it under `make soak`.
CUT_RECORDS = scaled(2, 10**9)  # the last records cut at every byte offset
ZERO_STEP = scaled(SECTOR, 16)  # from the start of one zeroed sector to the next
FLIP_STRIDE = scaled(7, 1)  # bytes between two flipped ones (all bytes of the last records)
FLIP_BITS = scaled(1, 8)  # bits flipped at each of those bytes
SNAPSHOT_STRIDE = scaled(7, 1)  # bytes of a snapshot file between two flipped ones
EXIT_STARTUP_FAILURE = 2
# `phoenix audit verify --data-dir` exit codes, for each of the daemon's verdicts.
VERIFY_EXIT = {"starts": 0, "cuts a torn tail": 3, "refuses": 1}


# -- the journal, from a real run ------------------------------------------------------------


StateView = tuple[Any, ...]


def view(state: ClusterState) -> StateView:
    """Everything recovery rebuilds, in a form two states can be compared by."""
    loads = {m: (frozenset(load.packets), load.cpu, load.memory) for m, load in state.loads.items()}
    return dict(state.members), dict(state.packets), list(state.pending), loads, state.revision


@dataclass(frozen=True)
class Template:
    """A data dir from a real run, and the record layout the expectations are computed from."""

    data_dir: Path
    journal: bytes
    starts: list[int]  # record k (from 0) begins at starts[k]; starts[-1] is the file size
    payloads: list[int]  # where record k's header ends and its event begins
    hashes: list[str]
    snapshot_revision: int
    snapshots: dict[str, bytes]
    states: list[StateView]  # the state after the first k records

    @property
    def records(self) -> int:
        return len(self.starts) - 1

    def record_at(self, offset: int) -> int:
        """The record holding byte ``offset`` (the number of records before it)."""
        return bisect.bisect_right(self.starts, offset) - 1


def _run_daemon(data_dir: Path) -> None:
    d = PhoenixProcess(data_dir).start()
    try:
        a = Agent(d, "worker-a", "ocr", ttl=3600)
        b = Agent(d, "worker-b", "ocr", ttl=3600, labels={"region": "eu"})
        for i in range(3):
            d.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(f"fp-{i}", "ocr")))
        d.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-wait", "gpu")))
        owner = packet_of(d, "fp-0").current_owner
        (a if owner == a.member_id else b).checkpoint("fp-0", 1, {"page": 3}, "ocr-3")
        assert d.stop() == 0  # snapshots the state
        d.start()
        register(d, "worker-c", "ocr", ttl=3600)
        d.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-late", "ocr")))
        # Last, a short record (member_load_reset), so that a zeroed sector can hold the
        # whole of it from its header on: the one case where zeros read as a torn tail.
        register(d, "visitor", ttl=3600)
        d.members.RetireMember(mpb.RetireMemberRequest(member_id="visitor"), timeout=10)
    finally:
        d.kill()


def build_template(data_dir: Path) -> Template:
    _run_daemon(data_dir)
    journal = (data_dir / "audit.jsonl").read_bytes()
    lines = journal.splitlines(keepends=True)
    starts = [sum(len(line) for line in lines[:k]) for k in range(len(lines) + 1)]
    marker = b',"event":'
    payloads = [start + line.index(marker) + len(marker)
                for start, line in zip(starts, lines, strict=False)]
    state, states = ClusterState(), [view(ClusterState())]
    hashes = []
    for line in lines:
        frame = read_frame(line, 0)
        assert isinstance(frame, Frame)
        state.apply(event_from_payload(frame.payload, frame.prev_hash, frame.hash))
        states.append(view(state))
        hashes.append(frame.hash)
    snapshots = {name: (data_dir / name).read_bytes() for name in SNAPSHOT_FILES}
    revision = json.loads(snapshots["registry.json"])["revision"]
    assert 0 < revision < len(lines) - 3, "the snapshot should stand a few records before the end"
    assert len(lines[-1]) < SECTOR
    return Template(data_dir, journal, starts, payloads, hashes, revision, snapshots, states)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return build_template(tmp_path_factory.mktemp("template") / "data")


# -- the in-process sweeps -----------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """What one recovery did, in the terms the expectations are written in."""

    refused_at: tuple[int, int] | None  # the byte offset and record number the refusal names
    file_after: tuple[str, int]  # ("prefix", n): the template's first n bytes; or "untouched"
    kept: int  # records recovered
    cut: tuple[int, int] | None  # the torn tail cut off: its offset and size
    snapshot: int  # the snapshot revision recovery started from (0: full replay)
    state: StateView | None
    verified: tuple[int, int]  # audit verify --data-dir before recovery: exit code, bad offset

    @property
    def verdict(self) -> str:
        """The daemon's verdict on the data dir, in VERIFY_EXIT's terms."""
        return "refuses" if self.refused_at else "cuts a torn tail" if self.cut else "starts"


class Bench:
    """One Store over a scratch data dir: each case writes its files, then recovers."""

    def __init__(self, data_dir: Path, template: Template) -> None:
        self.t = template
        self.store = Store(data_dir, snapshot_every=10_000)
        self.journal = data_dir / "audit.jsonl"
        self.dir = data_dir
        self.runs = 0
        self._snapshots: dict[str, bytes] = {}  # as written now

    def recover(self, journal: bytes, snapshot: tuple[str, bytes] | None = None) -> Result:
        self.runs += 1
        self.journal.write_bytes(journal)
        for name, body in self.t.snapshots.items():
            body = snapshot[1] if snapshot and snapshot[0] == name else body
            if self._snapshots.get(name) != body:
                (self.dir / name).write_bytes(body)
                self._snapshots[name] = body
        verified = verify_data_dir(self.dir)
        state = ClusterState()
        try:
            recovery = self.store.recover(state.apply, state.restore, state.reset)
        except CorruptJournal as exc:
            return Result(_named(str(exc)), self._file_after(journal), 0, None, 0, None, verified)
        t = recovery.truncation
        return Result(
            None, self._file_after(journal), recovery.head_sequence,
            (t.offset, t.dropped_bytes) if t else None, recovery.snapshot_revision, view(state),
            verified,
        )

    def _file_after(self, written: bytes) -> tuple[str, int]:
        now = self.journal.read_bytes()
        if self.t.journal.startswith(now):
            return "prefix", len(now)
        return ("untouched" if now == written else "changed"), len(now)


def verify_data_dir(data_dir: Path) -> tuple[int, int]:
    """``phoenix audit verify --data-dir`` (the command's own function, in process): its exit
    code and the first bad offset it names."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        args = argparse.Namespace(data_dir=str(data_dir), printer=Printer(Format("json")))
        code = audit_commands.verify(None, args)
    return code, json.loads(out.getvalue())["first_bad_offset"]


def _named(message: str) -> tuple[int, int] | None:
    """The (byte offset, first bad record) a CorruptJournal message names."""
    head = message.partition(" is damaged at byte offset ")[2]
    offset, _, rest = head.partition(" (record ")
    record = rest.partition(")")[0]
    if offset.isdigit() and record.isdigit():
        return int(offset), int(record)
    head = message.partition(" is truncated below its snapshot at byte offset ")[2]
    offset, _, rest = head.partition(": the last intact revision is ")
    last = rest.partition(",")[0]
    return (int(offset), int(last) + 1) if offset.isdigit() and last.isdigit() else None


def started(t: Template, size: int, kept: int, snapshot: int | None = None) -> Result:
    """Recovered the first ``kept`` records of a ``size``-byte file, cutting off the rest; or,
    with fewer records than the snapshot's revision, refused (records were lost)."""
    end = t.starts[kept]
    if kept < t.snapshot_revision and snapshot is None:  # the file stays the prefix it was
        return replace(refused(t, size, kept), file_after=("prefix", size))
    cut = None if size == end else (end, size - end)
    if snapshot is None:
        snapshot = t.snapshot_revision
    verified = (VERIFY_EXIT["cuts a torn tail"], end) if cut else (VERIFY_EXIT["starts"], 0)
    return Result(None, ("prefix", end), kept, cut, snapshot, t.states[kept], verified)


def refused(t: Template, size: int, record: int) -> Result:
    """Refused at ``record`` (from 0), naming its offset, with the file left as it was."""
    offset = t.starts[record]
    return Result((offset, record + 1), ("untouched", size), 0, None, 0, None,
                  (VERIFY_EXIT["refuses"], offset))


def differences(case: str, got: Result, want: Result) -> list[str]:
    """How ``got`` differs from the prediction, and whether verify and recovery disagree
    (checked on its own, so that no prediction can hide a disagreement)."""
    problems = []
    if got.verified[0] != VERIFY_EXIT[got.verdict]:
        problems.append(f"{case}: the daemon {got.verdict}, but audit verify --data-dir exits "
                        f"{got.verified[0]} (not {VERIFY_EXIT[got.verdict]})")
    pairs = ((f.name, getattr(got, f.name), getattr(want, f.name)) for f in fields(Result))
    return problems + [
        f"{case}: {name} is {g!r:.160}, expected {w!r:.160}" for name, g, w in pairs if g != w]


@pytest.fixture
def bench(tmp_path: Path, template: Template) -> Iterator[Bench]:
    b = Bench(tmp_path / "bench", template)
    yield b
    b.store.close()


def _assert_none(problems: list[str], cases: int) -> None:
    assert not problems, f"{len(problems)} differences over {cases} cases:\n" + "\n".join(
        problems[:20])


def test_a_torn_last_record_is_cut_off_at_every_byte_offset(
    bench: Bench, template: Template
) -> None:
    """The cut works per record, not per operation: cut inside the retirement's second record
    (member_load_reset), recovery keeps its first (member_retired), as the store's rule says.
    Cut inside the record just below the snapshot, or at its start, records the snapshot proves
    durable are gone: refused."""
    t = template
    problems = []
    below = range(t.starts[t.snapshot_revision - 1], t.starts[t.snapshot_revision])
    tail = range(t.starts[max(0, t.records - CUT_RECORDS)], len(t.journal) + 1)
    for size in sorted({*below, *tail}):
        got = bench.recover(t.journal[:size])
        problems += differences(f"cut at {size}", got, started(t, size, t.record_at(size)))
    _assert_none(problems, bench.runs)
    figure("journal damage: truncated journals recovered as predicted", bench.runs)


def test_a_zeroed_sector_is_refused_unless_the_file_ends_inside_its_record(
    bench: Bench, template: Template
) -> None:
    t = template
    size = len(t.journal)
    # Every aligned sector, and (for the rule at the tail) a sector at every offset of the
    # last record's header, whose zeros then run to the end of the file.
    starts = {*range(0, size, ZERO_STEP), *range(t.starts[-2], t.payloads[-1] + 1)}
    problems, torn = [], 0
    for start in sorted(starts):
        end = min(start + SECTOR, size)
        damaged = t.journal[:start] + bytes(end - start) + t.journal[end:]
        record = t.record_at(start)
        if end == size and start < t.payloads[record]:
            want, torn = started(t, size, record), torn + 1
        else:
            want = refused(t, size, record)
        problems += differences(f"zeros at {start}-{end}", bench.recover(damaged), want)
    _assert_none(problems, bench.runs)
    assert 0 < torn < bench.runs
    figure("journal damage: zeroed sectors (refused / cut as torn)",
           f"{bench.runs - torn} / {torn}")


def test_a_flipped_bit_anywhere_is_refused_at_its_record(bench: Bench, template: Template) -> None:
    t = template
    problems = []
    everywhere = range(0, len(t.journal), FLIP_STRIDE)
    for offset in sorted({*everywhere, *range(t.starts[-3], len(t.journal))}):
        for k in range(FLIP_BITS):
            bit = (offset * 5 + k) % 8  # one bit per byte, each of the 8 in turn
            damaged = bytearray(t.journal)
            damaged[offset] ^= 1 << bit
            want = refused(t, len(damaged), t.record_at(offset))
            problems += differences(f"bit {bit} of byte {offset}", bench.recover(bytes(damaged)),
                                    want)
    _assert_none(problems, bench.runs)
    figure("journal damage: bit flips refused at their record", bench.runs)


def _same_json(a: bytes, b: bytes) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return False


def test_a_flipped_bit_in_a_snapshot_is_ignored_and_the_journal_replayed(
    bench: Bench, template: Template
) -> None:
    t = template
    problems, kept = [], 0
    for name, body in t.snapshots.items():
        for offset in range(0, len(body), SNAPSHOT_STRIDE):
            for bit in range(8) if SNAPSHOT_STRIDE == 1 else [offset % 8]:
                damaged = bytearray(body)
                damaged[offset] ^= 1 << bit
                # The checksum covers the body's bytes: only the head could take a flip
                # that leaves its JSON meaning the same (it holds numbers and hex digits).
                neutral = offset < body.index(b',"body":') and _same_json(bytes(damaged), body)
                kept += neutral
                want = started(t, len(t.journal), t.records,
                               snapshot=t.snapshot_revision if neutral else 0)
                got = bench.recover(t.journal, (name, bytes(damaged)))
                problems += differences(f"{name} bit {bit} of byte {offset}", got, want)
    _assert_none(problems, bench.runs)
    figure("journal damage: snapshot bit flips (replayed / kept as meaning the same)",
           f"{bench.runs - kept} / {kept}")


# -- the real daemon and the CLI --------------------------------------------------------------


def _copy(t: Template, tmp_path: Path, journal: bytes | None = None,
          snapshot: tuple[str, bytes] | None = None) -> PhoenixProcess:
    data_dir = tmp_path / "data"
    shutil.copytree(t.data_dir, data_dir)
    if journal is not None:
        (data_dir / "audit.jsonl").write_bytes(journal)
    if snapshot is not None:
        (data_dir / snapshot[0]).write_bytes(snapshot[1])
    return PhoenixProcess(data_dir)


def _cli_verify(data_dir: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "phoenixd.cli.main", "audit", "verify", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert "Traceback" not in result.stdout + result.stderr, result
    return result


def _log_lines(d: PhoenixProcess) -> list[dict[str, Any]]:
    log = d.log()
    assert "Traceback" not in log, log
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def _listed(d: PhoenixProcess) -> tuple[list[str], list[str]]:
    members = d.members.ListMembers(mpb.ListMembersRequest(page_size=1000), timeout=10).members
    packets = d.packets.ListPackets(ppb.ListPacketsRequest(page_size=1000), timeout=10).packets
    return [m.member_id for m in members], [p.packet_id for p in packets]


def _expected_ids(state: StateView) -> tuple[list[str], list[str]]:
    return sorted(state[0]), sorted(state[1])


@pytest.mark.parametrize("keep", ["first byte", "half", "all but the newline"])
def test_the_daemon_cuts_a_torn_tail_audits_it_and_serves(
    template: Template, tmp_path: Path, keep: str
) -> None:
    t = template
    last, n = t.starts[-2], t.records
    size = {"first byte": 1, "half": (t.starts[-1] - last) // 2,
            "all but the newline": t.starts[-1] - last - 1}[keep]
    d = _copy(t, tmp_path, journal=t.journal[: last + size])
    verify = _cli_verify(d.data_dir)
    assert verify.returncode == 3  # a torn tail: what the daemon cuts off, not a refusal
    assert verify.stdout.startswith(f"TORN TAIL at sequence {n} (byte offset {last}): ")
    d.start()
    try:
        events = d.recorder.QueryEvents(rpb.QueryEventsRequest(page_size=1000), timeout=10).events
        assert [e.hash for e in events[: n - 1]] == t.hashes[: n - 1]  # every whole record kept
        truncated = events[n - 1]
        assert truncated.type == "journal_truncated"
        assert event_data(truncated) == {"offset": last, "dropped_bytes": size}
        assert truncated.prev_hash == t.hashes[n - 2]
        assert d.recorder.VerifyChain(rpb.VerifyChainRequest(), timeout=30).ok
        assert _listed(d) == _expected_ids(t.states[n - 1])
        warnings = [line for line in _log_lines(d) if line["event"].startswith("journal tail")]
        assert [(w["offset"], w["dropped_bytes"], w["record"]) for w in warnings] == [
            (last, size, n)]
        assert d.stop() == 0
    finally:
        d.kill()


def _flip(data: bytes, offset: int, bit: int = 0) -> bytes:
    return data[:offset] + bytes([data[offset] ^ (1 << bit)]) + data[offset + 1 :]


def _mid_log_cases(t: Template) -> dict[str, tuple[bytes, int]]:
    """Damaged journals, each with the offset of the byte that was damaged first."""
    middle = SECTOR * (len(t.journal) // (2 * SECTOR))
    last = t.records - 1
    return {
        "zeroed sector mid-log": (
            t.journal[:middle] + bytes(SECTOR) + t.journal[middle + SECTOR :], middle),
        "bit in the first record's length": (_flip(t.journal, 8), 8),
        "bit in an event mid-log": (_flip(t.journal, t.payloads[t.records // 2] + 9, 3),
                                    t.payloads[t.records // 2] + 9),
        "bit in the last record's chain hash": (_flip(t.journal, t.starts[last] + 30, 1),
                                                t.starts[last] + 30),
        "bit in the final newline": (_flip(t.journal, len(t.journal) - 1),
                                     len(t.journal) - 1),
    }


@pytest.mark.parametrize("case", [
    "zeroed sector mid-log", "bit in the first record's length", "bit in an event mid-log",
    "bit in the last record's chain hash", "bit in the final newline",
])
def test_the_daemon_refuses_other_damage_naming_the_offset(
    template: Template, tmp_path: Path, case: str
) -> None:
    t = template
    damaged, at = _mid_log_cases(t)[case]
    record = t.record_at(at)
    offset = t.starts[record]
    d = _copy(t, tmp_path, journal=damaged)
    assert d.spawn().wait(60) == EXIT_STARTUP_FAILURE
    errors = [line for line in _log_lines(d) if line["level"] in ("error", "critical")]
    assert len(errors) == 1, errors
    assert errors[0]["event"] == "phoenixd cannot start"
    assert f"is damaged at byte offset {offset} (record {record + 1}): " in errors[0]["error"]
    assert (d.data_dir / "audit.jsonl").read_bytes() == damaged  # nothing was cut off
    verify = _cli_verify(d.data_dir)
    assert verify.returncode == 1
    assert verify.stdout.startswith(f"FAILED at sequence {record + 1} (byte offset {offset}): ")
    assert verify.stdout.count("\n") == 1


def test_the_daemon_ignores_a_damaged_snapshot_and_replays_the_journal(
    template: Template, tmp_path: Path
) -> None:
    t = template
    body = t.snapshots["packets.json"]
    d = _copy(t, tmp_path, snapshot=("packets.json", _flip(body, len(body) // 2, 2)))
    d.start()
    try:
        serving = [line for line in _log_lines(d) if line["event"] == "phoenixd serving"]
        assert len(serving) == 1
        assert (serving[0]["snapshot_revision"], serving[0]["replayed"]) == (0, t.records)
        assert "packets.json" in serving[0]["snapshot_note"]
        assert _listed(d) == _expected_ids(t.states[t.records])
        assert d.recorder.VerifyChain(rpb.VerifyChainRequest(), timeout=30).ok
        assert d.stop() == 0
    finally:
        d.kill()


def _verdict_samples(t: Template) -> dict[str, tuple[bytes | None, str]]:
    """A journal from each sweep, with the daemon's verdict on it: each verdict at least once."""
    last, below = t.starts[-2], t.starts[t.snapshot_revision - 1]
    return {
        "intact": (t.journal, "starts"),
        "cut inside the last record": (t.journal[: (last + len(t.journal)) // 2],
                                       "cuts a torn tail"),
        "cut inside the record below the snapshot": (t.journal[: below + 20], "refuses"),
        "cut at the start of the record below the snapshot": (t.journal[:below], "refuses"),
        "no journal beside the snapshot": (None, "refuses"),
        "zeros from the last record's header to the end": (
            t.journal[: last + 3] + bytes(len(t.journal) - last - 3), "cuts a torn tail"),
        "bit in an event mid-log": (_flip(t.journal, t.payloads[t.records // 2] + 9, 3),
                                    "refuses"),
        "bit in the final newline": (_flip(t.journal, len(t.journal) - 1), "refuses"),
    }


@pytest.mark.parametrize("case", [
    "intact", "cut inside the last record", "cut inside the record below the snapshot",
    "cut at the start of the record below the snapshot", "no journal beside the snapshot",
    "zeros from the last record's header to the end", "bit in an event mid-log",
    "bit in the final newline",
])
def test_audit_verify_as_run_by_a_user_reaches_the_daemons_verdict(
    template: Template, tmp_path: Path, case: str
) -> None:
    """`phoenix audit verify --data-dir` in its own process, then the recovery phoenixd's
    start-up runs, on the same data dir: 0 where it starts, 3 where it cuts a torn tail, 1 where
    it refuses."""
    journal, verdict = _verdict_samples(template)[case]
    d = _copy(template, tmp_path, journal=journal)
    if journal is None:
        (d.data_dir / "audit.jsonl").unlink()
    verify = _cli_verify(d.data_dir)  # first: recovery may cut the file
    state = ClusterState()
    store = Store(d.data_dir, snapshot_every=10_000)
    try:
        recovery = store.recover(state.apply, state.restore, state.reset)
        recovered = "cuts a torn tail" if recovery.truncation else "starts"
    except CorruptJournal:
        recovered = "refuses"
    finally:
        store.close()
    assert recovered == verdict
    assert verify.returncode == VERIFY_EXIT[verdict], verify.stdout
