"""Power loss: acknowledged writes survive a crash that loses the page cache, not only the process.

phoenixd runs with ``PHOENIX_CRASHFS`` set, so its fdatasyncs, directory fsyncs and renames are
recorded in a ledger (phoenixd/store/fsio.py). After each kill, ``power_loss``
(tests/crashfs.py) cuts the data dir back to what the ledger says was durable before the daemon
restarts; without it a SIGKILL or os._exit keeps unsynced data in the page cache and the
restart finds it. Then the same checks as without a power loss:

- kill -9 cycles (test_kill9_cycles.py's clients, checks and audit): every acknowledged write
  is there with its effect, cut-off calls are all or nothing, the chain verifies; at the end,
  the snapshot a clean stop wrote survives a power loss whole and is the one restored;
- the failpoint matrix's crash cases (test_failpoints.py): the daemon exits at the point, loses
  power, and every acknowledged member, packet, epoch and owner is there after the restart.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest

from phoenixd import failpoints
from tests.crashfs import ENV, power_loss
from tests.daemon import PhoenixProcess
from tests.reliability.mutations import MutationClient, Outcome
from tests.reliability.soak import figure, scaled
from tests.reliability.test_failpoints import (
    CASES,
    DEATH_TIMEOUT,
    Case,
    check_invariants,
    run_workload,
)
from tests.reliability.test_kill9_cycles import (
    CLIENTS,
    SEED_ENV,
    Audit,
    check_cycle,
    last_serving_line,
    load_then_kill,
)

CYCLES = scaled(6, 200)
SNAPSHOT_EVERY = 40  # as in the kill -9 cycles: snapshots are cut short by the power loss too
CRASH_CASES = [case for case in CASES if case.exit_code == failpoints.CRASH_EXIT_CODE]


@pytest.mark.timeout(scaled(240, 7200))
def test_acknowledged_writes_survive_power_loss_cycles(tmp_path: Path) -> None:
    seed = int(os.environ.get(SEED_ENV) or random.randrange(2**32))
    print(f"power loss cycles: seed {seed} (replay its choices with {SEED_ENV}={seed})")
    rng = random.Random(seed)
    ledger = tmp_path / "crashfs.ledger"
    clients = [MutationClient(i, seed) for i in range(CLIENTS)]
    d = PhoenixProcess(tmp_path / "data", "--snapshot-every", str(SNAPSHOT_EVERY),
                       env={ENV: str(ledger)})
    audit = Audit()
    tally: Counter[str] = Counter()
    cut = 0
    d.start()
    try:
        for cycle in range(1, CYCLES + 1):
            load_then_kill(d, clients, cycle, rng)
            lost = power_loss(d.data_dir, ledger)
            cut += sum("audit.jsonl: cut" in line for line in lost)
            d.start()
            problems = check_cycle(d, clients, audit, True, tally)
            assert not problems, (f"seed {seed}, cycle {cycle}, the power loss undid {lost}:\n"
                                  + "\n".join(problems[:40]))
        assert d.stop() == 0
        # The clean stop's snapshot (at the head) survives a power loss whole and is restored.
        stopped = [json.loads(line) for line in d.log().splitlines()
                   if '"phoenixd stopped"' in line][-1]
        lost = power_loss(d.data_dir, ledger)
        d.start()
        serving = last_serving_line(d)
        assert (serving["snapshot_revision"], serving["snapshot_note"]) == (
            stopped["revision"], None), f"the power loss undid {lost}"
        assert d.stop() == 0
    finally:
        d.kill()
    acked = sum(op.outcome is Outcome.ACKED for c in clients for op in c.log)
    figure("power loss seed", seed)
    figure("power loss cycles (8 clients, SIGKILL 0.1-1.0 s into load, page cache dropped)",
           CYCLES)
    figure("power loss acknowledged writes checked / lost", f"{acked} / 0")
    figure("power loss restarts whose journal lost unsynced bytes", f"{cut} of {CYCLES}")


@pytest.mark.parametrize("case", CRASH_CASES, ids=[c.id for c in CRASH_CASES])
def test_invariants_hold_after_power_loss_at_every_crash_point(tmp_path: Path,
                                                                case: Case) -> None:
    ledger = tmp_path / "crashfs.ledger"
    armed = {failpoints.ENV: case.id, ENV: str(ledger)}
    d = PhoenixProcess(tmp_path / "data", "--snapshot-every", "4", env=armed).start()
    try:
        acked = run_workload(d, case.workers, scaled(5, 40))
        assert d.proc is not None
        assert d.proc.wait(DEATH_TIMEOUT) == case.exit_code, d.log()[-3000:]
        d.kill()
        lost = power_loss(d.data_dir, ledger)
        d.env = {ENV: str(ledger)}
        d.start()
        packets = check_invariants(d, acked)
        figure(f"power loss at {case.id}", f"{acked.calls} calls acknowledged, "
               f"{len(packets)} packets checked; undone: {'; '.join(lost) or 'nothing'}")
    finally:
        d.kill()
