"""Compiled ring kernel: the 32-bit MurmurHash3 (x86_32) that places keys and vnodes on the ring."""

from array import array
from collections.abc import Sequence
from typing import Final, TypeVar, overload

__all__ = ["KERNEL", "hash32", "hash32_many"]

KERNEL: Final[str]

_OutT = TypeVar("_OutT", array[int], memoryview)

def hash32(key: bytes | str, seed: int = 0) -> int: ...
@overload
def hash32_many(keys: Sequence[bytes | str], seed: int = 0, *, out: None = None) -> array[int]: ...
@overload
def hash32_many(keys: Sequence[bytes | str], seed: int = 0, *, out: _OutT) -> _OutT: ...
