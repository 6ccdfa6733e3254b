"""sklsh on Dask: fits inside workers take at most their worker's threads; a grid
search through joblib's Dask backend; training from files block by block
(dask-ml's Incremental, ``sklsh.blockwise.partial_fit``); blockwise predictions. The
clusters are LocalClusters on 127.0.0.1, started and torn down here, and every test
has a deadline (``pip install -e ".[dask]"``; where CI installed it, a missing dask
fails rather than skips)."""
import logging
import os
import signal

import numpy as np
import pytest
import scipy.sparse as sp

if os.environ.get("CI"):
    import distributed
else:
    distributed = pytest.importorskip("distributed")

import sklsh._threads  # noqa: E402
from sklsh._kernels._build_info import max_threads  # noqa: E402
from sklsh._threads import dask_worker_threads, effective_n_threads  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

DEADLINE = 120      # seconds a test may take, cluster start included


@pytest.fixture(autouse=True)
def deadline():
    """Fail a test that runs past DEADLINE instead of hanging the suite."""
    def expire(signum, frame):
        raise TimeoutError(f"the test ran past its {DEADLINE} s deadline")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(DEADLINE)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


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


@pytest.fixture(scope="module")
def workers():
    """A client of 2 worker processes of 1 thread each, shared by this module's tests
    (it starts outside any test's deadline, and closes within 60 s)."""
    with cluster(n_workers=2, threads_per_worker=1, processes=True) as c, \
            distributed.Client(c, timeout=60) as client:
        yield client


def test_worker_processes_each_fit_on_its_worker_threads(workers):
    threads = workers.gather(workers.map(fit_threads, [8, 16, 24, 32]))
    assert {w["nthreads"] for w in workers.scheduler_info()["workers"].values()} == {1}
    assert threads == [1, 1, 1, 1]


def digits(n=600):
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return (X[:n] / 16).astype(np.float32), y[:n]


def model(**kw):
    from sklsh import LSHMLPClassifier
    return LSHMLPClassifier(**{**dict(hidden_layer_sizes=(64,), active_fraction=0.25,
                                      max_iter=5, n_threads=1, random_state=0), **kw})


def test_a_search_on_worker_processes_matches_the_sequential_one(workers):
    import joblib
    from sklearn.model_selection import GridSearchCV
    X, y = digits()
    grid = {"learning_rate_init": [1e-3, 1e-2], "n_tables": [8, 16]}
    search = GridSearchCV(model(), grid, cv=2)
    with joblib.parallel_config(backend="dask"):
        on_workers = search.fit(X, y).cv_results_["mean_test_score"]
    alone = GridSearchCV(model(), grid, cv=2).fit(X, y)
    np.testing.assert_array_equal(on_workers, alone.cv_results_["mean_test_score"])
    assert search.best_params_ == alone.best_params_ and search.best_score_ > 0.6


def write_text_file(path, X, y, libsvm):
    """X (CSR) and labels y (a vector, or an indicator) in libsvm's format (1-based
    features) or the XMC format (with its header)."""
    with open(path, "w") as f:
        if not libsvm:
            f.write(f"{X.shape[0]} {X.shape[1]} {y.shape[1]}\n")
        for i in range(X.shape[0]):
            row = X[i]
            label = (f"{y[i]}" if libsvm else ",".join(map(str, y[i].indices)))
            f.write(label + "".join(f" {j + libsvm}:{v!r}" for j, v in
                                    zip(row.indices, row.data.tolist())) + "\n")


def test_incremental_streams_sparse_blocks_read_on_workers(workers, tmp_path):
    """dask-ml's Incremental over the CSR blocks of a libsvm file, read on the
    workers, trains exactly as partial_fit on the same blocks in memory."""
    from dask_ml.wrappers import Incremental

    from sklsh.datasets import (dask_text_blocks, make_extreme_classification,
                                read_libsvm_blocks)
    X, y, _ = make_extreme_classification(1200, 400, 20, random_state=0)
    path = tmp_path / "train.svm"
    write_text_file(path, X, y, libsvm=True)
    dX, dy = dask_text_blocks(path, format="libsvm", n_features=400, block_size=300)
    assert dX.chunks[0] == (300,) * 4 and sp.issparse(dX._meta)
    classes = np.arange(20.0)
    streamed = Incremental(model(), shuffle_blocks=False).fit(dX, dy, classes=classes)
    ref = model()
    for X_block, y_block in read_libsvm_blocks(path, n_features=400, block_size=300):
        ref.partial_fit(X_block, y_block, classes=classes)
    for a, b in zip(streamed.estimator_.coefs_, ref.coefs_):
        np.testing.assert_array_equal(a, b)
    assert streamed.score(dX, dy) == ref.score(X, y)


