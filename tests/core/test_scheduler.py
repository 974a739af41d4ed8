"""Placement: ``rejection()`` applies the eligibility rules in their documented order (ACTIVE,
capabilities with versions, cpu and memory room counting the member's current load, minimum
trust, allowed regions, pii clearance, label selector); the three strategies choose as
specified (trust: highest reliability x trust / (1 + assigned packets), ties to the lowest id;
binpack: most free, or fullest that fits; ring: the same member for the same key, walking past
ineligible members, and a join moves only some keys); and a Decision records enough to say why:
a bounded list of candidates, every rejection counted by rule, and an explanation naming the
winner. Records go straight into a ClusterState; no Cluster is involved."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoenixd import kernel
from phoenixd.core.errors import InvalidArgument
from phoenixd.core.members import Member, MemberStatus
from phoenixd.core.packets import Packet, PacketStatus, Policy, Strategy
from phoenixd.core.scheduler import (
    MAX_LISTED_CANDIDATES,
    Candidate,
    Scheduler,
    recorded_candidates,
    rejection,
)
from phoenixd.core.state import ClusterState
from phoenixd.core.table import free_fraction
from phoenixd.core.validation import parse_capability
from tests.core.packet_world import member_record, packet_record, put
from tests.reliability.soak import scaled


def _state(*members: Member) -> ClusterState:
    state = ClusterState()
    for member in members:
        put(state, member)
    return state


def _load(state: ClusterState, owner: str, count: int, cpu: float = 0.0,
          memory: float = 0.0) -> None:
    """Give ``owner`` ``count`` running packets using ``cpu`` and ``memory`` in all."""
    for i in range(count):
        put(state, packet_record(
            f"load-{owner}-{i}", status=PacketStatus.RUNNING, owner=owner, epoch=1,
            demand_cpu=cpu / count, demand_memory=memory / count,
        ))


# -- rejection(): each rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("member", "packet", "used", "rule"),
    [
        (member_record("m", status=MemberStatus.SUSPECT), packet_record("p"), (0, 0),
         "not_active:SUSPECT"),
        (member_record("m", status=MemberStatus.DRAINING), packet_record("p"), (0, 0),
         "not_active:DRAINING"),
        (member_record("m", "embed"), packet_record("p", "ocr"), (0, 0),
         "missing_capability:ocr"),
        (member_record("m", "ocr@1"), packet_record("p", "ocr@2"), (0, 0),
         "missing_capability:ocr@2"),
        (member_record("m", "ocr"), packet_record("p", "ocr@1"), (0, 0),
         "missing_capability:ocr@1"),
        (member_record("m", "ocr@1"), packet_record("p", "ocr@1", "embed"), (0, 0),
         "missing_capability:embed"),
        (member_record("m", cpu=1.0), packet_record("p", demand_cpu=1.5), (0, 0),
         "no_capacity:cpu"),
        (member_record("m", cpu=1.0), packet_record("p", demand_cpu=0.5), (0.6, 0),
         "no_capacity:cpu"),
        (member_record("m", memory=512.0), packet_record("p", demand_memory=256.0), (0, 300.0),
         "no_capacity:memory"),
        (member_record("m", trust_score=0.5), packet_record("p", policy=Policy(0.6)), (0, 0),
         "trust_below_minimum"),
        (member_record("m", labels={"region": "eu-west"}),
         packet_record("p", policy=Policy(allowed_regions=("us-east",))), (0, 0),
         "region_not_allowed"),
        (member_record("m"), packet_record("p", policy=Policy(allowed_regions=("us-east",))),
         (0, 0), "region_not_allowed"),
        (member_record("m", labels={"pii_cleared": "false"}),
         packet_record("p", policy=Policy(pii_review_required=True)), (0, 0),
         "pii_not_cleared"),
        (member_record("m", labels={"tier": "batch"}),
         packet_record("p", policy=Policy(label_selector="tier=web")), (0, 0),
         "label_selector_mismatch"),
    ],
)
def test_rejection_names_the_rule_a_member_fails(
    member: Member, packet: Packet, used: tuple[float, float], rule: str
) -> None:
    assert rejection(member, packet, *used) == rule


@pytest.mark.parametrize(
    ("member", "packet", "used"),
    [
        (member_record("m", "ocr@1"), packet_record("p", "ocr"), (0, 0)),
        (member_record("m", "ocr@2", "embed"), packet_record("p", "ocr@2"), (0, 0)),
        (member_record("m", cpu=1.0), packet_record("p", demand_cpu=0.5), (0.5, 0)),
        (member_record("m", trust_score=0.6), packet_record("p", policy=Policy(0.6)), (0, 0)),
        (member_record("m", labels={"region": "us-east", "pii_cleared": "true", "tier": "web"}),
         packet_record("p", policy=Policy(0.1, ("us-east",), True, "tier in (web,api)")),
         (0, 0)),
    ],
)
def test_rejection_accepts_a_member_that_meets_every_rule(
    member: Member, packet: Packet, used: tuple[float, float]
) -> None:
    assert rejection(member, packet, *used) == ""


def test_rejection_reports_the_first_failed_rule_in_the_documented_order() -> None:
    """A member failing every rule is fixed one rule at a time; the next rule shows each time."""
    packet = packet_record(
        "p", "ocr@2", demand_cpu=1.0, demand_memory=100.0,
        policy=Policy(0.9, ("us-east",), True, "tier=web"),
    )
    fixes: list[tuple[str, dict[str, object]]] = [
        ("not_active:FAILED", {"status": MemberStatus.ACTIVE}),
        ("missing_capability:ocr@2", {"capabilities": ("ocr@2",)}),
        ("no_capacity:cpu", {"cpu": 2.0}),
        ("no_capacity:memory", {"memory": 1000.0}),
        ("trust_below_minimum", {"trust_score": 0.95}),
        ("region_not_allowed", {"labels": {"region": "us-east"}}),
        ("pii_not_cleared", {"labels": {"region": "us-east", "pii_cleared": "true"}}),
        ("label_selector_mismatch",
         {"labels": {"region": "us-east", "pii_cleared": "true", "tier": "web"}}),
    ]
    member = member_record("m", "ocr@1", status=MemberStatus.FAILED, cpu=1.5, memory=150.0,
                           trust_score=0.1)
    used = (0.6, 60.0)
    seen = []
    for _, fix in fixes:
        seen.append(rejection(member, packet, *used))
        member = replace(member, **fix)  # type: ignore[arg-type]
    assert seen == [rule for rule, _ in fixes]
    assert rejection(member, packet, *used) == ""


# -- the trust strategy ------------------------------------------------------------------------


def test_trust_picks_the_highest_reliability_times_trust() -> None:
    state = _state(
        member_record("a", reliability=1.0, trust_score=0.6),
        member_record("b", reliability=0.9, trust_score=0.9),
        member_record("c", reliability=0.5, trust_score=1.0),
    )
    decision = Scheduler(state).decide(packet_record("p"), "submitted")
    assert decision.winner == "b"
    scores = {c.member_id: c.score for c in decision.candidates}
    assert scores == pytest.approx({"a": 0.6, "b": 0.81, "c": 0.5})


def test_trust_divides_by_one_plus_the_assigned_packets() -> None:
    state = _state(
        member_record("a", trust_score=0.9),
        member_record("b", trust_score=0.5),
    )
    _load(state, "a", 2)  # 0.9 / 3 = 0.3 < 0.5 / 1
    decision = Scheduler(state).decide(packet_record("p"), "submitted")
    assert decision.winner == "b"
    scores = {c.member_id: c.score for c in decision.candidates}
    assert scores == pytest.approx({"a": 0.3, "b": 0.5})


def test_trust_ties_go_to_the_lowest_member_id() -> None:
    state = _state(*(member_record(m, trust_score=0.7) for m in ("m3", "m1", "m2")))
    assert Scheduler(state).decide(packet_record("p"), "submitted").winner == "m1"


def test_trust_considers_only_eligible_members() -> None:
    state = _state(
        member_record("a", "ocr@1", trust_score=1.0),
        member_record("b", "ocr@2", trust_score=0.2),
    )
    decision = Scheduler(state).decide(packet_record("p", "ocr@2"), "submitted")
    assert decision.winner == "b"
    assert decision.rejected_counts == {"missing_capability": 1}


# -- bin-packing -------------------------------------------------------------------------------


def _binpack_state() -> ClusterState:
    state = _state(
        member_record("empty", cpu=4.0, memory=4096.0),
        member_record("half", cpu=4.0, memory=4096.0),
        member_record("full", cpu=4.0, memory=4096.0),
        member_record("small", cpu=0.5, memory=4096.0),
    )
    _load(state, "half", 2, cpu=2.0, memory=2048.0)
    _load(state, "full", 3, cpu=3.5, memory=3584.0)
    return state


def test_binpack_spread_picks_the_most_free_member() -> None:
    packet = packet_record("p", demand_cpu=1.0, strategy=Strategy.BINPACK_SPREAD)
    decision = Scheduler(_binpack_state()).decide(packet, "submitted")
    assert decision.winner == "empty"
    scores = {c.member_id: c.score for c in decision.candidates if c.score is not None}
    assert scores == pytest.approx({"empty": 2.0, "half": 1.0})
    rejected = {c.member_id: c.rejected_by for c in decision.candidates if c.score is None}
    assert rejected == {"full": "no_capacity:cpu", "small": "no_capacity:cpu"}


def test_binpack_pack_picks_the_fullest_member_that_fits() -> None:
    packet = packet_record("p", demand_cpu=1.0, strategy=Strategy.BINPACK_PACK)
    assert Scheduler(_binpack_state()).decide(packet, "submitted").winner == "half"
    tiny = packet_record("q", demand_cpu=0.25, strategy=Strategy.BINPACK_PACK)
    assert Scheduler(_binpack_state()).decide(tiny, "submitted").winner == "full"


def test_binpack_with_no_member_that_fits_has_no_winner() -> None:
    packet = packet_record("p", demand_cpu=8.0, strategy=Strategy.BINPACK_SPREAD)
    decision = Scheduler(_binpack_state()).decide(packet, "submitted")
    assert decision.winner == ""
    assert decision.rejected_counts == {"no_capacity": 4}


# -- the ring ----------------------------------------------------------------------------------

RING_MEMBERS = ("m1", "m2", "m3", "m4")


def _ring_packet(key: str, *capabilities: str) -> Packet:
    return packet_record(f"p-{key}", *capabilities, routing_key=key, strategy=Strategy.RING)


def _ring_winner(state: ClusterState, key: str, *capabilities: str) -> str:
    packet = _ring_packet(key, *capabilities)
    return Scheduler(state).decide(packet, "submitted").winner


def test_ring_sends_the_same_routing_key_to_the_same_member() -> None:
    state = _state(*(member_record(m) for m in RING_MEMBERS))
    owners = {key: _ring_winner(state, key) for key in (f"k{i}" for i in range(50))}
    again = {key: _ring_winner(state, key) for key in owners}
    assert owners == again
    assert set(owners.values()) == set(RING_MEMBERS)  # 50 keys land on every member


def test_ring_follows_the_routing_key_not_the_packet_id() -> None:
    state = _state(*(member_record(m) for m in RING_MEMBERS))
    scheduler = Scheduler(state)
    first = packet_record("a-1", routing_key="tenant-7", strategy=Strategy.RING)
    second = packet_record("b-2", routing_key="tenant-7", strategy=Strategy.RING)
    assert scheduler.decide(first, "t").winner == scheduler.decide(second, "t").winner


def test_ring_owner_is_the_first_vnode_clockwise_from_the_key_hash() -> None:
    state = _state(*(member_record(m) for m in RING_MEMBERS))
    hashring = kernel.Ring(list(RING_MEMBERS))
    for i in range(20):
        key = f"k{i}"
        index = hashring.lookup(kernel.hash32(key))
        assert _ring_winner(state, key) == RING_MEMBERS[index]


def test_ring_walks_past_ineligible_members_and_leaves_other_keys_alone() -> None:
    able = _state(*(member_record(m, "ocr") for m in RING_MEMBERS))
    owners = {key: _ring_winner(able, key, "ocr") for key in (f"k{i}" for i in range(100))}
    # m2 loses the capability: it stays on the ring but is not eligible.
    lacking = _state(*(member_record(m, "ocr" if m != "m2" else "embed") for m in RING_MEMBERS))
    hashring = kernel.Ring(list(RING_MEMBERS))
    mask = bytes(0 if m == "m2" else 1 for m in RING_MEMBERS)
    for key, owner in owners.items():
        now = _ring_winner(lacking, key, "ocr")
        assert now != "m2"
        if owner != "m2":
            assert now == owner
        else:
            walked = hashring.lookup(kernel.hash32(key), mask)
            assert now == RING_MEMBERS[walked]


def test_ring_owner_is_the_decisions_winner_whichever_members_may_not_own_it() -> None:
    """ring_owner checks the first member clockwise alone and walks on only when it may not
    own the packet: it answers as the eligibility pass over every member does."""
    state = _state(member_record("m1", "ocr"), member_record("m2", "embed"),
                   member_record("m3", "ocr", cpu=0.2), member_record("m4", "ocr"))
    _load(state, "m4", 2, cpu=0.9)  # m4 has 0.1 cpu left
    scheduler = Scheduler(state)
    owners: Counter[tuple[str, float]] = Counter()
    for i in range(200):
        packet = packet_record(f"p-{i}", "ocr", routing_key=f"k{i}", strategy=Strategy.RING,
                               demand_cpu=0.05 if i % 2 else 0.5)
        owner = scheduler.ring_owner(packet)
        assert owner == scheduler.decide(packet, "t").winner
        owners[owner, packet.demand_cpu] += 1
    assert owners["m1", 0.5] and owners["m3", 0.05] and owners["m4", 0.05]
    assert not (owners["m2", 0.05] or owners["m3", 0.5] or owners["m4", 0.5])


def test_ring_join_moves_only_some_keys_and_only_to_the_new_member() -> None:
    keys = [f"key-{i}" for i in range(400)]
    before_state = _state(*(member_record(m) for m in RING_MEMBERS))
    after_state = _state(*(member_record(m) for m in (*RING_MEMBERS, "m5")))
    before = {k: _ring_winner(before_state, k) for k in keys}
    after = {k: _ring_winner(after_state, k) for k in keys}
    moved = [k for k in keys if before[k] != after[k]]
    assert moved, "a new member takes some keys"
    assert all(after[k] == "m5" for k in moved)
    # about K/N = 1/5 of the keys move; far from all of them
    assert len(moved) < len(keys) / 2


def test_ring_with_no_eligible_member_has_no_winner() -> None:
    state = _state(*(member_record(m, "embed") for m in RING_MEMBERS))
    assert _ring_winner(state, "k", "ocr") == ""


def test_ring_owner_with_load_bound_spreads_keys_within_the_bound() -> None:
    state = _state(member_record("m1"), member_record("m2"))
    scheduler = Scheduler(state, load_bound=0.0)
    # find a key whose ring owner is m1, and overload m1
    key = next(k for k in (f"k{i}" for i in range(200))
               if scheduler.ring_owner(packet_record("x", routing_key=k)) == "m1")
    _load(state, "m1", 4)
    bounded = Scheduler(state, load_bound=0.25)
    packet = packet_record("x", routing_key=key, strategy=Strategy.RING)
    assert Scheduler(state).ring_owner(packet) == "m1"
    assert bounded.ring_owner(packet) == "m2"


def test_ring_owner_with_load_bound_keeps_a_placed_packet_where_it_is() -> None:
    # Packets placed one by one at the bounded ring owner: asked again, ring_owner keeps each
    # one that sits at its ring home on its owner (its own unit of load does not count
    # against it, or a member at the bound would push away the very packets that fill it),
    # and no member exceeds ceil((1 + eps) x average).
    state = _state(*(member_record(f"m{i}") for i in range(4)))
    scheduler = Scheduler(state, load_bound=0.25)
    placed = []
    for n in range(15):  # 15: counted twice, a full owner would sit exactly at the bound
        packet = packet_record(f"p{n:02d}", routing_key="hot" if n % 2 else f"k{n}",
                               strategy=Strategy.RING)
        owner = scheduler.ring_owner(packet)
        assert owner
        held = replace(packet, status=PacketStatus.ASSIGNED, owner=owner, epoch=1)
        put(state, held)
        placed.append(held)
    loads = Counter(p.owner for p in placed)
    bound = math.ceil(1.25 * len(placed) / 4)
    assert max(loads.values()) == bound  # the hot key's home is full
    unbounded = Scheduler(state)
    at_home = [p for p in placed if unbounded.ring_owner(p) == p.owner]
    assert any(loads[p.owner] == bound for p in at_home)
    for packet in at_home:
        assert scheduler.ring_owner(state.packets[packet.packet_id]) == packet.owner


# -- the decision record -----------------------------------------------------------------------


def test_decision_lists_a_bounded_number_of_candidates_but_counts_every_rejection() -> None:
    members = [member_record(f"e{i:02d}", "ocr") for i in range(10)]
    members += [member_record(f"r{i:02d}", "embed") for i in range(40)]
    members += [member_record(f"s{i:02d}", "ocr", status=MemberStatus.SUSPECT) for i in range(5)]
    decision = Scheduler(_state(*members)).decide(packet_record("p", "ocr"), "submitted")
    assert decision.considered == 55
    assert len(decision.candidates) == MAX_LISTED_CANDIDATES
    assert decision.rejected_counts == {"missing_capability": 40, "not_active": 5}
    eligible = [c for c in decision.candidates if c.score is not None]
    assert len(eligible) == 10
    assert decision.candidates[0].member_id == decision.winner
    assert all(not c.rejected_by for c in eligible)
    rejected = decision.candidates[len(eligible):]
    assert all(c.score is None and c.rejected_by for c in rejected)


def test_decision_among_many_eligible_lists_the_winner_first_and_the_best_next() -> None:
    members = [member_record(f"m{i:02d}", trust_score=round(0.2 + i * 0.01, 2)) for i in range(50)]
    decision = Scheduler(_state(*members)).decide(packet_record("p"), "submitted")
    assert decision.winner == "m49"
    assert len(decision.candidates) == MAX_LISTED_CANDIDATES
    listed = [c.member_id for c in decision.candidates]
    assert listed == [f"m{i:02d}" for i in range(49, 49 - MAX_LISTED_CANDIDATES, -1)]
    assert decision.rejected_counts == {}
    assert decision.considered == 50


def test_decision_with_a_target_considers_only_the_target() -> None:
    state = _state(member_record("best", trust_score=1.0), member_record("other", trust_score=0.1))
    decision = Scheduler(state).decide(packet_record("p"), "manual", target="other")
    assert decision.winner == "other"
    assert decision.considered == 1
    assert [c.member_id for c in decision.candidates] == ["other"]


def test_decision_with_an_ineligible_target_has_no_winner_and_says_why() -> None:
    state = _state(member_record("best", "ocr"), member_record("other", "embed"))
    decision = Scheduler(state).decide(packet_record("p", "ocr"), "manual", target="other")
    assert decision.winner == ""
    assert decision.candidates[0].member_id == "other"
    assert decision.candidates[0].rejected_by == "missing_capability:ocr"


def test_decision_with_a_target_on_the_ring_takes_the_target() -> None:
    state = _state(*(member_record(m) for m in RING_MEMBERS))
    packet = packet_record("p", routing_key="k", strategy=Strategy.RING)
    natural = Scheduler(state).decide(packet, "t").winner
    target = next(m for m in RING_MEMBERS if m != natural)
    assert Scheduler(state).decide(packet, "manual", target=target).winner == target


def test_decision_excludes_the_previous_owner() -> None:
    state = _state(member_record("a", trust_score=0.9), member_record("b", trust_score=0.2))
    decision = Scheduler(state).decide(packet_record("p"), "owner_failed", exclude="a")
    assert decision.winner == "b"
    assert decision.rejected_counts == {"previous_owner": 1}


def test_decision_explanation_names_the_winner_and_the_rejections() -> None:
    state = _state(member_record("a", "ocr", trust_score=0.9), member_record("b", "embed"))
    decision = Scheduler(state).decide(packet_record("p", "ocr"), "submitted")
    assert decision.explanation.startswith("a: ")
    assert "trust" in decision.explanation
    assert "1 eligible of 2 considered" in decision.explanation
    assert "missing_capability x1" in decision.explanation


def test_decision_explanation_without_a_winner_names_the_capability_nobody_offers() -> None:
    state = _state(member_record("b", "embed"),
                   member_record("c", "ocr", status=MemberStatus.SUSPECT))
    decision = Scheduler(state).decide(packet_record("p", "ocr"), "submitted")
    assert decision.winner == ""
    assert decision.explanation == (
        "no ACTIVE member offers ocr: the packet waits until a member that does registers or "
        "advertises it; no eligible member among 2 considered "
        "(rejected: missing_capability x1, not_active x1)")


def test_decision_without_a_winner_but_with_an_offer_says_only_who_was_rejected() -> None:
    state = _state(member_record("b", "ocr", trust_score=0.5))
    packet = packet_record("p", "ocr", policy=Policy(minimum_trust_score=0.9))
    decision = Scheduler(state).decide(packet, "submitted")
    assert decision.explanation == (
        "no eligible member among 1 considered (rejected: trust_below_minimum x1)")
    assert Scheduler(state).warnings(packet) == []


def test_failed_and_retired_members_are_not_considered_suspect_and_draining_are() -> None:
    members = [member_record("a", "ocr"),
               member_record("s", "ocr", status=MemberStatus.SUSPECT),
               member_record("d", "ocr", status=MemberStatus.DRAINING),
               member_record("f", "ocr", status=MemberStatus.FAILED),
               member_record("r", "ocr", status=MemberStatus.RETIRED)]
    decision = Scheduler(_state(*members)).decide(packet_record("p", "ocr"), "submitted")
    assert decision.considered == 3
    assert decision.rejected_counts == {"not_active": 2}
    assert sorted(c.member_id for c in decision.candidates) == ["a", "d", "s"]


def test_decision_explanation_on_the_ring_names_the_routing_key() -> None:
    state = _state(*(member_record(m) for m in RING_MEMBERS))
    packet = packet_record("p", routing_key="tenant-9", strategy=Strategy.RING)
    decision = Scheduler(state).decide(packet, "submitted")
    assert decision.explanation.startswith(f"{decision.winner}: ")
    assert "'tenant-9'" in decision.explanation


@pytest.mark.parametrize("written", ["ocr@1\n", "ocr\n"])
def test_names_ending_in_a_newline_are_refused(written: str) -> None:
    with pytest.raises(InvalidArgument, match="is not valid"):
        parse_capability(written)


def test_decision_to_dict_keeps_every_field() -> None:
    state = _state(member_record("a", "ocr"), member_record("b"))
    decision = Scheduler(state).decide(packet_record("p", "ocr"), "submitted")
    raw = decision.to_dict()
    assert raw["packet_id"] == "p"
    assert raw["strategy"] == "trust"
    assert raw["trigger"] == "submitted"
    assert raw["winner"] == "a"
    assert raw["considered"] == 2
    assert raw["rejected_counts"] == {"missing_capability": 1}
    assert raw["ranked"] == [["a", pytest.approx(0.5)]]
    assert raw["rejected"] == [["b", "missing_capability:ocr"]]
    assert raw["explanation"] == decision.explanation
    assert recorded_candidates(raw) == list(decision.candidates)


def test_decisions_journaled_in_the_earlier_form_still_read() -> None:
    raw = {"candidates": [
        {"member": "a", "score": 0.5, "rejected_by": ""},
        {"member": "r", "score": None, "rejected_by": ""},  # eligible on the ring
        {"member": "b", "score": None, "rejected_by": "missing_capability:ocr"},
    ]}
    assert recorded_candidates(raw) == [
        Candidate("a", 0.5), Candidate("r", None), Candidate("b", None, "missing_capability:ocr"),
    ]


# -- the compiled pass decides as the rules say, member by member -------------------------------
# decide() checks every ACTIVE member in one pass of the kernel over the state's member table.
# Against random fleets (members coming, changing and going, packets loading them), it must
# agree with rejection() applied to each member in turn and with each strategy's definition.

PROPERTY_EXAMPLES = 1000
CAPABILITIES = ["ocr@1", "ocr@2", "embed", "gpu@a100"]


@st.composite
def fleets(draw: st.DrawFn) -> tuple[ClusterState, list[str]]:
    state = ClusterState()
    ids = [f"m{i}" for i in range(draw(st.integers(0, 12)))]
    for member_id in draw(st.permutations(ids)):
        for _ in range(draw(st.integers(1, 2))):  # a second record replaces the first
            caps = draw(st.lists(st.sampled_from(CAPABILITIES), unique_by=lambda c: c[:3],
                                 max_size=3))
            labels = draw(st.fixed_dictionaries({}, optional={
                "region": st.sampled_from(["us-east", "eu-west"]),
                "pii_cleared": st.sampled_from(["true", "false"]),
                "tier": st.sampled_from(["web", "batch"]),
            }))
            put(state, member_record(
                member_id, *caps,
                status=draw(st.sampled_from([MemberStatus.ACTIVE] * 3 + list(MemberStatus))),
                cpu=draw(st.sampled_from([0.0, 1.0, 2.0])),
                memory=draw(st.sampled_from([0.0, 512.0, 1024.0])),
                trust_score=draw(st.sampled_from([0.2, 0.5, 0.9])),
                reliability=draw(st.sampled_from([0.5, 1.0])), labels=labels,
            ))
    for n in range(draw(st.integers(0, 10))):
        owner = draw(st.sampled_from(ids)) if ids else ""
        put(state, packet_record(
            f"load-{n}", status=PacketStatus.RUNNING if owner else PacketStatus.PENDING,
            owner=owner, epoch=1, demand_cpu=draw(st.sampled_from([0.0, 0.25, 0.5])),
            demand_memory=draw(st.sampled_from([0.0, 256.0])),
        ))
    return state, ids


PACKETS = st.builds(
    lambda caps, cpu, policy, strategy: packet_record(
        "p", *caps, demand_cpu=cpu, policy=policy, strategy=strategy),
    st.lists(st.sampled_from(["ocr", "ocr@1", "ocr@2", "embed", "gpu@a100"]),
             unique_by=lambda c: c[:3], max_size=2),
    st.sampled_from([0.0, 0.5, 1.0]),
    st.builds(Policy, st.sampled_from([0.0, 0.5]),
              st.sampled_from([(), ("us-east",), ("us-east", "eu-west"), ("ap-south",)]),
              st.booleans(), st.sampled_from(["", "tier=web", "tier notin (web)"])),
    st.sampled_from(list(Strategy)),
)


# Enough fixed examples that CI catches, on every run, a kernel pass that ignores a single
# allowed region, checks only the first of several capabilities, or counts an owner's own
# demand against it; make soak runs many more, randomized.
@settings(max_examples=scaled(PROPERTY_EXAMPLES, 20 * PROPERTY_EXAMPLES))
@given(fleet=fleets(), packet=PACKETS, data=st.data())
def test_decide_agrees_with_the_rules_member_by_member(
    fleet: tuple[ClusterState, list[str]], packet: Packet, data: st.DataObject
) -> None:
    state, ids = fleet
    if data.draw(st.booleans()) and ids:  # a packet held now: its demand does not count twice
        owner = data.draw(st.sampled_from(ids))
        packet = replace(packet, status=PacketStatus.ASSIGNED, owner=owner, epoch=1)
        put(state, packet)
    exclude = data.draw(st.sampled_from(["", *ids]))
    scheduler = Scheduler(state)
    decision = scheduler.decide(packet, "t", exclude=exclude)

    rules = {}
    gone = (MemberStatus.FAILED, MemberStatus.RETIRED)  # out of placement: not considered
    in_play = [m for m in state.member_ids if state.members[m].status not in gone]
    for member_id in in_play:
        rule = scheduler.check(state.members[member_id], packet)
        rules[member_id] = "previous_owner" if not rule and member_id == exclude else rule
    eligible = [m for m, rule in rules.items() if not rule]
    counts = Counter(rule.split(":")[0] for rule in rules.values() if rule)
    assert decision.rejected_counts == dict(sorted(counts.items()))
    assert decision.considered == len(in_play)

    def score(member_id: str) -> float:
        member, load = state.members[member_id], state.load_of(member_id)
        if packet.strategy is Strategy.TRUST:
            return member.reliability * member.trust_score / (1 + len(load.packets))
        return free_fraction(member.cpu, load.cpu) + free_fraction(member.memory, load.memory)

    if not eligible:
        assert decision.winner == ""
    elif packet.strategy is Strategy.RING:
        active = state.peek("default").table.ids
        mask = bytes(not rules[m] for m in active)
        hashring = kernel.Ring(active)
        assert decision.winner == active[hashring.lookup_key(packet.packet_id, mask)]
    else:
        pack = packet.strategy is Strategy.BINPACK_PACK
        best = min(eligible, key=lambda m: ((score(m) if pack else -score(m)), m))
        assert decision.winner == best
    listed = [c.member_id for c in decision.candidates]
    assert len(listed) == min(MAX_LISTED_CANDIDATES, len(in_play)) == len(set(listed))
    if decision.winner:
        assert listed[0] == decision.winner
    for candidate in decision.candidates:
        assert candidate.rejected_by == rules[candidate.member_id]
        if not candidate.rejected_by and packet.strategy is not Strategy.RING:
            assert candidate.score == score(candidate.member_id)
