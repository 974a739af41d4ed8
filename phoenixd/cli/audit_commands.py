"""``phoenix audit ...`` and ``phoenix watch ...``: read, follow and verify the Flight Recorder."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from phoenixd.cli.output import as_dict, enum_name, print_json, print_table, when
from phoenixd.store import Verdict, verify_data_dir
from phoenixflight import Client, PhoenixFlightError
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rec
from phoenixflight_api.v1 import member_pb2 as mem

__all__ = ["add_commands"]

Adder = Callable[..., argparse.ArgumentParser]
HEADERS = ["SEQ", "TIME", "TYPE", "ACTOR", "SUBJECTS", "REASON"]
# Reconnect pacing for --follow: quick at first, never hammering a restarting daemon.
BACKOFF_START, BACKOFF_MAX = 0.2, 5.0


def _row(e: rec.Event) -> list[Any]:
    subjects = ",".join([*e.member_ids, *e.packet_ids]) or "-"
    return [e.sequence, when(e.time), e.type, e.actor, subjects, e.reason]


def _line(e: rec.Event, output: str) -> None:
    if output == "json":
        print(json_line(as_dict(e)), flush=True)
    else:
        print("  ".join(str(c) for c in _row(e)), flush=True)


def json_line(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def _filters(a: argparse.Namespace) -> dict[str, Any]:
    return {"types": a.type or (), "member_id": a.member or "", "packet_id": a.packet or ""}


def query(client: Client, a: argparse.Namespace) -> None:
    start = time.time() - a.since if a.since else None
    events = list(client.iter_events(after_sequence=a.after, start_time=start, **_filters(a)))
    if a.limit:
        events = events[: a.limit]
    if a.output == "json":
        print_json(events)
    else:
        print_table(HEADERS, [_row(e) for e in events])


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
    filters = _filters(a)
    head = client.query_events(page_size=1).head_sequence
    if any(filters.values()):
        last: deque[rec.Event] = deque(client.iter_events(**filters), maxlen=a.lines)
    else:
        last = deque(client.iter_events(after_sequence=max(0, head - a.lines)), maxlen=a.lines)
    for event in last:
        _line(event, a.output)
    if not a.follow:
        return
    after = last[-1].sequence if last else head

    def show(event: rec.Event) -> int:
        _line(event, a.output)
        return event.sequence

    _follow(client, after, lambda s: client.watch_events(after_sequence=s, **filters), show)


def watch_members(client: Client, a: argparse.Namespace) -> None:
    def show(change: Any) -> int:
        if a.output == "json":
            print(json_line(as_dict(change)), flush=True)
        else:
            m = change.member
            status = enum_name(mem.MemberStatus.Name(m.status), "MEMBER_STATUS_")
            print(f"{change.revision}  {change.event_type}  {m.member_id}  {status}  "
                  f"{m.status_reason}", flush=True)
        return int(change.revision)

    _follow(client, a.after_revision,
            lambda r: client.watch_members(after_revision=r, member_id=a.member or ""), show)


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
    if a.output == "json":
        print_json(result)
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
    if a.output == "json":
        print_json(lineage)
        return
    print_table(HEADERS, [_row(e) for e in lineage.events])
    print(f"\nchain head {lineage.head_sequence} {lineage.head_hash}")


def _filter_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--type", action="append", metavar="TYPE", help="event type (repeatable)")
    p.add_argument("--member", metavar="ID", help="events about this member")
    p.add_argument("--packet", metavar="ID", help="events about this packet")


def add_commands(commands: argparse._SubParsersAction, leaf: Adder) -> None:  # type: ignore[type-arg]
    """Add ``audit`` and ``watch`` to the phoenix command."""
    audit = commands.add_parser("audit", help="the Flight Recorder")
    sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")

    p = leaf(sub, "query", query, "events matching filters")
    _filter_flags(p)
    p.add_argument("--since", type=float, metavar="SECONDS", help="only the last SECONDS")
    p.add_argument("--after", type=int, default=0, metavar="SEQ", help="after this sequence")
    p.add_argument("--limit", type=int, help="at most this many")

    p = leaf(sub, "tail", tail, "the last events; --follow keeps streaming, resuming on breaks")
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
             "and byte offset.", offline=True)
    p.add_argument("--data-dir", help="verify this data dir's audit.jsonl offline")

    p = leaf(sub, "export", export, "every event of one packet or lineage")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--packet", metavar="ID")
    group.add_argument("--lineage", metavar="ID")

    watch = commands.add_parser("watch", help="follow live changes")
    sub = watch.add_subparsers(dest="watch_command", required=True, metavar="COMMAND")
    p = leaf(sub, "members", watch_members, "membership changes, resuming on breaks")
    p.add_argument("--after-revision", type=int, metavar="REV",
                   help="replay changes after REV first (0: all history)")
    p.add_argument("--member", metavar="ID", help="only this member")
    p = leaf(sub, "audit", tail, "Flight Recorder events as they happen (audit tail -f)")
    _filter_flags(p)
    p.set_defaults(follow=True, lines=0)
