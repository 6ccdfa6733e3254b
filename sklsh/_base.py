"""The shared estimator: parameters, the fit / partial_fit loop, early stopping,
warm start, prediction, persistence and tags. LSHMLPClassifier and LSHMLPRegressor
(``sklsh._classes``) add only their targets and output layers."""
import math
import os
import time
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.parallel import _get_threadpool_controller
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _hashing, _optimizers
from ._threads import effective_n_threads
from ._training import (KernelInput, Trainer, hashed_output_scores, inference_network,
                        input_layer)

# Bumped whenever the layout of the fitted arrays changes; a pickle of another layout
# is refused with a clear message instead of reaching the kernels.
STATE_FORMAT = 5
# Rows per block when predicting, and at most this many activations of the widest
# layer per block: with 100k classes a block is 167 rows, 64 MB of float32 scores,
# enough rows for each product to run at BLAS speed.
PREDICT_CHUNK = 4096
PREDICT_BLOCK = 2**24


# The output layer's active fraction under active_fraction='auto', when it is hashed
AUTO_OUTPUT_FRACTION = 0.02


def _effective_fan_in(X, init="glorot"):
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


def _candidates(budget, n_out, rerank_factor):
    """Units a hashed layer's tables propose, of which its budget stay active."""
    return min(n_out, math.ceil(budget * rerank_factor))


def _key_sets(X, plan):
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
    return [max(1, round(first))] + [budget for budget, _, _ in plan[:-1]]


def _densify(ids, scores, n_outputs):
    """A column per output from the active outputs' (ids, scores); -inf elsewhere."""
    dense = np.full((ids.shape[0], n_outputs), -np.inf, dtype=scores.dtype)
    rows, cols = np.nonzero(ids >= 0)
    dense[rows, ids[rows, cols]] = scores[rows, cols]
    return dense


def _writeable(a):
    """`a` itself when C-contiguous and writeable, else a private copy that is."""
    if a.flags.c_contiguous and a.flags.writeable:
        return a
    return np.array(a, order="C")


def _activate(name, z):
    if name == "relu":
        np.maximum(z, 0, out=z)
    elif name == "tanh":
        np.tanh(z, out=z)
    elif name == "logistic":
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += 1
        np.reciprocal(z, out=z)
    return z


def _store_params(estimator, params):
    """What an estimator's ``__init__`` does, by scikit-learn's rule: store each of its
    arguments under its own name, nothing else (``params`` is its ``locals()``)."""
    for name, value in params.items():
        if name != "self":
            setattr(estimator, name, value)


