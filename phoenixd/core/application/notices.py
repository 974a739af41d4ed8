"""The durability gate: what each member must hear, held until its event is durable.

A member must never act on an epoch that a crash could still take back, so an
assignment or a revocation waits here until the journal has made its event
durable, and a closing waits behind the packet notices queued before it (a
retiring member hears its revocations first). Listeners are the surfaces'
streams: at most one session per member, any number of assignment watchers.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from phoenixd import failpoints
from phoenixd.core.dispatch import PacketNotice, PacketNoticeKind
from phoenixd.core.packets import Packet
from phoenixd.core.registry import Notice, NoticeKind

__all__ = ["NoticeGate", "PacketListener", "SessionListener"]


class PacketListener(Protocol):
    """A stream that tells one member about its packets (an assignment watcher)."""

    @property
    def member_id(self) -> str: ...

    def assigned(self, packet: Packet) -> None:
        """The member owns ``packet`` at its epoch now (durably)."""

    def revoked(self, packet_id: str, epoch: int, reason: str) -> None:
        """The member's ownership at ``epoch`` has ended (durably)."""

    def close(self, reason: str) -> None:
        """End the stream, saying why."""


class SessionListener(PacketListener, Protocol):
    """A member's session: its packets, and what the registry asks of it."""

    def drain_requested(self, reason: str) -> None: ...


class NoticeGate:
    """Each member's current session and watchers, and the notices not yet durable."""

    def __init__(self, durable_sequence: int = 0) -> None:
        self._sessions: dict[str, SessionListener] = {}
        self._watchers: dict[str, set[PacketListener]] = {}
        # Packet notices not yet durable, and closings queued behind them, in order.
        self._held: deque[PacketNotice | Notice] = deque()
        self.durable_sequence = durable_sequence
        self.closing = ""  # set by close_all: the daemon is shutting down

    def __len__(self) -> int:
        return len(self._sessions)

    def attach(self, session: SessionListener) -> None:
        if self.closing:  # opened during shutdown: end it at once, gracefully
            session.close(self.closing)
        old = self._sessions.get(session.member_id)
        if old is not None:
            old.close("superseded by a newer session of this member")
        self._sessions[session.member_id] = session

    def detach(self, session: SessionListener) -> None:
        if self._sessions.get(session.member_id) is session:
            del self._sessions[session.member_id]

    def watch(self, watcher: PacketListener) -> None:
        self._watchers.setdefault(watcher.member_id, set()).add(watcher)

    def unwatch(self, watcher: PacketListener) -> None:
        watchers = self._watchers.get(watcher.member_id)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del self._watchers[watcher.member_id]

    def notify(self, notice: Notice) -> None:
        """A membership notice. A closing waits behind held packet notices (so a
        retiring member hears its revocations first); a drain request goes at once."""
        if notice.kind is NoticeKind.CLOSED and self._held:
            self._held.append(notice)
            return
        self._notify_now(notice)

    def _notify_now(self, notice: Notice) -> None:
        if notice.kind is NoticeKind.CLOSED:
            # Watchers too, session or not: their credential died with this incarnation.
            for watcher in self._watchers.pop(notice.member_id, set()):
                watcher.close(notice.reason)
        session = self._sessions.get(notice.member_id)
        if session is None:
            return
        if notice.kind is NoticeKind.DRAIN_REQUESTED:
            session.drain_requested(notice.reason)
        elif notice.kind is NoticeKind.CLOSED:
            session.close(notice.reason)

    def deliver(self, notice: PacketNotice) -> None:
        """An assignment or revocation: sent once its event is durable."""
        if self._held or notice.sequence > self.durable_sequence:
            self._held.append(notice)
        else:
            self._send(notice)

    def flush(self, durable_sequence: int) -> None:
        """The journal made everything up to ``durable_sequence`` durable."""
        self.durable_sequence = durable_sequence
        while self._held:
            head = self._held[0]
            if isinstance(head, PacketNotice) and head.sequence > durable_sequence:
                break
            self._held.popleft()
            if isinstance(head, Notice):
                self._notify_now(head)
            else:
                self._send(head)

    def _send(self, notice: PacketNotice) -> None:
        listeners: list[PacketListener] = list(self._watchers.get(notice.member_id, ()))
        session = self._sessions.get(notice.member_id)
        if session is not None:
            listeners.insert(0, session)
        if notice.kind is PacketNoticeKind.ASSIGNMENT:
            # The new epoch is durable; the new owner has not been told yet.
            failpoints.hit("assignment.before_notify")
            for listener in listeners:
                listener.assigned(notice.packet)
        else:
            for listener in listeners:
                listener.revoked(notice.packet.packet_id, notice.epoch, notice.reason)

    def close_all(self, reason: str) -> None:
        self.closing = reason
        for session in list(self._sessions.values()):
            session.close(reason)
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.close(reason)
