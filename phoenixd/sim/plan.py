"""A run's event stream: what happens at each step, decided before the run starts.

The plan depends only on the scenario and its seed, never on where the core places
anything, so one plan can be run through every strategy (``compare``) and the runs differ
only by their placements. Members and packets are described whole here (capabilities,
capacity, trust, the rate at which a member fails its tasks); the world turns each action
into the core's commands.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from phoenixd.sim.scenario import ChurnSpec, Scenario, ScenarioError

__all__ = ["REGIONS", "SKILLS", "Action", "MemberPlan", "PacketPlan", "Plan", "PlanBuilder"]

REGIONS = ("zone-a", "zone-b", "zone-c")
SKILLS = ("classify", "plan", "review", "summarize", "translate")
# Member sizes for binpack (cpu, memory MiB), and packet demands (cpu; memory is 1 GiB per cpu).
SIZES = ((4.0, 8192.0), (8.0, 16384.0), (16.0, 32768.0))
DEMANDS = (0.25, 0.5, 1.0, 2.0)
# Share of its tasks an agent fails, unless a preset says otherwise.
BASE_FAIL_RATE = 0.05


@dataclass(frozen=True, slots=True)
class MemberPlan:
    member_id: str
    region: str
    capabilities: tuple[str, ...]
    cpu: float
    memory: float
    trust: float
    fail_rate: float


@dataclass(frozen=True, slots=True)
class PacketPlan:
    packet_id: str
    capabilities: tuple[str, ...] = ()
    cpu: float = 0.0
    memory: float = 0.0


@dataclass(frozen=True, slots=True)
class Action:
    """One change at a step. ``kind``: join, retire, drain, fail (silent for ``seconds``,
    0 = until a recover), recover, capabilities, capacity, submit."""

    kind: str
    member_id: str = ""
    member: MemberPlan | None = None
    seconds: float = 0.0
    capabilities: tuple[str, ...] = ()
    cpu: float = 0.0
    memory: float = 0.0
    packets: tuple[PacketPlan, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[tuple[Action, ...], ...]

    @property
    def actions(self) -> int:
        return sum(len(step) for step in self.steps)


@dataclass
class PlanBuilder:
    """Builds a plan step by step, keeping the roster a preset chooses members from."""

    scenario: Scenario
    rng: random.Random
    steps: list[list[Action]] = field(default_factory=list)
    # member -> its plan; "up", "down" (silent until recovered) or "gone" (retired).
    roster: dict[str, MemberPlan] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    joined: int = 0
    submitted: int = 0

    def __post_init__(self) -> None:
        self.steps = [[] for _ in range(self.scenario.steps)]

    # -- members ---------------------------------------------------------------------

    def new_member(self, *, fail_rate: float = BASE_FAIL_RATE, region: str = "") -> MemberPlan:
        self.joined += 1
        rng, mode = self.rng, self.scenario.mode
        cpu, memory = rng.choice(SIZES) if mode == "binpack" else SIZES[1]
        return MemberPlan(
            member_id=f"m-{self.joined:05d}",
            region=region or REGIONS[(self.joined - 1) % len(REGIONS)],
            capabilities=tuple(sorted(rng.sample(SKILLS, 2))) if mode == "agentic" else (),
            cpu=cpu, memory=memory, trust=round(rng.uniform(0.6, 1.0), 3),
            fail_rate=fail_rate,
        )

    def join(self, step: int, member: MemberPlan) -> None:
        self.roster[member.member_id] = member
        self.status[member.member_id] = "up"
        self.steps[step].append(Action("join", member.member_id, member=member))

    def join_new(self, step: int, count: int, **kw: float) -> list[str]:
        members = [self.new_member(**kw) for _ in range(count)]  # type: ignore[arg-type]
        for member in members:
            self.join(step, member)
        return [m.member_id for m in members]

    def rejoin(self, step: int, member_id: str) -> None:
        self.join(step, self.roster[member_id])

    def pick(self, count: int, *, region: str = "", status: str = "up") -> list[str]:
        """``count`` members in ``status`` (from ``region``), chosen by the seed, in id order."""
        pool = [m for m, s in self.status.items()
                if s == status and (not region or self.roster[m].region == region)]
        return sorted(self.rng.sample(pool, min(count, len(pool))))

    def in_region(self, region: str) -> list[str]:
        return [m for m, s in self.status.items() if s == "up" and self.roster[m].region == region]

    def add(self, step: int, kind: str, member_id: str, **kw: object) -> None:
        if kind == "retire" or kind == "drain":
            self.status[member_id] = "gone"
        elif kind == "fail" and not kw.get("seconds"):
            self.status[member_id] = "down"
        elif kind == "recover":
            self.status[member_id] = "up"
        self.steps[step].append(Action(kind, member_id, **kw))  # type: ignore[arg-type]

    # -- packets ---------------------------------------------------------------------

    def submit(self, step: int, count: int) -> None:
        if count <= 0:
            return
        rng, mode, packets = self.rng, self.scenario.mode, []
        for _ in range(count):
            self.submitted += 1
            packet_id = f"p-{self.submitted:06d}"
            if mode == "binpack":
                cpu = rng.choice(DEMANDS)
                packets.append(PacketPlan(packet_id, cpu=cpu, memory=cpu * 1024.0))
            elif mode == "agentic":
                packets.append(PacketPlan(packet_id, capabilities=(rng.choice(SKILLS),)))
            else:
                packets.append(PacketPlan(packet_id))
        self.steps[step].append(Action("submit", packets=tuple(packets)))

    # -- scripted events -----------------------------------------------------------------

    def script(self, spec: ChurnSpec) -> None:
        """A scenario file's event, resolved against the roster at its step."""
        step = spec.step
        if spec.action == "submit":
            self.submit(step, spec.count)
            return
        if spec.action == "join":
            for _ in range(spec.count):
                member = self.new_member(region=spec.region)
                if spec.capabilities:
                    member = MemberPlan(member.member_id, member.region, spec.capabilities,
                                        member.cpu, member.memory, member.trust,
                                        member.fail_rate)
                self.join(step, member)
            return
        if spec.member and spec.member not in self.roster:
            raise ScenarioError(
                f"events: member {spec.member!r} ({spec.action} at step {step}) has not "
                f"joined by then; members are named m-00001, m-00002, ... in joining order")
        wanted = "down" if spec.action == "recover" else "up"
        targets = [spec.member] if spec.member else self.pick(
            spec.count, region=spec.region, status=wanted)
        for member_id in targets:
            if spec.action == "capabilities":
                self.add(step, "capabilities", member_id, capabilities=spec.capabilities)
            elif spec.action == "capacity":
                self.add(step, "capacity", member_id, cpu=spec.cpu, memory=spec.memory)
            elif spec.action == "fail":
                self.add(step, "fail", member_id, seconds=spec.seconds)
            else:
                self.add(step, spec.action, member_id)

    def build(self) -> Plan:
        return Plan(tuple(tuple(step) for step in self.steps))
