"""The simulator's journal: an in-memory EventSink that keeps the chain head and folds every
event into the figures of the current step.

Everything the metrics say comes from the recorded events alone (the member and packet
records they carry), as a reader of a real journal would compute it: nothing here reads the
core's state.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from phoenixd.core.events import GENESIS_HASH, Event, EventType
from phoenixd.sim import metrics

__all__ = ["Observer", "StepFigures"]

_OWNED = frozenset({"ASSIGNED", "RUNNING"})
_IN_PLAY = frozenset({"ACTIVE", "SUSPECT"})
_GONE = frozenset({"FAILED", "RETIRED", "DRAINING"})
# How a packet leaves play.
_ENDS = frozenset({EventType.PACKET_COMPLETED, EventType.PACKET_FAILED,
                   EventType.PACKET_CANCELLED})


@dataclass(frozen=True, slots=True)
class StepFigures:
    """One step's metrics (see docs/simulator.md for each definition)."""

    step: int
    time_s: float
    active: int
    joins: int
    leaves: int
    mcr: float
    wmcr: float
    si: float
    trust: float
    compliance: float
    dhs: float
    owned: int
    waiting: int
    load_mean: float
    load_std: float
    load_cv: float
    max_avg: float
    jain: float
    remapped: int
    remap_fraction: float
    ideal_fraction: float
    overhead_ratio: float
    migrations: int
    completed: int
    failed: int
    poisoned: int
    success_rate: float
    fencing_rejections: int
    decisions: int
    events: int


