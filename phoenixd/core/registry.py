"""Registry: registration, credentials, leases, sessions, drain and retirement.

Every change is recorded through the Recorder (which applies it to the state);
this class decides which changes are allowed. Heartbeats renew leases in memory
only: they are too frequent to journal, and after a restart every lease is
re-armed with a full TTL anyway.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Protocol

from phoenixd.core.credentials import Credentials
from phoenixd.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from phoenixd.core.events import Actor, EventType
from phoenixd.core.leases import LeaseTable, Timer
from phoenixd.core.members import (
    DEFAULT_LEASE_TTL,
    Member,
    MemberKind,
    MemberStatus,
    validate_lease_ttl,
)
from phoenixd.core.namespaces import DEFAULT_NAMESPACE, admit
from phoenixd.core.recorder import Recorder
from phoenixd.core.reliability import Learning
from phoenixd.core.state import ClusterState
from phoenixd.core.validation import (
    MAX_CREDENTIAL,
    validate_amounts,
    validate_capabilities,
    validate_labels,
    validate_member_id,
    validate_text,
    validate_unit_interval,
)

__all__ = [
    "DEFAULT_DRAIN_DEADLINE",
    "DEFAULT_RELIABILITY",
    "DEFAULT_SUSPECT_GRACE",
    "DEFAULT_TRUST",
    "Load",
    "MemberReactions",
    "MemberUpdate",
    "MemberView",
    "Notice",
    "NoticeKind",
    "Registration",
    "Registry",
]

DEFAULT_TRUST = 0.5
DEFAULT_RELIABILITY = 1.0
DEFAULT_CPU = 1.0
DEFAULT_MEMORY = 1024.0
# How long a SUSPECT member may stay quiet before it is declared FAILED.
DEFAULT_SUSPECT_GRACE = 10.0
DEFAULT_DRAIN_DEADLINE = 60.0
MAX_DRAIN_DEADLINE = 86400.0
UPDATABLE_FIELDS = frozenset({"capabilities", "labels", "trust_score", "reliability", "capacity"})


@dataclass(frozen=True, slots=True)
class Load:
    assigned_packets: int = 0
    cpu: float = 0.0
    memory: float = 0.0


@dataclass(frozen=True, slots=True)
class Registration:
    member_id: str
    kind: MemberKind = MemberKind.AGENT
    capabilities: tuple[str, ...] = ()
    cpu: float | None = None
    memory: float | None = None
    trust_score: float | None = None
    reliability: float | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    lease_ttl: float | None = None
    credential: str = ""
    namespace: str = DEFAULT_NAMESPACE


@dataclass(frozen=True, slots=True)
class MemberUpdate:
    """New values for the fields named in ``fields`` (others are ignored)."""

    fields: frozenset[str]
    capabilities: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    trust_score: float = 0.0
    reliability: float = 0.0
    cpu: float = 0.0
    memory: float = 0.0


@dataclass(slots=True)
class _Presence:
    """What the daemon knows of a live member that is not journaled."""

    last_heartbeat: float = 0.0  # wall clock
    reported_load: Load | None = None
    session: object | None = None  # token of the current session stream


@dataclass(frozen=True, slots=True)
class MemberView:
    member: Member
    load: Load
    reported_load: Load | None
    last_heartbeat: float
    session_open: bool


class NoticeKind(Enum):
    DRAIN_REQUESTED = "drain_requested"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Notice:
    """Something a member's session must be told."""

    kind: NoticeKind
    member_id: str
    reason: str


class MemberReactions(Protocol):
    """What the packets side does when a member changes (evict, drain, place)."""

    def member_changed(self, before: Member | None, after: Member) -> None:
        """Called after every recorded member change."""
        ...

    def load_reported(self, member: Member, reported: Load) -> None:
        """Called for every load report a live member sends."""
        ...


class _NoReactions:
    """Registry on its own (its unit tests): nobody carries work."""

    def member_changed(self, before: Member | None, after: Member) -> None:
        pass

    def load_reported(self, member: Member, reported: Load) -> None:
        pass


