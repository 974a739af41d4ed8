"""A packets "world" for the core tests: fake clocks, an in-memory journal, a fake signer, and
the real ClusterState, Recorder, Scheduler and Cluster wired as the app wires them.

Also small builders for Member and Packet records, so that scheduler and state tests can put
records straight into a ClusterState without going through the Cluster.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from phoenixd.core.cluster import Cluster
from phoenixd.core.dispatch import DEFAULT_REBALANCE_SHARE, PacketNotice, PacketSpec
from phoenixd.core.events import Event, EventType
from phoenixd.core.members import Member, MemberKind, MemberStatus
from phoenixd.core.packets import Checkpoint, Packet, PacketStatus, Policy, Strategy, state_hash
from phoenixd.core.recorder import Recorder
from phoenixd.core.registry import Load, Notice, Registration
from phoenixd.core.reliability import Estimator
from phoenixd.core.scheduler import Scheduler
from phoenixd.core.state import ClusterState

GRACE = 5.0
LEASE = 10.0
REBALANCE_INTERVAL = 1.0
WALL_START = 1_700_000_000.0
MONO_START = 1000.0


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ListSink:
    """The journal, as a list."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def append(self, event: Event, payload: bytes) -> None:
        self.events.append(event)


class FakeSigner:
    """A deterministic stand-in for the daemon's Ed25519 key."""

    key_id = "fake:test"

    def __init__(self) -> None:
        self.signed: list[bytes] = []

    def sign(self, data: bytes) -> bytes:
        self.signed.append(data)
        return hashlib.sha256(b"fake-key" + data).digest()


@dataclass
class World:
    state: ClusterState
    sink: ListSink
    mono: Clock
    wall: Clock
    recorder: Recorder
    scheduler: Scheduler
    cluster: Cluster
    signer: FakeSigner
    notices: list[PacketNotice] = field(default_factory=list)
    # Notices sent before their event reached the journal (must stay empty).
    premature: list[PacketNotice] = field(default_factory=list)
    member_notices: list[Notice] = field(default_factory=list)
    credentials: dict[str, str] = field(default_factory=dict)

    # -- reading --------------------------------------------------------------------

    @property
    def events(self) -> list[Event]:
        return self.sink.events

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.sink.events]

    def since(self, sequence: int) -> list[Event]:
        """Events recorded after ``sequence``."""
        return [e for e in self.sink.events if e.sequence > sequence]

    def of_type(self, type_: EventType, packet_id: str = "") -> list[Event]:
        return [e for e in self.sink.events
                if e.type == type_ and (not packet_id or packet_id in e.packet_ids)]

    @property
    def head(self) -> int:
        return self.recorder.head_sequence

    def packet(self, packet_id: str) -> Packet:
        return self.state.packets[packet_id]

    def member(self, member_id: str) -> Member:
        return self.state.members[member_id]

    def owned_by(self, member_id: str) -> set[str]:
        return set(self.state.load_of(member_id).packets)

    # -- acting -----------------------------------------------------------------------

    def join(self, member_id: str, *capabilities: str, **fields: Any) -> str:
        """Register a member; returns (and keeps) its credential."""
        fields.setdefault("lease_ttl", LEASE)
        _, credential = self.cluster.register(
            Registration(member_id, capabilities=capabilities, **fields)
        )
        self.credentials[member_id] = credential
        return credential

    def submit(self, packet_id: str, *capabilities: str, **fields: Any) -> Packet:
        return self.cluster.submit(
            PacketSpec(packet_id, required_capabilities=capabilities, **fields)
        )

    def heartbeat(self, member_id: str, reported: Load | None = None) -> Member:
        return self.cluster.heartbeat(member_id, self.credentials[member_id], reported)

    def ack(self, member_id: str, packet_id: str, epoch: int | None = None) -> Packet:
        epoch = self.packet(packet_id).epoch if epoch is None else epoch
        return self.cluster.ack(member_id, self.credentials[member_id], packet_id, epoch)

    def checkpoint(
        self, member_id: str, packet_id: str, state: Mapping[str, Any], step: str = "",
        epoch: int | None = None,
    ) -> Packet:
        epoch = self.packet(packet_id).epoch if epoch is None else epoch
        return self.cluster.save_checkpoint(
            member_id, self.credentials[member_id], packet_id, epoch, state, step
        )

    def complete(
        self, member_id: str, packet_id: str, result: Mapping[str, Any] | None = None,
        epoch: int | None = None,
    ) -> Packet:
        epoch = self.packet(packet_id).epoch if epoch is None else epoch
        return self.cluster.complete(
            member_id, self.credentials[member_id], packet_id, epoch, result or {}
        )

    def fail(
        self, member_id: str, packet_id: str, reason: str = "boom", *, permanent: bool = False,
        epoch: int | None = None,
    ) -> Packet:
        epoch = self.packet(packet_id).epoch if epoch is None else epoch
        return self.cluster.fail(
            member_id, self.credentials[member_id], packet_id, epoch, reason, permanent
        )

    def tick(self, seconds: float, *, keep_alive: tuple[str, ...] = ()) -> None:
        """Let time pass on both clocks, a second at a time, running the timers after each
        step; ``keep_alive`` members (while they are live) heartbeat before each step."""
        remaining = seconds
        while remaining > 0:
            step = min(1.0, remaining)
            for member_id in keep_alive:
                if not self.state.members[member_id].status.terminal:
                    self.heartbeat(member_id)
            self.mono.advance(step)
            self.wall.advance(step)
            self.cluster.tick()
            remaining -= step


