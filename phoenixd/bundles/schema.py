"""The shipped JSON Schema (schema.json) and what its errors say, with the field they are at.

One schema describes the PhoenixFile and every document of a .pflight (its files, the
manifest, the validation report's envelope, the DSSE envelope) under ``$defs``, so that the
build and the reader check the same rules. Validators are given an empty ``referencing``
registry: a ``$ref`` to anything but the schema itself is refused, never fetched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import referencing
from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator

from phoenixd.core.contracts import state_validator
from phoenixflight_api import protocol

__all__ = [
    "MAX_PROBLEMS", "SCHEMA", "SEMVER", "Path", "Problem", "ProblemsError", "def_problems",
    "format_path", "problems", "state_validator",
]

Path = tuple[str | int, ...]
SCHEMA: Mapping[str, Any] = json.loads(
    resources.files("phoenixd.bundles").joinpath("schema.json").read_text())
# The SemVer 2.0.0 rule, written once: in the schema, which Python reads it from.
SEMVER = re.compile(SCHEMA["$defs"]["version"]["pattern"])
# A file with many mistakes lists this many of them; the rest are counted.
MAX_PROBLEMS = 20

_EMPTY_REGISTRY: referencing.Registry[Any] = referencing.Registry()
_PATTERN_DEFS = {d["pattern"]: name for name, d in SCHEMA["$defs"].items() if "pattern" in d}
# What an id field is called in messages, by its key (or its list, for "name").
_ID_WHAT = {"id": "agent id", "packet_id": "packet id", "policy": "policy name",
            "namespace": "namespace", "policies": "policy name", "namespaces": "namespace"}


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong at ``path`` (keys and list indexes from the document's root)."""

    path: Path
    message: str

    def within(self, prefix: Path) -> Problem:
        return Problem((*prefix, *self.path), self.message)


class ProblemsError(ValueError):
    """Problems found in one document; ``str()`` lists them one per line."""

    def __init__(self, problems: Sequence[Problem], where: str = "") -> None:
        self.problems = tuple(problems)
        self.where = where
        super().__init__("\n".join(
            f"{where}{': ' if where else ''}{format_path(p.path) or '(top)'}: {p.message}"
            for p in self.problems))


def format_path(path: Iterable[str | int]) -> str:
    """("packets", 0, "policy") -> "packets[0].policy"."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


@cache
def _validator(ref: str) -> Validator:
    schema = dict(SCHEMA) if ref == "" else {"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{ref}"}
    return Draft202012Validator(schema, registry=_EMPTY_REGISTRY)


def problems(value: Any) -> list[Problem]:
    """What is wrong with ``value`` as a PhoenixFile, by the schema."""
    return _problems(_validator(""), value)


def def_problems(name: str, value: Any) -> list[Problem]:
    """What is wrong with ``value`` as the schema's ``$defs/NAME`` (a file, the manifest...)."""
    return _problems(_validator(name), value)


def _problems(validator: Validator, value: Any) -> list[Problem]:
    errors = sorted(validator.iter_errors(value),
                    key=lambda e: ([str(s) for s in e.absolute_path], e.message))
    return [Problem((*e.absolute_path, *_unknown(e)[:1]), _message(e)) for e in errors]


def _unknown(error: jsonschema.ValidationError) -> list[str]:
    """The fields an additionalProperties error is about (its problem is put at the first)."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, Mapping):
        return []
    known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
    return sorted(set(error.instance) - set(known))


def _message(error: jsonschema.ValidationError) -> str:
    """jsonschema's message, made to say what a valid value is where it can."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    value = error.instance
    if error.validator == "pattern":
        kind = _PATTERN_DEFS.get(str(schema.get("pattern")))
        path = list(error.absolute_path)
        if kind == "id":
            key = path[-1] if path and isinstance(path[-1], str) and path[-1] != "name" else (
                path[-3] if len(path) >= 3 else "")
            return protocol.id_problem(str(value), _ID_WHAT.get(str(key), "id"))
        if kind == "version":
            return f"{value!r} is not a SemVer 2.0.0 version (e.g. 1.4.0 or 2.0.0-rc.1)"
        if kind == "bundleName":
            return (f"{value!r} is not a bundle name: use dotted DNS labels, e.g. "
                    "acme.customer-validation")
        if kind == "sha256":
            return f"{value!r} is not a sha256 digest (64 lowercase hex digits)"
    if error.validator == "additionalProperties":
        extra = _unknown(error)
        others = f" (and {', '.join(extra[1:])})" if len(extra) > 1 else ""
        return f"unknown field{others} (known: {', '.join(sorted(schema.get('properties', {})))})"
    if error.validator == "oneOf" and isinstance(value, Mapping) and "version" in value:
        return ("give exactly one of path (a .pflight file) or directory (holding "
                "NAME-VERSION.pflight)")
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    return error.message
