"""The hash tables and active sets against brute force.

A layer with hash tables picks, per example, a budget of units that should contain
the units with the largest pre-activations. These tests build hashed layers directly
on the kernels (``make_hash_state``, ``rehash``, ``hashed_scores``): the
finite entries of ``hashed_scores``' output are exactly an example's active set.

In-process tests give the tables room for every unit a query can gather
(``n_tables * (bucket_size - 1) >= units``). Tiny buckets are exercised in a fresh
interpreter (``test_small_buckets_do_not_overflow_the_workspace``): at commit d78cc9f
they overflowed the per-thread buffers, which corrupts the heap and aborts the run.
"""
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp

from sklsh._prediction import densify
from sklsh._hashing import group_prefixes, make_hash_state, srp_query_codes
from sklsh._kernels._hogwild import batch_gradients, hashed_scores
from sklsh._kernels._network import Network
from sklsh._training import KernelInput, first_layer_queries, rehash

N_UNITS, DIM, N_QUERIES, BUDGET = 500, 32, 200, 25


# --------------------------------------------------------------------------- helpers
def build(W, b, *, family="srp", mips=False, selection="topk", policy="fifo", bits=6,
          n_tables=16, bucket_size=128, window=8, budget=BUDGET, candidates=None,
          seed=0, key_set=None):
    """A one-layer network whose only layer is hashed, its tables built from W, b.
    Returns (network, hash state)."""
    n_units, dim = W.shape
    rng = np.random.RandomState(seed)
    state = make_hash_state(dim, n_units, family=family, bits_per_table=bits,
                            n_tables=n_tables, bucket_size=bucket_size, policy=policy,
                            window=window, mips=mips, dtype=W.dtype, random_state=rng,
                            key_set=key_set)
    net = Network([W], [b], [state], [budget], "relu", "softmax", selection,
                  None if candidates is None else [candidates], [np.zeros_like(W)],
                  [np.zeros_like(b)], [np.zeros(n_units, dtype=np.int32)])
    rehash(net, 0, W, b, state, rng.permutation(n_units).astype(np.int64), True,
           seed + 1000, 1)
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


# ------------------------------------------------------------------------ recall
# (family, mips, selection, policy, bits, bucket_size, problem, minimum recall).
# Buckets of 40 units overflow at 4 bits (a fifth of them) and at 3 bits (nearly all),
# so that the FIFO and reservoir policies both come into play. Each minimum sits well
# below what its configuration measures over several seeds, and far above the random
# baseline of BUDGET / N_UNITS = 0.05.
RECALL_CASES = [
    ("srp", False, "topk", "fifo", 6, 128, "dense", 0.9),
    ("srp", False, "union", "fifo", 6, 128, "dense", 0.6),
    ("srp", False, "topk", "fifo", 4, 40, "dense", 0.85),
    ("srp", False, "topk", "reservoir", 4, 40, "dense", 0.85),
    ("srp", False, "union", "reservoir", 4, 40, "dense", 0.3),
    ("srp", False, "topk", "fifo", 3, 40, "dense", 0.5),
    ("srp", False, "topk", "reservoir", 3, 40, "dense", 0.75),
    # simple-LSH MIPS. On this problem it is weaker than plain angles even when the
    # projections weight every coordinate alike (0.40-0.56 for top-k, 0.31-0.34 for
    # union measured that way), but it must stay far from random.
    ("srp", True, "topk", "fifo", 6, 128, "dense", 0.3),
    ("srp", True, "union", "reservoir", 6, 128, "dense", 0.2),
    ("wta", False, "topk", "reservoir", 6, 128, "dense", 0.9),
    ("wta", False, "union", "fifo", 6, 128, "dense", 0.75),
    ("wta", False, "topk", "fifo", 4, 40, "dense", 0.85),
    ("wta", False, "union", "reservoir", 4, 40, "dense", 0.3),
    ("dwta", False, "topk", "reservoir", 6, 128, "sparse", 0.6),
    ("dwta", False, "union", "fifo", 6, 128, "sparse", 0.5),
    ("dwta", False, "topk", "fifo", 4, 40, "sparse", 0.45),
    # DOPH sees sets, not magnitudes: weaker than DWTA where the weights' sizes
    # decide (0.65 top-k, 0.43 union, 0.68 sketch measured at seed 0)
    ("doph", False, "topk", "fifo", 6, 128, "sparse", 0.5),
    ("doph", False, "union", "fifo", 6, 128, "sparse", 0.3),
    # sketch ranking reads no buckets: it compares every unit's codes with the query's
    ("srp", False, "sketch", "fifo", 6, 128, "dense", 0.9),
    ("srp", False, "sketch", "fifo", 3, 40, "dense", 0.6),
    ("wta", False, "sketch", "fifo", 6, 128, "dense", 0.8),
    ("dwta", False, "sketch", "fifo", 6, 128, "sparse", 0.5),
    ("doph", False, "sketch", "fifo", 6, 128, "sparse", 0.5),
]


