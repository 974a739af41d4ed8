"""MembershipService: registration, leases, sessions, the directory, the member feed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc

from phoenixd.core.application import Application
from phoenixd.core.application.sessions import Goodbye, MemberSession
from phoenixd.core.errors import PhoenixError
from phoenixd.core.members import MemberStatus
from phoenixd.server.convert.members import (
    load_from_pb,
    member_status_from_pb,
    member_status_to_pb,
    member_to_pb,
    registration_from_pb,
    update_from_pb,
)
from phoenixd.server.convert.packets import assignment_to_pb
from phoenixd.server.convert.wire import duration, duration_seconds, statuses_from_pb
from phoenixd.server.errors import Context, status_for, streaming, unary
from phoenixd.server.scopes import readable
from phoenixd.server.session_stream import SessionStream, session_input
from phoenixflight_api.v1 import membership_service_pb2 as pb
from phoenixflight_api.v1 import membership_service_pb2_grpc as pb_grpc
from phoenixflight_api.v1.packet_pb2 import AssignmentsSynced

__all__ = ["MembershipServicer"]


class MembershipServicer(pb_grpc.MembershipServiceServicer):
    def __init__(self, app: Application) -> None:
        self._commands = app.commands
        self._queries = app.queries
        self._watches = app.watches
        self._sessions = app.sessions

    @unary
    async def RegisterMember(
        self, request: pb.RegisterMemberRequest, context: Context
    ) -> pb.RegisterMemberResponse:
        view, credential = await self._commands.register_member(registration_from_pb(request))
        return pb.RegisterMemberResponse(member=member_to_pb(view), credential=credential)

    @unary
    async def Heartbeat(
        self, request: pb.HeartbeatRequest, context: Context
    ) -> pb.HeartbeatResponse:
        reported = (
            load_from_pb(request.reported_load) if request.HasField("reported_load") else None
        )
        member = await self._commands.heartbeat(request.member_id, request.credential, reported)
        return pb.HeartbeatResponse(
            status=member_status_to_pb(member.status),
            lease_ttl=duration(member.lease_ttl),
            incarnation=member.incarnation,
            drain_requested=member.status is MemberStatus.DRAINING,
        )

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
        stream = SessionStream(first.open.member_id)
        try:
            session, opened = self._sessions.open(
                stream, first.open.member_id, first.open.credential)
        except PhoenixError as exc:
            await context.abort(status_for(exc), str(exc))
        reader = asyncio.create_task(self._read(session, stream, request_iterator))
        try:
            hello = pb.OpenSessionResponse(message_id=0, opened=pb.SessionOpened(
                member=member_to_pb(opened.member),
                lease_ttl=duration(opened.lease_ttl),
                heartbeat_interval=duration(opened.lease_ttl / 3),
            ))
            await self._sessions.ready()
            yield hello
            for packet in opened.owned:  # what it owns now (e.g. after a daemon restart)
                yield pb.OpenSessionResponse(message_id=0, assignment=assignment_to_pb(packet))
            yield pb.OpenSessionResponse(
                message_id=0, assignments_synced=AssignmentsSynced(count=len(opened.owned))
            )
            while (message := await stream.outbox.get()) is not None:
                yield message
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            self._sessions.close(session, closed_by_daemon=bool(stream.closed_by_daemon))
        if stream.error is not None:
            await context.abort(status_for(stream.error), str(stream.error))

    async def _read(
        self, session: MemberSession, stream: SessionStream,
        requests: AsyncIterator[pb.OpenSessionRequest],
    ) -> None:
        """Everything the member sends renews its lease; a goodbye ends the session."""
        try:
            async for message in requests:
                given = session_input(message)
                member = self._sessions.receive(session, given)
                if isinstance(given, Goodbye):
                    return
                if member is not None:
                    stream.lease(member.status)
        except PhoenixError as exc:
            stream.fail(exc)
            return
        stream.end()  # the member closed its side without a goodbye

    @unary
    async def GetMember(
        self, request: pb.GetMemberRequest, context: Context
    ) -> pb.GetMemberResponse:
        return pb.GetMemberResponse(
            member=member_to_pb(await self._queries.get_member(request.member_id)))

    @unary
    async def ListMembers(
        self, request: pb.ListMembersRequest, context: Context
    ) -> pb.ListMembersResponse:
        page = await self._queries.list_members(
            statuses=statuses_from_pb(request.statuses, member_status_from_pb),
            capability=request.capability, label_selector=request.label_selector,
            namespaces=readable(request.namespace), page_token=request.page_token,
            size=request.page_size,
        )
        return pb.ListMembersResponse(
            members=[member_to_pb(view) for view in page.items],
            next_page_token=page.next_token, total_size=page.total, revision=page.revision,
        )

    @unary
    async def UpdateMember(
        self, request: pb.UpdateMemberRequest, context: Context
    ) -> pb.UpdateMemberResponse:
        view = await self._commands.update_member(request.member.member_id,
                                                  update_from_pb(request))
        return pb.UpdateMemberResponse(member=member_to_pb(view))

    @unary
    async def DrainMember(
        self, request: pb.DrainMemberRequest, context: Context
    ) -> pb.DrainMemberResponse:
        deadline = duration_seconds(request.deadline, "deadline")
        view = await self._commands.drain_member(request.member_id, request.reason, deadline)
        return pb.DrainMemberResponse(member=member_to_pb(view))

    @unary
    async def RetireMember(
        self, request: pb.RetireMemberRequest, context: Context
    ) -> pb.RetireMemberResponse:
        view = await self._commands.retire_member(request.member_id, request.reason)
        return pb.RetireMemberResponse(member=member_to_pb(view))

    @streaming
    async def WatchMembers(
        self, request: pb.WatchMembersRequest, context: Context
    ) -> AsyncIterator[pb.WatchMembersResponse]:
        after = request.after_revision if request.HasField("after_revision") else None
        async for event, member in self._watches.members(request.member_id, after,
                                                         readable(request.namespace)):
            yield pb.WatchMembersResponse(
                revision=event.sequence, event_type=event.type, member=member_to_pb(member)
            )

    @unary
    async def ListCapabilities(
        self, request: pb.ListCapabilitiesRequest, context: Context
    ) -> pb.ListCapabilitiesResponse:
        page = await self._queries.list_capabilities(
            include_inactive=request.include_inactive, namespaces=readable(request.namespace),
            page_token=request.page_token, size=request.page_size,
        )
        return pb.ListCapabilitiesResponse(
            capabilities=[
                pb.Capability(
                    name=capability.name,
                    versions=capability.versions,
                    providers=[
                        pb.CapabilityProvider(
                            member_id=member.member_id, version=version,
                            status=member_status_to_pb(member.status),
                            trust_score=member.trust_score,
                        )
                        for member, version in capability.providers
                    ],
                )
                for capability in page.items
            ],
            next_page_token=page.next_token,
        )
