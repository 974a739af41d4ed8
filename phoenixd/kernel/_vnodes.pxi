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


cdef dict _positions(list ids):
    # Each member id's index; refuses a member that is not a str or repeats an earlier one.
    cdef dict seen = {}
    cdef Py_ssize_t m
    for m in range(len(ids)):
        member = ids[m]
        if not isinstance(member, str):
            raise TypeError(f"member_ids[{m}] must be str, not {type(member).__name__}")
        first = seen.setdefault(member, m)
        if first != m:
            raise ValueError(f"member_ids[{m}] repeats member_ids[{first}] ({member!r})")
    return seen


cdef void _carry_over(const uint64_t* old, Py_ssize_t old_n, const int32_t* remap,
                      bint ordered, uint64_t* fresh, Py_ssize_t fresh_n,
                      const int32_t* fresh_index, uint64_t* placed) noexcept nogil:
    # Ring.updated's merge. placed gets the old ring's vnodes of the members that stay, each
    # with its member's new index (remap[old index], -1 for a member that left), and the fresh
    # members' vnodes (fresh, sorted, indexed by position in fresh_index), in ascending order.
    # The kept vnodes go to the tail of placed first, past room for the fresh ones, and the
    # merge then fills placed from the front: it never writes past what it has yet to read.
    cdef Py_ssize_t p, q, w = fresh_n
    cdef int32_t m
    cdef uint64_t entry
    for p in range(old_n):
        m = remap[<int32_t>(old[p] & 0xFFFFFFFFU)]
        if m >= 0:
            placed[w] = (old[p] & 0xFFFFFFFF00000000ULL) | <uint64_t><uint32_t>m
            w += 1
    if not ordered:
        # The kept members changed order: vnodes stay in token order, but ties between members
        # (equal tokens) may now be out of index order. An insertion sort fixes them in one
        # pass, as every entry is already among the equal tokens it belongs with.
        for p in range(fresh_n + 1, w):
            entry = placed[p]
            q = p
            while q > fresh_n and placed[q - 1] > entry:
                placed[q] = placed[q - 1]
                q -= 1
            placed[q] = entry
    # Fresh members come in index order, so giving them their indices keeps fresh sorted.
    for p in range(fresh_n):
        fresh[p] = (fresh[p] & 0xFFFFFFFF00000000ULL) | <uint64_t><uint32_t>fresh_index[
            <int32_t>(fresh[p] & 0xFFFFFFFFU)]
    cdef Py_ssize_t a = fresh_n, b = 0, out = 0
    while b < fresh_n:
        if a < w and placed[a] < fresh[b]:
            placed[out] = placed[a]
            a += 1
        else:
            placed[out] = fresh[b]
            b += 1
        out += 1
    # What is left of the kept vnodes is already in place (out == a from here on).


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
    cdef _KeyView* views = <_KeyView*>PyMem_Malloc(max(n, 1) * sizeof(_KeyView))
    cdef uint64_t* placed = NULL
    cdef unsigned char* buf = NULL
    if views == NULL:
        raise MemoryError()
    try:
        _positions(ids)
        for m in range(n):
            _view_key(ids[m], &views[m], m)
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
