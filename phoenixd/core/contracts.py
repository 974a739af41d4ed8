"""Contracts: what the packets of one workload type in one namespace must carry.

A contract names the JSON Schema (2020-12) a packet's checkpoint state must satisfy and the
capabilities every such packet must require. A namespace gets its contracts from an applied
bundle; from then on SubmitPacket and every SaveCheckpoint of a packet of that workload type
are checked against it, and a state it refuses is refused whole (nothing is recorded).

Schemas are checked offline: a ``$ref`` that points outside the schema is refused, never
fetched (the validators get an empty ``referencing`` registry).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator

from phoenixd.core.errors import InvalidArgument
from phoenixd.core.validation import parse_capability

__all__ = ["Contract", "check_capabilities", "check_state", "state_validator"]

_EMPTY_REGISTRY: referencing.Registry[Any] = referencing.Registry()


@dataclass(frozen=True, slots=True)
class Contract:
    """A contract as recorded, for ``workload_type`` in ``namespace``."""

    namespace: str
    workload_type: str
    state_schema: Mapping[str, Any] | bool
    required_capabilities: tuple[str, ...] = ()
    description: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.namespace, self.workload_type

    def to_dict(self) -> dict[str, Any]:
        schema = self.state_schema if isinstance(self.state_schema, bool) else dict(
            self.state_schema)
        return {"namespace": self.namespace, "workload_type": self.workload_type,
                "state_schema": schema,
                "required_capabilities": list(self.required_capabilities),
                "description": self.description}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Contract:
        return cls(raw["namespace"], raw["workload_type"], raw["state_schema"],
                   tuple(raw["required_capabilities"]), raw["description"])


def state_validator(schema: Mapping[str, Any] | bool) -> Validator:
    """A validator for a contract's state schema (2020-12), refusing remote ``$ref``s.

    Raises:
        ValueError: the schema is not a valid 2020-12 schema (the message says where).
    """
    try:
        Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = exc.json_path if hasattr(exc, "json_path") else "$"
        raise ValueError(f"not a valid JSON Schema (2020-12) at {where}: {exc.message}") from None
    if remote := _remote_refs(schema):
        raise ValueError(f"$ref {remote[0]!r} is not within the schema: only refs like "
                         "#/$defs/name are followed (a bundle is checked offline)")
    return Draft202012Validator(schema, registry=_EMPTY_REGISTRY)


def _remote_refs(value: Any) -> list[str]:
    """Every $ref / $dynamicRef that does not point into the schema itself."""
    found = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            for key, child in item.items():
                if key in ("$ref", "$dynamicRef") and isinstance(child, str):
                    if not child.startswith("#"):
                        found.append(child)
                else:
                    stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(found)


# A checkpoint is saved many times under the same few contracts: each schema is compiled
# once (keyed by its canonical text, so equal schemas of two namespaces share one).
@lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Validator:
    return state_validator(json.loads(schema_json))


def _path(steps: Any) -> str:
    """("properties", "case_id", "pattern") -> "properties.case_id.pattern"; "$" for none."""
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "$"


def check_state(contract: Contract, state: Mapping[str, Any], what: str = "checkpoint state"
                ) -> None:
    """Refuse ``state`` unless the contract's schema accepts it.

    Raises:
        InvalidArgument: naming the first failing instance path (within the state) and the
            schema path of the rule it breaks.
    """
    schema_json = json.dumps(contract.state_schema, sort_keys=True, separators=(",", ":"))
    try:
        errors = sorted(_compiled(schema_json).iter_errors(dict(state)),
                        key=lambda e: ([str(s) for s in e.absolute_path], e.message))
    except referencing.exceptions.Unresolvable as exc:
        raise InvalidArgument(
            f"the contract of workload type {contract.workload_type!r} in namespace "
            f"{contract.namespace!r} refers to {exc.ref}, which its schema does not hold; "
            "apply a bundle with a corrected contract") from None
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InvalidArgument(
            f"{what} does not satisfy the contract of workload type "
            f"{contract.workload_type!r} in namespace {contract.namespace!r}: at "
            f"state{_instance(first.absolute_path)}: {first.message} (schema path "
            f"{_path(first.absolute_schema_path)}){more}; nothing was saved")


def _instance(steps: Any) -> str:
    out = ""
    for step in steps:
        out += f"[{step}]" if isinstance(step, int) else f".{step}"
    return out


def check_capabilities(contract: Contract, required: tuple[str, ...]) -> None:
    """Refuse a packet that does not require every capability its contract names."""
    names = {parse_capability(c)[0] for c in required}
    missing = [c for c in contract.required_capabilities if parse_capability(c)[0] not in names]
    if missing:
        raise InvalidArgument(
            f"the contract of workload type {contract.workload_type!r} in namespace "
            f"{contract.namespace!r} requires {', '.join(missing)}, which "
            "required_capabilities does not list")
