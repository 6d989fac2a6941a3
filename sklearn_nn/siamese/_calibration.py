"""Platt scaling of the pair classifier's similarity scores."""

from __future__ import annotations

import numpy as np
from sklearn.calibration import _sigmoid_calibration


def _platt_scaling(score, positive, weight=None):
    """Fit ``P(positive | s) = sigmoid(a * s + b)`` (Platt, 1999).

    scikit-learn's sigmoid calibration (the one ``CalibratedClassifierCV``
    uses): Platt's smoothed targets ``(N+ + 1) / (N+ + 2)`` and
    ``1 / (N- + 2)``, with weighted counts, keep the fit finite when the
    scores separate the classes, and integer weights act as repetitions.
    scikit-learn writes the sigmoid as ``1 / (1 + exp(A s + B))``; this
    returns ``(a, b) = (-A, -B)``.
    """
    score = np.asarray(score, dtype=np.float64)
    target = np.asarray(positive, dtype=np.float64)
    if weight is not None:
        weight = np.asarray(weight, dtype=np.float64)
    slope, intercept = _sigmoid_calibration(score, target, weight)
    return -float(slope), -float(intercept)
