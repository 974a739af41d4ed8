"""Live DMA metrics: the seed's figures over a recent time window, counted as events become
durable rather than by scanning the journal on each call.

``HealthTally`` is fed every durable event (Application.made_durable) and keeps, per
namespace, what each BUCKET_SECONDS of wall-clock time saw: joins, leaves, migrations,
handoffs, remaps, assignments, outcomes, member-side writes and the stale ones refused.
A GetClusterHealth call adds up the buckets of its window (at most MAX_WINDOW /
BUCKET_SECONDS of them) and takes the balance figures (trust, loads) from the state.
At start-up the events recorded before it are read once from the journal, from the first
one of the last MAX_WINDOW (found by bisecting the log on sequence numbers) to the
recovered head: only the window's events are read, never the whole journal.

The tally also keeps daemon-lifetime totals and the handoff latency histogram for the
Prometheus endpoint (events read at start-up are not counted there: a counter starts with
the process, as Prometheus expects).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from phoenixd.core import dma
from phoenixd.core.errors import InvalidArgument
from phoenixd.core.eventlog import EventLog
from phoenixd.core.events import Event, EventType, namespace_of
from phoenixd.core.members import MemberStatus
from phoenixd.core.state import ClusterState
from phoenixd.core.telemetry import HANDOFF_BUCKETS, Histogram

__all__ = [
    "BUCKET_SECONDS", "DEFAULT_WINDOW", "MAX_WINDOW", "ClusterHealth", "HealthTally",
    "check_window", "cluster_health",
]

# Ten seconds: a window is counted in whole buckets, so it may reach up to this much
# further back than asked; 8,640 buckets a day per namespace at most, and only those that
# saw an event exist.
BUCKET_SECONDS = 10
DEFAULT_WINDOW = 3600.0
# A day: the seed's example is over 24 h; longer questions are the Flight Recorder's
# (QueryEvents), not a live figure's.
MAX_WINDOW = 24 * 3600.0
# Events read per step of the start-up read: a chunk of the journal at a time, so that the
# loop serves calls in between.
_PRIME_CHUNK = 512

_KIND: dict[str, str] = {
    EventType.MEMBER_REGISTERED: "joins",
    EventType.MEMBER_FAILED: "leaves",
    EventType.MEMBER_RETIRED: "leaves",
    EventType.HANDOFF_STARTED: "handoffs",
    EventType.HANDOFF_COMPLETED: "migrations",
    EventType.ASSIGNMENT_DECISION: "assignments",
    EventType.PACKET_COMPLETED: "completed",
    EventType.PACKET_ATTEMPT_FAILED: "failed",
    EventType.PACKET_FAILED: "poisoned",
    EventType.STALE_OWNER_REJECTED: "refused",
}


def check_window(seconds: float) -> float:
    """The window a call asked for (0: the default), or InvalidArgument past the bounds."""
    if seconds == 0:
        return DEFAULT_WINDOW
    if not 0 < seconds <= MAX_WINDOW or not math.isfinite(seconds):
        raise InvalidArgument(
            f"window must be more than 0 s and at most {MAX_WINDOW:g} s (24 h), got "
            f"{seconds:g} s; leave it unset for the last {DEFAULT_WINDOW:g} s"
        )
    return seconds


def _kinds(event: Event) -> list[str]:
    kinds = []
    if (kind := _KIND.get(event.type)) is not None:
        kinds.append(kind)
    if event.type in dma.WRITE_EVENTS:
        kinds.append("writes")
    if event.type == EventType.ASSIGNMENT_DECISION:
        packet = event.data.get("packet") or {}
        if packet.get("previous_owners"):  # it had an owner before: the work moved
            kinds.append("remaps")
    return kinds


@dataclass(frozen=True, slots=True)
class ClusterHealth:
    """The DMA figures over a window (docs/simulator.md defines each one)."""

    window_seconds: float
    namespaces: list[str]  # what it was narrowed to; empty: every namespace
    revision: int
    joins: int
    leaves: int
    mcr: float  # per hour
    wmcr: float
    si: float
    trust: float
    compliance: float
    dhs: float
    active: int
    owned: int
    load_mean: float
    load_std: float
    load_cv: float
    max_avg: float
    jain: float
    assignments: int
    handoffs: int
    migrations: int
    remaps: int
    completed: int
    failed: int
    poisoned: int
    success_rate: float
    fencing_rejections: int


class HealthTally:
    """Events counted per namespace per BUCKET_SECONDS, and the daemon's running totals."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        # slot -> (every namespace's counts, each namespace's): an unnarrowed window adds
        # one Counter per bucket, a narrowed one one per bucket and namespace asked for.
        self._buckets: dict[int, tuple[Counter[str], dict[str, Counter[str]]]] = {}
        self._oldest = 0
        self.totals: Counter[str] = Counter()  # since this process started
        self.handoff_latency = Histogram(HANDOFF_BUCKETS)
        self._primed = asyncio.Event()

    def add(self, events: Iterable[Event], *, live: bool = True) -> None:
        """Count ``events`` (durable ones; ``live`` ones also go into the totals)."""
        for event in events:
            kinds = _kinds(event)
            if not kinds:
                continue
            if live:
                self.totals.update(kinds)
                if event.type == EventType.HANDOFF_COMPLETED:
                    self.handoff_latency.observe(event.data.get("latency_ms", 0.0) / 1000)
            slot = int(event.time // BUCKET_SECONDS)
            if slot < self._oldest:
                continue
            bucket = self._buckets.get(slot)
            if bucket is None:
                bucket = self._buckets[slot] = (Counter(), {})
            every, spaces = bucket
            space = spaces.get(namespace := namespace_of(event))
            if space is None:
                space = spaces[namespace] = Counter()
            for kind in kinds:
                every[kind] += 1
                space[kind] += 1
        self._prune()

    def _prune(self) -> None:
        oldest = int((self._clock() - MAX_WINDOW) // BUCKET_SECONDS)
        if oldest <= self._oldest:
            return
        self._oldest = oldest
        for slot in [s for s in self._buckets if s < oldest]:
            del self._buckets[slot]

    def window(self, seconds: float, namespaces: Collection[str]) -> Counter[str]:
        """What the buckets of the last ``seconds`` counted, in ``namespaces`` (all if
        empty)."""
        first = int((self._clock() - seconds) // BUCKET_SECONDS)
        found: Counter[str] = Counter()
        for slot, (every, spaces) in self._buckets.items():
            if slot < first:
                continue
            if not namespaces:
                found.update(every)
                continue
            for namespace in namespaces:
                if (counts := spaces.get(namespace)) is not None:
                    found.update(counts)
        return found

    # -- the events before start-up -------------------------------------------------------

    async def prime(self, log: EventLog, upto: int) -> None:
        """Count the events of the last MAX_WINDOW up to ``upto`` (the recovered head),
        reading only those from the log."""
        try:
            since = self._clock() - MAX_WINDOW
            low, high = 0, upto  # events after `low` may be recent; those after `high` are
            while low < high:
                middle = (low + high) // 2
                found = await log.read(middle, 1)
                if found and found[0].time < since:
                    low = middle + 1
                else:
                    high = middle
            cursor = low
            while cursor < upto:
                chunk = await log.read(cursor, min(_PRIME_CHUNK, upto - cursor))
                if not chunk:
                    break
                self.add(chunk, live=False)
                cursor = chunk[-1].sequence
        finally:
            self._primed.set()

    async def primed(self) -> None:
        await self._primed.wait()


def cluster_health(state: ClusterState, counts: Counter[str], seconds: float,
                   namespaces: list[str], revision: int) -> ClusterHealth:
    """The figures: churn and outcomes from the window's ``counts``, balance from the state."""
    if namespaces:
        member_ids = [i for n in namespaces for i in state.peek(n).member_ids]
    else:
        member_ids = list(state.members)
    active = [state.members[i] for i in member_ids
              if state.members[i].status == MemberStatus.ACTIVE]
    loads = [len(state.load_of(m.member_id).packets) for m in active]
    trust = math.fsum(m.trust_score for m in active) / len(active) if active else 0.0
    hours = seconds / 3600.0
    joins, leaves = counts["joins"], counts["leaves"]
    churn = dma.mcr(joins, leaves, hours)
    stability = dma.si(churn)
    compliance = dma.compliance(counts["writes"], counts["refused"])
    mean, std, cv, max_avg, fairness = dma.load_stats(loads)
    return ClusterHealth(
        window_seconds=seconds, namespaces=namespaces, revision=revision, joins=joins,
        leaves=leaves, mcr=churn, wmcr=dma.wmcr(joins, leaves, hours), si=stability,
        trust=trust, compliance=compliance, dhs=dma.dhs(stability, trust, compliance),
        active=len(active), owned=sum(loads), load_mean=mean, load_std=std, load_cv=cv,
        max_avg=max_avg, jain=fairness, assignments=counts["assignments"],
        handoffs=counts["handoffs"], migrations=counts["migrations"], remaps=counts["remaps"],
        completed=counts["completed"], failed=counts["failed"], poisoned=counts["poisoned"],
        success_rate=dma.success_rate(counts["completed"], counts["poisoned"]),
        fencing_rejections=counts["refused"],
    )
