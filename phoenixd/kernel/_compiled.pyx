"""Compiled placement kernel: MurmurHash3 x86_32, the consistent-hash ring, eligibility and the
member scorers. One include file per concern; _pure/ holds the pure-Python twin, module for
module."""

# Every function is mirrored by the pure twin: same results, same exception types raised in the
# same order (argument types in argument order, then lengths, then values), so nothing can come
# to depend on which kernel is active. Single calls read their buffers through Py_buffer (a typed
# memoryview costs more to acquire than the lookup itself); batch calls check them the same way
# and then loop over typed memoryviews.

cimport cython
from cpython.array cimport array, clone
from cpython.buffer cimport (
    PyBUF_FULL_RO, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer,
)
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.number cimport PyNumber_Index
from cpython.tuple cimport PyTuple_GET_ITEM
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.math cimport NAN, isnan
from libc.stdint cimport (
    INT32_MAX, UINT32_MAX, UINT64_MAX, int32_t, int64_t, uint8_t, uint32_t, uint64_t,
)
from libc.stdlib cimport qsort
from libc.string cimport memcpy, memset, strcmp

KERNEL = "compiled"

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


include "_checks.pxi"
include "_hashing.pxi"
include "_vnodes.pxi"
include "_ring.pxi"
include "_scoring.pxi"
include "_eligibility.pxi"
