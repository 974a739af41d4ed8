"""Ring and scoring kernels side by side: the compiled kernel, its pure-Python twin, and
uhashring (the consistent-hashing library a Python user would pick), in the same run.

    make bench                      # full sizes, pytest-benchmark tables grouped by case
    make bench-smoke                # every benchmark once, tiny, inside make test
"""

from __future__ import annotations

import functools
import random
from array import array
from collections.abc import Callable
from typing import TypeVar

import pytest
from uhashring import HashRing

from phoenixd.kernel import _compiled as compiled
from phoenixd.kernel import _pure as pure

T = TypeVar("T")

KERNELS = {"compiled": compiled, "pure": pure}
SIZES = (10, 100, 1000)
BATCH = 10_000
# Single calls take from 15 ns to a few us, close to the cost of reading the timer (tens of ns in
# a VM). Calibration picks the calls per round from one timed try, and a try that is preempted
# yields one call a round, whose figure then carries a whole timer read. A fixed count per round
# keeps every single-call figure comparable within a run.
SINGLE_CALLS = 1_000
SINGLE_ROUNDS = 100


def _ids(n: int) -> list[str]:
    return [f"member-{i}" for i in range(n)]


def _single(benchmark, func: Callable[..., T], *args: object) -> T:  # type: ignore[no-untyped-def]
    """Benchmark SINGLE_CALLS calls of func(*args) a round."""
    result: T = benchmark.pedantic(
        func, args=args, iterations=SINGLE_CALLS, rounds=SINGLE_ROUNDS, warmup_rounds=1
    )
    return result


@functools.cache
def _built(name: str, n: int) -> compiled.Ring | pure.Ring:
    """The kernel's Ring over n members, built once per run (the pure one takes ~1 s at 1,000)."""
    ring: compiled.Ring | pure.Ring = KERNELS[name].Ring(_ids(n))
    return ring


def _keys() -> array[int]:
    rng = random.Random(7)
    return array("I", (rng.getrandbits(32) for _ in range(BATCH)))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", list(KERNELS))
