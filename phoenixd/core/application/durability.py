"""When a reply may go out: once what it shows is durable."""

from __future__ import annotations

from phoenixd.core.eventlog import EventLog
from phoenixd.core.recorder import Recorder

__all__ = ["Durability"]


class Durability:
    """Waits on the event log for what the recorder has written."""

    def __init__(self, recorder: Recorder, log: EventLog) -> None:
        self.recorder = recorder
        self.log = log

    async def settle(self) -> int:
        """Wait until everything recorded so far is durable; returns that revision.

        Commands call it before replying (a write is acknowledged only once it is
        fsynced); queries call it too, so nobody is shown a change a crash could
        still undo. With nothing pending it returns at once.
        """
        head = self.recorder.head_sequence
        await self.log.wait_durable(head)
        return head

    async def wait(self, sequence: int) -> None:
        """Wait until ``sequence`` (and everything before it) is durable."""
        await self.log.wait_durable(sequence)
