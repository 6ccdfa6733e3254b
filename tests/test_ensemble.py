"""GeometricVotingClassifier: the weighted geometric mean of its members' probabilities,
for one label per example and for label-indicator targets."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Perceptron
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sklsh.ensemble
from sklsh import LSHMLPClassifier
from sklsh.datasets import make_extreme_classification
from sklsh.ensemble import GeometricVotingClassifier
from sklsh.metrics import precision_at_k

from helpers import small_clf

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def members():
    return [("linear", small_clf(hidden_layer_sizes=(), max_iter=5)),
            ("net", small_clf(max_iter=5))]


@pytest.fixture(scope="module")
def labels():
    X, Y, _ = make_extreme_classification(1500, 1000, 120, multilabel=True, n_labels=2,
                                          noise=0.2, random_state=0)
    return X[:1200], Y[:1200], X[1200:], Y[1200:]


def test_one_member_predicts_as_that_member(digits_split):
    X, Xt, y, yt = digits_split
    vote = GeometricVotingClassifier(members()[1:]).fit(X, y)
    alone = small_clf(max_iter=5).fit(X, y)
    np.testing.assert_allclose(vote.predict_proba(Xt), alone.predict_proba(Xt),
                               rtol=1e-6, atol=1e-12)
    np.testing.assert_array_equal(vote.predict(Xt), alone.predict(Xt))
    np.testing.assert_array_equal(vote.predict_topk(Xt, 3)[0], alone.predict_topk(Xt, 3)[0])
    assert vote.score(Xt, yt) == alone.score(Xt, yt)


def test_two_members_give_the_normalised_weighted_geometric_mean(digits_split):
    X, Xt, y, _ = digits_split
    vote = GeometricVotingClassifier(members(), weights=[3, 1]).fit(X, y)
    p0, p1 = (est.predict_proba(Xt).astype(float) for est in vote.estimators_)
    expected = np.maximum(p0, 1e-12) ** 0.75 * np.maximum(p1, 1e-12) ** 0.25
    expected /= expected.sum(axis=1, keepdims=True)
    proba = vote.predict_proba(Xt)
    np.testing.assert_allclose(proba, expected, rtol=1e-9)
    np.testing.assert_allclose(np.exp(vote.predict_log_proba(Xt)), proba)
    np.testing.assert_array_equal(vote.predict(Xt), vote.classes_[expected.argmax(axis=1)])
    labels, top = vote.predict_topk(Xt, 4)
    assert labels.shape == top.shape == (len(Xt), 4)
    np.testing.assert_array_equal(labels[:, 0], vote.predict(Xt))
    assert (np.diff(top, axis=1) <= 0).all()
    assert list(vote.named_estimators_) == ["linear", "net"]
    assert vote.named_estimators_.net is vote.estimators_[1]
    assert vote.n_features_in_ == X.shape[1]


def test_a_zero_weight_leaves_the_other_member(digits_split):
    X, Xt, y, _ = digits_split
    vote = GeometricVotingClassifier(members(), weights=[0, 2]).fit(X, y)
    np.testing.assert_allclose(vote.predict_proba(Xt),
                               vote.estimators_[1].predict_proba(Xt), rtol=1e-6, atol=1e-12)


def test_blocks_of_rows_do_not_change_the_predictions(digits_split, monkeypatch):
    X, Xt, y, _ = digits_split
    vote = GeometricVotingClassifier(members()).fit(X, y)
    whole = vote.predict_proba(Xt), vote.predict_topk(Xt, 2)
    monkeypatch.setattr(sklsh.ensemble, "BLOCK_ENTRIES", 70)   # 7 rows a block
    # (the members' products on other blocks may round differently)
    np.testing.assert_allclose(vote.predict_proba(Xt), whole[0], rtol=1e-12)
    np.testing.assert_array_equal(vote.predict_topk(Xt, 2)[0], whole[1][0])
    with pytest.raises(ValueError, match="0 sample"):
        vote.predict_proba(Xt[:0])


def test_wide_and_deep_ranks_labels_better_than_either(labels):
    X, Y, Xt, Yt = labels
    vote = GeometricVotingClassifier([
        ("wide", small_clf(hidden_layer_sizes=(), multilabel_loss="logistic",
                           learning_rate_init=0.05, max_iter=5)),
        ("deep", small_clf(hidden_layer_sizes=(128,), active_fraction=0.25, max_iter=5)),
    ]).fit(X, Y)
    p1 = [precision_at_k(Yt, est.predict_topk(Xt, 1)[0], 1)
          for est in [vote, *vote.estimators_]]
    assert p1[0] > max(p1[1:])
    proba = vote.predict_proba(Xt)
    assert proba.shape == Yt.shape and ((proba > 0) & (proba <= 1)).all()


def test_labels_are_predicted_by_a_weighted_vote_of_the_members(labels):
    X, Y, Xt, _ = labels
    vote = GeometricVotingClassifier([
        ("logistic", small_clf(multilabel_loss="logistic", max_iter=3)),
        ("softmax", small_clf(max_iter=3))]).fit(X, Y)
    a, b = (est.predict(Xt) for est in vote.estimators_)
    both = vote.predict(Xt)
    assert sp.isspmatrix_csr(both) and both.dtype == Y.dtype
    np.testing.assert_array_equal(both.toarray(), a.multiply(b).toarray())
    assert (a != b).nnz > 0                       # the vote is not trivially either
    first = clone(vote).set_params(weights=[0.6, 0.4]).fit(X, Y)
    np.testing.assert_array_equal(first.predict(Xt).toarray(),
                                  first.estimators_[0].predict(Xt).toarray())
    dense = clone(vote).fit(X, Y.toarray())
    assert isinstance(dense.predict(Xt), np.ndarray)


def test_partial_fit_passes_each_batch_to_every_member(digits_split):
    X, Xt, y, _ = digits_split
    classes = np.unique(y)
    vote = GeometricVotingClassifier(members())
    with pytest.raises(ValueError, match="classes must be passed"):
        vote.partial_fit(X, y)
    alone = [clone(est) for _, est in members()]
    for batch in np.array_split(np.arange(len(X)), 3):
        vote.partial_fit(X[batch], y[batch], classes=classes)
        for est in alone:
            est.partial_fit(X[batch], y[batch], classes=classes)
    for fitted, est in zip(vote.estimators_, alone):
        np.testing.assert_array_equal(fitted.coefs_[-1], est.coefs_[-1])
    assert vote.predict(Xt).shape == (len(Xt),)


def test_parameters_reach_the_members_in_a_search(digits_split):
    X, _, y, _ = digits_split
    vote = GeometricVotingClassifier(members())
    params = vote.get_params()
    assert params["net__max_iter"] == 5 and params["linear"] is vote.estimators[0][1]
    vote.set_params(net__max_iter=2, weights=[1, 2])
    assert vote.estimators[1][1].max_iter == 2
    pipe = make_pipeline(StandardScaler(), vote)
    search = GridSearchCV(pipe, {"geometricvotingclassifier__net__learning_rate_init":
                                 [0.003, 0.01]}, cv=2).fit(X[:600], y[:600])
    assert len(search.cv_results_["mean_test_score"]) == 2
    assert "GeometricVotingClassifier(estimators=[('linear'" in repr(vote)


def test_pickled_vote_predicts_the_same(digits_split):
    X, Xt, y, _ = digits_split
    vote = GeometricVotingClassifier(members()).fit(X, y)
    again = pickle.loads(pickle.dumps(vote))
    np.testing.assert_array_equal(again.predict_proba(Xt), vote.predict_proba(Xt))


def test_input_is_read_not_written_and_any_sparse_format_is_taken(digits_split):
    X, Xt, y, _ = digits_split
    X0, Xt0 = X.copy(), Xt.copy()
    vote = GeometricVotingClassifier(members()).fit(X, y)
    proba = vote.predict_proba(Xt)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Xt, Xt0)
    np.testing.assert_allclose(vote.predict_proba(sp.csc_matrix(Xt)), proba, rtol=1e-5)


@pytest.mark.parametrize("estimators, message", [
    ([], "non-empty list"),
    ("net", "non-empty list"),
    ([LSHMLPClassifier()], "tuples"),
    ([("a", LSHMLPClassifier()), ("a", LSHMLPClassifier())], "unique"),
    ([("a__b", LSHMLPClassifier())], "__"),
])
def test_bad_estimators_are_refused(digits_split, estimators, message):
    X, _, y, _ = digits_split
    with pytest.raises(ValueError, match=message):
        GeometricVotingClassifier(estimators).fit(X, y)


def test_a_member_without_probabilities_is_refused(digits_split):
    X, _, y, _ = digits_split
    with pytest.raises(TypeError, match="'p' .*Perceptron.* has no predict_proba"):
        GeometricVotingClassifier([("p", Perceptron())]).fit(X, y)


@pytest.mark.parametrize("weights, message", [
    ([1], "one entry per estimator"),
    ([[1, 1]], "one-dimensional"),
    ([1, -1], "non-negative"),
    ([0, 0], "positive sum"),
    ([1, np.nan], "finite"),
])
def test_bad_weights_are_refused(digits_split, weights, message):
    X, _, y, _ = digits_split
    with pytest.raises(ValueError, match=message):
        GeometricVotingClassifier(members(), weights=weights).fit(X, y)


def test_members_must_agree_on_the_classes(digits_split):
    class Shifted(LSHMLPClassifier):
        def fit(self, X, y):
            return super().fit(X, np.asarray(y) + 1)

    X, _, y, _ = digits_split
    with pytest.raises(ValueError, match="'b' was fitted on other classes"):
        GeometricVotingClassifier([("a", small_clf(max_iter=1)),
                                   ("b", Shifted(max_iter=1, random_state=0))]).fit(X, y)


def test_prediction_needs_a_fit_and_a_valid_k(digits_split):
    X, Xt, y, _ = digits_split
    vote = GeometricVotingClassifier(members())
    with pytest.raises(NotFittedError):
        vote.predict(Xt)
    vote.fit(X, y)
    for k in (0, 11, 2.0, True):
        with pytest.raises(ValueError, match="k must be an integer from 1"):
            vote.predict_topk(Xt, k)


def test_the_docstring_example_runs():
    import doctest
    result = doctest.testmod(sklsh.ensemble)
    assert result.attempted > 0 and result.failed == 0
