"""The daemon's one frozen Config, and the command line that fills it."""

from __future__ import annotations

import argparse
import ipaddress
import math
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from phoenixd.core.application.feeds import SUBSCRIBER_QUEUE_LIMIT
from phoenixd.core.dispatch import DEFAULT_REBALANCE_INTERVAL, DEFAULT_REBALANCE_SHARE
from phoenixd.core.packets import Strategy
from phoenixd.core.registry import DEFAULT_SUSPECT_GRACE
from phoenixd.core.reliability import DEFAULT_HALF_LIFE, DEFAULT_PRIOR_WEIGHT, Estimator
from phoenixd.http.sse import HEARTBEAT_SECONDS
from phoenixd.kernel import DEFAULT_VNODES

__all__ = ["Config", "ConfigError", "daemon_version", "parse_args"]

DEFAULT_LISTEN = "127.0.0.1:7400"
DEFAULT_METRICS_LISTEN = "127.0.0.1:7401"
# The address the seeds' curl examples use; --http-listen is off unless given (README, HTTP).
SEED_HTTP_LISTEN = "127.0.0.1:8000"


class ConfigError(ValueError):
    """A setting that cannot work; the message says what to change."""


@dataclass(frozen=True)
class Config:
    listen: str = DEFAULT_LISTEN
    """host:port to serve gRPC on; loopback unless TLS (or --insecure) is set."""
    data_dir: Path = Path(".phoenixflight")
    """Where the journal, snapshots and lock live."""
    suspect_grace: float = DEFAULT_SUSPECT_GRACE
    """Seconds a SUSPECT member may stay quiet before it is FAILED."""
    default_strategy: Strategy = Strategy.TRUST
    """Strategy for packets that do not name one: ring, binpack, pack or trust."""
    vnodes: int = DEFAULT_VNODES
    """Virtual nodes per member on the consistent-hash ring."""
    ring_load_bound: float = 0.0
    """Ring: keep every member under ceil((1+eps) x average) packets; 0 turns it off."""
    rebalance_share: float = DEFAULT_REBALANCE_SHARE
    """Ring rebalance after a join: at most this share of ring packets move per interval."""
    rebalance_interval: float = DEFAULT_REBALANCE_INTERVAL
    """Seconds between rebalance steps."""
    learn_reliability: bool = False
    """Learn each member's reliability from its packets' outcomes (phoenixd.core.reliability)."""
    reliability_half_life: float = DEFAULT_HALF_LIFE
    """Seconds after which an outcome counts half as much."""
    reliability_prior_weight: float = DEFAULT_PRIOR_WEIGHT
    """How many outcomes a member's declared reliability is worth."""
    snapshot_every: int = 10_000
    """Write registry/packets/assignments snapshots every this many events (or, once the
    state holds more records than that, every as many events as it holds records, at most
    MAX_SNAPSHOT_SPACING)."""
    reserve_disk: int = 64
    """MiB of the data dir's disk kept free: below it, mutations are refused
    (RESOURCE_EXHAUSTED) so that the journal never runs out mid-write; 0 turns it off."""
    accept_journal_loss: bool = False
    """Start even on a journal that ends before its snapshot's revision (records lost
    after they were durable): on the records left, recording the loss in the journal."""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    """CA bundle for client certificates: setting it turns on mTLS."""
    auth_token_file: Path | None = None
    """File holding the cluster admin's bearer token; unset (and no auth_tokens_file) means
    no operator auth."""
    auth_tokens_file: Path | None = None
    """TOML file of operator tokens scoped to namespaces (phoenixd.operator_tokens)."""
    insecure: bool = False
    """Allow a non-loopback address without TLS."""
    trusted_keys: Path | None = None
    """Public keys (a PEM file, or a directory of *.pub/*.pem) a bundle must be signed by to
    be applied; unset, no signed bundle is accepted."""
    allow_unsigned_bundles: bool = False
    """Apply bundles that carry no signature at all (a signed one still needs a trusted key)."""
    max_message_bytes: int = 4 * 1024 * 1024
    """Largest request or response message."""
    max_concurrent_rpcs: int = 1024
    """Unary calls in flight before new ones get RESOURCE_EXHAUSTED."""
    max_streams: int = 20_000
    """Open streams of known callers (member sessions, watches) before new ones get
    RESOURCE_EXHAUSTED. A session counts only once its first message (with the member's
    credential) has arrived."""
    max_unauthenticated_streams: int = 1024
    """Sessions still waiting for their first message; past it the one that waited longest
    is closed (RESOURCE_EXHAUSTED). Room for a reconnect storm of members, each of which
    waits here about one round trip."""
    auth_deadline: float = 5.0
    """Seconds a session may take to send its first message before it is closed with
    DEADLINE_EXCEEDED."""
    max_probe_streams: int = 256
    """Health/Watch and reflection streams (open to anyone, so counted apart from
    --max-streams: probes work when every session slot is taken)."""
    watch_queue_limit: int = SUBSCRIBER_QUEUE_LIMIT
    """Events buffered per watcher before it is cut off (RESOURCE_EXHAUSTED)."""
    shutdown_grace: float = 5.0
    """Seconds in-flight calls get to finish on SIGTERM."""
    metrics_listen: str = ""
    """host:port (or a port alone, on 127.0.0.1) to serve Prometheus GET /metrics on;
    empty: no metrics endpoint."""
    http_listen: str = ""
    """host:port to serve the REST/JSON routes on (plain HTTP: loopback unless --insecure);
    empty: no HTTP surface."""
    sse_heartbeat: float = HEARTBEAT_SECONDS
    """Seconds between the ``: ping`` comments of an idle Server-Sent Events stream."""
    log_format: str = "auto"
    log_level: str = "info"

    def validate(self) -> None:
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigError(f"--listen {self.listen!r} must be host:port, e.g. {DEFAULT_LISTEN}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("--tls-cert and --tls-key go together")
        if self.client_ca is not None and self.tls_cert is None:
            raise ConfigError("--client-ca (mTLS) needs --tls-cert and --tls-key")
        if not _is_loopback(self.listen) and self.tls_cert is None and not self.insecure:
            raise ConfigError(
                f"refusing to serve {self.listen} without TLS: members' credentials and the "
                "operator token would cross the network in clear. Pass --tls-cert/--tls-key, "
                "or --insecure if this network is trusted"
            )
        for flag, value, top in (
            ("--suspect-grace", self.suspect_grace, 86400.0),
            ("--shutdown-grace", self.shutdown_grace, 3600.0),
            ("--auth-deadline", self.auth_deadline, 3600.0),
        ):
            if not (math.isfinite(value) and 0 <= value <= top):
                raise ConfigError(f"{flag} must be a number of seconds between 0 and {top:g}")
        if not (math.isfinite(self.sse_heartbeat) and 0 < self.sse_heartbeat <= 3600):
            raise ConfigError("--sse-heartbeat must be a number of seconds above 0, at most 3600")
        if self.snapshot_every < 1:
            raise ConfigError("--snapshot-every must be >= 1")
        if self.reserve_disk < 0:
            raise ConfigError("--reserve-disk must be >= 0 MiB (0 turns the reserve off)")
        if not 1 <= self.vnodes <= 4096:
            raise ConfigError("--vnodes must be between 1 and 4096")
        for flag, value, top in (
            ("--ring-load-bound", self.ring_load_bound, 100.0),
            ("--rebalance-share", self.rebalance_share, 1.0),
            ("--rebalance-interval", self.rebalance_interval, 3600.0),
        ):
            if not (math.isfinite(value) and 0 <= value <= top):
                raise ConfigError(f"{flag} must be between 0 and {top:g}")
        for flag, value in (("--reliability-half-life", self.reliability_half_life),
                            ("--reliability-prior-weight", self.reliability_prior_weight)):
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{flag} must be a positive number, got {value:g}")
        if self.rebalance_share == 0 or self.rebalance_interval == 0:
            raise ConfigError("--rebalance-share and --rebalance-interval must be above 0")
        if self.watch_queue_limit < 1:
            raise ConfigError("--watch-queue-limit must be >= 1")
        if self.max_concurrent_rpcs < 1 or self.max_streams < 1 or self.max_message_bytes < 1024:
            raise ConfigError(
                "--max-concurrent-rpcs and --max-streams must be >= 1, --max-message-bytes >= 1024"
            )
        if self.max_unauthenticated_streams < 1 or self.max_probe_streams < 1:
            raise ConfigError("--max-unauthenticated-streams and --max-probe-streams must be >= 1")
        if self.auth_deadline == 0:
            raise ConfigError("--auth-deadline must be above 0 seconds")
        if self.metrics_listen:
            host, port = self.metrics_address()
            if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
                raise ConfigError(
                    f"--metrics-listen {self.metrics_listen!r} must be host:port or a port, "
                    f"e.g. {DEFAULT_METRICS_LISTEN}"
                )
        if self.http_listen:
            host, _, port = self.http_listen.rpartition(":")
            if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
                raise ConfigError(f"--http-listen {self.http_listen!r} must be host:port, "
                                  f"e.g. {SEED_HTTP_LISTEN}")
            if not _is_loopback(self.http_listen) and not self.insecure:
                raise ConfigError(
                    f"refusing to serve HTTP on {self.http_listen}: it is plain HTTP (no TLS), "
                    "so operator tokens and members' credentials would cross the network in "
                    "clear. Serve it on a loopback address behind a TLS proxy, or pass "
                    "--insecure if this network is trusted"
                )

    def reliability_estimator(self) -> Estimator | None:
        """What learns reliability from outcomes, when --learn-reliability is on."""
        if not self.learn_reliability:
            return None
        return Estimator(self.reliability_half_life, self.reliability_prior_weight)

    def metrics_address(self) -> tuple[str, str]:
        """(host, port) of --metrics-listen: a port alone is on the loopback address."""
        host, colon, port = self.metrics_listen.rpartition(":")
        return (host.strip("[]") if colon else "127.0.0.1"), port

    def is_loopback(self) -> bool:
        return _is_loopback(self.listen)

    def http_address(self) -> tuple[str, int]:
        """(host, port) of --http-listen, brackets of an IPv6 host removed."""
        host, _, port = self.http_listen.rpartition(":")
        return host.strip("[]"), int(port)


def _is_loopback(listen: str) -> bool:
    host = listen.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def daemon_version() -> str:
    """The installed package's version: the one number a deployment and a bug report share."""
    return metadata.version("phoenixd")


def parse_args(argv: list[str] | None = None) -> Config:
    d = Config()
    p = argparse.ArgumentParser(
        prog="phoenixd",
        description="PhoenixFlight daemon: members, Flight Packets and the Flight Recorder, "
        "served over gRPC (with reflection and health).",
    )
    p.add_argument("--version", action="version", version=f"phoenixd {daemon_version()}")
    p.add_argument("--listen", default=d.listen, help=f"host:port to serve on (default {d.listen})")
    p.add_argument("--data-dir", type=Path, default=d.data_dir,
                   help="journal, snapshots and lock (default ./.phoenixflight)")
    p.add_argument("--suspect-grace", type=float, default=d.suspect_grace, metavar="SECONDS",
                   help="how long a SUSPECT member may stay quiet before it is FAILED "
                   f"(default {d.suspect_grace:g})")
    p.add_argument("--default-strategy", choices=[str(s) for s in Strategy],
                   default=str(d.default_strategy),
                   help="placement for packets that name no strategy: ring (consistent hash), "
                   "binpack (spread), pack, or trust (default trust)")
    p.add_argument("--vnodes", type=int, default=d.vnodes,
                   help=f"virtual nodes per member on the ring (default {d.vnodes})")
    p.add_argument("--ring-load-bound", type=float, default=d.ring_load_bound, metavar="EPS",
                   help="ring: no member above ceil((1+EPS) x average) packets; 0 = off "
                   "(default 0)")
    p.add_argument("--rebalance-share", type=float, default=d.rebalance_share,
                   help="after a join, move at most this share of ring packets per interval "
                   f"(default {d.rebalance_share:g})")
    p.add_argument("--rebalance-interval", type=float, default=d.rebalance_interval,
                   metavar="SECONDS", help=f"(default {d.rebalance_interval:g})")
    p.add_argument("--learn-reliability", action="store_true",
                   help="learn each member's reliability from its packets' outcomes (a Beta "
                   "posterior from the declared value; every change is audited) and route by it")
    p.add_argument("--reliability-half-life", type=float, default=None,
                   metavar="SECONDS", help="with --learn-reliability: an outcome this old counts "
                   f"half (default {d.reliability_half_life:g})")
    p.add_argument("--reliability-prior-weight", type=float, default=None, metavar="OUTCOMES",
                   help="with --learn-reliability: the declared reliability is worth this many "
                   f"outcomes (default {d.reliability_prior_weight:g})")
    p.add_argument("--snapshot-every", type=int, default=d.snapshot_every, metavar="EVENTS",
                   help=f"snapshot the state every this many events (default {d.snapshot_every}); "
                        "a larger state waits as many events as it holds records, "
                        "at most 250000")
    p.add_argument("--reserve-disk", type=int, default=d.reserve_disk, metavar="MIB",
                   help="refuse mutations (RESOURCE_EXHAUSTED) while the data dir's disk has "
                   "less than this many MiB free, so the journal never runs out mid-write; "
                   f"they resume by themselves once space is freed (default {d.reserve_disk}, "
                   "0 = off)")
    p.add_argument("--accept-journal-loss", action="store_true",
                   help="start even when the journal ends before the revision its snapshot "
                   "covers (records lost after they were durable; phoenixd refuses that "
                   "otherwise): on the records left, recording what was lost as a "
                   "journal_loss_accepted event. Copy the data dir aside first")
    p.add_argument("--tls-cert", type=Path, help="server certificate (PEM) to serve TLS")
    p.add_argument("--tls-key", type=Path, help="private key (PEM) of --tls-cert")
    p.add_argument("--client-ca", type=Path,
                   help="CA bundle (PEM) for client certificates: turns on mTLS")
    p.add_argument("--auth-token-file", type=Path,
                   help="file with the cluster admin's bearer token; operator calls then "
                   "need `authorization: Bearer <token>`")
    p.add_argument("--auth-tokens", type=Path, dest="auth_tokens_file", metavar="FILE",
                   help="TOML file of operator tokens scoped to namespaces, made by "
                   "`phoenix token new` (turns operator auth on too)")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --listen address without TLS")
    p.add_argument("--trusted-keys", type=Path, metavar="FILE",
                   help="public keys (PEM file, or a directory of *.pub) that `phoenix apply` "
                   "bundles must be signed by")
    p.add_argument("--allow-unsigned-bundles", action="store_true",
                   help="apply bundles without a signature too (a signed one still needs a "
                   "trusted key)")
    p.add_argument("--max-message-bytes", type=int, default=d.max_message_bytes,
                   help=f"largest message accepted or sent (default {d.max_message_bytes})")
    p.add_argument("--max-concurrent-rpcs", type=int, default=d.max_concurrent_rpcs,
                   help="unary calls in flight before RESOURCE_EXHAUSTED "
                   f"(default {d.max_concurrent_rpcs})")
    p.add_argument("--max-streams", type=int, default=d.max_streams,
                   help="open streams of known callers (sessions once their `open` arrived, "
                   f"watches) before RESOURCE_EXHAUSTED (default {d.max_streams})")
    p.add_argument("--max-unauthenticated-streams", type=int,
                   default=d.max_unauthenticated_streams,
                   help="sessions still waiting for their first message; past it the one "
                   "that waited longest is closed with RESOURCE_EXHAUSTED "
                   f"(default {d.max_unauthenticated_streams})")
    p.add_argument("--auth-deadline", type=float, default=d.auth_deadline, metavar="SECONDS",
                   help="a session whose first message does not arrive within this is closed "
                   f"with DEADLINE_EXCEEDED (default {d.auth_deadline:g})")
    p.add_argument("--max-probe-streams", type=int, default=d.max_probe_streams,
                   help="Health/Watch and reflection streams (open to anyone, counted apart "
                   f"from --max-streams) before RESOURCE_EXHAUSTED (default {d.max_probe_streams})")
    p.add_argument("--watch-queue-limit", type=int, default=d.watch_queue_limit, metavar="EVENTS",
                   help="events buffered per watcher before a slow one is cut off with "
                   f"RESOURCE_EXHAUSTED (default {d.watch_queue_limit})")
    p.add_argument("--shutdown-grace", type=float, default=d.shutdown_grace, metavar="SECONDS",
                   help=f"time in-flight calls get on SIGTERM (default {d.shutdown_grace:g})")
    p.add_argument("--metrics-listen", default=d.metrics_listen, metavar="HOST:PORT",
                   help="serve Prometheus metrics (GET /metrics) on this address, or on "
                   f"127.0.0.1 if only a port is given, e.g. {DEFAULT_METRICS_LISTEN} "
                   "(default: off)")
    p.add_argument("--http-listen", default=d.http_listen, metavar="HOST:PORT",
                   help="serve the REST/JSON routes (every unary RPC, from its google.api.http "
                   f"annotation, and GET /v1/openapi.json) on this address, e.g. "
                   f"{SEED_HTTP_LISTEN}; plain HTTP, so loopback unless --insecure "
                   "(default: off)")
    p.add_argument("--sse-heartbeat", type=float, default=d.sse_heartbeat, metavar="SECONDS",
                   help="an idle Server-Sent Events stream sends a `: ping` comment this often, "
                   f"so that proxies keep it open (default {d.sse_heartbeat:g})")
    p.add_argument("--log-format", choices=("auto", "console", "json"), default=d.log_format,
                   help="console on a terminal, JSON otherwise (default auto)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                   default=d.log_level, help="(default info)")
    a = p.parse_args(argv)
    tuning = [f for f, v in (("--reliability-half-life", a.reliability_half_life),
                             ("--reliability-prior-weight", a.reliability_prior_weight))
              if v is not None]
    if tuning and not a.learn_reliability:
        verb = "tune" if len(tuning) > 1 else "tunes"
        p.error(f"{' and '.join(tuning)} {verb} --learn-reliability: add it, or leave them out")
    config = Config(
        listen=a.listen, data_dir=a.data_dir, suspect_grace=a.suspect_grace,
        default_strategy=Strategy(a.default_strategy), vnodes=a.vnodes,
        ring_load_bound=a.ring_load_bound, rebalance_share=a.rebalance_share,
        rebalance_interval=a.rebalance_interval, learn_reliability=a.learn_reliability,
        reliability_half_life=(d.reliability_half_life if a.reliability_half_life is None
                               else a.reliability_half_life),
        reliability_prior_weight=(d.reliability_prior_weight
                                  if a.reliability_prior_weight is None
                                  else a.reliability_prior_weight),
        snapshot_every=a.snapshot_every, reserve_disk=a.reserve_disk,
        accept_journal_loss=a.accept_journal_loss,
        tls_cert=a.tls_cert, tls_key=a.tls_key,
        client_ca=a.client_ca, auth_token_file=a.auth_token_file,
        auth_tokens_file=a.auth_tokens_file, insecure=a.insecure,
        trusted_keys=a.trusted_keys, allow_unsigned_bundles=a.allow_unsigned_bundles,
        max_message_bytes=a.max_message_bytes, max_concurrent_rpcs=a.max_concurrent_rpcs,
        max_streams=a.max_streams, max_unauthenticated_streams=a.max_unauthenticated_streams,
        auth_deadline=a.auth_deadline, max_probe_streams=a.max_probe_streams,
        watch_queue_limit=a.watch_queue_limit, shutdown_grace=a.shutdown_grace,
        metrics_listen=a.metrics_listen, http_listen=a.http_listen,
        sse_heartbeat=a.sse_heartbeat, log_format=a.log_format,
        log_level=a.log_level,
    )
    try:
        config.validate()
    except ConfigError as exc:
        p.error(str(exc))
    return config
