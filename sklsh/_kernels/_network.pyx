# cython: language_level=3
"""The Hogwild batch driver: one example per iteration of a `prange`, all threads
reading the same weights and tables and adding into the same gradient accumulators.
Table upkeep (re-hashing units between batches) is `_tables.pyx`'s.

`Network` wraps the estimator's arrays (no copies) in the C structs of `_layout.pxd`,
after checking each array's dtype, shape, contiguity and writeability: past that point
the nogil code indexes without bounds checks. It is rebuilt on every call to fit or
partial_fit and never pickled; the arrays are the model.
"""
import numpy as np

cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange, parallel
from libc.stdlib cimport malloc, calloc, free
from libc.math cimport INFINITY
from libc.stdint cimport int64_t, uint64_t

from ._layout cimport (Layer, HashSpec, Tables, SRP, WTA, DWTA, DOPH, FIFO, RESERVOIR, TOPK,
                       UNION, SKETCH, IDENTITY, LOGISTIC, TANH, RELU, SOFTMAX, SIGMOID, SQUARED)
from ._hashing cimport query_buckets, pack_sketch
from ._active_set cimport Scratch, select_active, keep_largest, sort_by_id
from ._propagate cimport forward, activate, output_delta, backward
from ._random cimport stream

cnp.import_array()

ACTIVATIONS = {"identity": IDENTITY, "logistic": LOGISTIC, "tanh": TANH, "relu": RELU}
LOSSES = {"softmax": SOFTMAX, "sigmoid": SIGMOID, "squared": SQUARED}
FAMILIES = {"srp": SRP, "wta": WTA, "dwta": DWTA, "doph": DOPH}
POLICIES = {"fifo": FIFO, "reservoir": RESERVOIR}
SELECTIONS = {"topk": TOPK, "union": UNION, "sketch": SKETCH}


