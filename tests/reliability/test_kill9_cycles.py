"""kill -9 cycles: acknowledged writes survive SIGKILL at random moments, and nothing is half done.

One data dir across a run of cycles, an era (small ``--snapshot-every``, so later cycles recover
a bigger journal through snapshots, some of them cut short by the kill). Each cycle 8 clients
(tests/reliability/mutations.py) issue random mutations: registrations, label updates, packets
submitted with and without an eligible member, cancels, handoffs, drains, retirements, and
member-side acks, checkpoints, completions and failures. The daemon is SIGKILLed at a random
moment 0.1-1.0 s into the load, restarted (the time from process start to SERVING is measured),
and checked:

- VerifyChain is OK;
- every acknowledged write is there with at least its acknowledged effect: the event at the
  revision its reply carried is in the Flight Recorder with the same record, the member or
  packet exists, and the clients' models hold (label counters exact, statuses no less advanced,
  epochs no lower, cancels and completions final);
- every call cut off by the kill is all or nothing: the state shows it exactly when the Flight
  Recorder holds its events;
- no operation is half applied: the events one operation records in a single step (a
  registration and its capability_discovered, a retirement and its member_load_reset, a packet
  created, moved or failed and its placement decision) are all in the same daemon run;
- each member's and packet's current record is the one in the event at its revision (snapshot
  plus replay rebuilt exactly what was journaled), and nothing unknown exists.

A second test kills the daemon in the middle of ApplyBundle: a bundle is all there after the
restart, or not at all (tests/reliability/bundle_load.py).

The run's random seed is printed and reported; ``PHOENIX_KILL9_SEED=<seed>`` replays its
choices (thread timing still varies). CI runs 20 cycles in one era, ``make soak`` 1,000 cycles in
eras of 50, each on a fresh data dir with fresh clients.

Why eras: the daemon's state only grows. Nothing deletes a member or a packet (retired members
and finished packets stay, as history), the journal is append-only, and every check reads it
(VerifyChain walks the whole chain each cycle). So clients retiring and cancelling what they made
would not bound anything, and one data dir across 1,000 cycles made each cycle slower than the
last (360 MB of journal by cycle 494, under half the early rate): the run could not end inside
its timeout. An era of 50 cycles still recovers a journal of tens of thousands of events through
snapshots cut short by kills, which is what the long run is for; past that, more cycles on the
same dir add size, not new kinds of kill point. Each finished era is stopped cleanly (its exit
code checked) and its data dir removed, so the disk stays bounded too.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import statistics
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import flight_recorder_service_pb2_grpc as rec_grpc
from phoenixflight_api.v1 import member_pb2, packet_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import wait_until
from tests.daemon import START_TIMEOUT, PhoenixProcess
from tests.reliability import bundle_load
from tests.reliability.mutations import (
    CALL_TIMEOUT,
    MemberModel,
    MutationClient,
    Op,
    Outcome,
    PacketModel,
    member_status,
    packet_status,
)
from tests.reliability.soak import figure, scaled

SEED_ENV = "PHOENIX_KILL9_SEED"
CLIENTS = 8
CYCLES = scaled(20, 1000)
# Cycles on one data dir before a fresh one (see the module docstring): the soak's state stays
# a few times the CI run's, so every cycle of the thousand costs about the same.
ERA_CYCLES = scaled(20, 50)
# Small, so that snapshots are written (and cut short by kills) every few hundred ms of load;
# an era of the soak grows a few times bigger than the CI run, so there a few times as far apart.
SNAPSHOT_EVERY = scaled(40, 100)
# Checking every member and packet each cycle is cheap at CI size; the soak's eras hold a few
# thousand, so there only what a cycle touched is checked, and everything every few cycles
# (and at each era's end).
FULL_CHECK_EVERY = scaled(1, 5)
PLACEMENT = frozenset({"assignment_decision", "packet_waiting"})
# Events that open a daemon run: an operation never spans one of them.
RUN_STARTS = frozenset({"daemon_started", "journal_truncated"})
# What one operation records in one step: the event that needs a follow-up in the same run.
FOLLOW_UPS: dict[str, frozenset[str]] = {
    "member_registered": frozenset({"capability_discovered"}),  # for a member with capabilities
    "member_retired": frozenset({"member_load_reset"}),
    "packet_created": PLACEMENT,
    "handoff_started": PLACEMENT,
    "packet_attempt_failed": PLACEMENT,
}
# The event an acknowledged call's reply points at (its subject's revision), where it is fixed.
REPLY_EVENT = {
    "register": "member_registered", "update": "member_updated", "cancel": "packet_cancelled",
    "ack": "packet_acked", "checkpoint": "checkpoint_saved", "complete": "packet_completed",
}
MEMBER_KINDS = frozenset({"register", "update", "drain", "retire"})
ALLOWED_STATUS = {
    "ACTIVE": {"ACTIVE"}, "DRAINING": {"DRAINING", "RETIRED"}, "RETIRED": {"RETIRED"},
}


# -- the Flight Recorder, mirrored ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the checks need of one event: its subjects and the record it carries."""

    sequence: int
    type: str
    subjects: tuple[str, ...]
    member: tuple[str, str, int, str] | None  # member_id, status, incarnation, label n
    packet: tuple[str, str, int, str, str] | None  # packet_id, status, epoch, owner, step
    has_capabilities: bool


