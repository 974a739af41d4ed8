"""The daemon's core, wired as phoenixd wires it, on a virtual clock, with simulated members.

The same ClusterState, Recorder, Scheduler (and its compiled kernel) and Cluster as
phoenixd/app.py builds, but the clocks are one virtual clock, the journal is the Observer,
the handoff key and the member credentials are drawn from the seed, and nothing sleeps,
listens or writes a file. Members act only through the commands a real member (or
operator) has: register, heartbeat, ack, complete, fail, retire, drain, update; a member
fails by falling silent, and the core's own lease logic declares it SUSPECT, then FAILED.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from phoenixd.core.cluster import Cluster
from phoenixd.core.credentials import Credentials
from phoenixd.core.dispatch import (
    DEFAULT_REBALANCE_INTERVAL,
    DEFAULT_REBALANCE_SHARE,
    PacketNotice,
    PacketNoticeKind,
    PacketSpec,
)
from phoenixd.core.errors import PhoenixError
from phoenixd.core.events import GENESIS_HASH
from phoenixd.core.members import MemberKind, MemberStatus
from phoenixd.core.packets import Strategy
from phoenixd.core.recorder import Recorder
from phoenixd.core.registry import MemberUpdate, Registration
from phoenixd.core.reliability import Estimator
from phoenixd.core.scheduler import Scheduler
from phoenixd.core.state import ClusterState
from phoenixd.signing import Ed25519Signer
from phoenixd.sim.observer import Observer
from phoenixd.sim.plan import Action, MemberPlan
from phoenixd.sim.scenario import Scenario

__all__ = ["TICK", "WALL_START", "VirtualClock", "World", "signer_for"]

# Every run starts at the same instant (2026-01-01T00:00:00Z), so its journal repeats.
WALL_START = 1_767_225_600.0
MONO_START = 1_000.0
# Virtual seconds between two ticks of the core's timers: the daemon's rebalance interval,
# so paced rebalancing runs at the pace it runs at in phoenixd.
TICK = 1.0


class VirtualClock:
    """Both of the core's clocks, moved only by the simulation."""

    def __init__(self, wall_start: float = WALL_START) -> None:
        self.elapsed = 0.0
        self._wall_start = wall_start

    def monotonic(self) -> float:
        return MONO_START + self.elapsed

    def wall(self) -> float:
        return self._wall_start + self.elapsed

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds


def signer_for(seed: int) -> Ed25519Signer:
    """The daemon's signer type with a key derived from the seed (Ed25519 signatures are
    deterministic, so the tokens, and the chain that holds them, repeat)."""
    secret = hashlib.sha256(f"phoenixflight-sim:handoff-key:{seed}".encode()).digest()
    return Ed25519Signer(Ed25519PrivateKey.from_private_bytes(secret))


