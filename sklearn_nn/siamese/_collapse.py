"""The collapse check's measure: how far apart different items embed."""

from __future__ import annotations

import numpy as np

# embeddings whose spread across items (see _spread) is below this count as
# collapsed
_COLLAPSE_TOLERANCE = 0.05
# pairs of different items drawn to measure the spread
_SPREAD_PAIRS = 2000


def _spread(embedding, distance="euclidean", scale=1.0):
    """Mean distance between the embeddings of *different* items.

    Identical rows (the same item in several pairs) are counted once; the
    distance is taken over up to ``_SPREAD_PAIRS`` random pairs of distinct
    rows (a fixed local seed: the result is deterministic). 'euclidean' is
    ``||a - b|| / scale`` (the scale is the contrastive margin: dissimilar
    pairs are meant to be that far apart); 'cosine' is the cosine distance
    ``1 - cos(a, b)``, scale-free, about 1 for unrelated directions and 0
    when every item points the same way. Returns None with fewer than two
    distinct items.
    """
    items = np.unique(np.asarray(embedding, dtype=np.float64), axis=0)
    m = len(items)
    if m < 2:
        return None
    rng = np.random.RandomState(0)
    first = rng.randint(m, size=_SPREAD_PAIRS)
    other = (first + rng.randint(1, m, size=_SPREAD_PAIRS)) % m
    a, b = items[first], items[other]
    if distance == "cosine":
        norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        cos = np.einsum("ij,ij->i", a, b) / np.maximum(norms, 1e-12)
        return float(np.mean(1.0 - cos))
    return float(np.mean(np.linalg.norm(a - b, axis=1)) / scale)
