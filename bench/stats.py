"""The latency figures every load generator here prints."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable

__all__ = ["p50", "p99"]


def p50(values: Iterable[float]) -> float:
    ordered = sorted(values)
    return statistics.median(ordered) if ordered else math.nan


def p99(values: Iterable[float]) -> float:
    """The 99th percentile (nearest rank, rounded down), NaN when there is nothing."""
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)] if ordered else math.nan
