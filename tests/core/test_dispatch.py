"""The packet lifecycle as the Cluster runs it over a real ClusterState, Recorder, Registry
and Scheduler, driven by fake clocks and a fake signer: submit and placement (epoch 1, a notice
carrying the decision event's sequence, one packet_waiting event however often placement is
retried); the member side (ack, checkpoint, complete, fail with retries up to max_attempts);
fencing (a stale epoch, a non-owner, a FAILED member's late write and a RETIRED member's
credential are refused, recorded, and change nothing); handoffs on owner failure, retirement
(the seed flow, exactly), drain (with and without a deadline), overload, manual request and ring
rebalancing after a join; cancel; explain; placement after a restart; and, over long random
runs, exact load accounting and the event-sourcing invariant."""

from __future__ import annotations

import contextlib
import math
import random
from typing import Any

import pytest

from phoenixd import kernel
from phoenixd.core.dispatch import PacketNotice, PacketNoticeKind, PacketSpec
from phoenixd.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PhoenixError,
    Unauthenticated,
)
from phoenixd.core.events import Event, EventType
from phoenixd.core.members import MemberStatus
from phoenixd.core.packets import Packet, PacketStatus, Policy, Strategy, state_hash
from phoenixd.core.registry import Load, MemberUpdate, Registration
from phoenixd.core.tokens import HandoffToken, signed_bytes
from tests.core.packet_world import GRACE, LEASE, REBALANCE_INTERVAL, World, make_world, replayed

E = EventType


@pytest.fixture
def w() -> World:
    return make_world()


def _token(packet: Packet) -> HandoffToken:
    assert packet.handoff_token is not None, f"{packet.packet_id} has no handoff token"
    return packet.handoff_token


def _types(events: list[Event]) -> list[str]:
    return [e.type for e in events]


def _only(events: list[Event], type_: EventType) -> Event:
    matching = [e for e in events if e.type == type_]
    assert len(matching) == 1, _types(events)
    return matching[0]


# -- submit and placement ----------------------------------------------------------------------


def test_submit_assigns_at_epoch_one_and_notifies_the_owner(w: World) -> None:
    w.join("m1", "ocr")
    start = w.head
    packet = w.submit("fp-1", "ocr", state={"progress": 0}, step="start")
    assert packet == w.packet("fp-1")
    assert packet.status is PacketStatus.ASSIGNED
    assert (packet.owner, packet.epoch, packet.attempts) == ("m1", 1, 0)
    events = w.since(start)
    assert _types(events) == [E.PACKET_CREATED, E.ASSIGNMENT_DECISION]
    decision = events[1]
    assert decision.data["decision"]["winner"] == "m1"
    assert decision.data["decision"]["trigger"] == "submitted"
    assert decision.packet_ids == ("fp-1",)
    assert "m1" in decision.member_ids
    assert w.notices == [PacketNotice(
        PacketNoticeKind.ASSIGNMENT, "m1", packet, 1, "submitted", decision.sequence)]
    assert w.premature == []


def test_submit_signs_a_first_assignment_token(w: World) -> None:
    w.join("m1")
    packet = w.submit("fp-1", state={"progress": 0})
    token = _token(packet)
    assert token.epoch == 1
    assert token.from_member == ""
    assert token.to_member == "m1"
    assert token.state_hash == packet.checkpoint.state_hash == state_hash({"progress": 0})
    assert token.key_id == w.signer.key_id
    assert w.signer.signed[-1] == signed_bytes(
        "fp-1", 1, "", "m1", token.state_hash, token.issued_at)
    assert token.signature == w.signer.sign(w.signer.signed[-1]).hex()


def test_submit_fills_in_the_defaults(w: World) -> None:
    packet = w.submit("fp-1")
    assert packet.lineage_id == "lin-fp-1"
    assert packet.max_attempts == 3
    assert packet.strategy is Strategy.TRUST
    assert packet.checkpoint.state_hash == state_hash({})
    assert packet.create_time == w.wall.now


@pytest.mark.parametrize(
    "fields",
    [
        {"packet_id": "Bad_Id"},
        {"packet_id": "fp-1", "state": {"x": math.nan}},
        {"packet_id": "fp-1", "demand_cpu": -1.0},
        {"packet_id": "fp-1", "max_attempts": 101},
        {"packet_id": "fp-1", "required_capabilities": ("Bad Cap",)},
        {"packet_id": "fp-1", "policy": Policy(minimum_trust_score=2.0)},
        {"packet_id": "fp-1", "routing_key": "k" * 257},  # any text, but bounded
    ],
)
def test_submit_refuses_invalid_packets_and_records_nothing(
    w: World, fields: dict[str, Any]
) -> None:
    w.join("m1")
    start = w.head
    with pytest.raises(InvalidArgument):
        w.cluster.submit(PacketSpec(**fields))
    assert w.head == start
    assert w.state.packets == {}


def test_submit_of_an_existing_id_is_already_exists(w: World) -> None:
    w.submit("fp-1")
    start = w.head
    with pytest.raises(AlreadyExists):
        w.submit("fp-1")
    assert w.head == start


def test_get_of_an_unknown_packet_is_not_found(w: World) -> None:
    with pytest.raises(NotFound):
        w.cluster.get_packet("ghost")


def test_no_eligible_member_leaves_the_packet_pending_with_one_waiting_event(w: World) -> None:
    w.join("m1", "embed")
    start = w.head
    packet = w.submit("fp-1", "ocr")
    assert packet.status is PacketStatus.PENDING
    assert packet.owner == "" and packet.epoch == 0
    events = w.since(start)
    assert _types(events) == [E.PACKET_CREATED, E.PACKET_WAITING]
    assert events[1].reason.startswith("no ACTIVE member offers ocr: the packet waits")
    assert "no eligible member among 1 considered" in events[1].reason
    # placement is retried on every chance; the wait is recorded once
    for _ in range(3):
        assert w.cluster.schedule_pending("poll") == 0
    w.join("m2", "embed")
    w.tick(1.0, keep_alive=("m1", "m2"))
    w.cluster.update_member("m2", MemberUpdate(frozenset({"trust_score"}), trust_score=0.9))
    assert len(w.of_type(E.PACKET_WAITING, "fp-1")) == 1
    assert w.packet("fp-1").status is PacketStatus.PENDING
    assert w.notices == []


def test_a_waiting_packet_is_placed_when_an_eligible_member_registers(w: World) -> None:
    w.join("m1", "embed")
    w.submit("fp-1", "ocr")
    start = w.head
    w.join("m3", "ocr")
    packet = w.packet("fp-1")
    assert (packet.status, packet.owner, packet.epoch) == (PacketStatus.ASSIGNED, "m3", 1)
    decision = _only(w.since(start), E.ASSIGNMENT_DECISION)
    assert decision.data["decision"]["trigger"] == "member_joined"
    assert [n.member_id for n in w.notices] == ["m3"]
    assert "fp-1" not in w.state.pending


def test_a_waiting_packet_is_placed_when_a_member_gains_the_capability(w: World) -> None:
    w.join("m1", "embed")
    w.submit("fp-1", "ocr")
    w.cluster.update_member("m1", MemberUpdate(frozenset({"capabilities"}), capabilities=("ocr",)))
    assert w.packet("fp-1").owner == "m1"
    assert w.of_type(E.ASSIGNMENT_DECISION)[-1].data["decision"]["trigger"] == "member_updated"


