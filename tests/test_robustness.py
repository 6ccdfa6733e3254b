"""The engine under stress: many short multi-threaded fits of varied shapes, and one
fitted model shared by several Python threads."""
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from sklsh import LSHMLPClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_many_short_multithreaded_fits_and_partial_fits(run_isolated):
    """Fifty fits and partial_fits on two threads, over random shapes, families,
    selections, buckets, fractions, dtypes and dense or sparse input, end with finite
    weights and no crash (in a fresh interpreter, so that memory corruption would
    show as a dead process rather than take the test session down)."""
    result = run_isolated(textwrap.dedent("""
        import warnings
        import numpy as np
        import scipy.sparse as sp
        from sklsh import LSHMLPClassifier, LSHMLPRegressor
        warnings.simplefilter("ignore")
        rng = np.random.RandomState(0)
        for trial in range(50):
            n, d = rng.randint(2, 120), rng.randint(1, 40)
            X = rng.rand(n, d).astype(rng.choice([np.float32, np.float64]))
            X[X < rng.rand()] = 0
            if rng.rand() < 0.5:
                X = sp.csr_matrix(X)
            params = dict(
                hidden_layer_sizes=tuple(rng.randint(1, 64, size=rng.randint(1, 3))),
                active_fraction=float(rng.choice([0.05, 0.2, 0.5, 1.0])),
                hash_family=str(rng.choice(["srp", "wta", "dwta", "doph"])),
                selection=str(rng.choice(["sketch", "collisions", "union"])),
                bits_per_table=int(rng.randint(1, 9)), n_tables=int(rng.randint(1, 20)),
                bucket_size=int(rng.randint(1, 16)), rerank_factor=float(rng.choice([1, 2])),
                explore_fraction=float(rng.choice([0, 0.5])),
                batch_size=int(rng.randint(1, 40)), max_iter=2, n_threads=2,
                random_state=trial)
            if rng.rand() < 0.5:
                y = rng.randint(0, rng.randint(2, 6), size=n)
                y[:2] = [0, 1]
                model = LSHMLPClassifier(**params)
                model.fit(X, y)
                model.partial_fit(X, y)
                model.predict_proba(X)
            else:
                model = LSHMLPRegressor(**params)
                model.fit(X, rng.rand(n, rng.randint(1, 4)))
                model.predict(X)
            assert all(np.isfinite(c).all() for c in model.coefs_ + model.intercepts_)
        print("OK")
    """), timeout=600)
    assert result.returncode == 0 and "OK" in result.stdout, (
        f"exit {result.returncode}: {result.stderr[-3000:]}")


def test_concurrent_predicts_agree_with_sequential_ones(digits):
    """Several Python threads predicting with one fitted model at once (the kernels
    release the GIL) get exactly the answers of one thread at a time, through both
    inferences."""
    X, y = digits
    clf = LSHMLPClassifier((64,), active_fraction=0.1, max_iter=3, random_state=0,
                           n_threads=2).fit(X, y)
    chunks = [X[i::6] for i in range(6)] * 3
    for inference in ("hashed", "exact"):
        clf.set_params(inference=inference)
        sequential = [clf.predict_proba(c) for c in chunks]
        with ThreadPoolExecutor(max_workers=4) as pool:
            concurrent = list(pool.map(clf.predict_proba, chunks))
        for a, b in zip(sequential, concurrent):
            np.testing.assert_array_equal(a, b)
