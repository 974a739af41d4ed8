"""parse_selector reads Kubernetes-style label selectors: ``key=value`` and ``key==value``
(equal), ``key!=value`` (differs, or is absent), ``key`` (exists), ``!key`` (absent),
``key in (a,b)`` and ``key notin (a,b)``; terms are ANDed and split on commas outside
parentheses, the empty selector selects everything, and a malformed term raises InvalidArgument
whose message quotes the term and lists the forms that are understood."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoenixd.core.errors import InvalidArgument
from phoenixd.core.selector import MAX_SELECTOR_LENGTH, parse_selector

EAST_GPU = {"region": "us-east", "tier": "web", "gpu": "a100"}
WEST_BATCH = {"region": "us-west", "tier": "batch"}
BARE: dict[str, str] = {}


def _matches(text: str, labels: dict[str, str]) -> bool:
    return parse_selector(text).matches(labels)


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_selector_selects_everything(text: str) -> None:
    selector = parse_selector(text)
    assert selector.requirements == ()
    assert selector.matches(EAST_GPU)
    assert selector.matches(BARE)


@pytest.mark.parametrize("op", ["=", "=="])
def test_equality_matches_only_that_value(op: str) -> None:
    assert _matches(f"region{op}us-east", EAST_GPU)
    assert not _matches(f"region{op}us-east", WEST_BATCH)
    assert not _matches(f"region{op}us-east", BARE)


def test_equality_tolerates_spaces_around_the_operator() -> None:
    assert _matches("region = us-east", EAST_GPU)


def test_inequality_matches_other_values_and_absent_keys() -> None:
    assert not _matches("tier!=web", EAST_GPU)
    assert _matches("tier!=web", WEST_BATCH)
    assert _matches("tier!=web", BARE)


def test_bare_key_requires_the_key_to_exist() -> None:
    assert _matches("gpu", EAST_GPU)
    assert not _matches("gpu", WEST_BATCH)


def test_negated_key_requires_the_key_to_be_absent() -> None:
    assert not _matches("!gpu", EAST_GPU)
    assert _matches("!gpu", WEST_BATCH)
    assert _matches("! gpu", WEST_BATCH)


def test_exists_matches_an_empty_value() -> None:
    assert _matches("gpu", {"gpu": ""})


def test_in_matches_any_listed_value() -> None:
    assert _matches("region in (us-east,eu-west)", EAST_GPU)
    assert not _matches("region in (us-west2,eu-west)", WEST_BATCH)
    assert not _matches("region in (us-east)", BARE)


def test_in_ignores_spaces_inside_the_parentheses() -> None:
    assert _matches("region in ( eu-west , us-east )", EAST_GPU)


def test_notin_matches_unlisted_values_and_absent_keys() -> None:
    assert not _matches("tier notin (web,api)", EAST_GPU)
    assert _matches("tier notin (web,api)", WEST_BATCH)
    assert _matches("tier notin (web,api)", BARE)


def test_terms_are_anded() -> None:
    assert _matches("region=us-east,gpu,tier!=batch", EAST_GPU)
    assert not _matches("region=us-east,!gpu", EAST_GPU)


def test_commas_inside_parentheses_do_not_split_terms() -> None:
    text = "region in (us-east,us-west),tier notin (api,db),!spot"
    selector = parse_selector(text)
    assert len(selector.requirements) == 3
    assert selector.matches(EAST_GPU)
    assert selector.matches(WEST_BATCH)
    assert not selector.matches({"region": "eu-west", "tier": "web"})


def test_two_set_terms_with_several_values_each() -> None:
    selector = parse_selector("region in (us-east,us-west), tier in (batch,db)")
    assert selector.matches(WEST_BATCH)
    assert not selector.matches(EAST_GPU)


def test_keys_may_carry_a_dns_prefix() -> None:
    labels = {"app.kubernetes.io/name": "phoenix"}
    assert _matches("app.kubernetes.io/name=phoenix", labels)
    assert _matches("app.kubernetes.io/name", labels)


def test_equality_with_an_empty_value_matches_an_empty_label() -> None:
    assert _matches("note=", {"note": ""})
    assert not _matches("note=", BARE)


def test_selector_keeps_its_text() -> None:
    assert parse_selector("  region=us-east ").text == "region=us-east"


@pytest.mark.parametrize(
    "term",
    [
        "region=us east",  # a space inside a value
        "region=a=b",
        "=us-east",  # no key
        "region<us-east",
        "region in us-east",  # no parentheses
        "region in (us-east",  # unclosed
        "-region",  # key must start with a letter or digit
        "region ~ x",
    ],
)
def test_malformed_term_is_invalid_argument_naming_the_term(term: str) -> None:
    with pytest.raises(InvalidArgument) as excinfo:
        parse_selector(f"tier=web,{term}")
    message = str(excinfo.value)
    assert repr(term) in message
    assert "key=value" in message and "notin" in message


def test_set_term_without_values_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument, match="needs at least one value"):
        parse_selector("region in ( )")


@pytest.mark.parametrize("text", ["region=a,", ",region=a", "region=a,,tier=b"])
def test_empty_term_is_invalid_argument(text: str) -> None:
    with pytest.raises(InvalidArgument, match="empty term"):
        parse_selector(text)


# The selector is read in one forward pass, and refused past MAX_SELECTOR_LENGTH before it
# is read (a request carries it). The regular expressions below are the grammar as it was
# first written (the set pattern backtracked quadratically on spaces); the parser must
# accept and refuse exactly what they did, with the same messages.

_KEY = r"[A-Za-z0-9][A-Za-z0-9_./-]*"
_VALUE = r"[A-Za-z0-9_.-]*"
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s+\(\s*([^)]*)\)$")
_CMP = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_EXISTS = re.compile(rf"^(!?)\s*({_KEY})$")


def _reference(text: str) -> list[tuple[str, ...]] | str:
    """The terms as the regular expressions read them, or the error they raised."""
    text = text.strip()
    if not text:
        return []
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    terms = [p.strip() for p in parts]
    if any(not t for t in terms):
        return f"label selector {text!r} has an empty term"
    read: list[tuple[str, ...]] = []
    for term in terms:
        if m := _SET.match(term):
            values = sorted({v.strip() for v in m.group(3).split(",") if v.strip()})
            if not values:
                return f"label selector term {term!r} needs at least one value"
            read.append((m.group(1), m.group(2), *values))
        elif m := _CMP.match(term):
            read.append((m.group(1), "!=" if m.group(2) == "!=" else "=", m.group(3)))
        elif m := _EXISTS.match(term):
            read.append((m.group(2), "absent" if m.group(1) else "exists"))
        else:
            return f"label selector term {term!r} is not understood"
    return read


def _label_sets(read: list[tuple[str, ...]]) -> list[dict[str, str]]:
    """Label maps that tell the terms apart: each key absent, or set to each value or another."""
    keys = {term[0] for term in read}
    values = {v for term in read for v in term[2:]} | {"", "other"}
    sets: list[dict[str, str]] = [{}]
    for key in keys:
        sets += [{key: v} for v in values]
    return sets


def _holds(term: tuple[str, ...], labels: dict[str, str]) -> bool:
    key, op, *values = term
    if op == "exists":
        return key in labels
    if op == "absent":
        return key not in labels
    if op in ("=", "in"):
        return labels.get(key) in values
    return labels.get(key) not in values  # "!=" and "notin"


_ALPHABET = "ab9-_./=!(), \t\u00a0\x1cé"
_WORDS = st.sampled_from(["a", "b", "k8s.io/gpu", "in", "notin", "=", "==", "!=", "!", "(", ")",
                          ",", " ", "  ", "-x", "_", "\t"])


@settings(max_examples=1000)
@given(st.one_of(st.text(_ALPHABET, max_size=30), st.lists(_WORDS, max_size=12).map("".join)))
def test_parser_accepts_and_refuses_what_the_original_grammar_did(text: str) -> None:
    expected = _reference(text)
    try:
        selector = parse_selector(text)
    except InvalidArgument as exc:
        assert isinstance(expected, str), f"{text!r}: refused ({exc}), the grammar reads {expected}"
        assert str(exc).startswith(expected)
        return
    assert not isinstance(expected, str), f"{text!r}: accepted, the grammar says {expected!r}"
    for labels in _label_sets(expected):
        want = all(_holds(term, labels) for term in expected)
        assert selector.matches(labels) == want, f"{text!r} on {labels}"


def test_a_selector_past_the_limit_is_refused_before_it_is_read() -> None:
    with pytest.raises(InvalidArgument, match=f"at most {MAX_SELECTOR_LENGTH} are accepted"):
        parse_selector("a" * (MAX_SELECTOR_LENGTH + 1), "label_selector")
    assert parse_selector("a" * MAX_SELECTOR_LENGTH).matches({"a" * MAX_SELECTOR_LENGTH: ""})


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "shape",
    ["a in (" + " " * (1 << 20) + "x", "a" + " " * (1 << 20) + "in (", "a=b," * (1 << 18),
     "(" * (1 << 20)],
    ids=["spaces-in-a-set", "spaces-before-in", "a-quarter-million-terms", "open-parentheses"],
)
def test_reading_a_mebibyte_selector_is_linear(shape: str) -> None:
    # The set pattern needed ~2.2 s for 16k spaces and ~5x per doubling: hours for 1 MiB, far
    # past this test's timeout. A linear reader takes about a second for any of these shapes.
    with contextlib.suppress(InvalidArgument):
        parse_selector(shape, limit=None)
