"""Saving and loading fitted models: pickle, joblib (memory-mapped too), and models
from another version of the fitted-state layout."""
import pickle

import joblib
import numpy as np
import pytest

import sklsh._base
from sklsh import LSHMLPClassifier, LSHMLPRegressor

from helpers import small_clf, small_reg

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def fitted(Estimator, X, y):
    if Estimator is LSHMLPRegressor:
        return small_reg(active_fraction=0.1).fit(X, y.astype(float))
    return small_clf(active_fraction=0.1).fit(X, y)


def outputs(model, X):
    """What the model predicts, through both inferences."""
    out = []
    for mode in ("hashed", "exact"):
        model.set_params(inference=mode)
        out.append(model.predict_proba(X) if hasattr(model, "predict_proba")
                   else model.predict(X))
    model.set_params(inference="hashed")
    return out


@pytest.mark.parametrize("Estimator", [LSHMLPClassifier, LSHMLPRegressor])
def test_pickle_round_trip(Estimator, digits):
    """A pickled and reloaded model predicts exactly the same, through either
    inference, and can keep training."""
    X, y = digits
    model = fitted(Estimator, X, y)
    loaded = pickle.loads(pickle.dumps(model))
    for a, b in zip(outputs(loaded, X), outputs(model, X)):
        np.testing.assert_array_equal(a, b)
    loaded.partial_fit(X, y if Estimator is LSHMLPClassifier else y.astype(float))
    assert all(np.isfinite(c).all() for c in loaded.coefs_)


@pytest.mark.parametrize("mmap_mode", [None, "r"])
@pytest.mark.parametrize("Estimator", [LSHMLPClassifier, LSHMLPRegressor])
def test_joblib_round_trip_and_training_after_loading(Estimator, mmap_mode, digits,
                                                       tmp_path):
    """joblib's round trip predicts the same; with mmap_mode='r' every array comes
    back as a read-only memory map, which prediction reads in place and partial_fit
    leaves alone (it trains on private copies)."""
    X, y = digits
    target = y if Estimator is LSHMLPClassifier else y.astype(float)
    model = fitted(Estimator, X, y)
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    loaded = joblib.load(path, mmap_mode=mmap_mode)
    if mmap_mode:
        assert isinstance(loaded.coefs_[0], np.memmap)
        assert not loaded.coefs_[0].flags.writeable
    for a, b in zip(outputs(loaded, X), outputs(model, X)):
        np.testing.assert_array_equal(a, b)
    before = [np.array(c) for c in loaded.coefs_]
    loaded.partial_fit(X, target)
    assert loaded.n_iter_ == model.n_iter_ + 1
    assert all(np.isfinite(c).all() for c in loaded.coefs_)
    assert any(not np.array_equal(a, b) for a, b in zip(before, loaded.coefs_))
    # the file on disk is untouched: loading it again gives the original model
    again = joblib.load(path, mmap_mode=mmap_mode)
    for a, b in zip(outputs(again, X), outputs(model, X)):
        np.testing.assert_array_equal(a, b)


def test_a_model_of_another_state_format_is_refused(digits, monkeypatch):
    """A model saved with another layout of the fitted arrays fails to load with a
    message that says what to do, never reaching the kernels."""
    X, y = digits
    blob = pickle.dumps(small_clf(active_fraction=0.1, max_iter=1).fit(X, y))
    monkeypatch.setattr(sklsh._base, "STATE_FORMAT", sklsh._base.STATE_FORMAT + 1)
    with pytest.raises(ValueError, match="saved with fitted-state format .* refit"):
        pickle.loads(blob)


def test_an_unfitted_model_pickles_across_formats(monkeypatch):
    """Only fitted state has a layout: an unfitted estimator always loads."""
    blob = pickle.dumps(LSHMLPClassifier(n_tables=5))
    monkeypatch.setattr(sklsh._base, "STATE_FORMAT", sklsh._base.STATE_FORMAT + 1)
    assert pickle.loads(blob).n_tables == 5


