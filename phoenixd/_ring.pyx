"""Compiled ring kernel: MurmurHash3 x86_32, the consistent-hash ring, and the member scorers."""

# Why murmur3: it is fast (a few multiplies and rotates per 4 bytes), it avalanches well, so vnode
# positions spread evenly over the 32-bit ring, and it is small enough to be written identically in
# C and in Python (see _ring_py.py), so both kernels place every key at the same point. The product
# docs' "MD5 mod 10000" is only a UI illustration: a 10,000-point space collides quickly and MD5 is
# far slower than needed.
#
# Written from the algorithm's definition (Austin Appleby, public domain). Blocks are read
# byte-wise as little-endian, so the result is the same on every platform and alignment is never
# an issue.
#
# Every function is mirrored line for line by _ring_py.py: same results, same errors in the same
# order (argument types in argument order, then lengths, then values), so nothing can come to
# depend on which kernel is active. Single calls read their buffers through Py_buffer (a typed
# memoryview costs more to acquire than the lookup itself); batch calls check them the same way
# and then loop over typed memoryviews.

cimport cython
from cpython.array cimport array, clone
from cpython.buffer cimport (
    PyBUF_FULL_RO, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer,
)
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.mem cimport PyMem_Calloc, PyMem_Free, PyMem_Malloc
from cpython.number cimport PyNumber_Index
from cpython.tuple cimport PyTuple_GET_ITEM
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.math cimport NAN, isnan
from libc.stdint cimport (
    INT32_MAX, UINT32_MAX, UINT64_MAX, int32_t, int64_t, uint8_t, uint32_t, uint64_t,
)
from libc.stdlib cimport qsort
from libc.string cimport memcpy, memset, strcmp

__all__ = [
    "DEFAULT_VNODES", "KERNEL", "RULES", "Ring", "argmax_binpack", "argmax_trust", "eligibility",
    "hash32", "hash32_many", "lookup", "lookup_bounded", "lookup_many", "ring_tokens",
    "scores_binpack", "scores_trust", "top_scores",
]

KERNEL = "compiled"

# Vnodes per member. A member's share of the ring is the sum of `vnodes` random arcs, so its
# spread falls as 1/sqrt(vnodes). Measured with 100,000 keys over 200 sets of member ids: at 100
# members the coefficient of variation of keys per member is 0.13 with 64 vnodes, 0.09 with 128
# and 0.07 with 256, and the busiest member carries 1.35x, 1.25x and 1.18x the average (the bounds
# in tests/test_ring_balance.py). Memory (8 bytes a vnode) and build time grow linearly: at 1,000
# members 128 vnodes take 1 MiB and about 15 ms to build. 256 buys a third less spread for twice
# both, and lookup_bounded caps the busiest member anyway; 64 leaves the busiest member a third
# over the average. Changing it moves keys: every process that must agree on placement has to
# build its ring with the same value.
DEFAULT_VNODES = 128

# Releasing the GIL is cheap, but taking it back waits for whichever thread holds it (up to the
# 5 ms switch interval), so only loops of this many items or more let other threads run meanwhile.
cdef Py_ssize_t _NOGIL_MIN_ITEMS = 1 << 14

# Templates that clone() copies the typecode from when allocating results.
cdef array _UINT32_ARRAY = array("I")
cdef array _INT32_ARRAY = array("i")
cdef array _DOUBLE_ARRAY = array("d")

_U32 = "a contiguous 1-D buffer of uint32 (array typecode 'I')"
_I32 = "a contiguous 1-D buffer of int32 (array typecode 'i')"
_U8 = "a contiguous 1-D buffer of uint8 (bytes, bytearray or array typecode 'B')"
_F64 = "a contiguous 1-D buffer of float64 (array typecode 'd')"

# A key's UTF-8 (or raw) bytes, borrowed from a Python object that the caller keeps alive.
cdef struct _KeyView:
    const unsigned char* data
    Py_ssize_t size


cdef inline uint32_t _rotl32(uint32_t x, int r) noexcept nogil:
    return (x << r) | (x >> (32 - r))


cdef inline uint32_t _mix_k(uint32_t k) noexcept nogil:
    # The algorithm's constants carry a "U" suffix so Cython emits C unsigned literals; without it
    # a literal above INT_MAX would be a Python int, which nogil code cannot touch.
    k *= 0xCC9E2D51U
    k = _rotl32(k, 15)
    k *= 0x1B873593U
    return k


cdef inline uint32_t _fmix32(uint32_t h) noexcept nogil:
    # Final avalanche: makes every input bit affect every output bit.
    h ^= h >> 16
    h *= 0x85EBCA6BU
    h ^= h >> 13
    h *= 0xC2B2AE35U
    h ^= h >> 16
    return h


cdef uint32_t murmur3_32(const unsigned char* data, Py_ssize_t n, uint32_t seed) noexcept nogil:
    cdef uint32_t h = seed
    cdef uint32_t k
    cdef Py_ssize_t end = n & ~(<Py_ssize_t>3)  # length of the whole 4-byte blocks
    cdef Py_ssize_t i = 0
    cdef Py_ssize_t rest = n & 3

    while i < end:
        # Each byte is widened to uint32_t before shifting: shifting a promoted (signed) int
        # left by 24 would overflow for bytes >= 0x80.
        k = (<uint32_t>data[i]
             | (<uint32_t>data[i + 1] << 8)
             | (<uint32_t>data[i + 2] << 16)
             | (<uint32_t>data[i + 3] << 24))
        h ^= _mix_k(k)
        h = _rotl32(h, 13)
        h = h * 5U + 0xE6546B64U
        i += 4

    # The 1-3 trailing bytes are mixed into k but, unlike blocks, not rotated into h.
    k = 0
    if rest == 3:
        k ^= <uint32_t>data[end + 2] << 16
    if rest >= 2:
        k ^= <uint32_t>data[end + 1] << 8
    if rest >= 1:
        k ^= <uint32_t>data[end]
        h ^= _mix_k(k)

    # The reference mixes in the length as a 32-bit value; wrap the same way.
    h ^= <uint32_t>n
    return _fmix32(h)


