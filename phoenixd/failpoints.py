"""Named failpoints, armed from the environment, for fault-injection tests.

``PHOENIX_FAILPOINTS="journal.before_fsync=error@3,snapshot.before_rename=crash"``
arms each named point with an action:

- ``error``  raise OSError(EIO) there (as a failing disk would);
- ``enospc``  raise OSError(ENOSPC) there (a full disk);
- ``crash``  exit the process at once (os._exit, no cleanup), like a power cut;
- ``sleep:MS``  pause that many milliseconds (a slow disk);
- ``on``  make ``hit`` return True: the condition the point stands for holds.

An action fires on every hit of its point, or only on some: ``@N`` the N-th hit,
``@N..M`` hits N to M, ``@N..`` the N-th and every later one. A range can turn a
condition on and off again in one run (``disk.full=on@3..5``: the 3rd to 5th
free-space checks see a full disk, later ones the real one).

The points:

- ``journal.write``  after each write() of a batch, before its fsync (an ENOSPC
  here leaves part of a batch on disk, as a real one can);
- ``journal.before_fsync``  the batch is written, not yet fsynced;
- ``journal.after_fsync``  the batch is durable; nobody has been answered yet;
- ``snapshot.before_rename``  all three temp files are fsynced, none is renamed;
- ``snapshot.after_rename``  all three are renamed; the directory is not fsynced;
- ``assignment.before_notify``  a (re)assignment is durable; its owner is not told yet;
- ``disk.full``  each free-space check before a mutation (``on``: the data dir is full);
- ``bundle.after_keep``  an applied bundle's archive is durable under imports/; its event is
  not recorded yet;
- ``bundle.before_durable``  its bundle_applied event (and its packets' placements) are
  appended to the journal, not yet durable; nobody has been answered.

Unarmed points cost one dict lookup. Nothing here is meant for production use.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass

__all__ = ["CRASH_EXIT_CODE", "ENV", "hit"]

ENV = "PHOENIX_FAILPOINTS"
# Distinct from every exit code phoenixd chooses, so tests can tell a crash apart.
CRASH_EXIT_CODE = 86
_ACTIONS = ("error", "enospc", "crash", "on")


@dataclass(frozen=True)
class _Armed:
    action: str
    first: int  # the first hit that fires (1 = every hit from the start)
    last: int  # the last hit that fires; 0 = no end


def _parse(spec: str) -> dict[str, _Armed]:
    armed: dict[str, _Armed] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, rest = item.partition("=")
        action, _, when = rest.partition("@")
        if action not in _ACTIONS and not (
            action.startswith("sleep:") and action.removeprefix("sleep:").isdigit()
        ):
            raise ValueError(f"{ENV}: {item!r}: the action must be one of "
                             "error, enospc, crash, sleep:MS, on")
        first, dots, last = when.partition("..")
        if not (first.isdigit() or not when) or (last and not last.isdigit()):
            raise ValueError(f"{ENV}: {item!r}: write @N, @N..M or @N.. after the action")
        start = int(first) if first else 1
        end = (int(last) if last else 0) if dots else (start if first else 0)
        armed[name] = _Armed(action, start, end)
    return armed


_ARMED = _parse(os.environ.get(ENV, ""))
_HITS: dict[str, int] = {}


def hit(name: str) -> bool:
    """Pass through the failpoint ``name``; do what it is armed with, if anything.

    Returns True only when an ``on`` action fired: the caller then acts as if the
    condition the point stands for held.
    """
    armed = _ARMED.get(name)
    if armed is None:
        return False
    _HITS[name] = count = _HITS.get(name, 0) + 1
    if count < armed.first or (armed.last and count > armed.last):
        return False
    action = armed.action
    if action == "error":
        raise OSError(errno.EIO, f"failpoint {name}: injected I/O error")
    if action == "enospc":
        raise OSError(errno.ENOSPC, f"failpoint {name}: injected no space left on device")
    if action == "crash":
        os._exit(CRASH_EXIT_CODE)
    if action.startswith("sleep:"):
        time.sleep(int(action.removeprefix("sleep:")) / 1000)
    return action == "on"
