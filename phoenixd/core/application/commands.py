"""Commands: every change an operator or a member asks for, acknowledged once durable.

Each runs one Cluster command, takes the record it shows (records are immutable,
so the reply shows the change itself, not what came after), and waits for
durability before returning it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from phoenixd import failpoints
from phoenixd.core.application.durability import Durability
from phoenixd.core.cluster import Cluster
from phoenixd.core.dispatch import PacketSpec
from phoenixd.core.errors import FailedPrecondition, PhoenixError
from phoenixd.core.imports import UNCHANGED, ApplyResult, BundleImport
from phoenixd.core.members import Member
from phoenixd.core.namespaces import Namespace, Quota
from phoenixd.core.packets import Packet
from phoenixd.core.registry import Load, MemberUpdate, MemberView, Registration

__all__ = ["BundleSource", "Commands", "Submission"]


class BundleSource(Protocol):
    """Where bundles come from and are kept: verification and the file under imports/ are
    outside the core (they need the bundle format and the disk)."""

    def read(self, archive: bytes) -> BundleImport:
        """Verify ``archive`` (pure, thread-safe: called off the event loop).

        Raises:
            InvalidArgument: a damaged bundle (naming the member at fault).
            FailedPrecondition: unsigned, or signed by no trusted key (naming the flag).
        """
        ...

    def keep(self, bundle_id: str, archive: bytes) -> None:
        """Make the archive durable under imports/ (blocking: called off the event loop)."""
        ...


class _NoBundles:
    def read(self, archive: bytes) -> BundleImport:
        raise FailedPrecondition("this daemon applies no bundles")

    def keep(self, bundle_id: str, archive: bytes) -> None:
        raise FailedPrecondition("this daemon applies no bundles")


@dataclass(frozen=True, slots=True)
class Submission:
    """A submitted packet, and what may keep it waiting (for a person to read)."""

    packet: Packet
    warnings: tuple[str, ...] = ()


class Commands:
    def __init__(self, cluster: Cluster, durability: Durability,
                 bundles: BundleSource | None = None) -> None:
        self._cluster = cluster
        self._durability = durability
        self._bundles: BundleSource = bundles or _NoBundles()

    async def _view(self, member: Member) -> MemberView:
        view = self._cluster.view(self._cluster.get_member(member.member_id))
        await self._durability.settle()
        return view

    async def _packet(self, packet: Packet) -> Packet:
        current = self._cluster.get_packet(packet.packet_id)
        await self._durability.settle()
        return current

    # -- namespaces ------------------------------------------------------------------------

    async def create_namespace(self, name: str, labels: Mapping[str, str], quota: Quota
                               ) -> Namespace:
        record = self._cluster.namespaces.create(name, labels, quota)
        await self._durability.settle()
        return record

    async def update_namespace(self, name: str, labels: Mapping[str, str] | None,
                               quota: Quota | None) -> Namespace:
        record = self._cluster.namespaces.update(name, labels, quota)
        await self._durability.settle()
        return record

    async def delete_namespace(self, name: str) -> Namespace:
        record = self._cluster.namespaces.delete(name)
        await self._durability.settle()
        return record

    # -- bundles ---------------------------------------------------------------------------

    async def apply_bundle(self, archive: bytes, *, dry_run: bool = False) -> ApplyResult:
        """Verify a bundle, keep its archive under imports/, and apply it as one event.

        Every check runs before anything is written: the archive is kept only once the
        state accepts the bundle (a dry run of it), and the bundle is checked again when it
        is recorded, as the state may have moved while the file was written. A file kept
        without its event (a crash, or a refusal in between) is harmless: it is named by the
        bundle id, and applying the bundle again writes the same bytes over it.
        """
        bundle = await asyncio.to_thread(self._bundles.read, archive)
        preview = self._cluster.apply_bundle(bundle, dry_run=True)
        if dry_run or preview.changes[0].action == UNCHANGED:
            await self._durability.settle()
            return preview
        await asyncio.to_thread(self._bundles.keep, bundle.bundle_id, archive)
        result = self._cluster.apply_bundle(bundle)
        failpoints.hit("bundle.before_durable")
        await self._durability.settle()
        return result

    # -- members ---------------------------------------------------------------------------

    async def register_member(self, registration: Registration) -> tuple[MemberView, str]:
        """Register (or re-incarnate) a member; returns its record and new credential."""
        member, credential = self._cluster.register(registration)
        view = self._cluster.view(member)
        await self._settle_alive(member.member_id, credential, member.lease_ttl)
        return view, credential

    async def _settle_alive(self, member_id: str, credential: str, ttl: float) -> None:
        """Wait until the registration is durable, renewing the new member's lease meanwhile.

        The member cannot heartbeat before it has this reply (its credential is in it), and
        its waiting call is a sign of life: a disk whose fsync outlasts the TTL must not make
        it SUSPECT before it could say anything. Its lease then runs from the reply.
        """
        settled = asyncio.ensure_future(self._durability.settle())
        while True:
            done, _ = await asyncio.wait({settled}, timeout=ttl / 3)
            with contextlib.suppress(PhoenixError):  # retired or failed meanwhile: no lease
                self._cluster.heartbeat(member_id, credential)
            if done:
                await settled
                return

    async def heartbeat(
        self, member_id: str, credential: str, reported: Load | None = None
    ) -> Member:
        member = self._cluster.heartbeat(member_id, credential, reported)
        # The reply shows only this member's record: wait for its own last change (e.g. the
        # SUSPECT -> ACTIVE this heartbeat caused), not for everyone's. A member that waits
        # for each reply before its next heartbeat must not lose its lease to a slow fsync
        # of other members' changes.
        await self._durability.wait(member.revision)
        return member

    async def update_member(self, member_id: str, update: MemberUpdate) -> MemberView:
        return await self._view(self._cluster.update_member(member_id, update))

    async def drain_member(
        self, member_id: str, reason: str, deadline: float | None
    ) -> MemberView:
        return await self._view(self._cluster.drain(member_id, reason, deadline))

    async def retire_member(self, member_id: str, reason: str) -> MemberView:
        return await self._view(self._cluster.retire(member_id, reason))

    # -- packets: the operator's -------------------------------------------------------------

    async def submit_packet(self, spec: PacketSpec) -> Submission:
        packet = self._cluster.submit(spec)
        warnings = tuple(self._cluster.placement_warnings(packet))  # as of the decision
        return Submission(await self._packet(packet), warnings)

    async def cancel_packet(self, packet_id: str, reason: str) -> Packet:
        return await self._packet(self._cluster.cancel(packet_id, reason))

    async def handoff_packet(self, packet_id: str, target: str, reason: str) -> Packet:
        return await self._packet(self._cluster.handoff(packet_id, target, reason))

    # -- packets: the owner's ----------------------------------------------------------------

    async def ack_packet(
        self, member_id: str, credential: str, packet_id: str, epoch: int
    ) -> Packet:
        return await self._packet(self._cluster.ack(member_id, credential, packet_id, epoch))

    async def save_checkpoint(
        self, member_id: str, credential: str, packet_id: str, epoch: int,
        state: Mapping[str, Any], step: str,
    ) -> Packet:
        return await self._packet(self._cluster.save_checkpoint(
            member_id, credential, packet_id, epoch, state, step))

    async def complete_packet(
        self, member_id: str, credential: str, packet_id: str, epoch: int,
        result: Mapping[str, Any],
    ) -> Packet:
        return await self._packet(self._cluster.complete(
            member_id, credential, packet_id, epoch, result))

    async def fail_packet(
        self, member_id: str, credential: str, packet_id: str, epoch: int, reason: str,
        permanent: bool,
    ) -> Packet:
        return await self._packet(self._cluster.fail(
            member_id, credential, packet_id, epoch, reason, permanent))
