"""Ranking metrics of extreme classification: precision@k and nDCG@k, computed from
each example's top-k labels (what ``LSHMLPClassifier.predict_topk`` returns), never
from a dense (n_samples, n_classes) score matrix, and a scorer for model selection."""
from numbers import Integral

import numpy as np
import scipy.sparse as sp

__all__ = ["precision_at_k", "ndcg_at_k", "topk_scorer"]


def _relevance(y_true, top_labels, k):
    """(n_samples, k) booleans: whether each of the top labels is a true one, and the
    number of true labels per example."""
    top_labels = np.asarray(top_labels)
    if top_labels.ndim != 2:
        raise ValueError(f"top_labels must be 2-D (n_samples, k), got shape "
                         f"{top_labels.shape}")
    if k is None:
        k = top_labels.shape[1]
    if not (isinstance(k, Integral) and 1 <= k <= top_labels.shape[1]):
        raise ValueError(f"k must be an integer from 1 to top_labels.shape[1] "
                         f"({top_labels.shape[1]}), got {k!r}")
    top = top_labels[:, :k]
    n = top.shape[0]
    if sp.issparse(y_true) or np.ndim(y_true) == 2:
        # a label-indicator matrix: top labels are its column indices
        Y = sp.csr_matrix(y_true)
        if Y.shape[0] != n:
            raise ValueError(f"y_true has {Y.shape[0]} rows, top_labels {n}")
        if top.size and (top.min() < 0 or top.max() >= Y.shape[1]):
            raise ValueError("with an indicator y_true, top_labels must be column "
                             f"indices in [0, {Y.shape[1]})")
        rel = np.asarray(Y[np.arange(n)[:, None], top.astype(np.intp)].todense()) != 0
        return rel, np.asarray((Y != 0).sum(axis=1)).ravel()
    y = np.asarray(y_true)
    if y.shape != (n,):
        raise ValueError(f"y_true must have shape ({n},) or be an indicator matrix of "
                         f"{n} rows, got shape {y.shape}")
    return top == y[:, None], np.ones(n, dtype=np.int64)


def precision_at_k(y_true, top_labels, k=None):
    """Precision at k: the mean over examples of the share of their k best-ranked
    labels that are true labels.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (sparse) matrix of shape (n_samples, n_labels)
        One label per example, or a label-indicator matrix (multi-label); with an
        indicator matrix the top labels are its column indices.
    top_labels : array-like of shape (n_samples, at least k)
        Each example's labels ranked best first (``predict_topk(X, k)[0]``).
    k : int, optional
        Default: all columns of `top_labels`.

    Returns
    -------
    float
        With one label per example, P@1 is the accuracy and P@k is at most 1/k.
    """
    rel, _ = _relevance(y_true, top_labels, k)
    return float(rel.mean()) if rel.size else 0.0


def ndcg_at_k(y_true, top_labels, k=None):
    """Normalised discounted cumulative gain at k with binary relevance: sum of
    ``1 / log2(rank + 1)`` over the true labels among the k best-ranked, divided by
    its best possible value for that example; the mean over examples. Examples
    without true labels count 0.

    Parameters
    ----------
    y_true, top_labels, k
        As for :func:`precision_at_k`.

    Returns
    -------
    float
    """
    rel, n_true = _relevance(y_true, top_labels, k)
    if not rel.size:
        return 0.0
    discount = 1 / np.log2(np.arange(2, rel.shape[1] + 2))
    dcg = rel @ discount
    ideal = np.concatenate([[0], np.cumsum(discount)])[np.minimum(n_true, rel.shape[1])]
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = np.where(ideal > 0, dcg / np.where(ideal > 0, ideal, 1), 0.0)
    return float(gain.mean())


def topk_scorer(metric="precision", k=5):
    """A scorer for GridSearchCV and cross_val_score: ``scorer(estimator, X, y)`` is
    precision@k or nDCG@k of ``estimator.predict_topk(X, k)``.

    Parameters
    ----------
    metric : {"precision", "ndcg"}, default="precision"
    k : int, default=5

    Returns
    -------
    callable

    Examples
    --------
    >>> from sklsh.metrics import topk_scorer
    >>> scoring = {"P@1": topk_scorer("precision", 1), "nDCG@5": topk_scorer("ndcg", 5)}
    """
    functions = {"precision": precision_at_k, "ndcg": ndcg_at_k}
    if metric not in functions:
        raise ValueError(f"metric must be 'precision' or 'ndcg', got {metric!r}")
    if not (isinstance(k, Integral) and k >= 1):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    function = functions[metric]

    def scorer(estimator, X, y):
        labels, _ = estimator.predict_topk(X, k)
        return function(y, labels, k)

    scorer.__name__ = f"{metric}_at_{k}"
    return scorer
