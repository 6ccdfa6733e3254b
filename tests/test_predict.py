"""The row-parallel helpers of prediction (sklsh._kernels._predict)."""
import numpy as np
import pytest
import scipy.sparse as sp

from sklsh._kernels._predict import sparse_times_dense, top_k_positions
from sklsh._prediction import input_layer


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_sparse_times_dense_is_the_product(dtype, n_threads):
    rng = np.random.RandomState(0)
    X = sp.random(300, 1000, density=0.02, format="lil", random_state=rng, dtype=dtype)
    X[7] = 0                                    # an empty row
    X = X.tocsr()
    W = rng.normal(size=(1000, 37)).astype(dtype)
    out = input_layer(X, W, n_threads)
    assert out.dtype == dtype and out.shape == (300, 37)
    np.testing.assert_allclose(out, X @ W, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-5)
    assert (out[7] == 0).all()
    np.testing.assert_array_equal(input_layer(X.toarray(), W, n_threads), X.toarray() @ W)


def test_sparse_times_dense_checks_its_input():
    X = sp.random(20, 50, density=0.2, format="csr", random_state=0)
    W = np.ones((50, 4))
    data, indices, indptr = X.data, X.indices.astype(np.int32), X.indptr.astype(np.int64)
    out = np.empty((20, 4))
    bad = indices.copy()
    bad[3] = 50
    with pytest.raises(ValueError, match="column index out of range"):
        sparse_times_dense(data, bad, indptr, W, out, 1)
    bad = indptr.copy()
    bad[5] = bad[6] + 1
    with pytest.raises(ValueError, match="malformed CSR row pointers"):
        sparse_times_dense(data, indices, bad, W, out, 1)
    bad = indptr.copy()
    bad[-1] = data.shape[0] + 1
    with pytest.raises(ValueError, match="malformed CSR row pointers"):
        sparse_times_dense(data, indices, bad, W, out, 1)
    with pytest.raises(ValueError, match="does not match"):
        sparse_times_dense(data, indices, indptr, W, np.empty((20, 5)), 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_k_positions_are_the_k_largest(dtype):
    rng = np.random.RandomState(1)
    scores = rng.normal(size=(200, 500)).astype(dtype)
    scores[:, 400:] = -np.inf                   # padding, as hashed outputs have
    scores[5] = 1.0                             # all tied
    for k in (1, 5, 60, 500):
        pos = top_k_positions(scores, k, 2)
        assert pos.shape == (200, k)
        assert all(len(set(row)) == k for row in pos)    # distinct columns
        got = np.sort(np.take_along_axis(scores, pos, axis=1), axis=1)
        want = np.sort(scores, axis=1)[:, -k:]
        np.testing.assert_array_equal(got, want)


def test_top_k_positions_refuses_a_bad_k():
    with pytest.raises(ValueError, match="k must be"):
        top_k_positions(np.zeros((3, 4)), 5, 1)
    with pytest.raises(ValueError, match="k must be"):
        top_k_positions(np.zeros((3, 4)), 0, 1)
