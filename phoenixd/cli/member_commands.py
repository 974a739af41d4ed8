"""``phoenix member ...`` and ``phoenix capability list``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable

from phoenixd.cli.output import (
    Column,
    Kind,
    Printer,
    Progress,
    as_dict,
    enum_name,
    when,
    yes_no,
)
from phoenixd.core.members import MAX_LEASE_TTL, MIN_LEASE_TTL
from phoenixd.core.registry import DEFAULT_DRAIN_DEADLINE
from phoenixflight import Client, PhoenixFlightError
from phoenixflight_api.v1 import member_pb2 as mem
from phoenixflight_api.v1 import membership_service_pb2 as ms

__all__ = ["MEMBER", "STATUSES", "add_commands", "member_status"]

Adder = Callable[..., argparse.ArgumentParser]
STATUSES = ["ACTIVE", "SUSPECT", "FAILED", "DRAINING", "RETIRED"]
# Exit code of `member drain --wait` when --timeout runs out first (2, as for a daemon
# that cannot be reached: the command did not learn the outcome).
EXIT_TIMED_OUT = 2


def labels_from_flags(pairs: list[str] | None) -> dict[str, str] | None:
    if pairs is None:
        return None
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"label {pair!r} is not key=value")
        labels[key] = value
    return labels


def member_status(status: mem.MemberStatus.ValueType) -> str:
    """The short upper-case name people read: MEMBER_STATUS_ACTIVE -> ACTIVE."""
    return enum_name(mem.MemberStatus.Name(status), "MEMBER_STATUS_")


def _labels_text(m: mem.Member) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(m.labels.items())) or "-"


MEMBER = Kind("member", lambda m: m.member_id, [
    Column("ID", lambda m: m.member_id),
    Column("KIND", lambda m: enum_name(mem.MemberKind.Name(m.kind), "MEMBER_KIND_").lower()),
    Column("STATUS", lambda m: member_status(m.status), status=True),
    Column("CAPABILITIES", lambda m: ",".join(m.capabilities) or "-"),
    Column("TRUST", lambda m: f"{m.trust_score:g}"),
    Column("PACKETS", lambda m: m.load.assigned_packets),
    Column("LABELS", _labels_text),
    Column("NAMESPACE", lambda m: m.namespace, wide=True),
    Column("RELIABILITY", lambda m: f"{m.reliability:g}", wide=True),
    Column("INCARNATION", lambda m: m.incarnation, wide=True),
    Column("SESSION", lambda m: yes_no(m.session_open), wide=True),
    Column("LAST HEARTBEAT", lambda m: when(m.last_heartbeat_time), wide=True),
    Column("REASON", lambda m: m.status_reason or "-", wide=True),
])
CAPABILITY = Kind("capability", lambda c: c.name, [
    Column("CAPABILITY", lambda c: c.name),
    Column("VERSIONS", lambda c: ",".join(v or "-" for v in c.versions)),
    Column("PROVIDERS", lambda c: ", ".join(_provider(p) for p in c.providers)),
])


def _provider(p: ms.CapabilityProvider) -> str:
    version = f"@{p.version}" if p.version else ""
    status = "" if p.status == mem.MEMBER_STATUS_ACTIVE else f" ({member_status(p.status)})"
    return f"{p.member_id}{version}{status}"


def _reliability(member: mem.Member) -> str:
    if not member.HasField("learned_reliability"):
        return f"{member.reliability:g}"
    learned = member.learned_reliability
    return (f"{member.reliability:g} (learned: {learned.successes:g} completed, "
            f"{learned.failures:g} failed, faded; declared {learned.prior:g} worth "
            f"{learned.prior_weight:g})")


def _show(member: mem.Member, printer: Printer, credential: str = "") -> None:
    if credential and printer.format.name in ("json", "yaml", "jsonpath"):
        printer.data({"member": as_dict(member), "credential": credential})
        return
    details: list[tuple[str, object]] = [
        ("incarnation", member.incarnation), ("status reason", member.status_reason or "-"),
        ("lease ttl", f"{member.lease_ttl.ToTimedelta().total_seconds():g}s"),
        ("capacity", f"cpu {member.capacity.cpu:g}, memory {member.capacity.memory:g}"),
        ("load", f"cpu {member.load.cpu:g}, memory {member.load.memory:g}"),
        ("reliability", _reliability(member)), ("session open", member.session_open),
        ("last heartbeat", when(member.last_heartbeat_time)), ("revision", member.revision),
    ]
    if credential:
        details.append(("credential", credential))
    printer.one(MEMBER, member, details)


def _lease_ttl(ttl: float | None) -> float | None:
    """The daemon's lease TTL range, refused here with the range rather than after a call."""
    if ttl is not None and not MIN_LEASE_TTL <= ttl <= MAX_LEASE_TTL:
        raise argparse.ArgumentTypeError(
            f"--ttl must be between {MIN_LEASE_TTL:g} and {MAX_LEASE_TTL:g} seconds "
            f"(got {ttl:g})")
    return ttl


