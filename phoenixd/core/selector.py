"""Kubernetes-style label selectors: ``region=us-east,tier!=batch,gpu,!spot,env in (a,b)``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from phoenixd.core.errors import InvalidArgument

__all__ = ["Selector", "parse_selector"]

_KEY = r"[A-Za-z0-9][A-Za-z0-9_./-]*"
_VALUE = r"[A-Za-z0-9_.-]*"
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s+\(\s*([^)]*)\)$")
_CMP = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_EXISTS = re.compile(rf"^(!?)\s*({_KEY})$")

Requirement = Callable[[Mapping[str, str]], bool]


@dataclass(frozen=True)
class Selector:
    """A parsed selector: every requirement must hold (a logical AND)."""

    text: str
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(req(labels) for req in self.requirements)


def _split(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _requirement(term: str) -> Requirement:
    if m := _SET.match(term):
        key, op = m.group(1), m.group(2)
        values = frozenset(v.strip() for v in m.group(3).split(",") if v.strip())
        if not values:
            raise InvalidArgument(f"label selector term {term!r} needs at least one value")
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _CMP.match(term):
        key, op, value = m.group(1), m.group(2), m.group(3)
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS.match(term):
        negate, key = m.group(1) == "!", m.group(2)
        if negate:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    raise InvalidArgument(
        f"label selector term {term!r} is not understood; use key=value, key!=value, key, "
        "!key, 'key in (a,b)' or 'key notin (a,b)', separated by commas"
    )


def parse_selector(text: str) -> Selector:
    """Parse a selector; the empty string selects everything."""
    text = text.strip()
    if not text:
        return Selector("", ())
    terms = _split(text)
    if any(not t for t in terms):
        raise InvalidArgument(f"label selector {text!r} has an empty term")
    return Selector(text, tuple(_requirement(t) for t in terms))
