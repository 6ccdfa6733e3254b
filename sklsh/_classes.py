"""LSHMLPClassifier and LSHMLPRegressor: targets, output layers, prediction."""
import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import (_check_partial_fit_first_call,
                                      check_classification_targets, type_of_target,
                                      unique_labels)
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from sklearn.base import _fit_context

from ._base import BaseLSHMLP, storing_init
from ._docstrings import ATTRIBUTES, PARAMETERS, SEE_ALSO, ranks_topk, reads_X
from ._prediction import check_k, densify, ranked_top_k
from ._threads import effective_n_threads
from ._training import Targets

# With "auto", an output layer this wide or wider gets its own hash tables.
AUTO_HASH_OUTPUT = 1024

def _not_in(values, known):
    """The entries of the sorted `values` that the sorted `known` lacks (a search
    per value: ``np.setdiff1d`` would sort `known` again)."""
    at = np.minimum(np.searchsorted(known, values), known.shape[0] - 1)
    return values[known[at] != values]


class LSHMLPClassifier(ClassifierMixin, BaseLSHMLP):
    _parameter_constraints: dict = {
        **BaseLSHMLP._parameter_constraints,
        "hash_output": ["boolean", StrOptions({"auto"})],
        "multilabel_loss": [StrOptions({"softmax", "logistic"})],
    }

    __init__ = storing_init(hash_output="auto", multilabel_loss="softmax")

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], reset=reset,
                             dtype=(np.float64, np.float32), multi_output=True)
        if sp.issparse(y) or (y.ndim == 2 and y.shape[1] > 1):
            return X, self._validate_indicator(y, incremental)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self._label_format = None
        # incremental  warm_start  classes_ defined  action
        #     0            any          no            define classes_
        #     0             0           yes           redefine classes_
        #     0             1           yes           check y has the same classes
        #     1            any          yes           check y within classes_
        # (a first partial_fit defines classes_ from `classes` before coming here)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self.classes_ = unique_labels(y)
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as "
                        f"in the previous call to fit. Previously got {self.classes_}, "
                        f"`y` has {classes}")
            elif (unknown := _not_in(classes, self.classes_)).size:
                raise ValueError(
                    f"`y` has classes not in `self.classes_`: {unknown}. "
                    f"`self.classes_` has {self.classes_} (from the first "
                    f"partial_fit's `classes`, or fit). 'y' has {classes}.")
        if self.classes_.shape[0] < 2:
            raise ValueError(
                "The classifier needs samples of at least 2 classes in the data, but "
                f"the data contains only one class: {self.classes_[0].item()!r}.")
        return X, y

    def _is_multilabel(self):
        """Whether the model was fitted on a label-indicator matrix (its kind and
        dtype are then in ``_label_format``)."""
        return getattr(self, "_label_format", None) is not None

    def _validate_indicator(self, Y, incremental):
        """A label-indicator matrix (multi-label y), kept in the form given: a sparse
        one is never made dense. classes_ are its column indices."""
        if type_of_target(Y) != "multilabel-indicator":
            raise ValueError(
                "A 2-D y must be a label-indicator matrix (0/1 entries, one column per "
                f"label) for multi-label classification; got {type_of_target(Y)!r}.")
        n_labels = Y.shape[1]
        if hasattr(self, "classes_") and (incremental or self.warm_start):
            if self.classes_.shape[0] != n_labels:
                raise ValueError(
                    f"y has {n_labels} label columns, but this classifier was fitted "
                    f"with {self.classes_.shape[0]}; warm_start and partial_fit need "
                    "the same columns.")
        else:
            self.classes_ = np.arange(n_labels)
        self._label_format = ("sparse", Y.dtype) if sp.issparse(Y) else ("dense", Y.dtype)
        return Y

    def _targets(self, y, dtype):
        if self._is_multilabel():
            # the labels of row r are the column ids of its non-zero entries, read
            # straight from the CSR structure
            Y = sp.csr_matrix(y)
            if not Y.has_canonical_format:
                # a label stored twice is one label (sorted, duplicates merged; the
                # caller's matrix is left alone)
                Y = Y.copy()
                Y.sum_duplicates()
            if Y.nnz and not Y.data.all():
                Y = Y.copy()
                Y.eliminate_zeros()
            self.n_outputs_ = Y.shape[1]
            self.out_activation_ = self.multilabel_loss
            return Targets(dtype, Y.indptr, Y.indices), Y.shape[1]
        idx = np.searchsorted(self.classes_, y)
        n_classes = self.classes_.shape[0]
        if n_classes == 2:
            # one logistic output, as scikit-learn's MLP: positives carry label 0
            positive = idx == 1
            label_ptr = np.concatenate([[0], np.cumsum(positive)])
            self.n_outputs_, self.out_activation_ = 1, "logistic"
            return Targets(dtype, label_ptr, np.zeros(int(positive.sum()))), 1
        self.n_outputs_, self.out_activation_ = n_classes, "softmax"
        return Targets(dtype, np.arange(len(y) + 1), idx), n_classes

    def _loss_name(self):
        if self._is_multilabel():
            return "softmax" if self.multilabel_loss == "softmax" else "sigmoid"
        if self.classes_.shape[0] == 2:
            return "sigmoid"
        return "softmax"

    def _hash_output(self, n_outputs):
        if self.hash_output == "auto":
            return n_outputs >= AUTO_HASH_OUTPUT
        return bool(self.hash_output)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with a single epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

        y : array-like of shape (n_samples,)
            The target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, read as :meth:`fit` reads them.

        classes : array of shape (n_classes,), default=None
            Classes across all calls to partial_fit; required on the first call.

        Returns
        -------
        self : object
            Trained model.
        """
        # (a first call sets classes_ to unique_labels(classes); a later call that
        # passes classes_ again, as a loop over blocks does, is not sorted anew: at
        # a million classes that costs a second a call)
        if not (classes is not None and hasattr(self, "classes_")
                and np.array_equal(np.asarray(classes), self.classes_)):
            _check_partial_fit_first_call(self, classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    @reads_X
    def predict_proba(self, X):
        """Probability estimates.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_``.
        """
        return self._proba(self._output_scores(X))

    def _proba_chunks(self, X, rows):
        """:meth:`predict_proba` of `rows` rows at a time, with one set-up for all of
        `X` (what an ensemble asks of its members)."""
        for scores in self._output_score_chunks(X, rows):
            yield self._proba(scores)

    def _proba(self, scores):
        """Class probabilities from output pre-activations (a block of rows)."""
        if self.out_activation_ == "logistic" and self.n_outputs_ > 1:
            with np.errstate(over="ignore"):
                return 1 / (1 + np.exp(-scores))
        if self.n_outputs_ == 1:
            p = 1 / (1 + np.exp(-scores.ravel()))
            return np.column_stack([1 - p, p])
        scores = scores - scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores

    @reads_X
    @ranks_topk
    def predict_topk(self, X, k=5):
        """The `k` most probable classes of each example, best first.

        Computed a block of rows at a time, so that memory stays bounded by the block
        times the number of classes however many rows `X` has. Among classes of
        equal probability at the k-th place (a hashed output layer gives probability
        0 to every class outside an example's active set), which ones are returned is
        not specified.
        """
        check_is_fitted(self)
        n_classes = self.classes_.shape[0]
        check_k(k, n_classes)
        top, top_proba = [np.empty((0, k), dtype=np.intp)], [
            np.empty((0, k), dtype=self.coefs_[0].dtype)]
        for ids, scores in self._active_score_chunks(X):
            if ids is not None and (k > ids.shape[1] or (ids[:, k - 1] < 0).any()):
                # more asked than are active (the -1 padding comes last in a row):
                # the others come in at probability 0
                ids, scores = None, densify(ids, scores, n_classes)
            proba = self._proba(scores)
            idx = ranked_top_k(proba, k, effective_n_threads(self.n_threads))
            top_proba.append(np.take_along_axis(proba, idx, axis=1))
            top.append(idx if ids is None else np.take_along_axis(ids, idx, axis=1))
        return self.classes_[np.concatenate(top)], np.concatenate(top_proba)

    @reads_X
    def predict_log_proba(self, X):
        """Logarithm of the probability estimates.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @reads_X
    def predict(self, X):
        """Predict class labels.

        Returns
        -------
        y : ndarray of shape (n_samples,), or (sparse) matrix of shape (n_samples, n_labels)
            The predicted classes; for a model fitted on a label-indicator matrix, the
            labels whose probability exceeds 0.5, as an indicator matrix of the kind
            and dtype it was fitted on (a sparse one is built block by block and never
            made dense).
        """
        if self._is_multilabel():
            kind, dtype = self._label_format
            if kind == "dense":
                return np.concatenate([self._label_mask(scores) for scores in
                                       self._output_score_chunks(X)]).astype(dtype)
            blocks = []
            for ids, scores in self._active_score_chunks(X):
                rows, cols = np.nonzero(self._label_mask(scores))
                labels = cols if ids is None else ids[rows, cols]
                blocks.append(sp.csr_matrix(
                    (np.ones(len(rows), dtype=dtype), (rows, labels)),
                    shape=(scores.shape[0], len(self.classes_))))
            return sp.vstack(blocks, format="csr")
        check_is_fitted(self)
        if self.n_outputs_ == 1:
            return self.classes_[(self._output_scores(X).ravel() > 0).astype(int)]
        best = [np.empty(0, dtype=np.intp)]
        for ids, scores in self._active_score_chunks(X):
            top = np.argmax(scores, axis=1)
            best.append(top if ids is None else ids[np.arange(len(top)), top])
        return self.classes_[np.concatenate(best)]

    def _label_mask(self, scores):
        """The labels a multi-label model predicts from a block's output scores.

        A logistic output predicts each label whose probability exceeds 0.5. A
        softmax output shares one unit of probability among the labels, as its
        targets share it evenly among a row's labels: it predicts the labels whose
        probability is at least half the row's largest (a row of m equally likely
        labels predicts all m, and always at least its most probable label)."""
        if self.out_activation_ == "logistic":
            return scores > 0
        best = scores.max(axis=1, keepdims=True)
        # softmax probabilities p_j >= p_max / 2, on the scores: z_j >= z_max - log 2
        return (scores >= best - np.log(2)) & np.isfinite(scores)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class LSHMLPRegressor(RegressorMixin, BaseLSHMLP):
    __init__ = storing_init()

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], reset=reset,
                             multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32))
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _targets(self, y, dtype):
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        self.n_outputs_, self.out_activation_ = Y.shape[1], "identity"
        return Targets(dtype, Y=Y), Y.shape[1]

    def _loss_name(self):
        return "squared"

    @reads_X
    def predict(self, X):
        """Predict using the network.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        scores = self._output_scores(X)
        return scores.ravel() if self.n_outputs_ == 1 else scores

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


LSHMLPClassifier.__doc__ = """Multi-layer perceptron classifier trained on hashed active sets.

    Each hidden layer (and, for many classes, the output layer) keeps locality-
    sensitive hash tables over its units' weight vectors. For every example the tables
    name the few units likely to have the largest activations, and only those are
    computed forward and updated backward; the examples of a batch run in parallel
    without locks (Hogwild). Training costs a fraction of the multiply-adds of the
    same dense network, reported as ``mult_fraction_``.
