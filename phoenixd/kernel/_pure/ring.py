"""The consistent-hash ring of the pure twin: vnodes placed by MurmurHash3, a bucket index over
them, and lookups plain, in batches and with bounded loads."""

# The compiled twin's Ring, with the same bucket index (see _ring.pxi for why it exists and how
# it is sized), so that tests exercise the same bucket boundaries in both kernels.

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate
from operator import index
from typing import Final, final, overload

from phoenixd.kernel._pure.checks import (
    I32,
    INT32_MAX,
    Flags,
    Int32s,
    OutT,
    UInt32s,
    check_epsilon,
    check_per_member,
    check_u32,
    checked_out,
    fill,
    u8,
    u32,
    view,
)
from phoenixd.kernel._pure.hashing import as_bytes, murmur3_32

# Vnodes per member: see _ring.pxi for the measurements behind 128.
DEFAULT_VNODES: Final[int] = 128


def _member_list(member_ids: Sequence[str]) -> list[str]:
    if isinstance(member_ids, (str, bytes)):
        raise TypeError(
            f"member_ids must be a sequence of str, not a single {type(member_ids).__name__}"
        )
    return list(member_ids)


def _positions(ids: list[str]) -> dict[str, int]:
    """Each member id's index; refuses a member that is not a str or repeats an earlier one."""
    seen: dict[str, int] = {}
    for m, member in enumerate(ids):
        if not isinstance(member, str):
            raise TypeError(f"member_ids[{m}] must be str, not {type(member).__name__}")
        first = seen.setdefault(member, m)
        if first != m:
            raise ValueError(f"member_ids[{m}] repeats member_ids[{first}] ({member!r})")
    return seen


def _check_size(n: int, vnodes: int) -> None:
    if n * vnodes > INT32_MAX:
        raise ValueError(f"{n} members x {vnodes} vnodes is more than 2**31 - 1 vnodes")


def _place_vnodes(ids: list[str], vnodes: int) -> list[tuple[int, int]]:
    """Every vnode as (token, member index), ascending: ties go to the lower member index."""
    v = index(vnodes)
    if v < 1:
        raise ValueError(f"vnodes must be >= 1, got {v}")
    _check_size(len(ids), v)
    _positions(ids)
    encoded = [member.encode("utf-8") for member in ids]
    # (token, member) tuples sort by token, then member index: the compiled twin's packed order.
    return sorted(
        (murmur3_32(data + b"#%d" % i, 0), m) for m, data in enumerate(encoded) for i in range(v)
    )


def _eligible_table(owners: list[int], elig: memoryview) -> list[int]:
    # table[p]: the first position at or clockwise of p whose member is eligible, or -1.
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


