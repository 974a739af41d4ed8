"""Read a .pflight and verify every byte of it: the API the daemon calls on apply.

``read_bundle(data, trusted_keys)`` is pure (bytes in, records out) so the daemon can run
it off its event loop; ``open_bundle(path, ...)`` reads the file first. Checks, in order:
the archive is exactly what the build packs (archive.py); the attestation, when there is
one, is a DSSE envelope whose signature verifies under a trusted key and whose subject is
this manifest's sha256; the manifest fits the schema; the archive holds exactly the members
the manifest lists, each with its size and sha256; every file is canonical JSON of its kind
whose path is the one its content names; and the stored report is the one these records
give now. Any failure raises BundleError naming the member (and field) at fault.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from phoenixd.bundles import signing
from phoenixd.bundles.archive import MAX_ARCHIVE_BYTES, ArchiveError, unpack
from phoenixd.bundles.manifest import ATTESTATION_PATH, MANIFEST_PATH, canonical, epoch_of
from phoenixd.bundles.model import (
    DIRECTORIES,
    MEDIA_TYPES,
    Agent,
    Contract,
    Item,
    Namespace,
    Packet,
    Policy,
    field_problems,
    from_json,
)
from phoenixd.bundles.report import REPORT_PATH, RULES_VERSION, validate
from phoenixd.bundles.schema import def_problems, format_path

__all__ = ["Bundle", "BundleError", "Signature", "open_bundle", "read_bundle"]

_DIRS = {directory: kind for kind, directory in DIRECTORIES.items()}


class BundleError(ValueError):
    """A bundle that fails verification; the message starts with the member at fault."""


@dataclass(frozen=True, slots=True)
class Signature:
    """What was found of the signature.

    ``status``: ``verified`` (by a trusted key), ``unchecked`` (signed, no trusted keys
    were given) or ``unsigned``. ``key_ids``: the keys that signed (verified ones only,
    when verified).
    """

    status: str
    key_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: its manifest, id, report, and records by kind."""

    bundle_id: str  # sha256:<hex of manifest.json>
    archive_sha256: str
    manifest: Mapping[str, Any]
    report: Mapping[str, Any]
    signature: Signature
    namespaces: tuple[Namespace, ...]
    agents: tuple[Agent, ...]
    policies: tuple[Policy, ...]
    contracts: tuple[Contract, ...]
    packets: tuple[Packet, ...]

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    def policy(self, namespace: str, name: str) -> Policy | None:
        """The policy a packet of ``namespace`` names (packets refer to policies by name)."""
        return next((p for p in self.policies if (p.namespace, p.name) == (namespace, name)),
                    None)


def open_bundle(path: Path, trusted_keys: Sequence[Ed25519PublicKey] | None,
                allow_unsigned: bool = False) -> Bundle:
    """read_bundle of the file at ``path`` (OSError if it cannot be read)."""
    with path.open("rb") as f:
        data = f.read(MAX_ARCHIVE_BYTES + 1)
    return read_bundle(data, trusted_keys, allow_unsigned)


def read_bundle(data: bytes, trusted_keys: Sequence[Ed25519PublicKey] | None,
                allow_unsigned: bool = False) -> Bundle:
    """Verify a bundle's bytes and return what it holds.

    Args:
        trusted_keys: the bundle must be signed by one of these (or be unsigned, with
            ``allow_unsigned``). None checks no signature: only that the bundle is whole
            and consistent (for inspecting, and for a build reading its dependencies).
        allow_unsigned: accept a bundle without an attestation.

    Raises:
        BundleError: naming the member, or member and field, that fails.
    """
    try:
        members, mtime = unpack(data)
    except ArchiveError as exc:
        raise BundleError(f"archive: {exc}") from None
    manifest_bytes = _member(members, MANIFEST_PATH)
    manifest = _document(MANIFEST_PATH, manifest_bytes)
    manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    signature = _signature(members, manifest_sha256, trusted_keys, allow_unsigned)
    _check(MANIFEST_PATH, def_problems("manifest", manifest))
    if epoch_of(manifest["created"]) != mtime:
        raise BundleError(f"{MANIFEST_PATH}: created is {manifest['created']}, but the "
                          "archive's members are dated otherwise")
    _check_members(manifest, members)
    records = _records(manifest, members)
    report_bytes = members[REPORT_PATH]
    report = _document(REPORT_PATH, report_bytes)
    namespaces = tuple(Namespace(n["name"], n["description"]) for n in manifest["namespaces"])
    by_kind: dict[str, list[Any]] = {kind: [] for kind in MEDIA_TYPES}
    for item in records:
        by_kind[item.KIND].append(item)
    recomputed = validate(namespaces, by_kind["agent"], by_kind["policy"], by_kind["contract"],
                          by_kind["packet"])
    if canonical(recomputed.to_json()) != report_bytes:
        raise BundleError(
            f"{REPORT_PATH}: does not match the bundle's files (they give "
            f"{len(recomputed.errors)} errors and {len(recomputed.warnings)} warnings under "
            f"rules version {RULES_VERSION}; it says {report.get('errors')} and "
            f"{report.get('warnings')} under {report.get('rules_version')})")
    validation = manifest["validation"]
    if (validation["errors"], validation["warnings"]) != (len(recomputed.errors),
                                                         len(recomputed.warnings)):
        raise BundleError(f"{MANIFEST_PATH}: validation counts differ from {REPORT_PATH}")
    if recomputed.errors:
        first = recomputed.errors[0]
        raise BundleError(f"{first.file}: {format_path(first.field)}: {first.message}")
    _check_namespaces(manifest, records)
    return Bundle(
        "sha256:" + manifest_sha256, hashlib.sha256(data).hexdigest(), manifest, report,
        signature, namespaces, tuple(by_kind["agent"]), tuple(by_kind["policy"]),
        tuple(by_kind["contract"]), tuple(by_kind["packet"]))


