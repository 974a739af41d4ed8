"""Shared by the store tests: journals framed in memory, record by record."""

from __future__ import annotations

from phoenixd.core.events import Event
from phoenixd.store.frames import encode_frame

__all__ = ["FrameSink"]


class FrameSink:
    """An EventSink that frames each record exactly as the journal writes it."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.events: list[Event] = []

    def append(self, event: Event, payload: bytes) -> None:
        self.frames.append(encode_frame(event.prev_hash, event.hash, payload))
        self.events.append(event)
