/* Vector primitives for the hot loops of sklsh's kernels.
 *
 * Why C and not Cython: a float reduction (dot product) is only vectorised when the
 * compiler may reassociate it, which `#pragma omp simd reduction` allows for this loop
 * alone (no -ffast-math for the whole module, so NaN and inf keep their meaning).
 * On x86-64 with GCC each function is also cloned for x86-64-v3 (AVX2, FMA) and picked at
 * load time by CPU features (not by CPU model, which would miss AMD chips),
 * so one build runs well on both old and new CPUs without -march=native.
 */
#ifndef SKLSH_VEC_H
#define SKLSH_VEC_H

#include <math.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(SKLSH_NO_CLONES)
#define SKLSH_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SKLSH_CLONES
#endif

#include <string.h>

/* Ask for the first `bytes` (at most SKLSH_PREFETCH_BYTES) of a row that will be read
 * soon. A hashed layer's active units are scattered rows of a matrix far larger than
 * the caches: read one after the other, each row waits a full memory latency (at 100k
 * classes that was two thirds of a hashed prediction). Requested a few rows ahead, the
 * loads overlap. The hardware prefetcher follows a long row once started. */
#define SKLSH_PREFETCH_BYTES 512
#define SKLSH_AHEAD 8       /* rows requested ahead of the one read */
static inline void sk_prefetch(const void *p, long bytes) {
#if defined(__GNUC__)
    const char *c = (const char *)p;
    if (bytes > SKLSH_PREFETCH_BYTES) bytes = SKLSH_PREFETCH_BYTES;
    for (long i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, 3);
#else
    (void)p; (void)bytes;
#endif
}

/* The same for a row about to be written (a gradient accumulator): asked for in the
 * state a store needs, it is not fetched twice. */
static inline void sk_prefetch_write(void *p, long bytes) {
#if defined(__GNUC__)
    char *c = (char *)p;
    if (bytes > SKLSH_PREFETCH_BYTES) bytes = SKLSH_PREFETCH_BYTES;
    for (long i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 1, 3);
#else
    (void)p; (void)bytes;
#endif
}

#if defined(__GNUC__)
/* sum_i a[i] * b[i] with four vector accumulators: one accumulator makes each fused
 * multiply-add wait for the previous one (a chain of dependent adds), which held the
 * first layer's forward pass to 1.6 times its in-cache speed. (memcpy: unaligned
 * loads without aliasing trouble; compilers turn it into plain vector loads.) */
#define SKLSH_DOT(T, S)                                                             \
SKLSH_CLONES static T sk_dot_##S(const T *a, const T *b, int n) {                  \
    typedef T V __attribute__((vector_size(32)));                                   \
    enum { W = 32 / sizeof(T) };                                                    \
    V s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, x0, x1, x2, x3, y0, y1, y2, y3;       \
    int i = 0;                                                                      \
    for (; i + 4 * W <= n; i += 4 * W) {                                            \
        memcpy(&x0, a + i, 32); memcpy(&y0, b + i, 32);                             \
        memcpy(&x1, a + i + W, 32); memcpy(&y1, b + i + W, 32);                     \
        memcpy(&x2, a + i + 2 * W, 32); memcpy(&y2, b + i + 2 * W, 32);             \
        memcpy(&x3, a + i + 3 * W, 32); memcpy(&y3, b + i + 3 * W, 32);             \
        s0 += x0 * y0; s1 += x1 * y1; s2 += x2 * y2; s3 += x3 * y3;                 \
    }                                                                               \
    for (; i + W <= n; i += W) {                                                    \
        memcpy(&x0, a + i, 32); memcpy(&y0, b + i, 32);                             \
        s0 += x0 * y0;                                                              \
    }                                                                               \
    s0 = (s0 + s1) + (s2 + s3);                                                     \
    T s = 0;                                                                        \
    for (int k = 0; k < W; k++) s += s0[k];                                         \
    for (; i < n; i++) s += a[i] * b[i];                                            \
    return s;                                                                       \
}
#else
#define SKLSH_DOT(T, S)                                                             \
static T sk_dot_##S(const T *a, const T *b, int n) {                                \
    T s = 0;                                                                        \
    _Pragma("omp simd reduction(+:s)")                                              \
    for (int i = 0; i < n; i++) s += a[i] * b[i];                                   \
    return s;                                                                       \
}
#endif