def _member(members: Mapping[str, bytes], name: str) -> bytes:
    if name not in members:
        raise BundleError(f"{name}: missing from the archive")
    return members[name]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} appears twice")
        out[key] = value
    return out


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _document(name: str, data: bytes) -> Any:
    """A member's JSON, which must be written in its one canonical form (RFC 8785)."""
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                           parse_constant=_refuse_constant)
        same = canonical(value) == data
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"{name}: not valid JSON ({exc})") from None
    if not same:
        raise BundleError(f"{name}: not in canonical JSON form (RFC 8785): changed after "
                          "the build")
    return value


def _check(name: str, problems: Sequence[Any]) -> None:
    if problems:
        p = problems[0]
        raise BundleError(f"{name}: {format_path(p.path) or '(top)'}: {p.message}")


def _signature(members: Mapping[str, bytes], manifest_sha256: str,
               trusted: Sequence[Ed25519PublicKey] | None, allow_unsigned: bool) -> Signature:
    """The attestation checked against the manifest (and the keys, if given)."""
    if ATTESTATION_PATH not in members:
        if trusted is not None and not allow_unsigned:
            raise BundleError(f"{ATTESTATION_PATH}: missing: the bundle is unsigned (sign it "
                              "with `phoenix build --signing-key`, or accept it unsigned)")
        return Signature("unsigned")
    envelope = _document(ATTESTATION_PATH, members[ATTESTATION_PATH])
    _check(ATTESTATION_PATH, def_problems("dsse", envelope))
    try:
        payload, key_ids = signing.verify(envelope, trusted)
    except signing.SignatureError as exc:
        raise BundleError(f"{ATTESTATION_PATH}: {exc}") from None
    statement = _document(f"{ATTESTATION_PATH}: payload", payload)
    what = f"{ATTESTATION_PATH}: payload"
    if not isinstance(statement, dict) or statement.get("_type") != signing.STATEMENT_TYPE:
        raise BundleError(f"{what}: not an in-toto Statement v1")
    if statement.get("predicateType") != signing.PREDICATE_TYPE:
        raise BundleError(f"{what}: predicateType is not SLSA Provenance v1")
    build_type = statement.get("predicate", {}).get("buildDefinition", {}).get("buildType")
    if build_type != signing.BUILD_TYPE:
        raise BundleError(f"{what}: buildType {build_type!r} is not {signing.BUILD_TYPE}")
    subjects = statement.get("subject")
    digests = [s.get("digest", {}).get("sha256") for s in subjects
               if isinstance(s, dict)] if isinstance(subjects, list) else []
    if digests != [manifest_sha256]:
        raise BundleError(f"{MANIFEST_PATH}: its sha256 is {manifest_sha256}, but the "
                          f"attestation signs {', '.join(map(str, digests)) or 'no subject'}: "
                          "the manifest was changed after it was signed")
    return Signature("verified" if trusted is not None else "unchecked", tuple(key_ids))


def _check_members(manifest: Mapping[str, Any], members: Mapping[str, bytes]) -> None:
    """Every member must be listed and every listed file there, with its size and sha256."""
    files = manifest["files"]
    paths = [f["path"] for f in files]
    if paths != sorted(set(paths)):
        raise BundleError(f"{MANIFEST_PATH}: files: not sorted by path, or a path twice")
    listed = {MANIFEST_PATH, REPORT_PATH, *paths}
    for name in members:
        if name not in listed and name != ATTESTATION_PATH:
            raise BundleError(f"{name}: in the archive but not listed in the manifest")
    entries = [*files, {"path": REPORT_PATH, **manifest["validation"]}]
    for entry in entries:
        name = entry["path"]
        data = _member(members, name)
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != entry["size"] or digest != entry["sha256"]:
            raise BundleError(f"{name}: sha256 {digest} ({len(data)} bytes), but the manifest "
                              f"lists {entry['sha256']} ({entry['size']} bytes): changed "
                              "after the build")


def _records(manifest: Mapping[str, Any], members: Mapping[str, bytes]) -> list[Item]:
    records = []
    for entry in manifest["files"]:
        name = entry["path"]
        kind = _DIRS.get(name.split("/")[1], "")
        if kind != entry["kind"] or entry["mediaType"] != MEDIA_TYPES.get(kind):
            raise BundleError(f"{MANIFEST_PATH}: files: {name} is listed as {entry['kind']} "
                              f"({entry['mediaType']}), which its path does not hold")
        raw = _document(name, members[name])
        _check(name, def_problems(kind, raw))
        if "namespace" not in raw:
            raise BundleError(f"{name}: namespace: is required")
        _check(name, field_problems(kind, raw))
        item = from_json(kind, raw)
        if item.file != name:
            raise BundleError(f"{name}: holds {kind} {item.key!r} of namespace "
                              f"{item.namespace!r}, whose file is {item.file}")
        records.append(item)
    return records


def _check_namespaces(manifest: Mapping[str, Any], records: Sequence[Item]) -> None:
    for ns in manifest["namespaces"]:
        for kind, field in (("agent", "agents"), ("policy", "policies"),
                            ("packet", "packets"), ("contract", "contracts")):
            held = sorted(r.key for r in records
                          if kind == r.KIND and r.namespace == ns["name"])
            if ns[field] != held:
                raise BundleError(f"{MANIFEST_PATH}: namespaces: {ns['name']}.{field} lists "
                                  f"{ns[field]}, the files hold {held}")