# -- the member side ---------------------------------------------------------------------------


def test_ack_makes_the_packet_running(w: World) -> None:
    w.join("m1")
    w.submit("fp-1")
    start = w.head
    packet = w.ack("m1", "fp-1")
    assert packet.status is PacketStatus.RUNNING
    assert packet.epoch == 1
    event = _only(w.since(start), E.PACKET_ACKED)
    assert event.actor == "member:m1"
    assert event.data["packet"]["status"] == "RUNNING"


def test_ack_of_a_running_packet_changes_nothing(w: World) -> None:
    w.join("m1")
    w.submit("fp-1")
    first = w.ack("m1", "fp-1")
    start = w.head
    assert w.ack("m1", "fp-1") == first
    assert w.head == start


def test_checkpoint_keeps_the_state_its_hash_epoch_and_saver(w: World) -> None:
    w.join("m1")
    w.submit("fp-1")
    w.ack("m1", "fp-1")
    w.wall.advance(3.0)
    start = w.head
    packet = w.checkpoint("m1", "fp-1", {"progress": 40, "pages": [1, 2]}, "half-way")
    checkpoint = packet.checkpoint
    assert checkpoint.state == {"progress": 40, "pages": [1, 2]}
    assert checkpoint.state_hash == state_hash({"pages": [1, 2], "progress": 40})
    assert (checkpoint.epoch, checkpoint.saved_by, checkpoint.step) == (1, "m1", "half-way")
    assert checkpoint.save_time == w.wall.now
    assert packet.status is PacketStatus.RUNNING
    event = _only(w.since(start), E.CHECKPOINT_SAVED)
    assert event.data["packet"]["checkpoint"]["state_hash"] == checkpoint.state_hash


def test_checkpoint_too_big_is_refused_and_keeps_the_old_one(w: World) -> None:
    w.join("m1")
    w.submit("fp-1")
    before = w.checkpoint("m1", "fp-1", {"progress": 1})
    with pytest.raises(InvalidArgument):
        w.checkpoint("m1", "fp-1", {"blob": "x" * (1024 * 1024 + 1)})
    assert w.packet("fp-1") == before


def test_complete_releases_the_owners_load(w: World) -> None:
    w.join("m1", cpu=2.0, memory=1024.0)
    w.submit("fp-1", demand_cpu=0.5, demand_memory=64.0)
    w.ack("m1", "fp-1")
    assert w.cluster.registry.load_of("m1") == Load(1, 0.5, 64.0)
    start = w.head
    packet = w.complete("m1", "fp-1", {"pages": 3})
    assert packet.status is PacketStatus.COMPLETED
    assert packet.result == {"pages": 3}
    assert _types(w.since(start)) == [E.PACKET_COMPLETED]
    assert w.cluster.registry.load_of("m1") == Load(0, 0.0, 0.0)
    assert w.cluster.assignments_of("m1") == []
    assert w.cluster.view(w.member("m1")).load == Load(0, 0.0, 0.0)


def test_assignments_of_lists_oldest_assignment_first(w: World) -> None:
    w.join("m1")
    for packet_id in ("fp-c", "fp-a", "fp-b"):
        w.submit(packet_id)
        w.wall.advance(1.0)
    assert [p.packet_id for p in w.cluster.assignments_of("m1")] == ["fp-c", "fp-a", "fp-b"]


# -- fencing -----------------------------------------------------------------------------------


def _write(w: World, call: str, member_id: str, epoch: int) -> Packet:
    if call == "ack":
        return w.ack(member_id, "fp-1", epoch)
    if call == "checkpoint":
        return w.checkpoint(member_id, "fp-1", {"evil": True}, "overwrite", epoch=epoch)
    if call == "complete":
        return w.complete(member_id, "fp-1", {"evil": True}, epoch=epoch)
    return w.fail(member_id, "fp-1", "evil", permanent=True, epoch=epoch)


CALLS = {"ack": "AckPacket", "checkpoint": "SaveCheckpoint", "complete": "CompletePacket",
         "fail": "FailPacket"}


def _moved_once(w: World) -> None:
    """fp-1 went m1 (epoch 1) -> m2 (epoch 2), with a checkpoint; m3 stands by."""
    w.join("m1", trust_score=0.9)
    w.join("m2", trust_score=0.5)
    w.join("m3", trust_score=0.1)
    w.submit("fp-1")
    w.checkpoint("m1", "fp-1", {"progress": 10})
    w.cluster.handoff("fp-1", "m2", "move it")
    w.ack("m2", "fp-1")
    assert (w.packet("fp-1").owner, w.packet("fp-1").epoch) == ("m2", 2)


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize(
    ("member_id", "epoch", "error"),
    [
        ("m1", 1, FailedPrecondition),  # the old owner, at its old epoch
        ("m2", 1, FailedPrecondition),  # the owner, at a stale epoch
        ("m2", 3, FailedPrecondition),  # the owner, at an epoch that does not exist yet
        ("m3", 2, PermissionDenied),  # another member, at the current epoch
    ],
)
def test_a_write_not_from_the_owner_at_the_current_epoch_is_refused_and_recorded(
    w: World, call: str, member_id: str, epoch: int, error: type[Exception]
) -> None:
    _moved_once(w)
    before = w.packet("fp-1")
    loads = {m: w.state.load_of(m) for m in ("m1", "m2", "m3")}
    start = w.head
    notices = len(w.notices)
    with pytest.raises(error):
        _write(w, call, member_id, epoch)
    event = _only(w.since(start), E.STALE_OWNER_REJECTED)
    assert w.head == event.sequence  # nothing else was recorded
    assert event.actor == f"member:{member_id}"
    assert event.member_ids == (member_id,)
    assert event.packet_ids == ("fp-1",)
    assert event.data == {"call": CALLS[call], "member_id": member_id, "epoch": epoch,
                          "current_epoch": 2, "owner": "m2"}
    assert w.packet("fp-1") == before
    assert {m: w.state.load_of(m) for m in loads} == loads
    assert len(w.notices) == notices


def test_a_failed_members_late_write_is_fenced_and_recorded(w: World) -> None:
    w.join("m1", trust_score=0.9)
    w.join("m2", trust_score=0.5)
    w.submit("fp-1")
    w.ack("m1", "fp-1")
    w.tick(LEASE + 1, keep_alive=("m2",))
    w.tick(GRACE + 1, keep_alive=("m2",))
    assert w.member("m1").status is MemberStatus.FAILED
    assert (w.packet("fp-1").owner, w.packet("fp-1").epoch) == ("m2", 2)
    before = w.packet("fp-1")
    start = w.head
    with pytest.raises(FailedPrecondition, match="stale epoch 1"):
        w.checkpoint("m1", "fp-1", {"late": True}, epoch=1)
    with pytest.raises(FailedPrecondition, match="stale epoch 1"):
        w.complete("m1", "fp-1", {"late": True}, epoch=1)
    assert _types(w.since(start)) == [E.STALE_OWNER_REJECTED, E.STALE_OWNER_REJECTED]
    assert w.packet("fp-1") == before


