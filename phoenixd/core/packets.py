"""The Flight Packet record, its status machine, and the validation of what is submitted."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from phoenixd.core.errors import InvalidArgument
from phoenixd.core.namespaces import DEFAULT_NAMESPACE
from phoenixd.core.selector import parse_selector
from phoenixd.core.tokens import HandoffToken
from phoenixd.core.validation import validate_name, validate_unit_interval
from phoenixflight_api import protocol

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "MAX_STATE_BYTES",
    "Checkpoint",
    "Packet",
    "PacketStatus",
    "Policy",
    "Strategy",
    "canonical_json",
    "state_hash",
]

DEFAULT_MAX_ATTEMPTS = 3
MAX_ATTEMPTS = 100
# A checkpoint is journaled on every save and sent with every handoff; 1 MiB
# keeps both well under the 4 MiB message limit.
MAX_STATE_BYTES = 1024 * 1024
MAX_REGIONS = 64



class PacketStatus(StrEnum):
    PENDING = "PENDING"
    ASSIGNED = "ASSIGNED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self in (PacketStatus.COMPLETED, PacketStatus.FAILED, PacketStatus.CANCELLED)

    @property
    def owned(self) -> bool:
        """An owner holds the packet (and its demand counts against the owner's capacity)."""
        return self in (PacketStatus.ASSIGNED, PacketStatus.RUNNING)


class Strategy(StrEnum):
    RING = "ring"
    BINPACK_SPREAD = "binpack"
    BINPACK_PACK = "pack"
    TRUST = "trust"


@dataclass(frozen=True, slots=True)
class Policy:
    minimum_trust_score: float = 0.0
    allowed_regions: tuple[str, ...] = ()
    pii_review_required: bool = False
    label_selector: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "minimum_trust_score": self.minimum_trust_score,
            "allowed_regions": list(self.allowed_regions),
            "pii_review_required": self.pii_review_required,
            "label_selector": self.label_selector,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Policy:
        return _shared_policy(
            raw["minimum_trust_score"], tuple(raw["allowed_regions"]),
            raw["pii_review_required"], raw["label_selector"],
        )


# A million packets in memory mostly repeat a few policies, capability lists and empty
# mappings: records read back share one object for each (all immutable), rather than
# holding a copy apiece.
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@lru_cache(maxsize=4096, typed=True)  # 0 and 0.0 read back as written
def _shared_policy(minimum_trust: float, regions: tuple[str, ...], pii: bool, selector: str
                   ) -> Policy:
    return Policy(minimum_trust, regions, pii, selector)


@lru_cache(maxsize=4096)
def _shared_tuple(*items: str) -> tuple[str, ...]:
    return items


def _shared_mapping(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    return raw if raw else _EMPTY


@dataclass(frozen=True, slots=True)
class Checkpoint:
    state: Mapping[str, Any] = field(default_factory=dict)
    step: str = ""
    state_hash: str = ""
    epoch: int = 0
    saved_by: str = ""
    save_time: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": dict(self.state), "step": self.step, "state_hash": self.state_hash,
            "epoch": self.epoch, "saved_by": self.saved_by, "save_time": self.save_time,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Checkpoint:
        return cls(_shared_mapping(raw["state"]), raw["step"], sys.intern(raw["state_hash"]),
                   raw["epoch"], sys.intern(raw["saved_by"]), raw["save_time"])


@dataclass(frozen=True, slots=True)
class Packet:
    """A packet as recorded: what the journal and packets.json hold."""

    packet_id: str
    workload_type: str
    required_capabilities: tuple[str, ...]
    status: PacketStatus
    owner: str
    previous_owners: tuple[str, ...]
    epoch: int
    checkpoint: Checkpoint
    policy: Policy
    handoff_allowed: bool
    handoff_reason: str
    lineage_id: str
    demand_cpu: float
    demand_memory: float
    routing_key: str
    strategy: Strategy
    attempts: int
    max_attempts: int
    create_time: float
    update_time: float
    namespace: str = DEFAULT_NAMESPACE  # records written before namespaces are default's
    last_event: str = ""
    failure_reason: str = ""
    result: Mapping[str, Any] = field(default_factory=dict)
    handoff_token: HandoffToken | None = None  # none before the first assignment
    # Wall time a handoff started (0 when none is in flight): its latency is
    # measured when the new owner acks.
    handoff_started: float = 0.0
    assign_time: float = 0.0
    # (epoch, event sequence) of recent placement decisions, newest last; filled
    # in when the decision event is applied, so ExplainAssignment finds it.
    decisions: tuple[tuple[int, int], ...] = ()
    revision: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            **{f: getattr(self, f) for f in self.__slots__},
            "required_capabilities": list(self.required_capabilities),
            "status": str(self.status),
            "previous_owners": list(self.previous_owners),
            "checkpoint": self.checkpoint.to_dict(),
            "policy": self.policy.to_dict(),
            "strategy": str(self.strategy),
            "result": dict(self.result),
            "handoff_token": self.handoff_token.to_dict() if self.handoff_token else {},
            "decisions": [list(d) for d in self.decisions],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], **overrides: Any) -> Packet:
        values = dict(raw)
        values["required_capabilities"] = _shared_tuple(*values["required_capabilities"])
        values["status"] = PacketStatus(values["status"])
        values["owner"] = sys.intern(values["owner"])
        values["previous_owners"] = tuple(map(sys.intern, values["previous_owners"]))
        values["checkpoint"] = Checkpoint.from_dict(values["checkpoint"])
        values["policy"] = Policy.from_dict(values["policy"])
        values["strategy"] = Strategy(values["strategy"])
        values["workload_type"] = sys.intern(values["workload_type"])
        if "namespace" in values:
            values["namespace"] = sys.intern(values["namespace"])
        values["last_event"] = sys.intern(values["last_event"])
        values["result"] = _shared_mapping(values["result"])
        token = values["handoff_token"]
        values["handoff_token"] = (
            HandoffToken.from_dict(token, packet_id=values["packet_id"]) if token else None)
        if "decisions" not in overrides:  # the state passes them in, already built
            values["decisions"] = tuple(tuple(d) for d in values.get("decisions", ()))
        values.update(overrides)
        return cls(**values)


