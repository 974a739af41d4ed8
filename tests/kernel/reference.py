"""Plain readings of the ring's definitions, to check both twins' Ring against: no bucket index,
no tables, no shortcuts (and no speed)."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence


def ring_tokens(
    hash32: Callable[[str], int], ids: Sequence[str], vnodes: int
) -> tuple[list[int], list[int]]:
    """Member m's vnodes at hash32(f"{ids[m]}#{i}"), ascending; ties by member index."""
    placed = sorted(
        (hash32(f"{member}#{i}"), m) for m, member in enumerate(ids) for i in range(vnodes)
    )
    return [token for token, _ in placed], [m for _, m in placed]


def lookup(tokens: list[int], owners: list[int], key: int, eligible: bytes | None) -> int:
    """The member of the first vnode clockwise from key whose member is eligible, or -1."""
    start = bisect_left(tokens, key)
    for step in range(len(tokens)):
        m = owners[(start + step) % len(tokens)]
        if eligible is None or eligible[m]:
            return m
    return -1


def lookup_bounded(
    tokens: list[int],
    owners: list[int],
    keys: Sequence[int],
    eligible: bytes | None,
    loads: list[int],
    epsilon: float,
) -> list[int]:
    """Each key in turn to the first eligible member clockwise whose load is below
    (1 + epsilon) * (L + 1) / n_e, L the eligible members' summed load; updates ``loads``."""
    live = [m for m in range(len(loads)) if eligible is None or eligible[m]]
    placed = []
    for key in keys:
        if not live or not tokens:
            placed.append(-1)
            continue
        cap = (1.0 + epsilon) * (sum(loads[m] for m in live) + 1) / len(live)
        start = bisect_left(tokens, key)
        owner = -1
        for step in range(len(tokens)):
            m = owners[(start + step) % len(tokens)]
            if (eligible is None or eligible[m]) and loads[m] < cap:
                owner = m
                break
        if owner >= 0:
            loads[owner] += 1
        placed.append(owner)
    return placed


def cap_after(epsilon: float, total: int, n_live: int) -> int:
    """The most any member may hold after bounded lookups bring the live total to ``total``."""
    return math.ceil((1 + epsilon) * total / n_live)