# -- Argument checks (Python level; each message is the pure twin's, word for word) -------------

cdef inline int64_t _check_u32(object value, str name) except -1:
    # Returned as int64 so that -1, never a valid result, can signal the exception unambiguously.
    # Inline, for the common case of an int in range: single lookups spend more time here than
    # on the ring.
    cdef int overflow = 0
    cdef long long v
    if PyLong_CheckExact(value):
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if not overflow and 0 <= v <= <long long>UINT32_MAX:
            return <int64_t>v
    return _check_u32_slow(value, name)


cdef int64_t _check_u32_slow(object value, str name) except -1:
    cdef object number = PyNumber_Index(value)  # TypeError for non-integers, as range() does
    cdef int overflow = 0
    cdef long long v = PyLong_AsLongLongAndOverflow(number, &overflow)
    # UINT32_MAX, not the literal 0xFFFFFFFF: a literal above INT_MAX would be a Python int, and
    # the comparison a Python one.
    if overflow or v < 0 or v > <long long>UINT32_MAX:
        raise ValueError(f"{name} must be in [0, 2**32), got {number}")
    return <int64_t>v


cdef int _get_buffer(object obj, Py_buffer* view, str name, const char* fmt, Py_ssize_t itemsize,
                     str what, bint writable) except -1:
    # On success the caller owns the view and must PyBuffer_Release it; on failure view.obj is
    # NULL, which PyBuffer_Release accepts, so callers can release every view in one finally.
    memset(view, 0, sizeof(Py_buffer))  # view.obj = NULL, without Cython counting a reference
    if not PyObject_CheckBuffer(obj):
        raise TypeError(f"{name} must be {what}, not {type(obj).__name__}")
    PyObject_GetBuffer(obj, view, PyBUF_FULL_RO)  # the request memoryview() makes
    cdef const char* got = view.format
    if got == NULL:
        got = b"B"  # what a NULL format means
    cdef str problem = None
    if view.ndim != 1:
        problem = f"a {view.ndim}-D {type(obj).__name__}"
    elif strcmp(got, fmt) != 0 or view.itemsize != itemsize:
        problem = f"{type(obj).__name__} of format {got.decode('ascii', 'replace')!r}"
    elif view.strides[0] != itemsize or view.suboffsets != NULL:
        problem = f"a strided {type(obj).__name__}"
    elif writable and view.readonly:
        problem = f"a read-only {type(obj).__name__}"
    if problem is not None:
        PyBuffer_Release(view)
        raise TypeError(f"{name} must be {'writable, ' if writable else ''}{what}, not {problem}")
    return 0


cdef int _check_buffer(object obj, str name, const char* fmt, Py_ssize_t itemsize, str what,
                       bint writable=False) except -1:
    cdef Py_buffer view
    _get_buffer(obj, &view, name, fmt, itemsize, what, writable)
    PyBuffer_Release(&view)
    return 0


cdef const uint32_t[::1] _u32(object obj, str name):
    _check_buffer(obj, name, b"I", 4, _U32)
    return obj


cdef const int32_t[::1] _i32(object obj, str name):
    _check_buffer(obj, name, b"i", 4, _I32)
    return obj


cdef const uint8_t[::1] _u8(object obj, str name):
    _check_buffer(obj, name, b"B", 1, _U8)
    return obj


cdef const double[::1] _f64(object obj, str name):
    _check_buffer(obj, name, b"d", 8, _F64)
    return obj


cdef int _check_lengths(str per, tuple names, tuple lengths) except -1:
    if lengths.count(lengths[0]) != len(lengths):
        raise ValueError(f"{_join(names)} must have one item per {per}, "
                         f"got lengths {_join(tuple([str(n) for n in lengths]))}")
    return 0


cdef str _join(tuple words):
    cdef Py_ssize_t last = len(words) - 1
    return ", ".join(words[:last]) + " and " + words[last]


cdef object _checked_out(object out, Py_ssize_t n, str fmt, str what):
    # Validated by hand so a bad buffer gets the same message as from the pure twin.
    cdef memoryview mv = memoryview(out)
    if mv.readonly:
        raise ValueError("out must be writable")
    if mv.ndim != 1 or mv.format != fmt or mv.itemsize != 4 or not mv.c_contiguous:
        raise ValueError(f"out must be {what}")
    if len(mv) != n:
        raise ValueError(f"out has {len(mv)} items, expected {n}")
    return mv


cdef object _bad_owner(Py_ssize_t position, int32_t member, Py_ssize_t n_members):
    return ValueError(f"owners[{position}] is {member}, not a member index in [0, {n_members})")


# -- Hashing ------------------------------------------------------------------------------------

cdef int _view_key(object key, _KeyView* view, Py_ssize_t index) except -1:
    # Borrows the key's bytes: for str, CPython's cached UTF-8 form, which costs no copy for ASCII
    # text (the common case for member ids); a non-ASCII str keeps its UTF-8 copy as long as it
    # lives, as after any PyUnicode_AsUTF8 call.
    # ``index`` is the key's position in a batch, or -1 for a single key; it only names the key
    # in the error, which is formatted here so the hot path builds no strings.
    cdef Py_ssize_t size = 0
    if isinstance(key, bytes):
        view.data = <const unsigned char*>PyBytes_AS_STRING(key)
        view.size = PyBytes_GET_SIZE(key)
    elif isinstance(key, str):
        view.data = <const unsigned char*>PyUnicode_AsUTF8AndSize(key, &size)
        view.size = size
    else:
        where = "key" if index < 0 else f"keys[{index}]"
        raise TypeError(f"{where} must be str or bytes, not {type(key).__name__}")
    return 0


