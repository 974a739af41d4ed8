"""MembershipService: registration, leases, sessions, the directory, the member feed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc

from phoenixd.core import directory
from phoenixd.core.errors import (
    FailedPrecondition,
    InvalidArgument,
    PhoenixError,
)
from phoenixd.core.events import Actor, Event
from phoenixd.core.members import MemberStatus
from phoenixd.core.membership import MemberUpdate, Registration
from phoenixd.core.selector import parse_selector
from phoenixd.core.validation import validate_member_id, validate_text
from phoenixd.server import convert
from phoenixd.server.context import Services
from phoenixd.server.errors import Context, status_for, streaming, unary
from phoenixd.server.sessions import Session, assignment_pb
from phoenixd.server.streams import check_resume_point, follow
from phoenixflight.v1 import member_pb2
from phoenixflight.v1 import membership_service_pb2 as pb
from phoenixflight.v1 import membership_service_pb2_grpc as pb_grpc
from phoenixflight.v1.packet_pb2 import AssignmentsSynced

__all__ = ["MembershipServicer"]


class MembershipServicer(pb_grpc.MembershipServiceServicer):
    def __init__(self, services: Services) -> None:
        self._s = services
        self._core = services.cluster

    def _member_pb(self, member_id: str) -> member_pb2.Member:
        return convert.member_to_pb(self._core.view(self._core.get_member(member_id)))

    @unary
    async def RegisterMember(
        self, request: pb.RegisterMemberRequest, context: Context
    ) -> pb.RegisterMemberResponse:
        reg = Registration(
            member_id=request.member_id,
            kind=convert.kind_from_pb(request.kind),
            capabilities=tuple(request.capabilities),
            cpu=request.capacity.cpu if request.HasField("capacity") else None,
            memory=request.capacity.memory if request.HasField("capacity") else None,
            trust_score=request.trust_score if request.HasField("trust_score") else None,
            reliability=request.reliability if request.HasField("reliability") else None,
            labels=dict(request.labels),
            lease_ttl=convert.duration_seconds(request.lease_ttl, "lease_ttl"),
            credential=request.credential,
        )
        member, credential = self._core.register(reg)
        reply = pb.RegisterMemberResponse(
            member=self._member_pb(member.member_id), credential=credential
        )
        await self._settle_alive(member.member_id, credential, member.lease_ttl)
        return reply

    async def _settle_alive(self, member_id: str, credential: str, ttl: float) -> None:
        """Wait until the registration is durable, renewing the new member's lease meanwhile.

        The member cannot heartbeat before it has this reply (its credential is in it), and
        its waiting call is a sign of life: a disk whose fsync outlasts the TTL must not make
        it SUSPECT before it could say anything. Its lease then runs from the reply.
        """
        settled = asyncio.ensure_future(self._s.settle())
        while True:
            done, _ = await asyncio.wait({settled}, timeout=ttl / 3)
            with contextlib.suppress(PhoenixError):  # retired or failed meanwhile: no lease
                self._core.heartbeat(member_id, credential)
            if done:
                await settled
                return

    @unary
    async def Heartbeat(
        self, request: pb.HeartbeatRequest, context: Context
    ) -> pb.HeartbeatResponse:
        reported = (
            convert.load_from_pb(request.reported_load)
            if request.HasField("reported_load") else None
        )
        member = self._core.heartbeat(request.member_id, request.credential, reported)
        reply = pb.HeartbeatResponse(
            status=convert.member_status_to_pb(member.status),
            lease_ttl=convert.duration(member.lease_ttl),
            incarnation=member.incarnation,
            drain_requested=member.status is MemberStatus.DRAINING,
        )
        # The reply shows only this member's record: wait for its own last change (e.g. the
        # SUSPECT -> ACTIVE this heartbeat caused), not for everyone's. A member that waits
        # for each reply before its next heartbeat must not lose its lease to a slow fsync
        # of other members' changes.
        await self._s.journal.wait_durable(member.revision)
        return reply

    async def OpenSession(
        self,
        request_iterator: AsyncIterator[pb.OpenSessionRequest],
        context: Context,
    ) -> AsyncIterator[pb.OpenSessionResponse]:
        # The Guard has waited for this first message (within --auth-deadline) before
        # giving the stream a slot; the credential in it is checked before any await.
        first = await anext(request_iterator)
        if first.WhichOneof("kind") != "open":
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "the first message of a session must be `open` with member_id and credential",
            )
        session = Session(first.open.member_id)
        session.credential = first.open.credential
        try:
            member = self._core.open_session(first.open.member_id, first.open.credential, session)
        except PhoenixError as exc:
            await context.abort(status_for(exc), str(exc))
        # Attach and take the member's assignments in one step: every notice
        # queued from here on is newer than this list. Then wait until all of it
        # is durable before telling the member anything.
        self._s.sessions.attach(session)
        owned = [assignment_pb(p) for p in self._s.cluster.assignments_of(member.member_id)]
        reader = asyncio.create_task(self._read_session(session, request_iterator))
        try:
            opened = pb.OpenSessionResponse(
                message_id=0,
                opened=pb.SessionOpened(
                    member=self._member_pb(member.member_id),
                    lease_ttl=convert.duration(member.lease_ttl),
                    heartbeat_interval=convert.duration(member.lease_ttl / 3),
                ),
            )
            await self._s.settle()
            yield opened
            for assignment in owned:  # what it owns now (e.g. after a daemon restart)
                yield pb.OpenSessionResponse(message_id=0, assignment=assignment)
            yield pb.OpenSessionResponse(
                message_id=0, assignments_synced=AssignmentsSynced(count=len(owned))
            )
            while (message := await session.outbox.get()) is not None:
                yield message
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            graceful = session.goodbye or bool(session.closed_by_daemon)
            self._s.sessions.detach(session)
            self._core.close_session(session.member_id, session, graceful=graceful)
        if session.error is not None:
            await context.abort(status_for(session.error), str(session.error))

    async def _read_session(
        self, session: Session, requests: AsyncIterator[pb.OpenSessionRequest]
    ) -> None:
        """Everything the member sends renews its lease; a goodbye ends the session."""
        try:
            async for message in requests:
                kind = message.WhichOneof("kind")
                if kind == "goodbye":
                    self._goodbye(session, message.goodbye)
                    return
                if kind == "open":
                    raise InvalidArgument("`open` may only be the first message of a session")
                reported = None
                if kind == "load_report":
                    reported = convert.load_from_pb(message.load_report.load)
                member = self._core.session_message(session.member_id, session, reported)
                if kind == "packet_ack":
                    self._ack(session, message.packet_ack)
                elif kind == "drain":
                    deadline = convert.duration_seconds(message.drain.deadline, "deadline")
                    self._core.drain(session.member_id, message.drain.reason or
                                     "member asked to drain", deadline,
                                     actor=Actor.member(session.member_id))
                if kind == "heartbeat":
                    session.send(lease=pb.SessionLease(status=convert.member_status_to_pb(member.status)))
        except PhoenixError as exc:
            session.fail(exc)
            return
        session.end()  # the member closed its side without a goodbye

    def _ack(self, session: Session, ack: pb.PacketAck) -> None:
        """An ack over the session; a stale one is refused and recorded, the session goes on."""
        # A refused ack does not end the session: a fencing refusal is in the Flight
        # Recorder, and the member learns where its packets stand from revocations.
        with contextlib.suppress(PhoenixError):
            self._s.cluster.ack(session.member_id, session.credential, ack.packet_id, ack.epoch)

    def _goodbye(self, session: Session, goodbye: pb.SessionGoodbye) -> None:
        """A clean end: the lease keeps running (or, with ``retire``, the member leaves)."""
        reason = validate_text(goodbye.reason, "goodbye reason") or "member said goodbye"
        session.goodbye = True
        if goodbye.retire:
            self._core.retire(session.member_id, reason, actor=Actor.member(session.member_id))
        session.close(f"goodbye: {reason}")

    @unary
    async def GetMember(
        self, request: pb.GetMemberRequest, context: Context
    ) -> pb.GetMemberResponse:
        reply = pb.GetMemberResponse(member=self._member_pb(request.member_id))
        await self._s.settle()
        return reply

    @unary
    async def ListMembers(
        self, request: pb.ListMembersRequest, context: Context
    ) -> pb.ListMembersResponse:
        statuses = convert.statuses_from_pb(request.statuses, convert.member_status_from_pb)
        selector = parse_selector(request.label_selector)
        query = {
            "statuses": sorted(str(s) for s in statuses),
            "capability": request.capability,
            "selector": request.label_selector,
        }
        after = convert.decode_page_token(request.page_token, query, str) or ""
        limit = convert.page_size(request.page_size)
        page, next_after, total = directory.list_members(
            self._s.state, statuses=statuses, capability=request.capability, selector=selector,
            after_id=str(after), limit=limit,
        )
        reply = pb.ListMembersResponse(
            members=[convert.member_to_pb(self._core.view(m)) for m in page],
            next_page_token=convert.encode_page_token(next_after, query) if next_after else "",
            total_size=total,
        )
        # The page and its revision are taken in one step, then made durable.
        reply.revision = await self._s.settle()
        return reply

    @unary
    async def UpdateMember(
        self, request: pb.UpdateMemberRequest, context: Context
    ) -> pb.UpdateMemberResponse:
        given = request.member
        update = MemberUpdate(
            fields=frozenset(request.update_mask.paths),
            capabilities=tuple(given.capabilities),
            labels=dict(given.labels),
            trust_score=given.trust_score,
            reliability=given.reliability,
            cpu=given.capacity.cpu,
            memory=given.capacity.memory,
        )
        member = self._core.update_member(given.member_id, update)
        reply = pb.UpdateMemberResponse(member=self._member_pb(member.member_id))
        await self._s.settle()
        return reply

    @unary
    async def DrainMember(
        self, request: pb.DrainMemberRequest, context: Context
    ) -> pb.DrainMemberResponse:
        deadline = convert.duration_seconds(request.deadline, "deadline")
        member = self._core.drain(request.member_id, request.reason, deadline)
        reply = pb.DrainMemberResponse(member=self._member_pb(member.member_id))
        await self._s.settle()
        return reply

    @unary
    async def RetireMember(
        self, request: pb.RetireMemberRequest, context: Context
    ) -> pb.RetireMemberResponse:
        member = self._core.retire(request.member_id, request.reason)
        reply = pb.RetireMemberResponse(member=self._member_pb(member.member_id))
        await self._s.settle()
        return reply

    @streaming
    async def WatchMembers(
        self, request: pb.WatchMembersRequest, context: Context
    ) -> AsyncIterator[pb.WatchMembersResponse]:
        member_id = request.member_id
        if member_id:
            validate_member_id(member_id)
        after = request.after_revision if request.HasField("after_revision") else None
        check_resume_point(after, self._s.journal.durable_sequence, "after_revision")

        def accepts(event: Event) -> bool:
            return "member" in event.data and (not member_id or member_id in event.member_ids)

        feed = follow(self._s.journal, self._s.broker, accepts, after, "after_revision")
        async for event in feed:
            member = convert.member_from_event(event)
            if member is None:  # pragma: no cover - accepts() guarantees it
                raise FailedPrecondition("member event without a member")
            yield pb.WatchMembersResponse(
                revision=event.sequence, event_type=event.type, member=convert.member_to_pb(member)
            )

    @unary
    async def ListCapabilities(
        self, request: pb.ListCapabilitiesRequest, context: Context
    ) -> pb.ListCapabilitiesResponse:
        query = {"include_inactive": request.include_inactive}
        after = str(convert.decode_page_token(request.page_token, query, str) or "")
        limit = convert.page_size(request.page_size)
        providers = directory.capability_directory(self._s.state, request.include_inactive)
        names = [name for name in providers if name > after]
        page, more = names[:limit], len(names) > limit
        reply = pb.ListCapabilitiesResponse(
            capabilities=[
                pb.Capability(
                    name=name,
                    versions=sorted({version for _, version in providers[name]}),
                    providers=[
                        pb.CapabilityProvider(
                            member_id=m.member_id, version=version,
                            status=convert.member_status_to_pb(m.status), trust_score=m.trust_score,
                        )
                        for m, version in providers[name]
                    ],
                )
                for name in page
            ],
            next_page_token=convert.encode_page_token(page[-1], query) if more else "",
        )
        await self._s.settle()
        return reply
