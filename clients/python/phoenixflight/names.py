"""Enum fields as the names a person reads: ``status(member)`` is "ACTIVE", not 2.

Protobuf enums are ints in Python, so ``print(packet.status)`` prints a number; these
read the name from the message's descriptor and drop the enum's prefix
(MEMBER_STATUS_ACTIVE -> ACTIVE, PACKET_STATUS_PENDING -> PENDING, STRATEGY_TRUST -> TRUST).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

__all__ = ["enum_name", "enum_prefix", "status"]


def enum_prefix(enum: Any) -> str:
    """What every value of an AIP-style enum starts with: its zero value's name less
    UNSPECIFIED (MEMBER_STATUS_UNSPECIFIED -> MEMBER_STATUS_)."""
    zero: str = enum.values_by_number[0].name
    return zero.removesuffix("UNSPECIFIED")


def enum_name(message: Message, field: str) -> str:
    """The name of ``message.<field>``'s value without its enum's prefix; the number as text
    for a value this SDK does not know (a newer daemon's)."""
    descriptor = message.DESCRIPTOR.fields_by_name[field].enum_type
    if descriptor is None:
        raise TypeError(f"{message.DESCRIPTOR.name}.{field} is not an enum field")
    number = getattr(message, field)
    value = descriptor.values_by_number.get(number)
    return value.name.removeprefix(enum_prefix(descriptor)) if value else str(number)


def status(message: Message) -> str:
    """A Member's, FlightPacket's or HeartbeatResponse's status by name: "ACTIVE", "PENDING"."""
    return enum_name(message, "status")
