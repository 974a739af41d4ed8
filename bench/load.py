"""Load generator: phoenixd RPC throughput beside an empty grpc.aio handler, same run.

Starts a phoenixd (fresh data dir, real fsync) and a bare grpc.aio server whose one
unary handler does nothing, then drives each from client processes and prints
calls/s, p50/p99 latency and the ratio to the empty handler measured on this
machine in this run. Everything runs on 127.0.0.1 and stops by itself.

    python bench/load.py                       # CI-sized defaults
    python bench/load.py --seconds 10 --clients 2 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from google.protobuf.duration_pb2 import Duration

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.baseline import serve_bare  # noqa: E402
from bench.stats import p50, p99  # noqa: E402
from tests.daemon import PhoenixProcess, free_port  # noqa: E402

EMPTY_METHOD = "/bench.Empty/Call"


# -- the baseline: an empty grpc.aio unary handler ------------------------------


async def _serve_empty(port: int) -> None:
    async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:  # type: ignore[type-arg]
        return b""

    await serve_bare(port, "bench.Empty", {
        "Call": grpc.unary_unary_rpc_method_handler(call, lambda b: b, lambda b: b),
    })


# -- client processes ------------------------------------------------------------


async def _drive(
    rpc: str, address: str, worker: int, concurrency: int, seconds: float
) -> list[float]:
    from phoenixflight_api.v1 import membership_service_pb2 as mpb
    from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc
    from phoenixflight_api.v1 import packet_pb2
    from phoenixflight_api.v1 import packet_service_pb2 as ppb
    from phoenixflight_api.v1 import packet_service_pb2_grpc as pkt_grpc

    latencies: list[float] = []
    async with grpc.aio.insecure_channel(address) as channel:
        members = mem_grpc.MembershipServiceStub(channel)
        packets = pkt_grpc.PacketServiceStub(channel)
        empty = channel.unary_unary(EMPTY_METHOD, lambda b: b, lambda b: b)
        credentials = []
        hour = Duration(seconds=3600)  # owners that outlive the run without heartbeats
        if rpc == "submit":  # owners for everything this run submits (no demand: no capacity)
            for i in range(4):
                await members.RegisterMember(mpb.RegisterMemberRequest(
                    member_id=f"owner-{worker}-{i}", capabilities=["ocr"], lease_ttl=hour))
        if rpc == "heartbeat":
            for slot in range(concurrency):
                resp = await members.RegisterMember(
                    mpb.RegisterMemberRequest(member_id=f"hb-{worker}-{slot}"))
                credentials.append(resp.credential)
        deadline = time.perf_counter() + seconds

        async def loop(slot: int) -> None:
            n = 0
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                if rpc == "empty":
                    await empty(b"")
                elif rpc == "heartbeat":
                    await members.Heartbeat(mpb.HeartbeatRequest(
                        member_id=f"hb-{worker}-{slot}", credential=credentials[slot]))
                elif rpc == "submit":
                    packet = packet_pb2.FlightPacket(
                        packet_id=f"p-{worker}-{slot}-{n}", required_capabilities=["ocr"])
                    await packets.SubmitPacket(ppb.SubmitPacketRequest(packet=packet))
                else:
                    await members.RegisterMember(mpb.RegisterMemberRequest(
                        member_id=f"r-{worker}-{slot}-{n}", capabilities=["ocr@2"],
                        labels={"region": "us-east"}))
                latencies.append(time.perf_counter() - start)
                n += 1

        await asyncio.gather(*(loop(slot) for slot in range(concurrency)))
    return latencies


def _client(args: tuple[str, str, int, int, float]) -> list[float]:
    return asyncio.run(_drive(*args))


def measure(
    rpc: str, address: str, clients: int, concurrency: int, seconds: float
) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    with ctx.Pool(clients) as pool:
        jobs = [(rpc, address, w, concurrency, seconds) for w in range(clients)]
        results = pool.map(_client, jobs)
    latencies = sorted(x for r in results for x in r)
    return {
        "rate": len(latencies) / seconds,
        "p50": p50(latencies) * 1000,
        "p99": p99(latencies) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight per client")
    parser.add_argument("--rpc", nargs="+", default=["heartbeat", "register", "submit"],
                        choices=["heartbeat", "register", "submit"])
    args = parser.parse_args()

    empty_port = free_port()
    baseline = subprocess.Popen([sys.executable, "-c",
        f"import asyncio, sys; sys.path.insert(0, {str(ROOT)!r}); "
        f"from bench.load import _serve_empty; asyncio.run(_serve_empty({empty_port}))"])
    names = {"heartbeat": "Heartbeat", "register": "RegisterMember (fsync)",
             "submit": "SubmitPacket (fsync+assign)"}
    try:
        time.sleep(0.5)
        rows = [("empty grpc.aio handler", measure(
            "empty", f"127.0.0.1:{empty_port}", args.clients, args.concurrency, args.seconds))]
        for rpc in args.rpc:
            # A fresh daemon per row: one row's members and packets do not load the next.
            with tempfile.TemporaryDirectory() as tmp:
                daemon = PhoenixProcess(Path(tmp) / "data", "--log-level", "warning").start()
                try:
                    rows.append((names[rpc], measure(
                        rpc, daemon.address, args.clients, args.concurrency, args.seconds)))
                finally:
                    daemon.stop()
    finally:
        baseline.terminate()
        baseline.wait(10)
    base = rows[0][1]["rate"]
    print(f"\n{os.cpu_count()} cores, {args.clients} client process(es) x {args.concurrency} "
          f"in flight, {args.seconds:g} s per row")
    print(f"{'rpc':<26}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs empty':>10}")
    for name, r in rows:
        print(f"{name:<26}{r['rate']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
              f"{r['rate'] / base:>9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
