"""Pure-Python ring kernel: the twin of ``_ring.pyx``, with the same API and the same results."""

# Used when the Cython extension is not built or PHOENIX_NO_EXTENSIONS is set. Every function
# mirrors _ring.pyx (see it for why MurmurHash3 x86_32, and why DEFAULT_VNODES is 128); tests
# assert that both give identical results and identical errors, raised in the same order.

from __future__ import annotations

import heapq
import struct
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate
from operator import index as _index
from typing import Final, TypeAlias, TypeVar, final, overload

__all__ = [
    "DEFAULT_VNODES",
    "KERNEL",
    "RULES",
    "Ring",
    "argmax_binpack",
    "argmax_trust",
    "eligibility",
    "hash32",
    "hash32_many",
    "lookup",
    "lookup_bounded",
    "lookup_many",
    "ring_tokens",
    "scores_binpack",
    "scores_trust",
    "top_scores",
]

KERNEL: Final[str] = "pure"
DEFAULT_VNODES: Final[int] = 128

_C1: Final = 0xCC9E2D51
_C2: Final = 0x1B873593
_MASK: Final = 0xFFFFFFFF  # Python ints do not wrap: every product is masked back to 32 bits
_INT32_MAX: Final = 2**31 - 1

_U32: Final = "a contiguous 1-D buffer of uint32 (array typecode 'I')"
_I32: Final = "a contiguous 1-D buffer of int32 (array typecode 'i')"
_U8: Final = "a contiguous 1-D buffer of uint8 (bytes, bytearray or array typecode 'B')"
_F64: Final = "a contiguous 1-D buffer of float64 (array typecode 'd')"

# Strings, because array.array is not subscriptable at run time before Python 3.12.
_OutT = TypeVar("_OutT", "array[int]", memoryview)
_UInt32s: TypeAlias = "array[int] | memoryview"
_Int32s: TypeAlias = "array[int] | memoryview"
_Flags: TypeAlias = "bytes | bytearray | array[int] | memoryview"
_Floats: TypeAlias = "array[float] | memoryview"


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


# -- Argument checks (each message is the compiled twin's, word for word) -----------------------


def _check_u32(value: int, name: str) -> int:
    number = _index(value)  # TypeError for non-integers, as range() does
    if number < 0 or number > _MASK:
        raise ValueError(f"{name} must be in [0, 2**32), got {number}")
    return number


def _view(
    obj: object, name: str, fmt: str, itemsize: int, what: str, writable: bool = False
) -> memoryview:
    try:
        mv = memoryview(obj)  # type: ignore[arg-type]  # any buffer exporter; checked here
    except TypeError:
        raise TypeError(f"{name} must be {what}, not {type(obj).__name__}") from None
    problem = None
    if mv.ndim != 1:
        problem = f"a {mv.ndim}-D {type(obj).__name__}"
    elif mv.format != fmt or mv.itemsize != itemsize:
        problem = f"{type(obj).__name__} of format {mv.format!r}"
    elif mv.strides != (itemsize,) or mv.suboffsets:
        problem = f"a strided {type(obj).__name__}"
    elif writable and mv.readonly:
        problem = f"a read-only {type(obj).__name__}"
    if problem is not None:
        raise TypeError(f"{name} must be {'writable, ' if writable else ''}{what}, not {problem}")
    return mv


def _u32(obj: object, name: str) -> memoryview:
    return _view(obj, name, "I", 4, _U32)


def _i32(obj: object, name: str) -> memoryview:
    return _view(obj, name, "i", 4, _I32)


def _u8(obj: object, name: str) -> memoryview:
    return _view(obj, name, "B", 1, _U8)


def _f64(obj: object, name: str) -> memoryview:
    return _view(obj, name, "d", 8, _F64)


def _check_lengths(per: str, names: tuple[str, ...], lengths: tuple[int, ...]) -> None:
    if lengths.count(lengths[0]) != len(lengths):
        raise ValueError(
            f"{_join(names)} must have one item per {per}, "
            f"got lengths {_join(tuple(str(n) for n in lengths))}"
        )


