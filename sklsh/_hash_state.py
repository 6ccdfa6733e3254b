"""Hash state of one layer, drawn from a random state into plain arrays.

A layer's hash state is a dict of NumPy arrays and ints that the kernels read through
``sklsh._kernels._network.Network``: the hash functions (SRP projections, or the
permutations of WTA, DWTA and DOPH), the units' sketches (all their codes, packed) and,
for the selections that read buckets, the tables (unit ids, fill counts, insertion
counters, each unit's current bucket); and the MIPS scale. Being plain arrays it
pickles and memory-maps.
"""
import math

import numpy as np
from sklearn.utils.extmath import safe_sparse_dot

FAMILIES = ("srp", "wta", "dwta", "doph")
# The arrays of a hash state that training writes: the tables (the bucket arrays, where
# the state has them) and the sketches. The rest (projections, permutations) are the
# hash functions, drawn once.
BUCKET_ARRAYS = ("ids", "fill", "seen", "home")
TABLE_ARRAYS = BUCKET_ARRAYS + ("scale", "sketch", "prefix")


def reads_buckets(selection):
    """Whether a selection reads the tables' buckets: 'collisions' and 'union' do;
    'sketch' ranks the units' sketches alone."""
    return selection != "sketch"


def code_bits(family, window):
    """Bits one hash code takes: 1 for SRP, log2 of the window for the others."""
    return 1 if family == "srp" else max(1, math.ceil(math.log2(window)))


def hashes_per_table(family, bits_per_table, window):
    """Codes concatenated per table; WTA codes that overrun the bits are folded in."""
    return math.ceil(bits_per_table / code_bits(family, window))


