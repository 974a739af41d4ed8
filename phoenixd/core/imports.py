"""Applying a bundle: everything it changes in one journaled event, or nothing.

A verified bundle (read and checked outside the core) arrives as a ``BundleImport``: its id,
name and version, the namespaces it declares, its policies and contracts, and its packets as
specs whose policy names are already resolved into constraints. ``ImportAdmin.apply`` works
out what that changes against the state and records it as ONE ``bundle_applied`` event that
carries every record it creates or updates, in full: ``ClusterState.apply`` expands it, live
and on replay alike, and a journal record is there whole or not at all, so a crash or a
refusal can never leave half a bundle behind.

The rules:

- the same bundle id again changes nothing (no event; every change says ``unchanged``);
- a bundle of the same name must have a higher SemVer version to be applied over it, and
  then changes only what differs; an equal or lower one is refused;
- a packet that already exists is ``kept``, never rewritten; a namespace that exists is left
  as it is (its quota, labels and what it holds);
- every check (fields, contracts of the packets' states, namespaces' quotas) runs before
  anything is recorded.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from phoenixd.core.bundled import AppliedBundle, NamedPolicy, import_file
from phoenixd.core.contracts import Contract, check_capabilities, check_state, state_validator
from phoenixd.core.dispatch.operator import PacketSpec, new_packet
from phoenixd.core.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from phoenixd.core.events import Actor, EventType
from phoenixd.core.namespaces import Namespace, Quota, validate_namespace
from phoenixd.core.packets import Packet, Strategy, validate_policy
from phoenixd.core.recorder import Recorder
from phoenixd.core.state import ClusterState
from phoenixd.core.validation import validate_capabilities, validate_name, validate_text

__all__ = [
    "CREATED", "KEPT", "UNCHANGED", "UPDATED", "AppliedBundle", "ApplyResult", "BundleImport",
    "Change", "ImportAdmin", "NamedPolicy", "semver_key",
]

CREATED, UPDATED, UNCHANGED, KEPT = "created", "updated", "unchanged", "kept"


# SemVer 2.0.0 (https://semver.org): MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]
_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                     r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?")


def semver_key(version: str) -> tuple[Any, ...]:
    """A sort key giving SemVer 2.0.0 precedence (build metadata is ignored)."""
    match = _SEMVER.fullmatch(version)
    if match is None:
        raise InvalidArgument(f"bundle version {version!r} is not a SemVer 2.0.0 version")
    major, minor, patch, pre = match.groups()
    if pre is None:  # a release ranks above every pre-release of it
        return int(major), int(minor), int(patch), 1, ()
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return int(major), int(minor), int(patch), 0, parts


@dataclass(frozen=True, slots=True)
class BundleImport:
    """What a verified bundle asks for (the reader outside the core makes it)."""

    bundle_id: str
    name: str
    version: str
    signature: str
    key_ids: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    policies: tuple[NamedPolicy, ...] = ()
    contracts: tuple[Contract, ...] = ()
    packets: tuple[PacketSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class Change:
    """One thing an apply does (or would do, or leaves): ``action`` is created, updated,
    unchanged or kept; ``message`` says why where that is not plain."""

    kind: str  # bundle, namespace, policy, contract, packet
    namespace: str
    key: str
    action: str
    message: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "namespace": self.namespace, "key": self.key,
                "action": self.action, "message": self.message}


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The bundle as applied, the revision of its event (0: nothing changed, or a dry run)
    and every change, in the order bundle, namespaces, policies, contracts, packets."""

    bundle: AppliedBundle
    revision: int
    changes: tuple[Change, ...]
    created_packets: tuple[str, ...] = ()
    dry_run: bool = False


@dataclass
class _Plan:
    changes: list[Change] = field(default_factory=list)
    namespaces: list[Namespace] = field(default_factory=list)
    policies: list[NamedPolicy] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)
    packets: list[Packet] = field(default_factory=list)
    # Namespaces the changes mention: each change's, and that of an existing packet the
    # bundle places elsewhere (its "kept" message says so).
    mentioned: set[str] = field(default_factory=set)


