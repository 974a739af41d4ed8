"""Who an operator call comes from, and what each method acts on (its authorization rule).

``Tokens`` turns the bearer token of a call into a Caller: the cluster admin's token
(``--auth-token-file``), a token of the ``--auth-tokens`` file (scoped to namespaces), or the
admin for every call while operator auth is off. For a scoped caller, the Guard
(interceptors.py) sets it in ``CALLER`` and runs the method's rule before the servicer: the rule
names the targets the request acts on, and the application layer's Access lets the call
through or refuses and records it. Reads that name no namespace are narrowed to the caller's
namespaces where the servicer asks ``scopes.readable``.

``RULES`` covers every operator method; the security matrix fails for one it does not.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from phoenixd.core.access import ADMIN, Caller
from phoenixd.core.application.access import CLUSTER, Access, Target

__all__ = ["CALLER", "RULES", "Tokens", "authorize", "current_caller"]

# Set by the Guard for a scoped caller only: the admin's calls (and every call while operator
# auth is off) are not wrapped at all, and read this default.
CALLER: ContextVar[Caller] = ContextVar("phoenix_caller", default=ADMIN)


def current_caller() -> Caller:
    """The caller of the operator call being served (the admin outside of one)."""
    return CALLER.get()


class Tokens:
    """The operator tokens a daemon accepts."""

    def __init__(self, admin: str | None = None,
                 scoped: Mapping[str, Caller] | None = None) -> None:
        self._admin = admin.encode() if admin else None
        self._scoped = dict(scoped) if scoped is not None else None

    @property
    def enabled(self) -> bool:
        """Operator auth is on: a call needs one of these tokens. A tokens file turns it on
        even while it holds no token (its last one revoked): then no operator call passes."""
        return self._admin is not None or self._scoped is not None

    def caller(self, given: bytes) -> Caller | None:
        """Whose token ``given`` is (None: nobody's)."""
        if self._admin is not None and hmac.compare_digest(given, self._admin):
            return ADMIN
        if self._scoped is None:
            return None
        return self._scoped.get(hashlib.sha256(given).hexdigest())


_PACKAGE = "/phoenixflight.v1."
Rule = Callable[[Any], list[Target]]


def _ids(request: Any, *fields: str) -> list[Target]:
    """Targets for the id fields of ``request`` that are set (member_id, packet_id, owner)."""
    found = []
    for name in fields:
        value = getattr(request, name)
        if value:
            found.append(Target.packet(value) if name == "packet_id" else Target.member(value))
    return found


def _narrowed(request: Any, *ids: str) -> list[Target]:
    """A read: the namespace it names (if any) and the records it names by id."""
    named = [Target.namespace(request.namespace)] if request.namespace else []
    return [*named, *_ids(request, *ids)]


def _admin(request: Any) -> list[Target]:
    return [CLUSTER]


def _open(request: Any) -> list[Target]:
    return []  # the servicer narrows what it shows to the caller's namespaces


RULES: dict[str, Rule] = {
    f"{_PACKAGE}{path}": rule for path, rule in {
        "MembershipService/RegisterMember": lambda r: [Target.namespace(r.namespace),
                                                       *_ids(r, "member_id")],
        "MembershipService/GetMember": lambda r: [Target.member(r.member_id)],
        "MembershipService/ListMembers": _narrowed,
        "MembershipService/UpdateMember": lambda r: [Target.member(r.member.member_id)],
        "MembershipService/DrainMember": lambda r: [Target.member(r.member_id)],
        "MembershipService/RetireMember": lambda r: [Target.member(r.member_id)],
        "MembershipService/WatchMembers": lambda r: _narrowed(r, "member_id"),
        "MembershipService/ListCapabilities": _narrowed,
        "PacketService/SubmitPacket": lambda r: [Target.namespace(r.packet.namespace),
                                                 *_ids(r.packet, "packet_id")],
        "PacketService/GetPacket": lambda r: [Target.packet(r.packet_id)],
        "PacketService/ListPackets": lambda r: _narrowed(r, "owner"),
        "PacketService/CancelPacket": lambda r: [Target.packet(r.packet_id)],
        "PacketService/HandoffPacket": lambda r: [Target.packet(r.packet_id),
                                                  *_ids(r, "target_member_id")],
        "PacketService/ExplainAssignment": lambda r: [Target.packet(r.packet_id)],
        "FlightRecorderService/QueryEvents": lambda r: _narrowed(r, "member_id", "packet_id"),
        "FlightRecorderService/WatchEvents": lambda r: _narrowed(r, "member_id", "packet_id"),
        "FlightRecorderService/VerifyChain": _admin,
        "FlightRecorderService/ExportLineage": lambda r: _ids(r, "packet_id"),
        "ClusterService/GetClusterStatus": _open,
        "ClusterService/GetClusterHealth": _narrowed,
        "NamespaceService/CreateNamespace": _admin,
        "NamespaceService/GetNamespace": lambda r: [Target.namespace(r.name)],
        "NamespaceService/ListNamespaces": _open,
        "NamespaceService/UpdateNamespace": _admin,
        "NamespaceService/DeleteNamespace": _admin,
        # A bundle may create namespaces and spans several: applying and reading them is
        # the cluster admin's.
        "BundleService/ApplyBundle": _admin,
        "BundleService/GetBundle": _admin,
        "BundleService/ListBundles": _admin,
        # A dry-run forks every namespace's records; a run takes the daemon's CPU.
        "SimulatorService/DryRun": _admin,
        "SimulatorService/Simulate": _admin,
    }.items()
}


async def authorize(access: Access, method: str, request: Any, caller: Caller) -> None:
    """Run ``method``'s rule for ``caller``: PermissionDenied (recorded) if it may not."""
    if caller.admin:
        return
    rule = RULES.get(method)
    # An operator method without a rule is the admin's alone until it gets one.
    targets = rule(request) if rule is not None else [CLUSTER]
    await access.require(caller, method.rpartition("/")[2], targets)
