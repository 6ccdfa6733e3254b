"""Soft voting by the geometric mean of the members' probabilities.

The members of such an ensemble may give probabilities on different scales: a softmax
output shares one unit of probability among the labels, a logistic output gives each
label its own. Adding a constant to a row's log-probabilities does not change how its
classes rank, so a weighted sum of log-probabilities ranks by what each member knows
whatever its scale, where an arithmetic mean would follow the member whose rows sum to
the most. This is what lets a linear model over the sparse input (a "wide" model) and a
network with a hidden layer (a "deep" one), trained apart, be ranked together.
"""
import numpy as np
import scipy.sparse as sp
from sklearn.base import ClassifierMixin, clone
from sklearn.utils import Bunch
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted

from ._docstrings import ranks_topk, reads, reads_X
from ._prediction import check_k, ranked_top_k
from ._threads import effective_n_threads

__all__ = ["GeometricVotingClassifier"]

# A member's probability is floored here before its logarithm, so that a class one
# member gives probability 0 (outside a hashed output's active set) is still ranked by
# the others rather than sent to minus infinity.
MIN_PROBA = 1e-12
# Rows per block of prediction, as a number of (row, class) entries: the blended
# scores of a block are this many float64.
BLOCK_ENTRIES = 1 << 22

_reads_X_y = reads("""        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input.

        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            The classes, or a label-indicator matrix (dense or sparse).

""")


def _proba_blocks(est, X, rows):
    """A member's probabilities, `rows` rows at a time: an LSHMLPClassifier sets up
    once for all of X (on sparse rows it copies its first layer's weights into the
    order the sparse product reads); any other classifier is asked block by block."""
    if hasattr(est, "_proba_chunks"):
        yield from est._proba_chunks(X, rows)
        return
    for start in range(0, X.shape[0], rows):
        yield est.predict_proba(X[start:start + rows])


