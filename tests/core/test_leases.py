"""LeaseTable keeps one deadline per member on monotonic time: ``arm`` sets or moves it,
``next_due`` says when something may next fall due, and ``pop_due`` returns (and forgets) every
deadline that has passed. A renewal pushes a deadline back without it firing at the old time; a
re-arm to an earlier time fires at the earlier time, and the stale later heap entry it leaves
behind is skipped; ``cancel`` means the member never fires; and with many members each fires
exactly once, at its own current deadline (checked against a plain-dict model)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from phoenixd.core.leases import Deadline, LeaseTable, Timer


def test_empty_table_has_nothing_due() -> None:
    table = LeaseTable()
    assert len(table) == 0
    assert table.next_due() is None
    assert table.pop_due(1e9) == []


def test_armed_deadline_is_due_at_its_time_and_not_before() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 10.0)
    assert len(table) == 1
    assert table.next_due() == 10.0
    assert table.get("a") == Deadline("a", Timer.LEASE, 10.0)
    assert table.pop_due(9.999) == []
    assert table.pop_due(10.0) == [Deadline("a", Timer.LEASE, 10.0)]


def test_popped_deadline_is_forgotten() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 10.0)
    table.pop_due(10.0)
    assert len(table) == 0
    assert table.get("a") is None
    assert table.next_due() is None
    assert table.pop_due(100.0) == []


def test_renewal_moves_the_deadline_without_firing_at_the_old_time() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 10.0)
    table.arm("a", Timer.LEASE, 20.0)  # a heartbeat
    assert table.pop_due(10.0) == []
    assert table.pop_due(19.9) == []
    assert table.get("a") == Deadline("a", Timer.LEASE, 20.0)
    assert table.pop_due(20.0) == [Deadline("a", Timer.LEASE, 20.0)]


def test_next_due_follows_a_renewed_deadline_once_the_old_entry_was_checked() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 10.0)
    table.arm("a", Timer.LEASE, 20.0)
    table.pop_due(10.0)
    assert table.next_due() == 20.0


def test_many_renewals_keep_a_single_pending_deadline() -> None:
    table = LeaseTable()
    for beat in range(1, 1001):
        table.arm("a", Timer.LEASE, beat + 10.0)
    assert len(table) == 1
    assert table.pop_due(1009.0) == []
    assert table.pop_due(1010.0) == [Deadline("a", Timer.LEASE, 1010.0)]


def test_rearm_to_an_earlier_deadline_fires_at_the_earlier_time() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 20.0)
    table.arm("a", Timer.GRACE, 5.0)
    assert table.next_due() == 5.0
    assert table.pop_due(4.9) == []
    assert table.pop_due(5.0) == [Deadline("a", Timer.GRACE, 5.0)]


def test_stale_later_entry_left_by_an_earlier_rearm_is_skipped() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 20.0)
    table.arm("a", Timer.GRACE, 5.0)
    table.pop_due(5.0)
    assert table.pop_due(20.0) == []
    assert len(table) == 0


def test_stale_entry_does_not_fire_a_deadline_armed_again_later() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 20.0)
    table.arm("a", Timer.GRACE, 5.0)
    assert table.pop_due(5.0) == [Deadline("a", Timer.GRACE, 5.0)]
    table.arm("a", Timer.LEASE, 30.0)
    assert table.pop_due(20.0) == []  # the stale entry for 20.0 comes off the heap here
    assert table.pop_due(30.0) == [Deadline("a", Timer.LEASE, 30.0)]


def test_the_timer_kind_of_the_latest_arm_is_reported() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 10.0)
    table.arm("a", Timer.GRACE, 15.0)
    assert table.pop_due(15.0) == [Deadline("a", Timer.GRACE, 15.0)]


def test_cancelled_deadline_never_fires() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 10.0)
    table.cancel("a")
    assert len(table) == 0
    assert table.get("a") is None
    assert table.pop_due(1e9) == []


def test_cancel_of_an_unknown_member_is_harmless() -> None:
    table = LeaseTable()
    table.cancel("nobody")
    assert len(table) == 0


def test_cancel_then_rearm_later_fires_only_at_the_new_deadline() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 10.0)
    table.cancel("a")
    table.arm("a", Timer.LEASE, 15.0)
    assert table.pop_due(10.0) == []
    assert table.pop_due(15.0) == [Deadline("a", Timer.LEASE, 15.0)]


def test_cancel_then_rearm_earlier_fires_at_the_earlier_deadline() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 10.0)
    table.cancel("a")
    table.arm("a", Timer.LEASE, 3.0)
    assert table.pop_due(3.0) == [Deadline("a", Timer.LEASE, 3.0)]
    assert table.pop_due(10.0) == []


def test_a_deadline_already_in_the_past_is_due_at_once() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 1.0)
    assert table.pop_due(50.0) == [Deadline("a", Timer.LEASE, 1.0)]


def test_pop_due_returns_only_the_members_that_are_due() -> None:
    table = LeaseTable()
    table.arm("a", Timer.LEASE, 1.0)
    table.arm("b", Timer.LEASE, 2.0)
    table.arm("c", Timer.LEASE, 3.0)
    assert {d.member_id for d in table.pop_due(2.0)} == {"a", "b"}
    assert len(table) == 1
    assert table.next_due() == 3.0


def test_many_members_each_fire_once_at_their_own_deadline() -> None:
    rng = random.Random(7)
    table = LeaseTable()
    deadlines = {f"m{i}": float(rng.randint(1, 500)) for i in range(2000)}
    for member_id, at in deadlines.items():
        table.arm(member_id, Timer.LEASE, at)
    fired: dict[str, float] = {}
    for now in range(0, 501):
        for deadline in table.pop_due(float(now)):
            assert deadline.member_id not in fired
            assert deadline.at <= now
            fired[deadline.member_id] = float(now)
    assert fired == deadlines
    assert len(table) == 0


def test_many_members_heartbeating_never_expire() -> None:
    table = LeaseTable()
    members = [f"m{i}" for i in range(1000)]
    for now in range(0, 100):
        for member_id in members:
            table.arm(member_id, Timer.LEASE, now + 10.0)
        assert table.pop_due(float(now)) == []
    assert len(table) == len(members)
    assert {d.member_id for d in table.pop_due(109.0)} == set(members)


_MEMBERS = st.sampled_from(["a", "b", "c", "d"])
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("arm"), _MEMBERS, st.integers(0, 60)),
        st.tuples(st.just("cancel"), _MEMBERS, st.just(0)),
        st.tuples(st.just("tick"), st.just(""), st.integers(0, 10)),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(_OPS)
def test_pop_due_agrees_with_a_plain_dict_of_current_deadlines(
    ops: list[tuple[str, str, int]],
) -> None:
    table = LeaseTable()
    model: dict[str, float] = {}
    now = 0.0
    for op, member_id, value in ops:
        if op == "arm":
            at = now + value - 20  # deadlines in the past, present and future
            table.arm(member_id, Timer.LEASE, at)
            model[member_id] = at
        elif op == "cancel":
            table.cancel(member_id)
            model.pop(member_id, None)
        else:
            now += value
            due = sorted((d.member_id, d.at) for d in table.pop_due(now))
            expected = sorted((m, at) for m, at in model.items() if at <= now)
            assert due == expected
            for m, _ in expected:
                del model[m]
        assert len(table) == len(model)
        next_due = table.next_due()
        if model:  # next_due may be early (a stale entry) but never late
            assert next_due is not None and next_due <= min(model.values())
