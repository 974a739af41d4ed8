"""A Ring places every member's vnodes by MurmurHash3 and answers lookups (one key, a batch, and
with bounded loads) exactly as a plain reading of the definitions does (tests/kernel/reference.py):
its bucket index, its table of eligible vnodes and its prefetching are only shortcuts."""

from __future__ import annotations

import math
import pickle
from array import array
from collections import Counter
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.kernel import reference
from tests.kernel.twins import MEMBER_IDS, flags, near_tokens

KEYS = st.one_of(st.binary(max_size=64), st.text(max_size=32))

# "m8961#0" and "m70373#0" hash to the same token, 0xA4C17CC3 (found by search): a real tie.
COLLIDING = ["m8961", "m70373"]
TIE = 0xA4C17CC3


# -- Construction ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "vnodes"),
    [([], 3), (["a"], 1), (["a", "b", "c"], 4), (["héllo", "日本", "x" * 300], 12), (["w"], 1000)],
)
def test_ring_places_every_vnode_in_token_order(
    kernel: ModuleType, ids: list[str], vnodes: int
) -> None:
    ring = kernel.Ring(ids, vnodes)
    assert (ring.members, ring.vnodes) == (tuple(ids), vnodes)
    assert (ring.tokens.typecode, ring.owners.typecode) == ("I", "i")
    assert (list(ring.tokens), list(ring.owners)) == reference.ring_tokens(
        kernel.hash32, ids, vnodes
    )


def test_ring_defaults_to_default_vnodes_and_takes_any_iterable(kernel: ModuleType) -> None:
    assert kernel.Ring(iter(["a", "b"])).vnodes == kernel.DEFAULT_VNODES == 128


@pytest.mark.parametrize("ids", [COLLIDING, COLLIDING[::-1]])
def test_ring_breaks_ties_by_member_index(kernel: ModuleType, ids: list[str]) -> None:
    ring = kernel.Ring(ids, 1)
    assert list(ring.tokens) == [TIE, TIE]
    assert list(ring.owners) == [0, 1]


BAD_RINGS: list[tuple[object, object, type[Exception], str]] = [
    ("ab", 1, TypeError, "^member_ids must be a sequence of str"),
    (["a", b"b"], 1, TypeError, r"^member_ids\[1\] must be str"),
    (["a", "b", "a"], 1, ValueError, r"^member_ids\[2\] repeats member_ids\[0\]"),
    (["a"], 0, ValueError, "^vnodes must be >= 1"),
    (["a"], 1.5, TypeError, "integer"),
    (["a", "b"], 2**30, ValueError, "vnodes"),
    (["\ud800"], 1, UnicodeEncodeError, "surrogates not allowed"),
]