def _recorded(event: rpb.Event) -> Recorded:
    data = event.data.fields
    member = packet = None
    caps = False
    if "member" in data:
        m = data["member"].struct_value.fields
        labels = m["labels"].struct_value.fields
        n = labels["n"].string_value if "n" in labels else ""
        member = (m["member_id"].string_value, m["status"].string_value,
                  int(m["incarnation"].number_value), n)
        caps = len(m["capabilities"].list_value.values) > 0
    if "packet" in data:
        p = data["packet"].struct_value.fields
        step = p["checkpoint"].struct_value.fields["step"].string_value
        packet = (p["packet_id"].string_value, p["status"].string_value,
                  int(p["epoch"].number_value), p["owner"].string_value, step)
    subjects = (*event.member_ids, *event.packet_ids)
    return Recorded(event.sequence, event.type, subjects, member, packet, caps)


@dataclass
class Audit:
    """Every event read so far, indexed by subject, with the operations still open."""

    events: dict[int, Recorded] = field(default_factory=dict)
    about: defaultdict[str, list[Recorded]] = field(default_factory=lambda: defaultdict(list))
    open_ops: list[tuple[Recorded, str, frozenset[str]]] = field(default_factory=list)
    head: int = 0
    truncations: int = 0

    def refresh(self, stub: rec_grpc.FlightRecorderServiceStub) -> list[str]:
        """Read the new events; returns the operations found split across daemon runs."""
        problems: list[str] = []
        while True:
            page = stub.QueryEvents(
                rpb.QueryEventsRequest(after_sequence=self.head, page_size=1000), timeout=30)
            for event in page.events:
                problems += self._add(_recorded(event))
            if not page.events or self.head >= page.head_sequence:
                return problems

    def _add(self, e: Recorded) -> list[str]:
        assert e.sequence == self.head + 1, f"event {e.sequence} follows {self.head}"
        self.head = e.sequence
        self.events[e.sequence] = e
        for subject in e.subjects:
            self.about[subject].append(e)
        problems = []
        if e.type in RUN_STARTS:
            torn = " (a torn write split its group commit)" if e.type == "journal_truncated" else ""
            problems = [f"{first.type} {subject} (event {first.sequence}) has no {'/'.join(need)} "
                        f"in the same daemon run: the operation was half applied{torn}"
                        for first, subject, need in self.open_ops]
            self.open_ops = []
            self.truncations += e.type == "journal_truncated"
        for i, (_, subject, need) in enumerate(self.open_ops):
            if e.type in need and subject in e.subjects:
                del self.open_ops[i]
                break
        if e.type in FOLLOW_UPS and (e.type != "member_registered" or e.has_capabilities):
            self.open_ops.append((e, e.subjects[-1] if e.packet else e.subjects[0],
                                  FOLLOW_UPS[e.type]))
        return problems

    def find(self, subject: str, type_: str) -> list[Recorded]:
        return [e for e in self.about.get(subject, ()) if e.type == type_]


