"""What member changes do to packets, and the timers that drive drains and rebalancing.

Registry calls ``member_changed`` after every recorded member change and
``load_reported`` for every load report. A drain that these moves empty is not
ended here: ``settle_drains`` says which drains have ended, and the caller
retires those members (see core/cluster.py), so that no call loops back into
Registry while it is still recording.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from phoenixd.core.dispatch.moves import Moves
from phoenixd.core.events import Actor, EventType
from phoenixd.core.members import Member, MemberStatus
from phoenixd.core.recorder import Recorder
from phoenixd.core.registry import Load
from phoenixd.core.reliability import Learning, Outcome
from phoenixd.core.scheduler import Scheduler
from phoenixd.core.state import ClusterState

__all__ = ["DEFAULT_REBALANCE_INTERVAL", "DEFAULT_REBALANCE_SHARE", "Reactions"]

# Rebalancing after a join moves at most this share of the ring's packets per
# interval, so a join never stampedes every owner at once.
DEFAULT_REBALANCE_SHARE = 0.1
DEFAULT_REBALANCE_INTERVAL = 1.0
DRAIN_COMPLETE = "drain complete: no work left"


class Reactions:
    """Evictions, drains, overload shedding and paced rebalancing. Implements
    Registry's MemberReactions."""

    def __init__(
        self,
        state: ClusterState,
        recorder: Recorder,
        scheduler: Scheduler,
        moves: Moves,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rebalance_share: float = DEFAULT_REBALANCE_SHARE,
        rebalance_interval: float = DEFAULT_REBALANCE_INTERVAL,
        learning: Learning | None = None,
    ) -> None:
        self._state = state
        self._learning = learning
        self._recorder = recorder
        self._scheduler = scheduler
        self._moves = moves
        self._monotonic = monotonic
        self._wall = wall_clock
        self._share = rebalance_share
        self._interval = rebalance_interval
        self._rebalance: deque[str] = deque()
        self._rebalance_budget = 1
        self._next_rebalance = 0.0
        self._drain_deadlines: dict[str, float] = {}  # member -> monotonic deadline
        self._drain_endings: dict[str, str] = {}  # member -> why its drain ends (if not empty)
        self._ended: dict[str, str] = {}  # drains ended since settle_drains last ran -> why
        self._room = False  # a member joined or changed: draining members may hand off more
        self._overload_quiet_until: dict[str, float] = {}

    # -- Registry's reactions --------------------------------------------------------

    def member_changed(self, before: Member | None, after: Member) -> None:
        """Registry recorded a change: move, evict or place packets accordingly."""
        was = before.status if before else None
        now = after.status
        if now is not MemberStatus.DRAINING:  # a drain ends with its status (or a new incarnation)
            self._drain_deadlines.pop(after.member_id, None)
            self._drain_endings.pop(after.member_id, None)
        if now is MemberStatus.FAILED and was is not MemberStatus.FAILED:
            lost = self._moves.evict(after.member_id, "owner_failed", after.status_reason,
                                     forced=True)
            if self._learning is not None:
                self._learning.observe(after.member_id, Outcome.OWNER_FAILED, lost)
        elif now is MemberStatus.RETIRED and was is not MemberStatus.RETIRED:
            self._retired(after)
        elif now is MemberStatus.DRAINING and was is not MemberStatus.DRAINING:
            self._drain(after)
        elif now is MemberStatus.ACTIVE:
            joined = was is not MemberStatus.ACTIVE
            if before is not None:
                self._recheck_owned(after)
            self._moves.schedule_pending("member_joined" if joined else "member_updated")
            self._room = True
            if joined:
                self._queue_rebalance()

    def load_reported(self, member: Member, reported: Load) -> None:
        """Overload: a member reporting more than its capacity sheds one movable packet."""
        over = (member.cpu > 0 and reported.cpu > member.cpu) or (
            member.memory > 0 and reported.memory > member.memory)
        now = self._monotonic()
        if not over or now < self._overload_quiet_until.get(member.member_id, 0.0):
            return
        movable = [p for p in self._moves.assignments_of(member.member_id) if p.handoff_allowed]
        if movable:
            self._overload_quiet_until[member.member_id] = now + member.lease_ttl
            self._moves.move(movable[-1], "overload",
                             f"{member.member_id} reported cpu {reported.cpu:g}/{member.cpu:g}, "
                             f"memory {reported.memory:g}/{member.memory:g}")

    def _recheck_owned(self, member: Member) -> None:
        """A changed member may no longer fit what it owns: move what it cannot keep.

        Lost capabilities or policy (trust, region, labels) move the packet at once
        (it waits PENDING if nobody else qualifies); lost capacity moves packets only
        where another member has room, newest first, until the rest fits.
        """
        for packet in reversed(self._moves.assignments_of(member.member_id)):
            rule = self._scheduler.check(member, packet)
            if rule.startswith("no_capacity"):
                self._moves.move(packet, "owner_over_capacity", f"{member.member_id}: {rule}")
            elif rule:
                self._moves.move(packet, "owner_ineligible", f"{member.member_id}: {rule}",
                                 forced=True)

    def _retired(self, member: Member) -> None:
        """Seed retirement flow: evict everything, reschedule, reset and audit the load."""
        load = self._state.load_of(member.member_id)
        released = {"packets": len(load.packets), "cpu": load.cpu, "memory": load.memory}
        evicted = self._moves.evict(member.member_id, "owner_retired", member.status_reason,
                                    forced=True)
        self._drain_deadlines.pop(member.member_id, None)
        self._recorder.record(
            EventType.MEMBER_LOAD_RESET, Actor.DAEMON,
            reason=f"{member.member_id} retired: {len(evicted)} packet(s) evicted, load reset",
            member_ids=(member.member_id,), packet_ids=tuple(evicted),
            data={"member_id": member.member_id, "evicted": evicted, "released": released},
            namespace=member.namespace,
        )

    # -- drains --------------------------------------------------------------------------

    def _drain(self, member: Member) -> None:
        """No new work (it is not ACTIVE); hand off what may move; the rest waits."""
        remaining = max(0.0, member.drain_deadline - self._wall())
        self._drain_deadlines[member.member_id] = self._monotonic() + remaining
        self._moves.evict(member.member_id, "drain", member.status_reason, forced=False)

    def _draining(self, member_id: str) -> bool:
        member = self._state.members.get(member_id)
        return member is not None and member.status is MemberStatus.DRAINING

    def settle_drains(self) -> list[tuple[str, str]]:
        """The drains that have ended since the last call: (member, why), to be retired.

        Where room appeared (a packet finished, moved or was cancelled; a member joined or
        changed), draining members first hand off what could not move before.
        """
        released = self._moves.take_released()
        if released or self._room:
            self._room = False
            for member_id in list(self._drain_deadlines):
                member = self._state.members.get(member_id)
                if member is not None and member.status is MemberStatus.DRAINING:
                    self._moves.evict(member_id, "drain", member.status_reason, forced=False)
            released += self._moves.take_released()
        for member_id in released:
            if self._draining(member_id) and not self._state.load_of(member_id).packets:
                self._drain_deadlines.pop(member_id, None)
                reason = self._drain_endings.pop(member_id, DRAIN_COMPLETE)
                self._ended.setdefault(member_id, reason)
        ended, self._ended = list(self._ended.items()), {}
        return [(m, why) for m, why in ended if self._draining(m)]

    # -- timers ------------------------------------------------------------------------------

    def _queue_rebalance(self) -> None:
        # Every ring packet an owner holds that may move, in the state's order: a check each,
        # since a packet off the joiner's arcs may have a new ring owner too (one that had no
        # room when it was placed). The state keeps the set, so a join costs no pass over
        # every packet's fields.
        ring_packets = list(filter(self._state.ring_movable.__contains__, self._state.packets))
        self._rebalance = deque(ring_packets)
        # A fixed share of the ring's packets per interval: done in 1/share intervals.
        self._rebalance_budget = max(1, math.ceil(self._share * len(ring_packets)))

    def tick(self) -> None:
        """Drain deadlines and paced rebalancing; call it a few times a second."""
        now = self._monotonic()
        for member_id, deadline in list(self._drain_deadlines.items()):
            if now >= deadline:
                del self._drain_deadlines[member_id]
                self._drain_endings[member_id] = "drain deadline passed"
                self._moves.evict(member_id, "drain_deadline", "drain deadline passed",
                                  forced=True)
                self._ended[member_id] = "drain deadline passed"
        if self._rebalance and now >= self._next_rebalance:
            self._next_rebalance = now + self._interval
            self._rebalance_some(self._rebalance_budget)

    def _rebalance_some(self, budget: int) -> None:
        """Check (and if needed move) at most ``budget`` queued packets: the pacing
        bounds both the moves and the work one tick does on the event loop."""
        while self._rebalance and budget > 0:
            budget -= 1
            packet = self._state.packets.get(self._rebalance.popleft())
            if packet is None or not packet.status.owned or not packet.handoff_allowed:
                continue
            owner = self._scheduler.ring_owner(packet)
            if owner and owner != packet.owner:
                self._moves.move(packet, "rebalance", f"ring owner is now {owner}", target=owner)

    def restart_placement(self) -> int:
        """After recovery: resume drains, and place what was left PENDING (a restart
        mid-handoff). Drain deadlines are wall-clock in the member record, so a drain
        whose deadline passed while the daemon was down ends at the first tick."""
        self._moves.forget_all_waits()
        for member in self._state.members.values():
            if member.status is MemberStatus.DRAINING:
                self._drain(member)
        return self._moves.schedule_pending("restart")
