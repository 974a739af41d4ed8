"""Channels to a phoenixd (plaintext, TLS or mTLS), operator auth, and error translation."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import grpc

__all__ = ["DEFAULT_ENDPOINT", "Connection", "PhoenixFlightError"]

DEFAULT_ENDPOINT = "127.0.0.1:7400"
# Members ping every few seconds while idle (the daemon accepts one ping a second).
_OPTIONS = [
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
]


# host:port, [v6]:port or unix:PATH, optionally as an http:// or https:// URL.
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$")


def parse_endpoint(endpoint: str) -> tuple[str, bool]:
    """The gRPC target and whether the URL asks for TLS, from ``host:port``,
    ``http://host:port`` (plaintext), ``https://host:port`` (TLS) or ``unix:PATH``.
    Raises ValueError naming the accepted forms."""
    scheme, sep, rest = endpoint.partition("://")
    if not sep:
        scheme, rest = "", endpoint
    if scheme not in ("", "http", "https"):
        raise ValueError(f"endpoint {endpoint!r}: the scheme {scheme!r} is not supported: use "
                         "HOST:PORT, http://HOST:PORT or https://HOST:PORT")
    if not scheme and rest.startswith("unix:"):
        return rest, False
    rest = rest.removesuffix("/")
    if not _HOST_PORT.fullmatch(rest) or not 0 < int(rest.rsplit(":", 1)[1]) < 65536:
        raise ValueError(f"endpoint {endpoint!r} is not HOST:PORT (e.g. 127.0.0.1:7400, "
                         "http://127.0.0.1:7400 or https://phoenix.example:7400)")
    return rest, scheme == "https"


class PhoenixFlightError(Exception):
    """A call the daemon refused or could not serve: the status code and its message."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details

    @property
    def unavailable(self) -> bool:
        """The daemon could not be reached (or is shutting down): retrying may help."""
        return self.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


@dataclass(frozen=True)
class Connection:
    """Where and how to reach phoenixd. Every field can also come from the environment.

    ``endpoint`` is HOST:PORT or a URL: ``https://`` turns TLS on (the system's CA roots unless
    ``ca`` is given), ``http://`` is plaintext. A CA bundle turns TLS on for any form.
    """

    endpoint: str = DEFAULT_ENDPOINT
    token: str | None = None  # operator bearer token
    ca: Path | None = None  # CA bundle: turns on TLS
    cert: Path | None = None  # client certificate: mTLS
    key: Path | None = None

    def __post_init__(self) -> None:
        parse_endpoint(self.endpoint)  # a bad endpoint is refused here, before any call

    @property
    def target(self) -> str:
        """The endpoint as gRPC dials it (no scheme)."""
        return parse_endpoint(self.endpoint)[0]

    @property
    def tls(self) -> bool:
        return self.ca is not None or parse_endpoint(self.endpoint)[1]

    @classmethod
    def from_env(cls, **overrides: object) -> Connection:
        """From PHOENIX_ENDPOINT, _TOKEN, _CA, _CERT and _KEY, then the overrides given."""
        env = os.environ
        values: dict[str, object] = {
            "endpoint": env.get("PHOENIX_ENDPOINT", DEFAULT_ENDPOINT),
            "token": env.get("PHOENIX_TOKEN") or None,
            "ca": Path(env["PHOENIX_CA"]) if env.get("PHOENIX_CA") else None,
            "cert": Path(env["PHOENIX_CERT"]) if env.get("PHOENIX_CERT") else None,
            "key": Path(env["PHOENIX_KEY"]) if env.get("PHOENIX_KEY") else None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    def _credentials(self) -> grpc.ChannelCredentials | None:
        if not self.tls:
            return None
        return grpc.ssl_channel_credentials(
            self.ca.read_bytes() if self.ca else None,
            self.key.read_bytes() if self.key else None,
            self.cert.read_bytes() if self.cert else None,
        )

    def channel(self) -> grpc.Channel:
        creds = self._credentials()
        if creds is None:
            return grpc.insecure_channel(self.target, options=_OPTIONS)
        return grpc.secure_channel(self.target, creds, options=_OPTIONS)

    def aio_channel(self) -> grpc.aio.Channel:
        creds = self._credentials()
        if creds is None:
            return grpc.aio.insecure_channel(self.target, options=_OPTIONS)
        return grpc.aio.secure_channel(self.target, creds, options=_OPTIONS)
