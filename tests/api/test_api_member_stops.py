"""The Member worker always stops: each stage (registering, connected, reconnecting,
draining) meets a real SIGTERM or SIGINT, against a real phoenixd and against none, and a
worker that cannot register gives up with one clear line."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from phoenixflight import Client
from phoenixflight_api.v1 import member_pb2, packet_pb2
from tests.api.agents import wait_until
from tests.api.example_agent import AGENT, AgentProcess
from tests.conftest import register
from tests.daemon import PhoenixProcess, free_port

RETIRED = member_pb2.MEMBER_STATUS_RETIRED


def closed_port() -> str:
    """A loopback address nothing listens on: a daemon that is down."""
    return f"127.0.0.1:{free_port()}"


def test_an_invalid_member_id_is_one_line_before_any_call() -> None:
    done = subprocess.run([sys.executable, str(AGENT), "--member-id", "Summarizer_1",
                           "--endpoint", closed_port()], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "summarizer_agent: member id 'Summarizer_1' is not a valid id: use 1-63 lowercase "
        "letters, digits and '-', starting and ending with a letter or digit"]


def test_with_no_daemon_it_logs_each_attempt_and_gives_up_at_the_deadline(
    agents: list[AgentProcess], tmp_path: Path
) -> None:
    agent = AgentProcess(closed_port(), "sum-1", "--register-timeout", "1",
                         log=tmp_path / "a.log")
    agents.append(agent)
    assert agent.wait() == 1
    lines = agent.text().splitlines()
    assert "registration attempt 1 failed" in lines[1]
    assert "is not reachable (Connection refused); retrying in" in lines[1]
    assert lines[-1].startswith("summarizer_agent: could not register sum-1 within 1s (")


def test_sigterm_while_registering_stops_at_once(
    agents: list[AgentProcess], tmp_path: Path
) -> None:
    agent = AgentProcess(closed_port(), "sum-1", log=tmp_path / "a.log")
    agents.append(agent)
    wait_until(lambda: "registration attempt 1 failed" in agent.text())
    agent.signal(signal.SIGTERM)
    assert agent.wait() == 0
    assert "stopping while registering" in agent.text()


def test_sigint_while_a_live_member_holds_the_id_stops_at_once(
    daemon: PhoenixProcess, agents: list[AgentProcess], tmp_path: Path
) -> None:
    register(daemon, "sum-1", "summarize", ttl=60)  # a live incarnation
    agent = AgentProcess(daemon.address, "sum-1", log=tmp_path / "a.log")
    agents.append(agent)
    wait_until(lambda: "another process is serving as sum-1" in agent.text())
    agent.signal(signal.SIGINT)
    assert agent.wait() == 0
    assert "ALREADY_EXISTS" not in agent.text().splitlines()[-1]


def test_sigterm_when_connected_with_no_work_retires_it_at_once(
    daemon: PhoenixProcess, agents: list[AgentProcess], tmp_path: Path
) -> None:
    agent = AgentProcess(daemon.address, "sum-1", log=tmp_path / "a.log")
    agents.append(agent)
    wait_until(lambda: "member sum-1 serving: session open to" in agent.text())
    agent.signal(signal.SIGTERM)
    assert agent.wait() == 0
    with Client(daemon.address) as pf:
        assert pf.get_member("sum-1").status == RETIRED
    assert "draining (0 packet(s) in hand" in agent.text()


def test_sigterm_while_reconnecting_stops_at_once(
    daemon: PhoenixProcess, agents: list[AgentProcess], tmp_path: Path
) -> None:
    agent = AgentProcess(daemon.address, "sum-1", log=tmp_path / "a.log")
    agents.append(agent)
    wait_until(lambda: "serving: session open" in agent.text())
    daemon.kill()
    wait_until(lambda: "session to phoenixd interrupted" in agent.text())
    agent.signal(signal.SIGTERM)
    assert agent.wait() == 0
    assert "stopping while reconnecting" in agent.text()


def test_a_second_signal_while_draining_stops_at_once(
    daemon: PhoenixProcess, agents: list[AgentProcess], tmp_path: Path
) -> None:
    agent = AgentProcess(daemon.address, "sum-1", "--seconds-per-page", "0.5",
                         log=tmp_path / "a.log")
    agents.append(agent)
    with Client(daemon.address) as pf:
        wait_until(lambda: "serving: session open" in agent.text())
        pf.submit_packet({"packet_id": "doc-1", "required_capabilities": ["summarize"],
                          "context_checkpoint": {"state": {"pages": 40}}})
        wait_until(lambda: pf.get_packet("doc-1").context_checkpoint.step == "page-1")
        agent.signal(signal.SIGTERM)  # no other member can take it: the drain waits
        wait_until(lambda: "draining (1 packet(s) in hand" in agent.text())
        agent.signal(signal.SIGTERM)
        assert agent.wait() == 0
        assert "stopping at once (asked twice)" in agent.text()
        packet = pf.get_packet("doc-1")
        assert packet.status != packet_pb2.PACKET_STATUS_COMPLETED
        assert packet.context_checkpoint.step.startswith("page-")  # the progress is kept
