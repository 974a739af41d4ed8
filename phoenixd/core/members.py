"""The member record, its status machine and the validation of what members declare."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from phoenixd.core.errors import InvalidArgument
from phoenixd.core.namespaces import DEFAULT_NAMESPACE
from phoenixd.core.validation import parse_capability

__all__ = [
    "DEFAULT_LEASE_TTL",
    "MAX_LEASE_TTL",
    "MIN_LEASE_TTL",
    "Evidence",
    "Member",
    "MemberKind",
    "MemberStatus",
    "validate_lease_ttl",
]

# A member that sends nothing for this long becomes SUSPECT. Ten seconds lets
# a busy agent miss a couple of beats without being declared failed.
DEFAULT_LEASE_TTL = 10.0
# Below one second, a GC pause or a slow network would expire healthy members.
MIN_LEASE_TTL = 1.0
MAX_LEASE_TTL = 3600.0


class MemberKind(StrEnum):
    AGENT = "agent"
    TOOL = "tool"
    SERVICE = "service"
    NODE = "node"


class MemberStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPECT = "SUSPECT"
    FAILED = "FAILED"
    DRAINING = "DRAINING"
    RETIRED = "RETIRED"

    @property
    def terminal(self) -> bool:
        """FAILED and RETIRED end an incarnation; only re-registration follows."""
        return self in (MemberStatus.FAILED, MemberStatus.RETIRED)

    @property
    def holds_lease(self) -> bool:
        return self in (MemberStatus.ACTIVE, MemberStatus.DRAINING)


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a member's outcomes taught about its reliability (phoenixd.core.reliability):
    the declared ``prior`` worth ``weight`` outcomes, and the successes and failures seen,
    faded to wall time ``at``."""

    prior: float
    weight: float
    successes: float = 0.0
    failures: float = 0.0
    at: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(frozen=True, slots=True)
class Member:
    """A member as recorded: what the journal and the snapshots hold.

    Runtime-only facts (last heartbeat, reported load, open session) live beside
    it in the registry, because they change too often to be journaled.
    """

    member_id: str
    kind: MemberKind
    capabilities: tuple[str, ...]
    cpu: float
    memory: float
    trust_score: float
    reliability: float
    labels: Mapping[str, str]
    status: MemberStatus
    lease_ttl: float
    incarnation: int
    credential_hash: str
    create_time: float
    update_time: float
    namespace: str = DEFAULT_NAMESPACE  # records written before namespaces are default's
    status_reason: str = ""
    revision: int = 0
    drain_deadline: float = 0.0  # wall clock; 0 when not draining
    # Set once outcomes have taught something (reliability learning on); journaled only then.
    learned: Evidence | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__slots__}
        if self.learned is None:
            del out["learned"]
        else:
            out["learned"] = self.learned.to_dict()
        out["capabilities"] = list(self.capabilities)
        out["labels"] = dict(self.labels)
        out["kind"] = str(self.kind)
        out["status"] = str(self.status)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], **overrides: Any) -> Member:
        values = {**raw, **overrides}
        values["kind"] = MemberKind(values["kind"])
        values["status"] = MemberStatus(values["status"])
        values["capabilities"] = tuple(values["capabilities"])
        values["labels"] = dict(values["labels"])
        if values.get("learned") is not None:
            values["learned"] = Evidence(**values["learned"])
        return cls(**values)

    def capability_versions(self) -> Mapping[str, str]:
        """Capability name -> version ("" when unversioned)."""
        return _capability_versions(self.capabilities)


@lru_cache(maxsize=4096)
def _capability_versions(capabilities: tuple[str, ...]) -> Mapping[str, str]:
    """Shared by every member offering the same set (the scheduler asks per member)."""
    return dict(parse_capability(c) for c in capabilities)


def validate_lease_ttl(ttl: float) -> float:
    if not math.isfinite(ttl) or not MIN_LEASE_TTL <= ttl <= MAX_LEASE_TTL:
        raise InvalidArgument(
            f"lease_ttl must be between {MIN_LEASE_TTL:g}s and {MAX_LEASE_TTL:g}s, got {ttl:g}s"
        )
    return ttl
