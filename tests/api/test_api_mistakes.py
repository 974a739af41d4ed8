"""Mistakes a newcomer makes get an answer that says what is wrong and what to do: a
capability nobody offers, an explain that names it, a handoff of a waiting packet, the
URL form of an endpoint; and members long gone are not counted as candidates."""

from __future__ import annotations

import json

from phoenixflight import Client
from tests.api.cli import phoenix
from tests.conftest import register
from tests.daemon import PhoenixProcess

NOBODY_OFFERS = ("no ACTIVE member offers teleport: the packet waits until a member that "
                 "does registers or advertises it")


def test_a_capability_nobody_offers_warns_on_submit_and_explain_names_it(
    daemon: PhoenixProcess,
) -> None:
    register(daemon, "ocr-1", "ocr")
    done = phoenix(daemon, "packet", "submit", "doc-1", "--cap", "teleport")
    assert done.stderr.strip() == f"warning: {NOBODY_OFFERS}"  # still accepted: exit 0
    assert "PENDING" in done.stdout
    explained = phoenix(daemon, "packet", "explain", "doc-1").stdout.splitlines()[0]
    assert explained.startswith(f"{NOBODY_OFFERS}; no eligible member among 1 considered")
    assert "missing_capability x1" in explained
    offered = phoenix(daemon, "packet", "submit", "doc-2", "--cap", "ocr")
    assert offered.stderr == ""


def test_failed_and_retired_members_are_not_counted_as_candidates(
    daemon: PhoenixProcess,
) -> None:
    register(daemon, "ocr-1", "ocr", trust_score=0.9)
    for gone in ("ocr-2", "ocr-3"):
        register(daemon, gone, "ocr")
        phoenix(daemon, "member", "retire", gone)
    register(daemon, "ocr-4", "ocr", trust_score=0.5)
    phoenix(daemon, "packet", "submit", "doc-1", "--cap", "ocr")
    decision = json.loads(phoenix(daemon, "packet", "explain", "doc-1", "-o", "json").stdout)
    assert decision["winner"] == "ocr-1"
    assert decision["considered"] == 2  # not the two retired ones
    assert "2 eligible of 2 considered (rejected: none)" in decision["explanation"]


def test_a_handoff_of_a_waiting_packet_says_why_nothing_moves(daemon: PhoenixProcess) -> None:
    phoenix(daemon, "packet", "submit", "doc-1", "--cap", "ocr")
    refused = phoenix(daemon, "packet", "handoff", "doc-1", expect=1)
    assert refused.stderr.startswith(
        "phoenix: FAILED_PRECONDITION: packet 'doc-1' is PENDING: it has no owner to move it "
        "from, and it is placed as soon as a member is eligible")
    register(daemon, "ocr-1", "ocr")
    with Client(daemon.address) as pf:
        assert pf.get_packet("doc-1").current_owner == "ocr-1"


def test_the_endpoint_accepts_an_http_url(daemon: PhoenixProcess) -> None:
    listed = phoenix(None, "--endpoint", f"http://{daemon.address}", "member", "list")
    assert listed.stdout.startswith("ID ")
    bad = phoenix(None, "--endpoint", "ftp://127.0.0.1:1", "member", "list", expect=2)
    assert bad.stderr.strip() == (
        "phoenix: endpoint 'ftp://127.0.0.1:1': the scheme 'ftp' is not supported: use "
        "HOST:PORT, http://HOST:PORT or https://HOST:PORT")
    no_port = phoenix(None, "--endpoint", "127.0.0.1", "member", "list", expect=2)
    assert "is not HOST:PORT (e.g. 127.0.0.1:7400" in no_port.stderr
