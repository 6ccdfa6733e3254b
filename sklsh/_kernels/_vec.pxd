# Typed front of _vec.h: one name per primitive for both float widths.
from cython cimport floating

from libc.stdint cimport uint64_t, int64_t

cdef extern from "_vec.h" nogil:
    void sk_prefetch(const void *p, long bytes)
    void sk_prefetch_write(void *p, long bytes)
    int SKLSH_AHEAD
    uint64_t sk_slot_lsb(int code_bits)
    void sk_sketch_matches(const uint64_t *q, const uint64_t *sketch, const int *ids,
                           int n_units, int n_words, uint64_t lsb, int code_bits,
                           int n_codes, int *out)
    void sk_prefix_sample(uint64_t q0, const uint64_t *prefix, int n_units, int stride,
                          uint64_t lsb, int code_bits, int n_codes, int *hist)
    int sk_prefix_shared(uint64_t q0, uint64_t p, uint64_t lsb, int code_bits,
                         int n_codes)
    int sk_take_ranked(const int *score, int *stamp, int now, int n, int start, int thr,
                       int ties, int want, int *out)
    void sk_prefix_at_cut(uint64_t q0, const uint64_t *prefix, const int *ids, int n,
                          uint64_t lsb, int code_bits, int n_codes, int c, int *at)
    int sk_prefix_select(uint64_t q0, const uint64_t *prefix, int lo, int hi,
                         uint64_t lsb, int code_bits, int n_codes, int c, int *out)
    # each vector path, capped at a level (for the tests)
    int SKLSH_BEST
    int sk_cpu_level(int most)
    void sk_sketch_matches_at(int level, const uint64_t *q, const uint64_t *sketch,
                              const int *ids, int n_units, int n_words, uint64_t lsb,
                              int code_bits, int n_codes, int *out)
    int sk_prefix_select_at(int level, uint64_t q0, const uint64_t *prefix, int lo,
                            int hi, uint64_t lsb, int code_bits, int n_codes, int c,
                            int *out)
    int sk_take_ranked_at(int level, const int *score, int *stamp, int now, int n,
                          int start, int thr, int ties, int want, int *out)
    float sk_dot_f32(const float *a, const float *b, int n)
    double sk_dot_f64(const double *a, const double *b, int n)
    float sk_gather_dot_f32(const float *w, const int *ids, const float *x, int n)
    double sk_gather_dot_f64(const double *w, const int *ids, const double *x, int n)
    void sk_axpy_f32(float alpha, const float *x, float *y, int n)
    void sk_axpy_f64(double alpha, const double *x, double *y, int n)
    void sk_backward_dense_f32(float d, const float *x, const float *w, float *g,
                               float *dx, int n)
    void sk_backward_dense_f64(double d, const double *x, const double *w, double *g,
                               double *dx, int n)
    void sk_adam_row_f32(float *w, float *g, float *m, float *v, int n, float scale,
                         float l2, float lr_t, float beta1, float beta2, float eps)
    void sk_adam_row_f64(double *w, double *g, double *m, double *v, int n, double scale,
                         double l2, double lr_t, double beta1, double beta2, double eps)
    void sk_adam_skip_f32(float *w, float *m, float *v, int n, int64_t t0, int64_t k,
                          double lr, float l2, float beta1, float beta2, float eps)
    void sk_adam_skip_f64(double *w, double *m, double *v, int n, int64_t t0,
                          int64_t k, double lr, double l2, double beta1, double beta2,
                          double eps)
    void sk_momentum_skip_f32(float *w, float *vel, int n, int64_t k, float lr,
                              float l2, float momentum, int nesterov)
    void sk_momentum_skip_f64(double *w, double *vel, int n, int64_t k, double lr,
                              double l2, double momentum, int nesterov)
    void sk_momentum_row_f32(float *w, float *g, float *vel, int n, float scale,
                             float l2, float lr, float momentum, int nesterov)
    void sk_momentum_row_f64(double *w, double *g, double *vel, int n, double scale,
                             double l2, double lr, double momentum, int nesterov)


cdef inline floating dot(const floating *a, const floating *b, int n) noexcept nogil:
    if floating is float:
        return sk_dot_f32(a, b, n)
    else:
        return sk_dot_f64(a, b, n)


cdef inline floating gather_dot(const floating *w, const int *ids, const floating *x,
                               int n) noexcept nogil:
    if floating is float:
        return sk_gather_dot_f32(w, ids, x, n)
    else:
        return sk_gather_dot_f64(w, ids, x, n)


cdef inline void axpy(floating alpha, const floating *x, floating *y, int n) noexcept nogil:
    if floating is float:
        sk_axpy_f32(alpha, x, y, n)
    else:
        sk_axpy_f64(alpha, x, y, n)


cdef inline void backward_dense(floating d, const floating *x, const floating *w,
                                floating *g, floating *dx, int n) noexcept nogil:
    if floating is float:
        sk_backward_dense_f32(d, x, w, g, dx, n)
    else:
        sk_backward_dense_f64(d, x, w, g, dx, n)
