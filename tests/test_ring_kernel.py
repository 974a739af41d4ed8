"""The ring kernels hash with MurmurHash3 x86_32, build and walk the consistent-hash ring (plain and
with bounded loads) and score members; a Ring, built once, answers exactly as the ring functions
do; and the compiled and pure twins agree on every input, batch and error.

Every test runs against both twins. A missing compiled kernel is a failure, not a skip, unless
PHOENIX_NO_EXTENSIONS is set: CI must not lose the extension without noticing.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import math
import os
import pickle
from array import array
from collections import Counter
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phoenixd import _ring_py

NO_EXTENSIONS = os.environ.get("PHOENIX_NO_EXTENSIONS", "") not in ("", "0")
UINT32 = st.integers(min_value=0, max_value=0xFFFFFFFF)
KEYS = st.one_of(st.binary(max_size=64), st.text(max_size=32))


def _import_compiled() -> ModuleType | ImportError:
    try:
        return importlib.import_module("phoenixd._ring")
    except ImportError as exc:
        return exc


_COMPILED = _import_compiled()


def _compiled() -> ModuleType:
    """Return the compiled kernel; fail when it is not built, skip only if that was asked for."""
    if isinstance(_COMPILED, ModuleType):
        return _COMPILED
    if NO_EXTENSIONS:
        pytest.skip("PHOENIX_NO_EXTENSIONS is set and phoenixd._ring is not built")
    pytest.fail(
        f"phoenixd._ring is not built ({_COMPILED}); run `python setup.py build_ext --inplace`, "
        "or set PHOENIX_NO_EXTENSIONS=1 to test the pure kernel alone",
        pytrace=False,
    )


# Module scope: Hypothesis tests may not use function-scoped fixtures.
@pytest.fixture(scope="module", params=["compiled", "pure"])
def kernel(request: pytest.FixtureRequest) -> ModuleType:
    return _compiled() if request.param == "compiled" else _ring_py


# Checked against the mmh3 package (an independent C implementation) and the vectors commonly
# published for MurmurHash3_x86_32.
VECTORS = [
    (b"", 0, 0),
    (b"", 1, 0x514E28B7),
    (b"", 0xFFFFFFFF, 0x81F16F39),
    (b"\x00", 0, 0x514E28B7),
    (b"\x00\x00", 0, 0x30F4C306),
    (b"\x00\x00\x00", 0, 0x85F0B427),
    (b"\x00\x00\x00\x00", 0, 0x2362F9DE),
    (b"\xff\xff\xff\xff", 0, 0x76293B50),
    (b"\x21\x43\x65\x87", 0x5082EDEE, 0x2362F9DE),
    (b"hello", 0, 0x248BFA47),
    (b"Hello, world!", 0x9747B28C, 0x24884CBA),
    (b"The quick brown fox jumps over the lazy dog", 0, 0x2E4FF723),
]

# Tails of 1, 2 and 3 bytes after zero or one whole block; the high-bit bytes catch a byte read
# that sign-extends.
TAILS = [
    (b"a", 0, 0x3C2569B2),
    (b"ab", 0, 0x9BBFD75F),
    (b"abc", 0, 0xB3DD93FA),
    (b"abc", 0xFFFFFFFF, 0xFC80C2AF),
    (b"abcd", 0, 0x43ED676A),
    (b"\x80", 0x9747B28C, 0xA7E31DAF),
    (b"\x80\x81\x82", 0, 0x7508A955),
]


def test_kernel_names_itself(kernel: ModuleType) -> None:
    expected = "pure" if kernel is _ring_py else "compiled"
    assert expected == kernel.KERNEL


def test_twins_export_the_same_names_and_constants() -> None:
    assert _compiled().__all__ == _ring_py.__all__
    assert _compiled().DEFAULT_VNODES == _ring_py.DEFAULT_VNODES == 128


@pytest.mark.parametrize("name", [n for n in _ring_py.__all__ if n.islower()])
def test_twins_have_the_same_signature(name: str) -> None:
    def shape(func: object) -> list[tuple[str, object, object]]:
        assert callable(func)
        params = inspect.signature(func).parameters.values()
        return [(p.name, p.kind, p.default) for p in params]  # annotations: see _ring.pyi

    assert shape(getattr(_compiled(), name)) == shape(getattr(_ring_py, name))


@pytest.mark.parametrize(("key", "seed", "expected"), VECTORS + TAILS)
def test_known_vectors(kernel: ModuleType, key: bytes, seed: int, expected: int) -> None:
    assert kernel.hash32(key, seed) == expected


def test_default_seed_is_zero(kernel: ModuleType) -> None:
    assert kernel.hash32(b"hello") == 0x248BFA47


@pytest.mark.parametrize("text", ["", "hello", "héllo", "日本語のキー", "emoji 🐦‍🔥"])
def test_str_hashes_as_its_utf8_bytes(kernel: ModuleType, text: str) -> None:
    assert kernel.hash32(text, 7) == kernel.hash32(text.encode("utf-8"), 7)


def test_non_ascii_str_vector(kernel: ModuleType) -> None:
    assert kernel.hash32("héllo") == 0xBC9FA068


def test_batch_returns_uint32_array_equal_to_single_calls(kernel: ModuleType) -> None:
    keys: list[bytes | str] = [b"", "a", b"ab", "abc", "héllo", b"\xff" * 9, "x" * 1000]
    got = kernel.hash32_many(keys, 42)
    assert isinstance(got, array)
    assert got.typecode == "I"
    assert list(got) == [kernel.hash32(k, 42) for k in keys]


def test_batch_accepts_any_sequence(kernel: ModuleType) -> None:
    assert list(kernel.hash32_many(("a", b"b"))) == [kernel.hash32("a"), kernel.hash32(b"b")]


def test_empty_batch(kernel: ModuleType) -> None:
    got = kernel.hash32_many([])
    assert isinstance(got, array)
    assert len(got) == 0


def test_batch_fills_given_array(kernel: ModuleType) -> None:
    out = array("I", [0] * 3)
    assert kernel.hash32_many(["a", "b", "c"], 5, out=out) is out
    assert list(out) == [kernel.hash32(k, 5) for k in "abc"]


def test_batch_fills_given_memoryview(kernel: ModuleType) -> None:
    backing = array("I", [0] * 4)
    view = memoryview(backing)[1:3]
    assert kernel.hash32_many(["a", "b"], out=view) is view
    assert list(backing) == [0, kernel.hash32("a"), kernel.hash32("b"), 0]


@given(data=st.binary(max_size=256), seed=UINT32)
def test_twins_agree_on_random_bytes(data: bytes, seed: int) -> None:
    assert _compiled().hash32(data, seed) == _ring_py.hash32(data, seed)


@given(text=st.text(max_size=64), seed=UINT32)
def test_twins_agree_on_random_text(text: str, seed: int) -> None:
    assert _compiled().hash32(text, seed) == _ring_py.hash32(text, seed)


@given(keys=st.lists(KEYS, max_size=50), seed=UINT32)
def test_batch_is_map_of_single(kernel: ModuleType, keys: list[bytes | str], seed: int) -> None:
    assert list(kernel.hash32_many(keys, seed)) == [kernel.hash32(k, seed) for k in keys]


# Errors: the twins must fail alike, same type and same message, so code (and its tests) cannot
# come to depend on which kernel is active.


def _error(func: object, *args: object, **kwargs: object) -> tuple[type[BaseException], str]:
    assert callable(func)
    with pytest.raises(Exception) as info:
        func(*args, **kwargs)
    return info.type, str(info.value)


@pytest.mark.parametrize("key", [None, 42, 1.5, bytearray(b"ab"), memoryview(b"ab"), ["a"]])
def test_non_str_bytes_key_is_type_error(kernel: ModuleType, key: object) -> None:
    with pytest.raises(TypeError, match=r"^key must be str or bytes, not \w+$"):
        kernel.hash32(key)
    with pytest.raises(TypeError, match=r"^keys\[1\] must be str or bytes, not \w+$"):
        kernel.hash32_many(["ok", key])


@pytest.mark.parametrize("keys", ["abc", b"abc"])
def test_single_str_or_bytes_as_batch_is_type_error(kernel: ModuleType, keys: object) -> None:
    with pytest.raises(TypeError, match="sequence of keys"):
        kernel.hash32_many(keys)


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64])
def test_seed_outside_uint32_is_value_error(kernel: ModuleType, seed: int) -> None:
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32\)"):
        kernel.hash32(b"k", seed)
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*32\)"):
        kernel.hash32_many([b"k"], seed)


@pytest.mark.parametrize("seed", [1.0, "1", None])
def test_non_integer_seed_is_type_error(kernel: ModuleType, seed: object) -> None:
    with pytest.raises(TypeError):
        kernel.hash32(b"k", seed)


def test_lone_surrogate_cannot_be_encoded(kernel: ModuleType) -> None:
    with pytest.raises(UnicodeEncodeError):
        kernel.hash32("\ud800")


@pytest.mark.parametrize(
    ("out", "match"),
    [
        (array("I", [0]), "out has 1 items, expected 2"),
        (array("i", [0, 0]), "uint32"),
        (array("H", [0, 0, 0, 0]), "uint32"),
        (memoryview(bytes(8)).cast("I"), "writable"),
        (memoryview(array("I", [0] * 4))[::2], "contiguous"),
    ],
)
def test_bad_out_buffer_is_value_error(kernel: ModuleType, out: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        kernel.hash32_many(["a", "b"], out=out)


@pytest.mark.parametrize("args", [(None,), (b"k", -1), (b"k", 1.5), ("\udfff",)])
def test_twins_raise_identical_errors_for_single(args: tuple[object, ...]) -> None:
    assert _error(_compiled().hash32, *args) == _error(_ring_py.hash32, *args)


@pytest.mark.parametrize(
    ("keys", "seed", "out"),
    [
        ([b"a", 3], 0, None),
        ("ab", 0, None),
        ([b"a"], 2**32, None),
        ([b"a"], 0, array("I")),
        ([b"a"], 0, array("d", [0.0])),
        ([b"a"], 0, b"abcd"),
        ([b"a"], 0, 5),
    ],
)
def test_twins_raise_identical_errors_for_batch(keys: object, seed: int, out: object) -> None:
    compiled = _error(_compiled().hash32_many, keys, seed, out=out)
    assert compiled == _error(_ring_py.hash32_many, keys, seed, out=out)


# -- The ring: construction ------------------------------------------------------------------

# "m8961#0" and "m70373#0" hash to the same token, 0xA4C17CC3 (found by search): a real tie.
COLLIDING = ["m8961", "m70373"]


def _brute_ring(kernel: ModuleType, ids: list[str], vnodes: int) -> tuple[list[int], list[int]]:
    placed = sorted(
        (kernel.hash32(f"{member}#{i}"), m) for m, member in enumerate(ids) for i in range(vnodes)
    )
    return [token for token, _ in placed], [m for _, m in placed]


@pytest.mark.parametrize(
    ("ids", "vnodes"),
    [([], 3), (["a"], 1), (["a", "b", "c"], 4), (["héllo", "日本", "x" * 300], 12), (["w"], 1000)],
)
def test_ring_tokens_places_every_vnode_in_token_order(
    kernel: ModuleType, ids: list[str], vnodes: int
) -> None:
    tokens, owners = kernel.ring_tokens(ids, vnodes)
    assert (tokens.typecode, owners.typecode) == ("I", "i")
    assert (list(tokens), list(owners)) == _brute_ring(kernel, ids, vnodes)


@pytest.mark.parametrize("ids", [COLLIDING, COLLIDING[::-1]])
def test_ring_tokens_breaks_ties_by_member_index(kernel: ModuleType, ids: list[str]) -> None:
    tokens, owners = kernel.ring_tokens(ids, 1)
    assert list(tokens) == [0xA4C17CC3, 0xA4C17CC3]
    assert list(owners) == [0, 1]


BAD_RINGS: list[tuple[object, object, type[Exception], str]] = [
    ("ab", 1, TypeError, "^member_ids must be a sequence of str, not a single str$"),
    (["a", b"b"], 1, TypeError, r"^member_ids\[1\] must be str, not bytes$"),
    (["a", "b", "a"], 1, ValueError, r"^member_ids\[2\] repeats member_ids\[0\] \('a'\)$"),
    (["a"], 0, ValueError, "^vnodes must be >= 1, got 0$"),
    (["a"], 1.5, TypeError, "integer"),
    (["a", "b"], 2**30, ValueError, r"^2 members x 1073741824 vnodes is more than 2\*\*31 - 1"),
    (["\ud800"], 1, UnicodeEncodeError, "surrogates not allowed"),
]


@pytest.mark.parametrize(("ids", "vnodes", "error", "match"), BAD_RINGS)
def test_ring_tokens_rejects_bad_arguments(
    kernel: ModuleType, ids: object, vnodes: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        kernel.ring_tokens(ids, vnodes)


# -- The ring: lookups -------------------------------------------------------------------------

# Member 0 at 10, a tie at 20 (members 1 then 2), member 2 at 30, member 1 near the top.
RING = (array("I", [10, 20, 20, 30, 0xFFFFFFF0]), array("i", [0, 1, 2, 2, 1]))
ALL = b"\x01\x01\x01"


@pytest.mark.parametrize(
    ("key", "eligible", "expected"),
    [
        (0, ALL, 0),  # below the first token
        (10, ALL, 0),  # exactly on a token
        (11, ALL, 1),  # the tie at 20: the lower member index first
        (11, b"\x01\x00\x01", 2),  # ... and its twin when that one is ineligible
        (21, b"\x01\x01\x07", 2),  # any nonzero byte is eligible
        (0xFFFFFFF0, ALL, 1),
        (0xFFFFFFF1, ALL, 0),  # past the last token: wraps to the first
        (0xFFFFFFFF, b"\x00\x01\x01", 1),  # wraps, then walks past ineligible member 0
        (31, b"\x00\x00\x01", 2),  # past 1 at the top, wraps, past 0, past 1 at 20, to 2 at 20
        (25, b"\x00\x00\x00", -1),  # nobody eligible
    ],
)
def test_lookup_walks_clockwise_to_an_eligible_member(
    kernel: ModuleType, key: int, eligible: bytes, expected: int
) -> None:
    assert kernel.lookup(*RING, key, eligible) == expected
    assert list(kernel.lookup_many(*RING, array("I", [key]), eligible)) == [expected]


@pytest.mark.parametrize("eligible", [b"", b"\x01"])
def test_empty_ring_has_no_owner(kernel: ModuleType, eligible: bytes) -> None:
    empty = (array("I"), array("i"))
    loads = array("i", [0] * len(eligible))
    assert kernel.lookup(*empty, 5, eligible) == -1
    assert list(kernel.lookup_many(*empty, array("I", [0, 5]), eligible)) == [-1, -1]
    assert list(kernel.lookup_bounded(*empty, array("I", [5]), eligible, loads, 0.5)) == [-1]
    assert list(loads) == [0] * len(eligible)


def test_lookups_accept_any_buffer_of_the_right_type(kernel: ModuleType) -> None:
    keys = array("I", [0, 11, 31, 0xFFFFFFFF])
    views = (memoryview(RING[0]), memoryview(RING[1]), memoryview(keys))
    for eligible in (ALL, bytearray(ALL), array("B", ALL), memoryview(ALL)):
        assert list(kernel.lookup_many(*views, eligible)) == [0, 1, 1, 0]
        assert kernel.lookup(*views[:2], 31, eligible) == 1


def test_lookup_many_fills_given_out(kernel: ModuleType) -> None:
    out = array("i", [7, 7, 7])
    assert kernel.lookup_many(*RING, array("I", [0, 11, 21]), ALL, out) is out
    assert list(out) == [0, 1, 2]
    backing = array("i", [9, 9, 9, 9])
    view = memoryview(backing)[1:3]
    assert kernel.lookup_many(*RING, array("I", [0, 11]), ALL, out=view) is view
    assert list(backing) == [9, 0, 1, 9]


GOOD_LOOKUP: dict[str, object] = {
    "tokens": array("I", [1, 2]),
    "owners": array("i", [0, 1]),
    "key_hashes": array("I", [1]),
    "eligible": b"\x00\x01",
}
U32_NEEDED = r"must be a contiguous 1-D buffer of uint32 \(array typecode 'I'\)"
BAD_LOOKUPS: list[tuple[dict[str, object], type[Exception], str]] = [
    ({"tokens": [1, 2]}, TypeError, f"^tokens {U32_NEEDED}, not list$"),
    ({"tokens": array("i", [1, 2])}, TypeError, f"^tokens {U32_NEEDED}, not array of format 'i'$"),
    ({"tokens": memoryview(array("I", [1, 0, 2]))[::2]}, TypeError, "not a strided memoryview$"),
    ({"tokens": memoryview(bytes(8)).cast("I", (1, 2))}, TypeError, "not a 2-D memoryview$"),
    ({"owners": array("I", [0, 1])}, TypeError, r"^owners must be .* of int32 .* format 'I'$"),
    ({"key_hashes": array("i", [1])}, TypeError, f"^key_hashes {U32_NEEDED}"),
    ({"eligible": [0, 1]}, TypeError, "^eligible must be .* of uint8 .*, not list$"),
    ({"eligible": array("i", [0, 1])}, TypeError, "^eligible must be .* format 'i'$"),
    ({"owners": array("i", [0])}, ValueError, "^tokens and owners must have one item per vnode, "),
    (
        {"owners": array("i", [0, 2])},
        ValueError,
        r"^owners\[1\] is 2, not a member index in \[0, 2\)$",
    ),
    ({"owners": array("i", [-1, 1])}, ValueError, r"^owners\[0\] is -1, not a member index"),
]


def _lookup_calls(kernel: ModuleType, args: dict[str, object]) -> list[Callable[[], object]]:
    """Both lookups with these arguments; ``lookup`` only if its arguments are in play."""
    t, o, e = args["tokens"], args["owners"], args["eligible"]
    calls: list[Callable[[], object]] = [lambda: kernel.lookup_many(t, o, args["key_hashes"], e)]
    if args["key_hashes"] is GOOD_LOOKUP["key_hashes"]:
        calls.append(lambda: kernel.lookup(t, o, 1, e))
    return calls


@pytest.mark.parametrize(("changes", "error", "match"), BAD_LOOKUPS)
def test_lookups_reject_bad_buffers(
    kernel: ModuleType, changes: dict[str, object], error: type[Exception], match: str
) -> None:
    for call in _lookup_calls(kernel, {**GOOD_LOOKUP, **changes}):
        with pytest.raises(error, match=match):
            call()


@pytest.mark.parametrize(
    ("key", "error"), [(-1, ValueError), (2**32, ValueError), ("1", TypeError)]
)
def test_lookup_key_hash_must_be_uint32(kernel: ModuleType, key: object, error: type) -> None:
    with pytest.raises(error, match=r"key_hash must be in|integer"):
        kernel.lookup(*RING, key, ALL)


@pytest.mark.parametrize(
    ("out", "match"),
    [(array("i", [0, 0]), "^out has 2 items, expected 1$"), (array("I", [0]), "of int32")],
)
def test_lookup_many_rejects_bad_out(kernel: ModuleType, out: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        kernel.lookup_many(*RING, array("I", [1]), ALL, out)


# -- The ring: bounded loads -------------------------------------------------------------------

TWO = (array("I", [100, 200]), array("i", [0, 1]))


def test_bounded_spills_to_the_next_member_at_the_cap(kernel: ModuleType) -> None:
    # Caps before each key (epsilon 0, two members): 0.5, 1, 1.5, 2.
    loads = array("i", [0, 0])
    got = kernel.lookup_bounded(*TWO, array("I", [50] * 4), b"\x01\x01", loads, 0.0)
    assert (list(got), list(loads)) == ([0, 1, 0, 1], [2, 2])


def test_bounded_counts_existing_loads(kernel: ModuleType) -> None:
    # The cap is 1.25 * (5 + 1) / 2 = 3.75: member 0 is over it, so the key goes on to member 1.
    loads = array("i", [5, 0])
    assert list(kernel.lookup_bounded(*TWO, array("I", [50]), b"\x01\x01", loads, 0.25)) == [1]
    assert list(loads) == [5, 1]


def test_bounded_counts_only_eligible_members_on_the_ring(kernel: ModuleType) -> None:
    # Member 2 is eligible but owns no vnode; counted, it would lower the cap so far that the
    # third key found no member below it.
    loads = array("i", [0, 0, 0])
    got = kernel.lookup_bounded(*TWO, array("I", [50] * 4), ALL, loads, 0.0)
    assert (list(got), list(loads)) == ([0, 1, 0, 1], [2, 2, 0])


def test_bounded_skips_ineligible_members(kernel: ModuleType) -> None:
    loads = array("i", [0, 0])
    got = kernel.lookup_bounded(*TWO, array("I", [50] * 3), b"\x00\x01", loads, 0.0)
    assert (list(got), list(loads)) == ([1, 1, 1], [0, 3])
    got = kernel.lookup_bounded(*TWO, array("I", [50] * 2), b"\x00\x00", loads, 0.0)
    assert (list(got), list(loads)) == ([-1, -1], [0, 3])


def test_bounded_with_infinite_epsilon_is_plain_lookup(kernel: ModuleType) -> None:
    keys = array("I", [0, 11, 21, 31, 0xFFFFFFFF, 11, 11])
    loads = array("i", [3, 0, 1])
    got = kernel.lookup_bounded(*RING, keys, ALL, loads, math.inf, array("i", [0] * 7))
    assert got == kernel.lookup_many(*RING, keys, ALL)
    assert list(loads) == [3 + list(got).count(0), list(got).count(1), 1 + list(got).count(2)]


GOOD_BOUNDED: dict[str, object] = {
    "tokens": array("I", [1, 2]),
    "owners": array("i", [0, 1]),
    "key_hashes": array("I", [1]),
    "eligible": b"\x01\x01",
    "loads": array("i", [0, 0]),
    "epsilon": 0.25,
}
BAD_BOUNDED: list[tuple[dict[str, object], type[Exception], str]] = [
    ({"loads": array("i", [0])}, ValueError, "^eligible and loads must have one item per member"),
    ({"loads": array("i", [0, -1])}, ValueError, r"^loads\[1\] is -1; loads must be >= 0$"),
    ({"loads": memoryview(bytes(8)).cast("i")}, TypeError, "^loads must be writable, .*read-only"),
    ({"loads": array("I", [0, 0])}, TypeError, "^loads must be writable, .* of int32"),
    ({"loads": array("i", [2**31 - 1, 0])}, ValueError, r"^loads would overflow int32"),
    ({"epsilon": -0.5}, ValueError, "^epsilon must be >= 0, got -0.5$"),
    ({"epsilon": math.nan}, ValueError, "^epsilon must be >= 0, got nan$"),
    ({"epsilon": "0.1"}, TypeError, "^epsilon must be a float, not str$"),
    ({"owners": array("i", [0, 5])}, ValueError, r"^owners\[1\] is 5, not a member index"),
]


@pytest.mark.parametrize(("changes", "error", "match"), BAD_BOUNDED)
def test_bounded_rejects_bad_arguments(
    kernel: ModuleType, changes: dict[str, object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        kernel.lookup_bounded(**{**GOOD_BOUNDED, **changes})


# -- Scoring -----------------------------------------------------------------------------------


def _d(*values: float) -> array[float]:
    return array("d", values)


def test_argmax_trust_maximises_reliability_times_trust_over_load(kernel: ModuleType) -> None:
    reliability, trust = _d(0.9, 0.5, 1.0), _d(1.0, 1.0, 0.5)
    assert kernel.argmax_trust(reliability, trust, _d(0, 0, 0), ALL) == 0  # 0.9, 0.5, 0.5
    assert kernel.argmax_trust(reliability, trust, _d(2, 0, 0), ALL) == 1  # a tie: lowest index
    assert kernel.argmax_trust(reliability, trust, _d(0, -5, 0), b"\x01\x00\x01") == 0
    assert kernel.argmax_trust(reliability, trust, _d(0, 0, 0), bytes(3)) == -1
    assert kernel.argmax_trust(_d(), _d(), _d(), b"") == -1


def test_scores_trust_gives_every_score_and_nan_where_ineligible(kernel: ModuleType) -> None:
    scores = kernel.scores_trust(
        _d(0.9, 0.5, 1.0), _d(1.0, 1.0, 0.5), _d(2, -1, 1), b"\x01\x00\x01"
    )
    assert scores.typecode == "d"
    assert scores[0] == 0.9 / 3.0
    assert math.isnan(scores[1])
    assert scores[2] == 0.25


@pytest.mark.parametrize(("pack", "expected"), [(False, 1), (True, 2)])
def test_argmax_binpack_spreads_or_packs(kernel: ModuleType, pack: bool, expected: int) -> None:
    cpu, memory = _d(0.5, 0.9, 0.1, 0.9, 0.1), _d(0.5, 0.8, 0.2, 0.8, 0.2)  # ties: 1 and 3, 2 and 4
    assert kernel.argmax_binpack(cpu, memory, b"\x01" * 5, pack) == expected
    assert kernel.argmax_binpack(cpu, memory, b"\x01\x00\x00\x00\x00", pack) == 0
    assert kernel.argmax_binpack(cpu, memory, bytes(5), pack=pack) == -1


def test_scores_binpack_gives_every_score_and_nan_where_ineligible(kernel: ModuleType) -> None:
    scores = kernel.scores_binpack(_d(0.5, math.nan, 0.25), _d(0.25, 0.5, 0.5), b"\x01\x00\x01")
    assert scores.typecode == "d"
    assert (scores[0], scores[2]) == (0.75, 0.75)
    assert math.isnan(scores[1])


BAD_SCORES: list[tuple[str, tuple[object, ...], type[Exception], str]] = [
    (
        "argmax_trust",
        (_d(1, 1), _d(1), _d(0, 0), b"\x01\x01"),
        ValueError,
        "^reliability, trust, load and eligible must have one item per member, "
        "got lengths 2, 1, 2 and 2$",
    ),
    ("argmax_trust", (_d(1), [1.0], _d(0), b"\x01"), TypeError, "^trust must be .* float64"),
    ("scores_trust", (_d(1), _d(1), array("f", [0]), b"\x01"), TypeError, "format 'f'$"),
    ("argmax_trust", (_d(1, 1), _d(1, 1), _d(0, -0.5), ALL[:2]), ValueError, r"^load\[1\] is -0.5"),
    (
        "scores_trust",
        (_d(math.inf), _d(0), _d(0), b"\x01"),
        ValueError,
        r"^score of member 0 is NaN \(reliability=inf, trust=0.0, load=0.0\)$",
    ),
    (
        "argmax_binpack",
        (_d(1), _d(1, 2), b"\x01", True),
        ValueError,
        "^free_cpu_fraction, free_memory_fraction and eligible must have one item per member",
    ),
    (
        "scores_binpack",
        (_d(math.inf), _d(-math.inf), b"\x01"),
        ValueError,
        "^score of member 0 is NaN",
    ),
    ("argmax_binpack", (_d(1), _d(1), "\x01", False), TypeError, "^eligible must be"),
]


@pytest.mark.parametrize(("name", "args", "error", "match"), BAD_SCORES)
def test_scorers_reject_bad_arguments(
    kernel: ModuleType, name: str, args: tuple[object, ...], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        getattr(kernel, name)(*args)


# -- The twins agree: hand-picked errors and random inputs -------------------------------------


def _plain(value: object) -> object:
    """``value`` in a form that compares exactly: arrays by typecode and bytes (so NaN == NaN)."""
    if isinstance(value, array):
        return value.typecode, value.tobytes()
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    return value


def _outcome(func: object, *args: object) -> object:
    assert callable(func)
    try:
        return _plain(func(*args))
    except Exception as exc:
        return type(exc), str(exc)


def test_twins_raise_identical_errors_for_ring_arguments() -> None:
    c, p = _compiled(), _ring_py
    for ids, vnodes, _, _ in BAD_RINGS:
        assert _error(c.ring_tokens, ids, vnodes) == _error(p.ring_tokens, ids, vnodes)
    for changes, _, _ in BAD_LOOKUPS:
        args = {**GOOD_LOOKUP, **changes}
        assert [_outcome(call) for call in _lookup_calls(c, args)] == [
            _outcome(call) for call in _lookup_calls(p, args)
        ]
    for changes, _, _ in BAD_BOUNDED:
        args = {**GOOD_BOUNDED, **changes}
        assert _error(c.lookup_bounded, **args) == _error(p.lookup_bounded, **args)
    for name, score_args, _, _ in BAD_SCORES:
        assert _error(getattr(c, name), *score_args) == _error(getattr(p, name), *score_args)


# Small values and the top of the ring make ties and wrap-arounds common.
TOKEN = st.one_of(st.integers(0, 8), st.integers(0xFFFFFFF8, 0xFFFFFFFF), UINT32)
KEY_HASHES = st.lists(TOKEN, max_size=20).map(lambda keys: array("I", keys))
EPSILON = st.one_of(st.floats(0, 4), st.sampled_from([0.0, 0.25, math.inf, -1.0, math.nan]))
# Ties, ordinary values, and every float (NaN and infinities make the twins fail alike).
SCORE_INPUT = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(-1e6, 1e6), st.floats())


@st.composite
def rings(draw: st.DrawFn, valid: bool = True) -> tuple[array[int], array[int], bytes]:
    """A hand-made ring: sorted tokens, owners (some invalid unless ``valid``), eligible bytes."""
    n = draw(st.integers(0, 6))
    size = draw(st.integers(0, 24)) if n else 0
    tokens = sorted(draw(st.lists(TOKEN, min_size=size, max_size=size)))
    low, high = (0, max(n - 1, 0)) if valid else (-1, n)
    owners = draw(st.lists(st.integers(low, high), min_size=size, max_size=size))
    return array("I", tokens), array("i", owners), draw(st.binary(min_size=n, max_size=n))


@st.composite
def columns(draw: st.DrawFn, count: int) -> tuple[list[array[float]], bytes]:
    """``count`` float64 columns of one item per member, and the members' eligible bytes."""
    n = draw(st.integers(0, 8))
    values = st.lists(SCORE_INPUT, min_size=n, max_size=n)
    return [array("d", draw(values)) for _ in range(count)], draw(st.binary(min_size=n, max_size=n))


