from cython cimport floating
from libc.stdint cimport int64_t
from ._layout cimport HashSpec

cdef int64_t query_buckets(const HashSpec *s, const int *ids, const floating *vals,
                           int n, bint dense, int *codes, floating *acc,
                           int *buckets) noexcept nogil

cdef void key_buckets(const HashSpec *s, const floating *w, floating bias, double scale,
                      int *codes, floating *acc, int *buckets) noexcept nogil
