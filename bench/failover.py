"""Failover: how long from a member's lease expiry until every one of its packets is acked
by a new owner, and the handoff latency (handoff_started -> new owner's ack) per packet,
split into its phases: decide + sign (handoff_started -> assignment_decision, both
stamped by the daemon), persist + deliver (-> the new owner receives the assignment,
stamped by the member) and ack (-> handoff_completed). bench/test_handoff.py times
decide, sign and the fsync one by one.

M members heartbeat (unary) and follow their assignments with WatchAssignments, acking
each at once. One member then goes silent; in the second run it also holds a session
stream, which is cut (a broken session makes it SUSPECT at once). Runs against a real
phoenixd on 127.0.0.1 with --suspect-grace 0, so SUSPECT is at once FAILED.

    python bench/failover.py --members 4 --packets 200 --ttl 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import p50, p99  # noqa: E402
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb  # noqa: E402
from phoenixflight_api.v1 import packet_service_pb2 as ppb  # noqa: E402
from tests.api.agents import Agent, envelope, event_data  # noqa: E402
from tests.api.test_api_leases import Session  # noqa: E402
from tests.daemon import PhoenixProcess  # noqa: E402


class Follower:
    """Acks every assignment of one member as soon as it arrives."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.acked: dict[str, float] = {}  # packet -> monotonic time of the ack
        self.received: dict[tuple[str, int], float] = {}  # (packet, epoch) -> wall time
        self.call = agent.d.packets.WatchAssignments(ppb.WatchAssignmentsRequest(
            member_id=agent.member_id, credential=agent.credential), timeout=600)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for message in self.call:
                if message.WhichOneof("kind") != "assignment":
                    continue
                a = message.assignment
                self.received[(a.packet.packet_id, a.epoch)] = time.time()
                try:
                    self.agent.ack(a.packet.packet_id, a.epoch)
                    self.acked[a.packet.packet_id] = time.monotonic()
                except grpc.RpcError:
                    pass
        except grpc.RpcError:
            pass


def run(members: int, packets: int, ttl: float, cut_stream: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        d = PhoenixProcess(Path(tmp) / "data", "--suspect-grace", "0", "--log-level",
                           "warning").start()
        try:
            agents = [Agent(d, f"m{i}", "work", ttl=ttl, trust_score=0.5 + i / 100)
                      .start_heartbeats() for i in range(members)]
            followers = [Follower(a) for a in agents]
            time.sleep(0.3)
            for i in range(packets):
                d.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(f"p{i}", "work")))
            victim = agents[-1]
            owned = set(victim.owned())
            session = Session(d, victim.member_id, victim.credential) if cut_stream else None
            time.sleep(0.5)
            victim.stop_heartbeats()
            silent_at = time.monotonic()
            if session is not None:
                session.call.cancel()  # the member's session breaks: SUSPECT at once
                expiry = silent_at
            else:
                expiry = victim.last_beat + ttl  # the lease ends one TTL after the last beat
            deadline = time.monotonic() + 30 + ttl
            moved: dict[str, float] = {}
            while time.monotonic() < deadline and len(moved) < len(owned):
                for f in followers[:-1]:
                    moved.update({p: t for p, t in f.acked.items() if p in owned})
                time.sleep(0.005)
            events = d.recorder.QueryEvents(rpb.QueryEventsRequest(
                types=["handoff_completed"], page_size=1000)).events
            latencies = [event_data(e)["latency_ms"] for e in events]
            phases = _phases(d, owned, followers[:-1])
            for a in agents:
                a.stop_heartbeats()
        finally:
            d.stop()
    done = max(moved.values()) if moved else float("nan")
    return {
        "packets_moved": len(moved),
        "of": len(owned),
        "all_acked_after_expiry_ms": (done - expiry) * 1000,
        "all_acked_after_silence_ms": (done - silent_at) * 1000,
        "handoff_p50_ms": p50(latencies),
        "handoff_p99_ms": p99(latencies),
        **{f"{phase}_p50_ms": p50(v) for phase, v in phases.items()},
        **{f"{phase}_p99_ms": p99(v) for phase, v in phases.items()},
    }


PHASES = ("decide_sign", "persist_deliver", "ack")


def _phases(
    d: PhoenixProcess, owned: set[str], followers: list[Follower]
) -> dict[str, list[float]]:
    """Per moved packet, ms spent in each phase of its handoff (see the module docstring)."""
    received: dict[tuple[str, int], float] = {}
    for f in followers:
        received.update(f.received)
    phases: dict[str, list[float]] = {phase: [] for phase in PHASES}
    for packet_id in owned:
        events = d.recorder.ExportLineage(rpb.ExportLineageRequest(packet_id=packet_id)).events
        started = [e for e in events if e.type == "handoff_started"]
        if not started:
            continue
        t0 = started[-1].time.ToNanoseconds() / 1e9
        decided = [e for e in events if e.type == "assignment_decision"
                   and e.sequence > started[-1].sequence]
        completed = [e for e in events if e.type == "handoff_completed"]
        if not decided or not completed:
            continue
        t1 = decided[0].time.ToNanoseconds() / 1e9
        t2 = received.get((packet_id, int(event_data(decided[0])["packet"]["epoch"])))
        t3 = completed[-1].time.ToNanoseconds() / 1e9
        if t2 is None:
            continue
        for phase, ms in zip(PHASES, ((t1 - t0), (t2 - t1), (t3 - t2)), strict=True):
            phases[phase].append(ms * 1000)
    return phases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=4)
    parser.add_argument("--packets", type=int, default=100)
    parser.add_argument("--ttl", type=float, default=1.0)
    args = parser.parse_args()
    for cut in (False, True):
        r = run(args.members, args.packets, args.ttl, cut)
        how = "session stream cut" if cut else "heartbeats stop"
        print(f"{how:<30} moved {r['packets_moved']}/{r['of']}  "
              f"all acked {r['all_acked_after_expiry_ms']:.0f} ms after "
              f"{'the cut' if cut else 'lease expiry'} "
              f"({r['all_acked_after_silence_ms']:.0f} ms after silence, TTL {args.ttl:g} s); "
              f"handoff latency p50 {r['handoff_p50_ms']:.1f} ms, "
              f"p99 {r['handoff_p99_ms']:.1f} ms")
        print(" " * 30 + "  ".join(
            f"{phase.replace('_', ' + ')} p50 {r[phase + '_p50_ms']:.1f} / "
            f"p99 {r[phase + '_p99_ms']:.1f} ms" for phase in PHASES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
