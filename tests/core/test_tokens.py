"""Handoff tokens: the signed bytes are the documented plain lines (domain, packet, epoch, from,
to, state hash, issue time), ``issue`` fills the token from what it signed, and with a real
Ed25519 key the signature verifies over ``signed_bytes`` of the token's own fields and fails once
the state hash, the epoch, the receiving member or any other signed field is altered."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from phoenixd.core.tokens import TOKEN_DOMAIN, HandoffToken, issue, signed_bytes

NOW = 1_700_000_000.25
HASH = "sha256:" + hashlib.sha256(b'{"progress":40}').hexdigest()


class RecordingSigner:
    """A fake Signer: remembers what it was asked to sign."""

    key_id = "fake:1"

    def __init__(self) -> None:
        self.signed: list[bytes] = []

    def sign(self, data: bytes) -> bytes:
        self.signed.append(data)
        return b"\x01\x02" + data[:2]


class Ed25519TestSigner:
    """The core's Signer over a real Ed25519 key, as the daemon has."""

    def __init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()
        self.public_key: Ed25519PublicKey = self._key.public_key()
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


def _issue(signer: Ed25519TestSigner | RecordingSigner, **changes: object) -> HandoffToken:
    fields: dict[str, object] = {
        "packet_id": "fp-1", "epoch": 3, "from_member": "m1", "to_member": "m2",
        "state_hash": HASH, "now": NOW,
    }
    fields.update(changes)
    return issue(signer, **fields)  # type: ignore[arg-type]


def _signed_by(token: HandoffToken) -> bytes:
    return signed_bytes(token.packet_id, token.epoch, token.from_member, token.to_member,
                        token.state_hash, token.issued_at)


def test_signed_bytes_are_the_documented_lines() -> None:
    data = signed_bytes("fp-1", 3, "m1", "m2", HASH, "2023-11-14T22:13:20.250000Z")
    assert data == (
        f"phoenixflight-handoff-v1\nfp-1\n3\nm1\nm2\n{HASH}\n2023-11-14T22:13:20.250000Z"
    ).encode()
    assert data.split(b"\n")[0] == TOKEN_DOMAIN.encode()


def test_signed_bytes_of_a_first_assignment_have_an_empty_from_line() -> None:
    lines = signed_bytes("fp-1", 1, "", "m2", HASH, "t").split(b"\n")
    assert lines == [TOKEN_DOMAIN.encode(), b"fp-1", b"1", b"", b"m2", HASH.encode(), b"t"]


def test_issue_fills_the_token_from_what_it_signed() -> None:
    signer = RecordingSigner()
    token = _issue(signer)
    assert (token.packet_id, token.epoch, token.from_member, token.to_member) == (
        "fp-1", 3, "m1", "m2")
    assert token.state_hash == HASH
    assert token.issued_at == "2023-11-14T22:13:20.250000Z"  # RFC 3339, UTC, microseconds
    assert token.key_id == "fake:1"
    assert signer.signed == [_signed_by(token)]
    assert token.signature == signer.sign(signer.signed[0]).hex()


def test_token_to_dict_has_every_field() -> None:
    token = _issue(RecordingSigner())
    assert token.to_dict() == {
        "packet_id": "fp-1", "epoch": 3, "from_member": "m1", "to_member": "m2",
        "state_hash": HASH, "issued_at": "2023-11-14T22:13:20.250000Z",
        "signature": token.signature, "key_id": "fake:1",
    }


def test_ed25519_signature_verifies_over_the_signed_bytes() -> None:
    signer = Ed25519TestSigner()
    token = _issue(signer)
    assert token.key_id == signer.key_id
    signer.public_key.verify(bytes.fromhex(token.signature), _signed_by(token))


def test_ed25519_signature_of_a_first_assignment_verifies() -> None:
    signer = Ed25519TestSigner()
    token = _issue(signer, from_member="", epoch=1)
    signer.public_key.verify(bytes.fromhex(token.signature), _signed_by(token))


@pytest.mark.parametrize(
    "change",
    [
        {"state_hash": "sha256:" + hashlib.sha256(b'{"progress":41}').hexdigest()},
        {"epoch": 4},
        {"epoch": 2},
        {"to_member": "m3"},
        {"from_member": "m9"},
        {"from_member": ""},
        {"packet_id": "fp-2"},
        {"issued_at": "2023-11-14T22:13:21.250000Z"},
    ],
)
def test_ed25519_signature_fails_once_a_signed_field_is_altered(change: dict[str, object]) -> None:
    signer = Ed25519TestSigner()
    token = _issue(signer)
    forged = dataclasses.replace(token, **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidSignature):
        signer.public_key.verify(bytes.fromhex(token.signature), _signed_by(forged))


def test_ed25519_signature_does_not_verify_under_another_key() -> None:
    token = _issue(Ed25519TestSigner())
    other = Ed25519TestSigner()
    with pytest.raises(InvalidSignature):
        other.public_key.verify(bytes.fromhex(token.signature), _signed_by(token))
