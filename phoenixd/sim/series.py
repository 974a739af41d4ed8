"""What a run's charts show, as plain numbers: the series per step, the final loads, the ring.

Pure (no plotting library), so that the figures the charts draw are tested on their own and
``phoenixd.sim.charts`` only draws them. docs/simulator.md, "Charts", defines each series.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass

from phoenixd import kernel
from phoenixd.sim.run import SimResult

__all__ = ["MAX_ARCS", "RingPicture", "Series", "ring_picture", "series"]

# Past this many vnodes the ring picture draws the owner of MAX_ARCS evenly spaced points of
# the circle (each found by the kernel's own lookup) instead of every arc: a picture of 800
# pixels cannot show more, and drawing 2.5 million arcs (20,000 members x 128) would take
# minutes.
MAX_ARCS = 8192
_CIRCLE = 1 << 32


@dataclass(frozen=True, slots=True)
class Series:
    """One run's chart data: a value per step, and the loads at the end."""

    strategy: str
    steps: tuple[int, ...]
    # load balance efficiency: mean / max packets per ACTIVE member (1 when even)
    efficiency: tuple[float, ...]
    remapped: tuple[int, ...]  # remappings in each step
    # running churn rate: remappings per step, averaged over the steps after the set-up
    # (step 0, where nothing is owned at its start, shows 0)
    churn: tuple[float, ...]
    membership: tuple[int, ...]  # joins + leaves in each step
    relocations: tuple[int, ...]  # handoffs completed in each step
    relocated: tuple[int, ...]  # handoffs completed up to and including each step
    members: tuple[str, ...]  # the ACTIVE members at the end, in id order
    loads: tuple[int, ...]  # packets each of them owns at the end


def series(result: SimResult) -> Series:
    """The chart data of ``result``."""
    steps = result.steps
    remapped = tuple(s.remapped for s in steps)
    running = [0.0]
    for k in range(1, len(steps)):
        running.append(sum(remapped[1:k + 1]) / k)
    relocations = tuple(s.migrations for s in steps)
    owned = Counter(result.placements.values())
    return Series(
        strategy=result.strategy,
        steps=tuple(s.step for s in steps),
        efficiency=tuple(1.0 / s.max_avg for s in steps),
        remapped=remapped,
        churn=tuple(running[:len(steps)]),
        membership=tuple(s.joins + s.leaves for s in steps),
        relocations=relocations,
        relocated=tuple(itertools.accumulate(relocations)),
        members=result.members,
        loads=tuple(owned[m] for m in result.members),
    )


@dataclass(frozen=True, slots=True)
class RingPicture:
    """The consistent-hash ring of a run's final membership, as the kernel builds it.

    ``arcs`` cover the circle [0, 2**32) in order, each ``(start, end, member index)``: the
    keys in [start, end) belong to that member (the first vnode clockwise from a key owns
    it, so an arc ends at its member's token). Neighbouring arcs of one member are merged;
    past ``MAX_ARCS`` vnodes they are the owners of evenly spaced points (``sampled``).
    """

    members: tuple[str, ...]
    vnodes: int
    tokens: tuple[int, ...]  # every vnode's token, ascending
    owners: tuple[int, ...]  # each token's member index
    arcs: tuple[tuple[int, int, int], ...]
    sampled: bool

    def shares(self) -> tuple[float, ...]:
        """Each member's share of the circle (of the keys it owns), by member index."""
        owned = [0] * len(self.members)
        for start, end, member in self.arcs:
            owned[member] += end - start
        return tuple(n / _CIRCLE for n in owned)


def ring_picture(result: SimResult) -> RingPicture:
    """The ring the kernel builds for ``result``'s final ACTIVE members at its vnodes."""
    members = result.members
    vnodes = result.scenario.vnodes
    if not members:
        return RingPicture((), vnodes, (), (), (), False)
    ring = kernel.Ring(members, vnodes)
    tokens, owners = tuple(ring.tokens), tuple(ring.owners)
    if len(tokens) <= MAX_ARCS:
        bounds = [token + 1 for token in tokens]
        # Keys after the last token wrap round to the first vnode.
        cuts = [(0, owners[0]), *((b, o) for b, o in zip(bounds, owners[1:], strict=False)),
                (bounds[-1], owners[0])]
        sampled = False
    else:
        step = _CIRCLE // MAX_ARCS
        cuts = [(i * step, ring.lookup(i * step + step // 2)) for i in range(MAX_ARCS)]
        sampled = True
    arcs: list[tuple[int, int, int]] = []
    for (start, member), (end, _) in zip(cuts, [*cuts[1:], (_CIRCLE, -1)], strict=True):
        if end <= start:
            continue  # tied tokens (the first owns them), or a last token at 2**32 - 1
        if arcs and arcs[-1][2] == member and arcs[-1][1] == start:
            arcs[-1] = (arcs[-1][0], end, member)
        else:
            arcs.append((start, end, member))
    return RingPicture(members, vnodes, tokens, owners, tuple(arcs), sampled)
