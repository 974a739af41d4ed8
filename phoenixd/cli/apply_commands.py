"""``phoenix apply`` and ``phoenix bundle list|get``: bundles in a running phoenixd.

``apply`` sends a .pflight's bytes to ApplyBundle, which verifies it against the daemon's own
trusted keys and applies it whole, in one journaled event, or not at all. It prints the
bundle and one row per change (created, updated, unchanged, kept); ``-o json`` prints the
response. Exits 1 when the daemon refuses the bundle (damaged, untrusted, older, over a
quota: the message says which), 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from phoenixd.cli.output import Column, Kind, when
from phoenixflight import Client

__all__ = ["add_commands"]

Adder = Callable[..., argparse.ArgumentParser]

BUNDLE = Kind("bundle", lambda b: b.name, [
    Column("NAME", lambda b: b.name),
    Column("VERSION", lambda b: b.version),
    Column("SIGNATURE", lambda b: b.signature_status),
    Column("REVISION", lambda b: b.revision),
    Column("APPLIED", lambda b: when(b.apply_time)),
    Column("BUNDLE ID", lambda b: b.bundle_id, wide=True),
    Column("FILE", lambda b: b.file, wide=True),
])
CHANGE = Kind("change", lambda c: f"{c.kind}/{c.key}", [
    Column("KIND", lambda c: c.kind),
    Column("NAMESPACE", lambda c: c.namespace or "-"),
    Column("KEY", lambda c: c.key),
    Column("ACTION", lambda c: c.action),
    Column("MESSAGE", lambda c: c.message or "-", wide=True),
])


def apply(client: Client, a: argparse.Namespace) -> None:
    reply = client.apply_bundle(Path(a.file).read_bytes(), dry_run=a.dry_run)
    if not a.printer.human:
        a.printer.one(CHANGE, reply)  # the whole response, as one document
        return
    bundle = reply.bundle
    verb = ("would apply" if a.dry_run else "applied" if reply.revision
            else "already applied")
    at = f" at revision {reply.revision}" if reply.revision else ""
    a.printer.write(f"{verb} {bundle.name} {bundle.version} ({bundle.bundle_id}){at}")
    a.printer.many(CHANGE, list(reply.changes))


def list_bundles(client: Client, a: argparse.Namespace) -> None:
    a.printer.many(BUNDLE, client.list_bundles())


def get(client: Client, a: argparse.Namespace) -> None:
    bundle = client.get_bundle(a.name)
    a.printer.one(BUNDLE, bundle, [("bundle id", bundle.bundle_id), ("file", bundle.file),
                                   ("key ids", ", ".join(bundle.key_ids) or "-")])


def add_commands(commands: argparse._SubParsersAction, bundle: argparse._SubParsersAction,  # type: ignore[type-arg]
                 leaf: Adder) -> None:
    """Add ``apply`` to the phoenix command, and ``list`` and ``get`` to ``bundle``."""
    p = leaf(commands, "apply", apply, "apply a .pflight bundle to phoenixd",
             description="Send a bundle to phoenixd, which verifies every byte and its "
             "signature against its own --trusted-keys, then creates its namespaces, "
             "policies, contracts and packets in one journaled event (or nothing, if any "
             "check fails). The same bundle again changes nothing; a higher version of it "
             "changes only what differs; a packet that exists already is kept as it is.",
             examples=["phoenix apply dist/acme.customer-validation-app-0.1.0.pflight",
                       "phoenix apply app.pflight --dry-run",
                       "phoenix apply app.pflight -o json"])
    p.add_argument("file", metavar="FILE", help="a .pflight file (phoenix build makes one)")
    p.add_argument("--dry-run", action="store_true",
                   help="verify and check everything, show what would change, change nothing")
    leaf(bundle, "list", list_bundles, "list the bundles applied to phoenixd",
         examples=["phoenix bundle list", "phoenix bundle list -o wide"])
    p = leaf(bundle, "get", get, "show one applied bundle, by name",
             examples=["phoenix bundle get acme.customer-validation-app -o json"])
    p.add_argument("name")
