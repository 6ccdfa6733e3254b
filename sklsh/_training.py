"""The training driver: batches, optimizer steps and table refreshes over plain arrays.

The estimator hands a :class:`Trainer` its arrays and settings; the trainer runs the
kernels. Nothing here reads the estimator, and nothing here is kept after a fit: the
model is the arrays.
"""
import numpy as np
import scipy.sparse as sp
from sklearn.utils.parallel import _get_threadpool_controller

from . import _optimizers
from ._hashing import reset_mips_scale, srp_key_codes, srp_query_codes
from ._kernels._network import (Network, batch_gradients, hashed_scores, pack_codes,
                                refresh_tables)
from ._kernels._predict import sparse_times_dense

# Rows whose first-layer projections are computed at once (memory: rows x codes floats)
QUERY_CHUNK = 4096
# Units whose key codes are computed at once when the tables are refreshed
REHASH_CHUNK = 16384


class KernelInput:
    """X as the kernels read it: a C-contiguous dense array or a CSR triplet with
    int32 column indices and int64 row pointers. Never a copy when X already is one.

    ``q_buckets`` and ``q_sketch`` may hold the first layer's packed query codes of
    every row (see :func:`first_layer_queries`); with no rows the kernels hash the
    queries themselves."""

    def __init__(self, X, dtype):
        if sp.issparse(X):
            X = X.tocsr()
            self.sparse = True
            self.n_samples = X.shape[0]
            self.dense = np.empty((0, X.shape[1]), dtype=dtype)
            self.data = np.ascontiguousarray(X.data, dtype=dtype)
            self.indices = np.ascontiguousarray(X.indices, dtype=np.int32)
            self.indptr = np.ascontiguousarray(X.indptr, dtype=np.int64)
        else:
            self.sparse = False
            self.n_samples = X.shape[0]
            self.dense = np.ascontiguousarray(X, dtype=dtype)
            self.data = np.empty(0, dtype=dtype)
            self.indices = np.empty(0, dtype=np.int32)
            self.indptr = np.zeros(1, dtype=np.int64)
        self.q_buckets = np.empty((0, 0), dtype=np.int32)
        self.q_sketch = np.empty((0, 0), dtype=np.uint64)

    def rows(self, start, stop):
        """Rows start:stop as an array or CSR matrix (no copy of the data)."""
        if not self.sparse:
            return self.dense[start:stop]
        lo, hi = self.indptr[start], self.indptr[stop]
        return sp.csr_matrix((self.data[lo:hi], self.indices[lo:hi],
                              self.indptr[start:stop + 1] - lo),
                             shape=(stop - start, self.dense.shape[1]))

    def args(self):
        return (self.dense, self.data, self.indices, self.indptr, self.sparse,
                self.q_buckets, self.q_sketch)


def first_layer_queries(network, state, data, n_threads):
    """Hash every row of `data` under the first layer's SRP functions, once, into
    ``data.q_buckets`` and ``data.q_sketch``: a query depends on its example alone,
    and one BLAS product per chunk of rows costs far less than hashing each example
    again in every epoch. WTA and DWTA queries, cheap to hash, are left to the
    kernels. Returns the hashing operations spent.

    Parameters
    ----------
    network : Network
    state : dict or None
        The first layer's hash state (None: the layer is dense).
    data : KernelInput
    n_threads : int
        Threads BLAS may use.
    """
    if (state is None or state["family"] != "srp"
            or network.first_layer_exhaustive):    # every unit a candidate: no lookup
        return 0
    n = data.n_samples
    codes_per_row = state["n_tables"] * state["n_hashes"]
    data.q_buckets = np.empty((n, state["n_tables"]), dtype=np.int32)
    data.q_sketch = np.empty((n, state["sketch"].shape[1]), dtype=np.uint64)
    # (scikit-learn's cached controller: a fresh threadpool_limits scans the loaded
    # libraries, 2.5 ms, once per block of rows predicted)
    with _get_threadpool_controller().limit(limits=n_threads, user_api="blas"):
        for start in range(0, n, QUERY_CHUNK):
            stop = min(start + QUERY_CHUNK, n)
            codes = srp_query_codes(data.rows(start, stop), state)
            data.q_buckets[start:stop], data.q_sketch[start:stop] = pack_codes(
                network, 0, codes)
    n_inputs = data.data.size if data.sparse else data.dense.size
    return n_inputs * codes_per_row


