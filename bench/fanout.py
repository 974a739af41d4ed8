"""Audit-feed fan-out: WatchEvents to many watchers beside a bare grpc.aio stream, same run.

The ceiling is a grpc.aio server whose one server-streaming handler only yields
pre-serialized messages of the same size as the daemon's events: what the
stream machinery itself can push on this machine. phoenixd is measured twice:

- replay: every watcher streams the whole log (``after_sequence=0``) at once,
  messages/s summed over watchers, as a ratio to the ceiling with as many streams;
- live: watchers follow the head while a client registers members; the delay
  from an event's timestamp (taken when it was recorded) to its arrival, p50/p99.

The same feed over Server-Sent Events (GET /v1/events:watch on --http-listen) is measured
beside it in the same run, the same way: as many SSE readers replaying the log, and following
it live.

    python bench/fanout.py                          # CI-sized defaults
    python bench/fanout.py --events 20000 --watchers 1 4 16
    python bench/fanout.py --events 2000 --watchers 100
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.baseline import serve_bare  # noqa: E402
from bench.stats import p50, p99  # noqa: E402
from tests.daemon import PhoenixProcess, free_port  # noqa: E402

PUSH_METHOD = "/bench.Stream/Push"
CLIENT_PROCESSES = 2


# -- the ceiling: a bare server-streaming handler --------------------------------


async def _serve_stream(port: int, size: int) -> None:
    message = b"x" * size

    async def push(request: bytes, context: grpc.aio.ServicerContext) -> object:  # type: ignore[type-arg]
        for _ in range(int(request.decode())):
            yield message

    await serve_bare(port, "bench.Stream", {
        "Push": grpc.unary_stream_rpc_method_handler(push, lambda b: b, lambda b: b),
    })


# -- watcher processes -------------------------------------------------------------


async def _read_sse(response: Any, count: int, arrived: list[float] | None = None) -> int:
    """Read events off an SSE response until ``count`` (0: until it ends); with ``arrived``,
    note each event's delay from its record time."""
    import json
    from datetime import datetime

    got = 0
    async for line in response.content:
        if arrived is not None and line.startswith(b"data: "):
            # RFC 3339 with nanoseconds, which datetime does not parse: the fraction apart.
            whole, _, fraction = json.loads(line[6:])["event"]["time"].rstrip("Z").partition(".")
            recorded = datetime.fromisoformat(whole + "+00:00").timestamp()
            arrived.append(time.time() - recorded - float("0." + (fraction or "0")))
        if line.startswith(b"id: "):
            got += 1
            if got == count:
                break
    return got


async def _watch_sse(address: str, streams: int, count: int) -> tuple[int, float]:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> int:
            async with session.get(f"http://{address}/v1/events:watch?after_sequence=0",
                                   timeout=aiohttp.ClientTimeout(total=None)) as response:
                return await _read_sse(response, count)

        start = time.perf_counter()
        got = await asyncio.gather(*(one() for _ in range(streams)))
        return sum(got), time.perf_counter() - start


async def _watch(kind: str, address: str, streams: int, count: int) -> tuple[int, float]:
    """Open ``streams`` streams and read ``count`` messages from each: (messages, seconds)."""
    if kind == "sse":
        return await _watch_sse(address, streams, count)
    from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
    from phoenixflight_api.v1 import flight_recorder_service_pb2_grpc as rec_grpc

    async with grpc.aio.insecure_channel(address) as channel:
        recorder = rec_grpc.FlightRecorderServiceStub(channel)
        push = channel.unary_stream(PUSH_METHOD, lambda b: b, lambda b: b)

        async def one() -> int:
            call: grpc.aio.UnaryStreamCall[Any, Any]
            if kind == "ceiling":
                call = push(str(count).encode())
            else:
                call = recorder.WatchEvents(rpb.WatchEventsRequest(after_sequence=0))
            got = 0
            async for _ in call:
                got += 1
                if got == count:
                    call.cancel()
                    break
            return got

        start = time.perf_counter()
        got = await asyncio.gather(*(one() for _ in range(streams)))
        return sum(got), time.perf_counter() - start


def _watch_job(args: tuple[str, str, int, int]) -> tuple[int, float]:
    return asyncio.run(_watch(*args))


def fan_out(kind: str, address: str, watchers: int, count: int) -> float:
    """Messages/s summed over ``watchers`` streams of ``count`` messages each."""
    shares = [watchers // CLIENT_PROCESSES + (i < watchers % CLIENT_PROCESSES)
              for i in range(CLIENT_PROCESSES)]
    jobs = [(kind, address, share, count) for share in shares if share]
    with mp.get_context("spawn").Pool(len(jobs)) as pool:
        results = pool.map(_watch_job, jobs)
    return sum(n for n, _ in results) / max(seconds for _, seconds in results)


async def _live_sse(address: str, http: str, watchers: int, seconds: float,
                    rate: float) -> list[float]:
    """As ``_live``, the watchers reading GET /v1/events:watch on ``http``."""
    import aiohttp

    from phoenixflight_api.v1 import membership_service_pb2 as mpb
    from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc

    delays: list[float] = []
    async with grpc.aio.insecure_channel(address) as channel, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0)) as session:
        members = mem_grpc.MembershipServiceStub(channel)
        responses = await asyncio.gather(*(
            session.get(f"http://{http}/v1/events:watch",
                        timeout=aiohttp.ClientTimeout(total=None)) for _ in range(watchers)))
        await asyncio.sleep(0.2)  # the streams are subscribed before the first event
        readers = [asyncio.create_task(_read_sse(r, 0, delays)) for r in responses]
        deadline = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < deadline:
            await members.RegisterMember(
                mpb.RegisterMemberRequest(member_id=f"live-sse-{watchers}-{n}"))
            n += 1
            await asyncio.sleep(1 / rate)
        await asyncio.sleep(0.5)  # the last events arrive
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        for response in responses:
            response.close()
    return delays


