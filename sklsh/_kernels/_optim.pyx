# cython: language_level=3
"""Lazy optimizer steps: only the rows a batch touched are visited.

Rows whose `touched` stamp equals this batch's number had a gradient accumulated; each
gets its step (Adam, or SGD with momentum) and its accumulator is cleared. Untouched
rows keep their weights and moments as they are, so a step costs the rows the batch
used, not the model. The gradient of a weight is `g * scale + l2 * w`, scikit-learn's
MLP form (scale = 1 / batch size, l2 = alpha / batch size; with sample weights, the
batch's sum of weights in place of its size); biases get no penalty.

A feature-major layer (``by_feature``) has a row per input feature, stamped where the
batch had the feature non-zero, and its biases, one per unit, are stepped whole. Its
rows may also be kept up to date (`stepped`, the step number each row last reached):
before a row's step, the steps it sat out since are taken one after another as full
Adam (or momentum) takes them with no data gradient, the L2 penalty's alone, at each
step's rate, while the row is in cache; `adam_settle` and `momentum_settle` bring
rows up to date before a batch reads them and at the end of an epoch. The layer then
trains as a dense step of every row would train it, for a cost that grows with the
steps sat out but reads each row once.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdint cimport int64_t

import numpy as np

from ._vec cimport (sk_adam_row_f32, sk_adam_row_f64, sk_momentum_row_f32,
                    sk_momentum_row_f64, sk_adam_skip_f32, sk_adam_skip_f64,
                    sk_momentum_skip_f32, sk_momentum_skip_f64, sk_prefetch_write)


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


cdef void catch_up(bint adam, floating *w, floating *s, floating *v, int n, int64_t t0,
                   int64_t k, double lr, double l2, double c1, double c2, double eps,
                   bint nesterov) noexcept nogil:
    """Take the steps t0 + 1 .. t0 + k a row sat out, as full Adam (moments s, v,
    base rate lr, rates c1, c2) or SGD (velocity s, momentum c1) takes them with no
    data gradient: the L2 penalty's alone (# INOUT w, s, v)."""
    if adam:
        if floating is float:
            sk_adam_skip_f32(w, s, v, n, t0, k, lr, l2, c1, c2, eps)
        else:
            sk_adam_skip_f64(w, s, v, n, t0, k, lr, l2, c1, c2, eps)
    elif floating is float:
        sk_momentum_skip_f32(w, s, n, k, lr, l2, c1, nesterov)
    else:
        sk_momentum_skip_f64(w, s, n, k, lr, l2, c1, nesterov)


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


cdef enum:
    # Rows scanned per block of a step (at most): a block lists its stamped rows, so
    # that the next ones can be requested while one is stepped
    STEP_BLOCK = 4096
    # Stamped rows requested ahead of the one stepped
    STEP_AHEAD = 2


cdef inline void request_row(bint by_feature, floating[:, ::1] W, floating[::1] b,
                             floating[:, ::1] gW, floating[::1] gb,
                             floating[:, ::1] sW, floating[::1] sb, floating[:, ::1] vW,
                             floating[::1] vb, int j) noexcept nogil:
    """Ask for row j's weights, accumulator and moments (and its bias's) ahead of its
    step: the stamped rows are scattered over a layer that may be far larger than the
    caches, and each row waited a full memory latency for every array (the moments'
    rows of a velocity step are asked for twice: harmless)."""
    cdef long row_bytes = <long>W.shape[1] * sizeof(floating)
    sk_prefetch_write(&W[j, 0], row_bytes)
    sk_prefetch_write(&gW[j, 0], row_bytes)
    sk_prefetch_write(&sW[j, 0], row_bytes)
    sk_prefetch_write(&vW[j, 0], row_bytes)
    if not by_feature:
        sk_prefetch_write(&b[j], sizeof(floating))
        sk_prefetch_write(&gb[j], sizeof(floating))
        sk_prefetch_write(&sb[j], sizeof(floating))
        sk_prefetch_write(&vb[j], sizeof(floating))


cdef void step_block(bint adam, floating[:, ::1] W, floating[::1] b, floating[:, ::1] gW,
                     floating[::1] gb, floating[:, ::1] sW, floating[::1] sb,
                     floating[:, ::1] vW, floating[::1] vb, const int[::1] touched,
                     int stamp, double scale, double l2, double lr, double c1, double c2,
                     double eps, bint nesterov, bint by_feature, int64_t[::1] stepped,
                     int64_t t, double base_lr, Py_ssize_t lo,
                     Py_ssize_t hi) noexcept nogil:
    """step_rows on the rows lo..hi - 1 (at most STEP_BLOCK of them)."""
    cdef int ids[STEP_BLOCK]
    cdef int k = 0, a
    cdef Py_ssize_t j
    cdef int n = <int>W.shape[1]
    cdef bint owed = stepped.shape[0] > 0
    for j in range(lo, hi):
        if touched[j] == stamp:
            ids[k] = <int>j
            k += 1
    for a in range(min(STEP_AHEAD, k)):
        request_row(by_feature, W, b, gW, gb, sW, sb, vW, vb, ids[a])
    for a in range(k):
        if a + STEP_AHEAD < k:
            request_row(by_feature, W, b, gW, gb, sW, sb, vW, vb, ids[a + STEP_AHEAD])
        j = ids[a]
        if owed:
            if t - 1 > stepped[j]:
                catch_up(adam, &W[j, 0], &sW[j, 0], &vW[j, 0], n, stepped[j],
                         t - 1 - stepped[j], base_lr, l2, c1, c2, eps, nesterov)
            stepped[j] = t
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


