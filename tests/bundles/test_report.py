"""The namespace validation report: which agents of a packet's namespace could own it by the
scheduler's own rules, and the flags it raises (never crossing a namespace)."""

from __future__ import annotations

from phoenixd.bundles.report import validate
from tests.bundles.conftest import phoenixfile

WORLD = """\
namespaces: [{name: billing}, {name: support}]
policies:
  - {name: strict, namespace: billing, minimum_trust_score: 0.9, allowed_regions: [us-east],
     pii_review_required: true, label_selector: "tier=gold"}
agents:
  - {id: ok, namespace: billing, capabilities: [ocr@2], trust_score: 0.95,
     labels: {region: us-east, pii_cleared: "true", tier: gold}, capacity: {cpu: 4}}
  - {id: low-trust, namespace: billing, capabilities: [ocr@2], trust_score: 0.5,
     labels: {region: us-east, pii_cleared: "true", tier: gold}}
  - {id: eu, namespace: billing, capabilities: [ocr@2], trust_score: 0.95,
     labels: {region: eu-west, pii_cleared: "true", tier: gold}}
  - {id: no-pii, namespace: billing, capabilities: [ocr@2], trust_score: 0.95,
     labels: {region: us-east, tier: gold}}
  - {id: silver, namespace: billing, capabilities: [ocr@2], trust_score: 0.95,
     labels: {region: us-east, pii_cleared: "true", tier: silver}}
  - {id: old-ocr, namespace: billing, capabilities: [ocr@1], trust_score: 0.95,
     labels: {region: us-east, pii_cleared: "true", tier: gold}}
  - {id: elsewhere, namespace: support, capabilities: [ocr@2, fax], trust_score: 1,
     labels: {region: us-east, pii_cleared: "true", tier: gold}}
packets:
  - {packet_id: fp-1, namespace: billing, policy: strict, required_capabilities: [ocr@2],
     workload_type: scan}
  - {packet_id: fp-2, namespace: billing, required_capabilities: [fax]}
  - {packet_id: fp-3, namespace: billing, policy: strict, required_capabilities: [ocr@2],
     demand: {cpu: 8}}
  - {packet_id: fp-4, namespace: support}
"""


def report() -> dict[str, object]:
    s = phoenixfile(WORLD)
    return validate(s.namespaces, s.agents, s.policies, s.contracts, s.packets).to_json()


def test_each_agent_is_judged_by_the_first_rule_it_fails() -> None:
    fp1 = report()["packets"][0]  # type: ignore[index]
    assert fp1 == {
        "namespace": "billing", "packet_id": "fp-1", "policy": "strict", "contract": None,
        "eligible_agents": ["ok"],
        "rejected_agents": {"eu": "region_not_allowed", "low-trust": "trust_below_minimum",
                            "no-pii": "pii_not_cleared",
                            "old-ocr": "missing_capability:ocr@2",
                            "silver": "label_selector_mismatch"},
    }


def test_unplaceable_packets_and_missing_contracts_are_flagged_not_refused() -> None:
    r = report()
    assert (r["errors"], r["warnings"]) == (0, 3)
    assert [(f["file"], f["rule"], f["field"]) for f in r["findings"]] == [  # type: ignore[attr-defined]
        ("files/packets/billing/fp-1.json", "no_contract", "workload_type"),
        # fax is offered in support only: namespaces do not lend agents to each other
        ("files/packets/billing/fp-2.json", "unsatisfiable", "required_capabilities"),
        # most agents fail the policy (one fails only the demand: see its rule below)
        ("files/packets/billing/fp-3.json", "unsatisfiable", "policy"),
    ]
    fp3 = r["packets"][2]  # type: ignore[index]
    assert fp3["rejected_agents"]["ok"] == "no_capacity:cpu"
    # Agents that declare no capacity fit any demand; they fail fp-3 by their other rules.
    assert fp3["rejected_agents"]["low-trust"] == "trust_below_minimum"


def test_a_namespace_without_agents_says_so() -> None:
    s = phoenixfile("packets: [{packet_id: fp-1}]\n")
    r = validate(s.namespaces, s.agents, s.policies, s.contracts, s.packets)
    assert [f.message for f in r.warnings] == [
        'namespace "default" declares no agent that could own it']
