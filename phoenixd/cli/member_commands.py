"""``phoenix member ...`` and ``phoenix capability list``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from phoenixd.cli.output import (
    as_dict,
    enum_name,
    print_details,
    print_json,
    print_table,
    when,
)
from phoenixflight import Client
from phoenixflight_api.v1 import member_pb2 as mem

__all__ = ["add_commands"]

Adder = Callable[..., argparse.ArgumentParser]


def _labels(pairs: list[str] | None) -> dict[str, str] | None:
    if pairs is None:
        return None
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"label {pair!r} is not key=value")
        labels[key] = value
    return labels


def _status(member: mem.Member) -> str:
    return enum_name(mem.MemberStatus.Name(member.status), "MEMBER_STATUS_")


def _row(m: mem.Member) -> list[Any]:
    labels = ",".join(f"{k}={v}" for k, v in sorted(m.labels.items())) or "-"
    return [m.member_id, enum_name(mem.MemberKind.Name(m.kind), "MEMBER_KIND_").lower(),
            _status(m), ",".join(m.capabilities) or "-", f"{m.trust_score:g}",
            m.load.assigned_packets, labels]


HEADERS = ["ID", "KIND", "STATUS", "CAPABILITIES", "TRUST", "PACKETS", "LABELS"]


def _show(member: mem.Member, output: str, credential: str = "") -> None:
    if output == "json":
        data = as_dict(member)
        print_json({"member": data, "credential": credential} if credential else data)
        return
    print_table(HEADERS, [_row(member)])
    details = [
        ("incarnation", member.incarnation), ("status reason", member.status_reason or "-"),
        ("lease ttl", f"{member.lease_ttl.ToTimedelta().total_seconds():g}s"),
        ("capacity", f"cpu {member.capacity.cpu:g}, memory {member.capacity.memory:g}"),
        ("load", f"cpu {member.load.cpu:g}, memory {member.load.memory:g}"),
        ("reliability", f"{member.reliability:g}"), ("session open", member.session_open),
        ("last heartbeat", when(member.last_heartbeat_time)), ("revision", member.revision),
    ]
    if credential:
        details.append(("credential", credential))
    print_details(details)


def register(client: Client, a: argparse.Namespace) -> None:
    member, credential = client.register_member(
        a.member_id, *a.cap, kind=a.kind, trust_score=a.trust, reliability=a.reliability,
        labels=_labels(a.label), cpu=a.cpu, memory=a.memory, lease_ttl=a.ttl,
        credential=a.credential or "",
    )
    _show(member, a.output, credential)


def list_members(client: Client, a: argparse.Namespace) -> None:
    members = list(client.iter_members(statuses=a.status or (), capability=a.capability or "",
                                       label_selector=a.selector or ""))
    if a.output == "json":
        print_json(members)
    else:
        print_table(HEADERS, [_row(m) for m in members])


def get(client: Client, a: argparse.Namespace) -> None:
    _show(client.get_member(a.member_id), a.output)


def update(client: Client, a: argparse.Namespace) -> None:
    caps = [] if a.clear_caps else (a.cap or None)
    member = client.update_member(
        a.member_id, capabilities=caps, labels=_labels(a.label), trust_score=a.trust,
        reliability=a.reliability, cpu=a.cpu, memory=a.memory,
    )
    _show(member, a.output)


def drain(client: Client, a: argparse.Namespace) -> None:
    _show(client.drain_member(a.member_id, a.reason or "", a.deadline), a.output)


def retire(client: Client, a: argparse.Namespace) -> None:
    _show(client.retire_member(a.member_id, a.reason or ""), a.output)


def capabilities(client: Client, a: argparse.Namespace) -> None:
    caps = client.list_capabilities(include_inactive=a.all)
    if a.output == "json":
        print_json(caps)
        return
    rows = []
    for cap in caps:
        providers = ", ".join(
            f"{p.member_id}{'@' + p.version if p.version else ''}"
            + ("" if p.status == mem.MEMBER_STATUS_ACTIVE else
               f" ({enum_name(mem.MemberStatus.Name(p.status), 'MEMBER_STATUS_')})")
            for p in cap.providers
        )
        rows.append([cap.name, ",".join(v or "-" for v in cap.versions), providers])
    print_table(["CAPABILITY", "VERSIONS", "PROVIDERS"], rows)


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

    p = leaf(sub, "register", register, "register a member (prints its credential once)")
    p.add_argument("member_id")
    _member_fields(p)
    p.set_defaults(cap=[])
    p.add_argument("--kind", choices=["agent", "tool", "service", "node"], default="agent")
    p.add_argument("--ttl", type=float, metavar="SECONDS", help="lease TTL (default 10)")
    p.add_argument("--credential", help="the current credential, to replace a live incarnation")

    p = leaf(sub, "list", list_members, "list members (all pages)")
    p.add_argument("--status", action="append", metavar="STATUS",
                   choices=["active", "suspect", "failed", "draining", "retired"],
                   help="only this status (repeat for several)")
    p.add_argument("--capability", metavar="NAME[@VERSION]")
    p.add_argument("--selector", metavar="SELECTOR", help="label selector, e.g. region=us-east")

    p = leaf(sub, "get", get, "show one member")
    p.add_argument("member_id")

    p = leaf(sub, "update", update, "change capabilities, labels, trust, reliability, capacity")
    p.add_argument("member_id")
    _member_fields(p)
    p.add_argument("--clear-caps", action="store_true", help="advertise no capabilities")

    p = leaf(sub, "drain", drain, "stop new work, hand packets off, then retire")
    p.add_argument("member_id")
    p.add_argument("--reason")
    p.add_argument("--deadline", type=float, metavar="SECONDS",
                   help="evict what is left after this long (default 60)")

    p = leaf(sub, "retire", retire, "retire now: packets are evicted and rescheduled")
    p.add_argument("member_id")
    p.add_argument("--reason")

    capability = commands.add_parser("capability", help="the capability directory")
    sub = capability.add_subparsers(dest="capability_command", required=True, metavar="COMMAND")
    p = leaf(sub, "list", capabilities, "capabilities with their providers and versions")
    p.add_argument("--all", action="store_true", help="include providers that are not ACTIVE")

