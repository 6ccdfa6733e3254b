"""The training driver: batches, optimizer steps and table refreshes over plain arrays.

The estimator hands a :class:`Trainer` its arrays and settings; the trainer runs the
kernels. Nothing here reads the estimator, and nothing here is kept after a fit: the
model is the arrays.
"""
import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp
from sklearn.utils.parallel import _get_threadpool_controller

from . import _optimizers
from ._hash_state import reset_mips_scale, srp_key_codes, srp_query_codes
from ._kernels._hogwild import batch_gradients
from ._kernels._network import Network
from ._kernels._tables import fill_tables, hash_units, pack_codes, refresh_tables

# Rows whose first-layer projections are computed at once (memory: rows x codes floats)
QUERY_CHUNK = 4096
# Units whose key codes are computed at once when the tables are refreshed
REFRESH_CHUNK = 4096
# Blocks computed on Python threads per round, per thread (see _in_threads)
BLOCKS_PER_THREAD = 4
# Multiply-adds of a batch's forward pass from which BLAS gets the trainer's threads
BLAS_PARALLEL_MACS = 2**22


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

    def features(self, rows):
        """The distinct features non-zero in some row of `rows`, sorted."""
        if not self.sparse:
            return np.flatnonzero((self.dense[rows] != 0).any(axis=0))
        starts, stops = self.indptr[rows], self.indptr[rows + 1]
        counts = stops - starts
        at = np.arange(counts.sum()) + np.repeat(starts - np.cumsum(counts) + counts,
                                                 counts)
        ids = self.indices[at[self.data[at] != 0]]
        n_features = self.dense.shape[1]
        if n_features > 64 * ids.size:      # a mask as wide as X would cost more
            return np.unique(ids)
        seen = np.zeros(n_features, dtype=bool)
        seen[ids] = True
        return np.flatnonzero(seen)

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
        Blocks of rows hashed at once, each on its own thread.
    """
    if (state is None or state["family"] != "srp"
            or network.first_layer_exhaustive):    # every unit a candidate: no lookup
        return 0
    n = data.n_samples
    codes_per_row = state["n_tables"] * state["n_hashes"]
    data.q_buckets = np.empty((n, state["n_tables"]), dtype=np.int32)
    data.q_sketch = np.empty((n, state["sketch"].shape[1]), dtype=np.uint64)
    chunks = [(start, min(start + QUERY_CHUNK, n)) for start in range(0, n, QUERY_CHUNK)]

    def packed(chunk):
        return pack_codes(network, 0, srp_query_codes(data.rows(*chunk), state))

    # (scikit-learn's cached controller: a fresh threadpool_limits scans the loaded
    # libraries, 2.5 ms, once per block of rows predicted)
    with _get_threadpool_controller().limit(limits=1, user_api="blas"):
        for (start, stop), (buckets, sketch) in zip(
                chunks, _in_threads(packed, chunks, n_threads)):
            data.q_buckets[start:stop], data.q_sketch[start:stop] = buckets, sketch
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


def trains_by_blas(X, plan):
    """Whether a fit on X trains by BLAS products over each batch
    (:class:`DenseTrainer`): no layer of the plan is hashed and the rows are
    dense (None: X not known yet, counted as dense)."""
    return (X is None or not sp.issparse(X)) and not any(p.hashed for p in plan)


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a :class:`Trainer`'s batches are computed with: the estimator's parameters,
    resolved (the kernel loss, the threads of this fit, the starting step size)."""
    activation: str
    loss: str
    selection: str
    alpha: float
    learning_rate: float
    beta_1: float
    beta_2: float
    epsilon: float
    momentum: float
    nesterov: bool
    refresh_growth: float
    n_threads: int


