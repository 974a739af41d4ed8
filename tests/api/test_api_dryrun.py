"""SimulatorService against a real phoenixd: a dry-run of a drain, a failure (by member and by
label) and a join says which packets would move where and which would wait and why, with the
figures before and after, and changes nothing (the journal's head and bytes, the members and
the packets are as they were); Simulate runs a scenario deterministically, also changing
nothing; bad requests are refused naming what is wrong; the CLI prints both forms."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from phoenixflight_api.v1 import cluster_service_pb2 as cpb
from phoenixflight_api.v1 import cluster_service_pb2_grpc as cpb_grpc
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from phoenixflight_api.v1 import simulator_service_pb2 as spb
from phoenixflight_api.v1 import simulator_service_pb2_grpc as spb_grpc
from tests.api.agents import envelope
from tests.api.cli import js, phoenix
from tests.conftest import register
from tests.daemon import PhoenixProcess

# Long enough that no lease runs out while the test runs (the members never heartbeat).
TTL = 300.0


@pytest.fixture
def cluster(daemon: PhoenixProcess) -> Iterator[PhoenixProcess]:
    """east-1 and east-2 (region us-east) and west-1 offer ocr; only west-1 offers gpu;
    eight ocr packets spread over them, two gpu packets on west-1, one packet asking for
    a capability nobody offers (waiting)."""
    register(daemon, "east-1", "ocr", ttl=TTL, labels={"region": "us-east"})
    register(daemon, "east-2", "ocr", ttl=TTL, labels={"region": "us-east"})
    register(daemon, "west-1", "ocr", "gpu", ttl=TTL, labels={"region": "us-west"})
    for i in range(8):
        daemon.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(f"fp-{i}", "ocr")),
                                    timeout=10)
    for i in range(2):
        daemon.packets.SubmitPacket(ppb.SubmitPacketRequest(
            packet=envelope(f"gpu-{i}", "gpu")), timeout=10)
    daemon.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("tpu-0", "tpu")),
                                timeout=10)
    yield daemon


def _sim(d: PhoenixProcess) -> spb_grpc.SimulatorServiceStub:
    assert d.channel is not None
    return spb_grpc.SimulatorServiceStub(d.channel)


def _live(d: PhoenixProcess) -> tuple[int, bytes, list[tuple[str, int]], list[tuple[str, str]]]:
    """What a dry-run must not change: the revision, the journal's bytes, each member's
    status and each packet's owner."""
    assert d.channel is not None
    status = cpb_grpc.ClusterServiceStub(d.channel).GetClusterStatus(
        cpb.GetClusterStatusRequest(), timeout=10)
    members = d.members.ListMembers(mpb.ListMembersRequest(), timeout=10).members
    packets = d.packets.ListPackets(ppb.ListPacketsRequest(), timeout=10).packets
    return (status.revision, (d.data_dir / "audit.jsonl").read_bytes(),
            sorted((m.member_id, m.status) for m in members),
            sorted((p.packet_id, p.current_owner) for p in packets))


def _owners(d: PhoenixProcess) -> dict[str, str]:
    packets = d.packets.ListPackets(ppb.ListPacketsRequest(), timeout=10).packets
    return {p.packet_id: p.current_owner for p in packets}


