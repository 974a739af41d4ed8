"""Failpoints at every named point, with every action that means something there, against a
real phoenixd under load: worker threads register members, submit packets and hand them off
while snapshots are taken every few events. The daemon either dies at the point (``crash``:
exit 86, like a power cut; ``error``: exit 70, the journal's and snapshots' I/O errors are
fatal by design) or rides through it (``sleep``: a slow disk or a slow notice; ``enospc`` on a
snapshot: the snapshot is skipped). Then it is killed, restarted without failpoints, and:

- every acknowledged write is there: each member, each packet at its acknowledged epoch or a
  later one, with the acknowledged owner while the epoch is the same (epochs never go back);
- the chain verifies (VerifyChain) and the daemon takes writes again;
- no packet has two owners at one epoch in the journal's assignment decisions, each packet's
  epoch is the newest the journal holds, and epochs rise with every decision;
- every owned packet has exactly one owner, and that owner, connecting, is told of it at its
  current epoch; nobody else is. For ``assignment.before_notify`` the cut notice is a handoff's
  (one worker, so the order is known): the handoff survives though its reply never came.

tests/api/test_api_durability.py and tests/api/packets/test_scenario_restart_mid_handoff.py
hold the single-scenario versions (an fsync error after plain registrations, a crash before a
manual handoff's notice); the full disk (``journal.write=enospc``, ``disk.full``) and the
slow disk are in test_faults.py. An ApplyBundle cut at the bundle's own points and at the
journal's is all there after the restart, or not at all. The PHOENIX_FAILPOINTS syntax is
checked here too."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from phoenixd import failpoints
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_pb2
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import envelope, event_data
from tests.conftest import register
from tests.daemon import PhoenixProcess
from tests.reliability import bundle_load
from tests.reliability.soak import figure, scaled

EXIT_FATAL = 70  # phoenixd.app.EXIT_JOURNAL_FAILURE
CALL_TIMEOUT = 15.0
# How long a daemon armed to die may take to reach its point and exit, on a loaded machine.
DEATH_TIMEOUT = 60.0
OWNED = (packet_pb2.PACKET_STATUS_ASSIGNED, packet_pb2.PACKET_STATUS_RUNNING)
MOVABLE = packet_pb2.HandoffPolicy(allowed=True)


# -- the workload ---------------------------------------------------------------------


@dataclass
class Acked:
    """What the daemon acknowledged, from every worker thread."""

    credentials: dict[str, str] = field(default_factory=dict)
    packets: dict[str, tuple[int, str]] = field(default_factory=dict)
    """packet id -> (epoch, owner) of the newest acknowledged reply about it."""
    errors: list[str] = field(default_factory=list)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def member(self, reply: mpb.RegisterMemberResponse) -> None:
        with self.lock:
            self.credentials[reply.member.member_id] = reply.credential
            self.calls += 1

    def packet(self, packet: packet_pb2.FlightPacket) -> None:
        with self.lock:
            self.calls += 1
            epoch, _ = self.packets.get(packet.packet_id, (-1, ""))
            if packet.epoch >= epoch:
                self.packets[packet.packet_id] = (packet.epoch, packet.current_owner)


def _worker(d: PhoenixProcess, acked: Acked, worker: int, steps: int) -> None:
    """Per step: a member joins, a packet is submitted, every other step one is handed off."""
    members, packets = d.members, d.packets
    try:
        for i in range(steps):
            acked.member(register(d, f"w{worker}-{i}", "ocr", ttl=120))
            packet = envelope(f"fp{worker}-{i}", "ocr", handoff=MOVABLE)
            reply = packets.SubmitPacket(ppb.SubmitPacketRequest(packet=packet),
                                         timeout=CALL_TIMEOUT)
            acked.packet(reply.packet)
            if i % 2 == 1:
                moved = packets.HandoffPacket(ppb.HandoffPacketRequest(
                    packet_id=f"fp{worker}-{i - 1}", reason="rebalance by test"),
                    timeout=CALL_TIMEOUT)
                acked.packet(moved.packet)
        members.ListMembers(mpb.ListMembersRequest(page_size=1), timeout=CALL_TIMEOUT)
    except grpc.RpcError as exc:  # the daemon died at its failpoint (or a defect: see below)
        with acked.lock:
            acked.errors.append(f"w{worker}: {exc.code().name} {exc.details()}")
    except (ValueError, AssertionError) as exc:  # the channel was closed under us
        with acked.lock:
            acked.errors.append(f"w{worker}: {exc!r}")


def run_workload(d: PhoenixProcess, workers: int, steps: int) -> Acked:
    acked = Acked()
    threads = [threading.Thread(target=_worker, args=(d, acked, w, steps), daemon=True)
               for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEATH_TIMEOUT + steps * 3 * CALL_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return acked


# -- what every restart must show -----------------------------------------------------


def all_events(d: PhoenixProcess, *types: str) -> list[rpb.Event]:
    events: list[rpb.Event] = []
    token = ""
    while True:
        page = d.recorder.QueryEvents(rpb.QueryEventsRequest(
            types=list(types), page_size=1000, page_token=token), timeout=CALL_TIMEOUT)
        events.extend(page.events)
        if not (token := page.next_page_token):
            return events


def all_packets(d: PhoenixProcess) -> dict[str, packet_pb2.FlightPacket]:
    listing = d.packets.ListPackets(ppb.ListPacketsRequest(page_size=1000), timeout=CALL_TIMEOUT)
    assert not listing.next_page_token
    return {p.packet_id: p for p in listing.packets}


def heard_on_connecting(d: PhoenixProcess, member_id: str, credential: str) -> dict[str, int]:
    """What a member's new session says it owns (packet id -> epoch); then a clean goodbye."""
    requests: queue.Queue[mpb.OpenSessionRequest | None] = queue.Queue()
    requests.put(mpb.OpenSessionRequest(
        open=mpb.SessionOpen(member_id=member_id, credential=credential)))
    call = d.members.OpenSession(iter(requests.get, None), timeout=CALL_TIMEOUT)
    owned: dict[str, int] = {}
    try:
        for message in call:
            kind = message.WhichOneof("kind")
            if kind == "assignment":
                owned[message.assignment.packet.packet_id] = message.assignment.epoch
            elif kind == "assignments_synced":
                assert message.assignments_synced.count == len(owned)
                requests.put(mpb.OpenSessionRequest(
                    goodbye=mpb.SessionGoodbye(reason="checked what I own")))
            elif kind == "closing":
                break
    finally:
        requests.put(None)
        call.cancel()
    return owned


