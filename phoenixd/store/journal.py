"""audit.jsonl: the append-only journal, written by group commit.

``append`` only queues a record (the event is already applied in memory); one
flusher task writes everything queued so far and makes it durable with a
single fdatasync, so many concurrent mutations share one disk flush. Callers
await ``wait_durable(seq)`` before replying. Subscribers hear of events only
once they are durable, so a feed never shows something a crash could undo.

An error from write or fsync is fatal: after a failed fsync the kernel may
have dropped the dirty pages, and retrying would report success for data that
is gone (the PostgreSQL "fsyncgate" lesson). The daemon stops instead.

The one exception is ENOSPC from write() itself, which loses nothing silently:
the call says how far it got, and nothing of the batch has been acknowledged.
The file is cut back to its last durable offset, the batch stays queued and is
tried again every DISK_FULL_RETRY seconds until it fits; meanwhile ``stalled``
is set (the server refuses new mutations) and the callers waiting for the batch
get no reply. An ENOSPC from fsync stays fatal, like any other fsync error.
``close`` waits for a held batch too; killing the daemon meanwhile is safe, since
nothing of the batch has been acknowledged.
"""

from __future__ import annotations

import asyncio
import errno
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog

from phoenixd import failpoints
from phoenixd.core.events import Event, event_from_payload
from phoenixd.core.telemetry import BATCH_BUCKETS, FSYNC_BUCKETS, Histogram
from phoenixd.store.frames import Frame, encode_frame, read_frame
from phoenixd.store.fsio import fsync_dir, sync_data
from phoenixd.store.verify import VerifyReport, verify_journal

__all__ = ["DISK_FULL_RETRY", "INDEX_STRIDE", "RECENT_EVENTS", "Journal"]

log = structlog.get_logger("phoenixd.journal")

# Every INDEX_STRIDE-th record's offset is kept, so a reader seeks close to any
# sequence number and then scans at most this many records.
INDEX_STRIDE = 1024
# Durable events kept in memory: resuming watchers and live queries read these
# without touching the disk. 8192 covers a few seconds of a busy daemon.
RECENT_EVENTS = 8192
# Seconds between attempts to write a batch that hit ENOSPC: often enough to resume
# soon after space is freed, rarely enough that a full disk costs nothing.
DISK_FULL_RETRY = 0.5


class _NoSpace(Exception):
    """A batch did not fit on the disk; the file was cut back to its durable end."""


