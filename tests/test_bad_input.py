"""Bad input: each case gets scikit-learn's usual exception with a message that says
what to change, raised before anything large is allocated or any kernel runs; odd but
valid input (string labels, other sparse formats, Fortran order, read-only arrays)
just works; X and y are never written to."""
import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError

from sklsh import LSHMLPClassifier, LSHMLPRegressor

from helpers import small_clf, small_reg

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [LSHMLPClassifier, LSHMLPRegressor]


def small(Estimator, **kw):
    make = small_clf if Estimator is LSHMLPClassifier else small_reg
    return make(**{"max_iter": 2, **kw})


def problem(Estimator, n=60, d=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.rand(n, d)
    y = np.arange(n) % 3 if Estimator is LSHMLPClassifier else rng.rand(n)
    return X, y


# ------------------------------------------------------------------------ X
@pytest.mark.parametrize("value, message", [(np.nan, "NaN"), (np.inf, "infinity"),
                                            (-np.inf, "infinity")])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_non_finite_X_is_refused(Estimator, value, message):
    X, y = problem(Estimator)
    X[3, 2] = value
    with pytest.raises(ValueError, match=f"Input X contains {message}"):
        small(Estimator).fit(X, y)
    model = small(Estimator).fit(*problem(Estimator))
    with pytest.raises(ValueError, match=f"Input X contains {message}"):
        model.predict(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_empty_X_is_refused(Estimator):
    X, y = problem(Estimator)
    with pytest.raises(ValueError, match="0 sample\\(s\\)"):
        small(Estimator).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="0 feature\\(s\\)"):
        small(Estimator).fit(X[:, :0], y)
    model = small(Estimator).fit(X, y)
    with pytest.raises(ValueError, match="0 sample\\(s\\)"):
        model.predict(X[:0])


def test_one_sample():
    """One sample is one class for a classifier (refused, saying so); a regressor
    trains on it."""
    X, y = problem(LSHMLPClassifier)
    with pytest.raises(ValueError, match="only one class"):
        small(LSHMLPClassifier).fit(X[:1], y[:1])
    X, y = problem(LSHMLPRegressor)
    model = small(LSHMLPRegressor).fit(X[:1], y[:1])
    assert np.isfinite(model.predict(X)).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_one_feature(Estimator):
    X, y = problem(Estimator, d=1)
    model = small(Estimator, active_fraction=0.25).fit(X, y)
    assert model.predict(X).shape == (len(X),)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_wrong_feature_count_at_predict(Estimator):
    X, y = problem(Estimator)
    model = small(Estimator).fit(X, y)
    with pytest.raises(ValueError, match="X has 4 features, but .* is expecting 5"):
        model.predict(X[:, :4])
    with pytest.raises(ValueError, match="X has 6 features, but .* is expecting 5"):
        model.predict(np.hstack([X, X[:, :1]]))
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        model.predict(X[0])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_complex_and_object_X(Estimator):
    X, y = problem(Estimator)
    with pytest.raises(ValueError, match="Complex data not supported"):
        small(Estimator).fit(X + 1j, y)
    words = np.array([["a", "b"]] * len(X), dtype=object)
    with pytest.raises(ValueError, match="could not convert string to float"):
        small(Estimator).fit(words, y)
    # an object array of numbers is just numbers
    small(Estimator).fit(X.astype(object), y)


@pytest.mark.parametrize("fmt", ["csc", "coo", "lil", "dok", "bsr", "dia"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_other_sparse_formats_give_the_csr_model(Estimator, fmt):
    """Every scipy sparse format is accepted (converted to CSR) and gives the model a
    CSR matrix gives; sparse arrays too."""
    X, y = problem(Estimator)
    X[X < 0.5] = 0
    reference = small(Estimator, active_fraction=0.25).fit(sp.csr_matrix(X), y)
    model = small(Estimator, active_fraction=0.25).fit(sp.csr_matrix(X).asformat(fmt), y)
    np.testing.assert_array_equal(model.coefs_[0], reference.coefs_[0])
    np.testing.assert_array_equal(model.predict(sp.csr_matrix(X).asformat(fmt)),
                                  reference.predict(sp.csr_matrix(X)))
    array = small(Estimator, active_fraction=0.25).fit(sp.csr_array(X).asformat(fmt), y)
    np.testing.assert_array_equal(array.coefs_[0], reference.coefs_[0])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_int64_sparse_indices(Estimator):
    X, y = problem(Estimator)
    X[X < 0.5] = 0
    A = sp.csr_matrix(X)
    wide = A.copy()
    wide.indices, wide.indptr = A.indices.astype(np.int64), A.indptr.astype(np.int64)
    assert wide.indices.dtype == np.int64
    reference = small(Estimator, active_fraction=0.25).fit(A, y)
    model = small(Estimator, active_fraction=0.25).fit(wide, y)
    np.testing.assert_array_equal(model.coefs_[0], reference.coefs_[0])
    assert wide.indices.dtype == np.int64          # the caller's matrix is untouched


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_fortran_ordered_and_read_only_X_and_y(Estimator):
    """Memory layout and writeability do not change the model, and nothing the
    caller passed is written to."""
    X, y = problem(Estimator)
    reference = small(Estimator, active_fraction=0.25).fit(X, y)
    F = np.asfortranarray(X)
    F.setflags(write=False)
    y_ro = y.copy()
    y_ro.setflags(write=False)
    X_before, y_before = F.copy(), y_ro.copy()
    model = small(Estimator, active_fraction=0.25).fit(F, y_ro)
    np.testing.assert_array_equal(model.coefs_[0], reference.coefs_[0])
    np.testing.assert_array_equal(model.predict(F), reference.predict(X))
    model.partial_fit(F, y_ro)
    np.testing.assert_array_equal(F, X_before)
    np.testing.assert_array_equal(y_ro, y_before)


# ------------------------------------------------------------------------ y
def test_string_and_non_contiguous_labels():
    X, _ = problem(LSHMLPClassifier)
    for labels in (np.array(["cat", "dog", "emu"]), np.array([3, 17, 40])):
        y = labels[np.arange(len(X)) % 3]
        clf = small(LSHMLPClassifier, active_fraction=0.25, max_iter=30).fit(X, y)
        np.testing.assert_array_equal(clf.classes_, np.sort(labels))
        assert set(clf.predict(X)) <= set(labels)
        assert clf.predict_proba(X).shape == (len(X), 3)


def test_one_class_is_refused():
    X, _ = problem(LSHMLPClassifier)
    with pytest.raises(ValueError, match="at least 2 classes .* only one class: 'a'"):
        small(LSHMLPClassifier).fit(X, np.array(["a"] * len(X)))


def test_continuous_y_for_the_classifier_is_refused():
    X, _ = problem(LSHMLPClassifier)
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        small(LSHMLPClassifier).fit(X, np.linspace(0, 1, len(X)))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_non_finite_or_misshapen_y_is_refused(Estimator):
    X, y = problem(Estimator)
    bad = y.astype(float)
    bad[4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        small(Estimator).fit(X, bad)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        small(Estimator).fit(X, y[:-1])


def test_diverging_training_is_refused_with_a_clear_error():
    X, y = problem(LSHMLPRegressor)
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        small(LSHMLPRegressor, solver="sgd", learning_rate_init=1e20).fit(X * 1e30, y)


def test_weights_whose_squares_overflow_are_still_finite():
    from sklsh._base import _all_finite
    big = np.full((4, 3), 1e30, dtype=np.float32)
    assert _all_finite(big) and _all_finite(big.T) and _all_finite(big[:0])
    for value in (np.inf, -np.inf, np.nan):
        bad = big.copy()
        bad[2, 1] = value
        assert not _all_finite(bad) and not _all_finite(bad.T)


# ------------------------------------------------------------ hash settings
@pytest.mark.parametrize("params, name", [
    ({"n_tables": 0}, "n_tables"),
    ({"n_tables": -3}, "n_tables"),
    ({"bits_per_table": 0}, "bits_per_table"),
    ({"bits_per_table": 31}, "bits_per_table"),
    ({"bucket_size": 0}, "bucket_size"),
    ({"active_fraction": 0.0}, "active_fraction"),
    ({"active_fraction": -0.5}, "active_fraction"),
    ({"active_fraction": 1.5}, "active_fraction"),
    ({"hash_family": "minhash"}, "hash_family"),
    ({"bucket_policy": "lifo"}, "bucket_policy"),
    ({"selection": "random"}, "selection"),
    ({"rerank_factor": 0.5}, "rerank_factor"),
    ({"explore_fraction": 1.0}, "explore_fraction"),
    ({"explore_fraction": -0.1}, "explore_fraction"),
    ({"wta_window": 1}, "wta_window"),
    ({"inference": "approximate"}, "inference"),
    ({"n_threads": 0}, "n_threads"),
    ({"refresh_interval": 0}, "refresh_interval"),
    ({"refresh_growth": 0.5}, "refresh_growth"),
    ({"mips": "yes"}, "mips"),
    ({"learning_rate_init": 0.0}, "learning_rate_init"),
    ({"solver": "lbfgs"}, "solver"),
    ({"activation": "softplus"}, "activation"),
])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_invalid_parameters_are_refused_by_name(Estimator, params, name):
    """Out-of-range or unknown values raise InvalidParameterError naming the
    parameter, at fit and at partial_fit."""
    X, y = problem(Estimator)
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        Estimator(max_iter=2, **params).fit(X, y)
    kwargs = {"classes": np.arange(3)} if Estimator is LSHMLPClassifier else {}
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        Estimator(**params).partial_fit(X, y, **kwargs)


def test_bad_active_fraction_list_raises(digits):
    """A per-layer active_fraction needs one value per hidden layer plus the output."""
    X, y = digits
    with pytest.raises(ValueError, match=re.escape(
            "active_fraction=[0.5, 0.5] has 2 values, but this network has 3 layers: "
            "give one float for all, or a list of 3: one per hidden layer (2), then one "
            "for the output layer.")):
        small_clf(hidden_layer_sizes=(16, 16), active_fraction=[0.5, 0.5]).fit(X, y)
    with pytest.raises(ValueError, match=re.escape(
            "active_fraction=[0.1] has 1 value, but this network has 2 layers: give "
            "one float for all, or a list of 2: one per hidden layer (1), then one for "
            "the output layer.")):
        small_clf(hidden_layer_sizes=(16,), active_fraction=[0.1]).fit(X, y)
    with pytest.raises(ValueError, match="active_fraction values must lie in"):
        small_clf(hidden_layer_sizes=(16,), active_fraction=[0.5, 0.0]).fit(X, y)
    clf = small_clf(hidden_layer_sizes=(16, 16), active_fraction=[0.5, 0.25, 1.0],
                    max_iter=2).fit(X, y)
    assert clf.mult_fraction_ < 1


@pytest.mark.parametrize("params", [
    {"hidden_layer_sizes": (2_000_000,)},                            # the weights
    {"hidden_layer_sizes": (1000,), "bits_per_table": 30, "n_tables": 64,
     "active_fraction": 0.1, "selection": "collisions"},                   # the buckets
])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_configurations_beyond_the_machine_are_refused_before_allocating(Estimator,
                                                                       params):
    """A model that would need more memory than this process may use is refused with
    the amount and what to reduce, before anything is allocated: the call returns at
    once and leaves the estimator unfitted (see test_memory_guard.py)."""
    rng = np.random.RandomState(0)
    X = rng.rand(20, 50_000)
    y = np.arange(20) % 2 if Estimator is LSHMLPClassifier else rng.rand(20)
    model = Estimator(max_iter=1, **params)
    with pytest.raises(ValueError, match="This configuration needs .* GiB: .* GiB are "
                                         "available \\(.*\\)\\. Reduce"):
        model.fit(X, y)
    assert not hasattr(model, "coefs_")
