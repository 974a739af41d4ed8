"""CI-sized or soak-sized runs, and the figures the reliability tests report.

``make test`` runs every test here at its CI size; ``make soak`` sets ``PHOENIX_SOAK=1`` and the
same tests run at their long size. Tests call ``figure(name, value)`` for what they measured
(cycles run, stale writes refused, recovery times, ...); conftest prints them after the run.
"""

from __future__ import annotations

import os

__all__ = ["FIGURES", "SOAK", "figure", "scaled"]

SOAK = os.environ.get("PHOENIX_SOAK") == "1"

FIGURES: list[tuple[str, str]] = []


def scaled(ci: int, soak: int) -> int:
    """The CI size of a run, or its soak size under ``make soak``."""
    return soak if SOAK else ci


def figure(name: str, value: object) -> None:
    """Report one measured figure in the run's summary."""
    FIGURES.append((name, str(value)))
