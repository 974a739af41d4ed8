"""The numbers the charts draw: efficiency, running churn rate and relocations per step from
the run's own figures, the final loads from its placements, and the ring picture agreeing
with the kernel's lookups key by key."""

from __future__ import annotations

import bisect
import random
from collections import Counter

import pytest

from phoenixd import kernel
from phoenixd.core.packets import Strategy
from phoenixd.sim import Scenario, compare, simulate
from phoenixd.sim.series import MAX_ARCS, ring_picture, series

CIRCLE = 1 << 32


def _outage() -> Scenario:
    return Scenario(preset="zone-outage", members=9, packets=60, steps=6)


def test_series_follow_the_steps() -> None:
    result = simulate(_outage())
    data = series(result)
    steps = result.steps
    assert data.strategy == "ring" and data.steps == tuple(range(6))
    assert data.efficiency == tuple(1 / s.max_avg for s in steps)
    assert all(0 < e <= 1 for e in data.efficiency)
    assert data.remapped == tuple(s.remapped for s in steps)
    assert data.membership == tuple(s.joins + s.leaves for s in steps)
    assert data.relocations == tuple(s.migrations for s in steps)
    # Running totals and means, from the step after the set-up on.
    assert data.relocated[-1] == result.run["migrations"]
    assert data.churn[0] == 0.0
    for k in range(1, 6):
        assert data.churn[k] == pytest.approx(sum(data.remapped[1:k + 1]) / k)
    assert data.churn[-1] * 5 == pytest.approx(result.run["remapped"])
    assert sum(data.remapped) > 0  # the outage and the return move work


def test_loads_are_the_final_placements_of_the_active_members() -> None:
    result = simulate(Scenario(preset="rolling-restart", members=6, packets=30, steps=5))
    data = series(result)
    assert data.members == tuple(sorted(data.members)) and len(data.members) == 6
    owners = Counter(result.placements.values())
    assert data.loads == tuple(owners[m] for m in data.members)
    assert sum(data.loads) == result.steps[-1].owned


def test_the_ring_picture_is_the_kernels_ring() -> None:
    result = simulate(_outage())
    picture = ring_picture(result)
    ring = kernel.Ring(result.members, result.scenario.vnodes)
    assert not picture.sampled
    assert picture.tokens == tuple(ring.tokens) and picture.owners == tuple(ring.owners)
    assert len(picture.tokens) == len(result.members) * result.scenario.vnodes
    # The arcs tile the circle, in order, and each key falls where the kernel looks it up.
    assert picture.arcs[0][0] == 0 and picture.arcs[-1][1] == CIRCLE
    assert all(a[1] == b[0] for a, b in zip(picture.arcs, picture.arcs[1:], strict=False))
    assert all(a[2] != b[2] for a, b in zip(picture.arcs, picture.arcs[1:], strict=False))
    rng = random.Random(7)
    keys = [0, CIRCLE - 1, *picture.tokens[:64], *(t + 1 for t in picture.tokens[:64]),
            *(rng.getrandbits(32) for _ in range(2000))]
    starts = [a for a, _, _ in picture.arcs]
    for key in (k % CIRCLE for k in keys):
        arc = picture.arcs[bisect.bisect_right(starts, key) - 1]
        assert arc[0] <= key < arc[1] and arc[2] == ring.lookup(key), key
    assert sum(picture.shares()) == pytest.approx(1.0)


def test_a_large_ring_is_sampled_by_the_kernel() -> None:
    scenario = Scenario(members=80, packets=80, steps=1)
    result = simulate(scenario)
    assert len(result.members) * scenario.vnodes > MAX_ARCS
    picture = ring_picture(result)
    assert picture.sampled and len(picture.arcs) <= MAX_ARCS
    assert picture.arcs[0][0] == 0 and picture.arcs[-1][1] == CIRCLE
    assert set(range(80)) == {m for _, _, m in picture.arcs}


def test_strategies_of_one_plan_share_the_steps() -> None:
    comparison = compare(Scenario(mode="binpack", preset="flash-crowd", members=6,
                                  packets=30, steps=5), [Strategy.RING, Strategy.BINPACK_SPREAD])
    ring, binpack = (series(r) for r in comparison.results)
    assert ring.steps == binpack.steps and ring.membership == binpack.membership
    # After the flash crowd the ring hands the newcomers their share; bin-packing leaves
    # placed work where it is.
    assert ring.relocated[-1] > 0 and binpack.relocated[-1] == 0
    assert min(ring.efficiency[2:]) > max(binpack.efficiency[2:])