def _case_id(c):
    return f"{c[0]}{'-mips' if c[1] else ''}-{c[2]}-{c[3]}-{c[4]}bits-b{c[5]}"


@pytest.mark.parametrize(
    "family, mips, selection, policy, bits, bucket_size, problem, minimum",
    RECALL_CASES, ids=[_case_id(c) for c in RECALL_CASES])
def test_recall_of_the_top_unit(family, mips, selection, policy, bits, bucket_size,
                                problem, minimum):
    """The unit with the largest inner product is in the active set for most queries:
    far more often than a random choice of the same budget."""
    baseline = random_baseline(N_UNITS, BUDGET, N_QUERIES)
    assert baseline < 0.1
    W, b, Q = (dense_problem if problem == "dense" else sparse_problem)(0)
    top = np.argmax(Q @ W.T + b, axis=1)
    net, state = build(W, b, family=family, mips=mips, selection=selection,
                       policy=policy, bits=bits, bucket_size=bucket_size)
    if bucket_size < 128:
        assert (state["seen"] > bucket_size).any()      # buckets did overflow
    active = active_sets(net, Q, sparse=(problem == "sparse"))
    recall = active[np.arange(N_QUERIES), top].mean()
    assert recall >= minimum, (recall, baseline)
    assert recall > 3 * baseline


def test_srp_projections_weigh_every_coordinate_alike():
    """SRP's collision probability follows the angle between query and key only when
    the projections are isotropic: the bias coordinate (and MIPS's norm coordinate)
    must get the same second moment as the input coordinates, or the tables rank
    units by a distorted score (for MIPS: the norm coordinate drowns the direction)."""
    dim = 32
    state = make_hash_state(dim, 10, family="srp", bits_per_table=8, n_tables=64,
                            bucket_size=4, policy="fifo", window=8, mips=True,
                            dtype=np.float64, random_state=np.random.RandomState(0))
    P = state["projections"]        # (dim + 2, n_codes): inputs, bias, MIPS norm
    assert P.shape == (dim + 2, 8 * 64)
    moments = (P ** 2).mean(axis=1)
    inputs = moments[:dim].mean()
    # 512 codes per row: a row's sample second moment is within ~10% of its mean
    np.testing.assert_allclose(moments[dim:], inputs, rtol=0.25)
    assert moments[:dim].min() > 0.75 * inputs and moments[:dim].max() < 1.25 * inputs


def test_reranking_never_loses_the_top_unit():
    """With re-ranking (more candidates than the budget), every query whose top unit
    the tables found without it still has it, and recall does not drop."""
    W, b, Q = dense_problem(1)
    top = np.argmax(Q @ W.T + b, axis=1)
    plain, _ = build(W, b, bits=4, bucket_size=40)
    rerank, _ = build(W, b, bits=4, bucket_size=40, candidates=4 * BUDGET)
    hit_plain = active_sets(plain, Q)[np.arange(N_QUERIES), top]
    hit_rerank = active_sets(rerank, Q)[np.arange(N_QUERIES), top]
    assert np.all(hit_rerank[hit_plain])
    assert hit_rerank.mean() >= hit_plain.mean()


