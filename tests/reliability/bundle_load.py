"""Bundles for the crash tests: one of many packets, and the all-or-none check after a crash.

The daemon runs with ``--allow-unsigned-bundles`` (what is tested is atomicity, not trust).
"""

from __future__ import annotations

import grpc

from phoenixd.bundles import build_bundle, parse_phoenixfile
from phoenixflight_api.v1 import bundle_service_pb2 as bpb
from phoenixflight_api.v1 import namespace_service_pb2 as npb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.daemon import PhoenixProcess

__all__ = ["FLAGS", "apply", "bundle", "outcome", "packet_ids"]

FLAGS = ("--allow-unsigned-bundles",)
CALL_TIMEOUT = 30.0


def packet_ids(name: str, count: int) -> list[str]:
    return [f"{name}-p{i}" for i in range(count)]


def bundle(name: str, count: int) -> bytes:
    """An unsigned bundle ``acme.NAME`` declaring namespace NAME, a policy, a contract and
    ``count`` packets of it (nobody can take them: each waits, one more event apiece)."""
    packets = "".join(f"""
  - packet_id: {p}
    namespace: {name}
    workload_type: crash-test
    required_capabilities: [crash_test]
    policy: strict
    context_checkpoint: {{state: {{n: {i}}}}}""" for i, p in enumerate(packet_ids(name, count)))
    text = f"""apiVersion: phoenixflight/v1
bundle: {{name: acme.{name}, version: 1.0.0}}
namespaces: [{{name: {name}}}]
policies: [{{name: strict, namespace: {name}, minimum_trust_score: 0.5}}]
contracts:
  - workload_type: crash-test
    namespace: {name}
    required_capabilities: [crash_test]
    state_schema: {{type: object, required: [n]}}
packets:{packets}
"""
    return build_bundle(parse_phoenixfile(text.encode())).data


def apply(d: PhoenixProcess, archive: bytes) -> bpb.ApplyBundleResponse:
    return d.bundles.ApplyBundle(
        bpb.ApplyBundleRequest(archive=archive), timeout=CALL_TIMEOUT)


def outcome(d: PhoenixProcess, name: str, count: int) -> bool:
    """Whether bundle ``acme.NAME`` is applied; asserts that all of it is there, or none."""
    try:
        d.bundles.GetBundle(
            bpb.GetBundleRequest(name=f"acme.{name}"), timeout=CALL_TIMEOUT)
        applied = True
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND, exc.details()
        applied = False
    namespaces = {n.name for n in d.namespaces.ListNamespaces(
        npb.ListNamespacesRequest(page_size=1000), timeout=CALL_TIMEOUT).namespaces}
    held = {p.packet_id for p in d.packets.ListPackets(ppb.ListPacketsRequest(
        namespace=name, page_size=1000), timeout=CALL_TIMEOUT).packets}
    expected = set(packet_ids(name, count)) if applied else set()
    assert (name in namespaces, held) == (applied, expected), (
        f"bundle acme.{name} {'applied' if applied else 'not applied'}, but namespace "
        f"{'present' if name in namespaces else 'absent'} with {len(held)} of its {count} "
        "packets: half applied")
    return applied
