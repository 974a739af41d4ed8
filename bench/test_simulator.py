"""The simulator's speed, which is the core's: simulated events and placement decisions per
second of a ring run with churn (members retiring and joining) at 100 / 1,000 / 10,000 members.

CI-sized by default (each run is once, in bench-smoke). The goal run (BENCHMARKS.md):

    PHOENIX_BENCH_SIM_PACKETS=100000 PHOENIX_BENCH_SIM_CHURN=1000 \\
        .venv/bin/pytest bench/test_simulator.py --benchmark-only -s -k 10000 --timeout 3600
"""

from __future__ import annotations

import os
import time

import pytest

from phoenixd.sim import ChurnSpec, Scenario, SimResult, simulate

MEMBERS = (100, 1000, 10_000)
# Packets per run: 10 per member, at most 2,000, unless told.
PACKETS = int(os.environ["PHOENIX_BENCH_SIM_PACKETS"]) if os.environ.get(
    "PHOENIX_BENCH_SIM_PACKETS") else None
CHURN = int(os.environ.get("PHOENIX_BENCH_SIM_CHURN", "20"))  # churn events per run
CHURN_STEPS = 10  # steps after the set-up step, over which the churn is spread


def scenario(members: int) -> Scenario:
    """Set-up at step 0, then CHURN events over CHURN_STEPS steps: half retire, half join."""
    per_step = max(2, CHURN // CHURN_STEPS)
    events = []
    for step in range(1, CHURN_STEPS + 1):
        events += [ChurnSpec(step, "retire", count=per_step // 2),
                   ChurnSpec(step, "join", count=per_step - per_step // 2)]
    return Scenario(mode="ring", steps=CHURN_STEPS + 1, members=members,
                    packets=PACKETS if PACKETS is not None else min(2000, 10 * members),
                    events=tuple(events))


@pytest.mark.parametrize("members", MEMBERS)
def test_simulate_ring_churn(benchmark, members: int) -> None:  # type: ignore[no-untyped-def]
    s = scenario(members)
    benchmark.group = "simulator: ring churn run"
    started = time.perf_counter()
    ends: list[float] = []  # when each step ended
    result: SimResult = benchmark.pedantic(
        simulate, args=(s,), kwargs={"progress": lambda done, total: ends.append(
            time.perf_counter())}, rounds=1, iterations=1)
    seconds = time.perf_counter() - started
    set_up, churn_s = ends[0] - started, ends[-1] - ends[0]
    churn = result.run["joins"] + result.run["leaves"]
    benchmark.extra_info.update(events=result.head_sequence, decisions=result.run["decisions"],
                                churn_events=churn, seconds=round(seconds, 2),
                                set_up_seconds=round(set_up, 2), churn_seconds=round(churn_s, 2))
    print(f"\n{members} members, {s.packets} packets, {churn} churn events: {seconds:.2f}s "
          f"(set-up {set_up:.2f}s, churn steps {churn_s:.2f}s), "
          f"{result.head_sequence / seconds:,.0f} events/s, "
          f"{result.run['decisions'] / seconds:,.0f} decisions/s")
    assert result.run["leaves"] > 0 and result.steps[-1].active == members
