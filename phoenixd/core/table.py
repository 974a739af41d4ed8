"""The ACTIVE members as columns, for placement decisions made in one compiled pass.

Placement only ever picks an ACTIVE member. The state keeps those members here in id
order, one array per fact a placement rule reads (room for a demand, trust, region,
personal-data clearance, which capabilities it offers) and per score input (reliability,
trust, load, free fractions), updated as members and loads change. A decision then costs
a few passes of the compiled kernel over these columns (phoenixd.kernel.eligibility,
the scorers, top_scores) and Python work only for the handful of members it names,
whatever the size of the registry.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections.abc import Iterable

from phoenixd.core.members import Member

__all__ = ["MemberTable", "free_fraction"]

_NO_REGION = -1  # a member without a region label: allowed only when no region is required
# Versions are unique across tables, so a cache keyed by one never mistakes a new table
# (after a state reset) for the one it was built from.
_VERSIONS = itertools.count(1)


def free_fraction(capacity: float, used: float) -> float:
    """Free fraction of a resource (a member offering none of it has none free)."""
    return max(0.0, (capacity - used) / capacity) if capacity > 0 else 0.0


class MemberTable:
    """One row per ACTIVE member, in id order; row i of every column is ``ids[i]``."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.reliability = array("d")
        self.trust = array("d")
        self.cpu_room = array("d")  # capacity minus what the member carries
        self.memory_room = array("d")
        self.cpu_free = array("d")  # the same as free fractions (bin-packing scores)
        self.memory_free = array("d")
        self.packets = array("d")  # packets carried (trust scores)
        self.region = array("i")  # code in self.regions, or -1
        self.pii_cleared = bytearray()
        self._capacity: dict[str, tuple[float, float]] = {}
        # "name" and "name@version" -> one byte per row, 1 where the member offers it.
        self.offers: dict[str, bytearray] = {}
        self.regions: dict[str, int] = {}  # region label -> code; codes are never reused
        # Changes whenever rows come or go (the scheduler rebuilds its ring on a change).
        self.version = next(_VERSIONS)

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, member_id: str) -> int:
        """The row of ``member_id``, or -1 if it is not ACTIVE."""
        i = bisect.bisect_left(self.ids, member_id)
        return i if i < len(self.ids) and self.ids[i] == member_id else -1

    # -- rows --------------------------------------------------------------------------

    def insert(self, member: Member, cpu_used: float, memory_used: float, packets: int) -> None:
        member_id = member.member_id
        i = bisect.bisect_left(self.ids, member_id)
        self.ids.insert(i, member_id)
        self._capacity[member_id] = (member.cpu, member.memory)
        self.reliability.insert(i, member.reliability)
        self.trust.insert(i, member.trust_score)
        for column, value in self._load_values(member_id, cpu_used, memory_used, packets):
            column.insert(i, value)
        region = member.labels.get("region")
        code = _NO_REGION if region is None else self.regions.setdefault(region, len(self.regions))
        self.region.insert(i, code)
        self.pii_cleared.insert(i, member.labels.get("pii_cleared") == "true")
        offered = set(_offer_keys(member))
        for key, mask in self.offers.items():
            mask.insert(i, key in offered)
        for key in offered - self.offers.keys():
            mask = self.offers[key] = bytearray(len(self.ids))
            mask[i] = 1
        self.version = next(_VERSIONS)

    def remove(self, member_id: str) -> None:
        i = self.position(member_id)
        if i < 0:
            raise KeyError(member_id)
        del self.ids[i]
        del self._capacity[member_id]
        for column in (self.reliability, self.trust, self.cpu_room, self.memory_room,
                       self.cpu_free, self.memory_free, self.packets, self.region):
            del column[i]
        del self.pii_cleared[i]
        emptied = []
        for key, mask in self.offers.items():
            del mask[i]
            if 1 not in mask:
                emptied.append(key)
        for key in emptied:
            del self.offers[key]
        self.version = next(_VERSIONS)

    def set_load(self, member_id: str, cpu_used: float, memory_used: float, packets: int) -> None:
        """What ``member_id`` carries changed (nothing to do unless it is ACTIVE)."""
        i = self.position(member_id)
        if i >= 0:
            for column, value in self._load_values(member_id, cpu_used, memory_used, packets):
                column[i] = value

    def set_reliability(self, member_id: str, reliability: float) -> None:
        """A score input changed, not who may be placed on (the version stays)."""
        i = self.position(member_id)
        if i >= 0:
            self.reliability[i] = reliability

    def _load_values(self, member_id: str, cpu_used: float, memory_used: float, packets: int
                     ) -> Iterable[tuple[array[float], float]]:
        cpu, memory = self._capacity[member_id]
        return (
            (self.cpu_room, cpu - cpu_used), (self.memory_room, memory - memory_used),
            (self.cpu_free, free_fraction(cpu, cpu_used)),
            (self.memory_free, free_fraction(memory, memory_used)),
            (self.packets, float(packets)),
        )

    # -- what a packet asks, as masks ---------------------------------------------------

    def capable(self, required: Iterable[str]) -> bytes | bytearray:
        """One byte per row, 1 where the member offers every capability in ``required``
        (``name`` matches any version, ``name@v`` only that one). A single requirement's
        mask is the table's own: read it before the table changes."""
        n = len(self.ids)
        masks = []
        for key in required:
            mask = self.offers.get(key)
            if mask is None:  # nobody ACTIVE offers it
                return bytes(n)
            masks.append(mask)
        if not masks:
            return b"\x01" * n
        if len(masks) == 1:
            return masks[0]
        # Bytes are 0 or 1, so ANDing the masks as big integers ANDs them byte by byte.
        both = int.from_bytes(masks[0], "little")
        for mask in masks[1:]:
            both &= int.from_bytes(mask, "little")
        return both.to_bytes(n, "little")

    def allowed_regions(self, regions: Iterable[str]) -> bytes:
        """One byte per region code, 1 where allowed; empty when every region is allowed."""
        wanted = set(regions)
        if not wanted:
            return b""
        # One byte longer than the codes, so the table is never empty (which would allow all).
        table = bytearray(len(self.regions) + 1)
        for region in wanted:
            code = self.regions.get(region)
            if code is not None:
                table[code] = 1
        return bytes(table)


def _offer_keys(member: Member) -> Iterable[str]:
    for name, version in member.capability_versions().items():
        yield name
        if version:
            yield f"{name}@{version}"
