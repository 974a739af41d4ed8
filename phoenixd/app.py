"""The composition root: Config -> store, core, server; the daemon's lifecycle and signals.

Wiring, by constructor: Store -> recovery into ClusterState -> Journal (the Recorder's sink)
-> Recorder -> Scheduler -> Cluster (which builds Credentials, Moves, Reactions, Registry,
PacketCommands and FencedWrites; see core/cluster.py) -> Application (commands, queries,
watches, sessions; see core/application) -> the gRPC server. The journal's durability
callback goes to Application.made_durable: the NoticeGate releases held notices, the Broker
feeds the watchers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import structlog
from grpc_health.v1 import health_pb2

from phoenixd import operator_tokens
from phoenixd.bundle_imports import BundleFiles
from phoenixd.bundles import KeyFileError, load_trusted_keys
from phoenixd.config import Config, daemon_version, parse_args
from phoenixd.core.access import Caller
from phoenixd.core.application import Application, Broker, Durability, NoticeGate
from phoenixd.core.cluster import Cluster
from phoenixd.core.events import Actor, Event, EventType
from phoenixd.core.recorder import Recorder
from phoenixd.core.scheduler import Scheduler
from phoenixd.core.state import ClusterState
from phoenixd.http import HttpServer
from phoenixd.log import configure_logging
from phoenixd.server.admission import StreamLimits
from phoenixd.server.authz import Tokens
from phoenixd.server.grpc_server import (
    SERVICE_DESCRIPTORS,
    SERVICE_NAMES,
    BindError,
    Services,
    build_server,
)
from phoenixd.server.interceptors import Guard
from phoenixd.server.metrics_http import MetricsServer
from phoenixd.server.refusals import REFUSALS
from phoenixd.signing import HandoffKeyError, load_or_create
from phoenixd.sim.dryrun import Settings
from phoenixd.sim.service import Simulator
from phoenixd.store import CorruptJournal, DataDirLocked, JournalLoss, Store
from phoenixd.store.fsio import shared_mode

__all__ = ["EXIT_JOURNAL_FAILURE", "Daemon", "main"]

log = structlog.get_logger("phoenixd")

# Exit code when a journal write or fsync fails: the daemon stops rather than
# retry (see store/journal.py); a supervisor restarts it and recovery runs.
EXIT_JOURNAL_FAILURE = 70
EXIT_STARTUP_FAILURE = 2
# The lease ticker never sleeps longer than this, so a deadline armed while it
# sleeps is acted on at most this late.
TICK = 0.05


class Daemon:
    """One phoenixd: owns the store, the core, the server and the background tasks."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.port = 0
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._snapshot_task: asyncio.Task[None] | None = None
        self.metrics: MetricsServer | None = None
        self.metrics_port = 0
        self.http: HttpServer | None = None
        self.http_port = 0

    async def start(self) -> None:
        cfg = self.config
        started = time.monotonic()
        self.store = Store(cfg.data_dir, snapshot_every=cfg.snapshot_every,
                           reserve_bytes=cfg.reserve_disk * 1024 * 1024,
                           accept_journal_loss=cfg.accept_journal_loss)
        self.state = ClusterState()
        recovery = self.store.recover(self.state.apply, self.state.restore, self.state.reset)
        broker = Broker(cfg.watch_queue_limit)
        gate = NoticeGate(recovery.head_sequence)
        signer = load_or_create(cfg.data_dir)
        self.journal = journal = self.store.open_journal(recovery, self._on_durable, self._on_fatal)
        self.recorder = Recorder(
            journal, self.state.apply,
            head_sequence=recovery.head_sequence, head_hash=recovery.head_hash,
        )
        scheduler = Scheduler(
            self.state, default_strategy=cfg.default_strategy, vnodes=cfg.vnodes,
            load_bound=cfg.ring_load_bound,
        )
        self.cluster = Cluster(
            self.state, self.recorder, scheduler, signer,
            notify_member=gate.notify, notify_packet=gate.deliver,
            suspect_grace=cfg.suspect_grace, rebalance_share=cfg.rebalance_share,
            rebalance_interval=cfg.rebalance_interval,
            learn_reliability=cfg.reliability_estimator(),
        )
        self.application = Application(
            self.cluster, Durability(self.recorder, journal), broker, gate, signer.info,
            daemon_version(), bundles=_bundle_files(cfg, self.store),
            write_refusal=self.store.write_refusal,
        )
        journal.start()
        # The health figures' window reaches back before this start: read its events once.
        self._tasks.append(asyncio.create_task(
            self._prime_health(recovery.head_sequence), name="health"))
        if recovery.truncation is not None:
            t = recovery.truncation
            log.warning(
                "journal tail was torn; truncated", offset=t.offset, dropped_bytes=t.dropped_bytes,
                record=t.sequence, problem=t.problem,
            )
            self.recorder.record(
                EventType.JOURNAL_TRUNCATED, Actor.DAEMON,
                reason=f"torn tail at byte offset {t.offset} cut off ({t.problem})",
                data={"offset": t.offset, "dropped_bytes": t.dropped_bytes},
            )
        if recovery.loss is not None:
            self._record_loss(recovery.loss)
        self.recorder.record(
            EventType.DAEMON_STARTED, Actor.DAEMON, reason="recovered",
            data={"replayed": recovery.replayed, "snapshot_revision": recovery.snapshot_revision,
                  "pid": os.getpid(), "handoff_key_id": signer.key_id},
        )
        self.cluster.restart_placement()  # a restart mid-handoff leaves packets PENDING
        await journal.wait_durable(self.recorder.head_sequence)
        if recovery.loss is not None:
            # The old snapshot is ahead of the journal: until one at the new head replaces
            # it, each start would refuse again (and, accepted again, record the loss twice).
            await self._write_snapshot()

        tls = None
        if cfg.tls_cert and cfg.tls_key:
            tls = (cfg.tls_cert.read_bytes(), cfg.tls_key.read_bytes(),
                   cfg.client_ca.read_bytes() if cfg.client_ca else None)
        tokens = Tokens(
            _read_token(cfg.auth_token_file) if cfg.auth_token_file else None,
            _read_scoped_tokens(cfg.auth_tokens_file) if cfg.auth_tokens_file else None,
        )
        services = Services(self.application, Simulator(
            self.application.queries.fork, Settings(
                default_strategy=cfg.default_strategy, vnodes=cfg.vnodes,
                load_bound=cfg.ring_load_bound, suspect_grace=cfg.suspect_grace,
                rebalance_share=cfg.rebalance_share, rebalance_interval=cfg.rebalance_interval)))
        # One Guard for both surfaces: the same tokens, rules and limits, one count of calls.
        guard = Guard(
            tokens, self.application.access, cfg.max_concurrent_rpcs,
            StreamLimits(
                authenticated=cfg.max_streams, unauthenticated=cfg.max_unauthenticated_streams,
                auth_deadline=cfg.auth_deadline, probes=cfg.max_probe_streams,
            ),
            self.store.write_refusal,
        )
        self.server, self.health, self.port = build_server(
            services, guard, listen=cfg.listen, max_message_bytes=cfg.max_message_bytes, tls=tls,
        )
        await self.server.start()
        if cfg.metrics_listen:
            host, port = cfg.metrics_address()
            self.metrics = MetricsServer(self.application.telemetry, journal)
            try:
                self.metrics_port = await self.metrics.start(host, int(port))
            except OSError as exc:
                raise BindError(f"--metrics-listen {cfg.metrics_listen}: {exc}") from None
        if cfg.http_listen:
            self.http = HttpServer(SERVICE_DESCRIPTORS, services.method_handlers(), guard,
                                   max_body_bytes=cfg.max_message_bytes,
                                   shutdown_grace=cfg.shutdown_grace,
                                   heartbeat=cfg.sse_heartbeat)
            http_host, http_port = cfg.http_address()
            try:
                self.http_port = await self.http.start(http_host, http_port)
            except OSError as exc:
                raise BindError(f"--http-listen {cfg.http_listen}: {exc}") from None
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        # Leases run from the moment members can reach us again, not from before the
        # start-up fsync (which a slow disk can stretch past a TTL).
        self.cluster.rearm_leases()
        self._tasks.append(asyncio.create_task(self._lease_ticker(), name="leases"))
        log.info(
            "phoenixd serving", listen=cfg.listen, port=self.port, data_dir=str(cfg.data_dir),
            members=len(self.state.members), revision=self.recorder.head_sequence,
            replayed=recovery.replayed, snapshot_revision=recovery.snapshot_revision,
            recovery_ms=round((time.monotonic() - started) * 1000, 1),
            tls=tls is not None, mtls=bool(tls and tls[2]), operator_auth=tokens.enabled,
            metrics_port=self.metrics_port or None, http_port=self.http_port or None,
            snapshot_note=recovery.snapshot_note or None,
        )

    def _record_loss(self, loss: JournalLoss) -> None:
        lost = f"{loss.last_revision + 1}..{loss.snapshot_revision}"
        log.warning(
            "journal lost records its snapshot proved durable; starting on the rest as "
            "--accept-journal-loss asks", offset=loss.offset, dropped_bytes=loss.dropped_bytes,
            last_revision=loss.last_revision, snapshot_revision=loss.snapshot_revision,
        )
        self.recorder.record(
            EventType.JOURNAL_LOSS_ACCEPTED, Actor.OPERATOR,
            reason=f"journal ended at byte offset {loss.offset} after revision "
            f"{loss.last_revision}, below the snapshot at revision {loss.snapshot_revision}: "
            f"records {lost} (at least) dropped, as --accept-journal-loss asked",
            data={
                "offset": loss.offset, "dropped_bytes": loss.dropped_bytes,
                "last_revision": loss.last_revision,
                "snapshot_revision": loss.snapshot_revision,
                "snapshot_hash": loss.snapshot_hash,
                "lost_revisions": [loss.last_revision + 1, loss.snapshot_revision],
            },
        )

    async def _prime_health(self, head: int) -> None:
        try:
            await self.application.health.prime(self.journal, head)
        except OSError as exc:  # the figures then count from this start only; serving goes on
            log.warning("could not read the last day's events back for the health figures; "
                        "they count from this start", error=str(exc))

    async def _lease_ticker(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                self.cluster.tick()
                due = self.cluster.next_deadline()
                delay = TICK if due is None else min(max(due - loop.time(), 0.0), TICK)
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # leases that silently stop expiring are worse than a stop
            self._on_fatal(exc)

    def _on_durable(self, events: list[Event]) -> None:
        head = events[-1].sequence
        self.application.made_durable(events)
        idle = self._snapshot_task is None or self._snapshot_task.done()
        if idle and not self._stopping.is_set() and self.store.snapshot_due(
                head, len(self.state.packets) + len(self.state.members)):
            self._snapshot_task = asyncio.create_task(self._snapshot(), name="snapshot")

    async def _snapshot(self) -> None:
        try:
            if await self._write_snapshot():
                log.info("snapshot written", revision=self.store.last_snapshot_revision)
        except BaseException as exc:  # a snapshot that cannot be written means a sick disk
            self._on_fatal(exc)

    async def _write_snapshot(self) -> bool:
        """Snapshot the state as of now; False if there was no room for it."""
        revision, hash_ = self.recorder.head_sequence, self.recorder.head_hash
        offset, view = self.journal.end_offset, self.state.snapshot_view()
        # Records become JSON as the writer's thread reaches them, off the loop.
        return await self.store.write_snapshot(view.streamed(), revision, hash_, offset)

    def _on_fatal(self, exc: BaseException) -> None:
        log.critical(
            "journal write or fsync failed; stopping without retrying (acknowledged data is "
            "safe, unacknowledged data may be lost; restart to recover)", error=repr(exc),
            exc_info=exc,
        )
        sys.stderr.flush()
        os._exit(EXIT_JOURNAL_FAILURE)

    def request_stop(self) -> None:
        self._stopping.set()

    async def wait_stopped(self) -> None:
        await self._stopping.wait()

    async def stop(self) -> None:
        """Graceful shutdown: stop accepting, tell sessions, flush, snapshot, unlock."""
        log.info("phoenixd shutting down")
        await self.health.enter_graceful_shutdown()
        self.application.close("daemon shutting down")
        if self.http is not None:
            await self.http.close()
        await self.server.stop(self.config.shutdown_grace)
        if self.metrics is not None:
            await self.metrics.close()
        if self._snapshot_task is not None:
            await self._snapshot_task  # finish it: the restart then replays less
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        journal = self.journal
        await journal.wait_durable(self.recorder.head_sequence)
        if self.recorder.head_sequence > self.store.last_snapshot_revision:
            await self._write_snapshot()
        await journal.close()
        self.store.close()
        REFUSALS.flush()
        log.info("phoenixd stopped", revision=self.recorder.head_sequence)


def _bundle_files(cfg: Config, store: Store) -> BundleFiles:
    try:
        trusted = load_trusted_keys(cfg.trusted_keys) if cfg.trusted_keys else []
    except (KeyFileError, OSError) as exc:
        raise BindError(f"--trusted-keys: {exc}") from None
    return BundleFiles(cfg.data_dir, trusted, cfg.allow_unsigned_bundles, store.write_refusal)


def _read_token(path: Path) -> str:
    token = path.read_text().strip()
    if not token:
        raise BindError(f"--auth-token-file {path} is empty")
    if (mode := shared_mode(path)) is not None:
        raise BindError(
            f"--auth-token-file {path} has mode {mode:o}: other users can read the operator "
            f"token. Make it private (chmod 600 {path}) and start again"
        )
    return token


def _read_scoped_tokens(path: Path) -> dict[str, Caller]:
    try:
        return operator_tokens.load(path)
    except operator_tokens.TokenFileError as exc:
        raise BindError(str(exc)) from exc


async def serve(config: Config) -> int:
    daemon = Daemon(config)
    try:
        await daemon.start()
    except (DataDirLocked, CorruptJournal, BindError, HandoffKeyError, OSError) as exc:
        log.error("phoenixd cannot start", error=str(exc))
        return EXIT_STARTUP_FAILURE
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.request_stop)
    await daemon.wait_stopped()
    await daemon.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    configure_logging(config.log_format, config.log_level)
    return asyncio.run(serve(config))
