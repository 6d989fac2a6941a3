"""The hard gate's candidates and selection losses: pure functions on arrays.

The gate chooses, per sample, among *candidates*: the base models, the
**prior** (the weighted class frequencies, as
:class:`~sklearn.dummy.DummyClassifier` with ``strategy='prior'``, or the
weighted mean target, as :class:`~sklearn.dummy.DummyRegressor`) and the
**vote** (the pool's outputs averaged with convex weights fitted to the
out-of-fold outputs). Everything here works on the out-of-fold outputs of
shape (n_samples, n_estimators, n_outputs): class probabilities ordered as
``classes_``, or predictions.
"""

from __future__ import annotations

import numpy as np

CLASSIFICATION_LOSSES = ("zero_one", "log_loss")
REGRESSION_LOSSES = ("squared_error", "absolute_error")
# class probabilities are clipped to this before a log
PROBA_FLOOR = 1e-7


def _weights(weight, n):
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
    return w / w.sum()


def prior_output(target, weight, n_outputs, task):
    """The prior candidate's output, shape (n_outputs,): the weighted class
    frequencies (``target`` holds class indices) or the weighted mean of each
    output (``target`` of shape (n, n_outputs))."""
    w = _weights(weight, len(target))
    if task == "classification":
        return np.bincount(target, weights=w, minlength=n_outputs)
    return w @ np.asarray(target, dtype=np.float64).reshape(len(target), -1)


def fit_vote_weights(outputs, target, weight, task, *, max_iter=500, tol=1e-10):
    """Convex weights of the pool's vote, fitted to out-of-fold outputs.

    Classification: the weights ``pi`` minimise the weighted log-loss of
    ``sum_e pi_e p_e``, a convex problem solved by the EM iteration for
    mixture proportions (each step multiplies ``pi_e`` by the mean
    responsibility of model ``e``; the log-likelihood never decreases).
    Regression: the weights minimise the weighted squared error of ``sum_e
    pi_e f_e`` over the simplex (projected gradient with a step of one over
    the Lipschitz constant). This is the convex "super learner" of van der
    Laan, Polley and Hubbard (2007) over the pool.

    Returns an array of shape (n_estimators,): non-negative, sums to 1.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    n, n_models = outputs.shape[:2]
    w = _weights(weight, n)
    pi = np.full(n_models, 1.0 / n_models)
    if n_models == 1:
        return pi
    if task == "classification":
        right = np.clip(outputs[np.arange(n), :, target], PROBA_FLOOR, None)
        previous = -np.inf
        for _ in range(max_iter):
            mixture = right @ pi
            log_likelihood = w @ np.log(mixture)
            pi = pi * (w @ (right / mixture[:, None]))
            pi /= pi.sum()
            if log_likelihood - previous <= tol:
                break
            previous = log_likelihood
        return pi
    y = np.asarray(target, dtype=np.float64).reshape(n, -1)
    # the loss sum_i w_i ||F_i pi - y_i||^2, F_i of shape (n_outputs, E)
    F = outputs.transpose(0, 2, 1).reshape(-1, n_models)
    ww = np.repeat(w, y.shape[1])
    gram = F.T @ (F * ww[:, None])
    linear = F.T @ (ww * y.ravel())
    step = 1.0 / max(np.linalg.eigvalsh(gram).max(), np.finfo(float).tiny)
    for _ in range(max_iter):
        new = _project_to_simplex(pi - step * (gram @ pi - linear))
        if np.abs(new - pi).max() <= tol:
            pi = new
            break
        pi = new
    return pi


def _project_to_simplex(v):
    """The Euclidean projection of ``v`` onto the probability simplex
    (Held, Wolfe and Crowder, 1974; the sort-based algorithm)."""
    u = np.sort(v)[::-1]
    cumulative = np.cumsum(u) - 1.0
    index = np.arange(1, len(v) + 1)
    rho = np.nonzero(u - cumulative / index > 0)[0][-1]
    return np.maximum(v - cumulative[rho] / (rho + 1), 0.0)


def candidate_outputs(outputs, prior, vote_weights):
    """The candidates' outputs: the base models', then the prior's, then the
    vote's, shape (n, n_estimators + 2, n_outputs)."""
    outputs = np.asarray(outputs, dtype=np.float64)
    n = outputs.shape[0]
    prior = np.broadcast_to(np.asarray(prior, dtype=np.float64), (n, outputs.shape[2]))
    vote = np.einsum("e,nek->nk", np.asarray(vote_weights, float), outputs)
    return np.concatenate([outputs, prior[:, None], vote[:, None]], axis=1)


def loss_scale(target, weight, loss):
    """What a regression selection loss is divided by, so that losses (and
    ``shrinkage``) do not depend on the target's units: the weighted
    variance (squared error) or mean absolute deviation from the weighted
    mean (absolute error) of the target, averaged over the outputs; the
    unweighted one where the weights leave (almost) no spread, as when one
    weight outweighs the others by 1e12 and more; 1 for a constant target."""
    y = np.asarray(target, dtype=np.float64)
    y = y.reshape(len(y), -1)

    def spread(w):
        deviation = y - w @ y
        if loss == "squared_error":
            return float(np.mean(w @ np.square(deviation)))
        return float(np.mean(w @ np.abs(deviation)))

    scale, unweighted = spread(_weights(weight, len(y))), spread(_weights(None, len(y)))
    # weights that put (almost) all the mass on one sample leave no weighted
    # spread: the unweighted one keeps the losses finite
    if not scale > 1e-12 * unweighted:
        scale = unweighted
    return scale if scale > 0 else 1.0


def per_sample_losses(candidates, target, loss, scale=1.0):
    """Each candidate's selection loss on each sample, shape (n, C).

    'zero_one': 1 where the candidate's most probable class is wrong;
    'log_loss': minus the log of its probability of the true class (clipped
    at 1e-7); 'squared_error' / 'absolute_error': over the outputs, mean of
    the squared / absolute residuals, divided by ``scale``.
    """
    candidates = np.asarray(candidates, dtype=np.float64)
    n = candidates.shape[0]
    if loss == "zero_one":
        return (candidates.argmax(axis=2) != np.asarray(target)[:, None]).astype(float)
    if loss == "log_loss":
        right = candidates[np.arange(n), :, target]
        return -np.log(np.clip(right, PROBA_FLOOR, 1.0))
    residual = candidates - np.asarray(target, float).reshape(n, 1, -1)
    if loss == "squared_error":
        return np.square(residual).mean(axis=2) / scale
    return np.abs(residual).mean(axis=2) / scale


def oof_scores(candidates, target, weight, task):
    """Each candidate's accuracy (classification) or R^2 (regression) on the
    out-of-fold outputs, weighted, shape (C,)."""
    w = _weights(weight, candidates.shape[0])
    if task == "classification":
        return w @ (candidates.argmax(axis=2) == np.asarray(target)[:, None])
    y = np.asarray(target, dtype=np.float64).reshape(candidates.shape[0], -1)
    total = w @ np.square(y - w @ y)
    residual = np.einsum("n,nck->ck", w, np.square(candidates - y[:, None]))
    # R^2 per output, averaged (scikit-learn's 'uniform_average'); a constant
    # output counts as perfectly predicted where its residual is 0
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1 - residual / total, np.where(residual > 0, 0, 1))
    return r2.mean(axis=1)
