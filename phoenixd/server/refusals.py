"""Calls refused for want of a valid token or credential: logged for monitoring, counted,
never journaled, and never allowed to flood the log.

An operator call with a missing or wrong token, and a member-side call with a credential
that is not its member's current one (a retired member, an incarnation that re-registered
after FAILED, a guess), are answered UNAUTHENTICATED. They are not journaled: anyone who
can reach the port could send them and fill the disk. Each is logged as a warning
``call refused`` with its reason, method and peer, and the reason the caller was told
(which names a member at most, never a token or credential). One line per reason and
method per ``interval``; refusals in between are counted, and the next line (or the one
written at shutdown, ``flush``) says how many were not logged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

__all__ = ["INTERVAL", "REFUSALS", "Refusals"]

log = structlog.get_logger("phoenixd.refusals")

INTERVAL = 10.0  # seconds between two lines for the same reason and method

OPERATOR_TOKEN = "operator_token"
MEMBER_CREDENTIAL = "member_credential"


@dataclass
class _Tally:
    total: int = 0
    unlogged: int = 0  # refused since the last line
    logged_at: float = -math.inf


class Refusals:
    """Counts of refused calls by (reason, method), and the rate-limited lines about them."""

    def __init__(
        self, interval: float = INTERVAL, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._tallies: dict[tuple[str, str], _Tally] = {}

    def note(self, reason: str, method: str, peer: str, told: str) -> None:
        """One refused call; ``told`` is what the caller was told (no secret in it)."""
        tally = self._tallies.setdefault((reason, method), _Tally())
        tally.total += 1
        now = self._clock()
        if now - tally.logged_at < self._interval:
            tally.unlogged += 1
            return
        log.warning(
            "call refused", reason=reason, method=method, peer=peer, told=told,
            not_logged_since_last=tally.unlogged, total=tally.total,
        )
        tally.logged_at, tally.unlogged = now, 0

    def flush(self) -> None:
        """A line for each reason and method with refusals not logged yet (at shutdown)."""
        for (reason, method), tally in sorted(self._tallies.items()):
            if tally.unlogged:
                log.warning(
                    "calls refused since the last line", reason=reason, method=method,
                    not_logged_since_last=tally.unlogged, total=tally.total,
                )
                tally.unlogged = 0

    def totals(self) -> dict[tuple[str, str], int]:
        """Refused calls so far by (reason, method), for monitoring."""
        return {key: tally.total for key, tally in self._tallies.items()}


# One daemon per process: the interceptor and the servicers' error mapping share this.
REFUSALS = Refusals()
