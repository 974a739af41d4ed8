"""``phoenix audit ...`` and ``phoenix watch ...``: read, follow and verify the Flight Recorder."""

from __future__ import annotations

import argparse
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from phoenixd.cli.member_commands import member_status
from phoenixd.cli.output import Column, Kind, Printer, StreamTable, as_dict, json_line, when
from phoenixd.cli.packet_commands import packet_status
from phoenixd.store import Verdict, verify_data_dir
from phoenixflight import Client, PhoenixFlightError
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rec
from phoenixflight_api.v1 import member_pb2 as mem
from phoenixflight_api.v1 import membership_service_pb2 as ms

__all__ = ["add_commands"]

Adder = Callable[..., argparse.ArgumentParser]
# Reconnect pacing for --follow: quick at first, never hammering a restarting daemon.
BACKOFF_START, BACKOFF_MAX = 0.2, 5.0
# What `watch` prints for the state it lists before the changes, in place of an event type.
LISTED = "listed"


def _subjects(e: rec.Event) -> str:
    return ",".join([*e.member_ids, *e.packet_ids]) or "-"


EVENT = Kind("event", lambda e: str(e.sequence), [
    Column("SEQ", lambda e: e.sequence),
    Column("TIME", lambda e: when(e.time)),
    Column("TYPE", lambda e: e.type),
    Column("ACTOR", lambda e: e.actor),
    Column("SUBJECTS", _subjects),
    Column("REASON", lambda e: e.reason),
    Column("LINEAGE", lambda e: ",".join(e.lineage_ids) or "-", wide=True),
    Column("HASH", lambda e: e.hash[:16], wide=True),
])


def _line(e: rec.Event, printer: Printer) -> None:
    """One event of a stream: a JSON line, a YAML document, or a row (no header)."""
    if printer.format.name == "json":
        printer.write(json_line(as_dict(e)))
    elif printer.format.name == "yaml":
        printer.write("---")
        printer.data(as_dict(e))
    else:
        columns = printer.columns(EVENT)
        printer.write("  ".join(str(c.value(e)) for c in columns))


def _filters(a: argparse.Namespace) -> dict[str, Any]:
    return {"types": a.type or (), "member_id": a.member or "", "packet_id": a.packet or "",
            "namespace": a.namespace}


def query(client: Client, a: argparse.Namespace) -> None:
    start = time.time() - a.since if a.since else None
    events = list(client.iter_events(after_sequence=a.after, start_time=start, **_filters(a)))
    if a.limit:
        events = events[: a.limit]
    a.printer.many(EVENT, events)


def _follow(client: Client, after: int | None, make: Callable[[int | None], Iterator[Any]],
            show: Callable[[Any], int]) -> None:
    """Stream forever, resuming after the last thing shown whenever the stream breaks."""
    backoff = BACKOFF_START
    while True:
        try:
            for item in make(after):
                after = show(item)
                backoff = BACKOFF_START
        except PhoenixFlightError as exc:
            if not (exc.unavailable or exc.code.name == "RESOURCE_EXHAUSTED"):
                raise
            where = f" after {after}" if after is not None else ""
            print(f"phoenix: stream interrupted ({exc.code.name}); resuming{where}",
                  file=sys.stderr, flush=True)
            time.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)


def tail(client: Client, a: argparse.Namespace) -> None:
    _check_streamable(a.printer, "yaml")
    filters = _filters(a)
    head = client.query_events(page_size=1).head_sequence
    if any(filters.values()):
        last: deque[rec.Event] = deque(client.iter_events(**filters), maxlen=a.lines)
    else:
        last = deque(client.iter_events(after_sequence=max(0, head - a.lines)), maxlen=a.lines)
    for event in last:
        _line(event, a.printer)
    if not a.follow:
        return
    after = last[-1].sequence if last else head

    def show(event: rec.Event) -> int:
        _line(event, a.printer)
        return event.sequence

    _follow(client, after, lambda s: client.watch_events(after_sequence=s, **filters), show)