def test_a_retired_members_credential_is_refused(w: World) -> None:
    w.join("m1")
    w.submit("fp-1")
    w.cluster.retire("m1", "bye")
    start = w.head
    with pytest.raises(Unauthenticated, match="RETIRED"):
        w.ack("m1", "fp-1", 1)
    with pytest.raises(Unauthenticated):
        w.checkpoint("m1", "fp-1", {"x": 1}, epoch=1)
    assert w.head == start


def test_a_wrong_credential_is_refused(w: World) -> None:
    w.join("m1")
    w.submit("fp-1")
    with pytest.raises(Unauthenticated):
        w.cluster.ack("m1", "not-the-credential", "fp-1", 1)


def test_a_write_to_a_finished_packet_is_refused(w: World) -> None:
    w.join("m1")
    w.submit("fp-1")
    w.complete("m1", "fp-1")
    with pytest.raises(FailedPrecondition, match="COMPLETED"):
        w.checkpoint("m1", "fp-1", {"after": True}, epoch=1)


# -- failure of the owner ----------------------------------------------------------------------


def _owner_fails(w: World) -> tuple[int, Packet]:
    """fp-1 runs on m1 with a checkpoint; m1 goes quiet; m2 heartbeats. Returns (start, before)."""
    w.join("m1", "ocr", trust_score=0.9)
    w.join("m2", "ocr", trust_score=0.5)
    w.submit("fp-1", "ocr")
    w.ack("m1", "fp-1")
    before = w.checkpoint("m1", "fp-1", {"progress": 40}, "half-way")
    w.notices.clear()
    start = w.head
    w.tick(LEASE + 1, keep_alive=("m2",))
    return start, before


def test_a_suspect_owner_keeps_its_packet(w: World) -> None:
    start, _ = _owner_fails(w)
    assert _types(w.since(start)) == [E.MEMBER_SUSPECT]
    assert w.packet("fp-1").owner == "m1"
    w.heartbeat("m1")  # back in time
    w.tick(GRACE + 1, keep_alive=("m1", "m2"))
    assert w.member("m1").status is MemberStatus.ACTIVE
    assert (w.packet("fp-1").owner, w.packet("fp-1").epoch) == ("m1", 1)
    assert w.notices == []


def test_lease_expiry_hands_the_packet_off_with_its_checkpoint(w: World) -> None:
    start, before = _owner_fails(w)
    w.tick(GRACE + 1, keep_alive=("m2",))
    events = w.since(start)
    assert _types(events) == [E.MEMBER_SUSPECT, E.MEMBER_FAILED, E.HANDOFF_STARTED,
                              E.ASSIGNMENT_DECISION]
    started, decided = events[2], events[3]
    assert started.data["trigger"] == "owner_failed"
    assert started.data["from_member"] == "m1"
    assert started.data["packet"]["status"] == "PENDING"
    assert decided.data["decision"]["trigger"] == "owner_failed"
    assert decided.data["decision"]["winner"] == "m2"

    packet = w.packet("fp-1")
    assert (packet.status, packet.owner, packet.epoch) == (PacketStatus.ASSIGNED, "m2", 2)
    assert packet.previous_owners == ("m1",)
    assert packet.checkpoint == before.checkpoint
    token = _token(packet)
    assert (token.from_member, token.to_member, token.epoch) == ("m1", "m2", 2)
    assert token.state_hash == before.checkpoint.state_hash == state_hash({"progress": 40})

    assert [(n.kind, n.member_id, n.epoch, n.sequence) for n in w.notices] == [
        (PacketNoticeKind.REVOCATION, "m1", 1, started.sequence),
        (PacketNoticeKind.ASSIGNMENT, "m2", 2, decided.sequence),
    ]
    assert w.premature == []
    assert w.state.load_of("m1").packets == set()
    assert w.owned_by("m2") == {"fp-1"}


def test_the_new_owners_ack_completes_the_handoff_with_its_latency(w: World) -> None:
    _owner_fails(w)
    w.tick(GRACE + 1, keep_alive=("m2",))
    started = w.packet("fp-1").handoff_started
    assert started == w.of_type(E.HANDOFF_STARTED, "fp-1")[-1].time
    w.wall.advance(0.25)
    start = w.head
    packet = w.ack("m2", "fp-1")
    event = _only(w.since(start), E.HANDOFF_COMPLETED)
    assert event.data["latency_ms"] == round((w.wall.now - started) * 1000, 3)
    assert event.data["latency_ms"] >= 250.0
    assert event.data["from_member"] == "m1"
    assert event.actor == "member:m2"
    assert packet.status is PacketStatus.RUNNING
    assert packet.handoff_started == 0.0
    assert _types(w.since(start)) == [E.HANDOFF_COMPLETED, E.PACKET_ACKED]


def test_a_new_owner_completing_without_an_ack_still_completes_the_handoff(w: World) -> None:
    _owner_fails(w)
    w.tick(GRACE + 1, keep_alive=("m2",))
    start = w.head
    w.complete("m2", "fp-1")
    assert _types(w.since(start))[:2] == [E.HANDOFF_COMPLETED, E.PACKET_COMPLETED]


def test_a_failed_owner_with_nobody_to_take_over_leaves_the_packet_waiting(w: World) -> None:
    w.join("m1", "ocr")
    w.join("m2", "embed")
    w.submit("fp-1", "ocr")
    w.tick(LEASE + 1, keep_alive=("m2",))
    w.tick(GRACE + 1, keep_alive=("m2",))
    packet = w.packet("fp-1")
    assert (packet.status, packet.owner, packet.epoch) == (PacketStatus.PENDING, "", 1)
    assert len(w.of_type(E.PACKET_WAITING, "fp-1")) == 1
    w.join("m3", "ocr")
    packet = w.packet("fp-1")
    assert (packet.owner, packet.epoch) == ("m3", 2)
    assert _token(packet).from_member == "m1"


# -- retirement and drain ----------------------------------------------------------------------


def test_retirement_follows_the_seed_flow_exactly(w: World) -> None:
    w.join("m1", trust_score=0.9, cpu=2.0)
    w.submit("fp-1", demand_cpu=0.2, demand_memory=16.0)
    w.submit("fp-2", demand_cpu=0.2, demand_memory=32.0, handoff_allowed=False)
    w.join("m2", trust_score=0.5, cpu=2.0)
    w.notices.clear()
    start = w.head
    w.cluster.retire("m1", "decommissioned")
    events = w.since(start)
    assert _types(events) == [
        E.MEMBER_RETIRED,
        E.HANDOFF_STARTED, E.ASSIGNMENT_DECISION,
        E.HANDOFF_STARTED, E.ASSIGNMENT_DECISION,
        E.MEMBER_LOAD_RESET,
    ]
    assert [e.packet_ids for e in events[1:5]] == [("fp-1",)] * 2 + [("fp-2",)] * 2
    for started in (events[1], events[3]):
        assert started.data["trigger"] == "owner_retired"
        assert started.data["from_member"] == "m1"
        assert started.data["packet"]["status"] == "PENDING"
    for decided in (events[2], events[4]):
        assert decided.data["decision"]["winner"] == "m2"
        assert decided.data["packet"]["epoch"] == 2
    reset = events[5]
    assert reset.member_ids == ("m1",)
    assert reset.packet_ids == ("fp-1", "fp-2")
    assert reset.data == {
        "member_id": "m1", "evicted": ["fp-1", "fp-2"],
        "released": {"packets": 2, "cpu": math.fsum([0.2, 0.2]), "memory": 48.0},
    }
    assert w.member("m1").status is MemberStatus.RETIRED
    assert w.cluster.registry.load_of("m1") == Load(0, 0.0, 0.0)
    assert w.owned_by("m2") == {"fp-1", "fp-2"}
    assert sorted((n.kind.value, n.member_id, n.packet.packet_id) for n in w.notices) == [
        ("assignment", "m2", "fp-1"), ("assignment", "m2", "fp-2"),
        ("revocation", "m1", "fp-1"), ("revocation", "m1", "fp-2"),
    ]


