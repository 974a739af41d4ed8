"""Live DMA metrics against a real phoenixd: GetClusterHealth counts exactly what the Flight
Recorder holds for the window (joins, leaves, outcomes, stale writes refused) and takes the
balance from the state, shown by `phoenix health` as a table and as JSON; the counts survive
a restart (the window is read back from the journal); a scoped token sees its namespaces
only; a bad window is refused saying the bounds; and the Prometheus endpoint on
--metrics-listen, scraped over HTTP, shows members and packets by status, the stale writes
refused, the journal's fsync and group-commit histograms and the open feeds."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import grpc
import pytest

from phoenixd.config import parse_args
from phoenixd.core import dma
from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope, packet_of
from tests.api.cli import js, phoenix
from tests.daemon import PhoenixProcess, free_port, operator_token_args


def _scrape(port: int, path: str = "/metrics") -> dict[str, float]:
    """The samples of one scrape, by name with labels (e.g. 'x_members{status="ACTIVE"}')."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def _work(d: PhoenixProcess) -> None:
    """Two members join, one leaves; a packet completes, one fails for good, one stale write
    is refused."""
    a = Agent(d, "a", "ocr", ttl=3600, trust_score=0.9)
    b = Agent(d, "b", "ocr", ttl=3600, trust_score=0.6)
    for i in range(1, 5):
        d.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(f"fp-{i}", "ocr")))
    owners = {"a": a, "b": b}
    done, poisoned, stale = (packet_of(d, f"fp-{i}") for i in (1, 2, 3))
    owners[done.current_owner].complete("fp-1", done.epoch)
    owners[poisoned.current_owner].fail("fp-2", poisoned.epoch, "bad input", permanent=True)
    with pytest.raises(grpc.RpcError) as info:
        owners[stale.current_owner].ack("fp-3", stale.epoch + 7)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    other = "b" if packet_of(d, "fp-4").current_owner == "a" else "a"
    d.packets.HandoffPacket(ppb.HandoffPacketRequest(packet_id="fp-4", target_member_id=other))
    js(d, "member", "retire", "b")


def _journal_counts(d: PhoenixProcess) -> Counter[str]:
    return Counter(e["type"] for e in js(d, "audit", "query", "--limit", "1000"))


