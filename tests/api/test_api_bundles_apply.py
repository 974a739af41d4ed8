"""ApplyBundle against a real phoenixd: the example bundle (built here, signed by a key the
daemon trusts) lands in one event and its packets are placed on the namespace's agents;
applying it again changes nothing; a newer version changes only what differs and an older
one is refused; unsigned, untrusted, damaged and over-quota bundles change nothing at all;
the contract it brings refuses a checkpoint state it does not allow; and a restart, from the
snapshot or from the journal alone, gives the same state with the chain intact."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import json_format, struct_pb2

from phoenixd.bundles import build_bundle, parse_phoenixfile
from phoenixd.bundles.archive import pack, unpack
from phoenixd.bundles.manifest import ATTESTATION_PATH, canonical
from phoenixflight_api.v1 import bundle_service_pb2 as bpb
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import namespace_service_pb2 as npb
from phoenixflight_api.v1 import packet_pb2
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.conftest import register
from tests.daemon import PhoenixProcess

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "examples" / "customer-validation" / "PhoenixFile").read_text()
NAMESPACE = "customer-care"
AGENT_FIELDS: dict[str, Any] = {"namespace": NAMESPACE, "labels": {"region": "us-east",
                                                                    "pii_cleared": "true"}}
CAPS = ("customer_validation", "policy_review")
# The example, one version on: a stricter policy and one more packet; the contract as it was.
NEWER = EXAMPLE.replace("version: 0.1.0", "version: 0.2.0").replace(
    "minimum_trust_score: 0.90", "minimum_trust_score: 0.93") + """\
  - packet_id: fp-003
    namespace: customer-care
    workload_type: customer-remediation
    required_capabilities: [customer_validation, policy_review]
    policy: pii-us-east
    context_checkpoint:
      state: {case_id: CUST-90001}
"""


def build(text: str, key: Ed25519PrivateKey | None) -> bytes:
    return build_bundle(parse_phoenixfile(text.encode()), key=key).data


def public_pem(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def daemon(tmp_path: Path, key: Ed25519PrivateKey) -> Iterator[PhoenixProcess]:
    trusted = tmp_path / "trusted.pub"
    trusted.write_bytes(public_pem(key))
    with PhoenixProcess(tmp_path / "data", "--trusted-keys", str(trusted)) as d:
        yield d


def apply(d: PhoenixProcess, archive: bytes, dry_run: bool = False) -> bpb.ApplyBundleResponse:
    return d.bundles.ApplyBundle(bpb.ApplyBundleRequest(archive=archive, dry_run=dry_run),
                                  timeout=30)


def refusal(call: Callable[..., object], *args: Any) -> tuple[grpc.StatusCode, str]:
    """The status code and message ``call(*args)`` fails with."""
    with pytest.raises(grpc.RpcError) as caught:
        call(*args)
    return caught.value.code(), caught.value.details() or ""


def refused(d: PhoenixProcess, archive: bytes) -> tuple[grpc.StatusCode, str]:
    return refusal(apply, d, archive)


def changes(reply: bpb.ApplyBundleResponse) -> list[tuple[str, str, str]]:
    return [(c.kind, c.key, c.action) for c in reply.changes]


def head(d: PhoenixProcess) -> int:
    verified = d.recorder.VerifyChain(rpb.VerifyChainRequest(), timeout=30)
    assert verified.ok, verified.problem
    return verified.head_sequence


def packets(d: PhoenixProcess) -> dict[str, packet_pb2.FlightPacket]:
    listing = d.packets.ListPackets(ppb.ListPacketsRequest(page_size=1000), timeout=10)
    return {p.packet_id: p for p in listing.packets}


def seen(d: PhoenixProcess) -> dict[str, Any]:
    """Everything a bundle can change, as the API shows it. A PENDING packet's revision and
    update time are left out: a start records again that it waits (and tries to place it)."""
    shown = {i: json_format.MessageToDict(p) for i, p in packets(d).items()}
    for packet in shown.values():
        if packet["status"] == "PACKET_STATUS_PENDING":
            del packet["revision"], packet["audit"]["updateTime"]
    return {
        "packets": shown,
        "bundles": [json_format.MessageToDict(b) for b in d.bundles.ListBundles(
            bpb.ListBundlesRequest(), timeout=10).bundles],
        "namespaces": [n.name for n in d.namespaces.ListNamespaces(
            npb.ListNamespacesRequest(), timeout=10).namespaces],
    }


def imports(d: PhoenixProcess) -> list[str]:
    folder = d.data_dir / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def register_agents(d: PhoenixProcess) -> dict[str, str]:
    """The example's two us-east agents; returns their credentials."""
    d.namespaces.CreateNamespace(npb.CreateNamespaceRequest(
        namespace=npb.Namespace(name=NAMESPACE)), timeout=10)
    return {member_id: register(d, member_id, *CAPS, trust_score=trust, ttl=60,
                                **AGENT_FIELDS).credential
            for member_id, trust in (("agent-customer-01", 0.95), ("agent-triage-02", 0.91))}


