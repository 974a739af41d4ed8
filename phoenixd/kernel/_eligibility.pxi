# -- Eligibility --------------------------------------------------------------------------------
# A packet's placement rules checked against every member in one pass, in the scheduler's order:
# each member gets the code of the first rule it fails (0 when it passes). RULES names the codes.

RULES = ("", "missing_capability", "no_capacity:cpu", "no_capacity:memory",
         "trust_below_minimum", "region_not_allowed", "pii_not_cleared")


cdef Py_ssize_t eligibility_pass(const uint8_t[::1] capable, const double[::1] cpu_room,
                                 const double[::1] memory_room, const double[::1] trust,
                                 const int32_t[::1] region, const uint8_t[::1] pii_cleared,
                                 double cpu, double memory, double minimum_trust,
                                 const uint8_t[::1] allowed, bint need_pii,
                                 uint8_t[::1] rules) noexcept nogil:
    cdef Py_ssize_t i, eligible = 0
    cdef Py_ssize_t n_regions = allowed.shape[0]
    cdef int32_t code
    cdef uint8_t rule
    for i in range(rules.shape[0]):
        code = region[i]
        if not capable[i]:
            rule = 1
        elif cpu > cpu_room[i]:
            rule = 2
        elif memory > memory_room[i]:
            rule = 3
        elif trust[i] < minimum_trust:
            rule = 4
        elif n_regions and (code < 0 or code >= n_regions or not allowed[code]):
            rule = 5
        elif need_pii and not pii_cleared[i]:
            rule = 6
        else:
            rule = 0
            eligible += 1
        rules[i] = rule
    return eligible



def eligibility(capable, cpu_room, memory_room, trust, region, pii_cleared, cpu, memory,
                minimum_trust, allowed_regions, need_pii, rules):
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
    cdef const uint8_t[::1] c = _u8(capable, "capable")
    cdef const double[::1] cr = _f64(cpu_room, "cpu_room")
    cdef const double[::1] mr = _f64(memory_room, "memory_room")
    cdef const double[::1] t = _f64(trust, "trust")
    cdef const int32_t[::1] rg = _i32(region, "region")
    cdef const uint8_t[::1] p = _u8(pii_cleared, "pii_cleared")
    cdef const uint8_t[::1] allowed = _u8(allowed_regions, "allowed_regions")
    _check_buffer(rules, "rules", b"B", 1, _U8, True)
    cdef uint8_t[::1] out = rules
    _check_lengths("member", ("capable", "cpu_room", "memory_room", "trust", "region",
                              "pii_cleared", "rules"),
                   (c.shape[0], cr.shape[0], mr.shape[0], t.shape[0], rg.shape[0], p.shape[0],
                    out.shape[0]))
    cdef double need_cpu = _real(cpu, "cpu")
    cdef double need_memory = _real(memory, "memory")
    cdef double least_trust = _real(minimum_trust, "minimum_trust")
    return eligibility_pass(c, cr, mr, t, rg, p, need_cpu, need_memory, least_trust, allowed,
                            bool(need_pii), out)
