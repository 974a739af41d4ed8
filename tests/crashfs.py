"""A power loss over a data dir, from the ledger phoenixd keeps under PHOENIX_CRASHFS.

kill -9 and os._exit keep the page cache: what the daemon wrote and never synced is
still there when it restarts. ``power_loss`` drops it, as a machine losing power would
(the model of LazyFS and SQLite's crash VFS, for one directory): every file is cut
back to the length its last fdatasync covered (nothing, if it was never synced), and
the directory's entries are set back to those of its last fsync: files created since
are removed, renames since are undone (a replaced file comes back from the link the
ledger kept of it).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from phoenixd.store.fsio import ENV

__all__ = ["ENV", "Durable", "power_loss", "read_ledger"]


@dataclass
class Durable:
    """What the ledger says survives: synced lengths, directory entries, kept files."""

    sizes: dict[int, int] = field(default_factory=dict)
    entries: dict[str, dict[str, int]] = field(default_factory=dict)
    kept: dict[int, str] = field(default_factory=dict)


def read_ledger(ledger: Path) -> Durable:
    durable = Durable()
    if not ledger.exists():
        return durable
    for line in ledger.read_text().splitlines():
        fact = json.loads(line)
        if "sync" in fact:
            durable.sizes[fact["sync"]] = fact["size"]
        elif "dir" in fact:
            durable.entries[fact["dir"]] = fact["entries"]
        else:
            durable.kept[fact["keep"]] = fact["path"]
    return durable


def power_loss(data_dir: Path, ledger: Path) -> list[str]:
    """Make ``data_dir`` hold only what was durable; returns what was lost, for messages.

    Subdirectories are left alone (the store keeps none that it writes into).
    """
    durable = read_ledger(ledger)
    directory = data_dir.resolve()
    wanted = durable.entries.get(str(directory), {})
    lost: list[str] = []
    current = {e.name: e.inode() for e in os.scandir(directory)
               if not e.is_dir(follow_symlinks=False)}
    # Every file steps aside under its inode number, then the durable names are put back.
    staging = directory / ".power-loss"
    staging.mkdir()
    for name, inode in current.items():
        os.rename(directory / name, staging / str(inode))
    for name, inode in wanted.items():
        source = staging / str(inode)
        if not source.exists():
            source = Path(durable.kept[inode])  # replaced since; the ledger kept it
        os.link(source, directory / name)
        if current.get(name) != inode:
            lost.append(f"{name}: back to its earlier file (the rename was never synced)")
    for name in current.keys() - wanted.keys():
        lost.append(f"{name}: removed (its creation was never synced)")
    shutil.rmtree(staging)
    for name, inode in wanted.items():
        path = directory / name
        size, synced = path.stat().st_size, durable.sizes.get(inode, 0)
        if size > synced:
            os.truncate(path, synced)
            lost.append(f"{name}: cut from {size} to {synced} bytes")
    return lost