def make_world(
    *,
    state: ClusterState | None = None,
    head_sequence: int = 0,
    head_hash: str | None = None,
    default_strategy: Strategy = Strategy.TRUST,
    rebalance_share: float = DEFAULT_REBALANCE_SHARE,
    load_bound: float = 0.0,
    learn_reliability: Estimator | None = None,
) -> World:
    """A fresh world, or one around a recovered ``state`` (a restarted daemon)."""
    state = state if state is not None else ClusterState()
    sink = ListSink()
    mono, wall = Clock(MONO_START), Clock(WALL_START)
    if head_hash is None:
        recorder = Recorder(sink, state.apply, head_sequence=head_sequence, wall_clock=wall)
    else:
        recorder = Recorder(sink, state.apply, head_sequence=head_sequence, head_hash=head_hash,
                            wall_clock=wall)
    member_notices: list[Notice] = []
    scheduler = Scheduler(state, default_strategy=default_strategy, load_bound=load_bound)
    signer = FakeSigner()
    notices: list[PacketNotice] = []
    premature: list[PacketNotice] = []

    def notify(notice: PacketNotice) -> None:
        if not any(e.sequence == notice.sequence for e in reversed(sink.events)):
            premature.append(notice)
        notices.append(notice)

    cluster = Cluster(
        state, recorder, scheduler, signer, notify_member=member_notices.append,
        notify_packet=notify, suspect_grace=GRACE, rebalance_share=rebalance_share,
        rebalance_interval=REBALANCE_INTERVAL, monotonic=mono, wall_clock=wall,
        learn_reliability=learn_reliability,
    )
    return World(state, sink, mono, wall, recorder, scheduler, cluster, signer,
                 notices, premature, member_notices)


def replayed(events: list[Event]) -> ClusterState:
    """A fresh ClusterState fed every event, as on a restart without a snapshot."""
    fresh = ClusterState()
    for event in events:
        fresh.apply(event)
    return fresh


# -- records built directly --------------------------------------------------------------------


def member_record(
    member_id: str,
    *capabilities: str,
    status: MemberStatus = MemberStatus.ACTIVE,
    cpu: float = 1.0,
    memory: float = 1024.0,
    trust_score: float = 0.5,
    reliability: float = 1.0,
    labels: Mapping[str, str] | None = None,
) -> Member:
    return Member(
        member_id=member_id, kind=MemberKind.AGENT, capabilities=tuple(sorted(capabilities)),
        cpu=cpu, memory=memory, trust_score=trust_score, reliability=reliability,
        labels=dict(labels or {}), status=status, lease_ttl=LEASE, incarnation=1,
        credential_hash="", create_time=WALL_START, update_time=WALL_START,
    )


def packet_record(
    packet_id: str,
    *capabilities: str,
    status: PacketStatus = PacketStatus.PENDING,
    owner: str = "",
    epoch: int = 0,
    policy: Policy | None = None,
    demand_cpu: float = 0.0,
    demand_memory: float = 0.0,
    routing_key: str = "",
    strategy: Strategy = Strategy.TRUST,
    handoff_allowed: bool = True,
    state: Mapping[str, Any] | None = None,
) -> Packet:
    values = dict(state or {})
    return Packet(
        packet_id=packet_id, workload_type="", required_capabilities=tuple(capabilities),
        status=status, owner=owner, previous_owners=(), epoch=epoch,
        checkpoint=Checkpoint(values, "", state_hash(values), 0, "", WALL_START),
        policy=policy or Policy(), handoff_allowed=handoff_allowed, handoff_reason="",
        lineage_id=f"lin-{packet_id}", demand_cpu=demand_cpu, demand_memory=demand_memory,
        routing_key=routing_key, strategy=strategy, attempts=0, max_attempts=3,
        create_time=WALL_START, update_time=WALL_START,
    )


def put(state: ClusterState, record: Member | Packet, type_: EventType | None = None) -> Event:
    """Apply one event carrying ``record`` to ``state`` (as the Recorder would)."""
    if isinstance(record, Member):
        data: dict[str, Any] = {"member": record.to_dict()}
        default = EventType.MEMBER_REGISTERED
    else:
        data = {"packet": record.to_dict()}
        default = EventType.PACKET_CREATED
    event = Event(sequence=state.revision + 1, time=WALL_START, type=str(type_ or default),
                  actor="test", data=data)
    state.apply(event)
    return event


def with_status(member: Member, status: MemberStatus) -> Member:
    return replace(member, status=status)