def _join(words: tuple[str, ...]) -> str:
    return ", ".join(words[:-1]) + " and " + words[-1]


def _checked_out(out: array[int] | memoryview, n: int, fmt: str, what: str) -> memoryview:
    mv = memoryview(out)
    if mv.readonly:
        raise ValueError("out must be writable")
    if mv.ndim != 1 or mv.format != fmt or mv.itemsize != 4 or not mv.c_contiguous:
        raise ValueError(f"out must be {what}")
    if len(mv) != n:
        raise ValueError(f"out has {len(mv)} items, expected {n}")
    return mv


def _bad_owner(position: int, member: int, n_members: int) -> ValueError:
    return ValueError(f"owners[{position}] is {member}, not a member index in [0, {n_members})")


def _check_epsilon(epsilon: float) -> float:
    if not isinstance(epsilon, (int, float)):
        raise TypeError(f"epsilon must be a float, not {type(epsilon).__name__}")
    value = float(epsilon)  # OverflowError for an int too large, as in the compiled twin
    if not value >= 0.0:  # also rejects NaN
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    return value


# -- Hashing ------------------------------------------------------------------------------------


def _as_bytes(key: bytes | str, index: int) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8")
    where = "key" if index < 0 else f"keys[{index}]"
    raise TypeError(f"{where} must be str or bytes, not {type(key).__name__}")


def hash32(key: bytes | str, seed: int = 0) -> int:
    """Return the 32-bit MurmurHash3 of ``key`` (str is hashed as its UTF-8 bytes)."""
    s = _check_u32(seed, "seed")
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
    s = _check_u32(seed, "seed")
    if isinstance(keys, (str, bytes)):
        # Both are sequences themselves; hashing their characters is never what was meant.
        raise TypeError(f"keys must be a sequence of keys, not a single {type(keys).__name__}")
    items = list(keys)
    if out is None:
        return _hash_all(items, s)
    # The buffer is checked before any key, the order the compiled kernel fails in.
    dst = _checked_out(out, len(items), "I", _U32)
    dst[:] = _hash_all(items, s)
    return out


def _hash_all(items: list[bytes | str], seed: int) -> array[int]:
    # Every key is encoded before any is hashed, so a bad key fails first, as in the C kernel.
    encoded = [_as_bytes(key, i) for i, key in enumerate(items)]
    return array("I", [_murmur3_32(data, seed) for data in encoded])


# -- Ring construction --------------------------------------------------------------------------


def _member_list(member_ids: Sequence[str]) -> list[str]:
    if isinstance(member_ids, (str, bytes)):
        raise TypeError(
            f"member_ids must be a sequence of str, not a single {type(member_ids).__name__}"
        )
    return list(member_ids)


def ring_tokens(member_ids: Sequence[str], vnodes: int) -> tuple[array[int], array[int]]:
    """Place every member's vnodes on the 32-bit ring.

    Member ``m`` gets ``vnodes`` vnodes at ``hash32(f"{member_ids[m]}#{i}")`` for i in
    range(vnodes).

    Args:
        member_ids: distinct member ids (str); a member's index here is its index everywhere else.
        vnodes: vnodes per member, >= 1 (normally DEFAULT_VNODES).

    Returns:
        ``(tokens, owners)``: tokens ascending as ``array('I')`` and, aligned with them, each
        vnode's member index as ``array('i')``; equal tokens are ordered by member index.
    """
    ids = _member_list(member_ids)
    v = _index(vnodes)
    if v < 1:
        raise ValueError(f"vnodes must be >= 1, got {v}")
    n = len(ids)
    if n * v > _INT32_MAX:
        raise ValueError(f"{n} members x {v} vnodes is more than 2**31 - 1 vnodes")
    seen: dict[str, int] = {}
    encoded = []
    for m, member in enumerate(ids):
        if not isinstance(member, str):
            raise TypeError(f"member_ids[{m}] must be str, not {type(member).__name__}")
        first = seen.setdefault(member, m)
        if first != m:
            raise ValueError(f"member_ids[{m}] repeats member_ids[{first}] ({member!r})")
        encoded.append(member.encode("utf-8"))
    # (token, member) tuples sort by token, then member index: the compiled twin's packed order.
    placed = sorted(
        (_murmur3_32(data + b"#%d" % i, 0), m) for m, data in enumerate(encoded) for i in range(v)
    )
    return array("I", [token for token, _ in placed]), array("i", [m for _, m in placed])


