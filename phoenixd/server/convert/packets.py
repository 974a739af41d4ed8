"""Flight Packets: the core's packet records, specs, tokens and decisions as messages."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from phoenixd.core.dispatch import PacketSpec
from phoenixd.core.errors import InvalidArgument
from phoenixd.core.namespaces import DEFAULT_NAMESPACE
from phoenixd.core.packets import Packet, PacketStatus, Policy, Strategy
from phoenixd.core.scheduler import recorded_candidates
from phoenixd.core.tokens import HandoffToken
from phoenixd.server.convert.wire import dict_from_struct, struct_from_dict, timestamp
from phoenixflight_api.v1 import packet_pb2 as pkt
from phoenixflight_api.v1 import packet_service_pb2 as svc

__all__ = [
    "assignment_to_pb", "decision_to_pb", "packet_status_from_pb", "packet_status_to_pb",
    "packet_to_pb",
    "revocation_to_pb", "spec_from_pb", "token_to_pb",
]

_STATUS_TO_PB = {
    PacketStatus.PENDING: pkt.PACKET_STATUS_PENDING,
    PacketStatus.ASSIGNED: pkt.PACKET_STATUS_ASSIGNED,
    PacketStatus.RUNNING: pkt.PACKET_STATUS_RUNNING,
    PacketStatus.COMPLETED: pkt.PACKET_STATUS_COMPLETED,
    PacketStatus.FAILED: pkt.PACKET_STATUS_FAILED,
    PacketStatus.CANCELLED: pkt.PACKET_STATUS_CANCELLED,
}
_STATUS_FROM_PB: dict[int, PacketStatus] = {int(v): k for k, v in _STATUS_TO_PB.items()}
_STRATEGY_TO_PB = {
    Strategy.RING: pkt.STRATEGY_RING,
    Strategy.BINPACK_SPREAD: pkt.STRATEGY_BINPACK_SPREAD,
    Strategy.BINPACK_PACK: pkt.STRATEGY_BINPACK_PACK,
    Strategy.TRUST: pkt.STRATEGY_TRUST,
}
_STRATEGY_FROM_PB: dict[int, Strategy] = {int(v): k for k, v in _STRATEGY_TO_PB.items()}


def packet_status_from_pb(status: int) -> PacketStatus:
    found = _STATUS_FROM_PB.get(status)
    if found is None:
        raise InvalidArgument(
            f"status {status} is not a packet status; use PENDING, ASSIGNED, RUNNING, "
            "COMPLETED, FAILED or CANCELLED"
        )
    return found


def packet_status_to_pb(status: PacketStatus) -> pkt.PacketStatus.ValueType:
    return _STATUS_TO_PB[status]


def strategy_from_pb(strategy: int) -> Strategy | None:
    """None for STRATEGY_UNSPECIFIED: the daemon's default applies."""
    if strategy == pkt.STRATEGY_UNSPECIFIED:
        return None
    found = _STRATEGY_FROM_PB.get(strategy)
    if found is None:
        raise InvalidArgument(
            f"strategy {strategy} is not known; use RING, BINPACK_SPREAD, BINPACK_PACK or TRUST"
        )
    return found


def spec_from_pb(packet: pkt.FlightPacket) -> PacketSpec:
    """SubmitPacket's envelope as the core's PacketSpec (daemon-owned fields ignored)."""
    policy = packet.policy_constraints
    if not math.isfinite(policy.minimum_trust_score):
        raise InvalidArgument("policy_constraints.minimum_trust_score must be a number")
    return PacketSpec(
        packet_id=packet.packet_id,
        workload_type=packet.workload_type,
        required_capabilities=tuple(packet.required_capabilities),
        state=dict_from_struct(packet.context_checkpoint.state, "context_checkpoint.state"),
        step=packet.context_checkpoint.step,
        policy=Policy(
            policy.minimum_trust_score, tuple(policy.allowed_regions),
            policy.pii_review_required, policy.label_selector,
        ),
        # An envelope without a handoff section may move (the seed's default).
        handoff_allowed=packet.handoff.allowed if packet.HasField("handoff") else True,
        lineage_id=packet.audit.lineage_id,
        demand_cpu=packet.demand.cpu,
        demand_memory=packet.demand.memory,
        routing_key=packet.routing_key,
        strategy=strategy_from_pb(packet.strategy),
        max_attempts=packet.max_attempts,
        namespace=packet.namespace or DEFAULT_NAMESPACE,
    )


