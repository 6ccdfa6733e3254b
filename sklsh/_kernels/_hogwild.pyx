# cython: language_level=3
"""The Hogwild passes: one example per iteration of a `prange`, all threads reading the
same weights and tables of a `Network` and adding into the same gradient accumulators
(training), or writing each example's active output scores (hashed inference).
"""
import numpy as np

from cython cimport floating
from cython.parallel cimport prange, parallel, threadid
from libc.math cimport INFINITY
from libc.stdint cimport int64_t, uint64_t

from ._layout cimport Layer, SKETCH, SQUARED
from ._hashing cimport query_buckets, pack_sketch
from ._active_set cimport select_active, keep_largest, sort_by_id
from ._network cimport Network, Work
from ._propagate cimport forward, activate, output_delta, backward
from ._random cimport stream


cdef struct Row:
    # one example's input as run_example reads it
    const void *values      # its values (floating)
    const int *ids          # their feature ids (CSR); NULL for a dense row
    int n                   # how many


cdef inline Row row_view(const floating[:, ::1] X, const floating *data,
                         const int *indices, const int64_t[::1] indptr, bint sparse,
                         int64_t r) noexcept nogil:
    """Row r of X, dense or CSR."""
    cdef Row row
    if sparse:
        row.values = data + indptr[r]
        row.ids = indices + indptr[r]
        row.n = <int>(indptr[r + 1] - indptr[r])
    else:
        row.values = &X[r, 0]
        row.ids = NULL
        row.n = <int>X.shape[1]
    return row