def test_the_example_applies_once_and_its_packets_are_placed(
        daemon: PhoenixProcess, key: Ed25519PrivateKey) -> None:
    register_agents(daemon)
    archive = build(EXAMPLE, key)
    preview = apply(daemon, archive, dry_run=True)
    assert preview.revision == 0 and not imports(daemon)
    reply = apply(daemon, archive)
    assert changes(reply) == changes(preview) == [
        ("bundle", "acme.customer-validation-app", "created"),
        ("namespace", NAMESPACE, "unchanged"),
        ("policy", "pii-us-east", "created"),
        ("contract", "customer-remediation", "created"),
        ("packet", "fp-001", "created"),
        ("packet", "fp-002", "created"),
    ]
    assert reply.revision > 0
    assert reply.bundle.bundle_id.startswith("sha256:")
    assert reply.bundle.signature_status == "verified" and len(reply.bundle.key_ids) == 1
    assert imports(daemon) == [reply.bundle.file.removeprefix("imports/")]
    assert (daemon.data_dir / reply.bundle.file).read_bytes() == archive

    placed = packets(daemon)
    assert placed["fp-001"].status == packet_pb2.PACKET_STATUS_ASSIGNED
    assert placed["fp-001"].current_owner == "agent-customer-01"  # the higher trust score
    assert placed["fp-001"].namespace == NAMESPACE
    constraints = placed["fp-001"].policy_constraints
    assert constraints.minimum_trust_score == pytest.approx(0.9)
    assert list(constraints.allowed_regions) == ["us-east"] and constraints.pii_review_required
    assert placed["fp-002"].status == packet_pb2.PACKET_STATUS_PENDING  # nobody has fraud_review

    events = daemon.recorder.QueryEvents(rpb.QueryEventsRequest(types=["bundle_applied"]),
                                         timeout=10).events
    assert [e.sequence for e in events] == [reply.revision]
    assert reply.bundle.bundle_id in events[0].reason

    before = head(daemon)
    again = apply(daemon, archive)
    assert again.revision == 0
    assert {c.action for c in again.changes} == {"unchanged"}
    assert head(daemon) == before
    got = daemon.bundles.GetBundle(bpb.GetBundleRequest(name=reply.bundle.name), timeout=10)
    assert got.bundle == reply.bundle


def test_a_newer_version_changes_what_differs_and_an_older_one_is_refused(
        daemon: PhoenixProcess, key: Ed25519PrivateKey) -> None:
    first = apply(daemon, build(EXAMPLE, key))
    newer = apply(daemon, build(NEWER, key))
    assert changes(newer) == [
        ("bundle", "acme.customer-validation-app", "updated"),
        ("namespace", NAMESPACE, "unchanged"),
        ("policy", "pii-us-east", "updated"),
        ("contract", "customer-remediation", "unchanged"),
        ("packet", "fp-001", "kept"),
        ("packet", "fp-002", "kept"),
        ("packet", "fp-003", "created"),
    ]
    kept = next(c for c in newer.changes if c.key == "fp-001")
    assert "never rewrites" in kept.message
    assert newer.revision > first.revision
    placed = packets(daemon)
    assert placed["fp-001"].policy_constraints.minimum_trust_score == pytest.approx(0.9)
    assert placed["fp-003"].policy_constraints.minimum_trust_score == pytest.approx(0.93)

    before, state = head(daemon), seen(daemon)
    code, details = refused(daemon, build(EXAMPLE, key))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "0.1.0" in details and "0.2.0" in details
    same_version = NEWER.replace("CUST-90001", "CUST-90002")  # other bytes, same 0.2.0
    code, details = refused(daemon, build(same_version, key))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "is not newer than" in details
    assert (head(daemon), seen(daemon)) == (before, state)


def bad_signature(archive: bytes) -> bytes:
    """The bundle with one bit of its signature flipped (everything else whole)."""
    members, mtime = unpack(archive)
    envelope = json.loads(members[ATTESTATION_PATH])
    signature = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    signature[0] ^= 0x01
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(signature)).decode()
    members[ATTESTATION_PATH] = canonical(envelope)
    return pack(members, mtime)


