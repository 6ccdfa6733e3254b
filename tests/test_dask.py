"""Fits inside Dask workers take at most their worker's threads. The clusters are
LocalClusters on 127.0.0.1, started and torn down here (``pip install -e ".[dask]"``;
where CI installed it, a missing dask fails rather than skips)."""
import logging
import os

import pytest

if os.environ.get("CI"):
    import distributed
else:
    distributed = pytest.importorskip("distributed")

import sklsh._threads  # noqa: E402
from sklsh._kernels._build_info import max_threads  # noqa: E402
from sklsh._threads import dask_worker_threads, effective_n_threads  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def fit_threads(hidden):
    """A small fit with n_threads=None, run as a task: the threads it used."""
    from sklearn.datasets import load_digits

    from sklsh import LSHMLPClassifier
    X, y = load_digits(return_X_y=True)
    clf = LSHMLPClassifier(hidden_layer_sizes=(hidden,), max_iter=1, random_state=0)
    return clf.fit(X[:300], y[:300]).n_threads_


def cluster(**kw):
    return distributed.LocalCluster(protocol="tcp://", host="127.0.0.1",
                                    dashboard_address=None, silence_logs=logging.ERROR,
                                    **kw)


def test_outside_a_worker_nothing_is_capped():
    assert dask_worker_threads() is None
    assert effective_n_threads(None) == max(1, max_threads())


def test_a_worker_in_this_process_caps_a_fit_at_its_threads(monkeypatch):
    # in-process workers share this process's OpenMP runtime (no OMP_NUM_THREADS of
    # their own): uncapped, each fit would take every thread OpenMP offers, here 4
    # whatever this machine has
    monkeypatch.setattr(sklsh._threads, "max_threads", lambda: 4)
    with cluster(n_workers=2, threads_per_worker=1, processes=False) as c, \
            distributed.Client(c) as client:
        threads = client.gather(client.map(fit_threads, [8, 16, 24, 32]))
    assert threads == [1, 1, 1, 1]


def test_worker_processes_each_fit_on_its_worker_threads():
    with cluster(n_workers=2, threads_per_worker=1, processes=True) as c, \
            distributed.Client(c) as client:
        threads = client.gather(client.map(fit_threads, [8, 16, 24, 32]))
        workers = {w["nthreads"] for w in client.scheduler_info()["workers"].values()}
    assert workers == {1}
    assert threads == [1, 1, 1, 1]


def test_sklsh_never_imports_dask(run_isolated):
    proc = run_isolated(
        "import sys\n"
        "from sklearn.datasets import load_digits\n"
        "from sklsh import LSHMLPClassifier\n"
        "import sklsh.datasets, sklsh.ensemble, sklsh.metrics\n"
        "X, y = load_digits(return_X_y=True)\n"
        "LSHMLPClassifier(hidden_layer_sizes=(8,), max_iter=1).fit(X, y)\n"
        "print(sorted(m for m in ('dask', 'distributed', 'dask_ml') if m in sys.modules))\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
