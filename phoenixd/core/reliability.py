"""Reliability learned from outcomes (opt in: ``phoenixd --learn-reliability``).

A member's reliability is the probability that a packet given to it ends well. The
estimator is a Beta posterior whose evidence fades with a half-life:

    reliability = (prior * weight + successes) / (weight + successes + failures)

``prior`` is what the member declared (at registration, or the operator's last
UpdateMember of it) and counts as ``weight`` outcomes, so one early failure does not
condemn a member. Each outcome first ages the evidence gathered so far by
``0.5 ** (elapsed / half_life)`` (wall clock, seconds) and then adds one per packet:

- a success: the member completed the packet;
- a failure: the member reported the packet failed (an attempt, or for good: a poison
  input counts against each member that tried it), or the member failed (its lease
  expired) while it owned the packet, which was handed off (acknowledged or not: it held
  the work and did not do it).

Nothing else changes the evidence: drains, retirements, rebalancing, cancellations and an
operator's handoff are not the member's doing. Evidence that no outcome has refreshed for
a half-life is aged on a timer (one ``faded`` change per member per half-life at most), so
a member that trust routing seldom picks drifts back towards what it declared instead of
staying condemned. Every change is one ``member_reliability_learned`` event that carries
the member's new record and its cause (the outcome and the packets), so a replay rebuilds
the same figures. The evidence follows the member id across incarnations (an agent that
crashes and registers again is the same agent), aged to the registration, with the newly
declared value as the prior; the registration's event says so. An operator setting
``reliability`` replaces the evidence: the new value stands and learning starts over.
Trust-weighted routing reads ``reliability`` as it always has, so it prefers the members
that finish their work.
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
# How often the timer looks for evidence a half-life old (a pass over the members).
FADE_SCAN_SECONDS = 60.0
# Evidence worth less than this many outcomes has faded out: ageing it changes nothing.
_FADED_OUT = 1e-3


class Outcome(StrEnum):
    """How a packet's turn with a member ended, as far as its reliability goes."""

    COMPLETED = "completed"
    FAILED = "failed"  # the member reported the failure
    OWNER_FAILED = "owner_failed"  # the member failed while it owned the packet
    FADED = "faded"  # no outcome: a half-life passed since the last one

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
        """``evidence`` aged to ``now``, plus the new outcomes (at this estimator's prior
        weight, should the daemon's setting have changed)."""
        fade = 0.5 ** (max(0.0, now - evidence.at) / self.half_life)
        return replace(
            evidence,
            weight=self.prior_weight,
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
        self._estimator = estimator
        self._wall = wall_clock
        self._next_scan = 0.0

    def observe(self, member_id: str, outcome: Outcome, packet_ids: Sequence[str]) -> None:
        """One outcome for each of ``packet_ids``, all of ``member_id``'s."""
        member = self._state.members.get(member_id)
        if member is not None and packet_ids:
            good = len(packet_ids) if outcome.success else 0
            self._learn(member, outcome, tuple(packet_ids), good, len(packet_ids) - good)

    def tick(self) -> None:
        """Age the evidence that no outcome refreshed for a half-life (every live member's
        at most once a half-life; evidence that has faded out is left alone)."""
        now = self._wall()
        if now < self._next_scan:
            return
        self._next_scan = now + FADE_SCAN_SECONDS
        half_life = self._estimator.half_life
        for member in list(self._state.members.values()):
            evidence = member.learned
            if (evidence is None or member.status.terminal or now - evidence.at < half_life
                    or evidence.successes + evidence.failures < _FADED_OUT):
                continue
            self._learn(member, Outcome.FADED, (), 0, 0)

    def _learn(self, member: Member, outcome: Outcome, packet_ids: tuple[str, ...],
               successes: int, failures: int) -> None:
        now = self._wall()
        before = member.learned or self._estimator.start(member.reliability, now)
        evidence = self._estimator.observe(before, successes, failures, now)
        learned = replace(member, reliability=estimate(evidence), learned=evidence,
                          update_time=now)
        what = (packet_ids[0] if len(packet_ids) == 1 else f"{len(packet_ids)} packets"
                if packet_ids else f"evidence of {now - before.at:.0f}s ago")
        self._recorder.record(
            EventType.MEMBER_RELIABILITY_LEARNED, Actor.DAEMON,
            reason=(f"{what} {outcome}: reliability {member.reliability:.4f} -> "
                    f"{learned.reliability:.4f}"),
            member_ids=(member.member_id,), packet_ids=packet_ids,
            data={"member": learned.to_dict(),
                  "learned": {"outcome": str(outcome), "before": member.reliability,
                              "after": learned.reliability}},
        )

    def carried(self, previous: Member | None, member: Member) -> Member:
        """A new incarnation keeps what its member id's outcomes taught, aged to now, with
        the reliability it declares now as the prior."""
        if previous is None or previous.learned is None:
            return member
        aged = self._estimator.observe(previous.learned, 0, 0, self._wall())
        evidence = replace(aged, prior=member.reliability)
        return replace(member, reliability=estimate(evidence), learned=evidence)
