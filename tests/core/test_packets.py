"""The Flight Packet record and what is checked on submit: canonical JSON (RFC 8785: sorted keys,
no spaces, ECMAScript numbers, unicode kept) and the ``sha256:`` state hash over it, which any
member in any language must be able to re-derive; the size limit and the refusal of NaN or
non-JSON values in a checkpoint state; packet id and policy validation; and the record's
to_dict / from_dict round trip (what packets.json and the journal hold)."""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from typing import Any

import pytest

from phoenixd.core.errors import InvalidArgument
from phoenixd.core.packets import (
    MAX_STATE_BYTES,
    Checkpoint,
    Packet,
    PacketStatus,
    Policy,
    Strategy,
    canonical_json,
    state_hash,
    validate_policy,
    validate_state,
)
from phoenixd.core.tokens import HandoffToken
from phoenixd.core.validation import validate_packet_id

# -- canonical JSON ----------------------------------------------------------------------------


def test_canonical_json_sorts_keys_at_every_level() -> None:
    value = {"b": 1, "a": {"d": [3, {"z": 0, "y": 1}], "c": 2}}
    assert canonical_json(value) == '{"a":{"c":2,"d":[3,{"y":1,"z":0}]},"b":1}'


def test_canonical_json_has_no_whitespace() -> None:
    value = {"list": [1, "two", None, True, False], "empty": {}, "none": []}
    assert canonical_json(value) == '{"empty":{},"list":[1,"two",null,true,false],"none":[]}'


def test_canonical_json_does_not_depend_on_insertion_order() -> None:
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1.0, "1"),
        (1, "1"),
        (-3.0, "-3"),
        (-0.0, "0"),
        (0.1, "0.1"),
        (1.5, "1.5"),
        (1e-7, "1e-7"),
        (1.25e-10, "1.25e-10"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (1e20, "100000000000000000000"),
        (123456789.0, "123456789"),
    ],
)
def test_canonical_json_writes_numbers_as_ecmascript_does(number: float, text: str) -> None:
    assert canonical_json(number) == text
    assert canonical_json({"n": number}) == '{"n":' + text + "}"


