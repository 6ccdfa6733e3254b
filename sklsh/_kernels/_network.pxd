# cython: language_level=3
"""The C view of a network (see `_network.pyx`), declared here so that the other
kernel modules (table upkeep in `_tables.pyx`) take a `Network` as scikit-learn's
kernels take a `Tree` from `tree/_tree.pxd`."""
from libc.stdint cimport int64_t, uint64_t

from ._layout cimport Layer
from ._active_set cimport Scratch


cdef struct Work:
    # per-thread buffers of one example, carved from two blocks
    int **ids               # per layer: active unit ids (identity for dense layers)
    void **act              # per layer: activations of the active units
    void **der              # per layer: activation derivatives
    void **delta            # per layer: d loss / d z of the active units
    int *n_active           # per layer
    int *label_pos          # positions of the labels in the output's active set
    int *codes              # K * layer hash codes of a query
    void *acc               # K * layer projections of a query
    int *buckets            # layer bucket ids of a query
    uint64_t *sketch        # its packed codes
    Scratch scratch
    int64_t tally[3]        # multiply-adds done, those of the dense network, hash ops
    void *iblock
    void *fblock


cdef class Network:
    cdef Layer *layers
    cdef readonly int n_layers
    cdef readonly bint is_float
    cdef readonly bint trainable
    cdef int act_kind, loss_kind
    cdef int max_units, max_kl, max_tables, max_cand, max_words
    cdef list keep               # the arrays the structs point into stay alive here
    cdef Work **pool             # one workspace per thread, kept between batches
    cdef int pool_threads, pool_labels
    cdef Py_ssize_t pool_fsize

    cdef _set_hashing(self, Layer *layer, dict h, object dtype, bint write)
    cdef _set_prefix_table(self, Layer *layer, dict h)
    cdef void carve(self, Work *work, int max_labels, Py_ssize_t fsize, int *ib, char *fb,
                    Py_ssize_t *n_ints, Py_ssize_t *n_floats) noexcept nogil
    cdef Work *new_work(self, int max_labels, Py_ssize_t fsize) noexcept nogil
    cdef int capacity(self, int l, int max_labels) noexcept nogil
    cdef void free_work(self, Work *work) noexcept nogil
    cdef Work **workspaces(self, int n_threads, int max_labels, Py_ssize_t fsize) except NULL
    cdef void free_pool(self) noexcept nogil