def hash32(key, seed=0):
    """Return the 32-bit MurmurHash3 of ``key`` (str is hashed as its UTF-8 bytes)."""
    cdef uint32_t s = <uint32_t>_check_u32(seed, "seed")
    cdef _KeyView view
    _view_key(key, &view, -1)
    return murmur3_32(view.data, view.size, s)


def hash32_many(keys, seed=0, *, out=None):
    """Return the hashes of a batch of keys, one Python call for the whole batch.

    Args:
        keys: the keys, each str (hashed as UTF-8) or bytes.
        seed: the hash seed, an integer in [0, 2**32).
        out: optional writable uint32 buffer (typecode 'I') of len(keys) items to fill.

    Returns:
        ``out`` if given, else a new ``array.array('I')``.
    """
    cdef uint32_t s = <uint32_t>_check_u32(seed, "seed")
    if isinstance(keys, (str, bytes)):
        # Both are sequences themselves; hashing their characters is never what was meant.
        raise TypeError(f"keys must be a sequence of keys, not a single {type(keys).__name__}")
    # Our own list of the keys: it keeps every borrowed buffer alive while the GIL is released,
    # even if another thread mutates the caller's sequence meanwhile.
    cdef list items = list(keys)
    cdef Py_ssize_t n = len(items)
    cdef uint32_t[::1] dst
    cdef Py_ssize_t i
    cdef _KeyView* views = <_KeyView*>PyMem_Malloc(max(n, 1) * sizeof(_KeyView))
    if views == NULL:
        raise MemoryError()
    try:
        if out is None:
            out = clone(_UINT32_ARRAY, n, False)
            dst = out
        else:
            dst = _checked_out(out, n, "I", _U32)
        for i in range(n):
            _view_key(items[i], &views[i], i)
        with nogil:
            for i in range(n):
                dst[i] = murmur3_32(views[i].data, views[i].size, s)
    finally:
        PyMem_Free(views)
    return out


# -- Ring construction --------------------------------------------------------------------------

cdef int _cmp_u64(const void* a, const void* b) noexcept nogil:
    cdef uint64_t x = (<const uint64_t*>a)[0]
    cdef uint64_t y = (<const uint64_t*>b)[0]
    return (x > y) - (x < y)


cdef void _place_vnodes(const _KeyView* ids, Py_ssize_t n, Py_ssize_t vnodes,
                        unsigned char* buf, uint64_t* placed) noexcept nogil:
    # Hashes "<member id>#<i>" for every vnode, writing the id once per member and only the
    # decimal suffix per vnode. Each entry is (token << 32 | member), so sorting the integers
    # sorts by token and breaks ties by member index.
    cdef Py_ssize_t m, i, size, ndigits, d
    cdef Py_ssize_t rest
    cdef unsigned char digits[20]
    for m in range(n):
        size = ids[m].size
        memcpy(buf, ids[m].data, size)
        buf[size] = 35  # '#'
        for i in range(vnodes):
            ndigits = 0
            rest = i
            while True:
                digits[ndigits] = <unsigned char>(48 + rest % 10)  # '0' + digit
                ndigits += 1
                rest //= 10
                if rest == 0:
                    break
            for d in range(ndigits):
                buf[size + 1 + d] = digits[ndigits - 1 - d]
            placed[m * vnodes + i] = ((<uint64_t>murmur3_32(buf, size + 1 + ndigits, 0) << 32)
                                      | <uint64_t>m)


cdef void _sort_vnodes(const _KeyView* ids, Py_ssize_t n, Py_ssize_t vnodes, unsigned char* buf,
                       uint64_t* placed) noexcept nogil:
    _place_vnodes(ids, n, vnodes, buf, placed)
    qsort(placed, <size_t>(n * vnodes), sizeof(uint64_t), _cmp_u64)


cdef list _member_list(object member_ids):
    if isinstance(member_ids, (str, bytes)):
        raise TypeError(
            f"member_ids must be a sequence of str, not a single {type(member_ids).__name__}"
        )
    return list(member_ids)


cdef uint64_t* _sorted_vnodes(list ids, object vnodes, Py_ssize_t spare,
                              Py_ssize_t* count) except NULL:
    # The ring of ring_tokens as packed (token << 32 | member) integers, ascending, followed by
    # `spare` entries of UINT64_MAX (above every real entry); its length without them goes in
    # *count. The caller owns the buffer and must PyMem_Free it.
    cdef object v = PyNumber_Index(vnodes)
    if v < 1:
        raise ValueError(f"vnodes must be >= 1, got {v}")
    cdef Py_ssize_t n = len(ids)
    if n * v > INT32_MAX:
        raise ValueError(f"{n} members x {v} vnodes is more than 2**31 - 1 vnodes")
    cdef Py_ssize_t per = v
    cdef Py_ssize_t total = n * per
    cdef Py_ssize_t m, p, longest = 0
    cdef dict seen = {}
    cdef _KeyView* views = <_KeyView*>PyMem_Malloc(max(n, 1) * sizeof(_KeyView))
    cdef uint64_t* placed = NULL
    cdef unsigned char* buf = NULL
    if views == NULL:
        raise MemoryError()
    try:
        for m in range(n):
            member = ids[m]
            if not isinstance(member, str):
                raise TypeError(f"member_ids[{m}] must be str, not {type(member).__name__}")
            first = seen.setdefault(member, m)
            if first != m:
                raise ValueError(f"member_ids[{m}] repeats member_ids[{first}] ({member!r})")
            _view_key(member, &views[m], m)
            longest = max(longest, views[m].size)
        placed = <uint64_t*>PyMem_Malloc(max(total + spare, 1) * sizeof(uint64_t))
        buf = <unsigned char*>PyMem_Malloc(longest + 21)  # id, '#', up to 19 digits, spare
        if placed == NULL or buf == NULL:
            raise MemoryError()
        if total >= _NOGIL_MIN_ITEMS:
            with nogil:
                _sort_vnodes(views, n, per, buf, placed)
        else:
            _sort_vnodes(views, n, per, buf, placed)
        for p in range(total, total + spare):
            placed[p] = UINT64_MAX
    except BaseException:
        PyMem_Free(placed)
        raise
    finally:
        PyMem_Free(views)
        PyMem_Free(buf)
    count[0] = total
    return placed


