# C-level declarations of the compiled kernel, so other Cython modules can cimport the hash, the
# Ring, the scorers and the eligibility pass and call them without going through Python. Every
# function here, and every Ring method marked nogil, touches no Python object: callers check
# buffers and lengths first (see the def wrappers in the include files).

cimport cython
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t


cdef uint32_t murmur3_32(const unsigned char* data, Py_ssize_t n, uint32_t seed) noexcept nogil

# A ring built once (see Ring in _ring.pxi), or made from another by Ring.updated. Immutable
# after construction, so its nogil methods may run in any number of threads at once. Final: its C
# methods are called directly, without a virtual table, and the inline ones are inlined.
@cython.final
cdef class Ring:
    cdef readonly tuple members
    cdef readonly Py_ssize_t vnodes
    cdef readonly int bucket_bits
    # Each vnode as (token << 32 | member), ascending, then _SCAN sentinels of UINT64_MAX.
    cdef uint64_t* _placed
    cdef Py_ssize_t _n  # vnodes, without the sentinels
    # _starts[b]: the first vnode whose token is >= b << _shift, for every bucket b and one past
    # the last (= _n); a bucket is the top bucket_bits bits of a token.
    cdef uint32_t* _starts
    cdef int _shift
    cdef tuple _indices  # (0, 1, ..., len(members) - 1): the ints lookups return

    # The first vnode whose token is >= key, wrapping to 0; the ring must not be empty.
    # Take ownership of a packed, sorted buffer and build the bucket index over it.
    cdef int _adopt(self, list ids, uint64_t* placed, Py_ssize_t n) except -1
    cdef inline Py_ssize_t position(self, uint32_t key) noexcept nogil
    # The member of the first vnode clockwise from key whose member is eligible (everyone when
    # eligible is NULL; else one byte per member), or -1.
    cdef inline int32_t owner(self, uint32_t key, const uint8_t* eligible) noexcept nogil
    cdef int32_t _walk(self, Py_ssize_t p, const uint8_t* eligible) noexcept nogil
    cdef const uint8_t* _eligible(self, object eligible, Py_buffer* view) except? NULL
    cdef object _owner_among(self, uint32_t key, object eligible)
    cdef inline object _index(self, int32_t member)
    cdef void _lookup_keys(self, const uint32_t[::1] keys, const uint8_t* eligible,
                           const Py_ssize_t* table, int32_t[::1] out) noexcept nogil
    cdef inline void _prefetch(self, uint32_t far, uint32_t near) noexcept nogil
    cdef Py_ssize_t* _eligible_table(self, const uint8_t* eligible) except NULL
    cdef void _lookup_bounded(self, const uint32_t[::1] keys, const Py_ssize_t* table,
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

# Eligibility: the RULES code of the first rule each member fails into rules (0 = eligible); an
# empty allowed table allows every region. Returns how many members are eligible.
cdef Py_ssize_t eligibility_pass(const uint8_t[::1] capable, const double[::1] cpu_room,
                                 const double[::1] memory_room, const double[::1] trust,
                                 const int32_t[::1] region, const uint8_t[::1] pii_cleared,
                                 double cpu, double memory, double minimum_trust,
                                 const uint8_t[::1] allowed, bint need_pii,
                                 uint8_t[::1] rules) noexcept nogil
