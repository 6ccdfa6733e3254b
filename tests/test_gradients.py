"""The sparse kernels' forward and backward passes against a NumPy reference.

With every unit active (no hash tables) the Hogwild batch driver must compute exactly
what a plain dense MLP computes: the summed loss of the batch and the gradients of
that sum, accumulated into the network's gradient arrays. The reference is an
independent NumPy implementation, and central finite differences of the kernel's own
loss check that the gradients are those of the loss it reports.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from sklsh._kernels._hogwild import batch_gradients
from sklsh._kernels._network import Network
from sklsh._training import KernelInput

SIZES = (5, 7, 4, 3)                # inputs, two hidden layers, outputs
ACTIVATIONS = ("relu", "tanh", "logistic", "identity")
N_SAMPLES = 6
ROWS = np.array([4, 0, 2, 5, 1], dtype=np.int64)     # a batch: a subset, out of order


# --------------------------------------------------------------------------- setup
def make_problem(loss, seed=0, sizes=SIZES, dtype=np.float64):
    """Random weights, inputs with exact zeros (so CSR differs from dense) and
    targets for `loss`. Returns a dict of everything a kernel call needs."""
    rng = np.random.RandomState(seed)
    n_out = 1 if loss == "sigmoid-binary" else sizes[-1]
    sizes = tuple(sizes[:-1]) + (n_out,)
    weights = [rng.normal(0, 0.8, (o, i)).astype(dtype)
               for i, o in zip(sizes[:-1], sizes[1:])]
    biases = [rng.normal(0, 0.3, o).astype(dtype) for o in sizes[1:]]
    X = rng.normal(0, 1, (N_SAMPLES, sizes[0]))
    X[rng.rand(*X.shape) < 0.4] = 0.0
    X[3] = 0.0                       # an all-zero row (empty in CSR)
    X = X.astype(dtype)
    if loss == "softmax":
        # one label for most rows, two for one (mass shared), none for another
        labels = [[1], [0], [2, 0], [2], [1], []]
    elif loss == "sigmoid-binary":
        labels = [[0], [], [0], [], [], [0]]          # the positives carry label 0
    elif loss == "sigmoid":
        labels = [[0, 2], [], [1], [0, 1, 2], [2], [1]]   # multi-label
    else:
        labels = None
    if labels is not None:
        label_ptr = np.cumsum([0] + [len(l) for l in labels]).astype(np.int64)
        label_idx = np.array([j for l in labels for j in l], dtype=np.int32)
        Y = np.zeros((0, 0), dtype=dtype)
    else:
        label_ptr = np.zeros(1, dtype=np.int64)
        label_idx = np.zeros(0, dtype=np.int32)
        Y = rng.normal(0, 1, (N_SAMPLES, n_out)).astype(dtype)
    return dict(weights=weights, biases=biases, X=X, labels=labels, label_ptr=label_ptr,
                label_idx=label_idx, Y=Y, kernel_loss=loss.split("-")[0])


def make_network(p, activation, by_feature=False):
    """A Network over p's arrays, every layer dense, with zeroed accumulators. With
    `by_feature` the first layer is stored by input feature: p's first weights are
    replaced by their (n_in, n_out) copy, which the network reads."""
    if by_feature:
        p["weights"][0] = np.ascontiguousarray(p["weights"][0].T)
    grad_w = [np.zeros_like(W) for W in p["weights"]]
    grad_b = [np.zeros_like(b) for b in p["biases"]]
    touched = [np.zeros(W.shape[0], dtype=np.int32) for W in p["weights"]]
    n_layers = len(p["weights"])
    net = Network(p["weights"], p["biases"], [None] * n_layers,
                  [b.shape[0] for b in p["biases"]], activation, p["kernel_loss"],
                  "collisions", None, grad_w, grad_b, touched,
                  first_feature_major=by_feature)
    return net, grad_w, grad_b, touched


def input_args(X, sparse):
    """X as batch_gradients reads it (the kernels hash the queries themselves)."""
    return KernelInput(sp.csr_matrix(X) if sparse else X, X.dtype).args()


def run_batch(net, p, sparse, rows=ROWS, stamp=1, n_threads=1, seed=123):
    loss, macs, dense_macs, hash_ops = batch_gradients(
        net, *input_args(p["X"], sparse), rows, p["label_ptr"], p["label_idx"], p["Y"],
        seed, stamp, n_threads)
    return loss


# ----------------------------------------------------------------- NumPy reference
def _activate(name, z):
    if name == "relu":
        a = np.maximum(z, 0)
        return a, (z > 0).astype(z.dtype)
    if name == "tanh":
        a = np.tanh(z)
        return a, 1 - a * a
    if name == "logistic":
        a = 1 / (1 + np.exp(-z))
        return a, a * (1 - a)
    return z.copy(), np.ones_like(z)


def reference(p, activation, rows=ROWS):
    """Summed loss and its gradients over the rows, by a plain dense MLP in NumPy."""
    W, b = p["weights"], p["biases"]
    X = p["X"][rows].astype(np.float64)
    acts, ders = [X], []
    a = X
    for l in range(len(W)):
        z = a @ W[l].T.astype(np.float64) + b[l]
        if l < len(W) - 1:
            a, d = _activate(activation, z)
            acts.append(a)
            ders.append(d)
    # the output layer: z is its pre-activation
    loss, k = p["kernel_loss"], z.shape[1]
    if loss == "squared":
        diff = z - p["Y"][rows]
        value = 0.5 * np.sum(diff ** 2)
        delta = diff
    else:
        T = np.zeros_like(z)
        for i, r in enumerate(rows):
            lab = p["labels"][r]
            for j in lab:
                T[i, j] += 1.0 / len(lab) if loss == "softmax" else 1.0
        if loss == "softmax":
            has = T.sum(axis=1) > 0
            logp = z - z.max(axis=1, keepdims=True)
            logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
            value = -np.sum(T * logp)
            delta = np.where(has[:, None], np.exp(logp) - T, 0.0)
        else:                        # independent logistic per output
            value = np.sum(np.logaddexp(0, z) - T * z)
            delta = 1 / (1 + np.exp(-z)) - T
    grad_w, grad_b = [None] * len(W), [None] * len(W)
    for l in range(len(W) - 1, -1, -1):
        grad_w[l] = delta.T @ acts[l]
        grad_b[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ W[l]) * ders[l - 1]
    assert k == W[-1].shape[0]
    return value, grad_w, grad_b


LOSSES = ("softmax", "sigmoid-binary", "sigmoid", "squared")


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_numpy_reference(activation, loss, sparse):
    """Summed loss and accumulated gradients of a batch equal the dense NumPy MLP's,
    for every activation, loss and input format."""
    p = make_problem(loss, seed=1)
    net, grad_w, grad_b, _ = make_network(p, activation)
    value = run_batch(net, p, sparse)
    ref_value, ref_w, ref_b = reference(p, activation)
    assert value == pytest.approx(ref_value, rel=1e-12, abs=1e-12)
    for l in range(len(ref_w)):
        np.testing.assert_allclose(grad_w[l], ref_w[l], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(grad_b[l], ref_b[l], rtol=1e-10, atol=1e-12)
    # the batch really had gradient (the comparison above is not of zeros)
    assert all(np.abs(g).max() > 1e-3 for g in grad_w[1:])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_finite_differences(activation, loss, sparse):
    """Every accumulated gradient entry is the central finite difference of the summed
    loss the kernel itself returns."""
    p = make_problem(loss, seed=2)
    net, grad_w, grad_b, _ = make_network(p, activation)
    run_batch(net, p, sparse)
    analytic = [g.copy() for g in grad_w] + [g.copy() for g in grad_b]
    params = p["weights"] + p["biases"]     # the network reads these arrays in place
    eps = 1e-6
    for P, G in zip(params, analytic):
        numeric = np.empty_like(P)
        for idx in np.ndindex(P.shape):
            old = P[idx]
            P[idx] = old + eps
            up = run_batch(net, p, sparse)
            P[idx] = old - eps
            down = run_batch(net, p, sparse)
            P[idx] = old
            numeric[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(G, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", LOSSES)
def test_dense_and_csr_inputs_agree(loss):
    """The same batch given dense or as CSR gives the same loss and gradients."""
    results = []
    for sparse in (False, True):
        p = make_problem(loss, seed=3)
        net, grad_w, grad_b, _ = make_network(p, "tanh")
        results.append((run_batch(net, p, sparse), grad_w, grad_b))
    (v0, w0, b0), (v1, w1, b1) = results
    assert v0 == pytest.approx(v1, rel=1e-12)
    for a, c in zip(w0 + b0, w1 + b1):
        np.testing.assert_allclose(a, c, rtol=1e-12, atol=1e-14)


def test_gradients_accumulate_across_calls():
    """Gradients are added into the accumulators, not overwritten: two calls on the
    same rows give twice the gradient of one."""
    p = make_problem("softmax", seed=4)
    net, grad_w, grad_b, _ = make_network(p, "relu")
    run_batch(net, p, False, stamp=1)
    once = [g.copy() for g in grad_w + grad_b]
    run_batch(net, p, False, stamp=2)
    for g1, g2 in zip(once, grad_w + grad_b):
        np.testing.assert_allclose(g2, 2 * g1, rtol=1e-12)


def test_two_threads_give_the_same_loss():
    """The batch loss is a reduction over examples: the same with two threads."""
    p = make_problem("softmax", seed=5)
    net, _, _, _ = make_network(p, "tanh")
    rows = np.arange(N_SAMPLES, dtype=np.int64)
    one = run_batch(net, p, False, rows=rows, n_threads=1)
    two = run_batch(net, p, False, rows=rows, n_threads=2)
    assert two == pytest.approx(one, rel=1e-12)
    assert one == pytest.approx(reference(p, "tanh", rows)[0], rel=1e-12)


def test_float32_network_matches_reference():
    """The float32 instantiation of the kernels computes the same gradients, to
    single precision."""
    p = make_problem("softmax", seed=6, dtype=np.float32)
    net, grad_w, grad_b, _ = make_network(p, "tanh")
    value = run_batch(net, p, True)
    ref_value, ref_w, ref_b = reference(p, "tanh")
    assert value == pytest.approx(ref_value, rel=1e-5)
    for l in range(len(ref_w)):
        assert grad_w[l].dtype == np.float32
        np.testing.assert_allclose(grad_w[l], ref_w[l], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(grad_b[l], ref_b[l], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("activation", ["identity", "relu"])
def test_touched_rows_are_stamped(activation, sparse):
    """Every row that received gradient carries the batch's stamp; rows that received
    none keep their previous stamp."""
    p = make_problem("softmax", seed=7)
    net, grad_w, grad_b, touched = make_network(p, activation)
    for t in touched:
        t[:] = 3                     # an earlier batch's stamp
    run_batch(net, p, sparse, stamp=11)
    n_stamped = 0
    for l in range(len(touched)):
        written = (grad_b[l] != 0) | np.any(grad_w[l] != 0, axis=1)
        assert set(np.unique(touched[l])) <= {3, 11}
        np.testing.assert_array_equal(touched[l] == 11, written)
        n_stamped += int(written.sum())
    if activation == "identity":
        # every unit of every layer is active and passes gradient
        assert all((t == 11).all() for t in touched)
    assert n_stamped > 0
    # a second batch with a new stamp restamps the rows it writes
    run_batch(net, p, sparse, stamp=12)
    for l in range(len(touched)):
        written = (grad_b[l] != 0) | np.any(grad_w[l] != 0, axis=1)
        np.testing.assert_array_equal(touched[l] == 12, written)


def test_relu_layer_with_dead_units_is_exact():
    """A ReLU unit that is off for the whole batch gets exactly zero gradient (and no
    stamp), and the gradients of the others still match the reference."""
    p = make_problem("squared", seed=8)
    p["biases"][0][2] = -100.0      # unit 2 of the first hidden layer never fires
    net, grad_w, grad_b, touched = make_network(p, "relu")
    value = run_batch(net, p, False, stamp=5)
    ref_value, ref_w, ref_b = reference(p, "relu")
    assert value == pytest.approx(ref_value, rel=1e-12)
    assert grad_b[0][2] == 0 and not grad_w[0][2].any()
    assert touched[0][2] == 0
    for l in range(len(ref_w)):
        np.testing.assert_allclose(grad_w[l], ref_w[l], rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------ through hashed layers
def _keep_top(z, k, forced=None):
    """Mask of the k largest entries per row (forced entries first, then the largest
    of the others): a hashed layer's active set when every unit is a candidate."""
    mask = np.zeros(z.shape, dtype=bool)
    for i, row in enumerate(z):
        fixed = [] if forced is None else list(forced[i])
        rest = [j for j in np.argsort(-row) if j not in fixed]
        mask[i, fixed + rest[:k - len(fixed)]] = True
    return mask


