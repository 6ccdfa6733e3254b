"""The epoch loop of fit and partial_fit: batches in shuffled order, the epoch's loss as
scikit-learn's MLP reports it, the learning-rate schedule of 'sgd' and the stopping rule,
early stopping on a held-out split with a snapshot of the best epoch.

Each function reads the estimator's parameters and writes its fitted attributes
(``loss_curve_``, ``validation_scores_``, ...); the batches themselves go to the
training driver (``sklsh._training``).
"""
import time
import warnings

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from . import _hash_state
from ._progress import EpochProgress
from ._training import KernelInput


def run_epochs(est, X, y, targets, trainer, incremental, sample_weight=None):
    """Train `est` for up to ``max_iter`` epochs (one with `incremental`) through
    `trainer`, stopping by scikit-learn's rule; with ``early_stopping`` the weights
    and tables of the best validated epoch are written back at the end."""
    if est.early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True: set "
                         "early_stopping=False to train incrementally, or use fit.")
    rng = est._random_state
    train_rows, validation = _split(est, X, y, sample_weight, rng)
    n_train = train_rows.shape[0]
    if est.batch_size != "auto" and est.batch_size > n_train:
        warnings.warn(f"batch_size={est.batch_size} is larger than the "
                      f"{n_train} training samples; it is clipped to {n_train}.")
    batch_size = est._batch_size(n_train)
    n_batches = -(-n_train // batch_size)
    data = KernelInput(X, est.coefs_[0].dtype)
    trainer.prepare(data)
    try:
        for _ in range(est.max_iter):
            start = time.perf_counter()
            order = rng.permutation(train_rows) if est.shuffle else train_rows
            progress = (EpochProgress(est.n_iter_ + 1, n_batches, n_train)
                        if est.verbose >= 2 else None)
            est.loss_ = _epoch(est, data, targets, trainer, order, batch_size,
                               n_batches, rng, sample_weight, progress)
            trainer.settle()
            est.n_iter_ += 1
            est.t_ += n_train
            est.loss_curve_.append(est.loss_)
            record_tally(est, trainer)
            if est.verbose:
                print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}, "
                      f"{time.perf_counter() - start:.2f} s, "
                      f"active fraction {mean_active_fraction(est):.3f}, "
                      f"multiply-adds {100 * est.mult_fraction_:.2f}% of dense")
            _update_no_improvement_count(est, validation)
            if est.verbose and validation is not None:
                print(f"Validation score: {est.validation_scores_[-1]:f}")
            if _end_epoch(est, trainer, validation is not None):
                break
            if incremental:
                break
            if est.n_iter_ == est.max_iter:
                warnings.warn(
                    "Stochastic Optimizer: Maximum iterations (%d) reached and the "
                    "optimization hasn't converged yet." % est.max_iter,
                    ConvergenceWarning)
    except KeyboardInterrupt:
        trainer.settle()
        warnings.warn("Training interrupted by user.")
    record_tally(est, trainer)
    # The tables stay as training last used them: the network is adapted to the
    # active sets they give, and re-hashing everything here would hand it others
    # it never trained on. Early stopping brings back the tables of the
    # best epoch with its weights, so the model is exactly the one validated.
    if validation is not None:
        _restore(est, est._best_state)
        del est._best_state


def _split(est, X, y, sample_weight, rng):
    """The training rows, and with ``early_stopping`` the held-out (X, y,
    sample_weight) it validates on (else None); takes the first snapshot."""
    n_samples = X.shape[0]
    train_rows = np.arange(n_samples, dtype=np.int64)
    if not est.early_stopping:
        return train_rows, None
    stratify = y if is_classifier(est) and np.ndim(y) == 1 else None
    train_rows, val_rows = train_test_split(
        train_rows, random_state=rng, test_size=est.validation_fraction,
        stratify=stratify)
    if val_rows.shape[0] < 2:
        raise ValueError(
            f"The validation set is too small: validation_fraction="
            f"{est.validation_fraction} of {n_samples} samples gives "
            f"{val_rows.shape[0]}, and early stopping needs at least 2. "
            "Increase 'validation_fraction' or the size of your dataset.")
    sw_val = None if sample_weight is None else sample_weight[val_rows]
    if sw_val is not None and not sw_val.any():
        raise ValueError(
            "The sample weights of the validation set are all zero; use "
            "another random_state or validation_fraction.")
    est._best_state = _snapshot(est)
    return np.sort(train_rows), (X[val_rows], y[val_rows], sw_val)


