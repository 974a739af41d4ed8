"""The phases of a handoff one by one, in process: decide (the scheduler over N members),
sign (the Ed25519 handoff token) and persist (one fdatasync of a journal-sized record).
bench/failover.py measures the same phases end to end against a real daemon.

    make bench                      # these tables and the others
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from phoenixd.core.packets import Strategy
from phoenixd.core.tokens import issue
from phoenixd.signing import load_or_create
from phoenixd.store.fsio import sync_data
from tests.core.packet_world import World, make_world

MEMBERS = (10, 1000, 10_000)


def _world(members: int) -> World:
    world = make_world()
    for i in range(members):
        world.join(f"m-{i:05d}", "work", cpu=64.0, memory=1e9, trust_score=0.5 + (i % 50) / 100)
    return world


@pytest.mark.parametrize("strategy", [Strategy.TRUST, Strategy.RING, Strategy.BINPACK_SPREAD])
@pytest.mark.parametrize("members", MEMBERS)
def test_decide(benchmark, members: int, strategy: Strategy) -> None:  # type: ignore[no-untyped-def]
    world = _world(members)
    packet = world.submit("probe", "work", strategy=strategy, demand_cpu=0.5)
    benchmark.group = f"handoff: decide among N members ({strategy})"
    decision = benchmark(world.scheduler.decide, packet, "bench", exclude=packet.owner)
    assert decision.winner


def test_sign(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    signer = load_or_create(tmp_path)
    benchmark.group = "handoff: sign the token (Ed25519)"
    token = benchmark(
        issue, signer, packet_id="p-1", epoch=2, from_member="m-1", to_member="m-2",
        state_hash="0" * 64, now=1_700_000_000.0)
    assert token.signature


@pytest.fixture
def journal_fd(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path / "audit.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    yield fd
    os.close(fd)


def test_persist(benchmark, journal_fd: int) -> None:  # type: ignore[no-untyped-def]
    record = b"x" * 2047 + b"\n"  # about one assignment_decision record

    def append() -> None:
        os.write(journal_fd, record)
        sync_data(journal_fd)

    benchmark.group = "handoff: persist one record (write + fdatasync)"
    benchmark(append)
