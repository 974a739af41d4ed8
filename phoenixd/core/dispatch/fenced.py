"""The owner's fenced writes: ack, checkpoint, complete, fail.

Each is accepted only from the member that owns the packet, at the packet's
epoch; anything else changes nothing and is recorded as ``stale_owner_rejected``.
The new owner's first accepted write ends a handoff.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from phoenixd.core.contracts import check_state
from phoenixd.core.credentials import Credentials
from phoenixd.core.dispatch.moves import Moves
from phoenixd.core.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from phoenixd.core.events import Actor, EventType
from phoenixd.core.packets import Checkpoint, Packet, PacketStatus, validate_state
from phoenixd.core.recorder import Recorder
from phoenixd.core.reliability import Learning, Outcome
from phoenixd.core.state import ClusterState
from phoenixd.core.validation import validate_text

__all__ = ["FencedWrites"]


class FencedWrites:
    """What a packet's owner may write, fenced by its epoch."""

    def __init__(
        self,
        state: ClusterState,
        recorder: Recorder,
        credentials: Credentials,
        moves: Moves,
        *,
        learning: Learning | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._recorder = recorder
        self._credentials = credentials
        self._moves = moves
        self._learning = learning
        self._wall = wall_clock

    def _learn(self, member_id: str, outcome: Outcome, packet_id: str) -> None:
        """Before the freed room is used, so that the next placement knows it."""
        if self._learning is not None:
            self._learning.observe(member_id, outcome, (packet_id,))

    def _fenced(
        self, member_id: str, credential: str, packet_id: str, epoch: int, call: str
    ) -> Packet:
        """The packet, if ``member_id`` owns it at ``epoch``; else refuse and record why."""
        self._credentials.authenticate(member_id, credential, failed_ok=True)
        if epoch < 1:
            raise InvalidArgument(f"epoch must be the packet's epoch (>= 1), got {epoch}")
        packet = self._moves.get(packet_id)
        if epoch != packet.epoch or member_id != packet.owner:
            # Taken away and not yet reassigned: the last owner's epoch is still the
            # packet's, but its ownership has ended all the same.
            evicted = not packet.owner and packet.previous_owners[-1:] == (member_id,)
            stale = epoch != packet.epoch or evicted
            why = (
                f"stale epoch {epoch}: packet {packet_id!r} was taken from {member_id!r}"
                if evicted else
                f"stale epoch {epoch}: packet {packet_id!r} is at epoch {packet.epoch}"
                if stale else
                f"member {member_id!r} does not own packet {packet_id!r} (epoch {epoch})"
            )
            self._recorder.record(
                EventType.STALE_OWNER_REJECTED, Actor.member(member_id),
                reason=f"{call} refused: {why}",
                member_ids=(member_id,), packet_ids=(packet_id,),
                lineage_ids=(packet.lineage_id,) if packet.lineage_id else (),
                data={"call": call, "member_id": member_id, "epoch": epoch,
                      "current_epoch": packet.epoch, "owner": packet.owner},
                namespace=packet.namespace,
            )
            if stale:
                raise FailedPrecondition(f"{why}; stop working on it")
            raise PermissionDenied(why)
        if not packet.status.owned:
            raise FailedPrecondition(f"packet {packet_id!r} is {packet.status}")
        if packet.handoff_started:  # the new owner's first accepted word ends the handoff
            packet = self._handoff_completed(packet, member_id)
        return packet

    def _handoff_completed(self, packet: Packet, member_id: str) -> Packet:
        latency_ms = round((self._wall() - packet.handoff_started) * 1000, 3)
        done, _ = self._moves.record(
            EventType.HANDOFF_COMPLETED, replace(packet, handoff_started=0.0),
            f"{member_id} took over at epoch {packet.epoch} in {latency_ms:g} ms",
            actor=Actor.member(member_id),
            extra={"latency_ms": latency_ms,
                   "from_member": (packet.handoff_token.from_member
                                   if packet.handoff_token else "")},
        )
        return done

    def ack(self, member_id: str, credential: str, packet_id: str, epoch: int) -> Packet:
        """The owner took the packet: RUNNING; a handoff completes here."""
        packet = self._fenced(member_id, credential, packet_id, epoch, "AckPacket")
        if packet.status is PacketStatus.RUNNING:
            return packet
        running, _ = self._moves.record(
            EventType.PACKET_ACKED, replace(packet, status=PacketStatus.RUNNING),
            "acknowledged", actor=Actor.member(member_id),
        )
        return running

    def save_checkpoint(
        self, member_id: str, credential: str, packet_id: str, epoch: int,
        state: Mapping[str, Any], step: str,
    ) -> Packet:
        packet = self._fenced(member_id, credential, packet_id, epoch, "SaveCheckpoint")
        values, hash_ = validate_state(state)
        contract = self._state.contracts.get((packet.namespace, packet.workload_type))
        if contract is not None:  # refused whole: the last checkpoint stays as it was
            check_state(contract, values)
        checkpoint = Checkpoint(
            values, validate_text(step, "step"), hash_, epoch, member_id, self._wall()
        )
        saved, _ = self._moves.record(
            EventType.CHECKPOINT_SAVED, replace(packet, checkpoint=checkpoint),
            f"step {step!r}" if step else "checkpoint saved", actor=Actor.member(member_id),
        )
        return saved

    def complete(
        self, member_id: str, credential: str, packet_id: str, epoch: int,
        result: Mapping[str, Any],
    ) -> Packet:
        current = self._moves.get(packet_id)
        if (current.status is PacketStatus.COMPLETED and current.owner == member_id
                and current.epoch == epoch):
            self._credentials.authenticate(member_id, credential, failed_ok=True)
            return current  # a retry after a lost reply: already done
        packet = self._fenced(member_id, credential, packet_id, epoch, "CompletePacket")
        values, _ = validate_state(result, "result")
        done, _ = self._moves.record(
            EventType.PACKET_COMPLETED,
            replace(packet, status=PacketStatus.COMPLETED, result=values, handoff_started=0.0),
            "completed", actor=Actor.member(member_id),
        )
        self._learn(member_id, Outcome.COMPLETED, packet_id)
        self._moves.released(member_id)
        return done

    def fail(
        self, member_id: str, credential: str, packet_id: str, epoch: int, reason: str,
        permanent: bool,
    ) -> Packet:
        """A failed attempt: back to PENDING until max_attempts, then FAILED (poison)."""
        packet = self._fenced(member_id, credential, packet_id, epoch, "FailPacket")
        reason = validate_text(reason, "reason") or "failed"
        attempts = packet.attempts + 1
        actor = Actor.member(member_id)
        if permanent or attempts >= packet.max_attempts:
            why = f"attempt {attempts} of {packet.max_attempts}"
            if permanent:
                why = "permanent failure"
            failed, _ = self._moves.record(
                EventType.PACKET_FAILED,
                replace(packet, status=PacketStatus.FAILED, attempts=attempts,
                        failure_reason=reason, handoff_started=0.0),
                f"{why}: {reason}", actor=actor,
            )
            self._learn(member_id, Outcome.FAILED, packet_id)
            self._moves.released(member_id)
            return failed
        retry = replace(
            packet, status=PacketStatus.PENDING, owner="", attempts=attempts,
            failure_reason=reason, previous_owners=(*packet.previous_owners, member_id),
            handoff_started=0.0,
        )
        self._moves.record(
            EventType.PACKET_ATTEMPT_FAILED, retry,
            f"attempt {attempts} of {packet.max_attempts} failed: {reason}", actor=actor,
            members=(member_id,),
        )
        self._learn(member_id, Outcome.FAILED, packet_id)
        self._moves.avoid(packet_id, member_id)
        self._moves.released(member_id, "retry")  # waits its turn behind older PENDING packets
        return self._state.packets[packet_id]