def register(client: Client, a: argparse.Namespace) -> None:
    member, credential = client.register_member(
        a.member_id, *a.cap, kind=a.kind, trust_score=a.trust, reliability=a.reliability,
        labels=labels_from_flags(a.label), cpu=a.cpu, memory=a.memory, lease_ttl=_lease_ttl(a.ttl),
        credential=a.credential or "", namespace=a.namespace,
    )
    _show(member, a.printer, credential)


def list_members(client: Client, a: argparse.Namespace) -> None:
    members = list(client.iter_members(statuses=a.status or (), capability=a.capability or "",
                                       label_selector=a.selector or "",
                                       namespace=a.namespace))
    a.printer.many(MEMBER, members)


def get(client: Client, a: argparse.Namespace) -> None:
    _show(client.get_member(a.member_id), a.printer)


def update(client: Client, a: argparse.Namespace) -> None:
    caps = [] if a.clear_caps else (a.cap or None)
    member = client.update_member(
        a.member_id, capabilities=caps, labels=labels_from_flags(a.label), trust_score=a.trust,
        reliability=a.reliability, cpu=a.cpu, memory=a.memory,
    )
    _show(member, a.printer)


def drain(client: Client, a: argparse.Namespace) -> int:
    started = time.monotonic()
    after = client.query_events(page_size=1).head_sequence
    member = client.drain_member(a.member_id, a.reason or "", a.deadline)
    if a.wait and member.status != mem.MEMBER_STATUS_RETIRED:
        evict_at = time.time() + (a.deadline or DEFAULT_DRAIN_DEADLINE)
        remaining = a.timeout - (time.monotonic() - started)  # --timeout bounds the whole
        try:
            member = _until_retired(client, member, after, evict_at, remaining)
        except PhoenixFlightError as exc:
            if exc.code.name != "DEADLINE_EXCEEDED":
                raise
            left = client.get_member(a.member_id).load.assigned_packets
            print(f"phoenix: timed out after {a.timeout:g}s waiting for member "
                  f"{a.member_id} to retire ({_packets(left)} left)", file=sys.stderr)
            return EXIT_TIMED_OUT
    _show(member, a.printer)
    return 0


def _until_retired(client: Client, member: mem.Member, after: int, evict_at: float,
                   timeout: float) -> mem.Member:
    """Follow the member's events until it is RETIRED, a progress line per change in the
    packets it still holds. Built on the Flight Recorder's feed (handoffs and evictions are
    events about the member), so it waits without polling."""
    progress = Progress()
    deadline = dt.datetime.fromtimestamp(evict_at, dt.UTC).strftime("%H:%M:%SZ")

    def report(m: mem.Member) -> None:
        progress.show(f"draining {m.member_id}: {_packets(m.load.assigned_packets)} left, "
                      f"the rest evicted at {deadline}")

    report(member)
    try:
        # A timeout already spent still opens the stream: it ends at once, as a timeout.
        for event in client.watch_events(after_sequence=after, member_id=member.member_id,
                                         timeout=max(timeout, 0.001)):
            member = client.get_member(member.member_id)
            if member.status == mem.MEMBER_STATUS_RETIRED or event.type == "member_retired":
                break
            report(member)
    finally:
        progress.done()
    return client.get_member(member.member_id)


def _packets(n: int) -> str:
    return "1 packet" if n == 1 else f"{n} packets"


def retire(client: Client, a: argparse.Namespace) -> None:
    _show(client.retire_member(a.member_id, a.reason or ""), a.printer)


