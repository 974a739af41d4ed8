"""What the rest of the daemon needs from the event store: the seam for other backends."""

from __future__ import annotations

from typing import Protocol

from phoenixd.core.events import Event
from phoenixd.store.verify import VerifyReport

__all__ = ["EventLog"]


class EventLog(Protocol):
    """An append-only, durable, readable sequence of events.

    The embedded Journal is one; a distributed backend (etcd) would be another.
    Writes arrive through ``append`` (the core's EventSink).
    """

    @property
    def durable_sequence(self) -> int:
        """The newest sequence number that is durable."""
        ...

    def append(self, event: Event, payload: bytes) -> None: ...

    async def wait_durable(self, sequence: int) -> None: ...

    async def read(self, after: int, limit: int) -> list[Event]: ...

    async def verify(self) -> VerifyReport: ...