def test_health_counts_what_the_recorder_holds_and_survives_a_restart(tmp_path: Path) -> None:
    port = free_port()
    with PhoenixProcess(tmp_path / "data", "--metrics-listen", f"127.0.0.1:{port}") as d:
        _work(d)
        seen = _journal_counts(d)
        health = js(d, "health")
        joins, leaves = seen["member_registered"], seen["member_failed"] + seen["member_retired"]
        assert (joins, leaves) == (2, 1)
        assert health["window_seconds"] == 3600.0 and health["namespaces"] == []
        assert health["churn"] == {"joins": 2, "leaves": 1, "mcr": dma.mcr(2, 1, 1.0),
                                   "wmcr": dma.wmcr(2, 1, 1.0), "si": dma.si(3.0)}
        writes = sum(seen[t] for t in dma.WRITE_EVENTS)
        assert health["compliance"] == dma.compliance(writes, 1)
        assert health["trust"] == 0.9  # the one ACTIVE member, a
        assert health["dhs"] == dma.dhs(dma.si(3.0), 0.9, health["compliance"])
        assert health["tasks"] == {"completed": 1, "failed": seen["packet_attempt_failed"],
                                   "poisoned": 1, "success_rate": 0.5}
        assert health["fencing_rejections"] == 1
        moved = health["relocation"]
        assert moved["assignments"] == seen["assignment_decision"]
        assert moved["handoffs"] == seen["handoff_started"] >= 1 and moved["remaps"] >= 1
        # b's packets went to a: it holds every packet still open (fp-3, fp-4).
        assert health["load"]["active_members"] == 1 and health["load"]["owned_packets"] == 2

        table = phoenix(d, "health", "--window", "30m").stdout.splitlines()
        assert table[0].split() == ["WINDOW", "SCOPE", "REVISION", "MCR/h", "WMCR/h", "SI",
                                    "TRUST", "COMPLIANCE", "DHS"]
        assert table[1].split()[:2] == ["30m", "all"]
        assert "churn:   2 joins, 1 leaves" in table
        assert "fencing: 1 stale writes refused" in table

        # A replay's first event arrives once the watch has subscribed (it subscribes first).
        watch = d.recorder.WatchEvents(rpb.WatchEventsRequest(after_sequence=0), timeout=30)
        try:
            assert next(watch).event.sequence == 1
            samples = _scrape(port)
        finally:
            watch.cancel()
        assert samples['phoenixflight_members{status="ACTIVE"}'] == 1
        assert samples['phoenixflight_members{status="RETIRED"}'] == 1
        assert samples['phoenixflight_packets{status="COMPLETED"}'] == 1
        assert samples['phoenixflight_packets{status="FAILED"}'] == 1
        assert samples["phoenixflight_stale_writes_refused_total"] == 1
        assert samples["phoenixflight_assignments_total"] == seen["assignment_decision"]
        assert samples["phoenixflight_handoffs_started_total"] == seen["handoff_started"]
        assert samples["phoenixflight_feed_subscribers"] >= 1
        assert samples["phoenixflight_feed_subscribers_dropped_total"] == 0
        fsyncs = samples["phoenixflight_journal_fsync_seconds_count"]
        assert fsyncs >= 1 and samples['phoenixflight_journal_fsync_seconds_bucket{le="+Inf"}'] \
            == fsyncs
        assert samples["phoenixflight_journal_group_commit_events_sum"] >= sum(seen.values())
        assert 'phoenixflight_handoff_latency_seconds_bucket{le="+Inf"}' in samples
        with pytest.raises(urllib.error.HTTPError) as missing:
            _scrape(port, "/nothing")
        assert missing.value.code == 404

        d.stop()
        d.start()
        again = js(d, "health")
        assert again["churn"]["joins"] == 2 and again["churn"]["leaves"] == 1
        assert again["tasks"]["completed"] == 1 and again["fencing_rejections"] == 1
        # Prometheus counters start with the process, as a scraper expects of a restart.
        assert _scrape(port)["phoenixflight_stale_writes_refused_total"] == 0


def test_a_scoped_token_sees_its_namespaces_only(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    billing = phoenix(None, "token", "new", "billing-ci", "--namespaces", "billing",
                      "--tokens-file", str(tokens)).stdout.strip()
    admin = "health-test-admin"
    with PhoenixProcess(tmp_path / "data", *operator_token_args(tmp_path, admin),
                        "--auth-tokens", str(tokens)) as d:
        for name in ("billing", "search"):
            phoenix(d, "namespace", "create", name, "--token", admin)
        for member, space in (("w-1", "billing"), ("w-2", "search"), ("w-3", "search")):
            phoenix(d, "member", "register", member, "--cap", "ocr", "--ttl", "3600",
                    "--namespace", space, "--token", admin)
        assert js(d, "health", "--token", admin)["churn"]["joins"] == 3
        mine = js(d, "health", "--token", billing)
        assert mine["namespaces"] == ["billing"] and mine["churn"]["joins"] == 1
        assert mine["load"]["active_members"] == 1
        search = js(d, "health", "--namespace", "search", "--token", admin)
        assert search["churn"]["joins"] == 2 and search["load"]["active_members"] == 2
        refused = phoenix(d, "health", "--namespace", "search", "--token", billing, expect=1)
        assert "PERMISSION_DENIED" in refused.stderr and "'billing' only" in refused.stderr


def test_a_bad_window_is_refused_with_the_bounds(daemon: PhoenixProcess) -> None:
    wide = phoenix(daemon, "health", "--window", "2d", expect=1)
    assert wide.stderr.strip() == (
        "phoenix: INVALID_ARGUMENT: window must be more than 0 s and at most 86400 s (24 h), "
        "got 172800 s; leave it unset for the last 3600 s")
    garbled = phoenix(daemon, "health", "--window", "soon", expect=2)
    assert "'soon' is not a window" in garbled.stderr


def test_a_metrics_address_that_is_not_one_is_refused() -> None:
    assert parse_args(["--metrics-listen", "7401"]).metrics_address() == ("127.0.0.1", "7401")
    assert parse_args([]).metrics_listen == ""  # off unless asked
    with pytest.raises(SystemExit):
        parse_args(["--metrics-listen", "localhost:http"])
