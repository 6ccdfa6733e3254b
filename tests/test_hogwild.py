"""The Hogwild passes (``_kernels/_hogwild.pyx``): an example's active set and
gradient depend on the example alone, not on its batch or the threads.
"""

import numpy as np
import pytest

from sklsh._hash_state import make_hash_state
from sklsh._kernels._hogwild import batch_gradients
from sklsh._kernels._network import Network
from sklsh._training import refresh_layer

from layers import active_sets, build, dense_problem, kernel_input


@pytest.mark.parametrize("selection", ["collisions", "union", "sketch"])
def test_active_set_does_not_depend_on_batch_or_threads(selection):
    """An example's active set depends on the seed and the example: not on which
    other examples are scored with it, nor on the number of threads."""
    W, b, Q = dense_problem(4)
    # few collisions (1024 buckets, half a unit each): random units must fill in
    net, _ = build(W, b, selection=selection, bits=10, budget=60)
    full = active_sets(net, Q, seed=9)
    np.testing.assert_array_equal(active_sets(net, Q[:37], seed=9), full[:37])
    np.testing.assert_array_equal(active_sets(net, Q, seed=9, n_threads=2), full)
    # the seed does matter, so the comparisons above could fail
    assert not np.array_equal(active_sets(net, Q, seed=10), full)


def _two_layer_problem(selection):
    """A network with a hashed tanh hidden layer and a dense softmax output."""
    rng = np.random.RandomState(5)
    n_in, n_hidden, n_out, n = 16, 120, 4, 8
    W = [rng.normal(size=(n_hidden, n_in)), rng.normal(size=(n_out, n_hidden)) / 5]
    b = [rng.normal(size=n_hidden), rng.normal(size=n_out)]
    state = make_hash_state(n_in, n_hidden, family="srp", bits_per_table=8, n_tables=6,
                            bucket_size=32, policy="fifo", window=8, mips=False,
                            dtype=np.float64, random_state=rng)
    gW = [np.zeros_like(w) for w in W]
    gb = [np.zeros_like(v) for v in b]
    touched = [np.zeros(w.shape[0], dtype=np.int32) for w in W]
    net = Network(W, b, [state, None], [12, n_out], "tanh", "softmax", selection,
                  [20, n_out], gW, gb, touched)
    refresh_layer(net, 0, W[0], b[0], state,
                  rng.permutation(n_hidden).astype(np.int64), True, 1, 1)
    X = rng.normal(size=(n, n_in))
    label_ptr = np.arange(n + 1, dtype=np.int64)
    label_idx = rng.randint(n_out, size=n).astype(np.int32)
    return net, X, label_ptr, label_idx, gW, gb


@pytest.mark.parametrize("selection", ["collisions", "union", "sketch"])
def test_batch_gradient_is_the_sum_of_example_gradients(selection):
    """The same row in different batches, in any order, gets the same active set
    for the same seed: a batch's gradient and loss are the sums of its examples'
    taken one at a time."""
    net, X, label_ptr, label_idx, gW, gb = _two_layer_problem(selection)
    Y = np.zeros((0, 0))
    args = kernel_input(X, False)

    def run(rows, seed=77):
        for g in gW + gb:
            g[...] = 0
        rows = np.asarray(rows, dtype=np.int64)
        loss = batch_gradients(net, *args, rows, label_ptr, label_idx, Y, seed, 1, 1)[0]
        return loss, [g.copy() for g in gW + gb]

    batch_loss, batch = run([6, 1, 3, 4])
    other_loss, other = run([4, 3, 1, 6])
    singles = [run([r]) for r in (6, 1, 3, 4)]
    assert batch_loss == pytest.approx(sum(s[0] for s in singles), rel=1e-12)
    assert other_loss == pytest.approx(batch_loss, rel=1e-12)
    for i, g in enumerate(batch):
        np.testing.assert_allclose(g, sum(s[1][i] for s in singles), rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_allclose(other[i], g, rtol=1e-10, atol=1e-12)
    # at most 12 active hidden units per example got gradient (the layer is sparse)
    assert 0 < np.count_nonzero(batch[2]) <= 4 * 12
    # ... and which ones depends on the seed
    assert not np.allclose(run([6, 1, 3, 4], seed=78)[1][0], batch[0])


def test_workspaces_grow_with_the_threads_and_labels_asked():
    """A network keeps its threads' workspaces from batch to batch; a batch with more
    labels a row, or more threads, than the last gets larger ones, and the same
    gradients as a network that never ran a batch."""
    def run(net, gW, gb, label_ptr, label_idx, n_threads):
        for g in gW + gb:
            g[...] = 0
        rows = np.arange(8, dtype=np.int64)
        loss = batch_gradients(net, *kernel_input(X, False), rows, label_ptr, label_idx,
                               np.zeros((0, 0)), 77, 1, n_threads)[0]
        return loss, [g.copy() for g in gW + gb]

    used, X, one_ptr, one_idx, gW, gb = _two_layer_problem("sketch")
    run(used, gW, gb, one_ptr, one_idx, 1)
    # three labels a row now (the label positions outgrow the first workspaces)
    three_ptr = np.arange(0, 25, 3, dtype=np.int64)
    three_idx = np.tile(np.array([0, 2, 3], dtype=np.int32), 8)
    for n_threads in (1, 2):
        fresh, _, _, _, fW, fb = _two_layer_problem("sketch")
        want = run(fresh, fW, fb, three_ptr, three_idx, n_threads)
        got = run(used, gW, gb, three_ptr, three_idx, n_threads)
        assert got[0] == pytest.approx(want[0], rel=1e-12)
        for a, c in zip(got[1], want[1]):
            np.testing.assert_allclose(a, c, rtol=1e-10, atol=1e-12)
