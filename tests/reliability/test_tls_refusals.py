"""TLS and mTLS handshakes that must fail, and what a failed one leaves behind.

Against a real phoenixd serving TLS (``--tls-cert/--tls-key``), and one that requires client
certificates (``--client-ca``):

- a client that cannot trust the server is refused: it trusts another CA, or the server's
  certificate is expired, not yet valid, or issued for another name; so is a plaintext client;
- under mTLS a client is refused with no certificate, one from an untrusted CA, an expired or
  not yet valid one, or one issued for servers only.

Every served method (rpc_catalog.py) is tried over each refused connection and none gets
through (UNAVAILABLE: the call never reaches the daemon). Afterwards the daemon still serves
trusted clients, has recorded nothing, and its chain verifies. Certificates with past or future
validity are made with ``cryptography`` (tests/certs.py). tests/api/test_api_security.py has a
few of these cases on one method; this goes over every method and the validity windows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from phoenixflight_api.v1 import flight_recorder_service_pb2 as rpb
from phoenixflight_api.v1 import flight_recorder_service_pb2_grpc as rec_grpc
from tests.certs import Issued, issue, make_ca
from tests.daemon import PhoenixProcess, free_port
from tests.reliability.rpc_catalog import CATALOG, call
from tests.reliability.soak import figure

START_TIMEOUT = 30.0
CALL_TIMEOUT = 5.0

Authority = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


@dataclass(frozen=True)
class Pki:
    """The daemon's CA, an untrusted one, and where certificates are written."""

    directory: Path
    ca: Issued
    authority: Authority
    rogue_ca: Issued
    rogue: Authority

    def leaf(self, name: str, *, server: bool, rogue: bool = False, expired: bool = False,
             not_yet_valid: bool = False, usage: x509.ObjectIdentifier | None = None,
             host: str = "localhost") -> Issued:
        return issue(self.directory, name, self.rogue if rogue else self.authority,
                     server=server, expired=expired, not_yet_valid=not_yet_valid, usage=usage,
                     host=host)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, ca_cert, ca_key = make_ca(directory, "ca")
    rogue_ca, rogue_cert, rogue_key = make_ca(directory, "rogue-ca")
    return Pki(directory, ca, (ca_cert, ca_key), rogue_ca, (rogue_cert, rogue_key))


def tls_channel(
    port: int, trusted: Issued, client: Issued | None = None, name: str | None = None
) -> grpc.Channel:
    """A TLS channel to localhost:port trusting ``trusted``, presenting ``client`` if given,
    and expecting the server's certificate to be for ``name`` (default: localhost)."""
    key, chain = (client.key.read_bytes(), client.cert.read_bytes()) if client else (None, None)
    creds = grpc.ssl_channel_credentials(
        trusted.cert.read_bytes(), private_key=key, certificate_chain=chain)
    options = [("grpc.ssl_target_name_override", name)] if name else []
    return grpc.secure_channel(f"localhost:{port}", creds, options=options)


@dataclass
class Served:
    d: PhoenixProcess
    port: int


@contextmanager
def serving(root: Path, server: Issued, *extra: str) -> Iterator[Served]:
    """A phoenixd serving TLS with ``server``; PhoenixProcess waits in plaintext, so this
    waits for its start-up log line."""
    port = free_port()
    d = PhoenixProcess(root / "data", "--tls-cert", str(server.cert), "--tls-key",
                       str(server.key), *extra, port=port)
    d.spawn()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while "phoenixd serving" not in d.log():
            assert d.proc is not None and d.proc.poll() is None, d.log()
            assert time.monotonic() < deadline, f"phoenixd did not start:\n{d.log()}"
            time.sleep(0.05)
        yield Served(d, port)
    finally:
        d.stop()


def head_of(channel: grpc.Channel) -> int:
    """The journal head, through a trusted channel; the chain must verify."""
    stub = rec_grpc.FlightRecorderServiceStub(channel)
    report = stub.VerifyChain(rpb.VerifyChainRequest(), timeout=CALL_TIMEOUT)
    assert report.ok, report
    return report.head_sequence


def serves(channel: grpc.Channel) -> bool:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT)  # type: ignore[attr-defined]
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


