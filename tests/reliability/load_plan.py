"""What one round of held load is (Plan), what it saw (Report), and the workload's constants.

See load_held.py for the round itself.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from phoenixflight_api.v1 import packet_pb2

__all__ = [
    "CALL_TIMEOUT", "CAPABILITY", "CHANNEL_OPTIONS", "DESIGNED_CODES", "LIVE", "MUTATIONS",
    "OPERATIONS", "Plan", "Report", "daemon_flags", "member_id",
]


CAPABILITY = "work"
# Calls that change state; each successful one is an acknowledged (fsynced) mutation.
MUTATIONS = frozenset({"submit", "update", "cancel", "ack", "complete"})
# The refusals this workload provokes by design: a cancel races the owner's complete, an
# update may find a dropped member FAILED, an owner may complete a packet just revoked from
# it. The daemon answers each with FAILED_PRECONDITION; any other code is a defect.
DESIGNED_CODES = frozenset({"FAILED_PRECONDITION"})
# What the operators do, with weights: mostly submits, then reads and the other writes.
OPERATIONS = {"submit": 6, "get": 2, "list": 2, "query": 2, "members": 1, "update": 2,
              "cancel": 2}
# Every client its own connection (a real deployment's members are separate processes),
# so the daemon's sockets rise and fall with the sessions.
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
CALL_TIMEOUT = 30.0
# Streams the daemon may hold beyond a round's sessions and its one audit follower. With
# --max-streams this tight, a stream the daemon forgot to count down would refuse the next
# round's sessions (RESOURCE_EXHAUSTED).
STREAM_MARGIN = 2
# Periodic snapshots off (one is still written at shutdown). A snapshot turns the whole
# state into documents and JSON at once, and the allocator keeps the high-water mark of
# that, which grows with the state: it would hide or fake the growth this load is measured
# for. Snapshots under load are what the kill -9 and failpoint suites exercise.
SNAPSHOT_EVERY = 10**9
LIVE = [packet_pb2.PACKET_STATUS_PENDING, packet_pb2.PACKET_STATUS_ASSIGNED,
        packet_pb2.PACKET_STATUS_RUNNING]


@dataclass(frozen=True)
class Plan:
    """One round of load."""

    address: str
    name: str = "r0"
    """Prefix of this round's packet ids (unique per round on one daemon)."""
    sessions: int = 50
    controls: int = 4
    seconds: float = 10.0
    churn: int = 3
    """Members that drop their stream mid-round without a goodbye."""
    lease_ttl: float = 5.0
    heartbeat_every: float = 1.0
    work: tuple[float, float] = (0.05, 0.5)
    """A member completes a packet this long (uniform) after acking it."""
    settle_timeout: float = 90.0
    """How long every packet may take to finish once the load stops."""
    seed: int = 0


def daemon_flags(plan: Plan) -> list[str]:
    """phoenixd flags for a plan: dropped members fail 1 s after their stream breaks (so
    their packets move within the round), streams are limited to just above the load, and
    snapshots are written only at shutdown."""
    return ["--suspect-grace", "1", "--max-streams", str(plan.sessions + 1 + STREAM_MARGIN),
            "--snapshot-every", str(SNAPSHOT_EVERY)]


def member_id(index: int) -> str:
    """The same ids every round: each round registers a new incarnation of each member."""
    return f"load-{index:04d}"


@dataclass
class Report:
    """What one round's clients saw."""

    window: float = 0.0
    """Seconds the operators ran."""
    latencies: dict[str, list[float]] = field(default_factory=dict)
    """Seconds per successful call, by kind ("heartbeat": a session beat to its lease reply)."""
    errors: dict[str, int] = field(default_factory=dict)
    """Failed calls by "kind CODE"."""
    mutations: int = 0
    """Successful mutations that completed inside the window."""
    submitted: int = 0
    events: int = 0
    """Flight Recorder events the round caused."""
    opened: int = 0
    """Sessions that opened and synced their assignments."""
    dropped: int = 0
    followed: int = 0
    """Events an operator tailing the audit received live."""
    lease_losses: list[str] = field(default_factory=list)
    """A live member made SUSPECT or FAILED, or told its lease was not ACTIVE."""
    session_problems: list[str] = field(default_factory=list)
    """Sessions not opened, or ended or told something other than the round intended."""
    stuck: list[str] = field(default_factory=list)
    """What was still unfinished settle_timeout after the load stopped."""

    def codes(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        for key, n in self.errors.items():
            counts[key.rpartition(" ")[2]] += n
        return counts

    def undesigned(self) -> dict[str, int]:
        """Errors with a code this workload never provokes by design."""
        return {k: n for k, n in self.errors.items() if k.rpartition(" ")[2] not in DESIGNED_CODES}

    def rate(self) -> float:
        """Acked mutations per second of load."""
        return self.mutations / self.window if self.window else 0.0

    def percentile_ms(self, kind: str, q: float) -> float:
        """Nearest-rank percentile of one kind of call, in milliseconds."""
        values = sorted(self.latencies.get(kind, ()))
        return values[max(0, math.ceil(q * len(values)) - 1)] * 1000 if values else math.nan