def check_invariants(d: PhoenixProcess, acked: Acked) -> dict[str, packet_pb2.FlightPacket]:
    """The restart's promises (see the module docstring); returns the packets as they are."""
    assert d.recorder.VerifyChain(rpb.VerifyChainRequest(), timeout=CALL_TIMEOUT).ok

    members = d.members.ListMembers(mpb.ListMembersRequest(page_size=1000), timeout=CALL_TIMEOUT)
    assert set(acked.credentials) <= {m.member_id for m in members.members}

    packets = all_packets(d)
    for packet_id, (epoch, owner) in acked.packets.items():
        now = packets[packet_id]
        assert now.epoch >= epoch, f"{packet_id}: epoch went back from {epoch} to {now.epoch}"
        if now.epoch == epoch:
            assert now.current_owner == owner, f"{packet_id}@{epoch}: {owner} became " \
                f"{now.current_owner} at the same epoch"

    owners: dict[tuple[str, int], str] = {}
    newest: dict[str, int] = {}
    for event in all_events(d, "assignment_decision"):
        record = event_data(event)["packet"]
        packet_id, epoch, owner = record["packet_id"], int(record["epoch"]), record["owner"]
        assert owners.setdefault((packet_id, epoch), owner) == owner, (
            f"{packet_id} had two owners at epoch {epoch}: {owners[(packet_id, epoch)]}, {owner}")
        assert epoch > newest.get(packet_id, 0), f"{packet_id}: epoch {epoch} did not rise"
        newest[packet_id] = epoch
    for packet_id, (epoch, owner) in acked.packets.items():
        if epoch:
            assert owners.get((packet_id, epoch)) == owner, f"{packet_id}@{epoch} not journaled"
    for packet_id, packet in packets.items():
        assert packet.epoch == newest.get(packet_id, 0), f"{packet_id} is not at its newest epoch"

    told: dict[str, tuple[str, int]] = {}
    for member_id, credential in acked.credentials.items():
        for packet_id, epoch in heard_on_connecting(d, member_id, credential).items():
            assert packet_id not in told, f"{packet_id} told to {told[packet_id]} and {member_id}"
            told[packet_id] = (member_id, epoch)
    for packet_id, packet in packets.items():
        owned = packet.status in OWNED
        if owned and packet.current_owner in acked.credentials:
            assert told.get(packet_id) == (packet.current_owner, packet.epoch), packet_id
        elif not owned:
            assert packet_id not in told, f"{packet_id} is {packet.status} but was told as owned"

    register(d, "after-restart")  # and it takes writes again
    return packets


