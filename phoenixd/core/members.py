"""The member record, its status machine and the validation of what members declare."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from phoenixd.core.errors import InvalidArgument

__all__ = [
    "DEFAULT_LEASE_TTL",
    "MAX_LEASE_TTL",
    "MIN_LEASE_TTL",
    "Member",
    "MemberKind",
    "MemberStatus",
    "parse_capability",
    "validate_capabilities",
    "validate_capacity",
    "validate_labels",
    "validate_lease_ttl",
    "validate_member_id",
    "validate_text",
    "validate_unit_interval",
]

# A member that sends nothing for this long becomes SUSPECT. Ten seconds lets
# a busy agent miss a couple of beats without being declared failed.
DEFAULT_LEASE_TTL = 10.0
# Below one second, a GC pause or a slow network would expire healthy members.
MIN_LEASE_TTL = 1.0
MAX_LEASE_TTL = 3600.0

MAX_CAPABILITIES = 64
MAX_LABELS = 64
# Free text (reasons) is journaled and replayed to every watcher, so it is
# bounded well below the message size limit.
MAX_TEXT = 1024
MAX_CREDENTIAL = 256

_MEMBER_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_CAPABILITY = re.compile(r"^([a-z0-9][a-z0-9_.-]{0,62})(?:@([A-Za-z0-9][A-Za-z0-9.+_-]{0,31}))?$")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$")


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
class Member:
    """A member as recorded: what the journal and the snapshots hold.

    Runtime-only facts (last heartbeat, reported load, open session) live beside
    it in the membership core, because they change too often to be journaled.
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
    status_reason: str = ""
    revision: int = 0
    drain_deadline: float = 0.0  # wall clock; 0 when not draining

    def to_dict(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__slots__}
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
        return cls(**values)

    def capability_versions(self) -> Mapping[str, str]:
        """Capability name -> version ("" when unversioned)."""
        return _capability_versions(self.capabilities)


def validate_member_id(member_id: str, what: str = "member_id") -> str:
    if not member_id:
        raise InvalidArgument(f"{what} is required")
    if not _MEMBER_ID.fullmatch(member_id):
        raise InvalidArgument(
            f"{what} {member_id!r} is not a valid id: use 1-63 lowercase letters, digits "
            "and '-', starting and ending with a letter or digit"
        )
    return member_id


@lru_cache(maxsize=4096)
def _capability_versions(capabilities: tuple[str, ...]) -> Mapping[str, str]:
    """Shared by every member offering the same set (the scheduler asks per member)."""
    return dict(parse_capability(c) for c in capabilities)


@lru_cache(maxsize=4096)
def parse_capability(capability: str) -> tuple[str, str]:
    """Split "name@version" into (name, version); version is "" when absent."""
    match = _CAPABILITY.fullmatch(capability)
    if not match:
        raise InvalidArgument(
            f"capability {capability!r} is not valid: use 'name' or 'name@version' with a "
            "lowercase name of letters, digits, '_', '.', '-' (at most 63 characters)"
        )
    return match.group(1), match.group(2) or ""


def validate_capabilities(capabilities: Iterable[str]) -> tuple[str, ...]:
    caps = tuple(capabilities)
    if len(caps) > MAX_CAPABILITIES:
        raise InvalidArgument(f"at most {MAX_CAPABILITIES} capabilities, got {len(caps)}")
    seen: dict[str, str] = {}
    for cap in caps:
        name, _ = parse_capability(cap)
        if name in seen:
            raise InvalidArgument(
                f"capability {name!r} is listed twice ({seen[name]!r} and {cap!r}); "
                "advertise one version per capability"
            )
        seen[name] = cap
    return tuple(sorted(caps))


def validate_labels(labels: Mapping[str, str]) -> dict[str, str]:
    if len(labels) > MAX_LABELS:
        raise InvalidArgument(f"at most {MAX_LABELS} labels, got {len(labels)}")
    for key, value in labels.items():
        if not _LABEL_KEY.fullmatch(key):
            raise InvalidArgument(
                f"label key {key!r} is not valid: use an optional 'dns.prefix/' and a name of "
                "letters, digits, '_', '.', '-' (at most 63 characters)"
            )
        if not _LABEL_VALUE.fullmatch(value):
            raise InvalidArgument(
                f"label {key}={value!r} has an invalid value: use at most 63 letters, digits, "
                "'_', '.', '-', starting and ending with a letter or digit"
            )
    return dict(sorted(labels.items()))


def validate_text(value: str, what: str, limit: int = MAX_TEXT) -> str:
    if len(value) > limit:
        raise InvalidArgument(f"{what} is {len(value)} characters long; at most {limit}")
    return value


def validate_unit_interval(value: float, what: str) -> float:
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise InvalidArgument(f"{what} must be between 0 and 1, got {value}")
    return value


def validate_capacity(cpu: float, memory: float) -> tuple[float, float]:
    for what, value in (("capacity.cpu", cpu), ("capacity.memory", memory)):
        if not math.isfinite(value) or value < 0:
            raise InvalidArgument(f"{what} must be a finite number >= 0, got {value}")
    return cpu, memory


def validate_lease_ttl(ttl: float) -> float:
    if not math.isfinite(ttl) or not MIN_LEASE_TTL <= ttl <= MAX_LEASE_TTL:
        raise InvalidArgument(
            f"lease_ttl must be between {MIN_LEASE_TTL:g}s and {MAX_LEASE_TTL:g}s, got {ttl:g}s"
        )
    return ttl
