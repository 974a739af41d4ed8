"""One daemon per data dir: an exclusive, non-blocking flock on ``LOCK``."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["DataDirLock", "DataDirLocked"]


class DataDirLocked(RuntimeError):
    """Another process holds the data dir."""


class DataDirLock:
    """Held for the daemon's lifetime; the kernel releases it if the process dies."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "LOCK"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self._fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            raise DataDirLocked(
                f"data dir {data_dir} is in use by another phoenixd (pid {holder}); "
                "stop it or choose another --data-dir"
            ) from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
