"""The phoenix CLI against a real phoenixd: every command group with -o json output parsed,
the seed's envelope submitted from a file, audit tail --follow resuming across a daemon
restart, and the error paths (daemon down, bad flags, unknown ids) as one line and an exit code."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import pytest

from tests.api.agents import SEED_ENVELOPE, probe_until_delivered
from tests.api.cli import follow, js, phoenix
from tests.daemon import PhoenixProcess


def test_members_and_capabilities(daemon: PhoenixProcess) -> None:
    out = js(daemon, "member", "register", "agent-a", "--cap", "ocr@2", "--cap", "nlp",
             "--trust", "0.9", "--label", "region=us-east", "--ttl", "30")
    assert out["member"]["member_id"] == "agent-a"
    assert out["credential"]
    js(daemon, "member", "register", "--ttl", "3600", "agent-b", "--cap", "ocr@2", "--trust", "0.4")
    listed = js(daemon, "member", "list", "--selector", "region=us-east")
    assert [m["member_id"] for m in listed] == ["agent-a"]
    updated = js(daemon, "member", "update", "agent-b", "--trust", "0.7", "--label", "tier=gold")
    assert updated["trust_score"] == 0.7 and updated["labels"] == {"tier": "gold"}
    caps = {c["name"]: c for c in js(daemon, "capability", "list")}
    assert caps["ocr"]["versions"] == ["2"]
    assert [p["member_id"] for p in caps["ocr"]["providers"]] == ["agent-a", "agent-b"]
    assert js(daemon, "member", "drain", "agent-b", "--reason", "upgrade")["status"] == (
        "MEMBER_STATUS_RETIRED")  # nothing to hand off: retired at once
    assert js(daemon, "member", "retire", "agent-a")["status"] == "MEMBER_STATUS_RETIRED"
    table = phoenix(daemon, "member", "list", "--status", "Retired").stdout
    assert table.splitlines()[0].split()[:3] == ["ID", "KIND", "STATUS"]
    assert "agent-a" in table and "agent-b" in table


def test_packets_from_flags_and_from_the_seed_envelope(
    daemon: PhoenixProcess, tmp_path: Path
) -> None:
    for name, trust, region in (("agent-customer-01", "0.95", "us-east"),
                                ("agent-eu", "0.99", "eu-west")):
        js(daemon, "member", "register", "--ttl", "3600", name, "--cap", "customer_validation",
           "--cap", "policy_review", "--trust", trust, "--label", f"region={region}",
           "--label", "pii_cleared=true")
    envelope = tmp_path / "fp-001.json"
    envelope.write_text(json.dumps(SEED_ENVELOPE))
    packet = js(daemon, "packet", "submit", "-f", str(envelope))
    assert packet["current_owner"] == "agent-customer-01"  # the envelope's owner is ignored
    assert packet["context_checkpoint"]["state"] == {"case_id": "CUST-88291"}
    assert packet["context_checkpoint"]["step"] == "policy_review_pending"
    assert packet["audit"]["lineage_id"] == "lin-7742"

    flagged = js(daemon, "packet", "submit", "fp-2", "--cap", "policy_review",
                 "--state", '{"n": 1}', "--strategy", "ring", "--max-attempts", "2")
    assert flagged["strategy"] == "STRATEGY_RING" and flagged["max_attempts"] == 2
    listed = js(daemon, "packet", "list", "--status", "ASSIGNED")
    assert sorted(p["packet_id"] for p in listed) == ["fp-001", "fp-2"]
    decision = js(daemon, "packet", "explain", "fp-001")
    outcomes = {c["member_id"]: c.get("rejected_by", "") for c in decision["candidates"]}
    assert outcomes == {"agent-customer-01": "", "agent-eu": "region_not_allowed"}
    moved = js(daemon, "packet", "handoff", "fp-2", "--reason", "by hand")
    assert moved["epoch"] == "2"
    assert js(daemon, "packet", "cancel", "fp-2")["status"] == "PACKET_STATUS_CANCELLED"
    lineage = js(daemon, "audit", "export", "--lineage", "lin-7742")
    assert [e["type"] for e in lineage["events"]] == ["packet_created", "assignment_decision"]


def test_audit_query_verify_and_tail(daemon: PhoenixProcess) -> None:
    js(daemon, "member", "register", "--ttl", "3600", "m1", "--cap", "ocr")
    events = js(daemon, "audit", "query", "--type", "capability_discovered")
    assert [e["member_ids"] for e in events] == [["m1"]]
    assert js(daemon, "audit", "verify")["ok"]
    tail = phoenix(daemon, "audit", "tail", "-n", "2").stdout.splitlines()
    assert [line.split()[2] for line in tail] == ["member_registered", "capability_discovered"]


def test_audit_tail_follow_resumes_after_a_daemon_restart(daemon: PhoenixProcess) -> None:
    js(daemon, "member", "register", "--ttl", "3600", "before", "--cap", "ocr")
    follower = follow(daemon, "-o", "json", "audit", "tail", "-n", "0", "--follow",
                      "--type", "member_registered")
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert follower.stdout is not None
        for line in follower.stdout:
            lines.put(json.loads(line)["member_ids"][0])

    try:
        threading.Thread(target=pump, daemon=True).start()
        probe_until_delivered(
            lambda name: js(daemon, "member", "register", "--ttl", "3600", name, "--cap", "ocr"),
            lines, 30)
        js(daemon, "member", "register", "--ttl", "3600", "during", "--cap", "ocr")
        daemon.restart()
        js(daemon, "member", "register", "--ttl", "3600", "after", "--cap", "ocr")
        seen: list[str] = []
        while not seen or seen[-1] != "after":
            seen.append(lines.get(timeout=20))
        seen = [m for m in seen if not m.startswith("probe")]
        assert seen == ["during", "after"]  # nothing missed, nothing repeated
    finally:
        follower.terminate()
        follower.wait(10)
    assert follower.stderr is not None
    assert "resuming after" in follower.stderr.read()


def test_watch_members_replays_from_a_revision(daemon: PhoenixProcess) -> None:
    js(daemon, "member", "register", "--ttl", "3600", "w1")
    watcher = follow(daemon, "watch", "members", "--after-revision", "0")
    try:
        assert watcher.stdout is not None
        assert watcher.stdout.readline().split()[:4] == ["REVISION", "EVENT", "ID", "STATUS"]
        line = watcher.stdout.readline().split()
        assert line[1:4] == ["member_registered", "w1", "ACTIVE"]
    finally:
        watcher.terminate()
        watcher.wait(10)


@pytest.mark.parametrize(
    ("args", "expect", "needle"),
    [
        (("member", "get", "ghost"), 1, "NOT_FOUND: member 'ghost' is not registered"),
        (("packet", "get", "fp-404"), 1, "NOT_FOUND"),
        (("member", "register", "Bad_Id"), 1, "INVALID_ARGUMENT"),
        (("packet", "submit"), 2, "give a packet id"),
        (("packet", "submit", "fp-1", "--state", "{not json"), 2, ""),
    ],
)
def test_refusals_are_one_line_with_an_exit_code(
    daemon: PhoenixProcess, args: tuple[str, ...], expect: int, needle: str
) -> None:
    result = phoenix(daemon, *args, expect=expect)
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("phoenix: ")
    assert needle in result.stderr


def test_an_unreachable_daemon_and_bad_flags(tmp_path: Path) -> None:
    down = phoenix(None, "member", "list", "--timeout", "2", expect=2)
    assert "UNAVAILABLE" in down.stderr and "is phoenixd running?" in down.stderr
    assert down.stderr.count("\n") == 1
    bad = phoenix(None, "member", "list", "--status", "sleeping", expect=2)
    assert "invalid choice" in bad.stderr
    for group in ("member", "packet", "audit", "watch", "capability"):
        assert phoenix(None, group, "--help").stdout.startswith(f"usage: phoenix {group}")
