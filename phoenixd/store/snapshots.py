"""Atomic snapshots: registry.json, packets.json and assignments.json.

Each file is written to a temp file, fsynced, renamed over the old one, and the
directory is fsynced so the rename itself survives a crash. The three files of
one snapshot carry the same revision, chain hash and journal offset; a set that
disagrees (a crash between renames) or that does not match the journal is
ignored, and the journal, which is never compacted, is replayed from the start.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phoenixd import failpoints
from phoenixd.store.fsio import fsync_dir, replace, sync_data

__all__ = [
    "SNAPSHOT_FILES", "Snapshot", "fsync_dir", "load_snapshot", "sync_data", "write_snapshot",
]

SNAPSHOT_FILES = ("registry.json", "packets.json", "assignments.json")
FORMAT = 1


@dataclass(frozen=True)
class Snapshot:
    """One snapshot. Each document holds one key, whose value is a list of records when
    read back; when written, any iterable of them (encoded and written one by one)."""

    revision: int
    hash: str
    journal_offset: int  # offset just past the record of ``revision``
    documents: Mapping[str, Mapping[str, Iterable[Any]]]


def write_snapshot(data_dir: Path, snap: Snapshot) -> None:
    """Write all three files atomically (each), then fsync the directory.

    On ENOSPC before any rename the temp files are removed (they would only hold
    on to the space that ran out) and the error is raised: the previous snapshot
    and the journal are untouched.
    """
    temps = [(data_dir / f".{name}.tmp", data_dir / name) for name in SNAPSHOT_FILES]
    try:
        for name, (temp, _) in zip(SNAPSHOT_FILES, temps, strict=True):
            _write_temp(temp, snap, snap.documents[name])
        failpoints.hit("snapshot.before_rename")
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            for temp, _ in temps:
                temp.unlink(missing_ok=True)
        raise
    for temp, final in temps:
        replace(temp, final)
    failpoints.hit("snapshot.after_rename")
    fsync_dir(data_dir)


def _write_temp(temp: Path, snap: Snapshot, body: Mapping[str, Iterable[Any]]) -> None:
    """The same bytes as encoding ``{**head, "body": body}`` in one go, written record by
    record: a million packets never exist as one document or one string. The head's
    checksum of the body is known only at the end, so it is written in place last."""
    head = {
        "format": FORMAT,
        "revision": snap.revision,
        "hash": snap.hash,
        "journal_offset": snap.journal_offset,
        "body_sha256": "0" * 64,
    }
    prefix = _encode(head)[:-1] + _BODY
    digest_at = prefix.index(b'"body_sha256":"') + len(b'"body_sha256":"')
    digest = hashlib.sha256()
    # 0600: the registry holds every member's credential hash.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as f:
        f.write(prefix)

        def put(chunk: bytes) -> None:
            digest.update(chunk)
            f.write(chunk)

        opening = b"{"
        for key, records in body.items():
            put(opening + _encode(key) + b":[")
            separator, batch = b"", []
            for record in records:
                batch.append(_encode(record))
                if len(batch) == _BATCH:
                    put(separator + b",".join(batch))
                    separator, batch = b",", []
            put((separator + b",".join(batch) if batch else b"") + b"]")
            opening = b","
        put(b"}")
        f.write(b"}")
        f.flush()
        os.pwrite(f.fileno(), digest.hexdigest().encode(), digest_at)
        sync_data(f.fileno())


_BODY = b',"body":'
_BATCH = 1024  # records encoded per write


def _encode(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _body_digest(data: bytes) -> str:
    """Checksum of a snapshot file's body bytes (after the head), so an edited or damaged
    snapshot is never trusted."""
    start = data.index(_BODY) + len(_BODY)  # the head holds numbers and hex digits only
    return hashlib.sha256(memoryview(data)[start:-1]).hexdigest()


def load_snapshot(data_dir: Path) -> tuple[Snapshot | None, str]:
    """The last consistent snapshot, or None and why it cannot be used."""
    docs: dict[str, dict[str, Any]] = {}
    for name in SNAPSHOT_FILES:
        path = data_dir / name
        if not path.exists():
            return None, "no snapshot yet" if not docs else f"{name} is missing"
        try:
            data = path.read_bytes()
            docs[name] = json.loads(data)
            digest = _body_digest(data)
        except (OSError, ValueError) as exc:
            return None, f"{name} is unreadable: {exc}"
        body = docs[name].get("body") if isinstance(docs[name], dict) else None
        if not isinstance(body, dict) or docs[name].get("body_sha256") != digest:
            return None, f"{name} fails its checksum"
    heads = {(d.get("format"), d.get("revision"), d.get("hash"), d.get("journal_offset"))
             for d in docs.values()}
    if len(heads) != 1:
        return None, "snapshot files disagree (interrupted snapshot)"
    fmt, revision, hash_, offset = heads.pop()
    if fmt != FORMAT:
        return None, f"snapshot format {fmt} is not {FORMAT}"
    if not (isinstance(revision, int) and isinstance(hash_, str) and isinstance(offset, int)):
        return None, "snapshot header is malformed"
    return Snapshot(revision, hash_, offset, {name: d["body"] for name, d in docs.items()}), ""