@given(ids=st.lists(st.text(max_size=8), max_size=6, unique=True), vnodes=st.integers(1, 16))
def test_twins_build_the_same_ring(ids: list[str], vnodes: int) -> None:
    assert _outcome(_compiled().ring_tokens, ids, vnodes) == _outcome(
        _ring_py.ring_tokens, ids, vnodes
    )


@given(ring=rings(valid=False), keys=KEY_HASHES)
def test_twins_agree_on_lookups(
    ring: tuple[array[int], array[int], bytes], keys: array[int]
) -> None:
    c, p = _compiled(), _ring_py
    for key in keys:
        assert _outcome(c.lookup, *ring[:2], key, ring[2]) == _outcome(
            p.lookup, *ring[:2], key, ring[2]
        )
    assert _outcome(c.lookup_many, *ring[:2], keys, ring[2]) == _outcome(
        p.lookup_many, *ring[:2], keys, ring[2]
    )


@given(data=st.data(), ring=rings(valid=False), keys=KEY_HASHES, epsilon=EPSILON)
def test_twins_agree_on_bounded_lookups(
    data: st.DataObject,
    ring: tuple[array[int], array[int], bytes],
    keys: array[int],
    epsilon: float,
) -> None:
    n = len(ring[2])
    start = data.draw(st.lists(st.integers(-1, 20), min_size=n, max_size=n))
    loads_c, loads_p = array("i", start), array("i", start)
    compiled = _outcome(_compiled().lookup_bounded, *ring[:2], keys, ring[2], loads_c, epsilon)
    assert compiled == _outcome(_ring_py.lookup_bounded, *ring[:2], keys, ring[2], loads_p, epsilon)
    assert loads_c == loads_p


