"""Multi-label classification from label-indicator matrices, and hashed output
layers for many classes."""
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from sklsh import LSHMLPClassifier
from sklsh.datasets import make_extreme_classification
from sklsh.metrics import precision_at_k

from helpers import small_clf

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def model(**kw):
    return small_clf(**{**dict(hidden_layer_sizes=(128,), active_fraction=0.25,
                               max_iter=15), **kw})


@pytest.fixture(scope="module")
def multilabel_data():
    X, Y, _ = make_extreme_classification(2500, 4000, 150, multilabel=True, n_labels=2,
                                          noise=0.2, random_state=0)
    return X[:2000], Y[:2000], X[2000:], Y[2000:]


@pytest.mark.parametrize("loss", ["softmax", "logistic"])
def test_sparse_indicator_in_sparse_indicator_out(multilabel_data, loss):
    X, Y, Xt, Yt = multilabel_data
    clf = model(multilabel_loss=loss).fit(X, Y)
    np.testing.assert_array_equal(clf.classes_, np.arange(150))
    assert clf.n_outputs_ == 150 and clf.out_activation_ == loss
    P = clf.predict(Xt)
    assert sp.isspmatrix_csr(P) and P.shape == Yt.shape and P.dtype == Y.dtype
    labels, proba = clf.predict_topk(Xt, 3)
    assert precision_at_k(Yt, labels, 1) > 0.9
    assert ((proba >= 0) & (proba <= 1)).all()
    full = clf.predict_proba(Xt)
    assert full.shape == (Xt.shape[0], 150)
    if loss == "softmax":
        # one distribution over the labels; predicted: those of at least half the
        # row's largest probability, so never an empty row
        np.testing.assert_allclose(full.sum(axis=1), 1, rtol=1e-5)
        expected = full >= full.max(axis=1, keepdims=True) / 2
        assert (np.diff(P.indptr) >= 1).all()
    else:
        expected = full > 0.5
    # (a probability within rounding of the threshold may fall either side)
    near = np.isclose(full, full.max(axis=1, keepdims=True) / 2 if loss == "softmax"
                      else 0.5, rtol=1e-4)
    assert ((P.toarray() == expected) | near).all()
    assert 0 <= clf.score(Xt, Yt) <= 1          # subset accuracy, as scikit-learn's


def test_softmax_beats_logistic_on_many_labels_per_row():
    """Rows of several labels among many: the softmax's spread target learns a
    ranking the summed logistic losses of every output do not reach as fast."""
    X, Y, _ = make_extreme_classification(3000, 4000, 400, multilabel=True, n_labels=4,
                                          noise=0.3, random_state=5)
    scores = {}
    for loss in ("softmax", "logistic"):
        clf = model(multilabel_loss=loss, max_iter=4).fit(X[:2500], Y[:2500])
        scores[loss] = precision_at_k(Y[2500:], clf.predict_topk(X[2500:], 3)[0], 3)
    assert scores["softmax"] > scores["logistic"], scores


def test_hashed_multilabel_output_trains_every_positive_label(multilabel_data):
    """Under the multi-label softmax on a hashed output layer, every positive label
    of a row is in its training active set: each label seen in training gets a
    gradient however seldom the tables would propose it."""
    X, Y, Xt, Yt = multilabel_data
    clf = model(active_fraction=[1.0, 0.02], hash_output=True, max_iter=2).fit(X, Y)
    assert clf._hash_states[-1] is not None and clf._budgets[-1] == 3
    seen = np.unique(Y.indices)
    assert set(seen) <= set(np.flatnonzero(clf._touched[-1] > 0))


def test_dense_and_sparse_indicators_train_the_same_model(multilabel_data):
    X, Y, Xt, _ = multilabel_data
    sparse = model(max_iter=3).fit(X, Y)
    dense = model(max_iter=3).fit(X, Y.toarray().astype(np.int64))
    np.testing.assert_array_equal(sparse.coefs_[0], dense.coefs_[0])
    P = dense.predict(Xt)
    assert isinstance(P, np.ndarray) and P.dtype == np.int64
    np.testing.assert_array_equal(P, sparse.predict(Xt).toarray())


def test_rows_without_labels_and_partial_fit(multilabel_data):
    X, Y, Xt, Yt = multilabel_data
    Y = Y.tolil()
    Y[:50] = 0                                  # some examples have no label at all
    Y = Y.tocsr()
    clf = model(max_iter=1)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, Y)
    clf.partial_fit(X[:1000], Y[:1000], classes=np.arange(150))
    for _ in range(10):
        clf.partial_fit(X, Y)
    assert precision_at_k(Yt, clf.predict_topk(Xt, 1)[0]) > 0.8
    with pytest.raises(ValueError, match="150"):
        clf.partial_fit(X, Y[:, :100])


def test_two_dimensional_targets_must_be_indicators():
    X = np.random.RandomState(0).rand(30, 4)
    with pytest.raises(ValueError, match="label-indicator matrix"):
        model().fit(X, np.random.RandomState(1).randint(0, 3, size=(30, 2)))


def test_hashed_output_layer_always_trains_the_true_labels():
    """With a hashed output layer the softmax runs over each example's active
    outputs, its true label forced in: classes the tables would seldom propose still
    learn, and training-set precision@1 gets high."""
    X, y, _ = make_extreme_classification(3000, 5000, 1500, noise=0.2, power=0.0,
                                          random_state=2)
    clf = model(active_fraction=[1.0, 0.02], hash_output=True, max_iter=10,
                learning_rate_init=0.005).fit(X, y)
    assert clf._hash_states[-1] is not None
    assert clf.mult_fraction_ < 0.2
    trained = np.flatnonzero(clf._touched[-1] > 0)
    # every class seen in training received gradient (its label was in the set)
    assert set(np.unique(np.searchsorted(clf.classes_, y))) <= set(trained)
    assert clf.score(X, y) > 0.8


def test_fit_never_makes_the_labels_dense():
    """A sparse indicator of 100k labels is never expanded: fitting and top-k
    prediction stay far below the 200 MB one dense copy of it would take."""
    n, n_labels = 2000, 100_000
    rng = np.random.RandomState(0)
    X = sp.random(n, 500, density=0.02, format="csr", dtype=np.float32,
                  random_state=rng)
    labels = rng.randint(n_labels, size=2 * n)
    Y = sp.csr_matrix((np.ones(2 * n, dtype=np.int8), labels, np.arange(0, 2 * n + 1, 2)),
                      shape=(n, n_labels))
    Y.sum_duplicates()
    clf = LSHMLPClassifier((16,), active_fraction=[1.0, 0.001], hash_output=True,
                           n_tables=8, bucket_size=16, max_iter=1, n_threads=1,
                           random_state=0)
    tracemalloc.start()
    try:
        clf.fit(X, Y)
        labels_top, _ = clf.predict_topk(X[:300], 5)
        P = clf.predict(X[:300])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert labels_top.shape == (300, 5) and sp.issparse(P)
    assert peak < 100e6, f"peak {peak / 1e6:.0f} MB"       # measured: 63 MB
