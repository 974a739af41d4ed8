"""The seed's own routes, as a compatibility surface: ``POST /api/members/register`` with the
seed's flat member body and ``POST /api/packets`` with its Flight Packet envelope.

Each body is rewritten into the JSON of the RPC's request (RegisterMemberRequest,
SubmitPacketRequest) and then served exactly as the /v1 route of that RPC is: parsed by the
same json_format (so a field it does not know is still refused by name), through the same
Guard, validation and errors. Nothing here decides anything about members or packets: it only
renames. A field the seed shows that the daemon owns (the owner, the status, a hash the
daemon computes, history it records itself) is refused with 400 naming it and saying why,
rather than ignored: the seed's envelope is a packet as the daemon shows it in flight, and
accepting ``"current_owner": "agent-customer-01"`` while assigning another member would let a
caller believe what is not so.
"""

from __future__ import annotations

from typing import Any

from phoenixd.http.transcode import BadRequest

__all__ = ["MEMBER_KINDS", "member_registration", "packet_submission"]

# The seed's member "type" values, as MemberKind names.
MEMBER_KINDS = {"agent": "MEMBER_KIND_AGENT", "tool": "MEMBER_KIND_TOOL",
                "service": "MEMBER_KIND_SERVICE", "node": "MEMBER_KIND_NODE"}
# The seed's member fields that RegisterMemberRequest names the same.
_MEMBER_SAME = ("capabilities", "trust_score", "reliability", "labels", "lease_ttl",
                "namespace", "credential")
_MEMBER_OWNED = {
    "status": "every registered member starts ACTIVE; the daemon moves it on (drain, retire, "
              "a missed lease)",
    "load": "the daemon counts the load of what it assigned; a member reports its own with "
            "its heartbeats",
    "incarnation": "the daemon numbers each registration of an id",
}

# The envelope's fields that FlightPacket names the same (the seed's, then the API's own).
_PACKET_SAME = ("packet_id", "workload_type", "required_capabilities", "policy_constraints",
                "demand", "routing_key", "strategy", "max_attempts", "namespace")
_PACKET_OWNED = {
    "current_owner": "the scheduler picks the owner among the eligible members (POST "
                     "/v1/packets/{packet_id}:handoff moves it later)",
    "status": "a submitted packet starts PENDING and the daemon moves it on",
    "previous_owners": "the daemon records every owner itself, in the hash-chained Flight "
                       "Recorder (GET /v1/packets/{packet_id}/lineage); owners claimed by a "
                       "caller could not be verified there, so link earlier history with "
                       "audit.lineage_id or carry it in context_checkpoint",
    "context_checkpoint.state_hash": "the daemon computes it from the state (sha256 of its "
                                     "canonical JSON)",
    "handoff.reason": "it says why the daemon last moved the packet",
    "audit.created_at": "the daemon records when it accepted the packet",
    "audit.last_event": "it is the type of the daemon's last event about the packet",
}


def member_registration(body: Any) -> dict[str, Any]:
    """The seed's member body (``id``, ``type``, ``capabilities``, ``cpu_capacity``,
    ``memory_capacity``, ``trust_score``, ...) as RegisterMemberRequest's JSON."""
    body = _object(body, "the body")
    _refuse_owned(body, _MEMBER_OWNED, "POST /api/members/register")
    request: dict[str, Any] = {}
    capacity: dict[str, Any] = {}
    for key, value in body.items():
        if key == "id":
            request["member_id"] = value
        elif key == "type":
            request["kind"] = _kind(value)
        elif key in ("cpu_capacity", "memory_capacity"):
            capacity[key.removesuffix("_capacity")] = value
        elif key in _MEMBER_SAME:
            request[key] = value
        else:
            known = ", ".join(("id", "type", "cpu_capacity", "memory_capacity", *_MEMBER_SAME))
            raise BadRequest(f"{key!r} is not a field of the seed's member (fields: {known}); "
                             "POST /v1/members takes every field of RegisterMember")
    if capacity:
        request["capacity"] = capacity
    return request


def packet_submission(body: Any) -> dict[str, Any]:
    """The seed's Flight Packet envelope as SubmitPacketRequest's JSON. Its
    ``context_checkpoint`` is flat, as the seed shows it: ``step`` and the state's own keys
    (``case_id``, ...) side by side."""
    body = _object(body, "the body")
    _refuse_owned(body, _PACKET_OWNED, "POST /api/packets")
    packet: dict[str, Any] = {}
    for key, value in body.items():
        if key in _PACKET_SAME:
            packet[key] = value
        elif key in ("current_owner", "status", "previous_owners"):
            continue  # empty: refused above otherwise
        elif key == "context_checkpoint":
            checkpoint = _object(value, "context_checkpoint")
            state = {k: v for k, v in checkpoint.items() if k not in ("step", "state_hash")}
            packet[key] = {"state": state, "step": checkpoint.get("step", "")}
        elif key == "handoff":
            packet[key] = {k: v for k, v in _object(value, key).items() if k != "reason"}
        elif key == "audit":
            packet[key] = {k: v for k, v in _object(value, key).items()
                           if k not in ("created_at", "last_event")}
        else:
            known = ", ".join(("context_checkpoint", "handoff", "audit", *_PACKET_SAME))
            raise BadRequest(f"{key!r} is not a field of the Flight Packet envelope (fields: "
                             f"{known}); POST /v1/packets takes every field of FlightPacket")
    return {"packet": packet}


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object, not {type(value).__name__}")
    return value


def _kind(value: Any) -> str:
    kind = MEMBER_KINDS.get(value.lower()) if isinstance(value, str) else None
    if kind is None:
        raise BadRequest(f"type {value!r} is not one of {', '.join(MEMBER_KINDS)}")
    return kind


def _refuse_owned(body: dict[str, Any], owned: dict[str, str], route: str) -> None:
    """400 naming every daemon-owned field the body sets (to anything but empty), and why."""
    given = []
    for dotted, why in owned.items():
        head, _, leaf = dotted.partition(".")
        holder = body.get(head) if leaf else body
        if isinstance(holder, dict) and holder.get(leaf or head) not in (None, "", [], {}):
            given.append(f"{dotted} ({why})")
    if given:
        raise BadRequest(f"{route}: the daemon sets these fields, not the caller; leave them "
                         f"out: {'; '.join(given)}")
