"""What an applied bundle leaves in the state, besides namespaces and packets: the
named policies and the record of the bundle itself (contracts are in contracts.py).

These are plain records, kept in ClusterState, in snapshots (registry.json) and rebuilt by
replaying ``bundle_applied`` events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from phoenixd.core.packets import Policy

__all__ = ["AppliedBundle", "NamedPolicy", "import_file"]


def import_file(bundle_id: str) -> str:
    """Where an applied bundle's archive is kept, relative to the data dir."""
    return f"imports/{bundle_id.replace(':', '-')}.pflight"



@dataclass(frozen=True, slots=True)
class NamedPolicy:
    """A policy of a namespace, by name: the constraints its packets were submitted with."""

    namespace: str
    name: str
    policy: Policy

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.name

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, **self.policy.to_dict()}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> NamedPolicy:
        return cls(raw["namespace"], raw["name"], Policy.from_dict(raw))


@dataclass(frozen=True, slots=True)
class AppliedBundle:
    """A bundle as applied: the newest version of each name is kept."""

    bundle_id: str
    name: str
    version: str
    signature: str  # verified or unsigned
    key_ids: tuple[str, ...]
    file: str  # the archive, relative to the data dir
    apply_time: float = 0.0
    revision: int = 0  # of its bundle_applied event

    def to_dict(self) -> dict[str, Any]:
        return {"bundle_id": self.bundle_id, "name": self.name, "version": self.version,
                "signature": self.signature, "key_ids": list(self.key_ids), "file": self.file,
                "apply_time": self.apply_time}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], revision: int = 0) -> AppliedBundle:
        return cls(raw["bundle_id"], raw["name"], raw["version"], raw["signature"],
                   tuple(raw["key_ids"]), raw["file"], raw["apply_time"],
                   raw.get("revision", revision))
