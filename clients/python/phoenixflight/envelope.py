"""Flight Packet envelopes: the seed's JSON shape (or the API's) as a FlightPacket to submit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format

from phoenixflight_api.v1.packet_pb2 import FlightPacket

__all__ = ["STRATEGIES", "packet_from_envelope"]

# Fields the daemon sets; an envelope copied from a running system may carry them.
_DAEMON_OWNED = ("current_owner", "previous_owners", "status", "epoch", "attempts",
                 "handoff_token", "revision", "failure_reason", "result")
STRATEGIES = {
    "ring": "STRATEGY_RING",
    "binpack": "STRATEGY_BINPACK_SPREAD",
    "spread": "STRATEGY_BINPACK_SPREAD",
    "pack": "STRATEGY_BINPACK_PACK",
    "trust": "STRATEGY_TRUST",
}


def packet_from_envelope(raw: Mapping[str, Any]) -> FlightPacket:
    """Accepts the seed's envelope (a flat ``context_checkpoint`` with ``step``) or the API's
    JSON (``context_checkpoint.state``), optionally wrapped in ``{"packet": ...}``.

    Raises ValueError naming the field that does not fit.
    """
    data = dict(raw.get("packet", raw)) if isinstance(raw.get("packet"), Mapping) else dict(raw)
    for name in _DAEMON_OWNED:
        data.pop(name, None)
    checkpoint = data.get("context_checkpoint")
    if checkpoint is not None and not isinstance(checkpoint, Mapping):
        raise ValueError("context_checkpoint must be a JSON object")
    if isinstance(checkpoint, Mapping):
        if not isinstance(checkpoint.get("state", {}), Mapping):
            raise ValueError("context_checkpoint.state must be a JSON object")
        checkpoint = dict(checkpoint)
        checkpoint.pop("state_hash", None)  # the daemon hashes the state itself
        if "state" not in checkpoint:  # the seed's flat form: everything but step is state
            step = checkpoint.pop("step", "")
            checkpoint = {"state": checkpoint, "step": step}
        kept = ("state", "step")
        data["context_checkpoint"] = {k: checkpoint[k] for k in kept if k in checkpoint}
    audit = data.get("audit")
    if isinstance(audit, Mapping):
        data["audit"] = {k: v for k, v in audit.items() if k in ("lineage_id", "lineageId")}
    strategy = data.get("strategy")
    if isinstance(strategy, str) and strategy.lower() in STRATEGIES:
        data["strategy"] = STRATEGIES[strategy.lower()]
    try:
        return json_format.ParseDict(data, FlightPacket())
    except json_format.ParseError as exc:
        raise ValueError(f"not a Flight Packet envelope: {exc}") from None
