"""The first draw of a network's weights: Glorot's uniform draw, as scikit-learn's
MLP makes it, or for the first layer He's over the rows' effective fan-in."""
import math

import numpy as np
import scipy.sparse as sp


def effective_fan_in(X, init="glorot"):
    """The fan-in the first layer's weights are drawn for under `init`: the mean
    squared norm of X's rows for 'row_norm', None (Glorot's draw) for 'glorot'.

    A sparse row reaches a unit through its few non-zeros only, so the variance of
    the unit's pre-activation is |x|^2 Var(w), not n_features Var(w) as Glorot's
    fan-in assumes: 'row_norm' gives TF-IDF rows unit-order pre-activations from the
    start (an EmbeddingBag's N(0, 1) rows are the same idea). On real text, where
    most words are rare, those large random rows of the rare words stay noise for
    long, and Glorot's small draw, which Adam soon scales up where the data asks,
    learns better: hence the default.
    """
    if init == "glorot" or X.shape[0] == 0 or X.shape[1] == 0:
        return None
    if sp.issparse(X):
        data = X.data.astype(np.float64)
        sq = float(np.dot(data, data))
    else:
        sq = float(np.einsum("ij,ij->", X, X, dtype=np.float64))
    if not sq > 0:
        return None
    mean_sq = sq / X.shape[0]
    # six digits are plenty for a scale, and make it the same whatever order the
    # non-zeros are summed in (dense, CSR or CSC differ in the last bits)
    return round(mean_sq, 5 - math.floor(math.log10(mean_sq)))


def draw_weights(layer_units, dtype, activation, rng, first_fan_in=None,
                 first_by_feature=False):
    """Weights and biases of a network of `layer_units`, drawn from `rng`: per layer
    ``(n_in, n_out)`` coefficients (views of unit-major arrays, as the kernels read
    them; the first layer's C-contiguous itself with `first_by_feature`) and
    ``(n_out,)`` intercepts. `first_fan_in`, when given, replaces Glorot's draw of the
    first layer's weights by He's uniform one over that fan-in."""
    coefs, intercepts = [], []
    factor = 2.0 if activation == "logistic" else 6.0
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        # Glorot's uniform initialisation, drawn as scikit-learn's MLP draws it;
        # stored unit-major, exposed transposed
        bound = w_bound = np.sqrt(factor / (fan_in + fan_out))
        if first_fan_in is not None and not coefs:
            w_bound = np.sqrt(factor / first_fan_in)    # (biases keep Glorot's)
        by_feature = first_by_feature and not coefs
        coefs.append(_uniform(rng, w_bound, fan_in, fan_out, dtype, by_feature))
        intercepts.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
    return coefs, intercepts


# Input rows drawn at a time by _uniform: its float64 draw stays this many values,
# whatever the layer's width
DRAW_BLOCK = 2**22


def _uniform(rng, bound, fan_in, fan_out, dtype, by_feature):
    """``rng.uniform(-bound, bound, (fan_in, fan_out))`` cast to `dtype`, stored
    unit-major (the transpose of a ``(fan_out, fan_in)`` array) or, `by_feature`, as
    drawn: the same values either way, drawn a block of input rows at a time (the
    generator fills in C order, so blocks continue one stream), so that a layer of
    10^6 units needs no float64 copy of itself."""
    W = np.empty((fan_in, fan_out) if by_feature else (fan_out, fan_in), dtype=dtype)
    coef = W if by_feature else W.T
    step = max(1, DRAW_BLOCK // max(fan_out, 1))
    for lo in range(0, fan_in, step):
        hi = min(fan_in, lo + step)
        coef[lo:hi] = rng.uniform(-bound, bound, (hi - lo, fan_out))
    return coef