def _epoch(est, data, targets, trainer, order, batch_size, n_batches, rng,
           sample_weight, progress=None):
    """One pass over `order` a batch at a time, told to `progress` (an
    EpochProgress) if given; the epoch's loss as scikit-learn reports it: each
    batch's (weighted) mean loss, with the L2 penalty over the batch's sum of
    weights, counted for each of its examples (the penalty of the weights the epoch
    ends with)."""
    n_train = order.shape[0]
    accumulated = 0.0
    penalty_share = 0.0
    for b in range(0, n_train, batch_size):
        rows = order[b:b + batch_size]
        loss = trainer.batch(data, targets, rows, rng, n_batches, sample_weight)
        if progress is not None:
            progress.update(b // batch_size + 1, b + len(rows))
        if sample_weight is None:
            accumulated += loss
            penalty_share += 1.0
        else:
            sw_sum = float(sample_weight[rows].sum())
            if sw_sum != 0:
                accumulated += loss * (len(rows) / sw_sum)
                penalty_share += len(rows) / sw_sum
    if progress is not None:
        progress.close()
    penalty = 0.0
    if penalty_share:
        # (unweighted: n_train / n_batches, the batch size if it divides)
        # (ravel in memory order: a view of the stored array, whichever its layout)
        penalty = 0.5 * est.alpha * sum(
            float(np.dot(w, w)) for w in (c.ravel(order="K") for c in est.coefs_)
        ) / (n_train / penalty_share)
    return accumulated / n_train + penalty


def mean_active_fraction(est):
    """Mean over the hashed layers of the share of units active per example."""
    shares = [b / c.shape[1] for b, c, h in
              zip(est._budgets, est.coefs_, est._hash_states) if h is not None]
    return float(np.mean(shares)) if shares else 1.0


def record_tally(est, trainer):
    est.mult_fraction_ = trainer.tally.mult_fraction
    est.hash_fraction_ = trainer.tally.hash_fraction


def _snapshot(est):
    """Copies of what predictions and table refreshes read: weights, hash tables,
    row stamps and the refresh schedule (not the optimizer's moments)."""
    return dict(
        coefs=[c.copy() for c in est.coefs_],
        intercepts=[i.copy() for i in est.intercepts_],
        touched=[t.copy() for t in est._touched],
        schedule=dict(est._schedule),
        hashing=[None if h is None
                 else _hash_state.copy_tables(h) for h in est._hash_states])


def _restore(est, snapshot):
    """Write a snapshot back in place: the kernels' views stay valid."""
    for l in range(len(est.coefs_)):
        est.coefs_[l][...] = snapshot["coefs"][l]
        est.intercepts_[l][...] = snapshot["intercepts"][l]
        est._touched[l][...] = snapshot["touched"][l]
        if snapshot["hashing"][l] is not None:
            _hash_state.restore_tables(est._hash_states[l], snapshot["hashing"][l])
    est._schedule.update(snapshot["schedule"])


def _end_epoch(est, trainer, early_stopping):
    """The learning-rate schedule of 'sgd' and the stopping rule, as scikit-learn's
    SGDOptimizer has them (``iteration_ends``, ``trigger_stopping``); whether to
    stop. 'invscaling' sets the rate to ``learning_rate_init / (t_ + 1) **
    power_t``. After more than ``n_iter_no_change`` epochs without improvement,
    'adaptive' divides the rate by 5 and counts anew (stopping once it is at most
    1e-6); every other case stops."""
    sgd = est.solver == "sgd"
    if sgd and est.learning_rate == "invscaling":
        est._learning_rate = (float(est.learning_rate_init)
                              / (est.t_ + 1) ** est.power_t)
        trainer.learning_rate = est._learning_rate
    if est._no_improvement_count <= est.n_iter_no_change:
        return False
    what = "Validation score" if early_stopping else "Training loss"
    msg = (f"{what} did not improve more than tol={est.tol:f} for "
           f"{est.n_iter_no_change} consecutive epochs.")
    if not (sgd and est.learning_rate == "adaptive"):
        if est.verbose:
            print(msg + " Stopping.")
        return True
    if est._learning_rate <= 1e-6:
        if est.verbose:
            print(msg + " Learning rate too small. Stopping.")
        return True
    est._learning_rate /= 5.0
    trainer.learning_rate = est._learning_rate
    if est.verbose:
        print(msg + " Setting learning rate to %f" % est._learning_rate)
    est._no_improvement_count = 0
    return False


def _update_no_improvement_count(est, validation):
    """Count the epochs without ``tol`` improvement of the validation score (with a
    held-out `validation`, snapshotting each new best) or of the training loss."""
    if validation is not None:
        # (score: accuracy for the classifier, R2 for the regressor, as scikit-learn's
        # MLP validates)
        est.validation_scores_.append(est.score(*validation))
        last = est.validation_scores_[-1]
        if last < est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if last > est.best_validation_score_:
            est.best_validation_score_ = last
            est._best_state = _snapshot(est)
    else:
        if est.loss_curve_[-1] > est.best_loss_ - est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if est.loss_curve_[-1] < est.best_loss_:
            est.best_loss_ = est.loss_curve_[-1]
