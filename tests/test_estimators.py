"""LSHMLPClassifier and LSHMLPRegressor as scikit-learn estimators.

Fits are small (digits, a few epochs) and single-threaded unless the test is about
threads, so that they are fast and reproducible.
"""
import textwrap
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from sklsh import LSHMLPClassifier, LSHMLPRegressor

from helpers import assert_same_arrays, small_clf

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ------------------------------------------------------------- input formats, dtypes
@pytest.mark.parametrize("active_fraction, hash_family", [
    (1.0, "srp"), (0.1, "srp"), (0.1, "dwta"), (0.1, "wta"), (0.1, "doph")])
def test_dense_and_csr_input_fit_the_same_model(digits, active_fraction, hash_family):
    """The same data given dense or as CSR (or CSC) trains the same network."""
    X, y = digits
    X, y = X[:600], y[:600]
    kw = dict(active_fraction=active_fraction, hash_family=hash_family)
    dense = small_clf(**kw).fit(X, y)
    csr = small_clf(**kw).fit(sp.csr_matrix(X), y)
    csc = small_clf(**kw).fit(sp.csc_matrix(X), y)
    for model in (csr, csc):
        for a, b in zip(dense.coefs_ + dense.intercepts_,
                        model.coefs_ + model.intercepts_):
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(dense.predict_proba(X),
                               csr.predict_proba(sp.csr_matrix(X)), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_float32_input_trains_a_float32_network(digits32, sparse):
    """float32 X keeps float32 weights, intercepts and probabilities."""
    X, y = digits32
    X = sp.csr_matrix(X) if sparse else X
    clf = small_clf(active_fraction=0.25).fit(X, y)
    assert all(c.dtype == np.float32 for c in clf.coefs_ + clf.intercepts_)
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert clf.score(X, y) > 0.8


def test_float64_input_trains_a_float64_network(digits):
    """float64 X trains and predicts in float64."""
    X, y = digits
    clf = small_clf(active_fraction=0.25).fit(X, y)
    assert all(c.dtype == np.float64 for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict_proba(X).dtype == np.float64


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_fit_and_predict_leave_X_unchanged(digits, sparse):
    """fit and predict do not modify X, and work on read-only X too."""
    X, y = digits
    X, y = X[:500], y[:500]
    if sparse:
        X = sp.csr_matrix(X)
    before = X.copy()

    def use(X):
        clf = small_clf(active_fraction=0.25).fit(X, y)
        clf.predict(X)
        clf.set_params(inference="hashed").predict_proba(X)

    def assert_unchanged():
        if sparse:
            assert (X != before).nnz == 0
            assert np.array_equal(X.indices, before.indices)
            assert np.array_equal(X.indptr, before.indptr)
        else:
            assert np.array_equal(X, before)

    use(X)
    assert_unchanged()
    for a in ((X.data, X.indices, X.indptr) if sparse else (X,)):
        a.setflags(write=False)
    use(X)
    assert_unchanged()


# ------------------------------------------------------------ determinism, threads
@pytest.mark.parametrize("active_fraction, selection", [
    (1.0, "collisions"), (0.25, "collisions"), (0.25, "union")])
def test_single_thread_fits_are_bit_identical(digits, active_fraction, selection):
    """With n_threads=1 two fits with the same random_state give the same bits;
    another random_state gives another model."""
    X, y = digits
    kw = dict(active_fraction=active_fraction, selection=selection)
    a = small_clf(**kw).fit(X, y)
    b = small_clf(**kw).fit(X, y)
    assert_same_arrays(a.coefs_, b.coefs_)
    assert_same_arrays(a.intercepts_, b.intercepts_)
    assert a.loss_curve_ == b.loss_curve_
    c = small_clf(random_state=1, **kw).fit(X, y)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_hashed_inference_is_repeatable(digits):
    """A fitted model predicts the same through the tables every time."""
    X, y = digits
    clf = small_clf(active_fraction=0.1, selection="union", inference="hashed").fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))


def test_two_threads_train_as_well_as_one(digits_split):
    """Hogwild with two threads ends with finite weights and about the accuracy of a
    single-threaded fit."""
    X_train, X_test, y_train, y_test = digits_split
    kw = dict(hidden_layer_sizes=(128,), active_fraction=0.25)
    one = small_clf(n_threads=1, **kw).fit(X_train, y_train)
    two = small_clf(n_threads=2, **kw).fit(X_train, y_train)
    assert two.n_threads_ == 2 and one.n_threads_ == 1
    assert all(np.isfinite(c).all() for c in two.coefs_ + two.intercepts_)
    acc_one, acc_two = one.score(X_test, y_test), two.score(X_test, y_test)
    assert acc_one > 0.9
    assert abs(acc_two - acc_one) <= 0.05


