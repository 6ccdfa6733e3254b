"""scikit-learn MLP parameters: sample_weight, the 'sgd' learning-rate schedules,
Nesterov's momentum and negative n_threads, each meaning what it means in
MLPClassifier / MLPRegressor.

Equivalences (a weight of 2 is a repeated row, a weight of 0 a dropped one) are
checked on one thread, one batch per epoch and no shuffling, where they are exact up
to rounding; the kernel-level ones also on hashed layers with exploration, whose
random draws come from each row's own stream and so repeat with the row.
"""
import io
import os
import pickle
from contextlib import redirect_stdout

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neural_network._stochastic_optimizers import SGDOptimizer
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    check_sample_weight_equivalence_on_sparse_data)

from sklsh import LSHMLPClassifier, LSHMLPRegressor
from sklsh._hash_state import make_hash_state
from sklsh._kernels._build_info import openmp_enabled
from sklsh._kernels._hogwild import batch_gradients
from sklsh._kernels._network import Network
from sklsh._kernels._optim import adam_settle, adam_step, momentum_settle, momentum_step
from sklsh._training import KernelInput, Trainer, refresh_layer

ESTIMATORS = [LSHMLPClassifier, LSHMLPRegressor]

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(Estimator, n=40, n_features=8, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, n_features))
    X[rng.rand(*X.shape) < 0.3] = 0.0           # zeros, so that CSR is not dense
    if Estimator is LSHMLPClassifier:
        y = np.arange(n) % 3                    # three classes, each present
    else:
        y = X @ rng.normal(size=n_features) + 0.1 * rng.normal(size=n)
    return X, y


def _deterministic(Estimator, **params):
    """One thread, no hashed layer (no random draws), no shuffling; with
    batch_size 'auto' and under 200 rows, one batch per epoch."""
    defaults = dict(hidden_layer_sizes=(16,), active_fraction=1.0, n_threads=1,
                    shuffle=False, random_state=0, max_iter=8, learning_rate_init=0.01)
    return Estimator(**{**defaults, **params})


def _as(X, sparse):
    return sp.csr_matrix(X) if sparse else X


def _assert_same_model(a, b, rtol=1e-5):
    for ca, cb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(ca, cb, rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)