#define SKLSH_DEFINE(T, S, SQRT)                                                        \
/* sum_i a[i] * b[i] */                                                             \
SKLSH_DOT(T, S)                                                                     \
/* sum_p w[ids[p]] * x[p]: a unit's input from the active units below. Without the \
 * simd reduction the sum is one chain of dependent adds, four times slower. */   \
SKLSH_CLONES static T sk_gather_dot_##S(const T *w, const int *ids, const T *x,    \
                                         int n) {                                   \
    T s = 0;                                                                        \
    _Pragma("omp simd reduction(+:s)")                                              \
    for (int p = 0; p < n; p++) s += w[ids[p]] * x[p];                              \
    return s;                                                                       \
}                                                                                   \
/* y[i] += alpha * x[i] */                                                          \
SKLSH_CLONES static void sk_axpy_##S(T alpha, const T *x, T *y, int n) {           \
    _Pragma("omp simd")                                                             \
    for (int i = 0; i < n; i++) y[i] += alpha * x[i];                               \
}                                                                                   \
/* The backward step of one unit over a dense input: g[i] += d * x[i] (its weight  \
 * gradient) and dx[i] += d * w[i] (the delta sent to the layer below), one pass. */ \
SKLSH_CLONES static void sk_backward_dense_##S(T d, const T *x, const T *w, T *g,  \
                                                T *dx, int n) {                    \
    _Pragma("omp simd")                                                             \
    for (int i = 0; i < n; i++) { g[i] += d * x[i]; dx[i] += d * w[i]; }            \
}                                                                                   \
/* One Adam step on a row, then the row's gradient accumulator is cleared.         \
 * grad = g * scale + l2 * w, as scikit-learn's MLP forms it (scale = 1/batch). */  \
SKLSH_CLONES static void sk_adam_row_##S(T *w, T *g, T *m, T *v, int n, T scale,   \
        T l2, T lr_t, T beta1, T beta2, T eps) {                                    \
    _Pragma("omp simd")                                                             \
    for (int i = 0; i < n; i++) {                                                   \
        T gi = g[i] * scale + l2 * w[i];                                            \
        m[i] = beta1 * m[i] + (1 - beta1) * gi;                                     \
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;                                \
        w[i] -= lr_t * m[i] / (SQRT(v[i]) + eps);                                   \
        g[i] = 0;                                                                   \
    }                                                                               \
}                                                                                   \
/* The k steps t0 + 1 .. t0 + k a row sat out, taken as full Adam takes them: no  \
 * data gradient, only the L2 penalty's l2 * w, at each step's bias-corrected rate \
 * (lr the base rate). The row stays in cache across the steps. The powers of the  \
 * betas are carried from step to step: two pow calls a step cost as much as the   \
 * step itself on a short row. */                                                   \
SKLSH_CLONES static void sk_adam_skip_##S(T *w, T *m, T *v, int n, int64_t t0,     \
        int64_t k, double lr, T l2, T beta1, T beta2, T eps) {                      \
    double p1 = pow(beta1, (double)t0), p2 = pow(beta2, (double)t0);                \
    for (int64_t t = t0 + 1; t <= t0 + k; t++) {                                    \
        p1 *= beta1;                                                                \
        p2 *= beta2;                                                                \
        T lr_t = (T)(lr * sqrt(1 - p2) / (1 - p1));                                 \
        _Pragma("omp simd")                                                         \
        for (int i = 0; i < n; i++) {                                               \
            T gi = l2 * w[i];                                                       \
            m[i] = beta1 * m[i] + (1 - beta1) * gi;                                 \
            v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;                            \
            w[i] -= lr_t * m[i] / (SQRT(v[i]) + eps);                               \
        }                                                                           \
    }                                                                               \
}                                                                                   \
/* The same for SGD with momentum (scikit-learn's update, below). */                \
SKLSH_CLONES static void sk_momentum_skip_##S(T *w, T *vel, int n, int64_t k, T lr, \
        T l2, T momentum, int nesterov) {                                           \
    for (int64_t s = 0; s < k; s++) {                                               \
        _Pragma("omp simd")                                                         \
        for (int i = 0; i < n; i++) {                                               \
            T gi = l2 * w[i];                                                       \
            vel[i] = momentum * vel[i] - lr * gi;                                   \
            w[i] += nesterov ? momentum * vel[i] - lr * gi : vel[i];                \
        }                                                                           \
    }                                                                               \
}                                                                                   \
/* One step of SGD with momentum on a row; clears the accumulator. As            \
 * scikit-learn's SGDOptimizer: vel = momentum * vel - lr * grad, then            \
 * w += momentum * vel - lr * grad (Nesterov's) or w += vel (heavy ball). */      \
