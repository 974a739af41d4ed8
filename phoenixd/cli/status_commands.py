"""``phoenix status``: is the daemon there, which version, how far along, how much it holds."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from phoenixd.cli.member_commands import member_status
from phoenixd.cli.output import as_dict
from phoenixd.cli.packet_commands import packet_status
from phoenixflight import Client, PhoenixFlightError
from phoenixflight_api.v1 import cluster_service_pb2 as cs

__all__ = ["add_commands"]

Adder = Callable[..., argparse.ArgumentParser]


def _health(client: Client) -> str:
    """grpc.health.v1 Check for the whole server: SERVING, NOT_SERVING, ... (open to all)."""
    channel = client.connection.channel()
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=client.timeout)  # type: ignore[attr-defined]
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))
    except grpc.RpcError as exc:
        raise PhoenixFlightError(exc.code(), exc.details() or "") from None
    finally:
        channel.close()


def _counts(counts: Sequence[cs.MemberStatusCount] | Sequence[cs.PacketStatusCount],
            name: Callable[[Any], str]) -> str:
    total = sum(c.count for c in counts)
    return ", ".join(f"{c.count} {name(c.status)}" for c in counts) + f" ({total} in all)"


def status(client: Client, a: argparse.Namespace) -> None:
    health = _health(client)
    cluster = client.get_cluster_status()
    endpoint = client.connection.endpoint
    if not a.printer.human:
        a.printer.data({"endpoint": endpoint, "health": health, **as_dict(cluster)})
        return
    a.printer.table(["ENDPOINT", "HEALTH", "VERSION", "REVISION"],
                    [[endpoint, health, cluster.daemon_version, cluster.revision]])
    a.printer.details([
        ("members", _counts(cluster.member_counts, member_status)),
        ("packets", _counts(cluster.packet_counts, packet_status)),
    ])


def add_commands(commands: argparse._SubParsersAction, leaf: Adder) -> None:  # type: ignore[type-arg]
    """Add ``status`` to the phoenix command."""
    leaf(commands, "status", status, "the daemon: health, version, revision, counts by status",
         description="Show the daemon's endpoint, its health (grpc.health.v1 Check), its "
         "version, its revision (the Flight Recorder's head sequence) and its members and "
         "packets counted by status. Exits 2 when it cannot be reached.",
         examples=["phoenix status", "phoenix status -o json",
                   "phoenix status --context prod"])
