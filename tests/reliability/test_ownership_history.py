"""Ownership under churn, checked from a recorded history: no write outside its grant, ever.

A real phoenixd runs while packets are submitted continuously and worked by member processes
(the SDK's Member, every member-side call recorded; tests/reliability/member_worker.py), and
the membership churns: members join (some as a new incarnation of a dead one), retire, drain
(SIGTERM), are killed (SIGKILL), have their session stream cut; the operator hands packets
off; the daemon is restarted with kill -9 and with SIGTERM; and one owner is paused with
SIGSTOP for twice its lease TTL, until the daemon has declared it FAILED and moved its work,
then continued -- it writes again with its old epoch at once. Meanwhile a zombie client
replays writes it saw members make, with their credentials, once it has seen the packet move
on (or at the current epoch as another member): every one of those writes must be refused.

At the end the daemon is killed -9 once more and restarted; the final packets and the whole
journal (the Flight Recorder) are read back, the hash chain is verified, and the checker
(tests/reliability/history.py) holds the history against both: epochs strictly increase per
packet, one owner per (packet, epoch), every accepted write carried the current grant, the
journal order agrees with real time, and what was acknowledged survived the restarts. The
run must find 0 violations, refuse 100% of the writes known stale when they were sent, and
reach its count of them (figures: operations, grants, stale writes refused and how).

CI size: one round of every kind of churn (~20 s of churn, ~30 s in all); `make soak`:
rounds for five minutes, >= 1,000 stale writes refused.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from phoenixflight import Client, PhoenixFlightError
from phoenixflight_api.v1 import member_pb2
from phoenixflight_api.v1 import packet_pb2 as pkt
from tests.api.agents import wait_until
from tests.daemon import PhoenixProcess
from tests.reliability.history import (
    INDETERMINATE,
    OK,
    REFUSALS,
    WRITES,
    Entry,
    HistoryLog,
    Seen,
    check,
    load_history,
)
from tests.reliability.member_worker import CAPABILITY, outcome_of, seen_of
from tests.reliability.soak import SOAK, figure, scaled

ROOT = Path(__file__).resolve().parents[2]
TTL = 2.0  # every member's lease
GRACE = 1.0  # --suspect-grace: FAILED this long after SUSPECT
RUN_SECONDS = scaled(20, 300)
STALE_GOAL = scaled(100, 1000)
IN_FLIGHT = 8  # unfinished packets the submitter keeps
MIN_WORKERS, MAX_WORKERS = 3, 6
ZOMBIE_PAUSE = 0.03  # between two replays: ~25 a second at most
HANDOFF_CHANCE = 0.25  # the submitter hands a packet off about once a second
CALL_TIMEOUT = 5.0
LIVE = ("pending", "assigned", "running")
# One round of churn; CI runs one, the soak as many as fit in RUN_SECONDS.
ROUND = ("join", "handoff", "cut", "pause", "kill", "restart_hard", "retire", "join", "drain",
         "handoff", "restart_clean", "cut")
FAILED = member_pb2.MEMBER_STATUS_FAILED


def _recorded(log: HistoryLog, kind: str, packet_id: str,
              call: Callable[[], Sequence[pkt.FlightPacket]], *, member_id: str = "",
              epoch: int = 0, tag: str = "") -> list[Seen] | None:
    """Make one call, recorded; what it showed, or None if it did not succeed."""
    op = log.invoke(kind, packet_id, member_id, epoch, tag)
    try:
        packets = call()
    except (PhoenixFlightError, ValueError) as exc:  # ValueError: a client closed meanwhile
        log.done(op, outcome_of(exc))
        return None
    seen = [seen_of(p) for p in packets]
    log.done(op, OK, seen)
    return seen


def _stale(seen: Seen, epoch: int, member_id: str) -> bool:
    """Whether ``seen`` proves that ``member_id`` can never again write at ``epoch``."""
    return seen.epoch > epoch or (seen.epoch == epoch and (
        seen.status == "PENDING" or seen.owner not in ("", member_id)))


class Worker:
    """One member worker process."""

    def __init__(self, run_dir: Path, endpoint: str, member_id: str, launch: int) -> None:
        self.member_id = member_id
        self.process = f"{member_id}.{launch}"
        self.history = run_dir / f"{self.process}.jsonl"
        with open(run_dir / f"{self.process}.log", "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.reliability.member_worker", "--endpoint", endpoint,
                 "--member-id", member_id, "--process", self.process, "--history",
                 str(self.history), "--lease-ttl", str(TTL), "--seed", str(launch)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            )

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, sig: signal.Signals) -> None:
        if self.alive:
            self.proc.send_signal(sig)

    def kill(self) -> None:
        self.send(signal.SIGKILL)  # a stopped process dies too
        self.proc.wait(10)


class Run:
    """The daemon, the workers, the operator's and the zombie's logs, and the churn."""

    def __init__(self, daemon: PhoenixProcess, run_dir: Path) -> None:
        self.daemon = daemon
        self.run_dir = run_dir
        self.rng = random.Random(20261121)  # the churn's; each thread has its own
        self.workers: list[Worker] = []
        self.stop = threading.Event()
        self.log = HistoryLog(run_dir / "operator.jsonl", "operator")
        self._clients: list[Client] = []
        self.pf = self._client()
        self.churn: Counter[str] = Counter()
        self.paused: list[tuple[str, float, list[Seen]]] = []  # (process, continued at, moved)
        self._launches = 0

    def _client(self) -> Client:
        # A fresh channel after a restart: an old one may sit in its reconnect backoff.
        client = Client(self.daemon.address, timeout=CALL_TIMEOUT)
        self._clients.append(client)
        return client

    def close(self) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.kill()
        for client in self._clients:
            client.close()
        self.log.close()

    # -- the operator ----------------------------------------------------------------------

    def read_live(self, log: HistoryLog | None = None) -> list[Seen] | None:
        return _recorded(log or self.log, "read", "", lambda: self.pf.list_packets(
            statuses=LIVE, page_size=1000).packets)

    def read(self, packet_id: str, log: HistoryLog | None = None) -> Seen | None:
        seen = _recorded(log or self.log, "read", packet_id,
                         lambda: [self.pf.get_packet(packet_id)])
        return seen[0] if seen else None

    def submitter(self) -> None:
        """Keep IN_FLIGHT packets unfinished, reading them all (recorded) as it goes, and now
        and then hand one off (so that epochs move on without anyone failing, too)."""
        rng = random.Random(1)
        submitted = 0
        while not self.stop.is_set():
            live = self.read_live()
            for _ in range(IN_FLIGHT - len(live) if live is not None else 0):
                submitted += 1
                self._submit(f"pk-{submitted}", rng)
            if live and rng.random() < HANDOFF_CHANCE:
                self._handoff(live, rng)
            self.stop.wait(0.2)

    def _submit(self, packet_id: str, rng: random.Random) -> None:
        envelope = {
            "packet_id": packet_id, "required_capabilities": [CAPABILITY],
            "context_checkpoint": {"state": {"steps": rng.randint(2, 6)}, "step": "submitted"},
            "strategy": rng.choice(("trust", "ring", "binpack")),
        }
        _recorded(self.log, "submit", packet_id, lambda: [self.pf.submit_packet(envelope)])

    # -- the zombie ------------------------------------------------------------------------

    def zombie(self) -> None:
        """Replay writes members made, once they are known stale; each must be refused."""
        log = HistoryLog(self.run_dir / "zombie.jsonl", "zombie")
        rng = random.Random(2)
        grants: dict[tuple[str, int, str], str] = {}  # (packet, epoch, member) -> credential
        newest: dict[str, tuple[float, str]] = {}  # member -> (when, credential) last used
        offsets: dict[Path, int] = {}
        replays = 0
        while not self.stop.is_set():
            self._harvest(grants, newest, offsets)
            if not grants:
                self.stop.wait(0.2)
                continue
            (packet_id, epoch, member_id), credential = self._pick(grants, rng)
            if rng.random() < 0.5:  # as the member's latest incarnation: the epoch must fence it
                credential = newest[member_id][1]
            seen = self.read(packet_id, log)
            if seen is not None and not _stale(seen, epoch, member_id):
                # Still its grant: write as some other member at this epoch instead.
                others = [(m, c) for (_, _, m), c in grants.items() if m != seen.owner]
                member_id, credential = rng.choice(others) if others else ("", "")
                epoch = seen.epoch
            if seen is None or not member_id:
                self.stop.wait(0.2)
                continue
            replays += 1
            self._write(log, rng.choice(sorted(WRITES)), packet_id, epoch, member_id,
                        credential, replays)
            self.stop.wait(ZOMBIE_PAUSE)
        log.close()

    def _pick(self, grants: dict[tuple[str, int, str], str], rng: random.Random
              ) -> tuple[tuple[str, int, str], str]:
        """A grant to replay: mostly one a later grant of its packet superseded (the
        epoch fence), otherwise any (refused as another member's or a finished one's)."""
        latest: dict[str, int] = {}
        for packet_id, epoch, _ in grants:
            latest[packet_id] = max(latest.get(packet_id, 0), epoch)
        old = [g for g in grants.items() if g[0][1] < latest[g[0][0]]]
        if old and rng.random() < 0.7:
            return rng.choice(old)
        return rng.choice(list(grants.items()))

    def _write(self, log: HistoryLog, kind: str, packet_id: str, epoch: int, member_id: str,
               credential: str, n: int) -> None:
        pf, step = self.pf, f"zombie-{n}"
        calls: dict[str, Callable[[], pkt.FlightPacket]] = {
            "ack": lambda: pf.ack_packet(member_id, credential, packet_id, epoch),
            "checkpoint": lambda: pf.save_checkpoint(member_id, credential, packet_id, epoch,
                                                     {"zombie": n}, step),
            "complete": lambda: pf.complete_packet(member_id, credential, packet_id, epoch,
                                                   {"zombie": n}),
            "fail": lambda: pf.fail_packet(member_id, credential, packet_id, epoch, "zombie"),
        }
        _recorded(log, kind, packet_id, lambda: [calls[kind]()], member_id=member_id,
                  epoch=epoch, tag=step if kind == "checkpoint" else "")

    def _harvest(self, grants: dict[tuple[str, int, str], str],
                 newest: dict[str, tuple[float, str]], offsets: dict[Path, int]) -> None:
        """Writes the workers sent so far, with the credential each carried."""
        for path in self.run_dir.glob("w*.jsonl"):
            with open(path, "rb") as f:
                f.seek(offsets.get(path, 0))
                data = f.read()
            complete = data[:data.rfind(b"\n") + 1]  # a line being written waits its turn
            offsets[path] = offsets.get(path, 0) + len(complete)
            for line in complete.decode().splitlines():
                record = _load_line(line)
                if record.get("credential"):
                    key = (record["packet"], record["epoch"], record["member"])
                    grants[key] = record["credential"]
                    when = record["invoke"]
                    if when > newest.get(record["member"], (0.0, ""))[0]:
                        newest[record["member"]] = (when, record["credential"])

    # -- churn -----------------------------------------------------------------------------

    def live_workers(self) -> list[Worker]:
        return [w for w in self.workers if w.alive]

    def join(self) -> None:
        if len(self.live_workers()) >= MAX_WORKERS:
            return
        taken = {w.member_id for w in self.live_workers()}
        dead = sorted({w.member_id for w in self.workers} - taken)
        self._launches += 1
        member_id = (self.rng.choice(dead) if dead and self.rng.random() < 0.5
                     else f"w{self._launches}")  # a new incarnation, or a new member
        self.workers.append(Worker(self.run_dir, self.daemon.address, member_id,
                                   self._launches))

    def top_up(self) -> None:
        while len(self.live_workers()) < MIN_WORKERS:
            self.join()

    def _victim(self) -> Worker | None:
        live = self.live_workers()
        return self.rng.choice(live) if len(live) > 1 else None

    def kill(self) -> None:
        if (worker := self._victim()) is not None:
            worker.kill()

    def drain(self) -> None:
        if (worker := self._victim()) is not None:
            worker.send(signal.SIGTERM)

    def cut(self) -> None:
        if (worker := self._victim()) is not None:
            worker.send(signal.SIGUSR1)

    def retire(self) -> None:
        if (worker := self._victim()) is not None:
            op = self.log.invoke("retire", member_id=worker.member_id)
            try:
                self.pf.retire_member(worker.member_id, "churn")
                self.log.done(op, OK)
            except PhoenixFlightError as exc:
                self.log.done(op, outcome_of(exc))

    def handoff(self) -> None:
        self._handoff(self.read_live() or [], self.rng)

    def _handoff(self, live: list[Seen], rng: random.Random) -> None:
        owned = [s for s in live if s.owner]
        if owned:
            packet_id = rng.choice(owned).packet_id
            _recorded(self.log, "handoff", packet_id,
                      lambda: [self.pf.handoff_packet(packet_id, reason="churn")])

    def restart_hard(self) -> None:
        self.daemon.kill()
        self.daemon.start()
        self.pf = self._client()

    def restart_clean(self) -> None:
        self.daemon.stop()
        self.daemon.start()
        self.pf = self._client()

    def pause(self) -> None:
        """SIGSTOP an owner for 2x its TTL and until the daemon moved its work; SIGCONT."""
        found = self._owner_at_work()
        if found is None:
            return
        worker, held, incarnation = found
        worker.send(signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            wait_until(lambda: time.monotonic() - stopped >= 2 * TTL
                       and self._failed(worker.member_id, incarnation), within=60, every=0.2)
            # Seen moved on (recorded) before it wakes up: its next writes are known stale.
            moved = [s for s in (self.read(h.packet_id) for h in held) if s is not None]
        finally:
            worker.send(signal.SIGCONT)
        self.paused.append((worker.process, time.monotonic(), moved))

    def _owner_at_work(self) -> tuple[Worker, list[Seen], int] | None:
        """A live worker owning a RUNNING packet (it acked it, so it writes to it again),
        what it owns, and its incarnation."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            live = self.read_live() or []
            running = {s.owner for s in live if s.status == "RUNNING"}
            candidates = [w for w in self.live_workers() if w.member_id in running]
            if candidates:
                worker = self.rng.choice(candidates)
                try:
                    incarnation = self.pf.get_member(worker.member_id).incarnation
                except PhoenixFlightError:
                    continue
                return worker, [s for s in live if s.owner == worker.member_id], incarnation
            time.sleep(0.1)
        return None

    def _failed(self, member_id: str, incarnation: int) -> bool:
        try:
            member = self.pf.get_member(member_id)
        except PhoenixFlightError:
            return False
        return member.incarnation == incarnation and member.status == FAILED

    def paused_writes(self) -> list[tuple[str, str]]:
        """(packet, outcome) of each write a paused owner sent after SIGCONT with an epoch
        it had been seen to lose."""
        found = []
        for process, continued, moved in self.paused:
            lost = {s.packet_id: s for s in moved}
            for op in load_history([self.run_dir / f"{process}.jsonl"]):
                if op.kind in WRITES and op.invoke > continued and op.packet_id in lost and (
                        _stale(lost[op.packet_id], op.epoch, op.member_id)):
                    found.append((op.packet_id, op.outcome))
        return found

    def paused_proved(self) -> bool:
        return any(outcome in REFUSALS for _, outcome in self.paused_writes())


