"""The active sets of hashed layers against brute force (``_kernels/_active_set.pyx``).

A layer with hash tables picks, per example, a budget of units that should contain
the units with the largest pre-activations. The finite entries of ``hashed_scores``'
output are exactly an example's active set. In-process tests give the tables room for
every unit a query can gather (``n_tables * (bucket_size - 1) >= units``); tiny
buckets are exercised in a fresh interpreter (test_tables.py).
"""

import numpy as np
import pytest

from sklsh._hash_state import srp_query_codes
from sklsh._kernels import _active_set

from layers import (BUDGET, DIM, N_QUERIES, N_UNITS, active_sets, build, dense_problem,
                    random_baseline, scores, sparse_problem, wide_problem)


# (family, mips, selection, policy, bits, bucket_size, problem, minimum recall).
# Buckets of 40 units overflow at 4 bits (a fifth of them) and at 3 bits (nearly all),
# so that the FIFO and reservoir policies both come into play. Each minimum sits well
# below what its configuration measures over several seeds, and far above the random
# baseline of BUDGET / N_UNITS = 0.05.
RECALL_CASES = [
    ("srp", False, "collisions", "fifo", 6, 128, "dense", 0.9),
    ("srp", False, "union", "fifo", 6, 128, "dense", 0.6),
    ("srp", False, "collisions", "fifo", 4, 40, "dense", 0.85),
    ("srp", False, "collisions", "reservoir", 4, 40, "dense", 0.85),
    ("srp", False, "union", "reservoir", 4, 40, "dense", 0.3),
    ("srp", False, "collisions", "fifo", 3, 40, "dense", 0.5),
    ("srp", False, "collisions", "reservoir", 3, 40, "dense", 0.75),
    # simple-LSH MIPS. On this problem it is weaker than plain angles even when the
    # projections weight every coordinate alike (0.40-0.56 for top-k, 0.31-0.34 for
    # union measured that way), but it must stay far from random.
    ("srp", True, "collisions", "fifo", 6, 128, "dense", 0.3),
    ("srp", True, "union", "reservoir", 6, 128, "dense", 0.2),
    ("wta", False, "collisions", "reservoir", 6, 128, "dense", 0.9),
    ("wta", False, "union", "fifo", 6, 128, "dense", 0.75),
    ("wta", False, "collisions", "fifo", 4, 40, "dense", 0.85),
    ("wta", False, "union", "reservoir", 4, 40, "dense", 0.3),
    ("dwta", False, "collisions", "reservoir", 6, 128, "sparse", 0.6),
    ("dwta", False, "union", "fifo", 6, 128, "sparse", 0.5),
    ("dwta", False, "collisions", "fifo", 4, 40, "sparse", 0.45),
    # DOPH sees sets, not magnitudes: weaker than DWTA where the weights' sizes
    # decide (0.65 top-k, 0.43 union, 0.68 sketch measured at seed 0)
    ("doph", False, "collisions", "fifo", 6, 128, "sparse", 0.5),
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


@pytest.mark.parametrize("selection", ["collisions", "union", "sketch"])
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


@pytest.mark.parametrize("selection", ["collisions", "union", "sketch"])
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


# Each vector path of the ranking primitives against NumPy: the kernels take the best
# path the CPU has, so without these the others would go untested on such a CPU.
LEVELS = _active_set.vector_levels()


def code_slots(words, code_bits):
    """(rows, codes): every code of each row of packed words, from bit 0 of each."""
    per = 64 // code_bits
    shifts = (np.arange(per, dtype=np.uint64) * np.uint64(code_bits))
    mask = np.uint64((1 << code_bits) - 1)
    codes = (words[..., None] >> shifts) & mask
    return codes.reshape(words.shape[0], -1)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("n_words, code_bits, n_codes", [
    (8, 1, 512), (4, 1, 256), (1, 1, 64), (3, 1, 192), (9, 1, 576), (16, 1, 1024),
    (2, 1, 100), (3, 3, 50), (2, 8, 13)])
def test_sketch_scores_match_numpy_on_each_path(level, n_words, code_bits, n_codes):
    rng = np.random.default_rng(n_words * 7 + code_bits)
    sketch = rng.integers(0, 2**63, (300, n_words), dtype=np.uint64)
    q = sketch[5] ^ rng.integers(0, 2**63, n_words, dtype=np.uint64) & sketch[7]
    agree = (code_slots(sketch, code_bits) == code_slots(q[None], code_bits))
    want = agree[:, :n_codes].sum(axis=1)
    got = _active_set.sketch_scores(q, sketch, code_bits, n_codes, level=level)
    np.testing.assert_array_equal(got, want)
    ids = rng.integers(0, 300, 50).astype(np.int32)
    got = _active_set.sketch_scores(q, sketch, code_bits, n_codes, ids=ids, level=level)
    np.testing.assert_array_equal(got, want[ids])


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("code_bits, n_codes", [(1, 64), (1, 40), (2, 32), (3, 21),
                                                (8, 5)])
def test_prefix_keep_matches_numpy_on_each_path(level, code_bits, n_codes):
    rng = np.random.default_rng(code_bits * 100 + n_codes)
    prefix = rng.integers(0, 2**63, 1003, dtype=np.uint64)    # not a multiple of 16
    q0 = prefix[11]
    shared = (code_slots(prefix[:, None], code_bits)
              == code_slots(np.array([[q0]], dtype=np.uint64), code_bits))[:, :n_codes]
    shared = shared.sum(axis=1)
    for c in (0, 1, n_codes // 2, n_codes // 2 + 3, n_codes):
        got = _active_set.prefix_keep(q0, prefix, code_bits, n_codes, c, level=level)
        np.testing.assert_array_equal(got, np.flatnonzero(shared >= c))


def take_ranked_reference(score, stamp, now, start, thr, ties, want):
    out = []
    for j in list(range(start, len(score))) + list(range(start)):
        if len(out) == want:
            break
        if stamp[j] == now:
            continue
        if score[j] > thr or (score[j] == thr and ties > 0):
            ties -= score[j] == thr
            stamp[j] = now
            out.append(j)
    return np.array(out, dtype=np.int32)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("n", [1, 15, 16, 17, 1000])
def test_take_ranked_matches_python_on_each_path(level, n):
    rng = np.random.default_rng(n)
    for trial in range(20):
        score = rng.integers(0, 12, n).astype(np.int32)
        stamp = np.where(rng.random(n) < 0.2, 3, 2).astype(np.int32)   # 3: taken
        start, thr = int(rng.integers(n)), int(rng.integers(0, 13))
        ties, want = int(rng.integers(0, n + 2)), int(rng.integers(0, n + 2))
        expected_stamp = stamp.copy()
        want_ids = take_ranked_reference(score, expected_stamp, 3, start, thr, ties, want)
        got = _active_set.take_ranked_units(score, stamp, 3, start, thr, ties, want,
                                            level=level)
        np.testing.assert_array_equal(got, want_ids)
        np.testing.assert_array_equal(stamp, expected_stamp)


def test_vector_levels_start_at_the_scalar_path():
    assert LEVELS[0] == 0 and LEVELS == list(range(len(LEVELS)))