# --------------------------------------------------------------------- accuracy
def test_small_active_fraction_reaches_near_dense_accuracy(digits_split):
    """Computing a quarter of the hidden units per example, digits is learnt nearly
    as well as by the same network computing all of them (measured: within 0.02 on
    this split over several seeds)."""
    X_train, X_test, y_train, y_test = digits_split
    kw = dict(hidden_layer_sizes=(256,), max_iter=30, random_state=0, n_threads=1,
              rerank_factor=2.0)
    dense = LSHMLPClassifier(active_fraction=1.0, **kw).fit(X_train, y_train)
    sparse = LSHMLPClassifier(active_fraction=0.25, **kw).fit(X_train, y_train)
    acc_dense, acc_sparse = dense.score(X_test, y_test), sparse.score(X_test, y_test)
    assert acc_dense > 0.94
    assert acc_sparse >= acc_dense - 0.05
    assert sparse.mult_fraction_ < 0.5


def test_hashed_inference_gives_sane_accuracy(digits_split):
    """Predicting through the hash tables, as training does, stays close to the exact
    inference of the same model."""
    X_train, X_test, y_train, y_test = digits_split
    clf = small_clf(hidden_layer_sizes=(256,), active_fraction=0.25, max_iter=20,
                    rerank_factor=2.0).fit(X_train, y_train)
    exact = clf.score(X_test, y_test)
    hashed = clf.set_params(inference="hashed").score(X_test, y_test)
    assert exact > 0.9
    assert hashed > 0.85
    assert hashed >= exact - 0.08


def test_mult_fraction(digits):
    """mult_fraction_ is below 1 when hidden layers are hashed and exactly 1 when
    every unit is computed (then no hashing work is done either)."""
    X, y = digits
    hashed = small_clf(active_fraction=0.1).fit(X, y)
    assert 0 < hashed.mult_fraction_ < 1
    assert hashed.hash_fraction_ > 0
    full = small_clf(active_fraction=1.0).fit(X, y)
    assert full.mult_fraction_ == 1.0
    assert full.hash_fraction_ == 0.0


# ---------------------------------------------------------------- classification
def test_predict_proba_is_a_distribution(digits):
    """Probabilities are in [0, 1], rows sum to 1, their argmax is predict, and
    predict_log_proba is their log."""
    X, y = digits
    clf = small_clf(active_fraction=0.25).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 10)
    assert (proba >= 0).all() and (proba <= 1).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)


def test_binary_classification(digits):
    """Two classes (here strings) use one logistic output; probabilities have two
    columns that sum to 1 and predictions use the original labels."""
    X, y = digits
    mask = (y == 3) | (y == 8)
    X, y = X[mask], np.where(y[mask] == 3, "three", "eight")
    clf = small_clf(active_fraction=0.25, max_iter=10).fit(X, y)
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    assert list(clf.classes_) == ["eight", "three"]
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    pred = clf.predict(X)
    assert set(pred) <= {"three", "eight"}
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, y) > 0.9


def test_partial_fit_with_classes(digits):
    """partial_fit learns incrementally from batches that need not hold every class,
    given all classes on the first call; one epoch per call."""
    X, y = digits
    clf = small_clf(active_fraction=0.25)
    with pytest.raises(ValueError):
        clf.partial_fit(X[:100], y[:100])           # classes are needed first
    classes = np.arange(10)
    first = y < 5
    clf.partial_fit(X[first][:300], y[first][:300], classes=classes)
    np.testing.assert_array_equal(clf.classes_, classes)
    assert clf.n_iter_ == 1
    scores = []
    for epoch in range(8):
        for start in range(0, len(X), 300):
            clf.partial_fit(X[start:start + 300], y[start:start + 300])
        scores.append(clf.score(X, y))
    assert scores[-1] > 0.85
    assert scores[-1] > scores[0]
    with pytest.raises(ValueError):
        clf.partial_fit(X[:10], np.full(10, 11))    # an unknown class