SKLSH_CLONES static void sk_momentum_row_##S(T *w, T *g, T *vel, int n, T scale,   \
        T l2, T lr, T momentum, int nesterov) {                                     \
    if (nesterov) {                                                                 \
        _Pragma("omp simd")                                                         \
        for (int i = 0; i < n; i++) {                                               \
            T gi = g[i] * scale + l2 * w[i];                                        \
            vel[i] = momentum * vel[i] - lr * gi;                                   \
            w[i] += momentum * vel[i] - lr * gi;                                    \
            g[i] = 0;                                                               \
        }                                                                           \
        return;                                                                     \
    }                                                                               \
    _Pragma("omp simd")                                                             \
    for (int i = 0; i < n; i++) {                                                   \
        T gi = g[i] * scale + l2 * w[i];                                            \
        vel[i] = momentum * vel[i] - lr * gi;                                       \
        w[i] += vel[i];                                                             \
        g[i] = 0;                                                                   \
    }                                                                               \
}

/* For each of n_units sketches (n_words each, one after another; with `ids`, the
 * sketches ids[0..n_units) of them), the codes it has in common with the query
 * sketch q (# OUT out). Codes are `code_bits` wide, packed
 * from bit 0 of each word; `lsb` has a 1 at the lowest bit of every code slot. Slots
 * past the n_codes-th are masked off, so that out[j] stays in [0, n_codes] whatever
 * the words hold. One call per layer, not per unit: a call cost as much as the
 * popcounts. */
#include <stdint.h>
/* A word with a 1 at the lowest bit of every code_bits-wide code slot (64 / code_bits
 * of them, from bit 0). */
static inline uint64_t sk_slot_lsb(int code_bits) {
    uint64_t lsb = 0;
    for (int g = 0; g < 64 / code_bits; g++) lsb |= ((uint64_t)1) << (g * code_bits);
    return lsb;
}

/* Bit 0 of a code slot of x (the XOR of two words) is set where the slot differs. */
static inline uint64_t sk_slots_differing(uint64_t x, int code_bits) {
    uint64_t y = x;
    for (int s = 1; s < code_bits; s++) y |= x >> s;
    return y;
}

SKLSH_CLONES static void sk_sketch_matches_any(const uint64_t *q, const uint64_t *sketch,
                                               const int *ids, int n_units, int n_words,
                                               uint64_t lsb, int code_bits, int n_codes,
                                               int *out) {
    int tail = (n_codes - (n_words - 1) * (64 / code_bits)) * code_bits;
    uint64_t last = tail >= 64 ? lsb : lsb & ((((uint64_t)1) << tail) - 1);
    for (int j = 0; j < n_units; j++) {
        const uint64_t *k = sketch + (int64_t)(ids ? ids[j] : j) * n_words;
        if (ids && j + SKLSH_AHEAD < n_units)
            sk_prefetch(sketch + (int64_t)ids[j + SKLSH_AHEAD] * n_words, 8 * n_words);
        int n = 0, w = 0;
        for (; w < n_words - 1; w++)
            n += __builtin_popcountll(sk_slots_differing(q[w] ^ k[w], code_bits) & lsb);
        n += __builtin_popcountll(sk_slots_differing(q[w] ^ k[w], code_bits) & last);
        out[j] = n_codes - n;
    }
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(SKLSH_NO_CLONES)
#include <immintrin.h>
#define SKLSH_AVX2_POPCOUNT 1
/* One-bit codes filling whole 256-bit blocks (SRP sketches of 256, 512, ... bits):
 * popcounts 32 bytes at a time by nibble table lookups (Mula's method), about twice
 * the speed of a popcnt per word. */
__attribute__((target("avx2")))
static void sk_sketch_matches_avx2(const uint64_t *q, const uint64_t *sketch,
                                   const int *ids, int n_units, int n_words, int n_codes,
                                   int *out) {
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                           0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    for (int j = 0; j < n_units; j++) {
        const uint64_t *k = sketch + (int64_t)(ids ? ids[j] : j) * n_words;
        if (ids && j + SKLSH_AHEAD < n_units)
            sk_prefetch(sketch + (int64_t)ids[j + SKLSH_AHEAD] * n_words, 8 * n_words);
        __m256i acc = zero;
        for (int w = 0; w < n_words; w += 4) {
            __m256i x = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(q + w)),
                                         _mm256_loadu_si256((const __m256i *)(k + w)));
            __m256i c = _mm256_add_epi8(
                _mm256_shuffle_epi8(table, _mm256_and_si256(x, low)),
                _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(x, 4), low)));
            acc = _mm256_add_epi64(acc, _mm256_sad_epu8(c, zero));
        }
        __m128i h = _mm_add_epi64(_mm256_castsi256_si128(acc),
                                  _mm256_extracti128_si256(acc, 1));
        out[j] = n_codes - (int)(_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1));
    }
}
#endif

