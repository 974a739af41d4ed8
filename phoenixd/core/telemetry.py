"""Histograms kept as plain counts, cheap enough for the hot path: the daemon's figures
(journal fsync latency, group-commit size, handoff latency) without a metrics library in
the core. The Prometheus endpoint (server/metrics_http.py) reads them at scrape time."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

__all__ = ["BATCH_BUCKETS", "FSYNC_BUCKETS", "HANDOFF_BUCKETS", "Histogram"]

# Upper bounds in seconds. An fdatasync on an SSD takes 0.1-2 ms; past 100 ms the disk is
# the problem, so finer steps there would say nothing more.
FSYNC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
# Events per group commit: 1 on an idle daemon, hundreds when many callers share a flush.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# Handoff latency in seconds (decide, sign, persist, deliver): a few ms in-process, more
# when the new owner's session is slow to take the grant.
HANDOFF_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class Histogram:
    """Observations counted per upper bound (the last slot is +Inf), with their sum."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at or under it) per bucket, +Inf last."""
        running, out = 0, []
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out
