"""A progress bar for long offline runs (``phoenix simulate``): on stderr, only on a terminal,
and only once a run has taken longer than a second, so that short runs, pipes, files and CI
logs see nothing of it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

__all__ = ["DELAY", "progress"]

# Seconds a run goes before its bar appears: a run shorter than this shows none.
DELAY = 1.0


@contextmanager
def progress(total: int, what: str, *, stream: TextIO | None = None,
             delay: float = DELAY) -> Iterator[Callable[[int, int], None]]:
    """A callback for ``phoenixd.sim.simulate(progress=...)`` that advances a bar of
    ``total`` steps on ``stream`` (stderr), off unless that stream is a terminal."""
    out = sys.stderr if stream is None else stream
    with tqdm(total=total, desc=what, unit="step", file=out, delay=delay, leave=False,
              disable=not out.isatty(), dynamic_ncols=True) as bar:

        def step(_done: int, _of: int) -> None:
            bar.update(1)

        yield step
