# cython: language_level=3
"""The active set of one layer for one example.

Given the bucket the example's query fell into in each table, pick the layer's budget
of units: the `forced` ones first (the true labels of an output layer in training),
then either the units that collide in the most tables (top-k) or the units of whole
buckets taken in a random table order (union), and random units when too few collide.
Deduplication uses per-thread stamps instead of a set, and everything random is drawn
from the example's own stream, so the choice depends on the example alone.
"""
from cython cimport floating
from libc.stdint cimport int64_t, uint64_t

import numpy as np

from ._layout cimport Layer, Tables, COLLISIONS, UNION, SKETCH
from ._vec cimport (sk_prefix_at_cut, sk_prefix_sample, sk_prefix_select,
                   sk_prefix_shared, sk_sketch_matches, sk_take_ranked, SKLSH_BEST,
                   sk_cpu_level, sk_sketch_matches_at, sk_prefix_select_at,
                   sk_take_ranked_at, sk_slot_lsb)
from ._random cimport below


cdef inline bint take(Scratch *s, int j, int *out, int *n) noexcept nogil:
    """Append unit j unless this query already has it."""
    if s.stamp[j] == s.now:
        return False
    s.stamp[j] = s.now
    out[n[0]] = j
    n[0] += 1
    return True


cdef inline int threshold(const int *hist, int levels, int need,
                          int *at_threshold) noexcept nogil:
    """The score t such that the candidates scoring above t are fewer than `need` and
    those scoring t or more are not (hist[c]: candidates of score c, 0..levels);
    `at_threshold` gets how many of those at exactly t complete `need`."""
    cdef int t = levels, above = 0
    while t > 0 and above + hist[t] < need:
        above += hist[t]
        t -= 1
    at_threshold[0] = need - above
    return t


cdef inline bint kept(int c, int thr, int *ties) noexcept nogil:
    """Whether a candidate of score c makes the cut from `threshold`: above it, or at
    it while ties last (# INOUT ties)."""
    if c > thr:
        return True
    if c == thr and ties[0] > 0:
        ties[0] -= 1
        return True
    return False


cdef void top_by_collisions(const Layer *layer, const int *buckets, Scratch *s,
                            int k, int *out, int *n) noexcept nogil:
    cdef const Tables *T = &layer.tables
    cdef int n_tables = layer.spec.n_tables, t, e, j, c, n_cand = 0, need, thr
    cdef int64_t slot
    for t in range(n_tables):
        slot = <int64_t>t * T.n_buckets + buckets[t]
        for e in range(T.fill[slot]):
            j = T.ids[slot * T.bucket_size + e]
            if s.stamp[j] != s.now:
                s.stamp[j] = s.now
                s.count[j] = 1
                s.cand[n_cand] = j
                n_cand += 1
            elif s.count[j] < n_tables:    # (a forced unit's count is never read)
                s.count[j] += 1
    need = k - n[0]
    if n_cand <= need:
        for e in range(n_cand):
            out[n[0] + e] = s.cand[e]
        n[0] += n_cand
        return
    # Counting sort on the collision count (1..n_tables): take every candidate above the
    # threshold count and, at the threshold, the first ones in order of appearance.
    for c in range(n_tables + 1):
        s.hist[c] = 0
    for e in range(n_cand):
        s.hist[s.count[s.cand[e]]] += 1
    thr = threshold(s.hist, n_tables, need, &need)
    for e in range(n_cand):
        j = s.cand[e]
        if kept(s.count[j], thr, &need):    # (stamped already, when collected)
            out[n[0]] = j
            n[0] += 1


cdef inline void rank_histogram(Scratch *s, int n_scores, int levels, const int *taken,
                                int n_taken) noexcept nogil:
    """hist[c]: how many of count[0..n_scores) equal c (0..levels), less the units
    already `taken` (count indexed by unit id)."""
    cdef int c, j
    for c in range(levels + 1):
        s.hist[c] = 0
    for j in range(n_scores):
        s.hist[s.count[j]] += 1
    unrank_taken(s, taken, n_taken)


