"""Optimizer state (moment arrays, step count) and one lazy step over touched rows.

As in scikit-learn's ``_stochastic_optimizers``, the optimizer owns only its moments;
the weights are handed in at every step, so a model reloaded by joblib (its arrays now
new objects, perhaps memory maps) keeps training.
"""
import numpy as np

from ._kernels._optim import adam_settle, adam_step, momentum_settle, momentum_step


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
    ``Network``), stepped in the batches where some example has them non-zero, its
    biases in every batch. Such a row takes the steps it sat out as full Adam (or
    momentum) takes them with no data gradient, the L2 penalty's alone (that of the
    last batch, ``state["l2"]``), before the batch that has it reads it (the trainer
    calls :func:`settle` on the batch's features) or, at the latest, before its own
    step: the layer trains as if every row were stepped every batch.
    ``state["stepped"]`` keeps the step number each row has reached.

    The accumulated gradients are sums over the batch; as in scikit-learn's MLP they
    are divided by the batch's size, or by its sum of sample weights when
    `weight_sum` is given, and so is the L2 penalty (``alpha / weight_sum``). A batch
    whose weights sum to 0 has a zero gradient. `nesterov` chooses Nesterov's
    momentum for 'sgd' (scikit-learn's ``nesterovs_momentum``).
    """
    total = batch_size if weight_sum is None else weight_sum
    scale = 1.0 / total if total != 0 else 0.0
    l2 = alpha / total if total != 0 else 0.0
    stepped = _stepped(state, weights[0]) if first_feature_major else None
    state["l2"] = l2        # (the penalty of the steps a row sits out from now)
    state["t"] += 1
    t = state["t"]
    for l, W in enumerate(weights):
        by_feature = l == 0 and first_feature_major
        rows_t = dict(by_feature=by_feature, stepped=stepped if by_feature else None,
                      t=t)
        if state["solver"] == "adam":
            adam_step(W, biases[l], grad_weights[l], grad_biases[l], state["m_W"][l],
                      state["m_b"][l], state["v_W"][l], state["v_b"][l], touched[l],
                      stamp, scale, l2, _adam_rate(learning_rate, beta_1, beta_2, t),
                      beta_1, beta_2, epsilon, n_threads, **rows_t)
        else:
            momentum_step(W, biases[l], grad_weights[l], grad_biases[l],
                          state["velocity_W"][l], state["velocity_b"][l], touched[l],
                          stamp, scale, l2, learning_rate, momentum, n_threads,
                          bool(nesterov), **rows_t)


def settle(state, weights, *, learning_rate, beta_1, beta_2, epsilon, momentum,
           n_threads, nesterov=False, rows=None):
    """Bring the rows `rows` (distinct feature ids; None: all) of a first layer
    stored by feature up to the last step (see :func:`step`); nothing to do for a
    network without one."""
    if "stepped" not in state or state["t"] == 0:
        return
    t = state["t"]
    l2 = state.get("l2", 0.0)
    if state["solver"] == "adam":
        adam_settle(weights[0], state["m_W"][0], state["v_W"][0], state["stepped"], t,
                    learning_rate, l2, beta_1, beta_2, epsilon, n_threads, rows)
    else:
        momentum_settle(weights[0], state["velocity_W"][0], state["stepped"], t,
                        learning_rate, l2, momentum, bool(nesterov), n_threads, rows)


def _adam_rate(learning_rate, beta_1, beta_2, t):
    """Adam's rate at step t, bias-corrected."""
    return learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)


def _stepped(state, W):
    """The step numbers of a by-feature first layer's rows: made, all current,
    when the layer first steps so (a new fit, or a warm start that turned it)."""
    stepped = state.get("stepped")
    if stepped is None or stepped.shape != (W.shape[0],):
        stepped = state["stepped"] = np.full(W.shape[0], state["t"], dtype=np.int64)
    return stepped
