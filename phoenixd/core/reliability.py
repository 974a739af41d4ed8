"""Reliability learned from outcomes (opt in: ``phoenixd --learn-reliability``).

A member's reliability is the probability that a packet given to it ends well. The
estimator is a Beta posterior whose evidence fades with a half-life:

    reliability = (prior * weight + successes) / (weight + successes + failures)

``prior`` is what the member declared (at registration, or the operator's last
UpdateMember of it) and counts as ``weight`` outcomes, so one early failure does not
condemn a member. Each outcome first ages the evidence gathered so far by
``0.5 ** (elapsed / half_life)`` (wall clock, seconds) and then adds one per packet:

- a success: the member completed the packet;
- a failure: the member reported the packet failed (an attempt, or for good), or the
  member failed (its lease expired) while it owned the packet, which was handed off.

Nothing else changes the estimate: drains, retirements, rebalancing and an operator's
handoff are not the member's doing. Every change is one ``member_reliability_learned``
event that carries the member's new record and its cause (the outcome and the packets),
so a replay rebuilds the same figures. The evidence follows the member id across
incarnations (an agent that crashes and registers again is the same agent); an operator
setting ``reliability`` replaces it with the new declared value and starts over.
Trust-weighted routing reads ``reliability`` as it always has, so it prefers the
members that finish their work.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from phoenixd.core.errors import InvalidArgument
from phoenixd.core.events import Actor, EventType
from phoenixd.core.members import Evidence, Member
from phoenixd.core.recorder import Recorder
from phoenixd.core.state import ClusterState

__all__ = [
    "DEFAULT_HALF_LIFE",
    "DEFAULT_PRIOR_WEIGHT",
    "Estimator",
    "Learning",
    "Outcome",
    "estimate",
]

# An hour: a member that recovers from a bad spell is trusted again within a few hours
# of good work, and a whole afternoon of failures is not forgotten by a short good run.
DEFAULT_HALF_LIFE = 3600.0
# The declared reliability is worth ten outcomes: the first few outcomes move the
# estimate, none decides it.
DEFAULT_PRIOR_WEIGHT = 10.0
# Stored figures are rounded, so the journal shows tidy numbers and replays agree.
_DIGITS = 6


class Outcome(StrEnum):
    """How a packet's turn with a member ended, as far as its reliability goes."""

    COMPLETED = "completed"
    FAILED = "failed"  # the member reported the failure
    OWNER_FAILED = "owner_failed"  # the member failed while it owned the packet

    @property
    def success(self) -> bool:
        return self is Outcome.COMPLETED


@dataclass(frozen=True, slots=True)
class Estimator:
    """The Beta posterior with fading evidence (see the module docstring)."""

    half_life: float = DEFAULT_HALF_LIFE
    prior_weight: float = DEFAULT_PRIOR_WEIGHT

    def __post_init__(self) -> None:
        if not math.isfinite(self.half_life) or self.half_life <= 0:
            raise InvalidArgument(
                f"reliability half-life must be a positive number of seconds, got "
                f"{self.half_life:g}")
        if not math.isfinite(self.prior_weight) or self.prior_weight <= 0:
            raise InvalidArgument(
                f"reliability prior weight must be a positive number of outcomes, got "
                f"{self.prior_weight:g}")

    def start(self, prior: float, now: float) -> Evidence:
        return Evidence(prior=prior, weight=self.prior_weight, at=now)

    def observe(self, evidence: Evidence, successes: int, failures: int, now: float) -> Evidence:
        """``evidence`` aged to ``now``, plus the new outcomes."""
        fade = 0.5 ** (max(0.0, now - evidence.at) / self.half_life)
        return replace(
            evidence,
            successes=round(evidence.successes * fade + successes, _DIGITS),
            failures=round(evidence.failures * fade + failures, _DIGITS),
            at=now,
        )


def estimate(evidence: Evidence) -> float:
    """The posterior mean: the reliability the scheduler uses."""
    seen = evidence.weight + evidence.successes + evidence.failures
    return round((evidence.prior * evidence.weight + evidence.successes) / seen, _DIGITS)


class Learning:
    """Records what packets' outcomes teach about their members."""

    def __init__(self, state: ClusterState, recorder: Recorder, estimator: Estimator, *,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self._recorder = recorder
        self.estimator = estimator
        self._wall = wall_clock

    def observe(self, member_id: str, outcome: Outcome, packet_ids: Sequence[str]) -> None:
        """One outcome for each of ``packet_ids``, all of ``member_id``'s."""
        member = self._state.members.get(member_id)
        if member is None or not packet_ids:
            return
        now = self._wall()
        before = member.learned or self.estimator.start(member.reliability, now)
        good = len(packet_ids) if outcome.success else 0
        evidence = self.estimator.observe(before, good, len(packet_ids) - good, now)
        learned = replace(member, reliability=estimate(evidence), learned=evidence,
                          update_time=now)
        what = packet_ids[0] if len(packet_ids) == 1 else f"{len(packet_ids)} packets"
        self._recorder.record(
            EventType.MEMBER_RELIABILITY_LEARNED, Actor.DAEMON,
            reason=(f"{what} {outcome}: reliability {member.reliability:.4f} -> "
                    f"{learned.reliability:.4f}"),
            member_ids=(member_id,), packet_ids=tuple(packet_ids),
            data={"member": learned.to_dict(),
                  "learned": {"outcome": str(outcome), "before": member.reliability,
                              "after": learned.reliability}},
        )

    def carried(self, previous: Member | None, member: Member) -> Member:
        """A new incarnation keeps what its member id's outcomes taught, with the
        reliability it declares now as the prior."""
        if previous is None or previous.learned is None:
            return member
        evidence = replace(previous.learned, prior=member.reliability)
        return replace(member, reliability=estimate(evidence), learned=evidence)