def table_nbytes(n_units, n_tables, bits_per_table, bucket_size, buckets=True):
    """Bytes the tables of a layer with `n_units` units take: sketches, prefixes, the
    MIPS scale and, at most, the prefix table (8 + 4 + 4 bytes per unit and 4 more);
    with `buckets`, the bucket arrays too."""
    n_codes = n_tables * bits_per_table          # an upper bound on K * L
    nbytes = 12 + n_units * 8 * (1 + -(-n_codes // 64)) + 16 * n_units
    if buckets:
        n_buckets = 2**bits_per_table
        nbytes += n_tables * (n_buckets * (4 * bucket_size + 4 + 8) + 4 * n_units)
    return nbytes


def function_nbytes(family, n_in, n_tables, bits_per_table, window, itemsize):
    """Bytes the hash functions of a layer with fan-in `n_in` take."""
    n_codes = n_tables * hashes_per_table(family, bits_per_table, window)
    if family == "srp":
        return (n_in + 2) * n_codes * itemsize
    return _n_perms(family, n_codes, window, n_in) * n_in * 4


def _n_perms(family, n_codes, window, n_in):
    """Permutations of the input a layer draws: enough positions for every WTA window
    (`window` each) or DOPH bin (one each)."""
    span = 1 if family == "doph" else window
    return math.ceil(n_codes * span / n_in)


def make_hash_state(n_in, n_units, *, family, bits_per_table, n_tables, bucket_size,
                    policy, window, mips, dtype, random_state, key_set=None,
                    buckets=True):
    """Draw a layer's hash functions and allocate its (empty) sketches and, with
    `buckets`, tables.

    Parameters
    ----------
    n_in : int
        Fan-in of the layer: the dimension of its queries and keys.
    n_units : int
        Units of the layer: the ids the tables hold.
    family : {"srp", "wta", "dwta", "doph"}
    bits_per_table : int
        log2 of the buckets of each table.
    n_tables, bucket_size : int
    policy : {"fifo", "reservoir"}
    window : int
        Coordinates a WTA code looks at; codes of every family but SRP take
        ``log2(window)`` bits.
    mips : bool
        Whether SRP keys get the norm coordinate that makes it rank by inner product.
    dtype : dtype
        Float type of the network.
    random_state : RandomState
    key_set : int, optional
        DOPH only: a key's set is its `key_set` largest positive weights. Best near
        the number of non-zeros of the layer's queries; clipped to [1, n_in]. Default:
        ``min(n_in, 64)``.
    buckets : bool, default=True
        Whether to allocate the bucket arrays (`BUCKET_ARRAYS`): only the selections
        that read them need them (see :func:`reads_buckets`). Nothing random is drawn
        for them, so the hash functions are the same either way.

    Returns
    -------
    state : dict
    """
    rng = random_state
    K = hashes_per_table(family, bits_per_table, window)
    n_codes = K * n_tables
    state = {
        "family": family, "n_tables": n_tables, "n_hashes": K,
        "code_bits": code_bits(family, window), "bits_per_table": bits_per_table,
        "bucket_size": bucket_size, "policy": policy, "window": window,
        "mips": bool(mips and family == "srp"), "buckets": bool(buckets),
    }
    if family == "srp":
        # Achlioptas' sparse projections (+1, 0, -1 with 1/6, 2/3, 1/6): additions only.
        # The bias and the MIPS norm coordinates get dense signs, so that each bit
        # always sees them, scaled by 1/sqrt(3) to the second moment of the others:
        # SRP compares angles only when every coordinate weighs alike.
        proj = rng.choice(np.array([-1.0, 0.0, 1.0]), p=[1 / 6, 2 / 3, 1 / 6],
                          size=(n_in + 2, n_codes))
        proj[n_in:] = rng.choice(np.array([-1.0, 1.0]), size=(2, n_codes)) / np.sqrt(3)
        state["projections"] = np.ascontiguousarray(proj, dtype=dtype)
    else:
        n_perms = _n_perms(family, n_codes, window, n_in)
        positions = np.empty((n_perms, n_in), dtype=np.int32)
        for p in range(n_perms):
            positions[p, rng.permutation(n_in)] = np.arange(n_in, dtype=np.int32)
        positions += (np.arange(n_perms, dtype=np.int32) * n_in)[:, None]
        state["positions"] = positions
    if family == "doph":
        state["key_set"] = int(np.clip(64 if key_set is None else key_set, 1, n_in))
    elif family != "srp":
        # The code of a window whose coordinates are all zero: a scan in coordinate
        # order (permutation by permutation) meets its lowest coordinate first.
        first = np.full(n_codes, np.iinfo(np.int64).max, dtype=np.int64)
        for p in range(n_perms):
            q = positions[p].astype(np.int64)
            h = q // window
            ok = h < n_codes
            # order of meeting: permutation first, then coordinate index
            np.minimum.at(first, h[ok], p * n_in + np.flatnonzero(ok))
        hit = first < np.iinfo(np.int64).max
        p_of, i_of = first[hit] // n_in, first[hit] % n_in
        zero_code = np.zeros(n_codes, dtype=np.int32)
        zero_code[hit] = positions[p_of, i_of] % window
        state["zero_code"] = zero_code
    if buckets:
        n_buckets = 2**bits_per_table
        state["ids"] = np.zeros((n_tables, n_buckets, bucket_size), dtype=np.int32)
        state["fill"] = np.zeros((n_tables, n_buckets), dtype=np.int32)
        state["seen"] = np.zeros((n_tables, n_buckets), dtype=np.int64)
        state["home"] = np.full((n_tables, n_units), -1, dtype=np.int32)
    state["scale"] = np.ones(1, dtype=np.float64)
    per_word = 64 // state["code_bits"]
    state["sketch"] = np.zeros((n_units, -(-n_codes // per_word)), dtype=np.uint64)
    state["prefix"] = np.zeros(n_units, dtype=np.uint64)
    return state


def reset_mips_scale(W, b, state, chunk):
    """Set a MIPS layer's key scale to one over the largest norm of ``[w_j, b_j]``
    among its units now (a block of rows at a time)."""
    top = 0.0
    for start in range(0, W.shape[0], chunk):
        sq = _key_sq_norms(W[start:start + chunk], b[start:start + chunk])
        top = max(top, float(np.sqrt(sq.max())) if sq.size else 0.0)
    state["scale"][0] = 1.0 / top if top > 0 else 1.0


PREFIX_TABLE = ("groups", "group_ptr", "group_units")


def group_prefixes(state):
    """Group a sketch-ranked layer's units by the first word of their sketch (its
    `prefix`), in place: the prefix table of hashed inference.

    The first pass of the sketch ranking then compares each distinct prefix once
    instead of each unit (at 100k classes a quarter as many; output units resemble
    each other, so many share their first 64 codes). Training changes the prefixes,
    so fit makes the table at its end and an inference network alone reads it.

    Parameters
    ----------
    state : dict
        A hash state; gets ``groups`` (the distinct prefixes, ascending),
        ``group_ptr`` and ``group_units`` (group g's units are
        ``group_units[group_ptr[g]:group_ptr[g + 1]]``).
    """
    prefix = state["prefix"]
    order = np.argsort(prefix, kind="stable")
    ordered = prefix[order]
    first = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    state["groups"] = ordered[first]
    state["group_ptr"] = np.r_[first, prefix.shape[0]].astype(np.int32)
    state["group_units"] = order.astype(np.int32)


def drop_prefix_table(state):
    """Remove a state's prefix table (training moves the sketches it groups)."""
    for key in PREFIX_TABLE:
        state.pop(key, None)


def compact(state):
    """A hash state to pickle: the state without what :func:`expand` rebuilds exactly.

    Dropped: the prefix array (each sketch's first word) and the prefix table (it
    groups the prefixes); of the buckets, the slots past each bucket's fill (nothing
    reads them, and ``insert`` writes a slot before ``fill`` takes it in). Stored
    narrower: the bucket arrays in the smallest integer type that holds their values,
    and SRP's projections, whose rows over the inputs are all -1, 0 or 1, as int8
    signs beside their two float rows. The tables of a selection that reads buckets
    take ``n_tables * 2**bits_per_table * bucket_size`` ids, mostly empty, which would
    otherwise make a pickle many times its weights.

    Parameters
    ----------
    state : dict
        A hash state (see :func:`make_hash_state`); left unchanged.

    Returns
    -------
    packed : dict
        The state's arrays that cannot be rebuilt, shared with `state` where they
        are stored as they are.
    """
    packed = {k: v for k, v in state.items() if k not in PREFIX_TABLE + ("prefix",)}
    packed["prefix_table"] = "groups" in state
    if not np.array_equal(state["prefix"], state["sketch"][:, 0]):
        packed["prefix"] = state["prefix"]
    if state["family"] == "srp":
        P = state["projections"]
        signs = P[:-2].astype(np.int8)
        if np.array_equal(signs, P[:-2]):
            del packed["projections"]
            packed["projection_signs"], packed["projection_tail"] = signs, P[-2:]
    if state["buckets"]:
        packed["ids"] = state["ids"][_used_slots(state["fill"], state["bucket_size"])]
        for key in BUCKET_ARRAYS:
            packed[key] = _narrowest(packed[key])
    return packed


def expand(packed):
    """The hash state :func:`compact` packed, as it was (a state pickled whole is
    returned as it is)."""
    state = dict(packed)
    if "projection_signs" in state:
        tail = state.pop("projection_tail")
        state["projections"] = np.concatenate(
            [state.pop("projection_signs").astype(tail.dtype), tail])
    if state["buckets"]:
        for key, dtype in BUCKET_DTYPES.items():
            state[key] = state[key].astype(dtype, copy=False)
        if state["ids"].ndim == 1:
            fill = state["fill"]
            ids = np.zeros(fill.shape + (state["bucket_size"],), dtype=np.int32)
            ids[_used_slots(fill, state["bucket_size"])] = state["ids"]
            state["ids"] = ids
    if "prefix" not in state:
        state["prefix"] = np.ascontiguousarray(state["sketch"][:, 0])
    if state.pop("prefix_table", False):
        group_prefixes(state)
    return state


# the types make_hash_state gives the bucket arrays (compact may narrow them)
BUCKET_DTYPES = {"ids": np.int32, "fill": np.int32, "seen": np.int64, "home": np.int32}


def _used_slots(fill, bucket_size):
    """Mask over the bucket arrays' slots: the first `fill` of each bucket."""
    return np.arange(bucket_size, dtype=np.int32) < fill[..., None]


def _narrowest(a):
    """Integer array `a` in the smallest integer type that holds its values."""
    if not a.size:
        return a
    return a.astype(np.result_type(np.min_scalar_type(a.min()),
                                   np.min_scalar_type(a.max())))


def copy_tables(state):
    """Copies of the arrays of a state that training writes (see TABLE_ARRAYS)."""
    return {key: state[key].copy() for key in TABLE_ARRAYS if key in state}


def restore_tables(state, copies):
    """Write copies from :func:`copy_tables` back into the state's arrays, in place
    (a kernel's view of them stays valid)."""
    for key, value in copies.items():
        state[key][...] = value


def srp_key_codes(W, b, state, units):
    """SRP codes of the units `units` of a layer, as one BLAS matrix product.

    Parameters
    ----------
    W : ndarray of shape (n_units, n_in)
        Unit-major weights.
    b : ndarray of shape (n_units,)
    state : dict
        The layer's SRP hash state; with ``mips`` its scale (see
        :func:`reset_mips_scale`) maps the keys into the unit ball.
    units : ndarray of int
        The units to hash, in order.

    Returns
    -------
    codes : ndarray of shape (len(units), n_codes), dtype int32
    """
    P = state["projections"]
    d = W.shape[1]
    # One product over the keys [w_j, b_j, m_j / s]: the MIPS key [s w_j, s b_j, m_j]
    # (m_j = sqrt(1 - s^2 |[w_j, b_j]|^2), scale s > 0) over s, whose projections
    # have the same signs; the bias and the norm added by hand would each pass over
    # the projections again
    keys = np.empty((len(units), d + 2), dtype=W.dtype)
    keys[:, :d] = W[units]
    keys[:, d] = b[units]
    if state["mips"]:
        s = state["scale"][0]
        sq = _key_sq_norms(keys[:, :d], keys[:, d])
        keys[:, d + 1] = np.sqrt(np.maximum(0.0, 1.0 - s * s * sq)) / s
    else:
        keys[:, d + 1] = 0
    return (keys @ P > 0).astype(np.int32)


def _key_sq_norms(W, b):
    """Squared norms of the keys ``[w_j, b_j]``, in float64."""
    return np.einsum("ij,ij->i", W, W, dtype=np.float64) + b.astype(np.float64) ** 2


def srp_query_codes(X, state):
    """SRP codes of the rows of X as queries of a layer: one BLAS matrix product.

    The query's bias coordinate is 1 and its MIPS coordinate 0, and a code is 1 where
    the projection is positive, as in the kernels' own query hashing.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_in)
    state : dict
        The layer's SRP hash state.

    Returns
    -------
    codes : ndarray of shape (n_samples, n_codes), dtype int32
    """
    P = state["projections"]
    d = X.shape[1]
    proj = np.asarray(safe_sparse_dot(X, P[:d], dense_output=True))
    proj += P[d]
    return (proj > 0).astype(np.int32)
