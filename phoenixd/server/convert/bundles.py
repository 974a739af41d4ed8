"""Applied bundles and their changes between the core and the wire."""

from __future__ import annotations

from phoenixd.core.bundled import AppliedBundle
from phoenixd.core.imports import ApplyResult
from phoenixd.server.convert.wire import timestamp
from phoenixflight_api.v1 import bundle_service_pb2 as pb

__all__ = ["apply_result_to_pb", "bundle_to_pb"]


def bundle_to_pb(record: AppliedBundle) -> pb.Bundle:
    return pb.Bundle(
        bundle_id=record.bundle_id, name=record.name, version=record.version,
        signature_status=record.signature, key_ids=list(record.key_ids), file=record.file,
        apply_time=timestamp(record.apply_time), revision=record.revision)


def apply_result_to_pb(result: ApplyResult) -> pb.ApplyBundleResponse:
    return pb.ApplyBundleResponse(
        bundle=bundle_to_pb(result.bundle), revision=result.revision,
        changes=[pb.BundleChange(kind=c.kind, namespace=c.namespace, key=c.key,
                                 action=c.action, message=c.message)
                 for c in result.changes])
