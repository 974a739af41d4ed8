"""PhoenixFile -> .pflight: validate, write each record, the report, the manifest, sign, pack.

The bytes depend on the PhoenixFile's content, SOURCE_DATE_EPOCH, the phoenix version, the
dependencies' bundle ids and the signing key, and on nothing else: not the file's path or
mtime, the working directory, the user or the clock.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from phoenixd.bundles import signing
from phoenixd.bundles.archive import pack
from phoenixd.bundles.manifest import (
    ATTESTATION_PATH,
    MANIFEST_PATH,
    canonical,
    created_at,
    make_manifest,
    sha256,
)
from phoenixd.bundles.model import Item
from phoenixd.bundles.phoenixfile import PhoenixFile, PhoenixFileError
from phoenixd.bundles.reader import BundleError, open_bundle
from phoenixd.bundles.report import REPORT_PATH, Report, validate

__all__ = ["BUILDER_ID", "Built", "build_bundle", "resolve_dependencies", "source_date_epoch",
           "write_bundle"]

BUILDER_ID = "https://phoenixflight.dev/phoenix-build@v1"


@dataclass(frozen=True)
class Built:
    """A built bundle, not yet written."""

    data: bytes
    file_name: str  # NAME-VERSION.pflight
    bundle_id: str  # sha256:<hex of manifest.json>
    manifest: Mapping[str, Any]
    report: Report
    key_id: str  # "" when unsigned


def source_date_epoch(environ: Mapping[str, str]) -> int:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) if set, else 0: never the clock."""
    text = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) > 253402300799:  # 9999-12-31T23:59:59Z
        raise ValueError(f"SOURCE_DATE_EPOCH={text!r} is not a number of seconds since 1970")
    return int(text)


def resolve_dependencies(source: PhoenixFile) -> dict[str, str]:
    """Each dependency's ref and bundle id (hex), read and verified from its .pflight.

    Its digests are checked (not its signature: trust is the daemon's decision on apply),
    its name and version must be the declared ones, and a declared sha256 must match.
    """
    pinned = {}
    for i, dep in enumerate(source.dependencies):
        where = f"{source.name}:{source.line(('dependencies', i))}: dependencies[{i}]"
        path = dep.location(source.base)
        try:
            bundle = open_bundle(path, trusted_keys=None)
        except (BundleError, OSError) as exc:
            raise PhoenixFileError([f"{where}: {dep.ref}: {exc}"]) from None
        if (bundle.name, bundle.version) != (dep.name, dep.version):
            raise PhoenixFileError([f"{where}: {path.name} is {bundle.name}@{bundle.version}, "
                                    f"not {dep.ref}"])
        found = bundle.bundle_id.removeprefix("sha256:")
        if dep.sha256 and dep.sha256 != found:
            raise PhoenixFileError([f"{where}.sha256: {dep.ref} is pinned to {dep.sha256}, "
                                    f"but {path.name} is sha256:{found}"])
        pinned[dep.ref] = found
    return pinned


def build_bundle(source: PhoenixFile, *, epoch: int = 0, key: Ed25519PrivateKey | None = None,
                 dependencies: Mapping[str, str] | None = None) -> Built:
    """The bundle of a checked PhoenixFile.

    Raises:
        PhoenixFileError: the validation report has errors (each at its line).
    """
    report = validate(source.namespaces, source.agents, source.policies, source.contracts,
                      source.packets)
    if report.errors:
        raise PhoenixFileError([f"{source.where(f.file, f.field)}: {f.message}"
                                for f in report.errors])
    items: tuple[Item, ...] = (*source.agents, *source.policies, *source.contracts, *source.packets)
    files = {item.file: canonical(item.to_json()) for item in items}
    report_bytes = canonical(report.to_json())
    manifest = make_manifest(
        name=source.bundle_name, version=source.version, epoch=epoch,
        builder_version=metadata.version("phoenixd"), source_name=Path(source.name).name,
        source_sha256=source.sha256, namespaces=source.namespaces, items=items, files=files,
        report=report, report_bytes=report_bytes, dependencies=dependencies or {},
        annotations=source.annotations)
    manifest_bytes = canonical(manifest)
    members = {MANIFEST_PATH: manifest_bytes, REPORT_PATH: report_bytes, **files}
    key_id = ""
    if key is not None:
        envelope = signing.sign(provenance(manifest, sha256(manifest_bytes), epoch), key)
        members[ATTESTATION_PATH] = canonical(envelope)
        key_id = signing.key_id(key.public_key())
    return Built(pack(members, epoch), f"{source.bundle_name}-{source.version}.pflight",
                 "sha256:" + sha256(manifest_bytes), manifest, report, key_id)


def provenance(manifest: Mapping[str, Any], manifest_sha256: str, epoch: int
               ) -> dict[str, Any]:
    """The in-toto Statement: subject the manifest, predicate SLSA Provenance v1."""
    source = manifest["source"]["phoenixfile"]
    when = created_at(epoch)
    return {
        "_type": signing.STATEMENT_TYPE,
        "subject": [{"name": f"{manifest['name']}@{manifest['version']}",
                     "digest": {"sha256": manifest_sha256}}],
        "predicateType": signing.PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": signing.BUILD_TYPE,
                "externalParameters": {"phoenixfile": dict(source)},
                "internalParameters": {"SOURCE_DATE_EPOCH": epoch},
                "resolvedDependencies": [
                    {"name": source["path"], "digest": {"sha256": source["sha256"]}},
                    *({"name": d["ref"], "digest": {"sha256": d["sha256"]}}
                      for d in manifest["dependencies"]),
                ],
            },
            "runDetails": {
                "builder": {"id": BUILDER_ID,
                            "version": {"phoenix": manifest["builder"]["version"]}},
                "metadata": {"invocationId": f"sha256:{manifest_sha256}",
                             "startedOn": when, "finishedOn": when},
            },
        },
    }


def write_bundle(built: Built, out_dir: Path) -> Path:
    """Write the bundle into ``out_dir`` (made if missing) atomically: a reader never sees
    half a file, and an existing bundle of the same name is replaced whole."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / built.file_name
    fd, temp = tempfile.mkstemp(prefix=f".{built.file_name}.", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(built.data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target
