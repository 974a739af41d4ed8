"""Authorization by namespace: may this caller act on that target? Every refusal is recorded.

A surface says which target a call acts on (a namespace by name, a packet or a member by id,
or the cluster itself); ``Access`` finds the target's namespace, lets the call through when the
caller may act there, and otherwise records a ``permission_denied`` event (durable before the
refusal goes out) and raises PermissionDenied naming the caller, the call, the namespace and
what the caller may act in. Unknown ids pass through, so the call itself answers NOT_FOUND.

Refusals come from callers with a valid token, but a token could still be made to fill the
journal with them: each token records at most ``RECORD_BURST`` refusals at once and
``RECORD_RATE`` a second after that, and none while the store refuses writes for want of
disk space. A refusal not recorded is still refused, and counted: the token's next recorded
refusal says how many went unrecorded before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from phoenixd.core.access import Caller
from phoenixd.core.application.durability import Durability
from phoenixd.core.cluster import Cluster
from phoenixd.core.errors import NotFound, PermissionDenied
from phoenixd.core.events import EventType
from phoenixd.core.namespaces import DEFAULT_NAMESPACE
from phoenixflight_api import protocol

__all__ = ["CLUSTER", "RECORD_BURST", "RECORD_RATE", "Access", "Target"]

RECORD_BURST = 64  # refusals one token may have recorded at once
RECORD_RATE = 1.0  # and then per second


@dataclass(frozen=True, slots=True)
class Target:
    """What a call acts on: ``kind`` is namespace, packet, member or cluster."""

    kind: str
    name: str = ""

    @classmethod
    def namespace(cls, name: str) -> Target:
        return cls("namespace", name or DEFAULT_NAMESPACE)

    @classmethod
    def packet(cls, packet_id: str) -> Target:
        return cls("packet", packet_id)

    @classmethod
    def member(cls, member_id: str) -> Target:
        return cls("member", member_id)

    def __str__(self) -> str:
        return "the cluster" if self.kind == "cluster" else f"{self.kind} {self.name!r}"


CLUSTER = Target("cluster")  # namespaces themselves and the whole chain: the admin's alone


class _Budget:
    """A token bucket: how many more refusals of one caller may be recorded now."""

    __slots__ = ("at", "left", "unrecorded")

    def __init__(self, now: float) -> None:
        self.left, self.at, self.unrecorded = float(RECORD_BURST), now, 0

    def take(self, now: float) -> bool:
        self.left = min(float(RECORD_BURST), self.left + (now - self.at) * RECORD_RATE)
        self.at = now
        if self.left < 1.0:
            self.unrecorded += 1
            return False
        self.left -= 1.0
        return True


class Access:
    def __init__(
        self, cluster: Cluster, durability: Durability, *,
        write_refusal: Callable[[], str | None] = lambda: None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cluster = cluster
        self._durability = durability
        self._write_refusal = write_refusal
        self._monotonic = monotonic
        self._budgets: dict[str, _Budget] = {}  # by caller name: one per configured token

    def namespace_of(self, target: Target) -> str | None:
        """The namespace ``target`` lives in; None for the cluster or an unknown id."""
        try:
            if target.kind == "packet":
                return self._cluster.get_packet(target.name).namespace
            if target.kind == "member":
                return self._cluster.get_member(target.name).namespace
        except NotFound:
            return None
        if target.kind == "namespace" and not protocol.id_problem(target.name, "namespace"):
            return target.name  # a malformed name is the call's own INVALID_ARGUMENT
        return None

    async def require(self, caller: Caller, call: str, targets: Iterable[Target]) -> None:
        """Let ``call`` through if ``caller`` may act on every one of ``targets``."""
        if caller.admin:
            return
        for target in targets:
            if target.kind == "cluster":
                await self._refuse(caller, call, target, "", "only the cluster admin's token may")
            namespace = self.namespace_of(target)
            if namespace is not None and not caller.may(namespace):
                await self._refuse(
                    caller, call, target, namespace,
                    f"it may act in {caller.scope()} only; use a token of namespace "
                    f"{namespace!r} or the cluster admin's")

    async def _refuse(self, caller: Caller, call: str, target: Target, namespace: str,
                      why: str) -> None:
        await self._record(caller, call, target, namespace)
        where = f" in namespace {namespace!r}" if namespace and target.kind != "namespace" else ""
        raise PermissionDenied(f"token {caller.name!r} may not call {call} on {target}{where}: "
                               f"{why}")

    async def _record(self, caller: Caller, call: str, target: Target, namespace: str) -> None:
        now = self._monotonic()
        budget = self._budgets.get(caller.name)
        if budget is None:
            budget = self._budgets[caller.name] = _Budget(now)
        if self._write_refusal() is not None:  # the disk's reserve is for the writes
            budget.unrecorded += 1
            return
        if not budget.take(now):
            return
        unrecorded, budget.unrecorded = budget.unrecorded, 0
        # Not the data keys "namespace", "member" or "packet": the state reads those as
        # records to apply. The event's own namespace field says where it was refused; its
        # reason names no namespace of the caller's (the target's namespace reads it).
        data: dict[str, str | int] = {"call": call, "token": caller.name,
                                      "target": str(target), "denied_namespace": namespace}
        if unrecorded:
            data["unrecorded_before"] = unrecorded
        self._durability.recorder.record(
            EventType.PERMISSION_DENIED, caller.actor, namespace=namespace,
            reason="outside the token's namespaces" if namespace else "the cluster admin's only",
            member_ids=[target.name] if target.kind == "member" else (),
            packet_ids=[target.name] if target.kind == "packet" else (),
            data=data,
        )
        await self._durability.settle()
