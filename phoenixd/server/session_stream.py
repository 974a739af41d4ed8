"""The OpenSession stream's transport: a bounded outbox, and decoding what the member sends.

The session protocol itself is the application's (core/application/sessions.py);
this is the listener it talks to and the decoder it is fed by.
"""

from __future__ import annotations

import asyncio

from phoenixd.core.application.sessions import (
    DrainAsk,
    Goodbye,
    Heartbeat,
    LoadReport,
    PacketAck,
    Renew,
    SessionInput,
)
from phoenixd.core.application.watches import WATCHER_QUEUE_LIMIT
from phoenixd.core.errors import InvalidArgument, PhoenixError
from phoenixd.core.members import MemberStatus
from phoenixd.core.packets import Packet
from phoenixd.server.convert.members import load_from_pb, member_status_to_pb
from phoenixd.server.convert.packets import assignment_to_pb, revocation_to_pb
from phoenixd.server.convert.wire import duration_seconds
from phoenixflight_api.v1 import membership_service_pb2 as pb

__all__ = ["SESSION_OUTBOX_LIMIT", "SessionStream", "session_input"]

# Messages waiting to be sent to one member: the traffic of an assignment watcher (a few
# per second at most) plus leases and drain requests, so the same bound. It means a member
# that stops reading for minutes, and is then dropped rather than let the daemon hold
# unbounded memory for it.
SESSION_OUTBOX_LIMIT = WATCHER_QUEUE_LIMIT


class SessionStream:
    """One open OpenSession stream: the notice gate's listener for its member."""

    def __init__(self, member_id: str) -> None:
        self.member_id = member_id
        self.outbox: asyncio.Queue[pb.OpenSessionResponse | None] = asyncio.Queue(
            SESSION_OUTBOX_LIMIT
        )
        self._next_id = 0
        self.closed_by_daemon = ""  # why the daemon ended it, if it did
        self.error: PhoenixError | None = None  # a protocol error from the member's side

    # -- what the member hears ------------------------------------------------------------

    def assigned(self, packet: Packet) -> None:
        self._send(pb.OpenSessionResponse(assignment=assignment_to_pb(packet)))

    def revoked(self, packet_id: str, epoch: int, reason: str) -> None:
        self._send(pb.OpenSessionResponse(revocation=revocation_to_pb(packet_id, epoch, reason)))

    def drain_requested(self, reason: str) -> None:
        self._send(pb.OpenSessionResponse(drain_request=pb.DrainRequest(reason=reason)))

    def lease(self, status: MemberStatus) -> None:
        lease = pb.SessionLease(status=member_status_to_pb(status))
        self._send(pb.OpenSessionResponse(lease=lease))

    def _send(self, message: pb.OpenSessionResponse) -> None:
        if self.closed_by_daemon:
            return
        self._next_id += 1
        message.message_id = self._next_id
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.close("session outbox overflowed: the member stopped reading")

    # -- how it ends ----------------------------------------------------------------------

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


def session_input(message: pb.OpenSessionRequest) -> SessionInput:
    """What a member's message asks of the session (after its first, the `open`)."""
    kind = message.WhichOneof("kind")
    if kind == "heartbeat":
        return Heartbeat()
    if kind == "load_report":
        return LoadReport(load_from_pb(message.load_report.load))
    if kind == "packet_ack":
        return PacketAck(message.packet_ack.packet_id, message.packet_ack.epoch)
    if kind == "drain":
        return DrainAsk(message.drain.reason,
                        duration_seconds(message.drain.deadline, "deadline"))
    if kind == "goodbye":
        return Goodbye(message.goodbye.reason, message.goodbye.retire)
    if kind == "open":
        raise InvalidArgument("`open` may only be the first message of a session")
    return Renew()  # an ack of the daemon's messages, or a kind this daemon does not know