# -- the matrix -----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    point: str
    action: str
    exit_code: int | None  # None: the daemon rides through it
    workers: int = 3

    @property
    def id(self) -> str:
        return f"{self.point}={self.action}"


CRASH, FATAL = failpoints.CRASH_EXIT_CODE, EXIT_FATAL
# Journal points fire once per batch (the 1st is the daemon's start), snapshot points once per
# snapshot (the 2nd replaces a first one), the notice point once per assignment sent: with one
# worker the 3rd is the handoff of fp0-0. Left out as adding nothing: a crash at journal.write
# (the batch is written and not fsynced, as at journal.before_fsync) and a sleep between the
# snapshot renames and the directory fsync (nothing waits there).
CASES = [
    Case("journal.write", "error@10", FATAL),
    Case("journal.before_fsync", "error@10", FATAL),
    Case("journal.before_fsync", "crash@10", CRASH),
    Case("journal.before_fsync", "sleep:300@3..6", None),
    Case("journal.after_fsync", "error@10", FATAL),
    Case("journal.after_fsync", "crash@10", CRASH),
    Case("journal.after_fsync", "sleep:300@3..6", None),
    Case("snapshot.before_rename", "error@2", FATAL),
    Case("snapshot.before_rename", "crash@2", CRASH),
    Case("snapshot.before_rename", "enospc@2..3", None),
    Case("snapshot.before_rename", "sleep:300", None),
    Case("snapshot.after_rename", "error@2", FATAL),
    Case("snapshot.after_rename", "crash@2", CRASH),
    Case("assignment.before_notify", "error@3", FATAL, workers=1),
    Case("assignment.before_notify", "crash@3", CRASH, workers=1),
    Case("assignment.before_notify", "sleep:300@2..4", None, workers=1),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invariants_hold_at_every_failpoint(tmp_path: Path, case: Case) -> None:
    steps = scaled(5, 40)
    armed = {failpoints.ENV: case.id}
    d = PhoenixProcess(tmp_path / "data", "--snapshot-every", "4", env=armed).start()
    try:
        acked = run_workload(d, case.workers, steps)
        assert d.proc is not None
        if case.exit_code is None:
            assert acked.errors == [], "the daemon should have ridden through " + case.id
            assert d.proc.poll() is None
            if "enospc" in case.action:
                assert "snapshot skipped: no space left on device" in d.log()
        else:
            assert d.proc.wait(DEATH_TIMEOUT) == case.exit_code, d.log()[-3000:]
        d.kill()  # and, riding through or not, a power cut on top
        d.env = None
        began = time.monotonic()
        d.start()
        restart = time.monotonic() - began
        packets = check_invariants(d, acked)
        figure(f"failpoint {case.id}", f"{acked.calls} calls acknowledged before, "
               f"{len(packets)} packets checked after a restart of {restart:.2f} s")
        if case.point == "assignment.before_notify" and case.exit_code is not None:
            # The 3rd notice was fp0-0's handoff: journaled (epoch 2), never answered, never
            # told. It has one owner, the new one, who heard of it on connecting (above).
            assert acked.packets["fp0-0"][0] == 1
            moved = packets["fp0-0"]
            assert moved.epoch == 2 and moved.current_owner != acked.packets["fp0-0"][1]
            assert list(moved.previous_owners) == [acked.packets["fp0-0"][1]]
    finally:
        d.kill()


# -- around an apply ------------------------------------------------------------------

APPLY_PACKETS = 50
# (spec, exit code or None to ride through, applied after the restart: True, False, or None
# for either). The 2nd journal batch is the apply's (the 1st is the daemon's start).
APPLY_CASES = [
    ("bundle.after_keep=crash", CRASH, False),  # the archive is kept, its event never made
    ("bundle.after_keep=enospc", None, False),  # refused (RESOURCE_EXHAUSTED); rides through
    ("disk.full=on", None, False),  # short of the reserve: refused before the archive is kept
    ("journal.before_fsync=crash@2", CRASH, None),  # written, not fsynced: either, whole
    ("journal.before_fsync=error@2", FATAL, None),
    ("journal.after_fsync=crash@2", CRASH, True),  # durable, never answered
    ("bundle.before_durable=crash", CRASH, None),
]


@pytest.mark.parametrize(("spec", "exit_code", "applied"), APPLY_CASES,
                         ids=[c[0] for c in APPLY_CASES])
def test_an_apply_cut_at_a_failpoint_leaves_all_of_the_bundle_or_none(
        tmp_path: Path, spec: str, exit_code: int | None, applied: bool | None) -> None:
    d = PhoenixProcess(tmp_path / "data", *bundle_load.FLAGS, env={failpoints.ENV: spec})
    d.start()
    archive = bundle_load.bundle("cut", APPLY_PACKETS)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            bundle_load.apply(d, archive)
        assert d.proc is not None
        if exit_code is None:
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            # Short of the reserve, the daemon refuses the write as it refuses every other
            # (before the call is read); an ENOSPC while keeping the archive says what it did.
            said = "out of disk space" if spec == "disk.full=on" else "nothing was applied"
            assert said in (caught.value.details() or "")
            assert bundle_load.outcome(d, "cut", APPLY_PACKETS) is False  # before any restart
        else:
            assert d.proc.wait(DEATH_TIMEOUT) == exit_code, d.log()[-3000:]
        d.kill()  # and a power cut on top
        d.env = None
        d.start()
        outcome = bundle_load.outcome(d, "cut", APPLY_PACKETS)
        assert applied is None or outcome is applied
        verified = d.recorder.VerifyChain(rpb.VerifyChainRequest(), timeout=CALL_TIMEOUT)
        assert verified.ok, verified.problem
        again = bundle_load.apply(d, archive)  # a kept archive without its event is reused
        assert (again.revision == 0) is outcome
        assert bundle_load.outcome(d, "cut", APPLY_PACKETS)
        figure(f"failpoint {spec} during apply", "applied" if outcome else "not applied")
    finally:
        d.kill()


# -- the syntax -----------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "fires"), [
    ("p=on", [True, True, True, True, True]),
    ("p=on@2", [False, True, False, False, False]),
    ("p=on@2..4", [False, True, True, True, False]),
    ("p=on@3..", [False, False, True, True, True]),
    ("other=on", [False] * 5),
])
def test_failpoints_fire_on_the_hits_they_name(
    monkeypatch: pytest.MonkeyPatch, spec: str, fires: list[bool]
) -> None:
    monkeypatch.setattr(failpoints, "_ARMED", failpoints._parse(spec))
    monkeypatch.setattr(failpoints, "_HITS", {})
    assert [failpoints.hit("p") for _ in fires] == fires


def test_failpoint_actions_raise_what_a_sick_disk_would(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(failpoints, "_ARMED", failpoints._parse("a=error,b=enospc,c=sleep:1"))
    with pytest.raises(OSError, match="injected I/O error") as eio:
        failpoints.hit("a")
    with pytest.raises(OSError, match="no space left") as enospc:
        failpoints.hit("b")
    assert (eio.value.errno, enospc.value.errno) == (5, 28)
    assert failpoints.hit("c") is False


@pytest.mark.parametrize("spec", ["p=explode", "p=sleep:soon", "p=crash@x", "p=crash@..3",
                                  "p=crash@2..y"])
def test_a_malformed_failpoint_spec_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match=failpoints.ENV):
        failpoints._parse(spec)