class Targets:
    """What the loss reads per example: label ids in CSR form (classification) or a
    dense target matrix (regression)."""

    def __init__(self, dtype, label_ptr=None, label_idx=None, Y=None):
        self.label_ptr = (np.zeros(1, dtype=np.int64) if label_ptr is None
                          else np.ascontiguousarray(label_ptr, dtype=np.int64))
        self.label_idx = (np.zeros(0, dtype=np.int32) if label_idx is None
                          else np.ascontiguousarray(label_idx, dtype=np.int32))
        self.Y = (np.zeros((0, 0), dtype=dtype) if Y is None
                  else np.ascontiguousarray(Y, dtype=dtype))


class Tally:
    """Work counted over a run: multiply-adds done and those of the dense network,
    hashing operations (queries and table refreshes)."""

    def __init__(self):
        self.macs = self.dense_macs = self.hash_ops = 0

    def add(self, macs, dense_macs, hash_ops):
        self.macs += macs
        self.dense_macs += dense_macs
        self.hash_ops += hash_ops

    @property
    def mult_fraction(self):
        return self.macs / self.dense_macs if self.dense_macs else 1.0

    @property
    def hash_fraction(self):
        return self.hash_ops / self.dense_macs if self.dense_macs else 0.0


class Trainer:
    """Runs training batches on a network's arrays.

    Parameters
    ----------
    weights, biases : list of ndarray
        Unit-major weights ``(n_out, n_in)`` and biases, updated in place.
    hashing : list of (dict or None)
        Per layer hash state (see ``sklsh._hashing``); None where all units are active.
    budgets : list of int
        Active units per example and layer.
    candidates : list of int
        Units the tables propose per example and layer, re-ranked down to the budget.
    explore : list of int
        Units of each budget drawn at random per training example (exploration).
    optimizer : dict
        Optimizer state (see ``sklsh._optimizers``), updated in place.
    schedule : dict
        Refresh schedule and batch counter, updated in place: ``batches`` (batches
        run so far, also the stamp of the last batch), ``next`` (batch count at which
        the tables are next refreshed), ``interval`` and ``last`` (stamp of the last
        refresh).
    settings : dict
        activation, loss, selection, solver, alpha, learning_rate, beta_1, beta_2,
        epsilon, momentum, refresh_growth, n_threads.
    """

    def __init__(self, weights, biases, hashing, budgets, candidates, explore,
                 optimizer, schedule, touched, settings):
        self.weights, self.biases, self.hashing = weights, biases, hashing
        self.optimizer, self.schedule, self.touched = optimizer, schedule, touched
        self.settings = settings
        self.grad_weights = [np.zeros_like(W) for W in weights]
        self.grad_biases = [np.zeros_like(b) for b in biases]
        self.network = Network(weights, biases, hashing, list(budgets),
                               settings["activation"], settings["loss"],
                               settings["selection"], list(candidates), self.grad_weights,
                               self.grad_biases, touched, list(explore))
        self.tally = Tally()

    def prepare(self, data):
        """Hash the first layer's queries of `data` once for all its batches."""
        self.tally.add(0, 0, first_layer_queries(self.network, self.hashing[0], data,
                                                 self.settings["n_threads"]))

    def refresh(self, rng, full=False):
        """Re-hash the units of every hashed layer whose weights changed since the last
        refresh; all of them (a full rebuild) when `full` or when most changed."""
        n_threads = self.settings["n_threads"]
        last = self.schedule["last"]
        for l, h in enumerate(self.hashing):
            if h is None:
                continue
            n_units = self.weights[l].shape[0]
            changed = np.flatnonzero(self.touched[l] > last)
            rebuild = full or 2 * changed.size > n_units
            units = (rng.permutation(n_units) if rebuild else changed).astype(np.int64)
            self.tally.add(0, 0, rehash(self.network, l, self.weights[l], self.biases[l],
                                        h, units, rebuild, _seed(rng), n_threads))
        self.schedule["last"] = self.schedule["batches"]

    def batch(self, data, targets, rows, rng, max_interval):
        """One optimizer step on the examples `rows`; returns their summed loss."""
        s = self.settings
        stamp = self.schedule["batches"] + 1
        loss, macs, dense, hops = batch_gradients(
            self.network, *data.args(), rows, targets.label_ptr, targets.label_idx,
            targets.Y, _seed(rng), stamp, s["n_threads"])
        self.tally.add(macs, dense, hops)
        _optimizers.step(
            self.optimizer, self.weights, self.biases, self.grad_weights,
            self.grad_biases, self.touched, stamp, batch_size=len(rows),
            alpha=s["alpha"], learning_rate=s["learning_rate"], beta_1=s["beta_1"],
            beta_2=s["beta_2"], epsilon=s["epsilon"], momentum=s["momentum"],
            n_threads=s["n_threads"])
        self.schedule["batches"] = stamp
        if stamp >= self.schedule["next"]:
            self.refresh(rng)
            interval = min(self.schedule["interval"] * s["refresh_growth"],
                           max(max_interval, 1))
            self.schedule["interval"] = max(interval, 1)
            self.schedule["next"] = stamp + int(round(self.schedule["interval"]))
        return loss