# -- the daemon's state -------------------------------------------------------------------------


@dataclass
class Observed:
    members: dict[str, member_pb2.Member] = field(default_factory=dict)
    packets: dict[str, packet_pb2.FlightPacket] = field(default_factory=dict)


def observe_all(d: PhoenixProcess) -> Observed:
    seen = Observed()
    token = ""
    while True:
        members = d.members.ListMembers(
            mpb.ListMembersRequest(page_size=1000, page_token=token), timeout=30)
        seen.members.update((m.member_id, m) for m in members.members)
        if not (token := members.next_page_token):
            break
    while True:
        packets = d.packets.ListPackets(
            ppb.ListPacketsRequest(page_size=1000, page_token=token), timeout=30)
        seen.packets.update((p.packet_id, p) for p in packets.packets)
        if not (token := packets.next_page_token):
            return seen


def observe_some(d: PhoenixProcess, member_ids: set[str], packet_ids: set[str]) -> Observed:
    seen = Observed()
    for member_id in member_ids:
        try:
            seen.members[member_id] = d.members.GetMember(
                mpb.GetMemberRequest(member_id=member_id), timeout=30).member
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND, exc
    for packet_id in packet_ids:
        try:
            seen.packets[packet_id] = d.packets.GetPacket(
                ppb.GetPacketRequest(packet_id=packet_id), timeout=30).packet
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND, exc
    return seen


def label_n(member: member_pb2.Member) -> str:
    return member.labels.get("n", "")


# -- checks ---------------------------------------------------------------------------------------


def check_acked(op: Op, audit: Audit, seen: Observed) -> list[str]:
    """The acknowledged call's event is recorded with the record the reply showed, and it stays."""
    event = audit.events.get(op.revision)
    if event is None:
        return [f"{op}: lost: event {op.revision} of its reply is not in the Flight Recorder"]
    problems = []
    if op.kind in REPLY_EVENT and event.type != REPLY_EVENT[op.kind]:
        problems.append(f"{op}: event {op.revision} is {event.type}, not {REPLY_EVENT[op.kind]}")
    if op.kind in MEMBER_KINDS:
        if event.member is None or event.member[:2] != (op.subject, op.status) or (
                event.member[3] != op.labels_n):
            problems.append(f"{op}: event {op.revision} records {event.member}")
        if op.subject not in seen.members:
            problems.append(f"{op}: lost: member {op.subject} does not exist")
    else:
        if event.packet is None or event.packet[:3] != (op.subject, op.status, op.reply_epoch):
            problems.append(f"{op}: event {op.revision} records {event.packet}")
        if op.kind == "checkpoint" and (event.packet is None or event.packet[4] != op.arg):
            problems.append(f"{op}: event {op.revision} saved another step")
        if op.subject not in seen.packets:
            problems.append(f"{op}: lost: packet {op.subject} does not exist")
    return problems


def resolve(op: Op, client: MutationClient, audit: Audit, seen: Observed,
            tally: Counter[str]) -> list[str]:
    """A call cut off by the kill: all or nothing. What happened joins the client's model."""
    found = _recorded_and_shown(op, audit, seen)
    if found is None:  # ack, fail, handoff: one record each, or covered by the follow-ups
        tally["not told apart"] += 1
        return []
    recorded, shown = found
    if recorded != shown:
        return [f"{op}: half applied: its events recorded={recorded}, state shows it={shown}"]
    tally["applied" if shown else "not applied"] += 1
    if shown:
        _adopt(op, client, seen)
    return []


