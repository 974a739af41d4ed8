"""Scenario: the handoff token. It verifies with the public key GetHandoffKey serves, over the
documented signed lines, and it fails once the checkpoint (its state_hash) is altered."""

from __future__ import annotations

import hashlib
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from phoenixflight_api.v1 import packet_pb2
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope
from tests.daemon import PhoenixProcess


def signed(token: packet_pb2.HandoffToken, state_hash: str | None = None) -> bytes:
    lines = ["phoenixflight-handoff-v1", token.packet_id, str(token.epoch), token.from_member,
             token.to_member, state_hash or token.state_hash, token.issued_at]
    return "\n".join(lines).encode()


def canonical(state: dict[str, object]) -> str:
    """RFC 8785 for this state (strings and integral numbers): what any member can compute."""
    return json.dumps(state, sort_keys=True, separators=(",", ":"))


def test_the_token_verifies_and_binds_the_checkpoint(daemon: PhoenixProcess) -> None:
    first = Agent(daemon, "agent-a", "ocr", trust_score=0.9)
    Agent(daemon, "agent-b", "ocr", trust_score=0.5)
    packets = daemon.packets
    packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-1", "ocr")))
    first.checkpoint("fp-1", 1, {"case_id": "CUST-1", "page": 7}, "ocr-page-7")
    moved = packets.HandoffPacket(ppb.HandoffPacketRequest(
        packet_id="fp-1", target_member_id="agent-b", reason="rebalance by hand")).packet
    token = moved.handoff_token
    assert (token.from_member, token.to_member, token.epoch) == ("agent-a", "agent-b", 2)

    key = packets.GetHandoffKey(ppb.GetHandoffKeyRequest())
    assert key.algorithm == "Ed25519"
    assert token.key_id == key.key_id
    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    public.verify(token.signature, signed(token))  # raises if forged

    # The receiver re-derives the hash from the checkpoint it got.
    state = {"case_id": "CUST-1", "page": 7}
    derived = "sha256:" + hashlib.sha256(canonical(state).encode()).hexdigest()
    assert derived == moved.context_checkpoint.state_hash == token.state_hash

    altered = {"case_id": "CUST-1", "page": 8}
    altered_hash = "sha256:" + hashlib.sha256(canonical(altered).encode()).hexdigest()
    with pytest.raises(InvalidSignature):
        public.verify(token.signature, signed(token, altered_hash))