cdef void *checked(object a, object dtype, tuple shape, bint write=True) except NULL:
    """The data pointer of `a` once it is known to be exactly what the kernels expect."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"expected a NumPy array, got {type(a).__name__}")
    if a.dtype != dtype or a.shape != shape or not a.flags.c_contiguous:
        raise ValueError(f"expected a C-contiguous {np.dtype(dtype)} array of shape "
                         f"{shape}, got {a.dtype} {a.shape}")
    if write and not a.flags.writeable:
        raise ValueError("a model array is read-only; it must be writeable to train")
    if a.size == 0:
        return <void *> &EMPTY
    return cnp.PyArray_DATA(a)

cdef double EMPTY = 0


cdef inline int *take_ints(int *block, Py_ssize_t *at, Py_ssize_t n) noexcept nogil:
    """The next n ints of `block` from offset `at` (# INOUT at); NULL while counting."""
    cdef int *p = NULL if block == NULL else block + at[0]
    at[0] += n
    return p


cdef inline void *take_floats(char *block, Py_ssize_t *at, Py_ssize_t n,
                              Py_ssize_t fsize) noexcept nogil:
    """The next n floats of `fsize` bytes of `block` (# INOUT at); NULL while counting."""
    cdef void *p = NULL if block == NULL else block + at[0] * fsize
    at[0] += n
    return p


cdef class Network:
    """C view of a network's arrays; see the module docstring.

    Parameters
    ----------
    weights, biases : list of ndarray
        Per layer, ``(n_out, n_in)`` unit-major weights and ``(n_out,)`` biases.
    hashing : list of (dict or None)
        Per layer, the hash state (see ``sklsh/_hashing.py``), None for dense layers.
    budgets : list of int
        Active units per example and layer.
    activation, loss, selection : str
    candidates : list of int, optional
        Per layer, units the tables propose before the budget with the largest
        pre-activations is kept (re-ranking); default: the budgets (no re-ranking).
    grad_weights, grad_biases : list of ndarray, optional
        Gradient accumulators shaped like the parameters, zero between batches.
    touched : list of ndarray of int32, optional
        Per layer, the number of the last batch that wrote each row's gradient.
        Without the accumulators and stamps the network can only infer, and then its
        arrays may be read-only (memory-mapped models).
    """
    @property
    def dtype(self):
        """The float type of the network's arrays."""
        return np.dtype(np.float32 if self.is_float else np.float64)

    @property
    def n_outputs(self):
        return self.layers[self.n_layers - 1].n_out

    @property
    def output_width(self):
        """Active outputs per example at inference: the output layer's budget."""
        return self.layers[self.n_layers - 1].budget

    @property
    def first_layer_exhaustive(self):
        """Whether the first layer takes every unit as a candidate (no table lookup)."""
        return self.layers[0].candidates >= self.layers[0].n_out

    def __cinit__(self):
        self.layers = NULL

    def __dealloc__(self):
        free(self.layers)

    def __init__(self, list weights, list biases, list hashing, list budgets,
                 str activation, str loss, str selection, list candidates=None,
                 list grad_weights=None,
                 list grad_biases=None, list touched=None, list explore=None):
        cdef int l, n_in, n_out, KL
        cdef Layer *L
        self.n_layers = len(weights)
        dtype = weights[0].dtype
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"weights must be float32 or float64, got {dtype}")
        self.is_float = dtype == np.float32
        self.act_kind = ACTIVATIONS[activation]
        self.loss_kind = LOSSES[loss]
        self.trainable = grad_weights is not None
        if self.trainable and (grad_biases is None or touched is None):
            raise ValueError("training needs the accumulators and the row stamps")
        write = self.trainable
        self.keep = [weights, biases, grad_weights, grad_biases, touched, hashing]
        self.layers = <Layer *> calloc(self.n_layers, sizeof(Layer))
        if self.layers == NULL:
            raise MemoryError()
        self.max_units = self.max_kl = self.max_tables = self.max_cand = 1
        self.max_words = 1
        for l in range(self.n_layers):
            L = &self.layers[l]
            n_out, n_in = weights[l].shape
            if l > 0 and n_in != self.layers[l - 1].n_out:
                raise ValueError("consecutive layers do not chain")
            L.n_in, L.n_out = n_in, n_out
            L.W = checked(weights[l], dtype, (n_out, n_in), write)
            L.b = checked(biases[l], dtype, (n_out,), write)
            if write:
                L.gW = checked(grad_weights[l], dtype, (n_out, n_in))
                L.gb = checked(grad_biases[l], dtype, (n_out,))
                L.touched = <int *> checked(touched[l], np.int32, (n_out,))
            L.budget = budgets[l]
            if not 1 <= L.budget <= n_out:
                raise ValueError(f"budget {L.budget} outside [1, {n_out}]")
            L.candidates = L.budget if candidates is None else candidates[l]
            L.explore = 0 if explore is None else explore[l]
            if not 0 <= L.explore <= L.budget:
                raise ValueError(f"explore {L.explore} outside [0, {L.budget}]")
            if not L.budget <= L.candidates <= n_out:
                raise ValueError(f"candidates {L.candidates} outside [{L.budget}, {n_out}]")
            L.hashed = hashing[l] is not None
            L.selection = SELECTIONS[selection]
            if L.hashed:
                self._set_hashing(L, hashing[l], dtype, write)
                KL = L.spec.n_tables * L.spec.n_hashes
                self.max_units = max(self.max_units, n_out)
                self.max_kl = max(self.max_kl, KL)
                self.max_tables = max(self.max_tables, L.spec.n_tables)
                # (the sketch ranking's first pass may keep any number of units)
                self.max_cand = max(self.max_cand, n_out,
                                    L.spec.n_tables * L.tables.bucket_size)
                self.max_words = max(self.max_words, L.tables.n_words)
            else:
                L.budget = L.candidates = n_out

    cdef _set_hashing(self, Layer *L, dict h, object dtype, bint write):
        cdef HashSpec *s = &L.spec
        cdef Tables *T = &L.tables
        s.family = FAMILIES[h["family"]]
        s.n_tables, s.n_hashes = h["n_tables"], h["n_hashes"]
        s.code_bits, s.range_bits = h["code_bits"], h["range_bits"]
        s.dim, s.mips = L.n_in, h["mips"]
        s.window = h["window"]
        KL = s.n_tables * s.n_hashes
        if not (1 <= s.range_bits <= 30 and s.n_tables >= 1 and s.n_hashes >= 1
                and s.code_bits >= 1):
            raise ValueError("inconsistent hash state")
        if s.family == SRP:
            s.proj = checked(h["projections"], dtype, (L.n_in + 2, KL), False)
        else:
            pos = h["positions"]
            s.n_perms = pos.shape[0]
            # a WTA window needs `window` positions, a DOPH bin one
            span = 1 if s.family == DOPH else s.window
            if not (s.window >= 2 and (1 << s.code_bits) >= s.window
                    and s.n_perms * L.n_in >= KL * span):
                raise ValueError("inconsistent WTA state")
            s.wta_pos = <const int *> checked(pos, np.int32, (s.n_perms, L.n_in), False)
            if pos.size and (pos.min() < 0 or pos.max() >= s.n_perms * L.n_in):
                raise ValueError("WTA positions out of range")
        if s.family == DOPH:
            s.key_set = h["key_set"]
            if not 1 <= s.key_set <= L.n_in:
                raise ValueError("DOPH key_set out of range")
        elif s.family != SRP:
            zero = h["zero_code"]
            s.zero_code = <const int *> checked(zero, np.int32, (KL,), False)
            if zero.size and (zero.min() < 0 or zero.max() >= s.window):
                raise ValueError("WTA zero codes out of range")
        T.n_buckets = 1 << s.range_bits
        T.policy = POLICIES[h["policy"]]
        if h["buckets"]:
            T.bucket_size = h["bucket_size"]
            T.ids = <int *> checked(h["ids"], np.int32,
                                    (s.n_tables, T.n_buckets, T.bucket_size), write)
            T.fill = <int *> checked(h["fill"], np.int32, (s.n_tables, T.n_buckets),
                                     write)
            T.seen = <int64_t *> checked(h["seen"], np.int64,
                                         (s.n_tables, T.n_buckets), write)
            T.home = <int *> checked(h["home"], np.int32, (L.n_out, s.n_tables), write)
        elif L.selection != SKETCH:
            raise ValueError(
                "selection='topk' and 'union' read the hash tables' buckets, which a "
                "model fitted with selection='sketch' does not keep; fit it again with "
                "the selection it is to predict with")
        else:       # (nothing reads or writes the buckets of a sketch layer)
            T.bucket_size = 0
            T.ids = T.fill = T.home = NULL
            T.seen = NULL
        T.scale = <double *> checked(h["scale"], np.float64, (1,), write)
        T.codes_per_word = 64 // s.code_bits
        T.n_words = -(-KL // T.codes_per_word)
        T.lsb = 0
        for g in range(T.codes_per_word):
            T.lsb |= (<uint64_t>1) << (g * s.code_bits)
        T.sketch = <uint64_t *> checked(h["sketch"], np.uint64, (L.n_out, T.n_words), write)
        T.prefix = <uint64_t *> checked(h["prefix"], np.uint64, (L.n_out,), write)
        T.n_groups = 0
        if not write and "groups" in h:
            self._set_prefix_table(L, h)
        # a table written by someone else must not send the readers out of bounds
        if h["buckets"]:
            fill, ids = h["fill"], h["ids"]
            if fill.size and (fill.min() < 0 or fill.max() > T.bucket_size):
                raise ValueError("table fill counts out of range")
            if ids.size and (ids.min() < 0 or ids.max() >= L.n_out):
                raise ValueError("table unit ids out of range")

    cdef _set_prefix_table(self, Layer *L, dict h):
        """The prefix table of an inference network (see ``_hashing.group_prefixes``),
        once its groups are known to be non-empty and to hold units of the layer."""
        cdef Tables *T = &L.tables
        groups, ptr, members = h["groups"], h["group_ptr"], h["group_units"]
        n_groups = len(groups)
        T.groups = <const uint64_t *> checked(groups, np.uint64, (n_groups,), False)
        T.group_ptr = <const int *> checked(ptr, np.int32, (n_groups + 1,), False)
        T.group_units = <const int *> checked(members, np.int32, (L.n_out,), False)
        if not (n_groups >= 1 and ptr[0] == 0 and ptr[n_groups] == L.n_out
                and (np.diff(ptr) > 0).all()):
            raise ValueError("malformed prefix table pointers")
        if members.min() < 0 or members.max() >= L.n_out:
            raise ValueError("prefix table unit ids out of range")
        T.n_groups = n_groups

    # ------------------------------------------------------------------ workspaces
    cdef void carve(self, Work *w, int max_labels, Py_ssize_t fsize, int *ib, char *fb,
                    Py_ssize_t *n_ints, Py_ssize_t *n_floats) noexcept nogil:
        """The one size table of a thread's buffers: with NULL blocks it only counts
        the ints and floats they take (# OUT n_ints, n_floats); with the blocks it
        points w's buffers into them at the same offsets (# OUT w)."""
        cdef Py_ssize_t ni = 0, nf = 0
        cdef int l, cap
        for l in range(self.n_layers):
            cap = self.capacity(l, max_labels)
            w.ids[l] = take_ints(ib, &ni, cap)
            w.act[l] = take_floats(fb, &nf, cap, fsize)
            w.der[l] = take_floats(fb, &nf, cap, fsize)
            w.delta[l] = take_floats(fb, &nf, cap, fsize)
        w.acc = take_floats(fb, &nf, self.max_kl, fsize)
        w.n_active = take_ints(ib, &ni, self.n_layers)
        w.label_pos = take_ints(ib, &ni, max_labels)
        w.codes = take_ints(ib, &ni, self.max_kl)
        w.buckets = take_ints(ib, &ni, self.max_tables)
        w.scratch.order = take_ints(ib, &ni, self.max_tables)
        w.scratch.hist = take_ints(ib, &ni, max(self.max_tables, self.max_kl) + 1)
        w.scratch.stamp = take_ints(ib, &ni, self.max_units)
        w.scratch.count = take_ints(ib, &ni, self.max_units)
        w.scratch.cand = take_ints(ib, &ni, self.max_cand)
        ni += ni % 2              # the sketch words 8-aligned (the block is, by calloc)
        w.sketch = <uint64_t *> take_ints(ib, &ni, 2 * self.max_words)
        n_ints[0], n_floats[0] = ni, nf

    cdef Work *new_work(self, int max_labels, Py_ssize_t fsize) noexcept nogil:
        """Per-thread buffers, or NULL when out of memory."""
        cdef int l, a
        cdef Py_ssize_t n_ints, n_floats
        cdef Work *w = <Work *> calloc(1, sizeof(Work))
        if w == NULL:
            return NULL
        w.ids = <int **> calloc(self.n_layers, sizeof(int *))
        w.act = <void **> calloc(self.n_layers, sizeof(void *))
        w.der = <void **> calloc(self.n_layers, sizeof(void *))
        w.delta = <void **> calloc(self.n_layers, sizeof(void *))
        if w.ids == NULL or w.act == NULL or w.der == NULL or w.delta == NULL:
            self.free_work(w)
            return NULL
        self.carve(w, max_labels, fsize, NULL, NULL, &n_ints, &n_floats)
        w.iblock = calloc(n_ints + 1, sizeof(int))
        w.fblock = calloc(n_floats + 1, fsize)
        if w.iblock == NULL or w.fblock == NULL:
            self.free_work(w)
            return NULL
        self.carve(w, max_labels, fsize, <int *> w.iblock, <char *> w.fblock, &n_ints,
                   &n_floats)
        for l in range(self.n_layers):
            if not self.layers[l].hashed:
                for a in range(self.capacity(l, max_labels)):
                    w.ids[l][a] = a
        w.scratch.now = 0
        return w

    cdef int capacity(self, int l, int max_labels) noexcept nogil:
        cdef int cap = self.layers[l].candidates
        if l == self.n_layers - 1 and self.layers[l].hashed and max_labels > cap:
            cap = max_labels
        return cap

    cdef void free_work(self, Work *w) noexcept nogil:
        if w != NULL:
            free(w.iblock)
            free(w.fblock)
            free(w.ids)
            free(w.act)
            free(w.der)
            free(w.delta)
            free(w)


cdef inline const floating *row_view(const floating[:, ::1] X, const floating *data,
                                    const int *indices, const int64_t[::1] indptr,
                                    bint sparse, int64_t r, const int **ids,
                                    int *n) noexcept nogil:
    """Row r of X, dense or CSR, as run_example reads it: its values, and with CSR
    their feature ids (# OUT ids, n: NULL and the width for a dense row)."""
    if sparse:
        ids[0] = indices + indptr[r]
        n[0] = <int>(indptr[r + 1] - indptr[r])
        return data + indptr[r]
    ids[0] = NULL
    n[0] = <int>X.shape[1]
    return &X[r, 0]


cdef double run_example(Network net, const floating *x, const int *x_ids, int x_n,
                        bint x_dense, const int *q_buckets, const uint64_t *q_sketch,
                        const int *labels, int n_labels,
                        const floating *y, Work *w, uint64_t *rng, bint training,
                        int stamp, int *score_ids, floating *scores,
                        double weight) noexcept nogil:
    """Forward one example through the active sets. When `training`, add its
    gradients into the accumulators and return its loss, both scaled by its sample
    `weight` (as scikit-learn's MLP scales the output deltas); otherwise write its active
    outputs' ids and scores, padded to the output width (`Network.output_width`)
    with id -1 and score -inf (# OUT score_ids, scores). w.tally counts the work.

    The first layer's query is hashed here unless its buckets and sketch are given
    (`q_buckets`, `q_sketch`; see `pack_codes`): they depend on the example alone.

    In training `rng` is the example's stream (from its row); in inference it is the
    seed, and the stream is drawn from the example's own hash codes at its first
    hashed layer, so that a prediction never depends on where the row sits in X."""
    cdef int l, a, k, e, n_layers = net.n_layers, last = net.n_layers - 1
    cdef Layer *L
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
    w.tally[0] = w.tally[1] = w.tally[2] = 0
    for l in range(n_layers):
        L = &net.layers[l]
        dense_in = L.n_in if (l > 0 or x_dense) else x_n
        if L.hashed:
            # with every unit a candidate nothing is looked up (select_active reads
            # no buckets): the exact pre-activations choose
            buckets, sketch = NULL, NULL
            if L.candidates < L.n_out:
                if l == 0 and q_buckets != NULL:
                    buckets, sketch = q_buckets, q_sketch
                else:
                    w.tally[2] += query_buckets(&L.spec, in_ids, in_val, in_n, in_dense,
                                                w.codes, <floating *> w.acc, w.buckets)
                    if L.selection == SKETCH:
                        pack_sketch(&L.spec, &L.tables, w.codes, w.sketch)
                    buckets, sketch = w.buckets, w.sketch
                if L.selection == SKETCH:
                    w.tally[2] += <int64_t>L.n_out * L.tables.n_words
                if not seeded:
                    content = 0
                    for t in range(L.spec.n_tables):
                        content = (content * <uint64_t>0x100000001B3
                                   + <uint64_t>buckets[t])
                    rng[0] = stream(rng[0], content)
                    seeded = True
            n_forced = n_labels if training and l == last else 0
            n_explore = L.explore if training else 0
            k = select_active(L, buckets, sketch, labels, n_forced, n_explore,
                              &w.scratch, rng, w.ids[l])
        else:
            k = L.n_out
        z = <floating *> w.act[l]
        forward(L, in_ids, in_val, in_n, in_dense, w.ids[l], k, z)
        w.tally[0] += <int64_t>k * (L.n_in if in_dense else in_n)
        if L.hashed:
            k = keep_largest(w.ids[l], z, k, L.budget, min(n_forced + n_explore, k))
            if l < last:
                sort_by_id(w.ids[l], z, 0, k)
        if l < last:
            activate(net.act_kind, z, <floating *> w.der[l], k)
        w.n_active[l] = k
        w.tally[1] += <int64_t>L.n_out * dense_in
        in_ids, in_val, in_n, in_dense = w.ids[l], z, k, not L.hashed
    if not training:
        # compact: a top-k over the active outputs never reads the other classes
        for a in range(w.n_active[last]):
            score_ids[a] = w.ids[last][a]
            scores[a] = (<floating *> w.act[last])[a]
        for a in range(w.n_active[last], net.layers[last].budget):
            score_ids[a] = -1
            scores[a] = -INFINITY
        return 0
    L = &net.layers[last]
    for e in range(n_labels):
        # forced labels lead a hashed output's active set; a dense one is the identity
        w.label_pos[e] = e if L.hashed else labels[e]
    value = output_delta(net.loss_kind, <floating *> w.act[last], w.n_active[last],
                         w.ids[last], w.label_pos, n_labels, y,
                         <floating *> w.delta[last])
    if weight != 1:
        # (a zero weight zeroes every delta: backward then touches no row)
        value *= weight
        z = <floating *> w.delta[last]
        for a in range(w.n_active[last]):
            z[a] = <floating>(z[a] * weight)
    for l in range(last, -1, -1):
        L = &net.layers[l]
        k = w.n_active[l]
        if l > 0:
            in_ids, in_val = w.ids[l - 1], <floating *> w.act[l - 1]
            in_n, in_dense = w.n_active[l - 1], not net.layers[l - 1].hashed
            in_delta = <floating *> w.delta[l - 1]
            for a in range(in_n):
                in_delta[a] = 0
        else:
            in_ids, in_val, in_n, in_dense, in_delta = x_ids, x, x_n, x_dense, NULL
        backward(L, in_ids, in_val, in_n, in_dense, w.ids[l], k,
                 <floating *> w.delta[l], in_delta, stamp)
        w.tally[0] += <int64_t>k * (L.n_in if in_dense else in_n) * (2 if l > 0 else 1)
        w.tally[1] += (<int64_t>L.n_out * (L.n_in if (l > 0 or x_dense) else x_n)
                       * (2 if l > 0 else 1))
        if l > 0:
            for a in range(in_n):
                in_delta[a] *= (<floating *> w.der[l - 1])[a]
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
    cdef int[::1] failed = np.zeros(1, dtype=np.int32)
    cdef const floating *dp = &data[0] if data.shape[0] else NULL
    cdef const int *ip = &indices[0] if indices.shape[0] else NULL
    cdef const int *lp = &label_idx[0] if label_idx.shape[0] else NULL
    cdef bint queries = q_buckets.shape[0] > 0
    cdef const int *qb
    cdef const uint64_t *qs
    cdef int n_lab
    cdef bint has_labels = net.loss_kind != SQUARED
    cdef Work *w
    cdef uint64_t rng
    cdef const floating *x
    cdef const int *x_ids
    cdef int x_n
    with nogil, parallel(num_threads=n_threads):
        w = net.new_work(max_labels, sizeof(floating))
        if w == NULL:
            failed[0] = 1
        # dynamic: a thread that the OS sets aside (a busy machine, nested
        # parallelism) must not hold back the examples dealt to it in advance
        for i in prange(n, schedule='dynamic', chunksize=4):
            if w == NULL:
                continue
            r = rows[i]
            rng = stream(seed, <uint64_t>r)
            lo = label_ptr[r] if has_labels else 0
            qb = &q_buckets[r, 0] if queries else NULL
            qs = &q_sketch[r, 0] if queries else NULL
            n_lab = <int>(label_ptr[r + 1] - lo) if has_labels else 0
            wt = weights[i] if weighted else 1.0
            x = row_view(X, dp, ip, indptr, sparse, r, &x_ids, &x_n)
            loss += run_example(net, x, x_ids, x_n, not sparse, qb, qs, lp + lo, n_lab,
                                &Y[r, 0] if not has_labels else NULL, w, &rng, True,
                                stamp, NULL, NULL, wt)
            macs += w.tally[0]
            dense_macs += w.tally[1]
            hash_ops += w.tally[2]
        net.free_work(w)
    if failed[0]:
        raise MemoryError("could not allocate the per-thread buffers")
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
    cdef int[::1] failed = np.zeros(1, dtype=np.int32)
    cdef const floating *dp = &data[0] if data.shape[0] else NULL
    cdef const int *ip = &indices[0] if indices.shape[0] else NULL
    cdef bint queries = q_buckets.shape[0] > 0
    cdef const int *qb
    cdef const uint64_t *qs
    cdef Work *w
    cdef uint64_t rng
    cdef const floating *x
    cdef const int *x_ids
    cdef int x_n
    with nogil, parallel(num_threads=n_threads):
        w = net.new_work(0, sizeof(floating))
        if w == NULL:
            failed[0] = 1
        for r in prange(n_samples, schedule='dynamic', chunksize=16):
            if w == NULL:
                continue
            rng = seed
            qb = &q_buckets[r, 0] if queries else NULL
            qs = &q_sketch[r, 0] if queries else NULL
            x = row_view(X, dp, ip, indptr, sparse, r, &x_ids, &x_n)
            run_example(net, x, x_ids, x_n, not sparse, qb, qs, NULL, 0, NULL, w, &rng,
                        False, 0, &out_ids[r, 0], &out[r, 0], 1.0)
        net.free_work(w)
    if failed[0]:
        raise MemoryError("could not allocate the per-thread buffers")