# -- Lookups ------------------------------------------------------------------------------------


def lookup(tokens: _UInt32s, owners: _Int32s, key_hash: int, eligible: _Flags) -> int:
    """Return the member owning ``key_hash``: the first eligible vnode clockwise from it.

    Args:
        tokens: the ring's tokens, ascending, as from ring_tokens (not checked).
        owners: the member index of each token.
        key_hash: the key's hash32, in [0, 2**32).
        eligible: one byte per member, nonzero if the member may take keys.

    Returns:
        The member index, or -1 if the ring is empty or no vnode's member is eligible.
    """
    tok = _u32(tokens, "tokens")
    own = _i32(owners, "owners")
    key = _check_u32(key_hash, "key_hash")
    elig = _u8(eligible, "eligible")
    _check_lengths("vnode", ("tokens", "owners"), (len(tok), len(own)))
    n = len(tok)
    p = bisect_left(tok, key)
    for _ in range(n):
        if p == n:
            p = 0
        m = own[p]
        if m < 0 or m >= len(elig):
            raise _bad_owner(p, m, len(elig))
        if elig[m]:
            return int(m)
        p += 1
    return -1


def _eligible_table(owners: list[int], elig: memoryview) -> list[int]:
    # table[p]: the first position at or clockwise of p whose member is eligible, or -1.
    n_members = len(elig)
    for p, m in enumerate(owners):
        if m < 0 or m >= n_members:
            raise _bad_owner(p, m, n_members)
    table = [-1] * len(owners)
    nearest = -1
    for p in range(len(owners) - 1, -1, -1):
        if elig[owners[p]]:
            nearest = p
        table[p] = nearest
    # Past the last eligible vnode the walk wraps to the first one, now in `nearest`.
    p = len(owners) - 1
    while p >= 0 and table[p] == -1:
        table[p] = nearest
        p -= 1
    return table


def _fill(out: array[int] | memoryview | None, results: list[int]) -> array[int] | memoryview:
    found = array("i", results)
    if out is None:
        return found
    memoryview(out)[:] = found
    return out


