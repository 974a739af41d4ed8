"""``phoenix health``: the DMA metrics of a live daemon over a recent window."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

from phoenixflight import Client
from phoenixflight_api.v1 import cluster_service_pb2 as cs

__all__ = ["add_commands", "health_data", "parse_window"]

Adder = Callable[..., argparse.ArgumentParser]

_WINDOW = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_window(text: str) -> float:
    """``90s``, ``30m``, ``2h``, ``1d`` or plain seconds, as seconds."""
    match = _WINDOW.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a window: give a number with s, m, h or d (e.g. 30m, 2h, 1d), "
            "or plain seconds")
    return float(match[1]) * _UNIT[match[2]]


def health_data(h: cs.GetClusterHealthResponse) -> dict[str, Any]:
    """The response as JSON-ready data, zeros included, the window in seconds."""
    return {
        "window_seconds": h.window.ToNanoseconds() / 1e9, "namespaces": list(h.namespaces),
        "revision": h.revision,
        "churn": {"joins": h.joins, "leaves": h.leaves, "mcr": h.mcr, "wmcr": h.wmcr,
                  "si": h.si},
        "trust": h.trust, "compliance": h.compliance, "dhs": h.dhs,
        "load": {"active_members": h.active_members, "owned_packets": h.owned_packets,
                 "mean": h.load_mean, "std": h.load_std, "cv": h.load_cv,
                 "max_avg": h.load_max_avg, "jain": h.load_jain},
        "relocation": {"assignments": h.assignments, "handoffs": h.handoffs,
                       "migrations": h.migrations, "remaps": h.remaps},
        "tasks": {"completed": h.tasks_completed, "failed": h.tasks_failed,
                  "poisoned": h.tasks_poisoned, "success_rate": h.success_rate},
        "fencing_rejections": h.fencing_rejections,
    }


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def health(client: Client, a: argparse.Namespace) -> None:
    h = client.get_cluster_health(a.window, a.namespace)
    if not a.printer.human:
        a.printer.data(health_data(h))
        return
    window = h.window.ToNanoseconds() / 1e9
    scope = ", ".join(h.namespaces) or "all namespaces"
    a.printer.table(
        ["WINDOW", "SCOPE", "REVISION", "MCR/h", "WMCR/h", "SI", "TRUST", "COMPLIANCE", "DHS"],
        [[_span(window), scope, h.revision, f"{h.mcr:.4f}", f"{h.wmcr:.4f}", f"{h.si:.4f}",
          f"{h.trust:.4f}", f"{h.compliance:.4f}", f"{h.dhs:.1%}"]])
    a.printer.details([
        ("churn", f"{h.joins} joins, {h.leaves} leaves"),
        ("load", f"{h.owned_packets} packets on {h.active_members} ACTIVE members: mean "
                 f"{h.load_mean:.2f}, std {h.load_std:.2f}, cv {h.load_cv:.3f}, max/avg "
                 f"{h.load_max_avg:.2f}, Jain {h.load_jain:.3f}"),
        ("moved", f"{h.assignments} assignments, {h.handoffs} handoffs started, "
                  f"{h.migrations} completed, {h.remaps} remaps"),
        ("tasks", f"{h.tasks_completed} completed, {h.tasks_failed} attempts failed, "
                  f"{h.tasks_poisoned} poisoned (success rate {h.success_rate:.1%})"),
        ("fencing", f"{h.fencing_rejections} stale writes refused"),
    ])


def add_commands(commands: argparse._SubParsersAction, leaf: Adder) -> None:  # type: ignore[type-arg]
    """Add ``health`` to the phoenix command."""
    p = leaf(commands, "health", health, "the DMA metrics over a recent window",
             description="Show the seed's DMA metrics of the live daemon over the last "
             "--window: membership churn (MCR, WMCR per hour), the Stability Index, the mean "
             "trust of ACTIVE members, compliance (member-side writes that passed the fencing "
             "check) and the health score DHS; the load balance of ACTIVE members now; and "
             "the assignments, handoffs, remaps, task outcomes and stale writes refused in "
             "the window. --namespace narrows it to one namespace (a scoped token sees its "
             "own namespaces only).",
             examples=["phoenix health", "phoenix health --window 24h -o json",
                       "phoenix health --namespace payments --window 15m"])
    p.add_argument("--window", type=parse_window, default=0.0, metavar="SPAN",
                   help="how far back to count, up to 24h: 90s, 30m, 2h, 1d or seconds "
                   "(default: the daemon's, 1h)")
