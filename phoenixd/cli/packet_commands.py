"""``phoenix packet ...``: submit, list, show, explain, move, cancel and wait for Flight Packets."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from phoenixd.cli.output import Column, Kind, Printer, as_dict, enum_name, when, yes_no
from phoenixflight import Client, PhoenixFlightError, packet_from_envelope
from phoenixflight.envelope import STRATEGIES
from phoenixflight_api.v1 import packet_pb2 as pkt

__all__ = ["PACKET", "STATUSES", "add_commands", "packet_status"]

Adder = Callable[..., argparse.ArgumentParser]
STATUSES = ["PENDING", "ASSIGNED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
# `packet wait --for`: the statuses that count as reached. A packet passes ASSIGNED and
# RUNNING on its way to COMPLETED, so a later one also counts (a waiter started after the
# ack must not wait for ever); `terminal` is reached by any way of ending.
WAIT_FOR = {
    "assigned": frozenset({"ASSIGNED", "RUNNING", "COMPLETED"}),
    "running": frozenset({"RUNNING", "COMPLETED"}),
    "completed": frozenset({"COMPLETED"}),
    "terminal": TERMINAL,
}
# `packet wait` exit codes: reached; ended another way (FAILED, CANCELLED); --timeout ran
# out first (2, as for a daemon that cannot be reached: the outcome is not known).
EXIT_REACHED, EXIT_ENDED_OTHERWISE, EXIT_TIMED_OUT = 0, 1, 2


def packet_status(status: pkt.PacketStatus.ValueType) -> str:
    """The short upper-case name people read: PACKET_STATUS_PENDING -> PENDING."""
    return enum_name(pkt.PacketStatus.Name(status), "PACKET_STATUS_")


PACKET = Kind("packet", lambda p: p.packet_id, [
    Column("ID", lambda p: p.packet_id),
    Column("STATUS", lambda p: packet_status(p.status), status=True),
    Column("OWNER", lambda p: p.current_owner or "-"),
    Column("EPOCH", lambda p: p.epoch),
    Column("STRATEGY", lambda p: enum_name(pkt.Strategy.Name(p.strategy), "STRATEGY_").lower()),
    Column("STEP", lambda p: p.context_checkpoint.step or "-"),
    Column("WORKLOAD", lambda p: p.workload_type or "-"),
    Column("LINEAGE", lambda p: p.audit.lineage_id),
    Column("NAMESPACE", lambda p: p.namespace, wide=True),
    Column("ATTEMPTS", lambda p: f"{p.attempts}/{p.max_attempts}", wide=True),
    Column("REQUIRES", lambda p: ",".join(p.required_capabilities) or "-", wide=True),
    Column("HANDOFF", lambda p: yes_no(p.handoff.allowed), wide=True),
    Column("LAST EVENT", lambda p: p.audit.last_event or "-", wide=True),
    Column("FAILURE", lambda p: p.failure_reason or "-", wide=True),
])


def _show(packet: pkt.FlightPacket, printer: Printer) -> None:
    cp, token = packet.context_checkpoint, packet.handoff_token
    details: list[tuple[str, object]] = [
        ("requires", ", ".join(packet.required_capabilities) or "-"),
        ("previous owners", ", ".join(packet.previous_owners) or "-"),
        ("attempts", f"{packet.attempts} of {packet.max_attempts}"),
        ("checkpoint", f"{cp.state_hash} (epoch {cp.epoch}, by {cp.saved_by or '-'}, "
                       f"{when(cp.save_time)})"),
        ("handoff", f"{yes_no(packet.handoff.allowed)} "
                    f"(reason {packet.handoff.reason or '-'})"),
        ("token", f"{token.from_member or '-'} -> {token.to_member} at epoch {token.epoch}, "
                  f"key {token.key_id}" if token.to_member else "-"),
        ("failure", packet.failure_reason or "-"),
        ("last event", packet.audit.last_event),
    ]
    printer.one(PACKET, packet, details)


def _state(text: str) -> dict[str, Any]:
    """--state's value: a JSON object, or one line saying where it is not one."""
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--state is not valid JSON: {exc}") from None
    if not isinstance(state, dict):
        raise argparse.ArgumentTypeError(
            f"--state must be a JSON object, e.g. '{{\"pages\": 6}}' (got {_json_kind(state)})")
    return state