def test_retirement_with_nobody_to_take_over_still_resets_the_load(w: World) -> None:
    w.join("m1", "ocr")
    w.submit("fp-1", "ocr", demand_cpu=0.5)
    start = w.head
    w.cluster.retire("m1", "")
    assert _types(w.since(start)) == [
        E.MEMBER_RETIRED, E.HANDOFF_STARTED, E.PACKET_WAITING, E.MEMBER_LOAD_RESET]
    assert w.packet("fp-1").status is PacketStatus.PENDING
    assert w.cluster.registry.load_of("m1") == Load(0, 0.0, 0.0)
    w.join("m2", "ocr")
    assert w.packet("fp-1").owner == "m2"


def _draining_world(w: World, deadline: float) -> None:
    """m1 owns fp-move (may move, with a checkpoint) and fp-pin (may not); m2 joins; m1 drains."""
    w.join("m1", "ocr", trust_score=0.9)
    w.submit("fp-move", "ocr")
    w.submit("fp-pin", "ocr", handoff_allowed=False)
    w.ack("m1", "fp-move")
    w.checkpoint("m1", "fp-move", {"progress": 40}, "half-way")
    w.join("m2", "ocr", trust_score=0.5)
    w.cluster.drain("m1", "node upgrade", deadline)


def test_drain_moves_what_may_move_at_once_and_keeps_the_rest(w: World) -> None:
    w.join("m1", "ocr", trust_score=0.9)
    w.submit("fp-move", "ocr")
    w.submit("fp-pin", "ocr", handoff_allowed=False)
    w.checkpoint("m1", "fp-move", {"progress": 40}, "half-way")
    w.join("m2", "ocr", trust_score=0.5)
    start = w.head
    member = w.cluster.drain("m1", "node upgrade", 30.0)
    assert member.status is MemberStatus.DRAINING
    events = w.since(start)
    assert _types(events) == [E.MEMBER_DRAINING, E.HANDOFF_STARTED, E.ASSIGNMENT_DECISION]
    assert events[1].packet_ids == ("fp-move",)
    assert events[1].data["trigger"] == "drain"
    moved = w.packet("fp-move")
    assert (moved.owner, moved.epoch) == ("m2", 2)
    assert moved.checkpoint.state == {"progress": 40}
    assert _token(moved).state_hash == state_hash({"progress": 40})
    pinned = w.packet("fp-pin")
    assert (pinned.status, pinned.owner, pinned.epoch) == (PacketStatus.ASSIGNED, "m1", 1)
    # a draining member takes no new work, however well it scores
    assert w.submit("fp-new", "ocr").owner == "m2"


def test_drain_retires_the_member_once_its_last_packet_completes(w: World) -> None:
    _draining_world(w, 30.0)
    w.ack("m1", "fp-pin")
    start = w.head
    w.complete("m1", "fp-pin")
    assert _types(w.since(start)) == [E.PACKET_COMPLETED, E.MEMBER_RETIRED, E.MEMBER_LOAD_RESET]
    member = w.member("m1")
    assert member.status is MemberStatus.RETIRED
    assert member.status_reason.startswith("drain complete")
    assert w.since(start)[-1].data["evicted"] == []


def test_drain_of_an_idle_member_retires_it_at_once(w: World) -> None:
    w.join("m1")
    member = w.cluster.drain("m1", "bye")
    assert member.status is MemberStatus.RETIRED
    assert E.MEMBER_LOAD_RESET in w.types


def test_drain_deadline_evicts_what_is_left_and_retires_the_member(w: World) -> None:
    _draining_world(w, 5.0)
    w.tick(4.5, keep_alive=("m1", "m2"))
    assert w.packet("fp-pin").owner == "m1"
    assert w.member("m1").status is MemberStatus.DRAINING
    start = w.head
    w.tick(1.0, keep_alive=("m1", "m2"))
    events = w.since(start)
    assert _types(events) == [E.HANDOFF_STARTED, E.ASSIGNMENT_DECISION, E.MEMBER_RETIRED,
                              E.MEMBER_LOAD_RESET]
    assert events[0].packet_ids == ("fp-pin",)
    assert events[0].data["trigger"] == "drain_deadline"
    pinned = w.packet("fp-pin")
    assert (pinned.owner, pinned.epoch) == ("m2", 2)
    assert pinned.handoff_reason == "drain deadline passed"
    assert w.member("m1").status is MemberStatus.RETIRED
    assert w.cluster.registry.load_of("m1") == Load(0, 0.0, 0.0)


def test_drain_deadline_retirement_is_recorded_as_the_deadline(w: World) -> None:
    """The audit must say why the member was retired: its deadline passed, not that it finished."""
    _draining_world(w, 5.0)
    w.tick(6.0, keep_alive=("m1", "m2"))
    retired = w.of_type(E.MEMBER_RETIRED)[-1]
    assert retired.reason == "drain deadline passed"
    assert w.member("m1").status_reason == "drain deadline passed"


def test_a_drain_deadline_does_not_outlive_the_drain(w: World) -> None:
    """A draining member that re-registers (with its credential) is ACTIVE again: its old drain
    deadline must not evict the work it holds as an ACTIVE member."""
    _draining_world(w, 5.0)
    _, w.credentials["m1"] = w.cluster.register(
        Registration("m1", capabilities=("ocr",), credential=w.credentials["m1"],
                     trust_score=0.9, lease_ttl=LEASE))
    assert w.member("m1").status is MemberStatus.ACTIVE
    assert w.packet("fp-pin").owner == "m1"
    start = w.head
    w.tick(6.0, keep_alive=("m1", "m2"))
    assert E.HANDOFF_STARTED not in _types(w.since(start))
    assert (w.packet("fp-pin").owner, w.packet("fp-pin").epoch) == ("m1", 1)


# -- retries -----------------------------------------------------------------------------------


