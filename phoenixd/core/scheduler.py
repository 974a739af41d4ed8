"""Placement: the eligibility filter, the three strategies, and the decision record.

Every member is first checked against the packet (ACTIVE, capabilities with
versions, room for the demand, the packet's policy); the first rule a member
fails is kept as the reason it was rejected. The eligible ones are then scored
by the packet's strategy on the compiled kernel (phoenixd.kernel): the consistent
hash ring, bin-packing (spread or pack) or trust-weighted routing. The decision
keeps enough to answer "why this member?" later: the candidates with their
scores or rejecting rule, the winner and the policy it satisfied.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from array import array
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from phoenixd import kernel
from phoenixd.core.members import Member, MemberStatus
from phoenixd.core.packets import Packet, Policy, Strategy
from phoenixd.core.selector import Selector, parse_selector
from phoenixd.core.state import NO_LOAD, ClusterState
from phoenixd.core.table import MemberTable
from phoenixd.core.validation import parse_capability

__all__ = [
    "MAX_LISTED_CANDIDATES", "Candidate", "Decision", "Requirement", "Scheduler",
    "recorded_candidates", "rejection",
]

# Candidates a decision lists by name (the best eligible, then a sample of the
# rejected); every rejection is still counted by rule. Keeps a decision about
# 10k members a few KiB in the journal rather than a megabyte.
MAX_LISTED_CANDIDATES = 32
# A demand fits when it exceeds the free capacity by no more than this (float sums).
_SLACK = 1e-9


@dataclass(frozen=True, slots=True)
class Candidate:
    member_id: str
    score: float | None  # None when rejected
    rejected_by: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    packet_id: str
    strategy: Strategy
    trigger: str
    winner: str
    candidates: tuple[Candidate, ...]
    considered: int
    rejected_counts: dict[str, int] = field(default_factory=dict)
    explanation: str = ""

    def to_dict(self) -> dict[str, Any]:
        """As journaled: the eligible candidates as [member, score] pairs, best first (the
        score is null for the ring), the rejected ones as [member, rule] pairs."""
        return {
            "packet_id": self.packet_id,
            "strategy": str(self.strategy),
            "trigger": self.trigger,
            "winner": self.winner,
            "ranked": [[c.member_id, c.score] for c in self.candidates if not c.rejected_by],
            "rejected": [[c.member_id, c.rejected_by] for c in self.candidates if c.rejected_by],
            "considered": self.considered,
            "rejected_counts": dict(self.rejected_counts),
            "explanation": self.explanation,
        }


def recorded_candidates(raw: Mapping[str, Any]) -> list[Candidate]:
    """The candidates of a journaled decision, in either form it has been written in."""
    if "candidates" in raw:  # journals written before decisions were compacted
        return [Candidate(c["member"], c["score"], c["rejected_by"]) for c in raw["candidates"]]
    return [*(Candidate(m, score) for m, score in raw["ranked"]),
            *(Candidate(m, None, rule) for m, rule in raw["rejected"])]


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a packet asks of its owner, parsed once per decision rather than per member."""

    capabilities: tuple[tuple[str, str, str], ...]  # (as written, name, version)
    cpu: float
    memory: float
    minimum_trust: float
    regions: frozenset[str]
    pii: bool
    selector: Selector | None
    namespace: str

    @classmethod
    def of(cls, packet: Packet) -> Requirement:
        return _requirement(packet.required_capabilities, packet.demand_cpu,
                            packet.demand_memory, packet.policy, packet.namespace)

    def reject(self, member: Member, used_cpu: float, used_memory: float) -> str:
        """The first eligibility rule ``member`` fails ("" if none), in the documented order."""
        if member.namespace != self.namespace:
            return "other_namespace"
        if member.status is not MemberStatus.ACTIVE:
            return f"not_active:{member.status}"
        if self.capabilities:
            offered = member.capability_versions()
            for required, name, version in self.capabilities:
                if name not in offered or (version and offered[name] != version):
                    return f"missing_capability:{required}"
        if self.cpu > member.cpu - used_cpu:
            return "no_capacity:cpu"
        if self.memory > member.memory - used_memory:
            return "no_capacity:memory"
        if member.trust_score < self.minimum_trust:
            return "trust_below_minimum"
        labels = member.labels
        if self.regions and labels.get("region") not in self.regions:
            return "region_not_allowed"
        if self.pii and labels.get("pii_cleared") != "true":
            return "pii_not_cleared"
        if self.selector is not None and not self.selector.matches(labels):
            return "label_selector_mismatch"
        return ""


