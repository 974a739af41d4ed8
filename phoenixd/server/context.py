"""What the servicers share: the core, the journal, the feeds, and one durability wait."""

from __future__ import annotations

from dataclasses import dataclass

from phoenixd.core.cluster import Cluster
from phoenixd.core.feeds import Broker
from phoenixd.core.recorder import Recorder
from phoenixd.core.state import ClusterState
from phoenixd.server.sessions import SessionHub
from phoenixd.signing import HandoffKeyInfo
from phoenixd.store import EventLog

__all__ = ["Services"]


@dataclass
class Services:
    state: ClusterState
    recorder: Recorder
    cluster: Cluster
    journal: EventLog
    broker: Broker
    sessions: SessionHub
    handoff_key: HandoffKeyInfo

    async def settle(self) -> int:
        """Wait until everything recorded so far is durable; returns that revision.

        Mutations call it before replying (the write is acknowledged only once it
        is fsynced); reads call it too, so nobody is shown a change a crash could
        still undo. With nothing pending it returns at once.
        """
        head = self.recorder.head_sequence
        await self.journal.wait_durable(head)
        return head