cdef void step_rows(bint adam, floating[:, ::1] W, floating[::1] b, floating[:, ::1] gW,
                    floating[::1] gb, floating[:, ::1] sW, floating[::1] sb,
                    floating[:, ::1] vW, floating[::1] vb, const int[::1] touched,
                    int stamp, double scale, double l2, double lr, double c1, double c2,
                    double eps, bint nesterov, bint by_feature, int64_t[::1] stepped,
                    int64_t t, double base_lr, int n_threads) noexcept nogil:
    """Step the rows stamped `stamp`: Adam with the moments (sW, sb) and (vW, vb) and
    rates c1, c2 (beta1, beta2), or SGD with the velocities (sW, sb) and momentum c1
    (vW, vb, c2 and eps unused); row j's bias with it, or every bias once when
    `by_feature`. With rows in `stepped`, each first takes the steps it sat out
    before this one, step `t` (`base_lr`: Adam's rate before bias correction). # INOUT W, b, sW, sb, vW, vb, stepped; # OUT gW, gb.

    The rows are handed out in blocks of 16 to STEP_BLOCK, 32 per thread where the
    layer allows: handed out 32 at a time, a million rows with few of them stamped
    cost the threads more in taking turns at the schedule than in stepping."""
    cdef Py_ssize_t rows = W.shape[0], i
    cdef Py_ssize_t size = min(STEP_BLOCK, max(16, rows // (32 * n_threads) + 1))
    cdef Py_ssize_t n_blocks = (rows + size - 1) // size
    for i in prange(n_blocks, num_threads=n_threads, schedule='dynamic'):
        step_block(adam, W, b, gW, gb, sW, sb, vW, vb, touched, stamp, scale, l2, lr,
                   c1, c2, eps, nesterov, by_feature, stepped, t, base_lr, i * size,
                   min(rows, (i + 1) * size))
    if by_feature:
        if adam:
            adam_row(&b[0], &gb[0], &sb[0], &vb[0], <int>W.shape[1], scale, 0, lr, c1,
                     c2, eps)
        else:
            momentum_row(&b[0], &gb[0], &sb[0], <int>W.shape[1], scale, 0, lr, c1,
                         nesterov)


def adam_step(floating[:, ::1] W, floating[::1] b, floating[:, ::1] gW,
              floating[::1] gb, floating[:, ::1] mW, floating[::1] mb,
              floating[:, ::1] vW, floating[::1] vb, const int[::1] touched,
              int stamp, double scale, double l2, double lr_t, double beta1,
              double beta2, double eps, int n_threads, bint by_feature=False,
              stepped=None, int64_t t=0):
    """One Adam step, number `t`, on the rows stamped `stamp` (# INOUT W, b,
    moments, stepped; # OUT gW, gb).

    `lr_t` already carries Adam's bias correction for this step number. With
    `by_feature` the layer is feature-major: W is ``(n_in, n_out)``, touched
    ``(n_in,)``; `stepped`, given, ``(n_in,)`` int64 (see the module docstring).
    """
    _check(W, b, gW, gb, mW, mb, vW, vb, touched=touched, by_feature=by_feature)
    cdef int64_t[::1] owed = _owed(stepped, W, by_feature, t)
    # (the base rate, for the bias correction of each step sat out)
    cdef double base_lr = lr_t * (1 - beta1**t) / sqrt(1 - beta2**t) if t >= 1 else lr_t
    if W.shape[0] == 0 or W.shape[1] == 0:
        return
    with nogil:
        step_rows(True, W, b, gW, gb, mW, mb, vW, vb, touched, stamp, scale, l2, lr_t,
                  beta1, beta2, eps, False, by_feature, owed, t, base_lr, n_threads)


def momentum_step(floating[:, ::1] W, floating[::1] b, floating[:, ::1] gW,
                  floating[::1] gb, floating[:, ::1] velW, floating[::1] velb,
                  const int[::1] touched, int stamp, double scale, double l2,
                  double lr, double momentum, int n_threads, bint nesterov=False,
                  bint by_feature=False, stepped=None, int64_t t=0):
    """One SGD-with-momentum step on the rows stamped `stamp`
    (# INOUT W, b, velocities; # OUT gW, gb): scikit-learn's SGDOptimizer update,
    ``vel = momentum * vel - lr * grad``, then ``W += momentum * vel - lr * grad``
    with `nesterov`, else ``W += vel`` (heavy ball); `by_feature`, `stepped`
    and `t` as in `adam_step`."""
    _check(W, b, gW, gb, velW, velb, touched=touched, by_feature=by_feature)
    cdef int64_t[::1] owed = _owed(stepped, W, by_feature, t)
    if W.shape[0] == 0 or W.shape[1] == 0:
        return
    with nogil:
        step_rows(False, W, b, gW, gb, velW, velb, velW, velb, touched, stamp, scale,
                  l2, lr, momentum, 0, 0, nesterov, by_feature, owed, t, lr, n_threads)


def _owed(stepped, W, bint by_feature, int64_t t):
    """`stepped` checked (none: an empty array), before the nogil code reads it."""
    if stepped is None:
        return np.empty(0, dtype=np.int64)
    if not by_feature:
        raise ValueError("only a layer stored by feature keeps its rows' step numbers")
    if stepped.dtype != np.int64 or stepped.shape != (W.shape[0],):
        raise ValueError("stepped must be an int64 array with one entry per row")
    if t < 1:
        raise ValueError("the step number must be positive")
    return stepped


cdef void settle_rows(bint adam, floating[:, ::1] W, floating[:, ::1] sW,
                      floating[:, ::1] vW, int64_t[::1] stepped, const int64_t[::1] rows,
                      int64_t t, double lr, double l2, double c1, double c2, double eps,
                      bint nesterov, int n_threads) noexcept nogil:
    """Bring the rows `rows` (every row when empty) up to step t; the rows listed
    are requested STEP_AHEAD ahead, as in a step."""
    cdef Py_ssize_t i, j, ahead
    cdef int n = <int>W.shape[1]
    cdef long row_bytes = <long>n * sizeof(floating)
    cdef bint every = rows.shape[0] == 0
    cdef Py_ssize_t count = W.shape[0] if every else rows.shape[0]
    for i in prange(count, num_threads=n_threads, schedule='dynamic', chunksize=64):
        if not every and i + STEP_AHEAD < count:
            ahead = rows[i + STEP_AHEAD]
            sk_prefetch_write(&W[ahead, 0], row_bytes)
            sk_prefetch_write(&sW[ahead, 0], row_bytes)
            sk_prefetch_write(&vW[ahead, 0], row_bytes)
        j = i if every else rows[i]
        if stepped[j] < t:
            catch_up(adam, &W[j, 0], &sW[j, 0], &vW[j, 0], n, stepped[j], t - stepped[j],
                     lr, l2, c1, c2, eps, nesterov)
            stepped[j] = t


def adam_settle(W, mW, vW, stepped, int64_t t, double learning_rate, double l2,
                double beta1, double beta2, double eps, int n_threads, rows=None):
    """Bring the rows `rows` (distinct ids; None: every row) of a layer stored by
    feature up to step `t`, taking the steps each sat out since `stepped` as full
    Adam takes them with the penalty `l2` alone (# INOUT W, mW, vW, stepped)."""
    _settle(True, W, mW, vW, stepped, t, learning_rate, l2, beta1, beta2, eps, False,
            n_threads, rows)


def momentum_settle(W, velW, stepped, int64_t t, double learning_rate, double l2,
                    double momentum, bint nesterov, int n_threads, rows=None):
    """`adam_settle` for SGD with momentum (# INOUT W, velW, stepped)."""
    _settle(False, W, velW, velW, stepped, t, learning_rate, l2, momentum, 0, 0,
            nesterov, n_threads, rows)


def _settle(bint adam, floating[:, ::1] W, floating[:, ::1] sW, floating[:, ::1] vW,
            stepped, int64_t t, double lr, double l2, double c1, double c2, double eps,
            bint nesterov, int n_threads, rows):
    if (sW.shape[0] != W.shape[0] or sW.shape[1] != W.shape[1]
            or vW.shape[0] != W.shape[0] or vW.shape[1] != W.shape[1]):
        raise ValueError("optimizer arrays do not match the weights")
    if stepped is None or (rows is not None and len(rows) == 0):
        return
    cdef int64_t[::1] owed = _owed(stepped, W, True, t)
    cdef const int64_t[::1] which = _rows(rows, W)
    with nogil:
        settle_rows(adam, W, sW, vW, owed, which, t, lr, l2, c1, c2, eps, nesterov,
                    n_threads)


def _rows(rows, W):
    """`rows` as int64 ids checked within W's rows; None, every row, as an empty
    array (the settle functions return before an empty selection)."""
    if rows is None:
        return np.empty(0, dtype=np.int64)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= W.shape[0]):
        raise ValueError("row ids out of range")
    return rows