def test_unsigned_untrusted_and_damaged_bundles_change_nothing(
        daemon: PhoenixProcess, key: Ed25519PrivateKey, tmp_path: Path) -> None:
    before, state = head(daemon), seen(daemon)
    code, details = refused(daemon, build(EXAMPLE, None))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "unsigned" in details and "--allow-unsigned-bundles" in details
    code, details = refused(daemon, build(EXAMPLE, Ed25519PrivateKey.generate()))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert "--trusted-keys" in details
    damaged = bytearray(build(EXAMPLE, key))
    damaged[len(damaged) // 2] ^= 0x01
    code, details = refused(daemon, bytes(damaged))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("bundle refused: archive")
    code, details = refused(daemon, bad_signature(build(EXAMPLE, key)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT  # a trusted key's, damaged: not untrusted
    assert "does not verify" in details
    code, details = refused(daemon, b"not a bundle")
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert (head(daemon), seen(daemon), imports(daemon)) == (before, state, [])

    daemon.stop()  # the explicit flag lets an unsigned bundle in; a signed one still needs trust
    with PhoenixProcess(tmp_path / "open", "--allow-unsigned-bundles") as d:
        assert apply(d, build(EXAMPLE, None)).bundle.signature_status == "unsigned"
        code, details = refused(d, build(NEWER, key))
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        assert "without --trusted-keys" in details


def test_a_bundle_past_a_quota_applies_nothing(daemon: PhoenixProcess,
                                                key: Ed25519PrivateKey) -> None:
    daemon.namespaces.CreateNamespace(npb.CreateNamespaceRequest(namespace=npb.Namespace(
        name=NAMESPACE, quota=npb.NamespaceQuota(packets=1))), timeout=10)
    before, state = head(daemon), seen(daemon)
    code, details = refused(daemon, build(EXAMPLE, key))
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "quota packets=1" in details and "Nothing was applied" in details
    assert (head(daemon), seen(daemon), imports(daemon)) == (before, state, [])


def checkpoint(d: PhoenixProcess, credential: str, packet: packet_pb2.FlightPacket,
               state: dict[str, Any]) -> packet_pb2.FlightPacket:
    struct = struct_pb2.Struct()
    struct.update(state)
    return d.packets.SaveCheckpoint(ppb.SaveCheckpointRequest(
        member_id=packet.current_owner, credential=credential, packet_id=packet.packet_id,
        epoch=packet.epoch, state=struct, step="reviewed"), timeout=10).packet


def test_the_contract_refuses_a_checkpoint_state_it_does_not_allow(
        daemon: PhoenixProcess, key: Ed25519PrivateKey) -> None:
    credentials = register_agents(daemon)
    apply(daemon, build(EXAMPLE, key))
    packet = packets(daemon)["fp-001"]
    credential = credentials[packet.current_owner]
    for bad, schema_path in (({"case_id": "88291"}, "properties.case_id.pattern"),
                             ({"notes": ["x"]}, "required"),
                             ({"case_id": "CUST-1", "extra": 1}, "additionalProperties")):
        code, details = refusal(checkpoint, daemon, credential, packet, bad)
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert f"schema path {schema_path}" in details
        assert "customer-remediation" in details
    _, details = refusal(checkpoint, daemon, credential, packet, {"case_id": 7})
    assert "at state.case_id" in details
    unchanged = daemon.packets.GetPacket(ppb.GetPacketRequest(packet_id="fp-001"),
                                         timeout=10).packet.context_checkpoint
    assert json_format.MessageToDict(unchanged.state) == {"case_id": "CUST-88291"}
    saved = checkpoint(daemon, credential, packet, {"case_id": "CUST-88291", "notes": ["ok"]})
    assert json_format.MessageToDict(saved.context_checkpoint.state)["notes"] == ["ok"]

    submitted = packet_pb2.FlightPacket(
        packet_id="fp-100", workload_type="customer-remediation", namespace=NAMESPACE,
        required_capabilities=list(CAPS))
    submitted.context_checkpoint.state.update({"case_id": "nope"})
    code, details = refusal(lambda: daemon.packets.SubmitPacket(
        ppb.SubmitPacketRequest(packet=submitted), timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "schema path properties.case_id.pattern" in details
    assert "fp-100" not in packets(daemon)


def test_a_restart_gives_the_same_state_from_the_snapshot_and_from_the_journal(
        daemon: PhoenixProcess, key: Ed25519PrivateKey) -> None:
    credentials = register_agents(daemon)
    apply(daemon, build(EXAMPLE, key))
    apply(daemon, build(NEWER, key))
    state = seen(daemon)
    for clean in (True, False):
        if clean:  # a clean stop writes a snapshot: the start reads it
            daemon.stop()
        else:  # kill -9, and no snapshot at all: the whole journal is replayed
            daemon.kill()
            for name in ("registry.json", "packets.json", "assignments.json"):
                (daemon.data_dir / name).unlink()
        daemon.start()
        assert seen(daemon) == state
        head(daemon)  # VerifyChain ok
        packet = packets(daemon)["fp-001"]
        code, _ = refusal(checkpoint,  # the contract is state, replayed too
                          daemon, credentials[packet.current_owner], packet, {"case_id": "x"})
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert apply(daemon, build(NEWER, key)).revision == 0