# RFC 8785 Appendix B: IEEE 754 doubles (as hex) and the text ECMAScript (and so every JCS
# implementation, in any language) writes for them.
RFC8785_NUMBERS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), RFC8785_NUMBERS)
def test_canonical_json_matches_the_rfc_8785_number_vectors(bits: str, text: str) -> None:
    (number,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonical_json(number) == text


@pytest.mark.parametrize(("number", "text"), [(0.00001, "0.00001"), (0.000123, "0.000123")])
def test_canonical_json_writes_small_numbers_from_1e_minus_6_in_decimal(
    number: float, text: str
) -> None:
    """ECMAScript switches to exponent form only below 1e-6 (Python's repr does below 1e-4)."""
    assert canonical_json(number) == text


def test_canonical_json_keeps_unicode_as_is() -> None:
    value = {"name": "café ✓ 😀", "ключ": "значение"}
    text = canonical_json(value)
    assert text == '{"name":"café ✓ 😀","ключ":"значение"}'
    assert "\\u" not in text


def test_canonical_json_escapes_only_what_json_must() -> None:
    assert canonical_json('quote " back \\ nl \n tab \t') == (
        '"quote \\" back \\\\ nl \\n tab \\t"'
    )
    assert canonical_json("\x1f") == '"\\u001f"'
    assert canonical_json("/") == '"/"'


def test_canonical_json_sorts_keys_by_utf16_code_units() -> None:
    """RFC 8785 3.2.3: U+1F600 (UTF-16 D83D DE00) sorts before U+E000 (E000)."""
    assert canonical_json({"\ue000": 1, "\U0001f600": 2}) == '{"\U0001f600":2,"\ue000":1}'


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_canonical_json_refuses_non_finite_numbers(value: float) -> None:
    with pytest.raises(InvalidArgument, match="NaN or infinite"):
        canonical_json({"deep": [1, {"x": value}]})


@pytest.mark.parametrize("value", [{1, 2}, b"bytes", object()])
def test_canonical_json_refuses_values_json_cannot_hold(value: object) -> None:
    with pytest.raises(InvalidArgument, match="not JSON data"):
        canonical_json({"x": value})


# -- the state hash ----------------------------------------------------------------------------


def test_state_hash_is_sha256_of_the_canonical_bytes() -> None:
    state = {"progress": 40, "notes": ["a", "b"], "nested": {"ok": True}}
    digest = state_hash(state)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    expected = hashlib.sha256(canonical_json(state).encode("utf-8")).hexdigest()
    assert digest == "sha256:" + expected


def test_state_hash_of_the_empty_state_is_the_hash_of_braces() -> None:
    assert state_hash({}) == "sha256:" + hashlib.sha256(b"{}").hexdigest()


def test_state_hash_ignores_key_order_and_float_spelling() -> None:
    assert state_hash({"a": 1, "b": 2.0}) == state_hash({"b": 2, "a": 1.0})


BASE: dict[str, Any] = {"progress": 40, "notes": ["a", "b"], "nested": {"ok": True}, "s": "x"}


@pytest.mark.parametrize(
    "changed",
    [
        {**BASE, "progress": 41},
        {**BASE, "progress": 40.5},
        {**BASE, "notes": ["b", "a"]},
        {**BASE, "notes": ["a", "b", "c"]},
        {**BASE, "nested": {"ok": False}},
        {**BASE, "nested": {"ok": 1}},
        {**BASE, "nested": {"ok": None}},
        {**BASE, "s": "X"},
        {**BASE, "s": "x "},
        {**BASE, "extra": 0},
        {k: v for k, v in BASE.items() if k != "s"},
    ],
)
def test_state_hash_changes_with_any_value(changed: dict[str, Any]) -> None:
    assert state_hash(changed) != state_hash(BASE)


def test_validate_state_returns_the_state_and_its_hash() -> None:
    values, digest = validate_state({"b": [1, 2], "a": "x"})
    assert values == {"a": "x", "b": [1, 2]}
    assert digest == state_hash(values)


def test_validate_state_accepts_exactly_the_limit_and_refuses_one_byte_more() -> None:
    overhead = len('{"s":""}')
    at_limit = {"s": "x" * (MAX_STATE_BYTES - overhead)}
    assert len(canonical_json(at_limit).encode()) == MAX_STATE_BYTES
    validate_state(at_limit)
    with pytest.raises(InvalidArgument, match="bytes in canonical JSON"):
        validate_state({"s": "x" * (MAX_STATE_BYTES - overhead + 1)})


def test_validate_state_counts_utf8_bytes_not_characters() -> None:
    two_byte = "é" * (MAX_STATE_BYTES // 2)  # fewer characters than the limit, more bytes
    with pytest.raises(InvalidArgument, match="bytes in canonical JSON"):
        validate_state({"s": two_byte})


def test_validate_state_refuses_nan() -> None:
    with pytest.raises(InvalidArgument, match="NaN"):
        validate_state({"score": math.nan})


# -- ids and policies --------------------------------------------------------------------------


@pytest.mark.parametrize("packet_id", ["a", "fp-1", "0", "a" * 63, "x-y-z-9"])
def test_validate_packet_id_accepts_dns_label_like_ids(packet_id: str) -> None:
    assert validate_packet_id(packet_id) == packet_id


@pytest.mark.parametrize(
    ("packet_id", "words"),
    [
        ("", "required"),
        ("Upper", "not a valid id"),
        ("-edge", "not a valid id"),
        ("edge-", "not a valid id"),
        ("under_score", "not a valid id"),
        ("sp ace", "not a valid id"),
        ("a" * 64, "not a valid id"),
    ],
)
def test_validate_packet_id_refuses_others(packet_id: str, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        validate_packet_id(packet_id)


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        (Policy(minimum_trust_score=-0.1), "minimum_trust_score"),
        (Policy(minimum_trust_score=1.01), "minimum_trust_score"),
        (Policy(minimum_trust_score=math.nan), "minimum_trust_score"),
        (Policy(label_selector="region in ()"), "at least one value"),
        (Policy(label_selector="a=b=c"), "not understood"),
        (Policy(label_selector="a=1,,b=2"), "empty term"),
        (Policy(allowed_regions=("us east",)), "allowed_regions"),
        (Policy(allowed_regions=("",)), "allowed_regions"),
        (Policy(allowed_regions=tuple(f"r{i}" for i in range(65))), "allowed_regions"),
    ],
)
def test_validate_policy_refuses_bad_constraints(policy: Policy, words: str) -> None:
    with pytest.raises(InvalidArgument, match=words):
        validate_policy(policy)


def test_validate_policy_normalizes_what_it_accepts() -> None:
    policy = Policy(0.7, ("us-west", "us-east", "us-west"), True, "  tier=web, !spot ")
    assert validate_policy(policy) == Policy(0.7, ("us-east", "us-west"), True, "tier=web, !spot")


@pytest.mark.parametrize("score", [0.0, 1.0])
def test_validate_policy_accepts_the_trust_bounds(score: float) -> None:
    assert validate_policy(Policy(minimum_trust_score=score)).minimum_trust_score == score


# -- the record --------------------------------------------------------------------------------


def _full_packet() -> Packet:
    state = {"progress": 40, "notes": ["ünïcode", 1.5]}
    return Packet(
        packet_id="fp-1",
        workload_type="doc.ocr",
        required_capabilities=("embed", "ocr@2"),
        status=PacketStatus.RUNNING,
        owner="m2",
        previous_owners=("m1",),
        epoch=2,
        checkpoint=Checkpoint(state, "half-way", state_hash(state), 1, "m1", 1_700_000_001.5),
        policy=Policy(0.6, ("us-east",), True, "tier=web"),
        handoff_allowed=False,
        handoff_reason="owner_failed",
        lineage_id="lin-7",
        demand_cpu=0.25,
        demand_memory=128.0,
        routing_key="tenant/7",
        strategy=Strategy.BINPACK_PACK,
        attempts=1,
        max_attempts=5,
        create_time=1_700_000_000.0,
        update_time=1_700_000_002.0,
        last_event="handoff_completed",
        failure_reason="first try crashed",
        result={"pages": 3},
        handoff_token=HandoffToken("fp-1", 2, "m1", "m2", "sha256:00", "2023-11-14T22:13:21Z",
                                   "ab" * 64, "ed25519:0123"),
        handoff_started=0.0,
        assign_time=1_700_000_001.75,
        decisions=((1, 4), (2, 9)),
        revision=11,
    )


def test_packet_round_trips_through_to_dict_and_from_dict() -> None:
    packet = _full_packet()
    assert Packet.from_dict(packet.to_dict()) == packet


def test_packet_round_trips_through_json_text() -> None:
    packet = _full_packet()
    raw = json.loads(json.dumps(packet.to_dict()))
    assert Packet.from_dict(raw) == packet


def test_packet_to_dict_holds_only_json_types() -> None:
    raw = _full_packet().to_dict()
    assert raw["status"] == "RUNNING"
    assert raw["strategy"] == "pack"
    assert raw["required_capabilities"] == ["embed", "ocr@2"]
    assert raw["decisions"] == [[1, 4], [2, 9]]
    assert raw["policy"]["allowed_regions"] == ["us-east"]
    assert raw["checkpoint"]["saved_by"] == "m1"
    assert json.loads(json.dumps(raw)) == raw


def test_checkpoint_and_policy_round_trip_on_their_own() -> None:
    packet = _full_packet()
    assert Checkpoint.from_dict(packet.checkpoint.to_dict()) == packet.checkpoint
    assert Policy.from_dict(packet.policy.to_dict()) == packet.policy


@pytest.mark.parametrize(
    ("status", "terminal", "owned"),
    [
        (PacketStatus.PENDING, False, False),
        (PacketStatus.ASSIGNED, False, True),
        (PacketStatus.RUNNING, False, True),
        (PacketStatus.COMPLETED, True, False),
        (PacketStatus.FAILED, True, False),
        (PacketStatus.CANCELLED, True, False),
    ],
)
def test_packet_status_says_which_states_end_and_which_hold_an_owner(
    status: PacketStatus, terminal: bool, owned: bool
) -> None:
    assert (status.terminal, status.owned) == (terminal, owned)
