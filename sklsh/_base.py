"""The shared estimator: parameters (their signature and constraints), setting up a
fit (validation, first draw, warm start, the hash state), persistence and tags; its
epochs run in ``sklsh._epochs`` and its predictions come from ``sklsh._prediction``.
LSHMLPClassifier and LSHMLPRegressor (``sklsh._classes``) add only their targets and
output layers."""
import inspect
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.parallel import _get_threadpool_controller
from sklearn.utils.validation import _check_sample_weight

from . import _epochs, _footprint, _hash_state, _init, _optimizers, _plan, _prediction
from ._threads import effective_n_threads
from ._training import DenseTrainer, Settings, Trainer, trains_by_blas

# Bumped whenever the layout of the fitted arrays or the meaning of a stored parameter
# changes (10: a dense first layer is stored by input feature); a pickle of another
# format is refused with a clear message instead of reaching the kernels.
STATE_FORMAT = 10


def _writeable(a):
    """`a` itself when C-contiguous and writeable, else a private copy that is."""
    if a.flags.c_contiguous and a.flags.writeable:
        return a
    return np.array(a, order="C")


def _stored(coef, by_feature):
    """The array a layer's ``coefs_`` entry views: itself when the layer is stored by
    input feature, else its unit-major transpose."""
    return coef if by_feature else coef.T


def _all_finite(a):
    """Whether every entry of `a` is finite. A dot product of the entries with
    themselves (BLAS, on its threads) is finite when they all are: a non-finite
    term makes it inf or nan, and squares cannot cancel. Only when it is not, as
    it also is when the squares overflow, does an exact sum in float64 (one pass,
    on one thread) decide."""
    v = a.ravel(order="K")
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.dot(v, v)):
            return True
    return bool(np.isfinite(v.sum(dtype=np.float64)))


# The constructor parameters both estimators share, in their signature's and their
# docstring's order; an estimator's own go between the two groups, where
# ``_docstrings.PARAMETERS`` has its {extra} slot.
_SHARED_PARAMETERS = dict(
    solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
    learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
    random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
    nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
    beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, init="glorot",
    active_fraction="auto", hash_family="srp", bits_per_table=8, n_tables=64,
    bucket_size=128, bucket_policy="fifo", selection="sketch", rerank_factor=3.0,
    explore_fraction=0.1, wta_window=8, mips=False, refresh_interval=50,
    refresh_growth=1.5)
_SHARED_LAST_PARAMETERS = dict(
    inference="hashed", inference_active_fraction=None, inference_rerank_factor=None,
    n_threads=None)


def storing_init(**own):
    """An estimator's ``__init__``: it stores each of its arguments under its own name
    and does nothing else (scikit-learn's rule). Its signature, which ``get_params``,
    ``clone`` and ``help`` read, is ``hidden_layer_sizes`` and ``activation``, then
    keyword-only the shared parameters with the estimator's `own` (name=default)
    among them, so that the two estimators' signatures are written once."""
    P = inspect.Parameter
    keywords = {**_SHARED_PARAMETERS, **own, **_SHARED_LAST_PARAMETERS}
    signature = inspect.Signature(
        [P("self", P.POSITIONAL_OR_KEYWORD),
         P("hidden_layer_sizes", P.POSITIONAL_OR_KEYWORD, default=(100,)),
         P("activation", P.POSITIONAL_OR_KEYWORD, default="relu")]
        + [P(name, P.KEYWORD_ONLY, default=d) for name, d in keywords.items()])

    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{type(self).__name__}() {e}") from None
        bound.apply_defaults()
        for name, value in list(bound.arguments.items())[1:]:
            setattr(self, name, value)

    __init__.__signature__ = signature
    return __init__


