"""Member sessions: the protocol of one member's long-lived stream, without its transport.

A surface that carries sessions (the gRPC OpenSession stream) decodes what the
member sends into the inputs below and hands them to ``Sessions.receive``; what
the member must hear reaches the surface's listener through the notice gate.

1. ``open`` authenticates, binds the session to the member (it renews the lease
   like a heartbeat), attaches the listener and takes what the member owns, in
   one step: every notice queued from then on is newer than that list.
2. ``ready`` waits until all of it is durable; only then may the member be told.
3. ``receive`` for each input: everything renews the lease; a heartbeat is
   answered with the member's status; an ack is a fenced write that, refused,
   does not end the session; a drain ask drains; a goodbye ends it cleanly.
4. ``close`` when the stream ends: without a goodbye (or a closing the daemon
   sent), the member is SUSPECT at once.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from phoenixd.core.application.durability import Durability
from phoenixd.core.application.notices import NoticeGate, SessionListener
from phoenixd.core.cluster import Cluster
from phoenixd.core.errors import PhoenixError
from phoenixd.core.events import Actor
from phoenixd.core.members import Member
from phoenixd.core.packets import Packet
from phoenixd.core.registry import Load, MemberView
from phoenixd.core.validation import validate_text

__all__ = [
    "DrainAsk", "Goodbye", "Heartbeat", "LoadReport", "MemberSession", "Opened", "PacketAck",
    "Renew", "SessionInput", "Sessions",
]


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Answered with the member's status."""


@dataclass(frozen=True, slots=True)
class Renew:
    """Anything else the member may send (an ack of the daemon's messages): a sign of life."""


@dataclass(frozen=True, slots=True)
class LoadReport:
    load: Load


@dataclass(frozen=True, slots=True)
class PacketAck:
    packet_id: str
    epoch: int


@dataclass(frozen=True, slots=True)
class DrainAsk:
    reason: str
    deadline: float | None


@dataclass(frozen=True, slots=True)
class Goodbye:
    reason: str
    retire: bool


SessionInput = Heartbeat | Renew | LoadReport | PacketAck | DrainAsk | Goodbye


@dataclass(frozen=True, slots=True)
class Opened:
    """What a new session tells its member first: its record, its lease, what it owns."""

    member: MemberView
    lease_ttl: float
    owned: list[Packet]


class MemberSession:
    """One open session: the member's identity in the registry while the stream lasts."""

    def __init__(self, member_id: str, credential: str, listener: SessionListener) -> None:
        self.member_id = member_id
        self.credential = credential  # for the member-side writes made over the session
        self.listener = listener
        self.goodbye = False


class Sessions:
    def __init__(self, cluster: Cluster, durability: Durability, gate: NoticeGate) -> None:
        self._cluster = cluster
        self._durability = durability
        self._gate = gate

    def open(
        self, listener: SessionListener, member_id: str, credential: str
    ) -> tuple[MemberSession, Opened]:
        session = MemberSession(member_id, credential, listener)
        member = self._cluster.open_session(member_id, credential, session)
        self._gate.attach(listener)
        owned = self._cluster.assignments_of(member.member_id)
        view = self._cluster.view(self._cluster.get_member(member.member_id))
        return session, Opened(view, member.lease_ttl, owned)

    async def ready(self) -> None:
        """Wait until what ``open`` showed is durable."""
        await self._durability.settle()

    def receive(self, session: MemberSession, message: SessionInput) -> Member | None:
        """Apply one input; returns the member's record for a heartbeat (its answer)."""
        if isinstance(message, Goodbye):
            self._goodbye(session, message)
            return None
        reported = message.load if isinstance(message, LoadReport) else None
        member = self._cluster.session_message(session.member_id, session, reported)
        if isinstance(message, PacketAck):
            # A refused ack does not end the session: a fencing refusal is in the Flight
            # Recorder, and the member learns where its packets stand from revocations.
            with contextlib.suppress(PhoenixError):
                self._cluster.ack(session.member_id, session.credential, message.packet_id,
                                  message.epoch)
        elif isinstance(message, DrainAsk):
            self._cluster.drain(session.member_id, message.reason or "member asked to drain",
                                message.deadline, actor=Actor.member(session.member_id))
        return member if isinstance(message, Heartbeat) else None

    def _goodbye(self, session: MemberSession, goodbye: Goodbye) -> None:
        """A clean end: the lease keeps running (or, with ``retire``, the member leaves)."""
        reason = validate_text(goodbye.reason, "goodbye reason") or "member said goodbye"
        session.goodbye = True
        if goodbye.retire:
            self._cluster.retire(session.member_id, reason,
                                 actor=Actor.member(session.member_id))
        session.listener.close(f"goodbye: {reason}")

    def close(self, session: MemberSession, *, closed_by_daemon: bool) -> None:
        """The stream ended. Graceful if the member said goodbye or the daemon closed it."""
        self._gate.detach(session.listener)
        self._cluster.close_session(session.member_id, session,
                                    graceful=session.goodbye or closed_by_daemon)
