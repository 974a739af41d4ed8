"""Authorization by namespace over every operator method, enumerated from the descriptors.

One phoenixd with operator auth on: the cluster admin's token, and two scoped tokens from an
``--auth-tokens`` file, ``team-a`` (namespace a) and ``team-b`` (namespace b). Each holds a
member and a packet. Then, for every operator method the catalog finds:

- team-a aimed at b's objects (b's namespace, member, packet, owner, handoff target) is
  refused with PERMISSION_DENIED, naming the token, the call and namespace b; each refusal
  is one permission_denied event in the Flight Recorder, and nothing of b changed;
- team-a naming nothing is shown only what namespace a holds: lists, watches, queries,
  lineages, the namespace list and the cluster's counts hold nothing of b;
- the methods only the cluster admin may call (namespaces themselves, the whole chain) are
  refused to a scoped token even on its own namespace;
- team-b on b's objects gets past authorization (the refusals are about scope, not the call);
- a member's credential acts in its namespace only: every member-side method, called by b's
  member about a's packet, is refused, and its own feeds show nothing of a.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message

from phoenixd import operator_tokens
from phoenixd.server import authz
from phoenixflight_api.v1 import cluster_service_pb2 as cpb
from phoenixflight_api.v1 import cluster_service_pb2_grpc as cluster_grpc
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import namespace_service_pb2 as npb
from phoenixflight_api.v1 import packet_pb2
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import envelope
from tests.daemon import PhoenixProcess, operator_token_args
from tests.reliability.rpc_catalog import (
    ACCESS,
    CATALOG,
    Access,
    Rpc,
    call,
    fill,
    member_request,
)
from tests.reliability.soak import figure

ADMIN_TOKEN = "namespace-matrix-admin"
TOKENS = {"team-a": "pft_team-a-secret", "team-b": "pft_team-b-secret"}
LEASE = Duration(seconds=3600)
DEADLINE = 10.0
OPERATOR_RPCS = [r for r in CATALOG if ACCESS.get(r.path) is Access.OPERATOR]
# Written out on purpose, like ACCESS: the methods no scoped token may call.
ADMIN_ONLY = frozenset({
    "/phoenixflight.v1.NamespaceService/CreateNamespace",
    "/phoenixflight.v1.NamespaceService/UpdateNamespace",
    "/phoenixflight.v1.NamespaceService/DeleteNamespace",
    "/phoenixflight.v1.FlightRecorderService/VerifyChain",
    # Bundles create namespaces and span several.
    "/phoenixflight.v1.BundleService/ApplyBundle",
    "/phoenixflight.v1.BundleService/GetBundle",
    "/phoenixflight.v1.BundleService/ListBundles",
    # A dry-run forks every namespace's records; a simulation takes the daemon's CPU.
    "/phoenixflight.v1.SimulatorService/DryRun",
    "/phoenixflight.v1.SimulatorService/Simulate",
})
# What b holds, as it appears in any message that shows it.
B_MARKS = (b"b-worker", b"b-job", b"lin-b")


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


ADMIN, TEAM_A, TEAM_B = bearer(ADMIN_TOKEN), bearer(TOKENS["team-a"]), bearer(TOKENS["team-b"])


@dataclass
class World:
    d: PhoenixProcess
    b_credential: str

    @property
    def channel(self) -> grpc.Channel:
        assert self.d.channel is not None
        return self.d.channel

    def head(self) -> int:
        return self.d.recorder.QueryEvents(
            rpb.QueryEventsRequest(page_size=1), metadata=ADMIN, timeout=DEADLINE).head_sequence

    def events(self, after: int, *types: str) -> list[rpb.Event]:
        return list(self.d.recorder.QueryEvents(rpb.QueryEventsRequest(
            after_sequence=after, types=list(types), page_size=1000),
            metadata=ADMIN, timeout=DEADLINE).events)

    def b_state(self) -> tuple[bytes, ...]:
        """Everything of namespace b, as the admin reads it."""
        d = self.d
        members = d.members.ListMembers(mpb.ListMembersRequest(namespace="b"),
                                        metadata=ADMIN, timeout=DEADLINE)
        packets = d.packets.ListPackets(ppb.ListPacketsRequest(namespace="b"),
                                        metadata=ADMIN, timeout=DEADLINE)
        names = d.namespaces.ListNamespaces(npb.ListNamespacesRequest(),
                                            metadata=ADMIN, timeout=DEADLINE)
        # The records only: a list's own revision is the head, which refusals move.
        records = [*members.members, *packets.packets, *names.namespaces]
        return tuple(r.SerializeToString(deterministic=True) for r in records)


def _tokens_file(root: Path) -> Path:
    path = root / "tokens.toml"
    path.write_text("".join(operator_tokens.stanza(name, token, [name.removeprefix("team-")])
                            for name, token in TOKENS.items()))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("namespace-matrix")
    with PhoenixProcess(root / "data", *operator_token_args(root, ADMIN_TOKEN),
                        "--auth-tokens", str(_tokens_file(root))) as d:
        credentials = {}
        for ns in ("a", "b"):
            d.namespaces.CreateNamespace(npb.CreateNamespaceRequest(
                namespace=npb.Namespace(name=ns)), metadata=ADMIN, timeout=DEADLINE)
            for member_id in (f"{ns}-worker", f"{ns}-spare"):
                credentials[member_id] = d.members.RegisterMember(mpb.RegisterMemberRequest(
                    member_id=member_id, capabilities=["work"], namespace=ns, lease_ttl=LEASE),
                    metadata=ADMIN, timeout=DEADLINE).credential
            packet = d.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(
                f"{ns}-job", "work", namespace=ns,
                audit=packet_pb2.PacketAudit(lineage_id=f"lin-{ns}"))),
                metadata=ADMIN, timeout=DEADLINE).packet
            assert packet.current_owner.startswith(f"{ns}-"), packet
        yield World(d, credentials["b-worker"])


def aimed_at_b(rpc: Rpc) -> Message:
    """``rpc``'s request naming b's objects in every field that names something."""
    request = fill(rpc.request(), {
        "member_id": "b-worker", "packet_id": "b-job", "target_member_id": "b-spare",
        "owner": "b-worker", "namespace": "b", "name": "b", "lineage_id": "lin-b",
        "reason": "namespace matrix", "after_sequence": 0,
    })
    fields = request.DESCRIPTOR.fields_by_name
    if "member" in fields:
        request.member.member_id = "b-worker"  # type: ignore[attr-defined]
        request.update_mask.paths.append("labels")  # type: ignore[attr-defined]
    if "packet" in fields:
        request.packet.CopyFrom(envelope("b-new", "work", namespace="b"))  # type: ignore[attr-defined]
    if "namespace" in fields and fields["namespace"].message_type is not None:
        request.namespace.name = "b"  # type: ignore[attr-defined]
        request.namespace.labels["owner"] = "team-a"  # type: ignore[attr-defined]
    if "update_mask" in fields and not request.update_mask.paths:  # type: ignore[attr-defined]
        request.update_mask.paths.append("labels")  # type: ignore[attr-defined]
    return request


def _shows_b(responses: list[Message]) -> list[bytes]:
    raw = b"".join(r.SerializeToString() for r in responses)
    return [mark for mark in B_MARKS if mark in raw]


def _read(w: World, rpc: Rpc, request: Message, metadata: tuple[tuple[str, str], ...]
          ) -> tuple[grpc.StatusCode, str, list[Message]]:
    # A watch is read for what it replays, then cut (it would follow forever).
    outcome = call(w.channel, rpc, request, metadata=metadata,
                   timeout=2.0 if rpc.server_streaming else DEADLINE, max_responses=200)
    return outcome.code, outcome.details, outcome.responses


def test_every_operator_method_has_an_authorization_rule() -> None:
    operator = {r.path for r in OPERATOR_RPCS}
    assert set(authz.RULES) == operator, "operator methods without a rule, or rules for none"
    assert operator >= ADMIN_ONLY


def test_a_token_of_a_can_change_or_read_nothing_of_b(world: World) -> None:
    w = world
    before, head = w.b_state(), w.head()
    refused: Counter[str] = Counter()
    for rpc in OPERATOR_RPCS:
        code, details, responses = _read(w, rpc, aimed_at_b(rpc), TEAM_A)
        if code == grpc.StatusCode.PERMISSION_DENIED:
            assert "team-a" in details and rpc.name in details, (rpc, details)
            assert "'b'" in details or rpc.path in ADMIN_ONLY, (rpc, details)
            refused[rpc.name] += 1
            continue
        # Only a request that names nothing of b can pass; it must then show nothing of b.
        assert code in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED,
                        grpc.StatusCode.DEADLINE_EXCEEDED), (rpc, code, details)
        assert not _shows_b(responses), (rpc, _shows_b(responses))
    assert w.b_state() == before, "a refused call changed something of namespace b"
    # Every refusal, and nothing else, was recorded: one permission_denied event each.
    recorded = w.events(head)
    assert [e.type for e in recorded] == ["permission_denied"] * sum(refused.values())
    assert Counter(e.data["call"] for e in recorded) == refused
    assert {e.actor for e in recorded} == {"token:team-a"}
    assert all(e.namespace in ("b", "") for e in recorded)
    passed = len(OPERATOR_RPCS) - len(refused)
    figure("cross-namespace calls refused and audited",
           f"{sum(refused.values())} of {len(OPERATOR_RPCS)} operator methods aimed at b "
           f"({passed} name no target and showed nothing of b); b unchanged")


def test_a_token_of_a_naming_nothing_is_shown_only_namespace_a(world: World) -> None:
    w = world
    shown = 0
    for rpc in OPERATOR_RPCS:
        request = fill(rpc.request(), {"after_sequence": 0})
        code, details, responses = _read(w, rpc, request, TEAM_A)
        assert code != grpc.StatusCode.UNAUTHENTICATED, (rpc, details)
        assert not _shows_b(responses), (rpc, _shows_b(responses))
        shown += bool(responses)
    lineage = call(w.channel, next(r for r in OPERATOR_RPCS if r.name == "ExportLineage"),
                   rpb.ExportLineageRequest(lineage_id="lin-b"), metadata=TEAM_A)
    assert lineage.code == grpc.StatusCode.NOT_FOUND, lineage
    names = w.d.namespaces.ListNamespaces(npb.ListNamespacesRequest(), metadata=TEAM_A,
                                          timeout=DEADLINE)
    assert [n.name for n in names.namespaces] == ["a"]
    members = w.d.members.ListMembers(mpb.ListMembersRequest(), metadata=TEAM_A,
                                      timeout=DEADLINE)
    assert sorted(m.member_id for m in members.members) == ["a-spare", "a-worker"]
    status = cluster_grpc.ClusterServiceStub(w.channel).GetClusterStatus(
        cpb.GetClusterStatusRequest(), metadata=TEAM_A, timeout=DEADLINE)
    assert sum(c.count for c in status.member_counts) == 2
    assert sum(c.count for c in status.packet_counts) == 1
    figure("operator methods a scoped token may call unnamed", f"{shown} answered with data, "
           "none of it another namespace's")


def test_only_the_cluster_admin_manages_namespaces_and_the_chain(world: World) -> None:
    w = world
    for rpc in (r for r in OPERATOR_RPCS if r.path in ADMIN_ONLY):
        request = aimed_at_b(rpc)
        if "name" in request.DESCRIPTOR.fields_by_name:
            request.name = "b"  # type: ignore[attr-defined]
        outcome = call(w.channel, rpc, request, metadata=TEAM_B, timeout=DEADLINE)
        assert outcome.code == grpc.StatusCode.PERMISSION_DENIED, (rpc, outcome)
        assert "cluster admin" in outcome.details, outcome
    verified = call(w.channel, next(r for r in OPERATOR_RPCS if r.name == "VerifyChain"),
                    rpb.VerifyChainRequest(), metadata=ADMIN)
    assert verified.code == grpc.StatusCode.OK and verified.responses[0].ok, verified


def test_a_token_of_b_gets_past_authorization_on_b(world: World) -> None:
    w = world
    head = w.head()
    for rpc in OPERATOR_RPCS:
        if rpc.path in ADMIN_ONLY:
            continue
        request = aimed_at_b(rpc)
        if rpc.name in ("RetireMember", "DrainMember", "CancelPacket", "HandoffPacket"):
            request = fill(rpc.request(), {"member_id": "ghost", "packet_id": "ghost"})
        code, details, _ = _read(w, rpc, request, TEAM_B)
        assert code not in (grpc.StatusCode.PERMISSION_DENIED,
                            grpc.StatusCode.UNAUTHENTICATED), (rpc, code, details)
    assert not w.events(head, "permission_denied")


def test_a_members_credential_acts_only_in_its_namespace(world: World) -> None:
    """Every member-side method, called by b's member about a's packet."""
    w = world
    before = w.d.packets.GetPacket(ppb.GetPacketRequest(packet_id="a-job"), metadata=ADMIN,
                                   timeout=DEADLINE).packet
    values = {"member_id": "b-worker", "credential": w.b_credential, "packet_id": "a-job",
              "epoch": before.epoch, "reason": "namespace matrix", "step": "matrix"}
    fenced = 0
    for rpc in (r for r in CATALOG if ACCESS.get(r.path) is Access.MEMBER):
        outcome = call(w.channel, rpc, member_request(rpc, values), timeout=2.0,
                       max_responses=50 if rpc.client_streaming else 1)
        if "packet_id" in rpc.request.DESCRIPTOR.fields_by_name:
            assert outcome.code == grpc.StatusCode.PERMISSION_DENIED, (rpc, outcome)
            fenced += 1
        else:  # its own lease, session and assignments: nothing of a's in them
            assert outcome.code != grpc.StatusCode.UNAUTHENTICATED, (rpc, outcome)
            raw = b"".join(r.SerializeToString() for r in outcome.responses)
            assert b"a-job" not in raw and b"a-worker" not in raw, rpc
    after = w.d.packets.GetPacket(ppb.GetPacketRequest(packet_id="a-job"), metadata=ADMIN,
                                  timeout=DEADLINE).packet
    assert after == before
    figure("member-side writes on another namespace's packet refused", f"{fenced} of {fenced}")
