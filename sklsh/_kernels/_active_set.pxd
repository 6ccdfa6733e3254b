from cython cimport floating
from libc.stdint cimport uint64_t
from ._layout cimport Layer

cdef struct Scratch:
    # per-thread buffers of the selection, sized by the driver for the widest layer
    int *stamp          # (n_units,) the query that last saw each unit
    int *count          # (n_units,) its collisions in that query (scratch)
    int *cand           # (max(n_units, L * bucket_size),) units kept, in order
    int *hist           # (max(L, K * L) + 1,) candidates per collision count
    int *order          # (L,) table order for union sampling
    int now             # the current query's stamp

cdef int select_active(const Layer *layer, const int *buckets,
                       const uint64_t *sketch, const int *forced, int n_forced,
                       int n_explore, Scratch *s, uint64_t *rng,
                       int *out) noexcept nogil

ctypedef fused ranked:
    int
    float
    double

cdef int keep_largest(int *ids, ranked *z, int n, int k, int n_fixed) noexcept nogil
cdef void sort_by_id(int *ids, floating *z, int lo, int hi) noexcept nogil
