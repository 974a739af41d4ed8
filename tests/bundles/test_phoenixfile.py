"""A PhoenixFile is checked against the shipped schema and the daemon's field rules, and
every problem names the file, the line and the field; references resolve per namespace."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
import yaml

from phoenixd.bundles import PhoenixFileError, build_bundle
from phoenixd.bundles.schema import SEMVER
from phoenixflight_api.protocol import id_problem
from tests.bundles.conftest import EXAMPLE, phoenixfile


def problems(body: str, build: bool = False) -> list[str]:
    with pytest.raises(PhoenixFileError) as caught:
        source = phoenixfile(body)
        if build:
            build_bundle(source)
    return list(caught.value.problems)


def test_the_shipped_schema_is_valid_2020_12_and_accepts_the_example() -> None:
    schema = json.loads(resources.files("phoenixd.bundles").joinpath("schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(EXAMPLE.read_text()))


def test_schema_errors_name_line_and_field() -> None:
    found = problems("""\
        agents:
          - id: agent-1
            trust_score: 1.5
          - id: Agent_2
        packets:
          - packet_id: fp-1
            colour: red
        """)
    assert found == [
        "PhoenixFile:5: agents[0].trust_score: 1.5 is greater than the maximum of 1",
        f"PhoenixFile:6: agents[1].id: {id_problem('Agent_2', 'agent id')}",
        "PhoenixFile:9: packets[0].colour: unknown field (known: audit, context_checkpoint, "
        "demand, handoff, max_attempts, namespace, packet_id, policy, required_capabilities, "
        "routing_key, strategy, workload_type)",
    ]


def test_bundle_name_and_semver() -> None:
    with pytest.raises(PhoenixFileError) as caught:
        phoenixfile("", header="apiVersion: phoenixflight/v1\n"
                               "bundle: {name: Acme..x, version: '1.0'}\n")
    assert caught.value.problems == (
        "PhoenixFile:2: bundle.name: 'Acme..x' is not a bundle name: use dotted DNS labels, "
        "e.g. acme.customer-validation",
        "PhoenixFile:2: bundle.version: '1.0' is not a SemVer 2.0.0 version "
        "(e.g. 1.4.0 or 2.0.0-rc.1)")
    assert all(SEMVER.fullmatch(v) for v in ("0.1.0", "1.0.0-rc.1+build.5", "10.20.30"))
    assert not any(SEMVER.fullmatch(v) for v in ("01.0.0", "1.0", "1.0.0-", "v1.0.0"))


@pytest.mark.parametrize(("text", "expected"), [
    ("bundle: [unclosed\n", "PhoenixFile:2: not valid YAML"),
    ("apiVersion: a\napiVersion: b\n", "PhoenixFile:2: 'apiVersion' appears twice"),
    ("base: &a [1]\nagents: *a\n<<: {x: 1}\n", "PhoenixFile:3: merge keys (<<) are not"),
    ("", "PhoenixFile:1: the file is empty"),
    ("? [a, b]\n: 1\n", "PhoenixFile:1: keys must be strings"),
])
def test_yaml_that_is_not_plain_json_data_is_refused_at_its_line(text: str, expected: str
                                                                 ) -> None:
    with pytest.raises(PhoenixFileError) as caught:
        phoenixfile("", header=text)
    assert caught.value.problems[0].startswith(expected), caught.value.problems


def test_field_rules_are_the_daemons() -> None:
    found = problems("""\
        agents:
          - id: agent-1
            capabilities: [ocr@2, ocr@3]
            labels: {region: "us east"}
        policies:
          - name: strict
            label_selector: "tier in ("
        """)
    assert [p.split(": ", 2)[:2] for p in found] == [
        ["PhoenixFile:5", "agents[0].capabilities"], ["PhoenixFile:6", "agents[0].labels"],
        ["PhoenixFile:9", "policies[0].label_selector"]]
    assert "listed twice" in found[0]


def test_a_policy_is_looked_up_in_the_packets_namespace_only() -> None:
    found = problems("""\
        namespaces: [{name: billing}]
        policies:
          - {name: strict, minimum_trust_score: 0.9}
        packets:
          - packet_id: fp-1
            namespace: billing
            policy: strict
        """, build=True)
    assert found == ['PhoenixFile:9: packets[0].policy: no policy "strict" in namespace '
                     '"billing" (it has no policies)']


def test_undeclared_namespaces_and_duplicates_are_errors() -> None:
    assert problems("""\
        agents:
          - {id: agent-1, namespace: biling}
        """, build=True) == [
        'PhoenixFile:4: agents[0].namespace: namespace "biling" is not declared '
        "(declared: default): add it under namespaces"]
    assert problems("""\
        packets:
          - {packet_id: fp-1}
          - {packet_id: fp-1, namespace: default}
        """) == ["PhoenixFile:5: packets[1].packet_id: packet 'fp-1' is declared twice in "
                 "namespace 'default' (first at line 4)"]


def test_a_packets_state_is_checked_against_its_contract_with_json_paths() -> None:
    found = problems("""\
        contracts:
          - workload_type: remediation
            required_capabilities: [policy_review]
            state_schema:
              type: object
              required: [case_id]
              properties:
                case_id: {type: string}
                pages: {type: array, items: {type: integer}}
        packets:
          - packet_id: fp-1
            workload_type: remediation
            context_checkpoint:
              state:
                pages: [1, two]
        """, build=True)
    assert found == [
        "PhoenixFile:16: packets[0].context_checkpoint.state: $: 'case_id' is a required "
        'property (contract "remediation")',
        "PhoenixFile:17: packets[0].context_checkpoint.state.pages[1]: $.pages[1]: 'two' is "
        'not of type \'integer\' (contract "remediation")',
        'PhoenixFile:13: packets[0].required_capabilities: the contract of "remediation" '
        "requires policy_review, "
        "which this packet does not list",
    ]


def test_a_contract_schema_must_be_valid_and_local() -> None:
    found = problems("""\
        contracts:
          - workload_type: remediation
            state_schema: {type: objekt}
        """)
    assert found[0].startswith("PhoenixFile:5: contracts[0].state_schema: not a valid JSON "
                               "Schema (2020-12)")
    found = problems("""\
        contracts:
          - workload_type: remediation
            state_schema: {$ref: "http://127.0.0.1:1/schema.json"}
        """)
    assert found == ["PhoenixFile:5: contracts[0].state_schema: $ref "
                     "'http://127.0.0.1:1/schema.json' is not within the schema: only refs "
                     "like #/$defs/name are followed (a bundle is checked offline)"]
    found = problems("""\
        contracts:
          - workload_type: remediation
            state_schema: {$ref: "#/$defs/missing"}
        packets:
          - {packet_id: fp-1, workload_type: remediation}
        """, build=True)
    assert found == ["PhoenixFile:7: packets[0].context_checkpoint.state: the contract of "
                     '"remediation" refers to #/$defs/missing, which its schema does not hold']
