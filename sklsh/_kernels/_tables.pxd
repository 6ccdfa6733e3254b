from libc.stdint cimport uint64_t
from ._layout cimport Tables

cdef void insert(Tables *T, int t, int bucket, int unit, uint64_t *rng) noexcept nogil
cdef void remove(Tables *T, int t, int bucket, int unit) noexcept nogil
