"""Compiled ring kernel: MurmurHash3 x86_32, the consistent-hash ring, and the member scorers."""

from array import array
from collections.abc import Sequence
from typing import Final, TypeAlias, TypeVar, overload

__all__ = [
    "DEFAULT_VNODES",
    "KERNEL",
    "argmax_binpack",
    "argmax_trust",
    "hash32",
    "hash32_many",
    "lookup",
    "lookup_bounded",
    "lookup_many",
    "ring_tokens",
    "scores_binpack",
    "scores_trust",
]

KERNEL: Final[str]
DEFAULT_VNODES: Final[int]

_OutT = TypeVar("_OutT", array[int], memoryview)
# Buffers by element type: array typecodes 'I', 'i', 'B' (or bytes/bytearray) and 'd'.
_UInt32s: TypeAlias = array[int] | memoryview
_Int32s: TypeAlias = array[int] | memoryview
_Flags: TypeAlias = bytes | bytearray | array[int] | memoryview
_Floats: TypeAlias = array[float] | memoryview

def hash32(key: bytes | str, seed: int = 0) -> int: ...
@overload
def hash32_many(keys: Sequence[bytes | str], seed: int = 0, *, out: None = None) -> array[int]: ...
@overload
def hash32_many(keys: Sequence[bytes | str], seed: int = 0, *, out: _OutT) -> _OutT: ...
def ring_tokens(member_ids: Sequence[str], vnodes: int) -> tuple[array[int], array[int]]: ...
def lookup(tokens: _UInt32s, owners: _Int32s, key_hash: int, eligible: _Flags) -> int: ...
@overload
def lookup_many(
    tokens: _UInt32s, owners: _Int32s, key_hashes: _UInt32s, eligible: _Flags, out: None = None
) -> array[int]: ...
@overload
def lookup_many(
    tokens: _UInt32s, owners: _Int32s, key_hashes: _UInt32s, eligible: _Flags, out: _OutT
) -> _OutT: ...
@overload
def lookup_bounded(
    tokens: _UInt32s,
    owners: _Int32s,
    key_hashes: _UInt32s,
    eligible: _Flags,
    loads: _Int32s,
    epsilon: float,
    out: None = None,
) -> array[int]: ...
@overload
def lookup_bounded(
    tokens: _UInt32s,
    owners: _Int32s,
    key_hashes: _UInt32s,
    eligible: _Flags,
    loads: _Int32s,
    epsilon: float,
    out: _OutT,
) -> _OutT: ...
def argmax_trust(reliability: _Floats, trust: _Floats, load: _Floats, eligible: _Flags) -> int: ...
def scores_trust(
    reliability: _Floats, trust: _Floats, load: _Floats, eligible: _Flags
) -> array[float]: ...
def argmax_binpack(
    free_cpu_fraction: _Floats, free_memory_fraction: _Floats, eligible: _Flags, pack: bool
) -> int: ...
def scores_binpack(
    free_cpu_fraction: _Floats, free_memory_fraction: _Floats, eligible: _Flags
) -> array[float]: ...