""" + PARAMETERS.format(extra="""
    hash_output : bool or 'auto', default='auto'
        Whether the output layer gets its own tables and active sets (the true
        labels are always in them during training). 'auto' hashes output layers of
        1024 classes or more.

    multilabel_loss : {{'softmax', 'logistic'}}, default='softmax'
        The loss of a model fitted on a label-indicator matrix (multi-label). With
        'softmax' the outputs share one softmax and each row's target spreads
        evenly over its labels (as SLIDE and fastText train): ``predict_proba``
        rows then sum to 1, ``predict_topk`` ranks by that probability, and
        ``predict`` returns the labels whose probability is at least half the
        row's largest. With 'logistic' every label is its own binary problem
        (scikit-learn's MLP does this), and ``predict`` returns the labels of
        probability above 0.5. A hashed output layer computes the softmax over
        each example's active outputs, the row's labels always among them. Rows
        with no label contribute no gradient under 'softmax'. Single-label
        classification ignores it.
""") + ATTRIBUTES.format(extra="""
    classes_ : ndarray of shape (n_classes,)
        Class labels.
""") + SEE_ALSO.format(
    sibling="LSHMLPRegressor", task="regression", mlp="MLPClassifier"
) + """    >>> from sklearn.datasets import load_digits
    >>> from sklsh import LSHMLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = LSHMLPClassifier((256,), active_fraction=0.25, max_iter=30,
    ...                        random_state=0).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.9
    True
"""

LSHMLPRegressor.__doc__ = """Multi-layer perceptron regressor trained on hashed active sets.

    The hidden layers keep locality-sensitive hash tables over their units' weight
    vectors and compute, per example, only the units the tables name; the output
    layer is dense. See :class:`LSHMLPClassifier`.
""" + PARAMETERS.format(extra="") + ATTRIBUTES.format(extra="") + SEE_ALSO.format(
    sibling="LSHMLPClassifier", task="classification", mlp="MLPRegressor"
) + """    >>> import numpy as np
    >>> from sklsh import LSHMLPRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.rand(500, 5)
    >>> y = X @ [1.0, -2.0, 0.5, 0.0, 1.0]
    >>> reg = LSHMLPRegressor((64,), active_fraction=0.5, max_iter=100,
    ...                       random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.9
    True
"""