@pytest.mark.parametrize("multilabel", [False, True], ids=["one-label", "multi-label"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("hash_output", [False, True])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_gradients_through_hashed_layers(activation, hash_output, sparse, multilabel):
    """With hash tables that may propose every unit, a hashed layer computes exactly
    its budget of largest pre-activations (the rest output 0), and the gradients that
    flow through the sparse active sets are those of that masked network. A hashed
    output layer takes a softmax over its active outputs, the labels forced in; a
    row's target spreads evenly over its labels (the multi-label softmax)."""
    from sklsh._hash_state import make_hash_state
    from sklsh._training import refresh_layer
    rng = np.random.RandomState(9)
    sizes, budgets = (5, 20, 12, 8), [6, 4, 3 if hash_output else 8]
    W = [rng.normal(0, 0.8, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    b = [rng.normal(0, 0.3, o) for o in sizes[1:]]
    hashed = [True, True, hash_output]
    states = [make_hash_state(i, o, family="srp", bits_per_table=3, n_tables=4,
                              bucket_size=64, policy="fifo", window=8, mips=False,
                              dtype=np.float64, random_state=rng) if h else None
              for i, o, h in zip(sizes[:-1], sizes[1:], hashed)]
    gW = [np.zeros_like(w) for w in W]
    gb = [np.zeros_like(v) for v in b]
    touched = [np.zeros(w.shape[0], dtype=np.int32) for w in W]
    net = Network(W, b, states, budgets, activation, "softmax", "collisions",
                  list(sizes[1:]), gW, gb, touched)
    for l, h in enumerate(hashed):
        if h:
            refresh_layer(net, l, W[l], b[l], states[l],
                          np.arange(sizes[l + 1], dtype=np.int64), True, 3, 1)
    X = rng.normal(size=(6, sizes[0]))
    X[rng.rand(*X.shape) < 0.3] = 0
    if multilabel:
        # up to 4 labels a row, more than the output budget of 3 when hashed, and a
        # row without any
        labels = [[1], [0, 5, 7], [2, 3, 4, 6], [], [6, 1], [3]]
    else:
        labels = [[j] for j in rng.randint(sizes[-1], size=6)]
    label_ptr = np.cumsum([0] + [len(l) for l in labels]).astype(np.int64)
    label_idx = np.array([j for l in labels for j in l], dtype=np.int32)
    rows = np.arange(6, dtype=np.int64)

    def kernel():
        return batch_gradients(net, *input_args(X, sparse), rows, label_ptr, label_idx,
                               np.zeros((0, 0)), 5, 1, 1)[0]

    value = kernel()
    # the masked dense network, in NumPy
    a, acts, ders = X, [X], []
    for l in range(2):
        z = a @ W[l].T + b[l]
        m = _keep_top(z, budgets[l])
        a, d = _activate(activation, z)
        a, d = a * m, d * m
        acts.append(a)
        ders.append(d)
    z = a @ W[2].T + b[2]
    # the active set: the labels, then the largest others up to the budget
    m = np.ones_like(z, dtype=bool)
    if hash_output:
        for i, lab in enumerate(labels):
            m[i] = _keep_top(z[i:i + 1], max(budgets[2], len(lab)), [lab])[0]
    zm = np.where(m, z, -np.inf)
    logp = zm - zm.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    T = np.zeros_like(z)
    for i, lab in enumerate(labels):
        T[i, lab] = 1.0 / len(lab) if lab else 0.0
    ref_value = -np.sum(T * np.where(m, logp, 0))
    has = np.array([bool(lab) for lab in labels])[:, None]
    delta = np.where(m & has, np.exp(logp), 0) - T
    assert value == pytest.approx(ref_value, rel=1e-12)
    for l in (2, 1, 0):
        np.testing.assert_allclose(gW[l], delta.T @ acts[l], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(gb[l], delta.sum(axis=0), rtol=1e-10, atol=1e-12)
        if l > 0:
            delta = (delta @ W[l]) * ders[l - 1]
    # units outside every active set got no gradient and no stamp
    assert (touched[0] == 0).any() and (gb[0][touched[0] == 0] == 0).all()


# ------------------------------------------------------ a first layer by feature
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_feature_major_first_layer_matches_reference(activation, loss, sparse):
    """Stored by feature, the first layer gives the dense MLP's loss and gradients
    (its own transposed), and stamps exactly the features some row of the batch has
    non-zero."""
    p = make_problem(loss, seed=8)
    p["X"][:, 2] = 0                # a feature no row has
    ref_value, ref_w, ref_b = reference(p, activation)
    net, grad_w, grad_b, touched = make_network(p, activation, by_feature=True)
    touched[0][:] = 3
    value = run_batch(net, p, sparse, stamp=11)
    assert value == pytest.approx(ref_value, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(grad_w[0], ref_w[0].T, rtol=1e-10, atol=1e-12)
    for l in range(1, len(ref_w)):
        np.testing.assert_allclose(grad_w[l], ref_w[l], rtol=1e-10, atol=1e-12)
    for l in range(len(ref_w)):
        np.testing.assert_allclose(grad_b[l], ref_b[l], rtol=1e-10, atol=1e-12)
    present = (p["X"][ROWS] != 0).any(axis=0)
    assert 0 < present.sum() < present.size
    np.testing.assert_array_equal(touched[0], np.where(present, 11, 3))


def test_feature_major_first_layer_matches_finite_differences():
    """The by-feature gradients are those of the loss the kernel reports."""
    p = make_problem("softmax", seed=9)
    net, grad_w, grad_b, _ = make_network(p, "tanh", by_feature=True)
    run_batch(net, p, True)
    W, G = p["weights"][0], grad_w[0].copy()
    numeric = np.empty_like(W)
    for idx in np.ndindex(W.shape):
        old = W[idx]
        W[idx] = old + 1e-6
        up = run_batch(net, p, True)
        W[idx] = old - 1e-6
        down = run_batch(net, p, True)
        W[idx] = old
        numeric[idx] = (up - down) / 2e-6
    np.testing.assert_allclose(G, numeric, rtol=1e-5, atol=1e-6)


def test_feature_major_network_refuses_unit_major_shapes():
    p = make_problem("softmax", seed=10)
    W0 = p["weights"][0]          # (n_out, n_in), not (n_in, n_out)
    with pytest.raises(ValueError, match="expected a C-contiguous"):
        Network(p["weights"], p["biases"], [None] * 3, [4, 7, 3], "relu", "softmax",
                "collisions", None, [np.zeros_like(W) for W in p["weights"]],
                [np.zeros_like(b) for b in p["biases"]],
                [np.zeros(W0.shape[1], np.int32)] + [np.zeros(7, np.int32),
                                                     np.zeros(3, np.int32)],
                first_feature_major=True)