class BaseLSHMLP(BaseEstimator, metaclass=ABCMeta):
    """Base class of the LSH multi-layer perceptrons; use the derived classes."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
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
        "hash_family": [StrOptions(set(_hash_state.FAMILIES))],
        "bits_per_table": [Interval(Integral, 1, 30, closed="both")],
        "n_tables": [Interval(Integral, 1, None, closed="left")],
        "bucket_size": [Interval(Integral, 1, None, closed="left")],
        "bucket_policy": [StrOptions({"fifo", "reservoir"})],
        "selection": [StrOptions({"collisions", "union", "sketch"})],
        "rerank_factor": [Interval(Real, 1, None, closed="left")],
        "inference_active_fraction": [Interval(Real, 0, 1, closed="right"), None],
        "inference_rerank_factor": [Interval(Real, 1, None, closed="left"), None],
        "explore_fraction": [Interval(Real, 0, 1, closed="left")],
        "wta_window": [Interval(Integral, 2, 1024, closed="both")],
        "mips": ["boolean"],
        "refresh_interval": [Interval(Integral, 1, None, closed="left")],
        "refresh_growth": [Interval(Real, 1, None, closed="left")],
        "inference": [StrOptions({"exact", "hashed"})],
        # (joblib's n_jobs: -1 every usable core, -2 all but one, ...; 0 means nothing)
        "n_threads": [Interval(Integral, 1, None, closed="left"),
                      Interval(Integral, None, -1, closed="right"), None],
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

    def _batch_size(self, n_rows=None):
        """Examples per optimizer step over `n_rows` training rows: 'auto' is
        ``min(200, n_rows)``, and a larger batch_size is clipped to the rows (None:
        rows unknown, no clipping)."""
        batch = 200 if self.batch_size == "auto" else int(self.batch_size)
        return batch if n_rows is None else max(1, min(batch, n_rows))

    def _plan(self, layer_units):
        """Per layer, its :class:`sklsh._plan.LayerPlan`."""
        return _plan.plan_layers(layer_units, self.active_fraction, self.rerank_factor,
                                 self._hash_output)

    def _inference_plan(self):
        """Per layer, the budget and the candidates of hashed inference (see
        :func:`sklsh._plan.inference_plan`)."""
        # (set on a fitted model, after fit checked the others)
        self._validate_params()
        return _plan.inference_plan(
            self._budgets, self._candidates,
            [c.shape[1] for c in self.coefs_], [h is not None for h in self._hash_states],
            self.rerank_factor, self.inference_active_fraction,
            self.inference_rerank_factor)

    def _hash_config(self, layer_units, plan):
        return (self.hash_family, self.bits_per_table, self.n_tables, self.bucket_size,
                self.bucket_policy, self.wta_window, self.mips, tuple(layer_units),
                tuple(p.hashed for p in plan), _hash_state.reads_buckets(self.selection))

    def _initialize(self, layer_units, dtype, first_fan_in=None, by_feature=False):
        """Draw the weights and reset the training state.

        `first_fan_in`, when given, replaces Glorot's draw for the first layer by
        He's uniform one over that fan-in (see `sklsh._init.effective_fan_in`).
        `by_feature` stores the first layer by input feature (``coefs_[0]``
        C-contiguous, its stamps one per feature), else unit-major as every other.
        """
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.coefs_, self.intercepts_ = _init.draw_weights(
            layer_units, dtype, self.activation, self._random_state, first_fan_in,
            by_feature)
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
        self._first_feature_major = by_feature
        stored = [_stored(c, by_feature and l == 0) for l, c in enumerate(self.coefs_)]
        self._optimizer_state = _optimizers.init_state(self.solver, stored,
                                                       self.intercepts_)
        self._touched = [np.zeros(W.shape[0], dtype=np.int32) for W in stored]
        self._hash_states = None

    def _training_arrays(self, layer_units, plan, X):
        """Make every array training writes private and writeable (a joblib-loaded
        model holds read-only memory maps) and the hash state match the parameters
        (a new one reads X for DOPH's key sets).

        A dense first layer is stored by input feature (see ``Network``), a hashed
        one unit-major, as the tables hash each unit's weights: a warm start that
        changes which turns the layer and its moments over, and restamps it.

        Returns the weights as stored (unit-major but for such a first layer) and
        whether the tables must be built afresh.
        """
        by_feature = not plan[0].hashed
        turn = by_feature != self._first_feature_major
        state = self._optimizer_state
        weights = []
        for l, c in enumerate(self.coefs_):
            W = _writeable(_stored(c, l == 0 and by_feature))
            self.coefs_[l] = _stored(W, l == 0 and by_feature)
            weights.append(W)
            self.intercepts_[l] = _writeable(self.intercepts_[l])
            self._touched[l] = _writeable(self._touched[l])
        if turn:
            self._touched[0] = np.zeros(weights[0].shape[0], dtype=np.int32)
            for key in ("m_W", "v_W", "velocity_W"):
                if key in state:
                    state[key][0] = state[key][0].T
            state.pop("stepped", None)      # (every row is up to date between fits)
            self._first_feature_major = by_feature
        if state.get("solver") != self.solver:
            state = _optimizers.init_state(self.solver, weights, self.intercepts_)
        for key, value in state.items():
            if isinstance(value, list):
                state[key] = [_writeable(a) for a in value]
            elif isinstance(value, np.ndarray):
                state[key] = _writeable(value)
        self._optimizer_state = state
        config = self._hash_config(layer_units, plan)
        rebuild = self._hash_states is None or getattr(self, "_hash_config_", None) != config
        if rebuild:
            rng = self._random_state
            key_sets = (_plan.key_sets(X, plan) if self.hash_family == "doph"
                        else [None] * len(plan))
            self._hash_states = [
                _hash_state.make_hash_state(
                    layer_units[l], layer_units[l + 1], family=self.hash_family,
                    bits_per_table=self.bits_per_table, n_tables=self.n_tables,
                    bucket_size=self.bucket_size, policy=self.bucket_policy,
                    window=self.wta_window, mips=self.mips, dtype=weights[0].dtype,
                    random_state=rng, key_set=key_sets[l],
                    buckets=_hash_state.reads_buckets(self.selection)) if hashed else None
                for l, hashed in enumerate(p.hashed for p in plan)]
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
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data. float32 data trains a float32 network.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values: class labels (classifier), or real values, one column
            per output (regressor).

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, as scikit-learn's MLP reads them: each example's loss
            and output delta are multiplied by its weight, and a batch's gradient
            (L2 penalty included) is divided by the sum of its weights instead of
            its size. With ``early_stopping`` the weights are split with the data
            and the validation score is weighted. None gives every sample weight 1.

        Returns
        -------
        self : object
            Trained model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, read as :meth:`fit` reads them.

        Returns
        -------
        self : object
            Trained model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def _fit(self, X, y, sample_weight=None, incremental=False):
        hidden = self._hidden_sizes()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            # float64 whatever X's dtype: the kernels read the weights as doubles
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        if not incremental or not hasattr(self, "_learning_rate"):
            # the step size of 'sgd', which its schedule ('invscaling', 'adaptive')
            # changes between epochs; as scikit-learn's optimizer, it starts anew at
            # every fit and carries on over partial_fit calls
            self._learning_rate = float(self.learning_rate_init)
        dtype = X.dtype if first_pass else self.coefs_[0].dtype
        targets, n_outputs = self._targets(y, dtype)
        layer_units = [X.shape[1]] + hidden + [n_outputs]
        if not first_pass:
            shapes = [tuple(c.shape) for c in self.coefs_]
            if shapes != list(zip(layer_units[:-1], layer_units[1:])):
                raise ValueError(
                    f"The network's layers would now be {layer_units} units (X's "
                    "features, hidden_layer_sizes, then the outputs), but the fitted "
                    f"model's are {[shapes[0][0]] + [s[1] for s in shapes]}; "
                    "warm_start and partial_fit continue the fitted network only. "
                    "Refit with warm_start=False to train a new one.")
        plan = self._plan(layer_units)
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            _footprint.check_memory(self, layer_units, plan,
                                    np.dtype(dtype).itemsize, X)
            self._initialize(layer_units, dtype, _init.effective_fan_in(X, self.init),
                             by_feature=not plan[0].hashed)
        weights, rebuild = self._training_arrays(layer_units, plan, X)
        # training moves the sketches, so the prefix tables go now and are made anew
        # once it has finished (an interrupted fit leaves none, not stale ones)
        for h in self._hash_states:
            if h is not None:
                _hash_state.drop_prefix_table(h)
        self._budgets = [p.budget for p in plan]
        explore = [int(self.explore_fraction * p.budget) if p.hashed else 0 for p in plan]
        # hashed inference draws (random fill, union order) from this fixed seed, so a
        # fitted model predicts the same every time
        self._predict_seed = int(self._random_state.randint(0, 2**62, dtype=np.int64))
        self._candidates = [p.candidates for p in plan]
        self.n_threads_ = effective_n_threads(self.n_threads)
        # a network with no hashed layer on dense rows trains by BLAS products over
        # each batch; the kernels' per-example pass would read every weight once per
        # example (sparse rows keep the kernels: they read a row's few non-zeros)
        settings = Settings(
            activation=self.activation, loss=self._loss_name(), selection=self.selection,
            alpha=self.alpha,
            learning_rate=(self._learning_rate if self.solver == "sgd"
                           else self.learning_rate_init),
            beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
            momentum=self.momentum, nesterov=self.nesterovs_momentum,
            refresh_growth=self.refresh_growth, n_threads=self.n_threads_)
        trainer = (DenseTrainer if trains_by_blas(X, plan) else Trainer)(
            weights, self.intercepts_, self._hash_states, budgets=self._budgets,
            candidates=self._candidates, explore=explore,
            optimizer=self._optimizer_state, schedule=self._schedule,
            touched=self._touched, settings=settings,
            first_feature_major=self._first_feature_major)
        with _get_threadpool_controller().limit(
                limits=trainer.blas_threads(self._batch_size(X.shape[0])), user_api="blas"):
            if rebuild:
                trainer.refresh(self._random_state, full=True)
            _epochs.run_epochs(self, X, y, targets, trainer, incremental,
                               sample_weight)
        for h in self._hash_states if self.selection == "sketch" else ():
            if h is not None:
                _hash_state.group_prefixes(h)
        if not all(_all_finite(a) for a in self.coefs_ + self.intercepts_):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may "
                "contain large values and need to be preprocessed (e.g. with "
                "StandardScaler), or learning_rate_init may be too large.")
        return self

    # ----------------------------------------------------------------- prediction
    def _output_scores(self, X):
        return _prediction.output_scores(self, X)

    def _output_score_chunks(self, X, rows=None):
        return _prediction.output_score_chunks(self, X, rows)

    def _active_score_chunks(self, X, dense=False):
        return _prediction.active_score_chunks(self, X, dense)

    # ---------------------------------------------------------------- persistence
    def __getstate__(self):
        # the tables' empty slots and what the sketches give are left out, and
        # rebuilt on load: a model crosses processes (joblib, Dask) at about the size
        # of its weights and the optimizer's moments (a copy: BaseEstimator gives
        # the instance's own __dict__)
        state = dict(super().__getstate__())
        if state.get("_hash_states") is not None:
            state["_hash_states"] = [None if h is None else _hash_state.compact(h)
                                     for h in state["_hash_states"]]
        state["_sklsh_state_format"] = STATE_FORMAT
        return state

    def __setstate__(self, state):
        fmt = state.pop("_sklsh_state_format", None)
        if "coefs_" in state and fmt != STATE_FORMAT:
            raise ValueError(
                f"This {type(self).__name__} was saved with fitted-state format {fmt} "
                f"but this version of sklsh reads format {STATE_FORMAT}. Load it with "
                "the sklsh version that saved it, or refit it with this one.")
        if state.get("_hash_states") is not None:
            state["_hash_states"] = [None if h is None else _hash_state.expand(h)
                                     for h in state["_hash_states"]]
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = self.n_threads != 1
        return tags
