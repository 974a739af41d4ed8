# C-level declarations of the ring kernel, so other Cython modules can cimport the hash, the ring
# walk and the scorers and call them without going through Python. Every function here touches
# no Python object: callers check buffers and lengths first (see the def wrappers in _ring.pyx).

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t


cdef uint32_t murmur3_32(const unsigned char* data, Py_ssize_t n, uint32_t seed) noexcept nogil

# Ring lookups. tokens ascending, owners aligned with them; an owner outside [0, n_members) is
# reported (ring_walk: -2 and *bad; ring_next_eligible: its position) rather than read past.
cdef Py_ssize_t ring_bisect(const uint32_t* tokens, Py_ssize_t n, uint32_t key) noexcept nogil
cdef int32_t ring_walk(const uint32_t* tokens, const int32_t* owners, Py_ssize_t n,
                       const uint8_t* eligible, Py_ssize_t n_members, uint32_t key,
                       Py_ssize_t* bad) noexcept nogil
cdef Py_ssize_t ring_next_eligible(const int32_t[::1] owners, const uint8_t[::1] eligible,
                                   Py_ssize_t* table) noexcept nogil
cdef void ring_lookup_keys(const uint32_t[::1] tokens, const int32_t[::1] owners,
                           const Py_ssize_t* table, const uint32_t[::1] keys,
                           int32_t[::1] out) noexcept nogil
cdef void ring_lookup_bounded(const uint32_t[::1] tokens, const int32_t[::1] owners,
                              const Py_ssize_t* table, const uint32_t[::1] keys,
                              int32_t[::1] loads, double epsilon, Py_ssize_t n_eligible,
                              int64_t total, int32_t[::1] out) noexcept nogil

# Scorers: the best eligible member (-1 if none), scores filled unless NULL; -2 (negative load)
# or -3 (NaN score) with the member in *bad.
cdef Py_ssize_t trust_scores(const double[::1] reliability, const double[::1] trust,
                             const double[::1] load, const uint8_t[::1] eligible,
                             double* scores, Py_ssize_t* bad) noexcept nogil
cdef Py_ssize_t binpack_scores(const double[::1] free_cpu, const double[::1] free_memory,
                               const uint8_t[::1] eligible, bint pack, double* scores,
                               Py_ssize_t* bad) noexcept nogil
