"""``phoenix packet ...``: submit, list, show, explain, move and cancel Flight Packets."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
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
from phoenixflight.envelope import STRATEGIES
from phoenixflight_api.v1 import packet_pb2 as pkt

__all__ = ["add_commands"]

Adder = Callable[..., argparse.ArgumentParser]
HEADERS = ["ID", "STATUS", "OWNER", "EPOCH", "STRATEGY", "STEP", "WORKLOAD", "LINEAGE"]


def _status(packet: pkt.FlightPacket) -> str:
    return enum_name(pkt.PacketStatus.Name(packet.status), "PACKET_STATUS_")


def _row(p: pkt.FlightPacket) -> list[Any]:
    strategy = enum_name(pkt.Strategy.Name(p.strategy), "STRATEGY_").lower()
    return [p.packet_id, _status(p), p.current_owner or "-", p.epoch, strategy,
            p.context_checkpoint.step or "-", p.workload_type or "-", p.audit.lineage_id]


def _show(packet: pkt.FlightPacket, output: str) -> None:
    if output == "json":
        print_json(packet)
        return
    print_table(HEADERS, [_row(packet)])
    cp, token = packet.context_checkpoint, packet.handoff_token
    details = [
        ("requires", ", ".join(packet.required_capabilities) or "-"),
        ("previous owners", ", ".join(packet.previous_owners) or "-"),
        ("attempts", f"{packet.attempts} of {packet.max_attempts}"),
        ("checkpoint", f"{cp.state_hash} (epoch {cp.epoch}, by {cp.saved_by or '-'}, "
                       f"{when(cp.save_time)})"),
        ("handoff", f"allowed={packet.handoff.allowed} reason={packet.handoff.reason or '-'}"),
        ("token", f"{token.from_member or '-'} -> {token.to_member} at epoch {token.epoch}, "
                  f"key {token.key_id}" if token.to_member else "-"),
        ("failure", packet.failure_reason or "-"),
        ("last event", packet.audit.last_event),
    ]
    print_details(details)


def _envelope_from_flags(a: argparse.Namespace) -> dict[str, Any]:
    if not a.packet_id:
        raise argparse.ArgumentTypeError("give a packet id, or -f FILE with an envelope")
    envelope: dict[str, Any] = {
        "packet_id": a.packet_id,
        "workload_type": a.workload or "",
        "required_capabilities": a.cap or [],
        "context_checkpoint": {"state": json.loads(a.state) if a.state else {},
                               "step": a.step or ""},
        "policy_constraints": {
            "minimum_trust_score": a.min_trust or 0.0, "allowed_regions": a.region or [],
            "pii_review_required": a.pii, "label_selector": a.selector or "",
        },
        "handoff": {"allowed": not a.no_handoff},
        "demand": {"cpu": a.cpu or 0.0, "memory": a.memory or 0.0},
        "routing_key": a.routing_key or "",
        "max_attempts": a.max_attempts or 0,
    }
    if a.lineage:
        envelope["audit"] = {"lineage_id": a.lineage}
    if a.strategy:
        envelope["strategy"] = a.strategy
    return envelope


def submit(client: Client, a: argparse.Namespace) -> None:
    if a.file:
        text = sys.stdin.read() if a.file == "-" else Path(a.file).read_text()
        try:
            envelope = json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"{a.file} is not JSON: {exc}") from None
        if a.packet_id:
            envelope = {**envelope.get("packet", envelope), "packet_id": a.packet_id}
    else:
        envelope = _envelope_from_flags(a)
    _show(client.submit_packet(envelope), a.output)


def list_packets(client: Client, a: argparse.Namespace) -> None:
    packets = list(client.iter_packets(statuses=a.status or (), owner=a.owner or "",
                                       workload_type=a.workload or "", lineage_id=a.lineage or ""))
    if a.output == "json":
        print_json(packets)
    else:
        print_table(HEADERS, [_row(p) for p in packets])


def get(client: Client, a: argparse.Namespace) -> None:
    _show(client.get_packet(a.packet_id), a.output)


def explain(client: Client, a: argparse.Namespace) -> None:
    decision = client.explain_assignment(a.packet_id, a.epoch)
    if a.output == "json":
        print_json(decision)
        return
    print(decision.explanation)
    print(f"trigger {decision.trigger}, epoch {decision.epoch}, event {decision.sequence}, "
          f"{decision.considered} considered")
    rows = [[c.member_id, f"{c.score:.4f}" if c.eligible else "-",
             "winner" if c.member_id == decision.winner else (c.rejected_by or "eligible")]
            for c in decision.candidates]
    print()
    print_table(["MEMBER", "SCORE", "OUTCOME"], rows)
    policy = as_dict(decision.policy)
    print(f"\npolicy: {json.dumps(policy) if policy else 'none'}")


def handoff(client: Client, a: argparse.Namespace) -> None:
    _show(client.handoff_packet(a.packet_id, a.to or "", a.reason or ""), a.output)


def cancel(client: Client, a: argparse.Namespace) -> None:
    _show(client.cancel_packet(a.packet_id, a.reason or ""), a.output)


def add_commands(commands: argparse._SubParsersAction, leaf: Adder) -> None:  # type: ignore[type-arg]
    """Add ``packet`` to the phoenix command."""
    packet = commands.add_parser("packet", help="submit and follow Flight Packets")
    sub = packet.add_subparsers(dest="packet_command", required=True, metavar="COMMAND")

    p = leaf(sub, "submit", submit, "submit a packet from flags or an envelope file")
    p.add_argument("packet_id", nargs="?", help="id (required without -f; overrides the file's)")
    p.add_argument("-f", "--file", metavar="FILE",
                   help="envelope JSON (the seed's format, or the API's); - reads stdin")
    p.add_argument("--workload", help="workload type")
    p.add_argument("--cap", action="append", metavar="NAME[@VERSION]",
                   help="a required capability (repeat for several)")
    p.add_argument("--state", metavar="JSON", help="checkpoint state, a JSON object")
    p.add_argument("--step", help="checkpoint step")
    p.add_argument("--min-trust", type=float, help="policy: minimum trust score")
    p.add_argument("--region", action="append", help="policy: an allowed region (repeatable)")
    p.add_argument("--pii", action="store_true", help="policy: PII review required")
    p.add_argument("--selector", help="policy: label selector owners must match")
    p.add_argument("--no-handoff", action="store_true",
                   help="only move if the owner fails or retires")
    p.add_argument("--lineage", help="lineage id (default lin-<packet id>)")
    p.add_argument("--cpu", type=float, help="cpu demand")
    p.add_argument("--memory", type=float, help="memory demand")
    p.add_argument("--routing-key", help="what the ring hashes (default: the packet id)")
    p.add_argument("--strategy", choices=sorted(STRATEGIES), help="placement strategy")
    p.add_argument("--max-attempts", type=int, help="failures before FAILED (default 3)")

    p = leaf(sub, "list", list_packets, "list packets (all pages)")
    p.add_argument("--status", action="append",
                   choices=["pending", "assigned", "running", "completed", "failed",
                            "cancelled"], help="only this status (repeatable)")
    p.add_argument("--owner")
    p.add_argument("--workload")
    p.add_argument("--lineage")

    p = leaf(sub, "get", get, "show one packet")
    p.add_argument("packet_id")

    p = leaf(sub, "explain", explain, "why the packet went where it did")
    p.add_argument("packet_id")
    p.add_argument("--epoch", type=int, default=0, help="that epoch's decision (default latest)")

    p = leaf(sub, "handoff", handoff, "move a packet now")
    p.add_argument("packet_id")
    p.add_argument("--to", metavar="MEMBER", help="the member to move it to (default: choose)")
    p.add_argument("--reason")

    p = leaf(sub, "cancel", cancel, "cancel a packet")
    p.add_argument("packet_id")
    p.add_argument("--reason")
