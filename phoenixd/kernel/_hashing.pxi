# MurmurHash3 x86_32, and the borrowed view of a key's bytes that it hashes.
#
# Why murmur3: it is fast (a few multiplies and rotates per 4 bytes), it avalanches well, so vnode
# positions spread evenly over the 32-bit ring, and it is small enough to be written identically in
# C and in Python (see _pure/hashing.py), so both kernels place every key at the same point. The product
# docs' "MD5 mod 10000" is only a UI illustration: a 10,000-point space collides quickly and MD5 is
# far slower than needed.
#
# Written from the algorithm's definition (Austin Appleby, public domain). Blocks are read
# byte-wise as little-endian, so the result is the same on every platform and alignment is never
# an issue.

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