# Packets mostly repeat a few requirements, and a Requirement is immutable: one made per
# distinct (capabilities, demand, policy, namespace) serves every decision and rebalance
# check of the packets that share it (a rebalance checks every movable ring packet).
@functools.lru_cache(maxsize=4096)
def _requirement(capabilities: tuple[str, ...], cpu: float, memory: float, policy: Policy,
                 namespace: str) -> Requirement:
    return Requirement(
        tuple((c, *parse_capability(c)) for c in capabilities),
        cpu - _SLACK, memory - _SLACK,
        policy.minimum_trust_score, frozenset(policy.allowed_regions),
        policy.pii_review_required,
        parse_selector(policy.label_selector) if policy.label_selector else None,
        namespace,
    )


def rejection(member: Member, packet: Packet, used_cpu: float, used_memory: float) -> str:
    """The first eligibility rule ``member`` fails for ``packet`` ("" if none)."""
    return Requirement.of(packet).reject(member, used_cpu, used_memory)


# Rule codes beyond the kernel's (phoenixd.kernel.RULES), checked in Python afterwards.
RULES = (*kernel.RULES, "label_selector_mismatch", "previous_owner")
_SELECTOR = RULES.index("label_selector_mismatch")
_PREVIOUS_OWNER = RULES.index("previous_owner")
# The order a decision counts rejections in (a pass over the rules each, until all are
# counted): the rules checked in Python first, since a handoff's decision often rejects
# its previous owner alone.
_COUNTING_ORDER = (_PREVIOUS_OWNER, _SELECTOR, *range(1, len(kernel.RULES)))
_ELIGIBLE = bytes([1]) + bytes(255)  # translate rule codes into an eligible mask
_NONZERO = re.compile(rb"[^\x00]")
_ZERO = re.compile(rb"\x00")


