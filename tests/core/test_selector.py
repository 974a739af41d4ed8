"""parse_selector reads Kubernetes-style label selectors: ``key=value`` and ``key==value``
(equal), ``key!=value`` (differs, or is absent), ``key`` (exists), ``!key`` (absent),
``key in (a,b)`` and ``key notin (a,b)``; terms are ANDed and split on commas outside
parentheses, the empty selector selects everything, and a malformed term raises InvalidArgument
whose message quotes the term and lists the forms that are understood."""

from __future__ import annotations

import pytest

from phoenixd.core.errors import InvalidArgument
from phoenixd.core.selector import parse_selector

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
