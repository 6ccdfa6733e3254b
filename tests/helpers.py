"""Helpers shared by the test modules (pytest puts this folder on sys.path)."""
import numpy as np

from sklsh import LSHMLPClassifier, LSHMLPRegressor


# (a hashed hidden layer, so that the tests built on it exercise the tables)
SMALL = dict(hidden_layer_sizes=(64,), active_fraction=0.1, max_iter=10,
             learning_rate_init=0.01, random_state=0, n_threads=1)


def small_clf(**kw):
    """A small, quick, single-threaded classifier (about 0.9 held-out accuracy on
    digits at active_fraction=0.25)."""
    return LSHMLPClassifier(**{**SMALL, **kw})


def small_reg(**kw):
    """The regressor counterpart of :func:`small_clf`."""
    return LSHMLPRegressor(**{**SMALL, **kw})


def assert_same_arrays(a, b):
    """Two lists of arrays are equal, dtype and shape included."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y, strict=True)
