"""ClusterState folding packet events: placement decisions (epoch, sequence) are appended when an
assignment_decision or packet_waiting event is applied, newest last and capped at KEPT_DECISIONS;
the pending set follows exactly the PENDING packets; each member's load (packets, cpu, memory) is
derived exactly from the packets it owns; and snapshot() / restore() round-trip members and
packets, with assignments.json listing the owned packets."""

from __future__ import annotations

import math
from dataclasses import replace

from phoenixd.core.events import EventType
from phoenixd.core.packets import Packet, PacketStatus
from phoenixd.core.state import KEPT_DECISIONS, ClusterState, OwnerLoad
from tests.core.packet_world import member_record, packet_record, put


def _assigned(packet: Packet, owner: str, epoch: int) -> Packet:
    return replace(packet, status=PacketStatus.ASSIGNED, owner=owner, epoch=epoch)


# -- decisions ---------------------------------------------------------------------------------


def test_an_assignment_decision_appends_its_epoch_and_sequence() -> None:
    state = ClusterState()
    put(state, packet_record("p"))
    event = put(state, _assigned(packet_record("p"), "m1", 1), EventType.ASSIGNMENT_DECISION)
    assert state.packets["p"].decisions == ((1, event.sequence),)
    assert state.packets["p"].revision == event.sequence


def test_a_waiting_decision_is_kept_with_epoch_zero() -> None:
    state = ClusterState()
    put(state, packet_record("p"))
    event = put(state, state.packets["p"], EventType.PACKET_WAITING)
    assert state.packets["p"].decisions == ((0, event.sequence),)


def test_other_packet_events_keep_the_decisions_they_carry() -> None:
    state = ClusterState()
    put(state, packet_record("p"))
    first = put(state, _assigned(state.packets["p"], "m1", 1), EventType.ASSIGNMENT_DECISION)
    put(state, replace(state.packets["p"], status=PacketStatus.RUNNING), EventType.PACKET_ACKED)
    put(state, state.packets["p"], EventType.CHECKPOINT_SAVED)
    assert state.packets["p"].decisions == ((1, first.sequence),)


def test_decisions_are_appended_newest_last() -> None:
    state = ClusterState()
    put(state, packet_record("p"))
    waited = put(state, state.packets["p"], EventType.PACKET_WAITING)
    one = put(state, _assigned(state.packets["p"], "m1", 1), EventType.ASSIGNMENT_DECISION)
    two = put(state, _assigned(state.packets["p"], "m2", 2), EventType.ASSIGNMENT_DECISION)
    assert state.packets["p"].decisions == (
        (0, waited.sequence), (1, one.sequence), (2, two.sequence))


def test_decisions_are_capped_at_kept_decisions_keeping_the_newest() -> None:
    state = ClusterState()
    put(state, packet_record("p"))
    sequences = []
    for epoch in range(1, KEPT_DECISIONS + 9):
        event = put(state, _assigned(state.packets["p"], "m1", epoch),
                    EventType.ASSIGNMENT_DECISION)
        sequences.append((epoch, event.sequence))
    assert state.packets["p"].decisions == tuple(sequences[-KEPT_DECISIONS:])
    assert len(state.packets["p"].decisions) == KEPT_DECISIONS


# -- pending and loads -------------------------------------------------------------------------


def test_pending_follows_the_pending_packets_oldest_first() -> None:
    state = ClusterState()
    put(state, packet_record("b"))
    put(state, packet_record("a"))
    put(state, packet_record("c"))
    assert list(state.pending) == ["b", "a", "c"]
    put(state, _assigned(state.packets["a"], "m1", 1), EventType.ASSIGNMENT_DECISION)
    assert list(state.pending) == ["b", "c"]
    put(state, replace(state.packets["a"], status=PacketStatus.PENDING, owner=""),
        EventType.HANDOFF_STARTED)
    assert set(state.pending) == {"a", "b", "c"}
    for packet_id, status in (("a", PacketStatus.CANCELLED), ("b", PacketStatus.FAILED)):
        put(state, replace(state.packets[packet_id], status=status))
    assert list(state.pending) == ["c"]