def test_a_failed_attempt_goes_back_to_pending_until_max_attempts(w: World) -> None:
    w.join("m1")
    w.submit("fp-1", max_attempts=3, demand_cpu=0.5)
    for attempt in (1, 2):
        start = w.head
        packet = w.fail("m1", "fp-1", f"crash {attempt}")
        events = w.since(start)
        assert _types(events) == [E.PACKET_ATTEMPT_FAILED, E.ASSIGNMENT_DECISION]
        retry = events[0].data["packet"]
        assert (retry["status"], retry["owner"], retry["attempts"]) == ("PENDING", "", attempt)
        assert retry["previous_owners"] == ["m1"] * attempt
        assert events[0].reason == f"attempt {attempt} of 3 failed: crash {attempt}"
        assert events[1].data["decision"]["trigger"] == "retry"
        assert (packet.status, packet.epoch, packet.attempts) == (
            PacketStatus.ASSIGNED, attempt + 1, attempt)
        assert packet.failure_reason == f"crash {attempt}"
    start = w.head
    packet = w.fail("m1", "fp-1", "crash 3")
    assert _types(w.since(start)) == [E.PACKET_FAILED]
    assert w.since(start)[0].reason == "attempt 3 of 3: crash 3"
    assert (packet.status, packet.attempts, packet.failure_reason) == (
        PacketStatus.FAILED, 3, "crash 3")
    assert w.cluster.registry.load_of("m1") == Load(0, 0.0, 0.0)


def test_a_permanent_failure_fails_the_packet_at_once(w: World) -> None:
    w.join("m1")
    w.submit("fp-1", max_attempts=5)
    start = w.head
    packet = w.fail("m1", "fp-1", "bad input", permanent=True)
    assert _types(w.since(start)) == [E.PACKET_FAILED]
    assert w.since(start)[0].reason == "permanent failure: bad input"
    assert (packet.status, packet.attempts, packet.failure_reason) == (
        PacketStatus.FAILED, 1, "bad input")
    assert w.state.load_of("m1").packets == set()


def test_a_member_losing_a_capability_loses_the_packets_that_need_it(w: World) -> None:
    w.join("m1", "ocr")
    w.submit("fp-1", "ocr")
    start = w.head
    w.cluster.update_member(
        "m1", MemberUpdate(frozenset({"capabilities"}), capabilities=("embed",)))
    types = _types(w.since(start))
    assert types[:2] == [E.MEMBER_UPDATED, E.HANDOFF_STARTED]
    assert E.PACKET_WAITING in types  # nobody else can take it: it waits
    packet = w.packet("fp-1")
    assert (packet.status, packet.owner) == (PacketStatus.PENDING, "")
    assert "fp-1" in w.state.pending
    assert w.state.load_of("m1").packets == set()
    with pytest.raises(FailedPrecondition, match="taken from 'm1'"):
        w.fail("m1", "fp-1", "too late")


def test_a_retry_goes_to_another_member_when_one_is_eligible(w: World) -> None:
    w.join("m1", "ocr", trust_score=0.9)
    w.join("m2", "ocr", trust_score=0.2)
    w.submit("fp-1", "ocr")
    assert w.packet("fp-1").owner == "m1"
    retried = w.fail("m1", "fp-1", "flaky")
    assert (retried.owner, retried.attempts) == ("m2", 1)
    again = w.fail("m2", "fp-1", "flaky")
    assert again.owner == "m1"  # excluded only the member that just failed it


# -- cancel ------------------------------------------------------------------------------------


def test_cancel_revokes_the_owner_and_releases_its_load(w: World) -> None:
    w.join("m1")
    w.submit("fp-1", demand_cpu=0.5)
    w.notices.clear()
    start = w.head
    packet = w.cluster.cancel("fp-1", "not needed")
    assert packet.status is PacketStatus.CANCELLED
    assert packet.failure_reason == "not needed"
    event = _only(w.since(start), E.PACKET_CANCELLED)
    assert event.actor == "operator"
    assert [(n.kind, n.member_id, n.epoch, n.sequence) for n in w.notices] == [
        (PacketNoticeKind.REVOCATION, "m1", 1, event.sequence)]
    assert w.cluster.registry.load_of("m1") == Load(0, 0.0, 0.0)


def test_cancel_again_is_a_no_op(w: World) -> None:
    w.join("m1")
    w.submit("fp-1")
    first = w.cluster.cancel("fp-1", "")
    assert first.failure_reason == "cancelled by operator"
    start, notices = w.head, len(w.notices)
    assert w.cluster.cancel("fp-1", "again") == first
    assert w.head == start and len(w.notices) == notices


def test_cancel_of_a_completed_packet_is_failed_precondition(w: World) -> None:
    w.join("m1")
    w.submit("fp-1")
    w.complete("m1", "fp-1")
    with pytest.raises(FailedPrecondition, match="COMPLETED"):
        w.cluster.cancel("fp-1", "")


def test_cancel_of_a_pending_packet_revokes_nobody(w: World) -> None:
    w.submit("fp-1", "ocr")
    packet = w.cluster.cancel("fp-1", "")
    assert packet.status is PacketStatus.CANCELLED
    assert w.notices == []
    assert "fp-1" not in w.state.pending
    w.join("m1", "ocr")  # nothing left to place
    assert w.packet("fp-1").status is PacketStatus.CANCELLED


def test_cancel_frees_room_for_a_waiting_packet(w: World) -> None:
    w.join("m1", cpu=1.0)
    w.submit("fp-1", demand_cpu=0.75)
    w.submit("fp-2", demand_cpu=0.75)
    assert w.packet("fp-2").status is PacketStatus.PENDING
    w.cluster.cancel("fp-1", "")
    assert (w.packet("fp-2").owner, w.packet("fp-2").epoch) == ("m1", 1)
    assert w.of_type(E.ASSIGNMENT_DECISION, "fp-2")[-1].data["decision"]["trigger"] == (
        "capacity_freed")


# -- manual handoff ----------------------------------------------------------------------------


def _three_regions(w: World) -> None:
    w.join("m1", trust_score=0.9, labels={"region": "us-east"})
    w.join("m2", trust_score=0.8, labels={"region": "eu-west"})
    w.join("m3", trust_score=0.1, labels={"region": "us-east"})
    w.submit("fp-1", policy=Policy(allowed_regions=("us-east",)))
    assert w.packet("fp-1").owner == "m1"


def test_handoff_to_a_target_the_policy_refuses_is_recorded_and_changes_nothing(w: World) -> None:
    _three_regions(w)
    before = w.packet("fp-1")
    start = w.head
    with pytest.raises(FailedPrecondition, match="region_not_allowed"):
        w.cluster.handoff("fp-1", "m2", "try eu")
    event = _only(w.since(start), E.POLICY_REJECTED)
    assert w.head == event.sequence
    assert event.actor == "operator"
    assert event.member_ids == ("m2",)
    assert event.packet_ids == ("fp-1",)
    assert "region_not_allowed" in event.reason
    assert event.data["decision"]["winner"] == ""
    assert w.packet("fp-1") == before


def test_handoff_to_a_valid_target_moves_the_packet_there(w: World) -> None:
    _three_regions(w)
    w.notices.clear()
    start = w.head
    packet = w.cluster.handoff("fp-1", "m3", "rebalance by hand")
    events = w.since(start)
    assert _types(events) == [E.HANDOFF_STARTED, E.ASSIGNMENT_DECISION]
    assert events[0].actor == "operator"
    assert events[0].data["trigger"] == "manual"
    assert events[0].reason == "manual: rebalance by hand"
    assert (packet.owner, packet.epoch, packet.handoff_reason) == ("m3", 2, "rebalance by hand")
    assert _token(packet).from_member == "m1"
    assert [(n.kind, n.member_id) for n in w.notices] == [
        (PacketNoticeKind.REVOCATION, "m1"), (PacketNoticeKind.ASSIGNMENT, "m3")]