def validate_policy(policy: Policy) -> Policy:
    validate_unit_interval(policy.minimum_trust_score, "policy_constraints.minimum_trust_score")
    if len(policy.allowed_regions) > MAX_REGIONS:
        raise InvalidArgument(f"at most {MAX_REGIONS} allowed_regions")
    for region in policy.allowed_regions:
        validate_name(region, "allowed_regions entry", required=True)
    # The length is checked first (MAX_SELECTOR_LENGTH), then the terms, with a helpful message.
    parse_selector(policy.label_selector, "policy_constraints.label_selector")
    return Policy(
        policy.minimum_trust_score, tuple(sorted(set(policy.allowed_regions))),
        policy.pii_review_required, policy.label_selector.strip(),
    )


def validate_max_attempts(value: int) -> int:
    if value == 0:
        return DEFAULT_MAX_ATTEMPTS
    if not 1 <= value <= MAX_ATTEMPTS:
        raise InvalidArgument(f"max_attempts must be between 1 and {MAX_ATTEMPTS}, got {value}")
    return value


# -- the checkpoint hash ----------------------------------------------------------


def canonical_json(value: Any) -> str:
    """RFC 8785 canonical JSON (phoenixflight_api.protocol), with the core's error type."""
    try:
        return protocol.canonical_json(value)
    except ValueError as exc:
        raise InvalidArgument(f"checkpoint state holds {exc}") from None


def state_hash(state: Mapping[str, Any]) -> str:
    """The seed's ``sha256:...`` over the state's canonical bytes."""
    return validate_state(state)[1]


def validate_state(state: Mapping[str, Any], what: str = "checkpoint state"
                   ) -> tuple[dict[str, Any], str]:
    """The state and its hash, or InvalidArgument if it is too big to carry around."""
    try:
        data = protocol.canonical_bytes(state)
    except ValueError as exc:
        raise InvalidArgument(f"{what} holds {exc}") from None
    if len(data) > MAX_STATE_BYTES:
        raise InvalidArgument(
            f"{what} is {len(data)} bytes in canonical JSON; at most {MAX_STATE_BYTES}"
        )
    return dict(state), "sha256:" + hashlib.sha256(data).hexdigest()
