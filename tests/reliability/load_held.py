"""Held load against one phoenixd: member sessions heartbeating every second, plus operators.

One round: ``sessions`` members register and hold OpenSession streams, heartbeat once a
second, ack each assignment and complete it after a short random time; ``controls``
operator clients submit packets, get and list them, query the Flight Recorder, update
members and cancel packets, back to back, for ``seconds``; ``churn`` of the members drop
their stream mid-round without a goodbye (crashed workers: their packets are handed off).
The round then waits until every packet has finished, says goodbye to every session
(retiring its member) and reports latencies per kind of call, errors by status code, the
acked mutations per second, and every lease a live member lost.

Each round runs in a fresh process of its own, so that the daemon, not the client side of
the test, is what is loaded; meanwhile the caller samples the daemon's RSS, open fds and
threads from /proc. As a script it runs longer rounds against a phoenixd of its own:

    python -m tests.reliability.load_held --sessions 300 --controls 8 --seconds 300 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

import grpc

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import flight_recorder_service_pb2_grpc as rec_grpc
from phoenixflight_api.v1 import member_pb2, packet_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from phoenixflight_api.v1 import packet_service_pb2_grpc as pkt_grpc
from tests.reliability.load_clients import MemberSession, Operator, Tally
from tests.reliability.load_plan import (
    CALL_TIMEOUT,
    CHANNEL_OPTIONS,
    DESIGNED_CODES,
    LIVE,
    Plan,
    Report,
    daemon_flags,
)

__all__ = [
    "DESIGNED_CODES", "Held", "Plan", "Report", "Sample", "daemon_flags", "describe",
    "hold_rounds", "run_round", "sample", "show",
]


# -- one round ---------------------------------------------------------------------------


async def _round(plan: Plan) -> Report:
    report = Report()
    tally = Tally(report)
    rng = random.Random(plan.seed)
    async with grpc.aio.insecure_channel(plan.address, options=CHANNEL_OPTIONS) as channel:
        members = mem_grpc.MembershipServiceStub(channel)
        recorder = rec_grpc.FlightRecorderServiceStub(channel)
        start = await _revision(members)
        sessions = [MemberSession(plan, i, tally, random.Random(rng.random()))
                    for i in range(plan.sessions)]
        opened = await asyncio.gather(*(s.open() for s in sessions))
        report.opened = sum(opened)
        live = [s for s, ok in zip(sessions, opened, strict=True) if ok]
        feed = recorder.WatchEvents(rpb.WatchEventsRequest())  # live events only
        follower = asyncio.create_task(_follow(feed, tally))

        churned = rng.sample(live, min(plan.churn, len(live)))
        operators = [Operator(plan, i, tally, random.Random(rng.random()))
                     for i in range(plan.controls)]
        began = time.perf_counter()
        tally.window_open = True
        await asyncio.gather(
            *(o.run(began + plan.seconds) for o in operators),
            *(_drop_later(s, rng.uniform(0.2, 0.7) * plan.seconds) for s in churned))
        tally.window_open = False
        report.window = time.perf_counter() - began

        report.stuck = await _settle(channel, plan, [s.member_id for s in churned])
        await asyncio.gather(*(s.goodbye() for s in live if not s.dropped_at))
        feed.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        dropped = {s.member_id: s.dropped_at for s in churned}
        report.lease_losses += await _lease_losses(recorder, start, dropped)
        report.events = await _revision(members) - start
    return report


async def _revision(members: mem_grpc.MembershipServiceAsyncStub) -> int:
    """The daemon's durable revision now."""
    reply = await members.ListMembers(mpb.ListMembersRequest(page_size=1), timeout=CALL_TIMEOUT)
    return reply.revision


async def _drop_later(session: MemberSession, after: float) -> None:
    await asyncio.sleep(after)
    await session.drop()


async def _follow(feed: grpc.aio.UnaryStreamCall[rpb.WatchEventsRequest,
                                                 rpb.WatchEventsResponse],
                  tally: Tally) -> None:
    """An operator tailing the audit live for the whole round."""
    try:
        async for _ in feed:
            tally.report.followed += 1
    except grpc.aio.AioRpcError as exc:
        tally.error("follow", exc.code())


async def _settle(channel: grpc.aio.Channel, plan: Plan, churned: list[str]) -> list[str]:
    """Wait until every packet has finished and every dropped member is FAILED (so the
    next round can register it again); returns what is still unfinished at the deadline."""
    packets = pkt_grpc.PacketServiceStub(channel)
    members = mem_grpc.MembershipServiceStub(channel)
    deadline = time.monotonic() + plan.settle_timeout
    while True:
        reply = await packets.ListPackets(ppb.ListPacketsRequest(
            statuses=LIVE, page_size=20), timeout=CALL_TIMEOUT)
        unfinished = [f"packet {p.packet_id} {packet_pb2.PacketStatus.Name(p.status)}"
                      for p in reply.packets]
        for member in churned:
            got = await members.GetMember(mpb.GetMemberRequest(member_id=member),
                                          timeout=CALL_TIMEOUT)
            if got.member.status != member_pb2.MEMBER_STATUS_FAILED:
                status = member_pb2.MemberStatus.Name(got.member.status)
                unfinished.append(f"member {member} {status}")
        if not unfinished or time.monotonic() > deadline:
            return unfinished
        await asyncio.sleep(0.2)