def rehash(network, layer, W, b, state, units, full, seed, n_threads):
    """Re-hash `units` of a hashed layer into its tables (see ``refresh_tables``), a
    block of units at a time, so that the codes held at once stay REHASH_CHUNK rows
    however wide the layer; SRP codes come from one BLAS product per block. Returns
    the hashing operations spent.

    Parameters
    ----------
    network : Network
        The kernels' view of the layers; its layer `layer` reads `W`, `b`, `state`.
    layer : int
    W : ndarray of shape (n_units, n_in)
    b : ndarray of shape (n_units,)
    state : dict
        The layer's hash state.
    units : ndarray of int64
        All units in insertion order when `full` (the tables are emptied first), else
        those that changed.
    full : bool
    seed : int
    n_threads : int
    """
    ops = 0
    srp = state["family"] == "srp"
    if srp and full and state["mips"]:
        reset_mips_scale(W, b, state, REHASH_CHUNK)
    for i, start in enumerate(range(0, max(len(units), 1), REHASH_CHUNK)):
        chunk = units[start:start + REHASH_CHUNK]
        codes = None
        if srp:
            codes = srp_key_codes(W, b, state, chunk)
            ops += codes.size * (W.shape[1] + 1)
        ops += refresh_tables(network, layer, chunk, full and i == 0, seed + i,
                              n_threads, codes)
    return ops


def inference_network(weights, biases, hashing, budgets, candidates, activation,
                      selection):
    """A network that can only infer (its arrays may be read-only memory maps), built
    once and used for every block of rows predicted (see hashed_output_scores)."""
    return Network(weights, biases, hashing, list(budgets), activation, "softmax",
                   selection, list(candidates))


def input_layer(X, W, n_threads):
    """``X @ W`` for a block of rows X: BLAS for dense rows; CSR rows in parallel on
    `n_threads` threads, each non-zero adding its feature's row of the C-ordered W
    (scipy's product runs on one thread)."""
    if not sp.issparse(X):
        return X @ W
    data = KernelInput(X, W.dtype)
    out = np.empty((data.n_samples, W.shape[1]), dtype=W.dtype)
    sparse_times_dense(data.data, data.indices, data.indptr, W, out, n_threads)
    return out


def hashed_output_scores(network, first_state, X, seed, n_threads):
    """Scores of each row's active outputs, computed through the hash tables.

    Parameters
    ----------
    network : Network
        From :func:`inference_network`.
    first_state : dict or None
        The first layer's hash state.
    X : ndarray or CSR matrix
    seed : int
    n_threads : int

    Returns
    -------
    ids : ndarray of shape (n_samples, network.output_width), dtype int32
        Row i's active outputs, -1 where it has fewer.
    scores : ndarray of shape (n_samples, network.output_width)
        Their pre-activations, -inf beside the -1 ids.
    """
    data = KernelInput(X, network.dtype)
    # one BLAS thread: its idle workers spin on the cores the kernel's threads need
    first_layer_queries(network, first_state, data, 1)
    ids = np.empty((data.n_samples, network.output_width), dtype=np.int32)
    out = np.empty((data.n_samples, network.output_width), dtype=network.dtype)
    hashed_scores(network, *data.args(), ids, out, seed, n_threads)
    return ids, out


def _seed(rng):
    return int(rng.randint(0, 2**62, dtype=np.int64))
