"""How many threads the Hogwild kernels use."""
import sys

import joblib

from ._kernels._build_info import max_threads, openmp_enabled


def usable_cores():
    """The cores this process may run on: its CPU affinity, and the CPU quota of its
    cgroup (a container given 2 of a machine's 64 cores counts 2), as joblib counts
    them."""
    return max(1, joblib.cpu_count(only_physical_cores=False))


def dask_worker_threads():
    """The thread count of the Dask worker running this code, or None outside one.

    Found through ``distributed.get_worker()``, and only when ``distributed`` is
    already imported (a worker has imported it; sklsh never imports it itself). A
    worker runs up to that many tasks at once; its nanny usually sets
    ``OMP_NUM_THREADS=1`` in worker processes, but a worker in the client's process
    (``LocalCluster(processes=False)``) or one started without that setting would
    otherwise let each fit take every core the OpenMP runtime sees."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        worker = distributed.get_worker()
    except ValueError:              # not in a worker's task
        return None
    return max(1, int(worker.state.nthreads))


def effective_n_threads(n_threads):
    """Threads for one kernel call.

    None means what the OpenMP runtime would give a parallel region now, which honours
    ``OMP_NUM_THREADS``, threadpoolctl's limits and the caps joblib puts on its
    workers, so nested parallelism (GridSearchCV with n_jobs) does not oversubscribe;
    inside a Dask worker's task, at most that worker's threads (see
    `dask_worker_threads`).
    A negative count follows joblib's ``n_jobs``: -1 is every usable core (see
    `usable_cores`), -2 all but one, and so on (``usable_cores() + 1 + n_threads``,
    at least 1). A positive count is taken as given. A build without OpenMP always
    runs one thread.
    """
    if n_threads is not None and int(n_threads) == 0:
        raise ValueError("n_threads == 0 has no meaning; give None, a positive "
                         "count, or a negative one (-1: every core).")
    if not openmp_enabled():
        return 1
    if n_threads is None:
        worker = dask_worker_threads()
        openmp = max(1, max_threads())
        return openmp if worker is None else min(openmp, worker)
    n_threads = int(n_threads)
    if n_threads < 0:
        return max(1, usable_cores() + 1 + n_threads)
    return n_threads