@overload
def lookup_many(
    tokens: _UInt32s, owners: _Int32s, key_hashes: _UInt32s, eligible: _Flags, out: None = None
) -> array[int]: ...
@overload
def lookup_many(
    tokens: _UInt32s, owners: _Int32s, key_hashes: _UInt32s, eligible: _Flags, out: _OutT
) -> _OutT: ...
def lookup_many(
    tokens: _UInt32s,
    owners: _Int32s,
    key_hashes: _UInt32s,
    eligible: _Flags,
    out: array[int] | memoryview | None = None,
) -> array[int] | memoryview:
    """Return the owner of each key hash, as ``lookup`` would, in one call.

    Costs one pass over the ring to skip ineligible vnodes, then a binary search per key; for a
    single key, ``lookup`` is cheaper. Every owner is checked against ``eligible``, visited or not.

    Args:
        tokens, owners, eligible: as for ``lookup``.
        key_hashes: the keys' hash32 values, a uint32 buffer (typecode 'I').
        out: optional writable int32 buffer (typecode 'i') of len(key_hashes) items to fill.

    Returns:
        ``out`` if given, else a new ``array.array('i')``: a member index per key, -1 where none
        is eligible.
    """
    tok = _u32(tokens, "tokens")
    own = _i32(owners, "owners")
    keys = _u32(key_hashes, "key_hashes")
    elig = _u8(eligible, "eligible")
    if out is not None:
        _checked_out(out, len(keys), "i", _I32)
    _check_lengths("vnode", ("tokens", "owners"), (len(tok), len(own)))
    owner = own.tolist()
    table = _eligible_table(owner, elig)
    ring = tok.tolist()
    n = len(ring)
    results = []
    for key in keys.tolist():
        if n == 0:
            results.append(-1)
            continue
        p = bisect_left(ring, key)
        p = table[0 if p == n else p]
        results.append(owner[p] if p >= 0 else -1)
    return _fill(out, results)


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
def lookup_bounded(
    tokens: _UInt32s,
    owners: _Int32s,
    key_hashes: _UInt32s,
    eligible: _Flags,
    loads: _Int32s,
    epsilon: float,
    out: array[int] | memoryview | None = None,
) -> array[int] | memoryview:
    """Assign keys in order, each to the first eligible member clockwise that is below its cap.

    Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, 2018). Only eligible
    members that own at least one vnode count: call them the n_e live members and their summed
    load L. Before each key the cap is ``(1 + epsilon) * (L + 1) / n_e`` (L counting the keys
    assigned so far); the key goes to the first live member clockwise whose load is below it,
    i.e. at most ceil(cap) - 1, so after taking the key it is at most ceil(cap). Some live member
    is always below the cap, so every key is placed unless n_e is 0 (then every key gets -1).

    Guarantee: a member that takes a key in this call ends at most
    ``ceil((1 + epsilon) * L_end / n_e)``, L_end being the live members' total load at the end.
    So if every starting load is within that bound (e.g. all zero, or loads built only by this
    function with the same members eligible), no live member ends above ceil((1 + epsilon) x
    average). A member that starts above the bound takes no keys but is not reduced.

    Args:
        tokens, owners, key_hashes, eligible: as for ``lookup_many``.
        loads: writable int32 buffer (typecode 'i'), one item >= 0 per member: each member's
            current load, updated in place as keys are assigned.
        epsilon: the allowed excess over the average, a float >= 0 (inf: no bound).
        out: as for ``lookup_many``.

    Returns:
        ``out`` if given, else a new ``array.array('i')``: a member index per key, or -1.
    """
    tok = _u32(tokens, "tokens")
    own = _i32(owners, "owners")
    keys = _u32(key_hashes, "key_hashes")
    elig = _u8(eligible, "eligible")
    ld = _view(loads, "loads", "i", 4, _I32, writable=True)
    eps = _check_epsilon(epsilon)
    if out is not None:
        _checked_out(out, len(keys), "i", _I32)
    _check_lengths("vnode", ("tokens", "owners"), (len(tok), len(own)))
    _check_lengths("member", ("eligible", "loads"), (len(elig), len(ld)))
    table = _eligible_table(own.tolist(), elig)
    load = ld.tolist()
    for m, value in enumerate(load):
        if value < 0:
            raise ValueError(f"loads[{m}] is {value}; loads must be >= 0")
    live = {m for m in own.tolist() if elig[m]}
    n_eligible = len(live)
    total = sum(load[m] for m in live)
    if total + len(keys) > _INT32_MAX:
        raise ValueError(f"loads would overflow int32: {total} + {len(keys)} keys")
    ring = tok.tolist()
    owner = own.tolist()
    n = len(ring)
    results = []
    for key in keys.tolist():
        results.append(-1)
        if n_eligible == 0:
            continue
        # An int below a float compares exactly, as the compiled twin's int-to-double does.
        cap = (1.0 + eps) * (total + 1) / n_eligible
        p = bisect_left(ring, key)
        p = table[0 if p == n else p]
        for _ in range(n):  # always ends early: some eligible member is below the cap
            m = owner[p]
            if load[m] < cap:
                load[m] += 1
                total += 1
                results[-1] = m
                break
            p = table[p + 1] if p + 1 < n else table[0]
    ld[:] = array("i", load)
    return _fill(out, results)


# -- Ring: the ring built once, with a bucket index ---------------------------------------------
# The compiled twin's Ring, with the same bucket index (see _ring.pyx for why it exists and how
# it is sized), so that tests exercise the same bucket boundaries in both kernels.


