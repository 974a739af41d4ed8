"""The operator's packet commands: submit, cancel, hand off, explain."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from phoenixd.core.contracts import check_capabilities, check_state
from phoenixd.core.dispatch.moves import Moves
from phoenixd.core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from phoenixd.core.events import Actor, EventType
from phoenixd.core.namespaces import DEFAULT_NAMESPACE, admit, validate_namespace
from phoenixd.core.packets import (
    Checkpoint,
    Packet,
    PacketStatus,
    Policy,
    Strategy,
    validate_max_attempts,
    validate_policy,
    validate_state,
)
from phoenixd.core.recorder import Recorder
from phoenixd.core.scheduler import Scheduler
from phoenixd.core.state import ClusterState
from phoenixd.core.validation import (
    validate_amounts,
    validate_capabilities,
    validate_member_id,
    validate_name,
    validate_packet_id,
    validate_text,
)

__all__ = ["MAX_ROUTING_KEY", "PacketCommands", "PacketSpec", "check_contract", "new_packet"]

# Routing keys are hashed, so any text will do; a bound keeps records small.
MAX_ROUTING_KEY = 256


@dataclass(frozen=True, slots=True)
class PacketSpec:
    """What SubmitPacket carries (the seed envelope plus scheduling inputs)."""

    packet_id: str
    workload_type: str = ""
    required_capabilities: tuple[str, ...] = ()
    state: Mapping[str, Any] = field(default_factory=dict)
    step: str = ""
    policy: Policy = field(default_factory=Policy)
    handoff_allowed: bool = True
    lineage_id: str = ""
    demand_cpu: float = 0.0
    demand_memory: float = 0.0
    routing_key: str = ""
    strategy: Strategy | None = None
    max_attempts: int = 0
    namespace: str = DEFAULT_NAMESPACE


def new_packet(spec: PacketSpec, now: float, default_strategy: Strategy) -> Packet:
    """The PENDING record ``spec`` asks for, every field checked (but not whether its id is
    free, nor its namespace's quota or contract: the caller checks those against the state)."""
    packet_id = validate_packet_id(spec.packet_id)
    state, hash_ = validate_state(spec.state)
    cpu, memory = validate_amounts(spec.demand_cpu, spec.demand_memory, "demand")
    return Packet(
        packet_id=packet_id,
        workload_type=validate_name(spec.workload_type, "workload_type"),
        required_capabilities=validate_capabilities(spec.required_capabilities),
        status=PacketStatus.PENDING,
        owner="",
        previous_owners=(),
        epoch=0,
        checkpoint=Checkpoint(state, validate_text(spec.step, "step"), hash_, 0, "", now),
        policy=validate_policy(spec.policy),
        handoff_allowed=spec.handoff_allowed,
        handoff_reason="",
        lineage_id=validate_name(spec.lineage_id, "lineage_id") or f"lin-{packet_id}",
        demand_cpu=cpu,
        demand_memory=memory,
        routing_key=validate_text(spec.routing_key, "routing_key", MAX_ROUTING_KEY),
        strategy=spec.strategy or default_strategy,
        attempts=0,
        max_attempts=validate_max_attempts(spec.max_attempts),
        create_time=now,
        update_time=now,
        namespace=validate_namespace(spec.namespace),
    )


def check_contract(state: ClusterState, packet: Packet) -> None:
    """Refuse a packet its namespace's contract for its workload type does not allow."""
    contract = state.contracts.get((packet.namespace, packet.workload_type))
    if contract is not None:
        check_capabilities(contract, packet.required_capabilities)
        check_state(contract, packet.checkpoint.state)


class PacketCommands:
    """What an operator may do to packets."""

    def __init__(
        self,
        state: ClusterState,
        recorder: Recorder,
        scheduler: Scheduler,
        moves: Moves,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._recorder = recorder
        self._scheduler = scheduler
        self._moves = moves
        self._wall = wall_clock

    def submit(self, spec: PacketSpec, actor: str = Actor.OPERATOR) -> Packet:
        """Create a packet (PENDING) and try to place it at once."""
        packet_id = validate_packet_id(spec.packet_id)
        if packet_id in self._state.packets:
            raise AlreadyExists(f"packet {packet_id!r} already exists")
        packet = new_packet(spec, self._wall(), self._scheduler.default_strategy)
        admit(self._state, spec.namespace, f"packet {packet_id!r}", packets=1,
              cpu=packet.demand_cpu, memory=packet.demand_memory)
        check_contract(self._state, packet)
        packet, _ = self._moves.record(EventType.PACKET_CREATED, packet, "submitted", actor=actor)
        return self._moves.place(packet, "submitted")

    def cancel(self, packet_id: str, reason: str) -> Packet:
        packet = self._moves.get(packet_id)
        reason = validate_text(reason, "reason") or "cancelled by operator"
        if packet.status is PacketStatus.CANCELLED:
            return packet
        if packet.status.terminal:
            raise FailedPrecondition(f"packet {packet_id!r} is already {packet.status}")
        owner, epoch = packet.owner, packet.epoch
        cancelled = replace(packet, status=PacketStatus.CANCELLED, failure_reason=reason)
        cancelled, event = self._moves.record(
            EventType.PACKET_CANCELLED, cancelled, reason, actor=Actor.OPERATOR
        )
        self._moves.forget_wait(packet_id)
        if packet.status.owned:
            self._moves.revoke(owner, cancelled, epoch, "packet cancelled", event.sequence)
            self._moves.released(owner)
        return cancelled

    def handoff(self, packet_id: str, target: str, reason: str) -> Packet:
        """Move a packet now (manual handoff), to ``target`` or the scheduler's choice."""
        packet = self._moves.get(packet_id)
        reason = validate_text(reason, "reason") or "manual handoff"
        if target:
            validate_member_id(target, "target_member_id")
            if target not in self._state.members:
                raise NotFound(f"member {target!r} is not registered")
        if packet.status.terminal:
            raise FailedPrecondition(f"packet {packet_id!r} is {packet.status}; nothing to move")
        if packet.status is PacketStatus.PENDING and not target:
            raise FailedPrecondition(
                f"packet {packet_id!r} is PENDING: it has no owner to move it from, and it is "
                "placed as soon as a member is eligible (ExplainAssignment says why none is "
                "yet); name a target member to place it there")
        if not packet.handoff_allowed:
            raise FailedPrecondition(
                f"packet {packet_id!r} has handoff.allowed=false; it moves only if its owner "
                "fails or retires"
            )
        if target and target == packet.owner:
            raise FailedPrecondition(f"member {target!r} already owns packet {packet_id!r}")
        if target:
            decision = self._scheduler.decide(packet, "manual", target=target)
            if not decision.winner:
                rule = decision.candidates[0].rejected_by if decision.candidates else "unknown"
                self._recorder.record(
                    EventType.POLICY_REJECTED, Actor.OPERATOR,
                    reason=f"handoff of {packet_id} to {target} refused: {rule}",
                    member_ids=(target,), packet_ids=(packet_id,),
                    data={"decision": decision.to_dict()}, namespace=packet.namespace,
                )
                raise FailedPrecondition(
                    f"member {target!r} may not own packet {packet_id!r}: {rule}"
                )
        return self._moves.move(packet, "manual", reason, target=target, actor=Actor.OPERATOR)

    def explain(self, packet_id: str, epoch: int) -> tuple[int, int]:
        """(epoch, event sequence) of the decision to explain; the event holds the record."""
        packet = self._moves.get(packet_id)
        if epoch < 0:
            raise InvalidArgument(f"epoch must be >= 0, got {epoch}")
        for decided_epoch, sequence in reversed(packet.decisions):
            if epoch in (0, decided_epoch):
                return decided_epoch, sequence
        if epoch:
            raise NotFound(f"no decision kept for epoch {epoch} of packet {packet_id!r}")
        raise NotFound(f"packet {packet_id!r} has no placement decision yet")