class BaseLSHMLP(BaseEstimator, metaclass=ABCMeta):
    """Base class of the LSH multi-layer perceptrons; use the derived classes."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"),
                             Options(Real, {np.inf})],
        "init": [StrOptions({"glorot", "row_norm"})],
        "active_fraction": [Interval(Real, 0, 1, closed="right"), "array-like",
                            StrOptions({"auto"})],
        "hash_family": [StrOptions(set(_hashing.FAMILIES))],
        "bits_per_table": [Interval(Integral, 1, 30, closed="both")],
        "n_tables": [Interval(Integral, 1, None, closed="left")],
        "bucket_size": [Interval(Integral, 1, None, closed="left")],
        "bucket_policy": [StrOptions({"fifo", "reservoir"})],
        "selection": [StrOptions({"topk", "union", "sketch"})],
        "rerank_factor": [Interval(Real, 1, None, closed="left")],
        "inference_active_fraction": [Interval(Real, 0, 1, closed="right"), None],
        "inference_rerank_factor": [Interval(Real, 1, None, closed="left"), None],
        "explore_fraction": [Interval(Real, 0, 1, closed="left")],
        "wta_window": [Interval(Integral, 2, 1024, closed="both")],
        "mips": ["boolean"],
        "refresh_interval": [Interval(Integral, 1, None, closed="left")],
        "refresh_growth": [Interval(Real, 1, None, closed="left")],
        "inference": [StrOptions({"exact", "hashed"})],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
    }

    # ---------------------------------------------------------------- subclass hooks
    @abstractmethod
    def _validate_input(self, X, y, incremental, reset):
        """Validated X and y (classes_ are set here for classifiers)."""

    @abstractmethod
    def _targets(self, y, dtype):
        """y as the kernels read it (``sklsh._training.Targets``) and the number of
        network outputs."""

    @abstractmethod
    def _loss_name(self):
        """The kernel loss: "softmax", "sigmoid" or "squared"."""

    def _hash_output(self, n_outputs):
        """Whether the output layer gets hash tables (never for regression)."""
        return False

    # ------------------------------------------------------------------ structure
    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if not all(isinstance(s, Integral) and s > 0 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes}.")
        return [int(s) for s in sizes]

    def _fractions(self, n_layers):
        """Active fraction per layer (hidden layers, then the output layer).

        'auto' keeps the hidden layers dense and gives a hashed output layer
        AUTO_OUTPUT_FRACTION of its units: hashing pays where a layer is much wider
        than the units an example needs, which on real data has been the output
        layer of many classes, not a hidden layer of a few hundred units (see
        docs/benchmarks.md). An output layer that is not hashed is dense whatever
        its fraction."""
        f = self.active_fraction
        if isinstance(f, str):
            return [1.0] * (n_layers - 1) + [AUTO_OUTPUT_FRACTION]
        if isinstance(f, Real):
            return [float(f)] * n_layers
        f = [float(v) for v in np.asarray(f, dtype=float).ravel()]
        if len(f) != n_layers:
            raise ValueError(
                f"active_fraction has {len(f)} value{'s' if len(f) != 1 else ''}; "
                f"give one float, or a list of {n_layers}: one per hidden layer "
                f"({n_layers - 1}), then one for the output layer.")
        if not all(0 < v <= 1 for v in f):
            raise ValueError(f"active_fraction values must lie in (0, 1], got {f}.")
        return f

    def _plan(self, layer_units):
        """Per layer: (budget, hashed, candidates)."""
        n_layers = len(layer_units) - 1
        fractions = self._fractions(n_layers)
        plan = []
        for l in range(n_layers):
            n_out = layer_units[l + 1]
            budget = max(1, math.ceil(fractions[l] * n_out))
            hashed = budget < n_out and (l < n_layers - 1 or self._hash_output(n_out))
            if not hashed:
                plan.append((n_out, False, n_out))
            else:
                plan.append((budget, True,
                             _candidates(budget, n_out, self.rerank_factor)))
        return plan

    def _inference_plan(self):
        """Per layer, the budget and the candidates of hashed inference: training's,
        but for the output budget (`inference_active_fraction`) and the candidates
        per budget (`inference_rerank_factor`) when these are set."""
        # (set on a fitted model, after fit checked the others)
        self._validate_params()
        budgets, candidates = list(self._budgets), list(self._candidates)
        fraction, factor = self.inference_active_fraction, self.inference_rerank_factor
        last = len(self.coefs_) - 1
        for l, (h, coef) in enumerate(zip(self._hash_states, self.coefs_)):
            if h is None:
                continue
            n_out = coef.shape[1]
            if l == last and fraction is not None:
                budgets[l] = max(1, math.ceil(fraction * n_out))
            if factor is not None or budgets[l] != self._budgets[l]:
                candidates[l] = _candidates(
                    budgets[l], n_out, self.rerank_factor if factor is None else factor)
        return budgets, candidates

    def _hash_config(self, layer_units, plan):
        return (self.hash_family, self.bits_per_table, self.n_tables, self.bucket_size,
                self.bucket_policy, self.wta_window, self.mips, tuple(layer_units),
                tuple(h for _, h, _ in plan))

    def _check_memory(self, layer_units, plan, itemsize):
        """Refuse, before allocating, a model that would not fit in this machine."""
        n_moments = 2 if self.solver == "adam" else 1
        params = sum((i + 1) * o for i, o in zip(layer_units[:-1], layer_units[1:]))
        need = params * itemsize * (2 + n_moments)      # weights, gradients, moments
        tables = 0
        for l, (_, hashed, _) in enumerate(plan):
            if hashed:
                tables += _hashing.table_nbytes(layer_units[l + 1], self.n_tables,
                                                self.bits_per_table, self.bucket_size)
                tables += _hashing.function_nbytes(
                    self.hash_family, layer_units[l], self.n_tables,
                    self.bits_per_table, self.wta_window, itemsize)
        try:
            available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            available = None
        if available is not None and need + tables > available:
            raise ValueError(
                f"This configuration needs {(need + tables) / 2**30:.1f} GiB "
                f"({tables / 2**30:.1f} GiB of hash tables), more than the "
                f"{available / 2**30:.1f} GiB of memory this machine has. Reduce "
                "bits_per_table, n_tables or bucket_size, or the layer sizes.")

    def _initialize(self, layer_units, dtype, first_fan_in=None):
        """Draw the weights and reset the training state.

        `first_fan_in`, when given, replaces Glorot's draw for the first layer by
        He's uniform one over that fan-in (see `_effective_fan_in`).
        """
        rng = self._random_state
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.coefs_, self.intercepts_ = [], []
        factor = 2.0 if self.activation == "logistic" else 6.0
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            # Glorot's uniform initialisation, drawn as scikit-learn's MLP draws it;
            # stored unit-major, exposed transposed
            bound = w_bound = np.sqrt(factor / (fan_in + fan_out))
            if first_fan_in is not None and not self.coefs_:
                w_bound = np.sqrt(factor / first_fan_in)    # (biases keep Glorot's)
            W = rng.uniform(-w_bound, w_bound, (fan_in, fan_out)).astype(dtype).T.copy()
            self.coefs_.append(W.T)
            self.intercepts_.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf
        self._optimizer_state = _optimizers.init_state(
            self.solver, [c.T for c in self.coefs_], self.intercepts_)
        self._touched = [np.zeros(c.shape[1], dtype=np.int32) for c in self.coefs_]
        self._hash_states = None

    def _training_arrays(self, layer_units, plan, X):
        """Make every array training writes private and writeable (a joblib-loaded
        model holds read-only memory maps) and the hash state match the parameters
        (a new one reads X for DOPH's key sets).

        Returns the unit-major weights and whether the tables must be built afresh.
        """
        weights = []
        for l, c in enumerate(self.coefs_):
            W = _writeable(c.T)
            self.coefs_[l] = W.T
            weights.append(W)
            self.intercepts_[l] = _writeable(self.intercepts_[l])
            self._touched[l] = _writeable(self._touched[l])
        state = self._optimizer_state
        if state.get("solver") != self.solver:
            state = _optimizers.init_state(self.solver, weights, self.intercepts_)
        for key, value in state.items():
            if isinstance(value, list):
                state[key] = [_writeable(a) for a in value]
        self._optimizer_state = state
        config = self._hash_config(layer_units, plan)
        rebuild = self._hash_states is None or getattr(self, "_hash_config_", None) != config
        if rebuild:
            rng = self._random_state
            key_sets = (_key_sets(X, plan) if self.hash_family == "doph"
                        else [None] * len(plan))
            self._hash_states = [
                _hashing.make_hash_state(
                    layer_units[l], layer_units[l + 1], family=self.hash_family,
                    bits_per_table=self.bits_per_table, n_tables=self.n_tables,
                    bucket_size=self.bucket_size, policy=self.bucket_policy,
                    window=self.wta_window, mips=self.mips, dtype=weights[0].dtype,
                    random_state=rng, key_set=key_sets[l]) if hashed else None
                for l, (_, hashed, _) in enumerate(plan)]
            self._hash_config_ = config
            self._schedule = {"batches": 0, "next": self.refresh_interval,
                              "interval": float(self.refresh_interval), "last": 0}
        else:
            self._hash_states = [
                None if h is None else {k: _writeable(v) if isinstance(v, np.ndarray)
                                        else v for k, v in h.items()}
                for h in self._hash_states]
        return weights, rebuild

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data. float32 data trains a float32 network.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values: class labels (classifier), or real values, one column
            per output (regressor).

        Returns
        -------
        self : object
            Trained model.
        """
        return self._fit(X, y, incremental=False)

    def _fit(self, X, y, incremental=False):
        hidden = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        dtype = X.dtype if first_pass else self.coefs_[0].dtype
        targets, n_outputs = self._targets(y, dtype)
        layer_units = [X.shape[1]] + hidden + [n_outputs]
        if not first_pass:
            shapes = [tuple(c.shape) for c in self.coefs_]
            if shapes != list(zip(layer_units[:-1], layer_units[1:])):
                raise ValueError(
                    "The layer sizes changed since the model was fitted; refit with "
                    "warm_start=False to train a new network.")
        plan = self._plan(layer_units)
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._check_memory(layer_units, plan, np.dtype(dtype).itemsize)
            self._initialize(layer_units, dtype, _effective_fan_in(X, self.init))
        weights, rebuild = self._training_arrays(layer_units, plan, X)
        # training moves the sketches, so the prefix tables go now and are made anew
        # once it has finished (an interrupted fit leaves none, not stale ones)
        for h in self._hash_states:
            for key in _hashing.PREFIX_TABLE if h is not None else ():
                h.pop(key, None)
        self._budgets = [b for b, _, _ in plan]
        explore = [int(self.explore_fraction * b) if hashed else 0 for b, hashed, _ in plan]
        # hashed inference draws (random fill, union order) from this fixed seed, so a
        # fitted model predicts the same every time
        self._predict_seed = int(self._random_state.randint(0, 2**62, dtype=np.int64))
        self._candidates = [c for _, _, c in plan]
        self.n_threads_ = effective_n_threads(self.n_threads)
        trainer = Trainer(
            weights, self.intercepts_, self._hash_states, self._budgets,
            self._candidates, explore, self._optimizer_state, self._schedule, self._touched,
            dict(activation=self.activation, loss=self._loss_name(),
                 selection=self.selection, alpha=self.alpha,
                 learning_rate=self.learning_rate_init, beta_1=self.beta_1,
                 beta_2=self.beta_2, epsilon=self.epsilon, momentum=self.momentum,
                 refresh_growth=self.refresh_growth, n_threads=self.n_threads_))
        # BLAS only hashes the keys at refreshes (small products); its idle threads
        # would spin against the Hogwild threads for the cores
        with _get_threadpool_controller().limit(limits=1, user_api="blas"):
            if rebuild:
                trainer.refresh(self._random_state, full=True)
            self._fit_stochastic(X, y, targets, trainer, incremental)
        for h in self._hash_states if self.selection == "sketch" else ():
            if h is not None:
                _hashing.group_prefixes(h)
        if not all(np.isfinite(a).all() for a in self.coefs_ + self.intercepts_):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may "
                "contain large values and need to be preprocessed.")
        return self

    def _fit_stochastic(self, X, y, targets, trainer, incremental):
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        n_samples = X.shape[0]
        rng = self._random_state
        train_rows = np.arange(n_samples, dtype=np.int64)
        early_stopping = self.early_stopping
        if early_stopping:
            stratify = y if is_classifier(self) and np.ndim(y) == 1 else None
            train_rows, val_rows = train_test_split(
                train_rows, random_state=rng, test_size=self.validation_fraction,
                stratify=stratify)
            if val_rows.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase 'validation_fraction' "
                    "or the size of your dataset.")
            X_val, y_val = X[val_rows], y[val_rows]
            train_rows = np.sort(train_rows)
            self._best_state = self._snapshot()
        n_train = train_rows.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n_train)
        else:
            if self.batch_size > n_train:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                              "It is going to be clipped")
            batch_size = int(np.clip(self.batch_size, 1, n_train))
        n_batches = -(-n_train // batch_size)
        data = KernelInput(X, self.coefs_[0].dtype)
        trainer.prepare(data)
        try:
            for _ in range(self.max_iter):
                start = time.perf_counter()
                order = rng.permutation(train_rows) if self.shuffle else train_rows
                accumulated = 0.0
                for b in range(0, n_train, batch_size):
                    accumulated += trainer.batch(data, targets, order[b:b + batch_size],
                                                 rng, n_batches)
                penalty = 0.5 * self.alpha * sum(
                    float(np.dot(c.ravel(), c.ravel())) for c in self.coefs_) / batch_size
                self.loss_ = accumulated / n_train + penalty
                self.n_iter_ += 1
                self.t_ += n_train
                self.loss_curve_.append(self.loss_)
                self._record_tally(trainer)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}, "
                          f"{time.perf_counter() - start:.2f} s, "
                          f"active fraction {self._mean_active_fraction():.3f}, "
                          f"multiply-adds {100 * self.mult_fraction_:.2f}% of dense")
                self._update_no_improvement_count(early_stopping, X_val if early_stopping
                                                  else None, y_val if early_stopping else None)
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if early_stopping else "Training loss"
                    if self.verbose:
                        print(f"{what} did not improve more than tol={self.tol:f} for "
                              f"{self.n_iter_no_change} consecutive epochs. Stopping.")
                    break
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                        "optimization hasn't converged yet." % self.max_iter,
                        ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        self._record_tally(trainer)
        # The tables stay as training last used them: the network is adapted to the
        # active sets they give, and re-hashing everything here would hand it others
        # it never trained on. Early stopping brings back the tables of the
        # best epoch with its weights, so the model is exactly the one validated.
        if early_stopping:
            self._restore(self._best_state)
            del self._best_state

    def _mean_active_fraction(self):
        """Mean over the hashed layers of the share of units active per example."""
        shares = [b / c.shape[1] for b, c, h in
                  zip(self._budgets, self.coefs_, self._hash_states) if h is not None]
        return float(np.mean(shares)) if shares else 1.0

    def _record_tally(self, trainer):
        self.mult_fraction_ = trainer.tally.mult_fraction
        self.hash_fraction_ = trainer.tally.hash_fraction

    def _snapshot(self):
        """Copies of what predictions and table refreshes read: weights, hash tables,
        row stamps and the refresh schedule (not the optimizer's moments)."""
        return dict(
            coefs=[c.copy() for c in self.coefs_],
            intercepts=[i.copy() for i in self.intercepts_],
            touched=[t.copy() for t in self._touched],
            schedule=dict(self._schedule),
            hashing=[None if h is None
                     else {key: h[key].copy() for key in _hashing.TABLE_ARRAYS}
                     for h in self._hash_states])

    def _restore(self, snapshot):
        """Write a snapshot back in place: the kernels' views stay valid."""
        for l in range(len(self.coefs_)):
            self.coefs_[l][...] = snapshot["coefs"][l]
            self.intercepts_[l][...] = snapshot["intercepts"][l]
            self._touched[l][...] = snapshot["touched"][l]
            if snapshot["hashing"][l] is not None:
                for key, value in snapshot["hashing"][l].items():
                    self._hash_states[l][key][...] = value
        self._schedule.update(snapshot["schedule"])

    def _update_no_improvement_count(self, early_stopping, X_val, y_val):
        if early_stopping:
            self.validation_scores_.append(self._score(X_val, y_val))
            last = self.validation_scores_[-1]
            if last < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if last > self.best_validation_score_:
                self.best_validation_score_ = last
                self._best_state = self._snapshot()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    # ----------------------------------------------------------------- prediction
    def _output_scores(self, X):
        """Output pre-activations of the network for every row of X (see
        :meth:`_output_score_chunks`)."""
        chunks = list(self._output_score_chunks(X))
        if chunks:
            return np.concatenate(chunks)
        return np.empty((0, self.coefs_[-1].shape[1]), self.coefs_[0].dtype)

    def _output_score_chunks(self, X):
        """Output pre-activations of every unit, a block of rows at a time (see
        :meth:`_active_score_chunks`); -inf for units outside an example's active
        set."""
        for ids, scores in self._active_score_chunks(X, dense=True):
            yield scores if ids is None else _densify(ids, scores,
                                                      self.coefs_[-1].shape[1])

    def _active_score_chunks(self, X, dense=False):
        """Output pre-activations a block of rows at a time, so that what predicting
        holds stays about PREDICT_BLOCK activations however many rows X has (counted
        for a column per output when the caller makes the blocks `dense`). By
        `inference`:

        "hashed" selects the active units as training does, without forced labels;
        "exact" computes every unit densely and keeps, in each hashed layer, the
        `budget` units with the largest pre-activations (what the tables look for).

        Yields pairs (ids, scores): with hashed inference, ``scores[i, a]`` belongs to
        output ``ids[i, a]`` (-1 and -inf past an example's active outputs), so that a
        top-k never reads the classes no table proposed; otherwise ids is None and
        ``scores`` has a column per output.
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=(np.float64, np.float32))
        dtype = self.coefs_[0].dtype
        X = X.astype(dtype, copy=False)
        if sp.issparse(X):
            X = X.tocsr()
        hashed = self.inference == "hashed" and any(h is not None
                                                    for h in self._hash_states)
        # scipy multiplies a CSR block by a C-ordered copy of the weights: made once
        # here, not once per block of rows
        coefs = list(self.coefs_)
        if sp.issparse(X):
            coefs[0] = np.ascontiguousarray(coefs[0])
        if hashed:
            # A dense first layer on sparse rows is one sparse product, reading each
            # non-zero's weights as a contiguous row of coefs_ (the kernels read
            # unit-major rows, one scattered weight per non-zero and unit: at 60
            # non-zeros and 128 units, a third of a hashed prediction's time). The
            # hashed layers then run on its activations. Row by row, so a row's
            # result does not depend on the others.
            first = int(sp.issparse(X) and self._hash_states[0] is None
                        and len(self.coefs_) > 1)
            budgets, candidates = self._inference_plan()
            network = inference_network(
                [np.ascontiguousarray(c.T) for c in self.coefs_[first:]],
                [np.ascontiguousarray(i) for i in self.intercepts_[first:]],
                self._hash_states[first:], budgets[first:], candidates[first:],
                self.activation, self.selection)
        n_threads = effective_n_threads(self.n_threads)
        widest = max(c.shape[1] for c in self.coefs_)
        if hashed and not dense:
            widest = network.output_width    # (hidden activations stay per thread)
        rows = max(1, min(PREDICT_CHUNK, PREDICT_BLOCK // widest))
        for start in range(0, X.shape[0], rows):
            a = X[start:start + rows]
            if hashed:
                if first:
                    a = _activate(self.activation, input_layer(a, coefs[0], n_threads)
                                  + self.intercepts_[0])
                ids, scores = hashed_output_scores(
                    network, self._hash_states[first], a, self._predict_seed, n_threads)
                # a dense output layer's active set is every unit, in order
                yield (ids if self._hash_states[-1] is not None else None), scores
                continue
            for l, (coef, intercept) in enumerate(zip(coefs, self.intercepts_)):
                a = input_layer(a, coef, n_threads) if l == 0 else a @ coef
                a += intercept
                if l < len(self.coefs_) - 1:
                    a = _keep_top(a, self._budgets[l], self.activation)
            yield None, a

    # ---------------------------------------------------------------- persistence
    def __getstate__(self):
        state = super().__getstate__()
        state["_sklsh_state_format"] = STATE_FORMAT
        return state

    def __setstate__(self, state):
        fmt = state.pop("_sklsh_state_format", None)
        if "coefs_" in state and fmt != STATE_FORMAT:
            raise ValueError(
                f"This {type(self).__name__} was saved with fitted-state format {fmt} "
                f"but this version of sklsh reads format {STATE_FORMAT}. Load it with "
                "the sklsh version that saved it, or refit it with this one.")
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = self.n_threads != 1
        return tags


def _keep_top(a, k, activation):
    """Activate the k largest pre-activations of each row and zero the others: units
    outside a hashed layer's active set output 0, whatever the activation."""
    if k >= a.shape[1]:
        return _activate(activation, a)
    idx = np.argpartition(a, a.shape[1] - k, axis=1)[:, a.shape[1] - k:]
    rows = np.arange(a.shape[0])[:, None]
    out = np.zeros_like(a)
    out[rows, idx] = _activate(activation, a[rows, idx])
    return out
