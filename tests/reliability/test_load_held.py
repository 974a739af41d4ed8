"""Load held: a daemon under sustained member and operator load keeps every lease, refuses
only by design, and gives back its connections and memory when the load goes away.

One phoenixd; the load runs in another process (tests/reliability/load_held.py): member
sessions heartbeating every second, acking and completing their packets, a few of them
dropping their stream mid-round (crashed workers, whose packets are handed off), and operator
clients submitting, reading, listing, querying the audit, updating members and cancelling,
back to back. A short warm-up round, then two identical rounds; the daemon's RSS, open fds and
threads are sampled before, during and after each. Checked, every round:

- every call the daemon refused was refused with a designed code (FAILED_PRECONDITION, the
  loser of a race the workload provokes); never UNKNOWN, INTERNAL, UNAVAILABLE or a timeout;
- every session opened, was told nothing unexpected, and ended with its goodbye; no member
  whose session was heartbeating was ever made SUSPECT or FAILED (only the dropped ones, and
  only after they dropped), and every lease reply said ACTIVE;
- every packet finished once the load stopped (none stuck PENDING or with a dead owner);
- the daemon's open fds return exactly to what they were after the warm-up: each client's
  connection closes with it, and the daemon keeps no file open beyond its journal, lock and
  log (journal reads and snapshots open and close theirs within the call). No tolerance;
  ``--max-streams`` sits just above the round's streams, so a session or watch the daemon
  forgot to count down would refuse the next round's sessions (RESOURCE_EXHAUSTED);
- RSS is flat: the daemon keeps every packet and caches the newest Flight Recorder events
  (a bounded window), so a round may grow it by what it recorded; the second round may not
  grow it more per recorded event than the first did (with slack for allocator noise).
  Periodic snapshots are off here (load_plan.SNAPSHOT_EVERY): the allocator keeps the
  high-water mark of each snapshot, which grows with the state, not with a leak;
- the Flight Recorder's chain verifies after all of it, and the daemon logged no error.

Throughput and latency are figures, never asserted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from tests.daemon import PhoenixProcess
from tests.reliability.load_held import (
    Held,
    Plan,
    Report,
    Sample,
    daemon_flags,
    describe,
    hold_rounds,
    show,
)
from tests.reliability.soak import figure, scaled

SESSIONS = scaled(50, 300)
CONTROLS = scaled(4, 8)
SECONDS = scaled(8, 300)
WARM_UP_SECONDS = scaled(2, 60)
CHURN = scaled(3, 10)
# RSS noise between two rounds that hold the same: malloc arenas and the interpreter's free
# lists give memory back in steps of MiBs, not bytes.
RSS_SLACK_KB = 8 * 1024
# How much more memory per recorded event the second round may cost than the first.
RSS_RATIO = 1.5


def plan(address: str = "", name: str = "", seconds: float = SECONDS, seed: int = 0) -> Plan:
    return Plan(address, name, sessions=SESSIONS, controls=CONTROLS, seconds=seconds,
                churn=CHURN, seed=seed)


@pytest.fixture
def d(tmp_path: Path) -> Iterator[PhoenixProcess]:
    with PhoenixProcess(tmp_path / "data", *daemon_flags(plan())) as proc:
        yield proc


def check_round(report: Report, name: str) -> None:
    assert report.undesigned() == {}, f"{name}: refused with undesigned codes"
    assert report.lease_losses == [], f"{name}: a live member lost its lease"
    assert report.session_problems == [], f"{name}: sessions"
    assert report.stuck == [], f"{name}: unfinished after the load stopped"
    assert report.opened == SESSIONS
    assert report.dropped == CHURN
    assert report.submitted > 0 and report.events > 0


def test_held_load_keeps_leases_refuses_by_design_and_gives_back_fds_and_memory(
    d: PhoenixProcess,
) -> None:
    assert d.proc is not None
    _, (warm, *rounds) = hold_rounds(d.proc.pid, [
        plan(d.address, "warm", WARM_UP_SECONDS),
        plan(d.address, "r1", seed=1),
        plan(d.address, "r2", seed=2),
    ])
    before = warm.after
    report_figures(before, rounds)
    for name, held in (("warm-up", warm), ("round 1", rounds[0]), ("round 2", rounds[1])):
        check_round(held.report, name)

    verified = d.recorder.VerifyChain(rpb.VerifyChainRequest(), timeout=60)
    assert verified.ok, verified.problem
    logged = d.log()
    assert '"level": "error"' not in logged and '"level": "critical"' not in logged
    assert "Traceback" not in logged

    for held in rounds:
        assert held.after.fds == before.fds, "open fds after a round differ from before it"
    first, second = rounds
    grown1 = max(first.after.rss_kb - before.rss_kb, 0)
    grown2 = second.after.rss_kb - first.after.rss_kb
    allowed = RSS_RATIO * grown1 * second.report.events / first.report.events + RSS_SLACK_KB
    assert grown2 <= allowed, (
        f"RSS grew {grown2} KiB in the second round ({second.report.events} events) after "
        f"{grown1} KiB in the first ({first.report.events} events): more than {allowed:.0f} KiB")


def report_figures(before: Sample, rounds: list[Held]) -> None:
    label = f"load held ({SESSIONS} sessions, {CONTROLS} operators, {SECONDS} s)"
    figure(f"{label}: daemon after warm-up", show(before))
    previous = before
    for i, held in enumerate(rounds, 1):
        for name, value in describe(held.report).items():
            figure(f"{label} round {i}: {name}", value)
        figure(f"{label} round {i}: daemon during (peaks)", show(held.during))
        grown = held.after.rss_kb - previous.rss_kb
        events = max(held.report.events, 1)
        figure(f"{label} round {i}: daemon after", f"{show(held.after)}; RSS {grown:+d} KiB, "
               f"{grown * 1024 / events:+.0f} B per event ({held.report.events} events)")
        previous = held.after