@given(trust=columns(3), binpack=columns(2))
def test_twins_agree_on_scores(
    trust: tuple[list[array[float]], bytes], binpack: tuple[list[array[float]], bytes]
) -> None:
    c, p = _compiled(), _ring_py
    calls: list[tuple[str, tuple[object, ...]]] = [
        ("argmax_trust", (*trust[0], trust[1])),
        ("scores_trust", (*trust[0], trust[1])),
        ("argmax_binpack", (*binpack[0], binpack[1], True)),
        ("argmax_binpack", (*binpack[0], binpack[1], False)),
        ("scores_binpack", (*binpack[0], binpack[1])),
    ]
    for name, args in calls:
        assert _outcome(getattr(c, name), *args) == _outcome(getattr(p, name), *args)


def test_twins_agree_on_large_batches() -> None:
    """Batches large enough that the compiled kernel releases the GIL."""
    c, p = _compiled(), _ring_py
    ids = [f"member-{i}" for i in range(130)]  # 16,640 vnodes
    tokens, owners = p.ring_tokens(ids, 128)
    assert c.ring_tokens(ids, 128) == (tokens, owners)
    keys = p.hash32_many([f"key-{i}" for i in range(20_000)])
    eligible = bytes(i % 3 != 0 for i in range(130))
    expected = p.lookup_many(tokens, owners, keys, eligible)
    assert c.lookup_many(tokens, owners, keys, eligible) == expected
    loads_c, loads_p = array("i", [0] * 130), array("i", [0] * 130)
    bounded = c.lookup_bounded(tokens, owners, keys, eligible, loads_c, 0.1)
    assert bounded == p.lookup_bounded(tokens, owners, keys, eligible, loads_p, 0.1)
    assert loads_c == loads_p


