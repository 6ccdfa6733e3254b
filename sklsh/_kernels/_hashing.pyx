# cython: language_level=3
"""Hash families: turn one vector into one bucket id per table.

Queries are a layer's inputs (a dense row, or the (ids, values) of the active units
below); keys are the units' weight vectors. Both go through the same K * L hash
functions, and the K codes of each table are packed into its bucket id.

SRP (signed random projections) ranks by angle; with ``mips`` the keys are scaled to
norm <= 1 and given the extra coordinate sqrt(1 - |k|^2) that the query lacks, so the
angle to the query follows the inner product (Neyshabur & Srebro's simple LSH). The
bias rides along as a constant-1 query coordinate, so units rank by w.x + b. SRP
keys are one matrix product for a whole layer, which ``sklsh._hashing.srp_key_codes``
has BLAS do; only WTA keys are hashed here.
WTA hashes the argmax position within windows of a random permutation; DWTA does so
over the non-zeros only and lets empty windows borrow a code (densification).
DOPH (densified one-permutation MinHash, Shrivastava 2017) hashes sets: one
permutation cut into K * L bins, each code the low bits of the smallest position in its
bin, empty bins densified as in DWTA. A query's set is its non-zeros, a key's its
``key_set`` largest positive weights, so codes agree with the probability of the two
sets' Jaccard similarity: for sparse non-negative inputs (text) the units whose large
weights sit on the example's words.
"""
from libc.math cimport INFINITY
from libc.limits cimport INT_MAX
from libc.stdint cimport int64_t, uint64_t
from cython cimport floating

from ._layout cimport HashSpec, Tables, SRP, WTA, DWTA, DOPH
from ._vec cimport axpy
from ._active_set cimport keep_largest
from ._random cimport stream, splitmix64

cdef uint64_t GOLDEN = <uint64_t>0x9E3779B97F4A7C15
# A window of DWTA that saw no non-zero borrows the code of another window; past this
# many tries (all windows empty, i.e. a zero query) it keeps code 0.
cdef int MAX_BORROW = 64


cdef void pack(const HashSpec *s, const int *codes, int *buckets) noexcept nogil:
    """Concatenate each table's K codes; fold them into bits_per_table when longer."""
    cdef int t, h, K = s.n_hashes
    cdef uint64_t v
    cdef bint exact = K * s.code_bits <= s.bits_per_table
    for t in range(s.n_tables):
        v = 0
        for h in range(K):
            if exact:
                v = (v << s.code_bits) | <uint64_t>codes[t * K + h]
            else:
                v = (v ^ <uint64_t>codes[t * K + h]) * GOLDEN
        if not exact:
            v = v >> (64 - s.bits_per_table)
        buckets[t] = <int>v


cdef inline void srp_signs(const HashSpec *s, const floating *acc, int *codes) noexcept nogil:
    cdef int h
    for h in range(s.n_tables * s.n_hashes):
        codes[h] = acc[h] > 0


cdef int64_t wta_codes(const HashSpec *s, const int *ids, const floating *vals, int n,
                       bint dense, bint densify, int *codes,
                       floating *best) noexcept nogil:
    """Argmax position per window over the given coordinates.

    Coordinate i sits at position wta_pos[p, i] of permutation p; position q belongs
    to hash q // window, slot q % window. With `densify`, zero coordinates are skipped
    and windows left empty borrow a code; without, a zero still competes (plain WTA).
    """
    cdef int KL = s.n_tables * s.n_hashes, m = s.window, d = s.dim
    cdef int p, e, i, q, h
    cdef floating v
    cdef int64_t ops = 0
    for h in range(KL):
        codes[h] = -1
        best[h] = -INFINITY
    for p in range(s.n_perms):
        for e in range(d if dense else n):
            i = e if dense else ids[e]
            v = vals[e]
            if densify and v == 0:
                continue
            q = s.wta_pos[p * d + i]
            h = q // m
            if h < KL and v > best[h]:
                best[h] = v
                codes[h] = q - h * m
        ops += d if dense else n
    if not densify and not dense:
        # Plain WTA of a sparse query: its missing coordinates are zeros, which a
        # dense scan would have met first in a window that no positive value beats
        # (exactly what the dense query gives, for non-negative inputs).
        for h in range(KL):
            if best[h] <= 0:
                codes[h] = s.zero_code[h]
        return ops
    borrow_codes(KL, codes, best)
    return ops


cdef void borrow_codes(int KL, int *codes, const floating *best) noexcept nogil:
    """Densification: each code no coordinate set (codes[h] < 0) copies the first
    code along a probe sequence fixed per h that a coordinate did set (best > -inf).
    The sequence depends on h alone, so two vectors with the same empty bins borrow
    alike, and a code is never borrowed from a borrowed one."""
    cdef int h, q, tries
    cdef uint64_t st
    for h in range(KL):
        if codes[h] >= 0:
            continue
        st = stream(<uint64_t>h, 0)
        for tries in range(MAX_BORROW):
            q = <int>(splitmix64(&st) % <uint64_t>KL)
            if codes[q] >= 0 and best[q] > -INFINITY:
                codes[h] = codes[q]
                break
        else:
            codes[h] = 0