def _recorded_and_shown(op: Op, audit: Audit, seen: Observed) -> tuple[bool, bool] | None:
    """Whether the Flight Recorder holds the call's events, and whether the state shows it."""
    subject, kind = op.subject, op.kind
    member, packet = seen.members.get(subject), seen.packets.get(subject)
    if kind in ("register", "submit"):
        events = audit.about.get(subject, [])
        first = "member_registered" if kind == "register" else "packet_created"
        return bool(events) and events[0].type == first, member is not None or packet is not None
    if kind in MEMBER_KINDS:
        assert member is not None, f"{op}: member vanished"
        status = member_status(member.status)
        if kind == "update":
            return any(e.member and e.member[3] == op.arg
                       for e in audit.find(subject, "member_updated")), label_n(member) == op.arg
        if kind == "drain":
            return bool(audit.find(subject, "member_draining")), status != "ACTIVE"
        return bool(audit.find(subject, "member_retired")), status == "RETIRED"
    assert packet is not None, f"{op}: packet vanished"
    status = packet_status(packet.status)
    if kind == "cancel":
        return bool(audit.find(subject, "packet_cancelled")), status == "CANCELLED"
    if kind == "complete":
        return (any(e.packet and e.packet[2] == op.epoch
                    for e in audit.find(subject, "packet_completed")),
                status == "COMPLETED" and packet.epoch == op.epoch)
    if kind == "checkpoint":
        recorded = any(e.packet and e.packet[4] == op.arg
                       for e in audit.find(subject, "checkpoint_saved"))
        # A later checkpoint may have replaced it: the state can only show it, not deny it.
        return recorded, packet.context_checkpoint.step == op.arg or recorded
    return None


def _adopt(op: Op, client: MutationClient, seen: Observed) -> None:
    """A cut-off call turned out applied: from now on it is as good as acknowledged."""
    subject = op.subject
    if op.kind == "register":
        member = seen.members[subject]
        client.members[subject] = MemberModel(
            subject, "", n=int(label_n(member)), incarnation=member.incarnation)
    elif op.kind == "submit":
        client.packets[subject] = PacketModel(subject, op.arg == "waiting")
    elif op.kind == "update":
        client.members[subject].n = int(op.arg)
    elif op.kind in ("drain", "retire"):
        model = client.members[subject]
        retired = member_status(seen.members[subject].status) == "RETIRED"
        model.status = "RETIRED" if retired else "DRAINING"
    elif op.kind == "complete":
        client.completed[subject] = op.epoch
    if op.kind in ("cancel", "complete") and subject in client.packets:
        model_p = client.packets[subject]
        model_p.terminal, model_p.closed = packet_status(seen.packets[subject].status), True


def check_models(clients: list[MutationClient], seen: Observed, full: bool) -> list[str]:
    """What the clients were told (and what cut-off calls turned out to do) still holds."""
    problems = []
    for client in clients:
        for m in client.members.values():
            got = seen.members.get(m.member_id)
            if got is None:
                if full:
                    problems.append(f"lost: member {m.member_id} ({client.name})")
                continue
            status = member_status(got.status)
            if (got.incarnation, label_n(got)) != (m.incarnation, str(m.n)):
                problems.append(f"member {m.member_id}: incarnation {got.incarnation} label "
                                f"n={label_n(got)}, acknowledged {m.incarnation} n={m.n}")
            if status not in ALLOWED_STATUS[m.status]:
                problems.append(f"member {m.member_id} is {status}, acknowledged {m.status}")
        for p in client.packets.values():
            got_packet = seen.packets.get(p.packet_id)
            if got_packet is None:
                if full:
                    problems.append(f"lost: packet {p.packet_id} ({client.name})")
                continue
            status = packet_status(got_packet.status)
            if got_packet.epoch < p.epoch:
                problems.append(f"packet {p.packet_id} at epoch {got_packet.epoch} < {p.epoch}")
            if p.terminal and status != p.terminal:
                problems.append(f"packet {p.packet_id} is {status}, acknowledged {p.terminal}")
            if p.waiting and not p.terminal and (status, got_packet.epoch) != ("PENDING", 0):
                problems.append(f"packet {p.packet_id} needs what nobody has, yet is {status}")
        for packet_id, epoch in client.completed.items():
            got_packet = seen.packets.get(packet_id)
            if got_packet is not None and (packet_status(got_packet.status), got_packet.epoch) != (
                    "COMPLETED", epoch):
                problems.append(f"packet {packet_id}: acknowledged COMPLETED at epoch {epoch}, "
                                f"is {packet_status(got_packet.status)} at {got_packet.epoch}")
    return problems


