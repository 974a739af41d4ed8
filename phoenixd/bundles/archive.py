"""The .pflight archive: a reproducible gzip'd tar, packed and read back strictly.

Packing is a function of the members alone: entries sorted by path, regular files only,
mode 0644, uid/gid 0 with empty owner names, every mtime the build's SOURCE_DATE_EPOCH,
PAX format, and a gzip header with mtime 0, no file name and fixed flags. Reading refuses
anything ``pack`` would not have written (the tar is packed again and compared byte for
byte; the gzip header must be the fixed one), so a changed byte anywhere fails, and names
the member it is in.

The layout maps one to one onto an OCI artifact (``artifactType
application/vnd.phoenixflight.bundle.v1``): manifest.json is the config blob, each
``files/...`` and ``reports/...`` member a layer of its kind's mediaType, and
``attestations/provenance.dsse.json`` a referrer whose subject is the manifest, so ``oras
push`` and cosign can carry a bundle later with no change to its bytes.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from collections.abc import Mapping

__all__ = ["GZIP_HEADER", "MAX_ARCHIVE_BYTES", "MAX_MEMBERS", "MAX_UNPACKED_BYTES",
           "ArchiveError", "pack", "unpack"]

# A bundle carries declarations, not data: these bound what a reader (the daemon, on apply)
# decompresses and holds before any digest is checked.
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_MEMBERS = 50_000
# ID1 ID2 CM=deflate FLG=0, MTIME=0, XFL=2 (best compression), OS=255 (unknown).
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
_LEVEL = 9


class ArchiveError(ValueError):
    """Not a .pflight archive as ``pack`` writes one; the message names the member."""


def _info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def _tar(members: Mapping[str, bytes], mtime: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(members):
            data = members[name]
            tar.addfile(_info(name, len(data), mtime), io.BytesIO(data))
    return out.getvalue()


def pack(members: Mapping[str, bytes], mtime: int) -> bytes:
    """The archive of ``members`` (path -> bytes), the same bytes for the same input."""
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=_LEVEL,
                       mtime=0) as gz:
        gz.write(_tar(members, mtime))
    data = out.getvalue()
    # Python's gzip writes exactly this header for these arguments; readers insist on it.
    assert data.startswith(GZIP_HEADER), data[:10]
    return data


def _decompress(data: bytes) -> bytes:
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ArchiveError(f"larger than {MAX_ARCHIVE_BYTES // 2**20} MiB")
    if not data.startswith(GZIP_HEADER):
        raise ArchiveError("not a .pflight archive: its gzip header is not the one "
                           "`phoenix build` writes (changed, or not a .pflight at all)")
    inflater = zlib.decompressobj(wbits=31)  # gzip framing: header, deflate, CRC32 + size
    try:
        tar = inflater.decompress(data, MAX_UNPACKED_BYTES + 1)
        if len(tar) > MAX_UNPACKED_BYTES or inflater.unconsumed_tail:
            raise ArchiveError(f"unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MiB")
        tar += inflater.flush()
    except zlib.error as exc:
        raise ArchiveError(f"the compressed data is damaged ({exc})") from None
    if not inflater.eof:
        raise ArchiveError("the compressed data is cut short")
    if inflater.unused_data:
        raise ArchiveError(f"{len(inflater.unused_data)} bytes follow the compressed data")
    _check_padding(data, tar)
    return tar


def _inflate(data: bytes) -> bytes | None:
    inflater = zlib.decompressobj(wbits=31)
    try:
        return inflater.decompress(data, MAX_UNPACKED_BYTES + 1) + inflater.flush()
    except zlib.error:
        return None


def _check_padding(data: bytes, tar: bytes) -> None:
    """The deflate stream's last byte ends in padding bits that no CRC covers; zlib writes
    them as zeros, and a changed one must not go unnoticed. The top k bits are padding when
    clearing them inflates to the same bytes (tried from 7 down: a few inflates of a small
    archive)."""
    last = len(data) - 9  # the deflate stream's last byte, before CRC32 and size
    for k in range(7, 0, -1):
        mask = 0xFF >> k
        if data[last] & ~mask & 0xFF == 0:
            return  # those bits are already zero
        cleared = bytearray(data)
        cleared[last] &= mask
        if _inflate(bytes(cleared)) == tar:
            raise ArchiveError("the compressed data's padding bits are not zero: changed "
                               "after the build")


def unpack(data: bytes) -> tuple[dict[str, bytes], int]:
    """The members (path -> bytes, in archive order) and their common mtime.

    Raises:
        ArchiveError: damaged, not canonical, or holding anything but regular files with
            safe relative paths, each once.
    """
    tar_bytes = _decompress(data)
    members: dict[str, bytes] = {}
    mtimes = set()
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
            for count, info in enumerate(tar, 1):
                if count > MAX_MEMBERS:
                    raise ArchiveError(f"more than {MAX_MEMBERS} members")
                name = info.name
                if not info.isreg():
                    raise ArchiveError(f"{name}: not a regular file")
                parts = name.split("/")
                if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
                    raise ArchiveError(f"{name!r}: not a plain relative path")
                if name in members:
                    raise ArchiveError(f"{name}: appears twice")
                extracted = tar.extractfile(info)
                assert extracted is not None  # a regular file
                members[name] = extracted.read()
                mtimes.add(int(info.mtime))
    except ArchiveError:
        raise
    except (tarfile.TarError, ValueError, EOFError, OSError) as exc:
        raise ArchiveError(f"not a readable tar archive ({exc})") from None
    if len(mtimes) > 1:
        raise ArchiveError("members have different mtimes: not packed by `phoenix build`")
    mtime = mtimes.pop() if mtimes else 0
    _check_canonical(tar_bytes, members, mtime)
    return members, mtime


def _check_canonical(tar_bytes: bytes, members: Mapping[str, bytes], mtime: int) -> None:
    """The tar must be exactly what ``pack`` makes of its members: a changed header field
    (mode, owner, time, padding) fails here, naming the member it belongs to."""
    expected = _tar(members, mtime)
    if expected == tar_bytes:
        return
    if list(members) != sorted(members):
        raise ArchiveError("members are not in sorted order: not packed by `phoenix build`")
    at = next((i for i, (a, b) in enumerate(zip(expected, tar_bytes, strict=False)) if a != b),
              min(len(expected), len(tar_bytes)))
    offset = 0
    with tarfile.open(fileobj=io.BytesIO(expected), mode="r:") as tar:
        for info in tar:
            end = info.offset_data + -(-info.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
            if offset <= at < end:
                raise ArchiveError(f"{info.name}: its tar header or padding differs from "
                                   "the canonical one (changed after the build)")
            offset = end
    raise ArchiveError("the tar's end differs from the canonical one (changed after the build)")
