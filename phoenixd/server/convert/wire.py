"""Wire types every service shares: timestamps, durations, Structs, status filters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from google.protobuf import json_format, struct_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from phoenixd.core.errors import InvalidArgument

__all__ = [
    "MAX_STATUS_FILTER", "dict_from_struct", "duration", "duration_seconds", "statuses_from_pb",
    "struct_from_dict", "timestamp",
]


def timestamp(seconds: float) -> Timestamp:
    ts = Timestamp()
    if seconds:
        whole = int(seconds)
        ts.seconds, ts.nanos = whole, round((seconds - whole) * 1e9) % 1_000_000_000
    return ts


def duration(seconds: float) -> Duration:
    d = Duration()
    d.FromNanoseconds(round(seconds * 1e9))
    return d


def duration_seconds(d: Duration, what: str) -> float | None:
    """Seconds in a Duration field, or None when it was left unset (zero)."""
    if d.seconds < 0 or d.nanos < 0:
        raise InvalidArgument(f"{what} must not be negative")
    total = d.seconds + d.nanos / 1e9
    return total or None


# A status filter names each status once, so it is refused past this many entries before
# any is read: a request of --max-message-bytes could otherwise carry millions of them.
MAX_STATUS_FILTER = 16

S = TypeVar("S")


def statuses_from_pb(values: Sequence[int], one: Callable[[int], S]) -> list[S]:
    """A request's status filter, each entry read by ``one`` (member or packet statuses)."""
    if len(values) > MAX_STATUS_FILTER:
        raise InvalidArgument(
            f"statuses lists {len(values)} entries; at most {MAX_STATUS_FILTER} are accepted "
            "(name each status once)"
        )
    return [one(v) for v in values]


def dict_from_struct(struct: struct_pb2.Struct, what: str = "state") -> dict[str, Any]:
    try:
        return json_format.MessageToDict(struct)
    except ValueError as exc:  # NaN or Infinity: JSON has no such numbers
        raise InvalidArgument(f"{what} holds a number JSON cannot carry: {exc}") from None


def struct_from_dict(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(dict(values))
    return struct