cdef double run_example(Network net, const floating *x, const int *x_ids, int x_n,
                        bint x_dense, const int *q_buckets, const uint64_t *q_sketch,
                        const int *labels, int n_labels,
                        const floating *y, Work *work, uint64_t *rng, bint training,
                        int stamp, int *score_ids, floating *scores,
                        double weight) noexcept nogil:
    """Forward one example through the active sets. When `training`, add its
    gradients into the accumulators and return its loss, both scaled by its sample
    `weight` (as scikit-learn's MLP scales the output deltas); otherwise write its active
    outputs' ids and scores, padded to the output width (`Network.output_width`)
    with id -1 and score -inf (# OUT score_ids, scores). work.tally counts the
    multiply-adds and hash operations.

    The first layer's query is hashed here unless its buckets and sketch are given
    (`q_buckets`, `q_sketch`; see `pack_codes`): they depend on the example alone.

    In training `rng` is the example's stream (from its row); in inference it is the
    seed, and the stream is drawn from the example's own hash codes at its first
    hashed layer, so that a prediction never depends on where the row sits in X."""
    cdef int l, a, k, e, n_layers = net.n_layers, last = net.n_layers - 1
    cdef Layer *layer
    cdef const int *in_ids = x_ids
    cdef const floating *in_val = x
    cdef int in_n = x_n
    cdef bint in_dense = x_dense
    cdef int dense_in
    cdef floating *z
    cdef floating *in_delta
    cdef double value = 0
    cdef const int *buckets
    cdef const uint64_t *sketch
    cdef int n_forced, n_explore, t
    cdef bint seeded = training
    cdef uint64_t content
    work.tally[0] = work.tally[1] = work.tally[2] = 0
    for l in range(n_layers):
        layer = &net.layers[l]
        dense_in = layer.n_in if (l > 0 or x_dense) else x_n
        if layer.hashed:
            # with every unit a candidate nothing is looked up (select_active reads
            # no buckets): the exact pre-activations choose
            buckets, sketch = NULL, NULL
            if layer.candidates < layer.n_out:
                if l == 0 and q_buckets != NULL:
                    buckets, sketch = q_buckets, q_sketch
                else:
                    work.tally[2] += query_buckets(
                        &layer.spec, in_ids, in_val, in_n, in_dense,
                        work.codes, <floating *> work.acc, work.buckets)
                    if layer.selection == SKETCH:
                        pack_sketch(&layer.spec, &layer.tables, work.codes, work.sketch)
                    buckets, sketch = work.buckets, work.sketch
                if layer.selection == SKETCH:
                    work.tally[2] += <int64_t>layer.n_out * layer.tables.n_words
                if not seeded:
                    content = 0
                    for t in range(layer.spec.n_tables):
                        content = (content * <uint64_t>0x100000001B3
                                   + <uint64_t>buckets[t])
                    rng[0] = stream(rng[0], content)
                    seeded = True
            n_forced = n_labels if training and l == last else 0
            n_explore = layer.explore if training else 0
            k = select_active(layer, buckets, sketch, labels, n_forced, n_explore,
                              &work.scratch, rng, work.ids[l])
        else:
            k = layer.n_out
        z = <floating *> work.act[l]
        forward(layer, in_ids, in_val, in_n, in_dense, work.ids[l], k, z)
        work.tally[0] += <int64_t>k * (layer.n_in if in_dense else in_n)
        if layer.hashed:
            k = keep_largest(work.ids[l], z, k, layer.budget,
                             min(n_forced + n_explore, k))
            if l < last:
                sort_by_id(work.ids[l], z, 0, k)
        if l < last:
            activate(net.act_kind, z, <floating *> work.der[l], k)
        work.n_active[l] = k
        work.tally[1] += <int64_t>layer.n_out * dense_in
        in_ids, in_val, in_n, in_dense = work.ids[l], z, k, not layer.hashed
    if not training:
        # compact: a top-k over the active outputs never reads the other classes
        for a in range(work.n_active[last]):
            score_ids[a] = work.ids[last][a]
            scores[a] = (<floating *> work.act[last])[a]
        for a in range(work.n_active[last], net.layers[last].budget):
            score_ids[a] = -1
            scores[a] = -INFINITY
        return 0
    layer = &net.layers[last]
    for e in range(n_labels):
        # forced labels lead a hashed output's active set; a dense one is the identity
        work.label_pos[e] = e if layer.hashed else labels[e]
    value = output_delta(net.loss_kind, <floating *> work.act[last], work.n_active[last],
                         work.ids[last], work.label_pos, n_labels, y,
                         <floating *> work.delta[last])
    if weight != 1:
        # (a zero weight zeroes every delta: backward then touches no row)
        value *= weight
        z = <floating *> work.delta[last]
        for a in range(work.n_active[last]):
            z[a] = <floating>(z[a] * weight)
    for l in range(last, -1, -1):
        layer = &net.layers[l]
        k = work.n_active[l]
        if l > 0:
            in_ids, in_val = work.ids[l - 1], <floating *> work.act[l - 1]
            in_n, in_dense = work.n_active[l - 1], not net.layers[l - 1].hashed
            in_delta = <floating *> work.delta[l - 1]
            for a in range(in_n):
                in_delta[a] = 0
        else:
            in_ids, in_val, in_n, in_dense, in_delta = x_ids, x, x_n, x_dense, NULL
        backward(layer, in_ids, in_val, in_n, in_dense, work.ids[l], k,
                 <floating *> work.delta[l], in_delta, stamp)
        work.tally[0] += (<int64_t>k * (layer.n_in if in_dense else in_n)
                          * (2 if l > 0 else 1))
        work.tally[1] += (<int64_t>layer.n_out
                          * (layer.n_in if (l > 0 or x_dense) else x_n)
                          * (2 if l > 0 else 1))
        if l > 0:
            for a in range(in_n):
                in_delta[a] *= (<floating *> work.der[l - 1])[a]
    return value