def _bucket_bits(n: int) -> int:
    bits = 1
    while (1 << bits) < n:
        bits += 1
    return bits


def _table_pays(n_keys: int, elig: memoryview, n_members: int, n_vnodes: int) -> bool:
    # Walk unless the walks past ineligible vnodes would add up to more than one pass over the
    # ring to build the table (see the compiled twin).
    n_eligible = sum(1 for flag in elig.tolist() if flag)
    return n_keys * n_members > n_eligible * n_vnodes


def _check_per_member(name: str, size: int, n_members: int) -> None:
    if size != n_members:
        raise ValueError(f"{name} has {size} items, expected one per member ({n_members})")


@final
class Ring:
    """A consistent-hash ring built once from its members, for many lookups.

    Places vnodes exactly as ``ring_tokens`` does and answers exactly as ``lookup``,
    ``lookup_many`` and ``lookup_bounded`` do on that ring, without taking the ring's buffers
    on every call.

    Args:
        member_ids: distinct member ids (str); a member's index is its position here.
        vnodes: vnodes per member, >= 1.
    """

    __slots__ = ("_bucket_bits", "_members", "_owners", "_shift", "_starts", "_tokens", "_vnodes")

    def __init__(self, member_ids: Sequence[str], vnodes: int = DEFAULT_VNODES) -> None:
        ids = _member_list(member_ids)
        tokens, owners = ring_tokens(ids, vnodes)
        self._members = tuple(ids)
        self._vnodes = _index(vnodes)
        self._tokens: list[int] = tokens.tolist()
        self._owners: list[int] = owners.tolist()
        self._bucket_bits = _bucket_bits(len(self._tokens))
        self._shift = 32 - self._bucket_bits
        # Count the vnodes per bucket, then a running sum turns counts into start positions.
        counts = [0] * (1 << self._bucket_bits)
        for token in self._tokens:
            counts[token >> self._shift] += 1
        self._starts = [0, *accumulate(counts)]

    def __reduce__(self) -> tuple[type[Ring], tuple[tuple[str, ...], int]]:
        return Ring, (self._members, self._vnodes)

    @property
    def members(self) -> tuple[str, ...]:
        """The member ids; a member's index is its position here."""
        return self._members

    @property
    def vnodes(self) -> int:
        """Vnodes per member."""
        return self._vnodes

    @property
    def bucket_bits(self) -> int:
        """The bucket index's size: a token's bucket is its top ``bucket_bits`` bits."""
        return self._bucket_bits

    @property
    def tokens(self) -> array[int]:
        """The vnodes' tokens, ascending, as ``array('I')`` (a copy, as from ``ring_tokens``)."""
        return array("I", self._tokens)

    @property
    def owners(self) -> array[int]:
        """Each vnode's member index, aligned with ``tokens``, as ``array('i')`` (a copy)."""
        return array("i", self._owners)

    def _position(self, key: int) -> int:
        # The first vnode whose token is >= key, wrapping to 0; the ring must not be empty.
        # The answer lies between the key's bucket start and the next bucket's.
        b = key >> self._shift
        p = bisect_left(self._tokens, key, self._starts[b], self._starts[b + 1])
        return p if p < len(self._tokens) else 0

    def _owner(self, key: int, elig: memoryview | None) -> int:
        if not self._tokens:
            return -1
        p = self._position(key)
        if elig is None:
            return self._owners[p]
        return self._walk(p, elig)

    def _walk(self, p: int, elig: memoryview) -> int:
        owners = self._owners
        n = len(owners)
        for _ in range(n):
            m = owners[p]
            if elig[m]:
                return m
            p = p + 1 if p + 1 < n else 0
        return -1

    def _eligible(self, eligible: _Flags | None) -> memoryview | None:
        if eligible is None:
            return None
        elig = _u8(eligible, "eligible")
        _check_per_member("eligible", len(elig), len(self._members))
        return elig

    def lookup(self, key_hash: int, eligible: _Flags | None = None) -> int:
        """Return the member owning ``key_hash``, as the module's ``lookup`` on this ring.

        Args:
            key_hash: the key's hash32, in [0, 2**32).
            eligible: None (every member may take keys) or one byte per member, nonzero if the
                member may take keys.

        Returns:
            The member index, or -1 if the ring is empty or no member is eligible.
        """
        key = _check_u32(key_hash, "key_hash")
        return self._owner(key, self._eligible(eligible))

    def lookup_key(self, key: bytes | str, eligible: _Flags | None = None) -> int:
        """Return the member owning ``key``: ``lookup(hash32(key), eligible)`` in one call."""
        key_hash = _murmur3_32(_as_bytes(key, -1), 0)
        return self._owner(key_hash, self._eligible(eligible))

    @overload
    def lookup_many(
        self, key_hashes: _UInt32s, eligible: _Flags | None = None, *, out: None = None
    ) -> array[int]: ...
    @overload
    def lookup_many(
        self, key_hashes: _UInt32s, eligible: _Flags | None = None, *, out: _OutT
    ) -> _OutT: ...
    def lookup_many(
        self,
        key_hashes: _UInt32s,
        eligible: _Flags | None = None,
        *,
        out: array[int] | memoryview | None = None,
    ) -> array[int] | memoryview:
        """Return the owner of each key hash, as ``lookup`` would, in one call.

        Args:
            key_hashes: the keys' hash32 values, a uint32 buffer (typecode 'I').
            eligible: as for ``lookup``.
            out: optional writable int32 buffer (typecode 'i') of len(key_hashes) items to fill.

        Returns:
            ``out`` if given, else a new ``array.array('i')``: a member index per key, -1 where
            none is eligible.
        """
        keys = _u32(key_hashes, "key_hashes")
        elig = self._eligible(eligible)
        if out is not None:
            _checked_out(out, len(keys), "i", _I32)
        owners = self._owners
        if not owners:
            results = [-1] * len(keys)
        elif elig is None:
            results = [owners[self._position(key)] for key in keys.tolist()]
        elif _table_pays(len(keys), elig, len(self._members), len(owners)):
            table = _eligible_table(owners, elig)
            results = []
            for key in keys.tolist():
                p = table[self._position(key)]
                results.append(owners[p] if p >= 0 else -1)
        else:
            results = [self._walk(self._position(key), elig) for key in keys.tolist()]
        return _fill(out, results)

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
    def lookup_bounded(
        self,
        key_hashes: _UInt32s,
        loads: _Int32s,
        epsilon: float,
        eligible: _Flags | None = None,
        *,
        out: array[int] | memoryview | None = None,
    ) -> array[int] | memoryview:
        """Assign keys in order, each to the first eligible member clockwise below its cap.

        The module's ``lookup_bounded`` on this ring (see it for the cap and the guarantee);
        every member owns vnodes, so the live members are the eligible ones.

        Args:
            key_hashes: the keys' hash32 values, a uint32 buffer (typecode 'I').
            loads: writable int32 buffer (typecode 'i'), one item >= 0 per member: each
                member's current load, updated in place as keys are assigned.
            epsilon: the allowed excess over the average, a float >= 0 (inf: no bound).
            eligible: as for ``lookup``.
            out: as for ``lookup_many``.

        Returns:
            ``out`` if given, else a new ``array.array('i')``: a member index per key, or -1.
        """
        keys = _u32(key_hashes, "key_hashes")
        ld = _view(loads, "loads", "i", 4, _I32, writable=True)
        eps = _check_epsilon(epsilon)
        elig = self._eligible(eligible)
        if out is not None:
            _checked_out(out, len(keys), "i", _I32)
        _check_per_member("loads", len(ld), len(self._members))
        load = ld.tolist()
        n_eligible = 0
        total = 0
        for m, value in enumerate(load):
            if value < 0:
                raise ValueError(f"loads[{m}] is {value}; loads must be >= 0")
            if elig is None or elig[m]:
                n_eligible += 1
                total += value
        if total + len(keys) > _INT32_MAX:
            raise ValueError(f"loads would overflow int32: {total} + {len(keys)} keys")
        owners = self._owners
        table = None if elig is None else _eligible_table(owners, elig)
        n = len(owners)
        results = []
        for key in keys.tolist():
            results.append(-1)
            if n_eligible == 0:
                continue
            cap = (1.0 + eps) * (total + 1) / n_eligible
            p = self._position(key)
            if table is not None:
                p = table[p]
            for _ in range(n):  # always ends early: some eligible member is below the cap
                m = owners[p]
                if load[m] < cap:
                    load[m] += 1
                    total += 1
                    results[-1] = m
                    break
                p = p + 1 if p + 1 < n else 0
                if table is not None:
                    p = table[p]
        ld[:] = array("i", load)
        return _fill(out, results)


