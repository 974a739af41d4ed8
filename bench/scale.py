"""Scale: many members and packets in one phoenixd: submit rate, RSS, restart and replay time.

Registers M members (long leases, so nothing expires during the run), submits P
packets from client processes as fast as the daemon takes them (each one durable
and assigned before its reply), then reads the daemon's RSS, and restarts it
twice: from its shutdown snapshot, and with the snapshots removed so the whole
journal is replayed. A start on an empty data dir, measured in the same run, is
the baseline (interpreter start-up and imports); the replay figure is the
difference.

    python bench/scale.py                                # CI-sized defaults
    python bench/scale.py --members 10000 --packets 20000
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
from google.protobuf.duration_pb2 import Duration

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from phoenixd.store.snapshots import SNAPSHOT_FILES  # noqa: E402
from tests.daemon import PhoenixProcess  # noqa: E402
from tests.reliability.load_held import sample  # noqa: E402

CONCURRENCY = 32


async def _register(address: str, members: int) -> None:
    from phoenixflight_api.v1 import member_pb2
    from phoenixflight_api.v1 import membership_service_pb2 as mpb
    from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc

    hour = Duration(seconds=3600)
    queue = iter(range(members))
    async with grpc.aio.insecure_channel(address) as channel:
        stub = mem_grpc.MembershipServiceStub(channel)

        async def worker() -> None:
            for i in queue:
                await stub.RegisterMember(mpb.RegisterMemberRequest(
                    member_id=f"m-{i:05d}", capabilities=["work"], lease_ttl=hour,
                    capacity=member_pb2.Capacity(cpu=1e6, memory=1e12),
                    trust_score=0.5 + (i % 50) / 100))

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def _submit(address: str, worker: int, count: int) -> float:
    from phoenixflight_api.v1 import packet_pb2
    from phoenixflight_api.v1 import packet_service_pb2 as ppb
    from phoenixflight_api.v1 import packet_service_pb2_grpc as pkt_grpc

    queue = iter(range(count))
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pkt_grpc.PacketServiceStub(channel)

        async def loop() -> None:
            for i in queue:
                packet = packet_pb2.FlightPacket(
                    packet_id=f"p-{worker}-{i}", required_capabilities=["work"],
                    demand=packet_pb2.Demand(cpu=0.5, memory=1024))
                await stub.SubmitPacket(ppb.SubmitPacketRequest(packet=packet))

        start = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(CONCURRENCY)))
        return time.perf_counter() - start


def _submit_job(args: tuple[str, int, int]) -> float:
    return asyncio.run(_submit(*args))


def _rss_mib(pid: int) -> float:
    return sample(pid).rss_kb / 1024


# A million packets take minutes to replay and to snapshot on the way down.
PATIENCE = 3600.0


def _timed_start(daemon: PhoenixProcess) -> float:
    start = time.perf_counter()
    daemon.start(PATIENCE)
    return time.perf_counter() - start


class _Progress(threading.Thread):
    """Samples the daemon's RSS (keeping the peak) and prints progress on long runs."""

    def __init__(self, daemon: PhoenixProcess, every: float = 30.0) -> None:
        super().__init__(daemon=True)
        self._daemon, self._every = daemon, every
        self._done = threading.Event()
        self.peak_mib = 0.0

    def run(self) -> None:
        assert self._daemon.proc is not None
        start = time.perf_counter()
        journal = self._daemon.data_dir / "audit.jsonl"
        while not self._done.wait(self._every):
            rss = _rss_mib(self._daemon.proc.pid)
            self.peak_mib = max(self.peak_mib, rss)
            print(f"  ... {time.perf_counter() - start:6.0f} s: RSS {rss:,.0f} MiB, "
                  f"journal {journal.stat().st_size / 2**20:,.0f} MiB", flush=True)

    def stop(self) -> None:
        self._done.set()
        self.join()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--packets", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=2, help="client processes submitting")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        empty = PhoenixProcess(Path(tmp) / "empty", "--log-level", "warning")
        baseline = _timed_start(empty)
        empty.stop()

        daemon = PhoenixProcess(Path(tmp) / "data", "--log-level", "warning").start()
        try:
            assert daemon.proc is not None
            rss_idle = _rss_mib(daemon.proc.pid)
            start = time.perf_counter()
            asyncio.run(_register(daemon.address, args.members))
            register_rate = args.members / (time.perf_counter() - start)
            rss_members = _rss_mib(daemon.proc.pid)
            shares = [args.packets // args.clients + (i < args.packets % args.clients)
                      for i in range(args.clients)]
            progress = _Progress(daemon)
            progress.start()
            with mp.get_context("spawn").Pool(args.clients) as pool:
                seconds = pool.map(_submit_job, [(daemon.address, w, n)
                                                 for w, n in enumerate(shares)])
            progress.stop()
            submit_rate = args.packets / max(seconds)
            rss_full = _rss_mib(daemon.proc.pid)
        finally:
            daemon.stop(PATIENCE)
        journal = daemon.data_dir / "audit.jsonl"
        events = sum(1 for _ in journal.open("rb"))
        journal_mib = journal.stat().st_size / 2**20
        from_snapshot = _timed_start(daemon)
        assert daemon.proc is not None
        rss_snapshot = _rss_mib(daemon.proc.pid)
        daemon.stop(PATIENCE)
        for name in SNAPSHOT_FILES:
            (daemon.data_dir / name).unlink()
        full_replay = _timed_start(daemon)
        assert daemon.proc is not None
        rss_replayed = _rss_mib(daemon.proc.pid)
        daemon.stop(PATIENCE)

    print(f"\n{os.cpu_count()} cores; {args.members} members, {args.packets} packets, "
          f"{events} journal events ({journal_mib:.0f} MiB), "
          f"{args.clients} client processes x {CONCURRENCY} in flight")
    print(f"  RegisterMember        {register_rate:>10.0f} /s")
    print(f"  SubmitPacket          {submit_rate:>10.0f} /s   (durable and assigned)")
    print(f"  RSS idle / members / all packets / after a full replay  "
          f"{rss_idle:.0f} / {rss_members:.0f} / {rss_full:.0f} / {rss_replayed:.0f} MiB "
          f"({(rss_full - rss_members) * 1024 / max(args.packets, 1):.1f} KiB per packet)")
    print(f"  RSS peak while submitting {max(progress.peak_mib, rss_full):,.0f} MiB; "
          f"after a restart from the snapshot {rss_snapshot:,.0f} MiB "
          f"({(rss_snapshot - rss_idle) * 1024 / max(args.packets, 1):.1f} KiB per packet "
          "over idle)")
    print(f"  start, empty data dir {baseline:>10.2f} s   (baseline)")
    print(f"  restart from snapshot {from_snapshot:>10.2f} s   "
          f"(+{from_snapshot - baseline:.2f} s over the baseline)")
    print(f"  full journal replay   {full_replay:>10.2f} s   "
          f"(+{full_replay - baseline:.2f} s: "
          f"{events / max(full_replay - baseline, 1e-3):,.0f} events/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
