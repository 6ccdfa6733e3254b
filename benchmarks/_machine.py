"""What this machine can do, measured in the benchmark's own run: the rate of a dense
float32 matrix product (the bound a dense network's training approaches) and the
bandwidth of a large copy (the bound of kernels that stream weights), and the
multiply-adds a training example costs, counted as sklsh's ``mult_fraction_``
counts them. A benchmark reports its models' useful rates against these, and each
run's peak memory (``peak_rss_mb``). NumPy alone: the peers' environments import it."""
import resource
import time
from pathlib import Path

import numpy as np


def dense_rate(threads, n=1024, repeats=5):
    """GFLOP/s of the best of `repeats` float32 products of two n x n matrices on
    `threads` BLAS threads (2 n^3 floating-point operations each)."""
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    best = np.inf
    with threadpool_limits(limits=threads, user_api="blas"):
        a @ b                                         # (warm: threads, pages)
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def copy_bandwidth(mib=256, repeats=5):
    """GB/s of the best of `repeats` copies of a `mib` MiB array into another (one
    read and one write of each byte), on one thread."""
    src = np.ones(mib * 2**20 // 8)
    dst = np.empty_like(src)
    np.copyto(dst, src)                               # (fault the pages in)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * src.nbytes / best / 1e9


def probe(threads):
    """The machine's rates for a run on `threads` threads."""
    return dict(threads=threads, dense_gflops=dense_rate(threads),
                dense_gflops_1_thread=dense_rate(1), copy_gbps=copy_bandwidth())


def training_macs(layer_units):
    """Multiply-adds of one training example of a dense network of `layer_units`
    (dense input), as sklsh's tally counts them: forward, then backward the weight
    gradient of every layer and the input gradient of all but the first."""
    pairs = list(zip(layer_units[:-1], layer_units[1:]))
    return sum(a * b * (2 if l == 0 else 3) for l, (a, b) in enumerate(pairs))


def peak_rss_mb():
    """Peak resident memory of this process's address space (VmHWM), in MB.

    Not ru_maxrss: Linux keeps a process's ru_maxrss across exec, so a child of a
    parent holding a large data set starts with the parent's resident size as its
    ru_maxrss; VmHWM belongs to the address space that exec made."""
    fallback = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:         # no /proc: not Linux, where ru_maxrss is the peak
        return fallback
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return fallback