# -- Scoring ------------------------------------------------------------------------------------


def _trust(
    reliability: _Floats, trust: _Floats, load: _Floats, eligible: _Flags
) -> tuple[int, array[float]]:
    r = _f64(reliability, "reliability")
    t = _f64(trust, "trust")
    ld = _f64(load, "load")
    e = _u8(eligible, "eligible")
    _check_lengths(
        "member", ("reliability", "trust", "load", "eligible"), (len(r), len(t), len(ld), len(e))
    )
    scores = array("d", [float("nan")]) * len(e)
    best = -1
    best_score = 0.0
    for i in range(len(e)):
        if not e[i]:
            continue
        if ld[i] < 0.0:
            raise ValueError(f"load[{i}] is {ld[i]!r}; loads must be >= 0")
        score = (r[i] * t[i]) / (1.0 + ld[i])
        if score != score:
            raise ValueError(
                f"score of member {i} is NaN (reliability={r[i]!r}, trust={t[i]!r}, load={ld[i]!r})"
            )
        scores[i] = score
        if best < 0 or score > best_score:
            best = i
            best_score = score
    return best, scores


def _binpack(
    free_cpu_fraction: _Floats, free_memory_fraction: _Floats, eligible: _Flags, pack: bool
) -> tuple[int, array[float]]:
    c = _f64(free_cpu_fraction, "free_cpu_fraction")
    mem = _f64(free_memory_fraction, "free_memory_fraction")
    e = _u8(eligible, "eligible")
    _check_lengths(
        "member",
        ("free_cpu_fraction", "free_memory_fraction", "eligible"),
        (len(c), len(mem), len(e)),
    )
    scores = array("d", [float("nan")]) * len(e)
    best = -1
    best_score = 0.0
    for i in range(len(e)):
        if not e[i]:
            continue
        score = c[i] + mem[i]
        if score != score:
            raise ValueError(
                f"score of member {i} is NaN "
                f"(free_cpu_fraction={c[i]!r}, free_memory_fraction={mem[i]!r})"
            )
        scores[i] = score
        if best < 0 or (score < best_score if pack else score > best_score):
            best = i
            best_score = score
    return best, scores


