# C-level declarations of the ring kernel, so later Cython modules (the full consistent-hash
# ring) can cimport the hash and call it without going through Python.

from libc.stdint cimport uint32_t


cdef uint32_t murmur3_32(const unsigned char* data, Py_ssize_t n, uint32_t seed) noexcept nogil
