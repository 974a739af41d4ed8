"""The domain, wired: membership and the packet lifecycle behind one set of commands.

Built by constructor, in this order (nothing installs itself into anything):

    credentials = Credentials(state)
    moves       = Moves(state, recorder, scheduler, signer, notify=packet notices)
    learning    = Learning(state, recorder, estimator)  # or None: learning is opt in
    reactions   = Reactions(state, recorder, scheduler, moves, learning)  # evictions, drains
    registry    = Registry(state, recorder, credentials, reactions, learning)
    packets     = PacketCommands(state, recorder, scheduler, moves)  # the operator's
    writes      = FencedWrites(state, recorder, credentials, moves, learning)  # the owner's

The registry calls ``reactions`` after each member change; nothing calls back into
the registry while it records. The one flow that crosses back, a drain that the
packet moves have emptied, is a worklist: after every command the cluster asks
``reactions.settle_drains()`` which drains ended and retires those members, until
none is left. The daemon and the core's tests drive exactly this class.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from phoenixd.core.credentials import Credentials
from phoenixd.core.dispatch import (
    DEFAULT_REBALANCE_INTERVAL,
    DEFAULT_REBALANCE_SHARE,
    FencedWrites,
    Moves,
    PacketCommands,
    PacketNotice,
    PacketSpec,
    Reactions,
)
from phoenixd.core.events import Actor
from phoenixd.core.imports import ApplyResult, BundleImport, ImportAdmin
from phoenixd.core.members import Member
from phoenixd.core.namespace_admin import NamespaceAdmin
from phoenixd.core.packets import Packet, PacketStatus
from phoenixd.core.recorder import Recorder
from phoenixd.core.registry import (
    DEFAULT_SUSPECT_GRACE,
    Load,
    MemberUpdate,
    MemberView,
    Notice,
    Registration,
    Registry,
)
from phoenixd.core.reliability import Estimator, Learning
from phoenixd.core.scheduler import Scheduler
from phoenixd.core.state import ClusterState
from phoenixd.core.tokens import Signer

__all__ = ["Cluster"]

T = TypeVar("T")


class Cluster:
    """Every command the control plane accepts, on one event loop."""

    def __init__(
        self,
        state: ClusterState,
        recorder: Recorder,
        scheduler: Scheduler,
        signer: Signer,
        *,
        notify_member: Callable[[Notice], None] = lambda notice: None,
        notify_packet: Callable[[PacketNotice], None] = lambda notice: None,
        suspect_grace: float = DEFAULT_SUSPECT_GRACE,
        rebalance_share: float = DEFAULT_REBALANCE_SHARE,
        rebalance_interval: float = DEFAULT_REBALANCE_INTERVAL,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        credentials: Credentials | None = None,
        learn_reliability: Estimator | None = None,
    ) -> None:
        self.state = state
        self._scheduler = scheduler
        self.credentials = credentials or Credentials(state)
        self._learning = learning = (
            None if learn_reliability is None else
            Learning(state, recorder, learn_reliability, wall_clock=wall_clock))
        self._moves = Moves(state, recorder, scheduler, signer, notify=notify_packet,
                            wall_clock=wall_clock)
        self._reactions = Reactions(
            state, recorder, scheduler, self._moves, monotonic=monotonic, wall_clock=wall_clock,
            rebalance_share=rebalance_share, rebalance_interval=rebalance_interval,
            learning=learning,
        )
        self.registry = Registry(
            state, recorder, credentials=self.credentials, reactions=self._reactions,
            suspect_grace=suspect_grace, monotonic=monotonic, wall_clock=wall_clock,
            notify=notify_member, learning=learning,
        )
        self._packets = PacketCommands(state, recorder, scheduler, self._moves,
                                       wall_clock=wall_clock)
        self._writes = FencedWrites(state, recorder, self.credentials, self._moves,
                                    learning=learning, wall_clock=wall_clock)
        self.namespaces = NamespaceAdmin(state, recorder, wall_clock=wall_clock)
        self.imports = ImportAdmin(state, recorder,
                                   default_strategy=lambda: scheduler.default_strategy,
                                   wall_clock=wall_clock)

    def _settled(self, result: T) -> T:
        """Retire the members whose drain the last command ended (a worklist: retiring
        evicts, which can end no other drain, but the loop does not rely on it)."""
        while ended := self._reactions.settle_drains():
            for member_id, reason in ended:
                self.registry.retire(member_id, reason, actor=Actor.DAEMON)
        return result

    # -- members --------------------------------------------------------------------------

    def register(self, registration: Registration) -> tuple[Member, str]:
        return self._settled(self.registry.register(registration))

    def heartbeat(self, member_id: str, credential: str, reported: Load | None = None) -> Member:
        return self._settled(self.registry.heartbeat(member_id, credential, reported))

    def update_member(self, member_id: str, update: MemberUpdate) -> Member:
        return self._settled(self.registry.update(member_id, update))

    def drain(
        self, member_id: str, reason: str, deadline: float | None = None,
        actor: str = Actor.OPERATOR,
    ) -> Member:
        return self._settled(self.registry.drain(member_id, reason, deadline, actor=actor))

    def retire(self, member_id: str, reason: str, actor: str = Actor.OPERATOR) -> Member:
        return self._settled(self.registry.retire(member_id, reason, actor=actor))

    def open_session(self, member_id: str, credential: str, token: object) -> Member:
        return self._settled(self.registry.open_session(member_id, credential, token))

    def session_message(self, member_id: str, token: object, reported: Load | None) -> Member:
        return self._settled(self.registry.session_message(member_id, token, reported))

    def close_session(self, member_id: str, token: object, *, graceful: bool) -> None:
        self.registry.close_session(member_id, token, graceful=graceful)
        self._settled(None)

    def get_member(self, member_id: str) -> Member:
        return self.registry.get_member(member_id)

    def view(self, member: Member) -> MemberView:
        return self.registry.view(member)

    # -- packets: the operator's ------------------------------------------------------------

    def submit(self, spec: PacketSpec, actor: str = Actor.OPERATOR) -> Packet:
        return self._settled(self._packets.submit(spec, actor))

    def apply_bundle(self, bundle: BundleImport, *, dry_run: bool = False) -> ApplyResult:
        """Apply a verified bundle (one event), then place its new packets as SubmitPacket
        places one (each placement its own event, after the bundle's)."""
        result = self.imports.apply(bundle, dry_run=dry_run)
        for packet_id in () if dry_run else result.created_packets:
            packet = self._moves.get(packet_id)
            if packet.status is PacketStatus.PENDING:
                self._moves.place(packet, "bundle applied")
        return self._settled(result)

    def placement_warnings(self, packet: Packet) -> list[str]:
        """Why a PENDING packet may wait long, for a person (nothing for a placed one)."""
        return self._scheduler.warnings(packet) if packet.status is PacketStatus.PENDING else []

    def cancel(self, packet_id: str, reason: str) -> Packet:
        return self._settled(self._packets.cancel(packet_id, reason))

    def handoff(self, packet_id: str, target: str, reason: str) -> Packet:
        return self._settled(self._packets.handoff(packet_id, target, reason))

    def explain(self, packet_id: str, epoch: int) -> tuple[int, int]:
        return self._packets.explain(packet_id, epoch)

    def get_packet(self, packet_id: str) -> Packet:
        return self._moves.get(packet_id)

    def assignments_of(self, member_id: str) -> list[Packet]:
        return self._moves.assignments_of(member_id)

    def schedule_pending(self, trigger: str) -> int:
        return self._settled(self._moves.schedule_pending(trigger))

    # -- packets: the owner's ----------------------------------------------------------------

    def ack(self, member_id: str, credential: str, packet_id: str, epoch: int) -> Packet:
        return self._settled(self._writes.ack(member_id, credential, packet_id, epoch))

    def save_checkpoint(
        self, member_id: str, credential: str, packet_id: str, epoch: int,
        state: Mapping[str, Any], step: str,
    ) -> Packet:
        return self._settled(
            self._writes.save_checkpoint(member_id, credential, packet_id, epoch, state, step))

    def complete(
        self, member_id: str, credential: str, packet_id: str, epoch: int,
        result: Mapping[str, Any],
    ) -> Packet:
        return self._settled(
            self._writes.complete(member_id, credential, packet_id, epoch, result))

    def fail(
        self, member_id: str, credential: str, packet_id: str, epoch: int, reason: str,
        permanent: bool,
    ) -> Packet:
        return self._settled(
            self._writes.fail(member_id, credential, packet_id, epoch, reason, permanent))

    # -- time ------------------------------------------------------------------------------

    def tick(self) -> None:
        """Leases, grace periods, drain deadlines, paced rebalancing and the fading of
        learned reliability that are due."""
        self.registry.expire()
        self._reactions.tick()
        if self._learning is not None:
            self._learning.tick()
        self._settled(None)

    def next_deadline(self) -> float | None:
        return self.registry.next_deadline()

    def restart_placement(self) -> int:
        """After recovery: resume drains and place what was left PENDING."""
        return self._settled(self._reactions.restart_placement())

    def rearm_leases(self) -> None:
        """Once members can reach the daemon again: every live member gets a full TTL."""
        self.registry.rearm_all()
