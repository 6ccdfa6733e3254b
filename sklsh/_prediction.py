"""Prediction: the fitted network's output scores, a block of rows at a time.

Two paths, chosen by the estimator's `inference`: "hashed" runs the kernels' per-example
pass (the tables choose each hashed layer's active units, as in training); "exact"
computes every unit by BLAS products and keeps each hashed layer's budget of largest
pre-activations. Either yields blocks small enough that memory stays bounded however
many rows X has; the estimators' predict, predict_proba and predict_topk read them.
"""
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted, validate_data

from ._kernels._hogwild import hashed_scores
from ._kernels._network import Network
from ._kernels._predict import sparse_times_dense, top_k_positions
from ._threads import effective_n_threads
from ._training import KernelInput, activate, first_layer_queries

# Rows per block when predicting, and at most this many activations of the widest
# layer per block: with 100k classes a block is 167 rows, 64 MB of float32 scores,
# enough rows for each product to run at BLAS speed.
PREDICT_CHUNK = 4096
PREDICT_BLOCK = 2**24


def output_scores(est, X):
    """Output pre-activations of the network for every row of X (see
    :func:`output_score_chunks`)."""
    chunks = list(output_score_chunks(est, X))
    if chunks:
        return np.concatenate(chunks)
    return np.empty((0, est.coefs_[-1].shape[1]), est.coefs_[0].dtype)

def output_score_chunks(est, X, rows=None):
    """Output pre-activations of every unit, a block of rows at a time (see
    :func:`active_score_chunks`); -inf for units outside an example's active
    set."""
    for ids, scores in active_score_chunks(est, X, dense=True, rows=rows):
        yield scores if ids is None else densify(ids, scores,
                                                  est.coefs_[-1].shape[1])

def active_score_chunks(est, X, dense=False, rows=None):
    """Output pre-activations a block of rows at a time, so that what predicting
    holds stays about PREDICT_BLOCK activations however many rows X has (counted
    for a column per output when the caller makes the blocks `dense`), or blocks of
    `rows` rows if given. The set-up (weights in the order the products read) is
    done once per call, not per block. By `inference`:

    "hashed" selects the active units as training does, without forced labels;
    "exact" computes every unit densely and keeps, in each hashed layer, the
    `budget` units with the largest pre-activations (what the tables look for).

    Yields pairs (ids, scores): with hashed inference, ``scores[i, a]`` belongs to
    output ``ids[i, a]`` (-1 and -inf past an example's active outputs), so that a
    top-k never reads the classes no table proposed; otherwise ids is None and
    ``scores`` has a column per output.
    """
    check_is_fitted(est)
    X = validate_data(est, X, accept_sparse=["csr", "csc"], reset=False,
                      dtype=(np.float64, np.float32))
    dtype = est.coefs_[0].dtype
    X = X.astype(dtype, copy=False)
    if sp.issparse(X):
        X = X.tocsr()
    hashed = est.inference == "hashed" and any(h is not None
                                                for h in est._hash_states)
    # scipy multiplies a CSR block by a C-ordered copy of the weights: made once
    # here, not once per block of rows
    coefs = list(est.coefs_)
    if sp.issparse(X):
        coefs[0] = np.ascontiguousarray(coefs[0])
    if hashed:
        # A dense first layer on sparse rows is one sparse product, reading each
        # non-zero's weights as a contiguous row of coefs_ (the kernels read
        # unit-major rows, one scattered weight per non-zero and unit: at 60
        # non-zeros and 128 units, a third of a hashed prediction's time). The
        # hashed layers then run on its activations. Row by row, so a row's
        # result does not depend on the others.
        first = int(sp.issparse(X) and est._hash_states[0] is None
                    and len(est.coefs_) > 1)
        budgets, candidates = est._inference_plan()
        network = inference_network(
            [np.ascontiguousarray(c.T) for c in est.coefs_[first:]],
            [np.ascontiguousarray(i) for i in est.intercepts_[first:]],
            est._hash_states[first:], budgets[first:], candidates[first:],
            est.activation, est.selection)
    n_threads = effective_n_threads(est.n_threads)
    widest = max(c.shape[1] for c in est.coefs_)
    if hashed and not dense:
        widest = network.output_width    # (hidden activations stay per thread)
    if rows is None:
        rows = max(1, min(PREDICT_CHUNK, PREDICT_BLOCK // widest))
    for start in range(0, X.shape[0], rows):
        a = X[start:start + rows]
        if hashed:
            if first:
                a = activate(est.activation, input_layer(a, coefs[0], n_threads)
                              + est.intercepts_[0])
            ids, scores = hashed_output_scores(
                network, est._hash_states[first], a, est._predict_seed, n_threads)
            # a dense output layer's active set is every unit, in order
            yield (ids if est._hash_states[-1] is not None else None), scores
            continue
        for l, (coef, intercept) in enumerate(zip(coefs, est.intercepts_)):
            a = input_layer(a, coef, n_threads) if l == 0 else a @ coef
            a += intercept
            if l < len(est.coefs_) - 1:
                a = keep_top(a, est._budgets[l], est.activation)
        yield None, a


def keep_top(a, k, activation):
    """Activate the k largest pre-activations of each row and zero the others: units
    outside a hashed layer's active set output 0, whatever the activation."""
    if k >= a.shape[1]:
        return activate(activation, a)
    idx = np.argpartition(a, a.shape[1] - k, axis=1)[:, a.shape[1] - k:]
    rows = np.arange(a.shape[0])[:, None]
    out = np.zeros_like(a)
    out[rows, idx] = activate(activation, a[rows, idx])
    return out


def check_k(k, n_classes):
    """Refuse a top-k count that is not an integer from 1 to `n_classes`."""
    if not (isinstance(k, Integral) and not isinstance(k, bool) and 1 <= k <= n_classes):
        raise ValueError(f"k must be an integer from 1 to the number of classes "
                         f"({n_classes}), got {k!r}.")


def ranked_top_k(scores, k, n_threads):
    """Columns of the k largest scores of each row (C-contiguous floats), the largest
    first; ties in the order of the columns."""
    if k < scores.shape[1]:
        idx = top_k_positions(scores, k, n_threads)
        idx.sort(axis=1)
    else:
        idx = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    order = np.argsort(-np.take_along_axis(scores, idx, axis=1), axis=1, kind="stable")
    return np.take_along_axis(idx, order, axis=1)


def densify(ids, scores, n_outputs):
    """A column per output from the active outputs' (ids, scores); -inf elsewhere."""
    dense = np.full((ids.shape[0], n_outputs), -np.inf, dtype=scores.dtype)
    rows, cols = np.nonzero(ids >= 0)
    dense[rows, ids[rows, cols]] = scores[rows, cols]
    return dense


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
