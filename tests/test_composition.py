"""sklsh inside scikit-learn's meta-estimators: pipelines, searches, cross-validation,
clone and set_params, and the thread caps that nested parallelism relies on."""
import textwrap

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklsh import LSHMLPClassifier, LSHMLPRegressor
from sklsh._threads import effective_n_threads

from helpers import small_clf, small_reg

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def make_documents(n_docs=600, n_classes=4, seed=0):
    """Short documents whose words come mostly from their class's own vocabulary."""
    rng = np.random.RandomState(seed)
    shared = [f"common{i}" for i in range(200)]
    own = [[f"topic{c}word{i}" for i in range(50)] for c in range(n_classes)]
    docs, labels = [], []
    for _ in range(n_docs):
        c = rng.randint(n_classes)
        words = list(rng.choice(own[c], 8)) + list(rng.choice(shared, 12))
        docs.append(" ".join(rng.permutation(words)))
        labels.append(f"class-{c}")
    return docs, np.array(labels)


def test_pipeline_with_standard_scaler(digits):
    """The estimator works as the last step of a Pipeline on dense data."""
    X, y = digits
    pipe = make_pipeline(StandardScaler(),
                         small_clf(active_fraction=0.25, max_iter=10)).fit(X, y)
    assert pipe.score(X, y) > 0.9
    assert pipe.predict_proba(X[:5]).shape == (5, 10)


@pytest.mark.parametrize("hash_family", ["srp", "dwta", "doph"])
def test_pipeline_with_tfidf_on_text(hash_family):
    """TF-IDF gives sparse CSR rows; the estimator learns from them straight away."""
    docs, labels = make_documents()
    pipe = make_pipeline(
        TfidfVectorizer(),
        small_clf(hidden_layer_sizes=(128,), active_fraction=0.1, max_iter=20,
                  hash_family=hash_family))
    pipe.fit(docs[:450], labels[:450])
    assert pipe.score(docs[450:], labels[450:]) > 0.9
    assert set(pipe.predict(docs[450:])) <= set(labels)


def test_grid_search_over_hash_parameters(digits):
    """GridSearchCV clones, fits and scores the estimator over its hashing
    parameters."""
    X, y = digits
    X, y = X[:600], y[:600]
    grid = {"bits_per_table": [4, 6], "n_tables": [4, 8],
            "active_fraction": [0.25, 1.0]}
    search = GridSearchCV(small_clf(hidden_layer_sizes=(32,), max_iter=5, batch_size=50),
                          grid, cv=2)
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 8 and np.isfinite(scores).all()
    assert (scores > 0.3).all()            # chance is 0.1; these are tiny sketches
    hashed = np.asarray(search.cv_results_["param_active_fraction"]) == 0.25
    # the hashing parameters reach the estimator: they change a hashed model, and
    # leave one that computes every unit (no tables) exactly as it was
    assert len(set(scores[hashed])) > 1
    assert len(set(scores[~hashed])) == 1
    assert search.best_params_["bits_per_table"] in (4, 6)
    assert search.best_estimator_.score(X, y) > 0.8


def _threads_used(estimator, X, y):
    """A 'scorer' that reports the threads the fitted estimator trained with."""
    return estimator.n_threads_


def test_grid_search_with_two_jobs_does_not_oversubscribe(digits):
    """With n_jobs=2 on this machine each joblib worker is capped to its share of the
    cores, and the kernels (n_threads=None) take that cap rather than all cores; the
    family, bits, tables and active fraction all go through the search."""
    X, y = digits
    X, y = X[:400], y[:400]
    grid = {"hash_family": ["srp", "wta"], "bits_per_table": [4, 6],
            "n_tables": [8], "active_fraction": [0.25, 0.5]}
    search = GridSearchCV(
        LSHMLPClassifier((32,), max_iter=3, random_state=0),
        grid, cv=2, n_jobs=2, scoring={"accuracy": "accuracy", "threads": _threads_used},
        refit="accuracy")
    search.fit(X, y)
    import joblib
    cap = max(1, joblib.cpu_count() // 2)
    threads = search.cv_results_["mean_test_threads"]
    assert len(threads) == 8
    assert (threads <= cap).all(), threads
    assert np.isfinite(search.cv_results_["mean_test_accuracy"]).all()


def test_kernels_obey_threadpoolctl_and_omp_num_threads(digits, run_isolated):
    """n_threads=None follows the OpenMP limits a caller sets: threadpoolctl's, and
    OMP_NUM_THREADS in the environment."""
    X, y = digits
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads(None) == 1
        clf = LSHMLPClassifier((16,), max_iter=1, random_state=0).fit(X[:200], y[:200])
    assert clf.n_threads_ == 1
    assert effective_n_threads(3) == 3                 # an explicit count wins
    source = textwrap.dedent("""
        import os
        os.environ["OMP_NUM_THREADS"] = "1"
        from sklsh._threads import effective_n_threads
        print(effective_n_threads(None))
    """)
    result = run_isolated(source)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "1"


@pytest.mark.parametrize("Estimator", [LSHMLPClassifier, LSHMLPRegressor])
def test_cross_val_score(Estimator, digits):
    X, y = digits
    if Estimator is LSHMLPRegressor:
        y = y.astype(float)
        estimator = small_reg(active_fraction=0.25, max_iter=20)
    else:
        estimator = small_clf(active_fraction=0.25)
    scores = cross_val_score(estimator, X, y, cv=3)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    assert scores.mean() > (0.8 if Estimator is LSHMLPClassifier else 0.5)


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(digits):
    X, y = digits
    clf = small_clf(active_fraction=0.25, n_tables=6, hash_family="wta").fit(X, y)
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "coefs_")
    copy.fit(X, y)                       # one thread, same seed: the same model
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))


def test_set_params_between_fits(digits):
    """A parameter changed between fits takes effect at the next fit."""
    X, y = digits
    clf = small_clf(active_fraction=0.25, n_tables=4, max_iter=2).fit(X, y)
    assert clf._hash_states[0]["n_tables"] == 4
    work = clf.mult_fraction_
    clf.set_params(n_tables=8, active_fraction=0.5, hash_family="wta")
    clf.fit(X, y)
    assert clf._hash_states[0]["n_tables"] == 8
    assert clf._hash_states[0]["family"] == "wta"
    assert clf.mult_fraction_ > work
    clf.set_params(active_fraction=1.0)
    clf.fit(X, y)
    assert clf.mult_fraction_ == 1.0 and clf._hash_states[0] is None
