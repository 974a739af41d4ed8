"""Ring and scoring kernels side by side: the compiled kernel, its pure-Python twin, and
uhashring (the consistent-hashing library a Python user would pick), in the same run.

    make bench                      # full sizes, pytest-benchmark tables grouped by case
    make bench-smoke                # every benchmark once, tiny, inside make test
"""

from __future__ import annotations

import random
from array import array
from types import ModuleType

import pytest
from uhashring import HashRing

import phoenixd._ring as compiled
import phoenixd._ring_py as pure

KERNELS = {"compiled": compiled, "pure": pure}
SIZES = (10, 100, 1000)
BATCH = 10_000


def _ring(kernel: ModuleType, n: int) -> tuple[array[int], array[int], bytes]:
    tokens, owners = kernel.ring_tokens([f"member-{i}" for i in range(n)], kernel.DEFAULT_VNODES)
    return tokens, owners, bytes([1]) * n


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", list(KERNELS))
def test_single_lookup(benchmark, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """One key, one call: the placement of a single packet."""
    kernel = KERNELS[name]
    tokens, owners, mask = _ring(kernel, n)
    key = kernel.hash32("packet-42")
    benchmark.group = f"single lookup, N={n}"
    assert benchmark(kernel.lookup, tokens, owners, key, mask) >= 0


@pytest.mark.parametrize("n", SIZES)
def test_single_lookup_uhashring(benchmark, n: int) -> None:  # type: ignore[no-untyped-def]
    """The peer: uhashring's get_node at the same vnode count."""
    ring = HashRing(nodes=[f"member-{i}" for i in range(n)], vnodes=compiled.DEFAULT_VNODES)
    benchmark.group = f"single lookup, N={n}"
    assert benchmark(ring.get_node, "packet-42")


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("name", list(KERNELS))
def test_batch_lookup(benchmark, name: str, n: int) -> None:  # type: ignore[no-untyped-def]
    """BATCH keys in one call (per-key cost = time / BATCH)."""
    kernel = KERNELS[name]
    tokens, owners, mask = _ring(kernel, n)
    rng = random.Random(7)
    keys = array("I", (rng.getrandbits(32) for _ in range(BATCH)))
    benchmark.group = f"batch lookup of {BATCH} keys, N={n}"
    assert len(benchmark(kernel.lookup_many, tokens, owners, keys, mask)) == BATCH


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
