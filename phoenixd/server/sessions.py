"""Member session streams: at most one per member, each with a bounded outbox."""

from __future__ import annotations

import asyncio

from phoenixd.core.errors import PhoenixError
from phoenixd.core.membership import Notice, NoticeKind
from phoenixflight.v1 import membership_service_pb2 as pb

__all__ = ["SESSION_OUTBOX_LIMIT", "Session", "SessionHub"]

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


class SessionHub:
    """The current session of each member, and delivery of core notices to it."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
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

    def notify(self, notice: Notice) -> None:
        session = self._sessions.get(notice.member_id)
        if session is None:
            return
        if notice.kind is NoticeKind.DRAIN_REQUESTED:
            session.send(drain_request=pb.DrainRequest(reason=notice.reason))
        elif notice.kind is NoticeKind.CLOSED:
            session.close(notice.reason)

    def close_all(self, reason: str) -> None:
        self.closing = reason
        for session in list(self._sessions.values()):
            session.close(reason)