#if defined(SKLSH_AVX2_POPCOUNT) && (__GNUC__ >= 8)
#define SKLSH_AVX512_POPCOUNT 1
/* CPUs with a vector popcount (AVX-512 VPOPCNTDQ: Ice Lake, Zen 4 and later) count
 * eight words an instruction, a fifth of the work of the nibble lookups; the last,
 * partial block is read through a mask, so any whole number of words qualifies. */
__attribute__((target("avx512f,avx512vpopcntdq")))
static void sk_sketch_matches_avx512(const uint64_t *q, const uint64_t *sketch,
                                     const int *ids, int n_units, int n_words,
                                     int n_codes, int *out) {
    const __mmask8 tail = (__mmask8)((1u << (n_words % 8 ? n_words % 8 : 8)) - 1);
    for (int j = 0; j < n_units; j++) {
        const uint64_t *k = sketch + (int64_t)(ids ? ids[j] : j) * n_words;
        if (ids && j + SKLSH_AHEAD < n_units)
            sk_prefetch(sketch + (int64_t)ids[j + SKLSH_AHEAD] * n_words, 8 * n_words);
        __m512i acc = _mm512_setzero_si512();
        int w = 0;
        for (; w + 8 < n_words; w += 8)
            acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(
                _mm512_loadu_si512(q + w), _mm512_loadu_si512(k + w))));
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(
            _mm512_maskz_loadu_epi64(tail, q + w), _mm512_maskz_loadu_epi64(tail, k + w))));
        out[j] = n_codes - (int)_mm512_reduce_add_epi64(acc);
    }
}
#endif

/* The vector paths the ranking primitives below may take: each takes the best one
 * the CPU (and this build) has, up to the level it is given (SKLSH_BEST in the
 * kernels; the tests run every level against NumPy). */
enum { SKLSH_SCALAR = 0, SKLSH_AVX2 = 1, SKLSH_AVX512 = 2, SKLSH_BEST = 2 };

static inline int sk_cpu_level(int most) {
#ifdef SKLSH_AVX512_POPCOUNT
    if (most >= SKLSH_AVX512 && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("bmi2"))
        return SKLSH_AVX512;
#endif
#ifdef SKLSH_AVX2_POPCOUNT
    if (most >= SKLSH_AVX2 && __builtin_cpu_supports("avx2"))
        return SKLSH_AVX2;
#endif
    return SKLSH_SCALAR;
}

static void sk_sketch_matches_at(int level, const uint64_t *q, const uint64_t *sketch,
                                 const int *ids, int n_units, int n_words, uint64_t lsb,
                                 int code_bits, int n_codes, int *out) {
    level = sk_cpu_level(level);
#ifdef SKLSH_AVX512_POPCOUNT
    if (code_bits == 1 && n_codes == 64 * n_words && n_words > 0
            && level >= SKLSH_AVX512) {
        sk_sketch_matches_avx512(q, sketch, ids, n_units, n_words, n_codes, out);
        return;
    }
#endif
#ifdef SKLSH_AVX2_POPCOUNT
    if (code_bits == 1 && n_codes == 64 * n_words && n_words % 4 == 0
            && level >= SKLSH_AVX2) {
        sk_sketch_matches_avx2(q, sketch, ids, n_units, n_words, n_codes, out);
        return;
    }
#endif
    sk_sketch_matches_any(q, sketch, ids, n_units, n_words, lsb, code_bits, n_codes,
                          out);
}