def test_label_indicator_blocks_train_through_blockwise_partial_fit(workers, tmp_path):
    """Incremental takes 1-d targets only; sklsh.blockwise.partial_fit streams the
    label-indicator blocks of an XMC file, read on the workers, over two epochs,
    exactly as partial_fit in memory, and leaves the estimator it was given alone."""
    from sklsh import blockwise
    from sklsh.datasets import dask_text_blocks, load_xmc, make_extreme_classification
    X, Y, _ = make_extreme_classification(900, 300, 30, multilabel=True, n_labels=2,
                                          random_state=1)
    path = tmp_path / "train.txt"
    write_text_file(path, X, Y, libsvm=False)
    dX, dY = dask_text_blocks(path, block_size=250)
    X_mem, Y_mem = load_xmc(path)
    assert (dX.compute() != X_mem).nnz == 0 and (dY.compute() != Y_mem).nnz == 0
    given = model()
    trained = blockwise.partial_fit(given, dX, dY, epochs=2, classes=np.arange(30))
    assert not hasattr(given, "coefs_")
    ref = model()
    for _ in range(2):
        for start in range(0, 900, 250):
            ref.partial_fit(X_mem[start:start + 250], Y_mem[start:start + 250],
                            classes=np.arange(30))
    for a, b in zip(trained.coefs_ + trained.intercepts_, ref.coefs_ + ref.intercepts_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("sparse", [False, True])
def test_blockwise_predictions_are_the_in_memory_ones(workers, sparse):
    """Blockwise predict, predict_proba and predict_topk (and dask-ml's
    ParallelPostFit) give bit for bit what the model gives on the whole array."""
    import dask.array as da
    from dask_ml.wrappers import ParallelPostFit

    from sklsh import blockwise
    X, y = digits(900)
    clf = model(hidden_layer_sizes=(128,), active_fraction=0.1).fit(X, y)
    data = sp.csr_matrix(X) if sparse else X
    dX = da.from_array(data, chunks=(250, 32), asarray=False)
    np.testing.assert_array_equal(blockwise.predict(clf, dX).compute(), clf.predict(data))
    np.testing.assert_array_equal(blockwise.predict_proba(clf, dX).compute(),
                                  clf.predict_proba(data))
    classes, proba = blockwise.predict_topk(clf, dX, k=3)
    expected = clf.predict_topk(data, k=3)
    np.testing.assert_array_equal(classes.compute(), expected[0])
    np.testing.assert_array_equal(proba.compute(), expected[1])
    post = ParallelPostFit(clf)
    np.testing.assert_array_equal(post.predict_proba(dX).compute(),
                                  clf.predict_proba(data))


def test_a_label_indicator_model_predicts_sparse_blocks(workers):
    import dask.array as da

    from sklsh import blockwise
    from sklsh.datasets import make_extreme_classification
    X, Y, _ = make_extreme_classification(600, 300, 30, multilabel=True, random_state=2)
    clf = model().fit(X, Y)
    predicted = blockwise.predict(clf, da.from_array(X, chunks=(200, 300), asarray=False))
    assert sp.issparse(predicted._meta)
    assert (predicted.compute() != clf.predict(X)).nnz == 0


def test_blockwise_and_dask_text_blocks_refuse_what_they_cannot_read(tmp_path):
    from sklsh import blockwise
    from sklsh.datasets import dask_text_blocks
    X, y = digits(100)
    clf = model().fit(X, y)
    with pytest.raises(TypeError, match="X must be a 2-d dask array"):
        blockwise.predict(clf, X)
    import dask.array as da
    dX = da.from_array(X, chunks=(50, 64))
    with pytest.raises(TypeError, match="y must be a dask array"):
        blockwise.partial_fit(model(), dX, y)
    with pytest.raises(ValueError, match="X has 100 rows but y has 99"):
        blockwise.partial_fit(model(), dX, da.from_array(y[:99]))
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        blockwise.partial_fit(model(), dX, da.from_array(y), epochs=0)
    path = tmp_path / "data.txt"
    path.write_text("0 1:1\n")
    with pytest.raises(ValueError, match="no header: give n_features and n_labels"):
        dask_text_blocks(path)
    with pytest.raises(ValueError, match="format must be one of"):
        dask_text_blocks(path, format="csv", n_features=2, n_labels=1)
    with pytest.raises(ValueError, match="compressed"):
        dask_text_blocks(tmp_path / "data.txt.gz", n_features=2, n_labels=1)


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
