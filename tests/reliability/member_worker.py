"""A member worker process for the ownership-history run: the SDK's Member, every call recorded.

    python -m tests.reliability.member_worker --endpoint 127.0.0.1:7400 --member-id w-1 \\
        --process w-1.1 --history w-1.1.jsonl

The worker is ``phoenixflight.Member`` doing packets of ``steps`` steps (a checkpoint after
each, sometimes a simulated failure) through ``RecordingClient``, which appends each
member-side call (ack, checkpoint, complete, fail) to a history file (tests/reliability/
history.py) with the credential it carried, and each assignment the session delivered as an
observation. Signals the run sends it:

- SIGTERM: the SDK's own drain (hand off, finish, leave once retired).
- SIGUSR1: the session stream is cut (no goodbye); the Member reconnects as after a network
  blip, and the daemon makes it SUSPECT meanwhile.
- SIGSTOP, then SIGCONT: on SIGCONT it writes once more, with the epoch it last held, to
  every packet it was working on -- what a paused owner does when it wakes up not knowing
  that it was declared dead. Those writes must all be refused.

Also home of the two conversions the run needs from the API: ``seen_of`` and ``outcome_of``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import grpc

import phoenixflight.member as sdk_member
from phoenixflight import Member, PhoenixFlightError, Task
from phoenixflight.aio import AsyncClient
from phoenixflight_api.v1 import membership_service_pb2 as ms
from phoenixflight_api.v1 import packet_pb2 as pkt
from tests.reliability.history import INDETERMINATE, OK, HistoryLog, Seen, outcome_of_code

__all__ = ["CAPABILITY", "RecordingClient", "outcome_of", "seen_of"]

log = logging.getLogger("member_worker")

CAPABILITY = "churn"


def seen_of(packet: pkt.FlightPacket) -> Seen:
    """A packet as a reply showed it."""
    status = pkt.PacketStatus.Name(packet.status).removeprefix("PACKET_STATUS_")
    return Seen(packet.packet_id, packet.epoch, packet.current_owner, status, packet.revision,
                packet.context_checkpoint.step)


def outcome_of(exc: BaseException) -> str:
    """A failed call's outcome: its refusal code, or indeterminate (it may have happened)."""
    if isinstance(exc, PhoenixFlightError):
        return outcome_of_code(exc.code.name)
    if isinstance(exc, grpc.RpcError):
        return outcome_of_code(exc.code().name)
    return INDETERMINATE