def _json_kind(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _envelope_from_flags(a: argparse.Namespace) -> dict[str, Any]:
    if not a.packet_id:
        raise argparse.ArgumentTypeError("give a packet id, or -f FILE with an envelope")
    envelope: dict[str, Any] = {
        "packet_id": a.packet_id,
        "workload_type": a.workload or "",
        "required_capabilities": a.cap or [],
        "context_checkpoint": {"state": _state(a.state) if a.state else {},
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


def _envelope_from_file(a: argparse.Namespace) -> pkt.FlightPacket:
    where = "stdin" if a.file == "-" else a.file
    text = sys.stdin.read() if a.file == "-" else Path(a.file).read_text()
    try:
        envelope = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(envelope, Mapping):
        raise argparse.ArgumentTypeError(f"{where} must hold a JSON object (an envelope)")
    if a.packet_id:
        envelope = {**envelope.get("packet", envelope), "packet_id": a.packet_id}
    try:
        return packet_from_envelope(envelope)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{where}: {exc}") from None


def submit(client: Client, a: argparse.Namespace) -> None:
    envelope = _envelope_from_file(a) if a.file else packet_from_envelope(_envelope_from_flags(a))
    if a.namespace:
        if envelope.namespace and envelope.namespace != a.namespace:
            raise argparse.ArgumentTypeError(
                f"the envelope is in namespace {envelope.namespace!r}, but --namespace says "
                f"{a.namespace!r}: drop one of them")
        envelope.namespace = a.namespace
    _show(client.submit_packet(envelope, on_warning=_warn), a.printer)


def _warn(message: str) -> None:
    """The daemon's warnings on a submit (accepted all the same: the exit code stays 0)."""
    print(f"warning: {message}", file=sys.stderr)


def list_packets(client: Client, a: argparse.Namespace) -> None:
    packets = list(client.iter_packets(statuses=a.status or (), owner=a.owner or "",
                                       workload_type=a.workload or "", lineage_id=a.lineage or "",
                                       namespace=a.namespace))
    a.printer.many(PACKET, packets)


def get(client: Client, a: argparse.Namespace) -> None:
    _show(client.get_packet(a.packet_id), a.printer)


def explain(client: Client, a: argparse.Namespace) -> None:
    decision = client.explain_assignment(a.packet_id, a.epoch)
    printer: Printer = a.printer
    if not printer.human:
        printer.data(as_dict(decision))
        return
    print(decision.explanation)
    print(f"trigger {decision.trigger}, epoch {decision.epoch}, event {decision.sequence}, "
          f"{decision.considered} considered")
    rows = [[c.member_id, f"{c.score:.4f}" if c.eligible else "-",
             "winner" if c.member_id == decision.winner else (c.rejected_by or "eligible")]
            for c in decision.candidates]
    print()
    printer.table(["MEMBER", "SCORE", "OUTCOME"], rows)
    policy = as_dict(decision.policy)
    print(f"\npolicy: {json.dumps(policy) if policy else 'none'}")


def handoff(client: Client, a: argparse.Namespace) -> None:
    _show(client.handoff_packet(a.packet_id, a.to or "", a.reason or ""), a.printer)


def cancel(client: Client, a: argparse.Namespace) -> None:
    _show(client.cancel_packet(a.packet_id, a.reason or ""), a.printer)


def wait(client: Client, a: argparse.Namespace) -> int:
    """Wait for a status on the Flight Recorder's feed of the packet's events, from the
    revision its GetPacket reflects (no gap between the read and the watch), bounded by
    --timeout as the stream's deadline: no polling."""
    started = time.monotonic()
    reached = WAIT_FOR[a.wait_for]
    packet = client.get_packet(a.packet_id)
    status, reason = packet_status(packet.status), packet.failure_reason
    remaining = a.timeout - (time.monotonic() - started)
    try:
        if not _settled(status, reached):
            for event in client.watch_events(after_sequence=packet.revision,
                                             packet_id=a.packet_id,
                                             timeout=max(remaining, 0.001)):
                record = as_dict(event).get("data", {}).get("packet")
                if record is None:  # e.g. an assignment decision: no status change
                    continue
                status, reason = str(record["status"]), str(record.get("failure_reason", ""))
                if _settled(status, reached):
                    break
    except PhoenixFlightError as exc:
        if exc.code.name != "DEADLINE_EXCEEDED":
            raise
        print(f"phoenix: timed out after {a.timeout:g}s waiting for packet {a.packet_id} "
              f"to be {a.wait_for} (it is {status})", file=sys.stderr)
        return EXIT_TIMED_OUT
    if status not in reached:
        print(f"phoenix: packet {a.packet_id} is {status}"
              + (f": {reason}" if reason else ""), file=sys.stderr)
        return EXIT_ENDED_OTHERWISE
    a.printer.one(PACKET, client.get_packet(a.packet_id))
    return EXIT_REACHED


def _settled(status: str, reached: frozenset[str]) -> bool:
    return status in reached or status in TERMINAL


def add_commands(commands: argparse._SubParsersAction, leaf: Adder) -> None:  # type: ignore[type-arg]
    """Add ``packet`` to the phoenix command."""
    packet = commands.add_parser("packet", help="submit and follow Flight Packets")
    sub = packet.add_subparsers(dest="packet_command", required=True, metavar="COMMAND")

    p = leaf(sub, "submit", submit, "submit a packet from flags or an envelope file",
             examples=["phoenix packet submit fp-001 --cap ocr@2 --state '{\"pages\": 6}' "
                       "--step start",
                       "phoenix packet submit -f envelope.json",
                       "cat envelope.json | phoenix packet submit -f - fp-002"])
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

    p = leaf(sub, "list", list_packets, "list packets (all pages)",
             examples=["phoenix packet list --status pending --status ASSIGNED",
                       "phoenix packet list --owner agent-01 -o wide --sort-by .epoch",
                       "phoenix packet list -o jsonpath='{[*].packet_id}'"])
    p.add_argument("--status", action="append", metavar="STATUS", type=str.upper,
                   choices=STATUSES,
                   help=f"only this status, any case: {', '.join(STATUSES)} (repeatable)")
    p.add_argument("--owner")
    p.add_argument("--workload")
    p.add_argument("--lineage")

    p = leaf(sub, "get", get, "show one packet",
             examples=["phoenix packet get fp-001", "phoenix packet get fp-001 -o yaml"])
    p.add_argument("packet_id")

    p = leaf(sub, "explain", explain, "why the packet went where it did",
             examples=["phoenix packet explain fp-001", "phoenix packet explain fp-001 --epoch 1"])
    p.add_argument("packet_id")
    p.add_argument("--epoch", type=int, default=0, help="that epoch's decision (default latest)")

    p = leaf(sub, "handoff", handoff, "move a packet now",
             examples=["phoenix packet handoff fp-001 --to agent-02 --reason rebalance"])
    p.add_argument("packet_id")
    p.add_argument("--to", metavar="MEMBER", help="the member to move it to (default: choose)")
    p.add_argument("--reason")

    p = leaf(sub, "cancel", cancel, "cancel a packet",
             examples=["phoenix packet cancel fp-001 --reason 'no longer needed'"])
    p.add_argument("packet_id")
    p.add_argument("--reason")

    p = leaf(sub, "wait", wait, "wait until a packet reaches a status",
             description="Wait until a packet reaches a status, following its events (no "
             "polling). Exits 0 when reached (a later status on the way to COMPLETED counts); "
             "1 when the packet ends another way (FAILED, CANCELLED), naming its status and "
             "failure reason; 2 when --timeout runs out first.",
             examples=["phoenix packet wait fp-001",
                       "phoenix packet wait fp-001 --for assigned --timeout 10",
                       "phoenix packet wait fp-001 --for terminal --timeout 600 -o json"])
    p.add_argument("packet_id")
    p.add_argument("--for", dest="wait_for", choices=sorted(WAIT_FOR), default="completed",
                   help="the status to wait for (default completed)")
