"""The rules for request fields that members and packets share, in one place.

Ids (members and packets alike: DNS-label-like), capabilities (``name`` or
``name@version``), Kubernetes-style labels, short names (workload types,
lineages, regions), bounded free text, scores in [0, 1], and cpu/memory amounts
(a member's capacity, a packet's demand). Every rule is anchored, bounded and
linear in its input; each raises InvalidArgument naming the field and what a
valid value looks like.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from phoenixd.core.errors import InvalidArgument
from phoenixflight_api import protocol

__all__ = [
    "MAX_CAPABILITIES",
    "MAX_CREDENTIAL",
    "MAX_LABELS",
    "MAX_TEXT",
    "parse_capability",
    "validate_amounts",
    "validate_capabilities",
    "validate_labels",
    "validate_member_id",
    "validate_name",
    "validate_packet_id",
    "validate_text",
    "validate_unit_interval",
]

MAX_CAPABILITIES = 64
MAX_LABELS = 64
# Free text (reasons) is journaled and replayed to every watcher, so it is
# bounded well below the message size limit.
MAX_TEXT = 1024
MAX_CREDENTIAL = 256

_CAPABILITY = re.compile(r"^([a-z0-9][a-z0-9_.-]{0,62})(?:@([A-Za-z0-9][A-Za-z0-9.+_-]{0,31}))?$")
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")


def _validate_id(value: str, what: str) -> str:
    if problem := protocol.id_problem(value, what):
        raise InvalidArgument(problem)
    return value


def validate_member_id(member_id: str, what: str = "member_id") -> str:
    return _validate_id(member_id, what)


def validate_packet_id(packet_id: str, what: str = "packet_id") -> str:
    return _validate_id(packet_id, what)


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


def validate_name(value: str, what: str, *, required: bool = False) -> str:
    """Workload types, lineages, regions: short printable names."""
    if not value:
        if required:
            raise InvalidArgument(f"{what} is required")
        return value
    if not _NAME.fullmatch(value):
        raise InvalidArgument(
            f"{what} {value[:64]!r} is not valid: use at most 128 letters, digits and "
            "'_', '.', ':', '/', '-', starting with a letter or digit"
        )
    return value


def validate_text(value: str, what: str, limit: int = MAX_TEXT) -> str:
    if len(value) > limit:
        raise InvalidArgument(f"{what} is {len(value)} characters long; at most {limit}")
    return value


def validate_unit_interval(value: float, what: str) -> float:
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise InvalidArgument(f"{what} must be between 0 and 1, got {value}")
    return value


def validate_amounts(cpu: float, memory: float, what: str) -> tuple[float, float]:
    """A member's capacity or a packet's demand (``what``): finite and not negative."""
    for field, value in ((f"{what}.cpu", cpu), (f"{what}.memory", memory)):
        if not math.isfinite(value) or value < 0:
            raise InvalidArgument(f"{field} must be a finite number >= 0, got {value}")
    return cpu, memory