def test_handoff_without_a_target_lets_the_scheduler_choose_another_member(w: World) -> None:
    _three_regions(w)
    packet = w.cluster.handoff("fp-1", "", "")
    assert packet.owner == "m3"  # m2 is not allowed, m1 is the owner being moved from
    assert packet.handoff_reason == "manual handoff"


def test_handoff_of_a_packet_that_may_not_move_is_refused(w: World) -> None:
    w.join("m1")
    w.join("m2")
    w.submit("fp-1", handoff_allowed=False)
    start = w.head
    with pytest.raises(FailedPrecondition, match=r"handoff\.allowed=false"):
        w.cluster.handoff("fp-1", "m2", "")
    assert w.head == start


@pytest.mark.parametrize(
    ("target", "error"),
    [("m1", FailedPrecondition), ("ghost", NotFound), ("Bad_Id", InvalidArgument)],
)
def test_handoff_to_the_owner_or_an_unknown_member_is_refused(
    w: World, target: str, error: type[Exception]
) -> None:
    w.join("m1")
    w.submit("fp-1")
    start = w.head
    with pytest.raises(error):
        w.cluster.handoff("fp-1", target, "")
    assert w.head == start


def test_handoff_of_a_finished_packet_is_refused(w: World) -> None:
    w.join("m1")
    w.join("m2")
    w.submit("fp-1")
    w.cluster.cancel("fp-1", "")
    with pytest.raises(FailedPrecondition, match="CANCELLED"):
        w.cluster.handoff("fp-1", "m2", "")


# -- explain -----------------------------------------------------------------------------------


def test_explain_returns_the_assignment_decision_of_each_epoch(w: World) -> None:
    w.join("m1", trust_score=0.9)
    w.join("m2", trust_score=0.5)
    w.submit("fp-1")
    first = w.of_type(E.ASSIGNMENT_DECISION, "fp-1")[-1]
    assert w.cluster.explain("fp-1", 0) == (1, first.sequence)
    assert w.cluster.explain("fp-1", 1) == (1, first.sequence)
    assert first.data["decision"]["winner"] == "m1"
    assert first.reason.startswith("m1: ")
    w.cluster.handoff("fp-1", "", "")
    second = w.of_type(E.ASSIGNMENT_DECISION, "fp-1")[-1]
    assert w.cluster.explain("fp-1", 0) == (2, second.sequence)
    assert w.cluster.explain("fp-1", 2) == (2, second.sequence)
    assert w.cluster.explain("fp-1", 1) == (1, first.sequence)
    assert second.data["decision"]["winner"] == "m2"


def test_explain_of_a_waiting_packet_points_at_the_wait(w: World) -> None:
    w.submit("fp-1", "ocr")
    waited = _only(w.events, E.PACKET_WAITING)
    assert w.cluster.explain("fp-1", 0) == (0, waited.sequence)


def test_explain_refuses_unknown_epochs_and_packets(w: World) -> None:
    w.join("m1")
    w.submit("fp-1")
    with pytest.raises(NotFound, match="epoch 5"):
        w.cluster.explain("fp-1", 5)
    with pytest.raises(InvalidArgument):
        w.cluster.explain("fp-1", -1)
    with pytest.raises(NotFound):
        w.cluster.explain("ghost", 0)


# -- overload ----------------------------------------------------------------------------------


def _loaded_m1(w: World) -> None:
    """m1 (cpu 1) holds fp-1, fp-2 (oldest first) and fp-pin (may not move); m2 stands by."""
    w.join("m1", cpu=1.0, trust_score=0.9)
    for packet_id in ("fp-1", "fp-2"):
        w.submit(packet_id, demand_cpu=0.1)
        w.wall.advance(1.0)
    w.submit("fp-pin", demand_cpu=0.1, handoff_allowed=False)
    w.join("m2", cpu=1.0, trust_score=0.5)


def test_an_overload_report_moves_one_movable_packet(w: World) -> None:
    _loaded_m1(w)
    start = w.head
    w.heartbeat("m1", Load(3, cpu=1.5, memory=10.0))
    events = w.since(start)
    assert _types(events) == [E.HANDOFF_STARTED, E.ASSIGNMENT_DECISION]
    assert events[0].packet_ids == ("fp-2",)  # the newest movable assignment
    assert events[0].data["trigger"] == "overload"
    assert "cpu 1.5/1" in events[0].reason
    assert w.owned_by("m1") == {"fp-1", "fp-pin"}
    assert w.owned_by("m2") == {"fp-2"}


def test_a_second_overload_report_within_the_cooldown_moves_nothing(w: World) -> None:
    _loaded_m1(w)
    w.heartbeat("m1", Load(3, cpu=1.5))
    start = w.head
    w.heartbeat("m1", Load(2, cpu=1.5))
    w.mono.advance(LEASE / 2)
    w.heartbeat("m1", Load(2, cpu=1.5))
    assert w.head == start
    w.mono.advance(LEASE)  # the cooldown (one lease TTL) is over
    w.heartbeat("m1", Load(2, cpu=1.5))
    assert _types(w.since(start)) == [E.HANDOFF_STARTED, E.ASSIGNMENT_DECISION]
    assert w.owned_by("m1") == {"fp-pin"}


@pytest.mark.parametrize("load", [Load(3, cpu=1.0, memory=1024.0), Load(3, cpu=0.2)])
def test_a_report_within_capacity_moves_nothing(w: World, load: Load) -> None:
    _loaded_m1(w)
    start = w.head
    w.heartbeat("m1", load)
    assert w.head == start


def test_an_overload_with_nothing_movable_moves_nothing(w: World) -> None:
    w.join("m1", cpu=1.0, trust_score=0.9)
    w.submit("fp-pin", handoff_allowed=False)
    w.join("m2")
    start = w.head
    w.heartbeat("m1", Load(1, cpu=5.0))
    assert w.head == start


@pytest.mark.parametrize("how", ["overload", "manual"])
def test_work_moved_away_from_its_owner_is_not_handed_straight_back_to_it(
    w: World, how: str
) -> None:
    """With no other eligible member, a move away from the owner (overload, or a manual handoff
    with no target) must not revoke the packet and re-assign it to the same member at a new
    epoch: that throws away the member's in-flight work and gains nothing."""
    w.join("m1", "ocr", cpu=1.0)
    w.join("m2", "embed")
    w.submit("fp-1", "ocr")
    w.ack("m1", "fp-1")
    notices = len(w.notices)
    if how == "overload":
        w.heartbeat("m1", Load(1, cpu=2.0))
    else:
        # refusing, as nobody else may take it, would be fine too
        with contextlib.suppress(FailedPrecondition):
            w.cluster.handoff("fp-1", "", "spread the load")
    back = [n for n in w.notices[notices:]
            if n.kind is PacketNoticeKind.ASSIGNMENT and n.member_id == "m1"]
    assert back == []
    assert not (w.packet("fp-1").owner == "m1" and w.packet("fp-1").epoch > 1)