def test_single_lookup_ring(benchmark, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """One key hash, one call, on a Ring built beforehand."""
    ring = _built(name, n)
    benchmark.group = f"single lookup, N={n}"
    assert _single(benchmark, ring.lookup, KERNELS[name].hash32("packet-42")) >= 0


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", list(KERNELS))
def test_single_lookup_key_ring(benchmark, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """One key, hashed and placed in one call: the same work as uhashring's get_node."""
    ring = _built(name, n)
    benchmark.group = f"single lookup, N={n}"
    assert _single(benchmark, ring.lookup_key, "packet-42") >= 0


@pytest.mark.parametrize("n", SIZES)
def test_single_lookup_uhashring(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    """The peer: uhashring's get_node at the same vnode count."""
    ring = HashRing(nodes=_ids(n), vnodes=compiled.DEFAULT_VNODES)
    benchmark.group = f"single lookup, N={n}"
    assert _single(benchmark, ring.get_node, "packet-42")


@pytest.mark.parametrize("n", SIZES)
def test_single_lookup_call_floor(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    """The floor under any single lookup: calling a compiled no-op (len) with one argument."""
    benchmark.group = f"single lookup, N={n}"
    assert _single(benchmark, len, b"") == 0


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", list(KERNELS))
def test_batch_lookup_ring(benchmark, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """BATCH key hashes in one Ring.lookup_many call (per-key cost = time / BATCH)."""
    ring = _built(name, n)
    benchmark.group = f"batch lookup of {BATCH} keys, N={n}"
    assert len(benchmark(ring.lookup_many, _keys())) == BATCH


@pytest.mark.parametrize("n", SIZES)
def test_batch_lookup_uhashring(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    """The peer has no batch call: get_node per key, hashing included as it always is."""
    ring = HashRing(nodes=_ids(n), vnodes=compiled.DEFAULT_VNODES)
    keys = [f"packet-{i}" for i in range(BATCH)]
    benchmark.group = f"batch lookup of {BATCH} keys, N={n}"
    assert len(benchmark(lambda: [ring.get_node(key) for key in keys])) == BATCH


@pytest.mark.parametrize("n", (100, 1_000, 10_000))
@pytest.mark.parametrize("name", list(KERNELS))
def test_trust_argmax(benchmark, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """argmax of (reliability x trust) / (1 + load) over n candidates."""
    kernel = KERNELS[name]
    rng = random.Random(3)
    columns = [array("d", (rng.random() for _ in range(n))) for _ in range(2)]
    load = array("d", (float(rng.randrange(5)) for _ in range(n)))
    benchmark.group = f"trust argmax, {n} candidates"
    assert benchmark(kernel.argmax_trust, *columns, load, bytes([1]) * n) >= 0


@pytest.mark.parametrize("n", (100, 1_000, 10_000))
@pytest.mark.parametrize("name", list(KERNELS))
def test_binpack_argmax(benchmark, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """argmax of free cpu + free memory fraction over n candidates."""
    kernel = KERNELS[name]
    rng = random.Random(5)
    cpu, memory = (array("d", (rng.random() for _ in range(n))) for _ in range(2))
    benchmark.group = f"binpack argmax, {n} candidates"
    assert benchmark(kernel.argmax_binpack, cpu, memory, bytes([1]) * n, False) >= 0


@pytest.mark.parametrize("n", (100, 1_000, 10_000))
@pytest.mark.parametrize("name", list(KERNELS))
def test_eligibility(benchmark, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """Every placement rule (capability, cpu, memory, trust, region, pii) over n members."""
    kernel = KERNELS[name]
    rng = random.Random(7)
    capable = bytes(rng.random() < 0.9 for _ in range(n))
    cpu, memory, trust = (array("d", (rng.random() for _ in range(n))) for _ in range(3))
    region = array("i", (rng.randrange(4) for _ in range(n)))
    pii = bytes(rng.random() < 0.5 for _ in range(n))
    rules = bytearray(n)
    benchmark.group = f"eligibility pass, {n} members"
    passed = benchmark(kernel.eligibility, capable, cpu, memory, trust, region, pii,
                       0.1, 0.1, 0.2, b"\x01\x01\x00\x01", False, rules)
    assert 0 < passed < n


@pytest.mark.parametrize("n", (100, 1_000, 10_000))
@pytest.mark.parametrize("name", list(KERNELS))
def test_top_scores(benchmark, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """The 32 best of n scores (what a decision lists)."""
    kernel = KERNELS[name]
    rng = random.Random(9)
    scores = array("d", (rng.random() for _ in range(n)))
    benchmark.group = f"top 32 scores, {n} members"
    assert len(benchmark(kernel.top_scores, scores, bytes([1]) * n, 32)) == 32


# The pure twin takes seconds to build 10,000 members' vnodes; it is measured at 1,000 only.
MEMBERSHIP = [("compiled", 1_000), ("compiled", 10_000), ("pure", 1_000)]


@pytest.mark.parametrize(("name", "n"), MEMBERSHIP)
def test_ring_build(benchmark, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """A ring over n members built from scratch: every vnode hashed and sorted."""
    benchmark.group = f"ring after a join, {n} members"
    ids = _ids(n)
    assert len(benchmark(KERNELS[name].Ring, ids).members) == n


@pytest.mark.parametrize(("name", "n"), MEMBERSHIP)
def test_ring_updated_join(benchmark, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """The same ring made from the ring before one member joined (in the middle by index)."""
    benchmark.group = f"ring after a join, {n} members"
    ids = sorted(_ids(n))
    before = _built(name, n).updated([m for i, m in enumerate(ids) if i != n // 2])
    assert len(benchmark(before.updated, ids).members) == n


@pytest.mark.parametrize(("name", "n"), MEMBERSHIP)
def test_ring_updated_leave(benchmark, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """The ring made from the one before a member left (in the middle by index)."""
    benchmark.group = f"ring after a leave, {n} members"
    ids = sorted(_ids(n))
    ring = _built(name, n).updated(ids)
    assert len(benchmark(ring.updated, ids[: n // 2] + ids[n // 2 + 1:]).members) == n - 1
