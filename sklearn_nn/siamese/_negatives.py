"""Dissimilar pairs made by re-pairing the items of given pairs."""

from __future__ import annotations

import numpy as np

from ._pairs import PairSequences

# negatives='auto' tops the data up when fewer than this fraction of the
# (weighted) training pairs are dissimilar
MIN_DISSIMILAR_FRACTION = 0.1


def negatives_needed(similar, weight, negative_ratio):
    """How many dissimilar pairs to generate, and the dissimilar fraction.

    None are needed when at least ``MIN_DISSIMILAR_FRACTION`` of the weighted
    pairs are dissimilar (``similar < 0.5``) or fewer than two pairs have a
    positive weight; otherwise ``negative_ratio`` times the number of pairs
    with a positive weight (at least one).
    """
    w = np.ones_like(similar) if weight is None else weight
    n_rows = int(np.count_nonzero(w > 0))
    fraction = float(np.sum(w * (similar < 0.5)) / np.sum(w))
    if fraction >= MIN_DISSIMILAR_FRACTION or n_rows < 2:
        return 0, fraction
    return max(1, int(round(negative_ratio * n_rows))), fraction


def add_negatives(X, weight, n_new, n_left_features, rng):
    """The given pairs followed by ``n_new`` pairs made of the left item of
    one pair and the right item of another (pairs of positive weight only).

    ``X`` is a pair matrix (the first ``n_left_features`` columns are the left
    item) or a :class:`PairSequences`. The new pairs get the mean weight of
    the pairs they are drawn from. Returns the new ``X`` and weights.
    """
    n = len(X)
    rows = np.arange(n) if weight is None else np.flatnonzero(weight > 0)
    m = len(rows)
    first = rng.randint(m, size=n_new)
    other = (first + rng.randint(1, m, size=n_new)) % m
    left_index = np.concatenate([np.arange(n), rows[first]])
    right_index = np.concatenate([np.arange(n), rows[other]])
    if isinstance(X, PairSequences):
        X = X.take(left_index, right_index)
    else:
        k = n_left_features
        X = np.hstack([X[left_index, :k], X[right_index, k:]])
    if weight is not None:
        weight = np.concatenate([weight, np.full(n_new, weight[rows].mean())])
    return X, weight
