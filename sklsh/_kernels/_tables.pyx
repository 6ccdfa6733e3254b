# cython: language_level=3
"""Hash tables as flat arrays: L tables x n_buckets buckets x bucket_size unit ids.

A bucket is a short array and its fill count. When a full bucket is offered another
unit it either overwrites its oldest slot (FIFO, a ring cursor) or keeps a uniform
sample of all units offered (reservoir). Only the training driver writes tables, between
batches and on one thread; the Hogwild workers only read them.
"""
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memset

from ._layout cimport Tables, FIFO
from ._random cimport splitmix64


cdef void clear(Tables *T, int n_tables, int n_units) noexcept nogil:
    cdef int64_t n_slots = <int64_t>n_tables * T.n_buckets
    memset(T.fill, 0, n_slots * sizeof(int))
    memset(T.seen, 0, n_slots * sizeof(int64_t))
    cdef int64_t i
    for i in range(<int64_t>n_units * n_tables):
        T.home[i] = -1


cdef void insert(Tables *T, int t, int bucket, int unit, uint64_t *rng) noexcept nogil:
    cdef int64_t slot = <int64_t>t * T.n_buckets + bucket
    cdef int *ids = T.ids + slot * T.bucket_size
    cdef int64_t seen = T.seen[slot]
    cdef int64_t r
    T.seen[slot] = seen + 1
    if T.fill[slot] < T.bucket_size:
        ids[T.fill[slot]] = unit
        T.fill[slot] += 1
    elif T.policy == FIFO:
        ids[seen % T.bucket_size] = unit
    else:
        r = <int64_t>(splitmix64(rng) % <uint64_t>(seen + 1))
        if r < T.bucket_size:
            ids[r] = unit


cdef void remove(Tables *T, int t, int bucket, int unit) noexcept nogil:
    """Drop `unit` from a bucket if it is still there (it may have been evicted)."""
    cdef int64_t slot = <int64_t>t * T.n_buckets + bucket
    cdef int *ids = T.ids + slot * T.bucket_size
    cdef int e
    for e in range(T.fill[slot]):
        if ids[e] == unit:
            T.fill[slot] -= 1
            ids[e] = ids[T.fill[slot]]
            return