class GeometricVotingClassifier(ClassifierMixin, _BaseComposition):
    """Soft voting by the weighted geometric mean of the members' probabilities.

    Each member is fitted on the same data, apart from the others; predictions rank
    the classes by the weighted sum of the members' log-probabilities. For targets of
    one label per example this is the normalised weighted geometric mean of the
    members' probabilities (a product of experts). For a label-indicator target it
    combines members whose probabilities are on different scales, such as a linear
    :class:`~sklsh.LSHMLPClassifier` with a logistic output per label
    (``hidden_layer_sizes=(), multilabel_loss='logistic'``) and one with a hidden layer
    and a softmax output: the geometric mean ranks by both, where an arithmetic mean
    would follow the member whose probabilities sum to the most.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The members: classifiers with ``fit`` and ``predict_proba`` (and
        ``partial_fit`` for :meth:`partial_fit`), each under a name that
        :meth:`set_params` reaches it by (``name__parameter``). Each is cloned before
        fitting.

    weights : array-like of shape (n_estimators,), default=None
        Non-negative weight of each member's log-probabilities, normalised to sum to
        1; None weighs the members equally.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, in the order of ``estimators``.

    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted members by name.

    classes_ : ndarray of shape (n_classes,)
        The class labels, the same for every member.

    n_features_in_ : int
        Number of features seen during fit (that of the first member).

    See Also
    --------
    sklearn.ensemble.VotingClassifier : The arithmetic mean of the members'
        probabilities, for targets of one label per example.
    LSHMLPClassifier : A member.

    Notes
    -----
    A member's probabilities are floored at 1e-12 before their logarithm, so that a
    class one member gives probability 0 (outside a hashed output layer's active set)
    is still ranked by the others.

    For a label-indicator target, :meth:`predict` is a weighted vote of the members'
    own predictions: a label is predicted when members holding more than half of the
    weight predict it (with one member, what it predicts). :meth:`predict_proba` gives
    the weighted geometric mean of each label's probabilities, not normalised across
    labels.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklsh import LSHMLPClassifier
    >>> from sklsh.ensemble import GeometricVotingClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> vote = GeometricVotingClassifier([
    ...     ("linear", LSHMLPClassifier(hidden_layer_sizes=(), max_iter=20, random_state=0)),
    ...     ("net", LSHMLPClassifier(hidden_layer_sizes=(256,), max_iter=20, random_state=0)),
    ... ]).fit(X[:1500], y[:1500])
    >>> vote.predict_topk(X[1500:1502], k=2)[0].shape
    (2, 2)
    """

    def __init__(self, estimators, *, weights=None):
        self.estimators = estimators
        self.weights = weights

    def get_params(self, deep=True):
        """Get the parameters of this estimator, and with `deep` those of its members
        (``name__parameter``).

        Parameters
        ----------
        deep : bool, default=True
            Whether to include the members and their parameters.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params):
        """Set the parameters of this estimator or of its members (``name__parameter``),
        or replace a member by its name.

        Parameters
        ----------
        **params : keyword arguments
            Parameter names mapped to their new values.

        Returns
        -------
        self : object
            This estimator.
        """
        self._set_params("estimators", **params)
        return self

    def _validated_members(self, method):
        """The members' names and estimators, and the normalised weights, after
        checking them; `method` is the one every member must have."""
        if not isinstance(self.estimators, (list, tuple)) or len(self.estimators) == 0:
            raise ValueError("estimators must be a non-empty list of (name, estimator) "
                             f"tuples, got {self.estimators!r}.")
        for member in self.estimators:
            if not (isinstance(member, tuple) and len(member) == 2
                    and isinstance(member[0], str)):
                raise ValueError("estimators must be a list of (name, estimator) "
                                 f"tuples, got the item {member!r}.")
        names, members = zip(*self.estimators)
        self._validate_names(names)
        for name, est in self.estimators:
            for needed in (method, "predict_proba"):
                if not hasattr(est, needed):
                    raise TypeError(f"The member {name!r} ({type(est).__name__}) has no "
                                    f"{needed} method.")
        if self.weights is None:
            weights = np.full(len(members), 1 / len(members))
        else:
            weights = np.asarray(self.weights, dtype=float)
            if weights.shape != (len(members),):
                raise ValueError(f"weights must have one entry per estimator "
                                 f"({len(members)}), got {len(weights)}."
                                 if weights.ndim == 1 else
                                 f"weights must be one-dimensional, got shape "
                                 f"{weights.shape}.")
            if not np.all(np.isfinite(weights)) or (weights < 0).any() or weights.sum() <= 0:
                raise ValueError("weights must be finite and non-negative with a "
                                 f"positive sum, got {self.weights!r}.")
            weights = weights / weights.sum()
        return names, members, weights

    def _set_fitted(self, names, fitted, y):
        """Record the fitted members after checking that they agree on the classes."""
        classes = fitted[0].classes_
        for name, est in zip(names[1:], fitted[1:]):
            if not np.array_equal(est.classes_, classes):
                raise ValueError(f"The member {name!r} was fitted on other classes than "
                                 f"{names[0]!r}: every member must see the same targets.")
        self.estimators_ = list(fitted)
        self.named_estimators_ = Bunch(**dict(zip(names, fitted)))
        self.classes_ = classes
        self._multilabel = type_of_target(y) == "multilabel-indicator"
        if hasattr(fitted[0], "n_features_in_"):
            self.n_features_in_ = fitted[0].n_features_in_

    @_reads_X_y
    def fit(self, X, y, sample_weight=None):
        """Fit every member on the same data, one after the other.

        Parameters
        ----------
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to every member's ``fit``.

        Returns
        -------
        self : object
            The fitted ensemble.
        """
        names, members, self._weights = self._validated_members("fit")
        fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        self._set_fitted(names, [clone(est).fit(X, y, **fit_params) for est in members], y)
        return self

    @_reads_X_y
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One pass of every member's ``partial_fit`` over the given batch.

        Parameters
        ----------
        classes : array-like of shape (n_classes,), default=None
            Every class (or label) of the whole data; required on the first call and
            passed to the members.

        sample_weight : array-like of shape (n_samples,), default=None
            Passed to every member's ``partial_fit``.

        Returns
        -------
        self : object
            The updated ensemble.
        """
        first = not hasattr(self, "estimators_")
        names, members, weights = self._validated_members("partial_fit")
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to "
                                 "partial_fit.")
            fitted = [clone(est) for est in members]
        else:
            if len(names) != len(self.estimators_):
                raise ValueError("estimators changed since the first call to "
                                 "partial_fit; fit again instead.")
            fitted = self.estimators_
        params = {"classes": classes}
        if sample_weight is not None:
            params["sample_weight"] = sample_weight
        for est in fitted:
            est.partial_fit(X, y, **params)
        self._weights = weights
        self._set_fitted(names, fitted, y)
        return self

    def _log_score_blocks(self, X):
        """The weighted sum of the members' floored log-probabilities, float64, one
        column per class, a block of rows at a time."""
        check_is_fitted(self)
        X = check_array(X, accept_sparse="csr", dtype=None, ensure_all_finite=False)
        n_classes = len(self.classes_)
        rows = max(1, BLOCK_ENTRIES // n_classes)
        members = [(w, est, _proba_blocks(est, X, rows))
                   for w, est in zip(self._weights, self.estimators_) if w > 0]
        for start in range(0, X.shape[0], rows):
            total = np.zeros((min(rows, X.shape[0] - start), n_classes))
            for w, est, blocks in members:
                proba = np.asarray(next(blocks), dtype=float)
                if proba.shape != total.shape:
                    raise ValueError(f"{type(est).__name__}.predict_proba returned shape "
                                     f"{proba.shape}, expected {total.shape}.")
                total += w * np.log(np.maximum(proba, MIN_PROBA))
            yield total

    def _normalised(self, scores):
        """Log-probabilities from a block's blended scores: for one label per example,
        normalised over the classes; for labels, as they are."""
        if not self._multilabel:
            scores -= scores.max(axis=1, keepdims=True)
            scores -= np.log(np.exp(scores).sum(axis=1, keepdims=True))
        return scores

    @reads_X
    def predict_log_proba(self, X):
        """Logarithm of the weighted geometric mean of the members' probabilities.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            For targets of one label per example, normalised over the classes.
        """
        return np.concatenate([self._normalised(s) for s in self._log_score_blocks(X)])

    @reads_X
    def predict_proba(self, X):
        """The weighted geometric mean of the members' probabilities.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            In the order of ``classes_``; for targets of one label per example,
            normalised to sum to 1 over the classes.
        """
        return np.exp(self.predict_log_proba(X))

    @reads_X
    @ranks_topk
    def predict_topk(self, X, k=5):
        """The `k` classes of each example with the largest weighted geometric mean of
        the members' probabilities, best first.

        Computed a block of rows at a time, so that memory stays bounded by the block
        times the number of classes.
        """
        check_is_fitted(self)
        check_k(k, len(self.classes_))
        top, top_proba = [], []
        n_threads = effective_n_threads(None)
        for scores in self._log_score_blocks(X):
            scores = self._normalised(scores)
            idx = ranked_top_k(scores, k, n_threads)
            top.append(idx)
            top_proba.append(np.exp(np.take_along_axis(scores, idx, axis=1)))
        return self.classes_[np.concatenate(top)], np.concatenate(top_proba)

    @reads_X
    def predict(self, X):
        """Predict class labels.

        Returns
        -------
        y : ndarray of shape (n_samples,), or (sparse) matrix of shape (n_samples, n_labels)
            For targets of one label per example, the class of largest weighted
            geometric mean. For a label-indicator target, the labels that members
            holding more than half of the weight predict, in the format of the first
            member's predictions.
        """
        check_is_fitted(self)
        if not self._multilabel:
            return self.classes_[np.concatenate(
                [np.argmax(s, axis=1) for s in self._log_score_blocks(X)])]
        votes = None
        for w, est in zip(self._weights, self.estimators_):
            pred = est.predict(X)
            if votes is None:
                sparse, dtype = sp.issparse(pred), pred.dtype
                votes = sp.csr_matrix(pred.shape) if sparse else np.zeros(pred.shape)
            if sparse:
                votes = votes + w * sp.csr_matrix(pred, dtype=float)
            else:
                votes += w * (pred.toarray() if sp.issparse(pred) else np.asarray(pred))
        # the weights add to 1; "more than half" with a margin for their rounding
        chosen = votes > 0.5 + 1e-9
        return sp.csr_matrix(chosen, dtype=dtype) if sparse else chosen.astype(dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        members = [est for _, est in self.estimators] if isinstance(
            self.estimators, (list, tuple)) else []
        member_tags = [est.__sklearn_tags__() for est in members
                       if hasattr(est, "__sklearn_tags__")]
        if member_tags:
            tags.classifier_tags.multi_label = all(
                t.classifier_tags is not None and t.classifier_tags.multi_label
                for t in member_tags)
            tags.input_tags.sparse = all(t.input_tags.sparse for t in member_tags)
        return tags
