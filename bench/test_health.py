"""GetClusterHealth's window: adding up the tally's buckets against scanning the window's
events, side by side in one run, over a day of PHOENIX_BENCH_EVENTS events in 8 namespaces.
The tally's cost is the number of buckets (at most 8,640 a day per namespace), not of events.

    make bench          # PHOENIX_BENCH_EVENTS events (default 1,000,000 there)
    make bench-smoke    # each case once, on 20,000 events
"""

from __future__ import annotations

import bisect
import functools
import os
from collections import Counter
from typing import Any

from phoenixd.core.application.health import MAX_WINDOW, HealthTally, _kinds
from phoenixd.core.events import Event, EventType

EVENTS = int(os.environ.get("PHOENIX_BENCH_EVENTS", "20000"))
NOW = 1_000_000_000.0
TYPES = (EventType.ASSIGNMENT_DECISION, EventType.PACKET_COMPLETED, EventType.PACKET_ACKED,
         EventType.MEMBER_REGISTERED, EventType.CHECKPOINT_SAVED)


@functools.cache
def _events() -> list[Event]:
    """EVENTS events spread evenly over the last day, in 8 namespaces."""
    step = MAX_WINDOW / EVENTS
    return [Event(sequence=i + 1, time=NOW - MAX_WINDOW + i * step, type=TYPES[i % 5],
                  actor="operator", member_ids=("m",), namespace=f"ns-{i % 8}",
                  data={"packet": {"previous_owners": []}})
            for i in range(EVENTS)]


@functools.cache
def _tally() -> HealthTally:
    tally = HealthTally(lambda: NOW)
    tally.add(_events())
    return tally


def _scan(seconds: float, namespace: str) -> Counter[str]:
    """What reading the window's events through the log's index would count, less the
    reading: the events are in memory and the first one is found by bisection."""
    events = _events()
    first = bisect.bisect_left(events, NOW - seconds, key=lambda e: e.time)
    found: Counter[str] = Counter()
    for event in events[first:]:
        if not namespace or event.namespace == namespace:
            found.update(_kinds(event))
    return found


def test_hour_from_the_tally(benchmark: Any) -> None:
    """The last hour, every namespace: the buckets' sums."""
    assert benchmark(_tally().window, 3600, ())["assignments"] > 0


def test_hour_from_a_scan(benchmark: Any) -> None:
    """The last hour, every namespace: a pass over the hour's events (in memory)."""
    assert benchmark(_scan, 3600, "") == _tally().window(3600, ())


def test_day_from_the_tally(benchmark: Any) -> None:
    """The whole day, one namespace: the buckets' sums."""
    assert benchmark(_tally().window, MAX_WINDOW, ["ns-3"])["assignments"] >= 0


def test_day_from_a_scan(benchmark: Any) -> None:
    """The whole day, one namespace: a pass over every event of the day."""
    assert benchmark(_scan, MAX_WINDOW, "ns-3") == _tally().window(MAX_WINDOW, ["ns-3"])
