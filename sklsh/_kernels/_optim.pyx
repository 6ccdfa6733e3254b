# cython: language_level=3
"""Lazy optimizer steps: only the rows a batch touched are visited.

Rows whose `touched` stamp equals this batch's number had a gradient accumulated; each
gets its step (Adam, or SGD with momentum) and its accumulator is cleared. Untouched
rows keep their weights and moments as they are, so a step costs the rows the batch
used, not the model. The gradient of a weight is `g * scale + l2 * w`, scikit-learn's
MLP form (scale = 1 / batch size, l2 = alpha / batch size; with sample weights, the
batch's sum of weights in place of its size); biases get no penalty.

A feature-major layer (``by_feature``) has a row per input feature, stamped where the
batch had the feature non-zero, and its biases, one per unit, are stepped whole.
"""
from cython cimport floating
from cython.parallel cimport prange

from ._vec cimport (sk_adam_row_f32, sk_adam_row_f64, sk_momentum_row_f32,
                    sk_momentum_row_f64)


cdef inline void adam_row(floating *w, floating *g, floating *m, floating *v, int n,
                          double scale, double l2, double lr_t, double beta1,
                          double beta2, double eps) noexcept nogil:
    if floating is float:
        sk_adam_row_f32(w, g, m, v, n, scale, l2, lr_t, beta1, beta2, eps)
    else:
        sk_adam_row_f64(w, g, m, v, n, scale, l2, lr_t, beta1, beta2, eps)


cdef inline void momentum_row(floating *w, floating *g, floating *vel, int n,
                              double scale, double l2, double lr,
                              double momentum, bint nesterov) noexcept nogil:
    if floating is float:
        sk_momentum_row_f32(w, g, vel, n, scale, l2, lr, momentum, nesterov)
    else:
        sk_momentum_row_f64(w, g, vel, n, scale, l2, lr, momentum, nesterov)


def _check(W, b, gW, gb, *moments, touched, by_feature):
    n_units = W.shape[1] if by_feature else W.shape[0]
    for a in (gW,) + moments[::2]:
        if a.shape[0] != W.shape[0] or a.shape[1] != W.shape[1]:
            raise ValueError("optimizer arrays do not match the weights")
    for a in (gb,) + moments[1::2]:
        if a.shape[0] != n_units:
            raise ValueError("optimizer arrays do not match the biases")
    if b.shape[0] != n_units or touched.shape[0] != W.shape[0]:
        raise ValueError("optimizer arrays do not match the weights")


cdef void step_rows(bint adam, floating[:, ::1] W, floating[::1] b, floating[:, ::1] gW,
                    floating[::1] gb, floating[:, ::1] sW, floating[::1] sb,
                    floating[:, ::1] vW, floating[::1] vb, const int[::1] touched,
                    int stamp, double scale, double l2, double lr, double c1, double c2,
                    double eps, bint nesterov, bint by_feature,
                    int n_threads) noexcept nogil:
    """Step the rows stamped `stamp`: Adam with the moments (sW, sb) and (vW, vb) and
    rates c1, c2 (beta1, beta2), or SGD with the velocities (sW, sb) and momentum c1
    (vW, vb, c2 and eps unused); row j's bias with it, or every bias once when
    `by_feature`. # INOUT W, b, sW, sb, vW, vb; # OUT gW, gb."""
    cdef Py_ssize_t j
    cdef int n = <int>W.shape[1]
    for j in prange(W.shape[0], num_threads=n_threads, schedule='dynamic', chunksize=32):
        if touched[j] != stamp:
            continue
        if adam:
            adam_row(&W[j, 0], &gW[j, 0], &sW[j, 0], &vW[j, 0], n, scale, l2, lr,
                     c1, c2, eps)
            if not by_feature:
                adam_row(&b[j], &gb[j], &sb[j], &vb[j], 1, scale, 0, lr, c1, c2, eps)
        else:
            momentum_row(&W[j, 0], &gW[j, 0], &sW[j, 0], n, scale, l2, lr, c1,
                         nesterov)
            if not by_feature:
                momentum_row(&b[j], &gb[j], &sb[j], 1, scale, 0, lr, c1, nesterov)
    if by_feature:
        if adam:
            adam_row(&b[0], &gb[0], &sb[0], &vb[0], n, scale, 0, lr, c1, c2, eps)
        else:
            momentum_row(&b[0], &gb[0], &sb[0], n, scale, 0, lr, c1, nesterov)


def adam_step(floating[:, ::1] W, floating[::1] b, floating[:, ::1] gW,
              floating[::1] gb, floating[:, ::1] mW, floating[::1] mb,
              floating[:, ::1] vW, floating[::1] vb, const int[::1] touched,
              int stamp, double scale, double l2, double lr_t, double beta1,
              double beta2, double eps, int n_threads, bint by_feature=False):
    """One Adam step on the rows stamped `stamp` (# INOUT W, b, moments; # OUT gW, gb).

    `lr_t` already carries Adam's bias correction for this step number. With
    `by_feature` the layer is feature-major: W is ``(n_in, n_out)``, touched
    ``(n_in,)``.
    """
    _check(W, b, gW, gb, mW, mb, vW, vb, touched=touched, by_feature=by_feature)
    if W.shape[0] == 0 or W.shape[1] == 0:
        return
    with nogil:
        step_rows(True, W, b, gW, gb, mW, mb, vW, vb, touched, stamp, scale, l2, lr_t,
                  beta1, beta2, eps, False, by_feature, n_threads)


def momentum_step(floating[:, ::1] W, floating[::1] b, floating[:, ::1] gW,
                  floating[::1] gb, floating[:, ::1] velW, floating[::1] velb,
                  const int[::1] touched, int stamp, double scale, double l2,
                  double lr, double momentum, int n_threads, bint nesterov=False,
                  bint by_feature=False):
    """One SGD-with-momentum step on the rows stamped `stamp`
    (# INOUT W, b, velocities; # OUT gW, gb): scikit-learn's SGDOptimizer update,
    ``vel = momentum * vel - lr * grad``, then ``W += momentum * vel - lr * grad``
    with `nesterov`, else ``W += vel`` (heavy ball); `by_feature` as in
    `adam_step`."""
    _check(W, b, gW, gb, velW, velb, touched=touched, by_feature=by_feature)
    if W.shape[0] == 0 or W.shape[1] == 0:
        return
    with nogil:
        step_rows(False, W, b, gW, gb, velW, velb, velW, velb, touched, stamp, scale,
                  l2, lr, momentum, 0, 0, nesterov, by_feature, n_threads)
