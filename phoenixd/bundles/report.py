"""The namespace validation report: does every reference of a bundle resolve, and can
its packets be placed on the agents it expects?

Per namespace, as Dapr scopes a Component: a packet's policy and contract are looked up in
the packet's own namespace only, and its owners are looked for among that namespace's
agents. Errors stop a build (a policy that does not exist, a state its contract refuses);
warnings are flagged and built (a packet no declared agent could own today, a workload type
without a contract). Eligibility is the scheduler's own rule (``Requirement.reject`` of
phoenixd.core.scheduler), applied to each agent as if it had just registered, so the report
and the daemon cannot disagree on why an agent does not fit.

The report depends only on the records, so a reader recomputes it from the bundle's files
and refuses a bundle whose stored report says anything else.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import referencing.exceptions

from phoenixd.bundles.model import Agent, Contract, Item, Namespace, Packet, Policy
from phoenixd.bundles.schema import Path, format_path, state_validator
from phoenixd.core.members import DEFAULT_LEASE_TTL, Member, MemberKind, MemberStatus
from phoenixd.core.scheduler import Requirement
from phoenixd.core.selector import parse_selector
from phoenixd.core.validation import parse_capability

__all__ = ["REPORT_PATH", "RULES_VERSION", "Finding", "Report", "validate"]

REPORT_PATH = "reports/namespace-validation.json"
# Bumped whenever a check is added or changes what it says: a report states the rules it
# was made by, and a reader compares it with its own.
RULES_VERSION = 1
# Which field a packet's first rejection points at, by the scheduler's rule code.
_RULE_FIELDS = {"missing_capability": "required_capabilities", "no_capacity": "demand"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the report flags: ``error`` stops a build, ``warning`` is recorded."""

    severity: str
    rule: str
    file: str  # the record's file in the bundle
    field: Path  # within the record
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "rule": self.rule, "file": self.file,
                "field": format_path(self.field), "message": self.message}


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    placements: tuple[Mapping[str, Any], ...]  # per packet: the agents that could own it

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    def to_json(self) -> dict[str, Any]:
        return {"rules_version": RULES_VERSION, "errors": len(self.errors),
                "warnings": len(self.warnings),
                "findings": [f.to_json() for f in self.findings],
                "packets": [dict(p) for p in self.placements]}


def validate(namespaces: Sequence[Namespace], agents: Sequence[Agent],
             policies: Sequence[Policy], contracts: Sequence[Contract],
             packets: Sequence[Packet]) -> Report:
    """Check every record against the others of its namespace."""
    declared = {n.name for n in namespaces}
    findings: list[Finding] = []
    records: Iterable[Item] = (*agents, *policies, *contracts, *packets)
    for item in records:
        if item.namespace not in declared:
            findings.append(Finding(
                "error", "namespace_not_declared", item.file, ("namespace",),
                f'namespace "{item.namespace}" is not declared (declared: '
                f"{', '.join(sorted(declared))}): add it under namespaces"))
    by_ns_policy = {(p.namespace, p.name): p for p in policies}
    by_ns_contract = {(c.namespace, c.workload_type): c for c in contracts}
    by_ns_agents: dict[str, list[Agent]] = defaultdict(list)
    for agent in agents:
        by_ns_agents[agent.namespace].append(agent)
    placements = []
    for packet in packets:
        ns = packet.namespace
        policy = by_ns_policy.get((ns, packet.policy)) if packet.policy else None
        if packet.policy and policy is None:
            names = sorted(p.name for p in policies if p.namespace == ns)
            findings.append(Finding(
                "error", "policy_not_found", packet.file, ("policy",),
                f'no policy "{packet.policy}" in namespace "{ns}" '
                f"({'policies there: ' + ', '.join(names) if names else 'it has no policies'})"))
        contract = by_ns_contract.get((ns, packet.workload_type))
        if packet.workload_type and contract is None:
            findings.append(Finding(
                "warning", "no_contract", packet.file, ("workload_type",),
                f'no contract for workload type "{packet.workload_type}" in namespace "{ns}": '
                "its state is not checked"))
        if contract is not None:
            findings.extend(_contract_findings(packet, contract))
        placement: dict[str, Any] = {"namespace": ns, "packet_id": packet.packet_id,
                                     "policy": packet.policy or None,
                                     "contract": contract.workload_type if contract else None}
        if not (packet.policy and policy is None):
            eligible, rejected = _placement(packet, policy, by_ns_agents[ns])
            placement |= {"eligible_agents": eligible, "rejected_agents": rejected}
            if not eligible:
                findings.append(_unsatisfiable(packet, rejected))
        placements.append(placement)
    findings.sort(key=lambda f: (f.file, format_path(f.field), f.rule, f.message))
    # By packet, not in the order given: the build gives the PhoenixFile's order, the reader
    # the archive's (by path), and both must compute the same report bytes.
    placements.sort(key=lambda p: (p["namespace"], p["packet_id"]))
    return Report(tuple(findings), tuple(placements))


