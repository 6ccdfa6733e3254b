from cython cimport floating
from libc.stdint cimport int64_t, uint64_t
from ._layout cimport HashSpec, Tables

cdef int64_t query_buckets(const HashSpec *s, const int *ids, const floating *vals,
                           int n, bint dense, int *codes, floating *acc,
                           int *buckets) noexcept nogil

cdef void key_buckets(const HashSpec *s, const floating *w, int *codes,
                      floating *acc, int *buckets) noexcept nogil

cdef void pack_sketch(const HashSpec *s, const Tables *T, const int *codes,
                      uint64_t *sketch) noexcept nogil

cdef void pack(const HashSpec *s, const int *codes, int *buckets) noexcept nogil
