"""Namespaces: the record, its quota, and what a namespace holds now.

Every member and packet belongs to exactly one namespace. Placement never crosses one: a
packet is only ever decided among the members of its own namespace. The ``default``
namespace always exists (it is never journaled until it changes), so that a call that names
no namespace works exactly as it did before namespaces existed.

A quota bounds what a namespace holds *live*: members not FAILED or RETIRED, packets not
COMPLETED, FAILED or CANCELLED, and the cpu and memory those packets demand. Finished
records stay readable as history and count against nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from phoenixd.core.errors import InvalidArgument, NotFound, ResourceExhausted
from phoenixd.core.validation import validate_labels
from phoenixflight_api import protocol

if TYPE_CHECKING:
    from phoenixd.core.state import ClusterState

__all__ = [
    "DEFAULT_NAMESPACE",
    "Namespace",
    "Quota",
    "Usage",
    "admit",
    "validate_namespace",
    "validate_quota",
]

DEFAULT_NAMESPACE = "default"
MAX_QUOTA = 1 << 53  # counts beyond a double's exact integers mean nothing here


def validate_namespace(name: str, what: str = "namespace") -> str:
    """A namespace name is a DNS label, like a member or packet id."""
    if problem := protocol.id_problem(name, what):
        raise InvalidArgument(problem)
    return name


@dataclass(frozen=True, slots=True)
class Quota:
    """Upper bounds on what a namespace holds live; 0 means no bound."""

    members: int = 0
    packets: int = 0
    cpu: float = 0.0
    memory: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"members": self.members, "packets": self.packets, "cpu": self.cpu,
                "memory": self.memory}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Quota:
        return cls(raw["members"], raw["packets"], raw["cpu"], raw["memory"])


def validate_quota(quota: Quota) -> Quota:
    for what, count in (("members", quota.members), ("packets", quota.packets)):
        if not 0 <= count <= MAX_QUOTA:
            raise InvalidArgument(f"quota.{what} must be 0 (no bound) or positive, got {count}")
    for what, amount in (("cpu", quota.cpu), ("memory", quota.memory)):
        if not (math.isfinite(amount) and amount >= 0):
            raise InvalidArgument(f"quota.{what} must be 0 (no bound) or positive, got {amount}")
    return quota


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace as recorded."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    quota: Quota = Quota()
    create_time: float = 0.0
    update_time: float = 0.0
    revision: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "labels": dict(self.labels), "quota": self.quota.to_dict(),
                "create_time": self.create_time, "update_time": self.update_time}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], revision: int = 0) -> Namespace:
        return cls(raw["name"], dict(raw["labels"]), Quota.from_dict(raw["quota"]),
                   raw["create_time"], raw["update_time"], revision)

    @classmethod
    def new(cls, name: str, labels: Mapping[str, str], quota: Quota, now: float) -> Namespace:
        return cls(validate_namespace(name), validate_labels(labels), validate_quota(quota),
                   now, now)


@dataclass(slots=True)
class Usage:
    """What a namespace holds live now (what its quota bounds)."""

    members: int = 0
    packets: int = 0
    cpu: float = 0.0
    memory: float = 0.0

    @property
    def empty(self) -> bool:
        return not (self.members or self.packets)

    def over(self, quota: Quota, *, members: int = 0, packets: int = 0, cpu: float = 0.0,
             memory: float = 0.0) -> str:
        """The first bound of ``quota`` that adding this much would pass, as a sentence
        naming the quota and the usage ("" when it fits)."""
        for what, bound, used, more in (
            ("members", quota.members, self.members, members),
            ("packets", quota.packets, self.packets, packets),
            ("cpu", quota.cpu, self.cpu, cpu),
            ("memory", quota.memory, self.memory, memory),
        ):
            if more and bound and used + more > bound + 1e-9:
                return (f"quota {what}={bound:g} (in use: {used:g}, this asks for {more:g} "
                        "more)")
        return ""


def admit(state: ClusterState, namespace: str, what: str, *, members: int = 0,
          packets: int = 0, cpu: float = 0.0, memory: float = 0.0) -> str:
    """Check that ``namespace`` exists and that its quota leaves room for this much more;
    returns the namespace. ``what`` names the thing being added, for the message."""
    record = state.namespaces.get(validate_namespace(namespace))
    if record is None:
        raise NotFound(f"namespace {namespace!r} does not exist: create it first "
                       f"(phoenix namespace create {namespace})")
    over = state.usage_of(namespace).over(record.quota, members=members, packets=packets,
                                          cpu=cpu, memory=memory)
    if over:
        raise ResourceExhausted(f"namespace {namespace!r} has no room for {what}: {over}; "
                                "raise the quota or remove what it holds")
    return namespace