async def _lease_losses(
    recorder: rec_grpc.FlightRecorderServiceAsyncStub, start: int, dropped: dict[str, float],
) -> list[str]:
    """The round's suspect/failed/recovered events that a live member should never get:
    only a member that dropped its stream may be SUSPECT, and only once it had dropped."""
    losses = []
    token = ""
    while True:
        reply = await recorder.QueryEvents(rpb.QueryEventsRequest(
            types=["member_suspect", "member_failed", "member_recovered"],
            after_sequence=start, page_size=1000, page_token=token), timeout=CALL_TIMEOUT)
        for event in reply.events:
            member = event.member_ids[0]
            at = event.time.seconds + event.time.nanos / 1e9
            if event.type == "member_recovered" or at < dropped.get(member, math.inf):
                losses.append(f"{member}: {event.type} at {event.sequence}: {event.reason}")
        token = reply.next_page_token
        if not token:
            return losses


def run_round(plan: Plan) -> Report:
    """One round, on an event loop of its own (what each round's process runs)."""
    return asyncio.run(_round(plan))


# -- the caller's side: rounds in other processes, the daemon sampled meanwhile ----------------


@dataclass(frozen=True)
class Sample:
    """The daemon process as /proc shows it."""

    rss_kb: int
    fds: int
    threads: int


def sample(pid: int) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return Sample(int(fields["VmRSS"].split()[0]), len(os.listdir(f"/proc/{pid}/fd")),
                  int(fields["Threads"]))


@dataclass(frozen=True)
class Held:
    """One round: what its clients saw, and the daemon during it (peaks) and after it."""

    report: Report
    during: Sample
    after: Sample


def hold_rounds(pid: int, plans: list[Plan], every: float = 0.5,
                settle: float = 30.0) -> tuple[Sample, list[Held]]:
    """Run the rounds one after another, each in a fresh process that exits after it (so
    no client connection outlives its round), sampling daemon ``pid`` every ``every``
    seconds. A round is over once its clients are done and the daemon's fds are back to
    where they were before it (closed connections are reaped a moment after the clients
    leave; at most ``settle`` seconds). Returns the sample before the first round, and
    each round."""
    held: list[Held] = []
    before = sample(pid)
    pool = ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1)
    with pool:
        for plan in plans:
            start = held[-1].after if held else before
            future = pool.submit(run_round, plan)
            during = [sample(pid)]
            while not wait([future], timeout=every).done:
                during.append(sample(pid))
            deadline = time.monotonic() + settle
            while (after := sample(pid)).fds > start.fds and time.monotonic() < deadline:
                time.sleep(0.1)
            peak = Sample(max(s.rss_kb for s in during), max(s.fds for s in during),
                          max(s.threads for s in during))
            held.append(Held(future.result(), peak, after))
    return before, held


def describe(report: Report) -> dict[str, str]:
    """The round's figures, by name."""
    figures = {
        "acked mutations/s": f"{report.rate():.0f} ({report.mutations} in {report.window:.1f} s, "
                             f"{report.submitted} packets, {report.dropped} members dropped)",
        "errors by code": ", ".join(f"{c} {n}" for c, n in sorted(report.codes().items()))
                          or "none",
        "audit events followed live": str(report.followed),
    }
    for kind in sorted(report.latencies):
        figures[f"{kind} p50/p99/max ms"] = (
            f"{report.percentile_ms(kind, 0.5):.1f} / {report.percentile_ms(kind, 0.99):.1f} / "
            f"{report.percentile_ms(kind, 1.0):.1f} ({len(report.latencies[kind])} calls)")
    return figures


def show(sample: Sample) -> str:
    return f"RSS {sample.rss_kb / 1024:.1f} MiB, {sample.fds} fds, {sample.threads} threads"


def main(argv: list[str] | None = None) -> int:
    from tests.daemon import PhoenixProcess

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=300)
    p.add_argument("--controls", type=int, default=8)
    p.add_argument("--seconds", type=float, default=120.0, help="load window per round")
    p.add_argument("--churn", type=int, default=10, help="members dropped per round")
    p.add_argument("--rounds", type=int, default=2, help="measured rounds after a warm-up")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        plan = Plan("", sessions=a.sessions, controls=a.controls, seconds=a.seconds,
                    churn=a.churn)
        daemon = PhoenixProcess(Path(tmp) / "data", *daemon_flags(plan), "--log-level",
                                "warning").start()
        try:
            assert daemon.proc is not None
            plans = [replace(plan, address=daemon.address, name=f"r{r}", seed=r,
                             seconds=plan.seconds if r else min(plan.seconds, 10.0))
                     for r in range(a.rounds + 1)]
            before, rounds = hold_rounds(daemon.proc.pid, plans)
        finally:
            daemon.stop()
    print(f"before: {show(before)}")
    for r, held in enumerate(rounds):
        print(f"round {r}{' (warm-up)' if not r else ''}:")
        for name, value in describe(held.report).items():
            print(f"  {name:<28} {value}")
        print(f"  {'daemon during (peaks)':<28} {show(held.during)}")
        print(f"  {'daemon after':<28} {show(held.after)}")
        for problem in (*held.report.undesigned(), *held.report.lease_losses,
                        *held.report.session_problems, *held.report.stuck):
            print(f"  PROBLEM: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