def check_records(audit: Audit, seen: Observed) -> list[str]:
    """Each current record is the one its revision's event carries."""
    problems = []
    for m in seen.members.values():
        e = audit.events.get(m.revision)
        want = (m.member_id, member_status(m.status), m.incarnation, label_n(m))
        if e is None or e.member != want:
            problems.append(f"member {want} at revision {m.revision}; the event has "
                            f"{e.member if e else None}")
    for p in seen.packets.values():
        e = audit.events.get(p.revision)
        want_p = (p.packet_id, packet_status(p.status), p.epoch, p.current_owner,
                  p.context_checkpoint.step)
        if e is None or e.packet != want_p:
            problems.append(f"packet {want_p} at revision {p.revision}; the event has "
                            f"{e.packet if e else None}")
    return problems


def check_cycle(d: PhoenixProcess, clients: list[MutationClient], audit: Audit, full: bool,
                tally: Counter[str]) -> list[str]:
    problems = audit.refresh(d.recorder)
    chain = d.recorder.VerifyChain(rpb.VerifyChainRequest(), timeout=60)
    if not chain.ok:
        problems.append(f"VerifyChain: {chain.problem} at sequence {chain.first_bad_sequence}")
    ops = [(client, op) for client in clients for op in client.cycle_ops()]
    if full:
        seen = observe_all(d)
    else:
        members = {op.subject for _, op in ops if op.kind in MEMBER_KINDS}
        seen = observe_some(d, members, {op.subject for _, op in ops} - members)
    for client, op in ops:
        if op.outcome is Outcome.ACKED:
            problems += check_acked(op, audit, seen)
        elif op.outcome is Outcome.INDETERMINATE:
            problems += resolve(op, client, audit, seen, tally)
    problems += check_models(clients, seen, full)
    problems += check_records(audit, seen)
    totals = (d.members.ListMembers(mpb.ListMembersRequest(page_size=1), timeout=30).total_size,
              d.packets.ListPackets(ppb.ListPacketsRequest(page_size=1), timeout=30).total_size)
    known = (sum(len(c.members) for c in clients), sum(len(c.packets) for c in clients))
    if totals != known:
        problems.append(f"the daemon holds {totals} members and packets; clients know {known}")
    return problems


# -- the cycle -------------------------------------------------------------------------------------


def load_then_kill(d: PhoenixProcess, clients: list[MutationClient], cycle: int,
                   rng: random.Random) -> None:
    """Start the clients, let them work 0.1-1.0 s, SIGKILL the daemon under them."""
    stop = threading.Event()
    logged = sum(len(c.log) for c in clients)
    threads = []
    for client in clients:
        client.begin(cycle)
        threads.append(threading.Thread(target=client.run, args=(d.address, stop), daemon=True))
        threads[-1].start()
    wait_until(lambda: sum(len(c.log) for c in clients) > logged, within=60)
    time.sleep(rng.uniform(0.1, 1.0))
    d.kill()
    stop.set()
    for thread in threads:
        thread.join(CALL_TIMEOUT + 10)
        assert not thread.is_alive(), "a client did not stop after the kill"