static inline void sk_sketch_matches(const uint64_t *q, const uint64_t *sketch,
                                     const int *ids, int n_units, int n_words,
                                     uint64_t lsb, int code_bits, int n_codes, int *out) {
    sk_sketch_matches_at(SKLSH_BEST, q, sketch, ids, n_units, n_words, lsb, code_bits,
                         n_codes, out);
}

static inline uint64_t sk_prefix_mask(uint64_t lsb, int code_bits, int n_codes) {
    return n_codes * code_bits >= 64
        ? lsb : lsb & ((((uint64_t)1) << (n_codes * code_bits)) - 1);
}

/* The codes one prefix p shares with q0, of the n_codes it holds. */
static inline int sk_prefix_shared(uint64_t q0, uint64_t p, uint64_t lsb, int code_bits,
                                   int n_codes) {
    return n_codes - __builtin_popcountll(sk_slots_differing(q0 ^ p, code_bits)
                                          & sk_prefix_mask(lsb, code_bits, n_codes));
}

/* How many of the one-word sketches prefix[0], prefix[stride], prefix[2 * stride], ...
 * (below n_units; the prefix array holds the first word of every unit's sketch)
 * share each number of codes (0..n_codes) with the query's first word q0
 * (# OUT hist): a sample from which the sketch ranking sets its cut. */
SKLSH_CLONES static void sk_prefix_sample(uint64_t q0, const uint64_t *prefix, int n_units,
                                          int stride, uint64_t lsb, int code_bits,
                                          int n_codes, int *hist) {
    for (int c = 0; c <= n_codes; c++) hist[c] = 0;
    for (int j = 0; j < n_units; j += stride)
        hist[sk_prefix_shared(q0, prefix[j], lsb, code_bits, n_codes)]++;
}

/* sk_take_ranked over the units [lo, hi), after m were taken (# INOUT ties); returns
 * how many are taken then. Branch-free: which units pass is as good as random, and
 * a mispredicted branch per passing unit cost three times the loop. Every stamp is
 * written (unchanged where the unit stays). */
static inline int sk_take_span(const int *score, int *stamp, int now, int lo, int hi,
                               int thr, int *ties, int want, int *out, int m) {
    int t = *ties;
    for (int j = lo; j < hi && m < want; j++) {
        int c = score[j], at = c == thr;
        int pass = ((c > thr) | (at & (t > 0))) & (stamp[j] != now);
        t -= pass & at;
        out[m] = j;
        m += pass;
        stamp[j] = pass ? now : stamp[j];
    }
    *ties = t;
    return m;
}

#ifdef SKLSH_AVX512_POPCOUNT
#define SKLSH_AVX512_TAKE 1
/* The k lowest set bits of x (all of them when it has no more). */
__attribute__((target("bmi2")))
static inline unsigned sk_lowest_bits(unsigned x, int k) {
    return k >= 16 ? x : _pdep_u32((1u << (k > 0 ? k : 0)) - 1, x);
}

/* sk_take_span sixteen units a step: the step's passing units by mask, the first of
 * those at the cut while ties last, their ids packed and stored through a mask. */
