"""The hash families' codes (``_kernels/_hashing.pyx``, ``sklsh/_hashing.py``): SRP's
projections, and DOPH's agreement with set overlap.
"""

import numpy as np

from sklsh._hash_state import make_hash_state

from layers import active_sets, build


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
