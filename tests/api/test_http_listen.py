"""--http-listen: off unless given, host:port, loopback unless --insecure (it is plain HTTP,
even when gRPC has TLS), and a port that is taken keeps phoenixd from starting, naming the
flag; an IPv6 loopback address serves too."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from phoenixd.config import parse_args
from tests.api.http import Http
from tests.api.test_api_permissions import start_exit_code
from tests.daemon import PhoenixProcess, free_port


def test_the_flag_is_off_by_default_and_checked(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args([]).http_listen == ""
    assert parse_args(["--http-listen", "[::1]:8000"]).http_address() == ("::1", 8000)
    for bad in ("8000", "localhost:http"):
        with pytest.raises(SystemExit):
            parse_args(["--http-listen", bad])
        assert "must be host:port, e.g. 127.0.0.1:8000" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--http-listen", "0.0.0.0:8000"])
    assert "refusing to serve HTTP on 0.0.0.0:8000" in capsys.readouterr().err
    assert parse_args(["--http-listen", "0.0.0.0:8000", "--insecure"]).http_listen


def test_a_taken_port_keeps_phoenixd_from_starting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        daemon = PhoenixProcess(tmp_path / "data", "--http-listen", f"127.0.0.1:{port}")
        assert start_exit_code(daemon) == 2
    assert f"--http-listen 127.0.0.1:{port}" in daemon.log()


def test_it_serves_on_the_ipv6_loopback(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    with socket.socket(socket.AF_INET6) as probe:
        try:
            probe.bind(("::1", 0))
        except OSError:
            pytest.skip("no ::1 on this machine")
    port = free_port()
    with PhoenixProcess(tmp_path / "data", "--http-listen", f"[::1]:{port}"):
        http = Http(port)
        http.base = f"http://[::1]:{port}"
        status, payload = http.get("/v1/cluster/status")
        assert status == 200 and payload["daemon_version"]