class Observer:
    """Receives every recorded event (the Recorder's sink) and keeps the step's tallies."""

    def __init__(self, *, keep: bool = False) -> None:
        self.kept: list[Event] | None = [] if keep else None
        self.head_hash = GENESIS_HASH
        self.head_sequence = 0
        self.owner: dict[str, str] = {}  # packet -> owner, for owned packets
        self.load: dict[str, int] = {}  # member -> packets it owns
        self.status: dict[str, str] = {}  # member -> status
        self.trust: dict[str, float] = {}  # member -> trust score
        self.active: dict[str, None] = {}  # ACTIVE members, as an ordered set
        self.waiting: dict[str, None] = {}  # PENDING packets
        self.history: dict[str, list[str]] = {}  # packet -> every owner it had, in order
        self.latencies: list[float] = []  # every completed handoff's latency, ms (run)
        # Seconds from each completed packet's arrival to its completion (run), and when
        # each packet still in play arrived.
        self.completions: list[float] = []
        self._arrived: dict[str, float] = {}
        self._begin()

    def _begin(self) -> None:
        self.tally: Counter[str] = Counter()
        self._start_owner: dict[str, str] = {}  # packets moved this step -> owner at its start
        self._start_load: dict[str, int] = {}
        self._owned_at_start = len(self.owner)
        self._arrivals = 0
        self._leaver_share = 0

    def start_from(self, members: Iterable[tuple[str, str, float]],
                   packets: Iterable[tuple[str, str, str]]) -> None:
        """Begin from a forked journal's records rather than from nothing: members as
        (id, status, trust score), packets as (id, status, owner); the figures of the
        step that ends next count only what happens after this."""
        for member_id, status, trust in members:
            self._member(member_id, status, trust)
        for packet_id, status, owner in packets:
            self._packet(packet_id, owner if status in _OWNED else "", status == "PENDING")
        self.history.clear()
        self._begin()

    # -- the sink ----------------------------------------------------------------------

    def append(self, event: Event, payload: bytes) -> None:
        self.head_hash, self.head_sequence = event.hash, event.sequence
        if self.kept is not None:
            self.kept.append(event)
        self.tally[event.type] += 1
        if (member := event.data.get("member")) is not None:
            self._member(member["member_id"], member["status"], member["trust_score"])
        if (packet := event.data.get("packet")) is not None:
            self._packet(packet["packet_id"], packet["owner"] if packet["status"] in _OWNED
                         else "", packet["status"] == "PENDING")
        if event.type == EventType.HANDOFF_COMPLETED:
            self.latencies.append(
                event.data["latency_ms"] + metrics.SIGN_MS + metrics.PERSIST_MS)
        elif event.type == EventType.PACKET_CREATED:
            self._arrived[event.packet_ids[0]] = event.time
        elif event.type in _ENDS and event.packet_ids:
            arrived = self._arrived.pop(event.packet_ids[0], None)
            if arrived is not None and event.type == EventType.PACKET_COMPLETED:
                self.completions.append(event.time - arrived)

    def _member(self, member_id: str, status: str, trust: float) -> None:
        before = self.status.get(member_id, "")
        self.status[member_id], self.trust[member_id] = status, trust
        if status == "ACTIVE":
            if before not in _IN_PLAY:  # a newcomer (a SUSPECT member back kept its work)
                self._arrivals += 1
            self.active[member_id] = None
        else:
            self.active.pop(member_id, None)
        if status in _GONE and before in _IN_PLAY:
            self._leaver_share += self._start_load.get(member_id, self.load.get(member_id, 0))

    def _packet(self, packet_id: str, owner: str, pending: bool) -> None:
        before = self.owner.get(packet_id, "")
        if pending:
            self.waiting[packet_id] = None
        else:
            self.waiting.pop(packet_id, None)
        if owner == before:
            return
        self._start_owner.setdefault(packet_id, before)
        if before:
            self._start_load.setdefault(before, self.load[before])
            self.load[before] -= 1
            del self.owner[packet_id]
        if owner:
            self._start_load.setdefault(owner, self.load.get(owner, 0))
            self.load[owner] = self.load.get(owner, 0) + 1
            self.owner[packet_id] = owner
            self.history.setdefault(packet_id, []).append(owner)

    # -- steps -------------------------------------------------------------------------

    def end_step(self, step: int, time_s: float, seconds: float) -> StepFigures:
        """The figures of the step that ends now; the next step starts from here."""
        t = self.tally
        hours = seconds / 3600.0
        joins = t[EventType.MEMBER_REGISTERED]
        leaves = t[EventType.MEMBER_FAILED] + t[EventType.MEMBER_RETIRED]
        churn = metrics.mcr(joins, leaves, hours)
        active = list(self.active)
        trust = math.fsum(self.trust[m] for m in active) / len(active) if active else 0.0
        writes = sum(t[w] for w in metrics.WRITE_EVENTS)
        refused = t[EventType.STALE_OWNER_REJECTED]
        compliance = metrics.compliance(writes, refused)
        stability = metrics.si(churn)
        mean, std, cv, max_avg, fairness = metrics.load_stats(
            [self.load.get(m, 0) for m in active])
        k = self._owned_at_start
        remapped = sum(1 for p, was in self._start_owner.items()
                       if was and self.owner.get(p, "") != was)
        leave_share = self._leaver_share / k if k else 0.0
        ideal = (leave_share + (1 - leave_share) * self._arrivals / len(active)
                 if k and active else 0.0)
        completed, poisoned = t[EventType.PACKET_COMPLETED], t[EventType.PACKET_FAILED]
        figures = StepFigures(
            step=step, time_s=time_s, active=len(active), joins=joins, leaves=leaves,
            mcr=churn, wmcr=metrics.wmcr(joins, leaves, hours), si=stability, trust=trust,
            compliance=compliance, dhs=metrics.dhs(stability, trust, compliance),
            owned=len(self.owner), waiting=len(self.waiting), load_mean=mean, load_std=std,
            load_cv=cv, max_avg=max_avg, jain=fairness, remapped=remapped,
            remap_fraction=remapped / k if k else 0.0, ideal_fraction=ideal,
            overhead_ratio=remapped / len(self.owner) if self.owner else 0.0,
            migrations=t[EventType.HANDOFF_COMPLETED], completed=completed,
            failed=t[EventType.PACKET_ATTEMPT_FAILED], poisoned=poisoned,
            success_rate=metrics.success_rate(completed, poisoned),
            fencing_rejections=refused,
            decisions=t[EventType.ASSIGNMENT_DECISION] + t[EventType.PACKET_WAITING],
            events=sum(t.values()),
        )
        self._begin()
        return figures