# ----------------------------------------------------------------- active-set shape
@pytest.mark.parametrize("selection", ["topk", "union", "sketch"])
@pytest.mark.parametrize("family", ["srp", "wta", "dwta", "doph"])
@pytest.mark.parametrize("budget", [1, 25, 300, N_UNITS - 1])
def test_active_set_has_the_budget_and_exact_scores(family, selection, budget):
    """Every query gets exactly `budget` distinct active units (random units fill in
    when too few collide: a query's buckets hold about 125 units), and their scores
    are the exact pre-activations."""
    rng = np.random.RandomState(2)
    W = rng.normal(size=(N_UNITS, DIM))
    b = rng.normal(size=N_UNITS)
    Q = rng.normal(size=(50, DIM))
    net, _ = build(W, b, family=family, selection=selection, budget=budget)
    out = scores(net, Q)
    active = np.isfinite(out)
    # the scores array is indexed by unit id: a duplicate id would leave fewer
    # finite entries than the budget
    np.testing.assert_array_equal(active.sum(axis=1), budget)
    assert np.all(np.isneginf(out[~active]))
    exact = Q @ W.T + b
    np.testing.assert_allclose(out[active], exact[active], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("family", ["srp", "wta", "dwta", "doph"])
def test_all_units_as_candidates_gives_the_exact_top_budget(family):
    """When the tables may propose every unit, re-ranking keeps exactly the budget of
    units with the largest pre-activations: brute force."""
    rng = np.random.RandomState(3)
    W = rng.normal(size=(N_UNITS, DIM))
    b = rng.normal(size=N_UNITS)
    Q = rng.normal(size=(40, DIM))
    net, _ = build(W, b, family=family, candidates=N_UNITS)
    active = active_sets(net, Q)
    exact = Q @ W.T + b
    expected = np.zeros_like(active)
    idx = np.argsort(-exact, axis=1)[:, :BUDGET]
    expected[np.arange(len(Q))[:, None], idx] = True
    np.testing.assert_array_equal(active, expected)


# ------------------------------------------------------- the example alone decides
@pytest.mark.parametrize("selection", ["topk", "union", "sketch"])
def test_active_set_does_not_depend_on_batch_or_threads(selection):
    """An example's active set depends on the seed and the example: not on which
    other examples are scored with it, nor on the number of threads."""
    W, b, Q = dense_problem(4)
    # few collisions (1024 buckets, half a unit each): random units must fill in
    net, _ = build(W, b, selection=selection, bits=10, budget=60)
    full = active_sets(net, Q, seed=9)
    np.testing.assert_array_equal(active_sets(net, Q[:37], seed=9), full[:37])
    np.testing.assert_array_equal(active_sets(net, Q, seed=9, n_threads=2), full)
    # the seed does matter, so the comparisons above could fail
    assert not np.array_equal(active_sets(net, Q, seed=10), full)


def _two_layer_problem(selection):
    """A network with a hashed tanh hidden layer and a dense softmax output."""
    rng = np.random.RandomState(5)
    n_in, n_hidden, n_out, n = 16, 120, 4, 8
    W = [rng.normal(size=(n_hidden, n_in)), rng.normal(size=(n_out, n_hidden)) / 5]
    b = [rng.normal(size=n_hidden), rng.normal(size=n_out)]
    state = make_hash_state(n_in, n_hidden, family="srp", bits_per_table=8, n_tables=6,
                            bucket_size=32, policy="fifo", window=8, mips=False,
                            dtype=np.float64, random_state=rng)
    gW = [np.zeros_like(w) for w in W]
    gb = [np.zeros_like(v) for v in b]
    touched = [np.zeros(w.shape[0], dtype=np.int32) for w in W]
    net = Network(W, b, [state, None], [12, n_out], "tanh", "softmax", selection,
                  [20, n_out], gW, gb, touched)
    rehash(net, 0, W[0], b[0], state, rng.permutation(n_hidden).astype(np.int64), True,
           1, 1)
    X = rng.normal(size=(n, n_in))
    label_ptr = np.arange(n + 1, dtype=np.int64)
    label_idx = rng.randint(n_out, size=n).astype(np.int32)
    return net, X, label_ptr, label_idx, gW, gb


@pytest.mark.parametrize("selection", ["topk", "union", "sketch"])
def test_batch_gradient_is_the_sum_of_example_gradients(selection):
    """The same row in different batches, in any order, gets the same active set
    for the same seed: a batch's gradient and loss are the sums of its examples'
    taken one at a time."""
    net, X, label_ptr, label_idx, gW, gb = _two_layer_problem(selection)
    Y = np.zeros((0, 0))
    args = kernel_input(X, False)

    def run(rows, seed=77):
        for g in gW + gb:
            g[...] = 0
        rows = np.asarray(rows, dtype=np.int64)
        loss = batch_gradients(net, *args, rows, label_ptr, label_idx, Y, seed, 1, 1)[0]
        return loss, [g.copy() for g in gW + gb]

    batch_loss, batch = run([6, 1, 3, 4])
    other_loss, other = run([4, 3, 1, 6])
    singles = [run([r]) for r in (6, 1, 3, 4)]
    assert batch_loss == pytest.approx(sum(s[0] for s in singles), rel=1e-12)
    assert other_loss == pytest.approx(batch_loss, rel=1e-12)
    for i, g in enumerate(batch):
        np.testing.assert_allclose(g, sum(s[1][i] for s in singles), rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_allclose(other[i], g, rtol=1e-10, atol=1e-12)
    # at most 12 active hidden units per example got gradient (the layer is sparse)
    assert 0 < np.count_nonzero(batch[2]) <= 4 * 12
    # ... and which ones depends on the seed
    assert not np.allclose(run([6, 1, 3, 4], seed=78)[1][0], batch[0])


# -------------------------------------------------------------- query representation
@pytest.mark.parametrize("selection", ["topk", "union", "sketch"])
@pytest.mark.parametrize("family", ["srp", "wta", "dwta", "doph"])
def test_dense_and_csr_queries_get_the_same_active_set(family, selection):
    """A query hashes the same whether it comes as a dense row or as CSR: the zeros a
    CSR row leaves out are zeros of the dense row. (Non-negative sparse queries, as
    pixels and ReLU activations are.)"""
    rng = np.random.RandomState(6)
    W = rng.normal(size=(N_UNITS, DIM))
    b = np.zeros(N_UNITS)
    Q = np.abs(rng.normal(size=(100, DIM))) * (rng.rand(100, DIM) < 0.3)
    net, _ = build(W, b, family=family, selection=selection)
    dense = active_sets(net, Q, seed=3)
    csr = active_sets(net, Q, sparse=True, seed=3)
    same = (dense == csr).all(axis=1)
    assert same.all(), f"{(~same).sum()} of {len(Q)} queries differ"


# ------------------------------------------------- densified one-permutation MinHash
def unit_codes(state):
    """Each unit's K * L codes, unpacked from its sketch."""
    bits = state["code_bits"]
    per_word = 64 // bits
    h = np.arange(state["n_tables"] * state["n_hashes"])
    words = state["sketch"][:, h // per_word]
    shift = ((h % per_word) * bits).astype(np.uint64)
    return (words >> shift) & np.uint64(2**bits - 1)


def test_doph_codes_agree_as_often_as_the_sets_overlap():
    """Two keys' DOPH codes agree with probability J + (1 - J) / 2^b for sets of
    Jaccard similarity J (b-bit minwise hashing), empty bins densified included."""
    rng = np.random.RandomState(11)
    dim, size, n_pairs = 5000, 200, 20
    shared = {1.0: 200, 0.6: 150, 0.33: 100, 0.1: 36}      # |A & B| for each J
    rows = []
    for J, common in shared.items():
        for _ in range(n_pairs):
            coords = rng.choice(dim, 2 * size - common, replace=False)
            a = coords[:size]
            b = np.concatenate([coords[:common], coords[size:]])
            assert abs(len(np.intersect1d(a, b)) / len(np.union1d(a, b)) - J) < 0.01
            for s in (a, b):
                w = -rng.rand(dim)                  # negative weights are not in the set
                w[s] = rng.rand(size) + 0.5
                rows.append(w)
    W = np.array(rows)
    _, state = build(W, np.zeros(len(W)), family="doph", n_tables=64, bits=6,
                     budget=1, key_set=size)
    codes = unit_codes(state)
    b = state["code_bits"]
    for i, J in enumerate(shared):
        pairs = codes[2 * n_pairs * i:2 * n_pairs * (i + 1)]
        agree = (pairs[0::2] == pairs[1::2]).mean()
        assert abs(agree - (J + (1 - J) / 2**b)) < 0.05, (J, agree)


def test_doph_keys_are_their_largest_positive_weights():
    """A key's set is its `key_set` largest positive weights (fewer when fewer are
    positive): their values do not matter, nor the smaller weights. A query whose
    non-zeros are that set gets the very same codes, so the sketch ranks the key first."""
    rng = np.random.RandomState(12)
    dim, size, n_units = 400, 30, 200
    W = -rng.rand(n_units, dim)
    for u in range(n_units):
        W[u, rng.choice(dim, size, replace=False)] = rng.rand(size) + 1
    S = rng.choice(dim, size, replace=False)
    W[0] = 0.01 * rng.rand(dim)                 # small positive weights everywhere ...
    W[0, S] = rng.rand(size) + 1                # ... and the set
    W[1] = -1
    W[1, S] = 1                                 # exactly the set
    W[2] = -1
    W[2, S[:5]] = 3                             # fewer positives than key_set
    W[3] = 0
    W[3, S[:5]] = 1
    net, state = build(W, np.zeros(n_units), family="doph", n_tables=32, bits=6,
                       budget=2, candidates=2, selection="sketch", key_set=size)
    codes = unit_codes(state)
    np.testing.assert_array_equal(codes[0], codes[1])
    np.testing.assert_array_equal(codes[2], codes[3])
    assert (codes[0] != codes[4]).any()
    Q = np.zeros((2, dim))
    Q[0, S] = rng.rand(size) + 0.1
    Q[1, S[:5]] = 7
    active = active_sets(net, Q, sparse=True)
    assert set(np.flatnonzero(active[0])) == {0, 1}
    assert set(np.flatnonzero(active[1])) == {2, 3}


# ------------------------------------------------------------------------ tables
def _offered(state, order, table=0):
    """Per bucket, the units hashed into it, in insertion order."""
    home = state["home"][:, table]
    buckets = {}
    for u in order:
        buckets.setdefault(int(home[u]), []).append(int(u))
    return buckets


@pytest.mark.parametrize("policy", ["fifo", "reservoir"])
def test_bucket_policies(policy):
    """A full bucket keeps the last `bucket_size` units offered (FIFO) or a uniform
    sample of all of them (reservoir); fill and offer counts are exact and a bucket
    never holds a unit twice."""
    rng = np.random.RandomState(7)
    n_units, bucket_size = 300, 8
    W = rng.normal(size=(n_units, DIM))
    b = np.zeros(n_units)
    state = make_hash_state(DIM, n_units, family="srp", bits_per_table=2, n_tables=1,
                            bucket_size=bucket_size, policy=policy, window=8,
                            mips=False, dtype=np.float64, random_state=rng)
    net = Network([W], [b], [state], [10], "relu", "softmax", "topk", None,
                  [np.zeros_like(W)], [np.zeros_like(b)],
                  [np.zeros(n_units, dtype=np.int32)])
    order = rng.permutation(n_units).astype(np.int64)
    early, kept = 0, 0
    for seed in range(40):
        rehash(net, 0, W, b, state, order, True, seed, 1)
        offered = _offered(state, order)
        assert sum(len(v) for v in offered.values()) == n_units
        for bucket in range(4):
            units = offered.get(bucket, [])
            fill = state["fill"][0, bucket]
            ids = state["ids"][0, bucket, :fill]
            assert state["seen"][0, bucket] == len(units)
            assert fill == min(len(units), bucket_size)
            assert len(set(ids.tolist())) == fill
            assert set(ids.tolist()) <= set(units)
            if policy == "fifo":
                assert set(ids.tolist()) == set(units[-bucket_size:])
            if len(units) >= 4 * bucket_size:
                first_half = set(units[:len(units) // 2])
                early += sum(u in first_half for u in ids.tolist())
                kept += fill
    assert kept > 0
    if policy == "fifo":
        assert early == 0
    else:
        # a uniform sample takes half of its units from the first half
        assert 0.4 < early / kept < 0.6


@pytest.mark.parametrize("family", ["srp", "wta"])
def test_incremental_refresh_matches_a_rebuild(family):
    """Re-hashing only the units whose weights changed leaves the tables as a full
    rebuild from the new weights would (when no bucket overflows)."""
    rng = np.random.RandomState(8)
    n_units = 200
    W = rng.normal(size=(n_units, DIM))
    b = rng.normal(size=n_units)

    def layer(W, b):
        state = make_hash_state(DIM, n_units, family=family, bits_per_table=4,
                                n_tables=6, bucket_size=n_units, policy="fifo", window=8,
                                mips=False, dtype=np.float64,
                                random_state=np.random.RandomState(0))
        net = Network([W], [b], [state], [10], "relu", "softmax", "topk", None,
                      [np.zeros_like(W)], [np.zeros_like(b)],
                      [np.zeros(n_units, dtype=np.int32)])
        return net, state

    net, state = layer(W, b)
    rehash(net, 0, W, b, state, np.arange(n_units, dtype=np.int64), True, 0, 1)
    changed = rng.choice(n_units, 40, replace=False).astype(np.int64)
    W[changed] = rng.normal(size=(40, DIM))     # the network reads W in place
    b[changed] = rng.normal(size=40)
    rehash(net, 0, W, b, state, changed, False, 0, 1)

    W_fresh, b_fresh = W.copy(), b.copy()
    fresh_net, fresh = layer(W_fresh, b_fresh)
    rehash(fresh_net, 0, W_fresh, b_fresh, fresh, np.arange(n_units, dtype=np.int64),
           True, 0, 1)
    np.testing.assert_array_equal(state["home"], fresh["home"])
    assert (state["home"][changed] != -1).all()
    for t in range(6):
        for bucket in range(16):
            got = state["ids"][t, bucket, :state["fill"][t, bucket]]
            want = fresh["ids"][t, bucket, :fresh["fill"][t, bucket]]
            assert sorted(got.tolist()) == sorted(want.tolist())


def test_small_buckets_do_not_overflow_the_workspace(run_isolated):
    """Tiny buckets (many distinct candidates relative to n_tables * bucket_size)
    are a legal configuration: scoring must neither corrupt memory nor miss the
    budget. Run in a fresh interpreter, since heap corruption aborts the process."""
    result = run_isolated(textwrap.dedent("""
        import numpy as np
        from sklsh._hashing import make_hash_state
        from sklsh._kernels._network import Network
        from sklsh._prediction import hashed_output_scores
        from sklsh._training import KernelInput, rehash
        rng = np.random.RandomState(2)
        n_units, dim, budget = 500, 32, 25
        W, b = rng.normal(size=(n_units, dim)), rng.normal(size=n_units)
        state = make_hash_state(dim, n_units, family="srp", bits_per_table=6,
                                n_tables=16, bucket_size=4, policy="fifo", window=8,
                                mips=False, dtype=np.float64, random_state=rng)
        net = Network([W], [b], [state], [budget], "relu", "softmax", "topk", None,
                      [np.zeros_like(W)], [np.zeros_like(b)],
                      [np.zeros(n_units, dtype=np.int32)])
        rehash(net, 0, W, b, state, np.arange(n_units, dtype=np.int64), True, 1, 1)
        Q = rng.normal(size=(200, dim))
        for _ in range(3):
            ids, out = hashed_output_scores(net, None, Q, 5, 1)
            assert (ids >= 0).all() and np.isfinite(out).all()
            assert all(len(set(row)) == budget for row in ids)
        print("OK")
    """))
    assert result.returncode == 0 and "OK" in result.stdout, (
        f"exit {result.returncode}: {result.stderr[-2000:]}")


def test_srp_tables_need_the_codes_from_blas():
    """SRP keys are hashed in one place (a BLAS product in ``rehash``): the kernel
    refuses to refresh an SRP layer without them instead of guessing."""
    from sklsh._kernels._tables import refresh_tables
    W, b, _ = dense_problem(0)
    net, _ = build(W, b)
    with pytest.raises(ValueError, match="codes must be given"):
        refresh_tables(net, 0, np.arange(N_UNITS, dtype=np.int64), True, 0, 1)


# ------------------------------------------------------------ precomputed queries
@pytest.mark.parametrize("selection", ["topk", "union", "sketch"])
@pytest.mark.parametrize("sparse", [False, True])
def test_precomputed_first_layer_queries_match_kernel_hashing(selection, sparse):
    """The first layer's SRP queries hashed once by BLAS (what fit and predict do)
    give the same active sets as the kernels hashing each example themselves."""
    W, b, Q = dense_problem(4)
    Q[Q < 0.5] = 0          # zeros, so that the CSR rows skip coordinates
    net, state = build(W, b, selection=selection, candidates=2 * BUDGET)
    data = KernelInput(sp.csr_matrix(Q) if sparse else Q, Q.dtype)
    ops = first_layer_queries(net, state, data, 1)
    assert data.q_buckets.shape == (N_QUERIES, 16) and ops > 0
    np.testing.assert_array_equal(dense_scores(net, data.args()),
                                  scores(net, Q, sparse=sparse))


def test_precomputed_queries_are_checked():
    W, b, Q = dense_problem(5)
    net, state = build(W, b)
    data = KernelInput(Q, Q.dtype)
    first_layer_queries(net, state, data, 1)
    data.q_buckets[3, 2] = 1 << 6           # one past the last bucket of 6 bits
    with pytest.raises(ValueError, match="query bucket out of range"):
        dense_scores(net, data.args())
    data.q_buckets = data.q_buckets[:, :4].copy()
    with pytest.raises(ValueError, match="do not match"):
        dense_scores(net, data.args())


def test_sketch_ranking_ignores_bits_past_the_last_code():
    """Garbage in a sketch word's unused slots (a tampered model) cannot push a unit's
    score out of range: the last word is masked to the codes it holds."""
    W, b, Q = dense_problem(6)
    net, state = build(W, b, selection="sketch", n_tables=3, bits=5)   # 15 codes
    clean = scores(net, Q)
    state["sketch"][::2, -1] |= np.uint64(1) << np.uint64(40)   # every other unit
    np.testing.assert_array_equal(scores(net, Q), clean)


def sketch_selection(n_tables, bits, budget):
    """The active sets a sketch-selecting layer picks without re-ranking, and the
    codes each unit's sketch shares with each query's: all of them, and those of the
    sketch's first word (the prefix array, checked to hold it)."""
    W, b, Q = dense_problem(7)
    net, state = build(W, b, selection="sketch", n_tables=n_tables, bits=bits,
                       budget=budget)
    active = active_sets(net, Q)
    assert (active.sum(axis=1) == budget).all()
    np.testing.assert_array_equal(state["prefix"], state["sketch"][:, 0])
    queries = srp_query_codes(Q, state)
    keys = np.unpackbits(state["sketch"].view(np.uint8), axis=1,
                         bitorder="little")[:, :n_tables * bits]
    agree = queries[:, None, :] == keys[None, :, :]
    return active, agree.sum(axis=2), agree[:, :, :64].sum(axis=2)


@pytest.mark.parametrize("n_tables, bits", [(32, 8), (64, 8), (5, 7)])
def test_sketch_selection_takes_the_units_sharing_most_codes(n_tables, bits):
    """Without re-ranking, the sketch selection is exactly the units whose SRP codes
    agree most often with the query's (256 and 512 codes take the vectorised
    popcount, 35 codes the word-by-word one). A budget of a third of the units is
    ranked in one pass."""
    budget = N_UNITS // 3
    active, matches, _ = sketch_selection(n_tables, bits, budget)
    for i in range(N_QUERIES):
        assert matches[i][active[i]].min() >= matches[i][~active[i]].max()


@pytest.mark.parametrize("n_tables, bits", [(32, 8), (64, 8), (20, 7)])
def test_wide_sketch_selection_ranks_the_prefix_survivors(n_tables, bits):
    """A layer at least 32 times wider than its budget is ranked in two passes: the
    first sketch word keeps at least twice the budget (every unit at the cut; at
    500 units the cut's sample is every unit), their whole sketches choose. The
    chosen units all pass the first cut and beat every unit that surely passed it."""
    budget = N_UNITS // 32
    active, matches, first = sketch_selection(n_tables, bits, budget)
    for i in range(N_QUERIES):
        cut = np.sort(first[i])[::-1][2 * budget - 1]      # the 2 * budget-th best
        assert first[i][active[i]].min() >= cut
        kept = first[i] > cut
        assert matches[i][active[i]].min() >= matches[i][kept & ~active[i]].max()


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


def test_wide_sketch_selection_on_a_sampled_cut():
    """With the cut read off a sample, the chosen units still beat, on their whole
    sketches, every unit whose first word scores better than the worst chosen one
    (all of those passed the first cut; of those at the cut, a share did), and they
    mostly hold the query's source."""
    W, b, Q, state, net = wide_problem()
    active = active_sets(net, Q)
    assert (active.sum(axis=1) == 100).all()
    queries = srp_query_codes(Q, state)
    keys = np.unpackbits(state["sketch"].view(np.uint8), axis=1, bitorder="little")
    agree = queries[:, None, :] == keys[None, :, :]
    matches, first = agree.sum(axis=2), agree[:, :, :64].sum(axis=2)
    for i in range(N_QUERIES):
        passed = first[i] > first[i][active[i]].min()
        assert matches[i][active[i]].min() >= matches[i][passed & ~active[i]].max()
    top = np.argmax(Q @ W.T, axis=1)
    assert active[np.arange(N_QUERIES), top].mean() > 0.9


def test_prefix_table_changes_the_speed_not_the_choice():
    """Ranking distinct prefixes once each (the prefix table that fit leaves for
    inference) picks exactly the units the unit-by-unit pass picks, ties included; a
    training network ignores the table (its prefixes change as it learns)."""
    W, b, Q, state, net = wide_problem()
    plain = scores(net, Q)
    assert np.isfinite(scores(inference_net(W, b, state), Q)).sum() == 100 * N_QUERIES
    group_prefixes(state)
    assert 300 <= state["groups"].shape[0] < 10000
    np.testing.assert_array_equal(scores(inference_net(W, b, state), Q), plain)
    np.testing.assert_array_equal(scores(net, Q), plain)


def test_prefix_table_groups_units_by_prefix():
    W, b, Q, state, net = wide_problem()
    group_prefixes(state)
    groups, ptr, units = state["groups"], state["group_ptr"], state["group_units"]
    assert (groups[1:] > groups[:-1]).all()        # distinct, ascending
    np.testing.assert_array_equal(np.sort(units), np.arange(10000))
    owner = np.repeat(np.arange(groups.shape[0]), np.diff(ptr))
    np.testing.assert_array_equal(state["prefix"][units], groups[owner])


@pytest.mark.parametrize("tamper, message", [
    (lambda s: s["group_ptr"].__setitem__(-1, 9999), "malformed prefix table"),
    (lambda s: s["group_ptr"].__setitem__(1, 0), "malformed prefix table"),
    (lambda s: s["group_units"].__setitem__(5, 10000), "unit ids out of range"),
    (lambda s: s.__setitem__("groups", s["groups"][:-1]), "expected a C-contiguous"),
])
def test_a_tampered_prefix_table_is_refused(tamper, message):
    W, b, Q, state, net = wide_problem(n_units=4000, budget=50)
    group_prefixes(state)
    tamper(state)
    with pytest.raises(ValueError, match=message):
        inference_net(W, b, state, budget=50)


@pytest.mark.parametrize("mips", [False, True])
def test_tables_rebuilt_in_blocks_hold_the_same_units(mips, monkeypatch):
    """A full rebuild hashes the units a block at a time (bounded memory for wide
    layers); the buckets end up with the same units and the sketches and MIPS scale
    are the same as in one block."""
    import sklsh._training
    W, b, _ = dense_problem(8)
    b = np.random.RandomState(1).normal(size=N_UNITS)
    one_net, one = build(W, b, mips=mips, bucket_size=N_UNITS)
    monkeypatch.setattr(sklsh._training, "REHASH_CHUNK", 7)
    blocks_net, blocks = build(W, b, mips=mips, bucket_size=N_UNITS)
    np.testing.assert_array_equal(blocks["sketch"], one["sketch"])
    np.testing.assert_array_equal(blocks["home"], one["home"])
    np.testing.assert_array_equal(blocks["fill"], one["fill"])
    assert blocks["scale"][0] == one["scale"][0]
    for t in range(one["ids"].shape[0]):
        for bucket in np.flatnonzero(one["fill"][t]):
            n = one["fill"][t, bucket]
            np.testing.assert_array_equal(np.sort(blocks["ids"][t, bucket, :n]),
                                          np.sort(one["ids"][t, bucket, :n]))