def _check_batch(Network net, object dtype, Py_ssize_t n_samples, Py_ssize_t width,
                 bint sparse, const int[::1] indices, const int64_t[::1] indptr,
                 const int[:, ::1] q_buckets, const uint64_t[:, ::1] q_sketch,
                 const int64_t[::1] rows, const int64_t[::1] label_ptr,
                 const int[::1] label_idx, Py_ssize_t y_rows, Py_ssize_t y_cols,
                 bint training):
    """Establish every bound the nogil loops rely on; return the most labels a row has.

    CSR rows are checked only where the batch reads them, so a batch costs no more
    than its own non-zeros to check.
    """
    cdef Py_ssize_t i, r, p, n_in = net.layers[0].n_in, n_out = net.layers[net.n_layers - 1].n_out
    cdef int max_labels = 0, bad = 0
    if dtype != (np.float32 if net.is_float else np.float64):
        raise ValueError(f"data of dtype {dtype} given to a {'float32' if net.is_float else 'float64'} network")
    if not sparse and width != n_in:
        raise ValueError(f"X has {width} features, the network expects {n_in}")
    cdef bint labelled = training and net.loss_kind != SQUARED
    if training and net.loss_kind == SQUARED and (y_rows != n_samples or y_cols != n_out):
        raise ValueError("targets do not match the samples and outputs")
    if labelled and label_ptr.shape[0] != n_samples + 1:
        raise ValueError("label pointers do not match the samples")
    cdef bint queries = q_buckets.shape[0] > 0
    cdef int t, n_tables = net.layers[0].spec.n_tables
    cdef int n_buckets = net.layers[0].tables.n_buckets
    if queries and not (net.layers[0].hashed and q_buckets.shape[0] == n_samples
                        and q_buckets.shape[1] == n_tables
                        and q_sketch.shape[0] == n_samples
                        and q_sketch.shape[1] == net.layers[0].tables.n_words):
        raise ValueError("the first layer's queries do not match the samples or tables")
    with nogil:
        for i in range(rows.shape[0]):
            r = rows[i]
            if r < 0 or r >= n_samples:
                bad = 1
                break
            if queries:
                for t in range(n_tables):
                    if q_buckets[r, t] < 0 or q_buckets[r, t] >= n_buckets:
                        bad = 6
            if sparse:
                if not (0 <= indptr[r] <= indptr[r + 1] <= indices.shape[0]):
                    bad = 2
                    break
                for p in range(indptr[r], indptr[r + 1]):
                    if indices[p] < 0 or indices[p] >= n_in:
                        bad = 3
                if indptr[r + 1] - indptr[r] > 2147483647:
                    bad = 2
            if labelled:
                if not (0 <= label_ptr[r] <= label_ptr[r + 1] <= label_idx.shape[0]):
                    bad = 4
                    break
                if label_ptr[r + 1] - label_ptr[r] > max_labels:
                    max_labels = <int>(label_ptr[r + 1] - label_ptr[r])
                for p in range(label_ptr[r], label_ptr[r + 1]):
                    if label_idx[p] < 0 or label_idx[p] >= n_out:
                        bad = 5
    if bad:
        raise ValueError(["", "row index out of range", "malformed CSR row pointers",
                          "CSR column index out of range", "malformed label pointers",
                          "label out of range", "query bucket out of range"][bad])
    return max_labels


def batch_gradients(Network net, const floating[:, ::1] X, const floating[::1] data,
                    const int[::1] indices, const int64_t[::1] indptr, bint sparse,
                    const int[:, ::1] q_buckets, const uint64_t[:, ::1] q_sketch,
                    const int64_t[::1] rows, const int64_t[::1] label_ptr,
                    const int[::1] label_idx, const floating[:, ::1] Y,
                    uint64_t seed, int stamp, int n_threads,
                    const double[::1] weights=None):
    """Add the gradients of the examples `rows` into the accumulators, Hogwild.

    X is dense ``(n_samples, n_features)`` unless `sparse`, when the rows are the CSR
    triplet (data, indices, indptr). `q_buckets` and `q_sketch` hold the first
    layer's packed query codes per row (see `pack_codes`), or no rows (hash here).
    Labels of row r are ``label_idx[label_ptr[r]:label_ptr[r + 1]]`` (classification); Y holds regression
    targets. Each example draws from its own stream ``(seed, r)``. Rows written are
    stamped with `stamp` (> 0). `weights`, None or empty (every weight 1) or one per
    entry of `rows` in its order, scales each example's loss and output delta (its
    sample weight, as in scikit-learn's MLP); an example of weight 0 adds nothing.

    Returns
    -------
    loss : float
        Summed (weighted) loss of the examples.
    macs, dense_macs, hash_ops : int
        Multiply-adds done, those the dense network would do, hashing operations.
    """
    cdef Py_ssize_t n_samples = indptr.shape[0] - 1 if sparse else X.shape[0]
    cdef int max_labels = _check_batch(
        net, np.float32 if floating is float else np.float64, n_samples, X.shape[1],
        sparse, indices, indptr, q_buckets, q_sketch, rows, label_ptr, label_idx,
        Y.shape[0], Y.shape[1], True)
    if not net.trainable:
        raise ValueError("this network was built for inference only")
    if stamp <= 0 or n_threads < 1:
        raise ValueError("stamp and n_threads must be positive")
    cdef Py_ssize_t i, n = rows.shape[0]
    cdef bint weighted = weights is not None and weights.shape[0] > 0
    if weighted and weights.shape[0] != n:
        raise ValueError(f"weights has {weights.shape[0]} entries but the batch has "
                         f"{n} rows: give one weight per row, or none")
    cdef double wt
    cdef int64_t r, lo
    cdef double loss = 0
    cdef int64_t macs = 0, dense_macs = 0, hash_ops = 0
    cdef const floating *dp = &data[0] if data.shape[0] else NULL
    cdef const int *ip = &indices[0] if indices.shape[0] else NULL
    cdef const int *lp = &label_idx[0] if label_idx.shape[0] else NULL
    cdef bint queries = q_buckets.shape[0] > 0
    cdef const int *qb
    cdef const uint64_t *qs
    cdef int n_lab
    cdef bint has_labels = net.loss_kind != SQUARED
    cdef Work **pool = net.workspaces(n_threads, max_labels, sizeof(floating))
    cdef Work *work
    cdef uint64_t rng
    cdef Row row
    with nogil, parallel(num_threads=n_threads):
        work = pool[threadid()]
        # dynamic: a thread that the OS sets aside (a busy machine, nested
        # parallelism) must not hold back the examples dealt to it in advance
        for i in prange(n, schedule='dynamic', chunksize=4):
            r = rows[i]
            rng = stream(seed, <uint64_t>r)
            lo = label_ptr[r] if has_labels else 0
            qb = &q_buckets[r, 0] if queries else NULL
            qs = &q_sketch[r, 0] if queries else NULL
            n_lab = <int>(label_ptr[r + 1] - lo) if has_labels else 0
            wt = weights[i] if weighted else 1.0
            row = row_view(X, dp, ip, indptr, sparse, r)
            loss += run_example(net, <const floating *> row.values, row.ids, row.n,
                                not sparse, qb, qs, lp + lo, n_lab,
                                &Y[r, 0] if not has_labels else NULL, work, &rng, True,
                                stamp, NULL, NULL, wt)
            macs += work.tally[0]
            dense_macs += work.tally[1]
            hash_ops += work.tally[2]
    return loss, macs, dense_macs, hash_ops


