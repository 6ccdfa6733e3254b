"""Optimizer state (moment arrays, step count) and one lazy step over touched rows.

As in scikit-learn's ``_stochastic_optimizers``, the optimizer owns only its moments;
the weights are handed in at every step, so a model reloaded by joblib (its arrays now
new objects, perhaps memory maps) keeps training.
"""
import numpy as np

from ._kernels._optim import adam_step, momentum_step


def init_state(solver, weights, biases):
    """Zero moments shaped like the parameters: Adam's m and v, or SGD's velocity.
    (``np.zeros``, not ``zeros_like``: the pages are zeroed by the OS as a step
    first writes them, so the rows of classes no batch touches cost no memory.)"""
    state = {"solver": solver, "t": 0}
    names = ("m", "v") if solver == "adam" else ("velocity",)
    for name in names:
        state[name + "_W"] = [np.zeros(W.shape, W.dtype) for W in weights]
        state[name + "_b"] = [np.zeros(b.shape, b.dtype) for b in biases]
    return state


def step(state, weights, biases, grad_weights, grad_biases, touched, stamp, *,
         batch_size, alpha, learning_rate, beta_1, beta_2, epsilon, momentum,
         n_threads, nesterov=False, weight_sum=None, first_feature_major=False):
    """Apply one step to the rows of every layer stamped `stamp`, clearing their
    gradient accumulators; rows the batch did not touch are left alone.

    With `first_feature_major` the first layer's rows are its input features (see
    ``Network``): a feature's weights move only in the batches where some example
    has it non-zero, as the output layer's rows move only with their classes, and
    its biases move in every batch.

    The accumulated gradients are sums over the batch; as in scikit-learn's MLP they
    are divided by the batch's size, or by its sum of sample weights when
    `weight_sum` is given, and so is the L2 penalty (``alpha / weight_sum``). A batch
    whose weights sum to 0 has a zero gradient. `nesterov` chooses Nesterov's
    momentum for 'sgd' (scikit-learn's ``nesterovs_momentum``).
    """
    total = batch_size if weight_sum is None else weight_sum
    scale = 1.0 / total if total != 0 else 0.0
    l2 = alpha / total if total != 0 else 0.0
    state["t"] += 1
    if state["solver"] == "adam":
        t = state["t"]
        lr_t = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        for l, W in enumerate(weights):
            adam_step(W, biases[l], grad_weights[l], grad_biases[l], state["m_W"][l],
                      state["m_b"][l], state["v_W"][l], state["v_b"][l], touched[l],
                      stamp, scale, l2, lr_t, beta_1, beta_2, epsilon, n_threads,
                      l == 0 and first_feature_major)
    else:
        for l, W in enumerate(weights):
            momentum_step(W, biases[l], grad_weights[l], grad_biases[l],
                          state["velocity_W"][l], state["velocity_b"][l], touched[l],
                          stamp, scale, l2, learning_rate, momentum, n_threads,
                          bool(nesterov), l == 0 and first_feature_major)