def test_dry_runs_answer_and_change_nothing(cluster: PhoenixProcess) -> None:
    sim = _sim(cluster)
    before = _live(cluster)
    owners = _owners(cluster)

    drain = sim.DryRun(spb.DryRunRequest(drain=spb.DrainChange(member_id="west-1")), timeout=60)
    assert drain.revision == before[0] and list(drain.member_ids) == ["west-1"]
    moved = {m.packet_id: m for m in drain.moves}
    # Its ocr packets go to the east; its gpu packets have nowhere to go and stay.
    assert {p for p, o in owners.items() if o == "west-1" and p.startswith("fp-")} == set(moved)
    assert all(m.from_member_id == "west-1" and m.to_member_id.startswith("east-")
               for m in moved.values())
    assert sorted(h.packet_id for h in drain.held) == ["gpu-0", "gpu-1"]
    assert all("missing_capability" in h.rejected_counts for h in drain.held)
    assert drain.after.values["active"] == drain.before.values["active"] - 1
    assert drain.events > 0

    fail = sim.DryRun(spb.DryRunRequest(fail=spb.FailChange(member_id="west-1")), timeout=60)
    waiting = {w.packet_id: w for w in fail.waiting}
    assert sorted(waiting) == ["gpu-0", "gpu-1"]
    assert all(w.previous_owner == "west-1" for w in waiting.values())
    assert "no eligible member" in waiting["gpu-0"].explanation
    assert fail.waiting_total == 3  # the two gpu packets and tpu-0, waiting before
    assert fail.after.values["waiting"] == fail.before.values["waiting"] + 2

    east = sim.DryRun(spb.DryRunRequest(fail=spb.FailChange(label_selector="region=us-east")),
                      timeout=60)
    assert sorted(east.member_ids) == ["east-1", "east-2"]
    assert {m.to_member_id for m in east.moves} == {"west-1"}
    assert east.after.values["active"] == 1

    join = sim.DryRun(spb.DryRunRequest(join=spb.JoinChange(
        count=2, capabilities=["tpu", "ocr"], labels={"region": "us-east"})), timeout=60)
    assert list(join.member_ids) == ["dry-run-1", "dry-run-2"]
    placed = {m.packet_id: m for m in join.moves if not m.from_member_id}
    assert placed["tpu-0"].to_member_id in ("dry-run-1", "dry-run-2")
    assert join.after.values["active"] == 5

    # Nothing of it happened.
    assert _live(cluster) == before
    listed = cluster.members.ListMembers(mpb.ListMembersRequest(), timeout=10).members
    assert "dry-run-1" not in {m.member_id for m in listed}


def test_bad_changes_are_refused_by_name(cluster: PhoenixProcess) -> None:
    sim = _sim(cluster)
    cases = [
        (spb.DryRunRequest(), grpc.StatusCode.INVALID_ARGUMENT, "set one of drain"),
        (spb.DryRunRequest(drain=spb.DrainChange(member_id="nobody")),
         grpc.StatusCode.NOT_FOUND, "nobody"),
        (spb.DryRunRequest(fail=spb.FailChange(label_selector="region in (")),
         grpc.StatusCode.INVALID_ARGUMENT, "selector"),
        (spb.DryRunRequest(fail=spb.FailChange(label_selector="region=mars")),
         grpc.StatusCode.NOT_FOUND, "region=mars"),
        (spb.DryRunRequest(join=spb.JoinChange(count=0)),
         grpc.StatusCode.INVALID_ARGUMENT, "count"),
    ]
    before = _live(cluster)
    for request, code, words in cases:
        with pytest.raises(grpc.RpcError) as err:
            sim.DryRun(request, timeout=30)
        assert err.value.code() == code, err.value.details()
        assert words in (err.value.details() or "")
    assert _live(cluster) == before


def test_simulate_runs_a_scenario_in_the_daemon(cluster: PhoenixProcess) -> None:
    sim = _sim(cluster)
    before = _live(cluster)
    request = spb.SimulateRequest(mode="ring", preset="rolling-restart", steps=4, members=5,
                                  packets=40, seed=7)
    first = sim.Simulate(request, timeout=60)
    again = sim.Simulate(request, timeout=60)
    assert first.head_hash == again.head_hash and first.head_sequence > 0
    assert len(first.steps) == 4 and first.strategy == "ring"
    assert first.run.values["migrations"] >= 0
    with pytest.raises(grpc.RpcError) as err:
        sim.Simulate(spb.SimulateRequest(members=100_000), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "members" in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        sim.Simulate(spb.SimulateRequest(preset="no-such-preset"), timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _live(cluster) == before


def test_cli_dry_run_table_and_json(cluster: PhoenixProcess) -> None:
    before = _live(cluster)
    table = phoenix(cluster, "dry-run", "fail", "west-1").stdout
    assert "would wait with no eligible member" in table and "gpu-0" in table
    assert "BEFORE" in table and "AFTER" in table
    data = js(cluster, "dry-run", "fail", "--label", "region=us-east")
    assert sorted(data["member_ids"]) == ["east-1", "east-2"]
    data = js(cluster, "dry-run", "join", "--cap", "tpu", "--count", "1")
    assert data["member_ids"] == ["dry-run-1"]
    table = phoenix(cluster, "dry-run", "drain", "west-1").stdout
    assert "would stay on the draining member" in table
    refused = phoenix(cluster, "dry-run", "fail", expect=2)
    assert "MEMBER or give --label" in refused.stderr
    assert _live(cluster) == before
