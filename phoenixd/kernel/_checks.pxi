# Argument checks, at Python level: buffers by element type, lengths and scalars. Each raises
# the exception type the pure twin's (_pure/checks.py) raises, in the same order.

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
    # Validated by hand so a bad buffer fails as in the pure twin (ValueError, not TypeError).
    cdef memoryview mv = memoryview(out)
    if mv.readonly:
        raise ValueError("out must be writable")
    if mv.ndim != 1 or mv.format != fmt or mv.itemsize != 4 or not mv.c_contiguous:
        raise ValueError(f"out must be {what}")
    if len(mv) != n:
        raise ValueError(f"out has {len(mv)} items, expected {n}")
    return mv



cdef int _check_per_member(str name, Py_ssize_t size, Py_ssize_t n_members) except -1:
    if size != n_members:
        raise ValueError(f"{name} has {size} items, expected one per member ({n_members})")
    return 0



cdef double _check_epsilon(object epsilon) except -1.0:
    if not isinstance(epsilon, (int, float)):
        raise TypeError(f"epsilon must be a float, not {type(epsilon).__name__}")
    cdef double value = float(epsilon)  # OverflowError for an int too large, as in float()
    if not value >= 0.0:  # also rejects NaN
        raise ValueError(f"epsilon must be >= 0, got {epsilon!r}")
    return value



cdef double _real(object value, str name) except? -1.0:
    # Checked by hand (not by a double parameter) so both twins refuse the same values alike.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a real number, not {type(value).__name__}")
    return float(value)
