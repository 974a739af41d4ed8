"""The synchronous PhoenixFlight client: one typed method per RPC.

    from phoenixflight import Client

    with Client("127.0.0.1:7400") as pf:
        member, credential = pf.register_member("agent-01", "ocr@2", trust_score=0.9)
        pf.submit_packet({"packet_id": "fp-001", "required_capabilities": ["ocr@2"]})

Every method raises PhoenixFlightError (status code + message) when the daemon
refuses a call or cannot be reached; streams raise it while being iterated.

GENERATED from aio.py by scripts/gen_sync_client.py: do not edit; change aio.py and
run `make gen`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any, TypeVar

import grpc

from phoenixflight import _requests as build
from phoenixflight._connect import Connection, PhoenixFlightError
from phoenixflight_api.v1 import bundle_service_pb2 as bs
from phoenixflight_api.v1 import bundle_service_pb2_grpc as bs_grpc
from phoenixflight_api.v1 import cluster_service_pb2 as cs
from phoenixflight_api.v1 import cluster_service_pb2_grpc as cs_grpc
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rec
from phoenixflight_api.v1 import flight_recorder_service_pb2_grpc as rec_grpc
from phoenixflight_api.v1 import member_pb2 as mem
from phoenixflight_api.v1 import membership_service_pb2 as ms
from phoenixflight_api.v1 import membership_service_pb2_grpc as ms_grpc
from phoenixflight_api.v1 import namespace_service_pb2 as ns
from phoenixflight_api.v1 import namespace_service_pb2_grpc as ns_grpc
from phoenixflight_api.v1 import packet_pb2 as pkt
from phoenixflight_api.v1 import packet_service_pb2 as ps
from phoenixflight_api.v1 import packet_service_pb2_grpc as ps_grpc
from phoenixflight_api.v1 import simulator_service_pb2 as sim
from phoenixflight_api.v1 import simulator_service_pb2_grpc as sim_grpc

__all__ = ["Client"]

log = logging.getLogger("phoenixflight")

Req = TypeVar("Req")
Resp = TypeVar("Resp")
T = TypeVar("T")
Page = TypeVar("Page", bound=build.Paged)


class Client:
    """A connection to one phoenixd, with typed helpers for every RPC."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        connection: Connection | None = None,
        timeout: float = 30.0,
    ) -> None:
        """``timeout``: seconds each call may take. Raises ValueError for a bad endpoint or a
        timeout that is not positive."""
        if not timeout > 0:
            raise ValueError(f"timeout must be more than 0 seconds, got {timeout:g}")
        self.connection = connection or Connection.from_env(endpoint=endpoint)
        self.timeout = timeout
        self._channel = self.connection.channel()
        self.members = ms_grpc.MembershipServiceStub(self._channel)
        self.packets = ps_grpc.PacketServiceStub(self._channel)
        self.recorder = rec_grpc.FlightRecorderServiceStub(self._channel)
        self.cluster = cs_grpc.ClusterServiceStub(self._channel)
        self.namespaces = ns_grpc.NamespaceServiceStub(self._channel)
        self.bundles = bs_grpc.BundleServiceStub(self._channel)
        self.simulator = sim_grpc.SimulatorServiceStub(self._channel)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _call(
        self, method: grpc.UnaryUnaryMultiCallable[Req, Resp], request: Req
    ) -> Resp:
        try:
            return method(request, timeout=self.timeout, metadata=self.connection.metadata)
        except grpc.RpcError as exc:
            raise PhoenixFlightError(exc.code(), exc.details() or "") from None

    def _open(
        self,
        method: grpc.UnaryStreamMultiCallable[Req, Resp]
        | grpc.StreamStreamMultiCallable[Any, Resp],
        request: Any,
        timeout: float | None = None,
    ) -> Generator[Resp, None, None]:
        """Start a server (or bidi, given a request iterator) stream now, so that "from now"
        means this call; errors are translated as it is read."""
        # Streams run until the caller stops reading (no deadline) unless the caller bounds
        # them: a wait ends in DEADLINE_EXCEEDED rather than polling a clock.
        try:
            call = method(request, timeout=timeout, metadata=self.connection.metadata)
        except grpc.RpcError as exc:
            raise PhoenixFlightError(exc.code(), exc.details() or "") from None
        return _translated(call)

    # -- the cluster -------------------------------------------------------------------

    def get_cluster_status(self) -> cs.GetClusterStatusResponse:
        """The daemon's version, revision, and its members and packets counted by status."""
        return self._call(self.cluster.GetClusterStatus, cs.GetClusterStatusRequest())

    def get_cluster_health(self, window: float = 0.0, namespace: str = ""
                                 ) -> cs.GetClusterHealthResponse:
        """The DMA metrics over the last ``window`` seconds (0: the daemon's default hour),
        in ``namespace`` (every namespace the caller may read, if empty)."""
        request = cs.GetClusterHealthRequest(namespace=namespace)
        if window:
            request.window.CopyFrom(build.duration(window))
        return self._call(self.cluster.GetClusterHealth, request)

    # -- the simulator -------------------------------------------------------------------

    def dry_run(self, request: sim.DryRunRequest) -> sim.DryRunResponse:
        """Try one change (drain, fail, join) on a copy of the live state; changes nothing."""
        return self._call(self.simulator.DryRun, request)

    def simulate(self, request: sim.SimulateRequest) -> sim.SimulateResponse:
        """Run a simulator scenario inside the daemon; never touches its live state."""
        return self._call(self.simulator.Simulate, request)

    # -- namespaces -----------------------------------------------------------------

    def create_namespace(
        self, name: str, *, labels: Mapping[str, str] | None = None,
        quota: Mapping[str, float] | None = None,
    ) -> ns.Namespace:
        """``quota`` keys: members, packets, cpu, memory (0 or absent: no bound)."""
        resp = self._call(self.namespaces.CreateNamespace, ns.CreateNamespaceRequest(
            namespace=build.namespace(name, labels, quota)))
        return resp.namespace

    def get_namespace(self, name: str) -> ns.Namespace:
        """The namespace with its quota and what it holds live now (usage)."""
        resp = self._call(self.namespaces.GetNamespace, ns.GetNamespaceRequest(name=name))
        return resp.namespace

    def list_namespaces(self) -> list[ns.Namespace]:
        """Every namespace (every page)."""
        pages = _pages(
            lambda token: self._call(self.namespaces.ListNamespaces,
                                     ns.ListNamespacesRequest(page_token=token)),
            lambda page: page.namespaces)
        return [namespace for namespace in pages]

    def update_namespace(
        self, name: str, *, labels: Mapping[str, str] | None = None,
        quota: Mapping[str, float] | None = None,
    ) -> ns.Namespace:
        """Change only what is given (labels replace the labels; quota the whole quota)."""
        resp = self._call(self.namespaces.UpdateNamespace,
                                build.update_namespace(name, labels, quota))
        return resp.namespace

    def delete_namespace(self, name: str) -> ns.Namespace:
        """Only a namespace holding nothing live (FAILED_PRECONDITION says what it holds)."""
        resp = self._call(self.namespaces.DeleteNamespace,
                                ns.DeleteNamespaceRequest(name=name))
        return resp.namespace

    # -- bundles --------------------------------------------------------------------

    def apply_bundle(
        self, archive: bytes, *, dry_run: bool = False,
    ) -> bs.ApplyBundleResponse:
        """Apply a .pflight's bytes: the bundle, the revision of its event (0 when nothing
        changed) and every change (created, updated, unchanged, kept)."""
        request = bs.ApplyBundleRequest(archive=archive, dry_run=dry_run)
        return self._call(self.bundles.ApplyBundle, request)

    def get_bundle(self, name: str) -> bs.Bundle:
        """The newest applied version of the bundle called ``name``."""
        resp = self._call(self.bundles.GetBundle, bs.GetBundleRequest(name=name))
        return resp.bundle

    def list_bundles(self) -> list[bs.Bundle]:
        """Every applied bundle, the newest version of each (every page)."""
        pages = _pages(
            lambda token: self._call(self.bundles.ListBundles,
                                     bs.ListBundlesRequest(page_token=token)),
            lambda page: page.bundles)
        return [bundle for bundle in pages]

    # -- members --------------------------------------------------------------------

    def register_member(
        self, member_id: str, *capabilities: str, **fields: Any
    ) -> tuple[mem.Member, str]:
        """Register (or re-register, with the current credential); returns (member, credential).

        ``fields``: kind, trust_score, reliability, labels, cpu, memory, lease_ttl, credential,
        namespace.
        """
        resp = self._call(
            self.members.RegisterMember, build.register_member(member_id, capabilities, **fields))
        return resp.member, resp.credential

    def heartbeat(self, member_id: str, credential: str) -> ms.HeartbeatResponse:
        return self._call(
            self.members.Heartbeat, ms.HeartbeatRequest(member_id=member_id, credential=credential))

    def get_member(self, member_id: str) -> mem.Member:
        resp = self._call(self.members.GetMember, ms.GetMemberRequest(member_id=member_id))
        return resp.member

    def list_members(self, **filters: Any) -> ms.ListMembersResponse:
        """One page. ``filters``: statuses (names: ACTIVE, ...), capability, label_selector,
        namespace, page_size, page_token."""
        return self._call(self.members.ListMembers, build.list_members(**filters))

    def iter_members(self, **filters: Any) -> Generator[mem.Member, None, None]:
        """Every matching member, following page tokens."""
        return _pages(
            lambda token: self.list_members(page_token=token, **filters),
            lambda page: page.members)

    def update_member(self, member_id: str, **changes: Any) -> mem.Member:
        """Change only the fields given: capabilities, labels, trust_score, reliability,
        cpu and memory (together)."""
        resp = self._call(
            self.members.UpdateMember, build.update_member(member_id, **changes))
        return resp.member

    def drain_member(
        self, member_id: str, reason: str = "", deadline: float | None = None
    ) -> mem.Member:
        resp = self._call(
            self.members.DrainMember, build.drain_member(member_id, reason, deadline))
        return resp.member

    def retire_member(self, member_id: str, reason: str = "") -> mem.Member:
        resp = self._call(
            self.members.RetireMember, ms.RetireMemberRequest(member_id=member_id, reason=reason))
        return resp.member

    def watch_members(
        self, *, after_revision: int | None = None, member_id: str = "", namespace: str = "",
        timeout: float | None = None,
    ) -> Generator[ms.WatchMembersResponse, None, None]:
        """Changes after ``after_revision`` (None: from now), then live; ``timeout`` seconds
        ends the stream with DEADLINE_EXCEEDED (None: it runs until left)."""
        return self._open(
            self.members.WatchMembers, build.watch_members(after_revision, member_id, namespace),
            timeout)

    def list_capabilities(
        self, include_inactive: bool = False, namespace: str = ""
    ) -> list[ms.Capability]:
        """The whole capability directory (every page), of one namespace if given."""
        pages = _pages(
            lambda token: self._call(self.members.ListCapabilities, ms.ListCapabilitiesRequest(
                include_inactive=include_inactive, namespace=namespace, page_token=token)),
            lambda page: page.capabilities)
        return [capability for capability in pages]

    def open_session(
        self, requests: Iterator[ms.OpenSessionRequest]
    ) -> Generator[ms.OpenSessionResponse, None, None]:
        """The member's session stream (the Member worker drives it).

        ``requests`` yields the session's messages (open first, then heartbeats, drain);
        on the sync client it is read from grpc's own thread, so it may block between them.
        """
        return self._open(self.members.OpenSession, requests)

    # -- packets --------------------------------------------------------------------

    def submit_packet(
        self, packet: pkt.FlightPacket | Mapping[str, Any], *,
        on_warning: Callable[[str], None] | None = None,
    ) -> pkt.FlightPacket:
        """Submit a FlightPacket, or an envelope dict in the seed's (or the API's) JSON shape.

        The daemon's warnings (e.g. no ACTIVE member offers a required capability: the
        packet waits) go to ``on_warning``, or are logged at WARNING when it is not given."""
        resp = self._call(self.packets.SubmitPacket, build.submit_packet(packet))
        for warning in resp.warnings:
            if on_warning is not None:
                on_warning(warning)
            else:
                log.warning("packet %s: %s", resp.packet.packet_id, warning)
        return resp.packet

    def get_packet(self, packet_id: str) -> pkt.FlightPacket:
        resp = self._call(self.packets.GetPacket, ps.GetPacketRequest(packet_id=packet_id))
        return resp.packet

    def list_packets(self, **filters: Any) -> ps.ListPacketsResponse:
        """One page. ``filters``: statuses, owner, workload_type, lineage_id, namespace, full
        (with checkpoint state and result), page_size, page_token."""
        return self._call(self.packets.ListPackets, build.list_packets(**filters))

    def iter_packets(self, **filters: Any) -> Generator[pkt.FlightPacket, None, None]:
        return _pages(
            lambda token: self.list_packets(page_token=token, **filters),
            lambda page: page.packets)

    def cancel_packet(self, packet_id: str, reason: str = "") -> pkt.FlightPacket:
        resp = self._call(
            self.packets.CancelPacket, ps.CancelPacketRequest(packet_id=packet_id, reason=reason))
        return resp.packet

    def handoff_packet(
        self, packet_id: str, target: str = "", reason: str = ""
    ) -> pkt.FlightPacket:
        resp = self._call(self.packets.HandoffPacket, ps.HandoffPacketRequest(
            packet_id=packet_id, target_member_id=target, reason=reason))
        return resp.packet

    def explain_assignment(self, packet_id: str, epoch: int = 0) -> ps.Decision:
        resp = self._call(
            self.packets.ExplainAssignment,
            ps.ExplainAssignmentRequest(packet_id=packet_id, epoch=epoch))
        return resp.decision

    def get_handoff_key(self) -> ps.GetHandoffKeyResponse:
        return self._call(self.packets.GetHandoffKey, ps.GetHandoffKeyRequest())

    def ack_packet(
        self, member_id: str, credential: str, packet_id: str, epoch: int
    ) -> pkt.FlightPacket:
        resp = self._call(self.packets.AckPacket, ps.AckPacketRequest(
            member_id=member_id, credential=credential, packet_id=packet_id, epoch=epoch))
        return resp.packet

    def save_checkpoint(
        self, member_id: str, credential: str, packet_id: str, epoch: int,
        state: Mapping[str, Any], step: str = "",
    ) -> pkt.FlightPacket:
        resp = self._call(self.packets.SaveCheckpoint, build.save_checkpoint(
            member_id, credential, packet_id, epoch, state, step))
        return resp.packet

    def complete_packet(
        self, member_id: str, credential: str, packet_id: str, epoch: int,
        result: Mapping[str, Any] | None = None,
    ) -> pkt.FlightPacket:
        resp = self._call(self.packets.CompletePacket, build.complete_packet(
            member_id, credential, packet_id, epoch, result))
        return resp.packet

    def fail_packet(
        self, member_id: str, credential: str, packet_id: str, epoch: int, reason: str,
        permanent: bool = False,
    ) -> pkt.FlightPacket:
        resp = self._call(self.packets.FailPacket, build.fail_packet(
            member_id, credential, packet_id, epoch, reason, permanent))
        return resp.packet

    def watch_assignments(
        self, member_id: str, credential: str
    ) -> Generator[ps.WatchAssignmentsResponse, None, None]:
        return self._open(self.packets.WatchAssignments, ps.WatchAssignmentsRequest(
            member_id=member_id, credential=credential))

    # -- the Flight Recorder ----------------------------------------------------------

    def query_events(self, **filters: Any) -> rec.QueryEventsResponse:
        """One page. ``filters``: types, member_id, packet_id, start_time and end_time (epoch
        seconds), after_sequence, page_size, page_token."""
        return self._call(self.recorder.QueryEvents, build.query_events(**filters))

    def iter_events(self, **filters: Any) -> Generator[rec.Event, None, None]:
        return _pages(
            lambda token: self.query_events(page_token=token, **filters),
            lambda page: page.events)

    def watch_events(
        self, *, timeout: float | None = None, **filters: Any
    ) -> Generator[rec.Event, None, None]:
        """Events after ``after_sequence`` (None: from now), then live; filters as QueryEvents;
        ``timeout`` seconds ends the stream with DEADLINE_EXCEEDED (None: it runs until left)."""
        return _events(self._open(
            self.recorder.WatchEvents, build.watch_events(**filters), timeout))

    def verify_chain(self) -> rec.VerifyChainResponse:
        return self._call(self.recorder.VerifyChain, rec.VerifyChainRequest())

    def export_lineage(
        self, *, packet_id: str = "", lineage_id: str = ""
    ) -> rec.ExportLineageResponse:
        return self._call(
            self.recorder.ExportLineage,
            rec.ExportLineageRequest(packet_id=packet_id, lineage_id=lineage_id))


def _translated(call: Iterable[T]) -> Generator[T, None, None]:
    """The items of a started stream, its errors as PhoenixFlightError; cancelled when left."""
    try:
        yield from call
    except grpc.RpcError as exc:
        raise PhoenixFlightError(exc.code(), exc.details() or "") from None
    finally:
        cancel = getattr(call, "cancel", None)
        if cancel is not None:
            cancel()


def _events(
    stream: Iterator[rec.WatchEventsResponse],
) -> Generator[rec.Event, None, None]:
    for item in stream:
        yield item.event


def _pages(
    fetch: Callable[[str], Page], items: Callable[[Page], Iterable[T]],
) -> Generator[T, None, None]:
    """Every item of every page, fetching each page (by its token) as the last runs out."""
    token = ""
    while True:
        page = fetch(token)
        yield from items(page)
        if not (token := page.next_page_token):
            return
