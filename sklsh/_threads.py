"""How many threads the Hogwild kernels use."""
from ._kernels._build_info import max_threads, openmp_enabled


def effective_n_threads(n_threads):
    """Threads for one kernel call.

    None means what the OpenMP runtime would give a parallel region now, which honours
    ``OMP_NUM_THREADS``, threadpoolctl's limits and the caps joblib puts on its
    workers, so nested parallelism (GridSearchCV with n_jobs) does not oversubscribe.
    A build without OpenMP always runs one thread.
    """
    if not openmp_enabled():
        return 1
    if n_threads is None:
        return max(1, max_threads())
    return int(n_threads)
