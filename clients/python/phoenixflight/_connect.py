"""Channels to a phoenixd (plaintext, TLS or mTLS), operator auth, and error translation."""

from __future__ import annotations

import os
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
    """Where and how to reach phoenixd. Every field can also come from the environment."""

    endpoint: str = DEFAULT_ENDPOINT
    token: str | None = None  # operator bearer token
    ca: Path | None = None  # CA bundle: turns on TLS
    cert: Path | None = None  # client certificate: mTLS
    key: Path | None = None

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
        if self.ca is None:
            return None
        return grpc.ssl_channel_credentials(
            self.ca.read_bytes(),
            self.key.read_bytes() if self.key else None,
            self.cert.read_bytes() if self.cert else None,
        )

    def channel(self) -> grpc.Channel:
        creds = self._credentials()
        if creds is None:
            return grpc.insecure_channel(self.endpoint, options=_OPTIONS)
        return grpc.secure_channel(self.endpoint, creds, options=_OPTIONS)

    def aio_channel(self) -> grpc.aio.Channel:
        creds = self._credentials()
        if creds is None:
            return grpc.aio.insecure_channel(self.endpoint, options=_OPTIONS)
        return grpc.aio.secure_channel(self.endpoint, creds, options=_OPTIONS)