# -- Properties of each kernel on random rings -------------------------------------------------


@given(ring=rings(), keys=KEY_HASHES)
def test_batch_lookup_is_map_of_single(
    kernel: ModuleType, ring: tuple[array[int], array[int], bytes], keys: array[int]
) -> None:
    singles = [kernel.lookup(*ring[:2], key, ring[2]) for key in keys]
    assert list(kernel.lookup_many(*ring[:2], keys, ring[2])) == singles


@given(ring=rings(), keys=KEY_HASHES, epsilon=st.floats(0, 2))
def test_bounded_keeps_every_member_within_its_cap(
    kernel: ModuleType,
    ring: tuple[array[int], array[int], bytes],
    keys: array[int],
    epsilon: float,
) -> None:
    tokens, owners, eligible = ring
    loads = array("i", [0] * len(eligible))
    got = list(kernel.lookup_bounded(tokens, owners, keys, eligible, loads, epsilon))
    live = {m for m in owners if eligible[m]}
    if not live:
        assert got == [-1] * len(keys)
        return
    assert -1 not in got
    assert list(loads) == [got.count(m) for m in range(len(eligible))]
    assert max(loads) <= math.ceil((1 + epsilon) * len(keys) / len(live))


def _first_best(scores: array[float], lowest: bool) -> int:
    """The index of the first highest (or lowest) non-NaN score, or -1."""
    best = -1
    for i, score in enumerate(scores):
        if math.isnan(score):
            continue
        if best < 0 or (score < scores[best] if lowest else score > scores[best]):
            best = i
    return best