@pytest.mark.parametrize(("ids", "vnodes", "error", "match"), BAD_RINGS)
def test_ring_rejects_bad_members_and_vnodes(
    kernel: ModuleType, ids: object, vnodes: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        kernel.Ring(ids, vnodes)


# -- Lookups -----------------------------------------------------------------------------------


# A ring of one vnode each, both at one token.
@pytest.mark.parametrize(
    ("key", "eligible", "expected"),
    [
        (0, None, 0),  # below the tie: the lower member index first
        (TIE, None, 0),  # exactly on the token
        (TIE + 1, None, 0),  # past the last token: wraps to the first
        (0xFFFFFFFF, None, 0),
        (TIE, b"\x00\x01", 1),  # the tie's twin when the first is ineligible
        (0xFFFFFFFF, b"\x00\x07", 1),  # wraps, and any nonzero byte is eligible
        (5, b"\x00\x00", -1),  # nobody eligible
    ],
)
def test_ring_lookup_walks_clockwise_to_an_eligible_member(
    kernel: ModuleType, key: int, eligible: bytes | None, expected: int
) -> None:
    ring = kernel.Ring(COLLIDING, 1)
    assert ring.lookup(key, eligible) == expected
    assert list(ring.lookup_many(array("I", [key]), eligible)) == [expected]


def test_ring_walks_past_the_top_of_the_ring(kernel: ModuleType) -> None:
    """Every start on a ring of two vnodes with every mask: one key at a time (walking past the
    ineligible vnodes), all keys at once (through a table of eligible vnodes), and spilling at the
    cap, each as the reference does."""
    ring = kernel.Ring(["a", "b"], 1)
    tokens, owners = list(ring.tokens), list(ring.owners)
    keys = array("I", sorted({0, 0xFFFFFFFF} | {k for t in tokens for k in (t - 1, t, t + 1)}))
    for eligible in (b"\x00\x00", b"\x00\x01", b"\x01\x00", b"\x01\x01"):
        expected = [reference.lookup(tokens, owners, key, eligible) for key in keys]
        assert [ring.lookup(key, eligible) for key in keys] == expected
        assert [ring.lookup_many(array("I", [key]), eligible)[0] for key in keys] == expected
        assert list(ring.lookup_many(keys, eligible)) == expected
        # Four keys on the last vnode: every other one spills past the top (epsilon 0).
        last = [tokens[1]] * 4
        loads, reference_loads = array("i", [0, 0]), [0, 0]
        bounded = reference.lookup_bounded(tokens, owners, last, eligible, reference_loads, 0.0)
        assert list(ring.lookup_bounded(array("I", last), loads, 0.0, eligible)) == bounded
        assert list(loads) == reference_loads


def test_empty_ring_has_no_owner(kernel: ModuleType) -> None:
    ring = kernel.Ring([])
    assert (ring.members, list(ring.tokens), list(ring.owners)) == ((), [], [])
    assert ring.lookup(5) == ring.lookup(5, b"") == ring.lookup_key("k") == -1
    assert list(ring.lookup_many(array("I", [0, 5, 0xFFFFFFFF]), b"")) == [-1, -1, -1]
    assert list(ring.lookup_bounded(array("I", [5]), array("i"), 0.5)) == [-1]


@given(data=st.data(), ids=MEMBER_IDS, vnodes=st.integers(1, 16))
def test_ring_answers_as_the_reference(
    kernel: ModuleType, data: st.DataObject, ids: list[str], vnodes: int
) -> None:
    ring = kernel.Ring(ids, vnodes)
    tokens, owners = reference.ring_tokens(kernel.hash32, ids, vnodes)
    keys = data.draw(near_tokens(tokens))
    eligible = data.draw(flags(len(ids)))
    expected = [reference.lookup(tokens, owners, key, eligible) for key in keys]
    assert list(ring.lookup_many(keys, eligible)) == expected
    assert [ring.lookup(key, eligible) for key in keys] == expected
    start = data.draw(st.lists(st.integers(0, 5), min_size=len(ids), max_size=len(ids)))
    epsilon = data.draw(st.one_of(st.floats(0, 2), st.just(math.inf)))
    loads, reference_loads = array("i", start), list(start)
    bounded = reference.lookup_bounded(tokens, owners, keys, eligible, reference_loads, epsilon)
    assert list(ring.lookup_bounded(keys, loads, epsilon, eligible)) == bounded
    assert list(loads) == reference_loads


@given(data=st.data(), ids=MEMBER_IDS, keys=st.lists(KEYS, max_size=10))
def test_ring_lookup_key_is_lookup_of_the_hash(
    kernel: ModuleType, data: st.DataObject, ids: list[str], keys: list[bytes | str]
) -> None:
    ring = kernel.Ring(ids, 4)
    eligible = data.draw(flags(len(ids)))
    for key in keys:
        assert ring.lookup_key(key, eligible) == ring.lookup(kernel.hash32(key), eligible)


@pytest.mark.parametrize("n", [1, 3, 10])
def test_bucket_index_changes_no_result_at_any_bucket_boundary(kernel: ModuleType, n: int) -> None:
    ids = [f"member-{i}" for i in range(n)]
    ring = kernel.Ring(ids)
    tokens, owners = list(ring.tokens), list(ring.owners)
    buckets = 1 << ring.bucket_bits
    shift = 32 - ring.bucket_bits
    assert len(tokens) <= buckets < 2 * len(tokens)  # about one bucket per vnode
    # Each bucket's first and the previous bucket's last key, and every token and its neighbours.
    keys = {k for b in range(buckets) for k in (b << shift, max((b << shift) - 1, 0))}
    keys |= {k for t in tokens for k in (t - 1, t, t + 1) if 0 <= k <= 0xFFFFFFFF}
    keys.add(0xFFFFFFFF)
    key_hashes = array("I", sorted(keys))
    for eligible in (None, bytes(m % 2 for m in range(n)), bytes(n)):
        expected = [reference.lookup(tokens, owners, key, eligible) for key in key_hashes]
        assert list(ring.lookup_many(key_hashes, eligible)) == expected
        assert [ring.lookup(k, eligible) for k in key_hashes] == expected
    if n == 10:
        # Some buckets hold more vnodes than the compiled kernel compares before it bisects.
        assert max(Counter(t >> shift for t in tokens).values()) > 4


def test_ring_accepts_any_uint8_buffer_as_eligible(kernel: ModuleType) -> None:
    ring = kernel.Ring(["a", "b", "c"], 4)
    keys = array("I", [kernel.hash32(f"k{i}") for i in range(50)])
    flags = b"\x01\x00\x01"
    expected = ring.lookup_many(keys, flags)
    assert 1 not in expected
    for eligible in (flags, bytearray(flags), array("B", flags), memoryview(flags)):
        assert ring.lookup_many(keys, eligible) == expected
        assert ring.lookup_many(memoryview(keys), eligible) == expected
        assert [ring.lookup(k, eligible) for k in keys] == list(expected)
        assert ring.lookup_key("k3", eligible) == expected[3]


def test_ring_lookup_many_fills_given_out(kernel: ModuleType) -> None:
    ring = kernel.Ring(COLLIDING, 1)
    out = array("i", [7, 7])
    assert ring.lookup_many(array("I", [0, 1]), b"\x00\x01", out=out) is out
    assert list(out) == [1, 1]
    backing = array("i", [9, 9, 9])
    view = memoryview(backing)[1:2]
    assert ring.lookup_bounded(array("I", [0]), array("i", [0, 0]), 0.0, out=view) is view
    assert list(backing) == [9, 0, 9]


def test_ring_is_read_only_and_pickles_as_its_members(kernel: ModuleType) -> None:
    ring = kernel.Ring(["a", "b"], 3)
    for name in ("members", "vnodes", "bucket_bits", "tokens", "owners"):
        with pytest.raises(AttributeError):
            setattr(ring, name, None)
    copy = pickle.loads(pickle.dumps(ring))
    assert type(copy) is type(ring)
    assert (copy.members, copy.vnodes, copy.tokens, copy.owners) == (
        ring.members,
        ring.vnodes,
        ring.tokens,
        ring.owners,
    )


# -- A ring made from another ------------------------------------------------------------------


def _same_ring(a: Any, b: Any) -> None:
    assert (a.members, a.vnodes, a.bucket_bits, a.tokens, a.owners) == (
        b.members, b.vnodes, b.bucket_bits, b.tokens, b.owners)


@given(before=MEMBER_IDS, after=MEMBER_IDS, vnodes=st.integers(1, 8))
def test_updated_ring_is_the_ring_built_from_scratch(
    kernel: ModuleType, before: list[str], after: list[str], vnodes: int
) -> None:
    # Members joining, leaving and changing index (and order) at once.
    _same_ring(kernel.Ring(before, vnodes).updated(after), kernel.Ring(after, vnodes))


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (["a", "c"], ["a", "b", "c"]),  # a join in the middle shifts the indices after it
        (["a", "b", "c"], ["a", "c"]),
        ([], ["a", "b"]),
        (["a", "b"], []),
        (["a", "b"], ["a", "b"]),
        (COLLIDING, COLLIDING[::-1]),  # a tie whose members swap indices
        ([COLLIDING[0], "x"], ["a", *COLLIDING]),  # a tie with a fresh member
    ],
)
def test_updated_ring_keeps_tie_order_and_shifted_indices(
    kernel: ModuleType, before: list[str], after: list[str]
) -> None:
    ring = kernel.Ring(before, 5).updated(after)
    _same_ring(ring, kernel.Ring(after, 5))
    assert ring.updated(before).owners == kernel.Ring(before, 5).owners


