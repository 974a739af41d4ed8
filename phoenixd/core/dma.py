"""The DMA metrics: the seed's formulas and the balance figures, one implementation for the
simulator (per step and run) and the daemon (GetClusterHealth over a time window).

Units: the churn rates (MCR, WMCR) are events per hour of virtual time, as in the seed's
example (J=12, L=8 over 24 h gives MCR 0.8333); SI is unitless; trust, compliance and DHS are
shares (DHS is printed as a percentage). Loads are packets owned per ACTIVE member.
docs/simulator.md defines every figure and says which journal events it comes from; the
daemon counts the same events (core/application/health.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from phoenixd.core.events import EventType

__all__ = [
    "JOIN_WEIGHT",
    "LEAVE_WEIGHT",
    "WRITE_EVENTS",
    "attempt_success_rate",
    "compliance",
    "dhs",
    "jain",
    "load_stats",
    "mcr",
    "percentile",
    "si",
    "success_rate",
    "wmcr",
]

# The seed's disruption weights: a leave disrupts work, a join only dilutes it.
JOIN_WEIGHT = 0.5
LEAVE_WEIGHT = 1.0
# Member-side writes accepted (the owner's ack, checkpoint, complete and fail, and the fail
# that poisons a packet): with the stale writes refused, what compliance is a share of.
WRITE_EVENTS = frozenset({
    EventType.PACKET_ACKED, EventType.CHECKPOINT_SAVED, EventType.PACKET_COMPLETED,
    EventType.PACKET_ATTEMPT_FAILED, EventType.PACKET_FAILED,
})


def mcr(joins: int, leaves: int, hours: float) -> float:
    """Membership churn rate: (J + L) / dt."""
    return (joins + leaves) / hours if hours > 0 else 0.0


def wmcr(joins: int, leaves: int, hours: float) -> float:
    """Weighted churn rate: (0.5 J + 1.0 L) / dt."""
    return (JOIN_WEIGHT * joins + LEAVE_WEIGHT * leaves) / hours if hours > 0 else 0.0


def si(churn_rate: float) -> float:
    """Stability index: 1 / (1 + MCR)."""
    return 1.0 / (1.0 + churn_rate)


def dhs(stability: float, trust: float, compliance: float) -> float:
    """DMA composite health score: the mean of SI, trust and compliance (a share, 0..1)."""
    return math.fsum((stability, trust, compliance)) / 3.0


def compliance(writes: int, refused: int) -> float:
    """Share of member-side writes that passed the fencing check (1.0 when there were none)."""
    return 1.0 - refused / (writes + refused) if writes + refused else 1.0


def success_rate(completed: int, poisoned: int) -> float:
    """Completed packets over finished ones (completed + poisoned); 1.0 when none finished."""
    return completed / (completed + poisoned) if completed + poisoned else 1.0


def attempt_success_rate(completed: int, failed: int, poisoned: int) -> float:
    """Completed packets over finished attempts (completed, failed and retried, poisoned):
    how often a placement worked the first time it ran; 1.0 when no attempt finished."""
    attempts = completed + failed + poisoned
    return completed / attempts if attempts else 1.0


def load_stats(loads: Sequence[int]) -> tuple[float, float, float, float, float]:
    """(mean, population std-dev, coefficient of variation, max / mean, Jain's index) of
    ``loads``; a fleet with no load is perfectly even (cv 0, max/avg 1, Jain 1)."""
    n = len(loads)
    if n == 0:
        return 0.0, 0.0, 0.0, 1.0, 1.0
    total = sum(loads)
    mean = total / n
    if total == 0:
        return 0.0, 0.0, 0.0, 1.0, 1.0
    variance = math.fsum((x - mean) ** 2 for x in loads) / n
    std = math.sqrt(variance)
    return mean, std, std / mean, max(loads) / mean, jain(loads)


def jain(loads: Sequence[int]) -> float:
    """Jain's fairness index (sum x)^2 / (n sum x^2): 1 when even, 1/n when one holds all."""
    squares = sum(x * x for x in loads)
    return sum(loads) ** 2 / (len(loads) * squares) if squares else 1.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by the nearest-rank method (0.0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