def test_only_the_selections_that_read_buckets_keep_them(digits):
    """'sketch' ranks sketches and reads no bucket: its fitted state holds none (a
    smaller pickle), while 'collisions' and 'union' keep theirs. Predicting with a selection
    that reads buckets from a model that kept none is refused with what to do, and a
    warm refit with that selection builds them."""
    X, y = digits
    sketch = small_clf(active_fraction=0.1, selection="sketch", bucket_size=64).fit(X, y)
    counted = small_clf(active_fraction=0.1, selection="collisions", bucket_size=64).fit(X, y)
    hashed = [h for h in sketch._hash_states if h is not None]
    assert hashed and all(not h["buckets"] and "ids" not in h and "home" not in h
                          for h in hashed)
    assert all(h["buckets"] and h["ids"].shape[2] == 64
               for h in counted._hash_states if h is not None)
    assert len(pickle.dumps(sketch)) < len(pickle.dumps(counted))
    sketch.set_params(selection="collisions")
    with pytest.raises(ValueError, match="selection='collisions' and 'union' read the hash "
                                         "tables' buckets.*fit it again"):
        sketch.predict(X)
    sketch.set_params(warm_start=True, max_iter=1).fit(X, y)
    assert all(h["buckets"] for h in sketch._hash_states if h is not None)
    assert sketch.score(X, y) > 0.5


def _round_trip_outputs(model, X):
    return outputs(model, X) + list(model.predict_topk(X, k=3))


@pytest.mark.parametrize("family,selection", [
    ("srp", "sketch"), ("srp", "collisions"), ("srp", "union"), ("wta", "collisions"),
    ("dwta", "sketch"), ("doph", "union")])
def test_a_round_trip_rebuilds_the_tables_exactly(family, selection, digits):
    """What a pickle leaves out (empty bucket slots, prefixes, the prefix table) is
    rebuilt on load so that the model predicts bit for bit the same, through either
    inference and in its top k, and trains on exactly as the original does."""
    X, y = digits
    model = small_clf(active_fraction=0.1, hash_family=family, selection=selection,
                      max_iter=3).fit(X, y)
    loaded = pickle.loads(pickle.dumps(model))
    for a, b in zip(_round_trip_outputs(loaded, X), _round_trip_outputs(model, X)):
        np.testing.assert_array_equal(a, b)
    for h, g in zip(loaded._hash_states, model._hash_states):
        if h is not None:
            assert sorted(h) == sorted(g)
            for key in g:
                if key == "ids":        # what a bucket holds; its empty slots differ
                    used = np.arange(g["bucket_size"]) < g["fill"][..., None]
                    np.testing.assert_array_equal(h[key][used], g[key][used])
                else:
                    np.testing.assert_array_equal(h[key], g[key])
                    assert np.asarray(h[key]).dtype == np.asarray(g[key]).dtype
    for m in (model, loaded):
        m.partial_fit(X, y)
    for a, b in zip(loaded.coefs_ + loaded.intercepts_, model.coefs_ + model.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_a_pickle_grows_with_the_weights_not_with_the_tables(digits):
    """The buckets a selection reads hold at most one id per unit and table, however
    large their capacity: the pickle of a model with 16 times the bucket size is
    about as large, and within twice the weights and the optimizer's moments."""
    X, y = digits
    blobs = [pickle.dumps(small_clf(active_fraction=0.1, selection="collisions",
                                    bucket_size=size, max_iter=2).fit(X, y))
             for size in (16, 256)]
    model = pickle.loads(blobs[1])
    assert model._hash_states[0]["ids"].shape[2] == 256
    moments = [a for v in model._optimizer_state.values() if isinstance(v, list)
               for a in v]
    trained = sum(a.nbytes for a in model.coefs_ + model.intercepts_ + moments)
    assert abs(len(blobs[1]) - len(blobs[0])) < 0.05 * len(blobs[0])
    assert len(blobs[1]) < 2 * trained