@given(trust=columns(3), binpack=columns(2))
def test_argmax_is_the_first_best_score(
    kernel: ModuleType,
    trust: tuple[list[array[float]], bytes],
    binpack: tuple[list[array[float]], bytes],
) -> None:
    trust_args, binpack_args = (*trust[0], trust[1]), (*binpack[0], binpack[1])
    with contextlib.suppress(ValueError):  # a NaN score or negative load: tested above
        scores = kernel.scores_trust(*trust_args)
        assert kernel.argmax_trust(*trust_args) == _first_best(scores, lowest=False)
    with contextlib.suppress(ValueError):
        scores = kernel.scores_binpack(*binpack_args)
        assert kernel.argmax_binpack(*binpack_args, False) == _first_best(scores, lowest=False)
        assert kernel.argmax_binpack(*binpack_args, True) == _first_best(scores, lowest=True)


# -- Eligibility and the best scores -------------------------------------------------------------
# eligibility gives each member the first rule it fails, in the scheduler's order; top_scores the
# best k eligible members, best first. Checked against a plain reading of each definition.


@st.composite
def fleets(draw: st.DrawFn) -> dict[str, object]:
    """eligibility's arguments for up to 8 members, with many members at the thresholds."""
    n = draw(st.integers(0, 8))
    room = st.lists(st.sampled_from([0.0, 0.5, 1.0, -1.0, 2.0]), min_size=n, max_size=n)
    n_regions = draw(st.integers(0, 3))
    return {
        "capable": draw(st.binary(min_size=n, max_size=n)),
        "cpu_room": array("d", draw(room)),
        "memory_room": array("d", draw(room)),
        "trust": array("d", draw(room)),
        "region": array("i", draw(st.lists(st.integers(-1, 3), min_size=n, max_size=n))),
        "pii_cleared": draw(st.binary(min_size=n, max_size=n)),
        "cpu": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "memory": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "minimum_trust": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "allowed_regions": draw(st.binary(min_size=n_regions, max_size=n_regions)),
        "need_pii": draw(st.booleans()),
        "rules": bytearray(n),
    }


