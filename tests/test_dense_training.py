"""The BLAS path (``sklsh._training.DenseTrainer``) against the NumPy reference of
test_gradients and against the kernels' path, and its choice by the estimators."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_regression

from sklsh import LSHMLPClassifier, LSHMLPRegressor
from sklsh import _training
from sklsh._optimizers import init_state
from sklsh._training import DenseTrainer, KernelInput, Settings, Targets, Trainer

from test_gradients import ACTIVATIONS, LOSSES, ROWS, make_problem, reference


def make_trainer(cls, p, activation, n_threads=1, by_feature=False):
    weights = [W.copy() for W in p["weights"]]
    if by_feature:
        weights[0] = np.ascontiguousarray(weights[0].T)
    biases = [b.copy() for b in p["biases"]]
    n = len(weights)
    touched = [np.zeros(W.shape[0], dtype=np.int32) for W in weights]
    settings = Settings(activation=activation, loss=p["kernel_loss"], selection="collisions",
                        alpha=0.0, learning_rate=1e-3, beta_1=0.9, beta_2=0.999,
                        epsilon=1e-8, momentum=0.9, nesterov=True, refresh_growth=1.5,
                        n_threads=n_threads)
    schedule = {"batches": 0, "next": 50, "interval": 50.0, "last": 0}
    return cls(weights, biases, [None] * n, budgets=[b.shape[0] for b in biases],
               candidates=[b.shape[0] for b in biases], explore=[0] * n,
               optimizer=init_state("adam", weights, biases), schedule=schedule,
               touched=touched, settings=settings, first_feature_major=by_feature)


def targets_of(p):
    return Targets(p["X"].dtype, p["label_ptr"], p["label_idx"],
                   p["Y"] if p["kernel_loss"] == "squared" else None)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_gradients_match_numpy_reference(activation, loss):
    p = make_problem(loss, seed=1)
    trainer = make_trainer(DenseTrainer, p, activation)
    value, macs, dense_macs, hops = trainer.gradients(
        KernelInput(p["X"], p["X"].dtype), targets_of(p), ROWS, 0, 1)
    ref_value, ref_w, ref_b = reference(p, activation)
    assert value == pytest.approx(ref_value, rel=1e-12, abs=1e-12)
    for l in range(len(ref_w)):
        np.testing.assert_allclose(trainer.grad_weights[l], ref_w[l], rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_allclose(trainer.grad_biases[l], ref_b[l], rtol=1e-10,
                                   atol=1e-12)
        # stamped: the units given a gradient, as the kernels stamp them
        np.testing.assert_array_equal(trainer.touched[l] == 1,
                                      (ref_w[l] != 0).any(axis=1) | (ref_b[l] != 0))
    assert all(np.abs(g).max() > 1e-3 for g in trainer.grad_weights[1:])
    assert macs == dense_macs > 0 and hops == 0


@pytest.mark.parametrize("loss", LOSSES)
def test_dense_gradients_weight_each_example(loss):
    """With example weights, the loss and gradients are the weighted sums of the
    examples' own."""
    p = make_problem(loss, seed=2)
    w = np.array([0.5, 2.0, 0.0, 1.0, 3.0])
    trainer = make_trainer(DenseTrainer, p, "tanh")
    value = trainer.gradients(KernelInput(p["X"], p["X"].dtype), targets_of(p), ROWS,
                              0, 1, w)[0]
    expected_value, expected_w = 0.0, [np.zeros_like(W) for W in p["weights"]]
    for r, weight in zip(ROWS, w):
        v, gw, _ = reference(p, "tanh", rows=np.array([r]))
        expected_value += weight * v
        for l, g in enumerate(gw):
            expected_w[l] += weight * g
    assert value == pytest.approx(expected_value, rel=1e-12, abs=1e-12)
    for l, g in enumerate(expected_w):
        np.testing.assert_allclose(trainer.grad_weights[l], g, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("by_feature", [False, True], ids=["by-unit", "by-feature"])
@pytest.mark.parametrize("loss", LOSSES)
def test_dense_and_kernel_paths_take_the_same_step(loss, by_feature):
    """One full batch step (gradients, Adam) on each path gives the same weights,
    and the same stamps, with the first layer stored either way."""
    p = make_problem(loss, seed=3)
    p["X"][:, 1] = 0                # a feature no row has
    out = []
    for cls in (DenseTrainer, Trainer):
        trainer = make_trainer(cls, p, "relu", by_feature=by_feature)
        trainer.batch(KernelInput(p["X"], p["X"].dtype), targets_of(p), ROWS,
                      np.random.RandomState(0), 10)
        out.append(trainer.weights + trainer.touched)
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    first = out[0][0] if by_feature else out[0][0].T
    # the step moved the weights of the features the batch has, and only those
    start = p["weights"][0].T
    assert not np.allclose(first[[0, 2, 3, 4]], start[[0, 2, 3, 4]])
    if by_feature:
        np.testing.assert_array_equal(first[1], start[1])


def test_dense_trainer_refuses_hashed_layers_and_sparse_rows():
    p = make_problem("softmax")
    trainer = make_trainer(DenseTrainer, p, "relu")
    with pytest.raises(ValueError, match="dense rows"):
        trainer.gradients(KernelInput(sp.csr_matrix(p["X"]), p["X"].dtype),
                          targets_of(p), ROWS, 0, 1)


def test_blas_threads_follow_the_batch_size():
    p = make_problem("softmax")
    trainer = make_trainer(DenseTrainer, p, "relu", n_threads=2)
    n_params = sum(W.size for W in trainer.weights)
    assert trainer.blas_threads(1) == 1
    assert trainer.blas_threads(-(-_training.BLAS_PARALLEL_MACS // n_params)) == 2
    assert make_trainer(Trainer, p, "relu", n_threads=2).blas_threads(10**9) == 1


def _spy(monkeypatch):
    """Record which trainer class each fit builds."""
    used = []
    for cls in (Trainer, DenseTrainer):
        original = cls.gradients

        def spy(self, *args, _original=original, **kwargs):
            used.append(type(self).__name__)
            return _original(self, *args, **kwargs)
        monkeypatch.setattr(cls, "gradients", spy)
    return used


def test_estimators_choose_the_blas_path_for_dense_networks(monkeypatch):
    X, y = load_digits(return_X_y=True)
    X = X[:300] / 16
    y = y[:300]
    used = _spy(monkeypatch)
    LSHMLPClassifier(hidden_layer_sizes=(20,), max_iter=2, random_state=0).fit(X, y)
    assert set(used) == {"DenseTrainer"}
    used.clear()
    # sparse rows, or a hashed layer: the kernels
    LSHMLPClassifier(hidden_layer_sizes=(20,), max_iter=2,
                     random_state=0).fit(sp.csr_matrix(X), y)
    assert set(used) == {"Trainer"}
    used.clear()
    LSHMLPClassifier(hidden_layer_sizes=(64,), active_fraction=[0.25, 1.0], max_iter=2,
                     random_state=0).fit(X, y)
    assert set(used) == {"Trainer"}


def test_blas_path_learns_and_is_deterministic():
    X, y = make_regression(400, 10, noise=1.0, random_state=0)
    y = y / y.std()
    fits = [LSHMLPRegressor(hidden_layer_sizes=(32, 32), max_iter=100, random_state=0,
                            n_threads=1).fit(X, y) for _ in range(2)]
    assert fits[0].score(X, y) > 0.95
    for a, b in zip(fits[0].coefs_, fits[1].coefs_):
        np.testing.assert_array_equal(a, b)


def test_dense_trainer_refuses_a_hashed_layer():
    p = make_problem("softmax")
    n = len(p["weights"])
    with pytest.raises(ValueError, match="no hashed layer"):
        DenseTrainer(p["weights"], p["biases"], [None] * (n - 1) + [{}],
                     budgets=[1] * n, candidates=[1] * n, explore=[0] * n, optimizer={},
                     schedule={}, touched=[], settings=None)


def test_dense_gradients_in_float32():
    p = make_problem("softmax", seed=4, dtype=np.float32)
    trainer = make_trainer(DenseTrainer, p, "relu")
    value = trainer.gradients(KernelInput(p["X"], np.float32), targets_of(p), ROWS,
                              0, 1)[0]
    ref_value, ref_w, _ = reference(p, "relu")
    assert value == pytest.approx(ref_value, rel=1e-5)
    for l, g in enumerate(ref_w):
        assert trainer.grad_weights[l].dtype == np.float32
        np.testing.assert_allclose(trainer.grad_weights[l], g, rtol=1e-4, atol=1e-5)


def test_fit_gives_blas_the_threads_of_large_batches(monkeypatch):
    """The limit follows the batch fit uses: an explicit batch_size above 200
    counts in full."""
    seen = []
    original = DenseTrainer.blas_threads

    def spy(self, batch_size):
        seen.append(batch_size)
        return original(self, batch_size)
    monkeypatch.setattr(DenseTrainer, "blas_threads", spy)
    X, y = load_digits(return_X_y=True)
    LSHMLPClassifier(hidden_layer_sizes=(20,), batch_size=1000, max_iter=1,
                     random_state=0).fit(X / 16, y)
    LSHMLPClassifier(hidden_layer_sizes=(20,), max_iter=1, random_state=0).fit(
        X[:150] / 16, y[:150])
    assert seen == [1000, 150]


def test_duplicate_labels_in_a_csr_y_count_once():
    """A label stored twice in a non-canonical CSR y is one label, on both paths."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:120] / 16, y[:120]
    Y = sp.csr_matrix((np.ones(len(y)), y, np.arange(len(y) + 1)), shape=(120, 10))
    Y2 = sp.csr_matrix((np.r_[np.ones(len(y)), np.ones(1)],
                        np.r_[y[0], y], np.r_[0, np.arange(1, len(y) + 1) + 1]),
                       shape=(120, 10))
    assert not Y2.has_canonical_format
    for rows in (X, sp.csr_matrix(X)):
        fits = [LSHMLPClassifier(hidden_layer_sizes=(16,), max_iter=3, n_threads=1,
                                 random_state=0).fit(rows, T) for T in (Y, Y2)]
        np.testing.assert_array_equal(fits[0].coefs_[0], fits[1].coefs_[0])


@pytest.mark.parametrize("n_features", [40, 100_000])   # a mask, then np.unique
def test_kernel_input_features_are_the_batch_non_zeros(n_features):
    rng = np.random.RandomState(0)
    X = sp.random(30, n_features, density=min(0.2, 100 / n_features), format="csr",
                  random_state=rng, dtype=np.float64)
    X.data[::5] = 0                      # stored zeros are not the row's features
    rows = rng.permutation(30)[:7]
    expected = np.flatnonzero(np.abs(X[rows]).sum(axis=0))
    sparse, dense = KernelInput(X, np.float64), KernelInput(X.toarray(), np.float64)
    np.testing.assert_array_equal(sparse.features(rows), expected)
    np.testing.assert_array_equal(dense.features(rows), expected)
