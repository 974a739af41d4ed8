"""The live DMA tally: events are counted per namespace in time buckets as they become
durable, a window adds up only its own buckets (narrowed to namespaces if asked), buckets
older than the longest window are dropped, a window out of bounds is refused saying the
bounds, the start-up read touches only the last day's events of the log, and the figures
combine the window's counts with the state's balance through the shared DMA formulas."""

from __future__ import annotations

import asyncio

import pytest

from phoenixd.core import dma
from phoenixd.core.application.health import (
    BUCKET_SECONDS,
    DEFAULT_WINDOW,
    MAX_WINDOW,
    HealthTally,
    check_window,
    cluster_health,
)
from phoenixd.core.errors import InvalidArgument
from phoenixd.core.events import Event, EventType
from phoenixd.core.state import ClusterState

NOW = 1_000_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _event(seq: int, type_: str, at: float, namespace: str = "default",
           **data: object) -> Event:
    return Event(sequence=seq, time=at, type=type_, actor="operator", member_ids=("m",),
                 data=dict(data), namespace=namespace)


def test_a_window_counts_its_own_buckets_only() -> None:
    tally = HealthTally(Clock())
    tally.add([
        _event(1, EventType.MEMBER_REGISTERED, NOW - 7200),  # before the hour
        _event(2, EventType.MEMBER_REGISTERED, NOW - 60),
        _event(3, EventType.MEMBER_FAILED, NOW - 30),
        _event(4, EventType.MEMBER_RETIRED, NOW - 5, namespace="search"),
        _event(5, EventType.PACKET_COMPLETED, NOW - 5),
        _event(6, EventType.STALE_OWNER_REJECTED, NOW - 5),
        _event(7, EventType.MEMBER_UPDATED, NOW - 5),  # not a figure: not counted
    ])
    hour = tally.window(3600, ())
    assert (hour["joins"], hour["leaves"], hour["completed"], hour["writes"],
            hour["refused"]) == (1, 2, 1, 1, 1)
    assert tally.window(MAX_WINDOW, ())["joins"] == 2
    assert tally.window(3600, ["search"])["leaves"] == 1
    assert tally.window(3600, ["default"])["leaves"] == 1
    assert tally.totals["joins"] == 2  # the process's totals ignore the window


def test_a_reassignment_of_owned_work_is_a_remap() -> None:
    tally = HealthTally(Clock())
    tally.add([
        _event(1, EventType.ASSIGNMENT_DECISION, NOW, packet={"previous_owners": []}),
        _event(2, EventType.ASSIGNMENT_DECISION, NOW, packet={"previous_owners": ["m1"]}),
    ])
    counts = tally.window(60, ())
    assert (counts["assignments"], counts["remaps"]) == (2, 1)


def test_buckets_older_than_the_longest_window_are_dropped() -> None:
    clock = Clock()
    tally = HealthTally(clock)
    tally.add([_event(1, EventType.MEMBER_REGISTERED, NOW)])
    clock.now += MAX_WINDOW + 2 * BUCKET_SECONDS
    tally.add([_event(2, EventType.MEMBER_REGISTERED, clock.now)])
    assert tally.window(MAX_WINDOW, ())["joins"] == 1
    assert len(tally._buckets) == 1


def test_a_window_out_of_bounds_is_refused_naming_the_bounds() -> None:
    assert check_window(0) == DEFAULT_WINDOW
    assert check_window(60) == 60
    for bad in (-1.0, MAX_WINDOW + 1, float("inf")):
        with pytest.raises(InvalidArgument, match="at most 86400 s"):
            check_window(bad)


class CountingLog:
    """An EventLog over a list, counting the events it hands out."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.served = 0

    @property
    def durable_sequence(self) -> int:
        return len(self.events)

    async def read(self, after: int, limit: int) -> list[Event]:
        got = self.events[after:after + limit]
        self.served += len(got)
        return got


def test_the_start_up_read_touches_only_the_last_days_events() -> None:
    old = [_event(i, EventType.MEMBER_REGISTERED, NOW - 3 * MAX_WINDOW + i)
           for i in range(1, 5001)]
    recent = [_event(5000 + i, EventType.MEMBER_FAILED, NOW - 100 + i / 100)
              for i in range(1, 101)]
    log = CountingLog(old + recent)
    tally = HealthTally(Clock())
    asyncio.run(tally.prime(log, len(log.events)))  # type: ignore[arg-type]
    assert tally.window(MAX_WINDOW, ()) == {"leaves": 100}
    assert log.served < 100 + 20  # the window's events, and one per bisection step
    assert not tally.totals  # read back, not lived: no process totals


def test_the_figures_use_the_shared_formulas() -> None:
    tally = HealthTally(Clock())
    tally.add([_event(i, EventType.MEMBER_REGISTERED, NOW - i) for i in range(1, 4)])
    tally.add([_event(9, EventType.MEMBER_FAILED, NOW)])
    counts = tally.window(DEFAULT_WINDOW, ())
    h = cluster_health(ClusterState(), counts, DEFAULT_WINDOW, [], 9)
    assert (h.joins, h.leaves, h.mcr, h.wmcr) == (3, 1, 4.0, dma.wmcr(3, 1, 1.0))
    assert h.si == dma.si(4.0) and h.dhs == dma.dhs(h.si, 0.0, 1.0)
    assert (h.active, h.jain, h.success_rate) == (0, 1.0, 1.0)
