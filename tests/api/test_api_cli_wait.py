"""Following state with the phoenix CLI against a real phoenixd: `watch members` and `watch
packets` print the listed state, then the changes after it; `packet wait` exits 0, 1 or 2 as
the packet reaches the status, ends another way, or the timeout runs out; `member drain
--wait` reports the packets left and returns once the member is RETIRED."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from phoenixflight import Client
from tests.api.cli import follow, js, phoenix
from tests.daemon import PhoenixProcess


@pytest.fixture
def sdk(daemon: PhoenixProcess) -> Iterator[Client]:
    with Client(daemon.address) as client:
        yield client


def test_watch_members_lists_then_follows(daemon: PhoenixProcess) -> None:
    js(daemon, "member", "register", "--ttl", "3600", "w1")
    watcher = follow(daemon, "watch", "members")
    try:
        assert watcher.stdout is not None
        assert watcher.stdout.readline().split() == [
            "REVISION", "EVENT", "ID", "STATUS", "PACKETS", "REASON"]
        assert watcher.stdout.readline().split()[1:4] == ["listed", "w1", "ACTIVE"]
        js(daemon, "member", "retire", "w1")
        assert watcher.stdout.readline().split()[1:4] == ["member_retired", "w1", "RETIRED"]
    finally:
        watcher.terminate()
        watcher.wait(10)


def test_watch_packets_lists_then_follows_as_json_lines(daemon: PhoenixProcess) -> None:
    js(daemon, "member", "register", "--ttl", "3600", "m1", "--cap", "ocr")
    js(daemon, "packet", "submit", "fp-1", "--cap", "ocr")
    watcher = follow(daemon, "watch", "packets", "-o", "json")
    try:
        assert watcher.stdout is not None
        listed = json.loads(watcher.stdout.readline())
        assert (listed["event_type"], listed["packet"]["packet_id"]) == ("listed", "fp-1")
        js(daemon, "packet", "cancel", "fp-1")
        change = json.loads(watcher.stdout.readline())
        assert change["event_type"] == "packet_cancelled"
        assert change["revision"] > listed["revision"]
        assert change["event"]["data"]["packet"]["status"] == "CANCELLED"
    finally:
        watcher.terminate()
        watcher.wait(10)


def test_packet_wait_reaches_completed(daemon: PhoenixProcess, sdk: Client) -> None:
    _, credential = sdk.register_member("m1", "ocr")
    js(daemon, "packet", "submit", "fp-1", "--cap", "ocr")
    waiter = follow(daemon, "packet", "wait", "fp-1", "-o", "name")
    epoch = sdk.get_packet("fp-1").epoch
    sdk.ack_packet("m1", credential, "fp-1", epoch)
    sdk.complete_packet("m1", credential, "fp-1", epoch, {"ok": True})
    out, err = waiter.communicate(timeout=60)
    assert (waiter.returncode, out) == (0, "packet/fp-1\n"), err
    phoenix(daemon, "packet", "wait", "fp-1", "--for", "assigned")  # passed on the way


def test_packet_wait_on_a_cancelled_packet_and_on_a_timeout(daemon: PhoenixProcess) -> None:
    js(daemon, "packet", "submit", "fp-1")  # no member: it stays PENDING
    timed_out = phoenix(daemon, "packet", "wait", "fp-1", "--for", "assigned",
                        "--timeout", "1", expect=2)
    assert timed_out.stderr == ("phoenix: timed out after 1s waiting for packet fp-1 to be "
                                "assigned (it is PENDING)\n")
    waiter = follow(daemon, "packet", "wait", "fp-1")
    js(daemon, "packet", "cancel", "fp-1", "--reason", "not needed")
    _, err = waiter.communicate(timeout=60)
    assert (waiter.returncode, err) == (1, "phoenix: packet fp-1 is CANCELLED: not needed\n")


def test_member_drain_wait_reports_progress_until_retired(daemon: PhoenixProcess) -> None:
    js(daemon, "member", "register", "m1", "--cap", "gpu", "--ttl", "60")
    js(daemon, "packet", "submit", "fp-1", "--cap", "gpu")
    drained = phoenix(daemon, "member", "drain", "m1", "--deadline", "1", "--wait",
                      "-o", "json")
    assert json.loads(drained.stdout)["status"] == "MEMBER_STATUS_RETIRED"
    assert drained.stderr.startswith("draining m1: 1 packet left, the rest evicted at ")
    assert js(daemon, "packet", "get", "fp-1")["status"] == "PACKET_STATUS_PENDING"
