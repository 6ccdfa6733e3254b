"""The numpydoc sections the two estimators share: their parameters and fitted
attributes, each with a slot (``{extra}``) for what only one of them has."""

PARAMETERS = """
    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of units in the ith hidden layer.

    activation : {{'identity', 'logistic', 'tanh', 'relu'}}, default='relu'
        Activation of the hidden layers. Units outside an example's active set
        output 0.

    solver : {{'adam', 'sgd'}}, default='adam'
        'adam' or SGD with momentum (Nesterov's unless ``nesterovs_momentum=False``).
        Both update only the rows of the weight matrices that a batch touched.

    alpha : float, default=0.0001
        Strength of the L2 penalty, applied to the rows a batch updates.

    batch_size : int or 'auto', default='auto'
        Examples per optimizer step; 'auto' is ``min(200, n_samples)``. A batch is
        processed by matrix products over all its examples where no layer is hashed
        and the rows are dense, otherwise its examples in parallel (Hogwild).

    learning_rate : {{'constant', 'invscaling', 'adaptive'}}, default='constant'
        Learning rate schedule for weight updates. Only used when ``solver='sgd'``.

        - 'constant' is a constant learning rate given by ``learning_rate_init``.

        - 'invscaling' gradually decreases the learning rate at the end of each
          epoch using an inverse scaling exponent of ``power_t``:
          ``effective_learning_rate = learning_rate_init / pow(t + 1, power_t)``,
          where t is the number of training samples seen so far (``t_``).

        - 'adaptive' keeps the learning rate constant to ``learning_rate_init`` as
          long as training loss keeps decreasing. Each time more than
          ``n_iter_no_change`` consecutive epochs fail to decrease training loss by
          at least ``tol``, or fail to increase the validation score by at least
          ``tol`` if ``early_stopping`` is on, the current learning rate is divided
          by 5 instead of stopping; training stops once it is at most 1e-6.

        The rate starts from ``learning_rate_init`` at every call to ``fit`` and
        carries on over calls to ``partial_fit``.

    learning_rate_init : float, default=0.001
        The initial learning rate used. It controls the step-size in updating the
        weights.

    power_t : float, default=0.5
        The exponent for inverse scaling learning rate. It is used in updating
        effective learning rate when the ``learning_rate`` is set to 'invscaling'.
        Only used when ``solver='sgd'``.

    max_iter : int, default=200
        Maximum number of epochs.

    shuffle : bool, default=True
        Whether to shuffle the examples every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the hash functions, the shuffles and every random draw
        of the kernels. With ``n_threads=1`` two fits with the same seed are
        bit-identical.

    tol : float, default=1e-4
        Tolerance for the optimisation, as in scikit-learn's MLP.

    verbose : bool or int, default=False
        Print one line per epoch: loss, seconds, fraction of multiply-adds. At 2 or
        more, also a progress line during each epoch: batches done, examples per
        second, time left. In a terminal or a notebook it is rewritten in place
        (twice a second at most) and erased when the epoch ends; elsewhere, as in a
        log file, it is a new line every 10 seconds at most.

    warm_start : bool, default=False
        Reuse the previous solution as the initialisation of the next fit.

    momentum : float, default=0.9
        Momentum for gradient descent update. Should be between 0 and 1. Only used
        when ``solver='sgd'``.

    nesterovs_momentum : bool, default=True
        Whether to use Nesterov's momentum, as scikit-learn's MLP updates with it
        (``velocity = momentum * velocity - lr * grad``, then ``W += momentum *
        velocity - lr * grad``); False gives heavy-ball momentum (``W +=
        velocity``). Only used when ``solver='sgd'`` and ``momentum > 0``.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its score stops
        improving, and keep the best weights.

    validation_fraction : float, default=0.1
        Held-out fraction for early stopping.

    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's decay rates of the first and second moments.

    epsilon : float, default=1e-8
        Adam's numerical stability term.

    n_iter_no_change : int, default=10
        Epochs without ``tol`` improvement before stopping (before dividing the
        learning rate by 5 with ``learning_rate='adaptive'``).

    init : {{'glorot', 'row_norm'}}, default='glorot'
        How the first layer's weights are drawn. 'glorot' is scikit-learn's MLP draw
        (uniform, bound ``sqrt(6 / (fan_in + fan_out))``). 'row_norm' draws them
        He-uniform for a fan-in equal to the mean squared norm of X's rows: a sparse
        row reaches a unit through its few non-zeros only, so this gives the
        pre-activations unit-order variance where Glorot's, made for n_features
        inputs, gives them next to none. On real text, where most words are rare,
        'glorot' learns better (the large random rows of rare words stay noise);
        'row_norm' can start faster on data whose features are all frequent. The
        other layers, and all biases, are drawn as 'glorot' draws them.

    active_fraction : 'auto', float or array-like of float, default='auto'
        Fraction of each hashed layer's units computed per example, in (0, 1].
        One float for all layers, or one per hidden layer plus one for the output
        layer. 1.0 computes every unit of a layer (no tables). 'auto' computes
        every hidden unit and, when the output layer is hashed (see
        ``hash_output``), 0.02 of the outputs, at most 2048 of them: hashing
        pays where a layer is far wider than the units an example needs, as an
        output layer of many classes is, and past 102,400 classes the cap keeps an
        example's work from growing with the classes. Hashed hidden layers (the
        KDD 2017 setting) are asked for with a float
        or a list.

    hash_family : {{'srp', 'wta', 'dwta', 'doph'}}, default='srp'
        The hash functions: signed random projections (with ``mips``, ranks units
        by inner product), winner-take-all over windows of coordinates (for dense
        inputs), densified WTA (for sparse inputs), or densified one-permutation
        MinHash (for sparse non-negative inputs such as text: it compares the set of
        an example's non-zeros with the set of each unit's largest positive weights,
        as many as the layer's inputs have non-zeros on average).

    bits_per_table : int, default=8
        Each table has ``2 ** bits_per_table`` buckets. More bits: smaller, more
        selective buckets (and, with 'sketch', longer sketches).

    n_tables : int, default=64
        Hash tables per layer. More tables: better recall, more work per query.

    bucket_size : int, default=128
        Unit ids a bucket holds. Used by the selections that read buckets
        ('collisions', 'union') alone: under 'sketch' a layer keeps no buckets.

    bucket_policy : {{'fifo', 'reservoir'}}, default='fifo'
        What a full bucket does with a new unit: replace its oldest id, or keep a
        uniform sample of all units offered. Used by 'collisions' and 'union' alone.

    selection : {{'sketch', 'collisions', 'union'}}, default='sketch'
        How the candidates are chosen. 'sketch' ranks every unit by how many of its
        hash codes (all tables' codes side by side, a SimHash-like sketch) equal the
        example's: no table lookups, a popcount per 64 bits per unit, and the best
        recall. 'collisions' takes the units found in the most of the example's
        buckets, 'union' whole buckets in a random table order; these two read only
        the example's buckets, so they scale to very wide layers. Random units fill up
        when too few collide. A model keeps the buckets of its selection only: one
        fitted with 'sketch' predicts with 'collisions' or 'union' after a refit.

    rerank_factor : float, default=3.0
        The tables propose ``rerank_factor`` times a layer's budget of units; their
        pre-activations are computed exactly and the budget with the largest stay
        active. 1.0 takes the tables' choice as it is (cheapest, least accurate).

    explore_fraction : float, default=0.1
        Share of each hashed layer's active set that training fills with units drawn
        at random, before the tables' choice. Without it the units the tables never
        pick never learn, and a narrow active set can leave most of a layer unused.
        Inference never explores.

    wta_window : int, default=8
        Coordinates each WTA code compares. Codes of 'wta', 'dwta' and 'doph' take
        ``log2(wta_window)`` bits.

    mips : bool, default=False
        With 'srp', give the keys the asymmetric transform (scale to norm <= 1,
        append ``sqrt(1 - |w|^2)``) under which the tables rank units by inner product
        rather than by angle. Off by default: where the units' norms are alike, plain
        angles find more of the true top units.

    refresh_interval : int, default=50
        Batches before the tables are first refreshed with the changed weights.

    refresh_growth : float, default=1.5
        Each refresh multiplies the interval by this, up to one epoch.
{extra}
    inference : {{'hashed', 'exact'}}, default='hashed'
        How ``predict`` computes. 'hashed' finds each example's active units as
        training does (same hash functions, selection, re-ranking and tables, and a
        fixed seed), at a fraction of the dense cost. 'exact' evaluates every unit
        densely and keeps, in each hashed hidden layer, the budget of units with the
        largest pre-activations (the set the tables approximate) and scores every
        output. Of a hashed output layer alone, 'exact' is the upper bound on
        accuracy and costs the dense network's work. Hidden layers trained at a
        small active fraction rely on the units their tables chose, and the exact
        top budget may differ from them, so with hashed hidden layers either mode
        can be the more accurate: score both (``docs/benchmarks.md`` has both on
        real data). Where no layer is hashed both are the dense network.

    inference_active_fraction : float or None, default=None
        The output layer's ``active_fraction`` for hashed inference; None keeps the
        training one. A hashed prediction scores that many outputs (those its tables
        rank first) and ``predict_proba`` spreads the probability over them. A
        top-k needs far fewer than training's budget, and the budget's work (the
        ranking passes and the scores) is most of a prediction of a wide output
        layer, so a smaller fraction predicts faster at some cost in P@k. May be
        set on a fitted model; a dense output layer ignores it.

    inference_rerank_factor : float or None, default=None
        ``rerank_factor`` for hashed inference; None keeps the training one. Scoring
        the proposed units exactly is most of a hashed prediction of a wide layer,
        so a smaller factor predicts faster, for some P@k; 1.0 scores only the
        budget. May be set on a fitted model.

    n_threads : int or None, default=None
        Threads of the Hogwild kernels, and of BLAS's products where a batch
        trains by matrix products and is large enough to gain from more than one
        thread. None uses what OpenMP allows now (all
        cores, or fewer under ``OMP_NUM_THREADS``, threadpoolctl or joblib limits),
        and inside a Dask worker's task at most that worker's threads.
        A negative value counts as joblib's ``n_jobs`` does: -1 uses every core
        this process may run on (its CPU affinity and cgroup quota), -2 all but
        one, and so on (at least 1). 0 is refused.
"""

