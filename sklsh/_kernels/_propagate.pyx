# cython: language_level=3
"""Sparse forward and backward through one layer, for one example.

A layer's input is either dense (the first layer's row, or a layer below that computes
every unit) or the (ids, values) of the active units below. Only the `k` active units
of this layer are computed, and the backward step touches only (active unit, non-zero
input) pairs: their weight gradients are added into the shared accumulators without
locks (Hogwild), and each row written is stamped so that the optimizer visits it.
"""
from libc.math cimport exp, log, log1p, tanh, fabs
from cython cimport floating

from ._layout cimport Layer, IDENTITY, LOGISTIC, TANH, RELU, SOFTMAX, SIGMOID, SQUARED
from ._vec cimport (dot, gather_dot, axpy, backward_dense, sk_prefetch, sk_prefetch_write,
                   SKLSH_AHEAD as AHEAD)


cdef void forward_features(const Layer *layer, const int *in_ids,
                           const floating *in_val, int in_n, bint in_dense,
                           floating *z) noexcept nogil:
    """z = W^T x + b for a feature-major layer, every unit: one contiguous row of
    weights per non-zero input, added in (# OUT z)."""
    cdef const floating *W = <const floating *> layer.W
    cdef const floating *b = <const floating *> layer.b
    cdef int a, p, n_out = layer.n_out
    cdef long row_bytes = <long>n_out * sizeof(floating)
    for a in range(n_out):
        z[a] = b[a]
    if in_dense:
        for p in range(in_n):
            if in_val[p] != 0:
                axpy(in_val[p], W + <Py_ssize_t>p * n_out, z, n_out)
        return
    # the rows are scattered over the layer: requested a few non-zeros ahead
    for p in range(min(AHEAD, in_n)):
        sk_prefetch(W + <Py_ssize_t>in_ids[p] * n_out, row_bytes)
    for p in range(in_n):
        if p + AHEAD < in_n:
            sk_prefetch(W + <Py_ssize_t>in_ids[p + AHEAD] * n_out, row_bytes)
        axpy(in_val[p], W + <Py_ssize_t>in_ids[p] * n_out, z, n_out)


cdef void backward_features(Layer *layer, const int *in_ids, const floating *in_val,
                            int in_n, bint in_dense, const floating *delta,
                            int stamp) noexcept nogil:
    """Accumulate a feature-major layer's gradients: every unit's bias, and the row of
    each non-zero input, stamped with the batch whether or not a delta is non-zero
    there (# OUT layer.gW, layer.gb). The layer is the first: no delta goes below."""
    cdef floating *gW = <floating *> layer.gW
    cdef floating *gb = <floating *> layer.gb
    cdef int a, p, i, n_out = layer.n_out
    cdef long row_bytes = <long>n_out * sizeof(floating)
    for a in range(n_out):
        gb[a] += delta[a]
    for p in range(-min(AHEAD, in_n), in_n):
        if not in_dense and p + AHEAD < in_n:
            sk_prefetch_write(gW + <Py_ssize_t>in_ids[p + AHEAD] * n_out, row_bytes)
        if p < 0:           # (the first rows, requested before any is written)
            continue
        if in_val[p] == 0:
            continue
        i = p if in_dense else in_ids[p]
        if layer.touched[i] != stamp:   # read first, as backward() does
            layer.touched[i] = stamp
        axpy(in_val[p], delta, gW + <Py_ssize_t>i * n_out, n_out)


cdef void forward(const Layer *layer, const int *in_ids, const floating *in_val,
                  int in_n, bint in_dense, const int *ids, int k,
                  floating *z) noexcept nogil:
    """z[a] = W[ids[a]] . input + b[ids[a]] for the k active units (# OUT z)."""
    cdef const floating *W = <const floating *> layer.W
    cdef const floating *b = <const floating *> layer.b
    cdef const floating *row
    cdef int a, p, n_in = layer.n_in
    cdef long row_bytes = <long>n_in * sizeof(floating)
    # only a hashed layer's scattered rows, read whole from a dense input, gain (a
    # dense layer's rows come in order; a sparse input reads a few weights per row)
    cdef int ahead = AHEAD if in_dense and layer.hashed else 0
    cdef floating s
    if layer.feature_major:     # (dense: k is every unit, ids the identity)
        forward_features(layer, in_ids, in_val, in_n, in_dense, z)
        return
    for a in range(min(ahead, k)):
        sk_prefetch(W + <Py_ssize_t>ids[a] * n_in, row_bytes)
    for a in range(k):
        if a + ahead < k and ahead:
            sk_prefetch(W + <Py_ssize_t>ids[a + ahead] * n_in, row_bytes)
        row = W + <Py_ssize_t>ids[a] * n_in
        if in_dense:
            s = dot(row, in_val, n_in)
        else:
            s = gather_dot(row, in_ids, in_val, in_n)
        z[a] = s + b[ids[a]]