cdef int64_t doph_codes(const HashSpec *s, const int *ids, const floating *vals, int n,
                        bint dense, floating lo, int *codes,
                        floating *best) noexcept nogil:
    """One-permutation MinHash of the set {coordinates with a non-zero value >= lo}.

    Position q (of n_perms * dim) falls in bin q * KL // (n_perms * dim): every
    position has a bin, and every bin at least one position. A bin's code is the low
    code_bits bits of its smallest position (b-bit minwise hashing); empty bins borrow.
    """
    cdef int KL = s.n_tables * s.n_hashes, d = s.dim
    cdef int64_t n_pos = <int64_t>s.n_perms * d
    cdef int p, e, i, q, h
    cdef int mask = (1 << s.code_bits) - 1
    cdef floating v
    cdef int64_t ops = 0
    for h in range(KL):
        codes[h] = INT_MAX
    for e in range(d if dense else n):
        v = vals[e]
        if v == 0 or v < lo:
            continue
        i = e if dense else ids[e]
        for p in range(s.n_perms):
            q = s.wta_pos[p * d + i]
            h = <int>((<int64_t>q * KL) // n_pos)
            if q < codes[h]:
                codes[h] = q
        ops += s.n_perms
    for h in range(KL):
        if codes[h] == INT_MAX:
            codes[h] = -1
            best[h] = -INFINITY
        else:
            codes[h] = codes[h] & mask
            best[h] = 0
    borrow_codes(KL, codes, best)
    return ops


cdef int64_t query_buckets(const HashSpec *s, const int *ids, const floating *vals,
                           int n, bint dense, int *codes, floating *acc,
                           int *buckets) noexcept nogil:
    """Bucket ids (one per table) of a query; returns the operations it took.

    The query is `vals[:dim]` when `dense`, else the pairs (ids[e], vals[e]), e < n.
    """
    cdef int KL = s.n_tables * s.n_hashes, e, i
    cdef const floating *P = <const floating *> s.proj
    cdef int64_t ops = 0
    if s.family == SRP:
        for e in range(KL):
            acc[e] = P[s.dim * KL + e]          # the bias coordinate, always 1
        for e in range(s.dim if dense else n):
            if vals[e] == 0:
                continue
            i = e if dense else ids[e]
            axpy(vals[e], P + i * KL, acc, KL)
            ops += KL
        srp_signs(s, acc, codes)
    elif s.family == DOPH:
        ops = doph_codes(s, ids, vals, n, dense, -INFINITY, codes, acc)
    else:
        ops = wta_codes(s, ids, vals, n, dense, s.family == DWTA, codes, acc)
    pack(s, codes, buckets)
    return ops


cdef void key_buckets(const HashSpec *s, const floating *w, int *codes,
                      floating *acc, int *buckets) noexcept nogil:
    """Bucket ids of one unit of a WTA/DWTA/DOPH layer, from its weights `w[:dim]`.
    `acc` holds max(K * L, dim) values (DOPH selects the key's set in it).

    (SRP keys are one matrix product for the whole layer, done by BLAS in
    ``sklsh._hashing.srp_key_codes``; their codes come in ready.)"""
    cdef int i
    cdef floating lo = 0    # (key_set >= dim: every positive weight)
    if s.family == DOPH:
        if s.key_set < s.dim:
            for i in range(s.dim):
                acc[i] = w[i]
            keep_largest(NULL, acc, s.dim, s.key_set, 0)
            lo = acc[s.key_set - 1]
        if lo < 0:
            lo = 0      # fewer positive weights than key_set: all of them (v != 0)
        doph_codes(s, NULL, w, s.dim, True, lo, codes, acc)
    else:
        wta_codes(s, NULL, w, s.dim, True, s.family == DWTA, codes, acc)
    pack(s, codes, buckets)


cdef void pack_sketch(const HashSpec *s, const Tables *T, const int *codes,
                      uint64_t *sketch) noexcept nogil:
    """All K * L codes of a vector side by side, `codes_per_word` to a word: comparing
    two sketches code by code estimates their similarity far more finely than
    counting whole-bucket collisions does (# OUT sketch)."""
    cdef int h, word, KL = s.n_tables * s.n_hashes
    for word in range(T.n_words):
        sketch[word] = 0
    for h in range(KL):
        word = h // T.codes_per_word
        sketch[word] |= (<uint64_t>codes[h]) << ((h - word * T.codes_per_word) * s.code_bits)