def token_to_pb(token: HandoffToken | None) -> pkt.HandoffToken:
    if token is None:
        return pkt.HandoffToken()
    return pkt.HandoffToken(
        packet_id=token.packet_id,
        epoch=token.epoch,
        from_member=token.from_member,
        to_member=token.to_member,
        state_hash=token.state_hash,
        issued_at=token.issued_at,
        signature=bytes.fromhex(token.signature),
        key_id=token.key_id,
    )


def _policy_to_pb(policy: Policy) -> pkt.PolicyConstraints:
    return pkt.PolicyConstraints(
        minimum_trust_score=policy.minimum_trust_score,
        allowed_regions=list(policy.allowed_regions),
        pii_review_required=policy.pii_review_required,
        label_selector=policy.label_selector,
    )


def packet_to_pb(packet: Packet, *, full: bool = True) -> pkt.FlightPacket:
    """The packet; without ``full``, its checkpoint state and result are left out."""
    cp = packet.checkpoint
    return pkt.FlightPacket(
        packet_id=packet.packet_id,
        workload_type=packet.workload_type,
        required_capabilities=list(packet.required_capabilities),
        current_owner=packet.owner,
        previous_owners=list(packet.previous_owners),
        context_checkpoint=pkt.ContextCheckpoint(
            state=struct_from_dict(cp.state if full else {}), step=cp.step,
            state_hash=cp.state_hash,
            epoch=cp.epoch, saved_by=cp.saved_by, save_time=timestamp(cp.save_time),
        ),
        policy_constraints=_policy_to_pb(packet.policy),
        handoff=pkt.HandoffPolicy(allowed=packet.handoff_allowed, reason=packet.handoff_reason),
        audit=pkt.PacketAudit(
            create_time=timestamp(packet.create_time), last_event=packet.last_event,
            lineage_id=packet.lineage_id, update_time=timestamp(packet.update_time),
        ),
        status=_STATUS_TO_PB[packet.status],
        demand=pkt.Demand(cpu=packet.demand_cpu, memory=packet.demand_memory),
        routing_key=packet.routing_key,
        strategy=_STRATEGY_TO_PB[packet.strategy],
        attempts=packet.attempts,
        max_attempts=packet.max_attempts,
        epoch=packet.epoch,
        failure_reason=packet.failure_reason,
        result=struct_from_dict(packet.result if full else {}),
        handoff_token=token_to_pb(packet.handoff_token),
        revision=packet.revision,
        namespace=packet.namespace,
    )


def decision_to_pb(
    raw: Mapping[str, Any], packet: Mapping[str, Any], epoch: int, sequence: int
) -> svc.Decision:
    """A decision as recorded in its event (and the packet record beside it)."""
    policy = Policy.from_dict(packet["policy"])
    return svc.Decision(
        packet_id=raw["packet_id"],
        epoch=epoch,
        strategy=_STRATEGY_TO_PB[Strategy(raw["strategy"])],
        winner=raw["winner"],
        candidates=[
            svc.Candidate(member_id=c.member_id, score=c.score or 0.0, eligible=not c.rejected_by,
                          rejected_by=c.rejected_by)
            for c in recorded_candidates(raw)
        ],
        policy=_policy_to_pb(policy),
        considered=raw["considered"],
        rejected_counts=dict(raw["rejected_counts"]),
        trigger=raw["trigger"],
        sequence=sequence,
        explanation=raw["explanation"],
    )


def assignment_to_pb(packet: Packet) -> pkt.Assignment:
    """A packet as its owner receives it: the packet, its epoch and its signed token."""
    return pkt.Assignment(
        packet=packet_to_pb(packet), epoch=packet.epoch,
        handoff_token=token_to_pb(packet.handoff_token),
    )


def revocation_to_pb(packet_id: str, epoch: int, reason: str) -> pkt.Revocation:
    """The end of an owner's hold on a packet at ``epoch``."""
    return pkt.Revocation(packet_id=packet_id, epoch=epoch, reason=reason)