def ring_tokens(member_ids, vnodes):
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
    cdef Py_ssize_t total = 0
    cdef uint64_t* placed = _sorted_vnodes(_member_list(member_ids), vnodes, 0, &total)
    try:
        return _split_tokens(placed, total), _split_owners(placed, total)
    finally:
        PyMem_Free(placed)


cdef array _split_tokens(const uint64_t* placed, Py_ssize_t n):
    cdef array tokens = clone(_UINT32_ARRAY, n, False)
    cdef Py_ssize_t p
    for p in range(n):
        tokens.data.as_uints[p] = <uint32_t>(placed[p] >> 32)
    return tokens


cdef array _split_owners(const uint64_t* placed, Py_ssize_t n):
    cdef array owners = clone(_INT32_ARRAY, n, False)
    cdef Py_ssize_t p
    for p in range(n):
        owners.data.as_ints[p] = <int32_t>(placed[p] & 0xFFFFFFFFU)
    return owners


# -- Lookups ------------------------------------------------------------------------------------

cdef Py_ssize_t ring_bisect(const uint32_t* tokens, Py_ssize_t n, uint32_t key) noexcept nogil:
    # bisect.bisect_left probe for probe, so both twins agree even on a ring that is not sorted.
    cdef Py_ssize_t lo = 0
    cdef Py_ssize_t hi = n
    cdef Py_ssize_t mid
    while lo < hi:
        mid = <Py_ssize_t>((<size_t>lo + <size_t>hi) // 2)
        if tokens[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef int32_t ring_walk(const uint32_t* tokens, const int32_t* owners, Py_ssize_t n,
                       const uint8_t* eligible, Py_ssize_t n_members, uint32_t key,
                       Py_ssize_t* bad) noexcept nogil:
    # The owner of the first eligible vnode clockwise from key, or -1; -2 with *bad set to the
    # position of an owner that is not a member index (checked only where the walk goes).
    cdef Py_ssize_t p = ring_bisect(tokens, n, key)
    cdef Py_ssize_t steps = 0
    cdef int32_t m
    while steps < n:
        steps += 1
        if p == n:
            p = 0
        m = owners[p]
        if m < 0 or m >= n_members:
            bad[0] = p
            return -2
        if eligible[m]:
            return m
        p += 1
    return -1


def lookup(tokens, owners, key_hash, eligible):
    """Return the member owning ``key_hash``: the first eligible vnode clockwise from it.

    Args:
        tokens: the ring's tokens, ascending, as from ring_tokens (not checked).
        owners: the member index of each token.
        key_hash: the key's hash32, in [0, 2**32).
        eligible: one byte per member, nonzero if the member may take keys.

    Returns:
        The member index, or -1 if the ring is empty or no vnode's member is eligible.
    """
    cdef Py_buffer tok, own, elig
    cdef Py_ssize_t bad = 0
    cdef int32_t found
    cdef uint32_t key
    # Zeroed so the finally can release all three whichever check fails.
    memset(&tok, 0, sizeof(Py_buffer))
    memset(&own, 0, sizeof(Py_buffer))
    memset(&elig, 0, sizeof(Py_buffer))
    try:
        _get_buffer(tokens, &tok, "tokens", b"I", 4, _U32, False)
        _get_buffer(owners, &own, "owners", b"i", 4, _I32, False)
        key = <uint32_t>_check_u32(key_hash, "key_hash")
        _get_buffer(eligible, &elig, "eligible", b"B", 1, _U8, False)
        _check_lengths("vnode", ("tokens", "owners"), (tok.shape[0], own.shape[0]))
        found = ring_walk(<const uint32_t*>tok.buf, <const int32_t*>own.buf, tok.shape[0],
                          <const uint8_t*>elig.buf, elig.shape[0], key, &bad)
        if found == -2:
            raise _bad_owner(bad, (<const int32_t*>own.buf)[bad], elig.shape[0])
        return found
    finally:
        PyBuffer_Release(&tok)
        PyBuffer_Release(&own)
        PyBuffer_Release(&elig)


cdef Py_ssize_t ring_next_eligible(const int32_t[::1] owners, const uint8_t[::1] eligible,
                                   Py_ssize_t* table) noexcept nogil:
    # Fills table[p] with the first position at or clockwise of p whose member is eligible (-1
    # if there is none), so a batch skips ineligible vnodes in one step however many there are.
    # Returns the first position whose owner is not a member index, or -1.
    cdef Py_ssize_t n = owners.shape[0]
    cdef Py_ssize_t n_members = eligible.shape[0]
    cdef Py_ssize_t p
    cdef Py_ssize_t bad = -1
    cdef Py_ssize_t nearest = -1
    cdef int32_t m
    for p in range(n - 1, -1, -1):
        m = owners[p]
        if m < 0 or m >= n_members:
            bad = p
        elif eligible[m]:
            nearest = p
        table[p] = nearest
    if bad >= 0:
        return bad
    # Past the last eligible vnode the walk wraps to the first one, now in `nearest`.
    p = n - 1
    while p >= 0 and table[p] == -1:
        table[p] = nearest
        p -= 1
    return -1


cdef Py_ssize_t* _eligible_table(const int32_t[::1] owners,
                                 const uint8_t[::1] eligible) except NULL:
    # Owned by the caller, who must PyMem_Free it.
    cdef Py_ssize_t n = max(owners.shape[0], 1)
    cdef Py_ssize_t* table = <Py_ssize_t*>PyMem_Malloc(n * sizeof(Py_ssize_t))
    if table == NULL:
        raise MemoryError()
    cdef Py_ssize_t bad = ring_next_eligible(owners, eligible, table)
    if bad >= 0:
        PyMem_Free(table)
        raise _bad_owner(bad, owners[bad], eligible.shape[0])
    return table


cdef void ring_lookup_keys(const uint32_t[::1] tokens, const int32_t[::1] owners,
                           const Py_ssize_t* table, const uint32_t[::1] keys,
                           int32_t[::1] out) noexcept nogil:
    cdef Py_ssize_t n = tokens.shape[0]
    cdef Py_ssize_t i, p
    for i in range(keys.shape[0]):
        if n == 0:
            out[i] = -1
            continue
        p = ring_bisect(&tokens[0], n, keys[i])
        p = table[0 if p == n else p]
        out[i] = owners[p] if p >= 0 else -1


def lookup_many(tokens, owners, key_hashes, eligible, out=None):
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
    cdef const uint32_t[::1] tok = _u32(tokens, "tokens")
    cdef const int32_t[::1] own = _i32(owners, "owners")
    cdef const uint32_t[::1] keys = _u32(key_hashes, "key_hashes")
    cdef const uint8_t[::1] elig = _u8(eligible, "eligible")
    cdef int32_t[::1] dst
    if out is None:
        out = clone(_INT32_ARRAY, keys.shape[0], False)
        dst = out
    else:
        dst = _checked_out(out, keys.shape[0], "i", _I32)
    _check_lengths("vnode", ("tokens", "owners"), (tok.shape[0], own.shape[0]))
    cdef Py_ssize_t* table = _eligible_table(own, elig)
    try:
        if keys.shape[0] >= _NOGIL_MIN_ITEMS:
            with nogil:
                ring_lookup_keys(tok, own, table, keys, dst)
        else:
            ring_lookup_keys(tok, own, table, keys, dst)
    finally:
        PyMem_Free(table)
    return out


cdef void ring_lookup_bounded(const uint32_t[::1] tokens, const int32_t[::1] owners,
                              const Py_ssize_t* table, const uint32_t[::1] keys,
                              int32_t[::1] loads, double epsilon, Py_ssize_t n_eligible,
                              int64_t total, int32_t[::1] out) noexcept nogil:
    cdef Py_ssize_t n = tokens.shape[0]
    cdef Py_ssize_t i, p, steps
    cdef int32_t m
    cdef double cap
    for i in range(keys.shape[0]):
        out[i] = -1
        if n_eligible == 0:
            continue
        # Comparing the integer load with the real cap is the same as comparing it with
        # ceil(cap), and cannot overflow as ceil's integer could.
        cap = (1.0 + epsilon) * <double>(total + 1) / <double>n_eligible
        p = ring_bisect(&tokens[0], n, keys[i])
        p = table[0 if p == n else p]
        steps = 0
        while steps < n:  # always ends early: some eligible member is below the cap
            steps += 1
            m = owners[p]
            if <double>loads[m] < cap:
                loads[m] += 1
                total += 1
                out[i] = m
                break
            p = table[p + 1] if p + 1 < n else table[0]


def lookup_bounded(tokens, owners, key_hashes, eligible, loads, epsilon, out=None):
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
    cdef const uint32_t[::1] tok = _u32(tokens, "tokens")
    cdef const int32_t[::1] own = _i32(owners, "owners")
    cdef const uint32_t[::1] keys = _u32(key_hashes, "key_hashes")
    cdef const uint8_t[::1] elig = _u8(eligible, "eligible")
    _check_buffer(loads, "loads", b"i", 4, _I32, True)
    cdef int32_t[::1] ld = loads
    cdef double eps = _check_epsilon(epsilon)
    cdef int32_t[::1] dst
    if out is None:
        out = clone(_INT32_ARRAY, keys.shape[0], False)
        dst = out
    else:
        dst = _checked_out(out, keys.shape[0], "i", _I32)
    _check_lengths("vnode", ("tokens", "owners"), (tok.shape[0], own.shape[0]))
    _check_lengths("member", ("eligible", "loads"), (elig.shape[0], ld.shape[0]))
    cdef Py_ssize_t* table = _eligible_table(own, elig)
    cdef uint8_t* live = NULL
    cdef Py_ssize_t m, p, n_eligible = 0
    cdef int64_t total = 0
    try:
        for m in range(ld.shape[0]):
            if ld[m] < 0:
                raise ValueError(f"loads[{m}] is {ld[m]}; loads must be >= 0")
        live = <uint8_t*>PyMem_Calloc(max(elig.shape[0], 1), 1)
        if live == NULL:
            raise MemoryError()
        for p in range(own.shape[0]):
            m = own[p]
            if elig[m] and not live[m]:
                live[m] = 1
                n_eligible += 1
                total += ld[m]
        if total + keys.shape[0] > INT32_MAX:
            raise ValueError(f"loads would overflow int32: {total} + {keys.shape[0]} keys")
        if keys.shape[0] >= _NOGIL_MIN_ITEMS:
            with nogil:
                ring_lookup_bounded(tok, own, table, keys, ld, eps, n_eligible, total, dst)
        else:
            ring_lookup_bounded(tok, own, table, keys, ld, eps, n_eligible, total, dst)
    finally:
        PyMem_Free(table)
        PyMem_Free(live)
    return out


cdef double _check_epsilon(object epsilon) except -1.0:
    if not isinstance(epsilon, (int, float)):
        raise TypeError(f"epsilon must be a float, not {type(epsilon).__name__}")
    cdef double value = float(epsilon)  # OverflowError for an int too large, as in float()
    if not value >= 0.0:  # also rejects NaN
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    return value


# -- Ring: the ring built once, with a bucket index ---------------------------------------------
# The module functions above take the ring as two buffers on every call, so each call acquires
# them and binary-searches all of the tokens: about 17 dependent cache misses at 128k vnodes.
# A Ring holds its vnodes in C memory and indexes them by the top bits of the token, so a lookup
# reads one bucket start and one or two cache lines of vnodes, and a single call pays only for
# the Python call and its argument checks.

# Vnodes compared branch-free from a bucket's start (Ring.position writes the four comparisons
# out). A bucket holds 0.5-1 vnodes on average (see _bucket_bits), so at most 1.9% of buckets
# (Poisson, mean 1) hold _SCAN or more and may need the binary search that follows; four 8-byte
# entries span at most two cache lines.
cdef enum:
    _SCAN = 4

# How far ahead batch lookups prefetch (see Ring._prefetch), and the ring size from which they
# do. 16 measured best at 1,000 members (8 and 32 were 5-10% slower); 4,096 vnodes are 32 KiB,
# an L1 data cache.
cdef enum:
    _AHEAD = 16
    _PREFETCH_MIN_VNODES = 4096


cdef int _bucket_bits(Py_ssize_t n) noexcept nogil:
    # The fewest bits, at least 1, giving at least one bucket per vnode: 4 to 8 bytes of index per
    # vnode beside the vnode's own 8 (0.5 MiB at 1,000 members of 128 vnodes). Buckets then hold
    # 0.5-1 vnodes on average, so nearly every lookup finds its vnode among the _SCAN it
    # compares and a cold lookup touches two cache lines. Batches measured the same with half or
    # a quarter of the buckets (prefetching hides the longer searches) and with twice as many;
    # one per vnode keeps the single, cold lookup at two cache lines.
    cdef int bits = 1
    while (<Py_ssize_t>1 << bits) < n:
        bits += 1
    return bits


# binding(False) makes the methods plain C method descriptors, which CPython calls faster than
# Cython's function objects (by about 4 ns, a tenth of a single lookup); embedsignature gives
# them back the signatures that inspect (and the twins' tests) read. The class docstring starts
# with the constructor's signature in the same text-signature form, the only place CPython reads
# it from for a C class.
@cython.final
@cython.binding(False)
@cython.embedsignature(True)
@cython.embedsignature.format("clinic")
cdef class Ring:
    """Ring(member_ids, vnodes=DEFAULT_VNODES)
--

A consistent-hash ring built once from its members, for many lookups.

    Places vnodes exactly as ``ring_tokens`` does and answers exactly as ``lookup``,
    ``lookup_many`` and ``lookup_bounded`` do on that ring, but needs no buffers per call: a
    single lookup costs little more than the Python call itself.

    Args:
        member_ids: distinct member ids (str); a member's index is its position here.
        vnodes: vnodes per member, >= 1.
    """

    def __cinit__(self, member_ids, vnodes=DEFAULT_VNODES):
        # Built in __cinit__, which runs exactly once, so the buffers can never be replaced
        # under a lookup running without the GIL in another thread.
        cdef list ids = _member_list(member_ids)
        cdef Py_ssize_t n = 0
        self._placed = _sorted_vnodes(ids, vnodes, _SCAN, &n)
        self._n = n
        self.members = tuple(ids)
        self._indices = tuple(range(len(ids)))
        self.vnodes = PyNumber_Index(vnodes)
        self.bucket_bits = _bucket_bits(n)
        self._shift = 32 - self.bucket_bits
        cdef Py_ssize_t buckets = <Py_ssize_t>1 << self.bucket_bits
        self._starts = <uint32_t*>PyMem_Calloc(buckets + 1, sizeof(uint32_t))
        if self._starts == NULL:
            raise MemoryError()
        # Count the vnodes per bucket, then a running sum turns counts into start positions.
        cdef Py_ssize_t p, b
        for p in range(n):
            self._starts[(self._placed[p] >> 32) >> self._shift] += 1
        cdef uint32_t start = 0, count
        for b in range(buckets + 1):
            count = self._starts[b]
            self._starts[b] = start
            start += count

    def __init__(self, member_ids, vnodes=DEFAULT_VNODES):
        # Everything is done by __cinit__; this only gives the class its signature.
        pass

    def __dealloc__(self):
        PyMem_Free(self._placed)
        PyMem_Free(self._starts)

    def __reduce__(self):
        return Ring, (self.members, self.vnodes)

    @property
    def tokens(self):
        """The vnodes' tokens, ascending, as ``array('I')`` (a copy, as from ``ring_tokens``)."""
        return _split_tokens(self._placed, self._n)

    @property
    def owners(self):
        """Each vnode's member index, aligned with ``tokens``, as ``array('i')`` (a copy)."""
        return _split_owners(self._placed, self._n)

    cdef inline Py_ssize_t position(self, uint32_t key) noexcept nogil:
        # The first vnode whose token is >= key, wrapping past the top of the ring to 0; the
        # ring must not be empty. Every token before the bucket's start is below key and every
        # token from the next bucket's start is above it, so the answer lies between the two.
        cdef uint32_t b = key >> self._shift
        cdef Py_ssize_t p = self._starts[b]
        cdef const uint64_t* v = self._placed + p
        # An entry is below (key << 32) exactly when its token is below key, whatever its
        # member. Sorted entries make the comparisons a run of trues then falses, so their sum
        # is the offset of the first entry >= key if it lies within _SCAN; the _SCAN sentinels
        # past the end (UINT64_MAX) keep the reads inside the buffer and compare false.
        cdef uint64_t k = <uint64_t>key << 32
        p += (v[0] < k) + (v[1] < k) + (v[2] < k) + (v[3] < k)
        if v[_SCAN - 1] < k:  # a crowded bucket
            p = _bisect_placed(self._placed, p, self._starts[b + 1], k)
        return p if p < self._n else 0

    cdef inline int32_t owner(self, uint32_t key, const uint8_t* eligible) noexcept nogil:
        # The member of the first vnode clockwise from key whose member is eligible (everyone
        # when eligible is NULL), or -1.
        if self._n == 0:
            return -1
        cdef Py_ssize_t p = self.position(key)
        if eligible == NULL:
            return _member(self._placed[p])
        return self._walk(p, eligible)

    cdef int32_t _walk(self, Py_ssize_t p, const uint8_t* eligible) noexcept nogil:
        cdef Py_ssize_t steps = 0
        cdef int32_t m
        while steps < self._n:
            steps += 1
            m = _member(self._placed[p])
            if eligible[m]:
                return m
            p = p + 1 if p + 1 < self._n else 0
        return -1

    cdef const uint8_t* _eligible(self, object eligible, Py_buffer* view) except? NULL:
        # The eligible bytes, NULL for None (everyone). bytes, the common case, is read in place;
        # any other buffer fills *view, which the caller must release (it stays zeroed for None
        # and bytes, so releasing it is always safe).
        cdef Py_ssize_t size
        cdef const uint8_t* data
        memset(view, 0, sizeof(Py_buffer))
        if eligible is None:
            return NULL
        if type(eligible) is bytes:
            size = PyBytes_GET_SIZE(eligible)
            data = <const uint8_t*>PyBytes_AS_STRING(eligible)
        else:
            _get_buffer(eligible, view, "eligible", b"B", 1, _U8, False)
            size = view.shape[0]
            data = <const uint8_t*>view.buf
        _check_per_member("eligible", size, len(self.members))
        return data

    cdef object _owner_among(self, uint32_t key, object eligible):
        # owner() for an eligible buffer that is not None.
        cdef Py_buffer view
        cdef const uint8_t* flags = self._eligible(eligible, &view)
        try:
            return self._index(self.owner(key, flags))
        finally:
            PyBuffer_Release(&view)

    def lookup(self, key_hash, eligible=None):
        """Return the member owning ``key_hash``, as the module's ``lookup`` on this ring.

        Args:
            key_hash: the key's hash32, in [0, 2**32).
            eligible: None (every member may take keys) or one byte per member, nonzero if the
                member may take keys.

        Returns:
            The member index, or -1 if the ring is empty or no member is eligible.
        """
        cdef uint32_t key = <uint32_t>_check_u32(key_hash, "key_hash")
        if eligible is None:  # the common case: no buffer to look at
            return self._index(self.owner(key, NULL))
        return self._owner_among(key, eligible)

    def lookup_key(self, key, eligible=None):
        """Return the member owning ``key``: ``lookup(hash32(key), eligible)`` in one call."""
        cdef _KeyView view
        _view_key(key, &view, -1)
        cdef uint32_t key_hash = murmur3_32(view.data, view.size, 0)
        if eligible is None:
            return self._index(self.owner(key_hash, NULL))
        return self._owner_among(key_hash, eligible)

    cdef inline object _index(self, int32_t member):
        # A shared int, as CPython's small ints are: most member indices at 1,000 members are
        # above the 256 that CPython caches, and creating and freeing an int costs a third of
        # a lookup.
        if member < 0:
            return -1
        return <object>PyTuple_GET_ITEM(self._indices, member)

    def lookup_many(self, key_hashes, eligible=None, *, out=None):
        """Return the owner of each key hash, as ``lookup`` would, in one call.

        Args:
            key_hashes: the keys' hash32 values, a uint32 buffer (typecode 'I').
            eligible: as for ``lookup``.
            out: optional writable int32 buffer (typecode 'i') of len(key_hashes) items to fill.

        Returns:
            ``out`` if given, else a new ``array.array('i')``: a member index per key, -1 where
            none is eligible.
        """
        cdef const uint32_t[::1] keys = _u32(key_hashes, "key_hashes")
        cdef Py_buffer view
        cdef const uint8_t* flags = self._eligible(eligible, &view)
        cdef int32_t[::1] dst
        cdef Py_ssize_t* table = NULL
        try:
            if out is None:
                out = clone(_INT32_ARRAY, keys.shape[0], False)
                dst = out
            else:
                dst = _checked_out(out, keys.shape[0], "i", _I32)
            if flags != NULL and _table_pays(keys.shape[0], flags, len(self.members), self._n):
                table = self._eligible_table(flags)
            if keys.shape[0] >= _NOGIL_MIN_ITEMS:
                with nogil:
                    self._lookup_keys(keys, flags, table, dst)
            else:
                self._lookup_keys(keys, flags, table, dst)
        finally:
            PyMem_Free(table)
            PyBuffer_Release(&view)
        return out

    cdef void _lookup_keys(self, const uint32_t[::1] keys, const uint8_t* eligible,
                           const Py_ssize_t* table, int32_t[::1] out) noexcept nogil:
        cdef Py_ssize_t n_keys = keys.shape[0]
        cdef Py_ssize_t i, p
        # The last _AHEAD keys have no later key to prefetch for. A ring that fits in L1 cache
        # gains nothing from prefetching, and the instructions cost 25% at 10 members.
        cdef Py_ssize_t prefetch_until = (n_keys - _AHEAD if self._n >= _PREFETCH_MIN_VNODES
                                          else 0)
        if self._n == 0:
            for i in range(n_keys):
                out[i] = -1
        elif eligible == NULL:
            for i in range(n_keys):
                if i < prefetch_until:
                    self._prefetch(keys[i + _AHEAD], keys[i + _AHEAD // 2])
                out[i] = _member(self._placed[self.position(keys[i])])
        elif table != NULL:
            for i in range(n_keys):
                if i < prefetch_until:
                    self._prefetch(keys[i + _AHEAD], keys[i + _AHEAD // 2])
                p = table[self.position(keys[i])]
                out[i] = _member(self._placed[p]) if p >= 0 else -1
        else:
            for i in range(n_keys):
                if i < prefetch_until:
                    self._prefetch(keys[i + _AHEAD], keys[i + _AHEAD // 2])
                out[i] = self._walk(self.position(keys[i]), eligible)

    cdef inline void _prefetch(self, uint32_t far, uint32_t near) noexcept nogil:
        # A key's two loads depend on each other (its bucket start, then the vnodes it points
        # at), and at 1,000 members each is a cache miss. Loading them for later keys while
        # this one is worked on overlaps the misses of several keys: the bucket start of the
        # key _AHEAD ahead, and the vnodes of the key half as far ahead, whose bucket start the
        # first prefetch brought in _AHEAD // 2 keys ago. Halves the time per key at 1,000
        # members (4.7 to 2.8 ns).
        _prefetch_line(&self._starts[far >> self._shift])
        _prefetch_line(&self._placed[self._starts[near >> self._shift]])

    cdef Py_ssize_t* _eligible_table(self, const uint8_t* eligible) except NULL:
        # table[p]: the first position at or clockwise of p whose member is eligible, or -1 if
        # none is. Owned by the caller, who must PyMem_Free it.
        cdef Py_ssize_t n = self._n
        cdef Py_ssize_t* table = <Py_ssize_t*>PyMem_Malloc(max(n, 1) * sizeof(Py_ssize_t))
        if table == NULL:
            raise MemoryError()
        cdef Py_ssize_t p, nearest = -1
        for p in range(n - 1, -1, -1):
            if eligible[_member(self._placed[p])]:
                nearest = p
            table[p] = nearest
        # Past the last eligible vnode the walk wraps to the first one, now in `nearest`.
        p = n - 1
        while p >= 0 and table[p] == -1:
            table[p] = nearest
            p -= 1
        return table

    def lookup_bounded(self, key_hashes, loads, epsilon, eligible=None, *, out=None):
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
        cdef const uint32_t[::1] keys = _u32(key_hashes, "key_hashes")
        _check_buffer(loads, "loads", b"i", 4, _I32, True)
        cdef int32_t[::1] ld = loads
        cdef double eps = _check_epsilon(epsilon)
        cdef Py_buffer view
        cdef const uint8_t* flags = self._eligible(eligible, &view)
        cdef int32_t[::1] dst
        cdef Py_ssize_t* table = NULL
        cdef Py_ssize_t m, n_eligible = 0
        cdef int64_t total = 0
        try:
            if out is None:
                out = clone(_INT32_ARRAY, keys.shape[0], False)
                dst = out
            else:
                dst = _checked_out(out, keys.shape[0], "i", _I32)
            _check_per_member("loads", ld.shape[0], len(self.members))
            for m in range(ld.shape[0]):
                if ld[m] < 0:
                    raise ValueError(f"loads[{m}] is {ld[m]}; loads must be >= 0")
                if flags == NULL or flags[m]:
                    n_eligible += 1
                    total += ld[m]
            if total + keys.shape[0] > INT32_MAX:
                raise ValueError(f"loads would overflow int32: {total} + {keys.shape[0]} keys")
            if flags != NULL:
                table = self._eligible_table(flags)
            if keys.shape[0] >= _NOGIL_MIN_ITEMS:
                with nogil:
                    self._lookup_bounded(keys, table, ld, eps, n_eligible, total, dst)
            else:
                self._lookup_bounded(keys, table, ld, eps, n_eligible, total, dst)
        finally:
            PyMem_Free(table)
            PyBuffer_Release(&view)
        return out

    cdef void _lookup_bounded(self, const uint32_t[::1] keys, const Py_ssize_t* table,
                              int32_t[::1] loads, double epsilon, Py_ssize_t n_eligible,
                              int64_t total, int32_t[::1] out) noexcept nogil:
        # ring_lookup_bounded with the bucket index; a NULL table means everyone is eligible.
        cdef Py_ssize_t n = self._n
        cdef Py_ssize_t i, p, steps
        cdef int32_t m
        cdef double cap
        for i in range(keys.shape[0]):
            out[i] = -1
            if n_eligible == 0:
                continue
            cap = (1.0 + epsilon) * <double>(total + 1) / <double>n_eligible
            p = self.position(keys[i])
            if table != NULL:
                p = table[p]
            steps = 0
            while steps < n:  # always ends early: some eligible member is below the cap
                steps += 1
                m = _member(self._placed[p])
                if <double>loads[m] < cap:
                    loads[m] += 1
                    total += 1
                    out[i] = m
                    break
                p = p + 1 if p + 1 < n else 0
                if table != NULL:
                    p = table[p]


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define PHOENIX_PREFETCH(p) __builtin_prefetch(p)
    #else
    #define PHOENIX_PREFETCH(p) ((void)(p))
    #endif
    """
    # A hint to start loading the cache line holding p; it never faults, whatever p is.
    void _prefetch_line "PHOENIX_PREFETCH"(const void* p) noexcept nogil


cdef inline int32_t _member(uint64_t entry) noexcept nogil:
    return <int32_t>(entry & 0xFFFFFFFFU)


cdef Py_ssize_t _bisect_placed(const uint64_t* placed, Py_ssize_t lo, Py_ssize_t hi,
                               uint64_t key) noexcept nogil:
    cdef Py_ssize_t mid
    while lo < hi:
        mid = <Py_ssize_t>((<size_t>lo + <size_t>hi) // 2)
        if placed[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef bint _table_pays(Py_ssize_t n_keys, const uint8_t* eligible, Py_ssize_t n_members,
                      Py_ssize_t n_vnodes) noexcept nogil:
    # Walking past ineligible vnodes costs each key about n_members / n_eligible steps; one
    # table of next eligible vnodes costs a pass over the ring and then one step a key. Walk
    # unless the walks would add up to more than that pass.
    cdef Py_ssize_t m, n_eligible = 0
    for m in range(n_members):
        n_eligible += eligible[m] != 0
    return <double>n_keys * <double>n_members > <double>n_eligible * <double>n_vnodes


cdef int _check_per_member(str name, Py_ssize_t size, Py_ssize_t n_members) except -1:
    if size != n_members:
        raise ValueError(f"{name} has {size} items, expected one per member ({n_members})")
    return 0


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


cdef double _real(object value, str name) except? -1.0:
    # Checked by hand (not by a double parameter) so both twins refuse the same values alike.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}")
    return float(value)


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
