"""The tables and their upkeep (``_kernels/_tables.pyx``): bucket policies, refreshes
against rebuilds, packed query codes, the prefix table. Tiny buckets run in a fresh
interpreter (``test_small_buckets_do_not_overflow_the_workspace``): they once
overflowed the per-thread buffers, which corrupts the heap and aborts the run.
"""
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp

from sklsh._hash_state import group_prefixes, make_hash_state
from sklsh._kernels._network import Network
from sklsh._training import KernelInput, first_layer_queries, refresh_layer

from layers import (BUDGET, DIM, N_QUERIES, N_UNITS, build, dense_problem, dense_scores,
                    inference_net, scores, wide_problem)


def _offered(state, order, table=0):
    """Per bucket, the units hashed into it, in insertion order."""
    home = state["home"][table]
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
    net = Network([W], [b], [state], [10], "relu", "softmax", "collisions", None,
                  [np.zeros_like(W)], [np.zeros_like(b)],
                  [np.zeros(n_units, dtype=np.int32)])
    order = rng.permutation(n_units).astype(np.int64)
    early, kept = 0, 0
    for seed in range(40):
        refresh_layer(net, 0, W, b, state, order, True, seed, 1)
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
        net = Network([W], [b], [state], [10], "relu", "softmax", "collisions", None,
                      [np.zeros_like(W)], [np.zeros_like(b)],
                      [np.zeros(n_units, dtype=np.int32)])
        return net, state

    net, state = layer(W, b)
    refresh_layer(net, 0, W, b, state, np.arange(n_units, dtype=np.int64), True, 0, 1)
    changed = rng.choice(n_units, 40, replace=False).astype(np.int64)
    W[changed] = rng.normal(size=(40, DIM))     # the network reads W in place
    b[changed] = rng.normal(size=40)
    refresh_layer(net, 0, W, b, state, changed, False, 0, 1)

    W_fresh, b_fresh = W.copy(), b.copy()
    fresh_net, fresh = layer(W_fresh, b_fresh)
    refresh_layer(fresh_net, 0, W_fresh, b_fresh, fresh,
                  np.arange(n_units, dtype=np.int64), True, 0, 1)
    np.testing.assert_array_equal(state["home"], fresh["home"])
    assert (state["home"][:, changed] != -1).all()
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
        from sklsh._hash_state import make_hash_state
        from sklsh._kernels._network import Network
        from sklsh._prediction import hashed_output_scores
        from sklsh._training import KernelInput, refresh_layer
        rng = np.random.RandomState(2)
        n_units, dim, budget = 500, 32, 25
        W, b = rng.normal(size=(n_units, dim)), rng.normal(size=n_units)
        state = make_hash_state(dim, n_units, family="srp", bits_per_table=6,
                                n_tables=16, bucket_size=4, policy="fifo", window=8,
                                mips=False, dtype=np.float64, random_state=rng)
        net = Network([W], [b], [state], [budget], "relu", "softmax", "collisions", None,
                      [np.zeros_like(W)], [np.zeros_like(b)],
                      [np.zeros(n_units, dtype=np.int32)])
        refresh_layer(net, 0, W, b, state, np.arange(n_units, dtype=np.int64), True,
                      1, 1)
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
    """SRP keys are hashed in one place (a BLAS product in ``refresh_layer``): the kernel
    refuses to refresh an SRP layer without them instead of guessing."""
    from sklsh._kernels._tables import refresh_tables
    W, b, _ = dense_problem(0)
    net, _ = build(W, b)
    with pytest.raises(ValueError, match="codes must be given"):
        refresh_tables(net, 0, np.arange(N_UNITS, dtype=np.int64), 0, 1)


def test_fill_tables_refuses_what_would_write_out_of_bounds():
    """The rebuild's second step takes every unit once, each with a bucket from
    the first step, before any nogil loop writes a bucket."""
    from sklsh._kernels._tables import fill_tables
    W, b, _ = dense_problem(0)
    net, state = build(W, b)
    order = np.arange(N_UNITS, dtype=np.int64)
    for bad in (order[1:], np.r_[order[1:], 1], np.r_[order[:-1], N_UNITS]):
        with pytest.raises(ValueError):
            fill_tables(net, 0, bad, 0, 1)
    state["home"][3, 5] = -1
    with pytest.raises(ValueError, match="has no bucket"):
        fill_tables(net, 0, order, 0, 1)


@pytest.mark.parametrize("policy", ["fifo", "reservoir"])
def test_tables_are_the_same_on_any_number_of_threads(policy):
    """A thread per table, each table drawing from its own stream: a rebuild and a
    refresh leave the same buckets on 1 and on 3 threads."""
    W0, b, _ = dense_problem(2)
    moved = W0 + np.random.RandomState(0).normal(scale=0.5, size=W0.shape)
    changed = np.arange(0, N_UNITS, 3, dtype=np.int64)
    states = []
    for n_threads in (1, 3):
        W = W0.copy()
        net, state = build(W, b, bucket_size=4, policy=policy, n_threads=n_threads)
        W[changed] = moved[changed]
        refresh_layer(net, 0, W, b, state, changed, False, 11, n_threads)
        states.append(state)
    for key in ("ids", "fill", "seen", "home", "sketch"):
        np.testing.assert_array_equal(states[0][key], states[1][key])


@pytest.mark.parametrize("selection", ["collisions", "union", "sketch"])
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


@pytest.mark.parametrize("n_threads", [1, 2])      # blocks hashed on threads
@pytest.mark.parametrize("mips", [False, True])
def test_tables_rebuilt_in_blocks_hold_the_same_units(mips, n_threads, monkeypatch):
    """A full rebuild hashes the units a block at a time (bounded memory for wide
    layers); the buckets end up with the same units and the sketches and MIPS scale
    are the same as in one block."""
    import sklsh._training
    W, b, _ = dense_problem(8)
    b = np.random.RandomState(1).normal(size=N_UNITS)
    one_net, one = build(W, b, mips=mips, bucket_size=N_UNITS)
    monkeypatch.setattr(sklsh._training, "REFRESH_CHUNK", 7)
    blocks_net, blocks = build(W, b, mips=mips, bucket_size=N_UNITS, n_threads=n_threads)
    np.testing.assert_array_equal(blocks["sketch"], one["sketch"])
    np.testing.assert_array_equal(blocks["home"], one["home"])
    np.testing.assert_array_equal(blocks["fill"], one["fill"])
    assert blocks["scale"][0] == one["scale"][0]
    # the blocks are hashed before any bucket is filled, in the same order
    np.testing.assert_array_equal(blocks["ids"], one["ids"])


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
