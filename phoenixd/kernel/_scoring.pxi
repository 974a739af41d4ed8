# -- Scoring ------------------------------------------------------------------------------------
# Both scorers return the best eligible member, ties to the lowest index, and fill ``scores`` (NaN
# where ineligible) unless it is NULL. A bad input stops the loop: -2 for a negative load, -3 for
# a NaN score, with the member in *bad. These loops run with the GIL held: they take microseconds,
# less than the wait to take the GIL back could be.

cdef Py_ssize_t trust_scores(const double[::1] reliability, const double[::1] trust,
                             const double[::1] load, const uint8_t[::1] eligible,
                             double* scores, Py_ssize_t* bad) noexcept nogil:
    cdef Py_ssize_t i
    cdef Py_ssize_t best = -1
    cdef double score, best_score = 0.0
    for i in range(eligible.shape[0]):
        if not eligible[i]:
            if scores != NULL:
                scores[i] = NAN
            continue
        if load[i] < 0.0:
            bad[0] = i
            return -2
        score = (reliability[i] * trust[i]) / (1.0 + load[i])
        if isnan(score):
            bad[0] = i
            return -3
        if scores != NULL:
            scores[i] = score
        if best < 0 or score > best_score:
            best = i
            best_score = score
    return best


cdef Py_ssize_t binpack_scores(const double[::1] free_cpu, const double[::1] free_memory,
                               const uint8_t[::1] eligible, bint pack, double* scores,
                               Py_ssize_t* bad) noexcept nogil:
    cdef Py_ssize_t i
    cdef Py_ssize_t best = -1
    cdef double score, best_score = 0.0
    for i in range(eligible.shape[0]):
        if not eligible[i]:
            if scores != NULL:
                scores[i] = NAN
            continue
        score = free_cpu[i] + free_memory[i]
        if isnan(score):
            bad[0] = i
            return -3
        if scores != NULL:
            scores[i] = score
        if best < 0 or (score < best_score if pack else score > best_score):
            best = i
            best_score = score
    return best


cdef object _trust(reliability, trust, load, eligible, bint want_scores):
    # The one implementation of argmax_trust (returns the index) and scores_trust (the scores).
    cdef const double[::1] r = _f64(reliability, "reliability")
    cdef const double[::1] t = _f64(trust, "trust")
    cdef const double[::1] ld = _f64(load, "load")
    cdef const uint8_t[::1] e = _u8(eligible, "eligible")
    _check_lengths("member", ("reliability", "trust", "load", "eligible"),
                   (r.shape[0], t.shape[0], ld.shape[0], e.shape[0]))
    cdef array scores = clone(_DOUBLE_ARRAY, e.shape[0], False) if want_scores else None
    cdef Py_ssize_t bad = 0
    cdef Py_ssize_t best = trust_scores(r, t, ld, e, scores.data.as_doubles if want_scores else NULL,
                                        &bad)
    if best == -2:
        raise ValueError(f"load[{bad}] is {ld[bad]!r}; loads must be >= 0")
    if best == -3:
        raise ValueError(f"score of member {bad} is NaN "
                         f"(reliability={r[bad]!r}, trust={t[bad]!r}, load={ld[bad]!r})")
    return scores if want_scores else best


cdef object _binpack(free_cpu_fraction, free_memory_fraction, eligible, bint pack,
                     bint want_scores):
    # The one implementation of argmax_binpack and scores_binpack.
    cdef const double[::1] c = _f64(free_cpu_fraction, "free_cpu_fraction")
    cdef const double[::1] mem = _f64(free_memory_fraction, "free_memory_fraction")
    cdef const uint8_t[::1] e = _u8(eligible, "eligible")
    _check_lengths("member", ("free_cpu_fraction", "free_memory_fraction", "eligible"),
                   (c.shape[0], mem.shape[0], e.shape[0]))
    cdef array scores = clone(_DOUBLE_ARRAY, e.shape[0], False) if want_scores else None
    cdef Py_ssize_t bad = 0
    cdef Py_ssize_t best = binpack_scores(c, mem, e, pack,
                                          scores.data.as_doubles if want_scores else NULL, &bad)
    if best == -3:
        raise ValueError(f"score of member {bad} is NaN "
                         f"(free_cpu_fraction={c[bad]!r}, free_memory_fraction={mem[bad]!r})")
    return scores if want_scores else best


def argmax_trust(reliability, trust, load, eligible):
    """Return the eligible member with the highest ``reliability * trust / (1 + load)``.

    Args:
        reliability, trust, load: float64 buffers (typecode 'd'), one item per member; loads of
            eligible members must be >= 0.
        eligible: one byte per member, nonzero if the member may be picked.

    Returns:
        The member index (ties to the lowest), or -1 if none is eligible.
    """
    return _trust(reliability, trust, load, eligible, False)


def scores_trust(reliability, trust, load, eligible):
    """Return every member's ``argmax_trust`` score as ``array('d')``, NaN where ineligible."""
    return _trust(reliability, trust, load, eligible, True)


def argmax_binpack(free_cpu_fraction, free_memory_fraction, eligible, pack):
    """Return the eligible member whose ``free_cpu_fraction + free_memory_fraction`` is best.

    Args:
        free_cpu_fraction, free_memory_fraction: float64 buffers (typecode 'd'), one per member.
        eligible: one byte per member, nonzero if the member fits the work (the caller filters).
        pack: True picks the lowest score (the fullest member that fits, packing work tightly),
            False the highest (spreading it).

    Returns:
        The member index (ties to the lowest), or -1 if none is eligible.
    """
    return _binpack(free_cpu_fraction, free_memory_fraction, eligible, pack, False)


def scores_binpack(free_cpu_fraction, free_memory_fraction, eligible):
    """Return every member's ``argmax_binpack`` score as ``array('d')``, NaN where ineligible."""
    return _binpack(free_cpu_fraction, free_memory_fraction, eligible, False, True)



def top_scores(scores, eligible, k):
    """Return the indices of the ``k`` best-scoring eligible members as ``array('i')``.

    Best first; equal scores keep index order. Scores of eligible members must not be NaN.
    """
    cdef const double[::1] s = _f64(scores, "scores")
    cdef const uint8_t[::1] e = _u8(eligible, "eligible")
    _check_lengths("member", ("scores", "eligible"), (s.shape[0], e.shape[0]))
    wanted = PyNumber_Index(k)
    if wanted < 0:
        raise ValueError(f"k must be >= 0, got {wanted}")
    cdef Py_ssize_t count = min(wanted, e.shape[0])
    cdef array best = clone(_INT32_ARRAY, count, False)
    cdef int* index = best.data.as_ints
    cdef double* value = <double*>PyMem_Malloc(max(count, 1) * sizeof(double))
    if value == NULL:
        raise MemoryError()
    cdef Py_ssize_t i, j, n = 0
    cdef double score
    try:
        for i in range(e.shape[0]):
            if not e[i]:
                continue
            score = s[i]
            if isnan(score):
                raise ValueError(f"scores[{i}] is NaN for an eligible member")
            if n == count and (count == 0 or score <= value[n - 1]):
                continue
            j = n if n < count else count - 1  # the slot it enters, then shifted up past worse scores
            while j > 0 and value[j - 1] < score:
                value[j] = value[j - 1]
                index[j] = index[j - 1]
                j -= 1
            value[j] = score
            index[j] = <int>i
            if n < count:
                n += 1
    finally:
        PyMem_Free(value)
    if n < count:
        del best[n:]
    return best
