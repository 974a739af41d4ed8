"""Reliability learned from outcomes (phoenixd.core.reliability), on the real Cluster: the
estimator's figures, which outcomes count and which do not, one audited event per change
with its cause, trust routing away from a member that fails its work, evidence that follows
the member id across incarnations, the operator's reset, and replay to the same state. With
learning off nothing changes: no event, and member records journal as before."""

from __future__ import annotations

import json

import pytest

from phoenixd.core.errors import InvalidArgument
from phoenixd.core.events import EventType
from phoenixd.core.members import Evidence
from phoenixd.core.registry import MemberUpdate
from phoenixd.core.reliability import Estimator, estimate
from phoenixd.core.state import ClusterState
from tests.core.packet_world import GRACE, LEASE, WALL_START, World, make_world, replayed

E = EventType
LEARNED = E.MEMBER_RELIABILITY_LEARNED


@pytest.fixture
def w() -> World:
    return make_world(learn_reliability=Estimator(half_life=100.0, prior_weight=10.0))


def _learned(w: World, since: int = 0) -> list[dict[str, object]]:
    return [e.data["learned"] for e in w.since(since) if e.type == LEARNED]


# -- the estimator -----------------------------------------------------------------------------


def test_the_declared_value_is_worth_prior_weight_outcomes() -> None:
    est = Estimator(half_life=100.0, prior_weight=10.0)
    start = est.start(0.9, WALL_START)
    assert estimate(start) == 0.9
    assert estimate(est.observe(start, 0, 1, WALL_START)) == round(9 / 11, 6)
    assert estimate(est.observe(start, 1, 0, WALL_START)) == round(10 / 11, 6)
    assert estimate(est.observe(start, 0, 90, WALL_START)) == round(9 / 100, 6)


def test_evidence_fades_by_half_per_half_life() -> None:
    est = Estimator(half_life=100.0, prior_weight=10.0)
    seen = est.observe(est.start(0.5, WALL_START), 8, 0, WALL_START)
    later = est.observe(seen, 0, 1, WALL_START + 100.0)
    assert (later.successes, later.failures, later.at) == (4.0, 1.0, WALL_START + 100.0)
    assert estimate(later) == round((5 + 4) / (10 + 4 + 1), 6)
    # A very old record counts for almost nothing: back to the prior.
    forgotten = est.observe(seen, 0, 0, WALL_START + 100.0 * 60)
    assert estimate(forgotten) == 0.5


@pytest.mark.parametrize("fields", [{"half_life": 0.0}, {"half_life": float("nan")},
                                    {"prior_weight": -1.0}, {"prior_weight": float("inf")}])
def test_an_estimator_that_cannot_work_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(InvalidArgument, match=r"half-life|prior weight"):
        Estimator(**fields)


# -- outcomes on the cluster -------------------------------------------------------------------


def test_a_completed_packet_raises_its_owners_reliability_with_one_audited_event(
        w: World) -> None:
    w.join("m1", "code", reliability=0.8)
    w.submit("fp-1", "code")
    w.ack("m1", "fp-1")
    start = w.head
    w.complete("m1", "fp-1")
    events = w.since(start)
    assert [e.type for e in events] == [E.PACKET_COMPLETED, LEARNED]
    event = events[1]
    assert event.member_ids == ("m1",) and event.packet_ids == ("fp-1",)
    assert event.actor == "phoenixd"
    assert event.reason == "fp-1 completed: reliability 0.8000 -> 0.8182"
    assert event.data["learned"] == {"outcome": "completed", "before": 0.8, "after": 0.818182}
    member = w.member("m1")
    assert member.reliability == 0.818182
    assert member.learned == Evidence(prior=0.8, weight=10.0, successes=1.0, failures=0.0,
                                      at=w.wall())
    assert member.revision == event.sequence