def _listing(fetch: Callable[[str], Any], items: Callable[[Any], Any]) -> tuple[list[Any], int]:
    """Every item of a List call and the revision of its first page: a watch from that
    revision misses nothing (a change landing between pages may be shown twice, never lost)."""
    token, found, revision = "", [], None
    while True:
        page = fetch(token)
        revision = page.revision if revision is None else revision
        found.extend(items(page))
        if not (token := page.next_page_token):
            return found, int(revision)


class _Watch:
    """What `watch members` and `watch packets` share: the listed state first (a table, or
    JSON lines with event_type "listed"), then each change in the same columns."""

    def __init__(self, printer: Printer, headers: list[str], key: str) -> None:
        self.printer = printer
        self.key = key  # the JSON lines' field for the thing listed: member or packet
        self.table = StreamTable(printer, headers, status_at=[headers.index("STATUS")])

    def start(self, revision: int, items: list[Any], row: Callable[[Any], list[object]]) -> None:
        if self.printer.format.name == "json":
            for item in items:
                self.printer.write(json_line(
                    {"revision": revision, "event_type": LISTED, self.key: as_dict(item)}))
        else:
            self.table.start([row(item) for item in items])

    def change(self, data: dict[str, Any], row: list[object]) -> None:
        if self.printer.format.name == "json":
            self.printer.write(json_line(data))
        else:
            self.table.row(row)


def _check_streamable(printer: Printer, *formats: str) -> None:
    """Streams print rows or JSON lines as they come: formats that need the whole list
    (name, custom-columns, jsonpath, and yaml for watch) are refused up front."""
    if printer.format.name not in ("table", "wide", "json", *formats):
        raise argparse.ArgumentTypeError(
            f"-o {printer.format.name} is not for streams: use table, wide, "
            + ", ".join(("json", *formats)))


WATCH_MEMBER_HEADERS = ["REVISION", "EVENT", "ID", "STATUS", "PACKETS", "REASON"]


def watch_members(client: Client, a: argparse.Namespace) -> None:
    _check_streamable(a.printer)
    watch = _Watch(a.printer, WATCH_MEMBER_HEADERS, "member")

    def row(revision: int, event_type: str, m: mem.Member) -> list[object]:
        return [revision, event_type, m.member_id, member_status(m.status),
                m.load.assigned_packets, m.status_reason or "-"]

    after, members = a.after_revision, list[mem.Member]()
    if after is None:  # list first; with --after-revision, the replay takes its place
        members, after = _listing(lambda t: client.list_members(page_token=t,
                                                                namespace=a.namespace),
                                  lambda page: page.members)
        members = [m for m in members if not a.member or m.member_id == a.member]
    listed_at = after
    watch.start(listed_at, members, lambda m: row(listed_at, LISTED, m))

    def show(change: ms.WatchMembersResponse) -> int:
        watch.change(as_dict(change), row(change.revision, change.event_type, change.member))
        return int(change.revision)

    _follow(client, after,
            lambda r: client.watch_members(after_revision=r, member_id=a.member or "",
                                           namespace=a.namespace), show)


WATCH_PACKET_HEADERS = ["REVISION", "EVENT", "ID", "STATUS", "OWNER", "EPOCH", "REASON"]


def watch_packets(client: Client, a: argparse.Namespace) -> None:
    """Packets as listed, then their changes from the Flight Recorder's feed: every packet
    event carries the packet as it was right after (WatchAssignments is one member's view,
    and needs its credential)."""
    _check_streamable(a.printer)
    watch = _Watch(a.printer, WATCH_PACKET_HEADERS, "packet")
    packets, after = _listing(lambda t: client.list_packets(page_token=t,
                                                            namespace=a.namespace),
                              lambda page: page.packets)
    packets = [p for p in packets if not a.packet or p.packet_id == a.packet]
    watch.start(after, packets, lambda p: [
        after, LISTED, p.packet_id, packet_status(p.status), p.current_owner or "-", p.epoch,
        p.failure_reason or "-"])

    def show(event: rec.Event) -> int:
        data = as_dict(event)
        record = data.get("data", {}).get("packet")
        if record is not None:
            watch.change({"revision": event.sequence, "event_type": event.type, "event": data},
                         [event.sequence, event.type, record["packet_id"], record["status"],
                          record.get("owner") or "-", _int(record.get("epoch")),
                          event.reason or "-"])
        return int(event.sequence)

    _follow(client, after,
            lambda s: client.watch_events(after_sequence=s, packet_id=a.packet or "",
                                          namespace=a.namespace), show)


