"""The manifest (``manifest.json``): what a bundle holds, each file by its sha256.

Written as RFC 8785 canonical JSON, so its sha256 is stable: that digest is the bundle id
(``sha256:<hex>``), and the attestation signs it. Files are listed sorted by path with
their kind and mediaType (OCI's name for it); dependencies are pinned by bundle id, as
Helm's Chart.lock pins charts; ``created`` is SOURCE_DATE_EPOCH, never the wall clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from phoenixd.bundles.model import MEDIA_TYPES, Item, Namespace
from phoenixd.bundles.report import REPORT_PATH, RULES_VERSION, Report
from phoenixflight_api import protocol

__all__ = [
    "ARTIFACT_TYPE", "ATTESTATION_PATH", "MANIFEST_PATH", "SCHEMA_ID", "canonical",
    "created_at", "epoch_of", "make_manifest", "sha256",
]

SCHEMA_ID = "application/vnd.phoenixflight.bundle.v1+json"
ARTIFACT_TYPE = "application/vnd.phoenixflight.bundle.v1"  # an OCI artifactType, later
MANIFEST_PATH = "manifest.json"
ATTESTATION_PATH = "attestations/provenance.dsse.json"
_TIME = "%Y-%m-%dT%H:%M:%SZ"


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON, UTF-8: how every document of a bundle is written."""
    return protocol.canonical_json(value).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def created_at(epoch: int) -> str:
    """SOURCE_DATE_EPOCH as RFC 3339 UTC (seconds)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime(_TIME)


def epoch_of(created: str) -> int:
    return int(dt.datetime.strptime(created, _TIME).replace(tzinfo=dt.UTC).timestamp())


def make_manifest(*, name: str, version: str, epoch: int, builder_version: str,
                  source_name: str, source_sha256: str, namespaces: Sequence[Namespace],
                  items: Sequence[Item], files: Mapping[str, bytes], report: Report,
                  report_bytes: bytes, dependencies: Mapping[str, str],
                  annotations: Mapping[str, str]) -> dict[str, Any]:
    """The manifest of a bundle whose records are ``items``, written as ``files``."""
    kinds = {item.file: item.KIND for item in items}
    listed = []
    for ns in sorted(namespaces, key=lambda n: n.name):
        keys = {kind: sorted(i.key for i in items if i.namespace == ns.name and kind == i.KIND)
                for kind in ("agent", "policy", "packet", "contract")}
        listed.append({"name": ns.name, "description": ns.description,
                       "agents": keys["agent"], "policies": keys["policy"],
                       "packets": keys["packet"], "contracts": keys["contract"]})
    return {
        "schema": SCHEMA_ID,
        "name": name,
        "version": version,
        "created": created_at(epoch),
        "builder": {"tool": "phoenix", "version": builder_version},
        "source": {"phoenixfile": {"path": source_name, "sha256": source_sha256}},
        "namespaces": listed,
        "files": [
            {"path": path, "kind": kinds[path],
             "mediaType": MEDIA_TYPES[kinds[path]],
             "size": len(data), "sha256": sha256(data)}
            for path, data in sorted(files.items())
        ],
        "dependencies": [{"ref": ref, "sha256": digest}
                         for ref, digest in sorted(dependencies.items())],
        "validation": {"report": REPORT_PATH, "size": len(report_bytes),
                       "sha256": sha256(report_bytes), "errors": len(report.errors),
                       "warnings": len(report.warnings), "rules_version": RULES_VERSION},
        "annotations": dict(sorted(annotations.items())),
    }
