"""``phoenix namespace``: create, list, show, change and delete namespaces."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from phoenixd.cli.member_commands import labels_from_flags
from phoenixd.cli.output import Column, Kind
from phoenixflight import Client
from phoenixflight_api.v1 import namespace_service_pb2 as ns

__all__ = ["add_commands"]

Adder = Callable[..., argparse.ArgumentParser]


def _bound(value: float) -> str:
    return f"{value:g}" if value else "-"


def _labels_text(n: ns.Namespace) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(n.labels.items())) or "-"


def _usage(used: float, bound: float) -> str:
    """``3/10`` against a bound, ``3`` without one."""
    return f"{used:g}/{bound:g}" if bound else f"{used:g}"


NAMESPACE = Kind("namespace", lambda n: n.name, [
    Column("NAME", lambda n: n.name),
    Column("MEMBERS", lambda n: _usage(n.usage.members, n.quota.members)),
    Column("PACKETS", lambda n: _usage(n.usage.packets, n.quota.packets)),
    Column("CPU", lambda n: _usage(n.usage.cpu, n.quota.cpu)),
    Column("MEMORY", lambda n: _usage(n.usage.memory, n.quota.memory)),
    Column("LABELS", _labels_text),
    Column("REVISION", lambda n: n.revision, wide=True),
])


def _quota(a: argparse.Namespace, current: ns.NamespaceQuota | None = None
           ) -> dict[str, float] | None:
    """The quota the flags give, over ``current`` (None when no flag is given)."""
    given = {name: getattr(a, f"max_{name}") for name in _QUOTA_FIELDS}
    if all(value is None for value in given.values()):
        return None
    for name, value in given.items():
        if value is not None and value < 0:
            raise argparse.ArgumentTypeError(f"--max-{name} must be 0 (no bound) or more")
    return {name: getattr(current, name) if value is None and current is not None else value or 0
            for name, value in given.items()}


_QUOTA_FIELDS = ("members", "packets", "cpu", "memory")


def create(client: Client, a: argparse.Namespace) -> None:
    a.printer.one(NAMESPACE, client.create_namespace(
        a.name, labels=labels_from_flags(a.label), quota=_quota(a)))


def list_namespaces(client: Client, a: argparse.Namespace) -> None:
    a.printer.many(NAMESPACE, client.list_namespaces())


def get(client: Client, a: argparse.Namespace) -> None:
    a.printer.one(NAMESPACE, client.get_namespace(a.name))


def update(client: Client, a: argparse.Namespace) -> None:
    labels = {} if a.clear_labels else labels_from_flags(a.label)
    quota = _quota(a, client.get_namespace(a.name).quota)
    if labels is None and quota is None:
        raise argparse.ArgumentTypeError("nothing to change: give --label, --clear-labels or "
                                         "a --max-* flag")
    a.printer.one(NAMESPACE, client.update_namespace(a.name, labels=labels, quota=quota))


def delete(client: Client, a: argparse.Namespace) -> None:
    a.printer.one(NAMESPACE, client.delete_namespace(a.name))


def _fields(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")
    p.add_argument("--label", action="append", metavar="KEY=VALUE",
                   help="a label (repeat for several)")
    for name, kind, what in (("members", int, "members not FAILED or RETIRED"),
                             ("packets", int, "packets not finished"),
                             ("cpu", float, "cpu demanded by unfinished packets"),
                             ("memory", float, "memory demanded by unfinished packets")):
        p.add_argument(f"--max-{name}", type=kind, metavar="N",
                       help=f"quota: at most N {what} (0: no bound)")


def add_commands(commands: argparse._SubParsersAction, leaf: Adder) -> None:  # type: ignore[type-arg]
    """Add ``namespace`` to the phoenix command."""
    namespace = commands.add_parser(
        "namespace", help="namespaces: partitions of members and packets, with quotas")
    sub = namespace.add_subparsers(dest="namespace_command", required=True, metavar="COMMAND")

    p = leaf(sub, "create", create, "create a namespace, with labels and quotas",
             examples=["phoenix namespace create billing --label team=payments",
                       "phoenix namespace create batch --max-packets 1000 --max-cpu 64"])
    _fields(p)

    leaf(sub, "list", list_namespaces, "list namespaces with what they hold and their quotas",
         examples=["phoenix namespace list", "phoenix namespace list -o yaml"])

    p = leaf(sub, "get", get, "show one namespace",
             examples=["phoenix namespace get billing -o json"])
    p.add_argument("name")

    p = leaf(sub, "update", update, "change labels or quotas (what is not given stays)",
             examples=["phoenix namespace update batch --max-packets 5000",
                       "phoenix namespace update billing --clear-labels"])
    _fields(p)
    p.add_argument("--clear-labels", action="store_true", help="remove every label")

    p = leaf(sub, "delete", delete,
             "delete a namespace that holds nothing live (its finished records stay)",
             examples=["phoenix namespace delete billing"])
    p.add_argument("name")
