"""The compiled and pure twins are interchangeable: the same names, constants and signatures, and
on every input the same results, or an exception of the same type (messages may differ)."""

from __future__ import annotations

import inspect
import math
from array import array
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

import phoenixd.kernel as facade
from tests.kernel.test_ring import BAD_RING_CALLS, BAD_RINGS, BAD_UPDATES
from tests.kernel.twins import MEMBER_IDS, PURE, compiled, error_type, flags, near_tokens, outcome

EPSILON = st.one_of(st.floats(0, 4), st.sampled_from([0.0, 0.25, math.inf, -1.0, math.nan]))


def _public(module: ModuleType) -> set[str]:
    return {name for name in vars(module) if not name.startswith("_") and name != "annotations"}


def test_kernel_names_itself(kernel: ModuleType) -> None:
    assert ("pure" if kernel is PURE else "compiled") == kernel.KERNEL


def test_twins_define_the_facade_names_and_the_same_constants() -> None:
    for twin in (compiled(), PURE):
        assert set(facade.__all__) <= _public(twin), twin.KERNEL
    assert compiled().DEFAULT_VNODES == PURE.DEFAULT_VNODES == 128
    assert compiled().RULES == PURE.RULES


def _shape(func: object, skip: int = 0) -> list[tuple[str, object, object]]:
    """Each parameter's name, kind and default (annotations: see _compiled.pyi)."""
    assert callable(func)
    params = list(inspect.signature(func).parameters.values())[skip:]
    return [(p.name, p.kind, p.default) for p in params]


@pytest.mark.parametrize("name", [n for n in facade.__all__ if n.islower()])
def test_twins_have_the_same_signature(name: str) -> None:
    assert _shape(getattr(compiled(), name)) == _shape(getattr(PURE, name))


@pytest.mark.parametrize(
    "method", ["lookup", "lookup_key", "lookup_many", "lookup_bounded", "updated"])
def test_twin_rings_have_the_same_signatures(method: str) -> None:
    assert _shape(compiled().Ring) == _shape(PURE.Ring)
    # The compiled method's self is positional-only; the pure one's is not.
    assert _shape(getattr(compiled().Ring, method), 1) == _shape(getattr(PURE.Ring, method), 1)


@pytest.mark.parametrize(("ids", "vnodes"), [(ids, vnodes) for ids, vnodes, _, _ in BAD_RINGS])
def test_twin_rings_refuse_bad_members_alike(ids: object, vnodes: object) -> None:
    assert error_type(compiled().Ring, ids, vnodes) == error_type(PURE.Ring, ids, vnodes)


def test_twin_rings_refuse_bad_calls_alike() -> None:
    c, p = compiled().Ring(["a", "b", "c"], 2), PURE.Ring(["a", "b", "c"], 2)
    for method, args, kwargs, _, _ in BAD_RING_CALLS:
        assert error_type(getattr(c, method), *args, **kwargs) == error_type(
            getattr(p, method), *args, **kwargs
        ), (method, args, kwargs)


@pytest.mark.parametrize(("ids", "error", "match"), BAD_UPDATES)
def test_twin_rings_refuse_bad_updates_alike(ids: object, error: object, match: object) -> None:
    c, p = compiled().Ring(["a"], 2), PURE.Ring(["a"], 2)
    assert error_type(c.updated, ids) == error_type(p.updated, ids)


@given(before=MEMBER_IDS, after=MEMBER_IDS, vnodes=st.integers(1, 16))
def test_twin_rings_update_alike(before: list[str], after: list[str], vnodes: int) -> None:
    c, p = compiled().Ring(before, vnodes).updated(after), PURE.Ring(before, vnodes).updated(after)
    assert (c.members, c.bucket_bits, c.tokens, c.owners) == (
        p.members, p.bucket_bits, p.tokens, p.owners)


@given(data=st.data(), ids=MEMBER_IDS, vnodes=st.integers(1, 16), epsilon=EPSILON)
def test_twin_rings_agree(data: st.DataObject, ids: list[str], vnodes: int, epsilon: float) -> None:
    c, p = compiled().Ring(ids, vnodes), PURE.Ring(ids, vnodes)
    assert (c.members, c.bucket_bits, c.tokens, c.owners) == (
        p.members,
        p.bucket_bits,
        p.tokens,
        p.owners,
    )
    keys = data.draw(near_tokens(list(c.tokens)))
    # Sometimes a byte too many or too few: both must then fail alike.
    eligible = data.draw(st.one_of(flags(len(ids)), st.binary(max_size=len(ids) + 1)))
    assert outcome(c.lookup_many, keys, eligible) == outcome(p.lookup_many, keys, eligible)
    for key in keys:
        assert outcome(c.lookup, key, eligible) == outcome(p.lookup, key, eligible)
    start = data.draw(st.lists(st.integers(-1, 20), min_size=len(ids), max_size=len(ids)))
    loads_c, loads_p = array("i", start), array("i", start)
    assert outcome(c.lookup_bounded, keys, loads_c, epsilon, eligible) == outcome(
        p.lookup_bounded, keys, loads_p, epsilon, eligible
    )
    assert loads_c == loads_p


def test_twin_rings_agree_on_large_batches() -> None:
    """Large enough that the compiled Ring prefetches, releases the GIL, and, with few members
    eligible, builds a table of eligible vnodes instead of walking past the ineligible ones."""
    ids = [f"member-{i}" for i in range(130)]  # 16,640 vnodes
    c, p = compiled().Ring(ids, 128), PURE.Ring(ids, 128)
    assert (c.tokens, c.owners) == (p.tokens, p.owners)
    keys = array("I", [PURE.hash32(f"key-{i}") for i in range(20_000)])
    some = bytes(i % 3 != 0 for i in range(130))
    assert c.lookup_many(keys) == p.lookup_many(keys)
    expected = p.lookup_many(keys, some)
    assert c.lookup_many(keys, some) == expected  # the table
    assert c.lookup_many(keys[:1000], some) == expected[:1000]  # the walk
    loads_c, loads_p = array("i", [0] * 130), array("i", [0] * 130)
    assert c.lookup_bounded(keys, loads_c, 0.1, some) == p.lookup_bounded(keys, loads_p, 0.1, some)
    assert loads_c == loads_p
