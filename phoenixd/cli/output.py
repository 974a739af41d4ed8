"""How the phoenix command prints: aligned tables by default, JSON with -o json."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

__all__ = ["as_dict", "enum_name", "print_details", "print_json", "print_table", "when"]


def as_dict(message: Message) -> dict[str, Any]:
    """A message as JSON-ready data, with the proto's snake_case field names."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def print_json(value: Message | Sequence[Message] | dict[str, Any]) -> None:
    if isinstance(value, Message):
        data: Any = as_dict(value)
    elif isinstance(value, dict):
        data = value
    else:
        data = [as_dict(m) for m in value]
    json.dump(data, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Columns padded to their widest cell, like kubectl's."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())


def print_details(details: Sequence[tuple[str, object]]) -> None:
    """``key: value`` lines under a table, values aligned one space past the longest key."""
    width = max(len(key) for key, _ in details) + 2
    print()
    for key, value in details:
        print(f"{key + ':':<{width}}{value}")


def enum_name(value: str, prefix: str) -> str:
    """MEMBER_STATUS_ACTIVE -> ACTIVE."""
    return value.removeprefix(prefix)


def when(ts: Timestamp) -> str:
    if ts.seconds == 0 and ts.nanos == 0:
        return "-"
    moment = dt.datetime.fromtimestamp(ts.seconds + ts.nanos / 1e9, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
