"""The training protocol as MLPClassifier has it: partial_fit's classes, warm_start,
early stopping, convergence warnings, verbose progress and interruption."""
import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import sklsh._epochs
import sklsh._training
from sklsh import LSHMLPClassifier, LSHMLPRegressor

from helpers import small_clf, small_reg


def test_partial_fit_needs_classes_on_the_first_call(digits):
    X, y = digits
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        small_clf().partial_fit(X, y)


def test_partial_fit_refuses_labels_outside_the_classes(digits):
    X, y = digits
    clf = small_clf().partial_fit(X, y, classes=np.arange(10))
    with pytest.raises(ValueError, match="classes not in `self.classes_`"):
        clf.partial_fit(X[:10], np.full(10, 11))


@pytest.mark.parametrize("make", [small_clf, small_reg])
def test_partial_fit_refuses_a_changed_feature_count(make, digits):
    X, y = digits
    kwargs = {"classes": np.arange(10)} if make is small_clf else {}
    model = make().partial_fit(X, y, **kwargs)
    with pytest.raises(ValueError, match="X has 63 features, but .* is expecting 64"):
        model.partial_fit(X[:, :63], y)
    with pytest.raises(ValueError, match="X has 63 features, but .* is expecting 64"):
        model.predict(X[:, :63])


