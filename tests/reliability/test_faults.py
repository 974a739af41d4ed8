"""Faults of the machine under a real phoenixd: a slow disk, failing fsyncs, a full disk and a
wall clock that jumps an hour.

- Slow disk: every fsync takes longer than the members' 1 s lease. Members heartbeating by
  session or by unary Heartbeat are never SUSPECT or FAILED (nor is a member that has just
  registered: it cannot heartbeat before its reply), and mutations still complete, slowly.
- fsync error (EIO, or ENOSPC reported by fsync): the daemon exits 70 instead of retrying;
  restarted, it recovers without a torn tail, keeps every acknowledged write, and members that
  reconnect are told their packets (test_failpoints.py checks the same at every failpoint).
- Disk full, below the --reserve-disk reserve (real statvfs: a reserve larger than the disk):
  every mutating RPC is refused with RESOURCE_EXHAUSTED and a message naming the data dir and
  its free and reserved MiB, before anything is applied; reads, Health, heartbeats and sessions
  are served; a restart with a normal reserve takes writes again. The ``disk.full`` failpoint
  turns the full disk on and off in one run: mutations resume by themselves.
- ENOSPC on a journal write (the reserve was not enough): the batch is cut back off the file
  and held, its caller gets no reply until it is durable, new mutations are refused meanwhile,
  and everything resumes by itself; nothing is lost or half-written.
- Wall clock: libfaketime (preloaded into phoenixd, monotonic time left real) moves the
  daemon's clock an hour forward and back while it runs. No lease expires for it, and the
  daemon keeps working; only event timestamps jump. Leases still expire on time after it.
The RPCs refused on a full disk are exactly those that record events at a client's request.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from grpc_health.v1 import health_pb2, health_pb2_grpc

from phoenixd import failpoints
from phoenixd.config import parse_args
from phoenixd.server.interceptors import MUTATING_METHODS
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import member_pb2, packet_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope, packet_of, wait_until
from tests.conftest import register
from tests.daemon import PhoenixProcess
from tests.reliability.rpc_catalog import phoenixflight_rpcs
from tests.reliability.soak import figure, scaled
from tests.reliability.test_failpoints import (
    CALL_TIMEOUT,
    DEATH_TIMEOUT,
    EXIT_FATAL,
    all_events,
    check_invariants,
    run_workload,
)

ACTIVE = member_pb2.MEMBER_STATUS_ACTIVE
SUSPECT = member_pb2.MEMBER_STATUS_SUSPECT
LEASE_LOST = ("member_suspect", "member_failed")
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED
# A reserve no disk can meet (MiB): 1 EiB.
HUGE_RESERVE = str(1 << 40)


class LiveSession:
    """A member holding its OpenSession stream, heartbeating over it every ``every`` seconds."""

    def __init__(self, d: PhoenixProcess, member_id: str, credential: str, every: float) -> None:
        self.requests: queue.Queue[mpb.OpenSessionRequest | None] = queue.Queue()
        self.requests.put(mpb.OpenSessionRequest(
            open=mpb.SessionOpen(member_id=member_id, credential=credential)))
        self.call = d.members.OpenSession(iter(self.requests.get, None), timeout=300)
        self.statuses: list[int] = []  # from every lease reply
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._beater = threading.Thread(target=self._beat, args=(every,), daemon=True)
        self._reader.start()
        self._beater.start()

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            self.requests.put(mpb.OpenSessionRequest(heartbeat=mpb.SessionHeartbeat()))

    def _read(self) -> None:
        with contextlib.suppress(grpc.RpcError):
            for message in self.call:
                if message.WhichOneof("kind") == "lease":
                    self.statuses.append(message.lease.status)

    def close(self) -> None:
        """A clean goodbye: the lease keeps running."""
        self._stop.set()
        self._beater.join(5)
        self.requests.put(mpb.OpenSessionRequest(goodbye=mpb.SessionGoodbye(reason="done")))
        self._reader.join(10)
        self.requests.put(None)
        self.call.cancel()


def restart_promptly(d: PhoenixProcess) -> None:
    """Start phoenixd again and connect as soon as it serves.

    A client that tries to connect before the daemon listens backs off for a second or more,
    longer than a 1 s lease: the members here reconnect the moment it logs that it serves.
    """
    serving = d.log().count('"phoenixd serving"')
    d.spawn()
    wait_until(lambda: d.log().count('"phoenixd serving"') > serving, within=30)
    d.wait_serving()


def member_status(d: PhoenixProcess, member_id: str) -> int:
    return d.members.GetMember(mpb.GetMemberRequest(member_id=member_id),
                               timeout=CALL_TIMEOUT).member.status


def lease_losses(d: PhoenixProcess) -> list[str]:
    return [f"{e.sequence} {e.type} {list(e.member_ids)}: {e.reason}"
            for e in all_events(d, *LEASE_LOST)]


# -- slow disk ------------------------------------------------------------------------


def test_a_slow_disk_expires_no_lease_and_mutations_still_complete(tmp_path: Path) -> None:
    ttl, slow_ms = 1.0, 1500  # every fsync takes half as long again as the whole lease
    slow = {failpoints.ENV: f"journal.before_fsync=sleep:{slow_ms}"}
    d = PhoenixProcess(tmp_path / "data", "--suspect-grace", "1", env=slow).start()
    sessions: list[LiveSession] = []
    try:
        began = time.monotonic()
        unary = Agent(d, "unary", "ocr", ttl=ttl).start_heartbeats()
        figure("slow disk (1.5 s fsyncs): RegisterMember took (s)",
               round(time.monotonic() - began, 2))
        streamer = register(d, "streamer", "ocr", ttl=ttl)
        sessions.append(LiveSession(d, "streamer", streamer.credential, every=ttl / 3))
        latencies: list[float] = []
        for i in range(scaled(2, 20)):
            began = time.monotonic()
            d.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(
                f"fp-{i}", "ocr", handoff=packet_pb2.HandoffPolicy(allowed=True))),
                timeout=CALL_TIMEOUT)
            moved = d.packets.HandoffPacket(ppb.HandoffPacketRequest(packet_id=f"fp-{i}"),
                                            timeout=CALL_TIMEOUT).packet
            latencies.append(time.monotonic() - began)
            assert moved.epoch == 2, lease_losses(d)
        figure("slow disk (1.5 s fsyncs): submit + handoff took at most (s)",
               round(max(latencies), 2))
        d.kill()  # and a restart on the slow disk: leases run from when members can reach it
        restart_promptly(d)
        sessions.append(LiveSession(d, "streamer", streamer.credential, every=ttl / 3))
        wait_until(lambda: len(sessions[-1].statuses) >= 2 * 3)  # two leases' worth
        d.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-last", "ocr")),
                               timeout=CALL_TIMEOUT)
        unary.stop_heartbeats()
        assert lease_losses(d) == []
        assert member_status(d, "unary") == member_status(d, "streamer") == ACTIVE
        assert set(sessions[0].statuses) == set(sessions[-1].statuses) == {ACTIVE}
    finally:
        for session in sessions:
            session.close()
        d.kill()


# -- fsync errors ---------------------------------------------------------------------


@pytest.mark.parametrize("action", ["error", "enospc"])
def test_an_fsync_error_stops_the_daemon_and_it_restarts_clean(
    tmp_path: Path, action: str
) -> None:
    failing = {failpoints.ENV: f"journal.before_fsync={action}@12"}
    d = PhoenixProcess(tmp_path / "data", env=failing).start()
    try:
        acked = run_workload(d, workers=2, steps=10)
        assert d.proc is not None and d.proc.wait(DEATH_TIMEOUT) == EXIT_FATAL
        assert "fsync failed; stopping without retrying" in d.log()
        d.env = None
        d.start()
        check_invariants(d, acked)  # incl.: members reconnecting are told their packets
        assert all_events(d, "journal_truncated") == []  # a clean restart: no torn tail
        assert len(all_events(d, "daemon_started")) == 2
    finally:
        d.kill()


# -- disk full ------------------------------------------------------------------------


def mutations(d: PhoenixProcess, cred: str) -> dict[str, Callable[[], Any]]:
    """One call of every mutating RPC, each of which would record an event if let through."""
    m, p = d.members, d.packets
    t = CALL_TIMEOUT
    struct = envelope("x", "ocr").context_checkpoint.state
    return {
        "RegisterMember": lambda: m.RegisterMember(
            mpb.RegisterMemberRequest(member_id="newcomer"), timeout=t),
        "UpdateMember": lambda: m.UpdateMember(mpb.UpdateMemberRequest(
            member=member_pb2.Member(member_id="worker", trust_score=0.9),
            update_mask=FieldMask(paths=["trust_score"])), timeout=t),
        "DrainMember": lambda: m.DrainMember(
            mpb.DrainMemberRequest(member_id="worker"), timeout=t),
        "RetireMember": lambda: m.RetireMember(
            mpb.RetireMemberRequest(member_id="worker"), timeout=t),
        "SubmitPacket": lambda: p.SubmitPacket(
            ppb.SubmitPacketRequest(packet=envelope("fp-new", "ocr")), timeout=t),
        "CancelPacket": lambda: p.CancelPacket(
            ppb.CancelPacketRequest(packet_id="fp-1"), timeout=t),
        "HandoffPacket": lambda: p.HandoffPacket(
            ppb.HandoffPacketRequest(packet_id="fp-1"), timeout=t),
        "AckPacket": lambda: p.AckPacket(ppb.AckPacketRequest(
            member_id="worker", credential=cred, packet_id="fp-1", epoch=1), timeout=t),
        "SaveCheckpoint": lambda: p.SaveCheckpoint(ppb.SaveCheckpointRequest(
            member_id="worker", credential=cred, packet_id="fp-1", epoch=1, state=struct,
            step="s"), timeout=t),
        "CompletePacket": lambda: p.CompletePacket(ppb.CompletePacketRequest(
            member_id="worker", credential=cred, packet_id="fp-1", epoch=1), timeout=t),
        "FailPacket": lambda: p.FailPacket(ppb.FailPacketRequest(
            member_id="worker", credential=cred, packet_id="fp-1", epoch=1, reason="r"),
            timeout=t),
    }


def reads(d: PhoenixProcess) -> dict[str, Callable[[], Any]]:
    """One call of every read, streams included (each reads its first message)."""
    m, p, r = d.members, d.packets, d.recorder
    t = CALL_TIMEOUT
    assert d.channel is not None
    health = health_pb2_grpc.HealthStub(d.channel)
    return {
        "GetMember": lambda: m.GetMember(mpb.GetMemberRequest(member_id="worker"), timeout=t),
        "ListMembers": lambda: m.ListMembers(mpb.ListMembersRequest(), timeout=t),
        "ListCapabilities": lambda: m.ListCapabilities(mpb.ListCapabilitiesRequest(), timeout=t),
        "WatchMembers": lambda: next(m.WatchMembers(
            mpb.WatchMembersRequest(after_revision=0), timeout=t)),
        "GetPacket": lambda: p.GetPacket(ppb.GetPacketRequest(packet_id="fp-1"), timeout=t),
        "ListPackets": lambda: p.ListPackets(ppb.ListPacketsRequest(), timeout=t),
        "ExplainAssignment": lambda: p.ExplainAssignment(
            ppb.ExplainAssignmentRequest(packet_id="fp-1"), timeout=t),
        "GetHandoffKey": lambda: p.GetHandoffKey(ppb.GetHandoffKeyRequest(), timeout=t),
        "QueryEvents": lambda: r.QueryEvents(rpb.QueryEventsRequest(), timeout=t),
        "WatchEvents": lambda: next(r.WatchEvents(
            rpb.WatchEventsRequest(after_sequence=0), timeout=t)),
        "VerifyChain": lambda: r.VerifyChain(rpb.VerifyChainRequest(), timeout=t),
        "ExportLineage": lambda: r.ExportLineage(
            rpb.ExportLineageRequest(packet_id="fp-1"), timeout=t),
        "Health": lambda: health.Check(  # type: ignore[attr-defined]
            health_pb2.HealthCheckRequest(), timeout=t),
    }


def refusal(call: Callable[[], Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == RESOURCE_EXHAUSTED, info.value.details()
    return info.value


def head(d: PhoenixProcess) -> int:
    return d.recorder.QueryEvents(rpb.QueryEventsRequest(page_size=1),
                                  timeout=CALL_TIMEOUT).head_sequence


def test_below_the_reserve_mutations_are_refused_and_reads_heartbeats_served(
    tmp_path: Path,
) -> None:
    d = PhoenixProcess(tmp_path / "data").start()
    worker = Agent(d, "worker", "ocr", ttl=1)
    d.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-1", "ocr")))
    d.stop()
    d.extra = ["--reserve-disk", HUGE_RESERVE]
    restart_promptly(d)  # the worker's 1 s lease runs from here
    session: LiveSession | None = None
    try:
        worker.start_heartbeats()
        before = head(d)
        data_dir = d.data_dir.resolve()
        for name, call in mutations(d, worker.credential).items():
            message = refusal(call).details() or ""
            assert message.startswith(f"data dir {data_dir} is out of disk space ("), name
            assert f"MiB free, {HUGE_RESERVE} MiB reserved)" in message, name
            assert "changes resume by themselves" in message, name
        for name, call in reads(d).items():
            assert call() is not None, name
        session = LiveSession(d, "worker", worker.credential, every=1 / 3)
        time.sleep(2.5)  # more than twice the 1 s lease: only heartbeats keep it ACTIVE
        assert member_status(d, "worker") == ACTIVE
        assert set(session.statuses) == {ACTIVE}
        assert head(d) == before, "a refused call or a heartbeat recorded an event"
    finally:
        worker.stop_heartbeats()
        if session is not None:
            session.close()
        d.stop()
    d.extra = []
    d.start()  # space was freed (the normal reserve): writes are taken again
    try:
        assert register(d, "after").member.status == ACTIVE
        assert packet_of(d, "fp-1").current_owner == "worker"
    finally:
        d.stop()


def test_a_full_disk_comes_and_goes_and_mutations_resume_by_themselves(tmp_path: Path) -> None:
    # Every mutation checks the space once: the 3rd to 5th find the disk full.
    armed = {failpoints.ENV: "disk.full=on@3..5"}
    d = PhoenixProcess(tmp_path / "data", env=armed).start()
    try:
        outcomes: list[str] = []
        for i in range(7):
            try:
                register(d, f"m{i}")
                outcomes.append("ok")
            except grpc.RpcError as exc:
                assert exc.code() == RESOURCE_EXHAUSTED
                assert "0 MiB free, 64 MiB reserved" in (exc.details() or "")
                outcomes.append("refused")
        assert outcomes == ["ok", "ok", "refused", "refused", "refused", "ok", "ok"]
        listed = d.members.ListMembers(mpb.ListMembersRequest(), timeout=CALL_TIMEOUT)
        assert [m.member_id for m in listed.members] == ["m0", "m1", "m5", "m6"]
        assert d.recorder.VerifyChain(rpb.VerifyChainRequest(), timeout=CALL_TIMEOUT).ok
    finally:
        d.stop()


def test_enospc_on_a_journal_write_holds_the_batch_and_refuses_new_mutations(
    tmp_path: Path,
) -> None:
    # Journal writes: the daemon's start, "early", then "held" and its retries (every 0.5 s)
    # find no space until the 11th write: about 4 s of a stalled journal.
    armed = {failpoints.ENV: "journal.write=enospc@3..10"}
    d = PhoenixProcess(tmp_path / "data", env=armed).start()
    pool = ThreadPoolExecutor(2)
    try:
        early = Agent(d, "early", "ocr", ttl=1).start_heartbeats()
        began = time.monotonic()
        held: Future[mpb.RegisterMemberResponse] = pool.submit(register, d, "held")

        wait_until(lambda: "journal write failed: no space left on device" in d.log())
        message = refusal(lambda: register(d, "refused")).details() or ""
        assert "a journal write found no space left on device" in message
        assert not held.done(), "a reply was sent for an event that is not durable"
        assert d.channel is not None
        health = health_pb2_grpc.HealthStub(d.channel)
        checked = health.Check(  # type: ignore[attr-defined]
            health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT)
        assert checked.status == health_pb2.HealthCheckResponse.SERVING
        assert held.result(timeout=60).member.member_id == "held"
        figure("journal ENOSPC: a held RegisterMember answered after (s)",
               round(time.monotonic() - began, 2))
        early.stop_heartbeats()
        assert lease_losses(d) == []  # heartbeats were renewed while the journal waited
        assert "journal writes resumed" in d.log()
        register(d, "after")  # and writes resume by themselves
        d.kill()
        d.env = None
        d.start()
        listed = d.members.ListMembers(mpb.ListMembersRequest(), timeout=CALL_TIMEOUT)
        assert [m.member_id for m in listed.members] == ["after", "early", "held"]
        assert d.recorder.VerifyChain(rpb.VerifyChainRequest(), timeout=CALL_TIMEOUT).ok
        assert all_events(d, "journal_truncated") == []  # nothing half-written was left
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        d.kill()


def test_the_refused_rpcs_are_exactly_those_that_record_events_at_a_clients_request() -> None:
    every = {rpc.path for rpc in phoenixflight_rpcs()}  # every service, from the descriptors
    # Reads, and the liveness calls that renew leases in memory (see interceptors.py).
    kept = {
        f"/phoenixflight.v1.{name}" for name in (
            "MembershipService/Heartbeat", "MembershipService/OpenSession",
            "MembershipService/GetMember", "MembershipService/ListMembers",
            "MembershipService/WatchMembers", "MembershipService/ListCapabilities",
            "PacketService/GetPacket", "PacketService/ListPackets",
            "PacketService/ExplainAssignment", "PacketService/GetHandoffKey",
            "PacketService/WatchAssignments", "FlightRecorderService/QueryEvents",
            "FlightRecorderService/WatchEvents", "FlightRecorderService/VerifyChain",
            "FlightRecorderService/ExportLineage", "NamespaceService/GetNamespace",
            "NamespaceService/ListNamespaces", "ClusterService/GetClusterStatus",
            "BundleService/GetBundle", "BundleService/ListBundles",
            "ClusterService/GetClusterHealth",
            # Played out on a copy of the state, or on the simulator's own: nothing recorded.
            "SimulatorService/DryRun", "SimulatorService/Simulate",
        )
    }
    assert MUTATING_METHODS | kept == every
    assert not MUTATING_METHODS & kept


def test_the_reserve_flag() -> None:
    assert parse_args([]).reserve_disk == 64
    assert parse_args(["--reserve-disk", "0"]).reserve_disk == 0
    with pytest.raises(SystemExit):
        parse_args(["--reserve-disk", "-1"])


# -- the wall clock -------------------------------------------------------------------


def faketime_library() -> Path:
    """libfaketime.so from the libfaketime package (a dev dependency: pyproject.toml)."""
    spec = importlib.util.find_spec("libfaketime")
    assert spec is not None and spec.submodule_search_locations, "pip install -e '.[dev]'"
    library = Path(spec.submodule_search_locations[0]) / "vendor/libfaketime/src/libfaketime.so.1"
    assert library.is_file(), library
    return library


@contextlib.contextmanager
def faked_clock(tmp_path: Path) -> Iterator[tuple[dict[str, str], Callable[[int], None]]]:
    """Environment that runs a process on a wall clock offset by what ``shift`` last set.

    libfaketime re-reads the offset file on every clock read (FAKETIME_NO_CACHE), so the
    clock jumps while the process runs; CLOCK_MONOTONIC is left alone.
    """
    offset = tmp_path / "faketime-offset"
    offset.write_text("+0\n")

    def shift(seconds: int) -> None:
        temp = offset.with_suffix(".tmp")
        temp.write_text(f"{seconds:+d}\n")
        temp.replace(offset)  # never a half-written offset

    yield {
        "LD_PRELOAD": str(faketime_library()),
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }, shift


_probes = itertools.count()


def daemon_clock_offset(d: PhoenixProcess) -> float:
    """How far the daemon's wall clock is from ours: the time of an event recorded now."""
    member_id = f"probe-{next(_probes)}"
    before = time.time()
    register(d, member_id, ttl=3600)  # it never heartbeats: a lease it cannot lose
    (event,) = d.recorder.QueryEvents(rpb.QueryEventsRequest(
        types=["member_registered"], member_id=member_id), timeout=CALL_TIMEOUT).events
    return event.time.seconds + event.time.nanos / 1e9 - before


