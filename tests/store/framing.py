"""Shared by the store tests: journals framed in memory, record by record, a history of real
events to frame, and a recovery that records what it applied and restored."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phoenixd.core.events import Event
from phoenixd.core.recorder import Recorder
from phoenixd.core.registry import Registration, Registry
from phoenixd.core.state import ClusterState
from phoenixd.store import Recovery, Store
from phoenixd.store.frames import encode_frame
from phoenixd.store.snapshots import Snapshot, write_snapshot

__all__ = [
    "FrameSink", "History", "Replay", "history_of", "replay_into", "store_at",
    "write_snapshot_at",
]


class FrameSink:
    """An EventSink that frames each record exactly as the journal writes it."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.events: list[Event] = []

    def append(self, event: Event, payload: bytes) -> None:
        self.frames.append(encode_frame(event.prev_hash, event.hash, payload))
        self.events.append(event)


@dataclass
class History:
    """A journal's worth of events, and the state they built."""

    frames: list[bytes]
    events: list[Event]
    state: ClusterState

    def end_of(self, sequence: int) -> int:
        """The byte offset just past the record of ``sequence``."""
        return sum(len(f) for f in self.frames[:sequence])

    def data(self, upto: int | None = None) -> bytes:
        return b"".join(self.frames[:upto])


def history_of(members: int) -> History:
    """Register, update and retire members through the real core, framing every event."""
    state, sink = ClusterState(), FrameSink()
    clock = iter(range(1_700_000_000, 1_800_000_000))
    core = Registry(
        state, Recorder(sink, state.apply, wall_clock=lambda: float(next(clock))),
        monotonic=lambda: 0.0, wall_clock=lambda: 1_700_000_000.0,
    )
    for i in range(members):
        core.register(Registration(f"m{i}", capabilities=(f"cap{i % 3}",), labels={"i": str(i)}))
        if i % 4 == 3:
            core.retire(f"m{i}", "done")
    return History(sink.frames, sink.events, state)


@contextmanager
def store_at(data_dir: Path) -> Iterator[Store]:
    store = Store(data_dir, snapshot_every=1000)
    try:
        yield store
    finally:
        store.close()


@dataclass
class Replay:
    applied: list[Event]
    restored: list[int]
    state: ClusterState


def replay_into(store: Store) -> tuple[Recovery, Replay]:
    state = ClusterState()
    replay = Replay([], [], state)

    def apply(event: Event) -> None:
        replay.applied.append(event)
        state.apply(event)

    def restore(documents: Mapping[str, Mapping[str, Any]], revision: int) -> None:
        replay.restored.append(revision)
        state.restore(documents, revision)

    return store.recover(apply, restore, state.reset), replay


def write_snapshot_at(data_dir: Path, history: History, revision: int, hash_: str) -> None:
    at_revision = ClusterState()
    for event in history.events[:revision]:
        at_revision.apply(event)
    write_snapshot(
        data_dir, Snapshot(revision, hash_, history.end_of(revision), at_revision.snapshot())
    )