ATTRIBUTES = """
    Attributes
    ----------{extra}
    loss_ : float
        Loss of the last epoch, with the L2 penalty.

    best_loss_ : float or None
        Lowest training loss (None with early stopping).

    loss_curve_ : list of float
        Loss of every epoch.

    validation_scores_ : list of float or None
        Held-out scores per epoch with early stopping.

    best_validation_score_ : float or None
        Best held-out score with early stopping.

    t_ : int
        Training examples seen.

    coefs_ : list of ndarray of shape (n_fan_in, n_fan_out)
        Weight matrices, in scikit-learn's orientation: views of unit-major arrays,
        but for a dense first layer, stored as it is shown (C-contiguous).

    intercepts_ : list of ndarray of shape (n_fan_out,)
        Bias vectors.

    n_features_in_ : int
        Features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names seen during fit, when X has string column names.

    n_iter_ : int
        Epochs run.

    n_layers_ : int
        Layers, input and output included.

    n_outputs_ : int
        Output units.

    out_activation_ : str
        Output activation.

    mult_fraction_ : float
        Multiply-adds of the last fit's training (forward and backward) divided by
        those the same network computing every unit would have done.

    hash_fraction_ : float
        Hashing operations (queries and table refreshes, additions and compares)
        of the last fit, relative to the dense network's multiply-adds.

    n_threads_ : int
        Threads the last fit used.
"""


