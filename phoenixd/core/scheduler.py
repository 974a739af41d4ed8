"""Placement: the eligibility filter, the three strategies, and the decision record.

Every member is first checked against the packet (ACTIVE, capabilities with
versions, room for the demand, the packet's policy); the first rule a member
fails is kept as the reason it was rejected. The eligible ones are then scored
by the packet's strategy on the compiled kernel (phoenixd.ring): the consistent
hash ring, bin-packing (spread or pack) or trust-weighted routing. The decision
keeps enough to answer "why this member?" later: the candidates with their
scores or rejecting rule, the winner and the policy it satisfied.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from phoenixd import ring
from phoenixd.core.members import Member, MemberStatus, parse_capability
from phoenixd.core.packets import Packet, Strategy
from phoenixd.core.selector import Selector, parse_selector
from phoenixd.core.state import NO_LOAD, ClusterState

__all__ = [
    "MAX_LISTED_CANDIDATES", "Candidate", "Decision", "Requirement", "Scheduler", "rejection",
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
        return {
            "packet_id": self.packet_id,
            "strategy": str(self.strategy),
            "trigger": self.trigger,
            "winner": self.winner,
            "candidates": [
                {"member": c.member_id, "score": c.score, "rejected_by": c.rejected_by}
                for c in self.candidates
            ],
            "considered": self.considered,
            "rejected_counts": dict(self.rejected_counts),
            "explanation": self.explanation,
        }


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

    @classmethod
    def of(cls, packet: Packet) -> Requirement:
        policy = packet.policy
        return cls(
            tuple((c, *parse_capability(c)) for c in packet.required_capabilities),
            packet.demand_cpu - _SLACK, packet.demand_memory - _SLACK,
            policy.minimum_trust_score, frozenset(policy.allowed_regions),
            policy.pii_review_required,
            parse_selector(policy.label_selector) if policy.label_selector else None,
        )

    def reject(self, member: Member, used_cpu: float, used_memory: float) -> str:
        """The first eligibility rule ``member`` fails ("" if none), in the documented order."""
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


def rejection(member: Member, packet: Packet, used_cpu: float, used_memory: float) -> str:
    """The first eligibility rule ``member`` fails for ``packet`` ("" if none)."""
    return Requirement.of(packet).reject(member, used_cpu, used_memory)


class Scheduler:
    """Chooses an owner for a packet among the registry's members."""

    def __init__(
        self,
        state: ClusterState,
        *,
        default_strategy: Strategy = Strategy.TRUST,
        vnodes: int = ring.DEFAULT_VNODES,
        load_bound: float = 0.0,
    ) -> None:
        self._state = state
        self.default_strategy = default_strategy
        self._vnodes = vnodes
        self._load_bound = load_bound  # ring: no member above ceil((1+eps) x average); 0 = off
        self._ring = ring.Ring((), vnodes)  # over the ACTIVE members; rebuilt when they change

    # -- the ring ----------------------------------------------------------------

    def _ring_for(self, active: tuple[str, ...]) -> ring.Ring:
        """The ring over the ACTIVE members, rebuilt only when that set changed."""
        if active != self._ring.members:
            self._ring = ring.Ring(active, self._vnodes)
        return self._ring

    def ring_owner(self, packet: Packet, eligible: dict[str, bool] | None = None) -> str:
        """Where the ring puts ``packet`` now among eligible members ("" if nowhere)."""
        active = tuple(self._state.active_ids)
        if not active:
            return ""
        hashring = self._ring_for(active)
        if eligible is None:
            requirement = Requirement.of(packet)
            eligible = {m: not self._reject(self._state.members[m], packet, "", requirement)
                        for m in active}
        mask = bytes(1 if eligible.get(m) else 0 for m in active)
        key = ring.hash32(packet.routing_key or packet.packet_id)
        if self._load_bound > 0:
            loads = array("i", (
                len(self._state.load_of(m).packets) - (packet.status.owned and packet.owner == m)
                for m in active
            ))  # the packet itself does not count against where it already is
            index = hashring.lookup_bounded(array("I", [key]), loads, self._load_bound, mask)[0]
        else:
            index = hashring.lookup(key, mask)
        return active[index] if index >= 0 else ""

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

    def decide(
        self, packet: Packet, trigger: str, *, exclude: str = "", target: str = ""
    ) -> Decision:
        """Choose an owner (or none); ``target`` restricts the choice to one member.

        Only ACTIVE members offering every required capability name are checked one
        by one (the state indexes them); the rest are counted by the rule they fail.
        """
        state = self._state
        considered = 1 if target else len(state.member_ids)
        candidates = [target] if target else self._candidates(packet)
        requirement = Requirement.of(packet)
        members = state.members
        rejected: dict[str, str] = {}
        eligible: list[str] = []
        for member_id in candidates:
            rule = self._reject(members[member_id], packet, exclude, requirement)
            if rule:
                rejected[member_id] = rule
            else:
                eligible.append(member_id)
        counts = Counter(rule.split(":")[0] for rule in rejected.values())
        if not target:
            inactive = len(state.member_ids) - len(state.active_ids)
            incapable = len(state.active_ids) - len(candidates)
            counts.update({"not_active": inactive, "missing_capability": incapable})
            counts = +counts  # drop the zero counts
        scores, winner = self._score(packet, eligible)
        if packet.strategy is Strategy.RING:
            # a target was checked above; otherwise the ring walks past the ineligible
            winner = eligible[0] if target and eligible else self.ring_owner(
                packet, dict.fromkeys(eligible, True))
        ranked = heapq.nsmallest(
            MAX_LISTED_CANDIDATES, eligible,
            key=lambda m: (m != winner, -(scores.get(m) or 0.0), m))
        listed = [Candidate(m, scores.get(m)) for m in ranked]
        room = max(0, MAX_LISTED_CANDIDATES - len(listed))
        sample = (list(rejected.items())[:room] if target
                  else self._rejected_sample(packet, candidates, rejected, room))
        listed += [Candidate(m, None, rule) for m, rule in sample]
        return Decision(
            packet_id=packet.packet_id,
            strategy=packet.strategy,
            trigger=trigger,
            winner=winner,
            candidates=tuple(listed),
            considered=considered,
            rejected_counts=dict(sorted(counts.items())),
            explanation=_explain(packet, winner, scores, len(eligible), considered, counts),
        )

    def _candidates(self, packet: Packet) -> list[str]:
        """ACTIVE members offering every capability name ``packet`` requires, sorted."""
        state = self._state
        names = {parse_capability(c)[0] for c in packet.required_capabilities}
        if not names:
            return state.active_ids
        groups = sorted((state.providers.get(name, set()) for name in names), key=len)
        found = groups[0].intersection(*groups[1:])
        return state.active_ids if len(found) == len(state.active_ids) else sorted(found)

    def _rejected_sample(
        self, packet: Packet, candidates: list[str], rejected: dict[str, str], room: int
    ) -> list[tuple[str, str]]:
        """The first ``room`` rejected members by id, with the rule each failed."""
        if room <= 0:
            return []
        sample = list(rejected.items())[:room]
        if len(candidates) < len(self._state.member_ids):
            inside = set(candidates)
            outside = (m for m in self._state.member_ids if m not in inside)
            for member_id, _ in zip(outside, range(room), strict=False):
                sample.append((member_id, self._reject(self._state.members[member_id], packet)))
        return sorted(sample)[:room]

    def _score(self, packet: Packet, eligible: list[str]) -> tuple[dict[str, float], str]:
        """Each eligible member's score and the winner, on the compiled kernel (not ring)."""
        if not eligible or packet.strategy is Strategy.RING:
            return {}, ""
        members = [self._state.members[m] for m in eligible]
        loads = [self._state.load_of(m) for m in eligible]
        mask = bytes([1]) * len(eligible)
        if packet.strategy is Strategy.TRUST:
            columns = (
                array("d", (m.reliability for m in members)),
                array("d", (m.trust_score for m in members)),
                array("d", (float(len(load.packets)) for load in loads)),
            )
            values = ring.scores_trust(*columns, mask)
            index = ring.argmax_trust(*columns, mask)
        else:
            pairs = list(zip(members, loads, strict=True))
            cpu = array("d", (_free(m.cpu, load.cpu) for m, load in pairs))
            memory = array("d", (_free(m.memory, load.memory) for m, load in pairs))
            values = ring.scores_binpack(cpu, memory, mask)
            index = ring.argmax_binpack(cpu, memory, mask, packet.strategy is Strategy.BINPACK_PACK)
        return dict(zip(eligible, values, strict=True)), eligible[index] if index >= 0 else ""


def _free(capacity: float, used: float) -> float:
    """Free fraction of a resource (a member offering none of it has none free)."""
    return max(0.0, (capacity - used) / capacity) if capacity > 0 else 0.0


def _explain(
    packet: Packet, winner: str, scores: dict[str, float], eligible: int, considered: int,
    counts: Counter[str],
) -> str:
    why = ", ".join(f"{rule} x{n}" for rule, n in sorted(counts.items())) or "none"
    if not winner:
        return f"no eligible member among {considered} considered (rejected: {why})"
    if packet.strategy is Strategy.RING:
        key = packet.routing_key or packet.packet_id
        how = f"first eligible member clockwise from hash32({key!r}) on the ring"
    else:
        score = scores.get(winner, math.nan)
        how = f"highest {packet.strategy} score {score:.4f}"
        if packet.strategy is Strategy.BINPACK_PACK:
            how = f"fullest member that fits (free-fraction score {score:.4f})"
    return f"{winner}: {how}; {eligible} eligible of {considered} considered (rejected: {why})"
