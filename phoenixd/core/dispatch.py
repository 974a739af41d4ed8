"""The packet lifecycle: submit, assign, fence, hand off, retry, retire and drain.

The Dispatcher owns every packet transition and records each one through the
Recorder (which applies it to the state). Rules it keeps:

- **Fencing.** Every (re)assignment increments the epoch, and the member hears
  of it only once the event is durable (notices carry their event's sequence
  number; the server delivers them after the journal flush). A member-side
  write with another epoch, or from a member that is not the owner, changes
  nothing and is recorded as ``stale_owner_rejected``.
- **Handoff.** A move records ``handoff_started`` (the packet goes back to
  PENDING with its latest checkpoint), then a placement decision; the new
  owner's ack records ``handoff_completed`` with the latency.
- **Retirement (seed 000).** RETIRED, every assignment evicted, each packet
  back to PENDING and rescheduled, the member's load reset, all audited.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from phoenixd.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from phoenixd.core.events import Actor, Event, EventType
from phoenixd.core.members import Member, MemberStatus
from phoenixd.core.membership import Load, Membership
from phoenixd.core.packets import (
    Checkpoint,
    Packet,
    PacketStatus,
    Policy,
    Strategy,
    validate_max_attempts,
    validate_policy,
    validate_state,
)
from phoenixd.core.recorder import Recorder
from phoenixd.core.scheduler import Decision, Scheduler
from phoenixd.core.state import ClusterState
from phoenixd.core.tokens import Signer, issue
from phoenixd.core.validation import (
    validate_amounts,
    validate_capabilities,
    validate_member_id,
    validate_name,
    validate_packet_id,
    validate_text,
)

__all__ = [
    "DEFAULT_REBALANCE_INTERVAL",
    "DEFAULT_REBALANCE_SHARE",
    "Dispatcher",
    "PacketNotice",
    "PacketNoticeKind",
    "PacketSpec",
]

# Only these events journal the checkpoint state; every other packet event leaves
# it out (it cannot have changed), so a large state is written once per save,
# not once per ack, move or decision.
_CARRIES_STATE = frozenset({EventType.PACKET_CREATED, EventType.CHECKPOINT_SAVED})
# Owners a packet record lists; the whole history is in the Flight Recorder.
KEPT_OWNERS = 32
# Routing keys are hashed, so any text will do; a bound keeps records small.
MAX_ROUTING_KEY = 256
# Rebalancing after a join moves at most this share of the ring's packets per
# interval, so a join never stampedes every owner at once.
DEFAULT_REBALANCE_SHARE = 0.1
DEFAULT_REBALANCE_INTERVAL = 1.0


class PacketNoticeKind(Enum):
    ASSIGNMENT = "assignment"
    REVOCATION = "revocation"


@dataclass(frozen=True, slots=True)
class PacketNotice:
    """Something a member must hear about a packet, once ``sequence`` is durable."""

    kind: PacketNoticeKind
    member_id: str
    packet: Packet
    epoch: int
    reason: str
    sequence: int


@dataclass(frozen=True, slots=True)
class PacketSpec:
    """What SubmitPacket carries (the seed envelope plus scheduling inputs)."""

    packet_id: str
    workload_type: str = ""
    required_capabilities: tuple[str, ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)
    step: str = ""
    policy: Policy = field(default_factory=Policy)
    handoff_allowed: bool = True
    lineage_id: str = ""
    demand_cpu: float = 0.0
    demand_memory: float = 0.0
    routing_key: str = ""
    strategy: Strategy | None = None
    max_attempts: int = 0


class Dispatcher:
    """The rules of packets. Not thread-safe: run it on one event loop."""

    def __init__(
        self,
        state: ClusterState,
        recorder: Recorder,
        membership: Membership,
        scheduler: Scheduler,
        signer: Signer,
        *,
        notify: Callable[[PacketNotice], None] = lambda notice: None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rebalance_share: float = DEFAULT_REBALANCE_SHARE,
        rebalance_interval: float = DEFAULT_REBALANCE_INTERVAL,
    ) -> None:
        self._state = state
        self._recorder = recorder
        self._membership = membership
        self._scheduler = scheduler
        self._signer = signer
        self._notify = notify
        self._monotonic = monotonic
        self._wall = wall_clock
        self._share = rebalance_share
        self._interval = rebalance_interval
        self._rebalance: deque[str] = deque()
        self._rebalance_budget = 1
        self._next_rebalance = 0.0
        self._drain_deadlines: dict[str, float] = {}  # member -> monotonic deadline
        self._drain_endings: dict[str, str] = {}  # member -> why its drain ends (if not empty)
        self._retrying_drains = False
        self._overload_quiet_until: dict[str, float] = {}
        self._waiting: set[str] = set()  # PENDING packets whose wait is already recorded
        # A retried packet avoids the member that just failed it, if anyone else can take it.
        self._avoid: dict[str, str] = {}
        membership.on_change = self.on_member_change
        membership.on_report = self.on_load_report
        membership.load_of = self._load_of

    def _load_of(self, member_id: str) -> Load:
        load = self._state.load_of(member_id)
        return Load(len(load.packets), load.cpu, load.memory)

    # -- recording -------------------------------------------------------------------

    def _record(
        self, type_: EventType, packet: Packet, reason: str, *,
        actor: str = Actor.DAEMON, members: tuple[str, ...] = (),
        extra: Mapping[str, Any] | None = None,
    ) -> tuple[Packet, Event]:
        packet = replace(packet, last_event=str(type_), update_time=self._wall(),
                         previous_owners=packet.previous_owners[-KEPT_OWNERS:])
        subjects = tuple(dict.fromkeys(m for m in (*members, packet.owner) if m))
        record = packet.to_dict()
        if type_ not in _CARRIES_STATE:
            record["checkpoint"]["state"] = None  # unchanged: ClusterState.apply carries it over
        event = self._recorder.record(
            type_, actor, reason=reason, member_ids=subjects, packet_ids=(packet.packet_id,),
            lineage_ids=(packet.lineage_id,) if packet.lineage_id else (),
            data={"packet": record, **(extra or {})},
        )
        return self._state.packets[packet.packet_id], event

    def get(self, packet_id: str) -> Packet:
        validate_packet_id(packet_id)
        packet = self._state.packets.get(packet_id)
        if packet is None:
            raise NotFound(f"packet {packet_id!r} does not exist")
        return packet

    # -- operator side -----------------------------------------------------------------

    def submit(self, spec: PacketSpec, actor: str = Actor.OPERATOR) -> Packet:
        """Create a packet (PENDING) and try to place it at once."""
        packet_id = validate_packet_id(spec.packet_id)
        if packet_id in self._state.packets:
            raise AlreadyExists(f"packet {packet_id!r} already exists")
        state, hash_ = validate_state(spec.state)
        cpu, memory = validate_amounts(spec.demand_cpu, spec.demand_memory, "demand")
        now = self._wall()
        packet = Packet(
            packet_id=packet_id,
            workload_type=validate_name(spec.workload_type, "workload_type"),
            required_capabilities=validate_capabilities(spec.required_capabilities),
            status=PacketStatus.PENDING,
            owner="",
            previous_owners=(),
            epoch=0,
            checkpoint=Checkpoint(state, validate_text(spec.step, "step"), hash_, 0, "", now),
            policy=validate_policy(spec.policy),
            handoff_allowed=spec.handoff_allowed,
            handoff_reason="",
            lineage_id=validate_name(spec.lineage_id, "lineage_id") or f"lin-{packet_id}",
            demand_cpu=cpu,
            demand_memory=memory,
            routing_key=validate_text(spec.routing_key, "routing_key", MAX_ROUTING_KEY),
            strategy=spec.strategy or self._scheduler.default_strategy,
            attempts=0,
            max_attempts=validate_max_attempts(spec.max_attempts),
            create_time=now,
            update_time=now,
        )
        packet, _ = self._record(EventType.PACKET_CREATED, packet, "submitted", actor=actor)
        return self._place(packet, "submitted")

    def cancel(self, packet_id: str, reason: str) -> Packet:
        packet = self.get(packet_id)
        reason = validate_text(reason, "reason") or "cancelled by operator"
        if packet.status is PacketStatus.CANCELLED:
            return packet
        if packet.status.terminal:
            raise FailedPrecondition(f"packet {packet_id!r} is already {packet.status}")
        owner, epoch = packet.owner, packet.epoch
        cancelled = replace(packet, status=PacketStatus.CANCELLED, failure_reason=reason)
        cancelled, event = self._record(
            EventType.PACKET_CANCELLED, cancelled, reason, actor=Actor.OPERATOR
        )
        self._waiting.discard(packet_id)
        if packet.status.owned:
            self._revoke(owner, cancelled, epoch, "packet cancelled", event.sequence)
            self._released(owner)
        return cancelled

    def handoff(self, packet_id: str, target: str, reason: str) -> Packet:
        """Move a packet now (manual handoff), to ``target`` or the scheduler's choice."""
        packet = self.get(packet_id)
        reason = validate_text(reason, "reason") or "manual handoff"
        if target:
            validate_member_id(target, "target_member_id")
            if target not in self._state.members:
                raise NotFound(f"member {target!r} is not registered")
        if packet.status.terminal:
            raise FailedPrecondition(f"packet {packet_id!r} is {packet.status}; nothing to move")
        if not packet.handoff_allowed:
            raise FailedPrecondition(
                f"packet {packet_id!r} has handoff.allowed=false; it moves only if its owner "
                "fails or retires"
            )
        if target and target == packet.owner:
            raise FailedPrecondition(f"member {target!r} already owns packet {packet_id!r}")
        if target:
            decision = self._scheduler.decide(packet, "manual", target=target)
            if not decision.winner:
                rule = decision.candidates[0].rejected_by if decision.candidates else "unknown"
                self._recorder.record(
                    EventType.POLICY_REJECTED, Actor.OPERATOR,
                    reason=f"handoff of {packet_id} to {target} refused: {rule}",
                    member_ids=(target,), packet_ids=(packet_id,),
                    data={"decision": decision.to_dict()},
                )
                raise FailedPrecondition(
                    f"member {target!r} may not own packet {packet_id!r}: {rule}"
                )
        return self._move(packet, "manual", reason, target=target, actor=Actor.OPERATOR)

    def explain(self, packet_id: str, epoch: int) -> tuple[int, int]:
        """(epoch, event sequence) of the decision to explain; the event holds the record."""
        packet = self.get(packet_id)
        if epoch < 0:
            raise InvalidArgument(f"epoch must be >= 0, got {epoch}")
        for decided_epoch, sequence in reversed(packet.decisions):
            if epoch in (0, decided_epoch):
                return decided_epoch, sequence
        if epoch:
            raise NotFound(f"no decision kept for epoch {epoch} of packet {packet_id!r}")
        raise NotFound(f"packet {packet_id!r} has no placement decision yet")

    # -- member side ---------------------------------------------------------------------

    def _fenced(
        self, member_id: str, credential: str, packet_id: str, epoch: int, call: str
    ) -> Packet:
        """The packet, if ``member_id`` owns it at ``epoch``; else refuse and record why."""
        self._membership.authenticate(member_id, credential, failed_ok=True)
        if epoch < 1:
            raise InvalidArgument(f"epoch must be the packet's epoch (>= 1), got {epoch}")
        packet = self.get(packet_id)
        if epoch != packet.epoch or member_id != packet.owner:
            # Taken away and not yet reassigned: the last owner's epoch is still the
            # packet's, but its ownership has ended all the same.
            evicted = not packet.owner and packet.previous_owners[-1:] == (member_id,)
            stale = epoch != packet.epoch or evicted
            why = (
                f"stale epoch {epoch}: packet {packet_id!r} was taken from {member_id!r}"
                if evicted else
                f"stale epoch {epoch}: packet {packet_id!r} is at epoch {packet.epoch}"
                if stale else
                f"member {member_id!r} does not own packet {packet_id!r} (epoch {epoch})"
            )
            self._recorder.record(
                EventType.STALE_OWNER_REJECTED, Actor.member(member_id),
                reason=f"{call} refused: {why}",
                member_ids=(member_id,), packet_ids=(packet_id,),
                lineage_ids=(packet.lineage_id,) if packet.lineage_id else (),
                data={"call": call, "member_id": member_id, "epoch": epoch,
                      "current_epoch": packet.epoch, "owner": packet.owner},
            )
            if stale:
                raise FailedPrecondition(f"{why}; stop working on it")
            raise PermissionDenied(why)
        if not packet.status.owned:
            raise FailedPrecondition(f"packet {packet_id!r} is {packet.status}")
        if packet.handoff_started:  # the new owner's first accepted word ends the handoff
            packet = self._handoff_completed(packet, member_id)
        return packet

    def _handoff_completed(self, packet: Packet, member_id: str) -> Packet:
        latency_ms = round((self._wall() - packet.handoff_started) * 1000, 3)
        done, _ = self._record(
            EventType.HANDOFF_COMPLETED, replace(packet, handoff_started=0.0),
            f"{member_id} took over at epoch {packet.epoch} in {latency_ms:g} ms",
            actor=Actor.member(member_id),
            extra={"latency_ms": latency_ms,
                   "from_member": (packet.handoff_token.from_member
                                   if packet.handoff_token else "")},
        )
        return done

    def ack(self, member_id: str, credential: str, packet_id: str, epoch: int) -> Packet:
        """The owner took the packet: RUNNING; a handoff completes here."""
        packet = self._fenced(member_id, credential, packet_id, epoch, "AckPacket")
        if packet.status is PacketStatus.RUNNING:
            return packet
        running, _ = self._record(
            EventType.PACKET_ACKED, replace(packet, status=PacketStatus.RUNNING),
            "acknowledged", actor=Actor.member(member_id),
        )
        return running

    def save_checkpoint(
        self, member_id: str, credential: str, packet_id: str, epoch: int,
        state: Mapping[str, Any], step: str,
    ) -> Packet:
        packet = self._fenced(member_id, credential, packet_id, epoch, "SaveCheckpoint")
        values, hash_ = validate_state(state)
        checkpoint = Checkpoint(
            values, validate_text(step, "step"), hash_, epoch, member_id, self._wall()
        )
        saved, _ = self._record(
            EventType.CHECKPOINT_SAVED, replace(packet, checkpoint=checkpoint),
            f"step {step!r}" if step else "checkpoint saved", actor=Actor.member(member_id),
        )
        return saved

    def complete(
        self, member_id: str, credential: str, packet_id: str, epoch: int,
        result: Mapping[str, Any],
    ) -> Packet:
        current = self.get(packet_id)
        if (current.status is PacketStatus.COMPLETED and current.owner == member_id
                and current.epoch == epoch):
            self._membership.authenticate(member_id, credential, failed_ok=True)
            return current  # a retry after a lost reply: already done
        packet = self._fenced(member_id, credential, packet_id, epoch, "CompletePacket")
        values, _ = validate_state(result, "result")
        done, _ = self._record(
            EventType.PACKET_COMPLETED,
            replace(packet, status=PacketStatus.COMPLETED, result=values, handoff_started=0.0),
            "completed", actor=Actor.member(member_id),
        )
        self._released(member_id)
        return done

    def fail(
        self, member_id: str, credential: str, packet_id: str, epoch: int, reason: str,
        permanent: bool,
    ) -> Packet:
        """A failed attempt: back to PENDING until max_attempts, then FAILED (poison)."""
        packet = self._fenced(member_id, credential, packet_id, epoch, "FailPacket")
        reason = validate_text(reason, "reason") or "failed"
        attempts = packet.attempts + 1
        actor = Actor.member(member_id)
        if permanent or attempts >= packet.max_attempts:
            why = f"attempt {attempts} of {packet.max_attempts}"
            if permanent:
                why = "permanent failure"
            failed, _ = self._record(
                EventType.PACKET_FAILED,
                replace(packet, status=PacketStatus.FAILED, attempts=attempts,
                        failure_reason=reason, handoff_started=0.0),
                f"{why}: {reason}", actor=actor,
            )
            self._released(member_id)
            return failed
        retry = replace(
            packet, status=PacketStatus.PENDING, owner="", attempts=attempts,
            failure_reason=reason, previous_owners=(*packet.previous_owners, member_id),
            handoff_started=0.0,
        )
        self._record(
            EventType.PACKET_ATTEMPT_FAILED, retry,
            f"attempt {attempts} of {packet.max_attempts} failed: {reason}", actor=actor,
            members=(member_id,),
        )
        self._avoid[packet_id] = member_id
        self._released(member_id, "retry")  # waits its turn behind older PENDING packets
        return self._state.packets[packet_id]

    def assignments_of(self, member_id: str) -> list[Packet]:
        """The packets a member owns now, oldest assignment first."""
        load = self._state.load_of(member_id)
        return sorted((self._state.packets[p] for p in load.packets),
                      key=lambda p: (p.assign_time, p.packet_id))

    # -- placement and moves ---------------------------------------------------------------

    def _place(
        self, packet: Packet, trigger: str, *, exclude: str = "", target: str = ""
    ) -> Packet:
        """Assign a PENDING packet if some member is eligible; else record the wait once."""
        avoid = self._avoid.get(packet.packet_id, "")
        decision = self._scheduler.decide(packet, trigger, exclude=exclude or avoid,
                                          target=target)
        if not decision.winner and avoid and not exclude:
            decision = self._scheduler.decide(packet, trigger, target=target)
        if not decision.winner:
            if packet.packet_id not in self._waiting:
                self._waiting.add(packet.packet_id)
                packet, _ = self._record(
                    EventType.PACKET_WAITING, packet, decision.explanation,
                    extra={"decision": decision.to_dict()},
                )
            return packet
        self._waiting.discard(packet.packet_id)
        self._avoid.pop(packet.packet_id, None)
        return self._assign(packet, decision)

    def _assign(self, packet: Packet, decision: Decision) -> Packet:
        epoch = packet.epoch + 1
        now = self._wall()
        token = issue(
            self._signer, packet_id=packet.packet_id, epoch=epoch,
            from_member=packet.previous_owners[-1] if packet.handoff_started else "",
            to_member=decision.winner, state_hash=packet.checkpoint.state_hash, now=now,
        )
        assigned = replace(
            packet, status=PacketStatus.ASSIGNED, owner=decision.winner, epoch=epoch,
            handoff_token=token, assign_time=now,
        )
        handed_from = packet.previous_owners[-1:] if packet.handoff_started else ()
        assigned, event = self._record(
            EventType.ASSIGNMENT_DECISION, assigned, decision.explanation,
            members=handed_from, extra={"decision": decision.to_dict()},
        )
        self._notify(PacketNotice(
            PacketNoticeKind.ASSIGNMENT, decision.winner, assigned, epoch, decision.trigger,
            event.sequence,
        ))
        return assigned

    def _move(
        self, packet: Packet, trigger: str, reason: str, *, target: str = "",
        actor: str = Actor.DAEMON, forced: bool = False,
    ) -> Packet:
        """Take the packet from its owner and place it again, checkpoint and all.

        A forced move (owner failed, retired, or past its drain deadline) always
        happens: the packet waits PENDING if nobody can take it. A voluntary one
        (manual, overload, rebalance, drain) happens only if another member can
        take it now; otherwise the packet stays where it is.
        """
        if not packet.status.owned:
            return self._place(packet, trigger, target=target)
        owner, epoch = packet.owner, packet.epoch
        decision = None
        if not forced:
            decision = self._scheduler.decide(packet, trigger, exclude=owner, target=target)
            if not decision.winner:
                if trigger == "manual":
                    raise FailedPrecondition(
                        f"no other member can take packet {packet.packet_id!r} now: "
                        f"{decision.explanation}"
                    )
                return packet
        moving = replace(
            packet, status=PacketStatus.PENDING, owner="", handoff_reason=reason,
            previous_owners=(*packet.previous_owners, owner), handoff_started=self._wall(),
        )
        moving, event = self._record(
            EventType.HANDOFF_STARTED, moving, f"{trigger}: {reason}", actor=actor,
            members=(owner,), extra={"trigger": trigger, "from_member": owner},
        )
        self._revoke(owner, moving, epoch, f"{trigger}: {reason}", event.sequence)
        if decision is not None:
            self._waiting.discard(moving.packet_id)
            self._assign(moving, decision)
        self._released(owner, trigger)  # forced moves are placed here, oldest first
        return self._state.packets[packet.packet_id]

    def _revoke(self, member_id: str, packet: Packet, epoch: int, reason: str, seq: int) -> None:
        self._notify(PacketNotice(
            PacketNoticeKind.REVOCATION, member_id, packet, epoch, reason, seq
        ))

    def _released(self, member_id: str, trigger: str = "capacity_freed") -> None:
        """A member's load went down: place waiting packets, then finish a drain."""
        self.schedule_pending(trigger)
        self._retry_drains()
        member = self._state.members.get(member_id)
        draining = member is not None and member.status is MemberStatus.DRAINING
        if draining and not self._state.load_of(member_id).packets:
            self._drain_deadlines.pop(member_id, None)
            reason = self._drain_endings.pop(member_id, "drain complete: no work left")
            self._membership.retire(member_id, reason, actor=Actor.DAEMON)

    def _retry_drains(self) -> None:
        """Room appeared somewhere: draining members hand off what could not move before."""
        if self._retrying_drains:
            return
        self._retrying_drains = True
        try:
            for member_id in list(self._drain_deadlines):
                member = self._state.members.get(member_id)
                if member is not None and member.status is MemberStatus.DRAINING:
                    self._evict(member_id, "drain", member.status_reason, forced=False)
        finally:
            self._retrying_drains = False

    def schedule_pending(self, trigger: str) -> int:
        """Try to place every PENDING packet, oldest first. Returns how many were placed."""
        placed = 0
        for packet_id in list(self._state.pending):
            packet = self._state.packets[packet_id]
            if packet.status is PacketStatus.PENDING:
                placed += self._place(packet, trigger).status.owned
        return placed

    # -- reactions to members --------------------------------------------------------------

    def on_member_change(self, before: Member | None, after: Member) -> None:
        """Membership recorded a change: move, evict or place packets accordingly."""
        was = before.status if before else None
        now = after.status
        if now is not MemberStatus.DRAINING:  # a drain ends with its status (or a new incarnation)
            self._drain_deadlines.pop(after.member_id, None)
            self._drain_endings.pop(after.member_id, None)
        if now is MemberStatus.FAILED and was is not MemberStatus.FAILED:
            self._evict(after.member_id, "owner_failed", after.status_reason, forced=True)
        elif now is MemberStatus.RETIRED and was is not MemberStatus.RETIRED:
            self._retired(after)
        elif now is MemberStatus.DRAINING and was is not MemberStatus.DRAINING:
            self._drain(after)
        elif now is MemberStatus.ACTIVE:
            joined = was is not MemberStatus.ACTIVE
            if before is not None:
                self._recheck_owned(after)
            self.schedule_pending("member_joined" if joined else "member_updated")
            self._retry_drains()
            if joined:
                self._queue_rebalance()

    def _recheck_owned(self, member: Member) -> None:
        """A changed member may no longer fit what it owns: move what it cannot keep.

        Lost capabilities or policy (trust, region, labels) move the packet at once
        (it waits PENDING if nobody else qualifies); lost capacity moves packets only
        where another member has room, newest first, until the rest fits.
        """
        for packet in reversed(self.assignments_of(member.member_id)):
            rule = self._scheduler.check(member, packet)
            if rule.startswith("no_capacity"):
                self._move(packet, "owner_over_capacity", f"{member.member_id}: {rule}")
            elif rule:
                self._move(packet, "owner_ineligible", f"{member.member_id}: {rule}",
                           forced=True)

    def _evict(self, member_id: str, trigger: str, reason: str, *, forced: bool) -> list[str]:
        """Move the member's packets: all of them if forced, else those that may move."""
        moved = []
        for packet_id in [p.packet_id for p in self.assignments_of(member_id)]:
            packet = self._state.packets[packet_id]  # fresh: an earlier move may have placed it
            if packet.owner != member_id or not packet.status.owned:
                continue
            if not forced and not packet.handoff_allowed:
                continue
            if self._move(packet, trigger, reason, forced=forced).owner != member_id:
                moved.append(packet_id)
        return moved

    def _retired(self, member: Member) -> None:
        """Seed retirement flow: evict everything, reschedule, reset and audit the load."""
        load = self._state.load_of(member.member_id)
        released = {"packets": len(load.packets), "cpu": load.cpu, "memory": load.memory}
        evicted = self._evict(member.member_id, "owner_retired", member.status_reason, forced=True)
        self._drain_deadlines.pop(member.member_id, None)
        self._recorder.record(
            EventType.MEMBER_LOAD_RESET, Actor.DAEMON,
            reason=f"{member.member_id} retired: {len(evicted)} packet(s) evicted, load reset",
            member_ids=(member.member_id,), packet_ids=tuple(evicted),
            data={"member_id": member.member_id, "evicted": evicted, "released": released},
        )

    def _drain(self, member: Member) -> None:
        """No new work (it is not ACTIVE); hand off what may move; the rest waits."""
        remaining = max(0.0, member.drain_deadline - self._wall())
        self._drain_deadlines[member.member_id] = self._monotonic() + remaining
        self._evict(member.member_id, "drain", member.status_reason, forced=False)

    def on_load_report(self, member: Member, reported: Load) -> None:
        """Overload: a member reporting more than its capacity sheds one movable packet."""
        over = (member.cpu > 0 and reported.cpu > member.cpu) or (
            member.memory > 0 and reported.memory > member.memory)
        now = self._monotonic()
        if not over or now < self._overload_quiet_until.get(member.member_id, 0.0):
            return
        movable = [p for p in self.assignments_of(member.member_id) if p.handoff_allowed]
        if movable:
            self._overload_quiet_until[member.member_id] = now + member.lease_ttl
            self._move(movable[-1], "overload",
                       f"{member.member_id} reported cpu {reported.cpu:g}/{member.cpu:g}, "
                       f"memory {reported.memory:g}/{member.memory:g}")

    # -- timers ------------------------------------------------------------------------------

    def _queue_rebalance(self) -> None:
        ring_packets = [
            p.packet_id for p in self._state.packets.values()
            if p.strategy is Strategy.RING and p.status.owned and p.handoff_allowed
        ]
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
                self._evict(member_id, "drain_deadline", "drain deadline passed", forced=True)
                member = self._state.members.get(member_id)
                if member is not None and member.status is MemberStatus.DRAINING:
                    self._membership.retire(member_id, "drain deadline passed",
                                            actor=Actor.DAEMON)
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
                self._move(packet, "rebalance", f"ring owner is now {owner}", target=owner)

    def restart_placement(self) -> int:
        """After recovery: resume drains, and place what was left PENDING (a restart
        mid-handoff). Drain deadlines are wall-clock in the member record, so a drain
        whose deadline passed while the daemon was down ends at the first tick."""
        self._waiting.clear()
        for member in self._state.members.values():
            if member.status is MemberStatus.DRAINING:
                self._drain(member)
        return self.schedule_pending("restart")
