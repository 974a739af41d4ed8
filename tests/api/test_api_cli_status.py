"""`phoenix status` against a real phoenixd: endpoint, health, daemon version, revision and
counts by status from GetClusterStatus, as a table and as JSON; exit 2 when unreachable."""

from __future__ import annotations

from importlib import metadata

from tests.api.cli import CLOSED, js, phoenix
from tests.daemon import PhoenixProcess


def test_status_shows_health_version_revision_and_counts(daemon: PhoenixProcess) -> None:
    for name in ("m1", "m2"):
        js(daemon, "member", "register", "--ttl", "3600", name, "--cap", "ocr")
    js(daemon, "member", "retire", "m2")
    js(daemon, "packet", "submit", "fp-1", "--cap", "ocr")
    js(daemon, "packet", "submit", "fp-2", "--cap", "gpu")  # nobody offers gpu: PENDING
    version = metadata.version("phoenixd")
    head = js(daemon, "audit", "query")[-1]["sequence"]

    lines = phoenix(daemon, "status").stdout.splitlines()
    assert lines[0].split() == ["ENDPOINT", "HEALTH", "VERSION", "REVISION"]
    assert lines[1].split() == [daemon.address, "SERVING", version, head]
    assert lines[3] == ("members: 1 ACTIVE, 0 SUSPECT, 0 FAILED, 0 DRAINING, 1 RETIRED "
                        "(2 in all)")
    assert lines[4] == ("packets: 1 PENDING, 1 ASSIGNED, 0 RUNNING, 0 COMPLETED, 0 FAILED, "
                        "0 CANCELLED (2 in all)")

    status = js(daemon, "status")
    assert (status["endpoint"], status["health"], status["daemon_version"]) == (
        daemon.address, "SERVING", version)
    assert status["revision"] == head
    counts = {c["status"]: int(c.get("count", 0)) for c in status["packet_counts"]}
    assert counts["PACKET_STATUS_PENDING"] == 1 and counts["PACKET_STATUS_CANCELLED"] == 0


def test_status_of_a_daemon_that_is_not_there() -> None:
    down = phoenix(None, "status", "--timeout", "2", expect=2)
    assert down.stderr.startswith(f"phoenix: {CLOSED}: UNAVAILABLE")
    assert down.stderr.count("\n") == 1