def hashed_scores(Network net, const floating[:, ::1] X, const floating[::1] data,
                  const int[::1] indices, const int64_t[::1] indptr, bint sparse,
                  const int[:, ::1] q_buckets, const uint64_t[:, ::1] q_sketch,
                  int[:, ::1] out_ids, floating[:, ::1] out, uint64_t seed,
                  int n_threads):
    """Output scores (pre-activations) of every row's active outputs, through the
    hash tables: row r's i-th active output is out_ids[r, i] and scores out[r, i];
    both have `Network.output_width` columns, padded with -1 and -inf (# OUT
    out_ids, out).
    """
    cdef Py_ssize_t n_samples = indptr.shape[0] - 1 if sparse else X.shape[0]
    cdef int64_t[::1] rows = np.arange(n_samples, dtype=np.int64)
    _check_batch(net, np.float32 if floating is float else np.float64, n_samples,
                 X.shape[1], sparse, indices, indptr, q_buckets, q_sketch, rows, None, None,
                 0, 0, False)
    if (out.shape[0] != n_samples or out.shape[1] != net.output_width
            or out_ids.shape[0] != n_samples or out_ids.shape[1] != net.output_width):
        raise ValueError("output arrays have the wrong shape")
    if n_threads < 1:
        raise ValueError("n_threads must be positive")
    cdef Py_ssize_t r
    cdef const floating *dp = &data[0] if data.shape[0] else NULL
    cdef const int *ip = &indices[0] if indices.shape[0] else NULL
    cdef bint queries = q_buckets.shape[0] > 0
    cdef const int *qb
    cdef const uint64_t *qs
    cdef Work **pool = net.workspaces(n_threads, 0, sizeof(floating))
    cdef Work *work
    cdef uint64_t rng
    cdef Row row
    with nogil, parallel(num_threads=n_threads):
        work = pool[threadid()]
        for r in prange(n_samples, schedule='dynamic', chunksize=16):
            rng = seed
            qb = &q_buckets[r, 0] if queries else NULL
            qs = &q_sketch[r, 0] if queries else NULL
            row = row_view(X, dp, ip, indptr, sparse, r)
            run_example(net, <const floating *> row.values, row.ids, row.n, not sparse,
                        qb, qs, NULL, 0, NULL, work, &rng, False, 0, &out_ids[r, 0],
                        &out[r, 0], 1.0)