__attribute__((target("avx512f,bmi2,popcnt")))
static int sk_take_span_avx512(const int *score, int *stamp, int now, int lo, int hi,
                               int thr, int *ties, int want, int *out, int m) {
    const __m512i vthr = _mm512_set1_epi32(thr), vnow = _mm512_set1_epi32(now);
    const __m512i step = _mm512_set1_epi32(16);
    __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(lo), _mm512_setr_epi32(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    int t = *ties, j = lo;
    for (; j + 16 <= hi && m < want; j += 16) {
        __m512i c = _mm512_loadu_si512(score + j);
        __mmask16 fresh = _mm512_cmpneq_epi32_mask(_mm512_loadu_si512(stamp + j), vnow);
        unsigned at = sk_lowest_bits(_mm512_mask_cmpeq_epi32_mask(fresh, c, vthr), t);
        unsigned pass = sk_lowest_bits(_mm512_mask_cmpgt_epi32_mask(fresh, c, vthr) | at,
                                       want - m);
        int n_pass = __builtin_popcount(pass);
        t -= __builtin_popcount(pass & at);
        _mm512_mask_storeu_epi32(stamp + j, (__mmask16)pass, vnow);
        _mm512_mask_storeu_epi32(out + m, (__mmask16)((1u << n_pass) - 1),
                                 _mm512_maskz_compress_epi32((__mmask16)pass, idx));
        m += n_pass;
        idx = _mm512_add_epi32(idx, step);
    }
    *ties = t;
    return sk_take_span(score, stamp, now, j, hi, thr, ties, want, out, m);
}
#endif

/* Append to out the units j < n, in cyclic order from `start`, not stamped `now`
 * whose score[j] is above thr, and of those at thr the first `ties`, until `want`
 * are taken (out holds that many); stamp them (# OUT out, # INOUT stamp). Returns
 * how many. */
static int sk_take_ranked_at(int level, const int *score, int *stamp, int now, int n,
                             int start, int thr, int ties, int want, int *out) {
#ifdef SKLSH_AVX512_TAKE
    if (sk_cpu_level(level) >= SKLSH_AVX512) {
        int m = sk_take_span_avx512(score, stamp, now, start, n, thr, &ties, want, out, 0);
        return sk_take_span_avx512(score, stamp, now, 0, start, thr, &ties, want, out, m);
    }
#endif
    int m = sk_take_span(score, stamp, now, start, n, thr, &ties, want, out, 0);
    return sk_take_span(score, stamp, now, 0, start, thr, &ties, want, out, m);
}

static inline int sk_take_ranked(const int *score, int *stamp, int now, int n, int start,
                                 int thr, int ties, int want, int *out) {
    return sk_take_ranked_at(SKLSH_BEST, score, stamp, now, n, start, thr, ties, want, out);
}

/* at[e]: whether prefix[ids[e]] shares exactly c codes with q0, for e < n (# OUT at).
 * Here and not in the Cython caller so that the popcount is an instruction. */
SKLSH_CLONES static void sk_prefix_at_cut(uint64_t q0, const uint64_t *prefix,
                                          const int *ids, int n, uint64_t lsb,
                                          int code_bits, int n_codes, int c, int *at) {
    for (int e = 0; e < n; e++)
        at[e] = sk_prefix_shared(q0, prefix[ids[e]], lsb, code_bits, n_codes) == c;
}

/* Append to out, in order, the j in [lo, hi) whose prefix shares at least c codes
 * with q0 (# OUT out, which must hold hi - lo ids); return how many. One pass that
 * stores nothing per unit but the kept ids: counting every unit into a histogram
 * first (to keep an exact number) cost three times as much as the AVX2 pass below,
 * the histogram's increments most of it. */
static inline int sk_prefix_select_scalar(uint64_t q0, const uint64_t *prefix, int lo,
                                          int hi, uint64_t lsb, int code_bits,
                                          int n_codes, int c, int *out) {
    int n = 0;
    for (int j = lo; j < hi; j++) {     /* (no branch: a few percent are kept) */
        out[n] = j;
        n += sk_prefix_shared(q0, prefix[j], lsb, code_bits, n_codes) >= c;
    }
    return n;
}

#ifdef SKLSH_AVX2_POPCOUNT
/* Eight units a step, their popcounts by nibble lookups as in sk_sketch_matches_avx2;
 * a step keeps none of them most of the time, and then writes nothing. */
__attribute__((target("avx2,bmi")))
static int sk_prefix_select_avx2(uint64_t q0, const uint64_t *prefix, int lo, int hi,
                                 uint64_t lsb, int code_bits, int n_codes, int c,
                                 int *out) {
    const __m256i table = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                           0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
    const __m256i q = _mm256_set1_epi64x((long long)q0);
    const __m256i m = _mm256_set1_epi64x(
        (long long)sk_prefix_mask(lsb, code_bits, n_codes));
    const __m256i lim = _mm256_set1_epi64x(n_codes - c);   /* differing codes allowed */
    int n = 0, j = lo;
#define SKLSH_DIFFERING(x) do {                                                     \
        __m256i y = x;                                                              \
        for (int s = 1; s < code_bits; s++) y = _mm256_or_si256(y, _mm256_srli_epi64(x, s)); \
        x = _mm256_and_si256(y, m);                                                 \
        x = _mm256_sad_epu8(_mm256_add_epi8(                                        \
            _mm256_shuffle_epi8(table, _mm256_and_si256(x, low)),                   \
            _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(x, 4), low))), \
            zero);                                                                  \
    } while (0)
    for (; j + 8 <= hi; j += 8) {
        __m256i x0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(prefix + j)), q);
        __m256i x1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(prefix + j + 4)), q);
        SKLSH_DIFFERING(x0);
        SKLSH_DIFFERING(x1);
        unsigned over = (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(
                            _mm256_cmpgt_epi64(x0, lim)))
                      | (unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(
                            _mm256_cmpgt_epi64(x1, lim))) << 4;
        unsigned keep = ~over & 0xffu;
        while (keep) {
            out[n++] = j + __builtin_ctz(keep);
            keep &= keep - 1;
        }
    }