cdef void activate(int kind, floating *a, floating *der, int k) noexcept nogil:
    """In place a = f(z); der = f'(z), written from f(z) (# INOUT a, # OUT der)."""
    cdef int e
    for e in range(k):
        if kind == RELU:
            if a[e] > 0:
                der[e] = 1
            else:
                a[e] = 0
                der[e] = 0
        elif kind == TANH:
            a[e] = tanh(a[e])
            der[e] = 1 - a[e] * a[e]
        elif kind == LOGISTIC:
            a[e] = 1 / (1 + exp(-a[e]))
            der[e] = a[e] * (1 - a[e])
        else:
            der[e] = 1


cdef inline double softplus(double z) noexcept nogil:
    return (z if z > 0 else 0) + log1p(exp(-fabs(z)))


cdef double output_delta(int loss, const floating *z, int k, const int *ids,
                         const int *label_pos, int n_labels, const floating *y,
                         floating *delta) noexcept nogil:
    """Loss of one example over its k active outputs, and d loss / d z (# OUT delta).

    Labels are given as positions in the active set. SOFTMAX spreads the target mass
    evenly over the labels; SIGMOID treats each output as its own binary problem;
    SQUARED reads the targets `y` by output id.
    """
    cdef int a, e
    cdef double m, total, value = 0, t
    if loss == SOFTMAX:
        if n_labels == 0:
            for a in range(k):
                delta[a] = 0
            return 0
        m = z[0]
        for a in range(1, k):
            if z[a] > m:
                m = z[a]
        total = 0
        for a in range(k):
            total += exp(z[a] - m)
        for a in range(k):
            delta[a] = <floating>(exp(z[a] - m) / total)
        t = 1.0 / n_labels
        for e in range(n_labels):
            a = label_pos[e]
            value -= t * (z[a] - m - log(total))
            delta[a] -= <floating>t
    elif loss == SIGMOID:
        for a in range(k):
            delta[a] = <floating>(1 / (1 + exp(-z[a])))
            value += softplus(z[a])
        for e in range(n_labels):
            a = label_pos[e]
            value -= z[a]
            delta[a] -= 1
    else:
        for a in range(k):
            delta[a] = z[a] - y[ids[a]]
            value += 0.5 * delta[a] * delta[a]
    return value


cdef void backward(Layer *layer, const int *in_ids, const floating *in_val, int in_n,
                   bint in_dense, const int *ids, int k, const floating *delta,
                   floating *in_delta, int stamp) noexcept nogil:
    """Accumulate the gradients of the k active units and, when `in_delta` is given,
    add W^T delta into it, by input position (# OUT layer.gW, layer.gb, in_delta)."""
    cdef const floating *W = <const floating *> layer.W
    cdef floating *gW = <floating *> layer.gW
    cdef floating *gb = <floating *> layer.gb
    cdef const floating *row
    cdef floating *g
    cdef floating d
    cdef int a, p, i, j, n_in = layer.n_in
    cdef long row_bytes = <long>n_in * sizeof(floating)
    # as in forward: a hashed layer's scattered rows, here its accumulators' (and the
    # weights' again, which the forward pass's other candidates may have evicted)
    cdef int ahead = AHEAD if in_dense and layer.hashed else 0
    if layer.feature_major:
        backward_features(layer, in_ids, in_val, in_n, in_dense, delta, stamp)
        return
    for a in range(-min(ahead, k), k):
        if a + ahead < k and ahead:
            j = ids[a + ahead]
            sk_prefetch_write(gW + <Py_ssize_t>j * n_in, row_bytes)
            if in_delta != NULL:
                sk_prefetch(W + <Py_ssize_t>j * n_in, row_bytes)
        if a < 0:           # (the first rows, requested before any is read)
            continue
        d = delta[a]
        if d == 0:
            continue
        j = ids[a]
        if layer.touched[j] != stamp:   # read first: a store would bounce the line
            layer.touched[j] = stamp    # between cores on every hot unit
        gb[j] += d
        row = W + <Py_ssize_t>j * n_in
        g = gW + <Py_ssize_t>j * n_in
        if in_dense:
            if in_delta != NULL:
                backward_dense(d, in_val, row, g, in_delta, n_in)
            else:
                axpy(d, in_val, g, n_in)
        else:
            for p in range(in_n):
                i = in_ids[p]
                g[i] += d * in_val[p]
                if in_delta != NULL:
                    in_delta[p] += d * row[i]
