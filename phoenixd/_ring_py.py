"""Pure-Python ring kernel: the twin of ``_ring.pyx``, with the same API and the same hashes."""

# Used when the Cython extension is not built or PHOENIX_NO_EXTENSIONS is set. Every line mirrors
# _ring.pyx (see it for why MurmurHash3 x86_32); tests assert that both give identical results
# and identical errors.

from __future__ import annotations

import struct
from array import array
from collections.abc import Sequence
from operator import index as _index
from typing import Final, TypeVar, overload

__all__ = ["KERNEL", "hash32", "hash32_many"]

KERNEL: Final[str] = "pure"

_C1: Final = 0xCC9E2D51
_C2: Final = 0x1B873593
_MASK: Final = 0xFFFFFFFF  # Python ints do not wrap: every product is masked back to 32 bits

# A string, because array.array is not subscriptable at run time before Python 3.12.
_OutT = TypeVar("_OutT", "array[int]", memoryview)


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK


def _mix_k(k: int) -> int:
    k = (k * _C1) & _MASK
    k = _rotl32(k, 15)
    return (k * _C2) & _MASK


def _murmur3_32(data: bytes, seed: int) -> int:
    n = len(data)
    end = n & ~3
    h = seed
    # One unpack for all blocks; "<" makes the reads little-endian on every platform.
    for k in struct.unpack_from(f"<{end // 4}I", data):
        h ^= _mix_k(k)
        h = _rotl32(h, 13)
        h = (h * 5 + 0xE6546B64) & _MASK

    # The 1-3 trailing bytes are mixed into k but, unlike blocks, not rotated into h.
    rest = n & 3
    if rest:
        h ^= _mix_k(int.from_bytes(data[end:], "little"))

    h ^= n & _MASK
    # Final avalanche, as fmix32 in the C kernel.
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    return h ^ (h >> 16)


def _check_seed(seed: int) -> int:
    value = _index(seed)  # TypeError for non-integers, as range() does
    if value < 0 or value > _MASK:
        raise ValueError(f"seed must be in [0, 2**32), got {value}")
    return value


def _as_bytes(key: bytes | str, index: int) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8")
    where = "key" if index < 0 else f"keys[{index}]"
    raise TypeError(f"{where} must be str or bytes, not {type(key).__name__}")


def _checked_out(out: array[int] | memoryview, n: int) -> memoryview:
    mv = memoryview(out)
    if mv.readonly:
        raise ValueError("out must be writable")
    if mv.ndim != 1 or mv.format != "I" or mv.itemsize != 4 or not mv.c_contiguous:
        raise ValueError("out must be a contiguous 1-D buffer of uint32 (array typecode 'I')")
    if len(mv) != n:
        raise ValueError(f"out has {len(mv)} items, expected {n}")
    return mv


def hash32(key: bytes | str, seed: int = 0) -> int:
    """Return the 32-bit MurmurHash3 of ``key`` (str is hashed as its UTF-8 bytes)."""
    s = _check_seed(seed)
    return _murmur3_32(_as_bytes(key, -1), s)


@overload
def hash32_many(keys: Sequence[bytes | str], seed: int = 0, *, out: None = None) -> array[int]: ...
@overload
def hash32_many(keys: Sequence[bytes | str], seed: int = 0, *, out: _OutT) -> _OutT: ...
def hash32_many(
    keys: Sequence[bytes | str],
    seed: int = 0,
    *,
    out: array[int] | memoryview | None = None,
) -> array[int] | memoryview:
    """Return the hashes of a batch of keys, one Python call for the whole batch.

    Args:
        keys: the keys, each str (hashed as UTF-8) or bytes.
        seed: the hash seed, an integer in [0, 2**32).
        out: optional writable uint32 buffer (typecode 'I') of len(keys) items to fill.

    Returns:
        ``out`` if given, else a new ``array.array('I')``.
    """
    s = _check_seed(seed)
    if isinstance(keys, (str, bytes)):
        # Both are sequences themselves; hashing their characters is never what was meant.
        raise TypeError(f"keys must be a sequence of keys, not a single {type(keys).__name__}")
    items = list(keys)
    if out is None:
        return _hash_all(items, s)
    # The buffer is checked before any key, the order the compiled kernel fails in.
    dst = _checked_out(out, len(items))
    dst[:] = _hash_all(items, s)
    return out


def _hash_all(items: list[bytes | str], seed: int) -> array[int]:
    # Every key is encoded before any is hashed, so a bad key fails first, as in the C kernel.
    encoded = [_as_bytes(key, i) for i, key in enumerate(items)]
    return array("I", [_murmur3_32(data, seed) for data in encoded])