@pytest.mark.parametrize("permanent", [False, True])
def test_a_failure_the_owner_reports_lowers_its_reliability(w: World, permanent: bool) -> None:
    w.join("m1", "code", reliability=0.9)
    w.submit("fp-1", "code")
    w.fail("m1", "fp-1", permanent=permanent)
    assert _learned(w) == [{"outcome": "failed", "before": 0.9, "after": round(9 / 11, 6)}]
    assert w.member("m1").learned is not None
    assert w.member("m1").learned.failures == 1.0  # type: ignore[union-attr]


def test_a_member_that_fails_holding_work_is_charged_one_failure_per_packet(w: World) -> None:
    w.join("m1", "code", reliability=0.9)
    for i in range(3):
        w.submit(f"fp-{i}", "code")
    w.join("m2", "code", reliability=0.9)
    start = w.head
    w.tick(LEASE + GRACE + 1, keep_alive=("m2",))
    learned = [e for e in w.since(start) if e.type == LEARNED]
    assert len(learned) == 1
    assert learned[0].member_ids == ("m1",)
    assert sorted(learned[0].packet_ids) == ["fp-0", "fp-1", "fp-2"]
    assert learned[0].data["learned"]["outcome"] == "owner_failed"
    assert learned[0].reason.startswith("3 packets owner_failed: reliability 0.9000 -> ")
    assert w.member("m1").reliability == round(9 / 13, 6)
    assert w.member("m2").learned is None  # took the packets over: no outcome yet


def test_moves_that_are_not_the_members_doing_teach_nothing(w: World) -> None:
    w.join("m1", "code")
    w.join("m2", "code")
    for i in range(6):
        w.submit(f"fp-{i}", "code")
    start = w.head
    owned = sorted(w.owned_by("m1"))
    w.cluster.handoff(owned[0], "m2", "operator")
    w.cluster.cancel(owned[1], "not needed")
    w.cluster.drain("m1", "maintenance", deadline=5)  # hands off; the deadline forces the rest
    w.tick(6, keep_alive=("m1", "m2"))
    w.join("m3", "code")
    w.tick(20, keep_alive=("m2", "m3"))  # paced rebalancing after the join
    w.cluster.retire("m2", "done")  # holding work
    assert start < w.head and _learned(w, start) == []


def test_a_retry_is_placed_knowing_what_the_failure_taught(w: World) -> None:
    w.join("m1", "code", trust_score=0.9, reliability=0.9)
    w.submit("fp-1", "code")
    w.join("m2", "code", trust_score=0.9, reliability=0.9)
    start = w.head
    w.fail("m1", "fp-1")
    assert [e.type for e in w.since(start)][:3] == [E.PACKET_ATTEMPT_FAILED, LEARNED,
                                                    E.ASSIGNMENT_DECISION]
    decision = w.of_type(E.ASSIGNMENT_DECISION, "fp-1")[-1].data["decision"]
    assert decision["winner"] == "m2"


def test_trust_routing_moves_away_from_a_member_that_fails_its_work(w: World) -> None:
    # Equal on paper; m1 fails what it is given, so new work goes to m2.
    w.join("m1", "code", trust_score=0.9, reliability=0.9)
    w.join("m2", "code", trust_score=0.9, reliability=0.9)
    w.submit("fp-0", "code")
    first = w.packet("fp-0").owner
    other = "m2" if first == "m1" else "m1"
    w.fail(first, "fp-0", permanent=True)
    w.submit("fp-1", "code")
    assert w.packet("fp-1").owner == other
    w.complete(other, "fp-1")
    w.submit("fp-2", "code")
    assert w.packet("fp-2").owner == other
    decision = w.of_type(E.ASSIGNMENT_DECISION, "fp-2")[-1].data["decision"]
    scores = dict(decision["ranked"])
    assert scores[other] > scores[first]


def test_without_learning_outcomes_change_nothing_and_records_journal_as_before() -> None:
    w = make_world()
    w.join("m1", "code", reliability=0.8)
    w.submit("fp-1", "code")
    w.fail("m1", "fp-1")
    w.submit("fp-2", "code")
    w.complete("m1", "fp-2")
    assert LEARNED not in w.types
    assert w.member("m1").reliability == 0.8
    assert all("learned" not in e.data["member"] for e in w.events if "member" in e.data)