def start_timed(d: PhoenixProcess) -> float:
    """Start the daemon; seconds from process start to health SERVING."""
    started = time.monotonic()
    proc = d.spawn()
    # Quick reconnects, so the measure is not rounded up to gRPC's reconnect backoff.
    options = [("grpc.initial_reconnect_backoff_ms", 10), ("grpc.min_reconnect_backoff_ms", 10),
               ("grpc.max_reconnect_backoff_ms", 50)]
    with grpc.insecure_channel(d.address, options=options) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            assert proc.poll() is None, f"phoenixd exited {proc.returncode}:\n{d.log()[-4000:]}"
            assert time.monotonic() - started < START_TIMEOUT, "phoenixd did not start"
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1)  # type: ignore[attr-defined]
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
            except grpc.RpcError:
                time.sleep(0.01)
    elapsed = time.monotonic() - started
    d.wait_serving()
    return elapsed


def last_serving_line(d: PhoenixProcess) -> dict[str, object]:
    lines = [line for line in d.log().splitlines() if '"phoenixd serving"' in line]
    parsed: dict[str, object] = json.loads(lines[-1])
    return parsed


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ms / {max(values):.0f} ms"


@dataclass
class Totals:
    """What the eras measured, summed over the run."""

    acked: int = 0
    tally: Counter[str] = field(default_factory=Counter)
    truncations: int = 0
    to_serving: list[float] = field(default_factory=list)
    in_daemon: list[float] = field(default_factory=list)
    journals: list[tuple[int, int]] = field(default_factory=list)  # bytes, events at each end
    last_serving: dict[str, object] = field(default_factory=dict)


def run_era(data_dir: Path, first: int, last: int, seed: int, rng: random.Random,
            totals: Totals) -> None:
    """Cycles first..last on a fresh data dir with fresh clients, then a clean stop."""
    # Each era's clients draw their own streams, still fixed by the run's seed.
    clients = [MutationClient(i, seed + first) for i in range(CLIENTS)]
    d = PhoenixProcess(data_dir, "--snapshot-every", str(SNAPSHOT_EVERY))
    audit = Audit()
    d.start()
    try:
        for cycle in range(first, last + 1):
            load_then_kill(d, clients, cycle, rng)
            totals.to_serving.append(start_timed(d) * 1000)
            totals.in_daemon.append(float(str(last_serving_line(d)["recovery_ms"])))
            full = cycle % FULL_CHECK_EVERY == 0 or cycle == last
            problems = check_cycle(d, clients, audit, full, totals.tally)
            assert not problems, f"seed {seed}, cycle {cycle}:\n" + "\n".join(problems[:40])
        assert d.stop() == 0
    finally:
        d.kill()
    totals.acked += sum(op.outcome is Outcome.ACKED for c in clients for op in c.log)
    totals.truncations += audit.truncations
    totals.journals.append(((d.data_dir / "audit.jsonl").stat().st_size, audit.head))
    totals.last_serving = last_serving_line(d)