REFUSED_CALLS: list[int] = []


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    if REFUSED_CALLS:
        figure("TLS handshakes refused / calls over them (all UNAVAILABLE)",
               f"{len(REFUSED_CALLS)} / {sum(REFUSED_CALLS)}")


def assert_refused_everywhere(channel: grpc.Channel, label: str) -> None:
    """Every served method fails over ``channel`` without reaching the daemon."""
    try:
        for rpc in CATALOG:
            request = [rpc.request()] if rpc.client_streaming else rpc.request()
            outcome = call(channel, rpc, request, timeout=CALL_TIMEOUT)
            assert outcome.code == grpc.StatusCode.UNAVAILABLE, (label, str(rpc), outcome)
    finally:
        channel.close()
    REFUSED_CALLS.append(len(CATALOG))


# -- TLS: the client must be able to trust the server -------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Served]:
    server = pki.leaf("tls-server", server=True)
    with serving(tmp_path_factory.mktemp("tls"), server) as served:
        yield served


CLIENT_DISTRUST = {
    "server's CA not trusted": lambda p, port: tls_channel(port, p.rogue_ca),
    "server's name not the one dialled": lambda p, port: tls_channel(
        port, p.ca, name="elsewhere.example"),
    "plaintext client": lambda p, port: grpc.insecure_channel(f"127.0.0.1:{port}"),
}


@pytest.mark.parametrize("label", CLIENT_DISTRUST)
def test_a_client_that_cannot_trust_the_server_gets_nothing(
    label: str, tls: Served, pki: Pki
) -> None:
    with tls_channel(tls.port, pki.ca) as trusted:
        head = head_of(trusted)
        assert_refused_everywhere(CLIENT_DISTRUST[label](pki, tls.port), label)
        assert serves(trusted)
        assert head_of(trusted) == head


@pytest.mark.parametrize("validity", ["expired", "not_yet_valid"])
def test_a_server_certificate_out_of_its_validity_is_refused_by_clients(
    validity: str, tmp_path: Path, pki: Pki
) -> None:
    server = pki.leaf(f"{validity}-server", server=True, **{validity: True})  # type: ignore[arg-type]
    with serving(tmp_path, server) as served:
        assert_refused_everywhere(tls_channel(served.port, pki.ca), f"server {validity}")
        assert served.d.proc is not None and served.d.proc.poll() is None


# -- mTLS: the server must be able to trust the client ----------------------------------------


@pytest.fixture(scope="module")
def mtls(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Served]:
    server = pki.leaf("mtls-server", server=True)
    root = tmp_path_factory.mktemp("mtls")
    with serving(root, server, "--client-ca", str(pki.ca.cert)) as served:
        yield served


CLIENT_CERTS: dict[str, dict[str, object] | None] = {
    "no client certificate": None,
    "client certificate from an untrusted CA": {"rogue": True},
    "expired client certificate": {"expired": True},
    "client certificate not yet valid": {"not_yet_valid": True},
    "certificate issued for servers only": {"usage": ExtendedKeyUsageOID.SERVER_AUTH},
}


@pytest.mark.parametrize("label", CLIENT_CERTS)
def test_mtls_refuses_a_client_it_cannot_trust(label: str, mtls: Served, pki: Pki) -> None:
    options = CLIENT_CERTS[label]
    name = label.replace(" ", "-")
    client = None if options is None else pki.leaf(name, server=False, **options)  # type: ignore[arg-type]
    good = pki.leaf(f"good-{name}", server=False)
    with tls_channel(mtls.port, pki.ca, good) as trusted:
        head = head_of(trusted)
        assert_refused_everywhere(tls_channel(mtls.port, pki.ca, client), label)
        assert serves(trusted)
        assert head_of(trusted) == head
    assert mtls.d.proc is not None and mtls.d.proc.poll() is None


def test_mtls_client_that_cannot_trust_the_server_gets_nothing(mtls: Served, pki: Pki) -> None:
    client = pki.leaf("trusts-the-wrong-ca", server=False)
    assert_refused_everywhere(tls_channel(mtls.port, pki.rogue_ca, client), "mTLS, rogue trust")
    with tls_channel(mtls.port, pki.ca, client) as trusted:
        assert serves(trusted)  # the same certificate, trusting the right CA, is served
