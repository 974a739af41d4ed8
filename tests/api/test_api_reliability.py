"""Reliability learned from outcomes, against a real phoenixd started with
--learn-reliability: a member that fails its work loses reliability and the next packet goes
to the one that completes; GetMember shows the evidence and `phoenix member get` explains it;
every change is a member_reliability_learned event in the Flight Recorder and on the
membership feed; the figures survive a restart; a daemon without the flag learns nothing; and
flags that cannot work are refused at start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import packet_service_pb2 as ppb
from tests.api.agents import Agent, envelope, packet_of
from tests.api.cli import phoenix
from tests.daemon import PhoenixProcess

LEARNED = "member_reliability_learned"


def _learned_events(d: PhoenixProcess) -> list[rpb.Event]:
    reply = d.recorder.QueryEvents(rpb.QueryEventsRequest(types=[LEARNED]), timeout=10)
    return list(reply.events)


def _submit(d: PhoenixProcess, packet_id: str) -> str:
    d.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope(packet_id, "ocr")),
                           timeout=10)
    return packet_of(d, packet_id).current_owner


def test_outcomes_teach_the_daemon_whom_to_route_to(tmp_path: Path) -> None:
    with PhoenixProcess(tmp_path / "data", "--learn-reliability",
                        "--reliability-prior-weight", "4") as d:
        agents = {m: Agent(d, m, "ocr", ttl=3600, trust_score=0.9, reliability=0.9)
                  for m in ("a", "b")}
        first = _submit(d, "fp-0")
        other = "b" if first == "a" else "a"
        agents[first].fail("fp-0", packet_of(d, "fp-0").epoch, "gpu fell over", permanent=True)
        assert _submit(d, "fp-1") == other
        agents[other].complete("fp-1", packet_of(d, "fp-1").epoch)

        bad = d.members.GetMember(mpb.GetMemberRequest(member_id=first), timeout=10).member
        good = d.members.GetMember(mpb.GetMemberRequest(member_id=other), timeout=10).member
        assert bad.reliability == pytest.approx(3.6 / 5, abs=1e-6)
        assert good.reliability == pytest.approx(4.6 / 5, abs=1e-6)
        assert (bad.learned_reliability.prior, bad.learned_reliability.prior_weight,
                bad.learned_reliability.successes, bad.learned_reliability.failures) == (
                    0.9, 4.0, 0.0, 1.0)
        assert bad.learned_reliability.update_time.seconds > 0
        assert _submit(d, "fp-2") == other

        events = _learned_events(d)
        assert [(e.member_ids[0], e.packet_ids[0]) for e in events] == [
            (first, "fp-0"), (other, "fp-1")]
        assert events[0].reason == "fp-0 failed: reliability 0.9000 -> 0.7200"
        shown = phoenix(d, "member", "get", first).stdout
        assert "0.72 (learned: 0 completed, 1 failed" in shown

        d.restart()
        again = d.members.GetMember(mpb.GetMemberRequest(member_id=first), timeout=10).member
        assert again.reliability == bad.reliability
        assert again.learned_reliability == bad.learned_reliability


def test_the_membership_feed_carries_each_learned_change(tmp_path: Path) -> None:
    with PhoenixProcess(tmp_path / "data", "--learn-reliability") as d:
        agent = Agent(d, "a", "ocr", ttl=3600)
        _submit(d, "fp-1")
        agent.complete("fp-1", packet_of(d, "fp-1").epoch)
        stream = d.members.WatchMembers(mpb.WatchMembersRequest(after_revision=0), timeout=10)
        seen = []
        for event in stream:
            seen.append(event.event_type)
            if event.event_type == LEARNED:
                assert event.member.member_id == "a"
                assert event.member.learned_reliability.successes == 1.0
                assert event.member.reliability > 0.9
                stream.cancel()
                break
        assert seen[-1] == LEARNED, seen


def test_without_the_flag_outcomes_teach_nothing(tmp_path: Path) -> None:
    with PhoenixProcess(tmp_path / "data") as d:
        agent = Agent(d, "a", "ocr", ttl=3600, reliability=0.8)
        _submit(d, "fp-1")
        agent.fail("fp-1", packet_of(d, "fp-1").epoch, "no", permanent=True)
        member = d.members.GetMember(mpb.GetMemberRequest(member_id="a"), timeout=10).member
        assert member.reliability == pytest.approx(0.8)
        assert not member.HasField("learned_reliability")
        assert _learned_events(d) == []


def test_tuning_flags_without_learning_are_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "phoenixd", "--data-dir", str(tmp_path / "d"),
         "--reliability-half-life", "600"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--reliability-half-life tunes --learn-reliability: add it" in result.stderr


@pytest.mark.parametrize("flags", [("--reliability-half-life", "0"),
                                   ("--reliability-prior-weight", "nan")])
def test_learning_flags_that_cannot_work_are_refused(tmp_path: Path, flags: tuple[str, ...]
                                                     ) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "phoenixd", "--data-dir", str(tmp_path / "d"),
         "--learn-reliability", *flags], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"{flags[0]} must be a positive number" in result.stderr
    assert not (tmp_path / "d").exists()