cdef inline void unrank_taken(Scratch *s, const int *taken, int n_taken) noexcept nogil:
    """Take the units already `taken` out of hist (count indexed by unit id)."""
    cdef int j
    for j in range(n_taken):
        s.hist[s.count[taken[j]]] -= 1


cdef void take_ranked(Scratch *s, int n_units, int levels, int k, int *out, int *n,
                      uint64_t *rng) noexcept nogil:
    """Take the k - n units of highest score (count[j], 0..levels, set for every unit
    not yet taken; hist counts them per score). Ties at the threshold go in a cyclic
    order from a random start, so no unit id is favoured."""
    cdef int need
    cdef int thr = threshold(s.hist, levels, k - n[0], &need)
    n[0] += sk_take_ranked(s.count, s.stamp, s.now, n_units, below(rng, n_units), thr,
                           need, k - n[0], out + n[0])


# A layer at least WIDE times wider than the units it ranks (a 1%-active output of
# 10^4 classes and more) is ranked in two passes: the first word of every unit's
# sketch keeps about PREFILTER times the units wanted, whose whole sketches then
# choose. At 100k output units one full pass cost about as much as the dense layer
# (512 bits per unit); the prefix is 8 contiguous bytes per unit. The first pass's cut
# (codes shared) is read off a sample of about SAMPLE units, so that the pass only
# compares. It keeps the units at the cut up to TIE_MARGIN times the share of them
# the sample says it needs: at 100k classes they are mostly kept whole (about a fifth
# more units than asked, 0.4-0.9 points of P@1 more than an exact count), and the
# margin bounds the second pass's work when most units share the cut's count.
# Narrower layers (the KDD networks' 1000 units at 5%) keep the exact one-pass
# ranking.
cdef int PREFILTER = 2
cdef int WIDE = 32
cdef int SAMPLE = 2048
cdef int TIE_MARGIN = 4


cdef inline int cyclic(int j, int start, int units) noexcept nogil:
    """Unit j's place in the cyclic order of ids from `start`: how ties are taken."""
    return j - start if j >= start else j - start + units


cdef inline bint passes(const Scratch *s, int j, bint tie, int start, int units,
                        int ties) noexcept nogil:
    """Whether unit j, kept by the prefix cut (at it when `tie`), goes on."""
    return s.stamp[j] != s.now and not (tie and cyclic(j, start, units) >= ties)


cdef int prefix_pass(const Layer *layer, uint64_t q0, int c, int ties, int start,
                     Scratch *s) noexcept nogil:
    """The units not taken yet whose prefix shares more than c codes with q0, and
    those sharing exactly c whose cyclic place from `start` is below `ties`, into
    s.cand; return how many. Through the prefix table where the layer has one."""
    cdef const Tables *T = &layer.tables
    cdef int first = min(T.codes_per_word, layer.spec.n_tables * layer.spec.n_hashes)
    cdef int bits = layer.spec.code_bits, units = layer.n_out, n = 0, n_kept, g, e, p, j
    cdef bint all_ties = ties >= units, tie
    if T.n_groups:
        # the kept groups into count (free until the second pass), then their units
        n_kept = sk_prefix_select(q0, T.groups, 0, T.n_groups, T.lsb, bits, first, c,
                                  s.count)
        for e in range(n_kept):
            g = s.count[e]
            tie = not all_ties and sk_prefix_shared(q0, T.groups[g], T.lsb, bits,
                                                   first) == c
            for p in range(T.group_ptr[g], T.group_ptr[g + 1]):
                j = T.group_units[p]
                if passes(s, j, tie, start, units, ties):
                    s.cand[n] = j
                    n += 1
        return n
    n_kept = sk_prefix_select(q0, T.prefix, 0, units, T.lsb, bits, first, c, s.cand)
    if not all_ties:    # which are at the cut, into count (free until the second pass)
        sk_prefix_at_cut(q0, T.prefix, s.cand, n_kept, T.lsb, bits, first, c, s.count)
    for e in range(n_kept):
        j = s.cand[e]
        tie = not all_ties and s.count[e]
        if passes(s, j, tie, start, units, ties):
            s.cand[n] = j
            n += 1
    return n


