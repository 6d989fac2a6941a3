"""Early classification from causal per-step probabilities.

A sequence is decided at the first step whose most probable class reaches
``threshold`` (at its last step otherwise). The scores follow aeon's early
classifiers, so that numbers compare: a sequence's *earliness* is the number
of steps read when it was decided over its length, and the *harmonic mean*
balances accuracy against earliness,
``2 * accuracy * (1 - earliness) / (accuracy + 1 - earliness)``.

:func:`select_early_threshold` chooses the rule by cross-fitting, as TEASER
tunes its own: clones of the classifier fitted on the other folds predict
each fold's per-step probabilities, and the threshold and number of
consecutive passing steps with the best harmonic mean over all the held-out
sequences win.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, check_cv
from sklearn.utils import check_random_state
from sklearn.utils.validation import column_or_1d

__all__ = ["decide_early", "early_scores", "select_early_threshold"]

# the thresholds select_early_threshold compares by default
THRESHOLDS = np.round(np.arange(0.5, 1.0, 0.025), 3).tolist() + [0.99, 0.999]


def check_threshold(threshold):
    if (
        not isinstance(threshold, numbers.Real)
        or isinstance(threshold, bool)
        or not 0 < threshold <= 1
    ):
        raise ValueError(
            f"threshold must be a probability in (0, 1], got {threshold!r}."
        )
    return float(threshold)


def decide_early(step_proba, threshold, consecutive=1):
    """Each sequence's decision from its per-step probabilities.

    Parameters
    ----------
    step_proba : ndarray of shape (n, T, n_classes)
        Per-step class probabilities, NaN past each sequence's end (as
        ``predict_proba_steps`` returns them).
    threshold : float
        A sequence is decided at its first step whose largest probability
        is at least ``threshold``, and at its last step otherwise.
    consecutive : int, default=1
        With more than 1, the decision waits for that many consecutive
        steps that pass the threshold with the same most probable class
        (TEASER's rule), the last of them being the decision step.

    Returns
    -------
    codes : ndarray of shape (n,)
        Index of the class decided.
    steps : ndarray of shape (n,)
        The step (0-based) at which each sequence was decided.
    lengths : ndarray of shape (n,)
    """
    real = ~np.isnan(step_proba[:, :, 0])
    lengths = real.sum(axis=1)
    top = np.where(real, np.nan_to_num(step_proba).max(axis=2), -np.inf)
    sure = top >= threshold
    if consecutive > 1:
        label = np.nan_to_num(step_proba).argmax(axis=2)
        run = np.zeros(sure.shape, dtype=np.int64)
        for t in range(sure.shape[1]):
            same = label[:, t] == label[:, t - 1] if t else np.zeros(len(run), bool)
            previous = run[:, t - 1] if t else 0
            run[:, t] = np.where(sure[:, t], np.where(same, previous + 1, 1), 0)
        sure = run >= consecutive
    sure[np.arange(len(lengths)), lengths - 1] = True
    steps = np.argmax(sure, axis=1)
    codes = np.argmax(step_proba[np.arange(len(steps)), steps], axis=1)
    return codes, steps, lengths


def early_scores(correct, steps, lengths, sample_weight=None):
    """(harmonic mean, accuracy, earliness), aeon's definitions."""
    accuracy = float(np.average(correct, weights=sample_weight))
    earliness = float(np.average((steps + 1) / lengths, weights=sample_weight))
    if accuracy + 1 - earliness == 0:
        return 0.0, accuracy, earliness
    hm = 2 * accuracy * (1 - earliness) / (accuracy + 1 - earliness)
    return float(hm), accuracy, earliness


def select_early_threshold(
    estimator,
    X,
    y,
    *,
    cv=3,
    thresholds=None,
    consecutive=(1, 2, 3, 4, 5),
    random_state=None,
):
    """The decision rule with the best cross-fitted harmonic mean.

    Parameters
    ----------
    estimator : TargetReplicationLSTMClassifier (or a Pipeline ending in one)
        Unfitted; clones are fitted on the training folds.
    X : list or array of sequences
        Any input format of the classifier.
    y : array-like of shape (n_sequences,)
    cv : int or cross-validation generator, default=3
        Folds (stratified for an int, shuffled with ``random_state``).
    thresholds : sequence of float, default=None
        The thresholds to compare; 0.5, 0.525, ..., 0.975, 0.99, 0.999 when
        None.
    consecutive : sequence of int, default=(1, 2, 3, 4, 5)
        The numbers of consecutive passing steps to compare (with each
        threshold): TEASER chooses its ``v`` from the same values.
    random_state : int, RandomState or None, default=None
        Shuffles the folds of an int ``cv``.

    Returns
    -------
    params : dict
        ``{'early_threshold': ..., 'early_consecutive': ...}``, the rule
        with the highest harmonic mean of accuracy and earliness on the
        held-out folds (the earliest on ties), for ``estimator.set_params``.
    table : list of (threshold, consecutive, harmonic_mean, accuracy, earliness)
        Every rule's held-out scores.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nn import TargetReplicationLSTMClassifier
    >>> from sklearn_nn.recurrent import select_early_threshold
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(2, size=60)
    >>> X = rng.randn(60, 30)
    >>> X[:, 5:10] += 2 * y[:, None]  # the class shows from step 5
    >>> clf = TargetReplicationLSTMClassifier(replication_weight=0.5)
    >>> params, table = select_early_threshold(clf, X, y, random_state=0)
    >>> clf.set_params(**params).fit(X, y).early_score(X, y)[0] > 0.6
    True
    """
    grid = (
        THRESHOLDS if thresholds is None else [check_threshold(t) for t in thresholds]
    )
    runs = [int(v) for v in np.atleast_1d(consecutive)]
    if not runs or min(runs) < 1:
        raise ValueError(
            f"consecutive must hold positive numbers of steps, got {consecutive!r}."
        )
    y = column_or_1d(y, warn=True)
    if isinstance(cv, numbers.Integral):
        cv = StratifiedKFold(
            cv, shuffle=True, random_state=check_random_state(random_state)
        )
    cv = check_cv(cv, y, classifier=True)
    sequences = X if isinstance(X, np.ndarray) or hasattr(X, "iloc") else list(X)
    held_out = []
    for train, test in cv.split(np.zeros(len(y)), y):
        model = clone(estimator).fit(_take(sequences, train), y[train])
        final = model[-1] if hasattr(model, "steps") else model
        features = (
            model[:-1].transform(_take(sequences, test))
            if hasattr(model, "steps")
            else _take(sequences, test)
        )
        steps = final.predict_proba_steps(features)
        held_out.append((steps, final.classes_, y[test]))
    table = []
    for threshold in grid:
        for run in runs:
            correct, decided, lengths = [], [], []
            for steps, classes, y_test in held_out:
                codes, at, n = decide_early(steps, threshold, run)
                correct.append(classes[codes] == y_test)
                decided.append(at)
                lengths.append(n)
            scores = early_scores(
                np.concatenate(correct),
                np.concatenate(decided),
                np.concatenate(lengths),
            )
            table.append((threshold, run, *scores))
    best = max(table, key=lambda row: (row[2], -row[4]))
    return {"early_threshold": best[0], "early_consecutive": best[1]}, table


def _take(X, index):
    if hasattr(X, "iloc"):  # a data frame of univariate sequences
        return X.iloc[index]
    if isinstance(X, np.ndarray):
        return X[index]
    return [X[i] for i in index]
