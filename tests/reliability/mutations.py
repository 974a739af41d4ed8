"""Random mutation clients with an acknowledgement log, for the kill -9 cycles.

Each client is one thread with its own channel, its own ids (``c3-m7``, ``c3-p12``) and its own
random stream. It issues one call at a time and logs how each call ended:

- ACKED: the OK reply arrived, so the write must survive every crash from then on;
- REFUSED: the daemon answered with an error, so nothing was written (a fencing refusal is
  audited, but changes no state);
- INDETERMINATE: the call was cut off (the daemon died under it). It may or may not be durable,
  but it must be all or nothing. The client stops there until the next cycle, so each client
  leaves at most one such call per cycle.

A client keeps a model of what it owns, made only of acknowledged facts: its members with their
label counter and the least advanced status they may be in, its packets with the lowest epoch
they may be at, and the packets its members completed. Only a client changes its own members
(leases are an hour long and re-armed on restart, so the daemon never fails them; it only
finishes their drains), which is what makes the label counter and the status exact.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

import grpc
from google.protobuf import struct_pb2
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask

from phoenixflight_api.v1 import member_pb2, packet_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from phoenixflight_api.v1 import packet_service_pb2_grpc as pkt_grpc
from tests.api.agents import envelope

__all__ = [
    "ABSENT_CAPABILITY", "SHARED_CAPABILITY", "MemberModel", "MutationClient", "Op", "Outcome",
    "PacketModel", "member_status", "packet_status",
]

# Every member offers it, so a packet requiring it has an eligible member while any is ACTIVE.
SHARED_CAPABILITY = "shared"
# Nobody offers it: a packet requiring it waits PENDING until it is cancelled.
ABSENT_CAPABILITY = "absent"
# Long enough that no lease runs out during a run; restarts re-arm it in full.
LEASE_SECONDS = 3600
# Generous on a loaded 2-core machine; a call that times out counts as cut off.
CALL_TIMEOUT = 15.0
# Codes the daemon answers a call it refused with: the call changed nothing.
REFUSALS = frozenset({
    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.OUT_OF_RANGE,
})


def member_status(value: int) -> str:
    return member_pb2.MemberStatus.Name(value).removeprefix("MEMBER_STATUS_")  # type: ignore[arg-type]


def packet_status(value: int) -> str:
    return packet_pb2.PacketStatus.Name(value).removeprefix("PACKET_STATUS_")  # type: ignore[arg-type]


class Outcome(StrEnum):
    ACKED = "acked"
    REFUSED = "refused"
    INDETERMINATE = "indeterminate"


@dataclass
class Op:
    """One call and how it ended: a line of the acknowledgement log."""

    client: int
    cycle: int
    kind: str
    subject: str  # the member or packet written
    arg: str = ""  # the label counter, checkpoint step, or "waiting" for a packet nobody can take
    epoch: int = 0  # the epoch a member-side call carried
    member: str = ""  # the member making a member-side call
    outcome: Outcome = Outcome.INDETERMINATE
    code: str = ""  # the status code of a refused or cut-off call
    detail: str = ""  # the daemon's message with it
    revision: int = 0  # from the reply: the subject's revision, i.e. its last event
    status: str = ""  # from the reply: the subject's status
    reply_epoch: int = 0
    labels_n: str = ""  # from the reply: a member's label counter

    def __str__(self) -> str:
        arg = f" {self.arg}" if self.arg else ""
        code = f" {self.code}" if self.code else ""
        who = f"c{self.client} in cycle {self.cycle}"
        return f"{who}: {self.kind} {self.subject}{arg} ({self.outcome}{code})"


@dataclass
class MemberModel:
    member_id: str
    credential: str  # "" when the registration's reply was lost
    n: int = 0  # the label counter the daemon must show
    status: str = "ACTIVE"  # the least advanced status it may be in (ACTIVE, DRAINING, RETIRED)
    incarnation: int = 1
    closed: bool = False  # refused once as terminal: no more calls


@dataclass
class PacketModel:
    packet_id: str
    waiting: bool  # requires a capability nobody offers
    epoch: int = 0  # the lowest epoch it may be at
    terminal: str = ""  # the status an acknowledged cancel or complete fixed
    closed: bool = False  # no more operator calls (terminal, or refused as such)


Req = TypeVar("Req")
Resp = TypeVar("Resp")
_PacketReply = (
    ppb.AckPacketResponse | ppb.SaveCheckpointResponse | ppb.CompletePacketResponse
    | ppb.FailPacketResponse
)


class _Cut(Exception):
    """A read failed because the daemon is gone: the client stops for this cycle."""


@dataclass
class MutationClient:
    """One client thread's ids, random stream, model and acknowledgement log."""

    index: int
    seed: int
    members: dict[str, MemberModel] = field(default_factory=dict)
    packets: dict[str, PacketModel] = field(default_factory=dict)
    completed: dict[str, int] = field(default_factory=dict)  # packet -> epoch it completed at
    log: list[Op] = field(default_factory=list)
    cycle: int = 0
    _serial: int = 0
    _cycle_start: int = 0  # where the current cycle begins in the log

    def __post_init__(self) -> None:
        self.name = f"c{self.index}"
        self.rng = random.Random(f"{self.seed}:{self.index}")

    def begin(self, cycle: int) -> None:
        self.cycle, self._cycle_start = cycle, len(self.log)

    def cycle_ops(self) -> list[Op]:
        """The calls of the current cycle."""
        return self.log[self._cycle_start:]

    # -- the loop ------------------------------------------------------------

    def run(self, address: str, stop: threading.Event) -> None:
        """Issue random mutations until ``stop`` is set or a call is cut off."""
        channel = grpc.insecure_channel(address)
        self._mem = mem_grpc.MembershipServiceStub(channel)
        self._pkt = pkt_grpc.PacketServiceStub(channel)
        try:
            while not stop.is_set():
                op = self._step()
                if op is None:
                    continue
                self.log.append(op)
                if op.outcome is Outcome.INDETERMINATE:
                    return
        except _Cut:
            return
        finally:
            channel.close()

    def _next_id(self, kind: str) -> str:
        self._serial += 1
        return f"{self.name}-{kind}{self._serial}"

    def _step(self) -> Op | None:
        live = [m for m in self.members.values() if m.status != "RETIRED" and not m.closed]
        active = [m for m in live if m.status == "ACTIVE"]
        open_packets = [p for p in self.packets.values() if not p.closed]
        workers = [m for m in live if m.credential]
        weights = {
            "register": 4.0 if len(active) < 2 else 0.5 if len(active) < 4 else 0.0,
            "update": 3.0 if live else 0.0,
            "submit": 3.0,
            "submit_waiting": 1.0,
            "cancel": 2.0 if open_packets else 0.0,
            "handoff": 1.0 if any(not p.waiting for p in open_packets) else 0.0,
            "drain": 0.5 if len(active) >= 3 else 0.0,
            "retire": 0.5 if len(active) >= 3 else 0.0,
            "work": 5.0 if workers else 0.0,
        }
        kind = self.rng.choices(list(weights), list(weights.values()))[0]
        if kind == "register":
            return self._register()
        if kind == "update":
            return self._update(self.rng.choice(live))
        if kind in ("submit", "submit_waiting"):
            return self._submit(waiting=kind == "submit_waiting")
        if kind == "cancel":
            return self._cancel(self.rng.choice(open_packets))
        if kind == "handoff":
            return self._handoff(self.rng.choice([p for p in open_packets if not p.waiting]))
        if kind in ("drain", "retire"):
            return self._leave(self.rng.choice(active), drain=kind == "drain")
        return self._work(self.rng.choice(workers))

    def _call(
        self, op: Op, method: grpc.UnaryUnaryMultiCallable[Req, Resp], request: Req
    ) -> Resp | None:
        """Make the call and log its outcome; the reply if it was ACKED."""
        try:
            reply = method(request, timeout=CALL_TIMEOUT)
        except grpc.RpcError as exc:
            code = exc.code()
            op.code = code.name if code else "?"
            op.detail = exc.details() or ""
            op.outcome = Outcome.REFUSED if code in REFUSALS else Outcome.INDETERMINATE
            return None
        op.outcome = Outcome.ACKED
        return reply

    def _note_member(self, op: Op, member: member_pb2.Member) -> None:
        op.revision, op.status = member.revision, member_status(member.status)
        op.labels_n = member.labels.get("n", "")

    def _note_packet(self, op: Op, packet: packet_pb2.FlightPacket) -> None:
        op.revision, op.status, op.reply_epoch = (
            packet.revision, packet_status(packet.status), packet.epoch)
        model = self.packets.get(packet.packet_id)
        if model is not None:
            model.epoch = max(model.epoch, packet.epoch)

    # -- operator calls ------------------------------------------------------

    def _register(self) -> Op:
        member_id = self._next_id("m")
        op = Op(self.index, self.cycle, "register", member_id)
        reply = self._call(op, self._mem.RegisterMember, mpb.RegisterMemberRequest(
            member_id=member_id, capabilities=[SHARED_CAPABILITY, self.name],
            labels={"client": self.name, "n": "0"}, lease_ttl=Duration(seconds=LEASE_SECONDS),
        ))
        if reply is not None:
            self._note_member(op, reply.member)
            self.members[member_id] = MemberModel(
                member_id, reply.credential, incarnation=reply.member.incarnation)
        return op

    def _update(self, model: MemberModel) -> Op:
        n = model.n + 1
        op = Op(self.index, self.cycle, "update", model.member_id, arg=str(n))
        reply = self._call(op, self._mem.UpdateMember, mpb.UpdateMemberRequest(
            member=member_pb2.Member(
                member_id=model.member_id, labels={"client": self.name, "n": str(n)}),
            update_mask=FieldMask(paths=["labels"]),
        ))
        if reply is not None:
            self._note_member(op, reply.member)
            model.n = n
        elif op.outcome is Outcome.REFUSED:
            model.closed = True  # RETIRED meanwhile: its drain finished
        return op

    def _leave(self, model: MemberModel, *, drain: bool) -> Op:
        op = Op(self.index, self.cycle, "drain" if drain else "retire", model.member_id)
        if drain:
            reply: mpb.DrainMemberResponse | mpb.RetireMemberResponse | None = self._call(
                op, self._mem.DrainMember, mpb.DrainMemberRequest(
                    member_id=model.member_id, reason="load test drain",
                    deadline=Duration(seconds=self.rng.choice([1, 2, 30]))))
        else:
            reply = self._call(op, self._mem.RetireMember, mpb.RetireMemberRequest(
                member_id=model.member_id, reason="load test retire"))
        if reply is not None:
            self._note_member(op, reply.member)
            model.status = "RETIRED" if op.status == "RETIRED" else "DRAINING"
        return op

    def _submit(self, *, waiting: bool) -> Op:
        packet_id = self._next_id("p")
        op = Op(self.index, self.cycle, "submit", packet_id, arg="waiting" if waiting else "")
        packet = envelope(
            packet_id, ABSENT_CAPABILITY if waiting else SHARED_CAPABILITY,
            state={"client": self.name, "serial": self._serial},
        )
        reply = self._call(op, self._pkt.SubmitPacket, ppb.SubmitPacketRequest(packet=packet))
        if reply is not None:
            self.packets[packet_id] = PacketModel(packet_id, waiting)
            self._note_packet(op, reply.packet)
        return op

    def _cancel(self, model: PacketModel) -> Op:
        op = Op(self.index, self.cycle, "cancel", model.packet_id)
        reply = self._call(op, self._pkt.CancelPacket, ppb.CancelPacketRequest(
            packet_id=model.packet_id, reason="load test cancel"))
        if reply is not None:
            self._note_packet(op, reply.packet)
            model.terminal, model.closed = "CANCELLED", True
        elif op.outcome is Outcome.REFUSED:
            model.closed = True  # completed or failed by its owner meanwhile
        return op

    def _handoff(self, model: PacketModel) -> Op:
        op = Op(self.index, self.cycle, "handoff", model.packet_id)
        reply = self._call(op, self._pkt.HandoffPacket, ppb.HandoffPacketRequest(
            packet_id=model.packet_id, reason="load test move"))
        if reply is not None:
            self._note_packet(op, reply.packet)
        return op

    # -- member-side calls ---------------------------------------------------

    def _work(self, model: MemberModel) -> Op | None:
        """Ack, checkpoint, complete or fail one packet this member owns (if any)."""
        try:
            listed = self._pkt.ListPackets(
                ppb.ListPacketsRequest(owner=model.member_id), timeout=CALL_TIMEOUT)
        except grpc.RpcError as exc:
            raise _Cut() from exc
        owned = [p for p in listed.packets if packet_status(p.status) in ("ASSIGNED", "RUNNING")]
        if not owned:
            return None
        packet = self.rng.choice(owned)
        running = packet_status(packet.status) == "RUNNING"
        kinds = ["checkpoint", "complete", "fail"] if running else ["ack", "checkpoint", "complete"]
        kind = self.rng.choices(kinds, [5, 3, 1] if running else [6, 2, 1])[0]
        op = Op(self.index, self.cycle, kind, packet.packet_id, epoch=packet.epoch,
                member=model.member_id)
        m, c, p, e = model.member_id, model.credential, packet.packet_id, packet.epoch
        reply: _PacketReply | None
        if kind == "ack":
            reply = self._call(op, self._pkt.AckPacket, ppb.AckPacketRequest(
                member_id=m, credential=c, packet_id=p, epoch=e))
        elif kind == "checkpoint":
            op.arg = self._next_id("s")
            state = struct_pb2.Struct()
            state.update({"step": op.arg})
            reply = self._call(op, self._pkt.SaveCheckpoint, ppb.SaveCheckpointRequest(
                member_id=m, credential=c, packet_id=p, epoch=e, state=state, step=op.arg))
        elif kind == "complete":
            reply = self._call(op, self._pkt.CompletePacket, ppb.CompletePacketRequest(
                member_id=m, credential=c, packet_id=p, epoch=e))
        else:
            reply = self._call(op, self._pkt.FailPacket, ppb.FailPacketRequest(
                member_id=m, credential=c, packet_id=p, epoch=e, reason="load test failure"))
        if reply is not None:
            self._note_packet(op, reply.packet)
            if kind == "complete":
                self.completed[p] = e
                self._close(p, "COMPLETED")
        return op

    def _close(self, packet_id: str, status: str) -> None:
        model = self.packets.get(packet_id)
        if model is not None:
            model.terminal, model.closed = status, True
