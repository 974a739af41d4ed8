"""phoenix simulate --replay against a real phoenixd's data dir: the recorded membership and
packet events re-run through the strategy the daemon used reproduce its placements; through
another strategy they report which packets would have ended elsewhere and the figures side by
side; the journal is only read (its bytes are unchanged, the daemon may keep running); a path
with no journal, and flags that do not go with a replay, are refused by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import envelope
from tests.api.cli import phoenix
from tests.conftest import register
from tests.daemon import PhoenixProcess

TTL = 300.0  # no lease runs out while the test runs


def _history(d: PhoenixProcess) -> dict[str, str]:
    """Four members, twenty packets, one member drained and one retired; the owners at the end."""
    for i in range(4):
        register(d, f"agent-{i}", "ocr", ttl=TTL, labels={"region": "us-east"},
                 trust_score=0.5 + i / 10)
    for i in range(20):
        d.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(f"fp-{i:02}", "ocr")),
                               timeout=10)
    d.members.DrainMember(mpb.DrainMemberRequest(member_id="agent-3"), timeout=10)
    d.members.RetireMember(mpb.RetireMemberRequest(member_id="agent-1"), timeout=10)
    packets = d.packets.ListPackets(ppb.ListPacketsRequest(), timeout=10).packets
    return {p.packet_id: p.current_owner for p in packets}


def _replay(*args: str) -> Any:
    return json.loads(phoenix(None, *args, "-o", "json").stdout)


def test_replay_reproduces_then_compares(daemon: PhoenixProcess) -> None:
    owners = _history(daemon)
    journal = daemon.data_dir / "audit.jsonl"
    before = journal.read_bytes()

    same = _replay("simulate", "--replay", str(daemon.data_dir), "--strategy", "trust")
    assert same["differing"] == 0, same["placed_differently"]
    assert same["replayed"]["packet_created"] == 20
    assert same["replayed"]["member_registered"] == 4
    assert same["replay"]["owned"] == same["recorded"]["owned"] == len(owners)
    assert same["replay"]["active"] == same["recorded"]["active"] == 2

    ring = _replay("simulate", "--replay", str(journal), "--strategy", "ring")
    assert ring["strategy"] == "ring" and ring["refused"] == 0
    assert ring["replay"]["owned"] == 20
    for packet, placed in ring["placed_differently"].items():
        assert placed["recorded"] == owners[packet] and placed["replay"] != owners[packet]

    table = phoenix(None, "simulate", "--replay", str(daemon.data_dir), "--strategy",
                    "ring").stdout
    assert "RECORDED" in table and "REPLAY (RING)" in table
    assert "would have ended with another owner" in table
    assert journal.read_bytes() == before


def test_replay_of_a_path_with_no_journal_is_refused(tmp_path: Path) -> None:
    refused = phoenix(None, "simulate", "--replay", str(tmp_path / "nowhere"), expect=2)
    assert "no journal at" in refused.stderr and "nowhere" in refused.stderr
    refused = phoenix(None, "simulate", "--replay", str(tmp_path), "--compare", "ring,trust",
                      expect=2)
    assert "takes no --compare" in refused.stderr
    refused = phoenix(None, "simulate", "--strategy", "ring", expect=2)
    assert "--strategy chooses the placement of a --replay" in refused.stderr