def argmax_trust(reliability: _Floats, trust: _Floats, load: _Floats, eligible: _Flags) -> int:
    """Return the eligible member with the highest ``reliability * trust / (1 + load)``.

    Args:
        reliability, trust, load: float64 buffers (typecode 'd'), one item per member; loads of
            eligible members must be >= 0.
        eligible: one byte per member, nonzero if the member may be picked.

    Returns:
        The member index (ties to the lowest), or -1 if none is eligible.
    """
    return _trust(reliability, trust, load, eligible)[0]


def scores_trust(
    reliability: _Floats, trust: _Floats, load: _Floats, eligible: _Flags
) -> array[float]:
    """Return every member's ``argmax_trust`` score as ``array('d')``, NaN where ineligible."""
    return _trust(reliability, trust, load, eligible)[1]


def argmax_binpack(
    free_cpu_fraction: _Floats, free_memory_fraction: _Floats, eligible: _Flags, pack: bool
) -> int:
    """Return the eligible member whose ``free_cpu_fraction + free_memory_fraction`` is best.

    Args:
        free_cpu_fraction, free_memory_fraction: float64 buffers (typecode 'd'), one per member.
        eligible: one byte per member, nonzero if the member fits the work (the caller filters).
        pack: True picks the lowest score (the fullest member that fits, packing work tightly),
            False the highest (spreading it).

    Returns:
        The member index (ties to the lowest), or -1 if none is eligible.
    """
    return _binpack(free_cpu_fraction, free_memory_fraction, eligible, pack)[0]