def capabilities(client: Client, a: argparse.Namespace) -> None:
    a.printer.many(CAPABILITY, client.list_capabilities(include_inactive=a.all,
                                                        namespace=a.namespace))


def _member_fields(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cap", action="append", default=None, metavar="NAME[@VERSION]",
                   help="a capability (repeat for several)")
    p.add_argument("--label", action="append", metavar="KEY=VALUE",
                   help="a label (repeat for several)")
    p.add_argument("--trust", type=float, help="trust score in [0, 1]")
    p.add_argument("--reliability", type=float, help="reliability in [0, 1]")
    p.add_argument("--cpu", type=float, help="cpu capacity")
    p.add_argument("--memory", type=float, help="memory capacity")


def add_commands(commands: argparse._SubParsersAction, leaf: Adder) -> None:  # type: ignore[type-arg]
    """Add ``member`` and ``capability`` to the phoenix command."""
    member = commands.add_parser("member", help="register, list and change members")
    sub = member.add_subparsers(dest="member_command", required=True, metavar="COMMAND")

    p = leaf(sub, "register", register, "register a member (prints its credential once)",
             examples=["phoenix member register agent-01 --cap ocr@2 --trust 0.9 "
                       "--label region=us-east",
                       "phoenix member register gpu-7 --kind node --cpu 8 --memory 64 --ttl 30"])
    p.add_argument("member_id")
    _member_fields(p)
    p.set_defaults(cap=[])
    p.add_argument("--kind", choices=["agent", "tool", "service", "node"], default="agent")
    p.add_argument("--ttl", type=float, metavar="SECONDS",
                   help=f"lease TTL, {MIN_LEASE_TTL:g} to {MAX_LEASE_TTL:g} (default 10)")
    p.add_argument("--credential", help="the current credential, to replace a live incarnation")

    p = leaf(sub, "list", list_members, "list members (all pages)",
             examples=["phoenix member list --status active -o wide",
                       "phoenix member list --selector region=us-east --sort-by .trust_score",
                       "phoenix member list -o custom-columns=ID:.member_id,STATUS:.status"])
    p.add_argument("--status", action="append", metavar="STATUS", type=str.upper,
                   choices=STATUSES,
                   help=f"only this status, any case: {', '.join(STATUSES)} (repeatable)")
    p.add_argument("--capability", metavar="NAME[@VERSION]")
    p.add_argument("--selector", metavar="SELECTOR", help="label selector, e.g. region=us-east")

    p = leaf(sub, "get", get, "show one member",
             examples=["phoenix member get agent-01", "phoenix member get agent-01 -o yaml"])
    p.add_argument("member_id")

    p = leaf(sub, "update", update, "change capabilities, labels, trust, reliability, capacity",
             examples=["phoenix member update agent-01 --trust 0.95 --label tier=gold",
                       "phoenix member update agent-01 --clear-caps"])
    p.add_argument("member_id")
    _member_fields(p)
    p.add_argument("--clear-caps", action="store_true", help="advertise no capabilities")

    p = leaf(sub, "drain", drain, "stop new work, hand packets off, then retire",
             examples=["phoenix member drain agent-01 --reason upgrade",
                       "phoenix member drain agent-01 --deadline 120 --wait --timeout 180"])
    p.add_argument("member_id")
    p.add_argument("--reason")
    p.add_argument("--deadline", type=float, metavar="SECONDS",
                   help=f"evict what is left after this long (default "
                   f"{DEFAULT_DRAIN_DEADLINE:g})")
    p.add_argument("--wait", action="store_true",
                   help="show the packets left until the member is RETIRED (bounded by "
                   "--timeout); exits 2 if --timeout runs out first")

    p = leaf(sub, "retire", retire, "retire now: packets are evicted and rescheduled",
             examples=["phoenix member retire agent-01 --reason decommissioned"])
    p.add_argument("member_id")
    p.add_argument("--reason")

    capability = commands.add_parser("capability", help="the capability directory")
    sub = capability.add_subparsers(dest="capability_command", required=True, metavar="COMMAND")
    p = leaf(sub, "list", capabilities, "capabilities with their providers and versions",
             examples=["phoenix capability list", "phoenix capability list --all -o json"])
    p.add_argument("--all", action="store_true", help="include providers that are not ACTIVE")
