"""The journal's record framing, and a scanner that finds the first damaged record.

One record per line, each line one JSON object::

    {"len":N,"prev_hash":"<64 hex>","hash":"<64 hex>","event":<N bytes of canonical JSON>}

``len`` frames the payload so a torn write is detected without parsing it, and
``hash = sha256(prev_hash || payload)`` is both the record's checksum and its
link in the Flight Recorder's chain: any edited byte fails one of the two.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from phoenixd.core.events import GENESIS_HASH, chain_hash

# Anything the scanner reads: file bytes, a memory map of the file, or a view of either.
Buffer = bytes | memoryview | mmap.mmap

__all__ = [
    "Buffer", "Damage", "Frame", "ScanOutcome", "encode_frame", "mapped", "read_frame", "scan",
]

_HEADER = re.compile(
    rb'\{"len":(\d{1,9}),"prev_hash":"([0-9a-f]{64})","hash":"([0-9a-f]{64})","event":'
)
_TRAILER = b"}\n"
_HEADER_START = b'{"len":'


def encode_frame(prev_hash: str, hash_: str, payload: bytes) -> bytes:
    return b'{"len":%d,"prev_hash":"%s","hash":"%s","event":%s}\n' % (
        len(payload), prev_hash.encode(), hash_.encode(), payload,
    )


@dataclass(frozen=True, slots=True)
class Frame:
    offset: int
    end: int  # offset just past the record's newline
    prev_hash: str
    hash: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Damage:
    """The first bad record: where, which sequence number it should have had, and why."""

    offset: int
    sequence: int
    problem: str
    valid_records_after: bool
    # An interrupted append: the file ends inside this record and nothing after
    # it was written whole. Only this may be cut off at start-up; a complete
    # record that fails its checksum may have been acknowledged, so it is
    # corruption even when it is the last one.
    torn: bool = False


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    records: int
    end_offset: int  # just past the last good record
    head_hash: str
    damage: Damage | None


def read_frame(buf: Buffer, pos: int) -> Frame | str:
    """The record at ``pos``, or a sentence saying why there is none."""
    match = _HEADER.match(buf, pos)
    if match is None:
        return "record header is missing or malformed"
    start = match.end()
    end = start + int(match.group(1))
    if end + len(_TRAILER) > len(buf):
        return "record is cut short (torn write)"
    if bytes(buf[end : end + len(_TRAILER)]) != _TRAILER:
        return "record terminator is missing (length field or contents damaged)"
    payload = bytes(buf[start:end])
    prev_hash, hash_ = match.group(2).decode(), match.group(3).decode()
    if chain_hash(prev_hash, payload) != hash_:
        return "checksum mismatch: the record's bytes were changed after it was written"
    return Frame(pos, end + len(_TRAILER), prev_hash, hash_, payload)


def _any_valid_after(buf: Buffer, pos: int) -> bool:
    data = bytes(buf) if isinstance(buf, memoryview) else buf
    at = data.find(_HEADER_START, pos + 1)
    while at != -1:
        if isinstance(read_frame(data, at), Frame):
            return True
        at = data.find(_HEADER_START, at + 1)
    return False


def _torn(buf: Buffer, pos: int) -> bool:
    """True when the record at ``pos`` is an unfinished append at the end of the file."""
    match = _HEADER.match(buf, pos)
    complete = match is not None and match.end() + int(match.group(1)) + len(_TRAILER) <= len(buf)
    return not complete and b"\n" not in bytes(buf[pos:])  # damage path only: copying is fine


def scan(
    buf: Buffer,
    on_frame: Callable[[int, Frame], None] = lambda seq, frame: None,
) -> ScanOutcome:
    """Walk every record, checking frames and chain links, calling ``on_frame(seq, frame)``.

    Sequence numbers are positional (the k-th record is sequence k), so a
    record can be checked and indexed without parsing its JSON.
    """
    pos, seq, head = 0, 0, GENESIS_HASH
    size = len(buf)
    while pos < size:
        frame = read_frame(buf, pos)
        if isinstance(frame, Frame) and frame.prev_hash != head:
            # The record itself is whole, so no crash made it: never treat it as a torn tail.
            problem = "chain broken: prev_hash does not match the record before it"
            return ScanOutcome(seq, pos, head, Damage(pos, seq + 1, problem, True))
        if not isinstance(frame, Frame):
            damage = Damage(pos, seq + 1, frame, _any_valid_after(buf, pos), _torn(buf, pos))
            return ScanOutcome(seq, pos, head, damage)
        seq += 1
        on_frame(seq, frame)
        pos, head = frame.end, frame.hash
    return ScanOutcome(seq, pos, head, None)


@contextmanager
def mapped(path: Path) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes, memory-mapped (empty bytes for a missing or empty file)."""
    if not path.exists() or path.stat().st_size == 0:
        yield b""
        return
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        yield m