def _first_rule(args: dict[str, object], i: int) -> str:
    a: Any = args
    allowed = a["allowed_regions"]
    checks = [
        ("missing_capability", not a["capable"][i]),
        ("no_capacity:cpu", a["cpu"] > a["cpu_room"][i]),
        ("no_capacity:memory", a["memory"] > a["memory_room"][i]),
        ("trust_below_minimum", a["trust"][i] < a["minimum_trust"]),
        ("region_not_allowed", bool(allowed) and not (
            0 <= a["region"][i] < len(allowed) and allowed[a["region"][i]])),
        ("pii_not_cleared", a["need_pii"] and not a["pii_cleared"][i]),
    ]
    return next((rule for rule, failed in checks if failed), "")


@given(args=fleets())
def test_eligibility_names_the_first_rule_each_member_fails(
    kernel: ModuleType, args: dict[str, object]
) -> None:
    args = {**args, "rules": bytearray(len(args["rules"]))}  # type: ignore[arg-type]
    passed = kernel.eligibility(**args)
    rules = [kernel.RULES[code] for code in args["rules"]]  # type: ignore[attr-defined]
    assert rules == [_first_rule(args, i) for i in range(len(rules))]
    assert passed == rules.count("")


def test_eligibility_with_regions_required_but_no_table_allows_none_outside_it(
    kernel: ModuleType,
) -> None:
    rules = bytearray(3)
    args = (b"\x01" * 3, _d(1, 1, 1), _d(1, 1, 1), _d(1, 1, 1), array("i", [0, 1, -1]),
            b"\x01" * 3, 0.0, 0.0, 0.0)
    assert kernel.eligibility(*args, b"\x00\x01", False, rules) == 1
    assert list(rules) == [5, 0, 5]
    assert kernel.eligibility(*args, b"", False, rules) == 3  # no table: every region


def test_twins_agree_on_eligibility_errors() -> None:
    good = {
        "capable": b"\x01", "cpu_room": _d(1), "memory_room": _d(1), "trust": _d(1),
        "region": array("i", [0]), "pii_cleared": b"\x01", "cpu": 0.0, "memory": 0.0,
        "minimum_trust": 0.0, "allowed_regions": b"", "need_pii": False, "rules": bytearray(1),
    }
    bad: list[dict[str, object]] = [
        {"capable": [1]},
        {"cpu_room": array("f", [1])},
        {"region": array("l", [0])},
        {"rules": b"\x00"},  # read-only
        {"trust": _d(1, 1)},
        {"rules": bytearray(2), "region": "x"},  # types before lengths
        {"cpu": "0.5"},
        {"memory": None, "trust": _d(1, 1)},  # lengths before scalars
        {"minimum_trust": True},
    ]
    for changes in bad:
        args = {**good, **changes}
        assert _error(_compiled().eligibility, **args) == _error(_ring_py.eligibility, **args)


@given(
    scores=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, -3.0]), max_size=12),
    data=st.data(),
    k=st.integers(0, 14),
)
def test_top_scores_is_the_best_k_in_index_order_among_ties(
    kernel: ModuleType, scores: list[float], data: st.DataObject, k: int
) -> None:
    eligible = data.draw(st.binary(min_size=len(scores), max_size=len(scores)))
    expected = sorted((i for i in range(len(scores)) if eligible[i]), key=lambda i: -scores[i])
    assert list(kernel.top_scores(array("d", scores), eligible, k)) == expected[:k]


def test_top_scores_refuses_nan_for_an_eligible_member_and_negative_k(kernel: ModuleType) -> None:
    assert list(kernel.top_scores(_d(math.nan, 1.0), b"\x00\x01", 2)) == [1]
    with pytest.raises(ValueError, match=r"^scores\[0\] is NaN"):
        kernel.top_scores(_d(math.nan, 1.0), b"\x01\x01", 2)
    with pytest.raises(ValueError, match=r"^k must be >= 0"):
        kernel.top_scores(_d(1.0), b"\x01", -1)
    with pytest.raises(ValueError, match="one item per member"):
        kernel.top_scores(_d(1.0), b"\x01\x01", 1)
    assert list(kernel.top_scores(_d(1.0, 2.0), b"\x01\x01", 2**70)) == [1, 0]


