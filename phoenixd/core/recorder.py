"""The Flight Recorder's write side: number, chain and hand each event on.

Every state change goes through ``Recorder.record``: the event gets the next
sequence number and its chain hash, is appended to the journal (durable later,
by group commit), and is applied to the in-memory state by the same function
that replays the journal at start-up, so live state and recovered state cannot
diverge.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from phoenixd.core.events import GENESIS_HASH, Event, canonical_bytes, chain_hash

__all__ = ["EventSink", "Recorder"]


class EventSink(Protocol):
    """Where recorded events go to become durable (the journal)."""

    def append(self, event: Event, payload: bytes) -> None: ...


class Recorder:
    """Assigns sequence numbers and hashes; the only writer of events."""

    def __init__(
        self,
        sink: EventSink,
        apply: Callable[[Event], None],
        *,
        head_sequence: int = 0,
        head_hash: str = GENESIS_HASH,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._sink = sink
        self._apply = apply
        self._sequence = head_sequence
        self._hash = head_hash
        self._wall_clock = wall_clock

    @property
    def head_sequence(self) -> int:
        """The newest recorded (not necessarily durable yet) sequence number."""
        return self._sequence

    @property
    def head_hash(self) -> str:
        return self._hash

    def record(
        self,
        type_: str,
        actor: str,
        *,
        reason: str = "",
        member_ids: Iterable[str] = (),
        packet_ids: Iterable[str] = (),
        lineage_ids: Iterable[str] = (),
        data: dict[str, Any] | None = None,
        namespace: str = "",
    ) -> Event:
        data = data or {}
        fields: dict[str, Any] = {
            "sequence": self._sequence + 1,
            "time": round(self._wall_clock(), 6),
            "type": str(type_),
            "actor": actor,
            "reason": reason,
            "member_ids": tuple(member_ids),
            "packet_ids": tuple(packet_ids),
            "lineage_ids": tuple(lineage_ids),
            "data": data,
            "prev_hash": self._hash,
            "namespace": namespace or _namespace_in(data),
        }
        # The body (all but the hash) comes from a draft; the event is then made once more
        # with its hash, which costs less than dataclasses.replace of the draft.
        payload = canonical_bytes(Event(**fields).body())
        event = Event(**fields, hash=chain_hash(self._hash, payload))
        self._sink.append(event, payload)
        self._sequence, self._hash = event.sequence, event.hash
        self._apply(event)
        return event


def _namespace_in(data: dict[str, Any]) -> str:
    """The namespace of the record an event carries ("" when it carries none)."""
    for key in ("packet", "member"):
        record = data.get(key)
        if record is not None:
            return str(record.get("namespace", ""))
    record = data.get("namespace")
    return str(record["name"]) if record is not None else ""