def _contract_findings(packet: Packet, contract: Contract) -> list[Finding]:
    found = []
    required = {parse_capability(c)[0] for c in packet.required_capabilities}
    missing = [c for c in contract.required_capabilities if parse_capability(c)[0] not in required]
    if missing:
        found.append(Finding(
            "error", "capability_not_required", packet.file, ("required_capabilities",),
            f'the contract of "{contract.workload_type}" requires {", ".join(missing)}, '
            "which this packet does not list"))
    try:
        validator = state_validator(contract.state_schema)
    except ValueError:  # the contract's own file is refused for it (model.field_problems)
        return found
    state_path: Path = ("context_checkpoint", "state")
    try:
        errors = sorted(validator.iter_errors(dict(packet.state)),
                        key=lambda e: ([str(s) for s in e.absolute_path], e.message))
    except referencing.exceptions.Unresolvable as exc:
        ref = "#" + exc.ref.removeprefix("#")
        return [*found, Finding("error", "state_schema_unresolvable", packet.file,
                                state_path, f'the contract of "{contract.workload_type}" '
                                f"refers to {ref}, which its schema does not hold")]
    for error in errors:
        found.append(Finding(
            "error", "state_invalid", packet.file, (*state_path, *error.absolute_path),
            f'{error.json_path}: {error.message} (contract "{contract.workload_type}")'))
    return found


def _as_member(agent: Agent, namespace: str) -> Member:
    """The agent as the registry would hold it, ACTIVE and without load; a capacity it
    does not declare fits any demand."""
    return Member(
        member_id=agent.id, kind=MemberKind(agent.kind),
        capabilities=tuple(sorted(agent.capabilities)),
        cpu=math.inf if agent.cpu is None else agent.cpu,
        memory=math.inf if agent.memory is None else agent.memory,
        trust_score=agent.trust_score, reliability=agent.reliability, labels=agent.labels,
        status=MemberStatus.ACTIVE, lease_ttl=DEFAULT_LEASE_TTL, incarnation=1,
        credential_hash="", create_time=0.0, update_time=0.0, namespace=namespace)


def _placement(packet: Packet, policy: Policy | None, agents: Sequence[Agent]
               ) -> tuple[list[str], dict[str, str]]:
    """The agents that could own ``packet`` now, and the first rule each other one fails."""
    policy = policy or Policy(packet.namespace, "")
    cpu, memory = packet.demand
    requirement = Requirement(
        tuple((c, *parse_capability(c)) for c in packet.required_capabilities),
        cpu, memory, policy.minimum_trust_score, frozenset(policy.allowed_regions),
        policy.pii_review_required,
        parse_selector(policy.label_selector) if policy.label_selector else None,
        packet.namespace)
    eligible, rejected = [], {}
    for agent in sorted(agents, key=lambda a: a.id):
        rule = requirement.reject(_as_member(agent, packet.namespace), 0.0, 0.0)
        if rule:
            rejected[agent.id] = rule
        else:
            eligible.append(agent.id)
    return eligible, rejected


def _unsatisfiable(packet: Packet, rejected: Mapping[str, str]) -> Finding:
    if not rejected:
        return Finding("warning", "unsatisfiable", packet.file, (),
                       f'namespace "{packet.namespace}" declares no agent that could own it')
    # The field most agents fail on (the first such, on a tie) is the one to look at.
    fields = Counter(_RULE_FIELDS.get(rule.split(":")[0], "policy" if packet.policy else "")
                     for rule in rejected.values())
    field = fields.most_common(1)[0][0]
    why = ", ".join(f"{agent} {rule}" for agent, rule in rejected.items())
    return Finding("warning", "unsatisfiable", packet.file, (field,) if field else (),
                   f'no agent of namespace "{packet.namespace}" could own it ({why})')