class Scheduler:
    """Chooses an owner for a packet among the registry's members."""

    def __init__(
        self,
        state: ClusterState,
        *,
        default_strategy: Strategy = Strategy.TRUST,
        vnodes: int = kernel.DEFAULT_VNODES,
        load_bound: float = 0.0,
    ) -> None:
        self._state = state
        self.default_strategy = default_strategy
        self._vnodes = vnodes
        self._load_bound = load_bound  # ring: no member above ceil((1+eps) x average); 0 = off
        # Per namespace: the ring over its ACTIVE members and the table version it was
        # made at, updated only when that set changed.
        self._rings: dict[str, tuple[kernel.Ring, int]] = {}

    def _table(self, packet: Packet) -> MemberTable:
        """The ACTIVE members of the packet's namespace: the only ones that may own it."""
        return self._state.peek(packet.namespace).table

    # -- the ring ----------------------------------------------------------------

    def _current_ring(self, namespace: str) -> kernel.Ring:
        table = self._state.peek(namespace).table
        ring, version = self._rings.get(namespace, (None, -1))
        if ring is None or table.version != version:
            if ring is None:
                ring = kernel.Ring(table.ids, self._vnodes)
            elif tuple(table.ids) != ring.members:
                # Hashes only the members that joined: a pass over the ring, not a build.
                ring = ring.updated(table.ids)
            self._rings[namespace] = ring, table.version
        return ring

    def ring_owner(self, packet: Packet, eligible: bytes | bytearray | None = None) -> str:
        """Where the ring puts ``packet`` now: the first member clockwise whose byte in
        ``eligible`` (one per ACTIVE member, in id order) is set; by default, any member
        that may own it ("" if nowhere)."""
        table = self._table(packet)
        if not len(table):
            return ""
        hashring = self._current_ring(packet.namespace)
        key = kernel.hash32(packet.routing_key or packet.packet_id)
        if eligible is None and self._load_bound <= 0:
            # The first vnode clockwise is the answer whenever its member may own the packet:
            # one member checked instead of an eligibility pass over all of them.
            first = table.ids[hashring.lookup(key)]
            if not self._reject(self._state.members[first], packet):
                return first
        if eligible is None:
            eligible = self._classify(packet, Requirement.of(packet), "")[0].translate(_ELIGIBLE)
        if self._load_bound > 0:
            loads = array("i", map(int, table.packets))
            owner = table.position(packet.owner) if packet.status.owned else -1
            if owner >= 0:
                loads[owner] -= 1  # the packet does not count against where it already is
            index = hashring.lookup_bounded(array("I", [key]), loads, self._load_bound,
                                            eligible)[0]
        else:
            index = hashring.lookup(key, eligible)
        return table.ids[index] if index >= 0 else ""

    # -- decisions -----------------------------------------------------------------

    def check(self, member: Member, packet: Packet) -> str:
        """The rule ``member`` fails for ``packet`` ("" if it may own it)."""
        return self._reject(member, packet)

    def _reject(self, member: Member, packet: Packet, exclude: str = "",
                requirement: Requirement | None = None) -> str:
        load = self._state.loads.get(member.member_id, NO_LOAD)
        cpu, memory = load.cpu, load.memory
        if packet.owner == member.member_id and packet.status.owned:
            cpu -= packet.demand_cpu  # its own demand does not crowd out its owner
            memory -= packet.demand_memory
        rule = (requirement or Requirement.of(packet)).reject(member, cpu, memory)
        if not rule and member.member_id == exclude:
            return "previous_owner"  # a handoff moves work away from its owner
        return rule

    def _classify(self, packet: Packet, requirement: Requirement, exclude: str
                  ) -> tuple[bytearray, int]:
        """The code in RULES of the first rule each ACTIVE member fails (0: eligible),
        one byte per member in id order: what Requirement.reject says, for all at once;
        and how many are eligible."""
        state = self._state
        table = self._table(packet)
        rules = bytearray(len(table))
        owner = table.position(packet.owner) if packet.status.owned and packet.owner else -1
        if owner >= 0:  # its own demand does not crowd out its owner (as in _reject)
            saved = table.cpu_room[owner], table.memory_room[owner]
            member, load = state.members[packet.owner], state.load_of(packet.owner)
            table.cpu_room[owner] = member.cpu - (load.cpu - packet.demand_cpu)
            table.memory_room[owner] = member.memory - (load.memory - packet.demand_memory)
        try:
            eligible = kernel.eligibility(
                table.capable(f"{name}@{version}" if version else name
                              for _, name, version in requirement.capabilities),
                table.cpu_room, table.memory_room, table.trust, table.region, table.pii_cleared,
                requirement.cpu, requirement.memory, requirement.minimum_trust,
                table.allowed_regions(requirement.regions), requirement.pii, rules)
        finally:
            if owner >= 0:
                table.cpu_room[owner], table.memory_room[owner] = saved
        if requirement.selector is not None:
            for match in _ZERO.finditer(rules):
                i = match.start()
                if not requirement.selector.matches(state.members[table.ids[i]].labels):
                    rules[i] = _SELECTOR
                    eligible -= 1
        if exclude:
            i = table.position(exclude)
            if i >= 0 and not rules[i]:
                rules[i] = _PREVIOUS_OWNER
                eligible -= 1
        return rules, eligible

    def decide(
        self, packet: Packet, trigger: str, *, exclude: str = "", target: str = ""
    ) -> Decision:
        """Choose an owner (or none); ``target`` restricts the choice to one member.

        The ACTIVE members are checked and scored by the compiled kernel over the
        state's member table; Python touches only the members the decision names.
        """
        if target:
            return self._decide_for(packet, trigger, exclude, target)
        space = self._state.peek(packet.namespace)
        table = space.table
        requirement = Requirement.of(packet)
        rules, n_eligible = self._classify(packet, requirement, exclude)
        # A packet any member may take (the common case) needs no pass over the rules to
        # find who is eligible.
        everyone = n_eligible == len(rules)
        eligible = b"\x01" * len(rules) if everyone else rules.translate(_ELIGIBLE)
        counts: Counter[str] = Counter()
        if space.standby_ids:
            counts["not_active"] = len(space.standby_ids)
        # Only rules that rejected someone are counted, and the pass over the rows stops once
        # every rejection is: none at all when every member is eligible.
        unaccounted = len(rules) - n_eligible
        for code in _COUNTING_ORDER:
            if not unaccounted:
                break
            if n := rules.count(code):
                counts[RULES[code].split(":")[0]] += n
                unaccounted -= n
        scores, winner = self._score(packet, eligible)
        if scores is None:  # the ring
            winner = table.position(self.ring_owner(packet, eligible)) if n_eligible else -1
            best = (list(range(min(n_eligible, MAX_LISTED_CANDIDATES))) if everyone else
                    [m.start() for m in itertools.islice(_ZERO.finditer(rules),
                                                         MAX_LISTED_CANDIDATES)])
        else:
            best = list(kernel.top_scores(scores, eligible, MAX_LISTED_CANDIDATES))
        if winner >= 0:
            best = [winner, *(i for i in best if i != winner)][:MAX_LISTED_CANDIDATES]
        if scores is None:
            listed = [_unscored(table.ids[i]) for i in best]
        else:
            listed = [Candidate(table.ids[i], scores[i]) for i in best]
        listed += self._rejected_sample(packet, rules, exclude, requirement,
                                        MAX_LISTED_CANDIDATES - len(listed))
        winner_id = table.ids[winner] if winner >= 0 else ""
        winner_score = scores[winner] if scores is not None and winner >= 0 else math.nan
        considered = len(table) + len(space.standby_ids)
        explanation = _explain(packet, winner_id, winner_score, n_eligible, considered, counts)
        if not winner_id and (unoffered := self.unoffered(requirement)):
            explanation = f"{_nobody_offers(unoffered)}; {explanation}"
        return Decision(
            packet_id=packet.packet_id,
            strategy=packet.strategy,
            trigger=trigger,
            winner=winner_id,
            candidates=tuple(listed),
            considered=considered,
            rejected_counts=dict(sorted(counts.items())),
            explanation=explanation,
        )

    def warnings(self, packet: Packet) -> list[str]:
        """What a person should know about a packet that will wait: a required capability
        that no ACTIVE member offers (it is accepted all the same, and placed once one does)."""
        unoffered = self.unoffered(Requirement.of(packet))
        return [_nobody_offers(unoffered)] if unoffered else []

    def unoffered(self, requirement: Requirement) -> list[str]:
        """The required capabilities (as written) that no ACTIVE member of the requirement's
        namespace offers."""
        offers = self._state.peek(requirement.namespace).table.offers
        return [required for required, name, version in requirement.capabilities
                if (f"{name}@{version}" if version else name) not in offers]

    def _decide_for(self, packet: Packet, trigger: str, exclude: str, target: str) -> Decision:
        """A decision about one member only (a manual handoff to ``target``)."""
        state = self._state
        member = state.members[target]
        rule = self._reject(member, packet, exclude)
        score = math.nan
        if not rule and packet.strategy is not Strategy.RING:
            table = self._table(packet)
            i = table.position(target)
            only = bytearray(len(table))
            only[i] = 1
            scores = self._score(packet, only)[0]
            score = scores[i] if scores is not None else math.nan
        candidate = (Candidate(target, None if packet.strategy is Strategy.RING else score)
                     if not rule else Candidate(target, None, rule))
        counts = Counter({rule.split(":")[0]: 1} if rule else {})
        return Decision(
            packet_id=packet.packet_id,
            strategy=packet.strategy,
            trigger=trigger,
            winner="" if rule else target,
            candidates=(candidate,),
            considered=1,
            rejected_counts=dict(counts),
            explanation=_explain(packet, "" if rule else target, score, 0 if rule else 1, 1,
                                 counts),
        )

    def _rejected_sample(self, packet: Packet, rules: bytearray, exclude: str,
                         requirement: Requirement, room: int) -> list[Candidate]:
        """The first ``room`` rejected members by id, with the rule each failed."""
        if room <= 0:
            return []
        state = self._state
        space = state.peek(packet.namespace)
        active = (space.table.ids[m.start()]
                  for m in itertools.islice(_NONZERO.finditer(rules), room))
        sample = sorted([*active, *space.standby_ids[:room]])[:room]
        return [Candidate(m, None, self._reject(state.members[m], packet, exclude, requirement))
                for m in sample]

    def _score(self, packet: Packet, eligible: bytes | bytearray
               ) -> tuple[array[float] | None, int]:
        """Every ACTIVE member's score (NaN where ineligible) and the winner's row (-1 if
        none), on the compiled kernel; no scores for the ring."""
        table = self._table(packet)
        if packet.strategy is Strategy.RING:
            return None, -1
        if packet.strategy is Strategy.TRUST:
            trust = (table.reliability, table.trust, table.packets, eligible)
            return kernel.scores_trust(*trust), kernel.argmax_trust(*trust)
        free = (table.cpu_free, table.memory_free, eligible)
        pack = packet.strategy is Strategy.BINPACK_PACK
        return kernel.scores_binpack(*free), kernel.argmax_binpack(*free, pack)