@pytest.mark.timeout(scaled(400, 7200))
def test_acknowledged_writes_survive_kill_9_cycles(tmp_path: Path) -> None:
    seed = int(os.environ.get(SEED_ENV) or random.randrange(2**32))
    print(f"kill -9 cycles: seed {seed} (replay its choices with {SEED_ENV}={seed})")
    rng = random.Random(seed)
    totals = Totals()
    started = time.monotonic()
    for first in range(1, CYCLES + 1, ERA_CYCLES):
        last = min(first + ERA_CYCLES - 1, CYCLES)
        era_started = time.monotonic()
        data_dir = tmp_path / f"era{first}"
        run_era(data_dir, first, last, seed, rng, totals)
        size, events = totals.journals[-1]
        print(f"kill -9 cycles {first}-{last}: {time.monotonic() - era_started:.0f} s, "
              f"journal {size / 1e6:.1f} MB, {events} events "
              f"({time.monotonic() - started:.0f} s in all)", flush=True)
        if last < CYCLES:  # keep the last era's files for a look after the run
            shutil.rmtree(data_dir)
            data_dir.with_name(f"{data_dir.name}.phoenixd.log").unlink()
    serving = totals.last_serving
    size, events = totals.journals[-1]
    biggest = max(totals.journals)
    figure("kill -9 seed", seed)
    figure("kill -9 cycles (8 clients, SIGKILL 0.1-1.0 s into load)",
           f"{CYCLES}, {len(totals.journals)} data dir(s) of {ERA_CYCLES} cycles")
    figure("kill -9 acknowledged writes checked / lost", f"{totals.acked} / 0")
    figure("kill -9 calls cut off by the kill: applied / not / not told apart",
           f"{totals.tally['applied']} / {totals.tally['not applied']} / "
           f"{totals.tally['not told apart']}")
    figure("kill -9 torn tails truncated at restart", totals.truncations)
    figure("kill -9 recovery, process start to SERVING (median / max)", _ms(totals.to_serving))
    figure("kill -9 recovery inside phoenixd (median / max)", _ms(totals.in_daemon))
    figure("kill -9 journal at the end", f"{size / 1e6:.1f} MB, {events} events, last "
           f"restart replayed {serving['replayed']} after snapshot {serving['snapshot_revision']}")
    if len(totals.journals) > 1:
        figure("kill -9 biggest journal (one data dir)",
               f"{biggest[0] / 1e6:.1f} MB, {biggest[1]} events")


# -- kill -9 during an apply -----------------------------------------------------------

APPLY_CYCLES = scaled(6, 100)
APPLY_PACKETS = 200  # an apply of this size takes a few hundred ms: the kill lands inside it


def _apply_until_killed(d: PhoenixProcess, archive: bytes) -> None:
    with contextlib.suppress(grpc.RpcError, ValueError):  # ValueError: channel closed under us
        bundle_load.apply(d, archive)


def test_kill_9_during_apply_leaves_all_of_a_bundle_or_none(tmp_path: Path) -> None:
    """SIGKILL at a random moment of an ApplyBundle (verifying, keeping the archive, recording
    its one event, placing its packets): after the restart the bundle, its namespace and every
    one of its packets are there, or none of them; applying it again then lands it whole."""
    seed = int(os.environ.get(SEED_ENV) or random.randrange(2**32))
    print(f"kill -9 during apply: seed {seed} (replay its choices with {SEED_ENV}={seed})")
    rng = random.Random(seed)
    tally: Counter[bool] = Counter()
    d = PhoenixProcess(tmp_path / "data", *bundle_load.FLAGS).start()
    try:
        for cycle in range(APPLY_CYCLES):
            name = f"k9-{cycle}"
            archive = bundle_load.bundle(name, APPLY_PACKETS)
            caller = threading.Thread(target=_apply_until_killed, args=(d, archive),
                                      daemon=True)
            caller.start()
            time.sleep(rng.uniform(0.0, 0.4))
            d.kill()
            caller.join(CALL_TIMEOUT)
            d.start()
            applied = bundle_load.outcome(d, name, APPLY_PACKETS)
            tally[applied] += 1
            verified = d.recorder.VerifyChain(rpb.VerifyChainRequest(), timeout=CALL_TIMEOUT)
            assert verified.ok, verified.problem
            if not applied:  # a kept archive without its event is harmless: it is reused
                assert bundle_load.apply(d, archive).revision > 0
                assert bundle_load.outcome(d, name, APPLY_PACKETS)
    finally:
        d.kill()
    figure("kill -9 during apply: cycles (applied / not)",
           f"{APPLY_CYCLES} ({tally[True]} / {tally[False]}), {APPLY_PACKETS} packets each")