class Journal:
    """The writer and reader of audit.jsonl after recovery."""

    def __init__(
        self,
        path: Path,
        *,
        end_offset: int,
        head_sequence: int,
        index: list[int],
        on_durable: Callable[[list[Event]], None],
        on_fatal: Callable[[BaseException], None],
    ) -> None:
        self.path = path
        created = not path.exists()
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if created:  # the file's directory entry must be durable too, not just its bytes
            fsync_dir(path.parent)
        # One thread for writes keeps them in order; reads get their own.
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="journal-write")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="journal-read")
        self._pending: list[tuple[Event, bytes]] = []
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._on_durable = on_durable
        self._on_fatal = on_fatal
        self.durable_sequence = head_sequence
        self.durable_offset = end_offset
        self._end_offset = end_offset  # including queued, not yet written records
        self._index = index  # _index[i] = offset of sequence i * INDEX_STRIDE + 1
        self._recent: deque[Event] = deque(maxlen=RECENT_EVENTS)
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # fsyncs done, for the figures
        self.fsync_latency = Histogram(FSYNC_BUCKETS)  # seconds per fdatasync (metrics)
        self.batch_size = Histogram(BATCH_BUCKETS)  # events per group commit (metrics)
        self.stalled = False  # a batch is waiting for disk space (ENOSPC)

    # -- writing -------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._flush_loop(), name="journal")

    def append(self, event: Event, payload: bytes) -> None:
        """Queue one record (EventSink). Durable once ``wait_durable`` returns."""
        if self._closing:
            raise RuntimeError("journal is closed")
        frame = encode_frame(event.prev_hash, event.hash, payload)
        if (event.sequence - 1) % INDEX_STRIDE == 0:
            self._index.append(self._end_offset)
        self._end_offset += len(frame)
        self._pending.append((event, frame))
        self._wakeup.set()

    @property
    def end_offset(self) -> int:
        return self._end_offset

    async def wait_durable(self, sequence: int) -> None:
        if sequence <= self.durable_sequence:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((sequence, future))
        await future

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if not self._pending:
                if self._closing:
                    return
                continue
            batch, self._pending = self._pending, []
            data = b"".join(frame for _, frame in batch)
            try:
                await loop.run_in_executor(self._writer, self._write_and_sync, data)
            except _NoSpace as exc:  # nothing of it is on disk: keep it, in order, and retry
                self._pending = batch + self._pending
                if not self.stalled:
                    log.warning(
                        "journal write failed: no space left on device; holding the batch "
                        "unacknowledged and retrying until it fits", path=str(self.path),
                        events=len(batch), retry_seconds=DISK_FULL_RETRY, error=str(exc),
                    )
                self.stalled = True
                await asyncio.sleep(DISK_FULL_RETRY)
                self._wakeup.set()
                continue
            except BaseException as exc:  # an fsync error is never retried: stop
                self._on_fatal(exc)
                raise
            if self.stalled:
                self.stalled = False
                log.info("journal writes resumed: the held batch fits again",
                         path=str(self.path))
            events = [event for event, _ in batch]
            self.durable_sequence = events[-1].sequence
            self.durable_offset += len(data)
            self.batches += 1
            self.batch_size.observe(len(events))
            self._recent.extend(events)
            while self._waiters and self._waiters[0][0] <= self.durable_sequence:
                _, future = self._waiters.popleft()
                if not future.done():
                    future.set_result(None)
            try:
                self._on_durable(events)
            except BaseException as exc:  # a dead flusher would hang every caller: stop
                self._on_fatal(exc)
                raise
            if self._pending or self._closing:
                self._wakeup.set()

    def _write_and_sync(self, data: bytes) -> None:
        try:
            self._write(data)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            # Part of the batch may be in the file: cut it off, so that the retry
            # appends whole records right after the last durable one.
            os.ftruncate(self._fd, self.durable_offset)
            raise _NoSpace(str(exc)) from exc
        failpoints.hit("journal.before_fsync")
        started = time.perf_counter()
        sync_data(self._fd)
        # Observed on the writer thread, read by a scrape on the loop: a scrape may see
        # one observation half-counted, so it takes the count from the buckets.
        self.fsync_latency.observe(time.perf_counter() - started)
        failpoints.hit("journal.after_fsync")

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            failpoints.hit("journal.write")

    async def close(self) -> None:
        """Flush what is queued, then stop writing."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task
        os.close(self._fd)
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)

    # -- reading -------------------------------------------------------------

    async def verify(self) -> VerifyReport:
        """Re-read every durable record and chain link (in a thread)."""
        return await asyncio.to_thread(verify_journal, self.path, self.durable_offset)

    async def read(self, after: int, limit: int) -> list[Event]:
        """Up to ``limit`` durable events with a sequence number above ``after``."""
        if after < 0:
            raise ValueError(f"after must be >= 0, got {after}")
        upto = min(self.durable_sequence, after + limit)
        if upto <= after:
            return []
        if self._recent and self._recent[0].sequence <= after + 1:
            first = self._recent[0].sequence
            return [self._recent[i - first] for i in range(after + 1, upto + 1)]
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._read_file, after, upto)

    def _read_file(self, after: int, upto: int) -> list[Event]:
        slot = after // INDEX_STRIDE
        seq = slot * INDEX_STRIDE
        events: list[Event] = []
        with open(self.path, "rb") as f:
            f.seek(self._index[slot])
            while seq < upto:
                line = f.readline()
                frame = read_frame(line, 0)
                if not isinstance(frame, Frame):
                    raise OSError(f"journal record {seq + 1} is unreadable: {frame}")
                seq += 1
                if seq > after:
                    events.append(event_from_payload(frame.payload, frame.prev_hash, frame.hash))
        return events