def test_a_wall_clock_jump_of_an_hour_expires_no_lease(tmp_path: Path) -> None:
    ttl = 1.0
    with faked_clock(tmp_path) as (env, shift):
        d = PhoenixProcess(tmp_path / "data", "--suspect-grace", "1", env=env).start()
        session: LiveSession | None = None
        try:
            unary = Agent(d, "unary", "ocr", ttl=ttl).start_heartbeats()
            streamer = register(d, "streamer", "ocr", ttl=ttl)
            session = LiveSession(d, "streamer", streamer.credential, every=ttl / 3)
            register(d, "quiet", "ocr", ttl=60)  # silent, well inside its lease
            d.packets.SubmitPacket(ppb.SubmitPacketRequest(
                packet=envelope("fp-1", "ocr", handoff=packet_pb2.HandoffPolicy(allowed=True))))
            owner = packet_of(d, "fp-1").current_owner
            assert abs(daemon_clock_offset(d)) < 60

            for jump in (3600, 0):  # an hour forward, then back
                shift(jump)
                wait_until(lambda jump=jump: abs(daemon_clock_offset(d) - jump) < 60)
                figure(f"wall clock shifted to {jump:+d} s: daemon's event times off by (s)",
                       round(daemon_clock_offset(d)))
                time.sleep(2 * ttl)  # two leases of the heartbeating members go by
                assert lease_losses(d) == [], f"after the jump to {jump:+d} s"
                for member_id in ("unary", "streamer", "quiet"):
                    assert member_status(d, member_id) == ACTIVE, member_id
                assert (packet_of(d, "fp-1").current_owner, packet_of(d, "fp-1").epoch) == (
                    owner, 1)

            moved = d.packets.HandoffPacket(ppb.HandoffPacketRequest(packet_id="fp-1"),
                                            timeout=CALL_TIMEOUT).packet
            assert moved.epoch == 2 and moved.current_owner != owner
            assert d.recorder.VerifyChain(rpb.VerifyChainRequest(), timeout=CALL_TIMEOUT).ok
            register(d, "silent", ttl=1)  # and a lease that does run out still expires
            wait_until(lambda: member_status(d, "silent") == SUSPECT, within=15)
            unary.stop_heartbeats()
        finally:
            if session is not None:
                session.close()
            d.kill()
