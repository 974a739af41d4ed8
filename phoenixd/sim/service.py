"""The simulator inside the daemon: dry-runs against a fork of the live state, and scenario
runs, each in a worker thread so that the event loop goes on serving, one at a time, and
bounded in size and time.

The only step on the event loop is taking the fork (a list of references to immutable
records at one revision); restoring it, changing it and measuring it happen in the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from phoenixd.core.application.queries import StateFork
from phoenixd.core.errors import InvalidArgument, ResourceExhausted
from phoenixd.sim.dryrun import Change, DryRunResult, Settings, dry_run
from phoenixd.sim.run import SimResult, simulate
from phoenixd.sim.scenario import ScenarioError, scenario_from_mapping

__all__ = ["MAX_SIM_MEMBERS", "MAX_SIM_PACKETS", "MAX_SIM_STEPS", "TIME_BUDGET", "Simulator"]

# A run in the daemon shares its two cores with the daemon's own work: these keep one
# run to seconds (BENCHMARKS.md: ~30k simulated events/s), below the CLI's bounds.
MAX_SIM_MEMBERS = 1_000
MAX_SIM_PACKETS = 10_000
MAX_SIM_STEPS = 500
# Seconds of CPU one dry-run or run may take before it is stopped and refused.
TIME_BUDGET = 30.0

T = TypeVar("T")


class Simulator:
    """Runs dry-runs and scenarios for the daemon's surfaces."""

    def __init__(self, fork: Callable[[], Awaitable[StateFork]], settings: Settings, *,
                 time_budget: float = TIME_BUDGET) -> None:
        self._fork = fork
        self._settings = settings
        self._budget = time_budget
        # One run at a time: a second caller is refused at once rather than queued behind
        # a run that may take the whole budget.
        self._busy = asyncio.Lock()

    async def dry_run(self, change: Change) -> DryRunResult:
        async with self._turn():
            fork = await self._fork()
            return await _off_loop(functools.partial(
                dry_run, fork, change, self._settings, time_budget=self._budget))

    async def simulate(self, fields: dict[str, Any]) -> SimResult:
        """A scenario from request ``fields`` (as a scenario file names them), on a fresh
        simulated cluster."""
        try:
            scenario = scenario_from_mapping(fields, "request")
        except ScenarioError as exc:
            raise InvalidArgument(str(exc)) from None
        for name, bound in (("members", MAX_SIM_MEMBERS), ("packets", MAX_SIM_PACKETS),
                            ("steps", MAX_SIM_STEPS)):
            if getattr(scenario, name) > bound:
                raise InvalidArgument(
                    f"request: {name}: at most {bound} in the daemon, not "
                    f"{getattr(scenario, name)}; run larger ones with `phoenix simulate`")
        stop_at = time.monotonic() + self._budget

        def progress(done: int, total: int) -> None:
            if time.monotonic() > stop_at:
                raise ResourceExhausted(
                    f"the run took longer than {self._budget:g}s (step {done} of {total}); "
                    "try fewer steps, members or packets")

        async with self._turn():
            return await _off_loop(functools.partial(simulate, scenario, progress=progress))

    def _turn(self) -> asyncio.Lock:
        if self._busy.locked():
            raise ResourceExhausted("a simulation is already running in the daemon; "
                                    "retry when it is done")
        return self._busy


async def _off_loop(run: Callable[[], T]) -> T:
    """``run()`` in a worker thread. A caller that goes away (a deadline, a cancel) does not
    end the thread, so the turn is held until the thread has ended (within its budget)."""
    task = asyncio.ensure_future(asyncio.to_thread(run))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await task
        raise