@final
class Ring:
    """A consistent-hash ring built once from its members, for many lookups.

    Member ``m`` gets ``vnodes`` vnodes at ``hash32(f"{member_ids[m]}#{i}")`` for i in
    range(vnodes); a key belongs to the first vnode clockwise from its hash whose member is
    eligible. Built once (or from another ring by ``updated``), then asked many times: the
    compiled twin's bucket index makes a single lookup cost little more than the call.

    Args:
        member_ids: distinct member ids (str); a member's index is its position here.
        vnodes: vnodes per member, >= 1.
    """

    __slots__ = ("_bucket_bits", "_members", "_owners", "_shift", "_starts", "_tokens", "_vnodes")

    def __init__(self, member_ids: Sequence[str], vnodes: int = DEFAULT_VNODES) -> None:
        ids = _member_list(member_ids)
        placed = _place_vnodes(ids, vnodes)
        self._vnodes = index(vnodes)
        self._adopt(ids, [token for token, _ in placed], [m for _, m in placed])

    def _adopt(self, ids: list[str], tokens: list[int], owners: list[int]) -> None:
        self._members = tuple(ids)
        self._tokens = tokens
        self._owners = owners
        self._bucket_bits = _bucket_bits(len(self._tokens))
        self._shift = 32 - self._bucket_bits
        # Count the vnodes per bucket, then a running sum turns counts into start positions.
        counts = [0] * (1 << self._bucket_bits)
        for token in self._tokens:
            counts[token >> self._shift] += 1
        self._starts = [0, *accumulate(counts)]

    def updated(self, member_ids: Sequence[str]) -> Ring:
        """Return the ring over ``member_ids``: equal to ``Ring(member_ids, self.vnodes)``, made
        from this one.

        Only the vnodes of members this ring lacks are hashed; the others' are carried over with
        their new indices and merged in, so a join or a leave costs a pass over the ring
        instead of a build (hashing and sorting every vnode).

        Args:
            member_ids: distinct member ids (str), as for ``Ring``.
        """
        ids = _member_list(member_ids)
        _check_size(len(ids), self._vnodes)
        position = _positions(ids)
        remap = [position.get(member, -1) for member in self._members]
        kept = set(remap)
        fresh = [k for k in range(len(ids)) if k not in kept]
        placed = [(token, remap[m]) for token, m in zip(self._tokens, self._owners, strict=True)
                  if remap[m] >= 0]
        placed += ((token, fresh[m]) for token, m in _place_vnodes([ids[k] for k in fresh],
                                                                     self._vnodes))
        # Two ascending runs (or, when kept members changed order, runs broken only among
        # equal tokens): sorting merges them in about one pass.
        placed.sort()
        ring = Ring.__new__(Ring)
        ring._vnodes = self._vnodes
        ring._adopt(ids, [token for token, _ in placed], [m for _, m in placed])
        return ring

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
        """The vnodes' tokens, ascending, as ``array('I')`` (a copy); ties by member index."""
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

    def _eligible(self, eligible: Flags | None) -> memoryview | None:
        if eligible is None:
            return None
        elig = u8(eligible, "eligible")
        check_per_member("eligible", len(elig), len(self._members))
        return elig

    def lookup(self, key_hash: int, eligible: Flags | None = None) -> int:
        """Return the member owning ``key_hash``: the first eligible vnode clockwise from it.

        Args:
            key_hash: the key's hash32, in [0, 2**32).
            eligible: None (every member may take keys) or one byte per member, nonzero if the
                member may take keys.

        Returns:
            The member index, or -1 if the ring is empty or no member is eligible.
        """
        key = check_u32(key_hash, "key_hash")
        return self._owner(key, self._eligible(eligible))

    def lookup_key(self, key: bytes | str, eligible: Flags | None = None) -> int:
        """Return the member owning ``key``: ``lookup(hash32(key), eligible)`` in one call."""
        key_hash = murmur3_32(as_bytes(key, -1), 0)
        return self._owner(key_hash, self._eligible(eligible))

    @overload
    def lookup_many(
        self, key_hashes: UInt32s, eligible: Flags | None = None, *, out: None = None
    ) -> array[int]: ...
    @overload
    def lookup_many(
        self, key_hashes: UInt32s, eligible: Flags | None = None, *, out: OutT
    ) -> OutT: ...
    def lookup_many(
        self,
        key_hashes: UInt32s,
        eligible: Flags | None = None,
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
        keys = u32(key_hashes, "key_hashes")
        elig = self._eligible(eligible)
        if out is not None:
            checked_out(out, len(keys), "i", I32)
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
        return fill(out, results)

    @overload
    def lookup_bounded(
        self,
        key_hashes: UInt32s,
        loads: Int32s,
        epsilon: float,
        eligible: Flags | None = None,
        *,
        out: None = None,
    ) -> array[int]: ...
    @overload
    def lookup_bounded(
        self,
        key_hashes: UInt32s,
        loads: Int32s,
        epsilon: float,
        eligible: Flags | None = None,
        *,
        out: OutT,
    ) -> OutT: ...
    def lookup_bounded(
        self,
        key_hashes: UInt32s,
        loads: Int32s,
        epsilon: float,
        eligible: Flags | None = None,
        *,
        out: array[int] | memoryview | None = None,
    ) -> array[int] | memoryview:
        """Assign keys in order, each to the first eligible member clockwise below its cap.

        Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, 2018). Call the
        eligible members the n_e live ones and their summed load L. Before each key the cap is
        ``(1 + epsilon) * (L + 1) / n_e`` (L counting the keys assigned so far); the key goes to
        the first live member clockwise whose load is below it, i.e. at most ceil(cap) - 1, so
        after taking the key it is at most ceil(cap). Some live member is always below the cap,
        so every key is placed unless n_e is 0 (then every key gets -1).

        Guarantee: a member that takes a key in this call ends at most
        ``ceil((1 + epsilon) * L_end / n_e)``, L_end being the live members' total load at the
        end. So if every starting load is within that bound (e.g. all zero, or loads built only
        by this method with the same members eligible), no live member ends above
        ceil((1 + epsilon) x average). A member that starts above the bound takes no keys but is
        not reduced.

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
        keys = u32(key_hashes, "key_hashes")
        ld = view(loads, "loads", "i", 4, I32, writable=True)
        eps = check_epsilon(epsilon)
        elig = self._eligible(eligible)
        if out is not None:
            checked_out(out, len(keys), "i", I32)
        check_per_member("loads", len(ld), len(self._members))
        load = ld.tolist()
        n_eligible = 0
        total = 0
        for m, value in enumerate(load):
            if value < 0:
                raise ValueError(f"loads[{m}] is {value}; loads must be >= 0")
            if elig is None or elig[m]:
                n_eligible += 1
                total += value
        if total + len(keys) > INT32_MAX:
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
        return fill(out, results)