#undef SKLSH_DIFFERING
    return n + sk_prefix_select_scalar(q0, prefix, j, hi, lsb, code_bits, n_codes, c,
                                       out + n);
}
#endif

#ifdef SKLSH_AVX512_POPCOUNT
/* sk_prefix_select, sixteen units a step; the kept ids of a step are packed in a
 * register and stored whole (out has room: fewer were kept than units passed), which
 * costs no branch on the (unpredictable) few kept. */
__attribute__((target("avx512f,avx512vpopcntdq")))
static int sk_prefix_select_avx512(uint64_t q0, const uint64_t *prefix, int lo, int hi,
                                   uint64_t lsb, int code_bits, int n_codes, int c,
                                   int *out) {
    const __m512i q = _mm512_set1_epi64((long long)q0);
    const __m512i m = _mm512_set1_epi64((long long)sk_prefix_mask(lsb, code_bits, n_codes));
    const __m512i lim = _mm512_set1_epi64(n_codes - c);   /* differing codes allowed */
    const __m512i step = _mm512_set1_epi32(16);
    __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(lo), _mm512_setr_epi32(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    int n = 0, j = lo;
    for (; j + 16 <= hi; j += 16) {
        __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(prefix + j), q);
        __m512i x1 = _mm512_xor_si512(_mm512_loadu_si512(prefix + j + 8), q);
        __m512i y0 = x0, y1 = x1;
        for (int s = 1; s < code_bits; s++) {
            y0 = _mm512_or_si512(y0, _mm512_srli_epi64(x0, s));
            y1 = _mm512_or_si512(y1, _mm512_srli_epi64(x1, s));
        }
        __mmask16 keep = (__mmask16)(
            _mm512_cmple_epu64_mask(_mm512_popcnt_epi64(_mm512_and_si512(y0, m)), lim)
            | (unsigned)_mm512_cmple_epu64_mask(
                _mm512_popcnt_epi64(_mm512_and_si512(y1, m)), lim) << 8);
        _mm512_storeu_si512(out + n, _mm512_maskz_compress_epi32(keep, idx));
        n += __builtin_popcount((unsigned)keep);
        idx = _mm512_add_epi32(idx, step);
    }
    return n + sk_prefix_select_scalar(q0, prefix, j, hi, lsb, code_bits, n_codes, c,
                                       out + n);
}
#endif

static int sk_prefix_select_at(int level, uint64_t q0, const uint64_t *prefix, int lo,
                               int hi, uint64_t lsb, int code_bits, int n_codes, int c,
                               int *out) {
    level = sk_cpu_level(level);
#ifdef SKLSH_AVX512_POPCOUNT
    if (level >= SKLSH_AVX512)
        return sk_prefix_select_avx512(q0, prefix, lo, hi, lsb, code_bits, n_codes, c, out);
#endif
#ifdef SKLSH_AVX2_POPCOUNT
    if (level >= SKLSH_AVX2)
        return sk_prefix_select_avx2(q0, prefix, lo, hi, lsb, code_bits, n_codes, c, out);
#endif
    return sk_prefix_select_scalar(q0, prefix, lo, hi, lsb, code_bits, n_codes, c, out);
}

static inline int sk_prefix_select(uint64_t q0, const uint64_t *prefix, int lo, int hi,
                                   uint64_t lsb, int code_bits, int n_codes, int c,
                                   int *out) {
    return sk_prefix_select_at(SKLSH_BEST, q0, prefix, lo, hi, lsb, code_bits, n_codes, c,
                               out);
}

SKLSH_DEFINE(float, f32, sqrtf)
SKLSH_DEFINE(double, f64, sqrt)

#endif
