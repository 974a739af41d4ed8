"""A real phoenixd in a subprocess on a free loopback port, for API tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from phoenixflight_api.v1 import bundle_service_pb2_grpc as bundle_grpc
from phoenixflight_api.v1 import flight_recorder_service_pb2_grpc as rec_grpc
from phoenixflight_api.v1 import membership_service_pb2_grpc as mem_grpc
from phoenixflight_api.v1 import namespace_service_pb2_grpc as ns_grpc
from phoenixflight_api.v1 import packet_service_pb2_grpc as pkt_grpc

__all__ = ["PhoenixProcess", "free_port"]

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def operator_token_args(directory: Path, token: str) -> tuple[str, str]:
    """phoenixd's flags to require ``token`` of operators: the token file, written in
    ``directory`` private (0600), as phoenixd refuses one that others can read."""
    path = directory / "token"
    path.write_text(token + "\n")
    path.chmod(0o600)
    return ("--auth-token-file", str(path))


class PhoenixProcess:
    """Start, stop, kill -9 and restart one phoenixd over one data dir."""

    def __init__(
        self, data_dir: Path, *extra: str, port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.env = env  # extra environment, e.g. PHOENIX_FAILPOINTS
        self.extra = list(extra)
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.channel: grpc.Channel | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}.phoenixd.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "phoenixd", "--listen", self.address,
            "--data-dir", str(self.data_dir), "--log-format", "json", *self.extra,
        ]

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the process without waiting for it to serve."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        env = {**os.environ, **self.env} if self.env else None
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, env=env
        )
        log.close()
        return self.proc

    def start(self, timeout: float = START_TIMEOUT) -> PhoenixProcess:
        self.spawn()
        self.wait_serving(timeout)
        return self

    def wait_serving(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        channel = grpc.insecure_channel(self.address)
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"phoenixd exited {self.proc.returncode}:\n{self.log()}")
            try:
                request = health_pb2.HealthCheckRequest()
                resp = stub.Check(request, timeout=1)  # type: ignore[attr-defined]
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    self.channel = channel
                    return
            except grpc.RpcError:
                time.sleep(0.05)
        channel.close()
        raise TimeoutError(f"phoenixd did not serve within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def members(self) -> mem_grpc.MembershipServiceStub:
        assert self.channel is not None, "daemon not started"
        return mem_grpc.MembershipServiceStub(self.channel)

    @property
    def recorder(self) -> rec_grpc.FlightRecorderServiceStub:
        assert self.channel is not None, "daemon not started"
        return rec_grpc.FlightRecorderServiceStub(self.channel)

    @property
    def packets(self) -> pkt_grpc.PacketServiceStub:
        assert self.channel is not None, "daemon not started"
        return pkt_grpc.PacketServiceStub(self.channel)

    @property
    def namespaces(self) -> ns_grpc.NamespaceServiceStub:
        assert self.channel is not None, "daemon not started"
        return ns_grpc.NamespaceServiceStub(self.channel)

    @property
    def bundles(self) -> bundle_grpc.BundleServiceStub:
        assert self.channel is not None, "daemon not started"
        return bundle_grpc.BundleServiceStub(self.channel)

    def _close_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        self._close_channel()
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no flush, no snapshot, no goodbye.

        The process dies before this client's channel closes: closing it first would end
        the client's streams cleanly, and the daemon could record that before it died.
        """
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._close_channel()

    def restart(self) -> PhoenixProcess:
        self.stop()
        return self.start()

    def __enter__(self) -> PhoenixProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.kill() if exc[0] else self.stop()
