"""The packet lifecycle: submit, assign, fence, hand off, retry, retire and drain.

Every packet transition is recorded through the Recorder (which applies it to
the state). Rules kept here:

- **Fencing.** Every (re)assignment increments the epoch, and the member hears
  of it only once the event is durable (notices carry their event's sequence
  number; the notice gate delivers them after the journal flush). A member-side
  write with another epoch, or from a member that is not the owner, changes
  nothing and is recorded as ``stale_owner_rejected``.
- **Handoff.** A move records ``handoff_started`` (the packet goes back to
  PENDING with its latest checkpoint), then a placement decision; the new
  owner's ack records ``handoff_completed`` with the latency.
- **Retirement (seed 000).** RETIRED, every assignment evicted, each packet
  back to PENDING and rescheduled, the member's load reset, all audited.

The modules, along the seams:

- ``moves``: placement and moves (place, assign, move, revoke, evict), the one
  place that records packet events;
- ``operator``: the operator's commands (submit, cancel, hand off, explain);
- ``fenced``: the owner's fenced writes (ack, checkpoint, complete, fail);
- ``reactions``: what member changes do to packets (evictions, drains,
  overload, paced rebalancing after a join) and the timers that drive them.
"""

from phoenixd.core.dispatch.fenced import FencedWrites
from phoenixd.core.dispatch.moves import Moves, PacketNotice, PacketNoticeKind
from phoenixd.core.dispatch.operator import PacketCommands, PacketSpec
from phoenixd.core.dispatch.reactions import (
    DEFAULT_REBALANCE_INTERVAL,
    DEFAULT_REBALANCE_SHARE,
    Reactions,
)

__all__ = [
    "DEFAULT_REBALANCE_INTERVAL",
    "DEFAULT_REBALANCE_SHARE",
    "FencedWrites",
    "Moves",
    "PacketCommands",
    "PacketNotice",
    "PacketNoticeKind",
    "PacketSpec",
    "Reactions",
]
