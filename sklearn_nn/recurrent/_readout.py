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
        # the mean leverage, the intercept's included
        leverage = (shrink.sum() + 1) / total
        resid = (Ys - fitted) / max(1 - leverage, 1e-12)
        error = np.sum(resid**2) / total
        if best is None or error < best[0]:
            best = (error, alpha, Y - resid / np.where(sw > 0, sw, 1))
    return best[1], best[2]


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


def fit_ridge_readout(final, codes, n_classes, weight=None, extra=None):
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

    Returns
    -------
    coef : ndarray of shape (n_outputs, d)
        Logit weights (``n_outputs`` is ``n_classes``, or 2 for two
        classes: ``[-s, s]``), for the unscaled features.
    intercept : ndarray of shape (n_outputs,)
    alpha : float
    temperature : float
    """
    final = np.asarray(final, dtype=np.float64)
    w = np.ones(len(final)) if weight is None else np.asarray(weight, np.float64)
    n_targets = 1 if n_classes == 2 else n_classes
    Y = -np.ones((len(final), n_targets))
    if n_classes == 2:
        Y[codes == 1, 0] = 1.0
    else:
        Y[np.arange(len(codes)), codes] = 1.0
    centred, _ = _weighted_center(final, w)
    scale = np.sqrt(w @ centred**2 / w.sum())
    # features that barely vary (for instance only among samples of tiny
    # weight) are not blown up: the scale is at least a tenth of the median
    scale = np.maximum(scale, 0.1 * np.median(scale))
    scale = np.where(scale > 0, scale, 1.0)
    Z = final / scale
    alpha, cv_scores = ridge_gcv(Z, Y, w)
    temperature = fit_temperature(cv_scores, codes, w)
    rows, targets, row_weight = Z, Y, w
    if extra is not None:
        feats, extra_codes, extra_w = extra
        extra_Y = -np.ones((len(feats), n_targets))
        if n_classes == 2:
            extra_Y[extra_codes == 1, 0] = 1.0
        else:
            extra_Y[np.arange(len(extra_codes)), extra_codes] = 1.0
        rows = np.vstack([Z, np.asarray(feats, np.float64) / scale])
        targets = np.vstack([Y, extra_Y])
        row_weight = np.concatenate([w, extra_w])
    ridge = Ridge(alpha=alpha).fit(rows, targets, sample_weight=row_weight)
    coef = ridge.coef_.reshape(n_targets, -1) / scale
    intercept = np.atleast_1d(ridge.intercept_).reshape(n_targets)
    if n_classes == 2:
        coef, intercept = (
            np.vstack([-coef, coef]),
            np.concatenate([-intercept, intercept]),
        )
    return coef * temperature, intercept * temperature, alpha, temperature
