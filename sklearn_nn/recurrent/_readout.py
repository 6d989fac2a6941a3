"""Closed-form read-out of fixed sequence features: ridge with leave-one-out.

The read-out of the random-convolution features is MiniRocket's (Dempster et
al., 2021): features scaled by their standard deviation, a ridge regression
on the classes coded -1/+1 with its penalty chosen over ``logspace(-3, 3,
10)`` (MiniRocket uses scikit-learn's ``RidgeClassifierCV``). Three things
``RidgeClassifierCV`` does not give are done here: the penalty is chosen by
generalised cross-validation instead of leave-one-out, so that an integer
sample weight acts exactly as repeating the sample (scikit-learn's
sample-weight check); the out-of-sample *scores* at the chosen penalty are
kept, and one temperature fitted to them makes ``softmax(temperature *
scores)`` calibrated probabilities (the per-step probabilities that early
classification thresholds); and the final fit may use more rows than those
that chose the penalty (target replication: the features at earlier steps
of each sequence). ``tests/test_recurrent.py`` checks the coefficients
against scikit-learn's ``Ridge``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax
from sklearn.linear_model import Ridge
from sklearn.preprocessing import label_binarize

ALPHAS = np.logspace(-3, 3, 10)


def _weighted_center(X, w):
    mean = w @ X / w.sum()
    return X - mean, mean


def ridge_gcv(X, Y, w, alphas=ALPHAS):
    """Ridge with an unpenalised intercept, its penalty chosen by generalised
    cross-validation (Golub, Heath and Wahba, 1979).

    GCV is leave-one-out with every sample's leverage replaced by the mean
    leverage, ``trace(H) / sum(w)``: unlike leave-one-out (scikit-learn's
    ``RidgeClassifierCV``), it gives an integer sample weight exactly the
    effect of repeating the sample. Computed from the eigendecomposition of
    the weighted Gram matrix (or of the covariance when there are more
    samples than features).

    Returns
    -------
    alpha : float
        The chosen penalty.
    cv_scores : ndarray of shape (n, n_targets)
        The GCV out-of-sample predictions at that penalty,
        ``y - (y - fitted) / (1 - trace(H) / sum(w))``.
    """
    positive = np.count_nonzero(w > 0)
    if w.sum() < positive:
        # fractional weights summing to less than the samples they weigh
        # (normalised weights): GCV's leverage is relative to the sum, so
        # they are scaled to a mean of 1 over those samples (weights of at
        # least 1, integer ones included, are used as they are)
        w = w * (positive / w.sum())
    Xc, _ = _weighted_center(X, w)
    Yc, y_mean = _weighted_center(Y, w)
    sw = np.sqrt(w)[:, None]
    Xs, Ys = Xc * sw, Yc * sw
    n, d = Xs.shape
    if n <= d:
        evals, Q = np.linalg.eigh(Xs @ Xs.T)
    else:
        evals, V = np.linalg.eigh(Xs.T @ Xs)
        # the hat matrix's eigenvectors in sample space: U = Xs V / sqrt(evals)
        keep = evals > evals.max() * 1e-12
        evals, V = evals[keep], V[:, keep]
        Q = Xs @ V / np.sqrt(evals)
    evals = np.clip(evals, 0, None)
    QtY = Q.T @ Ys
    total = w.sum()
    best = None
    for alpha in alphas:
        shrink = evals / (evals + alpha)
        fitted = Q @ (shrink[:, None] * QtY)
        # the mean leverage, the intercept's included; at 1 or above (weights
        # summing to less than the fit's degrees of freedom) GCV is undefined
        leverage = (shrink.sum() + 1) / total
        if leverage >= 1:
            continue
        resid = (Ys - fitted) / (1 - leverage)
        error = np.sum(resid**2) / total
        if best is None or error < best[0]:
            best = (error, alpha, Y - resid / np.where(sw > 0, sw, 1))
    if best is None:
        # every penalty fits the weights exactly: the largest, with the
        # training scores
        alpha = alphas[-1]
        shrink = evals / (evals + alpha)
        return alpha, Q @ (shrink[:, None] * QtY) / np.where(sw > 0, sw, 1) + y_mean
    return best[1], best[2]


def _crossfit_scores(
    X, Y, w, groups, alpha, n_folds=5, max_rows=2000, random_state=None
):
    """Ridge scores of each row from a fit on the other folds of groups.

    At most ``max_rows`` rows (whole groups, drawn at random) take part, to
    bound the cost. Returns the scores and the indices of those rows.
    """
    rng = np.random.RandomState(random_state)
    unique = rng.permutation(np.unique(groups))
    per_group = len(groups) / len(unique)
    unique = unique[: max(n_folds, int(max_rows / per_group))]
    keep = np.flatnonzero(np.isin(groups, unique))
    fold_of = dict(zip(unique, np.arange(len(unique)) % n_folds))
    folds = np.array([fold_of[g] for g in groups[keep]])
    scores = np.empty((len(keep), Y.shape[1]))
    for fold in range(n_folds):
        test, train = keep[folds == fold], keep[folds != fold]
        if not len(test) or not np.any(w[train] > 0):
            scores[folds == fold] = 0.0
            continue
        model = Ridge(alpha=alpha).fit(X[train], Y[train], sample_weight=w[train])
        scores[folds == fold] = model.predict(X[test]).reshape(len(test), -1)
    return scores, keep


def fit_temperature(scores, codes, w):
    """The temperature ``t`` in [0.05, 100] minimising the weighted log-loss
    of ``softmax(t * scores)`` (binary: ``sigmoid(2 t s)``, the -1/+1
    coding). The lower bound keeps the classes' order resolvable in float32
    where the scores show no skill."""
    if scores.shape[1] == 1:
        scores = np.hstack([-scores, scores])

    def loss(log_t):
        logp = log_softmax(np.exp(log_t) * scores, axis=1)
        return -np.sum(w * logp[np.arange(len(codes)), codes]) / w.sum()

    result = minimize_scalar(
        loss, bounds=(np.log(0.05), np.log(100.0)), method="bounded"
    )
    return float(np.exp(result.x))


def fit_ridge_readout(
    final,
    codes,
    n_classes,
    weight=None,
    extra=None,
    final_weight=None,
    row_steps=None,
):
    """MiniRocket's ridge read-out, with a temperature.

    Parameters
    ----------
    final : ndarray of shape (n, d)
        Features at each sequence's last step (they choose the penalty).
    codes : ndarray of shape (n,)
        Class codes in ``[0, n_classes)``.
    n_classes : int
    weight : ndarray of shape (n,), default=None
        Sample weights.
    extra : tuple (features, codes, weight), optional
        More rows for the final fit only (target replication).
    final_weight : ndarray of shape (n,), default=None
        The weights of the ``final`` rows in the final fit, when they differ
        from ``weight`` (which chooses the penalty and the temperature).
    row_steps : ndarray of shape (n + len(extra[0]),), default=None
        With ``extra``: the step each row's features were taken at. The
        temperature is then fitted per range of steps (the earlier steps'
        scores rest on less evidence) and returned as one value per step.

    Returns
    -------
    coef : ndarray of shape (n_outputs, d)
        Logit weights (``n_outputs`` is ``n_classes``, or 2 for two
        classes: ``[-s, s]``), for the unscaled features.
    intercept : ndarray of shape (n_outputs,)
    alpha : float
    temperature : float, or ndarray of shape (max(row_steps) + 1,)
        The factor that calibrates the scores; per step with ``row_steps``
        (then ``coef`` and ``intercept`` are the uncalibrated scores').
    """
    final = np.asarray(final, dtype=np.float64)
    w = np.ones(len(final)) if weight is None else np.asarray(weight, np.float64)
    n_targets = 1 if n_classes == 2 else n_classes
    classes = np.arange(n_classes)
    # -1/+1 codes, one column for two classes (as RidgeClassifier)
    Y = label_binarize(codes, classes=classes, neg_label=-1).astype(np.float64)
    centred, _ = _weighted_center(final, w)
    scale = np.sqrt(w @ centred**2 / w.sum())
    # features that barely vary (for instance only among samples of tiny
    # weight) are not blown up: the scale is at least a tenth of the median
    scale = np.maximum(scale, 0.1 * np.median(scale))
    scale = np.where(scale > 0, scale, 1.0)
    Z = final / scale
    alpha, cv_scores = ridge_gcv(Z, Y, w)
    rows, targets = Z, Y
    row_weight = w if final_weight is None else np.asarray(final_weight, np.float64)
    if extra is not None:
        feats, extra_codes, extra_w, groups = extra
        extra_Y = label_binarize(extra_codes, classes=classes, neg_label=-1)
        rows = np.vstack([Z, np.asarray(feats, np.float64) / scale])
        targets = np.vstack([Y, extra_Y])
        row_weight = np.concatenate([row_weight, extra_w])
        row_codes = np.concatenate([codes, extra_codes])
        row_groups = np.concatenate([np.arange(len(final)), groups])
        # the temperature calibrates every step's probabilities: fitted to
        # scores cross-fitted over the sequences, at the chosen penalty
        scores, keep = _crossfit_scores(
            rows, targets, row_weight, row_groups, alpha, random_state=0
        )
        if row_steps is None:
            temperature = fit_temperature(scores, row_codes[keep], row_weight[keep])
        else:
            temperature = _temperature_by_step(
                scores, row_codes[keep], row_weight[keep], np.asarray(row_steps)[keep]
            )
    else:
        temperature = fit_temperature(cv_scores, codes, w)
    ridge = Ridge(alpha=alpha).fit(rows, targets, sample_weight=row_weight)
    coef = ridge.coef_.reshape(n_targets, -1) / scale
    intercept = np.atleast_1d(ridge.intercept_).reshape(n_targets)
    if n_classes == 2:
        coef, intercept = (
            np.vstack([-coef, coef]),
            np.concatenate([-intercept, intercept]),
        )
    if np.ndim(temperature):
        return coef, intercept, alpha, temperature
    return coef * temperature, intercept * temperature, alpha, temperature


def _temperature_by_step(scores, codes, w, steps, n_bins=8):
    """One temperature per step: fitted on the rows of each range of steps
    (quantiles of ``steps``), constant within a range, for every step up
    to ``steps.max()``."""
    edges = np.unique(np.quantile(steps, np.linspace(0, 1, n_bins + 1)[1:-1]))
    bins = np.searchsorted(edges, steps, side="right")
    values = np.array(
        [
            fit_temperature(scores[bins == b], codes[bins == b], w[bins == b])
            if np.any(w[bins == b] > 0)
            else np.nan
            for b in range(len(edges) + 1)
        ]
    )
    # a range without weight takes its neighbour's value
    for b in range(1, len(values)):
        if np.isnan(values[b]):
            values[b] = values[b - 1]
    values = np.where(np.isnan(values), np.nanmean(values), values)
    every = np.arange(int(steps.max()) + 1)
    return values[np.searchsorted(edges, every, side="right")]
