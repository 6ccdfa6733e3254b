# cython: language_level=3
"""Hash tables as flat arrays: L tables x n_buckets buckets x bucket_size unit ids,
and their upkeep: re-hashing a network's units into them (and into their sketches)
between batches, and packing query codes into buckets and sketches.

A bucket is a short array and its fill count. When a full bucket is offered another
unit it either overwrites its oldest slot (FIFO, a ring cursor) or keeps a uniform
sample of all units offered (reservoir). Only the training driver writes tables, between
batches (a thread per table, each with its own random stream); the Hogwild workers only
read them.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel
from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport malloc, free

from ._layout cimport Layer, Tables, FIFO, SRP
from ._hashing cimport key_buckets, pack_sketch, pack
from ._network cimport Network
from ._random cimport splitmix64, stream


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


cdef void _hash_units(Layer *layer, const floating *W, const int64_t *units,
                      Py_ssize_t n, int *out, int n_threads, int *failed) noexcept nogil:
    """Bucket ids of the given units of a WTA/DWTA/DOPH layer, into
    out[u * n_tables + t], and their sketches (# OUT out, layer.tables.sketch)."""
    cdef Py_ssize_t u
    cdef int KL = layer.spec.n_tables * layer.spec.n_hashes
    cdef int n_acc = KL if KL > layer.n_in else layer.n_in     # (key_buckets' scratch)
    cdef int *codes
    cdef floating *acc
    cdef int64_t j
    with parallel(num_threads=n_threads):
        codes = <int *> malloc(KL * sizeof(int))
        acc = <floating *> malloc(n_acc * sizeof(floating))
        if codes == NULL or acc == NULL:
            failed[0] = 1
        for u in prange(n, schedule='dynamic', chunksize=16):
            if codes == NULL or acc == NULL:
                continue
            j = units[u]
            key_buckets(&layer.spec, W + j * layer.n_in, codes, acc,
                        out + u * layer.spec.n_tables)
            store_sketch(layer, j, codes)
        free(codes)
        free(acc)


cdef inline void store_sketch(Layer *layer, int64_t j, const int *codes) noexcept nogil:
    """Unit j's sketch from its codes, and its first word into the prefix array."""
    cdef uint64_t *row = layer.tables.sketch + j * layer.tables.n_words
    pack_sketch(&layer.spec, &layer.tables, codes, row)
    layer.tables.prefix[j] = row[0]


cdef _check_codes(const Layer *layer, const int[:, ::1] codes, Py_ssize_t n):
    cdef int KL = layer.spec.n_tables * layer.spec.n_hashes
    if codes.shape[0] != n or codes.shape[1] != KL:
        raise ValueError(f"codes must have shape ({n}, {KL})")
    if n and (np.min(codes) < 0 or np.max(codes) >= (1 << layer.spec.code_bits)):
        raise ValueError("codes out of range")


def pack_codes(Network net, int l, const int[:, ::1] codes):
    """Bucket ids and sketches of vectors from their K * L hash codes under a hashed
    layer's functions, one row per vector: the first layer's queries of a data set,
    computed once per fit, since they depend on the example alone (its SRP codes are
    one BLAS product, ``sklsh._training.first_layer_queries``).

    Returns
    -------
    buckets : ndarray of shape (n, n_tables), dtype int32
    sketch : ndarray of shape (n, n_words), dtype uint64
    """
    if not 0 <= l < net.n_layers or not net.layers[l].hashed:
        raise ValueError(f"layer {l} is not hashed")
    cdef Layer *layer = &net.layers[l]
    cdef Py_ssize_t u, n = codes.shape[0]
    _check_codes(layer, codes, n)
    cdef int[:, ::1] buckets = np.empty((n, layer.spec.n_tables), dtype=np.int32)
    cdef uint64_t[:, ::1] sketch = np.empty((n, layer.tables.n_words), dtype=np.uint64)
    with nogil:
        for u in range(n):
            pack(&layer.spec, &codes[u, 0], &buckets[u, 0])
            pack_sketch(&layer.spec, &layer.tables, &codes[u, 0], &sketch[u, 0])
    return np.asarray(buckets), np.asarray(sketch)


cdef inline Py_ssize_t _from_own_start(Py_ssize_t e, int t, Py_ssize_t n,
                                       int nt) noexcept nogil:
    """The e-th of n units that table t of nt meets: each table starts at its own
    point of the list, so that full FIFO buckets do not evict the same units in every
    table."""
    cdef Py_ssize_t u = e + (<Py_ssize_t>t * n) // nt
    return u - n if u >= n else u


cdef Layer *_checked_layer(Network net, int l, const int64_t[::1] units,
                           int n_threads) except NULL:
    """Layer l of a trainable network, once `units` and `n_threads` are valid."""
    if not net.trainable:
        raise ValueError("this network was built for inference only")
    if not 0 <= l < net.n_layers or not net.layers[l].hashed:
        raise ValueError(f"layer {l} is not hashed")
    cdef Layer *layer = &net.layers[l]
    units_arr = np.asarray(units)
    if units_arr.size and (units_arr.min() < 0 or units_arr.max() >= layer.n_out):
        raise ValueError("unit ids out of range")
    if n_threads < 1:
        raise ValueError("n_threads must be positive")
    return layer


cdef object _keys(Layer *layer, bint is_float, const int64_t[::1] units,
                  int n_threads, const int[:, ::1] codes):
    """The sketches of `units` (written into the layer) and their bucket in each
    table, returned as an (n, n_tables) array: from the SRP `codes` given, or hashed
    here for the other families. Returns (buckets, hashing operations)."""
    cdef Py_ssize_t u, n = units.shape[0]
    cdef int nt = layer.spec.n_tables, KL = nt * layer.spec.n_hashes
    cdef int[::1] failed = np.zeros(1, dtype=np.int32)
    if layer.spec.family == SRP and codes is None:
        raise ValueError("an SRP layer's codes must be given "
                         "(sklsh._training.refresh_layer)")
    if codes is not None:
        _check_codes(layer, codes, n)
    cdef int[:, ::1] buckets = np.empty((n, nt), dtype=np.int32)
    cdef int *bp = &buckets[0, 0] if n else NULL
    cdef const int64_t *up = &units[0] if n else NULL
    cdef bint kept = layer.tables.ids != NULL       # (buckets kept: see Tables)
    with nogil:
        if codes is not None:
            # (units are distinct: each thread writes its own units' sketches)
            for u in prange(n, schedule='static', num_threads=n_threads):
                if kept:
                    pack(&layer.spec, &codes[u, 0], bp + u * nt)
                store_sketch(layer, up[u], &codes[u, 0])
        elif n:
            if is_float:
                _hash_units(layer, <float *> layer.W, up, n, bp, n_threads, &failed[0])
            else:
                _hash_units(layer, <double *> layer.W, up, n, bp, n_threads, &failed[0])
    if failed[0]:
        raise MemoryError("could not allocate the hashing buffers")
    return np.asarray(buckets), n * (KL if codes is not None
                                     else layer.spec.n_perms * layer.n_in)


def refresh_tables(Network net, int l, const int64_t[::1] units, uint64_t seed,
                   int n_threads, const int[:, ::1] codes=None):
    """Re-hash `units` of a hashed layer into its tables and sketches (its sketches
    alone when its state keeps no buckets): each unit leaves the buckets it was in
    and enters its new ones. A whole layer is rebuilt by :func:`hash_units` and
    :func:`fill_tables` instead.

    An SRP layer's `codes` (the units' K * L codes) must be given: they are one matrix
    product, which ``sklsh._training.refresh_layer`` has BLAS do, MIPS scale included.
    A WTA, DWTA or DOPH layer's codes are computed here. Returns the hashing operations
    spent here.
    """
    cdef Layer *layer = _checked_layer(net, l, units, n_threads)
    buckets_arr, ops = _keys(layer, net.is_float, units, n_threads, codes)
    cdef int[:, ::1] buckets = buckets_arr
    cdef Py_ssize_t e, u, n = units.shape[0]
    cdef int t, nt = layer.spec.n_tables, old, new
    cdef int64_t j
    cdef uint64_t rng
    if layer.tables.ids == NULL or n == 0:
        return ops
    with nogil:
        # tables share no slot, and a table's draws come from its own stream: the
        # same tables whatever the number of threads
        for t in prange(nt, schedule='dynamic', num_threads=n_threads):
            rng = stream(seed, <uint64_t>t)
            for e in range(n):
                u = _from_own_start(e, t, n, nt)
                j = units[u]
                old = layer.tables.home[<int64_t>t * layer.n_out + j]
                new = buckets[u, t]
                if old == new:
                    continue
                if old >= 0:
                    remove(&layer.tables, t, old, <int>j)
                insert(&layer.tables, t, new, <int>j, &rng)
                layer.tables.home[<int64_t>t * layer.n_out + j] = new
    return ops


def hash_units(Network net, int l, const int64_t[::1] units, int n_threads,
               const int[:, ::1] codes=None):
    """The first step of rebuilding a layer's tables: the sketches of `units` and the
    bucket each table is to hold it in (its home), the buckets themselves left alone
    until :func:`fill_tables`. A layer is hashed in blocks of units in id order, which
    reads its weights in address order. `codes` as for :func:`refresh_tables`;
    returns the hashing operations spent here."""
    cdef Layer *layer = _checked_layer(net, l, units, n_threads)
    buckets_arr, ops = _keys(layer, net.is_float, units, n_threads, codes)
    cdef int[:, ::1] buckets = buckets_arr
    cdef Py_ssize_t e, n = units.shape[0]
    cdef int t, nt = layer.spec.n_tables
    if layer.tables.ids == NULL:
        return ops
    with nogil:
        for t in prange(nt, schedule='static', num_threads=n_threads):
            for e in range(n):
                layer.tables.home[<int64_t>t * layer.n_out + units[e]] = buckets[e, t]
    return ops


def fill_tables(Network net, int l, const int64_t[::1] order, uint64_t seed,
                int n_threads):
    """Empty a layer's buckets and offer them every unit, in `order` (all units once
    each; the order matters to full FIFO buckets), each to the bucket
    :func:`hash_units` gave it in each table."""
    cdef Layer *layer = _checked_layer(net, l, order, n_threads)
    cdef Py_ssize_t e, n = order.shape[0]
    cdef int t, nt = layer.spec.n_tables
    cdef int64_t j, slot, n_buckets = layer.tables.n_buckets
    cdef uint64_t rng
    if n != layer.n_out or (n and not (np.bincount(order, minlength=n) == 1).all()):
        raise ValueError(f"order must hold each of the layer's {layer.n_out} units once")
    if layer.tables.ids == NULL:
        return
    cdef bint bad = False
    with nogil:
        for slot in range(<int64_t>nt * n):
            if not 0 <= layer.tables.home[slot] < n_buckets:
                bad = True
    if bad:
        raise ValueError("a unit has no bucket: hash_units must see every unit first")
    with nogil:
        for t in prange(nt, schedule='dynamic', num_threads=n_threads):
            rng = stream(seed, <uint64_t>t)
            for slot in range(t * n_buckets, (t + 1) * n_buckets):
                layer.tables.fill[slot] = 0
                layer.tables.seen[slot] = 0
            for e in range(n):
                j = order[_from_own_start(e, t, n, nt)]
                insert(&layer.tables, t, layer.tables.home[<int64_t>t * n + j],
                       <int>j, &rng)
