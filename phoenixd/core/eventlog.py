"""What the core needs from the event store: the seam for other backends.

The embedded journal (phoenixd/store) is one implementation; a distributed backend
(etcd) would be another. The Recorder writes through ``append``; the application
layer reads, waits for durability and verifies through the rest.
"""

from __future__ import annotations

from typing import Protocol

from phoenixd.core.events import Event

__all__ = ["ChainReport", "EventLog"]


class ChainReport(Protocol):
    """The verdict of a full check of the hash chain."""

    @property
    def ok(self) -> bool: ...
    @property
    def verified(self) -> int: ...
    @property
    def head_sequence(self) -> int: ...
    @property
    def head_hash(self) -> str: ...
    @property
    def bad_sequence(self) -> int: ...
    @property
    def bad_offset(self) -> int: ...
    @property
    def problem(self) -> str: ...


class EventLog(Protocol):
    """An append-only, durable, readable sequence of events."""

    @property
    def durable_sequence(self) -> int:
        """The newest sequence number that is durable."""
        ...

    def append(self, event: Event, payload: bytes) -> None: ...

    async def wait_durable(self, sequence: int) -> None: ...

    async def read(self, after: int, limit: int) -> list[Event]: ...

    async def verify(self) -> ChainReport: ...
