"""The registry's rules, driven by a fake monotonic clock and a fake wall clock over a real
ClusterState and Recorder (whose sink is an in-memory list): registration defaults and
validation; credentials (a live id is taken unless its current credential is shown, which starts
a new incarnation and revokes the old credential); leases (expiry makes a member SUSPECT, the
grace period then makes it FAILED, a heartbeat in between brings it back, only monotonic time
counts, and ``rearm_all`` grants a full TTL); sessions (an abrupt close makes the member SUSPECT
at once, a graceful or superseded one does not); drain, retire and update; listing with filters
and pagination; the capability directory; and the event-sourcing invariant that replaying the
recorded events into a fresh ClusterState rebuilds the live state exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from phoenixd.core.directory import capability_directory, list_members
from phoenixd.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from phoenixd.core.events import Event, EventType
from phoenixd.core.members import Member, MemberKind, MemberStatus
from phoenixd.core.recorder import Recorder
from phoenixd.core.registry import (
    Load,
    MemberUpdate,
    Notice,
    NoticeKind,
    Registration,
    Registry,
)
from phoenixd.core.selector import parse_selector
from phoenixd.core.state import ClusterState, OwnerLoad
from tests.core.packet_world import Clock, ListSink

GRACE = 5.0


@dataclass
class World:
    core: Registry
    state: ClusterState
    sink: ListSink
    mono: Clock
    wall: Clock
    notices: list[Notice] = field(default_factory=list)

    @property
    def types(self) -> list[str]:
        return [e.type for e in self.sink.events]

    def status(self, member_id: str) -> MemberStatus:
        return self.state.members[member_id].status

    def register(self, member_id: str, **kwargs: object) -> tuple[Member, str]:
        return self.core.register(Registration(member_id, **kwargs))  # type: ignore[arg-type]

    def tick(self, seconds: float) -> int:
        self.mono.advance(seconds)
        self.wall.advance(seconds)
        return self.core.expire()


@pytest.fixture
def world() -> World:
    state = ClusterState()
    sink = ListSink()
    mono, wall = Clock(1000.0), Clock(1_700_000_000.0)
    recorder = Recorder(sink, state.apply, wall_clock=wall)
    notices: list[Notice] = []
    core = Registry(
        state, recorder, suspect_grace=GRACE, monotonic=mono, wall_clock=wall,
        notify=notices.append,
    )
    return World(core, state, sink, mono, wall, notices)


def _replayed(events: list[Event]) -> ClusterState:
    fresh = ClusterState()
    for event in events:
        fresh.apply(event)
    return fresh


# -- registration ------------------------------------------------------------


def test_register_applies_the_defaults(world: World) -> None:
    member, credential = world.register("a1")
    assert credential
    assert member.status is MemberStatus.ACTIVE
    assert member.kind is MemberKind.AGENT
    assert member.trust_score == 0.5
    assert member.reliability == 1.0
    assert member.lease_ttl == 10.0
    assert member.incarnation == 1
    assert member.capabilities == ()
    assert member.create_time == world.wall.now
    assert world.state.members["a1"] == member
    assert world.types == [EventType.MEMBER_REGISTERED]


def test_register_does_not_keep_the_credential_in_clear(world: World) -> None:
    member, credential = world.register("a1")
    assert credential not in str(member.to_dict())
    assert credential not in str([e.data for e in world.sink.events])


def test_register_with_capabilities_records_a_discovery(world: World) -> None:
    member, _ = world.register("a1", capabilities=("summarize@2", "embed"))
    assert member.capabilities == ("embed", "summarize@2")
    assert world.types == [EventType.MEMBER_REGISTERED, EventType.CAPABILITY_DISCOVERED]
    assert world.sink.events[-1].data == {"capabilities": ["embed", "summarize@2"]}
    assert world.sink.events[-1].member_ids == ("a1",)


def test_register_keeps_declared_values(world: World) -> None:
    member, _ = world.register(
        "t1", kind=MemberKind.TOOL, trust_score=0.9, reliability=0.25, lease_ttl=30.0,
        labels={"zone": "b", "app.example.com/tier": "web"}, cpu=4.0, memory=2048.0,
    )
    assert member.kind is MemberKind.TOOL
    assert (member.trust_score, member.reliability, member.lease_ttl) == (0.9, 0.25, 30.0)
    assert dict(member.labels) == {"app.example.com/tier": "web", "zone": "b"}
    assert (member.cpu, member.memory) == (4.0, 2048.0)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"member_id": ""}, "required"),
        ({"member_id": "Bad_Id"}, "not a valid id"),
        ({"member_id": "-edge"}, "not a valid id"),
        ({"capabilities": ("Summarize",)}, "capability"),
        ({"capabilities": ("sum mary",)}, "capability"),
        ({"capabilities": ("embed@1", "embed@2")}, "listed twice"),
        ({"lease_ttl": 0.5}, "lease_ttl"),
        ({"lease_ttl": 7200.0}, "lease_ttl"),
        ({"lease_ttl": math.nan}, "lease_ttl"),
        ({"trust_score": 1.5}, "trust_score"),
        ({"trust_score": -0.1}, "trust_score"),
        ({"trust_score": math.nan}, "trust_score"),
        ({"reliability": math.nan}, "reliability"),
        ({"reliability": math.inf}, "reliability"),
        ({"cpu": -1.0}, "capacity.cpu"),
        ({"memory": math.nan}, "capacity.memory"),
        ({"labels": {"bad key!": "x"}}, "label key"),
        ({"labels": {"-zone": "x"}}, "label key"),
        ({"labels": {"zone": "has space"}}, "invalid value"),
        ({"labels": {"zone": "-edge"}}, "invalid value"),
    ],
)
def test_register_rejects_invalid_declarations(
    world: World, fields: dict[str, object], words: str
) -> None:
    values: dict[str, object] = {"member_id": "a1", **fields}
    with pytest.raises(InvalidArgument, match=words):
        world.core.register(Registration(**values))  # type: ignore[arg-type]
    assert world.sink.events == []
    assert world.state.members == {}


def test_register_accepts_the_lease_ttl_bounds(world: World) -> None:
    assert world.register("a1", lease_ttl=1.0)[0].lease_ttl == 1.0
    assert world.register("a2", lease_ttl=3600.0)[0].lease_ttl == 3600.0


def test_register_of_a_live_id_is_already_exists(world: World) -> None:
    world.register("a1")
    with pytest.raises(AlreadyExists, match="a1"):
        world.register("a1")
    assert world.types == [EventType.MEMBER_REGISTERED]


def test_register_of_a_live_id_with_a_wrong_credential_is_already_exists(world: World) -> None:
    world.register("a1")
    with pytest.raises(AlreadyExists):
        world.register("a1", credential="not-the-credential")


def test_register_with_the_current_credential_starts_a_new_incarnation(world: World) -> None:
    _, old = world.register("a1")
    member, new = world.register("a1", credential=old)
    assert member.incarnation == 2
    assert new != old
    assert member.status is MemberStatus.ACTIVE
    assert world.types == [EventType.MEMBER_REGISTERED, EventType.MEMBER_REGISTERED]
    assert Notice(NoticeKind.CLOSED, "a1", "replaced by a new incarnation") in world.notices


def test_the_replaced_credential_stops_working(world: World) -> None:
    _, old = world.register("a1")
    _, new = world.register("a1", credential=old)
    with pytest.raises(Unauthenticated):
        world.core.heartbeat("a1", old)
    with pytest.raises(AlreadyExists):
        world.register("a1", credential=old)
    assert world.core.heartbeat("a1", new).incarnation == 2


def test_authenticate_requires_a_credential(world: World) -> None:
    world.register("a1")
    with pytest.raises(Unauthenticated, match="required"):
        world.core.authenticate("a1", "")


def test_authenticate_of_an_unknown_member_is_unauthenticated(world: World) -> None:
    with pytest.raises(Unauthenticated):
        world.core.authenticate("ghost", "whatever")


# -- leases --------------------------------------------------------------------


def test_member_stays_active_until_its_lease_runs_out(world: World) -> None:
    world.register("a1")
    assert world.tick(9.9) == 0
    assert world.status("a1") is MemberStatus.ACTIVE


def test_lease_expiry_makes_the_member_suspect(world: World) -> None:
    world.register("a1")
    assert world.tick(10.0) == 1
    assert world.status("a1") is MemberStatus.SUSPECT
    assert world.types[-1] == EventType.MEMBER_SUSPECT
    assert "lease expired" in world.state.members["a1"].status_reason


def test_suspect_member_fails_after_the_grace_period(world: World) -> None:
    world.register("a1")
    world.tick(10.0)
    world.tick(GRACE - 0.1)
    assert world.status("a1") is MemberStatus.SUSPECT
    world.tick(0.1)
    assert world.status("a1") is MemberStatus.FAILED
    assert world.types[-2:] == [EventType.MEMBER_SUSPECT, EventType.MEMBER_FAILED]
    assert world.notices[-1].kind is NoticeKind.CLOSED
    assert world.tick(3600.0) == 0  # a FAILED member has no deadline left
    assert world.status("a1") is MemberStatus.FAILED


def test_heartbeat_renews_the_lease(world: World) -> None:
    _, cred = world.register("a1")
    for _ in range(10):
        world.tick(9.0)
        world.core.heartbeat("a1", cred)
    assert world.status("a1") is MemberStatus.ACTIVE
    assert world.types == [EventType.MEMBER_REGISTERED]


def test_heartbeat_while_suspect_recovers_the_member(world: World) -> None:
    _, cred = world.register("a1")
    world.tick(10.0)
    member = world.core.heartbeat("a1", cred)
    assert member.status is MemberStatus.ACTIVE
    assert world.types[-1] == EventType.MEMBER_RECOVERED


def test_recovered_member_gets_a_full_lease_not_the_grace_deadline(world: World) -> None:
    _, cred = world.register("a1")
    world.tick(10.0)
    world.tick(2.0)
    world.core.heartbeat("a1", cred)
    world.tick(GRACE)  # past where the grace timer would have ended
    assert world.status("a1") is MemberStatus.ACTIVE
    world.tick(10.0 - GRACE)
    assert world.status("a1") is MemberStatus.SUSPECT


def test_heartbeat_after_failure_is_failed_precondition(world: World) -> None:
    _, cred = world.register("a1")
    world.tick(10.0)
    world.tick(GRACE)
    with pytest.raises(FailedPrecondition, match="register again"):
        world.core.heartbeat("a1", cred)


def test_reregister_after_failure_bumps_the_incarnation(world: World) -> None:
    world.register("a1")
    world.tick(10.0)
    world.tick(GRACE)
    member, _ = world.register("a1")  # no credential needed once FAILED
    assert member.incarnation == 2
    assert member.status is MemberStatus.ACTIVE
    assert world.sink.events[-1].reason == "incarnation 2"


def test_reregistered_member_has_a_fresh_lease(world: World) -> None:
    world.register("a1")
    world.tick(10.0)
    world.tick(GRACE)
    world.register("a1")
    assert world.tick(9.0) == 0
    world.tick(1.0)
    assert world.status("a1") is MemberStatus.SUSPECT


def test_heartbeat_records_the_reported_load_and_time(world: World) -> None:
    _, cred = world.register("a1")
    world.tick(3.0)
    world.core.heartbeat("a1", cred, Load(assigned_packets=2, cpu=0.5, memory=100.0))
    view = world.core.view(world.state.members["a1"])
    assert view.reported_load == Load(assigned_packets=2, cpu=0.5, memory=100.0)
    assert view.last_heartbeat == world.wall.now
    assert view.session_open is False


def test_a_wall_clock_jump_expires_nobody(world: World) -> None:
    world.register("a1")
    world.register("a2", lease_ttl=1.0)
    world.wall.advance(3600.0)
    assert world.core.expire() == 0
    world.wall.advance(-7200.0)
    assert world.core.expire() == 0
    assert world.status("a1") is MemberStatus.ACTIVE
    assert world.status("a2") is MemberStatus.ACTIVE


def test_only_the_monotonic_clock_expires_leases(world: World) -> None:
    world.register("a1")
    world.mono.advance(10.0)  # the wall clock stands still
    assert world.core.expire() == 1
    assert world.status("a1") is MemberStatus.SUSPECT


def test_rearm_all_gives_live_members_a_full_ttl(world: World) -> None:
    world.register("a1")
    world.mono.advance(9.0)
    world.core.rearm_all()
    world.tick(9.9)
    assert world.status("a1") is MemberStatus.ACTIVE
    world.tick(0.1)
    assert world.status("a1") is MemberStatus.SUSPECT


def test_rearm_all_gives_suspect_members_a_full_ttl_or_grace(world: World) -> None:
    world.register("a1")  # TTL 10 s
    world.tick(10.0)
    world.mono.advance(GRACE - 1.0)
    world.core.rearm_all()
    wait = max(10.0, GRACE)  # it could not reach a daemon that was down
    world.tick(wait - 0.1)
    assert world.status("a1") is MemberStatus.SUSPECT
    world.tick(0.1)
    assert world.status("a1") is MemberStatus.FAILED


def test_rearm_all_leaves_terminal_members_alone(world: World) -> None:
    world.register("a1")
    world.core.retire("a1", "done")
    world.core.rearm_all()
    assert world.tick(3600.0) == 0
    assert world.status("a1") is MemberStatus.RETIRED


def test_next_deadline_is_the_earliest_lease(world: World) -> None:
    world.register("a1", lease_ttl=30.0)
    world.register("a2", lease_ttl=5.0)
    assert world.core.next_deadline() == world.mono.now + 5.0


# -- sessions ------------------------------------------------------------------


def test_closing_a_session_without_goodbye_makes_the_member_suspect_at_once(
    world: World,
) -> None:
    _, cred = world.register("a1")
    token = object()
    world.core.open_session("a1", cred, token)
    world.core.close_session("a1", token, graceful=False)
    assert world.status("a1") is MemberStatus.SUSPECT
    assert world.sink.events[-1].type == EventType.MEMBER_SUSPECT
    assert world.sink.events[-1].reason == "session stream lost"


def test_abrupt_close_then_silence_fails_after_the_grace_period(world: World) -> None:
    _, cred = world.register("a1")
    token = object()
    world.core.open_session("a1", cred, token)
    world.core.close_session("a1", token, graceful=False)
    world.tick(GRACE)
    assert world.status("a1") is MemberStatus.FAILED


def test_graceful_session_close_changes_nothing(world: World) -> None:
    _, cred = world.register("a1")
    token = object()
    world.core.open_session("a1", cred, token)
    world.core.close_session("a1", token, graceful=True)
    assert world.status("a1") is MemberStatus.ACTIVE
    assert world.types == [EventType.MEMBER_REGISTERED]
    assert world.core.view(world.state.members["a1"]).session_open is False


def test_closing_a_superseded_session_does_nothing(world: World) -> None:
    _, cred = world.register("a1")
    first, second = object(), object()
    world.core.open_session("a1", cred, first)
    world.core.open_session("a1", cred, second)
    world.core.close_session("a1", first, graceful=False)
    assert world.status("a1") is MemberStatus.ACTIVE
    assert world.types == [EventType.MEMBER_REGISTERED]
    assert world.core.view(world.state.members["a1"]).session_open is True


def test_messages_on_a_superseded_session_are_refused(world: World) -> None:
    _, cred = world.register("a1")
    first, second = object(), object()
    world.core.open_session("a1", cred, first)
    world.core.open_session("a1", cred, second)
    with pytest.raises(FailedPrecondition, match="superseded"):
        world.core.session_message("a1", first, None)


def test_session_messages_renew_the_lease(world: World) -> None:
    _, cred = world.register("a1")
    token = object()
    world.core.open_session("a1", cred, token)
    for _ in range(5):
        world.tick(9.0)
        world.core.session_message("a1", token, None)
    assert world.status("a1") is MemberStatus.ACTIVE


def test_a_new_incarnation_supersedes_the_old_session(world: World) -> None:
    _, cred = world.register("a1")
    token = object()
    world.core.open_session("a1", cred, token)
    world.register("a1", credential=cred)
    world.core.close_session("a1", token, graceful=False)
    assert world.status("a1") is MemberStatus.ACTIVE


# -- drain, retire, update -----------------------------------------------------


def test_drain_with_no_work_retires_the_member(world: World) -> None:
    world.register("a1")
    member = world.core.drain("a1", "maintenance")
    assert member.status is MemberStatus.RETIRED
    assert world.types[-2:] == [EventType.MEMBER_DRAINING, EventType.MEMBER_RETIRED]
    assert world.sink.events[-2].reason == "maintenance"
    assert Notice(NoticeKind.DRAIN_REQUESTED, "a1", "maintenance") in world.notices


def test_drain_with_work_left_keeps_the_member_draining(world: World) -> None:
    world.register("a1")
    _carrying(world.state, "a1", 3)
    member = world.core.drain("a1", "")
    assert member.status is MemberStatus.DRAINING
    assert member.status_reason == "drain requested"
    assert member.drain_deadline == world.wall.now + 60.0
    assert world.types[-1] == EventType.MEMBER_DRAINING
    assert world.core.drain("a1", "again") == member  # already draining: no-op


def test_draining_member_that_goes_quiet_fails(world: World) -> None:
    world.register("a1")
    _carrying(world.state, "a1", 1)
    world.core.drain("a1", "maintenance")
    world.tick(10.0)
    assert world.status("a1") is MemberStatus.FAILED


@pytest.mark.parametrize("deadline", [0.0, -1.0, 86401.0])
def test_drain_rejects_an_out_of_range_deadline(world: World, deadline: float) -> None:
    world.register("a1")
    with pytest.raises(InvalidArgument, match="drain deadline"):
        world.core.drain("a1", "x", deadline)


def test_retire_makes_the_member_retired(world: World) -> None:
    world.register("a1")
    member = world.core.retire("a1", "decommissioned")
    assert member.status is MemberStatus.RETIRED
    assert member.status_reason == "decommissioned"
    assert world.types[-1] == EventType.MEMBER_RETIRED
    assert Notice(NoticeKind.CLOSED, "a1", "member retired") in world.notices


def test_retired_credential_is_unauthenticated(world: World) -> None:
    _, cred = world.register("a1")
    world.core.retire("a1", "")
    with pytest.raises(Unauthenticated, match="revoked"):
        world.core.heartbeat("a1", cred)


def test_retire_again_is_a_no_op(world: World) -> None:
    world.register("a1")
    first = world.core.retire("a1", "")
    count = len(world.sink.events)
    assert world.core.retire("a1", "again") == first
    assert len(world.sink.events) == count


def test_retired_member_never_expires(world: World) -> None:
    world.register("a1")
    world.core.retire("a1", "")
    world.tick(100.0)
    assert world.status("a1") is MemberStatus.RETIRED


def test_retire_of_a_failed_member_is_failed_precondition(world: World) -> None:
    world.register("a1")
    world.tick(10.0)
    world.tick(GRACE)
    with pytest.raises(FailedPrecondition):
        world.core.retire("a1", "")


def test_retire_of_an_unknown_member_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        world.core.retire("ghost", "")


def test_register_after_retirement_needs_no_credential(world: World) -> None:
    world.register("a1")
    world.core.retire("a1", "")
    member, _ = world.register("a1")
    assert member.incarnation == 2


@pytest.mark.parametrize("fields", [frozenset(), frozenset({"status"})])
def test_update_needs_a_known_non_empty_mask(world: World, fields: frozenset[str]) -> None:
    world.register("a1")
    with pytest.raises(InvalidArgument, match="update_mask"):
        world.core.update("a1", MemberUpdate(fields))
    assert world.types == [EventType.MEMBER_REGISTERED]


def test_update_changes_only_the_masked_fields(world: World) -> None:
    before, _ = world.register("a1", trust_score=0.3, labels={"zone": "a"})
    after = world.core.update(
        "a1", MemberUpdate(frozenset({"labels"}), labels={"zone": "b"}, trust_score=0.99)
    )
    assert dict(after.labels) == {"zone": "b"}
    assert after.trust_score == before.trust_score
    assert world.types[-1] == EventType.MEMBER_UPDATED


def test_update_validates_the_new_values(world: World) -> None:
    world.register("a1")
    with pytest.raises(InvalidArgument):
        world.core.update("a1", MemberUpdate(frozenset({"trust_score"}), trust_score=2.0))


def test_update_with_new_capabilities_records_a_discovery(world: World) -> None:
    world.register("a1", capabilities=("embed",))
    member = world.core.update(
        "a1", MemberUpdate(frozenset({"capabilities"}), capabilities=("embed", "rank@3"))
    )
    assert member.capabilities == ("embed", "rank@3")
    assert world.types[-2:] == [EventType.MEMBER_UPDATED, EventType.CAPABILITY_DISCOVERED]
    assert world.sink.events[-1].data == {"capabilities": ["rank@3"]}


def test_update_that_drops_capabilities_records_no_discovery(world: World) -> None:
    world.register("a1", capabilities=("embed", "rank"))
    world.core.update("a1", MemberUpdate(frozenset({"capabilities"}), capabilities=("embed",)))
    assert world.types[-1] == EventType.MEMBER_UPDATED


def test_update_of_a_retired_member_is_failed_precondition(world: World) -> None:
    world.register("a1")
    world.core.retire("a1", "")
    with pytest.raises(FailedPrecondition):
        world.core.update("a1", MemberUpdate(frozenset({"labels"})))


# -- reads ---------------------------------------------------------------------


def _populate(world: World) -> None:
    world.register("a1", capabilities=("gpu@2", "embed"), labels={"zone": "a"})
    world.register("a2", capabilities=("gpu@1",), labels={"zone": "b"})
    world.register("a3", capabilities=("embed",), labels={"zone": "a", "spot": "yes"})
    world.register("a4", labels={"zone": "b"})
    world.register("a5", capabilities=("gpu@2",), labels={"zone": "c"}, lease_ttl=60.0)
    world.tick(10.0)  # a1..a4 become SUSPECT; a5 stays ACTIVE
    world.core.retire("a4", "")


def _ids(members: list[Member]) -> list[str]:
    return [m.member_id for m in members]


def test_list_members_without_filters_lists_everyone_by_id(world: World) -> None:
    _populate(world)
    page, token, total = list_members(world.state)
    assert _ids(page) == ["a1", "a2", "a3", "a4", "a5"]
    assert token == ""
    assert total == 5


def test_list_members_filters_by_status(world: World) -> None:
    _populate(world)
    page, _, total = list_members(world.state,
        statuses=(MemberStatus.ACTIVE, MemberStatus.RETIRED)
    )
    assert _ids(page) == ["a4", "a5"]
    assert total == 2


def test_list_members_filters_by_capability_name(world: World) -> None:
    _populate(world)
    page, _, total = list_members(world.state, capability="gpu")
    assert _ids(page) == ["a1", "a2", "a5"]
    assert total == 3


def test_list_members_filters_by_capability_name_and_version(world: World) -> None:
    _populate(world)
    page, _, _ = list_members(world.state, capability="gpu@2")
    assert _ids(page) == ["a1", "a5"]


def test_list_members_filters_by_selector(world: World) -> None:
    _populate(world)
    page, _, total = list_members(world.state, selector=parse_selector("zone in (a,c),!spot"))
    assert _ids(page) == ["a1", "a5"]
    assert total == 2


def test_list_members_rejects_a_malformed_capability(world: World) -> None:
    with pytest.raises(InvalidArgument):
        list_members(world.state, capability="GPU!")


def test_list_members_paginates_with_after_id(world: World) -> None:
    _populate(world)
    page, token, total = list_members(world.state, limit=2)
    assert (_ids(page), token, total) == (["a1", "a2"], "a2", 5)
    page, token, total = list_members(world.state, limit=2, after_id=token)
    assert (_ids(page), token, total) == (["a3", "a4"], "a4", 5)
    page, token, total = list_members(world.state, limit=2, after_id=token)
    assert (_ids(page), token, total) == (["a5"], "", 5)


def test_list_members_last_page_exactly_full_has_no_next_token(world: World) -> None:
    _populate(world)
    page, token, _ = list_members(world.state, limit=5)
    assert len(page) == 5
    assert token == ""


def test_list_members_paginates_a_filtered_listing(world: World) -> None:
    _populate(world)
    page, token, total = list_members(world.state, capability="gpu", limit=1, after_id="a1")
    assert (_ids(page), token, total) == (["a2"], "a2", 3)


def test_capability_directory_lists_active_providers_only(world: World) -> None:
    _populate(world)
    directory = capability_directory(world.state)
    assert {name: [(m.member_id, v) for m, v in rows] for name, rows in directory.items()} == {
        "gpu": [("a5", "2")],
    }


def test_capability_directory_can_include_inactive_members(world: World) -> None:
    _populate(world)
    directory = capability_directory(world.state, include_inactive=True)
    assert list(directory) == ["embed", "gpu"]
    assert [(m.member_id, v) for m, v in directory["embed"]] == [("a1", ""), ("a3", "")]
    assert [(m.member_id, v) for m, v in directory["gpu"]] == [
        ("a1", "2"), ("a2", "1"), ("a5", "2"),
    ]


def test_get_member_of_an_unknown_id_is_not_found(world: World) -> None:
    with pytest.raises(NotFound):
        world.core.get_member("ghost")


def test_view_of_a_terminal_member_hides_runtime_facts(world: World) -> None:
    _, cred = world.register("a1")
    world.core.open_session("a1", cred, object())
    world.core.heartbeat("a1", cred, Load(assigned_packets=1))
    retired = world.core.retire("a1", "")
    view = world.core.view(retired)
    assert view.reported_load is None
    assert view.session_open is False


# -- event sourcing --------------------------------------------------------------


def test_every_event_names_its_member_and_carries_its_record(world: World) -> None:
    _populate(world)
    for event in world.sink.events:
        assert len(event.member_ids) == 1
        if event.type != EventType.CAPABILITY_DISCOVERED:
            assert event.data["member"]["member_id"] == event.member_ids[0]


def test_replaying_the_event_log_rebuilds_the_live_state(world: World) -> None:
    _, cred = world.register("a1", capabilities=("embed",), labels={"zone": "a"})
    world.register("a2", lease_ttl=2.0)
    world.register("a3")
    world.core.update("a1", MemberUpdate(frozenset({"capabilities"}), capabilities=("x@1",)))
    world.tick(2.0)  # a2 SUSPECT
    world.tick(GRACE)  # a2 FAILED
    world.register("a2")  # incarnation 2
    world.core.heartbeat("a1", cred)
    world.core.drain("a3", "bye")  # no work: RETIRED
    world.register("a3")  # incarnation 2
    world.core.open_session("a1", cred, token := object())
    world.core.close_session("a1", token, graceful=False)
    world.core.heartbeat("a1", cred)
    replayed = _replayed(world.sink.events)
    assert replayed.members == world.state.members
    assert replayed.member_ids == world.state.member_ids
    assert replayed.revision == world.state.revision == len(world.sink.events)


def test_snapshot_restore_then_tail_replay_rebuilds_the_live_state(world: World) -> None:
    _populate(world)
    cut = len(world.sink.events)
    documents = _replayed(world.sink.events).snapshot()
    world.register("a6")
    world.core.retire("a5", "")
    restored = ClusterState()
    restored.restore(documents, cut)
    for event in world.sink.events[cut:]:
        restored.apply(event)
    assert restored.members == world.state.members
    assert restored.member_ids == world.state.member_ids


def _carrying(state: ClusterState, member_id: str, packets: int) -> None:
    """Make ``member_id`` carry ``packets`` packets (no packets layer runs in these tests)."""
    state.loads[member_id] = OwnerLoad(packets={f"p{i}" for i in range(packets)})


_IDS = st.sampled_from(["m1", "m2", "m3"])
_ACTIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["register", "reregister", "heartbeat", "tick", "open", "close", "drain", "retire",
             "update", "rearm"]
        ),
        _IDS,
        st.integers(0, 12),
    ),
    max_size=40,
)


def test_any_sequence_of_operations_replays_to_the_live_state() -> None:
    # The walks swallow the domain errors their random actions provoke; the statuses they
    # reach are counted so that a walk stuck on refusals cannot pass unnoticed.
    reached: set[MemberStatus] = set()
    _walk(reached)
    assert reached == set(MemberStatus)


@settings(max_examples=150, deadline=None)
@given(actions=_ACTIONS)
# Random walks seldom let a lease lapse twice without a heartbeat: the two ways to FAILED.
@example(actions=[("register", "m1", 0), ("tick", "m1", 6), ("tick", "m1", 6)])
@example(actions=[("register", "m1", 0), ("drain", "m1", 1), ("tick", "m1", 6)])
def _walk(reached: set[MemberStatus], actions: list[tuple[str, str, int]]) -> None:
    state, sink = ClusterState(), ListSink()
    mono, wall = Clock(0.0), Clock(1_700_000_000.0)
    core = Registry(
        state, Recorder(sink, state.apply, wall_clock=wall), suspect_grace=GRACE,
        monotonic=mono, wall_clock=wall,
    )
    credentials: dict[str, str] = {}
    tokens: dict[str, object] = {}
    for action, member_id, n in actions:
        try:
            if action == "register":
                _, credentials[member_id] = core.register(
                    Registration(member_id, capabilities=(f"c{n % 3}@{n}",), lease_ttl=5.0)
                )
            elif action == "reregister":
                _, credentials[member_id] = core.register(
                    Registration(member_id, credential=credentials.get(member_id, ""))
                )
            elif action == "heartbeat":
                core.heartbeat(member_id, credentials.get(member_id, ""))
            elif action == "tick":
                mono.advance(n)
                wall.advance(n)
                core.expire()
            elif action == "open":
                tokens[member_id] = object()
                core.open_session(member_id, credentials.get(member_id, ""), tokens[member_id])
            elif action == "close" and member_id in tokens:
                core.close_session(member_id, tokens[member_id], graceful=n % 2 == 0)
            elif action == "drain":
                _carrying(state, member_id, n % 2)
                core.drain(member_id, "d")
            elif action == "retire":
                core.retire(member_id, "r")
            elif action == "update":
                core.update(
                    member_id,
                    MemberUpdate(frozenset({"capabilities", "trust_score"}),
                                 capabilities=(f"c{n}",), trust_score=n / 12),
                )
            elif action == "rearm":
                core.rearm_all()
        except (AlreadyExists, FailedPrecondition, Unauthenticated, NotFound):
            pass
        reached.update(m.status for m in state.members.values())
    replayed = _replayed(sink.events)
    assert replayed.members == state.members
    assert replayed.member_ids == state.member_ids
    assert [e.sequence for e in sink.events] == list(range(1, len(sink.events) + 1))
