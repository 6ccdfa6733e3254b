"""Training and prediction on dask arrays, block of rows by block of rows, each on the
worker that holds it.

A fitted model's prediction of a row does not depend on the other rows (hashed
inference draws from the row's own codes), so predicting block by block gives what
predicting the whole array in memory gives, bit for bit. dask-ml's
``ParallelPostFit`` does this for ``predict`` and ``predict_proba``; these functions
add ``predict_topk`` and sparse outputs (a label-indicator model's ``predict``).
dask-ml's ``Incremental`` streams ``partial_fit`` over 1-d targets only (its graph
takes one target chunk per row block); `partial_fit` here takes label-indicator
blocks too, as `sklsh.datasets.dask_text_blocks` reads them from XMC files.
Importing this module imports dask (``pip install "sklsh[dask]"``); ``import sklsh``
does not.
"""
import copy

import numpy as np
import scipy.sparse as sp

try:
    import dask
    import dask.array as da
except ImportError as e:                                     # pragma: no cover
    raise ImportError('sklsh.blockwise needs dask: pip install "sklsh[dask]"') from e

__all__ = ["partial_fit", "predict", "predict_proba", "predict_topk"]


def partial_fit(estimator, X, y, *, epochs=1, **fit_params):
    """Train a copy of `estimator` by ``partial_fit`` on each block of rows of `X` and
    `y` in turn, each call on a worker that holds the block.

    The model moves from block to block (its pickle is about the size of its weights
    and the optimizer's moments); the blocks stay where they are read, so no process
    holds more than a block and the model. With ``n_threads=1`` the result is bit for
    bit that of calling ``partial_fit`` on the same blocks in memory.

    Parameters
    ----------
    estimator : estimator with ``partial_fit``
        Left as it is: the blocks train a copy.
    X : dask array of shape (n_samples, n_features)
        Dense or scipy.sparse chunks.
    y : dask array of shape (n_samples,) or (n_samples, n_outputs)
        Targets or a label indicator (dense or sparse chunks), chunked over rows as
        `X` is.
    epochs : int, default=1
        Passes over the blocks, in their order.
    **fit_params
        Passed to every ``partial_fit`` call, e.g. ``classes`` (which a classifier's
        first call needs).

    Returns
    -------
    estimator : estimator
        The trained copy.
    """
    X = _row_blocks(X, "partial_fit")
    if not isinstance(y, da.Array):
        raise TypeError(f"y must be a dask array, as X is, got {type(y).__name__}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]}")
    if y.chunks[0] != X.chunks[0] or y.ndim > 1 and len(y.chunks[1]) > 1:
        y = y.rechunk((X.chunks[0],) + ((-1,) if y.ndim > 1 else ()))
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    step = dask.delayed(_partial_fit, pure=True)
    model = dask.delayed(copy.deepcopy, pure=True)(estimator)
    # (unoptimized: fusing would give X's and y's chunks a read of the block each)
    blocks = list(zip(X.to_delayed(optimize_graph=False).ravel(),
                      y.to_delayed(optimize_graph=False).ravel()))
    for _ in range(epochs):
        for X_block, y_block in blocks:
            model = step(model, X_block, y_block, fit_params)
    return model.compute()


def _partial_fit(model, X, y, fit_params):
    # (the model is the previous block's output, used by this task alone)
    return model.partial_fit(X, y, **fit_params)


def predict(estimator, X):
    """``estimator.predict`` of each block of rows of `X`.

    Parameters
    ----------
    estimator : fitted estimator
        An LSHMLPClassifier, LSHMLPRegressor or GeometricVotingClassifier (any
        estimator whose prediction of a row depends on that row alone).
    X : dask array of shape (n_samples, n_features)
        Dense or scipy.sparse chunks; chunked over rows (several column chunks are
        joined first).

    Returns
    -------
    y : dask array
        Chunked as X's rows: classes or values of shape (n_samples,) or
        (n_samples, n_outputs), or, for a model fitted on a label-indicator matrix,
        chunks of sparse indicators.
    """
    return _blocks(estimator, "predict", X)


def predict_proba(estimator, X):
    """``estimator.predict_proba`` of each block of rows of `X`.

    Parameters
    ----------
    estimator : fitted classifier
    X : dask array of shape (n_samples, n_features)
        Dense or scipy.sparse chunks.

    Returns
    -------
    proba : dask array of shape (n_samples, n_classes)
    """
    return _blocks(estimator, "predict_proba", X)


def predict_topk(estimator, X, k=5):
    """``estimator.predict_topk`` of each block of rows of `X`.

    Parameters
    ----------
    estimator : fitted classifier
    X : dask array of shape (n_samples, n_features)
        Dense or scipy.sparse chunks.
    k : int, default=5
        Classes per example, from 1 to the number of classes.

    Returns
    -------
    classes : dask array of shape (n_samples, k)
        Each example's `k` most probable classes, best first.
    proba : dask array of shape (n_samples, k)
        Their probabilities.
    """
    return _blocks(estimator, "predict_topk", X, k=k)


def _row_blocks(X, method):
    """X, a 2-d dask array, in blocks of whole rows."""
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise TypeError("X must be a 2-d dask array (dask.array.from_array, or "
                        f"sklsh.datasets.dask_text_blocks), got {type(X).__name__}; "
                        f"call estimator.{method} on data in memory")
    return X.rechunk({1: -1}) if len(X.chunks[1]) > 1 else X


def _call(estimator, method, block, params):
    return getattr(estimator, method)(block, **params)


def _blocks(estimator, method, X, **params):
    """`method` of the estimator over the row blocks of X, as dask arrays whose
    shape, type and sparsity are those of the method's output for one row of zeros
    (computed here, which also raises any error of the model or the parameters
    before a worker sees them)."""
    X = _row_blocks(X, method)
    zero = (sp.csr_matrix((1, X.shape[1]), dtype=X.dtype) if sp.issparse(X._meta)
            else np.zeros((1, X.shape[1]), dtype=X.dtype))
    probe = _call(estimator, method, zero, params)
    probes = probe if isinstance(probe, tuple) else (probe,)
    model = dask.delayed(estimator, pure=True)       # one copy per worker, not per block
    call = dask.delayed(_call, pure=True, nout=len(probes))
    parts = [[] for _ in probes]
    for block, n in zip(X.to_delayed(optimize_graph=False).ravel(), X.chunks[0]):
        out = call(model, method, block, params)
        for i, p in enumerate(probes):
            parts[i].append(da.from_delayed(out[i] if len(probes) > 1 else out,
                                            (n,) + p.shape[1:], dtype=p.dtype,
                                            meta=p[:0]))
    arrays = tuple(da.concatenate(p) for p in parts)
    return arrays if isinstance(probe, tuple) else arrays[0]
