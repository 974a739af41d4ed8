"""The placement rules of the pure twin, checked against every member in one pass."""

from __future__ import annotations

from array import array
from typing import Final

from phoenixd.kernel._pure.checks import (
    U8,
    Flags,
    Floats,
    Int32s,
    check_lengths,
    f64,
    i32,
    real,
    u8,
    view,
)

RULES: Final = (
    "", "missing_capability", "no_capacity:cpu", "no_capacity:memory",
    "trust_below_minimum", "region_not_allowed", "pii_not_cleared",
)



def eligibility(
    capable: Flags,
    cpu_room: Floats,
    memory_room: Floats,
    trust: Floats,
    region: Int32s,
    pii_cleared: Flags,
    cpu: float,
    memory: float,
    minimum_trust: float,
    allowed_regions: Flags,
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
    c = u8(capable, "capable")
    cr = f64(cpu_room, "cpu_room")
    mr = f64(memory_room, "memory_room")
    t = f64(trust, "trust")
    rg = i32(region, "region")
    p = u8(pii_cleared, "pii_cleared")
    allowed = u8(allowed_regions, "allowed_regions")
    out = view(rules, "rules", "B", 1, U8, writable=True)
    check_lengths(
        "member",
        ("capable", "cpu_room", "memory_room", "trust", "region", "pii_cleared", "rules"),
        (len(c), len(cr), len(mr), len(t), len(rg), len(p), len(out)),
    )
    cpu = real(cpu, "cpu")
    memory = real(memory, "memory")
    minimum_trust = real(minimum_trust, "minimum_trust")
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
