# cython: language_level=3
"""The C view of a network's arrays: `Network` wraps the estimator's arrays (no copies)
in the C structs of `_layout.pxd`, after checking each array's dtype, shape, contiguity
and writeability: past that point the nogil code indexes without bounds checks. It
also sizes and carves each thread's workspace. It is rebuilt on every call to fit or
partial_fit and never pickled; the arrays are the model. The Hogwild passes that read
it are `_hogwild.pyx`'s, table upkeep `_tables.pyx`'s.
"""
import numpy as np

cimport numpy as cnp
from libc.stdlib cimport calloc, free
from libc.string cimport memset
from libc.stdint cimport int64_t, uint64_t

from ._vec cimport sk_slot_lsb
from ._active_set cimport Scratch

from ._layout cimport (Layer, HashSpec, Tables, SRP, WTA, DWTA, DOPH, FIFO, RESERVOIR, COLLISIONS,
                       UNION, SKETCH, IDENTITY, LOGISTIC, TANH, RELU, SOFTMAX, SIGMOID, SQUARED)

cnp.import_array()

ACTIVATIONS = {"identity": IDENTITY, "logistic": LOGISTIC, "tanh": TANH, "relu": RELU}
LOSSES = {"softmax": SOFTMAX, "sigmoid": SIGMOID, "squared": SQUARED}
FAMILIES = {"srp": SRP, "wta": WTA, "dwta": DWTA, "doph": DOPH}
POLICIES = {"fifo": FIFO, "reservoir": RESERVOIR}
SELECTIONS = {"collisions": COLLISIONS, "union": UNION, "sketch": SKETCH}


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
        Per layer, the hash state (see ``sklsh/_hash_state.py``), None for dense layers.
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
    explore : list of int, optional
        Per layer, units of the budget drawn at random per training example.
    first_feature_major : bool, default=False
        The first layer, dense, is stored by input feature: its weights and their
        accumulators are ``(n_in, n_out)`` and its stamps ``(n_in,)``.
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
        self.pool = NULL

    def __dealloc__(self):
        self.free_pool()
        free(self.layers)

    def __init__(self, list weights, list biases, list hashing, list budgets,
                 str activation, str loss, str selection, list candidates=None,
                 list grad_weights=None,
                 list grad_biases=None, list touched=None, list explore=None,
                 bint first_feature_major=False):
        cdef int l, n_in, n_out, KL
        cdef Layer *layer
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
            layer = &self.layers[l]
            layer.feature_major = l == 0 and first_feature_major
            if layer.feature_major:
                if hashing[0] is not None:
                    raise ValueError("a hashed layer is stored unit-major")
                n_in, n_out = weights[l].shape
                shape = (n_in, n_out)
            else:
                n_out, n_in = weights[l].shape
                shape = (n_out, n_in)
            if l > 0 and n_in != self.layers[l - 1].n_out:
                raise ValueError("consecutive layers do not chain")
            layer.n_in, layer.n_out = n_in, n_out
            layer.W = checked(weights[l], dtype, shape, write)
            layer.b = checked(biases[l], dtype, (n_out,), write)
            if write:
                layer.gW = checked(grad_weights[l], dtype, shape)
                layer.gb = checked(grad_biases[l], dtype, (n_out,))
                layer.touched = <int *> checked(touched[l], np.int32, (shape[0],))
            layer.budget = budgets[l]
            if not 1 <= layer.budget <= n_out:
                raise ValueError(f"budget {layer.budget} outside [1, {n_out}]")
            layer.candidates = layer.budget if candidates is None else candidates[l]
            layer.explore = 0 if explore is None else explore[l]
            if not 0 <= layer.explore <= layer.budget:
                raise ValueError(f"explore {layer.explore} outside [0, {layer.budget}]")
            if not layer.budget <= layer.candidates <= n_out:
                raise ValueError(f"candidates {layer.candidates} outside "
                                 f"[{layer.budget}, {n_out}]")
            layer.hashed = hashing[l] is not None
            layer.selection = SELECTIONS[selection]
            if layer.hashed:
                self._set_hashing(layer, hashing[l], dtype, write)
                KL = layer.spec.n_tables * layer.spec.n_hashes
                self.max_units = max(self.max_units, n_out)
                self.max_kl = max(self.max_kl, KL)
                self.max_tables = max(self.max_tables, layer.spec.n_tables)
                # (the sketch ranking's first pass may keep any number of units)
                self.max_cand = max(self.max_cand, n_out,
                                    layer.spec.n_tables * layer.tables.bucket_size)
                self.max_words = max(self.max_words, layer.tables.n_words)
            else:
                layer.budget = layer.candidates = n_out

    cdef _set_hashing(self, Layer *layer, dict h, object dtype, bint write):
        cdef HashSpec *s = &layer.spec
        cdef Tables *T = &layer.tables
        s.family = FAMILIES[h["family"]]
        s.n_tables, s.n_hashes = h["n_tables"], h["n_hashes"]
        s.code_bits, s.bits_per_table = h["code_bits"], h["bits_per_table"]
        s.dim, s.mips = layer.n_in, h["mips"]
        s.window = h["window"]
        KL = s.n_tables * s.n_hashes
        if not (1 <= s.bits_per_table <= 30 and s.n_tables >= 1 and s.n_hashes >= 1
                and s.code_bits >= 1):
            raise ValueError("inconsistent hash state")
        if s.family == SRP:
            s.proj = checked(h["projections"], dtype, (layer.n_in + 2, KL), False)
        else:
            pos = h["positions"]
            s.n_perms = pos.shape[0]
            # a WTA window needs `window` positions, a DOPH bin one
            span = 1 if s.family == DOPH else s.window
            if not (s.window >= 2 and (1 << s.code_bits) >= s.window
                    and s.n_perms * layer.n_in >= KL * span):
                raise ValueError("inconsistent WTA state")
            s.wta_pos = <const int *> checked(pos, np.int32, (s.n_perms, layer.n_in),
                                              False)
            if pos.size and (pos.min() < 0 or pos.max() >= s.n_perms * layer.n_in):
                raise ValueError("WTA positions out of range")
        if s.family == DOPH:
            s.key_set = h["key_set"]
            if not 1 <= s.key_set <= layer.n_in:
                raise ValueError("DOPH key_set out of range")
        elif s.family != SRP:
            zero = h["zero_code"]
            s.zero_code = <const int *> checked(zero, np.int32, (KL,), False)
            if zero.size and (zero.min() < 0 or zero.max() >= s.window):
                raise ValueError("WTA zero codes out of range")
        T.n_buckets = 1 << s.bits_per_table
        T.policy = POLICIES[h["policy"]]
        if h["buckets"]:
            T.bucket_size = h["bucket_size"]
            T.ids = <int *> checked(h["ids"], np.int32,
                                    (s.n_tables, T.n_buckets, T.bucket_size), write)
            T.fill = <int *> checked(h["fill"], np.int32, (s.n_tables, T.n_buckets),
                                     write)
            T.seen = <int64_t *> checked(h["seen"], np.int64,
                                         (s.n_tables, T.n_buckets), write)
            T.home = <int *> checked(h["home"], np.int32, (s.n_tables, layer.n_out),
                                     write)
        elif layer.selection != SKETCH:
            raise ValueError(
                "selection='collisions' and 'union' read the hash tables' buckets, which a "
                "model fitted with selection='sketch' does not keep; fit it again with "
                "the selection it is to predict with")
        else:       # (nothing reads or writes the buckets of a sketch layer)
            T.bucket_size = 0
            T.ids = T.fill = T.home = NULL
            T.seen = NULL
        T.scale = <double *> checked(h["scale"], np.float64, (1,), write)
        T.codes_per_word = 64 // s.code_bits
        T.n_words = -(-KL // T.codes_per_word)
        T.lsb = sk_slot_lsb(s.code_bits)
        T.sketch = <uint64_t *> checked(h["sketch"], np.uint64, (layer.n_out, T.n_words),
                                        write)
        T.prefix = <uint64_t *> checked(h["prefix"], np.uint64, (layer.n_out,), write)
        T.n_groups = 0
        if not write and "groups" in h:
            self._set_prefix_table(layer, h)
        # a table written by someone else must not send the readers out of bounds
        if h["buckets"]:
            fill, ids = h["fill"], h["ids"]
            if fill.size and (fill.min() < 0 or fill.max() > T.bucket_size):
                raise ValueError("table fill counts out of range")
            if ids.size and (ids.min() < 0 or ids.max() >= layer.n_out):
                raise ValueError("table unit ids out of range")

    cdef _set_prefix_table(self, Layer *layer, dict h):
        """The prefix table of an inference network (see ``sklsh._hash_state.group_prefixes``),
        once its groups are known to be non-empty and to hold units of the layer."""
        cdef Tables *T = &layer.tables
        groups, ptr, members = h["groups"], h["group_ptr"], h["group_units"]
        n_groups = len(groups)
        T.groups = <const uint64_t *> checked(groups, np.uint64, (n_groups,), False)
        T.group_ptr = <const int *> checked(ptr, np.int32, (n_groups + 1,), False)
        T.group_units = <const int *> checked(members, np.int32, (layer.n_out,), False)
        if not (n_groups >= 1 and ptr[0] == 0 and ptr[n_groups] == layer.n_out
                and (np.diff(ptr) > 0).all()):
            raise ValueError("malformed prefix table pointers")
        if members.min() < 0 or members.max() >= layer.n_out:
            raise ValueError("prefix table unit ids out of range")
        T.n_groups = n_groups

    # ------------------------------------------------------------------ workspaces
    cdef void carve(self, Work *work, int max_labels, Py_ssize_t fsize, int *ib, char *fb,
                    Py_ssize_t *n_ints, Py_ssize_t *n_floats) noexcept nogil:
        """The one size table of a thread's buffers: with NULL blocks it only counts
        the ints and floats they take (# OUT n_ints, n_floats); with the blocks it
        points work's buffers into them at the same offsets (# OUT work)."""
        cdef Py_ssize_t ni = 0, nf = 0
        cdef int l, cap
        for l in range(self.n_layers):
            cap = self.capacity(l, max_labels)
            work.ids[l] = take_ints(ib, &ni, cap)
            work.act[l] = take_floats(fb, &nf, cap, fsize)
            work.der[l] = take_floats(fb, &nf, cap, fsize)
            work.delta[l] = take_floats(fb, &nf, cap, fsize)
        work.acc = take_floats(fb, &nf, self.max_kl, fsize)
        work.n_active = take_ints(ib, &ni, self.n_layers)
        work.label_pos = take_ints(ib, &ni, max_labels)
        work.codes = take_ints(ib, &ni, self.max_kl)
        work.buckets = take_ints(ib, &ni, self.max_tables)
        work.scratch.order = take_ints(ib, &ni, self.max_tables)
        work.scratch.hist = take_ints(ib, &ni, max(self.max_tables, self.max_kl) + 1)
        work.scratch.stamp = take_ints(ib, &ni, self.max_units)
        work.scratch.count = take_ints(ib, &ni, self.max_units)
        work.scratch.cand = take_ints(ib, &ni, self.max_cand)
        ni += ni % 2              # the sketch words 8-aligned (the block is, by calloc)
        work.sketch = <uint64_t *> take_ints(ib, &ni, 2 * self.max_words)
        n_ints[0], n_floats[0] = ni, nf

    cdef Work **workspaces(self, int n_threads, int max_labels,
                           Py_ssize_t fsize) except NULL:
        """A workspace for each of `n_threads` threads, kept from call to call: fresh
        ones each batch cost their pages zeroed by the kernel again (calloc of blocks
        this large maps new memory). Made anew when more threads, labels or wider
        floats are asked for; a selection stamp near overflow starts again at 0."""
        cdef int t
        cdef Scratch *s
        if self.pool != NULL and (n_threads > self.pool_threads
                                  or max_labels > self.pool_labels
                                  or fsize != self.pool_fsize):
            max_labels = max(max_labels, self.pool_labels)
            self.free_pool()
        if self.pool == NULL:
            self.pool = <Work **> calloc(n_threads, sizeof(Work *))
            if self.pool == NULL:
                raise MemoryError("could not allocate the per-thread buffers")
            self.pool_threads, self.pool_labels = n_threads, max_labels
            self.pool_fsize = fsize
            for t in range(n_threads):
                self.pool[t] = self.new_work(max_labels, fsize)
                if self.pool[t] == NULL:
                    self.free_pool()
                    raise MemoryError("could not allocate the per-thread buffers")
        for t in range(self.pool_threads):
            s = &self.pool[t].scratch
            if s.now > (1 << 30):
                memset(s.stamp, 0, self.max_units * sizeof(int))
                s.now = 0
        return self.pool

    cdef void free_pool(self) noexcept nogil:
        cdef int t
        if self.pool != NULL:
            for t in range(self.pool_threads):
                self.free_work(self.pool[t])
            free(self.pool)
        self.pool = NULL
        self.pool_threads = self.pool_labels = 0

    cdef Work *new_work(self, int max_labels, Py_ssize_t fsize) noexcept nogil:
        """Per-thread buffers, or NULL when out of memory."""
        cdef int l, a
        cdef Py_ssize_t n_ints, n_floats
        cdef Work *work = <Work *> calloc(1, sizeof(Work))
        if work == NULL:
            return NULL
        work.ids = <int **> calloc(self.n_layers, sizeof(int *))
        work.act = <void **> calloc(self.n_layers, sizeof(void *))
        work.der = <void **> calloc(self.n_layers, sizeof(void *))
        work.delta = <void **> calloc(self.n_layers, sizeof(void *))
        if work.ids == NULL or work.act == NULL or work.der == NULL or work.delta == NULL:
            self.free_work(work)
            return NULL
        self.carve(work, max_labels, fsize, NULL, NULL, &n_ints, &n_floats)
        work.iblock = calloc(n_ints + 1, sizeof(int))
        work.fblock = calloc(n_floats + 1, fsize)
        if work.iblock == NULL or work.fblock == NULL:
            self.free_work(work)
            return NULL
        self.carve(work, max_labels, fsize, <int *> work.iblock, <char *> work.fblock, &n_ints,
                   &n_floats)
        for l in range(self.n_layers):
            if not self.layers[l].hashed:
                for a in range(self.capacity(l, max_labels)):
                    work.ids[l][a] = a
        work.scratch.now = 0
        return work

    cdef int capacity(self, int l, int max_labels) noexcept nogil:
        cdef int cap = self.layers[l].candidates
        if l == self.n_layers - 1 and self.layers[l].hashed and max_labels > cap:
            cap = max_labels
        return cap

    cdef void free_work(self, Work *work) noexcept nogil:
        if work != NULL:
            free(work.iblock)
            free(work.fblock)
            free(work.ids)
            free(work.act)
            free(work.der)
            free(work.delta)
            free(work)
