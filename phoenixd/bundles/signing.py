"""Offline signing: Ed25519 keys, in-toto Statements, DSSE envelopes.

The attestation is an in-toto Statement v1 whose subject is the manifest (by its sha256)
and whose predicate is SLSA Provenance v1 (buildType PhoenixFile@v1), serialised as RFC 8785
canonical JSON and wrapped in a DSSE envelope. The signature covers DSSE's pre-authentication
encoding (PAE) of the payload type and the payload bytes, never re-parsed JSON. A key's id is
the sha256 (hex) of its raw 32-byte public key. Ed25519 signatures are deterministic, so a
signed build with the same inputs is byte for byte the same.

Key files are PEM: PKCS#8 for the private key (written 0600, never overwritten), SPKI
("BEGIN PUBLIC KEY") for the public one. A trusted-keys file holds one or more public keys
one after another; a directory of such files (``*.pub`` or ``*.pem``) works too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from phoenixflight_api import protocol

__all__ = [
    "BUILD_TYPE", "PAYLOAD_TYPE", "PREDICATE_TYPE", "STATEMENT_TYPE", "KeyFileError",
    "SignatureError", "generate_keys", "key_id", "load_private_key", "load_trusted_keys", "pae",
    "sign", "strict_b64decode", "verify",
]

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://phoenixflight.dev/PhoenixFile@v1"
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----.*?-----END \1-----", re.DOTALL)
_KEY_SUFFIXES = (".pub", ".pem")


class KeyFileError(ValueError):
    """A key file that cannot be used; the message names it and says why."""


class SignatureError(ValueError):
    """The attestation is malformed, its signature does not verify, or its key is not
    trusted."""


def key_id(public: Ed25519PublicKey) -> str:
    """sha256 (hex) of the raw 32-byte public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def generate_keys(private_path: Path, public_path: Path) -> Ed25519PrivateKey:
    """A new key pair in two PEM files; the private one is created 0600 and neither may
    exist yet (KeyFileError if one does: nothing is written then)."""
    for path in (private_path, public_path):
        if path.exists() or path.is_symlink():
            raise KeyFileError(f"{path} exists: move it away, or choose another name "
                            "(a key is never overwritten)")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with open(fd, "wb") as f:
        f.write(private)
    try:
        fd = os.open(public_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError:
        private_path.unlink()
        raise
    with open(fd, "wb") as f:
        f.write(public)
    return key


def load_private_key(path: Path) -> Ed25519PrivateKey:
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key (phoenix keygen makes one)")
    return key


def load_trusted_keys(path: Path) -> list[Ed25519PublicKey]:
    """The public keys in a PEM file (one or more), or in the *.pub / *.pem files of a
    directory. KeyFileError if there are none or one is not an Ed25519 public key."""
    files = (sorted(p for p in path.iterdir() if p.suffix in _KEY_SUFFIXES)
             if path.is_dir() else [path])
    keys = []
    for file in files:
        blocks = [m for m in _PEM_BLOCK.finditer(file.read_bytes())]
        for match in blocks:
            if match.group(1) != b"PUBLIC KEY":
                raise KeyFileError(f"{file} holds a {match.group(1).decode().lower()}: a trusted "
                                "keys file holds public keys only (BEGIN PUBLIC KEY)")
            try:
                key = serialization.load_pem_public_key(match.group())
            except ValueError as exc:
                raise KeyFileError(f"{file}: not a readable public key: {exc}") from None
            if not isinstance(key, Ed25519PublicKey):
                raise KeyFileError(f"{file}: not an Ed25519 public key")
            keys.append(key)
    if not keys:
        raise KeyFileError(f"{path}: no public key found (PEM, -----BEGIN PUBLIC KEY-----"
                        f"{'; files *.pub or *.pem' if path.is_dir() else ''})")
    return keys


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def sign(statement: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The DSSE envelope of ``statement`` (canonical JSON), signed by ``key``."""
    payload = protocol.canonical_json(statement).encode()
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": key_id(key.public_key()),
                            "sig": base64.b64encode(signature).decode()}]}


def strict_b64decode(text: str, what: str) -> bytes:
    """Standard base64 in its one canonical spelling: any other is refused, so that no
    changed character of an envelope decodes to the same bytes."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"{what} is not base64") from None
    if base64.b64encode(data).decode() != text:
        raise SignatureError(f"{what} is not canonical base64")
    return data


def verify(envelope: Mapping[str, Any], trusted: Sequence[Ed25519PublicKey] | None
           ) -> tuple[bytes, list[str]]:
    """The payload of a schema-valid DSSE envelope and the ids of the keys that signed it.

    With ``trusted`` None no signature is checked (their form still is); otherwise at
    least one signature must verify under a trusted key.
    """
    payload = strict_b64decode(envelope["payload"], "payload")
    signatures = [(s["keyid"], strict_b64decode(s["sig"], f"signatures[{i}].sig"))
                  for i, s in enumerate(envelope["signatures"])]
    if trusted is None:
        return payload, [k for k, _ in signatures]
    by_id = {key_id(k): k for k in trusted}
    signed = pae(envelope["payloadType"], payload)
    good, untrusted = [], []
    for keyid, sig in signatures:
        key = by_id.get(keyid)
        if key is None:
            untrusted.append(keyid)
            continue
        try:
            key.verify(sig, signed)
        except InvalidSignature:
            raise SignatureError(f"the signature by key {keyid} does not verify: the "
                                 "attestation was changed after it was signed") from None
        good.append(keyid)
    if not good:
        raise SignatureError(f"signed by key {', '.join(untrusted)}, which is not among the "
                             f"{len(by_id)} trusted key(s)")
    return payload, good