class ImportAdmin:
    """Applies bundles to the state, one event each."""

    def __init__(self, state: ClusterState, recorder: Recorder, *,
                 default_strategy: Callable[[], Strategy],
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self._recorder = recorder
        self._strategy = default_strategy
        self._wall = wall_clock

    def get(self, name: str) -> AppliedBundle:
        record = self._state.bundles.get(name)
        if record is None:
            raise NotFound(f"no bundle named {name!r} has been applied (phoenix bundle list)")
        return record

    def apply(self, bundle: BundleImport, *, dry_run: bool = False,
              actor: str = Actor.OPERATOR) -> ApplyResult:
        """Check everything ``bundle`` changes, then record it as one event (unless
        ``dry_run``, or nothing changes)."""
        now = self._wall()
        applied = AppliedBundle(bundle.bundle_id, bundle.name, bundle.version,
                                bundle.signature, bundle.key_ids, import_file(bundle.bundle_id),
                                now)
        before = self._state.bundles.get(bundle.name)
        if before is not None and before.bundle_id == bundle.bundle_id:
            return ApplyResult(before, 0, tuple(_unchanged(bundle)), dry_run=dry_run)
        if before is not None and semver_key(bundle.version) <= semver_key(before.version):
            raise FailedPrecondition(
                f"bundle {bundle.name} {bundle.version} ({bundle.bundle_id}) is not newer than "
                f"{bundle.name} {before.version} ({before.bundle_id}), applied at revision "
                f"{before.revision}: give the new build a higher bundle.version")
        plan = self._plan(bundle, now)
        action = UPDATED if before is not None else CREATED
        message = f"from version {before.version}" if before is not None else ""
        changes = (Change("bundle", "", bundle.name, action, message), *plan.changes)
        created = tuple(p.packet_id for p in plan.packets)
        if dry_run:
            return ApplyResult(applied, 0, changes, created, dry_run=True)
        # Every namespace the event shows anything of, unchanged records included: a token
        # scoped to one namespace reads that namespace's events, and must see nothing else's.
        namespaces = sorted({c.namespace for c in plan.changes} | plan.mentioned)
        event = self._recorder.record(
            EventType.BUNDLE_APPLIED, actor,
            reason=f"bundle {bundle.name} {bundle.version} ({bundle.bundle_id}) applied: "
                   + _counts(changes),
            # An event of one namespace is that namespace's; one over several is the cluster
            # admin's alone (an event naming packets but no namespace reads as default's).
            packet_ids=created if len(namespaces) == 1 else (),
            lineage_ids=tuple(p.lineage_id for p in plan.packets) if len(namespaces) == 1
            else (),
            namespace=namespaces[0] if len(namespaces) == 1 else "",
            data={
                "bundle": applied.to_dict(),
                "created_namespaces": [n.to_dict() for n in plan.namespaces],
                "policies": [p.to_dict() for p in plan.policies],
                "contracts": [c.to_dict() for c in plan.contracts],
                "created_packets": [p.to_dict() for p in plan.packets],
                "changes": [c.to_dict() for c in changes],
            },
        )
        return ApplyResult(self._state.bundles[bundle.name], event.sequence, changes, created)

    def _plan(self, bundle: BundleImport, now: float) -> _Plan:
        plan = _Plan()
        state = self._state
        known = set(state.namespaces)
        for name in bundle.namespaces:
            if validate_namespace(name) in known:
                plan.changes.append(Change("namespace", name, name, UNCHANGED))
            else:
                plan.namespaces.append(Namespace.new(name, {}, Quota(), now))
                plan.changes.append(Change("namespace", name, name, CREATED))
                known.add(name)
        contracts = dict(state.contracts)
        for given in bundle.policies:
            policy = NamedPolicy(self._namespace(given.namespace, known),
                                 validate_name(given.name, "policy name", required=True),
                                 validate_policy(given.policy))
            self._diff(plan, "policy", policy.namespace, policy.name, policy,
                       state.policies.get(policy.key), plan.policies)
        for offered in bundle.contracts:
            contract = _checked_contract(offered)
            self._namespace(contract.namespace, known)
            contracts[contract.key] = contract
            self._diff(plan, "contract", contract.namespace, contract.workload_type, contract,
                       state.contracts.get(contract.key), plan.contracts)
        seen: dict[str, str] = {}
        demand: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        for spec in bundle.packets:
            namespace = self._namespace(spec.namespace, known)
            if spec.packet_id in seen:
                raise InvalidArgument(f"packet {spec.packet_id!r} is in namespaces "
                                      f"{seen[spec.packet_id]!r} and {namespace!r}: packet "
                                      "ids are unique across the daemon")
            seen[spec.packet_id] = namespace
            current = state.packets.get(spec.packet_id)
            if current is not None:
                plan.mentioned.add(current.namespace)
                elsewhere = (f", in namespace {current.namespace}"
                             if current.namespace != namespace else "")
                plan.changes.append(Change(
                    "packet", namespace, spec.packet_id, KEPT,
                    f"exists ({current.status} at epoch {current.epoch}{elsewhere}): a "
                    "bundle never rewrites a packet"))
                continue
            packet = new_packet(spec, now, self._strategy())
            governing = contracts.get((namespace, packet.workload_type))
            if governing is not None:
                check_capabilities(governing, packet.required_capabilities)
                check_state(governing, packet.checkpoint.state,
                            f"packet {packet.packet_id!r}: context_checkpoint state")
            plan.packets.append(packet)
            plan.changes.append(Change("packet", namespace, spec.packet_id, CREATED))
            total = demand[namespace]
            total[0] += 1
            total[1] += packet.demand_cpu
            total[2] += packet.demand_memory
        for namespace, (count, cpu, memory) in sorted(demand.items()):
            record = state.namespaces.get(namespace)
            if record is None:  # created by this bundle, without a quota
                continue
            if over := state.usage_of(namespace).over(record.quota, packets=int(count),
                                                      cpu=cpu, memory=memory):
                raise ResourceExhausted(
                    f"namespace {namespace!r} has no room for the {int(count)} packet(s) of "
                    f"bundle {bundle.name} {bundle.version}: {over}; raise the quota or "
                    "remove what it holds. Nothing was applied")
        return plan

    @staticmethod
    def _namespace(name: str, known: set[str]) -> str:
        if validate_namespace(name) not in known:
            raise NotFound(f"namespace {name!r} does not exist and the bundle does not "
                           "declare it: create it first (phoenix namespace create "
                           f"{name}) or list it under namespaces in the PhoenixFile")
        return name

    @staticmethod
    def _diff(plan: _Plan, kind: str, namespace: str, key: str, new: Any, old: Any,
              into: list[Any]) -> None:
        if new == old:
            plan.changes.append(Change(kind, namespace, key, UNCHANGED))
            return
        into.append(new)
        plan.changes.append(Change(kind, namespace, key, CREATED if old is None else UPDATED))


def _checked_contract(given: Contract) -> Contract:
    try:
        state_validator(given.state_schema)
    except ValueError as exc:
        raise InvalidArgument(f"contract {given.workload_type!r} of namespace "
                              f"{given.namespace!r}: state_schema: {exc}") from None
    return Contract(given.namespace,
                    validate_name(given.workload_type, "workload_type", required=True),
                    given.state_schema, validate_capabilities(given.required_capabilities),
                    validate_text(given.description, "description"))


def _unchanged(bundle: BundleImport) -> list[Change]:
    """Every change of a bundle applied again: none."""
    changes = [Change("bundle", "", bundle.name, UNCHANGED, "this bundle id is applied")]
    changes += [Change("namespace", n, n, UNCHANGED) for n in bundle.namespaces]
    changes += [Change("policy", p.namespace, p.name, UNCHANGED) for p in bundle.policies]
    changes += [Change("contract", c.namespace, c.workload_type, UNCHANGED)
                for c in bundle.contracts]
    changes += [Change("packet", p.namespace, p.packet_id, UNCHANGED) for p in bundle.packets]
    return changes


def _counts(changes: tuple[Change, ...]) -> str:
    counted: dict[str, int] = defaultdict(int)
    for change in changes:
        counted[change.action] += 1
    return ", ".join(f"{counted[a]} {a}" for a in (CREATED, UPDATED, UNCHANGED, KEPT)
                     if counted[a])