class Registry:
    """The registry's rules. Not thread-safe: run it on one event loop."""

    def __init__(
        self,
        state: ClusterState,
        recorder: Recorder,
        *,
        credentials: Credentials | None = None,
        reactions: MemberReactions | None = None,
        suspect_grace: float = DEFAULT_SUSPECT_GRACE,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        notify: Callable[[Notice], None] = lambda notice: None,
        learning: Learning | None = None,
    ) -> None:
        self._state = state
        self._learning = learning
        self._recorder = recorder
        self._grace = suspect_grace
        self._monotonic = monotonic
        self._wall = wall_clock
        self._notify = notify
        self._credentials = credentials or Credentials(state)
        self._reactions = reactions or _NoReactions()
        self.leases = LeaseTable()
        self._presence: dict[str, _Presence] = {}

    # -- registration and credentials ---------------------------------------

    def register(self, reg: Registration) -> tuple[Member, str]:
        """Add a member, or a new incarnation of one. Returns (member, credential)."""
        member_id = validate_member_id(reg.member_id)
        validate_text(reg.credential, "credential", MAX_CREDENTIAL)
        capabilities = validate_capabilities(reg.capabilities)
        labels = validate_labels(reg.labels)
        cpu, memory = validate_amounts(
            DEFAULT_CPU if reg.cpu is None else reg.cpu,
            DEFAULT_MEMORY if reg.memory is None else reg.memory, "capacity")
        trust = validate_unit_interval(
            DEFAULT_TRUST if reg.trust_score is None else reg.trust_score, "trust_score"
        )
        reliability = validate_unit_interval(
            DEFAULT_RELIABILITY if reg.reliability is None else reg.reliability, "reliability"
        )
        ttl = validate_lease_ttl(DEFAULT_LEASE_TTL if reg.lease_ttl is None else reg.lease_ttl)

        previous = self._state.members.get(member_id)
        replacing = previous is not None and not previous.status.terminal
        authorized = previous is not None and self._credentials.matches(previous, reg.credential)
        if previous is not None and replacing and not (reg.credential and authorized):
            raise AlreadyExists(
                f"member {member_id!r} is {previous.status} (incarnation "
                f"{previous.incarnation}); retire it, wait for its lease to expire, or "
                "register again with its current credential to replace it"
            )
        if replacing and previous is not None and previous.namespace != reg.namespace:
            raise FailedPrecondition(
                f"member {member_id!r} is {previous.status} in namespace "
                f"{previous.namespace!r}; retire it before registering it in {reg.namespace!r}")
        namespace = admit(self._state, reg.namespace, f"member {member_id!r}",
                          members=0 if replacing else 1)
        credential, credential_hash = self._credentials.issue()
        now = self._wall()
        member = Member(
            member_id=member_id,
            kind=reg.kind,
            capabilities=capabilities,
            cpu=cpu,
            memory=memory,
            trust_score=trust,
            reliability=reliability,
            labels=labels,
            status=MemberStatus.ACTIVE,
            lease_ttl=ttl,
            incarnation=previous.incarnation + 1 if previous else 1,
            credential_hash=credential_hash,
            create_time=now,
            update_time=now,
            namespace=namespace,
            status_reason="registered",
        )
        if self._learning is not None:
            member = self._learning.carried(previous, member)
        if replacing:
            self._notify(Notice(NoticeKind.CLOSED, member_id, "replaced by a new incarnation"))
        reason = "registered" if previous is None else f"incarnation {member.incarnation}"
        if member.learned is not None:
            reason += (f"; reliability {member.reliability:.4f} as learned (declared "
                       f"{reliability:.4f})")
        self._record(EventType.MEMBER_REGISTERED, member, Actor.member(member_id), reason)
        if capabilities:
            self._state_record_capabilities(member_id, capabilities, Actor.member(member_id))
        self._presence[member_id] = _Presence(last_heartbeat=now)  # registering is a sign of life
        self.leases.arm(member_id, Timer.LEASE, self._monotonic() + ttl)
        return self._state.members[member_id], credential

    def authenticate(self, member_id: str, credential: str) -> Member:
        """The live member whose current credential this is (see Credentials)."""
        return self._credentials.authenticate(member_id, credential)

    # -- liveness ------------------------------------------------------------

    def heartbeat(self, member_id: str, credential: str, reported: Load | None = None) -> Member:
        """Renew the lease; a SUSPECT member comes back to ACTIVE."""
        member = self.authenticate(member_id, credential)
        return self._renew(member, reported)

    def _renew(self, member: Member, reported: Load | None) -> Member:
        presence = self._presence.setdefault(member.member_id, _Presence())
        presence.last_heartbeat = self._wall()
        if reported is not None:
            presence.reported_load = reported
            self._reactions.load_reported(member, reported)
        if member.status is MemberStatus.SUSPECT:
            member = self._transition(
                member, MemberStatus.ACTIVE, EventType.MEMBER_RECOVERED,
                "heartbeat arrived within the grace period", Actor.member(member.member_id),
            )
        self.leases.arm(member.member_id, Timer.LEASE, self._monotonic() + member.lease_ttl)
        return member

    def open_session(self, member_id: str, credential: str, token: object) -> Member:
        """Bind a session stream to the member; it renews the lease like a heartbeat."""
        member = self.authenticate(member_id, credential)
        self._presence.setdefault(member_id, _Presence()).session = token
        return self._renew(member, None)

    def session_message(self, member_id: str, token: object, reported: Load | None) -> Member:
        """Anything received on the current session renews the lease."""
        member = self._state.members[member_id]
        if not self._is_current_session(member_id, token):
            raise FailedPrecondition("this session was superseded by a newer one")
        if member.status.terminal:
            raise FailedPrecondition(f"member {member_id!r} is {member.status}")
        return self._renew(member, reported)

    def close_session(self, member_id: str, token: object, *, graceful: bool) -> None:
        """The session stream ended; without a goodbye the member is SUSPECT at once."""
        if not self._is_current_session(member_id, token):
            return
        self._presence[member_id].session = None
        member = self._state.members[member_id]
        if not graceful and member.status is MemberStatus.ACTIVE:
            self._suspect(member, "session stream lost")

    def _is_current_session(self, member_id: str, token: object) -> bool:
        presence = self._presence.get(member_id)
        return presence is not None and presence.session is token

    def next_deadline(self) -> float | None:
        return self.leases.next_due()

    def expire(self) -> int:
        """Apply every lease and grace deadline that has passed. Returns how many."""
        due = self.leases.pop_due(self._monotonic())
        for deadline in due:
            member = self._state.members.get(deadline.member_id)
            if member is None:
                continue
            if deadline.timer is Timer.LEASE and member.status is MemberStatus.ACTIVE:
                self._suspect(member, f"lease expired: nothing heard for {member.lease_ttl:g}s")
            elif deadline.timer is Timer.LEASE and member.status is MemberStatus.DRAINING:
                self._fail(member, f"lease expired while draining ({member.lease_ttl:g}s)")
            elif deadline.timer is Timer.GRACE and member.status is MemberStatus.SUSPECT:
                self._fail(member, f"no heartbeat within the {self._grace:g}s grace period")
        return len(due)

    def rearm_all(self) -> None:
        """After a restart nobody could heartbeat: give every live member a full TTL.

        A SUSPECT member gets at least a full TTL too (or its grace, if longer)
        before it can be declared FAILED: it had no way to reach us while we were down.
        """
        now = self._monotonic()
        for member in self._state.members.values():
            if member.status.holds_lease:
                self.leases.arm(member.member_id, Timer.LEASE, now + member.lease_ttl)
            elif member.status is MemberStatus.SUSPECT:
                wait = max(member.lease_ttl, self._grace)
                self.leases.arm(member.member_id, Timer.GRACE, now + wait)

    def _suspect(self, member: Member, reason: str) -> None:
        self._transition(member, MemberStatus.SUSPECT, EventType.MEMBER_SUSPECT, reason)
        self.leases.arm(member.member_id, Timer.GRACE, self._monotonic() + self._grace)

    def _fail(self, member: Member, reason: str) -> None:
        self._transition(member, MemberStatus.FAILED, EventType.MEMBER_FAILED, reason)
        self.leases.cancel(member.member_id)
        self._notify(Notice(NoticeKind.CLOSED, member.member_id, f"member failed: {reason}"))

    # -- operator changes ----------------------------------------------------

    def update(self, member_id: str, update: MemberUpdate) -> Member:
        member = self.get_member(member_id)
        unknown = update.fields - UPDATABLE_FIELDS
        if not update.fields:
            raise InvalidArgument(
                "update_mask is empty; name the fields to change among: "
                + ", ".join(sorted(UPDATABLE_FIELDS))
            )
        if unknown:
            raise InvalidArgument(
                f"update_mask names fields that cannot be updated: {', '.join(sorted(unknown))}; "
                "updatable: " + ", ".join(sorted(UPDATABLE_FIELDS))
            )
        if member.status.terminal:
            raise FailedPrecondition(f"member {member_id!r} is {member.status}; register it again")
        changes: dict[str, object] = {}
        if "capabilities" in update.fields:
            changes["capabilities"] = validate_capabilities(update.capabilities)
        if "labels" in update.fields:
            changes["labels"] = validate_labels(update.labels)
        if "trust_score" in update.fields:
            changes["trust_score"] = validate_unit_interval(update.trust_score, "trust_score")
        if "reliability" in update.fields:  # the operator's word: what was learned starts over
            changes["reliability"] = validate_unit_interval(update.reliability, "reliability")
            changes["learned"] = None
        if "capacity" in update.fields:
            changes["cpu"], changes["memory"] = validate_amounts(
                update.cpu, update.memory, "capacity")
        updated = replace(member, update_time=self._wall(), **changes)  # type: ignore[arg-type]
        self._record(
            EventType.MEMBER_UPDATED, updated, Actor.OPERATOR,
            "updated " + ", ".join(sorted(update.fields)),
        )
        added = sorted(set(updated.capabilities) - set(member.capabilities))
        if added:
            self._state_record_capabilities(member_id, tuple(added), Actor.OPERATOR)
        return self._state.members[member_id]

    def drain(
        self, member_id: str, reason: str, deadline: float | None = None,
        actor: str = Actor.OPERATOR,
    ) -> Member:
        """No new work; hand packets off; retire once empty (or at the deadline)."""
        member = self.get_member(member_id)
        validate_text(reason, "reason")
        seconds = DEFAULT_DRAIN_DEADLINE if deadline is None else deadline
        if not 0 < seconds <= MAX_DRAIN_DEADLINE:
            raise InvalidArgument(f"drain deadline must be between 0 and 24h, got {seconds:g}s")
        if member.status is MemberStatus.DRAINING:
            return member  # already draining: the first deadline stands
        if member.status.terminal:
            raise FailedPrecondition(f"member {member_id!r} is {member.status}; nothing to drain")
        draining = replace(
            member,
            status=MemberStatus.DRAINING,
            status_reason=reason or "drain requested",
            update_time=self._wall(),
            drain_deadline=self._wall() + seconds,
        )
        self.leases.arm(member_id, Timer.LEASE, self._monotonic() + member.lease_ttl)
        self._notify(Notice(NoticeKind.DRAIN_REQUESTED, member_id, draining.status_reason))
        # Recording it lets the packets layer hand off what may move (and retire
        # the member itself if that empties it).
        self._record(EventType.MEMBER_DRAINING, draining, actor, draining.status_reason)
        if not self._state.load_of(member_id).packets:
            return self.retire(member_id, "drain complete: no work left", actor=Actor.DAEMON)
        return self._state.members[member_id]

    def retire(self, member_id: str, reason: str, actor: str = Actor.OPERATOR) -> Member:
        """Retire now (seed retirement flow); retiring a RETIRED member is a no-op."""
        member = self.get_member(member_id)
        validate_text(reason, "reason")
        if member.status is MemberStatus.RETIRED:
            return member
        if member.status is MemberStatus.FAILED:
            raise FailedPrecondition(
                f"member {member_id!r} is FAILED ({member.status_reason}); nothing to retire"
            )
        retired = self._transition(
            member, MemberStatus.RETIRED, EventType.MEMBER_RETIRED,
            reason or "retired by operator", actor,
        )
        self.leases.cancel(member_id)
        self._notify(Notice(NoticeKind.CLOSED, member_id, "member retired"))
        return retired

    # -- reads ---------------------------------------------------------------

    def get_member(self, member_id: str) -> Member:
        validate_member_id(member_id)
        member = self._state.members.get(member_id)
        if member is None:
            raise NotFound(f"member {member_id!r} is not registered")
        return member

    def load_of(self, member_id: str) -> Load:
        load = self._state.load_of(member_id)
        return Load(len(load.packets), load.cpu, load.memory)

    def view(self, member: Member) -> MemberView:
        presence = self._presence.get(member.member_id) or _Presence()
        live = not member.status.terminal
        return MemberView(
            member=member,
            load=self.load_of(member.member_id),
            reported_load=presence.reported_load if live else None,
            last_heartbeat=presence.last_heartbeat,
            session_open=live and presence.session is not None,
        )

    # -- recording -----------------------------------------------------------

    def _transition(
        self,
        member: Member,
        status: MemberStatus,
        type_: EventType,
        reason: str,
        actor: str = Actor.DAEMON,
    ) -> Member:
        changed = replace(member, status=status, status_reason=reason, update_time=self._wall())
        self._record(type_, changed, actor, reason)
        return self._state.members[member.member_id]

    def _record(self, type_: EventType, member: Member, actor: str, reason: str) -> None:
        before = self._state.members.get(member.member_id)
        self._recorder.record(
            type_, actor, reason=reason, member_ids=(member.member_id,),
            data={"member": member.to_dict()},
        )
        self._reactions.member_changed(before, self._state.members[member.member_id])

    def _state_record_capabilities(
        self, member_id: str, capabilities: tuple[str, ...], actor: str
    ) -> None:
        self._recorder.record(
            EventType.CAPABILITY_DISCOVERED, actor,
            reason=f"{member_id} advertises {', '.join(capabilities)}",
            member_ids=(member_id,), data={"capabilities": list(capabilities)},
            namespace=self._state.members[member_id].namespace,
        )
