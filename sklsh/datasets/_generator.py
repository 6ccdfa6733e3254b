"""A generator of many-class and multi-label sparse data with a known structure:
class prototypes over a vocabulary, power-law class frequencies, noise words."""
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "n_labels": [Interval(Real, 1, None, closed="left")],
        "multilabel": ["boolean"],
        "words_per_class": [Interval(Integral, 1, None, closed="left")],
        "nnz": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, 1, closed="both")],
        "power": [Interval(Real, 0, None, closed="left")],
        "dtype": "no_validation",
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_extreme_classification(n_samples=10000, n_features=50000, n_classes=10000, *,
                                n_labels=1, multilabel=False, words_per_class=20,
                                nnz=60, noise=0.3, power=1.0, dtype=np.float32,
                                random_state=None):
    """Sparse text-like data with very many classes and a known structure.

    Each class owns a prototype: `words_per_class` word ids drawn from a vocabulary of
    `n_features`. An example draws its label(s) from a power law over the classes
    (the class of rank r, in a random order, has probability proportional to
    ``r ** -power``), then `nnz` words: a share ``1 - noise`` from the prototypes of
    its labels and the rest uniformly from the vocabulary. Values are the word counts,
    each row scaled to unit L2 norm (as TF-IDF rows are). With little noise the label
    of an example is the class whose prototype it overlaps most, so a good model gets
    close to perfect precision@1.

    Parameters
    ----------
    n_samples : int, default=10000
    n_features : int, default=50000
        Vocabulary size.
    n_classes : int, default=10000
    n_labels : float, default=1
        With `multilabel`, the mean number of labels per example (one, plus a Poisson
        number with mean ``n_labels - 1``, at most `n_classes`).
    multilabel : bool, default=False
        Return a label-indicator matrix instead of one label per example.
    words_per_class : int, default=20
    nnz : int, default=60
        Words drawn per example (repeated words add up, so rows may hold fewer
        non-zeros).
    noise : float, default=0.3
        Share of each example's words drawn uniformly from the vocabulary.
    power : float, default=1.0
        Exponent of the power law of class frequencies (0: all classes alike).
    dtype : dtype, default=np.float32
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : sparse matrix of shape (n_samples, n_features), CSR
    y : ndarray of shape (n_samples,), or sparse matrix of shape (n_samples, n_classes)
        Class ids; with `multilabel`, a CSR indicator matrix of int8.
    prototypes : ndarray of shape (n_classes, words_per_class)
        The word ids of each class's prototype.

    Examples
    --------
    >>> from sklsh.datasets import make_extreme_classification
    >>> X, y, _ = make_extreme_classification(1000, 5000, 300, random_state=0)
    >>> X.shape, y.shape
    ((1000, 5000), (1000,))
    """
    rng = check_random_state(random_state)
    prototypes = rng.randint(n_features, size=(n_classes, words_per_class))
    p = np.arange(1, n_classes + 1, dtype=np.float64) ** -float(power)
    p = p[rng.permutation(n_classes)]
    p /= p.sum()
    if multilabel:
        counts = np.minimum(1 + rng.poisson(n_labels - 1, size=n_samples), n_classes)
        label_ptr = np.concatenate([[0], np.cumsum(counts)])
        # draw with the power law, then redraw the repeats within a row until none
        labels = rng.choice(n_classes, size=label_ptr[-1], p=p)
        for i in np.flatnonzero(counts > 1):
            row = labels[label_ptr[i]:label_ptr[i + 1]]
            repeats = _repeats(row)
            while repeats.any():
                row[np.flatnonzero(repeats)] = rng.choice(n_classes, p=p)
                repeats = _repeats(row)
    else:
        counts = np.ones(n_samples, dtype=np.int64)
        label_ptr = np.arange(n_samples + 1)
        labels = rng.choice(n_classes, size=n_samples, p=p)
    n_signal = int(round((1 - noise) * nnz))
    # each signal word: one of the row's labels at random, then one of its words
    which = label_ptr[:-1, None] + (rng.rand(n_samples, n_signal)
                                    * counts[:, None]).astype(np.int64)
    signal = prototypes[labels[which], rng.randint(words_per_class,
                                                   size=(n_samples, n_signal))]
    words = np.hstack([signal, rng.randint(n_features, size=(n_samples, nnz - n_signal))])
    rows = np.repeat(np.arange(n_samples), nnz)
    X = sp.csr_matrix((np.ones(rows.size, dtype=dtype), (rows, words.ravel())),
                      shape=(n_samples, n_features))
    X.sum_duplicates()
    X = normalize(X).astype(dtype)
    if not multilabel:
        return X, labels, prototypes
    Y = sp.csr_matrix((np.ones(labels.size, dtype=np.int8), labels, label_ptr),
                      shape=(n_samples, n_classes))
    Y.sort_indices()
    return X, Y, prototypes


def _repeats(row):
    """Mask of the entries of `row` equal to an earlier one."""
    first = np.zeros(row.size, dtype=bool)
    first[np.unique(row, return_index=True)[1]] = True
    return ~first
