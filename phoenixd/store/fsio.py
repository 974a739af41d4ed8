"""The store's durability calls: fdatasync, directory fsync and replace, in one place;
and the one way it makes a directory (private to the daemon's user, whatever the umask).

By default these are the plain os calls. With ``PHOENIX_CRASHFS=<ledger>`` in the
environment (tests only) each call also appends to the ledger what it made durable,
so a test can model a power loss after the process dies: a kill -9 keeps the page
cache, and unsynced data would come back without the ledger. The ledger holds one
JSON line per fact:

- ``{"sync": inode, "size": n}``: the file's first n bytes are durable (fdatasync);
- ``{"dir": path, "entries": {name: inode}}``: the directory's entries are durable;
- ``{"keep": inode, "path": p}``: a file about to be replaced, linked at p first, so
  a power loss that undoes the rename can bring the old file back.

Nothing is recorded about what was not synced: whatever the ledger does not name
is lost at a power loss (tests/crashfs.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "ENV", "CrashLedger", "fsync_dir", "make_private_dir", "replace", "shared_mode", "sync_data",
    "write_private",
]

ENV = "PHOENIX_CRASHFS"


def _sync_data(fd: int) -> None:
    """Make a file's data durable: fdatasync, or F_FULLFSYNC where fsync lies (macOS)."""
    if sys.platform == "darwin":
        fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
    else:
        os.fdatasync(fd)


def _fsync_dir(path: Path) -> None:
    """Make a directory's entries (creations, renames, removals in it) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(src: Path, dst: Path) -> None:
    """Rename ``src`` over ``dst``; durable once the directory is fsynced."""
    os.replace(src, dst)


class CrashLedger:
    """The recording calls: the plain ones, each followed by a ledger line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keep_dir = path.with_name(path.name + ".keep")

    def _record(self, fact: dict[str, object]) -> None:
        # One write of one line on an O_APPEND descriptor: lines from threads never mix.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, json.dumps(fact).encode() + b"\n")
        finally:
            os.close(fd)

    def sync_data(self, fd: int) -> None:
        size = os.fstat(fd).st_size  # read before the sync: later writes are not covered
        _sync_data(fd)
        self._record({"sync": os.fstat(fd).st_ino, "size": size})

    def fsync_dir(self, path: Path) -> None:
        entries = {entry.name: entry.inode() for entry in os.scandir(path)
                   if not entry.is_dir(follow_symlinks=False)}
        _fsync_dir(path)
        self._record({"dir": str(Path(path).resolve()), "entries": entries})

    def replace(self, src: Path, dst: Path) -> None:
        try:
            inode = os.lstat(dst).st_ino
        except FileNotFoundError:
            pass
        else:
            self.keep_dir.mkdir(exist_ok=True)
            keep = self.keep_dir / str(inode)
            if not keep.exists():
                os.link(dst, keep)
            self._record({"keep": inode, "path": str(keep)})
        _replace(src, dst)


sync_data: Callable[[int], None] = _sync_data
fsync_dir: Callable[[Path], None] = _fsync_dir
replace: Callable[[Path, Path], None] = _replace
if os.environ.get(ENV):  # tests only: record what each call made durable
    _ledger = CrashLedger(Path(os.environ[ENV]))
    sync_data, fsync_dir, replace = _ledger.sync_data, _ledger.fsync_dir, _ledger.replace


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents as 0700, whatever the umask; fsync the parents.

    A directory another local user may write lets them swap handoff.key or the journal
    while the daemon is stopped, so each directory the daemon makes is its user's alone
    (mkdir's mode is masked by the umask: it is set again after). An existing directory
    is left as it is.
    """
    missing = []
    at = path
    while not at.exists():
        missing.append(at)
        at = at.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
        fsync_dir(directory.resolve().parent)


def shared_mode(path: Path) -> int | None:
    """``path``'s permission bits if group or others have any, else None (private)."""
    mode = path.stat().st_mode & 0o777
    return mode if mode & 0o077 else None


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all, readable by its owner alone (0600): a temporary
    file beside it, synced, renamed over it, and the directory synced."""
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as f:
        f.write(data)
        f.flush()
        sync_data(f.fileno())
    replace(temp, path)
    fsync_dir(path.parent)
