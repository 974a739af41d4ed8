# The consistent-hash ring, built once with a bucket index, and its lookups: plain, in batches and
# with bounded loads.

# Vnodes per member. A member's share of the ring is the sum of `vnodes` random arcs, so its
# spread falls as 1/sqrt(vnodes). Measured with 100,000 keys over 200 sets of member ids: at 100
# members the coefficient of variation of keys per member is 0.13 with 64 vnodes, 0.09 with 128
# and 0.07 with 256, and the busiest member carries 1.35x, 1.25x and 1.18x the average (the bounds
# in tests/kernel/test_balance.py). Memory (8 bytes a vnode) and build time grow linearly: at 1,000
# members 128 vnodes take 1 MiB and about 15 ms to build. 256 buys a third less spread for twice
# both, and lookup_bounded caps the busiest member anyway; 64 leaves the busiest member a third
# over the average. Changing it moves keys: every process that must agree on placement has to
# build its ring with the same value.
DEFAULT_VNODES = 128

# A binary search over all of the tokens is about 17 dependent cache misses at 128k vnodes. A Ring
# holds its vnodes in C memory and indexes them by the top bits of the token, so a lookup reads
# one bucket start and one or two cache lines of vnodes, and a single call pays only for the
# Python call and its argument checks.

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



@cython.final
@cython.binding(False)
@cython.embedsignature(True)
@cython.embedsignature.format("clinic")
cdef class Ring:
    """Ring(member_ids, vnodes=DEFAULT_VNODES)
--

A consistent-hash ring built once from its members (or from another ring by ``updated``), for
many lookups.

    Member ``m`` gets ``vnodes`` vnodes at ``hash32(f"{member_ids[m]}#{i}")`` for i in
    range(vnodes); a key belongs to the first vnode clockwise from its hash whose member is
    eligible. A single lookup costs little more than the Python call itself.

    Args:
        member_ids: distinct member ids (str); a member's index is its position here.
        vnodes: vnodes per member, >= 1.
    """

    def __cinit__(self, member_ids, vnodes=DEFAULT_VNODES):
        # Built in __cinit__, which runs exactly once, so the buffers can never be replaced
        # under a lookup running without the GIL in another thread (updated() adopts its buffers
        # into a ring nobody else holds yet).
        cdef list ids = _member_list(member_ids)
        cdef Py_ssize_t n = 0
        cdef uint64_t* placed = _sorted_vnodes(ids, vnodes, _SCAN, &n)
        self.vnodes = PyNumber_Index(vnodes)
        self._adopt(ids, placed, n)

    cdef int _adopt(self, list ids, uint64_t* placed, Py_ssize_t n) except -1:
        # Take ownership of placed (n vnodes, ascending, then _SCAN sentinels) and index it,
        # freeing whatever this ring held. Only for a ring no other code can see yet.
        PyMem_Free(self._placed)
        PyMem_Free(self._starts)
        self._placed = placed
        self._starts = NULL
        self._n = n
        self.members = tuple(ids)
        self._indices = tuple(range(len(ids)))
        self.bucket_bits = _bucket_bits(n)
        self._shift = 32 - self.bucket_bits
        cdef Py_ssize_t buckets = <Py_ssize_t>1 << self.bucket_bits
        self._starts = <uint32_t*>PyMem_Malloc((buckets + 1) * sizeof(uint32_t))
        if self._starts == NULL:
            raise MemoryError()
        # One sequential pass over both arrays (the vnodes are sorted): counting vnodes per
        # bucket instead scatters a write per vnode over the index, a cache miss each at
        # 10,000 members.
        cdef Py_ssize_t p = 0, b
        for b in range(buckets + 1):
            while p < n and <Py_ssize_t>((placed[p] >> 32) >> self._shift) < b:
                p += 1
            self._starts[b] = <uint32_t>p
        return 0

    def __init__(self, member_ids, vnodes=DEFAULT_VNODES):
        # Everything is done by __cinit__; this only gives the class its signature.
        pass

    def __dealloc__(self):
        PyMem_Free(self._placed)
        PyMem_Free(self._starts)

    def __reduce__(self):
        return Ring, (self.members, self.vnodes)

    def updated(self, member_ids):
        """Return the ring over ``member_ids``: equal to ``Ring(member_ids, self.vnodes)``, made
        from this one.

        Only the vnodes of members this ring lacks are hashed; the others' are carried over with
        their new indices and merged in, so a join or a leave costs a pass over the ring
        instead of a build (hashing and sorting every vnode).

        Args:
            member_ids: distinct member ids (str), as for ``Ring``.
        """
        cdef list ids = _member_list(member_ids)
        cdef Py_ssize_t n = len(ids)
        cdef Py_ssize_t per = self.vnodes
        if n * per > INT32_MAX:
            raise ValueError(f"{n} members x {per} vnodes is more than 2**31 - 1 vnodes")
        cdef dict position = _positions(ids)
        cdef Py_ssize_t old_members = len(self.members)
        cdef Py_ssize_t i, j = 0, k, fresh_n = 0, total = n * per
        cdef int32_t last = -1
        cdef bint ordered = True
        cdef bytearray kept = bytearray(n)
        cdef int32_t* remap = <int32_t*>PyMem_Malloc(max(old_members, 1) * sizeof(int32_t))
        cdef int32_t* fresh_index = <int32_t*>PyMem_Malloc(max(n, 1) * sizeof(int32_t))
        cdef uint64_t* fresh = NULL
        cdef uint64_t* placed = NULL
        cdef Ring ring = None
        try:
            if remap == NULL or fresh_index == NULL:
                raise MemoryError()
            for i in range(old_members):
                k = position.get(self.members[i], -1)
                remap[i] = <int32_t>k
                if k >= 0:
                    kept[k] = 1
                    ordered = ordered and k > last
                    last = <int32_t>k
            new_ids = []
            for k in range(n):
                if not kept[k]:
                    fresh_index[j] = <int32_t>k
                    j += 1
                    new_ids.append(ids[k])
            fresh = _sorted_vnodes(new_ids, per, 0, &fresh_n)
            placed = <uint64_t*>PyMem_Malloc((total + _SCAN) * sizeof(uint64_t))
            if placed == NULL:
                raise MemoryError()
            if total >= _NOGIL_MIN_ITEMS:
                with nogil:
                    _carry_over(self._placed, self._n, remap, ordered, fresh, fresh_n,
                                fresh_index, placed)
            else:
                _carry_over(self._placed, self._n, remap, ordered, fresh, fresh_n, fresh_index,
                            placed)
            for i in range(total, total + _SCAN):
                placed[i] = UINT64_MAX
            ring = Ring.__new__(Ring, (), self.vnodes)
            ring._adopt(ids, placed, total)
            placed = NULL  # the ring's now
        finally:
            PyMem_Free(remap)
            PyMem_Free(fresh_index)
            PyMem_Free(fresh)
            PyMem_Free(placed)
        return ring

    @property
    def tokens(self):
        """The vnodes' tokens, ascending, as ``array('I')`` (a copy); ties by member index."""
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
        """Return the member owning ``key_hash``: the first eligible vnode clockwise from it.

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

        Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam, 2018). Call the
        eligible members the n_e live ones and their summed load L. Before each key the cap is
        ``(1 + epsilon) * (L + 1) / n_e`` (L counting the keys assigned so far); the key goes to
        the first live member clockwise whose load is below it, i.e. at most ceil(cap) - 1, so
        after taking the key it is at most ceil(cap). Some live member is always below the cap,
        so every key is placed unless n_e is 0 (then every key gets -1).

        Guarantee: a member that takes a key in this call ends at most
        ``ceil((1 + epsilon) * L_end / n_e)``, L_end being the live members' total load at the
        end. So if every starting load is within that bound (e.g. all zero, or loads built only
        by this method with the same members eligible), no live member ends above
        ceil((1 + epsilon) x average). A member that starts above the bound takes no keys but is
        not reduced.

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
        # A NULL table means everyone is eligible. Comparing the integer load with the real cap
        # is the same as comparing it with ceil(cap), and cannot overflow as ceil's integer could.
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