cdef void top_by_sketch(const Layer *layer, const uint64_t *q, Scratch *s, int k,
                        int *out, int *n, uint64_t *rng) noexcept nogil:
    """Rank units by the codes their sketch shares with the query's."""
    cdef const Tables *T = &layer.tables
    cdef int KL = layer.spec.n_tables * layer.spec.n_hashes, j, c, e, units = layer.n_out
    cdef int need = k - n[0], first = min(T.codes_per_word, KL), n_cand, at, start, m
    cdef int stride = max(1, units // SAMPLE), bits = layer.spec.code_bits, ties
    if T.n_words == 1 or WIDE * need > units:
        sk_sketch_matches(q, T.sketch, NULL, units, T.n_words, T.lsb, bits, KL, s.count)
        # the units already taken are not ranked
        rank_histogram(s, units, KL, out, n[0])
        take_ranked(s, units, KL, k, out, n, rng)
        return
    sk_prefix_sample(q[0], T.prefix, units, stride, T.lsb, bits, first, s.hist)
    c = threshold(s.hist, first, (PREFILTER * need + stride - 1) // stride, &at)
    # the units at the cut that pass: the first ones in the cyclic order of ids from
    # a random start (ties of the second pass go in that order too, whatever order
    # the first listed them in: it differs with and without the prefix table)
    ties = units
    if TIE_MARGIN * at < s.hist[c]:
        ties = <int>(<double>units * TIE_MARGIN * at / s.hist[c]) + 1
    start = below(rng, units)
    n_cand = prefix_pass(layer, q[0], c, ties, start, s)
    while n_cand < need and (c > 0 or ties < units):   # the sample misjudged (rare)
        if ties < units:
            ties = units
        else:
            c -= 1          # (at 0 every unit passes)
        n_cand = prefix_pass(layer, q[0], c, ties, start, s)
    # the whole sketches of the kept ones; count[e] scores the e-th of them now
    sk_sketch_matches(q, T.sketch, s.cand, n_cand, T.n_words, T.lsb, bits, KL, s.count)
    rank_histogram(s, n_cand, KL, NULL, 0)
    c = threshold(s.hist, KL, need, &at)
    # each tie's negated cyclic place goes into count[m], m <= e
    m = 0
    for e in range(n_cand):
        j = s.cand[e]
        if s.count[e] > c:
            take(s, j, out, n)
        elif s.count[e] == c:
            s.count[m] = -cyclic(j, start, units)
            m += 1
    m = keep_largest(<int *> NULL, s.count, m, at, 0)
    for e in range(m):
        j = start - s.count[e]
        take(s, j - units if j >= units else j, out, n)


cdef void union_of_buckets(const Layer *layer, const int *buckets, Scratch *s,
                           int k, int *out, int *n, uint64_t *rng) noexcept nogil:
    cdef const Tables *T = &layer.tables
    cdef int n_tables = layer.spec.n_tables, t, e, r, tmp
    cdef int64_t slot
    for t in range(n_tables):
        s.order[t] = t
    for t in range(n_tables):          # Fisher-Yates, lazily: stop once the budget is met
        r = t + below(rng, n_tables - t)
        tmp = s.order[t]
        s.order[t] = s.order[r]
        s.order[r] = tmp
        slot = <int64_t>s.order[t] * T.n_buckets + buckets[s.order[t]]
        for e in range(T.fill[slot]):
            take(s, T.ids[slot * T.bucket_size + e], out, n)
            if n[0] >= k:
                return


cdef inline void draw_random(Scratch *s, int units, int target, int tries, int *out,
                            int *n, uint64_t *rng) noexcept nogil:
    """Take random units until `target` are taken or `tries` draws are spent (a
    repeat costs a draw, so this stops while few units are left to find)."""
    while n[0] < target and tries > 0:
        take(s, below(rng, units), out, n)
        tries -= 1


cdef int select_active(const Layer *layer, const int *buckets,
                       const uint64_t *sketch, const int *forced, int n_forced,
                       int n_explore, Scratch *s, uint64_t *rng,
                       int *out) noexcept nogil:
    """Write the candidate unit ids to `out` and return how many; forced ones first.

    `out` holds max(candidates, n_forced) ids; the set has exactly that many.
    When that is every unit, `buckets` and `sketch` are not read (may be NULL).
    """
    cdef int n = 0, f, start, j, units = layer.n_out
    cdef int k = layer.candidates if layer.candidates > n_forced else n_forced
    s.now += 1
    for f in range(n_forced):
        take(s, forced[f], out, &n)
    draw_random(s, units, min(n_forced + n_explore, k), 4 * n_explore + 16, out, &n, rng)
    if n < k < units:           # (with every unit a candidate there is no ranking)
        if layer.selection == COLLISIONS:
            top_by_collisions(layer, buckets, s, k, out, &n)
        elif layer.selection == UNION:
            union_of_buckets(layer, buckets, s, k, out, &n, rng)
        else:
            top_by_sketch(layer, sketch, s, k, out, &n, rng)
    # Too few collided: fill with random units, by rejection while that is cheap, then
    # by a sweep from a random start (which always terminates; all it does when every
    # unit is to be taken).
    draw_random(s, units, k, 4 * (k - n) + 16 if k < units else 0, out, &n, rng)
    if n < k:
        start = below(rng, units)
        for j in range(units):
            take(s, (start + j) % units, out, &n)
            if n >= k:
                break
    return n


cdef int keep_largest(int *ids, ranked *z, int n, int k, int n_fixed) noexcept nogil:
    """Reorder the pairs (ids[a], z[a]) so that the first k hold the n_fixed fixed
    ones and then the largest z of the rest (quickselect); return min(n, k). With
    `ids` NULL z alone is reordered; for k < n, z[k - 1] is then its k-th largest."""
    cdef int lo = n_fixed, hi = n - 1, want = k - 1, i, j
    cdef ranked pivot
    if n <= k:
        return n
    if k <= n_fixed:
        return n_fixed
    while lo < hi:
        pivot = z[lo + (hi - lo) // 2]
        i, j = lo, hi
        while i <= j:           # Hoare partition, descending
            while z[i] > pivot:
                i += 1
            while z[j] < pivot:
                j -= 1
            if i <= j:
                _swap(ids, z, i, j)
                i += 1
                j -= 1
        if want <= j:
            hi = j
        elif want >= i:
            lo = i
        else:
            break
    return k


cdef inline void _swap(int *ids, ranked *z, int a, int b) noexcept nogil:
    cdef int t
    cdef ranked v = z[a]
    z[a] = z[b]
    z[b] = v
    if ids != NULL:
        t = ids[a]
        ids[a] = ids[b]
        ids[b] = t


cdef void sort_by_id(int *ids, floating *z, int lo, int hi) noexcept nogil:
    """Sort the pairs (ids[a], z[a]), lo <= a < hi, by id: the layer above then reads
    each weight row in address order, which the hardware prefetcher follows."""
    cdef int i, j, t, pivot
    cdef floating v
    while hi - lo > 16:
        pivot = ids[lo + (hi - lo) // 2]
        i, j = lo, hi - 1
        while i <= j:
            while ids[i] < pivot:
                i += 1
            while ids[j] > pivot:
                j -= 1
            if i <= j:
                _swap(ids, z, i, j)
                i += 1
                j -= 1
        if j - lo < hi - i:         # recurse into the smaller side, loop on the other
            sort_by_id(ids, z, lo, j + 1)
            lo = i
        else:
            sort_by_id(ids, z, i, hi)
            hi = j + 1
    for i in range(lo + 1, hi):     # insertion sort finishes short runs
        t = ids[i]
        v = z[i]
        j = i - 1
        while j >= lo and ids[j] > t:
            ids[j + 1] = ids[j]
            z[j + 1] = z[j]
            j -= 1
        ids[j + 1] = t
        z[j + 1] = v


# The ranking primitives one vector path at a time, for the tests, which hold each
# path this CPU has to a NumPy reference (the kernels always take the best one).

def vector_levels():
    """The levels of the primitives' vector paths this CPU and build run, from 0
    (scalar) up to the best (1: AVX2, 2: AVX-512)."""
    return list(range(sk_cpu_level(SKLSH_BEST) + 1))


cdef uint64_t slot_lsb(int code_bits) except? 0:
    if not 1 <= code_bits <= 32:
        raise ValueError(f"code_bits must be in [1, 32], got {code_bits}")
    return sk_slot_lsb(code_bits)


def sketch_scores(const uint64_t[::1] q, const uint64_t[:, ::1] sketch, int code_bits,
                  int n_codes, const int[::1] ids=None, int level=2):
    """Codes each sketch row (or the rows `ids`) shares with the query sketch `q`,
    through the path of at most `level`; codes are `code_bits` wide, n_codes of them."""
    cdef int n_words = <int>sketch.shape[1], per = 64 // code_bits if code_bits else 0
    cdef uint64_t lsb = slot_lsb(code_bits)
    if q.shape[0] != n_words or n_words == 0:
        raise ValueError("q and the sketch rows must have the same, positive length")
    if not (n_words - 1) * per < n_codes <= n_words * per:
        raise ValueError("n_codes must fill the last word in part or whole")
    cdef Py_ssize_t e
    if ids is not None:
        for e in range(ids.shape[0]):
            if not 0 <= ids[e] < sketch.shape[0]:
                raise ValueError("ids out of range")
    cdef int n = <int>(sketch.shape[0] if ids is None else ids.shape[0])
    cdef int[::1] out = np.zeros(max(n, 1), dtype=np.int32)
    if n:
        with nogil:
            sk_sketch_matches_at(level, &q[0], &sketch[0, 0],
                                 NULL if ids is None else &ids[0], n, n_words, lsb,
                                 code_bits, n_codes, &out[0])
    return np.asarray(out[:n])


def prefix_keep(uint64_t q0, const uint64_t[::1] prefix, int code_bits, int n_codes,
                int c, int level=2):
    """The j, in order, whose prefix[j] shares at least c of its first n_codes codes
    with q0, through the path of at most `level`."""
    cdef uint64_t lsb = slot_lsb(code_bits)
    if not 0 < n_codes <= 64 // code_bits:
        raise ValueError("n_codes must fit one word")
    cdef int n = <int>prefix.shape[0], kept = 0
    cdef int[::1] out = np.zeros(max(n, 1), dtype=np.int32)
    if n:
        with nogil:
            kept = sk_prefix_select_at(level, q0, &prefix[0], 0, n, lsb, code_bits,
                                       n_codes, c, &out[0])
    return np.asarray(out[:kept])


def take_ranked_units(const int[::1] score, int[::1] stamp, int now, int start, int thr,
                      int ties, int want, int level=2):
    """The units take_ranked takes (# INOUT stamp), through the path of at most
    `level`."""
    cdef int n = <int>score.shape[0], m = 0
    if stamp.shape[0] != n or not (0 <= start < n or (n == 0 and start == 0)):
        raise ValueError("stamp must match score, and start lie in it")
    if want < 0:
        raise ValueError("want must be non-negative")
    cdef int[::1] out = np.zeros(max(want, 1), dtype=np.int32)
    if n:
        with nogil:
            m = sk_take_ranked_at(level, &score[0], &stamp[0], now, n, start, thr, ties,
                                  want, &out[0])
    return np.asarray(out[:m])
