"""The per-layer plan: how many units each layer computes per example (its budget),
whether its own hash tables choose them, and how many candidates the tables propose
before the budget with the largest pre-activations is kept (re-ranking)."""
import math
from numbers import Real
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

# The output layer's active fraction under active_fraction='auto', when it is hashed,
# and the most units that leaves active: past 102,400 classes the budget stays at
# this, so that an example's cost stops growing with the number of classes
AUTO_OUTPUT_FRACTION = 0.02
AUTO_OUTPUT_MAX = 2048


class LayerPlan(NamedTuple):
    """How one layer is computed: `budget` active units per example, whether it is
    `hashed` (its own tables choose them), and the `candidates` the tables propose
    before the budget with the largest pre-activations is kept (re-ranking). A dense
    layer has all three at its width (budget and candidates) and hashed False."""
    budget: int
    hashed: bool
    candidates: int


def candidates(budget, n_out, rerank_factor):
    """Units a hashed layer's tables propose, of which its budget stay active."""
    return min(n_out, math.ceil(budget * rerank_factor))


def fractions(active_fraction, n_layers):
    """Active fraction per layer (hidden layers, then the output layer).

    'auto' keeps the hidden layers dense and gives a hashed output layer
    AUTO_OUTPUT_FRACTION of its units: hashing pays where a layer is much wider
    than the units an example needs, which on real data has been the output
    layer of many classes, not a hidden layer of a few hundred units (see
    docs/benchmarks.md). An output layer that is not hashed is dense whatever
    its fraction. (plan_layers caps that output budget at AUTO_OUTPUT_MAX.)"""
    f = active_fraction
    if isinstance(f, str):
        return [1.0] * (n_layers - 1) + [AUTO_OUTPUT_FRACTION]
    if isinstance(f, Real):
        return [float(f)] * n_layers
    f = [float(v) for v in np.asarray(f, dtype=float).ravel()]
    if len(f) != n_layers:
        raise ValueError(
            f"active_fraction={f} has {len(f)} value{'s' * (len(f) != 1)}, but "
            f"this network has {n_layers} layer{'s' * (n_layers != 1)}: give one "
            f"float for all, or a list of {n_layers}: one per hidden layer "
            f"({n_layers - 1}), then one for the output layer.")
    if not all(0 < v <= 1 for v in f):
        raise ValueError(f"active_fraction values must lie in (0, 1], got {f}.")
    return f


def plan_layers(layer_units, active_fraction, rerank_factor, hash_output):
    """Per layer, its :class:`LayerPlan`. `hash_output(n_out)` says whether an output
    layer of that width gets hash tables; a hidden layer gets them when its budget is
    below its width."""
    n_layers = len(layer_units) - 1
    per_layer = fractions(active_fraction, n_layers)
    auto = isinstance(active_fraction, str)
    plan = []
    for l in range(n_layers):
        n_out = layer_units[l + 1]
        budget = max(1, math.ceil(per_layer[l] * n_out))
        if auto and l == n_layers - 1:
            budget = min(budget, AUTO_OUTPUT_MAX)
        hashed = budget < n_out and (l < n_layers - 1 or hash_output(n_out))
        if not hashed:
            plan.append(LayerPlan(n_out, False, n_out))
        else:
            plan.append(LayerPlan(budget, True, candidates(budget, n_out, rerank_factor)))
    return plan


def inference_plan(budgets, proposed, widths, hashed, rerank_factor,
                   inference_active_fraction=None, inference_rerank_factor=None):
    """Per layer, the budget and the candidates of hashed inference: training's
    (`budgets`, `proposed`), but for the output budget (`inference_active_fraction`)
    and the candidates per budget (`inference_rerank_factor`) when these are set.
    `widths` and `hashed` give each layer's units and whether it has tables."""
    budgets, proposed = list(budgets), list(proposed)
    fraction, factor = inference_active_fraction, inference_rerank_factor
    last = len(widths) - 1
    for l, (n_out, has_tables) in enumerate(zip(widths, hashed)):
        if not has_tables:
            continue
        trained = budgets[l]
        if l == last and fraction is not None:
            budgets[l] = max(1, math.ceil(fraction * n_out))
        if factor is not None or budgets[l] != trained:
            proposed[l] = candidates(budgets[l], n_out,
                                     rerank_factor if factor is None else factor)
    return budgets, proposed


def key_sets(X, plan):
    """Per hashed layer, the size of a DOPH key's set: the non-zeros its queries
    have, which maximises the Jaccard similarity of a query with the keys it matches.
    The first layer's queries are X's rows (their mean count of non-zeros), a later
    layer's the active units of the layer below."""
    if X.shape[0] == 0:
        first = 1
    elif sp.issparse(X):
        first = X.count_nonzero() / X.shape[0]
    else:
        first = np.count_nonzero(X) / X.shape[0]
    return [max(1, round(first))] + [layer.budget for layer in plan[:-1]]