class RecordingClient(AsyncClient):
    """The Member's client: member-side calls and assignments go to the history as well."""

    history: ClassVar[HistoryLog]  # set once by the worker, before the Member runs

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # packet -> (epoch, member, credential) of this process's last accepted write to it
        self.held: dict[str, tuple[int, str, str]] = {}
        self._session: Any = None
        self._cut = False
        self._calls = 0

    async def _recorded(
        self, kind: str, member_id: str, credential: str, packet_id: str, epoch: int,
        call: Callable[[], Awaitable[pkt.FlightPacket]], tag: str = "",
    ) -> pkt.FlightPacket:
        op = self.history.invoke(kind, packet_id, member_id, epoch, tag, credential=credential)
        try:
            packet = await call()
        except BaseException as exc:  # refused, or cancelled mid-call (indeterminate)
            self.history.done(op, outcome_of(exc))
            raise
        self.history.done(op, OK, [seen_of(packet)])
        if kind in ("complete", "fail"):
            self.held.pop(packet_id, None)
        else:
            self.held[packet_id] = (epoch, member_id, credential)
        return packet

    async def ack_packet(self, member_id: str, credential: str, packet_id: str, epoch: int
                         ) -> pkt.FlightPacket:
        return await self._recorded("ack", member_id, credential, packet_id, epoch, lambda: (
            AsyncClient.ack_packet(self, member_id, credential, packet_id, epoch)))

    async def save_checkpoint(
        self, member_id: str, credential: str, packet_id: str, epoch: int,
        state: Mapping[str, Any], step: str = "",
    ) -> pkt.FlightPacket:
        # Every call gets its own step, so the checker finds the event this call made.
        self._calls += 1
        tag = f"{step}@{self.history.process}.{self._calls}"
        return await self._recorded(
            "checkpoint", member_id, credential, packet_id, epoch, lambda: (
                AsyncClient.save_checkpoint(self, member_id, credential, packet_id, epoch, state,
                                            tag)), tag)

    async def complete_packet(
        self, member_id: str, credential: str, packet_id: str, epoch: int,
        result: Mapping[str, Any] | None = None,
    ) -> pkt.FlightPacket:
        return await self._recorded("complete", member_id, credential, packet_id, epoch, lambda: (
            AsyncClient.complete_packet(self, member_id, credential, packet_id, epoch, result)))

    async def fail_packet(
        self, member_id: str, credential: str, packet_id: str, epoch: int, reason: str,
        permanent: bool = False,
    ) -> pkt.FlightPacket:
        return await self._recorded("fail", member_id, credential, packet_id, epoch, lambda: (
            AsyncClient.fail_packet(self, member_id, credential, packet_id, epoch, reason,
                                    permanent)))

    # -- the session -------------------------------------------------------------------

    def open_session(self, requests: AsyncIterator[ms.OpenSessionRequest]
                     ) -> AsyncGenerator[ms.OpenSessionResponse, None]:
        return self._recorded_session(requests)

    async def _recorded_session(self, requests: AsyncIterator[ms.OpenSessionRequest]
                                ) -> AsyncGenerator[ms.OpenSessionResponse, None]:
        method: Any = self.members.OpenSession
        call = self._session = method(requests, metadata=self.connection.metadata)
        self._cut = False
        try:
            async for message in call:
                if message.WhichOneof("kind") == "assignment":
                    self.history.observed("assigned", seen_of(message.assignment.packet))
                yield message
        except asyncio.CancelledError:
            if not self._cut:
                raise
            # Cut on purpose: to the Member this is a lost connection, so it reconnects.
            raise PhoenixFlightError(grpc.StatusCode.UNAVAILABLE, "session cut") from None
        except grpc.RpcError as exc:
            raise PhoenixFlightError(exc.code(), exc.details() or "") from None
        finally:
            self._session = None
            call.cancel()

    def cut_session(self) -> None:
        """End the session stream abruptly, as a broken connection would (no goodbye)."""
        if self._session is not None:
            self._cut = True
            self._session.cancel()

    async def write_as_before(self) -> None:
        """Write once more to every packet held, with the epoch held (after a pause)."""
        for packet_id, (epoch, member_id, credential) in list(self.held.items()):
            with contextlib.suppress(PhoenixFlightError):
                await self.save_checkpoint(member_id, credential, packet_id, epoch,
                                           {"woke_up": True}, "after-pause")
            with contextlib.suppress(PhoenixFlightError):
                await self.ack_packet(member_id, credential, packet_id, epoch)


def make_handler(step_seconds: float, fail_rate: float, rng: random.Random
                 ) -> Callable[[Task], Awaitable[dict[str, Any]]]:
    """Work through the packet's ``steps`` from the checkpoint, saving after each one."""

    async def handle(task: Task) -> dict[str, Any]:
        steps = int(task.state.get("steps", 3))
        for step in range(int(task.state.get("done", 0)), steps):
            await asyncio.sleep(step_seconds)
            if rng.random() < fail_rate:
                raise RuntimeError(f"simulated failure at step {step + 1}")
            await task.checkpoint({**task.state, "done": step + 1}, step=f"step-{step + 1}")
        return {"steps": steps}

    return handle


async def _serve(member: Member) -> None:
    loop = asyncio.get_running_loop()
    writes: set[asyncio.Task[None]] = set()

    def client() -> RecordingClient | None:
        current = getattr(member, "client", None)
        return current if isinstance(current, RecordingClient) else None

    def cut() -> None:
        if (c := client()) is not None:
            c.cut_session()

    def woke_up() -> None:
        if (c := client()) is not None:
            task = loop.create_task(c.write_as_before())
            writes.add(task)
            task.add_done_callback(writes.discard)

    loop.add_signal_handler(signal.SIGUSR1, cut)
    loop.add_signal_handler(signal.SIGCONT, woke_up)
    await member.run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--member-id", required=True)
    parser.add_argument("--process", required=True, help="this launch's name in the history")
    parser.add_argument("--history", type=Path, required=True)
    parser.add_argument("--lease-ttl", type=float, default=2.0)
    parser.add_argument("--step-seconds", type=float, default=0.1)
    parser.add_argument("--fail-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    RecordingClient.history = HistoryLog(args.history, args.process)
    sdk_member.AsyncClient = RecordingClient  # type: ignore[attr-defined]  # calls recorded
    member = Member(
        args.member_id, CAPABILITY, endpoint=args.endpoint, lease_ttl=args.lease_ttl,
        handler=make_handler(args.step_seconds, args.fail_rate, random.Random(args.seed)),
        backoff=(0.1, 1.0), drain_deadline=5.0,
    )
    asyncio.run(_serve(member))
    log.info("%s: done, %d packet(s) completed", args.member_id, len(member.completed))


if __name__ == "__main__":
    main()
