"""Member session streams: at most one per member, each with a bounded outbox."""

from __future__ import annotations

import asyncio
from collections import deque

from phoenixd import failpoints
from phoenixd.core.dispatch import PacketNotice, PacketNoticeKind
from phoenixd.core.errors import PhoenixError
from phoenixd.core.membership import Notice, NoticeKind
from phoenixd.core.packets import Packet
from phoenixd.server.packet_convert import packet_to_pb, token_to_pb
from phoenixflight.v1 import membership_service_pb2 as pb
from phoenixflight.v1.packet_pb2 import Assignment, Revocation
from phoenixflight.v1.packet_service_pb2 import WatchAssignmentsResponse

__all__ = [
    "SESSION_OUTBOX_LIMIT", "WATCHER_OUTBOX_LIMIT", "AssignmentWatcher", "Session", "SessionHub",
    "assignment_pb",
]

# Messages waiting to be sent to one member. Sessions carry control messages
# (leases, assignments, drain requests), a few per second at most; 1024 means a
# member that stops reading for minutes, and is then dropped rather than let
# the daemon hold unbounded memory for it.
SESSION_OUTBOX_LIMIT = 1024


class Session:
    """One open OpenSession stream."""

    def __init__(self, member_id: str) -> None:
        self.member_id = member_id
        self.outbox: asyncio.Queue[pb.OpenSessionResponse | None] = asyncio.Queue(
            SESSION_OUTBOX_LIMIT
        )
        self._next_id = 0
        self.closed_by_daemon = ""  # why the daemon ended it, if it did
        self.goodbye = False
        self.error: PhoenixError | None = None  # a protocol error from the member's side
        self.credential = ""  # kept for member-side calls made over the session

    def send(self, **kind: object) -> None:
        """Queue one message (a oneof member of OpenSessionResponse)."""
        if self.closed_by_daemon:
            return
        self._next_id += 1
        message = pb.OpenSessionResponse(message_id=self._next_id, **kind)  # type: ignore[arg-type]
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.close("session outbox overflowed: the member stopped reading")

    def close(self, reason: str) -> None:
        """Tell the member why, then end the stream."""
        if self.closed_by_daemon:
            return
        self._next_id += 1
        closing = pb.OpenSessionResponse(
            message_id=self._next_id, closing=pb.SessionClosing(reason=reason)
        )
        self.closed_by_daemon = reason
        self._finish(closing)

    def fail(self, error: PhoenixError) -> None:
        """End the stream with the error's status code (the member broke the protocol)."""
        self.error = error
        self._finish()

    def end(self) -> None:
        """End the stream: the member closed its side."""
        self._finish()

    def _finish(self, *last: pb.OpenSessionResponse) -> None:
        for item in (*last, None):
            while True:
                try:
                    self.outbox.put_nowait(item)
                    break
                except asyncio.QueueFull:
                    self.outbox.get_nowait()  # drop the oldest: the ending matters more


# Messages waiting for one WatchAssignments stream: the same traffic as a
# session's packet notices (a few per second per member), so the same bound.
WATCHER_OUTBOX_LIMIT = SESSION_OUTBOX_LIMIT


class AssignmentWatcher:
    """One WatchAssignments stream: a member's assignments for a client without a session."""

    def __init__(self, member_id: str) -> None:
        self.member_id = member_id
        self.outbox: asyncio.Queue[WatchAssignmentsResponse | None] = asyncio.Queue(
            WATCHER_OUTBOX_LIMIT
        )
        self.overflowed = False

    def send(self, message: WatchAssignmentsResponse) -> None:
        if self.overflowed:
            return
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            self.outbox.get_nowait()
            self.outbox.put_nowait(None)

    def close(self) -> None:
        if not self.overflowed:
            try:
                self.outbox.put_nowait(None)
            except asyncio.QueueFull:
                self.outbox.get_nowait()
                self.outbox.put_nowait(None)


class SessionHub:
    """Each member's current session and assignment watchers, and what they must hear.

    Packet notices wait here until the event they announce is durable: a member
    must never act on an epoch that a crash could still take back.
    """

    def __init__(self, durable_sequence: int = 0) -> None:
        self._sessions: dict[str, Session] = {}
        self._watchers: dict[str, set[AssignmentWatcher]] = {}
        # Packet notices not yet durable, and closings queued behind them, in order.
        self._held: deque[PacketNotice | Notice] = deque()
        self.durable_sequence = durable_sequence
        self.closing = ""  # set by close_all: the daemon is shutting down

    def __len__(self) -> int:
        return len(self._sessions)

    def attach(self, session: Session) -> None:
        if self.closing:  # opened during shutdown: end it at once, gracefully
            session.close(self.closing)
        old = self._sessions.get(session.member_id)
        if old is not None:
            old.close("superseded by a newer session of this member")
        self._sessions[session.member_id] = session

    def detach(self, session: Session) -> None:
        if self._sessions.get(session.member_id) is session:
            del self._sessions[session.member_id]

    def watch(self, watcher: AssignmentWatcher) -> None:
        self._watchers.setdefault(watcher.member_id, set()).add(watcher)

    def unwatch(self, watcher: AssignmentWatcher) -> None:
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
                watcher.close()
        session = self._sessions.get(notice.member_id)
        if session is None:
            return
        if notice.kind is NoticeKind.DRAIN_REQUESTED:
            session.send(drain_request=pb.DrainRequest(reason=notice.reason))
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
            if isinstance(head, Notice):
                self._notify_now(self._held.popleft())  # type: ignore[arg-type]
            elif head.sequence <= durable_sequence:
                self._send(self._held.popleft())  # type: ignore[arg-type]
            else:
                break

    def _send(self, notice: PacketNotice) -> None:
        session = self._sessions.get(notice.member_id)
        if notice.kind is PacketNoticeKind.ASSIGNMENT:
            # The new epoch is durable; the new owner has not been told yet.
            failpoints.hit("assignment.before_notify")
            assignment = assignment_pb(notice.packet)
            message = WatchAssignmentsResponse(assignment=assignment)
            if session is not None:
                session.send(assignment=assignment)
        else:
            revocation = Revocation(
                packet_id=notice.packet.packet_id, epoch=notice.epoch, reason=notice.reason
            )
            message = WatchAssignmentsResponse(revocation=revocation)
            if session is not None:
                session.send(revocation=revocation)
        for watcher in self._watchers.get(notice.member_id, ()):
            watcher.send(message)

    def close_all(self, reason: str) -> None:
        self.closing = reason
        for session in list(self._sessions.values()):
            session.close(reason)
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.close()


def assignment_pb(packet: Packet) -> Assignment:
    """A packet as its owner receives it: the packet, its epoch and its signed token."""
    return Assignment(
        packet=packet_to_pb(packet), epoch=packet.epoch,
        handoff_token=token_to_pb(packet.handoff_token),
    )
