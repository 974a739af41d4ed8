"""What a bundle holds, typed: namespaces, agents, policies, contracts and packets.

Each record knows its file in the archive (``files/<kind>s/<namespace>/<key>.json``) and
its JSON form there (canonical JSON, every default written out), and is read back from that
form by ``from_json``. A packet stays an envelope in seed 001's JSON form, naming its policy
(``"policy": "strict"``) instead of carrying ``policy_constraints``; the daemon resolves the
name inside the packet's namespace when it applies the bundle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import quote

from phoenixd.bundles.schema import Problem, state_validator
from phoenixd.core.errors import InvalidArgument
from phoenixd.core.packets import MAX_STATE_BYTES
from phoenixd.core.selector import parse_selector
from phoenixd.core.validation import (
    validate_capabilities,
    validate_labels,
    validate_name,
    validate_text,
)
from phoenixflight_api import protocol

__all__ = [
    "DEFAULT_NAMESPACE", "DIRECTORIES", "KINDS", "MEDIA_TYPES", "Agent", "Contract", "Item",
    "Namespace", "Packet", "Policy", "field_problems", "from_json",
]

DEFAULT_NAMESPACE = "default"
# Members registered without a trust score or reliability get these (phoenixd.core.registry).
DEFAULT_TRUST, DEFAULT_RELIABILITY = 0.5, 1.0
KINDS = ("agent", "policy", "packet", "contract")
DIRECTORIES = {"agent": "agents", "policy": "policies", "packet": "packets",
               "contract": "contracts"}
MEDIA_TYPES = {kind: f"application/vnd.phoenixflight.{kind}.v1+json" for kind in KINDS}


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


def _file(kind: str, namespace: str, key: str) -> str:
    # Workload types may hold '/' and ':'; percent-encoded, every key is one file name.
    return f"files/{DIRECTORIES[kind]}/{namespace}/{quote(key, safe='')}.json"


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace the bundle declares (``default`` always exists)."""

    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Agent:
    """A member the bundle expects in its namespace: what it will offer when it registers.

    ``cpu`` and ``memory`` are None when the agent declares no capacity: the report then
    checks packets' demand against nothing.
    """

    KIND: ClassVar[str] = "agent"
    namespace: str
    id: str
    kind: str = "agent"
    capabilities: tuple[str, ...] = ()
    trust_score: float = DEFAULT_TRUST
    reliability: float = DEFAULT_RELIABILITY
    labels: Mapping[str, str] = field(default_factory=dict)
    cpu: float | None = None
    memory: float | None = None

    @property
    def key(self) -> str:
        return self.id

    @property
    def file(self) -> str:
        return _file(self.KIND, self.namespace, self.id)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "namespace": self.namespace, "id": self.id, "kind": self.kind,
            "capabilities": list(self.capabilities), "trust_score": self.trust_score,
            "reliability": self.reliability, "labels": dict(self.labels),
        }
        capacity = {k: v for k, v in (("cpu", self.cpu), ("memory", self.memory)) if v is not None}
        if capacity:
            out["capacity"] = capacity
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], namespace: str) -> Agent:
        capacity = raw.get("capacity", {})
        return cls(namespace, raw["id"], raw.get("kind", "agent"),
                   tuple(raw.get("capabilities", ())),
                   float(raw.get("trust_score", DEFAULT_TRUST)),
                   float(raw.get("reliability", DEFAULT_RELIABILITY)),
                   _frozen(raw.get("labels", {})),
                   _amount(capacity.get("cpu")), _amount(capacity.get("memory")))


def _amount(value: float | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class Policy:
    """Named policy constraints, the fields of a packet's ``policy_constraints``."""

    KIND: ClassVar[str] = "policy"
    namespace: str
    name: str
    minimum_trust_score: float = 0.0
    allowed_regions: tuple[str, ...] = ()
    pii_review_required: bool = False
    label_selector: str = ""

    @property
    def key(self) -> str:
        return self.name

    @property
    def file(self) -> str:
        return _file(self.KIND, self.namespace, self.name)

    def constraints(self) -> dict[str, Any]:
        """As a packet's ``policy_constraints`` (the API's field names)."""
        return {"minimum_trust_score": self.minimum_trust_score,
                "allowed_regions": list(self.allowed_regions),
                "pii_review_required": self.pii_review_required,
                "label_selector": self.label_selector}

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, **self.constraints()}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], namespace: str) -> Policy:
        return cls(namespace, raw["name"], float(raw.get("minimum_trust_score", 0.0)),
                   tuple(raw.get("allowed_regions", ())),
                   bool(raw.get("pii_review_required", False)),
                   str(raw.get("label_selector", "")).strip())


