# Ring construction: every member's vnodes hashed, packed as (token << 32 | member) and sorted,
# for Ring (see _ring.pxi) to index.

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
    # The ring as packed (token << 32 | member) integers, ascending, followed by `spare` entries
    # of UINT64_MAX (above every real entry); its length without them goes in *count. The caller
    # owns the buffer and must PyMem_Free it.
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