# -- ring rebalancing --------------------------------------------------------------------------

RING = ("m1", "m2", "m3")
SHARE = 0.1


def _ring_world() -> World:
    w = make_world(default_strategy=Strategy.RING, rebalance_share=SHARE)
    for member_id in RING:
        w.join(member_id, "ocr")
    for i in range(80):
        w.submit(f"fp-{i}", "ocr", routing_key=f"key-{i}", handoff_allowed=i % 5 != 0)
    return w


def _rebalance_moves(w: World, start: int) -> list[Event]:
    return [e for e in w.since(start)
            if e.type == E.HANDOFF_STARTED and e.data["trigger"] == "rebalance"]


def test_a_join_rebalances_only_ring_packets_whose_owner_changed_a_share_at_a_time() -> None:
    w = _ring_world()
    owners = {p.packet_id: p.owner for p in w.state.packets.values()}
    start = w.head
    w.join("m4", "ocr")
    assert _rebalance_moves(w, start) == []  # queued, not moved at once
    changed = {p.packet_id for p in w.state.packets.values()
               if w.scheduler.ring_owner(p) != p.owner}
    movable = {p for p in changed if w.packet(p).handoff_allowed}
    pinned = changed - movable
    assert movable and pinned

    queued = sum(1 for p in w.state.packets.values() if p.handoff_allowed)
    budget = max(1, math.floor(SHARE * queued))
    moved: list[str] = []
    for _ in range(100):
        before = w.head
        w.tick(REBALANCE_INTERVAL, keep_alive=(*RING, "m4"))  # one interval, one tick
        w.cluster.tick()  # a second tick in the same interval moves nothing more
        batch = _rebalance_moves(w, before)
        assert len(batch) <= budget
        moved += [e.packet_ids[0] for e in batch]
    assert sorted(moved) == sorted(movable)
    for packet_id, owner in owners.items():
        packet = w.packet(packet_id)
        if packet_id in movable:
            assert (packet.owner, packet.epoch) == ("m4", 2)
        else:
            assert (packet.owner, packet.epoch) == (owner, 1)


def test_the_first_rebalance_tick_moves_at_most_the_configured_share() -> None:
    w = _ring_world()
    w.join("m4", "ocr")
    start = w.head
    w.cluster.tick()
    queued = sum(1 for p in w.state.packets.values() if p.handoff_allowed)
    assert 1 <= len(_rebalance_moves(w, start)) <= max(1, math.floor(SHARE * queued))


def test_rebalance_leaves_a_packet_whose_ring_owner_did_not_change() -> None:
    """A packet that uses most of its owner's room must stay when a join leaves its owner alone."""
    w = make_world(default_strategy=Strategy.RING)
    w.join("m1", cpu=1.0)
    hashring = kernel.Ring(["m1", "m2"])
    key = next(k for k in (f"key-{i}" for i in range(100)) if hashring.lookup_key(k) == 0)
    w.submit("fp-1", routing_key=key, demand_cpu=0.6)
    assert w.packet("fp-1").owner == "m1"
    start = w.head
    w.join("m2", cpu=1.0)
    for _ in range(5):
        w.tick(REBALANCE_INTERVAL, keep_alive=("m1", "m2"))
    assert _rebalance_moves(w, start) == []
    assert (w.packet("fp-1").owner, w.packet("fp-1").epoch) == ("m1", 1)


# -- restart -----------------------------------------------------------------------------------


def test_restart_placement_places_a_packet_left_pending_mid_handoff() -> None:
    before = make_world()
    before.join("m1", trust_score=0.9)
    before.join("m2", trust_score=0.5)
    before.submit("fp-1")
    before.checkpoint("m1", "fp-1", {"progress": 5})
    before.cluster.handoff("fp-1", "m2", "")
    # the daemon stopped after handoff_started reached the journal, before the decision did
    cut = before.of_type(E.HANDOFF_STARTED, "fp-1")[-1]
    journal = [e for e in before.events if e.sequence <= cut.sequence]
    after = make_world(state=replayed(journal), head_sequence=cut.sequence, head_hash=cut.hash)
    assert after.packet("fp-1").status is PacketStatus.PENDING
    assert after.cluster.restart_placement() == 1
    packet = after.packet("fp-1")
    assert packet.status is PacketStatus.ASSIGNED
    assert packet.epoch == 2
    assert _token(packet).from_member == "m1"
    assert _token(packet).state_hash == state_hash({"progress": 5})
    assert _types(after.events) == [E.ASSIGNMENT_DECISION]
    assert after.events[0].sequence == cut.sequence + 1
    assert after.events[0].prev_hash == cut.hash
    assert after.events[0].data["decision"]["trigger"] == "restart"


def test_restart_placement_records_a_fresh_wait_for_what_still_cannot_go() -> None:
    before = make_world()
    before.submit("fp-1", "ocr")
    last = before.events[-1]
    after = make_world(state=replayed(before.events), head_sequence=last.sequence,
                       head_hash=last.hash)
    assert after.cluster.restart_placement() == 0
    assert after.cluster.schedule_pending("poll") == 0
    assert _types(after.events) == [E.PACKET_WAITING]
    after.join("m1", "ocr")
    assert after.packet("fp-1").owner == "m1"


# -- load accounting and event sourcing over random runs ---------------------------------------

MEMBERS = ("m1", "m2", "m3", "m4", "m5")
CAPABILITIES = ("ocr", "embed", "ocr@2")


def _check_invariants(w: World) -> None:
    owners: dict[str, set[str]] = {}
    for packet in w.state.packets.values():
        if packet.status.owned:
            assert packet.owner, packet
            owners.setdefault(packet.owner, set()).add(packet.packet_id)
    for member_id in set(w.state.members) | set(owners):
        mine = owners.get(member_id, set())
        load = w.state.load_of(member_id)
        assert load.packets == mine, member_id
        assert load.cpu == math.fsum(w.packet(p).demand_cpu for p in mine)
        assert load.memory == math.fsum(w.packet(p).demand_memory for p in mine)
        assert w.cluster.registry.load_of(member_id) == Load(len(mine), load.cpu, load.memory)
        member = w.state.members.get(member_id)
        assert member is not None
        if member.status.terminal:
            assert not mine, f"{member_id} is {member.status} but owns {mine}"
        if member.status is MemberStatus.DRAINING:
            # A draining member keeps a movable packet only while nobody else can take it.
            for p in mine:
                if w.packet(p).handoff_allowed:
                    decision = w.scheduler.decide(w.packet(p), "check", exclude=member_id)
                    assert not decision.winner, f"{p} could move to {decision.winner}"
    pending = {p.packet_id for p in w.state.packets.values() if p.status is PacketStatus.PENDING}
    assert set(w.state.pending) == pending


