"""The application layer: what every surface (gRPC today) calls, and nothing else.

``Application`` gathers, over one Cluster and one event log:

- ``commands``  every change, acknowledged once durable (commands.py);
- ``queries``  reads as of the durable head, pages, explain, lineage, verify (queries.py);
- ``watches``  replay-then-follow feeds and a member's assignments (watches.py, feeds.py);
- ``sessions``  the member session protocol without its transport (sessions.py);
- ``access``  who may act on which namespace; refusals recorded (access.py);
- ``gate``  the durability gate that holds a notice until its event is durable (notices.py).

A surface decodes a request, calls one method here, converts the answer and maps
core errors through its one error table. No surface reads the state's collections
or the log directly.
"""

from __future__ import annotations

from collections.abc import Callable

from phoenixd.core.application.access import Access
from phoenixd.core.application.commands import BundleSource, Commands
from phoenixd.core.application.durability import Durability
from phoenixd.core.application.feeds import Broker
from phoenixd.core.application.notices import NoticeGate
from phoenixd.core.application.queries import Queries
from phoenixd.core.application.sessions import Sessions
from phoenixd.core.application.watches import Watches
from phoenixd.core.cluster import Cluster
from phoenixd.core.events import Event
from phoenixd.core.tokens import HandoffKeyInfo

__all__ = ["Application", "Broker", "BundleSource", "Durability", "NoticeGate"]


class Application:
    def __init__(
        self, cluster: Cluster, durability: Durability, broker: Broker, gate: NoticeGate,
        handoff_key: HandoffKeyInfo, daemon_version: str, *,
        bundles: BundleSource | None = None,
        write_refusal: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.commands = Commands(cluster, durability, bundles)
        self.queries = Queries(cluster, durability, handoff_key, daemon_version)
        self.watches = Watches(cluster, durability, broker, gate)
        self.sessions = Sessions(cluster, durability, gate)
        self.access = Access(cluster, durability, write_refusal=write_refusal)
        self._broker = broker
        self._gate = gate

    def made_durable(self, events: list[Event]) -> None:
        """The log made ``events`` durable: release held notices, then feed the watchers."""
        if events:
            self._gate.flush(events[-1].sequence)  # assignments go out once their epoch is durable
        self._broker.publish(events)

    def close(self, reason: str) -> None:
        """The daemon is shutting down: end every session, watcher and feed, saying why."""
        self._gate.close_all(f"{reason}; reconnect with backoff")
        self._broker.close_all(reason)  # a feed's end says where to resume
