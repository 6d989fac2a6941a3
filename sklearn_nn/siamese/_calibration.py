"""Platt scaling of the pair classifier's similarity scores."""

from __future__ import annotations

import numpy as np


def _platt_scaling(score, positive, weight=None, max_iter=100):
    """Fit ``P(positive | s) = sigmoid(a * s + b)`` (Platt, 1999).

    Platt's smoothed targets ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)``
    keep the fit finite when the scores separate the classes; the problem
    is solved by Newton's method with backtracking (Lin, Lin and Weng, 2007)
    to full precision, so integer weights act exactly as repetitions.
    """
    score = np.asarray(score, dtype=np.float64)
    w = np.ones_like(score) if weight is None else np.asarray(weight, np.float64)
    n_pos = float(w @ positive)
    n_neg = float(w.sum()) - n_pos
    total = n_pos + n_neg
    t = np.where(positive, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    wt = w * t
    # standardize the score for conditioning, map back at the end
    centre = float(w @ score) / total
    z = score - centre
    scale = float(np.sqrt((w @ (z * z)) / total)) or 1.0
    z /= scale
    zz = z * z

    def evaluate(a, b):
        # -t log p - (1 - t) log(1 - p), p = sigmoid(f), in a stable form;
        # f and softplus(f) are kept for the next gradient (p = e^(f - sp))
        f = a * z + b
        softplus = np.logaddexp(0.0, f)
        return float(w @ softplus - wt @ f), f, softplus

    a, b = 0.0, float(np.log((n_pos + 1.0) / (n_neg + 1.0)))
    value, f, softplus = evaluate(a, b)
    for _ in range(max_iter):
        p = np.exp(f - softplus)
        residual = w * p - wt
        grad = np.array([residual @ z, residual.sum()])
        if np.max(np.abs(grad)) < 1e-10 * max(1.0, total):
            break
        h = w * p * (1.0 - p)
        hz = float(h @ z)
        hess = np.array([[float(h @ zz) + 1e-12, hz], [hz, float(h.sum()) + 1e-12]])
        step = np.linalg.solve(hess, grad)
        size = 1.0
        while size > 1e-10:
            a_new, b_new = a - size * step[0], b - size * step[1]
            new_value, f_new, softplus_new = evaluate(a_new, b_new)
            if new_value < value + 1e-4 * size * float(grad @ -step):
                break
            size /= 2
        else:
            break
        converged = abs(value - new_value) <= 1e-15 * max(1.0, abs(value))
        a, b, value, f, softplus = a_new, b_new, new_value, f_new, softplus_new
        if converged:
            break
    return a / scale, b - a * centre / scale
