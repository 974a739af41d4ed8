"""The daemon's lifecycle and tooling: SIGTERM closes sessions with a reason and exits 0
without marking members SUSPECT; reflection lets `buf curl` list and call the services with no
.proto at hand; `phoenix audit verify` checks a data dir offline and through the daemon."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from phoenixflight_api.v1 import member_pb2
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc
from tests.api.test_api_leases import Session
from tests.conftest import register
from tests.daemon import PhoenixProcess

ROOT = Path(__file__).resolve().parents[2]
BUF = ROOT / "node_modules" / ".bin" / "buf"


def test_sigterm_tells_sessions_and_exits_cleanly(tmp_path: Path) -> None:
    d = PhoenixProcess(tmp_path / "data").start()
    cred = register(d, "worker", ttl=30).credential
    own = grpc.insecure_channel(d.address)  # outlives the helper's channel, closed by stop()
    session = Session(d, "worker", cred, mem_grpc.MembershipServiceStub(own))
    session.opened()
    assert d.stop() == 0
    closing = session.next()
    assert "shutting down" in closing.closing.reason
    own.close()
    d.start()
    try:
        got = d.members.GetMember(mpb.GetMemberRequest(member_id="worker")).member
        assert got.status == member_pb2.MEMBER_STATUS_ACTIVE
        assert not got.session_open
    finally:
        d.stop()


def _buf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BUF), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not BUF.exists(), reason="buf is installed by `make venv` (npm)")
def test_reflection_serves_buf_curl(daemon: PhoenixProcess) -> None:
    url = f"http://{daemon.address}"
    listed = _buf("curl", "--protocol", "grpc", "--http2-prior-knowledge", "--list-methods", url)
    assert listed.returncode == 0, listed.stderr
    methods = listed.stdout.split()
    assert "phoenixflight.v1.MembershipService/RegisterMember" in methods
    assert "phoenixflight.v1.FlightRecorderService/VerifyChain" in methods
    assert "grpc.health.v1.Health/Check" in methods
    called = _buf("curl", "--protocol", "grpc", "--http2-prior-knowledge", "-d",
                  '{"member_id": "from-buf", "capabilities": ["planning"]}',
                  f"{url}/phoenixflight.v1.MembershipService/RegisterMember")
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["member"]["memberId"] == "from-buf"


def _phoenix(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phoenixd.cli.main", *args],
                          capture_output=True, text=True, timeout=60)


def test_phoenix_audit_verify_offline_and_online(tmp_path: Path) -> None:
    d = PhoenixProcess(tmp_path / "data").start()
    register(d, "one", "ocr")
    online = _phoenix("--endpoint", d.address, "-o", "json", "audit", "verify")
    assert online.returncode == 0, online.stderr
    assert json.loads(online.stdout)["ok"]
    d.stop()

    offline = _phoenix("audit", "verify", "--data-dir", str(d.data_dir))
    assert offline.returncode == 0
    assert offline.stdout.startswith("OK:")

    copy = tmp_path / "copy"
    shutil.copytree(d.data_dir, copy)
    journal = copy / "audit.jsonl"
    data = bytearray(journal.read_bytes())
    data[data.index(b'"ocr"') + 1] = ord("O")
    journal.write_bytes(bytes(data))
    broken = _phoenix("-o", "json", "audit", "verify", "--data-dir", str(copy))
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert not report["ok"]
    assert report["first_bad_sequence"] == 2  # 1 is daemon_started, 2 registers "one"


def test_phoenix_reports_an_unreachable_daemon_in_one_line() -> None:
    result = _phoenix("--endpoint", "127.0.0.1:1", "--timeout", "2", "audit", "verify")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "UNAVAILABLE" in result.stderr
