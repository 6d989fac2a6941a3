"""Pair data: the pair matrix ``[left | right]``, pairs of sequences, and
balanced pairs made from labelled items."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from .._sequences import PaddedSequences


def stack_pairs(X_left, X_right):
    """Make the pair matrix ``[left features | right features]`` from two arrays.

    Row ``i`` of the result is the pair ``(X_left[i], X_right[i])``; this is
    the ``X`` that :class:`SiamesePairRegressor` and
    :class:`SiamesePairClassifier` take (with ``n_left_features =
    X_left.shape[1]``), so pair data goes through ``Pipeline``,
    ``GridSearchCV`` and cross-validation as one array.

    Parameters
    ----------
    X_left : array-like of shape (n_pairs, n_left_features)
        Features (or 0-padded token ids) of the left items.
    X_right : array-like of shape (n_pairs, n_right_features)
        Features (or 0-padded token ids) of the right items.

    Returns
    -------
    X : ndarray of shape (n_pairs, n_left_features + n_right_features)

    See Also
    --------
    split_pairs : The inverse operation.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nn.siamese import split_pairs, stack_pairs
    >>> X = stack_pairs(np.zeros((3, 2)), np.ones((3, 5)))
    >>> X.shape
    (3, 7)
    >>> [part.shape for part in split_pairs(X, n_left_features=2)]
    [(3, 2), (3, 5)]
    """
    X_left = check_array(X_left, dtype=None, input_name="X_left")
    X_right = check_array(X_right, dtype=None, input_name="X_right")
    if X_left.shape[0] != X_right.shape[0]:
        raise ValueError(
            "X_left and X_right must have one row per pair; got "
            f"{X_left.shape[0]} and {X_right.shape[0]} rows."
        )
    return np.hstack([X_left, X_right])


def split_pairs(X, n_left_features=None):
    """Split a pair matrix ``[left | right]`` into its two items.

    Parameters
    ----------
    X : array-like of shape (n_pairs, n_features)
        Pair matrix, e.g. made by :func:`stack_pairs`.
    n_left_features : int or None, default=None
        Number of columns of the left item; None splits ``X`` in two equal
        halves (an odd number of columns is then an error).

    Returns
    -------
    X_left : ndarray of shape (n_pairs, n_left_features)
    X_right : ndarray of shape (n_pairs, n_features - n_left_features)

    See Also
    --------
    stack_pairs : The inverse operation.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nn.siamese import split_pairs
    >>> left, right = split_pairs(np.arange(8).reshape(2, 4))
    >>> left
    array([[0, 1],
           [4, 5]])
    """
    X = check_array(X, dtype=None)
    k = _resolve_n_left(X.shape[1], n_left_features, name="X")
    return X[:, :k], X[:, k:]


def _resolve_n_left(n_features, n_left_features, name):
    if n_left_features is None:
        if n_features % 2:
            raise ValueError(
                f"{name} has {n_features} feature(s), an odd number, so the pair "
                "layout [left item | right item] cannot be split into two equal "
                "halves; pass n_left_features=<number of columns of the left "
                "item>."
            )
        return n_features // 2
    k = int(n_left_features)
    if not 1 <= k < n_features:
        raise ValueError(
            f"n_left_features={n_left_features} must leave at least one column "
            f"for each item, but {name} has {n_features} feature(s)."
        )
    return k


class PairSequences:
    """The left and right items of sequence pairs (two :class:`PaddedSequences`)."""

    def __init__(self, left: PaddedSequences, right: PaddedSequences):
        self.left = left
        self.right = right

    def __len__(self):
        return len(self.left)

    def take(self, left_index, right_index):
        """Pairs ``(left[left_index[i]], right[right_index[i]])``."""
        return PairSequences(self.left.take(left_index), self.right.take(right_index))


def make_pairs(items, labels, n_pairs, *, random_state=None, return_indices=False):
    """Balanced same/different pairs of distinct items, from item labels.

    Pair ``k`` is made of a random item ``a`` and a random other item ``b``
    with the same label as ``a`` when ``k`` is even, and a different label
    when ``k`` is odd: half of the pairs are similar. Use it to train and
    test a pair model on labelled data (speakers, classes, identities); draw
    test pairs from items that were not used for training.

    Parameters
    ----------
    items : sequence of length n_items
        The items: a list of sequences, or an array whose first axis indexes
        the items.
    labels : array-like of shape (n_items,)
        The label of each item.
    n_pairs : int
        Number of pairs to draw.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.
    return_indices : bool, default=False
        Return the indices of the two items of each pair instead of the
        pairs themselves.

    Returns
    -------
    pairs : list of (left, right) tuples
        ``(items[a], items[b])``: the input of the sequence towers of
        :class:`~sklearn_nn.SiamesePairClassifier`. (With
        ``return_indices=True``: ``left_index, right_index``, two int arrays;
        for fixed-width items, ``stack_pairs(items[left_index],
        items[right_index])`` is the pair matrix.)
    same : ndarray of shape (n_pairs,)
        1 for pairs of the same label, 0 otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_nn.siamese import make_pairs
    >>> items = [np.zeros(3), np.ones(4), np.zeros(5), np.ones(2)]
    >>> pairs, same = make_pairs(items, [0, 1, 0, 1], 4, random_state=0)
    >>> same
    array([1, 0, 1, 0])
    >>> [(len(a), len(b)) for a, b in pairs]
    [(3, 5), (4, 3), (2, 4), (3, 2)]
    """
    labels = np.asarray(labels)
    n_items = len(items)
    if labels.ndim != 1 or len(labels) != n_items:
        raise ValueError(
            f"labels must have one label per item: {n_items} items, labels of "
            f"shape {labels.shape}."
        )
    if not isinstance(n_pairs, numbers.Integral) or n_pairs < 1:
        raise ValueError(f"n_pairs must be a positive integer, got {n_pairs!r}.")
    values, counts = np.unique(labels, return_counts=True)
    if len(values) < 2:
        raise ValueError(
            "make_pairs needs items of at least 2 labels to make pairs of "
            f"different labels; got only {values.tolist()}."
        )
    if counts.max() < 2:
        raise ValueError(
            "make_pairs needs a label with at least 2 items to make pairs of "
            "the same label; every label has a single item."
        )
    rng = check_random_state(random_state)
    by_label = {v: np.flatnonzero(labels == v) for v in values}
    # items whose label has another item (all of them, usually)
    paired = np.flatnonzero(np.isin(labels, values[counts >= 2]))
    left = np.empty(n_pairs, dtype=np.int64)
    right = np.empty(n_pairs, dtype=np.int64)
    for k in range(n_pairs):
        want_same = k % 2 == 0
        a = paired[rng.randint(len(paired))] if want_same else rng.randint(n_items)
        while True:
            b = rng.choice(by_label[labels[a]]) if want_same else rng.randint(n_items)
            if b != a and (labels[b] == labels[a]) == want_same:
                break
        left[k], right[k] = a, b
    same = (np.arange(n_pairs) % 2 == 0).astype(np.int64)
    if return_indices:
        return left, right, same
    return [(items[a], items[b]) for a, b in zip(left, right)], same