def test_twins_agree_on_top_scores_errors() -> None:
    for args in [(_d(1.0), b"\x01", 1.5), (_d(1.0), b"\x01\x01", 1.5), (_d(1.0), b"\x01", "2")]:
        assert _error(_compiled().top_scores, *args) == _error(_ring_py.top_scores, *args)


# -- Ring: the ring built once, with a bucket index ----------------------------------------------
# A Ring must answer exactly as the module functions do on the ring ring_tokens builds: its bucket
# index is only a shortcut to the position bisect_left finds.

MEMBER_IDS = st.lists(st.text(max_size=8), max_size=6, unique=True)


def _near_tokens(tokens: list[int]) -> st.SearchStrategy[array[int]]:
    """Key hashes: anywhere, at the ends of the ring, and on or just beside the given tokens."""
    key = TOKEN
    if tokens:
        near = st.tuples(st.sampled_from(tokens), st.sampled_from([-1, 0, 1]))
        key = st.one_of(TOKEN, near.map(lambda pair: min(max(pair[0] + pair[1], 0), 0xFFFFFFFF)))
    return st.lists(key, max_size=20).map(lambda keys: array("I", keys))


def _flags(n: int) -> st.SearchStrategy[bytes | None]:
    """None (everyone eligible) or one byte per member, often all zero or all nonzero."""
    return st.one_of(
        st.none(), st.sampled_from([bytes(n), b"\x01" * n]), st.binary(min_size=n, max_size=n)
    )


def test_ring_places_vnodes_as_ring_tokens(kernel: ModuleType) -> None:
    ids = ["héllo", "日本", "x" * 300, "w"]
    ring = kernel.Ring(ids, 12)
    assert (ring.members, ring.vnodes) == (tuple(ids), 12)
    assert (ring.tokens, ring.owners) == kernel.ring_tokens(ids, 12)
    assert (ring.tokens.typecode, ring.owners.typecode) == ("I", "i")
    assert kernel.Ring(iter(ids)).vnodes == kernel.DEFAULT_VNODES


