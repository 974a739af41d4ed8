"""eligibility gives each member the code of the first placement rule it fails, in the
scheduler's order, and counts those that pass; both twins refuse bad inputs alike (by exception
type, in the same order: types, then lengths, then scalars)."""

from __future__ import annotations

from array import array
from types import ModuleType
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.kernel.twins import PURE, compiled, error_type


def _d(*values: float) -> array[float]:
    return array("d", values)


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


def test_twins_agree_on_eligibility_error_types() -> None:
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
        assert error_type(compiled().eligibility, **args) == error_type(PURE.eligibility, **args)

