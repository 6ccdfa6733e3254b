"""Hashed layers built directly on the kernels, and their brute-force answers: the
shared fixtures of the kernel tests (test_active_set, test_tables, test_hogwild).
"""
import numpy as np
import scipy.sparse as sp

from sklsh._prediction import densify
from sklsh._hash_state import make_hash_state
from sklsh._kernels._hogwild import hashed_scores
from sklsh._kernels._network import Network
from sklsh._training import KernelInput, refresh_layer

N_UNITS, DIM, N_QUERIES, BUDGET = 500, 32, 200, 25


def build(W, b, *, family="srp", mips=False, selection="collisions", policy="fifo", bits=6,
          n_tables=16, bucket_size=128, window=8, budget=BUDGET, candidates=None,
          seed=0, key_set=None, n_threads=1):
    """A one-layer network whose only layer is hashed, its tables built from W, b
    on `n_threads`. Returns (network, hash state)."""
    n_units, dim = W.shape
    rng = np.random.RandomState(seed)
    state = make_hash_state(dim, n_units, family=family, bits_per_table=bits,
                            n_tables=n_tables, bucket_size=bucket_size, policy=policy,
                            window=window, mips=mips, dtype=W.dtype, random_state=rng,
                            key_set=key_set)
    net = Network([W], [b], [state], [budget], "relu", "softmax", selection,
                  None if candidates is None else [candidates], [np.zeros_like(W)],
                  [np.zeros_like(b)], [np.zeros(n_units, dtype=np.int32)])
    refresh_layer(net, 0, W, b, state, rng.permutation(n_units).astype(np.int64), True,
                  seed + 1000, n_threads)
    return net, state


def kernel_input(Q, sparse):
    """Q as the kernels read it (they hash the queries themselves)."""
    return KernelInput(sp.csr_matrix(Q) if sparse else Q, Q.dtype).args()


def dense_scores(net, args, seed=5, n_threads=1):
    """Pre-activations of each query's active units, -inf elsewhere, from the
    kernel's compact (ids, scores) output."""
    n = (args[3].shape[0] - 1) if args[4] else args[0].shape[0]
    ids = np.empty((n, net.output_width), dtype=np.int32)
    out = np.empty((n, net.output_width), dtype=net.dtype)
    hashed_scores(net, *args, ids, out, seed, n_threads)
    return densify(ids, out, net.n_outputs)


def scores(net, Q, *, sparse=False, seed=5, n_threads=1):
    return dense_scores(net, kernel_input(Q, sparse), seed, n_threads)


def active_sets(net, Q, **kw):
    return np.isfinite(scores(net, Q, **kw))


def dense_problem(seed):
    """Gaussian unit weights (no biases) and queries that are noisy copies of random
    units, so that each query has a clear top unit."""
    rng = np.random.RandomState(seed)
    W = rng.normal(size=(N_UNITS, DIM))
    src = rng.randint(N_UNITS, size=N_QUERIES)
    Q = W[src] + 0.3 * rng.normal(size=(N_QUERIES, DIM))
    return W, np.zeros(N_UNITS), Q


def sparse_problem(seed):
    """Non-negative sparse unit weights and queries that are perturbed, thinned copies
    of random units (the regime densified WTA is for)."""
    rng = np.random.RandomState(seed)
    W = np.abs(rng.normal(size=(N_UNITS, DIM))) * (rng.rand(N_UNITS, DIM) < 0.3)
    src = rng.randint(N_UNITS, size=N_QUERIES)
    Q = W[src] * (1 + 0.1 * rng.normal(size=(N_QUERIES, DIM)))
    Q *= rng.rand(N_QUERIES, DIM) < 0.9
    return W, np.zeros(N_UNITS), Q


def random_baseline(n_units, budget, n_queries, seed=0):
    """Recall of choosing the budget uniformly at random (what useless tables give)."""
    rng = np.random.RandomState(seed)
    top = rng.randint(n_units, size=n_queries)
    hits = [top[i] in rng.choice(n_units, budget, replace=False)
            for i in range(n_queries)]
    return float(np.mean(hits))


def wide_problem(n_units=10000, budget=100, seed=12):
    """A layer of 10000 units, 100 of them active: the first pass's cut is read off
    a sample of every 4th unit. Returns the trained-for-inference pieces: (W, b,
    queries, hash state, network); the state's units share prefixes the way output
    units do, since their weights are noisy copies of 300 prototypes."""
    rng = np.random.RandomState(seed)
    prototypes = rng.normal(size=(300, DIM))
    W = prototypes[rng.randint(300, size=n_units)] + 0.02 * rng.normal(size=(n_units, DIM))
    Q = W[rng.randint(n_units, size=N_QUERIES)] + 0.3 * rng.normal(size=(N_QUERIES, DIM))
    b = np.zeros(n_units)
    net, state = build(W, b, selection="sketch", n_tables=64, bits=8, budget=budget)
    return W, b, Q, state, net


def inference_net(W, b, state, budget=100):
    """A network that can only infer, reading `state` (with its prefix table if the
    state has one)."""
    return Network([W], [b], [state], [budget], "relu", "softmax", "sketch")