class Trainer:
    """Runs training batches on a network's arrays.

    Parameters
    ----------
    weights, biases : list of ndarray
        Unit-major weights ``(n_out, n_in)`` and biases, updated in place; the first
        layer's weights ``(n_in, n_out)`` with `first_feature_major`.
    hashing : list of (dict or None)
        Per layer hash state (see ``sklsh._hash_state``); None where all units are active.
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
    settings : Settings
    first_feature_major : bool, default=False
        The first layer, dense, is stored by input feature (see ``Network``).

    Attributes
    ----------
    learning_rate : float
        The step size of the next batches, at first ``settings.learning_rate``;
        the estimator sets it between epochs (the 'invscaling' and 'adaptive'
        schedules).
    """

    def __init__(self, weights, biases, hashing, *, budgets, candidates, explore,
                 optimizer, schedule, touched, settings, first_feature_major=False):
        self.weights, self.biases, self.hashing = weights, biases, hashing
        self.first_feature_major = first_feature_major
        self.optimizer, self.schedule, self.touched = optimizer, schedule, touched
        self.settings = settings
        self.learning_rate = settings.learning_rate
        # (np.zeros: pages the kernels never write are never touched)
        self.grad_weights = [np.zeros(W.shape, W.dtype) for W in weights]
        self.grad_biases = [np.zeros(b.shape, b.dtype) for b in biases]
        self.network = Network(weights, biases, hashing, list(budgets),
                               settings.activation, settings.loss,
                               settings.selection, list(candidates), self.grad_weights,
                               self.grad_biases, touched, list(explore),
                               first_feature_major)
        self.tally = Tally()

    def prepare(self, data):
        """Hash the first layer's queries of `data` once for all its batches."""
        self.tally.add(0, 0, first_layer_queries(self.network, self.hashing[0], data,
                                                 self.settings.n_threads))

    def refresh(self, rng, full=False):
        """Re-hash the units of every hashed layer whose weights changed since the last
        refresh; all of them (a full rebuild) when `full` or when most changed."""
        n_threads = self.settings.n_threads
        last = self.schedule["last"]
        for l, h in enumerate(self.hashing):
            if h is None:
                continue
            n_units = self.weights[l].shape[0]
            changed = np.flatnonzero(self.touched[l] > last)
            rebuild = full or 2 * changed.size > n_units
            units = (rng.permutation(n_units) if rebuild else changed).astype(np.int64)
            # (BLAS stays on one thread here too: its threads spin after each product
            # and take the cores from the kernels' threads that hash and fill)
            self.tally.add(0, 0, refresh_layer(self.network, l, self.weights[l],
                                               self.biases[l], h, units, rebuild,
                                               _seed(rng), n_threads))
        self.schedule["last"] = self.schedule["batches"]

    def blas_threads(self, batch_size):
        """Threads BLAS may use while training: one, as it only hashes the keys at
        refreshes (small products), and its idle threads would spin against the
        Hogwild threads for the cores."""
        return 1

    def gradients(self, data, targets, rows, seed, stamp, weights=None):
        """Accumulate the gradients of the examples `rows` (summed, not averaged) and
        stamp the rows written with `stamp`; returns (loss, macs, dense_macs,
        hash_ops). `weights`, None or a C-contiguous float64 array of len(rows) (the
        examples' sample weights, in the order of `rows`), scales each example's loss
        and output delta; the loss returned is then the weighted sum."""
        return batch_gradients(
            self.network, *data.args(), rows, targets.label_ptr, targets.label_idx,
            targets.Y, seed, stamp, self.settings.n_threads,
            _NO_WEIGHTS if weights is None else weights)

    def batch(self, data, targets, rows, rng, max_interval, sample_weight=None):
        """One optimizer step on the examples `rows`; returns their summed loss
        (weighted by `sample_weight`, the weights of all the samples, when given: the
        step then divides the gradient by the batch's sum of weights rather than by
        its size, as scikit-learn's MLP does)."""
        s = self.settings
        stamp = self.schedule["batches"] + 1
        weights = weight_sum = None
        if sample_weight is not None:
            weights = np.ascontiguousarray(sample_weight[rows], dtype=np.float64)
            weight_sum = float(weights.sum())
        if self.first_feature_major:
            self.settle(data.features(rows))
        loss, macs, dense, hops = self.gradients(data, targets, rows, _seed(rng), stamp,
                                                 weights)
        self.tally.add(macs, dense, hops)
        _optimizers.step(
            self.optimizer, self.weights, self.biases, self.grad_weights,
            self.grad_biases, self.touched, stamp, batch_size=len(rows),
            alpha=s.alpha, learning_rate=self.learning_rate, beta_1=s.beta_1,
            beta_2=s.beta_2, epsilon=s.epsilon, momentum=s.momentum,
            n_threads=s.n_threads, nesterov=s.nesterov,
            weight_sum=weight_sum, first_feature_major=self.first_feature_major)
        self.schedule["batches"] = stamp
        if stamp >= self.schedule["next"]:
            self.refresh(rng)
            interval = min(self.schedule["interval"] * s.refresh_growth,
                           max(max_interval, 1))
            self.schedule["interval"] = max(interval, 1)
            self.schedule["next"] = stamp + int(round(self.schedule["interval"]))
        return loss

    def settle(self, features=None):
        """Bring a first layer stored by feature up to date: the steps its rows
        `features` (None: all) sat out since their last batch (see
        ``_optimizers.step``); before a batch reads them, and at the end of an epoch
        and of a fit, so the weights are those a full step would have given."""
        s = self.settings
        _optimizers.settle(self.optimizer, self.weights,
                           learning_rate=self.learning_rate, beta_1=s.beta_1,
                           beta_2=s.beta_2, epsilon=s.epsilon, momentum=s.momentum,
                           n_threads=s.n_threads, nesterov=s.nesterov, rows=features)


