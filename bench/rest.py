"""REST beside gRPC, same daemon, same run: GetMember and SubmitPacket over phoenixd's HTTP
routes (--http-listen) and over grpc.aio, with the ratio REST/gRPC (the goal: 0.8x or more).

One phoenixd (fresh data dir, real fsync) per RPC; the two surfaces take turns for --rounds
rounds so that a drift of the machine touches both alike. The clients run in one process
beside the daemon (32 calls in flight by default): a client's own cost is in the figures,
as it is for a user's. Everything runs on 127.0.0.1 and stops by itself.

    python bench/rest.py                       # CI-sized defaults
    python bench/rest.py --seconds 5 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import grpc
from google.protobuf.duration_pb2 import Duration

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stats import p50, p99  # noqa: E402
from tests.daemon import PhoenixProcess, free_port  # noqa: E402

Call = Callable[[int, int], Awaitable[None]]


async def _run(call: Call, concurrency: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop(slot: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await call(slot, n)
            latencies.append(time.perf_counter() - start)
            n += 1

    await asyncio.gather(*(loop(slot) for slot in range(concurrency)))
    latencies.sort()
    return {"rate": len(latencies) / seconds, "p50": p50(latencies) * 1000,
            "p99": p99(latencies) * 1000}


async def _bench(rpc: str, daemon: PhoenixProcess, http_port: int, concurrency: int,
                 seconds: float, rounds: int) -> list[tuple[str, dict[str, float]]]:
    from phoenixflight_api.v1 import membership_service_pb2 as mpb
    from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc
    from phoenixflight_api.v1 import packet_pb2
    from phoenixflight_api.v1 import packet_service_pb2 as ppb
    from phoenixflight_api.v1 import packet_service_pb2_grpc as pkt_grpc

    base = f"http://127.0.0.1:{http_port}"
    connector = aiohttp.TCPConnector(limit=concurrency)
    rows = []
    async with grpc.aio.insecure_channel(daemon.address) as channel, aiohttp.ClientSession(
            connector=connector, trust_env=False) as session:
        members = mem_grpc.MembershipServiceStub(channel)
        packets = pkt_grpc.PacketServiceStub(channel)
        hour = Duration(seconds=3600)  # owners that outlive the run without heartbeats
        for i in range(4):
            await members.RegisterMember(mpb.RegisterMemberRequest(
                member_id=f"owner-{i}", capabilities=["ocr"], lease_ttl=hour))

        async def grpc_get(slot: int, n: int) -> None:
            await members.GetMember(mpb.GetMemberRequest(member_id=f"owner-{slot % 4}"))

        async def rest_get(slot: int, n: int) -> None:
            async with session.get(f"{base}/v1/members/owner-{slot % 4}") as response:
                assert response.status == 200, await response.text()
                await response.read()

        def grpc_submit(surface: int) -> Call:
            async def submit(slot: int, n: int) -> None:
                packet = packet_pb2.FlightPacket(packet_id=f"g{surface}-{slot}-{n}",
                                                 required_capabilities=["ocr"])
                await packets.SubmitPacket(ppb.SubmitPacketRequest(packet=packet))
            return submit

        def rest_submit(surface: int) -> Call:
            async def submit(slot: int, n: int) -> None:
                body = {"packet_id": f"h{surface}-{slot}-{n}", "required_capabilities": ["ocr"]}
                async with session.post(f"{base}/v1/packets", json=body) as response:
                    assert response.status == 200, await response.text()
                    await response.read()
            return submit

        for round_ in range(rounds):
            pair: tuple[tuple[str, Call], ...]
            if rpc == "get":
                pair = (("gRPC", grpc_get), ("REST", rest_get))
            else:
                pair = (("gRPC", grpc_submit(round_)), ("REST", rest_submit(round_)))
            for surface, call in pair:
                rows.append((surface, await _run(call, concurrency, seconds)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per row")
    parser.add_argument("--rounds", type=int, default=2, help="gRPC/REST turns per RPC")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight")
    args = parser.parse_args()
    names = {"get": "GetMember", "submit": "SubmitPacket (fsync+assign)"}
    print(f"\n{os.cpu_count()} cores, {args.concurrency} in flight, {args.seconds:g} s per row, "
          f"{args.rounds} round(s)")
    print(f"{'rpc':<30}{'surface':<9}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'REST/gRPC':>11}")
    for rpc, name in names.items():
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            daemon = PhoenixProcess(Path(tmp) / "data", "--log-level", "warning",
                                    "--http-listen", f"127.0.0.1:{port}").start()
            try:
                rows = asyncio.run(_bench(rpc, daemon, port, args.concurrency, args.seconds,
                                          args.rounds))
            finally:
                daemon.stop()
        for i, (surface, r) in enumerate(rows):
            ratio = f"{r['rate'] / rows[i - 1][1]['rate']:>10.2f}x" if surface == "REST" else ""
            print(f"{name:<30}{surface:<9}{r['rate']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
                  f"{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