def test_a_new_incarnation_keeps_what_its_member_id_taught_aged_to_its_return(
        w: World) -> None:
    w.join("m1", "code", reliability=0.9)
    w.submit("fp-1", "code")
    w.fail("m1", "fp-1", permanent=True)
    w.cluster.retire("m1", "restart")
    w.wall.advance(100.0)  # one half-life later
    w.join("m1", "code", reliability=0.7)  # declares less this time
    member = w.member("m1")
    assert member.incarnation == 2
    assert member.learned == Evidence(prior=0.7, weight=10.0, successes=0.0, failures=0.5,
                                      at=w.wall())
    assert member.reliability == round(7 / 10.5, 6)
    registered = w.of_type(E.MEMBER_REGISTERED)[-1]
    assert registered.reason == "incarnation 2; reliability 0.6667 as learned (declared 0.7000)"


def test_evidence_no_outcome_refreshed_fades_once_per_half_life(w: World) -> None:
    w.join("m1", "code", reliability=0.9)
    w.submit("fp-1", "code")
    w.fail("m1", "fp-1", permanent=True)
    start = w.head
    w.tick(99, keep_alive=("m1",))
    assert _learned(w, start) == []
    w.tick(65, keep_alive=("m1",))  # past a half-life, and one timer scan later
    faded = [e for e in w.since(start) if e.type == LEARNED]
    assert len(faded) == 1 and faded[0].packet_ids == ()
    assert faded[0].data["learned"]["outcome"] == "faded"
    assert faded[0].reason.startswith("evidence of 1")
    learned = w.member("m1").learned
    assert learned is not None and 0.4 < learned.failures < 0.5
    assert round(9 / 11, 6) < w.member("m1").reliability < 0.9
    w.tick(60, keep_alive=("m1",))
    assert len(_learned(w, start)) == 1  # not again until another half-life


def test_evidence_takes_the_daemons_current_prior_weight() -> None:
    est = Estimator(half_life=100.0, prior_weight=4.0)
    earlier = Evidence(prior=0.9, weight=10.0, successes=0.0, failures=1.0, at=WALL_START)
    assert est.observe(earlier, 0, 0, WALL_START).weight == 4.0


def test_the_operator_setting_reliability_starts_over(w: World) -> None:
    w.join("m1", "code", reliability=0.9)
    w.submit("fp-1", "code")
    w.fail("m1", "fp-1", permanent=True)
    w.cluster.update_member("m1", MemberUpdate(fields=frozenset({"reliability"}),
                                               reliability=0.95))
    member = w.member("m1")
    assert (member.reliability, member.learned) == (0.95, None)
    w.submit("fp-2", "code")
    w.complete("m1", "fp-2")
    assert w.member("m1").learned == Evidence(prior=0.95, weight=10.0, successes=1.0,
                                              at=w.wall())


def _history(w: World) -> None:
    w.join("m1", "code", reliability=0.9)
    w.join("m2", "code", reliability=0.6)
    for i in range(6):
        w.submit(f"fp-{i}", "code")
        owner = w.packet(f"fp-{i}").owner
        if i % 3:
            w.complete(owner, f"fp-{i}")
        else:
            w.fail(owner, f"fp-{i}")
    w.tick(LEASE + GRACE + 1, keep_alive=("m2",))


def test_a_replay_rebuilds_the_learned_figures(w: World) -> None:
    _history(w)
    fresh = replayed(w.events)
    assert fresh.members == w.state.members
    assert fresh.space("default").table.reliability == w.state.space("default").table.reliability


def test_a_snapshot_keeps_the_learned_figures(w: World) -> None:
    _history(w)
    documents = json.loads(json.dumps(w.state.snapshot()))
    fresh = ClusterState()
    fresh.restore(documents, w.state.revision)
    assert fresh.members == w.state.members
    assert any(m.learned is not None for m in fresh.members.values())
    assert fresh.space("default").table.reliability == w.state.space("default").table.reliability