def test_updated_ring_leaves_the_original_as_it_was(kernel: ModuleType) -> None:
    ring = kernel.Ring(["a", "b", "c"], 4)
    tokens, owners = ring.tokens, ring.owners
    ring.updated(["b", "d"])
    assert (ring.members, ring.tokens, ring.owners) == (("a", "b", "c"), tokens, owners)


BAD_UPDATES: list[tuple[object, type[Exception], str]] = [
    ("ab", TypeError, "^member_ids must be a sequence of str"),
    (["a", 1], TypeError, r"^member_ids\[1\] must be str"),
    (["a", "b", "a"], ValueError, r"^member_ids\[2\] repeats member_ids\[0\]"),
    (["\ud800"], UnicodeEncodeError, "surrogates not allowed"),
]


@pytest.mark.parametrize(("ids", "error", "match"), BAD_UPDATES)
def test_updated_ring_refuses_bad_members_as_the_constructor_does(
    kernel: ModuleType, ids: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        kernel.Ring(["a"], 2).updated(ids)


# -- Bounded loads -----------------------------------------------------------------------------


def _two(kernel: ModuleType) -> tuple[Any, int, int, array[int]]:
    """A ring of two vnodes, the member owning the first and the second, and a key on the first."""
    ring = kernel.Ring(["a", "b"], 1)
    return ring, ring.owners[0], ring.owners[1], array("I", [ring.tokens[0]])


def test_bounded_spills_to_the_next_member_at_the_cap(kernel: ModuleType) -> None:
    # Caps before each key (epsilon 0, two members): 0.5, 1, 1.5, 2.
    ring, first, second, key = _two(kernel)
    loads = array("i", [0, 0])
    got = ring.lookup_bounded(key * 4, loads, 0.0)
    assert (list(got), list(loads)) == ([first, second, first, second], [2, 2])


def test_bounded_counts_existing_loads(kernel: ModuleType) -> None:
    # The cap is 1.25 * (5 + 1) / 2 = 3.75: the first member is over it, so the key goes on.
    ring, first, second, key = _two(kernel)
    loads = array("i", [0, 0])
    loads[first] = 5
    assert list(ring.lookup_bounded(key, loads, 0.25)) == [second]
    assert (loads[first], loads[second]) == (5, 1)


def test_bounded_skips_ineligible_members(kernel: ModuleType) -> None:
    ring, _, second, key = _two(kernel)
    only_second = bytes(m == second for m in range(2))
    loads = array("i", [0, 0])
    got = ring.lookup_bounded(key * 3, loads, 0.0, only_second)
    assert (list(got), loads[second]) == ([second] * 3, 3)
    got = ring.lookup_bounded(key * 2, loads, 0.0, b"\x00\x00")
    assert (list(got), loads[second]) == ([-1, -1], 3)


def test_bounded_with_infinite_epsilon_is_plain_lookup(kernel: ModuleType) -> None:
    ring = kernel.Ring(["a", "b", "c"], 4)
    keys = array("I", [kernel.hash32(f"k{i}") for i in range(40)])
    loads = array("i", [3, 0, 1])
    got = ring.lookup_bounded(keys, loads, math.inf, out=array("i", [0] * 40))
    assert got == ring.lookup_many(keys)
    assert list(loads) == [3 + list(got).count(0), list(got).count(1), 1 + list(got).count(2)]


@given(data=st.data(), ids=MEMBER_IDS, epsilon=st.floats(0, 2))
def test_bounded_keeps_every_member_within_its_cap(
    kernel: ModuleType, data: st.DataObject, ids: list[str], epsilon: float
) -> None:
    ring = kernel.Ring(ids, 3)
    keys = data.draw(near_tokens(list(ring.tokens)))
    eligible = data.draw(st.binary(min_size=len(ids), max_size=len(ids)))
    loads = array("i", [0] * len(ids))
    got = list(ring.lookup_bounded(keys, loads, epsilon, eligible))
    live = [m for m in range(len(ids)) if eligible[m]]
    if not live:
        assert got == [-1] * len(keys)
        return
    assert -1 not in got
    assert list(loads) == [got.count(m) for m in range(len(ids))]
    assert max(loads) <= reference.cap_after(epsilon, len(keys), len(live))


# -- Refusals ----------------------------------------------------------------------------------

KEY = array("I", [1])
THREE = b"\x01\x01\x01"
U32_NEEDED = r"must be a contiguous 1-D buffer of uint32 \(array typecode 'I'\)"
BAD_RING_CALLS: list[tuple[str, tuple[object, ...], dict[str, object], type[Exception], str]] = [
    ("lookup", (-1,), {}, ValueError, r"^key_hash must be in \[0, 2\*\*32\)"),
    ("lookup", (2**32, [1]), {}, ValueError, r"^key_hash must be in"),  # the first bad argument
    ("lookup", ("1",), {}, TypeError, "integer"),
    ("lookup", (1, b"\x01"), {}, ValueError, "^eligible has 1 items"),
    ("lookup", (1, [1, 1, 1]), {}, TypeError, "^eligible must be .* of uint8"),
    ("lookup", (1, array("i", [1, 1, 1])), {}, TypeError, "^eligible must be .* format 'i'"),
    ("lookup_key", (5,), {}, TypeError, "^key must be str or bytes"),
    ("lookup_key", ("k", bytearray(4)), {}, ValueError, "^eligible has 4 items"),
    ("lookup_many", ([1, 2],), {}, TypeError, f"^key_hashes {U32_NEEDED}, not list$"),
    ("lookup_many", (array("i", [1]),), {}, TypeError, f"^key_hashes {U32_NEEDED}"),
    ("lookup_many", (memoryview(array("I", [1, 0, 2]))[::2],), {}, TypeError, "strided"),
    ("lookup_many", (memoryview(bytes(8)).cast("I", (1, 2)),), {}, TypeError, "2-D"),
    ("lookup_many", (KEY, bytearray(2)), {}, ValueError, "^eligible has 2 items"),
    ("lookup_many", (KEY,), {"out": array("i", [0, 0])}, ValueError, "^out has 2 items"),
    ("lookup_many", (KEY, THREE), {"out": array("I", [0])}, ValueError, "of int32"),
    ("lookup_many", (KEY,), {"out": memoryview(bytes(4)).cast("i")}, ValueError, "writable"),
    ("lookup_bounded", (KEY, array("i", [0, 0]), 0.5), {}, ValueError, "^loads has 2 items"),
    ("lookup_bounded", (KEY, array("i", [0, -1, 0]), 0.5), {}, ValueError, r"^loads\[1\] is -1"),
    ("lookup_bounded", (KEY, array("I", [0] * 3), 0.5), {}, TypeError, "^loads must be writable"),
    (
        "lookup_bounded",
        (KEY, memoryview(bytes(12)).cast("i"), 0.5),
        {},
        TypeError,
        "^loads must be writable, .*read-only",
    ),
    ("lookup_bounded", (KEY, array("i", [0] * 3), -1.0, b""), {}, ValueError, "^epsilon must be"),
    ("lookup_bounded", (KEY, array("i", [0] * 3), math.nan), {}, ValueError, "^epsilon must be"),
    ("lookup_bounded", (KEY, array("i", [0] * 3), "0.1"), {}, TypeError, "^epsilon must be"),
    ("lookup_bounded", (KEY, array("i", [0] * 3), 0.5, b"\x01"), {}, ValueError, "^eligible has"),
    (
        "lookup_bounded",
        (KEY, array("i", [2**31 - 1, 0, 0]), 0.5),
        {},
        ValueError,
        "^loads would overflow int32",
    ),
]


@pytest.mark.parametrize(("method", "args", "kwargs", "error", "match"), BAD_RING_CALLS)
def test_ring_rejects_bad_arguments(
    kernel: ModuleType,
    method: str,
    args: tuple[object, ...],
    kwargs: dict[str, object],
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        getattr(kernel.Ring(["a", "b", "c"], 2), method)(*args, **kwargs)
