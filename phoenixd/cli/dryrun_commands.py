"""``phoenix dry-run``: what one drain, failure or join would do to the live cluster.

The daemon plays the change out on a copy of its state (SimulatorService.DryRun) and
changes nothing; this prints which packets would move where, which would wait and why,
and the figures before and after.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from phoenixd.cli.output import as_dict
from phoenixflight import Client
from phoenixflight_api.v1 import simulator_service_pb2 as sim

__all__ = ["add_commands"]

Adder = Callable[..., argparse.ArgumentParser]
# Figures shown side by side (every figure is in -o json).
FIGURES = (("active members", "active", "g"), ("owned packets", "owned", "g"),
           ("waiting packets", "waiting", "g"), ("load mean", "load_mean", ".2f"),
           ("load std", "load_std", ".3f"), ("load cv", "load_cv", ".3f"),
           ("max / avg", "max_avg", ".3f"), ("Jain", "jain", ".4f"),
           ("trust", "trust", ".4f"))
# Moves listed one by one in the table; the rest are counted (-o json lists them all).
LISTED = 20


def _request(a: argparse.Namespace) -> sim.DryRunRequest:
    if a.dry_run_command == "drain":
        return sim.DryRunRequest(drain=sim.DrainChange(member_id=a.member))
    if a.dry_run_command == "fail":
        if bool(a.member) == bool(a.label):
            raise argparse.ArgumentTypeError(
                "dry-run fail: name one MEMBER or give --label SELECTOR (not both)")
        return sim.DryRunRequest(fail=sim.FailChange(member_id=a.member or "",
                                                     label_selector=a.label or ""))
    labels = {}
    for pair in a.labels:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--label: {pair!r} is not KEY=VALUE")
        labels[key] = value
    return sim.DryRunRequest(join=sim.JoinChange(
        count=a.count, capabilities=a.cap, labels=labels, cpu=a.cpu, memory=a.memory,
        trust_score=a.trust, namespace=a.namespace or ""))


def dry_run(client: Client, a: argparse.Namespace) -> None:
    reply = client.dry_run(_request(a))
    if not a.printer.human:
        a.printer.data(as_dict(reply))
        return
    p = a.printer
    p.details([("revision", reply.revision), ("members", ", ".join(reply.member_ids)),
               ("would record", f"{reply.events} events over {reply.virtual_seconds:g} "
                                "virtual seconds (none recorded)")])
    print()
    before, after = reply.before.values, reply.after.values
    p.table(["FIGURE", "BEFORE", "AFTER"],
            [[name, format(before[key], fmt), format(after[key], fmt)]
             for name, key, fmt in FIGURES])
    print()
    print(f"{len(reply.moves)} packet(s) would move")
    if reply.moves:
        p.table(["PACKET", "FROM", "TO"],
                [[m.packet_id, m.from_member_id or "(waiting)", m.to_member_id]
                 for m in reply.moves[:LISTED]])
        if len(reply.moves) > LISTED:
            print(f"... and {len(reply.moves) - LISTED} more (-o json lists them all)")
    for title, rows in (("would wait with no eligible member", reply.waiting),
                        ("would stay on the draining member", reply.held)):
        if rows:
            print()
            print(f"{len(rows)} packet(s) {title}")
            p.table(["PACKET", "OWNER BEFORE", "WHY"],
                    [[w.packet_id, w.previous_owner or "-", w.explanation]
                     for w in rows[:LISTED]])
    print()
    print(f"{reply.waiting_total} packet(s) without an owner afterwards")


def add_commands(commands: argparse._SubParsersAction, leaf: Adder) -> None:  # type: ignore[type-arg]
    """Add ``dry-run`` to the phoenix command."""
    top = commands.add_parser(
        "dry-run", help="what a drain, failure or join would do (changes nothing)")
    sub = top.add_subparsers(dest="dry_run_command", required=True, metavar="COMMAND")
    note = (" The daemon plays it out on a copy of its state with its own scheduler, on a "
            "virtual clock, and records nothing. Admin only.")
    p = leaf(sub, "drain", dry_run, "drain MEMBER: where its packets would go",
             description="Which packets a drain of MEMBER would hand off, to whom, and which "
             "would stay because no other member may take them." + note,
             examples=["phoenix dry-run drain agent-01", "phoenix dry-run drain agent-01 -o json"])
    p.add_argument("member", metavar="MEMBER")
    p = leaf(sub, "fail", dry_run, "fail MEMBER (or every member matching --label)",
             description="What follows if MEMBER (or every live member matching the label "
             "selector) fell silent: its lease runs out, then its grace, it is declared "
             "FAILED and its packets are placed elsewhere or wait." + note,
             examples=["phoenix dry-run fail agent-01",
                       "phoenix dry-run fail --label region=us-east"])
    p.add_argument("member", metavar="MEMBER", nargs="?")
    p.add_argument("--label", metavar="SELECTOR", help="a label selector, e.g. region=us-east")
    p = leaf(sub, "join", dry_run, "join N members: what rebalancing would move to them",
             description="What follows if COUNT members with these capabilities and labels "
             "registered (ids dry-run-1, dry-run-2, ...): waiting packets placed, ring "
             "packets rebalanced." + note,
             examples=["phoenix dry-run join --cap ocr@2 --count 3",
                       "phoenix dry-run join --cap gpu --label region=us-east --cpu 8"])
    p.add_argument("--cap", action="append", default=[], metavar="CAPABILITY",
                   help="a capability each new member offers (repeatable)")
    p.add_argument("--count", type=int, default=1, help="how many members join (default 1)")
    p.add_argument("--label", dest="labels", action="append", default=[],
                   metavar="KEY=VALUE", help="a label each new member carries (repeatable)")
    p.add_argument("--cpu", type=float, default=0.0, help="cpu capacity (default: registry's)")
    p.add_argument("--memory", type=float, default=0.0,
                   help="memory capacity (default: registry's)")
    p.add_argument("--trust", type=float, default=0.0,
                   help="trust score (default: registry's)")
