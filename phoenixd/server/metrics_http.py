"""The Prometheus endpoint: ``GET /metrics`` on ``--metrics-listen``, in the text format.

A surface like the gRPC server: it reads ``Application.telemetry()`` (counts the core keeps
as events land) and the journal's histograms at scrape time, so scraping costs one pass over
a few dozen numbers and instrumenting costs the hot path an increment. The HTTP side is a
few lines of asyncio on the daemon's own loop (no thread reading the state while the loop
changes it): one request per connection, GET /metrics only, headers bounded in size and
time. There is no authentication, as with etcd's --listen-metrics-urls: the figures are
counts (no names, no namespaces), and the listener is loopback unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from phoenixd.core.application import Telemetry
from phoenixd.core.telemetry import Histogram

__all__ = ["JournalFigures", "MetricsServer"]

# A scrape request is a request line and a few headers; anything longer, or slower, is not
# a Prometheus server and is dropped rather than held.
MAX_REQUEST_BYTES = 8192
REQUEST_TIMEOUT = 5.0
PREFIX = "phoenixflight"


class JournalFigures(Protocol):
    """What the journal measures of itself (phoenixd.store's Journal)."""

    @property
    def fsync_latency(self) -> Histogram: ...
    @property
    def batch_size(self) -> Histogram: ...


def _histogram(name: str, doc: str, h: Histogram) -> HistogramMetricFamily:
    buckets = [("+Inf" if math.isinf(bound) else repr(float(bound)), n)
               for bound, n in h.cumulative()]
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=h.sum)


class _Collector:
    """Turns one Telemetry reading into metric families, at each scrape."""

    def __init__(self, telemetry: Callable[[], Telemetry], journal: JournalFigures) -> None:
        self._telemetry = telemetry
        self._journal = journal

    def collect(self) -> Iterator[Metric]:
        t = self._telemetry()
        members = GaugeMetricFamily(f"{PREFIX}_members", "Members by status.",
                                    labels=["status"])
        for status, n in t.members.items():
            members.add_metric([status.value], n)
        yield members
        packets = GaugeMetricFamily(f"{PREFIX}_packets", "Flight Packets by status.",
                                    labels=["status"])
        for packet_status, n in t.packets.items():
            packets.add_metric([packet_status.value], n)
        yield packets
        for key, name, doc in (
            ("assignments", "assignments", "Placement decisions that gave a packet an owner."),
            ("handoffs", "handoffs_started", "Handoffs started."),
            ("migrations", "handoffs_completed", "Handoffs completed (the new owner took over)."),
            ("remaps", "remaps", "Assignments of a packet that had an owner before."),
            ("refused", "stale_writes_refused", "Member-side writes refused by fencing."),
            ("completed", "packets_completed", "Packets completed."),
            ("poisoned", "packets_poisoned", "Packets failed for good."),
        ):
            yield CounterMetricFamily(f"{PREFIX}_{name}", doc, value=t.totals.get(key, 0))
        yield _histogram(f"{PREFIX}_handoff_latency_seconds",
                         "Handoff latency: decide, sign, persist, deliver.", t.handoff_latency)
        yield _histogram(f"{PREFIX}_journal_fsync_seconds",
                         "Time of one fdatasync of the journal.", self._journal.fsync_latency)
        yield _histogram(f"{PREFIX}_journal_group_commit_events",
                         "Events made durable by one group commit.", self._journal.batch_size)
        yield GaugeMetricFamily(f"{PREFIX}_feed_subscribers",
                                "Open watch feeds (membership, events, assignments).",
                                value=t.feed_subscribers)
        yield CounterMetricFamily(f"{PREFIX}_feed_subscribers_dropped",
                                  "Watch feeds cut off for falling behind.",
                                  value=t.feed_dropped)


class MetricsServer:
    """Serves GET /metrics on one host:port until closed."""

    def __init__(self, telemetry: Callable[[], Telemetry], journal: JournalFigures) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(_Collector(telemetry, journal))
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; the port bound (``port`` 0 picks one)."""
        self._server = await asyncio.start_server(self._serve, host, port,
                                                  limit=MAX_REQUEST_BYTES)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
            method, path, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            if method != "GET":
                await _reply(writer, 405, "text/plain", b"only GET is served here\n")
            elif path.split("?", 1)[0] != "/metrics":
                await _reply(writer, 404, "text/plain", b"the metrics are at /metrics\n")
            else:
                await _reply(writer, 200, CONTENT_TYPE_LATEST, generate_latest(self._registry))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ValueError, ConnectionError):
            pass  # not a scrape: drop it
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed"}


async def _reply(writer: asyncio.StreamWriter, code: int, content_type: str,
                 body: bytes) -> None:
    writer.write(
        f"HTTP/1.1 {code} {_REASONS[code]}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1") + body
    )
    await writer.drain()
