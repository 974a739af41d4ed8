"""The ownership-history checker on hand-made histories: a correct run passes with its stale
write counted as refused, a retry after a lost reply is not a violation, and each kind of
violation (an epoch going back, two owners for one epoch, a write outside its grant -- in the
journal or a known-stale one acknowledged --, the wrong refusal code, calls ordered against
real time, an acknowledged write lost) is reported. A checker that cannot fail proves nothing.
Also: the log format round-trips, with an unanswered call indeterminate."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

from tests.reliability.history import (
    EPOCH_ORDER,
    INDETERMINATE,
    LOST,
    OK,
    OUTSIDE_GRANT,
    REAL_TIME,
    REFUSAL_CODE,
    TWO_OWNERS,
    Entry,
    HistoryLog,
    Op,
    Report,
    Seen,
    check,
    load_history,
)


def _ev(sequence: int, type_: str, epoch: int, owner: str, status: str, *, actor: str = "phoenixd",
        step: str = "start", checkpoint_epoch: int = 0, packet: str = "p") -> Entry:
    return Entry(sequence, type_, actor, packet, epoch, owner, status, step, checkpoint_epoch)


# A packet assigned to m1, acked, checkpointed, handed off by the operator to m2, acked and
# completed there; m1's late checkpoint at epoch 1 is refused.
JOURNAL = [
    _ev(1, "packet_created", 0, "", "PENDING"),
    _ev(2, "assignment_decision", 1, "m1", "ASSIGNED"),
    _ev(3, "packet_acked", 1, "m1", "RUNNING", actor="member:m1"),
    _ev(4, "checkpoint_saved", 1, "m1", "RUNNING", actor="member:m1", step="s1",
        checkpoint_epoch=1),
    _ev(5, "handoff_started", 1, "", "PENDING", step="s1", checkpoint_epoch=1),
    _ev(6, "assignment_decision", 2, "m2", "ASSIGNED", step="s1", checkpoint_epoch=1),
    _ev(7, "handoff_completed", 2, "m2", "ASSIGNED", actor="member:m2", step="s1",
        checkpoint_epoch=1),
    _ev(8, "packet_acked", 2, "m2", "RUNNING", actor="member:m2", step="s1", checkpoint_epoch=1),
    _ev(9, "packet_completed", 2, "m2", "COMPLETED", actor="member:m2", step="s1",
        checkpoint_epoch=1),
]
SUBMIT = Op("operator", "submit", "p", invoke=0, ret=1, outcome=OK,
            seen=(Seen("p", 1, "m1", "ASSIGNED", 2),))
ACK_1 = Op("w1", "ack", "p", "m1", 1, invoke=2, ret=3, outcome=OK,
           seen=(Seen("p", 1, "m1", "RUNNING", 3),))
SAVE_1 = Op("w1", "checkpoint", "p", "m1", 1, invoke=3.5, ret=4, outcome=OK,
            seen=(Seen("p", 1, "m1", "RUNNING", 4, "s1"),), tag="s1")
HANDOFF = Op("operator", "handoff", "p", invoke=5, ret=6, outcome=OK,
             seen=(Seen("p", 2, "m2", "ASSIGNED", 6, "s1"),))
LATE_SAVE = Op("w1", "checkpoint", "p", "m1", 1, invoke=7, ret=7.5,
               outcome="FAILED_PRECONDITION", tag="s2")
ACK_2 = Op("w2", "ack", "p", "m2", 2, invoke=7, ret=8, outcome=OK,
           seen=(Seen("p", 2, "m2", "RUNNING", 8, "s1"),))
DONE_2 = Op("w2", "complete", "p", "m2", 2, invoke=9, ret=10, outcome=OK,
            seen=(Seen("p", 2, "m2", "COMPLETED", 9, "s1"),))
HISTORY = [SUBMIT, ACK_1, SAVE_1, HANDOFF, LATE_SAVE, ACK_2, DONE_2]
FINAL = {"p": Seen("p", 2, "m2", "COMPLETED", 9, "s1")}


def _check(ops: list[Op] = HISTORY, journal: list[Entry] = JOURNAL,
           final: dict[str, Seen] = FINAL) -> Report:
    return check(ops, journal, final)


def test_a_correct_history_passes_and_counts_its_stale_write_as_refused() -> None:
    report = _check()
    assert report.violations == []
    assert (report.ops, report.writes_ok, report.grants) == (7, 4, 2)
    assert (report.stale_writes, report.stale_refused, report.stale_indeterminate) == (1, 1, 0)
    assert report.refusals == {"FAILED_PRECONDITION": 1}


def test_a_retry_after_a_lost_reply_is_not_a_violation() -> None:
    lost = replace(DONE_2, ret=math.inf, outcome=INDETERMINATE)
    retry = replace(DONE_2, invoke=11, ret=12, seen=(Seen("p", 2, "m2", "COMPLETED", 9, "s1"),))
    assert _check([*HISTORY[:-1], lost, retry]).violations == []


def test_a_stale_write_whose_fate_is_unknown_is_only_counted() -> None:
    report = _check([*HISTORY[:4], replace(LATE_SAVE, ret=math.inf, outcome=INDETERMINATE),
                     *HISTORY[5:]])
    assert report.violations == []
    assert (report.stale_writes, report.stale_refused, report.stale_indeterminate) == (1, 0, 1)


def test_an_epoch_granted_below_an_earlier_one_is_reported() -> None:
    journal = [*JOURNAL, _ev(10, "packet_created", 0, "", "PENDING", packet="q"),
               _ev(11, "assignment_decision", 2, "m1", "ASSIGNED", packet="q"),
               _ev(12, "handoff_started", 2, "", "PENDING", packet="q"),
               _ev(13, "assignment_decision", 1, "m2", "ASSIGNED", packet="q")]
    assert _check(journal=journal).kinds == {EPOCH_ORDER}


def test_a_packet_event_whose_epoch_goes_back_is_reported() -> None:
    journal = [*JOURNAL, _ev(10, "packet_cancelled", 1, "", "CANCELLED")]
    assert _check(journal=journal).kinds == {EPOCH_ORDER}


def test_a_second_owner_for_one_epoch_is_reported() -> None:
    journal = [*JOURNAL, _ev(10, "packet_waiting", 2, "m1", "COMPLETED")]
    report = _check(journal=journal)
    assert report.kinds == {TWO_OWNERS}
    assert "'m1' at epoch 2, granted to 'm2'" in report.violations[0].detail


def test_a_journaled_write_from_a_member_that_does_not_own_the_packet_is_reported() -> None:
    journal = [*JOURNAL, _ev(10, "packet_created", 0, "", "PENDING", packet="q"),
               _ev(11, "assignment_decision", 1, "m2", "ASSIGNED", packet="q"),
               _ev(12, "checkpoint_saved", 1, "m2", "ASSIGNED", actor="member:m1", step="x",
                   checkpoint_epoch=1, packet="q")]
    report = _check(journal=journal)
    assert report.kinds == {OUTSIDE_GRANT}
    assert "accepted from 'm1' at epoch 1 while the packet was 'm2' at epoch 1" in (
        report.violations[0].detail)


def test_a_write_to_a_finished_packet_in_the_journal_is_reported() -> None:
    journal = [*JOURNAL, _ev(10, "packet_acked", 2, "m2", "RUNNING", actor="member:m2")]
    assert _check(journal=journal).kinds == {OUTSIDE_GRANT}


def test_an_acknowledged_known_stale_write_is_reported() -> None:
    accepted = replace(LATE_SAVE, ret=7.5, outcome=OK, seen=(Seen("p", 2, "m2", "ASSIGNED", 7),))
    report = _check([*HISTORY[:4], accepted, *HISTORY[5:]])
    assert OUTSIDE_GRANT in report.kinds
    assert any("stale checkpoint of p by 'm1' at epoch 1" in v.detail for v in report.violations)


def test_a_write_by_another_member_at_the_current_epoch_is_known_stale() -> None:
    other = Op("zombie", "ack", "p", "m1", 2, invoke=8.5, ret=8.6, outcome="PERMISSION_DENIED")
    report = _check([*HISTORY, other])
    assert report.violations == []
    assert report.refusals == {"FAILED_PRECONDITION": 1, "PERMISSION_DENIED": 1}


def test_a_stale_write_refused_with_another_code_is_reported() -> None:
    odd = replace(LATE_SAVE, outcome="NOT_FOUND")
    assert _check([*HISTORY[:4], odd, *HISTORY[5:]]).kinds == {REFUSAL_CODE}


def test_a_write_ordered_before_a_call_that_returned_before_it_started_is_reported() -> None:
    read = Op("monitor", "read", "p", invoke=6.5, ret=6.8, outcome=OK,
              seen=(Seen("p", 2, "m2", "COMPLETED", 9, "s1"),))
    report = _check([*HISTORY, read])
    assert report.kinds == {REAL_TIME}
    assert any("made event 8, yet position 9" in v.detail for v in report.violations)


def test_a_read_that_misses_an_acknowledged_write_is_reported() -> None:
    read = Op("monitor", "read", "p", invoke=4.5, ret=4.6, outcome=OK,
              seen=(Seen("p", 1, "m1", "RUNNING", 3),))
    report = _check([*HISTORY, read])
    assert report.kinds == {REAL_TIME}
    assert "showed p at revision 3, older than revision 4" in report.violations[0].detail


def test_a_reply_older_than_its_own_write_is_reported() -> None:
    early = replace(SAVE_1, seen=(Seen("p", 1, "m1", "RUNNING", 3, "s1"),))
    assert REAL_TIME in _check([*HISTORY[:2], early, *HISTORY[3:]]).kinds


def test_an_acknowledged_write_missing_from_the_journal_is_reported() -> None:
    journal = [e for e in JOURNAL if e.type != "packet_completed"]
    report = _check(journal=journal)
    assert report.kinds == {LOST}
    assert "OK complete of p by 'm2' at epoch 2 (by w2) is not in the journal" in (
        report.violations[0].detail)


def test_an_acknowledged_completion_not_completed_after_restart_is_reported() -> None:
    final = {"p": Seen("p", 2, "m2", "RUNNING", 8, "s1")}
    assert _check(final=final).kinds == {LOST}


def test_a_final_checkpoint_older_than_the_acknowledged_one_is_reported() -> None:
    final = {"p": Seen("p", 2, "m2", "COMPLETED", 9, "start")}
    report = _check(final=final)
    assert report.kinds == {LOST}
    assert "older than the acknowledged 's1'" in report.violations[0].detail


def test_an_acknowledged_submit_missing_after_restart_is_reported() -> None:
    assert _check(final={}).kinds == {LOST}


def test_the_log_round_trips_and_an_unanswered_call_is_indeterminate(tmp_path: Path) -> None:
    path = tmp_path / "w1.jsonl"
    log = HistoryLog(path, "w1")
    first = log.invoke("checkpoint", "p", "m1", 1, tag="s1", credential="secret")
    log.done(first, OK, [Seen("p", 1, "m1", "RUNNING", 4, "s1")])
    log.invoke("complete", "p", "m1", 1)  # the process dies here
    log.observed("assigned", Seen("q", 1, "m1", "ASSIGNED", 7))
    log.close()
    with open(path, "a") as f:
        f.write('{"op": "w1/9", "kin')  # a line cut short by SIGKILL
    ops = {op.kind: op for op in load_history([path])}
    assert set(ops) == {"checkpoint", "complete", "assigned"}
    saved = ops["checkpoint"]
    assert (saved.packet_id, saved.member_id, saved.epoch, saved.tag, saved.outcome) == (
        "p", "m1", 1, "s1", OK)
    assert saved.invoke < saved.ret < math.inf
    assert saved.seen == (Seen("p", 1, "m1", "RUNNING", 4, "s1"),)
    assert (ops["complete"].outcome, ops["complete"].ret) == (INDETERMINATE, math.inf)
    assert ops["assigned"].invoke == 0.0 and ops["assigned"].ok
    assert ops["assigned"].packet_id == "q"
    assert json.loads(path.read_text().splitlines()[0])["credential"] == "secret"