def test_load_is_derived_from_the_owned_packets() -> None:
    state = ClusterState()
    put(state, member_record("m1"))
    put(state, member_record("m2"))
    put(state, _assigned(packet_record("p", demand_cpu=0.1, demand_memory=10.0), "m1", 1))
    put(state, _assigned(packet_record("q", demand_cpu=0.2, demand_memory=20.0), "m1", 1))
    put(state, _assigned(packet_record("r", demand_cpu=0.3, demand_memory=30.0), "m2", 1))
    assert state.load_of("m1") == OwnerLoad({"p", "q"}, math.fsum([0.1, 0.2]), 30.0)
    # p moves to m2, q completes, r starts running
    put(state, _assigned(state.packets["p"], "m2", 2))
    put(state, replace(state.packets["q"], status=PacketStatus.COMPLETED))
    put(state, replace(state.packets["r"], status=PacketStatus.RUNNING))
    assert state.load_of("m1") == OwnerLoad(set(), 0.0, 0.0)
    assert state.load_of("m2") == OwnerLoad({"p", "r"}, math.fsum([0.1, 0.3]), 40.0)


def test_load_of_an_unknown_member_is_empty() -> None:
    assert ClusterState().load_of("ghost") == OwnerLoad()


def test_revision_follows_the_last_applied_event() -> None:
    state = ClusterState()
    put(state, member_record("m1"))
    event = put(state, packet_record("p"))
    assert state.revision == event.sequence == 2


# -- snapshots ---------------------------------------------------------------------------------


def _populated() -> ClusterState:
    state = ClusterState()
    put(state, member_record("m1", "ocr"))
    put(state, member_record("m2"))
    put(state, packet_record("waiting", "gpu"))
    put(state, state.packets["waiting"], EventType.PACKET_WAITING)
    put(state, packet_record("run", demand_cpu=0.25, demand_memory=64.0, state={"step": 2}))
    put(state, _assigned(state.packets["run"], "m1", 1), EventType.ASSIGNMENT_DECISION)
    put(state, replace(state.packets["run"], status=PacketStatus.RUNNING), EventType.PACKET_ACKED)
    put(state, packet_record("new"))
    put(state, _assigned(state.packets["new"], "m2", 1), EventType.ASSIGNMENT_DECISION)
    put(state, packet_record("done"))
    put(state, replace(_assigned(state.packets["done"], "m2", 1),
                       status=PacketStatus.COMPLETED, result={"ok": True}))
    return state


def test_snapshot_and_restore_round_trip_members_packets_and_loads() -> None:
    state = _populated()
    restored = ClusterState()
    restored.restore(state.snapshot(), state.revision)
    assert restored.members == state.members
    assert restored.packets == state.packets
    assert restored.packet_ids == state.packet_ids == ["done", "new", "run", "waiting"]
    assert restored.member_ids == state.member_ids
    assert set(restored.pending) == set(state.pending) == {"waiting"}
    for member_id in ("m1", "m2"):
        assert restored.load_of(member_id) == state.load_of(member_id)
    assert restored.revision == state.revision


def test_assignments_json_lists_exactly_the_owned_packets() -> None:
    state = _populated()
    assert state.snapshot()["assignments.json"] == {
        "assignments": [
            {"packet_id": "new", "member_id": "m2", "epoch": 1, "status": "ASSIGNED"},
            {"packet_id": "run", "member_id": "m1", "epoch": 1, "status": "RUNNING"},
        ]
    }


def test_packets_json_holds_every_packet_record() -> None:
    state = _populated()
    documents = state.snapshot()
    raw = documents["packets.json"]["packets"]
    assert [p["packet_id"] for p in raw] == ["done", "new", "run", "waiting"]
    assert [Packet.from_dict(p) for p in raw] == [state.packets[i] for i in state.packet_ids]
    assert [m["member_id"] for m in documents["registry.json"]["members"]] == ["m1", "m2"]


def test_restore_then_tail_events_gives_the_live_state() -> None:
    state = _populated()
    cut = state.revision
    restored = ClusterState()
    restored.restore(state.snapshot(), cut)
    for target in (state, restored):
        put(target, _assigned(target.packets["waiting"], "m1", 1),
            EventType.ASSIGNMENT_DECISION)
        put(target, replace(target.packets["run"], status=PacketStatus.COMPLETED))
    assert restored.packets == state.packets
    assert restored.load_of("m1") == state.load_of("m1")
    assert set(restored.pending) == set(state.pending) == set()