async def _live(address: str, watchers: int, seconds: float, rate: float) -> list[float]:
    """Delays (s) from each event's record time to its arrival at each watcher."""
    from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
    from phoenixflight_api.v1 import flight_recorder_service_pb2_grpc as rec_grpc
    from phoenixflight_api.v1 import membership_service_pb2 as mpb
    from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc

    delays: list[float] = []
    async with grpc.aio.insecure_channel(address) as channel:
        recorder = rec_grpc.FlightRecorderServiceStub(channel)
        members = mem_grpc.MembershipServiceStub(channel)
        calls = [recorder.WatchEvents(rpb.WatchEventsRequest()) for _ in range(watchers)]
        await asyncio.gather(*(call.wait_for_connection() for call in calls))
        await asyncio.sleep(0.2)  # the streams are subscribed before the first event

        async def read(call: grpc.aio.UnaryStreamCall) -> None:  # type: ignore[type-arg]
            async for response in call:
                delays.append(time.time() - response.event.time.ToNanoseconds() / 1e9)

        readers = [asyncio.create_task(read(call)) for call in calls]
        deadline = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < deadline:
            await members.RegisterMember(
                mpb.RegisterMemberRequest(member_id=f"live-{watchers}-{n}"))
            n += 1
            await asyncio.sleep(1 / rate)
        await asyncio.sleep(0.5)  # the last events arrive
        for call in calls:
            call.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return delays


async def _populate(address: str, registrations: int) -> int:
    """Register members (two events each); returns the mean WatchEvents message size."""
    from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
    from phoenixflight_api.v1 import flight_recorder_service_pb2_grpc as rec_grpc
    from phoenixflight_api.v1 import membership_service_pb2 as mpb
    from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc

    async with grpc.aio.insecure_channel(address) as channel:
        members = mem_grpc.MembershipServiceStub(channel)
        queue = iter(range(registrations))

        async def worker() -> None:
            for i in queue:
                await members.RegisterMember(mpb.RegisterMemberRequest(
                    member_id=f"m-{i}", capabilities=["ocr@2", "summarize"],
                    labels={"region": "us-east"}))

        await asyncio.gather(*(worker() for _ in range(32)))
        page = await rec_grpc.FlightRecorderServiceStub(channel).QueryEvents(
            rpb.QueryEventsRequest(page_size=1000))
        sizes = [rpb.WatchEventsResponse(event=e).ByteSize() for e in page.events]
        return int(statistics.mean(sizes))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="log length each watcher reads")
    parser.add_argument("--watchers", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--live-seconds", type=float, default=2.0)
    parser.add_argument("--live-rate", type=float, default=200.0, help="events/s while live")
    args = parser.parse_args()

    rows: list[tuple[int, float, float, float, float]] = []
    sse_rows: list[tuple[int, float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        http = f"127.0.0.1:{free_port()}"
        daemon = PhoenixProcess(Path(tmp) / "data", "--log-level", "warning",
                                "--http-listen", http).start()
        try:
            size = asyncio.run(_populate(daemon.address, args.events // 2 + 1))
            port = free_port()
            ceiling = subprocess.Popen([sys.executable, "-c",
                f"import asyncio, sys; sys.path.insert(0, {str(ROOT)!r}); "
                "from bench.fanout import _serve_stream; "
                f"asyncio.run(_serve_stream({port}, {size}))"])
            try:
                time.sleep(0.5)
                for watchers in args.watchers:
                    base = fan_out("ceiling", f"127.0.0.1:{port}", watchers, args.events)
                    replay = fan_out("phoenixd", daemon.address, watchers, args.events)
                    delays = asyncio.run(
                        _live(daemon.address, watchers, args.live_seconds, args.live_rate))
                    rows.append((watchers, base, replay, p50(delays) * 1000, p99(delays) * 1000))
                    sse = fan_out("sse", http, watchers, args.events)
                    delays = asyncio.run(_live_sse(daemon.address, http, watchers,
                                                   args.live_seconds, args.live_rate))
                    sse_rows.append((watchers, sse, p50(delays) * 1000, p99(delays) * 1000))
            finally:
                ceiling.terminate()
                ceiling.wait(10)
        finally:
            daemon.stop()

    print(f"\n{os.cpu_count()} cores, {args.events} events of ~{size} bytes per watcher, "
          f"watchers in {CLIENT_PROCESSES} client processes")
    print(f"{'watchers':>8}{'ceiling msg/s':>15}{'replay msg/s':>14}{'vs ceiling':>12}"
          f"{'live p50 ms':>13}{'live p99 ms':>13}")
    for watchers, base, replay, median, tail in rows:
        print(f"{watchers:>8}{base:>15.0f}{replay:>14.0f}{replay / base:>11.2f}x"
              f"{median:>13.2f}{tail:>13.2f}")
    print("\nThe same feed over Server-Sent Events (GET /v1/events:watch), same run:")
    print(f"{'watchers':>8}{'SSE msg/s':>15}{'vs gRPC':>14}{'live p50 ms':>13}"
          f"{'live p99 ms':>13}")
    for (watchers, sse, median, tail), row in zip(sse_rows, rows, strict=True):
        print(f"{watchers:>8}{sse:>15.0f}{sse / row[2]:>13.2f}x{median:>13.2f}{tail:>13.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