def scores_binpack(
    free_cpu_fraction: _Floats, free_memory_fraction: _Floats, eligible: _Flags
) -> array[float]:
    """Return every member's ``argmax_binpack`` score as ``array('d')``, NaN where ineligible."""
    return _binpack(free_cpu_fraction, free_memory_fraction, eligible, False)[1]


# -- Eligibility --------------------------------------------------------------------------------

RULES: Final = (
    "", "missing_capability", "no_capacity:cpu", "no_capacity:memory",
    "trust_below_minimum", "region_not_allowed", "pii_not_cleared",
)


def _real(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}")
    return float(value)


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
) -> int:
    """Write the first placement rule each member fails into ``rules``; return how many pass.

    Args:
        capable: one byte per member, nonzero if it offers every required capability.
        cpu_room, memory_room: float64 per member, its capacity minus what it carries.
        trust: float64 per member.
        region: int32 per member, the code of its region (an index into ``allowed_regions``).
        pii_cleared: one byte per member, nonzero if it may see personal data.
        cpu, memory: the demand; a member fails when the demand exceeds its room.
        minimum_trust: a member fails when its trust is below it.
        allowed_regions: one byte per region code, nonzero if allowed; empty allows every
            region (a code outside the table is not allowed).
        need_pii: whether members must be cleared for personal data.
        rules: writable, one byte per member: the index into RULES of the first rule failed.
    """
    c = _u8(capable, "capable")
    cr = _f64(cpu_room, "cpu_room")
    mr = _f64(memory_room, "memory_room")
    t = _f64(trust, "trust")
    rg = _i32(region, "region")
    p = _u8(pii_cleared, "pii_cleared")
    allowed = _u8(allowed_regions, "allowed_regions")
    out = _view(rules, "rules", "B", 1, _U8, writable=True)
    _check_lengths(
        "member",
        ("capable", "cpu_room", "memory_room", "trust", "region", "pii_cleared", "rules"),
        (len(c), len(cr), len(mr), len(t), len(rg), len(p), len(out)),
    )
    cpu = _real(cpu, "cpu")
    memory = _real(memory, "memory")
    minimum_trust = _real(minimum_trust, "minimum_trust")
    n_regions = len(allowed)
    eligible = 0
    for i in range(len(out)):
        code = rg[i]
        if not c[i]:
            rule = 1
        elif cpu > cr[i]:
            rule = 2
        elif memory > mr[i]:
            rule = 3
        elif t[i] < minimum_trust:
            rule = 4
        elif n_regions and (code < 0 or code >= n_regions or not allowed[code]):
            rule = 5
        elif need_pii and not p[i]:
            rule = 6
        else:
            rule = 0
            eligible += 1
        out[i] = rule
    return eligible


def top_scores(scores: _Floats, eligible: _Flags, k: int) -> array[int]:
    """Return the indices of the ``k`` best-scoring eligible members as ``array('i')``.

    Best first; equal scores keep index order. Scores of eligible members must not be NaN.
    """
    s = _f64(scores, "scores")
    e = _u8(eligible, "eligible")
    _check_lengths("member", ("scores", "eligible"), (len(s), len(e)))
    k = _index(k)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    k = min(k, len(e))
    ranked = []
    for i in range(len(e)):
        if e[i]:
            if s[i] != s[i]:
                raise ValueError(f"scores[{i}] is NaN for an eligible member")
            ranked.append((-s[i], i))
    return array("i", [i for _, i in heapq.nsmallest(k, ranked)])