def _coin(seed: int, packet_id: str, epoch: int) -> float:
    """A uniform draw in [0, 1) fixed by the task attempt, not by who runs it or when: every
    strategy's run of one plan sees the same luck for the same attempt."""
    digest = hashlib.blake2b(f"{seed}:{packet_id}:{epoch}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(slots=True)
class Agent:
    """A simulated member: what it believes it holds, and whether it is speaking."""

    plan: MemberPlan
    credential: str = ""
    held: dict[str, int] = field(default_factory=dict)  # packet -> epoch it was given
    silent_until: float | None = None  # virtual elapsed seconds; inf: until recovered
    gone: bool = False  # retired: sends nothing more until it joins again
    draining: bool = False


class World:
    """One simulated cluster. Not thread-safe; one run at a time."""

    def __init__(self, scenario: Scenario, strategy: Strategy, observer: Observer, *,
                 state: ClusterState | None = None, head: tuple[int, str] = (0, GENESIS_HASH),
                 rebalance: tuple[float, float] = (DEFAULT_REBALANCE_SHARE,
                                                   DEFAULT_REBALANCE_INTERVAL),
                 load_bound: float = 0.0, wall_start: float = WALL_START) -> None:
        """A world of the scenario's members, or (``state``) one forked from a daemon's
        state at journal ``head`` (sequence, hash) and wall time ``wall_start``, with that
        daemon's rebalance pacing (share, interval) and ring load bound."""
        self.scenario = scenario
        self.clock = clock = VirtualClock(wall_start)
        self.observer = observer
        self.state = ClusterState() if state is None else state
        recorder = Recorder(observer, self.state.apply, head_sequence=head[0],
                            head_hash=head[1], wall_clock=clock.wall)
        self.scheduler = scheduler = Scheduler(
            self.state, default_strategy=strategy, vnodes=scenario.vnodes,
            load_bound=load_bound)
        secrets = random.Random(f"phoenixflight-sim:credentials:{scenario.seed}")
        self.cluster = Cluster(
            self.state, recorder, scheduler, signer_for(scenario.seed),
            notify_packet=self._deliver, suspect_grace=scenario.suspect_grace,
            rebalance_share=rebalance[0], rebalance_interval=rebalance[1],
            monotonic=clock.monotonic, wall_clock=clock.wall,
            credentials=Credentials(self.state,
                                    new_secret=lambda: f"{secrets.getrandbits(256):064x}"),
            learn_reliability=(Estimator(scenario.reliability_half_life,
                                         scenario.reliability_prior_weight)
                               if scenario.learn_reliability else None),
        )
        self.agents: dict[str, Agent] = {}
        self._beat_every = max(1, math.floor(scenario.heartbeat_every / TICK))
        # Heartbeats are spread over the interval: bucket i beats at ticks i, i+n, i+2n...
        self._buckets: list[dict[str, None]] = [{} for _ in range(self._beat_every)]
        self._ticks = 0
        self._mail: dict[str, dict[str, PacketNotice]] = {}
        self._resume: list[tuple[float, str]] = []  # (when, member) for timed silences
        # agentic tasks in progress: (done at, order, member, packet, epoch)
        self._work: list[tuple[float, int, str, str, int]] = []
        self._work_n = 0

    # -- the plan's actions ------------------------------------------------------------

    def apply(self, action: Action) -> None:
        kind, member_id = action.kind, action.member_id
        if kind == "submit":
            for p in action.packets:
                self.cluster.submit(PacketSpec(
                    p.packet_id, workload_type=self.scenario.mode,
                    required_capabilities=p.capabilities, demand_cpu=p.cpu,
                    demand_memory=p.memory, routing_key=p.packet_id))
        elif kind == "join":
            assert action.member is not None
            self._join(action.member)
        elif kind == "retire":
            agent = self.agents[member_id]
            self._operator(lambda: self.cluster.retire(member_id, "simulated: leaves"))
            agent.gone, agent.held = True, {}
        elif kind == "drain":
            self._operator(lambda: self.cluster.drain(member_id, "simulated: drains"))
            self.agents[member_id].draining = True
        elif kind == "fail":
            agent = self.agents[member_id]
            until = math.inf if not action.seconds else self.clock.elapsed + action.seconds
            agent.silent_until = until
            if until != math.inf:
                heapq.heappush(self._resume, (until, member_id))
        elif kind == "recover":
            self._speak(self.agents[member_id])
        elif kind == "capabilities":
            self._operator(lambda: self.cluster.update_member(member_id, MemberUpdate(
                frozenset({"capabilities"}), capabilities=action.capabilities)))
        elif kind == "capacity":
            self._operator(lambda: self.cluster.update_member(member_id, MemberUpdate(
                frozenset({"capacity"}), cpu=action.cpu, memory=action.memory)))
        else:
            raise ValueError(f"unknown action {kind!r}")
        self.settle()

    def _operator(self, command: Callable[[], object]) -> None:
        """An operator command; one the core refuses (a member already gone) is skipped, as
        an operator's refused call changes nothing."""
        with contextlib.suppress(PhoenixError):
            command()

    def _join(self, plan: MemberPlan) -> None:
        agent = self.agents.get(plan.member_id)
        if agent is None:
            agent = self.agents[plan.member_id] = Agent(plan)
            self._buckets[len(self.agents) % self._beat_every][plan.member_id] = None
        _, agent.credential = self.cluster.register(Registration(
            plan.member_id, kind=MemberKind.AGENT, capabilities=plan.capabilities,
            cpu=plan.cpu, memory=plan.memory, trust_score=plan.trust,
            labels={"region": plan.region}, lease_ttl=self.scenario.lease_ttl,
            credential=agent.credential))
        agent.plan, agent.held, agent.gone, agent.draining = plan, {}, False, False
        agent.silent_until = None

    def _speak(self, agent: Agent) -> None:
        """A silent member speaks again: if it was declared FAILED meanwhile, it first tries
        to go on with the work it still believes it holds (its old epochs are refused and
        recorded: fencing at work), then registers again as a new incarnation."""
        agent.silent_until = None
        member_id = agent.plan.member_id
        status = self.cluster.get_member(member_id).status
        if status is MemberStatus.FAILED:
            for packet_id, epoch in agent.held.items():
                with contextlib.suppress(PhoenixError):  # refused, and recorded
                    self.cluster.save_checkpoint(member_id, agent.credential, packet_id,
                                                 epoch, {"resumed": True}, "resumed")
            self._join(agent.plan)
        elif not status.terminal:
            self.cluster.heartbeat(member_id, agent.credential)
        self.settle()

    # -- what members hear ---------------------------------------------------------------

    def _deliver(self, notice: PacketNotice) -> None:
        """A member hears of its assignments and revocations only while it is speaking
        (a silent member's session is gone); the latest notice per packet wins."""
        agent = self.agents.get(notice.member_id)
        if agent is None or agent.gone or agent.silent_until is not None:
            return
        self._mail.setdefault(notice.member_id, {})[notice.packet.packet_id] = notice

    def settle(self) -> None:
        """Members act on what they heard: ack new work, drop revoked work."""
        while self._mail:
            mail, self._mail = self._mail, {}
            for member_id, notices in mail.items():
                agent = self.agents[member_id]
                for packet_id, notice in notices.items():
                    if notice.kind is PacketNoticeKind.REVOCATION:
                        if agent.held.get(packet_id) == notice.epoch:
                            del agent.held[packet_id]
                        continue
                    agent.held[packet_id] = notice.epoch
                    try:
                        self.cluster.ack(member_id, agent.credential, packet_id, notice.epoch)
                    except PhoenixError:
                        agent.held.pop(packet_id, None)
                        continue
                    if self.scenario.mode == "agentic":
                        self._work_n += 1
                        heapq.heappush(self._work, (
                            self.clock.elapsed + self.scenario.task_seconds, self._work_n,
                            member_id, packet_id, notice.epoch))

    # -- time ------------------------------------------------------------------------------

    def tick(self) -> None:
        """One tick: the clock moves, members speak (or not), the core's timers run."""
        self.clock.advance(TICK)
        now = self.clock.elapsed
        self._ticks += 1
        while self._resume and self._resume[0][0] <= now:
            _, member_id = heapq.heappop(self._resume)
            agent = self.agents[member_id]
            if agent.silent_until is not None and agent.silent_until <= now:
                self._speak(agent)
        for member_id in self._buckets[self._ticks % self._beat_every]:
            agent = self.agents[member_id]
            if agent.gone or agent.silent_until is not None:
                continue
            try:
                self.cluster.heartbeat(member_id, agent.credential)
            except PhoenixError:  # drained and retired meanwhile: it goes
                agent.gone, agent.held = True, {}
        self._finish_work(now)
        self.cluster.tick()
        self.settle()

    def _finish_work(self, now: float) -> None:
        """agentic: tasks whose time is up complete, or fail at their owner's rate."""
        while self._work and self._work[0][0] <= now:
            _, n, member_id, packet_id, epoch = heapq.heappop(self._work)
            agent = self.agents[member_id]
            if agent.held.get(packet_id) != epoch or agent.gone:
                continue
            if agent.silent_until is not None:
                if agent.silent_until != math.inf:  # finishes once it speaks again
                    heapq.heappush(self._work, (agent.silent_until, n, member_id, packet_id,
                                                epoch))
                continue
            del agent.held[packet_id]
            try:
                if _coin(self.scenario.seed, packet_id, epoch) < agent.plan.fail_rate:
                    self.cluster.fail(member_id, agent.credential, packet_id, epoch,
                                      "simulated task failure", permanent=False)
                else:
                    self.cluster.complete(member_id, agent.credential, packet_id, epoch,
                                          {"ok": True})
            except PhoenixError:  # taken away meanwhile: refused and recorded by the core
                pass
            self.settle()