def _load_line(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    daemon = PhoenixProcess(tmp_path / "data", "--suspect-grace", str(GRACE),
                            "--snapshot-every", "500").start()
    run_dir = tmp_path / "history"
    run_dir.mkdir()
    churn = Run(daemon, run_dir)
    try:
        yield churn
    finally:
        churn.close()
        daemon.kill()


def _churn(run: Run) -> float:
    """Run the rounds of churn; returns how long they took."""
    started = time.monotonic()
    threads = [threading.Thread(target=run.submitter, daemon=True),
               threading.Thread(target=run.zombie, daemon=True)]
    run.top_up()
    for thread in threads:
        thread.start()
    hard_stop = started + RUN_SECONDS + 45  # a pause that proved nothing is tried again
    step = 0
    while time.monotonic() < hard_stop and (
            step < len(ROUND) or time.monotonic() - started < RUN_SECONDS
            or not run.paused_proved()):
        action = ROUND[step % len(ROUND)]
        getattr(run, action)()
        run.churn[action] += 1
        run.top_up()
        run.stop.wait(1.0)
        step += 1
    run.stop.set()
    for thread in threads:
        thread.join(30)
    return time.monotonic() - started


def test_no_write_outside_its_grant_under_churn(run: Run) -> None:
    seconds = _churn(run)
    for worker in run.workers:
        worker.kill()
    run.restart_hard()  # acknowledged work must survive this last kill -9
    pf = run.pf
    final = {p.packet_id: seen_of(p) for p in pf.iter_packets(page_size=1000)}
    journal = [Entry.of(e.sequence, e.type, e.actor, json_format.MessageToDict(e.data))
               for e in pf.iter_events(page_size=1000)]
    chain = pf.verify_chain()
    ops = load_history(sorted(run.run_dir.glob("*.jsonl")))
    report = check(ops, journal, final)

    decided = report.stale_writes - report.stale_indeterminate
    refused = 100.0 * report.stale_refused / max(1, decided)
    figure("ownership history: size", "soak" if SOAK else "ci")
    figure("ownership history: churn", f"{seconds:.0f} s; " + ", ".join(
        f"{k} x{v}" for k, v in sorted(run.churn.items())))
    figure("ownership history: operations recorded", f"{report.ops} ({report.writes_ok} "
           f"accepted writes), {len(journal)} journal events, {report.grants} grants")
    figure("ownership history: packets completed",
           sum(s.status == "COMPLETED" for s in final.values()))
    figure("ownership history: stale writes refused", f"{report.stale_refused} of "
           f"{report.stale_writes} known stale ({refused:.0f}%; "
           f"{report.stale_indeterminate} indeterminate)")
    figure("ownership history: refusals by code",
           ", ".join(f"{k} {v}" for k, v in sorted(report.refusals.items())))
    paused = run.paused_writes()
    figure("ownership history: paused owners' stale writes after SIGCONT refused",
           f"{sum(o in REFUSALS for _, o in paused)} of {len(paused)} "
           f"({sum(o == INDETERMINATE for _, o in paused)} indeterminate; "
           f"{len(run.paused)} pauses of 2x TTL)")
    figure("ownership history: violations", len(report.violations))

    assert chain.ok, chain.problem
    assert not report.violations, "\n".join(v.kind + ": " + v.detail
                                            for v in report.violations[:30])
    assert report.stale_refused >= STALE_GOAL, report
    assert paused and all(outcome in REFUSALS for _, outcome in paused if outcome != INDETERMINATE)
    assert any(s.status == "COMPLETED" for s in final.values())
    assert report.grants > len(final)  # packets did move