def _random_run(seed: int, steps: int) -> World:
    rng = random.Random(seed)
    w = make_world(default_strategy=rng.choice(list(Strategy)))
    packet_count = 0

    def some_packet() -> Packet | None:
        return w.packet(rng.choice(w.state.packet_ids)) if w.state.packets else None

    for _ in range(steps):
        action = rng.choice([
            "join", "join", "submit", "submit", "submit", "ack", "checkpoint", "complete",
            "fail", "stale", "cancel", "handoff", "drain", "retire", "tick", "tick", "report",
            "update", "restart",
        ])
        member_id = rng.choice(MEMBERS)
        packet = some_packet()
        try:
            if action == "join":
                previous = w.state.members.get(member_id)
                credential = ""
                if previous is not None and not previous.status.terminal:
                    credential = w.credentials[member_id]
                _, w.credentials[member_id] = w.cluster.register(Registration(
                    member_id, capabilities=tuple(rng.sample(["ocr", "embed"], rng.randint(0, 2))),
                    cpu=rng.choice([0.5, 1.0, 2.0]), memory=rng.choice([256.0, 1024.0]),
                    trust_score=rng.random(), reliability=rng.random(),
                    labels={"region": rng.choice(["us-east", "eu-west"])},
                    lease_ttl=LEASE, credential=credential,
                ))
            elif action == "submit":
                packet_count += 1
                w.cluster.submit(PacketSpec(
                    f"fp-{packet_count}",
                    required_capabilities=tuple(rng.sample(["ocr", "embed"], rng.randint(0, 1))),
                    state={"n": packet_count},
                    policy=Policy(rng.choice([0.0, 0.0, 0.5]),
                                  rng.choice([(), (), ("us-east",)])),
                    handoff_allowed=rng.random() < 0.8,
                    demand_cpu=rng.choice([0.0, 0.1, 0.25, 0.3, 0.5]),
                    demand_memory=rng.choice([0.0, 64.0, 100.0]),
                    routing_key=f"key-{rng.randint(0, 9)}",
                    strategy=rng.choice(list(Strategy)),
                    max_attempts=rng.randint(1, 3),
                ))
            elif action in ("ack", "checkpoint", "complete", "fail") and packet and packet.owner:
                owner, epoch = packet.owner, packet.epoch
                if owner not in w.credentials:
                    continue
                if action == "ack":
                    w.ack(owner, packet.packet_id, epoch)
                elif action == "checkpoint":
                    w.checkpoint(owner, packet.packet_id, {"at": rng.random()}, "s", epoch=epoch)
                elif action == "complete":
                    w.complete(owner, packet.packet_id, {"ok": 1}, epoch=epoch)
                else:
                    w.fail(owner, packet.packet_id, "x", permanent=rng.random() < 0.2,
                           epoch=epoch)
            elif action == "stale" and packet and member_id in w.credentials:
                before = w.packet(packet.packet_id)
                try:
                    w.complete(member_id, packet.packet_id, {}, epoch=rng.randint(0, 3))
                except (FailedPrecondition, PermissionDenied):
                    assert w.packet(packet.packet_id) == before
            elif action == "cancel" and packet:
                w.cluster.cancel(packet.packet_id, "")
            elif action == "handoff" and packet:
                target = rng.choice(["", *MEMBERS])
                w.cluster.handoff(packet.packet_id, target, "")
            elif action == "drain":
                w.cluster.drain(member_id, "", rng.choice([1.0, 5.0, 30.0]))
            elif action == "retire":
                w.cluster.retire(member_id, "")
            elif action == "tick":
                alive = tuple(m for m in MEMBERS if m in w.state.members
                              and w.state.members[m].status.holds_lease and rng.random() < 0.7)
                w.tick(rng.choice([0.5, 1.0, 3.0, 6.0, 16.0]), keep_alive=alive)
            elif action == "report" and member_id in w.credentials:
                w.heartbeat(member_id, Load(1, cpu=rng.choice([0.5, 3.0]), memory=10.0))
            elif action == "update":
                w.cluster.update_member(member_id, MemberUpdate(
                    frozenset({"capabilities", "trust_score"}),
                    capabilities=tuple(rng.sample(CAPABILITIES[:2], rng.randint(0, 2))),
                    trust_score=rng.random()))
            elif action == "restart":
                w.cluster.restart_placement()
        except PhoenixError:
            pass
        _check_invariants(w)
    return w


@pytest.mark.parametrize("seed", range(12))
def test_load_accounting_is_exact_and_replay_rebuilds_the_state(seed: int) -> None:
    w = _random_run(seed, 300)
    assert [e.sequence for e in w.events] == list(range(1, len(w.events) + 1))
    again = replayed(w.events)
    assert again.packets == w.state.packets
    assert again.members == w.state.members
    assert again.loads == w.state.loads
    assert list(again.pending) == list(w.state.pending)
    # every assignment raised the epoch by one, and every notice names a recorded event
    by_sequence = {e.sequence: e for e in w.events}
    for packet_id in w.state.packet_ids:
        epochs = [e.data["packet"]["epoch"] for e in w.of_type(E.ASSIGNMENT_DECISION, packet_id)]
        assert epochs == list(range(1, len(epochs) + 1))
        assert w.packet(packet_id).epoch == len(epochs)
    for notice in w.notices:
        event = by_sequence[notice.sequence]
        assert notice.packet.packet_id in event.packet_ids
        if notice.kind is PacketNoticeKind.ASSIGNMENT:
            assert event.type == E.ASSIGNMENT_DECISION
            assert (event.data["packet"]["owner"], event.data["packet"]["epoch"]) == (
                notice.member_id, notice.epoch)
        else:
            assert event.type in (E.HANDOFF_STARTED, E.PACKET_CANCELLED)
    assert w.premature == []


def test_random_runs_exercise_the_interesting_paths() -> None:
    """Guard for the test above: its runs do reach handoffs, retries, drains and fencing."""
    seen: set[str] = set()
    for seed in range(12):
        seen.update(_random_run(seed, 300).types)
    for type_ in (E.HANDOFF_STARTED, E.HANDOFF_COMPLETED, E.PACKET_ATTEMPT_FAILED,
                  E.PACKET_FAILED, E.PACKET_COMPLETED, E.PACKET_CANCELLED, E.MEMBER_LOAD_RESET,
                  E.STALE_OWNER_REJECTED, E.MEMBER_FAILED, E.MEMBER_DRAINING, E.PACKET_WAITING):
        assert type_ in seen, type_


# -- a full owner keeps its packet when something unrelated changes ------------------------------


def test_an_owner_exactly_filled_by_its_packet_keeps_it_after_an_unrelated_update(
    w: World,
) -> None:
    # The recheck after a member update must not count the packet's own demand against its
    # owner: were it counted, the owner would look over capacity and hand the packet off.
    w.join("m1", cpu=1.0, memory=512.0)
    w.join("m2", cpu=1.0, memory=512.0, trust_score=0.1)
    packet = w.submit("fp-1", demand_cpu=1.0, demand_memory=512.0)
    assert (packet.owner, packet.epoch) == ("m1", 1)
    start = w.head
    w.cluster.update_member("m1", MemberUpdate(frozenset({"labels"}), labels={"tier": "web"}))
    w.join("m3", cpu=1.0, memory=512.0)
    packet = w.packet("fp-1")
    assert (packet.status, packet.owner, packet.epoch) == (PacketStatus.ASSIGNED, "m1", 1)
    assert not [e for e in w.since(start) if e.type == E.HANDOFF_STARTED]
    assert w.owned_by("m1") == {"fp-1"}
