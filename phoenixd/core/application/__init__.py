"""The application layer: what every surface (gRPC today) calls, and nothing else.

``Application`` gathers, over one Cluster and one event log:

- ``commands``  every change, acknowledged once durable (commands.py);
- ``queries``  reads as of the durable head, pages, explain, lineage, verify (queries.py);
- ``health``  the DMA figures' running tally, fed every durable event (health.py);
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
from dataclasses import dataclass

from phoenixd.core.application.access import Access
from phoenixd.core.application.commands import BundleSource, Commands
from phoenixd.core.application.durability import Durability
from phoenixd.core.application.feeds import Broker
from phoenixd.core.application.health import HealthTally
from phoenixd.core.application.notices import NoticeGate
from phoenixd.core.application.queries import Queries
from phoenixd.core.application.sessions import Sessions
from phoenixd.core.application.watches import Watches
from phoenixd.core.cluster import Cluster
from phoenixd.core.events import Event
from phoenixd.core.members import MemberStatus
from phoenixd.core.packets import PacketStatus
from phoenixd.core.telemetry import Histogram
from phoenixd.core.tokens import HandoffKeyInfo

__all__ = ["Application", "Broker", "BundleSource", "Durability", "NoticeGate", "Telemetry"]


@dataclass(frozen=True, slots=True)
class Telemetry:
    """The daemon's live figures for a metrics scrape, read on the event loop."""

    members: dict[MemberStatus, int]  # every status, zeros included
    packets: dict[PacketStatus, int]
    totals: dict[str, int]  # HealthTally's counts since this process started
    handoff_latency: Histogram
    feed_subscribers: int
    feed_dropped: int


class Application:
    def __init__(
        self, cluster: Cluster, durability: Durability, broker: Broker, gate: NoticeGate,
        handoff_key: HandoffKeyInfo, daemon_version: str, *,
        bundles: BundleSource | None = None,
        write_refusal: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.health = HealthTally()
        self.commands = Commands(cluster, durability, bundles)
        self.queries = Queries(cluster, durability, handoff_key, daemon_version, self.health)
        self.watches = Watches(cluster, durability, broker, gate)
        self.sessions = Sessions(cluster, durability, gate)
        self.access = Access(cluster, durability, write_refusal=write_refusal)
        self._broker = broker
        self._gate = gate
        self._state = cluster.state

    def made_durable(self, events: list[Event]) -> None:
        """The log made ``events`` durable: release held notices, then feed the watchers."""
        if events:
            self._gate.flush(events[-1].sequence)  # assignments go out once their epoch is durable
        self._broker.publish(events)
        self.health.add(events)

    def telemetry(self) -> Telemetry:
        """What the metrics endpoint shows, as of now (counters kept as events land: no
        scan of the state or the log)."""
        state = self._state
        return Telemetry(
            members={s: state.member_counts[s] for s in MemberStatus},
            packets={s: state.packet_counts[s] for s in PacketStatus},
            totals=dict(self.health.totals), handoff_latency=self.health.handoff_latency,
            feed_subscribers=len(self._broker), feed_dropped=self._broker.dropped,
        )

    def close(self, reason: str) -> None:
        """The daemon is shutting down: end every session, watcher and feed, saying why."""
        self._gate.close_all(f"{reason}; reconnect with backoff")
        self._broker.close_all(reason)  # a feed's end says where to resume
