"""The scorers: trust-weighted (reliability x trust / (1 + load)) and bin-packing (free cpu +
free memory, spread or packed) give every score and the first best member; top_scores the k best,
best first; bad inputs are refused alike (by exception type) in both twins."""

from __future__ import annotations

import contextlib
import math
from array import array
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.kernel.twins import PURE, compiled, error_type, outcome

ALL = b"\x01\x01\x01"
# Ties, ordinary values, and every float (NaN and infinities make the twins fail alike).
SCORE_INPUT = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(-1e6, 1e6), st.floats())


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

@st.composite
def columns(draw: st.DrawFn, count: int) -> tuple[list[array[float]], bytes]:
    """``count`` float64 columns of one item per member, and the members' eligible bytes."""
    n = draw(st.integers(0, 8))
    values = st.lists(SCORE_INPUT, min_size=n, max_size=n)
    return [array("d", draw(values)) for _ in range(count)], draw(st.binary(min_size=n, max_size=n))



@given(trust=columns(3), binpack=columns(2))
def test_twins_agree_on_scores(
    trust: tuple[list[array[float]], bytes], binpack: tuple[list[array[float]], bytes]
) -> None:
    c, p = compiled(), PURE
    calls: list[tuple[str, tuple[object, ...]]] = [
        ("argmax_trust", (*trust[0], trust[1])),
        ("scores_trust", (*trust[0], trust[1])),
        ("argmax_binpack", (*binpack[0], binpack[1], True)),
        ("argmax_binpack", (*binpack[0], binpack[1], False)),
        ("scores_binpack", (*binpack[0], binpack[1])),
    ]
    for name, args in calls:
        assert outcome(getattr(c, name), *args) == outcome(getattr(p, name), *args)



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


def test_twins_agree_on_top_scores_error_types() -> None:
    for args in [(_d(1.0), b"\x01", 1.5), (_d(1.0), b"\x01\x01", 1.5), (_d(1.0), b"\x01", "2")]:
        assert error_type(compiled().top_scores, *args) == error_type(PURE.top_scores, *args)



@pytest.mark.parametrize(("name", "args"), [(name, args) for name, args, _, _ in BAD_SCORES])
def test_twins_agree_on_scorer_error_types(name: str, args: tuple[object, ...]) -> None:
    assert error_type(getattr(compiled(), name), *args) == error_type(getattr(PURE, name), *args)