# Both estimators' See Also section, up to the Examples heading they fill in.
SEE_ALSO = """
    See Also
    --------
    {sibling} : The same network for {task}.
    sklearn.neural_network.{mlp} : The dense network it approximates.

    Examples
    --------
"""


_X = """        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.
"""

_TOPK = """
        Parameters
        ----------
        k : int, default=5
            How many classes per example, from 1 to ``len(classes_)``.

        Returns
        -------
        labels : ndarray of shape (n_samples, k)
            Class labels (from ``classes_``), the most probable first.
        proba : ndarray of shape (n_samples, k)
            Their probabilities, as :meth:`predict_proba` gives them.
        """


def reads(text):
    """A decorator putting the numpydoc entries `text` at the head of a method's
    Parameters section (made before its Returns if it has none), so that parameters
    several methods take are described once."""
    def put(method):
        doc = method.__doc__
        head = "        Parameters\n        ----------\n"
        if head in doc:
            doc = doc.replace(head, head + text, 1)
        else:
            doc = doc.replace("        Returns\n", head + text + "\n        Returns\n", 1)
        method.__doc__ = doc
        return method
    return put


# the parameter every prediction method takes first
reads_X = reads(_X)


def ranks_topk(method):
    """End a ``predict_topk`` docstring (its summary) with the parameter `k` and what
    it returns."""
    method.__doc__ = method.__doc__.rstrip() + "\n" + _TOPK
    return method