@dataclass(frozen=True, slots=True)
class Contract:
    """What packets of one workload type carry: their state's JSON Schema (2020-12) and
    the capabilities each of them must require."""

    KIND: ClassVar[str] = "contract"
    namespace: str
    workload_type: str
    state_schema: Mapping[str, Any] | bool
    required_capabilities: tuple[str, ...] = ()
    description: str = ""

    @property
    def key(self) -> str:
        return self.workload_type

    @property
    def file(self) -> str:
        return _file(self.KIND, self.namespace, self.workload_type)

    def to_json(self) -> dict[str, Any]:
        schema = self.state_schema if isinstance(self.state_schema, bool) else dict(
            self.state_schema)
        return {"namespace": self.namespace, "workload_type": self.workload_type,
                "description": self.description,
                "required_capabilities": list(self.required_capabilities),
                "state_schema": schema}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], namespace: str) -> Contract:
        return cls(namespace, raw["workload_type"], raw["state_schema"],
                   tuple(raw.get("required_capabilities", ())), raw.get("description", ""))


@dataclass(frozen=True, slots=True)
class Packet:
    """A Flight Packet envelope (seed 001's JSON form, without ``namespace``) and its
    namespace. ``policy`` names a policy of that namespace ("" for none)."""

    KIND: ClassVar[str] = "packet"
    namespace: str
    envelope: Mapping[str, Any]

    @property
    def packet_id(self) -> str:
        return str(self.envelope["packet_id"])

    @property
    def key(self) -> str:
        return self.packet_id

    @property
    def file(self) -> str:
        return _file(self.KIND, self.namespace, self.packet_id)

    @property
    def policy(self) -> str:
        return str(self.envelope.get("policy", ""))

    @property
    def workload_type(self) -> str:
        return str(self.envelope.get("workload_type", ""))

    @property
    def required_capabilities(self) -> tuple[str, ...]:
        return tuple(self.envelope.get("required_capabilities", ()))

    @property
    def state(self) -> Mapping[str, Any]:
        state: Mapping[str, Any] = self.envelope.get("context_checkpoint", {}).get("state", {})
        return state

    @property
    def demand(self) -> tuple[float, float]:
        demand = self.envelope.get("demand", {})
        return float(demand.get("cpu", 0.0)), float(demand.get("memory", 0.0))

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, **self.envelope}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], namespace: str) -> Packet:
        return cls(namespace, _frozen({k: v for k, v in raw.items() if k != "namespace"}))


Item = Agent | Policy | Contract | Packet
_CLASSES: dict[str, type[Agent] | type[Policy] | type[Contract] | type[Packet]] = {
    "agent": Agent, "policy": Policy, "contract": Contract, "packet": Packet}


def from_json(kind: str, raw: Mapping[str, Any]) -> Item:
    """The record of ``kind`` from its (schema-valid) JSON form."""
    return _CLASSES[kind].from_json(raw, str(raw.get("namespace", DEFAULT_NAMESPACE)))


def field_problems(kind: str, raw: Mapping[str, Any]) -> list[Problem]:
    """The rules a schema does not say (capabilities, labels, selectors, the state's size
    and JSON form, contract schemas), for a schema-valid ``raw`` of ``kind``; each problem's
    path is relative to ``raw``. The rules are the daemon's own (phoenixd.core)."""
    found: list[Problem] = []

    def check(path: tuple[str | int, ...], rule: Any, *args: Any, **kwargs: Any) -> None:
        try:
            rule(*args, **kwargs)
        except (InvalidArgument, ValueError) as exc:
            found.append(Problem(path, str(exc)))

    for name in ("capabilities", "required_capabilities"):
        if name in raw:
            check((name,), validate_capabilities, raw[name])
    for name in ("labels",):
        if name in raw:
            check((name,), validate_labels, raw[name])
    if kind == "policy":
        for i, region in enumerate(raw.get("allowed_regions", ())):
            check(("allowed_regions", i), validate_name, region, "allowed_regions entry",
                  required=True)
        check(("label_selector",), parse_selector, raw.get("label_selector", ""),
              "label_selector")
    if kind in ("packet", "contract") and "workload_type" in raw:
        check(("workload_type",), validate_name, raw["workload_type"], "workload_type",
              required=True)
    if kind == "packet":
        if "lineage_id" in raw.get("audit", {}):
            check(("audit", "lineage_id"), validate_name, raw["audit"]["lineage_id"],
                  "lineage_id", required=True)
        if "routing_key" in raw:
            check(("routing_key",), validate_text, raw["routing_key"], "routing_key")
        state = raw.get("context_checkpoint", {}).get("state", {})
        check(("context_checkpoint", "state"), _check_state, state)
    if kind == "contract":
        check(("state_schema",), state_validator, raw["state_schema"])
    return found


def _check_state(state: Mapping[str, Any]) -> None:
    """The daemon's limits on a checkpoint state: JSON data (no NaN), at most 1 MiB."""
    data = protocol.canonical_bytes(state)
    if len(data) > MAX_STATE_BYTES:
        raise ValueError(f"the state is {len(data)} bytes in canonical JSON; at most "
                         f"{MAX_STATE_BYTES}")
