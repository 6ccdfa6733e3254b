"""Helpers shared by the test modules (pytest puts this folder on sys.path)."""
import numpy as np

from sklsh import LSHMLPClassifier, LSHMLPRegressor


def small_clf(**kw):
    """A small, quick, single-threaded classifier (about 0.9 held-out accuracy on
    digits at active_fraction=0.25)."""
    params = dict(hidden_layer_sizes=(64,), max_iter=10, learning_rate_init=0.01,
                  random_state=0, n_threads=1)
    params.update(kw)
    return LSHMLPClassifier(**params)


def small_reg(**kw):
    """The regressor counterpart of :func:`small_clf`."""
    params = dict(hidden_layer_sizes=(64,), max_iter=10, learning_rate_init=0.01,
                  random_state=0, n_threads=1)
    params.update(kw)
    return LSHMLPRegressor(**params)


def assert_same_arrays(a, b):
    """Two lists of arrays are equal, dtype and shape included."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert np.array_equal(x, y)
