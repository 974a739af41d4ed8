"""MurmurHash3 x86_32 in pure Python, bit for bit the compiled twin's (see _hashing.pxi for why
this hash)."""

from __future__ import annotations

import struct
from typing import Final

from phoenixd.kernel._pure.checks import MASK, check_u32

_C1: Final = 0xCC9E2D51
_C2: Final = 0x1B873593


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & MASK


def _mix_k(k: int) -> int:
    k = (k * _C1) & MASK
    k = _rotl32(k, 15)
    return (k * _C2) & MASK


def murmur3_32(data: bytes, seed: int) -> int:
    n = len(data)
    end = n & ~3
    h = seed
    # One unpack for all blocks; "<" makes the reads little-endian on every platform.
    for k in struct.unpack_from(f"<{end // 4}I", data):
        h ^= _mix_k(k)
        h = _rotl32(h, 13)
        h = (h * 5 + 0xE6546B64) & MASK

    # The 1-3 trailing bytes are mixed into k but, unlike blocks, not rotated into h.
    rest = n & 3
    if rest:
        h ^= _mix_k(int.from_bytes(data[end:], "little"))

    h ^= n & MASK
    # Final avalanche, as fmix32 in the C kernel.
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK
    return h ^ (h >> 16)


def as_bytes(key: bytes | str, index: int) -> bytes:
    """``key`` as bytes (str as UTF-8); ``index`` names it in the error (-1: a single key)."""
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8")
    where = "key" if index < 0 else f"keys[{index}]"
    raise TypeError(f"{where} must be str or bytes, not {type(key).__name__}")


def hash32(key: bytes | str, seed: int = 0) -> int:
    """Return the 32-bit MurmurHash3 of ``key`` (str is hashed as its UTF-8 bytes)."""
    s = check_u32(seed, "seed")
    return murmur3_32(as_bytes(key, -1), s)
