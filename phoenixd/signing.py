"""The daemon's Ed25519 handoff-signing key: created once in the data dir, then reused."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from phoenixd.core.tokens import HandoffKeyInfo
from phoenixd.store.fsio import shared_mode, write_private

__all__ = ["KEY_FILE", "Ed25519Signer", "HandoffKeyInfo", "load_or_create"]

KEY_FILE = "handoff.key"


class Ed25519Signer:
    """Signs handoff tokens (the core's Signer)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        # A short, stable name for the key, so tokens say which key signed them.
        self.key_id = "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]
        self.info = HandoffKeyInfo(
            public_key=raw,
            public_key_pem=key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode(),
            key_id=self.key_id,
        )

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


class HandoffKeyError(ValueError):
    """The key file exists but cannot be used (restore it, or move it away to make a new one)."""


def load_or_create(data_dir: Path) -> Ed25519Signer:
    """The key in ``data_dir/handoff.key`` (PEM, mode 0600), made on first start."""
    path = data_dir / KEY_FILE
    if path.exists():
        if (mode := shared_mode(path)) is not None:
            raise HandoffKeyError(
                f"{path} has mode {mode:o}: other users can read or replace the key that "
                f"signs handoff tokens. Make it private (chmod 600 {path}) and start again"
            )
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as exc:
            raise HandoffKeyError(f"{path} is not a readable private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise HandoffKeyError(f"{path} does not hold an Ed25519 private key")
        return Ed25519Signer(key)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private(path, pem)
    return Ed25519Signer(key)