def test_later_partial_fit_checks_the_classes_it_is_given(digits):
    """A later call may repeat the first call's classes (in any order, as scikit-
    learn's check allows); other classes, or a y outside them, are refused."""
    X, y = digits
    clf = small_clf(active_fraction=0.25, max_iter=1)
    classes = np.arange(10)
    clf.partial_fit(X[:200], y[:200], classes=classes)
    clf.partial_fit(X[200:400], y[200:400], classes=classes)
    clf.partial_fit(X[400:600], y[400:600], classes=classes[::-1])
    assert clf.n_iter_ == 3
    with pytest.raises(ValueError, match="is not the same as on last call"):
        clf.partial_fit(X[:10], y[:10], classes=np.arange(11))
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`: \[11 12\]"):
        clf.partial_fit(X[:10], np.r_[y[:8], 11, 12], classes=classes)


# ------------------------------------------------------ the first layer's storage
def test_a_dense_first_layer_is_stored_by_feature(digits):
    """A dense first layer is stored by input feature (coefs_[0] C-contiguous), a
    hashed one by unit; a warm start that changes which turns the layer over and
    trains on from the same weights."""
    X, y = digits
    dense = small_clf(active_fraction=1.0, max_iter=2).fit(X, y)
    hashed = small_clf(active_fraction=0.25, max_iter=2).fit(X, y)
    assert dense.coefs_[0].flags.c_contiguous and dense.coefs_[0].shape == (64, 64)
    assert hashed.coefs_[0].T.flags.c_contiguous
    for model, start in ((dense, 0.25), (hashed, 1.0)):
        before = model.coefs_[0].copy()
        model.set_params(warm_start=True, active_fraction=start, max_iter=1,
                         learning_rate_init=1e-12)
        model.fit(X, y)
        np.testing.assert_allclose(model.coefs_[0], before, atol=1e-6)
        assert model.coefs_[0].flags.c_contiguous == (start == 1.0)
        model.set_params(learning_rate_init=0.01, max_iter=5).fit(X, y)
        assert model.score(X, y) > 0.9


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_a_feature_no_row_has_moves_by_the_penalty_alone(digits, sparse):
    """Stored by feature, the first layer trains as if every row were stepped every
    batch: digits' always-blank pixels keep their draw without a penalty and shrink
    under one, whether X is dense or CSR."""
    X, y = digits
    blank = ~(X != 0).any(axis=0)
    assert blank.sum() >= 2
    Xs = sp.csr_matrix(X) if sparse else X
    # (a step of 1e-300 leaves every weight as drawn)
    drawn = small_clf(active_fraction=1.0, max_iter=1, learning_rate_init=1e-300)
    drawn = drawn.fit(X, y).coefs_[0][blank]
    free = small_clf(active_fraction=1.0, max_iter=1, alpha=0.0).fit(Xs, y)
    np.testing.assert_array_equal(free.coefs_[0][blank], drawn)
    held = small_clf(active_fraction=1.0, max_iter=1, alpha=1.0).fit(Xs, y)
    assert np.abs(held.coefs_[0][blank]).mean() < 0.5 * np.abs(drawn).mean()


# -------------------------------------------------------------------- regression
def _regression_data(n_outputs):
    rng = np.random.RandomState(0)
    X = rng.rand(600, 6)
    w = rng.normal(size=(6, n_outputs))
    Y = X @ w + 0.5 * np.sin(3 * X[:, :n_outputs])
    return X, (Y.ravel() if n_outputs == 1 else Y)


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("active_fraction", [0.5, 1.0])
def test_regressor_fits_and_predicts(n_outputs, active_fraction):
    """The regressor predicts one column per target (1-d for one target) and fits a
    smooth function well."""
    X, y = _regression_data(n_outputs)
    reg = LSHMLPRegressor((64,), active_fraction=active_fraction, max_iter=150,
                          learning_rate_init=0.01, random_state=0, n_threads=1)
    reg.fit(X[:450], y[:450])
    pred = reg.predict(X[450:])
    assert pred.shape == ((150,) if n_outputs == 1 else (150, n_outputs))
    assert reg.n_outputs_ == n_outputs and reg.out_activation_ == "identity"
    assert reg.score(X[450:], y[450:]) > 0.9


def test_regressor_partial_fit_and_column_target():
    """partial_fit improves a regressor; a (n, 1) target is treated as 1-d."""
    X, y = _regression_data(1)
    reg = LSHMLPRegressor((32,), active_fraction=0.5, random_state=0, n_threads=1,
                          learning_rate_init=0.01)
    reg.partial_fit(X, y)
    first = reg.score(X, y)
    for _ in range(30):
        reg.partial_fit(X, y)
    assert reg.score(X, y) > max(first, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        col = LSHMLPRegressor((16,), max_iter=3, random_state=0,
                              n_threads=1).fit(X, y[:, None])
    assert col.predict(X).shape == (len(X),)


# ------------------------------------------------------------------- the tables
def test_small_buckets_train_without_crashing(run_isolated):
    """bucket_size is a free parameter: tiny buckets must train safely (run in a
    fresh interpreter, since a buffer overflow there aborts the process)."""
    result = run_isolated(textwrap.dedent("""
        import warnings
        warnings.simplefilter("ignore")
        from sklearn.datasets import load_digits
        from sklsh import LSHMLPClassifier
        X, y = load_digits(return_X_y=True)
        for bucket_size in (2, 4):
            clf = LSHMLPClassifier((256,), bucket_size=bucket_size, active_fraction=0.1,
                                   max_iter=2, random_state=0, n_threads=1)
            clf.fit(X / 16, y)
        print("OK")
    """))
    assert result.returncode == 0 and "OK" in result.stdout, (
        f"exit {result.returncode}: {result.stderr[-2000:]}")


def test_exploration_trains_units_the_tables_do_not_pick(digits):
    """explore_fraction hands part of each training active set to random units: more
    units receive gradients than without it; a dense network (nothing hashed) is not
    affected at all."""
    X, y = digits

    def trained_units(**kw):
        clf = small_clf(active_fraction=0.1, max_iter=2, **kw).fit(X, y)
        return int((clf._touched[0] > 0).sum()), clf

    plain, _ = trained_units(explore_fraction=0.0)
    explored, clf = trained_units(explore_fraction=0.5)
    assert explored > plain
    assert all(np.isfinite(c).all() for c in clf.coefs_)
    dense_a = small_clf(active_fraction=1.0, max_iter=2, explore_fraction=0.0).fit(X, y)
    dense_b = small_clf(active_fraction=1.0, max_iter=2, explore_fraction=0.5).fit(X, y)
    for a, b in zip(dense_a.coefs_, dense_b.coefs_):
        np.testing.assert_array_equal(a, b)


def test_row_norm_draws_the_first_layer_for_the_row_norms(digits):
    """'row_norm' draws the first layer He-uniform for the mean squared row norm (1
    for TF-IDF rows), however X is stored; 'glorot' keeps n_features' draw."""
    from sklearn.preprocessing import normalize
    from sklsh._init import effective_fan_in
    X = normalize(sp.random(300, 4000, density=0.01, format="csr", random_state=0))
    y = np.arange(300) % 3
    for stored in (X, X.toarray(), sp.csc_matrix(X)):
        assert effective_fan_in(stored, "row_norm") == 1.0
        assert effective_fan_in(stored, "glorot") is None
    clf = small_clf(init="row_norm", learning_rate_init=1e-12, max_iter=1).fit(X, y)
    bound = np.sqrt(6.0)
    assert 0.95 * bound < np.abs(clf.coefs_[0]).max() <= bound
    assert np.abs(clf.intercepts_[0]).max() <= np.sqrt(6.0 / (4000 + 64))


def test_the_first_layer_is_drawn_the_same_in_either_storage(monkeypatch):
    """Stored by feature or by unit, the first draw gives the same values (the
    generator's stream is read in the same order, a block of rows at a time)."""
    from sklsh import _init
    monkeypatch.setattr(_init, "DRAW_BLOCK", 64)        # blocks of 9 rows
    units = [300, 7, 5]
    draws = [_init.draw_weights(units, np.float32, "relu", np.random.RandomState(0),
                                first_by_feature=by_feature)
             for by_feature in (False, True)]
    (by_unit, b0), (by_feature, b1) = draws
    assert by_unit[0].T.flags.c_contiguous and by_feature[0].flags.c_contiguous
    for a, c in zip(by_unit + b0, by_feature + b1):
        np.testing.assert_array_equal(a, c)


def test_init_chooses_the_first_layer_draw(digits):
    """init='glorot' (the default) keeps scikit-learn's draw on sparse data,
    'row_norm' uses the row norms on dense data too; the later layers never
    change."""
    from sklearn.preprocessing import normalize
    X = normalize(sp.random(300, 4000, density=0.01, format="csr", random_state=0))
    y = np.arange(300) % 3
    glorot = np.sqrt(6.0 / (4000 + 64))
    frozen = dict(learning_rate_init=1e-12, max_iter=1)
    clf = small_clf(init="glorot", **frozen).fit(X, y)
    assert 0.95 * glorot < np.abs(clf.coefs_[0]).max() <= glorot
    assert small_clf().init == "glorot"
    norms = small_clf(init="row_norm", **frozen).fit(X, y)
    np.testing.assert_allclose(norms.coefs_[1], clf.coefs_[1], rtol=1e-6)
    Xd = digits[0][:300] / 16.0
    mean_sq = float((Xd ** 2).sum(axis=1).mean())
    dense = small_clf(init="row_norm", **frozen).fit(Xd, y)
    bound = np.sqrt(6.0 / mean_sq)
    assert 0.95 * bound < np.abs(dense.coefs_[0]).max() <= bound
    assert np.abs(small_clf(**frozen).fit(Xd, y).coefs_[0]).max() <= np.sqrt(6 / 128)
