"""The Member worker: a process that does Flight Packets' work and survives churn.

    async def handle(task: Task) -> dict:
        state = dict(task.state)
        for page in range(state.get("page", 0), 10):
            ...                                   # the work
            await task.checkpoint({**state, "page": page + 1}, step=f"page-{page + 1}")
        return {"pages": 10}

    asyncio.run(Member("ocr-worker-1", "ocr@2", handler=handle).run())

It registers (re-using a saved credential to replace its own earlier incarnation),
holds a session (reconnecting with backoff when the daemon restarts), verifies each
assignment's handoff token and checkpoint hash, acks it, runs the handler, and
completes or fails the packet. A revocation cancels the handler.

It always stops. Registration is retried, each failure logged with its reason, until
``register_timeout`` passes; then ``run()`` raises RegistrationError. SIGTERM or SIGINT
(or ``stop()``) while registering or reconnecting stops it at once; while connected it
asks to be drained (movable packets are handed off with their last checkpoint, the rest
finish; with nothing in hand the daemon retires it at once) and ``run()`` returns once the
daemon has retired the member, or after ``drain_deadline`` plus a margin at the latest.
A second signal stops it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import grpc
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import json_format

from phoenixflight._connect import Connection, PhoenixFlightError
from phoenixflight._requests import duration
from phoenixflight.aio import AsyncClient
from phoenixflight_api import protocol
from phoenixflight_api.v1 import membership_service_pb2 as ms
from phoenixflight_api.v1 import packet_pb2 as pkt

__all__ = ["Handler", "Member", "RegistrationError", "Stage", "Task"]

log = logging.getLogger("phoenixflight.member")

# How long a stop may wait for the daemon to retire an idle member, and how much longer than
# the drain deadline a member with work waits before it leaves regardless.
STOP_MARGIN = 5.0
# Refusals that retrying cannot change: registration gives up on these at once.
_RETRYABLE_REGISTRATION = {grpc.StatusCode.ALREADY_EXISTS}


class RegistrationError(PhoenixFlightError):
    """The member could not register: the daemon refused it, or it stayed unreachable (or the
    id stayed taken by a live incarnation) until ``register_timeout`` passed."""


class Stage(enum.Enum):
    """Where a running Member is; what a stop request does depends on it."""

    STARTING = "starting"
    REGISTERING = "registering"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DRAINING = "draining"
    STOPPED = "stopped"


class Task:
    """One assignment being worked on: the packet, its epoch, and a way to checkpoint."""

    def __init__(self, member: Member, assignment: pkt.Assignment) -> None:
        self._member = member
        self.packet = assignment.packet
        self.epoch = assignment.epoch
        self.token = assignment.handoff_token
        self.state: dict[str, Any] = json_format.MessageToDict(
            assignment.packet.context_checkpoint.state)
        self.step = assignment.packet.context_checkpoint.step

    @property
    def packet_id(self) -> str:
        return self.packet.packet_id

    @property
    def handed_over_from(self) -> str:
        """The previous owner when this assignment is a handoff ("" for a first one)."""
        return self.token.from_member

    async def checkpoint(self, state: Mapping[str, Any], step: str = "") -> None:
        """Save progress; a handoff gives the next owner exactly this. Raises
        PhoenixFlightError (FAILED_PRECONDITION) once the packet is no longer ours."""
        m = self._member
        await m.retrying(lambda: m.client.save_checkpoint(
            m.member_id, m.credential, self.packet_id, self.epoch, state, step))
        self.state, self.step = dict(state), step


Handler = Callable[[Task], Awaitable[Mapping[str, Any] | None]]


class Member:
    """A worker member. ``run()`` serves until stopped (SIGTERM, SIGINT or ``stop()``)."""

    def __init__(
        self,
        member_id: str,
        *capabilities: str,
        handler: Handler,
        connection: Connection | None = None,
        endpoint: str | None = None,
        concurrency: int = 4,
        credential_file: Path | None = None,
        drain_deadline: float = 30.0,
        register_timeout: float | None = 60.0,
        backoff: tuple[float, float] = (0.2, 5.0),
        **registration: Any,
    ) -> None:
        """``registration``: kind, trust_score, reliability, labels, cpu, memory, lease_ttl,
        namespace (the one to join: "default" when not given; it must exist).
        ``register_timeout``: seconds to keep trying to register (None: forever).
        Raises ValueError for an invalid member id, before any call."""
        if problem := protocol.id_problem(member_id, "member id"):
            raise ValueError(problem)
        self.member_id = member_id
        self.capabilities = capabilities
        self.handler = handler
        self._connection = connection or Connection.from_env(endpoint=endpoint)
        self.client: AsyncClient  # made in run(): grpc.aio channels belong to one event loop
        self.credential = ""
        self.stage = Stage.STARTING
        self._registration = registration
        self._credential_file = credential_file
        self._slots = asyncio.Semaphore(concurrency)
        self._drain_deadline = drain_deadline
        self._register_timeout = register_timeout
        self._backoff = backoff
        self._tasks: dict[str, tuple[int, asyncio.Task[None]]] = {}  # packet -> (epoch, task)
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._drain_requested = asyncio.Event()
        self._drain_sent = False
        self._stop_requested = False
        self._stopping_now = False
        self._main: asyncio.Task[Any] | None = None
        self._opened = False  # the current session got its `opened`
        self._served = False  # some session got its `opened`
        self._finished = False
        self.completed: list[str] = []  # packets this process completed, for callers and tests

    @property
    def endpoint(self) -> str:
        return self._connection.endpoint

    # -- lifecycle ---------------------------------------------------------------------

    def stop(self) -> None:
        """Leave: at once when not connected, else drain first (what SIGTERM does). A second
        call leaves at once."""
        if self._stop_requested:
            log.warning("member %s: stopping at once (asked twice)", self.member_id)
            self._stop_now()
            return
        self._stop_requested = True
        if self.stage is not Stage.CONNECTED:
            log.info("member %s: stopping while %s", self.member_id, self.stage.value)
            self._stop_now()
            return
        held = len(self._tasks)
        log.info("member %s: draining (%d packet(s) in hand, deadline %gs)",
                 self.member_id, held, self._drain_deadline)
        self.stage = Stage.DRAINING
        self._drain_requested.set()
        wait = self._drain_deadline + STOP_MARGIN if held else STOP_MARGIN
        asyncio.get_running_loop().call_later(wait, self._stop_now)

    def _stop_now(self) -> None:
        if self._main is not None and not self._main.done() and not self._stopping_now:
            self._stopping_now = True
            self._main.cancel()

    async def run(self) -> None:
        """Serve until stopped; raises RegistrationError when registration fails for good."""
        self.client = AsyncClient(connection=self._connection)
        self._main = asyncio.current_task()
        loop = asyncio.get_running_loop()
        handled = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self._on_signal, sig)
                handled.append(sig)
        try:
            await self._serve()
        except asyncio.CancelledError:
            if not self._stopping_now or self._main is None:
                raise
            self._main.uncancel()
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            self.stage = Stage.STOPPED
            self._cancel_all()
            await asyncio.gather(*(t for _, t in self._tasks.values()), return_exceptions=True)
            await self.client.close()
        log.info("member %s stopped (%d packet(s) completed)", self.member_id,
                 len(self.completed))

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("member %s: %s received", self.member_id, sig.name)
        self.stop()

    async def _serve(self) -> None:
        if self._stop_requested:  # stopped before it started
            return
        log.info("member %s: registering with phoenixd at %s (capabilities: %s)",
                 self.member_id, self.endpoint, ", ".join(self.capabilities) or "none")
        await self._register()
        delay = self._backoff[0]
        while not self._finished:
            try:
                await self._session()
                delay = self._backoff[0]
            except PhoenixFlightError as exc:
                if self._stop_requested:
                    return  # retired (or unreachable) while leaving: nothing left to hand off
                if exc.code.name in ("UNAUTHENTICATED", "FAILED_PRECONDITION"):
                    log.warning("member %s lost its registration (%s); registering again",
                                self.member_id, exc.details)
                    self._cancel_all()
                    await self._register(fresh=True)
                    continue
                if not exc.unavailable:
                    raise
                if self._opened:  # it was up: a new outage starts the backoff over
                    delay = self._backoff[0]
                log.info("member %s: session to phoenixd interrupted (%s); retrying in %.1fs",
                         self.member_id, exc.code.name, delay)
            if self._finished or self._stop_requested:
                return
            self.stage = Stage.RECONNECTING
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    async def _register(self, *, fresh: bool = False) -> None:
        """Register, retrying what may pass (the daemon unreachable, the id held by a live
        incarnation) with backoff until ``register_timeout``."""
        self.stage = Stage.REGISTERING
        saved = "" if fresh else self._saved_credential()
        loop = asyncio.get_running_loop()
        timeout = self._register_timeout
        give_up = None if timeout is None else loop.time() + timeout
        delay, attempt = self._backoff[0], 0
        while True:
            attempt += 1
            try:
                member, self.credential = await self.client.register_member(
                    self.member_id, *self.capabilities, credential=saved, **self._registration)
                break
            except PhoenixFlightError as exc:
                why = self._registration_problem(exc)
                if not exc.unavailable and exc.code not in _RETRYABLE_REGISTRATION:
                    raise RegistrationError(exc.code, f"phoenixd refused to register "
                                            f"{self.member_id}: {why}") from None
                left = None if give_up is None else give_up - loop.time()
                if left is not None and left <= 0:
                    raise RegistrationError(exc.code, (
                        f"could not register {self.member_id} within {timeout:g}s "
                        f"({attempt} attempts): {why}")) from None
                wait = delay if left is None else min(delay, left)
                log.warning("member %s: registration attempt %d failed: %s; retrying in %.1fs",
                            self.member_id, attempt, why, wait)
                await asyncio.sleep(wait)
                delay = min(delay * 2, self._backoff[1])
        log.info("member %s registered: incarnation %d, lease %gs", self.member_id,
                 member.incarnation, member.lease_ttl.ToTimedelta().total_seconds())
        if self._credential_file is not None:
            fd = os.open(self._credential_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "w") as f:
                f.write(self.credential)

    def _registration_problem(self, exc: PhoenixFlightError) -> str:
        if exc.unavailable:  # grpc's details end with the cause: "...: Connection refused"
            cause = exc.details.rsplit(": ", 1)[-1] or exc.code.name
            return f"phoenixd at {self.endpoint} is not reachable ({cause})"
        if exc.code is grpc.StatusCode.ALREADY_EXISTS:
            return (f"{exc.details} (another process is serving as {self.member_id}: stop it, "
                    "wait for its lease to lapse, or give this one its credential file)")
        return f"{exc.code.name}: {exc.details}"

    def _saved_credential(self) -> str:
        if self._credential_file is not None and self._credential_file.exists():
            return self._credential_file.read_text().strip()
        return ""

    # -- the session -------------------------------------------------------------------

    async def _session(self) -> None:
        outgoing: asyncio.Queue[ms.OpenSessionRequest | None] = asyncio.Queue()
        outgoing.put_nowait(ms.OpenSessionRequest(
            open=ms.SessionOpen(member_id=self.member_id, credential=self.credential)))
        self._drain_sent = False
        self._opened = False

        async def requests() -> AsyncIterator[ms.OpenSessionRequest]:
            while (item := await outgoing.get()) is not None:
                yield item

        beats = asyncio.create_task(self._heartbeats(outgoing, 1.0))
        held: set[str] = set()
        try:
            async for message in self.client.open_session(requests()):
                kind = message.WhichOneof("kind")
                if kind == "opened":
                    self._opened = True
                    beats.cancel()
                    interval = message.opened.heartbeat_interval.ToTimedelta().total_seconds()
                    beats = asyncio.create_task(self._heartbeats(outgoing, interval))
                    if self.stage is not Stage.DRAINING:
                        self.stage = Stage.CONNECTED
                    log.info("member %s %s: session open to %s, heartbeat every %gs",
                             self.member_id, "reconnected" if self._served else "serving",
                             self.endpoint, interval)
                    self._served = True
                elif kind == "assignment":
                    held.add(message.assignment.packet.packet_id)
                    await self._assigned(message.assignment)
                elif kind == "assignments_synced":
                    for packet_id in set(self._tasks) - held:  # not ours any more
                        self._cancel(packet_id, "not among this member's assignments")
                elif kind == "revocation":
                    epoch, _ = self._tasks.get(message.revocation.packet_id, (0, None))
                    if epoch <= message.revocation.epoch:  # an older revocation is stale
                        self._cancel(message.revocation.packet_id, message.revocation.reason)
                elif kind == "closing":
                    log.info("phoenixd closed the session: %s", message.closing.reason)
                    if "retired" in message.closing.reason:
                        self._finished = True
                    return
        finally:
            beats.cancel()
            outgoing.put_nowait(None)

    async def _heartbeats(self, outgoing: asyncio.Queue[ms.OpenSessionRequest | None],
                          interval: float) -> None:
        while True:
            if self._drain_requested.is_set() and not self._drain_sent:
                self._drain_sent = True
                outgoing.put_nowait(ms.OpenSessionRequest(drain=ms.SessionDrain(
                    reason="member shutting down",
                    deadline=duration(self._drain_deadline))))
            outgoing.put_nowait(ms.OpenSessionRequest(heartbeat=ms.SessionHeartbeat()))
            if self._drain_sent:
                await asyncio.sleep(interval)
            else:  # wake early to send the drain request as soon as it is asked for
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drain_requested.wait(), interval)

    # -- work --------------------------------------------------------------------------

    async def _assigned(self, assignment: pkt.Assignment) -> None:
        packet_id, epoch = assignment.packet.packet_id, assignment.epoch
        current = self._tasks.get(packet_id)
        if current is not None and current[0] >= epoch:
            return  # already working on this (or a newer) epoch
        if current is not None:
            self._cancel(packet_id, "superseded by a newer epoch")
        problem = await self._verify(assignment)
        if problem:
            log.error("refusing %s at epoch %d: %s", packet_id, epoch, problem)
            with contextlib.suppress(PhoenixFlightError):
                await self.client.fail_packet(self.member_id, self.credential, packet_id,
                                              epoch, f"handoff check failed: {problem}")
            return
        task = Task(self, assignment)
        self._tasks[packet_id] = (epoch, asyncio.create_task(self._work(task)))

    async def _verify(self, assignment: pkt.Assignment) -> str:
        """"" if the token is the daemon's and the checkpoint is the one it signed."""
        token, checkpoint = assignment.handoff_token, assignment.packet.context_checkpoint
        state = json_format.MessageToDict(checkpoint.state)
        derived = protocol.state_hash(state)
        if derived != checkpoint.state_hash:
            return "checkpoint state does not match its state_hash"
        # The token attests the checkpoint as handed over. A checkpoint this member saved
        # since (same epoch; e.g. re-sent after a daemon restart) is its own progress.
        ours = checkpoint.epoch == assignment.epoch and checkpoint.saved_by == self.member_id
        if not ours and derived != token.state_hash:
            return "checkpoint is not the one the handoff token was signed over"
        if token.epoch != assignment.epoch or token.to_member != self.member_id:
            return "token is for another epoch or member"
        key = self._keys.get(token.key_id)
        if key is None:
            served = await self.client.get_handoff_key()
            key = Ed25519PublicKey.from_public_bytes(served.public_key)
            self._keys[served.key_id] = key
            if served.key_id != token.key_id:
                return f"token signed by unknown key {token.key_id}"
        try:
            key.verify(token.signature, protocol.token_signed_bytes(
                token.packet_id, token.epoch, token.from_member, token.to_member,
                token.state_hash, token.issued_at))
        except InvalidSignature:
            return "token signature does not verify"
        return ""

    async def _work(self, task: Task) -> None:
        async with self._slots:
            try:
                await self.retrying(lambda: self.client.ack_packet(
                    self.member_id, self.credential, task.packet_id, task.epoch))
                result = await self.handler(task)
                await self.retrying(lambda: self.client.complete_packet(
                    self.member_id, self.credential, task.packet_id, task.epoch, result or {}))
                self.completed.append(task.packet_id)
            except asyncio.CancelledError:
                raise
            except PhoenixFlightError as exc:  # fenced: the packet moved on without us
                log.info("packet %s epoch %d: %s", task.packet_id, task.epoch, exc)
            except Exception as exc:  # the handler failed: report it, the daemon retries
                log.exception("packet %s failed", task.packet_id)
                with contextlib.suppress(PhoenixFlightError):
                    await self.client.fail_packet(self.member_id, self.credential,
                                                  task.packet_id, task.epoch, repr(exc)[:1000])
            finally:
                if self._tasks.get(task.packet_id, (0, None))[0] == task.epoch:
                    del self._tasks[task.packet_id]

    async def retrying(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """Run a member-side call, waiting out a daemon restart (UNAVAILABLE) with backoff;
        any other refusal (e.g. fencing) is raised."""
        delay = self._backoff[0]
        while True:
            try:
                return await call()
            except PhoenixFlightError as exc:
                if not exc.unavailable:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])

    def _cancel(self, packet_id: str, reason: str) -> None:
        entry = self._tasks.pop(packet_id, None)
        if entry is not None:
            log.info("stopping %s: %s", packet_id, reason)
            entry[1].cancel()

    def _cancel_all(self) -> None:
        for packet_id in list(self._tasks):
            self._cancel(packet_id, "member stopping")
