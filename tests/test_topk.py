"""Top-k prediction and the ranking metrics of extreme classification."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import accuracy_score, ndcg_score
from sklearn.model_selection import GridSearchCV

import sklsh._prediction
from sklsh.metrics import ndcg_at_k, precision_at_k, topk_scorer

from helpers import small_clf

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def fitted(digits):
    X, y = digits
    return small_clf(active_fraction=0.25).fit(X, y), X, y


@pytest.mark.parametrize("inference", ["hashed", "exact"])
def test_topk_matches_brute_force(fitted, inference):
    """The top k of predict_topk are the k largest of predict_proba, best first."""
    clf, X, _ = fitted
    clf.set_params(inference=inference)
    proba = clf.predict_proba(X)
    for k in (1, 3, 10):
        labels, top = clf.predict_topk(X, k)
        assert labels.shape == top.shape == (len(X), k)
        np.testing.assert_allclose(top, -np.sort(-proba, axis=1)[:, :k], rtol=1e-6)
        assert (np.diff(top, axis=1) <= 0).all()
        cols = np.searchsorted(clf.classes_, labels)
        np.testing.assert_array_equal(proba[np.arange(len(X))[:, None], cols], top)
    np.testing.assert_array_equal(clf.predict_topk(X, 1)[0][:, 0], clf.predict(X))


def test_topk_is_computed_in_blocks(fitted, monkeypatch):
    """Blocks of rows give the same answer as one block: memory is bounded by the
    block, not by len(X)."""
    clf, X, _ = fitted
    whole = clf.predict_topk(X, 4)
    monkeypatch.setattr(sklsh._prediction, "PREDICT_CHUNK", 7)
    parts = clf.predict_topk(X, 4)
    np.testing.assert_array_equal(parts[0], whole[0])
    np.testing.assert_array_equal(parts[1], whole[1])


def test_topk_with_string_labels_and_two_classes(digits):
    X, y = digits
    names = np.array(["even", "odd"])[y % 2]
    clf = small_clf(active_fraction=0.25).fit(X, names)
    labels, top = clf.predict_topk(X, 2)
    assert set(labels.ravel()) == {"even", "odd"}
    np.testing.assert_allclose(top.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(labels[:, 0], clf.predict(X))


def test_topk_refuses_a_bad_k(fitted):
    clf, X, _ = fitted
    for k in (0, 11, 2.5):
        with pytest.raises(ValueError, match="k must be an integer from 1 to"):
            clf.predict_topk(X, k)


def test_precision_and_ndcg_one_label():
    y = np.array([3, 1, 2])
    top = np.array([[3, 0], [0, 1], [1, 0]])
    assert precision_at_k(y, top, 1) == accuracy_score(y, top[:, 0])
    assert precision_at_k(y, top) == pytest.approx(2 / 6)
    # hits at rank 1 and rank 2: gains 1 and 1/log2(3); ideal 1 each
    assert ndcg_at_k(y, top) == pytest.approx((1 + 1 / np.log2(3)) / 3)


@pytest.mark.parametrize("to_matrix", [np.asarray, sp.csr_matrix, sp.csc_matrix])
def test_precision_and_ndcg_multilabel_against_a_reference(to_matrix):
    """Against a direct computation and scikit-learn's ndcg_score on the scores that
    rank labels in the given order."""
    rng = np.random.RandomState(0)
    Y = (rng.rand(50, 30) < 0.1).astype(int)
    Y[0] = 0                                       # an example without labels
    scores = rng.rand(50, 30)
    top = np.argsort(-scores, axis=1)[:, :5]
    hits = np.take_along_axis(Y, top, axis=1)
    assert precision_at_k(to_matrix(Y), top) == pytest.approx(hits.mean())
    assert precision_at_k(to_matrix(Y), top, 2) == pytest.approx(hits[:, :2].mean())
    assert ndcg_at_k(to_matrix(Y), top) == pytest.approx(ndcg_score(Y, scores, k=5))


def test_metrics_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="top_labels must be 2-D"):
        precision_at_k([1, 2], [1, 2])
    with pytest.raises(ValueError, match="k must be an integer"):
        precision_at_k([1, 2], [[1], [2]], k=2)
    with pytest.raises(ValueError, match="y_true must have shape"):
        ndcg_at_k([1, 2, 3], [[1], [2]])
    with pytest.raises(ValueError, match="column indices"):
        precision_at_k(np.eye(2), [[0], [5]])


def test_topk_scorer_in_grid_search(digits):
    X, y = digits
    search = GridSearchCV(small_clf(max_iter=5), {"active_fraction": [0.25, 0.5]},
                          scoring={"P@1": topk_scorer("precision", 1),
                                   "nDCG@3": topk_scorer("ndcg", 3)},
                          refit="P@1", cv=2)
    search.fit(X, y)
    p1 = search.cv_results_["mean_test_P@1"]
    assert ((p1 > 0.5) & (p1 <= 1)).all()
    assert (search.cv_results_["mean_test_nDCG@3"] >= p1 - 1e-12).all()
    with pytest.raises(ValueError, match="metric must be"):
        topk_scorer("recall")


def test_inference_rerank_factor_sets_the_candidates_of_a_prediction(digits):
    """inference_rerank_factor changes how many units the tables propose when
    predicting, on a fitted model: with every class a candidate the hashed output
    keeps the exact top of its budget, so predict agrees with exact inference."""
    X, y = digits
    clf = small_clf(active_fraction=[1.0, 0.3], hash_output=True).fit(X, y)
    assert clf._inference_plan() == ([64, 3], [64, 9])           # rerank_factor=3
    exact = clf.set_params(inference="exact").predict(X)
    clf.set_params(inference="hashed", inference_rerank_factor=4.0)
    assert clf._inference_plan() == ([64, 3], [64, 10])
    np.testing.assert_array_equal(clf.predict(X), exact)
    clf.set_params(inference_rerank_factor=1.0)
    assert clf._inference_plan() == ([64, 3], [64, 3])
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal((proba > 0).sum(axis=1), 3)
    assert clf.score(X, y) > 0.5


def test_inference_active_fraction_sets_the_outputs_of_a_prediction(digits):
    """inference_active_fraction changes the output budget of a fitted model's hashed
    predictions (the hidden layers keep theirs): the probability is spread over that
    many outputs, the top-k stays the k largest of predict_proba, and at 1.0 the
    hashed output is exact."""
    X, y = digits
    clf = small_clf(active_fraction=[0.5, 0.3], hash_output=True).fit(X, y)
    assert clf._inference_plan() == ([32, 3], [64, 9])
    clf.set_params(inference_active_fraction=0.2)
    assert clf._inference_plan() == ([32, 2], [64, 6])
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal((proba > 0).sum(axis=1), 2)
    labels, top = clf.predict_topk(X, 2)
    np.testing.assert_allclose(top, -np.sort(-proba, axis=1)[:, :2], rtol=1e-6)
    clf.set_params(inference_active_fraction=0.2, inference_rerank_factor=1.0)
    assert clf._inference_plan() == ([32, 2], [32, 2])
    clf.set_params(inference_active_fraction=1.0, inference_rerank_factor=None)
    assert clf._inference_plan() == ([32, 10], [64, 10])
    assert ((clf.predict_proba(X) > 0).sum(axis=1) == 10).all()
    with pytest.raises(ValueError, match="inference_active_fraction"):
        clf.set_params(inference_active_fraction=0.0).predict(X)
