"""Shared fixtures of sklsh's tests: small data sets and sensible thread caps."""
import os

# Idle OpenMP threads sleep instead of spinning: on a small, shared machine spinning
# workers of the Hogwild kernels would starve each other (results are unaffected).
# Must be set before the kernels' OpenMP runtime loads, hence before any import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread():
    """Keep BLAS on one thread: the Hogwild kernels (n_threads) are what the tests
    exercise, and the machine is small, so NumPy's own threads would only compete."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="session")
def _digits_raw():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0                    # pixels 0..16 scaled to [0, 1]
    X.setflags(write=False)         # shared by the session: nobody may change it
    y.setflags(write=False)
    return X, y


@pytest.fixture
def digits(_digits_raw):
    """sklearn's digits, float64, scaled to [0, 1]: (X, y), private copies."""
    X, y = _digits_raw
    return X.copy(), y.copy()


@pytest.fixture
def digits32(_digits_raw):
    """sklearn's digits as float32 in [0, 1]: (X, y)."""
    X, y = _digits_raw
    return X.astype(np.float32), y.copy()


@pytest.fixture
def digits_split(_digits_raw):
    """A fixed stratified train / held-out split of digits (float64):
    (X_train, X_test, y_train, y_test)."""
    from sklearn.model_selection import train_test_split
    X, y = _digits_raw
    return train_test_split(X.copy(), y.copy(), test_size=0.3, stratify=y,
                            random_state=0)


@pytest.fixture
def run_isolated():
    """Run Python source in a fresh interpreter (for code that may crash the process,
    e.g. by corrupting the heap): returns the CompletedProcess."""
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])

    def run(source, timeout=120):
        env = dict(os.environ)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        return subprocess.run([sys.executable, "-c", source], cwd=root, env=env,
                              capture_output=True, text=True, timeout=timeout)
    return run