def _int(value: object) -> object:
    """A Struct's numbers arrive as floats: 2.0 -> 2."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# `audit verify --data-dir` exit codes: 0 intact; 3 a torn tail, which phoenixd cuts off at
# start (a crash mid-append leaves one; nothing in it was acknowledged); 1 damage phoenixd
# refuses to start on. (2 stays the command line's: wrong flags, neither journal nor snapshot.)
EXIT_INTACT, EXIT_DAMAGED, EXIT_TORN_TAIL = 0, 1, 3


def verify(client: Client | None, a: argparse.Namespace) -> int:
    if a.data_dir is not None:
        report = verify_data_dir(Path(a.data_dir))  # nothing there: exits 2 (an OSError)
        result: dict[str, Any] = {
            "ok": report.ok, "verdict": str(report.verdict), "verified_events": report.verified,
            "head_sequence": report.head_sequence, "head_hash": report.head_hash,
            "first_bad_sequence": report.bad_sequence, "first_bad_offset": report.bad_offset,
            "problem": report.problem, "dropped_bytes": report.dropped_bytes,
            "snapshot_revision": report.snapshot_revision,
        }
    else:
        assert client is not None
        resp = client.verify_chain()
        result = {
            "ok": resp.ok, "verdict": str(Verdict.INTACT if resp.ok else Verdict.CORRUPT),
            "verified_events": resp.verified_events,
            "head_sequence": resp.head_sequence, "head_hash": resp.head_hash,
            "first_bad_sequence": resp.first_bad_sequence,
            "first_bad_offset": resp.first_bad_offset, "problem": resp.problem,
        }
    verdict = Verdict(result["verdict"])
    if not a.printer.human:
        a.printer.data(result)
    elif verdict is Verdict.INTACT:
        print(f"OK: {_events(result['verified_events'])} verified, chain intact; "
              f"head {result['head_sequence']} {result['head_hash']}")
    elif verdict is Verdict.TORN_TAIL:
        print(f"TORN TAIL at sequence {result['first_bad_sequence']} "
              f"(byte offset {result['first_bad_offset']}): {result['problem']}; "
              f"{_events(result['verified_events'])} before it verified; phoenixd will cut "
              f"the last {result['dropped_bytes']} bytes off and start")
    else:
        print(f"FAILED at sequence {result['first_bad_sequence']} "
              f"(byte offset {result['first_bad_offset']}): {result['problem']}; "
              f"{_events(result['verified_events'])} before it verified")
    return {Verdict.INTACT: EXIT_INTACT, Verdict.TORN_TAIL: EXIT_TORN_TAIL}.get(
        verdict, EXIT_DAMAGED)


def _events(n: object) -> str:
    return f"{n} event" if int(str(n)) == 1 else f"{n} events"


def export(client: Client, a: argparse.Namespace) -> None:
    lineage = client.export_lineage(packet_id=a.packet or "", lineage_id=a.lineage or "")
    if not a.printer.human:
        a.printer.data(as_dict(lineage))
        return
    a.printer.many(EVENT, list(lineage.events))
    print(f"\nchain head {lineage.head_sequence} {lineage.head_hash}")


def _filter_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--type", action="append", metavar="TYPE", help="event type (repeatable)")
    p.add_argument("--member", metavar="ID", help="events about this member")
    p.add_argument("--packet", metavar="ID", help="events about this packet")


def add_commands(commands: argparse._SubParsersAction, leaf: Adder) -> None:  # type: ignore[type-arg]
    """Add ``audit`` and ``watch`` to the phoenix command."""
    audit = commands.add_parser("audit", help="the Flight Recorder")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")

    p = leaf(sub, "query", query, "events matching filters",
             examples=["phoenix audit query --type member_registered --since 3600",
                       "phoenix audit query --packet fp-001 -o wide",
                       "phoenix audit query --after 100 --limit 10 -o json"])
    _filter_flags(p)
    p.add_argument("--since", type=float, metavar="SECONDS", help="only the last SECONDS")
    p.add_argument("--after", type=int, default=0, metavar="SEQ", help="after this sequence")
    p.add_argument("--limit", type=int, help="at most this many")

    p = leaf(sub, "tail", tail, "the last events; --follow keeps streaming, resuming on breaks",
             examples=["phoenix audit tail -n 50",
                       "phoenix audit tail -f --member agent-01 -o json"])
    _filter_flags(p)
    p.add_argument("-n", "--lines", type=int, default=20, help="how many (default 20)")
    p.add_argument("-f", "--follow", action="store_true", help="stream new events as they come")

    p = leaf(sub, "verify", verify, "check every record and hash-chain link",
             description="Verify the Flight Recorder's hash chain through the daemon "
             "(VerifyChain) or offline on a data dir, judged as phoenixd's start-up judges it "
             "(against the snapshot beside it too). Exits 0 when intact; 3 on a torn tail "
             "(the file ends inside its last record: phoenixd cuts it off and starts); 1 on "
             "damage phoenixd refuses to start on (a record failing its checks, or a journal "
             "ending before its snapshot's revision), naming the first bad sequence number "
             "and byte offset.", offline=True,
             examples=["phoenix audit verify", "phoenix audit verify --data-dir ./.phoenixflight"])
    p.add_argument("--data-dir", help="verify this data dir's audit.jsonl offline")

    p = leaf(sub, "export", export, "every event of one packet or lineage",
             examples=["phoenix audit export --packet fp-001",
                       "phoenix audit export --lineage lin-7742 -o json"])
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--packet", metavar="ID")
    group.add_argument("--lineage", metavar="ID")

    watch = commands.add_parser("watch", help="follow live changes")
    sub = watch.add_subparsers(dest="watch_command", required=True, metavar="COMMAND")
    p = leaf(sub, "members", watch_members, "the members now, then their changes",
             description="Print the members as listed (one row each, at the list's revision), "
             "then every change from that revision on, with no gap; resumes after the last "
             "change shown when the stream breaks. -o json prints JSON lines: "
             f"{{revision, event_type, member}}, event_type \"{LISTED}\" for the listed state.",
             examples=["phoenix watch members", "phoenix watch members --member agent-01 -o json",
                       "phoenix watch members --after-revision 0"])
    p.add_argument("--after-revision", type=int, metavar="REV",
                   help="instead of listing, replay changes after REV (0: all history)")
    p.add_argument("--member", metavar="ID", help="only this member")
    p = leaf(sub, "packets", watch_packets, "the packets now, then their changes",
             description="Print the packets as listed (one row each, at the list's revision), "
             "then every packet event from that revision on, with no gap, from the Flight "
             "Recorder's feed; resumes after the last event shown when the stream breaks. "
             "-o json prints JSON lines: {revision, event_type, packet} for the listed state "
             f"(event_type \"{LISTED}\"), then {{revision, event_type, event}}.",
             examples=["phoenix watch packets", "phoenix watch packets --packet fp-001 -o json"])
    p.add_argument("--packet", metavar="ID", help="only this packet")
    p = leaf(sub, "audit", tail, "Flight Recorder events as they happen (audit tail -f)",
             examples=["phoenix watch audit", "phoenix watch audit --type packet_completed"])
    _filter_flags(p)
    p.set_defaults(follow=True, lines=0)
