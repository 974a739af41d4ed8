"""Lease deadlines on monotonic time, one per member, with O(1) renewal.

A heartbeat only overwrites the member's deadline in a dict. The heap holds at
most one entry per member and is checked lazily: when an entry comes due, its
current deadline decides whether it really expired or goes back on the heap.
That keeps 10k members heartbeating every second cheap, and a wall-clock jump
cannot expire anyone because nothing here reads the wall clock.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from enum import Enum

__all__ = ["Deadline", "LeaseTable", "Timer"]


class Timer(Enum):
    """What happens when a member's deadline passes."""

    LEASE = "lease"  # ACTIVE or DRAINING member went quiet: it becomes SUSPECT / FAILED
    GRACE = "grace"  # SUSPECT member stayed quiet: it becomes FAILED


@dataclass(frozen=True, slots=True)
class Deadline:
    member_id: str
    timer: Timer
    at: float  # monotonic seconds


class LeaseTable:
    """The next deadline of every member that has one."""

    def __init__(self) -> None:
        self._current: dict[str, Deadline] = {}
        self._heap: list[tuple[float, str]] = []
        # Earliest heap entry per member. Later entries for the same member are
        # stale duplicates left by an earlier re-arm; they are skipped when popped.
        self._queued_at: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._current)

    def arm(self, member_id: str, timer: Timer, at: float) -> None:
        """Set (or move) the member's deadline."""
        self._current[member_id] = Deadline(member_id, timer, at)
        queued = self._queued_at.get(member_id)
        if queued is None or at < queued:
            heapq.heappush(self._heap, (at, member_id))
            self._queued_at[member_id] = at

    def cancel(self, member_id: str) -> None:
        self._current.pop(member_id, None)

    def get(self, member_id: str) -> Deadline | None:
        return self._current.get(member_id)

    def next_due(self) -> float | None:
        """The earliest time at which ``pop_due`` may return something."""
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[Deadline]:
        """Remove and return every deadline at or before ``now``."""
        due: list[Deadline] = []
        while self._heap and self._heap[0][0] <= now:
            at, member_id = heapq.heappop(self._heap)
            if self._queued_at.get(member_id) != at:
                continue  # a stale duplicate
            del self._queued_at[member_id]
            current = self._current.get(member_id)
            if current is None:
                continue
            if current.at <= now:
                del self._current[member_id]
                due.append(current)
            else:  # renewed since it was queued: wait for the new deadline
                heapq.heappush(self._heap, (current.at, member_id))
                self._queued_at[member_id] = current.at
        return due
