"""A test member driven over the real API: registration, a heartbeat thread, packet calls."""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format, struct_pb2
from google.protobuf.duration_pb2 import Duration

from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_pb2
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from phoenixflight_api.v1 import packet_service_pb2_grpc as pkt_grpc
from tests.daemon import PhoenixProcess

__all__ = ["SEED_ENVELOPE", "Agent", "envelope", "event_data", "packet_of", "wait_until"]


# The seed's portable workload envelope, exactly as written (its hash is elided there too).
SEED_ENVELOPE: dict[str, Any] = {
    "packet_id": "fp-001",
    "workload_type": "customer-remediation",
    "required_capabilities": ["customer_validation", "policy_review"],
    "current_owner": "agent-customer-01",
    "previous_owners": ["agent-triage-02"],
    "context_checkpoint": {"case_id": "CUST-88291", "step": "policy_review_pending",
                           "state_hash": "sha256:9c12..."},
    "policy_constraints": {"pii_review_required": True, "minimum_trust_score": 0.90,
                           "allowed_regions": ["us-east"]},
    "handoff": {"allowed": True, "reason": "source_member_unhealthy"},
    "audit": {"created_at": "2026-06-13T20:00:00Z", "last_event": "handoff_completed",
              "lineage_id": "lin-7742"},
    "status": "ASSIGNED",
}

def event_data(event: Any) -> dict[str, Any]:
    """An event's data Struct as plain Python values."""
    return json_format.MessageToDict(event.data)


def wait_until(check: Any, within: float = 15.0, every: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met within {within}s")


T = TypeVar("T")


def probe_until_delivered(
    probe: Callable[[str], object], delivered: queue.Queue[T], within: float = 20.0,
) -> T:
    """Send probes ("probe0", "probe1", ...) until one comes out of ``delivered``, and return
    it: a subscription is live once it delivers something sent after it was opened. A probe
    sent before it subscribed is, rightly, never delivered, so another one follows."""
    deadline = time.monotonic() + within
    for i in itertools.count():
        assert time.monotonic() < deadline, f"the subscription delivered no probe in {within}s"
        probe(f"probe{i}")
        with contextlib.suppress(queue.Empty):
            return delivered.get(timeout=0.5)
    raise AssertionError("unreachable")  # itertools.count() does not end


def envelope(packet_id: str, *caps: str, **fields: Any) -> packet_pb2.FlightPacket:
    """A Flight Packet envelope to submit."""
    state = fields.pop("state", {"case_id": "CUST-88291"})
    checkpoint = packet_pb2.ContextCheckpoint(step=fields.pop("step", "start"))
    checkpoint.state.update(state)
    return packet_pb2.FlightPacket(
        packet_id=packet_id, workload_type="customer-remediation",
        required_capabilities=list(caps), context_checkpoint=checkpoint, **fields,
    )


def packet_of(d: PhoenixProcess, packet_id: str) -> packet_pb2.FlightPacket:
    stub = d.packets
    return stub.GetPacket(ppb.GetPacketRequest(packet_id=packet_id), timeout=10).packet


class Agent:
    """One member: registers, heartbeats in the background while alive, works packets."""

    def __init__(self, d: PhoenixProcess, member_id: str, *caps: str, ttl: float = 10.0,
                 **fields: Any) -> None:
        self.d = d
        self.member_id = member_id
        lease = Duration()
        lease.FromNanoseconds(int(ttl * 1e9))
        resp = d.members.RegisterMember(mpb.RegisterMemberRequest(
            member_id=member_id, capabilities=list(caps), lease_ttl=lease, **fields), timeout=10)
        self.credential = resp.credential
        self.ttl = ttl
        self._alive = threading.Event()
        self.last_beat = time.monotonic()
        self._thread: threading.Thread | None = None

    @property
    def packets(self) -> pkt_grpc.PacketServiceStub:
        return self.d.packets

    def start_heartbeats(self) -> Agent:
        self._alive.set()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()
        return self

    def stop_heartbeats(self) -> None:
        """The member goes silent (crashed, partitioned, paused)."""
        self._alive.clear()
        if self._thread is not None:
            self._thread.join(5)

    def _beat(self) -> None:
        while self._alive.is_set():
            # The daemon may be restarting or gone: keep trying until stopped.
            with contextlib.suppress(grpc.RpcError, AssertionError, ValueError):
                sent = time.monotonic()
                self.d.members.Heartbeat(mpb.HeartbeatRequest(
                    member_id=self.member_id, credential=self.credential), timeout=5)
                self.last_beat = sent  # the lease runs from (about) here
            time.sleep(self.ttl / 4)

    def owned(self) -> list[str]:
        stub = self.packets
        resp = stub.ListPackets(ppb.ListPacketsRequest(owner=self.member_id), timeout=10)
        return [p.packet_id for p in resp.packets if p.status in (
            packet_pb2.PACKET_STATUS_ASSIGNED, packet_pb2.PACKET_STATUS_RUNNING)]

    def ack(self, packet_id: str, epoch: int) -> packet_pb2.FlightPacket:
        return self.packets.AckPacket(ppb.AckPacketRequest(
            member_id=self.member_id, credential=self.credential, packet_id=packet_id,
            epoch=epoch), timeout=10).packet

    def checkpoint(self, packet_id: str, epoch: int, state: dict[str, Any], step: str
                   ) -> packet_pb2.FlightPacket:
        struct = struct_pb2.Struct()
        struct.update(state)
        return self.packets.SaveCheckpoint(ppb.SaveCheckpointRequest(
            member_id=self.member_id, credential=self.credential, packet_id=packet_id,
            epoch=epoch, state=struct, step=step), timeout=10).packet

    def complete(self, packet_id: str, epoch: int, **result: Any) -> packet_pb2.FlightPacket:
        struct = struct_pb2.Struct()
        struct.update(result)
        return self.packets.CompletePacket(ppb.CompletePacketRequest(
            member_id=self.member_id, credential=self.credential, packet_id=packet_id,
            epoch=epoch, result=struct), timeout=10).packet

    def fail(self, packet_id: str, epoch: int, reason: str, permanent: bool = False
             ) -> packet_pb2.FlightPacket:
        return self.packets.FailPacket(ppb.FailPacketRequest(
            member_id=self.member_id, credential=self.credential, packet_id=packet_id,
            epoch=epoch, reason=reason, permanent=permanent), timeout=10).packet
