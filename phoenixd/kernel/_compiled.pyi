"""The compiled placement kernel: MurmurHash3 x86_32, the ring, eligibility and scoring."""

from array import array
from collections.abc import Sequence
from typing import Final, TypeAlias, TypeVar, final, overload

KERNEL: Final[str]
DEFAULT_VNODES: Final[int]

_OutT = TypeVar("_OutT", array[int], memoryview)
# Buffers by element type: array typecodes 'I', 'i', 'B' (or bytes/bytearray) and 'd'.
_UInt32s: TypeAlias = array[int] | memoryview
_Int32s: TypeAlias = array[int] | memoryview
_Flags: TypeAlias = bytes | bytearray | array[int] | memoryview
_Floats: TypeAlias = array[float] | memoryview

def hash32(key: bytes | str, seed: int = 0) -> int: ...
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

@final
class Ring:
    def __init__(self, member_ids: Sequence[str], vnodes: int = ...) -> None: ...
    def __reduce__(self) -> tuple[type[Ring], tuple[tuple[str, ...], int]]: ...
    def updated(self, member_ids: Sequence[str]) -> Ring: ...
    @property
    def members(self) -> tuple[str, ...]: ...
    @property
    def vnodes(self) -> int: ...
    @property
    def bucket_bits(self) -> int: ...
    @property
    def tokens(self) -> array[int]: ...
    @property
    def owners(self) -> array[int]: ...
    def lookup(self, key_hash: int, eligible: _Flags | None = None) -> int: ...
    def lookup_key(self, key: bytes | str, eligible: _Flags | None = None) -> int: ...
    @overload
    def lookup_many(
        self, key_hashes: _UInt32s, eligible: _Flags | None = None, *, out: None = None
    ) -> array[int]: ...
    @overload
    def lookup_many(
        self, key_hashes: _UInt32s, eligible: _Flags | None = None, *, out: _OutT
    ) -> _OutT: ...
    @overload
    def lookup_bounded(
        self,
        key_hashes: _UInt32s,
        loads: _Int32s,
        epsilon: float,
        eligible: _Flags | None = None,
        *,
        out: None = None,
    ) -> array[int]: ...
    @overload
    def lookup_bounded(
        self,
        key_hashes: _UInt32s,
        loads: _Int32s,
        epsilon: float,
        eligible: _Flags | None = None,
        *,
        out: _OutT,
    ) -> _OutT: ...

RULES: Final[tuple[str, ...]]

def eligibility(
    capable: _Flags,
    cpu_room: _Floats,
    memory_room: _Floats,
    trust: _Floats,
    region: _Int32s,
    pii_cleared: _Flags,
    cpu: float,
    memory: float,
    minimum_trust: float,
    allowed_regions: _Flags,
    need_pii: bool,
    rules: bytearray | array[int] | memoryview,
) -> int: ...
def top_scores(scores: _Floats, eligible: _Flags, k: int) -> array[int]: ...
