"""The SDK's Member worker (through the example agent, which really runs) against a real
phoenixd: it completes work with checkpoints, rides out a daemon restart, and on SIGTERM drains:
its packet is handed off with the last checkpoint and another agent finishes it."""

from __future__ import annotations

from pathlib import Path

from phoenixflight import Client
from phoenixflight_api.v1 import packet_pb2
from tests.api.agents import event_data, wait_until
from tests.api.example_agent import AgentProcess
from tests.daemon import PhoenixProcess

COMPLETED = packet_pb2.PACKET_STATUS_COMPLETED


def _packet(pf: Client, packet_id: str) -> packet_pb2.FlightPacket:
    return pf.get_packet(packet_id)


def test_the_agent_completes_work_with_checkpoints(
    daemon: PhoenixProcess, agents: list[AgentProcess], tmp_path: Path
) -> None:
    agents.append(AgentProcess(daemon.address, "sum-1", "--seconds-per-page", "0.05",
                               log=tmp_path / "a.log"))
    with Client(daemon.address) as pf:
        wait_until(lambda: any(m.session_open for m in pf.iter_members()))
        pf.submit_packet({"packet_id": "doc-1", "required_capabilities": ["summarize"],
                          "context_checkpoint": {"state": {"pages": 3}}})
        done = wait_until(lambda: (p := _packet(pf, "doc-1")).status == COMPLETED and p)
        assert done.current_owner == "sum-1"
        assert done.context_checkpoint.step == "page-3"
        assert done.result["pages"] == 3
    assert agents[0].stop() == 0


def test_the_agent_rides_out_a_daemon_restart(
    daemon: PhoenixProcess, agents: list[AgentProcess], tmp_path: Path
) -> None:
    agents.append(AgentProcess(daemon.address, "sum-1", "--seconds-per-page", "0.3",
                               log=tmp_path / "a.log"))
    with Client(daemon.address) as pf:
        wait_until(lambda: any(m.session_open for m in pf.iter_members()))
        pf.submit_packet({"packet_id": "doc-1", "required_capabilities": ["summarize"],
                          "context_checkpoint": {"state": {"pages": 8}}})
        wait_until(lambda: _packet(pf, "doc-1").context_checkpoint.step == "page-2")
    daemon.restart()  # the session breaks; the agent reconnects with backoff
    with Client(daemon.address) as pf:
        done = wait_until(lambda: (p := _packet(pf, "doc-1")).status == COMPLETED and p,
                          within=30)
        history = [(e.type, e.reason) for e in pf.iter_events(packet_id="doc-1")]
        assert (done.current_owner, done.epoch) == ("sum-1", 1), history  # same owner and epoch
    assert "session to phoenixd interrupted" in agents[0].text()
    assert agents[0].stop() == 0


def test_sigterm_drains_and_hands_the_packet_off_with_its_checkpoint(
    daemon: PhoenixProcess, agents: list[AgentProcess], tmp_path: Path
) -> None:
    first = AgentProcess(daemon.address, "sum-1", "--seconds-per-page", "0.3", "--trust", "0.9",
                         log=tmp_path / "a.log")
    second = AgentProcess(daemon.address, "sum-2", "--seconds-per-page", "0.05", "--trust", "0.5",
                          log=tmp_path / "b.log")
    agents += [first, second]
    with Client(daemon.address) as pf:
        wait_until(lambda: sum(m.session_open for m in pf.iter_members()) == 2)
        pf.submit_packet({"packet_id": "doc-1", "required_capabilities": ["summarize"],
                          "context_checkpoint": {"state": {"pages": 8}}})
        wait_until(lambda: _packet(pf, "doc-1").context_checkpoint.step == "page-2")
        assert first.stop() == 0  # SIGTERM: drained and exited cleanly
        done = wait_until(lambda: (p := _packet(pf, "doc-1")).status == COMPLETED and p)
        assert done.current_owner == "sum-2"
        assert list(done.previous_owners) == ["sum-1"]
        kinds = [(e.type, event_data(e).get("trigger", ""))
                 for e in pf.iter_events(packet_id="doc-1")]
        assert ("handoff_started", "drain") in kinds
        assert ("handoff_completed", "") in kinds
        assert pf.get_member("sum-1").status_reason.startswith("drain complete")
    assert "taking over from sum-1 at page" in second.text()