@pytest.mark.parametrize(("ids", "vnodes", "error", "match"), BAD_RINGS)
def test_ring_rejects_what_ring_tokens_rejects(
    kernel: ModuleType, ids: object, vnodes: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        kernel.Ring(ids, vnodes)


# "m8961#0" and "m70373#0" tie at 0xA4C17CC3: a ring of one vnode each, both at one token.
@pytest.mark.parametrize(
    ("key", "eligible", "expected"),
    [
        (0, None, 0),  # below the tie: the lower member index first
        (0xA4C17CC3, None, 0),  # exactly on the token
        (0xA4C17CC4, None, 0),  # past the last token: wraps to the first
        (0xFFFFFFFF, None, 0),
        (0xA4C17CC3, b"\x00\x01", 1),  # the tie's twin when the first is ineligible
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
    cap, each as the module functions do."""
    ring = kernel.Ring(["a", "b"], 1)
    tokens, owners = ring.tokens, ring.owners
    keys = array("I", sorted({0, 0xFFFFFFFF} | {k for t in tokens for k in (t - 1, t, t + 1)}))
    for eligible in (b"\x00\x00", b"\x00\x01", b"\x01\x00", b"\x01\x01"):
        expected = kernel.lookup_many(tokens, owners, keys, eligible)
        assert [ring.lookup(key, eligible) for key in keys] == list(expected)
        assert [ring.lookup_many(array("I", [key]), eligible)[0] for key in keys] == list(expected)
        assert ring.lookup_many(keys, eligible) == expected
        # Four keys on the last vnode: every other one spills past the top (epsilon 0).
        last = array("I", [tokens[1]] * 4)
        ring_loads, module_loads = array("i", [0, 0]), array("i", [0, 0])
        bounded = kernel.lookup_bounded(tokens, owners, last, eligible, module_loads, 0.0)
        assert ring.lookup_bounded(last, ring_loads, 0.0, eligible) == bounded
        assert ring_loads == module_loads


def test_empty_ring_has_no_owner_either(kernel: ModuleType) -> None:
    ring = kernel.Ring([])
    assert (ring.members, list(ring.tokens), list(ring.owners)) == ((), [], [])
    assert ring.lookup(5) == ring.lookup(5, b"") == ring.lookup_key("k") == -1
    assert list(ring.lookup_many(array("I", [0, 5, 0xFFFFFFFF]), b"")) == [-1, -1, -1]
    assert list(ring.lookup_bounded(array("I", [5]), array("i"), 0.5)) == [-1]


@given(data=st.data(), ids=MEMBER_IDS, vnodes=st.integers(1, 16))
def test_ring_answers_as_the_module_lookups(
    kernel: ModuleType, data: st.DataObject, ids: list[str], vnodes: int
) -> None:
    ring = kernel.Ring(ids, vnodes)
    tokens, owners = kernel.ring_tokens(ids, vnodes)
    keys = data.draw(_near_tokens(list(tokens)))
    eligible = data.draw(_flags(len(ids)))
    mask = b"\x01" * len(ids) if eligible is None else eligible
    expected = kernel.lookup_many(tokens, owners, keys, mask)
    assert ring.lookup_many(keys, eligible) == expected
    assert [ring.lookup(key, eligible) for key in keys] == list(expected)
    start = data.draw(st.lists(st.integers(0, 5), min_size=len(ids), max_size=len(ids)))
    epsilon = data.draw(st.one_of(st.floats(0, 2), st.just(math.inf)))
    ring_loads, module_loads = array("i", start), array("i", start)
    bounded = kernel.lookup_bounded(tokens, owners, keys, mask, module_loads, epsilon)
    assert ring.lookup_bounded(keys, ring_loads, epsilon, eligible) == bounded
    assert ring_loads == module_loads


@given(data=st.data(), ids=MEMBER_IDS, keys=st.lists(KEYS, max_size=10))
def test_ring_lookup_key_is_lookup_of_the_hash(
    kernel: ModuleType, data: st.DataObject, ids: list[str], keys: list[bytes | str]
) -> None:
    ring = kernel.Ring(ids, 4)
    eligible = data.draw(_flags(len(ids)))
    for key in keys:
        assert ring.lookup_key(key, eligible) == ring.lookup(kernel.hash32(key), eligible)


@pytest.mark.parametrize("n", [1, 3, 10])
def test_bucket_index_changes_no_result_at_any_bucket_boundary(kernel: ModuleType, n: int) -> None:
    ids = [f"member-{i}" for i in range(n)]
    ring = kernel.Ring(ids)
    tokens, owners = kernel.ring_tokens(ids, kernel.DEFAULT_VNODES)
    buckets = 1 << ring.bucket_bits
    shift = 32 - ring.bucket_bits
    assert len(tokens) <= buckets < 2 * len(tokens)  # about one bucket per vnode
    # Each bucket's first and the previous bucket's last key, and every token and its neighbours.
    keys = {k for b in range(buckets) for k in (b << shift, max((b << shift) - 1, 0))}
    keys |= {k for t in tokens for k in (t - 1, t, t + 1) if 0 <= k <= 0xFFFFFFFF}
    keys.add(0xFFFFFFFF)
    key_hashes = array("I", sorted(keys))
    for eligible in (None, bytes(m % 2 for m in range(n)), bytes(n)):
        mask = b"\x01" * n if eligible is None else eligible
        expected = kernel.lookup_many(tokens, owners, key_hashes, mask)
        assert ring.lookup_many(key_hashes, eligible) == expected
        assert [ring.lookup(k, eligible) for k in key_hashes] == list(expected)
    if n == 10:
        # Some buckets hold more vnodes than the compiled kernel compares before it bisects.
        assert max(Counter(t >> shift for t in tokens).values()) > 4


def test_ring_accepts_any_uint8_buffer_as_eligible(kernel: ModuleType) -> None:
    ring = kernel.Ring(["a", "b", "c"], 4)
    keys = kernel.hash32_many([f"k{i}" for i in range(50)])
    flags = b"\x01\x00\x01"
    expected = ring.lookup_many(keys, flags)
    assert 1 not in expected
    for eligible in (flags, bytearray(flags), array("B", flags), memoryview(flags)):
        assert ring.lookup_many(keys, eligible) == expected
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


KEY = array("I", [1])
THREE = b"\x01\x01\x01"
BAD_RING_CALLS: list[tuple[str, tuple[object, ...], dict[str, object], type[Exception], str]] = [
    ("lookup", (-1,), {}, ValueError, r"^key_hash must be in \[0, 2\*\*32\), got -1$"),
    ("lookup", (2**32, [1]), {}, ValueError, r"^key_hash must be in"),  # the first bad argument
    ("lookup", ("1",), {}, TypeError, "integer"),
    (
        "lookup",
        (1, b"\x01"),
        {},
        ValueError,
        r"^eligible has 1 items, expected one per member \(3\)$",
    ),
    ("lookup", (1, [1, 1, 1]), {}, TypeError, "^eligible must be .* of uint8 .*, not list$"),
    ("lookup", (1, array("i", [1, 1, 1])), {}, TypeError, "^eligible must be .* format 'i'$"),
    ("lookup_key", (5,), {}, TypeError, "^key must be str or bytes, not int$"),
    ("lookup_key", ("k", bytearray(4)), {}, ValueError, "^eligible has 4 items"),
    ("lookup_many", ([1, 2],), {}, TypeError, f"^key_hashes {U32_NEEDED}, not list$"),
    ("lookup_many", (KEY, bytearray(2)), {}, ValueError, "^eligible has 2 items"),
    (
        "lookup_many",
        (KEY,),
        {"out": array("i", [0, 0])},
        ValueError,
        "^out has 2 items, expected 1$",
    ),
    ("lookup_many", (KEY, THREE), {"out": array("I", [0])}, ValueError, "of int32"),
    ("lookup_bounded", (KEY, array("i", [0, 0]), 0.5), {}, ValueError, "^loads has 2 items"),
    ("lookup_bounded", (KEY, array("i", [0, -1, 0]), 0.5), {}, ValueError, r"^loads\[1\] is -1"),
    ("lookup_bounded", (KEY, array("I", [0] * 3), 0.5), {}, TypeError, "^loads must be writable"),
    ("lookup_bounded", (KEY, array("i", [0] * 3), -1.0, b""), {}, ValueError, "^epsilon must be"),
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


def test_twin_rings_raise_identical_errors() -> None:
    c, p = _compiled().Ring(["a", "b", "c"], 2), _ring_py.Ring(["a", "b", "c"], 2)
    for method, args, kwargs, _, _ in BAD_RING_CALLS:
        assert _error(getattr(c, method), *args, **kwargs) == _error(
            getattr(p, method), *args, **kwargs
        )


@pytest.mark.parametrize("method", ["lookup", "lookup_key", "lookup_many", "lookup_bounded"])
def test_twin_rings_have_the_same_signatures(method: str) -> None:
    def shape(func: object, skip: int) -> list[tuple[str, object, object]]:
        assert callable(func)
        params = list(inspect.signature(func).parameters.values())[skip:]
        return [(p.name, p.kind, p.default) for p in params]

    assert shape(_compiled().Ring, 0) == shape(_ring_py.Ring, 0)
    # The compiled method's self is positional-only; the pure one's is not.
    assert shape(getattr(_compiled().Ring, method), 1) == shape(getattr(_ring_py.Ring, method), 1)


@given(data=st.data(), ids=MEMBER_IDS, vnodes=st.integers(1, 16), epsilon=EPSILON)
def test_twin_rings_agree(data: st.DataObject, ids: list[str], vnodes: int, epsilon: float) -> None:
    c, p = _compiled().Ring(ids, vnodes), _ring_py.Ring(ids, vnodes)
    assert (c.members, c.bucket_bits, c.tokens, c.owners) == (
        p.members,
        p.bucket_bits,
        p.tokens,
        p.owners,
    )
    keys = data.draw(_near_tokens(list(c.tokens)))
    # Sometimes a byte too many or too few: both must then fail alike.
    eligible = data.draw(st.one_of(_flags(len(ids)), st.binary(max_size=len(ids) + 1)))
    assert _outcome(c.lookup_many, keys, eligible) == _outcome(p.lookup_many, keys, eligible)
    for key in keys:
        assert _outcome(c.lookup, key, eligible) == _outcome(p.lookup, key, eligible)
    start = data.draw(st.lists(st.integers(-1, 20), min_size=len(ids), max_size=len(ids)))
    loads_c, loads_p = array("i", start), array("i", start)
    assert _outcome(c.lookup_bounded, keys, loads_c, epsilon, eligible) == _outcome(
        p.lookup_bounded, keys, loads_p, epsilon, eligible
    )
    assert loads_c == loads_p


def test_ring_agrees_on_large_batches() -> None:
    """Large enough that the compiled Ring prefetches, releases the GIL, and, with few members
    eligible, builds a table of eligible vnodes instead of walking past the ineligible ones."""
    c, p = _compiled(), _ring_py
    ids = [f"member-{i}" for i in range(130)]  # 16,640 vnodes
    tokens, owners = p.ring_tokens(ids, 128)
    ring = c.Ring(ids, 128)
    keys = p.hash32_many([f"key-{i}" for i in range(20_000)])
    everyone, some = b"\x01" * 130, bytes(i % 3 != 0 for i in range(130))
    assert ring.lookup_many(keys) == p.lookup_many(tokens, owners, keys, everyone)
    expected = p.lookup_many(tokens, owners, keys, some)
    assert ring.lookup_many(keys, some) == expected  # the table
    assert ring.lookup_many(keys[:1000], some) == expected[:1000]  # the walk
    loads_c, loads_p = array("i", [0] * 130), array("i", [0] * 130)
    bounded = p.lookup_bounded(tokens, owners, keys, some, loads_p, 0.1)
    assert ring.lookup_bounded(keys, loads_c, 0.1, some) == bounded
    assert loads_c == loads_p
