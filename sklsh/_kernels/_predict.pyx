# cython: language_level=3
"""Row-parallel pieces of a prediction around the network: a sparse block of rows
times a dense first layer, and each row's k largest scores.

Both are per-row loops that NumPy and SciPy run on one thread, one row at a time
(at 100k classes and 5000 rows they took a sixth of a hashed top-5 prediction).
Every index is checked before the nogil loops run.
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free

from ._active_set cimport keep_largest
from ._vec cimport axpy


def sparse_times_dense(const floating[::1] data, const int[::1] indices,
                       const int64_t[::1] indptr, const floating[:, ::1] W,
                       floating[:, ::1] out, int n_threads):
    """``out = X @ W`` for the CSR rows X = (data, indices, indptr) and a dense
    feature-major W of shape (n_features, n_units): each non-zero adds its
    feature's row of W, a contiguous run (# OUT out)."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, r, p
    cdef int units = <int>W.shape[1], c
    if n < 0 or out.shape[0] != n or out.shape[1] != W.shape[1]:
        raise ValueError("the output does not match the rows and units")
    if n_threads < 1:
        raise ValueError("n_threads must be positive")
    idx, ptr = np.asarray(indices), np.asarray(indptr)
    if ptr[0] < 0 or ptr[n] > indices.shape[0] or ptr[n] > data.shape[0] or (
            np.diff(ptr) < 0).any():
        raise ValueError("malformed CSR row pointers")
    if ptr[n] > 0 and (idx[:ptr[n]].min() < 0 or idx[:ptr[n]].max() >= W.shape[0]):
        raise ValueError("CSR column index out of range")
    with nogil:
        for r in prange(n, schedule="dynamic", chunksize=64, num_threads=n_threads):
            for c in range(units):
                out[r, c] = 0
            for p in range(indptr[r], indptr[r + 1]):
                axpy(data[p], &W[indices[p], 0], &out[r, 0], units)


def top_k_positions(const floating[:, ::1] scores, int k, int n_threads):
    """Columns of the k largest scores of each row, in no particular order (which
    of the ties at the k-th place is not specified).

    Returns
    -------
    positions : ndarray of shape (n_rows, k), dtype intp
    """
    cdef Py_ssize_t n = scores.shape[0], r
    cdef int m = <int>scores.shape[1], a
    if not 1 <= k <= m:
        raise ValueError(f"k must be from 1 to {m}, got {k}")
    if n_threads < 1:
        raise ValueError("n_threads must be positive")
    cdef Py_ssize_t[:, ::1] out = np.empty((n, k), dtype=np.intp)
    cdef int[::1] failed = np.zeros(1, dtype=np.int32)
    cdef int *ids
    cdef floating *z
    with nogil, parallel(num_threads=n_threads):
        ids = <int *> malloc(m * sizeof(int))
        z = <floating *> malloc(m * sizeof(floating))
        if ids == NULL or z == NULL:
            failed[0] = 1
        for r in prange(n, schedule="static"):
            if ids == NULL or z == NULL:
                continue
            for a in range(m):
                ids[a] = a
                z[a] = scores[r, a]
            keep_largest(ids, z, m, k, 0)
            for a in range(k):
                out[r, a] = ids[a]
        free(ids)
        free(z)
    if failed[0]:
        raise MemoryError("could not allocate the per-thread buffers")
    return np.asarray(out)
