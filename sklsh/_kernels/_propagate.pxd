from cython cimport floating
from ._layout cimport Layer

cdef void forward(const Layer *layer, const int *in_ids, const floating *in_val,
                  int in_n, bint in_dense, const int *ids, int k,
                  floating *z) noexcept nogil

cdef void activate(int kind, floating *a, floating *der, int k) noexcept nogil

cdef double output_delta(int loss, const floating *z, int k, const int *ids,
                         const int *label_pos, int n_labels, const floating *y,
                         floating *delta) noexcept nogil

cdef void backward(Layer *layer, const int *in_ids, const floating *in_val, int in_n,
                   bint in_dense, const int *ids, int k, const floating *delta,
                   floating *in_delta, int stamp) noexcept nogil
