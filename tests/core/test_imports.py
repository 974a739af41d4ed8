"""Applying a bundle in the core: one event carries it all, replaying that event rebuilds the
same state (and a snapshot of it restores the same), versions order by SemVer precedence, and
a refusal records nothing."""

from __future__ import annotations

import pytest

from phoenixd.core.bundled import NamedPolicy
from phoenixd.core.contracts import Contract
from phoenixd.core.dispatch import PacketSpec
from phoenixd.core.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from phoenixd.core.events import EventType
from phoenixd.core.imports import BundleImport, semver_key
from phoenixd.core.namespaces import Quota
from phoenixd.core.packets import PacketStatus, Policy
from phoenixd.core.state import ClusterState
from tests.core.packet_world import World, make_world

SCHEMA = {"type": "object", "required": ["case_id"],
          "properties": {"case_id": {"type": "string", "pattern": "^CUST-[0-9]+$"}}}


def bundle(version: str = "1.0.0", *packets: PacketSpec, bundle_id: str = "",
           trust: float = 0.9) -> BundleImport:
    return BundleImport(
        bundle_id or f"sha256:{version}", "acme.test", version, "verified", ("k1",),
        ("care",), (NamedPolicy("care", "strict", Policy(minimum_trust_score=trust)),),
        (Contract("care", "case", SCHEMA, ("review",)),),
        # Specs arrive with their policy names already resolved into constraints.
        packets or (PacketSpec("fp-1", "case", ("review",), {"case_id": "CUST-1"},
                               policy=Policy(minimum_trust_score=trust), namespace="care"),))


def replayed(world: World) -> ClusterState:
    state = ClusterState()
    for event in world.events:
        state.apply(event)
    return state


@pytest.mark.parametrize(("lower", "higher"), [
    ("1.0.0", "1.0.1"), ("1.9.0", "1.10.0"), ("1.0.0-rc.1", "1.0.0"),
    ("1.0.0-alpha", "1.0.0-alpha.1"), ("1.0.0-alpha.2", "1.0.0-alpha.10"),
    ("1.0.0-2", "1.0.0-alpha"),
])
def test_versions_order_by_semver_precedence(lower: str, higher: str) -> None:
    assert semver_key(lower) < semver_key(higher)
    assert semver_key("1.0.0+build.7") == semver_key("1.0.0")


def test_one_event_carries_the_bundle_and_replay_rebuilds_the_same_state() -> None:
    world = make_world()
    result = world.cluster.apply_bundle(bundle())
    applied = world.of_type(EventType.BUNDLE_APPLIED)
    assert [e.sequence for e in applied] == [result.revision]
    assert applied[0].namespace == "care" and applied[0].packet_ids == ("fp-1",)
    packet = world.packet("fp-1")
    assert packet.status is PacketStatus.PENDING  # no member: it waits, recorded after
    assert packet.policy.minimum_trust_score == 0.9
    state = replayed(world)
    live = world.state
    assert (state.packets, state.namespaces, state.pending) == (
        live.packets, live.namespaces, live.pending)
    assert (state.policies, state.contracts, state.bundles) == (
        live.policies, live.contracts, live.bundles)
    restored = ClusterState()
    restored.restore(world.state.snapshot(), world.state.revision)
    assert (restored.policies, restored.contracts, restored.bundles) == (
        world.state.policies, world.state.contracts, world.state.bundles)


def test_the_same_bundle_again_records_nothing_and_an_older_one_is_refused() -> None:
    world = make_world()
    world.cluster.apply_bundle(bundle("1.1.0"))
    head = world.head
    again = world.cluster.apply_bundle(bundle("1.1.0"))
    assert again.revision == 0 and {c.action for c in again.changes} == {"unchanged"}
    for version in ("1.0.0", "1.1.0"):
        with pytest.raises(FailedPrecondition, match="is not newer than"):
            world.cluster.apply_bundle(bundle(version, bundle_id=f"sha256:other-{version}"))
    assert world.head == head


def test_a_newer_version_updates_what_differs_and_keeps_packets() -> None:
    world = make_world()
    world.cluster.apply_bundle(bundle("1.0.0"))
    newer = world.cluster.apply_bundle(bundle("2.0.0", trust=0.95))
    assert [(c.kind, c.action) for c in newer.changes] == [
        ("bundle", "updated"), ("namespace", "unchanged"), ("policy", "updated"),
        ("contract", "unchanged"), ("packet", "kept")]
    assert world.state.policies[("care", "strict")].policy.minimum_trust_score == 0.95


@pytest.mark.parametrize(("spec", "error", "match"), [
    (PacketSpec("fp-1", "case", ("review",), {"case_id": "nope"}, namespace="care"),
     InvalidArgument, "schema path properties.case_id.pattern"),
    (PacketSpec("fp-1", "case", (), {"case_id": "CUST-1"}, namespace="care"),
     InvalidArgument, "requires review"),
    (PacketSpec("fp-1", namespace="elsewhere"), NotFound, "does not declare it"),
])
def test_a_refused_bundle_records_nothing(spec: PacketSpec, error: type[Exception],
                                          match: str) -> None:
    world = make_world()
    head = world.head
    with pytest.raises(error, match=match):
        world.cluster.apply_bundle(bundle("1.0.0", spec))
    assert world.head == head and not world.state.bundles and "care" not in world.state.namespaces


def test_a_quota_is_checked_for_all_the_packets_together() -> None:
    world = make_world()
    world.cluster.namespaces.create("care", {}, Quota(packets=1))
    head = world.head
    two = [PacketSpec(f"fp-{i}", "case", ("review",), {"case_id": "CUST-1"}, namespace="care")
           for i in range(2)]
    with pytest.raises(ResourceExhausted, match="quota packets=1"):
        world.cluster.apply_bundle(bundle("1.0.0", *two))
    assert world.head == head and not world.state.packets


def test_an_event_showing_records_of_several_namespaces_belongs_to_none() -> None:
    """A scoped token reads its namespace's events: a bundle event there must show nothing of
    another namespace, unchanged records and existing packets elsewhere included."""
    world = make_world()
    world.cluster.namespaces.create("other", {}, Quota())
    world.submit("elsewhere", "review", namespace="other")
    first = world.cluster.apply_bundle(bundle("1.0.0"))
    assert world.of_type(EventType.BUNDLE_APPLIED)[-1].namespace == "care"
    assert first.revision
    # 1.1.0 claims a packet id that exists in namespace "other": the change says so.
    claimed = PacketSpec("elsewhere", "case", ("review",), {"case_id": "CUST-2"},
                         namespace="care")
    world.cluster.apply_bundle(bundle("1.1.0", claimed))
    event = world.of_type(EventType.BUNDLE_APPLIED)[-1]
    assert any("in namespace other" in c["message"] for c in event.data["changes"])
    assert event.namespace == "" and event.packet_ids == ()