# ------------------------------------------------------------------ sample_weight
@pytest.mark.parametrize("solver", ["adam", "sgd"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_weight_two_equals_a_repeated_row(Estimator, sparse, solver):
    X, y = _data(Estimator)
    sw = np.ones(len(y))
    sw[[0, 5]] = 2.0
    X_rep, y_rep = np.vstack([X, X[[0, 5]]]), np.concatenate([y, y[[0, 5]]])
    weighted = _deterministic(Estimator, solver=solver).fit(_as(X, sparse), y,
                                                            sample_weight=sw)
    repeated = _deterministic(Estimator, solver=solver).fit(_as(X_rep, sparse), y_rep)
    _assert_same_model(weighted, repeated)
    # and the weights change the model (the test can fail)
    plain = _deterministic(Estimator, solver=solver).fit(_as(X, sparse), y)
    assert not np.allclose(plain.coefs_[0], weighted.coefs_[0], rtol=1e-5)


@pytest.mark.parametrize("sparse", [False, True])
def test_weights_train_a_float32_network(sparse):
    """float32 X: the weights stay float64 on the way in, the network float32."""
    X, y = _data(LSHMLPClassifier)
    X = X.astype(np.float32)
    sw = np.ones(len(y), dtype=np.float32)
    sw[[0, 5]] = 2.0
    X_rep, y_rep = np.vstack([X, X[[0, 5]]]), np.concatenate([y, y[[0, 5]]])
    weighted = _deterministic(LSHMLPClassifier).fit(_as(X, sparse), y, sample_weight=sw)
    repeated = _deterministic(LSHMLPClassifier).fit(_as(X_rep, sparse), y_rep)
    assert weighted.coefs_[0].dtype == np.float32
    _assert_same_model(weighted, repeated, rtol=1e-4)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_zero_weight_equals_a_dropped_row(Estimator, sparse):
    X, y = _data(Estimator)
    sw = np.ones(len(y))
    dropped = [1, 7, 20]
    sw[dropped] = 0.0
    keep = np.setdiff1d(np.arange(len(y)), dropped)
    weighted = _deterministic(Estimator).fit(_as(X, sparse), y, sample_weight=sw)
    kept = _deterministic(Estimator).fit(_as(X[keep], sparse), y[keep])
    _assert_same_model(weighted, kept)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_unit_weights_equal_no_weights(Estimator):
    """Several batches, the last a short one: every reported loss as well."""
    X, y = _data(Estimator, n=50)
    a = _deterministic(Estimator, batch_size=16).fit(X, y)
    b = _deterministic(Estimator, batch_size=16).fit(X, y, sample_weight=np.ones(50))
    _assert_same_model(a, b, rtol=1e-12)


def test_weighted_loss_is_scikit_learns():
    """loss_ as scikit-learn reports it: per batch the weighted mean loss plus the
    L2 penalty over the batch's sum of weights, counted once per example; with one
    batch, that of the weights after the step."""
    X, y = _data(LSHMLPRegressor)
    sw = np.random.RandomState(1).uniform(0.5, 3, len(y))
    # the data loss of the epoch's single step is that of the weights before it,
    # the penalty that of those after: a rate too small to move them makes both one
    still = _deterministic(LSHMLPRegressor, max_iter=1, alpha=0.5,
                           learning_rate_init=1e-300).fit(X, y, sample_weight=sw)
    W = still.coefs_
    pred = np.maximum(X @ W[0] + still.intercepts_[0], 0) @ W[1] + still.intercepts_[1]
    data_loss = np.average(0.5 * (pred.ravel() - y) ** 2, weights=sw)
    penalty = 0.5 * 0.5 * sum(float((c ** 2).sum()) for c in W) / sw.sum()
    assert still.loss_ == pytest.approx(data_loss + penalty, rel=1e-10)
    assert penalty > 0.01 * data_loss            # (the penalty term is tested)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_partial_fit_takes_sample_weight(Estimator):
    """scikit-learn's order: partial_fit(X, y, sample_weight=None[, classes=None])."""
    import inspect
    params = list(inspect.signature(Estimator.partial_fit).parameters)
    assert params[:4] == ["self", "X", "y", "sample_weight"]
    X, y = _data(Estimator)
    sw = np.ones(len(y))
    sw[[0, 5]] = 2.0
    X_rep, y_rep = np.vstack([X, X[[0, 5]]]), np.concatenate([y, y[[0, 5]]])
    extra = {"classes": np.arange(3)} if Estimator is LSHMLPClassifier else {}
    a, b = _deterministic(Estimator), _deterministic(Estimator)
    for _ in range(3):
        a.partial_fit(X, y, sample_weight=sw, **extra)
        b.partial_fit(X_rep, y_rep, **extra)
    _assert_same_model(a, b)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_early_stopping_splits_and_scores_with_the_weights(Estimator, monkeypatch):
    from sklearn.metrics import accuracy_score, r2_score
    metric = accuracy_score if Estimator is LSHMLPClassifier else r2_score
    X, y = _data(Estimator, n=120)
    X[:, 0] = np.arange(len(y))                 # a row's index, readable in X_val
    sw = np.random.RandomState(3).uniform(0.1, 2.0, len(y))
    seen = []
    original = Estimator.score

    def spy(self, X_val, y_val, sample_weight=None):
        rows = X_val[:, 0].astype(int)
        seen.append((rows, sample_weight,
                     metric(y[rows], self.predict(X_val), sample_weight=sw[rows])))
        return original(self, X_val, y_val, sample_weight)

    monkeypatch.setattr(Estimator, "score", spy)
    est = _deterministic(Estimator, early_stopping=True, validation_fraction=0.2,
                         max_iter=5).fit(X, y, sample_weight=sw)
    assert len(seen) == est.n_iter_ == len(est.validation_scores_) == 5
    rows = seen[0][0]
    assert len(rows) == 24
    for (r, weights, weighted_score), score in zip(seen, est.validation_scores_):
        np.testing.assert_array_equal(r, rows)
        np.testing.assert_array_equal(weights, sw[rows])
        assert score == pytest.approx(weighted_score, rel=1e-12)
    # the validation rows are the unweighted fit's, as scikit-learn splits
    seen.clear()
    _deterministic(Estimator, early_stopping=True, validation_fraction=0.2,
                   max_iter=5).fit(X, y)
    np.testing.assert_array_equal(seen[0][0], rows)
    assert seen[0][1] is None


def test_early_stopping_with_weightless_validation_set():
    X, y = _data(LSHMLPRegressor, n=60)
    sw = np.zeros(len(y))
    sw[0] = 1.0
    est = _deterministic(LSHMLPRegressor, early_stopping=True)
    # (the one weighted row falls in the training set for most seeds)
    with pytest.raises(ValueError, match="validation set are all zero"):
        for seed in range(20):
            est.set_params(random_state=seed).fit(X, y, sample_weight=sw)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("bad, match", [
    (np.ones(39), "shape"),                      # wrong length
    (np.ones((40, 2)), "1D"),                    # not one weight a sample
    (np.zeros(40), "zero"),                      # nothing to learn from
    (np.r_[np.nan, np.ones(39)], "NaN"),
])
def test_bad_sample_weight_is_refused_before_training(Estimator, bad, match,
                                                     monkeypatch):
    X, y = _data(Estimator)

    def no_batch(*args, **kwargs):
        raise AssertionError("a batch ran")

    monkeypatch.setattr(Trainer, "batch", no_batch)
    with pytest.raises(ValueError, match=match):
        _deterministic(Estimator).fit(X, y, sample_weight=bad)
    extra = {"classes": np.arange(3)} if Estimator is LSHMLPClassifier else {}
    with pytest.raises(ValueError, match=match):
        _deterministic(Estimator).partial_fit(X, y, sample_weight=bad, **extra)


def test_negative_weights_are_accepted_as_scikit_learn_does():
    """_check_sample_weight's default, which MLPRegressor uses: a negative weight
    flips its example's gradient."""
    X, y = _data(LSHMLPRegressor)
    sw = np.ones(len(y))
    sw[3] = -0.5
    reg = _deterministic(LSHMLPRegressor).fit(X, y, sample_weight=sw)
    assert np.isfinite(reg.coefs_[0]).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_sample_weight_equivalence_check_of_scikit_learn(Estimator):
    """scikit-learn's own check, with tests/test_sklearn_checks.py's settings on a
    network without random draws (no hashed layer), shuffling included."""
    est = Estimator(hidden_layer_sizes=(64,), active_fraction=1.0, max_iter=100,
                    learning_rate_init=0.01, random_state=0, n_threads=1)
    check_sample_weight_equivalence_on_dense_data(Estimator.__name__, est)
    check_sample_weight_equivalence_on_sparse_data(Estimator.__name__, est)


def _hashed_network(sparse_rows=False):
    """A hashed hidden layer with exploration (random units per example) and a
    dense softmax output."""
    rng = np.random.RandomState(4)
    sizes = (6, 24, 5)
    W = [rng.normal(0, 0.8, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    b = [rng.normal(0, 0.3, o) for o in sizes[1:]]
    state = make_hash_state(sizes[0], sizes[1], family="srp", bits_per_table=3,
                            n_tables=4, bucket_size=64, policy="fifo", window=8,
                            mips=False, dtype=np.float64, random_state=rng)
    gW = [np.zeros_like(w) for w in W]
    gb = [np.zeros_like(v) for v in b]
    touched = [np.zeros(w.shape[0], dtype=np.int32) for w in W]
    net = Network(W, b, [state, None], [6, 5], "relu", "softmax", "collisions", [12, 5],
                  gW, gb, touched, [2, 0])
    refresh_layer(net, 0, W[0], b[0], state, np.arange(sizes[1], dtype=np.int64), True,
                  3, 1)
    X = rng.normal(size=(5, sizes[0]))
    X[rng.rand(*X.shape) < 0.3] = 0
    labels = np.array([0, 3, 1, 4, 2], dtype=np.int32)
    return net, gW, gb, touched, X, np.arange(6, dtype=np.int64), labels


def _kernel_batch(sparse, rows, weights=None):
    net, gW, gb, touched, X, label_ptr, label_idx = _hashed_network()
    args = KernelInput(sp.csr_matrix(X) if sparse else X, np.float64).args()
    loss = batch_gradients(net, *args, np.asarray(rows, dtype=np.int64), label_ptr,
                           label_idx, np.zeros((0, 0)), 77, 1, 1,
                           None if weights is None else np.asarray(weights, float))[0]
    return loss, gW, gb, touched


@pytest.mark.parametrize("sparse", [False, True])
def test_kernel_weights_equal_repeated_and_dropped_rows(sparse):
    """On hashed layers too: a row's random draws come from its own stream, so a
    repeated row draws what the weighted one draws."""
    loss_w, gW_w, gb_w, t_w = _kernel_batch(sparse, [0, 1, 2, 4], [1.0, 3.0, 0.0, 2.0])
    loss_r, gW_r, gb_r, t_r = _kernel_batch(sparse, [0, 1, 1, 4, 1, 4])
    assert loss_w == pytest.approx(loss_r, rel=1e-12)
    for a, b in zip(gW_w + gb_w, gW_r + gb_r):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for a, b in zip(t_w, t_r):                   # a zero weight stamps no row
        np.testing.assert_array_equal(a, b)
    loss_u, gW_u, _, _ = _kernel_batch(sparse, [0, 1, 2, 4], [])   # empty: all 1
    loss_n, gW_n, _, _ = _kernel_batch(sparse, [0, 1, 2, 4])
    assert loss_u == loss_n and loss_u != pytest.approx(loss_w)
    np.testing.assert_array_equal(gW_u[0], gW_n[0])


def test_kernel_refuses_weights_of_another_length():
    with pytest.raises(ValueError, match="one weight per row"):
        _kernel_batch(False, [0, 1, 2], [1.0, 2.0])


# ------------------------------------------------------ learning-rate schedules
def test_invscaling_sets_the_rate_at_each_epoch_end():
    X, y = _data(LSHMLPClassifier)
    est = _deterministic(LSHMLPClassifier, solver="sgd", learning_rate="invscaling",
                         power_t=0.7, learning_rate_init=0.05)
    rates = []
    for _ in range(3):
        est.partial_fit(X, y, classes=np.arange(3))
        rates.append(est._learning_rate)
    expected = [0.05 / (40 * k + 1) ** 0.7 for k in (1, 2, 3)]
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
    # the trainer steps with that rate: a constant-rate model handed the same rate
    # after its first call takes the same second step
    a = _deterministic(LSHMLPClassifier, solver="sgd", learning_rate="invscaling",
                       learning_rate_init=0.05)
    b = _deterministic(LSHMLPClassifier, solver="sgd", learning_rate_init=0.05)
    a.partial_fit(X, y, classes=np.arange(3))
    b.partial_fit(X, y, classes=np.arange(3))
    _assert_same_model(a, b, rtol=1e-12)
    b._learning_rate = a._learning_rate
    a.partial_fit(X, y)
    b.partial_fit(X, y)
    _assert_same_model(a, b, rtol=1e-12)
    assert b._learning_rate == pytest.approx(0.05 / (40 + 1) ** 0.5)   # kept as set
    # it survives pickling; fit starts it anew, as scikit-learn's new optimizer
    assert pickle.loads(pickle.dumps(a))._learning_rate == a._learning_rate
    a.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert a.t_ == 4 * 40
    assert a._learning_rate == pytest.approx(0.05 / (a.t_ + 1) ** 0.5)
    # Adam keeps learning_rate_init
    adam = _deterministic(LSHMLPClassifier, learning_rate="invscaling").fit(X, y)
    assert adam._learning_rate == 0.01


def _stall(Estimator, **params):
    """A model whose training loss never improves by tol: every epoch counts."""
    X, y = _data(Estimator)
    est = _deterministic(Estimator, tol=1e3, n_iter_no_change=2, verbose=True,
                         **params)
    out = io.StringIO()
    with redirect_stdout(out):
        est.fit(X, y)
    return est, out.getvalue()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_adaptive_divides_the_rate_by_five(Estimator):
    # epoch 1 sets best_loss_, the counter then passes n_iter_no_change=2 at epochs
    # 4, 7, 10, ...: the rate is divided there, until at most 1e-6, then it stops
    est, out = _stall(Estimator, solver="sgd", learning_rate="adaptive",
                      learning_rate_init=0.01, max_iter=100)
    assert out.count("Setting learning rate to") == 6
    assert "Setting learning rate to 0.002000" in out
    assert out.count("Learning rate too small. Stopping.") == 1
    assert "Training loss did not improve more than tol=1000.000000 for 2 " \
           "consecutive epochs. Learning rate too small. Stopping." in out
    assert est._learning_rate == pytest.approx(0.01 / 5 ** 6)
    assert est.n_iter_ == 22
    # with fewer epochs it runs to max_iter at the rate reached
    est, out = _stall(Estimator, solver="sgd", learning_rate="adaptive",
                      learning_rate_init=0.01, max_iter=8)
    assert est.n_iter_ == 8 and est._learning_rate == pytest.approx(0.01 / 25)
    # 'constant' and Adam stop at the first stall
    for params in (dict(solver="sgd"), dict(solver="adam", learning_rate="adaptive")):
        est, out = _stall(Estimator, max_iter=100, **params)
        assert est.n_iter_ == 4
        assert out.count("consecutive epochs. Stopping.") == 1


def test_adaptive_with_early_stopping_counts_the_validation_score():
    X, y = _data(LSHMLPClassifier, n=100)
    est = _deterministic(LSHMLPClassifier, solver="sgd", learning_rate="adaptive",
                         early_stopping=True, tol=10.0, n_iter_no_change=1,
                         max_iter=6, verbose=True)
    out = io.StringIO()
    with redirect_stdout(out):
        est.fit(X, y)
    assert "Validation score did not improve more than tol=10.000000 for 1 " \
           "consecutive epochs. Setting learning rate to 0.002000" in out.getvalue()
    assert est.n_iter_ == 6


# ------------------------------------------------------------- Nesterov momentum
@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_momentum_step_is_scikit_learns_update(nesterov, dtype):
    rng = np.random.RandomState(0)
    W, gW, vW = (rng.normal(size=(5, 4)).astype(dtype) for _ in range(3))
    b, gb, vb = (rng.normal(size=5).astype(dtype) for _ in range(3))
    touched = np.array([3, 1, 3, 3, 0], dtype=np.int32)
    scale, l2, lr, momentum = 0.25, 0.01, 0.1, 0.9
    rows = touched == 3
    grads = [gW * scale + l2 * W, gb * scale]
    params = [W.astype(np.float64), b.astype(np.float64)]
    opt = SGDOptimizer(params, lr, "constant", momentum, nesterov)
    opt.velocities = [vW.astype(np.float64), vb.astype(np.float64)]
    opt.update_params(params, [g.astype(np.float64) for g in grads])
    W0, b0, vW0, vb0 = W.copy(), b.copy(), vW.copy(), vb.copy()
    momentum_step(W, b, gW, gb, vW, vb, touched, 3, scale, l2, lr, momentum, 1,
                  nesterov)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(W[rows], params[0][rows], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(b[rows], params[1][rows], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(vW[rows], opt.velocities[0][rows], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(vb[rows], opt.velocities[1][rows], rtol=rtol, atol=rtol)
    assert (gW[rows] == 0).all() and (gb[rows] == 0).all()
    # untouched rows keep everything
    for new, old in ((W, W0), (b, b0), (vW, vW0), (vb, vb0)):
        np.testing.assert_array_equal(new[~rows], old[~rows])


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_a_step_by_feature_moves_its_features_and_every_bias(solver):
    """By feature, the stamped rows (features) take the step a unit-major layer's
    rows take, the others keep weights and moments, and every bias steps once."""
    rng = np.random.RandomState(1)
    n_in, n_out = 6, 4
    W, gW, mW, vW = (rng.normal(size=(n_in, n_out)) for _ in range(4))
    b, gb, mb, vb = (rng.normal(size=n_out) for _ in range(4))
    vW, vb = np.abs(vW), np.abs(vb)
    touched = np.array([5, 2, 5, 5, 0, 2], dtype=np.int32)
    rows = touched == 5
    ref = [a.copy() for a in (W, gW, mW, vW, b, gb, mb, vb)]
    W0, b0 = W.copy(), b.copy()
    rW, rgW, rmW, rvW, rb, rgb, rmb, rvb = ref
    args = (0.5, 0.01, 0.1)                         # scale, l2, rate
    if solver == "adam":
        adam_step(W, b, gW, gb, mW, mb, vW, vb, touched, 5, *args, 0.9, 0.999, 1e-8,
                  1, True)
        # the rows as a unit-major layer's (their own scratch biases), then the
        # biases as one unit-major row of n_out weights with no penalty
        adam_step(rW, np.zeros(n_in), rgW, np.zeros(n_in), rmW, np.zeros(n_in), rvW,
                  np.zeros(n_in), touched, 5, *args, 0.9, 0.999, 1e-8, 1)
        adam_step(rb[None], np.zeros(1), rgb[None], np.zeros(1), rmb[None],
                  np.zeros(1), rvb[None], np.zeros(1), np.array([5], np.int32), 5,
                  0.5, 0.0, 0.1, 0.9, 0.999, 1e-8, 1)
    else:
        momentum_step(W, b, gW, gb, mW, mb, touched, 5, *args, 0.9, 1, True, True)
        momentum_step(rW, np.zeros(n_in), rgW, np.zeros(n_in), rmW, np.zeros(n_in),
                      touched, 5, *args, 0.9, 1, True)
        momentum_step(rb[None], np.zeros(1), rgb[None], np.zeros(1), rmb[None],
                      np.zeros(1), np.array([5], np.int32), 5, 0.5, 0.0, 0.1, 0.9, 1,
                      True)
    for got, want in zip((W, gW, mW, vW, b, gb, mb, vb), ref):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert (W[rows] != W0[rows]).all() and (b != b0).all()
    np.testing.assert_array_equal(W[~rows], W0[~rows])
    np.testing.assert_array_equal(gW[rows], 0)
    assert (gW[~rows] != 0).all() and (gb == 0).all()


def _full_steps(solver, W, s, v, steps, l2, nesterov=True):
    """Full steps of a unit-major row (W, s, v of shape (1, n)) with no data
    gradient, the penalty `l2` alone: Adam at lr 0.01 with each step's bias
    correction, or SGD at lr 0.01 with momentum 0.9 (# INOUT W, s, v)."""
    one = np.ones(1, np.int32)
    for t in steps:
        g, zero = np.zeros_like(W), np.zeros(1)
        if solver == "adam":
            lr_t = 0.01 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t)
            adam_step(W, zero, g, zero.copy(), s, zero.copy(), v, zero.copy(), one, 1,
                      1.0, l2, lr_t, 0.9, 0.999, 1e-8, 1)
        else:
            momentum_step(W, zero, g, zero.copy(), s, zero.copy(), one, 1, 1.0, l2,
                          0.01, 0.9, 1, nesterov)


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_rows_stepped_by_feature_take_the_steps_they_sat_out(solver, nesterov):
    """A row last stepped at step 3 and stepped again at step 9 first takes steps 4-8
    as full steps with no data gradient take them (the L2 penalty alone), then its
    own; settling brings every row to the last step the same way: the layer trains
    as if every row were stepped every batch."""
    rng = np.random.RandomState(2)
    W, gW, sW, vW = (rng.normal(size=(4, 5)) for _ in range(4))
    vW = np.abs(vW) + 0.5
    b, gb, sb, vb = (rng.normal(size=5) for _ in range(4))
    vb = np.abs(vb)
    stepped = np.array([3, 8, 2, 8], dtype=np.int64)
    touched = np.array([9, 9, 0, 0], dtype=np.int32)
    ref = [a.copy() for a in (W, gW, sW, vW)]
    l2 = 0.05
    lr_9 = 0.01 * np.sqrt(1 - 0.999**9) / (1 - 0.9**9)
    if solver == "adam":
        adam_step(W, b, gW, gb, sW, sb, vW, vb, touched, 9, 1.0, l2, lr_9, 0.9, 0.999,
                  1e-8, 1, True, stepped, 9)
    else:
        momentum_step(W, b, gW, gb, sW, sb, touched, 9, 1.0, l2, 0.01, 0.9, 1,
                      nesterov, True, stepped, 9)
    np.testing.assert_array_equal(stepped, [9, 9, 2, 8])
    rW, rgW, rsW, rvW = ref
    row = lambda a, j: a[j:j + 1]       # noqa: E731 (one row, a view)
    _full_steps(solver, row(rW, 0), row(rsW, 0), row(rvW, 0), range(4, 9), l2, nesterov)
    for j in (0, 1):             # then step 9 with the row's gradient
        one = np.ones(1, np.int32)
        if solver == "adam":
            adam_step(row(rW, j), np.zeros(1), row(rgW, j), np.zeros(1), row(rsW, j),
                      np.zeros(1), row(rvW, j), np.zeros(1), one, 1, 1.0, l2, lr_9,
                      0.9, 0.999, 1e-8, 1)
        else:
            momentum_step(row(rW, j), np.zeros(1), row(rgW, j), np.zeros(1),
                          row(rsW, j), np.zeros(1), one, 1, 1.0, l2, 0.01, 0.9, 1,
                          nesterov)
    for got, want in zip((W, sW), (rW, rsW)):
        np.testing.assert_allclose(got[:2], want[:2], rtol=1e-12)
        np.testing.assert_array_equal(got[2:], want[2:])    # not stamped: untouched
    # settling: rows 2 and 3 take steps 3-9 and 9 the same way
    if solver == "adam":
        adam_settle(W, sW, vW, stepped, 9, 0.01, l2, 0.9, 0.999, 1e-8, 1)
    else:
        momentum_settle(W, sW, stepped, 9, 0.01, l2, 0.9, nesterov, 1)
    _full_steps(solver, row(rW, 2), row(rsW, 2), row(rvW, 2), range(3, 10), l2, nesterov)
    _full_steps(solver, row(rW, 3), row(rsW, 3), row(rvW, 3), [9], l2, nesterov)
    np.testing.assert_allclose(W, rW, rtol=1e-12)
    np.testing.assert_allclose(sW, rsW, rtol=1e-12)
    if solver == "adam":
        np.testing.assert_allclose(vW, rvW, rtol=1e-12)
    np.testing.assert_array_equal(stepped, 9)


def test_settling_some_rows_leaves_the_others():
    rng = np.random.RandomState(3)
    W, mW, vW = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), np.ones((3, 4))
    before = W.copy()
    stepped = np.array([1, 1, 1], dtype=np.int64)
    adam_settle(W, mW, vW, stepped, 4, 0.1, 0.0, 0.9, 0.999, 1e-8, 1, np.array([2, 0]))
    np.testing.assert_array_equal(stepped, [4, 1, 4])
    np.testing.assert_array_equal(W[1], before[1])
    assert (W[[0, 2]] != before[[0, 2]]).all()
    with pytest.raises(ValueError, match="out of range"):
        adam_settle(W, mW, vW, stepped, 5, 0.1, 0.0, 0.9, 0.999, 1e-8, 1, np.array([3]))
    with pytest.raises(ValueError, match="one entry per row"):
        adam_settle(W, mW, vW, stepped[:2], 5, 0.1, 0.0, 0.9, 0.999, 1e-8, 1)


@pytest.mark.parametrize("sparse", [False, True])
def test_first_sgd_step_follows_nesterov(sparse):
    """One step (one batch of every row) from zero velocity, against scikit-learn's
    formula applied to the model's own gradient g: Nesterov's moves by
    ``-lr * (1 + momentum) * g``, heavy ball by ``-lr * g``. g and the initial
    weights come from two momentum-free steps of rates lr and 2 lr."""
    X, y = _data(LSHMLPClassifier)
    X = _as(X, sparse)
    lr, momentum = 0.01, 0.9

    def one_step(**params):
        est = _deterministic(LSHMLPClassifier, solver="sgd", **params)
        return est.partial_fit(X, y, classes=np.arange(3))

    W1 = one_step(learning_rate_init=lr, momentum=0.0)
    W2 = one_step(learning_rate_init=2 * lr, momentum=0.0)
    nesterov = one_step(learning_rate_init=lr, momentum=momentum)
    heavy = one_step(learning_rate_init=lr, momentum=momentum, nesterovs_momentum=False)
    for l in range(2):
        for attr in ("coefs_", "intercepts_"):
            a1, a2 = getattr(W1, attr)[l], getattr(W2, attr)[l]
            g = (a1 - a2) / lr
            start = 2 * a1 - a2
            np.testing.assert_allclose(getattr(nesterov, attr)[l],
                                       start - lr * (1 + momentum) * g,
                                       rtol=1e-7, atol=1e-10)
            np.testing.assert_allclose(getattr(heavy, attr)[l], a1, rtol=1e-7,
                                       atol=1e-10)
    # and over several steps the two differ
    a = _deterministic(LSHMLPClassifier, solver="sgd").fit(X, y)
    b = _deterministic(LSHMLPClassifier, solver="sgd", nesterovs_momentum=False).fit(X, y)
    assert not np.allclose(a.coefs_[0], b.coefs_[0], rtol=1e-4)


# --------------------------------------------------------------------- n_threads
def _usable_cores():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count()
    return max(1, min(cores, joblib.cpu_count(only_physical_cores=False)))


@pytest.mark.parametrize("n_threads, expected", [
    (-1, lambda c: c), (-2, lambda c: max(1, c - 1)), (-1000, lambda c: 1)])
def test_negative_n_threads_counts_the_usable_cores(n_threads, expected):
    X, y = _data(LSHMLPClassifier)
    est = LSHMLPClassifier((8,), max_iter=1, n_threads=n_threads, random_state=0)
    est.fit(X, y)
    want = expected(_usable_cores()) if openmp_enabled() else 1
    assert est.n_threads_ == want
    est.predict(X)                                # inference reads it too


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_zero_n_threads_is_refused(Estimator):
    X, y = _data(Estimator)
    with pytest.raises(InvalidParameterError, match="n_threads"):
        Estimator(n_threads=0).fit(X, y)


def test_new_parameters_are_validated():
    X, y = _data(LSHMLPRegressor)
    for params in (dict(learning_rate="optimal"), dict(power_t=-1.0),
                   dict(nesterovs_momentum="yes")):
        with pytest.raises(InvalidParameterError):
            LSHMLPRegressor(**params).fit(X, y)


def test_auto_output_budget_stops_growing_with_the_classes():
    """'auto' computes 2% of a hashed output layer, at most 2048 units: past 102,400
    classes an example's work no longer grows with them; a fraction given is kept."""
    clf = LSHMLPClassifier(hidden_layer_sizes=(8,))
    budgets = {n: clf._plan([10, 8, n])[-1].budget for n in (5000, 100_000, 10**6)}
    assert budgets == {5000: 100, 100_000: 2000, 10**6: 2048}
    assert clf._plan([10, 8, 10**6])[-1].candidates == 3 * 2048
    assert clf._plan([10, 8, 10**6])[0].budget == 8               # hidden: dense
    clf.set_params(active_fraction=[1.0, 0.02])
    assert clf._plan([10, 8, 10**6])[-1].budget == 20_000
