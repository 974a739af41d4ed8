"""A build pins its dependencies by bundle id and refuses a mismatch; its time comes from
SOURCE_DATE_EPOCH only; its manifest and attestation say what the format promises."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from phoenixd.bundles import (
    PhoenixFileError,
    build_bundle,
    parse_phoenixfile,
    resolve_dependencies,
    source_date_epoch,
    write_bundle,
)
from phoenixd.bundles.archive import unpack
from phoenixd.bundles.manifest import ATTESTATION_PATH, MANIFEST_PATH
from phoenixd.bundles.signing import PAYLOAD_TYPE, pae, strict_b64decode
from tests.bundles.conftest import HEADER


def test_source_date_epoch() -> None:
    assert source_date_epoch({}) == 0
    assert source_date_epoch({"SOURCE_DATE_EPOCH": "1767225600"}) == 1767225600
    with pytest.raises(ValueError, match="not a number of seconds"):
        source_date_epoch({"SOURCE_DATE_EPOCH": "-5"})


def test_the_manifest_and_the_attestation(signed: bytes) -> None:
    members, mtime = unpack(signed)
    manifest = json.loads(members[MANIFEST_PATH])
    assert manifest["created"] == "1970-01-01T00:00:00Z" and mtime == 0
    assert [f["path"] for f in manifest["files"]] == sorted(f["path"] for f in manifest["files"])
    assert sorted(members) == sorted([MANIFEST_PATH, ATTESTATION_PATH,
                                      "reports/namespace-validation.json",
                                      *(f["path"] for f in manifest["files"])])
    envelope = json.loads(members[ATTESTATION_PATH])
    statement = json.loads(strict_b64decode(envelope["payload"], "payload"))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["predicate"]["buildDefinition"]["buildType"].endswith("/PhoenixFile@v1")
    assert statement["subject"][0]["digest"]["sha256"] == hashlib.sha256(
        members[MANIFEST_PATH]).hexdigest()
    assert pae(PAYLOAD_TYPE, b"hi") == b"DSSEv1 28 application/vnd.in-toto+json 2 hi"


def test_dependencies_are_pinned_by_bundle_id(tmp_path: Path) -> None:
    dep = parse_phoenixfile((HEADER.replace("acme.test", "acme.shared")
                             + "policies: [{name: strict}]\n").encode())
    built = build_bundle(dep)
    write_bundle(built, tmp_path / "vendor")
    digest = built.bundle_id.removeprefix("sha256:")

    def app(entry: str) -> list[str] | dict[str, str]:
        source = parse_phoenixfile((HEADER + f"dependencies: [{entry}]\n").encode(),
                                   base=tmp_path)
        try:
            return resolve_dependencies(source)
        except PhoenixFileError as exc:
            return list(exc.problems)

    assert app("{name: acme.shared, version: 1.0.0, directory: vendor}") == {
        "acme.shared@1.0.0": digest}
    assert app(f"{{name: acme.shared, version: 1.0.0, path: vendor/acme.shared-1.0.0.pflight,"
               f" sha256: '{digest}'}}") == {"acme.shared@1.0.0": digest}
    wrong = "0" * 64
    assert app(f"{{name: acme.shared, version: 1.0.0, directory: vendor, sha256: '{wrong}'}}"
               ) == [f"PhoenixFile:3: dependencies[0].sha256: acme.shared@1.0.0 is pinned to "
                     f"{wrong}, but acme.shared-1.0.0.pflight is sha256:{digest}"]
    (tmp_path / "vendor" / "acme.other-1.0.0.pflight").write_bytes(built.data)
    assert app("{name: acme.other, version: 1.0.0, directory: vendor}") == [
        "PhoenixFile:3: dependencies[0]: acme.other-1.0.0.pflight is acme.shared@1.0.0, "
        "not acme.other@1.0.0"]
    problems = app("{name: acme.gone, version: 1.0.0, directory: vendor}")
    assert isinstance(problems, list) and "No such file" in problems[0]
    source = parse_phoenixfile((HEADER + "dependencies: [{name: acme.shared, version: 1.0.0, "
                                "directory: vendor}]\n").encode(), base=tmp_path)
    manifest = build_bundle(source, dependencies=resolve_dependencies(source)).manifest
    assert manifest["dependencies"] == [{"ref": "acme.shared@1.0.0", "sha256": digest}]
