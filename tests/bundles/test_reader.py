"""Reading a bundle verifies every byte: one flipped bit in any member, or in the compressed
file, a missing or extra member, a bad signature, an untrusted key or no signature is
refused with the member at fault named; a whole bundle reads back as the records built."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tarfile
import zlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from phoenixd.bundles import BundleError, PhoenixFile, build_bundle, read_bundle
from phoenixd.bundles.archive import pack, unpack
from phoenixd.bundles.manifest import ATTESTATION_PATH, MANIFEST_PATH, canonical
from tests.bundles.conftest import phoenixfile


def refusal(data: bytes, key: Ed25519PrivateKey, **kw: bool) -> str:
    with pytest.raises(BundleError) as caught:
        read_bundle(data, [key.public_key()], **kw)
    return str(caught.value)


def repacked(signed: bytes, change: dict[str, bytes | None]) -> bytes:
    """The bundle with members replaced (or removed, for None), packed as the build does."""
    members, mtime = unpack(signed)
    for name, data in change.items():
        if data is None:
            members.pop(name)
        else:
            members[name] = data
    return pack(members, mtime)


def test_a_whole_bundle_reads_back_as_built(example: PhoenixFile, key: Ed25519PrivateKey,
                                            signed: bytes) -> None:
    bundle = read_bundle(signed, [key.public_key()])
    assert bundle.bundle_id == build_bundle(example).bundle_id  # the signature is not in it
    assert (bundle.name, bundle.version) == ("acme.customer-validation-app", "0.1.0")
    assert bundle.signature.status == "verified"
    for kind in ("agents", "policies", "contracts", "packets"):
        assert sorted(getattr(bundle, kind), key=lambda r: r.file) == sorted(
            getattr(example, kind), key=lambda r: r.file)
    fp1 = next(p for p in bundle.packets if p.packet_id == "fp-001")
    assert (fp1.namespace, fp1.envelope["policy"]) == ("customer-care", "pii-us-east")
    policy = bundle.policy(fp1.namespace, fp1.policy)
    assert policy is not None and policy.constraints()["minimum_trust_score"] == 0.9


def test_packets_listed_out_of_path_order_read_back(key: Ed25519PrivateKey) -> None:
    # p2 sorts after p10 by path: the reader sees the packets in the archive's order, the build
    # in the PhoenixFile's, and both must compute the same report.
    packets = "".join(f"""
      - packet_id: p{i}
        workload_type: ocr""" for i in (2, 10, 1))
    bundle = read_bundle(build_bundle(phoenixfile(f"packets:{packets}"), key=key).data,
                         [key.public_key()])
    assert [p.packet_id for p in bundle.packets] == ["p1", "p10", "p2"]
    assert [p["packet_id"] for p in bundle.report["packets"]] == ["p1", "p10", "p2"]


def test_building_twice_gives_the_same_bytes(example: PhoenixFile, key: Ed25519PrivateKey
                                             ) -> None:
    assert build_bundle(example, key=key, epoch=1767225600).data == build_bundle(
        example, key=key, epoch=1767225600).data
    assert build_bundle(example).data != build_bundle(example, epoch=1).data


def test_one_flipped_bit_in_any_member_is_refused_naming_it(signed: bytes,
                                                            key: Ed25519PrivateKey) -> None:
    members, _ = unpack(signed)
    flips = 0
    for name, data in members.items():
        for at in sorted({0, len(data) // 2, len(data) - 1}):
            for bit in (0, 5):
                changed = bytearray(data)
                changed[at] ^= 1 << bit
                message = refusal(repacked(signed, {name: bytes(changed)}), key)
                # A changed manifest no longer has the digest the attestation signs.
                assert message.startswith(name + ":"), (name, at, bit, message)
                flips += 1
    assert len(members) == 10 and flips == 10 * 3 * 2


def test_every_flipped_bit_of_the_compressed_file_fails_cleanly_or_changes_nothing(
        signed: bytes, key: Ed25519PrivateKey) -> None:
    # Every bit of every byte (about 24,000 reads of a 3 KB archive). Deflate can spell the
    # same bytes more than one way (a match copying equal bytes from another distance), so
    # a few flips decode to the very tar that was built: they change no byte of any member
    # or header, and the bundle reads as itself. Every other flip is refused as a
    # BundleError (never another exception) naming the archive or a member.
    tar = zlib.decompress(signed, wbits=31)
    refused = same = 0
    for at in range(len(signed)):
        for bit in range(8):
            changed = bytearray(signed)
            changed[at] ^= 1 << bit
            try:
                read_bundle(bytes(changed), [key.public_key()])
            except BundleError as exc:
                assert str(exc).startswith(("archive:", "manifest.json:", "files/",
                                            "reports/", "attestations/")), exc
                refused += 1
                continue
            assert zlib.decompress(bytes(changed), wbits=31) == tar, (at, bit)
            same += 1
    assert refused + same == 8 * len(signed) and same < len(signed) // 100
    assert refusal(signed[:-1], key).startswith("archive:")
    assert refusal(signed + b"\0", key).startswith("archive:")


def test_missing_and_extra_members(signed: bytes, key: Ed25519PrivateKey) -> None:
    agent = "files/agents/customer-care/agent-eu-03.json"
    assert refusal(repacked(signed, {agent: None}), key) == (
        f"{agent}: missing from the archive")
    extra = "files/agents/customer-care/agent-extra.json"
    assert refusal(repacked(signed, {extra: b"{}"}), key) == (
        f"{extra}: in the archive but not listed in the manifest")
    assert refusal(repacked(signed, {MANIFEST_PATH: None}), key) == (
        "manifest.json: missing from the archive")


def test_a_changed_tar_header_is_refused_naming_the_member(signed: bytes,
                                                           key: Ed25519PrivateKey) -> None:
    members, mtime = unpack(signed)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(members[name]), mtime
            info.mode = 0o755 if name == MANIFEST_PATH else 0o644
            tar.addfile(info, io.BytesIO(members[name]))
    gzipped = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gzipped, compresslevel=9, mtime=0) as gz:
        gz.write(out.getvalue())
    data = gzipped.getvalue()
    assert refusal(data, key).startswith("archive: manifest.json: its tar header")


def test_signatures_keys_and_unsigned_bundles(example: PhoenixFile, signed: bytes,
                                              key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    assert "which is not among the 1 trusted key(s)" in refusal(signed, other)
    # Another key's envelope over the same statement: well-formed, not trusted.
    resigned = build_bundle(example, key=other).data
    assert refusal(resigned, key).startswith(f"{ATTESTATION_PATH}: signed by key ")
    unsigned = build_bundle(example).data
    assert refusal(unsigned, key).startswith(f"{ATTESTATION_PATH}: missing: the bundle is "
                                             "unsigned")
    assert read_bundle(unsigned, [key.public_key()], allow_unsigned=True
                       ).signature.status == "unsigned"
    # Without trusted keys nothing is checked but that the bundle is whole.
    assert read_bundle(signed, None).signature.status == "unchecked"


def test_a_bad_signature_names_the_attestation(signed: bytes, key: Ed25519PrivateKey) -> None:
    members, _ = unpack(signed)
    envelope = json.loads(members[ATTESTATION_PATH])
    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[0] ^= 1
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    message = refusal(repacked(signed, {ATTESTATION_PATH: canonical(envelope)}), key)
    assert message == (f"{ATTESTATION_PATH}: the signature by key "
                       f"{envelope['signatures'][0]['keyid']} does not verify: the "
                       "attestation was changed after it was signed")
