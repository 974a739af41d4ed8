"""Namespaces between the wire and the core."""

from __future__ import annotations

from phoenixd.core.application.queries import NamespaceView
from phoenixd.core.errors import InvalidArgument
from phoenixd.core.namespaces import Namespace, Quota
from phoenixd.server.convert.wire import timestamp
from phoenixflight_api.v1 import namespace_service_pb2 as pb

__all__ = ["UPDATABLE", "namespace_to_pb", "quota_from_pb", "update_paths"]

UPDATABLE = frozenset({"labels", "quota"})


def quota_from_pb(quota: pb.NamespaceQuota) -> Quota:
    return Quota(members=quota.members, packets=quota.packets, cpu=quota.cpu,
                 memory=quota.memory)


def namespace_to_pb(view: NamespaceView | Namespace) -> pb.Namespace:
    record, usage = (view.namespace, view.usage) if isinstance(view, NamespaceView) else (
        view, None)
    message = pb.Namespace(
        name=record.name, labels=dict(record.labels),
        quota=pb.NamespaceQuota(members=record.quota.members, packets=record.quota.packets,
                                cpu=record.quota.cpu, memory=record.quota.memory),
        create_time=timestamp(record.create_time), update_time=timestamp(record.update_time),
        revision=record.revision,
    )
    if usage is not None:
        message.usage.CopyFrom(pb.NamespaceUsage(members=usage.members, packets=usage.packets,
                                                 cpu=usage.cpu, memory=usage.memory))
    return message


def update_paths(paths: list[str]) -> frozenset[str]:
    """The fields an UpdateNamespace changes (both when the mask is empty)."""
    unknown = sorted(set(paths) - UPDATABLE)
    if unknown:
        raise InvalidArgument(f"update_mask names {', '.join(map(repr, unknown))}; only "
                              "'labels' and 'quota' can be changed")
    return frozenset(paths) or UPDATABLE