# Ring candidates carry no score: one immutable Candidate per member serves every decision
# that lists it, instead of 32 new ones per decision (a sizeable part of a ring decision's
# Python work). Bounded well above the members a namespace holds in practice.
@functools.lru_cache(maxsize=65536)
def _unscored(member_id: str) -> Candidate:
    return Candidate(member_id, None)


def _nobody_offers(capabilities: list[str]) -> str:
    names = ", ".join(capabilities)
    return (f"no ACTIVE member offers {names}: the packet waits until a member that does "
            "registers or advertises it")


def _explain(
    packet: Packet, winner: str, score: float, eligible: int, considered: int,
    counts: Counter[str],
) -> str:
    why = ", ".join(f"{rule} x{n}" for rule, n in sorted(counts.items())) or "none"
    if not winner:
        return f"no eligible member among {considered} considered (rejected: {why})"
    if packet.strategy is Strategy.RING:
        key = packet.routing_key or packet.packet_id
        how = f"first eligible member clockwise from hash32({key!r}) on the ring"
    else:
        how = f"highest {packet.strategy} score {score:.4f}"
        if packet.strategy is Strategy.BINPACK_PACK:
            how = f"fullest member that fits (free-fraction score {score:.4f})"
    return f"{winner}: {how}; {eligible} eligible of {considered} considered (rejected: {why})"