def refresh_layer(network, layer, W, b, state, units, full, seed, n_threads):
    """Re-hash `units` of a hashed layer into its tables, a block of units at a
    time, so that the codes held at once stay REFRESH_CHUNK rows however wide the
    layer; SRP codes come from one BLAS product per block. Returns the hashing
    operations spent.

    A full rebuild hashes the blocks in id order, which reads W in address order
    (``hash_units``), then fills the tables in the order `units` gives
    (``fill_tables``); otherwise the changed units move between buckets
    (``refresh_tables``).

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
        reset_mips_scale(W, b, state, REFRESH_CHUNK)
    blocks = np.arange(W.shape[0], dtype=np.int64) if full else units
    chunks = [blocks[start:start + REFRESH_CHUNK]
              for start in range(0, max(len(blocks), 1), REFRESH_CHUNK)]
    if srp and full:
        # a block's hashing writes its own units' sketches and homes alone, so each
        # thread hashes whole blocks, codes and all, with no OpenMP region between
        # two products (its threads would spin against these for the cores)
        per_block = n_threads if len(chunks) == 1 else 1

        def hashed(chunk):
            codes = srp_key_codes(W, b, state, chunk)
            return (codes.size * (W.shape[1] + 1)
                    + hash_units(network, layer, chunk, per_block, codes))
        ops += sum(_in_threads(hashed, chunks, n_threads, held=False))
    else:
        key_codes = (lambda chunk: srp_key_codes(W, b, state, chunk)) if srp else None
        for i, (chunk, codes) in enumerate(zip(chunks, _in_threads(key_codes, chunks,
                                                                   n_threads))):
            if srp:
                ops += codes.size * (W.shape[1] + 1)
            if full:
                ops += hash_units(network, layer, chunk, n_threads, codes)
            else:
                ops += refresh_tables(network, layer, chunk, seed + i, n_threads, codes)
    if full:
        fill_tables(network, layer, units, seed, n_threads)
    return ops


def _in_threads(f, items, n_threads, held=True):
    """f(item) for each item in order (None for all without f), computed on
    `n_threads` threads of this process, each calling BLAS on one thread: NumPy
    releases the GIL in its products and copies, and a single-threaded BLAS call
    leaves no BLAS threads spinning against the kernels' threads after it.

    With `held` (results as large as an item's codes) the items are computed in
    rounds of ``BLOCKS_PER_THREAD * n_threads``, all of a round's results held
    until the caller has taken them: the caller's kernels between two rounds leave
    their OpenMP threads spinning for a while after them (libgomp's default wait
    policy), against this pool's threads for the cores, so the fewer the rounds, the
    less of that. Without, all in one round: each round ends with threads idle while
    the last items finish."""
    if f is None:
        yield from (None for _ in items)
        return
    if n_threads == 1 or len(items) == 1:
        yield from map(f, items)
        return
    per_round = BLOCKS_PER_THREAD * n_threads if held else len(items)
    with ThreadPoolExecutor(n_threads) as pool:
        for start in range(0, len(items), per_round):
            yield from list(pool.map(f, items[start:start + per_round]))


def _seed(rng):
    return int(rng.randint(0, 2**62, dtype=np.int64))


_NO_WEIGHTS = np.empty(0, dtype=np.float64)     # (batch_gradients: every weight 1)


class DenseTrainer(Trainer):
    """A :class:`Trainer` for a network with no hashed layer on dense rows: each
    batch's forward and backward passes are matrix products over the whole batch
    (BLAS, as scikit-learn's MLP computes them), where the per-example kernels would
    read every weight once per example. The optimizer step, the schedule and the
    tally are the kernels' path's own, so the two paths train the same model."""

    def __init__(self, weights, biases, hashing, *, budgets, candidates, explore,
                 optimizer, schedule, touched, settings, first_feature_major=False):
        if any(h is not None for h in hashing):
            raise ValueError("DenseTrainer trains networks with no hashed layer")
        # BLAS runs the products on the threads; the optimizer's step runs on one,
        # since OpenMP threads woken between BLAS calls contend with BLAS's spinning
        # threads for the cores
        super().__init__(weights, biases, hashing, budgets=budgets,
                         candidates=candidates, explore=explore, optimizer=optimizer,
                         schedule=schedule, touched=touched,
                         settings=dataclasses.replace(settings, n_threads=1),
                         first_feature_major=first_feature_major)
        self.n_threads = settings.n_threads
        # multiply-adds per example: forward, and backward (weights; inputs' deltas
        # past the first layer), counted as the kernels count them
        self._macs = sum(W.size * (2 if l == 0 else 3) for l, W in enumerate(weights))

    def blas_threads(self, batch_size):
        """The trainer's threads for the products of batches of at least
        BLAS_PARALLEL_MACS multiply-adds, else one: below that, waking a second
        thread costs more than it saves."""
        if batch_size * sum(W.size for W in self.weights) >= BLAS_PARALLEL_MACS:
            return self.n_threads
        return 1

    def gradients(self, data, targets, rows, seed, stamp, weights=None):
        if data.sparse:
            raise ValueError("DenseTrainer reads dense rows")
        s = self.settings
        activation, last = s.activation, len(self.weights) - 1
        activations = [data.dense[rows]]
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            z = activations[-1] @ (W if self._by_feature(l) else W.T)
            z += b
            activations.append(activate(activation, z) if l < last else z)
        loss, delta = output_delta(s.loss, activations[-1], targets, rows)
        if weights is not None:
            delta *= weights.astype(delta.dtype)[:, None]
            loss = float(np.dot(loss, weights))
        else:
            loss = float(loss.sum())
        for l in range(last, -1, -1):
            W = self.weights[l]
            np.sum(delta, axis=0, out=self.grad_biases[l])
            if self._by_feature(l):
                # the kernels' rule: the features some example has non-zero
                np.matmul(activations[l].T, delta, out=self.grad_weights[l])
                self.touched[l][(activations[l] != 0).any(axis=0)] = stamp
                continue
            np.matmul(delta.T, activations[l], out=self.grad_weights[l])
            # the kernels' rule: a unit is updated when some example gave it a
            # gradient (a unit dead to the whole batch keeps its weights and moments)
            self.touched[l][(delta != 0).any(axis=0)] = stamp
            if l > 0:
                delta = delta @ W
                _activation_derivative(activation, activations[l], delta)
        n = len(rows)
        return loss, n * self._macs, n * self._macs, 0

    def _by_feature(self, l):
        return l == 0 and self.first_feature_major


def output_delta(loss, z, targets, rows):
    """Per-example loss and d loss / d z of the output pre-activations `z` of the
    examples `rows` (# INOUT z: it becomes the delta), as the kernels' output_delta
    computes them: "softmax" spreads a row's target mass evenly over its labels (a row
    with none contributes nothing), "sigmoid" is a logistic loss per output, "squared"
    half the squared error."""
    if loss == "squared":
        z -= targets.Y[rows]
        return 0.5 * np.einsum("ij,ij->i", z, z, dtype=np.float64), z
    n, n_out = z.shape
    starts, stops = targets.label_ptr[rows], targets.label_ptr[rows + 1]
    counts = stops - starts
    example = np.repeat(np.arange(n), counts)
    # positions of the examples' labels in label_idx, example by example
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    labels = targets.label_idx[np.repeat(starts, counts) + offsets]
    if loss == "softmax":
        m = z.max(axis=1, keepdims=True)
        z -= m
        log_total = np.log(np.exp(z).sum(axis=1, keepdims=True))
        t = (1.0 / np.maximum(counts, 1))
        value = -np.bincount(example, weights=t[example] * (z[example, labels]
                                                             - log_total[example, 0]),
                             minlength=n)
        z -= log_total
        np.exp(z, out=z)
        # (a row's labels are distinct: CSR columns)
        z[example, labels] -= t[example].astype(z.dtype)
        z[counts == 0] = 0
        return value, z
    # sigmoid
    value = (np.logaddexp(0, z).sum(axis=1, dtype=np.float64)
             - np.bincount(example, weights=z[example, labels], minlength=n))
    activate("logistic", z)
    z[example, labels] -= 1
    return value, z


def activate(name, z):
    """Apply the activation `name` to z in place; returns z."""
    if name == "relu":
        np.maximum(z, 0, out=z)
    elif name == "tanh":
        np.tanh(z, out=z)
    elif name == "logistic":
        np.negative(z, out=z)
        with np.errstate(over="ignore"):    # exp(-z) = inf: the unit outputs 0
            np.exp(z, out=z)
        z += 1
        np.reciprocal(z, out=z)
    return z


def _activation_derivative(name, a, delta):
    """delta *= f'(z), written from the activations a = f(z) (# INOUT delta)."""
    if name == "relu":
        delta[a <= 0] = 0
    elif name == "tanh":
        delta *= 1 - a * a
    elif name == "logistic":
        delta *= a * (1 - a)
