"""Named failpoints, armed from the environment, for fault-injection tests.

``PHOENIX_FAILPOINTS="journal.before_fsync=error@3,snapshot.before_rename=crash"``
arms each named point with an action, optionally only on its N-th hit:

- ``error``  raise OSError(EIO) there (as a failing disk would);
- ``crash``  exit the process at once (os._exit, no cleanup), like a power cut;
- ``sleep:MS``  pause that many milliseconds (a slow disk).

Unarmed points cost one dict lookup. Nothing here is meant for production use.
"""

from __future__ import annotations

import errno
import os
import time

__all__ = ["CRASH_EXIT_CODE", "hit"]

ENV = "PHOENIX_FAILPOINTS"
# Distinct from every exit code phoenixd chooses, so tests can tell a crash apart.
CRASH_EXIT_CODE = 86


def _parse(spec: str) -> dict[str, tuple[str, int]]:
    armed: dict[str, tuple[str, int]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, action = item.partition("=")
        action, _, nth = action.partition("@")
        armed[name] = (action, int(nth) if nth else 0)
    return armed


_ARMED = _parse(os.environ.get(ENV, ""))
_HITS: dict[str, int] = {}


def hit(name: str) -> None:
    """Pass through the failpoint ``name``; do what it is armed with, if anything."""
    if name not in _ARMED:
        return
    action, nth = _ARMED[name]
    _HITS[name] = count = _HITS.get(name, 0) + 1
    if nth and count != nth:
        return
    if action == "error":
        raise OSError(errno.EIO, f"failpoint {name}: injected I/O error")
    if action == "crash":
        os._exit(CRASH_EXIT_CODE)
    if action.startswith("sleep:"):
        time.sleep(int(action.removeprefix("sleep:")) / 1000)
