"""Security basics against a real phoenixd: operator token auth (member-side calls use the
member's credential instead), message size and concurrency limits answered with
RESOURCE_EXHAUSTED, loopback-only unless TLS or --insecure, TLS and mTLS handshakes."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import membership_service_pb2 as mpb
from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc
from tests.api.cli import phoenix
from tests.certs import issue, make_ca
from tests.daemon import PhoenixProcess, free_port, operator_token_args

TOKEN = "s3cret-operator-token"
BEARER = (("authorization", f"Bearer {TOKEN}"),)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[PhoenixProcess]:
    with PhoenixProcess(tmp_path / "data", *operator_token_args(tmp_path, TOKEN)) as d:
        yield d


def test_operator_calls_need_the_token(secured: PhoenixProcess) -> None:
    request = mpb.RegisterMemberRequest(member_id="a1")
    for metadata in (None, (("authorization", "Bearer wrong"),), (("authorization", TOKEN),)):
        with pytest.raises(grpc.RpcError) as info:
            secured.members.RegisterMember(request, metadata=metadata, timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    watch = secured.recorder.WatchEvents(rpb.WatchEventsRequest(), timeout=10)
    with pytest.raises(grpc.RpcError) as info:
        list(watch)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    resp = secured.members.RegisterMember(request, metadata=BEARER, timeout=10)
    assert resp.member.member_id == "a1"


def test_member_calls_use_the_member_credential_not_the_operator_token(
    secured: PhoenixProcess,
) -> None:
    cred = secured.members.RegisterMember(
        mpb.RegisterMemberRequest(member_id="w1"), metadata=BEARER, timeout=10).credential
    beat = secured.members.Heartbeat(mpb.HeartbeatRequest(member_id="w1", credential=cred))
    assert beat.incarnation == 1
    with pytest.raises(grpc.RpcError) as info:
        secured.members.Heartbeat(mpb.HeartbeatRequest(member_id="w1", credential=TOKEN))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_health_needs_no_token(secured: PhoenixProcess) -> None:
    assert secured.channel is not None
    stub = health_pb2_grpc.HealthStub(secured.channel)
    resp = stub.Check(health_pb2.HealthCheckRequest(), timeout=10)  # type: ignore[attr-defined]
    assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_oversized_message_is_resource_exhausted_and_the_daemon_stays_healthy(
    tmp_path: Path,
) -> None:
    with PhoenixProcess(tmp_path / "data", "--max-message-bytes", "4096") as d:
        labels = {f"k{i}": "v" * 60 for i in range(64)}
        big = mpb.RegisterMemberRequest(member_id="big", labels=labels)
        with pytest.raises(grpc.RpcError) as info:
            d.members.RegisterMember(big, timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert d.members.RegisterMember(mpb.RegisterMemberRequest(member_id="small")).member


def test_past_the_concurrency_limit_calls_are_refused_not_queued(tmp_path: Path) -> None:
    with PhoenixProcess(tmp_path / "data", "--max-concurrent-rpcs", "1") as d:
        register = d.members.RegisterMember.future
        futures = [
            register(mpb.RegisterMemberRequest(member_id=f"c{i}"), timeout=30) for i in range(64)
        ]
        codes = []
        for f in futures:
            try:
                f.result()
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                codes.append(exc.code())
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.RESOURCE_EXHAUSTED}
        assert grpc.StatusCode.RESOURCE_EXHAUSTED in codes
        assert grpc.StatusCode.OK in codes


def test_non_loopback_without_tls_needs_insecure(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "phoenixd", "--listen", "0.0.0.0:7400",
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 2
    assert "without TLS" in result.stderr and "--insecure" in result.stderr


def _tls_channel(port: int, ca: Path, client: tuple[bytes, bytes] | None = None) -> grpc.Channel:
    key, cert = (client[1], client[0]) if client else (None, None)
    creds = grpc.ssl_channel_credentials(ca.read_bytes(), private_key=key, certificate_chain=cert)
    return grpc.secure_channel(f"localhost:{port}", creds)


def _register_over(channel: grpc.Channel, member_id: str) -> grpc.StatusCode:
    try:
        mem_grpc.MembershipServiceStub(channel).RegisterMember(
            mpb.RegisterMemberRequest(member_id=member_id), timeout=5)
        return grpc.StatusCode.OK
    except grpc.RpcError as exc:
        return exc.code()
    finally:
        channel.close()


def _wait_tls(d: PhoenixProcess) -> None:
    """PhoenixProcess.wait_serving speaks plaintext; over TLS wait for the log line."""
    import time

    deadline = time.monotonic() + 30
    while "phoenixd serving" not in d.log():
        assert d.proc is not None and d.proc.poll() is None, d.log()
        assert time.monotonic() < deadline, "phoenixd did not start"
        time.sleep(0.05)


@contextlib.contextmanager
def _tls_daemon(tmp_path: Path) -> Iterator[tuple[PhoenixProcess, Path]]:
    """A phoenixd serving TLS with a certificate of a fresh CA: (the daemon, the CA file)."""
    ca_files, ca_cert, ca_key = make_ca(tmp_path, "ca")
    server = issue(tmp_path, "server", (ca_cert, ca_key), server=True)
    d = PhoenixProcess(tmp_path / "data", "--tls-cert", str(server.cert), "--tls-key",
                       str(server.key), port=free_port())
    d.spawn()
    try:
        _wait_tls(d)
        yield d, ca_files.cert
    finally:
        d.stop()


def test_tls_serves_trusted_clients_only(tmp_path: Path) -> None:
    with _tls_daemon(tmp_path) as (d, ca):
        assert _register_over(_tls_channel(d.port, ca), "t1") == grpc.StatusCode.OK
        other_files, _, _ = make_ca(tmp_path, "other-ca")
        untrusted = _register_over(_tls_channel(d.port, other_files.cert), "t2")
        assert untrusted == grpc.StatusCode.UNAVAILABLE
        plain = _register_over(grpc.insecure_channel(f"127.0.0.1:{d.port}"), "t3")
        assert plain == grpc.StatusCode.UNAVAILABLE


def test_mtls_refuses_missing_untrusted_and_expired_client_certs(tmp_path: Path) -> None:
    ca_files, ca_cert, ca_key = make_ca(tmp_path, "ca")
    server = issue(tmp_path, "server", (ca_cert, ca_key), server=True)
    good = issue(tmp_path, "client", (ca_cert, ca_key), server=False)
    expired = issue(tmp_path, "old-client", (ca_cert, ca_key), server=False, expired=True)
    _, rogue_ca_cert, rogue_ca_key = make_ca(tmp_path, "rogue-ca")
    rogue = issue(tmp_path, "rogue", (rogue_ca_cert, rogue_ca_key), server=False)
    d = PhoenixProcess(tmp_path / "data", "--tls-cert", str(server.cert), "--tls-key",
                       str(server.key), "--client-ca", str(ca_files.cert), port=free_port())
    d.spawn()
    try:
        _wait_tls(d)
        ca = ca_files.cert
        assert _register_over(_tls_channel(d.port, ca, good.pem()), "m1") == grpc.StatusCode.OK
        for name, client in (("none", None), ("expired", expired.pem()), ("rogue", rogue.pem())):
            code = _register_over(_tls_channel(d.port, ca, client), f"m-{name}")
            assert code == grpc.StatusCode.UNAVAILABLE, name
    finally:
        d.stop()


def test_packet_member_calls_need_no_operator_token(secured: PhoenixProcess) -> None:
    from phoenixflight_api.v1 import packet_service_pb2 as ppb
    from tests.api.agents import envelope

    cred = secured.members.RegisterMember(mpb.RegisterMemberRequest(
        member_id="w1", capabilities=["ocr"]), metadata=BEARER, timeout=10).credential
    secured.packets.SubmitPacket(ppb.SubmitPacketRequest(packet=envelope("fp-1", "ocr")),
                                 metadata=BEARER, timeout=10)
    with pytest.raises(grpc.RpcError) as info:
        secured.packets.GetPacket(ppb.GetPacketRequest(packet_id="fp-1"), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED  # operator call
    acked = secured.packets.AckPacket(ppb.AckPacketRequest(
        member_id="w1", credential=cred, packet_id="fp-1", epoch=1), timeout=10)
    assert acked.packet.epoch == 1


def test_an_https_endpoint_turns_tls_on(tmp_path: Path) -> None:
    """``https://`` asks for TLS with the system's CA roots (here the test CA, through
    gRPC's roots override); ``http://`` to the same TLS port is plaintext and fails."""
    with _tls_daemon(tmp_path) as (d, ca):
        env = {"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(ca)}
        tls = phoenix(None, "--endpoint", f"https://localhost:{d.port}", "member", "list",
                      env=env)
        assert tls.stdout.startswith("ID ")
        plain = phoenix(None, "--endpoint", f"http://localhost:{d.port}", "member", "list",
                        env=env, expect=2)
        assert "UNAVAILABLE" in plain.stderr