def test_warm_start_continues_training(digits):
    """warm_start=True: a second fit continues from the first one's weights and
    optimizer state; without it, fit starts over."""
    X, y = digits
    clf = small_clf(active_fraction=0.25, max_iter=3, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        first = [c.copy() for c in clf.coefs_]
        clf.fit(X, y)
    assert clf.n_iter_ == 6 and len(clf.loss_curve_) == 6
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold = small_clf(active_fraction=0.25, max_iter=3).fit(X, y)
        cold.fit(X, y)
    assert cold.n_iter_ == 3
    np.testing.assert_array_equal(cold.coefs_[0], first[0])  # started over, same seed


def test_warm_start_refuses_other_classes(digits):
    X, y = digits
    clf = small_clf(max_iter=1, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has "
                                         "the same classes"):
        clf.fit(X[y < 5], y[y < 5])


def test_early_stopping_restores_the_best_model(digits, monkeypatch):
    """With early_stopping the model that comes back is the one of the best
    validation score: it scores exactly that on the held-out split (tables
    included, not only the weights)."""
    X, y = digits
    split = {}
    real_split = sklsh._epochs.train_test_split

    def spy(*args, **kwargs):
        out = real_split(*args, **kwargs)
        split["validation"] = out[1]
        return out

    monkeypatch.setattr(sklsh._epochs, "train_test_split", spy)
    clf = small_clf(active_fraction=0.25, early_stopping=True, validation_fraction=0.2,
                    n_iter_no_change=3, max_iter=40, learning_rate_init=0.05)
    clf.fit(X, y)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_
    assert clf.best_validation_score_ == max(scores)
    assert np.argmax(scores) < len(scores) - 1        # it trained past the best epoch
    rows = split["validation"]
    assert clf.score(X[rows], y[rows]) == clf.best_validation_score_


def test_convergence_warning_when_max_iter_is_reached(digits):
    X, y = digits
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(2\\) reached"):
        small_clf(max_iter=2, tol=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        small_clf(max_iter=50, tol=10.0).fit(X, y)       # stops early: no warning


def test_verbose_prints_one_progress_line_per_epoch(digits, capsys):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = small_clf(active_fraction=0.25, max_iter=3, verbose=True).fit(X, y)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("Iteration")]
    assert len(lines) == clf.n_iter_ == 3
    pattern = (r"Iteration (\d+), loss = ([\d.]+), ([\d.]+) s, active fraction "
               r"([\d.]+), multiply-adds ([\d.]+)% of dense")
    for i, line in enumerate(lines):
        m = re.fullmatch(pattern, line)
        assert m, line
        assert int(m.group(1)) == i + 1
        assert float(m.group(2)) == pytest.approx(clf.loss_curve_[i], abs=1e-7)
        assert float(m.group(4)) == pytest.approx(0.25, abs=0.01)
        assert 0 < float(m.group(5)) < 100
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small_clf(max_iter=1).fit(X, y)
    assert "Iteration" not in capsys.readouterr().out     # quiet by default


def test_verbose_with_early_stopping_prints_the_validation_score(digits, capsys):
    """With early_stopping, each epoch's progress line is followed by its validation
    score, as scikit-learn's MLP prints it ("Validation score: %f")."""
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = small_clf(active_fraction=0.25, max_iter=3, verbose=True,
                        early_stopping=True, n_iter_no_change=10).fit(X, y)
    lines = [l for l in capsys.readouterr().out.splitlines()
             if l.startswith(("Iteration", "Validation score"))]
    assert len(lines) == 2 * clf.n_iter_ == 6
    assert all(l.startswith("Iteration") for l in lines[::2])
    assert lines[1::2] == ["Validation score: %f" % s for s in clf.validation_scores_]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        small_clf(max_iter=2, verbose=True).fit(X, y)
    assert "Validation score" not in capsys.readouterr().out   # not without it


def test_interrupted_fit_leaves_a_usable_model(digits, monkeypatch):
    """Ctrl-C during fit stops training with a warning; the model is consistent
    (finite, predicts, keeps training) and holds the epochs it finished."""
    X, y = digits
    real_step = sklsh._training._optimizers.step
    calls = {"n": 0}

    def step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 40:            # in the middle of an epoch, after a gradient
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(sklsh._training._optimizers, "step", step)
    clf = small_clf(active_fraction=0.25, max_iter=20, batch_size=50)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    monkeypatch.setattr(sklsh._training._optimizers, "step", real_step)
    batches_per_epoch = -(-len(X) // 50)
    assert clf.n_iter_ == 39 // batches_per_epoch
    assert all(np.isfinite(c).all() for c in clf.coefs_ + clf.intercepts_)
    assert clf.predict(X).shape == y.shape
    clf.partial_fit(X, y)
    assert clf.score(X, y) > 0.5


def test_classifier_is_a_drop_in_for_mlp_attributes(digits):
    """The fitted attributes MLPClassifier users read are there, in its orientation."""
    X, y = digits
    clf = small_clf(hidden_layer_sizes=(32, 16), active_fraction=0.5, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(64, 32), (32, 16), (16, 10)]
    assert [i.shape for i in clf.intercepts_] == [(32,), (16,), (10,)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 10
    assert clf.out_activation_ == "softmax"
    assert clf.n_features_in_ == 64 and clf.t_ == 2 * len(X)
    assert isinstance(LSHMLPClassifier().get_params(), dict)


@pytest.mark.parametrize("estimator", [LSHMLPClassifier, LSHMLPRegressor])
def test_docstring_documents_every_parameter_in_order(estimator):
    """The numpydoc Parameters section names each constructor parameter once, in the
    signature's order (a parameter added without its documentation fails here)."""
    import inspect
    section = estimator.__doc__.split("Parameters\n    ----------")[1].split(
        "Attributes\n")[0]
    documented = []
    for line in section.splitlines():
        match = re.match(r"^    (\w+(?:, \w+)*) : ", line)
        if match:
            documented += match.group(1).split(", ")
    assert documented == list(inspect.signature(estimator).parameters)


@pytest.mark.parametrize("estimator", [LSHMLPClassifier, LSHMLPRegressor])
def test_constructor_takes_two_positional_arguments_and_known_keywords(estimator):
    """As scikit-learn's MLP: hidden_layer_sizes and activation may be positional,
    every other parameter is keyword-only, and an unknown one is a TypeError naming
    the estimator."""
    est = estimator((7,), "tanh", alpha=0.5)
    assert (est.hidden_layer_sizes, est.activation, est.alpha) == ((7,), "tanh", 0.5)
    with pytest.raises(TypeError, match="too many positional arguments"):
        estimator((7,), "tanh", "adam")
    with pytest.raises(TypeError, match=f"{estimator.__name__}.*unexpected keyword "
                                        "argument 'n_hidden'"):
        estimator(n_hidden=3)
