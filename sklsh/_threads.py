"""How many threads the Hogwild kernels use."""
import joblib

from ._kernels._build_info import max_threads, openmp_enabled


def usable_cores():
    """The cores this process may run on: its CPU affinity, and the CPU quota of its
    cgroup (a container given 2 of a machine's 64 cores counts 2), as joblib counts
    them."""
    return max(1, joblib.cpu_count(only_physical_cores=False))


def effective_n_threads(n_threads):
    """Threads for one kernel call.

    None means what the OpenMP runtime would give a parallel region now, which honours
    ``OMP_NUM_THREADS``, threadpoolctl's limits and the caps joblib puts on its
    workers, so nested parallelism (GridSearchCV with n_jobs) does not oversubscribe.
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
        return max(1, max_threads())
    n_threads = int(n_threads)
    if n_threads < 0:
        return max(1, usable_cores() + 1 + n_threads)
    return n_threads
